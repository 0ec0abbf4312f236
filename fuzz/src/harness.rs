//! Running a case through the engine and the reference model, step by step,
//! with the whole SPEC §9 invariant catalogue checked after every step.

use std::fmt;
use std::sync::OnceLock;

use authproof_engine::{Command, CommandResult, Fault, State};
use authproof_verification::{check_step, History, Model, Step, Violation};

use crate::gen::Case;

/// The first step of a case that broke an invariant.
#[derive(Clone, Debug)]
pub struct Finding {
    /// 0-based step index.
    pub step: usize,
    pub op: String,
    pub violations: Vec<Violation>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} ({}):", self.step, self.op)?;
        for v in &self.violations {
            write!(f, "\n  {v}")?;
        }
        Ok(())
    }
}

/// The fault named by `AUTHPROOF_FAULT` (`F03`, `f03`, `F03-reencoded-token`),
/// read once. Only builds with the `faults` feature can inject it; others
/// warn once and inject nothing. An unknown name is a usage error.
pub fn fault_from_env() -> Option<Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    *FAULT.get_or_init(|| {
        let name = std::env::var("AUTHPROOF_FAULT").ok()?;
        let Some(f) = Fault::parse(&name) else {
            panic!("AUTHPROOF_FAULT={name}: expected F01..F16");
        };
        if cfg!(feature = "faults") {
            eprintln!("authproof-fuzz: injecting fault {f} into the engine");
            Some(f)
        } else {
            eprintln!(
                "authproof-fuzz: AUTHPROOF_FAULT is set but this build has no `faults` feature; \
                 nothing injected (build with --features faults)"
            );
            None
        }
    })
}

/// Switches `fault` on in `state` (a no-op without the `faults` feature).
pub fn inject(state: &mut State, fault: Option<Fault>) {
    #[cfg(feature = "faults")]
    state.inject(fault);
    #[cfg(not(feature = "faults"))]
    let _ = (state, fault);
}

/// Runs `case` from its snapshot: every step through the engine (with
/// `fault` injected) and the model, then `check_step`. Returns the first
/// step that broke an invariant; `Err` when the snapshot fails integrity.
/// `each` sees every step's command and engine result.
pub fn run_with(
    case: &Case,
    fault: Option<Fault>,
    mut each: impl FnMut(usize, &Command, &CommandResult),
) -> Result<Option<Finding>, String> {
    let mut state = State::from_snapshot(case.snapshot.clone()).map_err(|e| e.to_string())?;
    inject(&mut state, fault);
    let mut model = Model::new(&case.snapshot, &case.policy);
    let mut history = History::new(&case.snapshot);
    let mut before = state.to_snapshot();
    for (index, command) in case.steps.iter().enumerate() {
        let engine = state.apply(&case.policy, command);
        let after = state.to_snapshot();
        let model_result = model.apply(command);
        let model_after = model.snapshot();
        let engine_output = serde_json::to_string(&engine).expect("results serialize");
        each(index, command, &engine);
        let violations = check_step(
            &mut history,
            &Step {
                policy: &case.policy,
                index,
                command,
                before: &before,
                after: &after,
                engine: &engine,
                model: &model_result,
                model_after: &model_after,
                engine_output: &engine_output,
            },
        );
        if !violations.is_empty() {
            return Ok(Some(Finding {
                step: index,
                op: command.op.name().to_string(),
                violations,
            }));
        }
        before = after;
    }
    Ok(None)
}

/// [`run_with`] without a per-step callback.
pub fn run(case: &Case, fault: Option<Fault>) -> Result<Option<Finding>, String> {
    run_with(case, fault, |_, _, _| {})
}
