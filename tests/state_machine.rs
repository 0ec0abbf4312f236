//! State-machine test: the reference model drives generation, the engine is
//! the system under test, and every invariant is checked after every command.
//!
//! The reference state is the model (and the policy); each transition is a
//! command drawn for the model's current state, at or after the previous
//! command's time, from the small pools of `authproof_verification::generate`.
//! The system under test is the engine in the lockstep harness
//! (`authproof_verification::Lockstep`), which runs its own copy of the model
//! beside it and judges every step (I1–I10). Shrinking removes and
//! simplifies commands; a precondition keeps `at` non-decreasing.

use authproof_engine::{Command, CommandResult, Policy, Snapshot, State, Timestamp};
use authproof_verification::{generate, Lockstep, Model};
use proptest::{prelude::*, test_runner::FileFailurePersistence};
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};

/// The reference side: the model, and what the engine side needs to judge
/// the step the model just took.
#[derive(Clone, Debug)]
struct Reference {
    policy: Policy,
    initial: Snapshot,
    model: Model,
    /// The `at` of the last command (commands never go back in time).
    last_at: Timestamp,
    /// The model's result for the last command.
    last: Option<CommandResult>,
}

struct AuthMachine;

impl ReferenceStateMachine for AuthMachine {
    type State = Reference;
    type Transition = Command;

    fn init_state() -> BoxedStrategy<Reference> {
        (generate::policy(), generate::snapshot())
            .prop_map(|(policy, snapshot)| Reference {
                model: Model::new(&snapshot, &policy),
                policy,
                initial: snapshot,
                last_at: generate::start_time(),
                last: None,
            })
            .boxed()
    }

    fn transitions(state: &Reference) -> BoxedStrategy<Command> {
        generate::command(&state.policy, &state.model.snapshot(), state.last_at)
    }

    fn preconditions(state: &Reference, cmd: &Command) -> bool {
        cmd.at >= state.last_at
    }

    fn apply(mut state: Reference, cmd: &Command) -> Reference {
        state.last = Some(state.model.apply(cmd));
        state.last_at = cmd.at;
        state
    }
}

impl StateMachineTest for AuthMachine {
    type SystemUnderTest = Lockstep<State>;
    type Reference = AuthMachine;

    fn init_test(r: &Reference) -> Lockstep<State> {
        let engine = State::from_snapshot(r.initial.clone()).expect("generated snapshots pass");
        let lockstep = Lockstep::new(&r.policy, &r.initial, engine).expect("the engine runs");
        assert_eq!(lockstep.initial_violations(), &[]);
        lockstep
    }

    fn apply(mut sut: Lockstep<State>, r: &Reference, cmd: Command) -> Lockstep<State> {
        let step = sut.step(&cmd).expect("commands never go back in time");
        assert!(
            step.violations.is_empty(),
            "step {} ({}): {}",
            step.index,
            cmd.op.name(),
            step.violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
        // The reference drew this command from its own model: the harness's
        // model must have answered the same.
        assert_eq!(Some(&step.model), r.last.as_ref(), "the two models agree");
        sut
    }

    fn check_invariants(sut: &Lockstep<State>, r: &Reference) {
        assert_eq!(
            *sut.state(),
            r.model.snapshot(),
            "engine and model states differ"
        );
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        // proptest's default case count (256, or PROPTEST_CASES): about three
        // seconds in a debug build; `authproof check` is the long run. A
        // failure's seed is saved here (relative to the repository root,
        // where cargo runs the test) and replayed first on the next run:
        // commit the file.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/state_machine.txt",
        ))),
        .. ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_model_on_every_step(sequential 1..24 => AuthMachine);
}
