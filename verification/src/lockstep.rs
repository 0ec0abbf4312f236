//! The one lockstep harness: runs any [`Implementation`] of docs/SPEC.md
//! beside the reference [`Model`] and checks every invariant after every
//! step.
//!
//! Every checker of the workspace — `check`, `replay`, `mutants`, the
//! state-machine test, the store conformance suite, the fuzz targets — drives
//! its implementation through [`Lockstep`], so "run both, judge the step,
//! stop at the first violation, count coverage" is written once. `explore`
//! keeps its own node-by-node loop (it forks states instead of running one
//! trace) but judges every transition with the same [`judge`].
//!
//! The run stops after the first step with a violation: past a divergence
//! the two states differ and every later step would only repeat it. It also
//! records *coverage*: which denial reasons, allows and command outcomes
//! (per op: `ok` and each rejection) the implementation reached, so a
//! generator that never exercises a path shows up as a gap.
//!
//! I5 compares decisions through one projection, [`DecisionProjection`],
//! which names every field of [`Decision`] it compares and every one it
//! leaves out, so a new field cannot slip past the comparison unnoticed.
//!
//! I5 also holds the engine to its own decision by hash (SPEC §6.5): an
//! implementation that can decide a credential known only by its hash
//! ([`Implementation::decide_presented`]; the engine can) decides every
//! `authenticate` whose credential [`by_hash`](crate::by_hash) can present
//! so, on the state before the step, and [`judge`] requires the real
//! decision and that one to agree ([`Observed::by_hash`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use authproof_engine::{
    snapshot::Diff, Command, CommandResult, Decision, Fault, Op, Policy, Presented, Reason,
    Rejection, Request, Snapshot, State,
};
use serde::Serialize;

use crate::by_hash::{self, ByHash};
use crate::lines::Lines;
use crate::{
    check_step, Absent, Error, History, Invariant, Model, PolicyStrings, RoundTripped, Secrets,
    Step, Violation,
};

/// Something that runs the commands of docs/SPEC.md §8: the engine, a
/// store, one day a live service. The harness needs only these two calls.
pub trait Implementation {
    /// Why a command could not run at all (a database error). A wrong answer
    /// is not an error: it is a violation the harness reports.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs `command` under `policy` and returns its result.
    fn apply(&mut self, policy: &Policy, command: &Command) -> Result<CommandResult, Self::Error>;

    /// The implementation's whole state, as a snapshot.
    fn snapshot(&mut self) -> Result<Snapshot, Self::Error>;

    /// [`Implementation::snapshot`] into `out`, reusing its vectors where
    /// the implementation can (the engine can): the harness exports the
    /// state after every step.
    fn snapshot_into(&mut self, out: &mut Snapshot) -> Result<(), Self::Error> {
        *out = self.snapshot()?;
        Ok(())
    }

    /// Decides `req` with its credential presented by hash instead of its
    /// headers (SPEC §6.5), in the current state, changing nothing. The
    /// harness calls it before an `authenticate` runs, and I5 requires it
    /// to agree with the real decision. `None`, the default, when the
    /// implementation has no such decision (a store, a live service): the
    /// comparison is skipped.
    fn decide_presented(
        &mut self,
        policy: &Policy,
        req: &Request,
        presented: &Presented<'_>,
    ) -> Result<Option<Decision>, Self::Error> {
        let _ = (policy, req, presented);
        Ok(None)
    }
}

/// The engine, the implementation the CLI ships. With a fault switched on
/// by [`inject_fault`] it is the faulty engine of `authproof mutants`.
impl Implementation for State {
    type Error = Infallible;

    fn apply(&mut self, policy: &Policy, command: &Command) -> Result<CommandResult, Infallible> {
        Ok(State::apply(self, policy, command))
    }

    fn snapshot(&mut self) -> Result<Snapshot, Infallible> {
        Ok(self.to_snapshot())
    }

    fn snapshot_into(&mut self, out: &mut Snapshot) -> Result<(), Infallible> {
        State::snapshot_into(self, out);
        Ok(())
    }

    fn decide_presented(
        &mut self,
        policy: &Policy,
        req: &Request,
        presented: &Presented<'_>,
    ) -> Result<Option<Decision>, Infallible> {
        Ok(Some(State::decide_presented(self, policy, req, presented)))
    }
}

/// Switches `fault` (docs/INCIDENTS.md) on in `engine`, or off with `None`.
/// Injection needs the `faults` cargo feature: without it, asking for a fault
/// is a programming error, so it panics rather than silently testing the
/// correct engine.
pub fn inject_fault(engine: &mut State, fault: Option<Fault>) {
    #[cfg(feature = "faults")]
    engine.inject(fault);
    #[cfg(not(feature = "faults"))]
    {
        let _ = engine;
        assert!(
            fault.is_none(),
            "fault injection needs the `faults` feature of authproof-verification"
        );
    }
}

pub use authproof_models::DecisionProjection;

/// What stopped a run: an invariant, or a panic in the implementation or
/// the model (checkers that catch panics, like `check`, report them so).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Invariant(Invariant),
    Panic,
}

impl Failure {
    /// `I1`..`I10`, or `panic`: names the trace file.
    pub fn id(self) -> &'static str {
        match self {
            Failure::Invariant(i) => i.id(),
            Failure::Panic => "panic",
        }
    }

    /// The invariant's name, or `panic`.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Invariant(i) => i.name(),
            Failure::Panic => "panic",
        }
    }
}

/// Serialized as its id (`"I5"`, `"panic"`).
impl serde::Serialize for Failure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// One step of a run.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// 0-based.
    pub index: usize,
    pub command: Command,
    /// The implementation's result.
    pub result: CommandResult,
    /// The model's result.
    pub model: CommandResult,
    /// Every invariant broken on this step, in invariant order.
    pub violations: Vec<Violation>,
}

impl StepRecord {
    /// The first violated invariant, if any.
    pub fn first_violation(&self) -> Option<&Violation> {
        self.violations.first()
    }
}

/// The result of running a trace.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Violations found on the initial snapshot, before any step.
    pub initial: Vec<Violation>,
    /// The steps run, up to and including the first with a violation.
    pub steps: Vec<StepRecord>,
    pub coverage: Coverage,
}

impl Run {
    /// The first violation: `(None, v)` on the initial snapshot, else the
    /// step index.
    pub fn first_violation(&self) -> Option<(Option<usize>, &Violation)> {
        if let Some(v) = self.initial.first() {
            return Some((None, v));
        }
        self.steps
            .iter()
            .find_map(|s| s.first_violation().map(|v| (Some(s.index), v)))
    }

    /// Whether every invariant held on every step.
    pub fn held(&self) -> bool {
        self.first_violation().is_none()
    }
}

/// Invariants checkable on the initial snapshot alone: a JSON round trip
/// changes nothing and the implementation exports what it loaded unchanged
/// (I6), and the model starts from the same state.
pub(crate) fn check_initial(
    snapshot: &Snapshot,
    exported: &Snapshot,
    model: &Model,
    judged: &Judged,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if !judged.round_tripped.snapshot(snapshot) {
        out.push(Violation {
            invariant: Invariant::Determinism,
            message: "the initial snapshot changes in a JSON round trip".into(),
        });
    }
    if exported != snapshot {
        out.push(Violation {
            invariant: Invariant::Determinism,
            message: "the implementation does not export the initial snapshot it loaded unchanged"
                .into(),
        });
    }
    if model.state() != snapshot {
        out.push(Violation {
            invariant: Invariant::PreciseReasons,
            message: "the model does not start from the initial snapshot".into(),
        });
    }
    out
}

/// One step as both sides saw it, before it is judged.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    pub policy: &'a Policy,
    /// 0-based step number on the path.
    pub index: usize,
    pub command: &'a Command,
    /// The implementation's state before and after the step.
    pub before: &'a Snapshot,
    pub after: &'a Snapshot,
    /// The implementation's result and the model's.
    pub result: &'a CommandResult,
    pub model: &'a CommandResult,
    pub model_after: &'a Snapshot,
    /// The request decided by its credential's hash on `before`, when the
    /// implementation can and the request's credential can be presented so
    /// ([`by_hash::presentation`]); I5 requires it to equal `result`.
    pub by_hash: Option<ByHash<'a>>,
    /// Where `after` differs from `before`, when the caller knows
    /// ([`Step::diff`](authproof_models::invariants::Step)).
    pub diff: Option<&'a Diff>,
    /// Where `model_after` differs from `before`, when the caller knows
    /// ([`Step::model_diff`](authproof_models::invariants::Step)).
    pub model_diff: Option<&'a Diff>,
    /// [`longest_public`](authproof_models::invariants::longest_public) of
    /// `before`, when the caller knows it
    /// ([`Step::longest_public`](authproof_models::invariants::Step)).
    pub longest_public: Option<usize>,
    /// The policy's strings joined, when the caller judges many steps under
    /// one policy ([`Step::policy_strings`](authproof_models::invariants::Step)).
    pub policy_strings: Option<&'a PolicyStrings>,
    /// The history already holds `before` noted at the command's time
    /// ([`Step::before_noted`](authproof_models::invariants::Step)).
    pub before_noted: bool,
}

/// Judges one step: every invariant, on the result line exactly as the CLI
/// would print it. The only place a step is checked, for [`Lockstep`] and
/// for `explore`'s forking search alike.
pub fn judge(history: &mut History, o: Observed<'_>) -> Vec<Violation> {
    judge_with(history, o, check_step)
}

/// [`judge`] with every invariant on whole states
/// ([`check_step_whole`](crate::check_step_whole)): for tests that prove the
/// incremental check equal to it.
pub fn judge_whole(history: &mut History, o: Observed<'_>) -> Vec<Violation> {
    judge_with(history, o, crate::check_step_whole)
}

fn judge_with(
    history: &mut History,
    o: Observed<'_>,
    check: fn(&mut History, &Step<'_>) -> Vec<Violation>,
) -> Vec<Violation> {
    let output = serde_json::to_string(o.result).expect("results serialize");
    judge_line(history, o, check, &output, None, None, None)
}

/// [`judge`] on `output`, the line of the step's result. `kept` is what
/// the caller keeps beside the line when it is a kept one ([`lines`](crate::lines):
/// checked to be what serializing an equal result gives, so I6 does not
/// serialize it again); with the caller's records known to round-trip and
/// searchers of tokens met (see [`Step`]).
pub(crate) fn judge_line(
    history: &mut History,
    o: Observed<'_>,
    check: fn(&mut History, &Step<'_>) -> Vec<Violation>,
    output: &str,
    kept: Option<&Absent>,
    round_tripped: Option<&RoundTripped>,
    secrets: Option<&Secrets>,
) -> Vec<Violation> {
    let mut violations = check(
        history,
        &Step {
            policy: o.policy,
            index: o.index,
            command: o.command,
            before: o.before,
            after: o.after,
            engine: o.result,
            model: o.model,
            model_after: o.model_after,
            engine_output: output,
            output_verified: kept.is_some(),
            round_tripped,
            secrets,
            absent: kept,
            diff: o.diff,
            model_diff: o.model_diff,
            longest_public: o.longest_public,
            policy_strings: o.policy_strings,
            before_noted: o.before_noted,
        },
    );
    // I5, the engine against itself — only on a step where it agrees with
    // the model (no I5 finding yet): where it does not, the real decision
    // is already wrong and the step already reported, exactly as before.
    if let (Some(b), Some(real)) = (&o.by_hash, o.result.decision()) {
        if !violations
            .iter()
            .any(|v| v.invariant == Invariant::PreciseReasons)
        {
            if let Some(v) = by_hash::violation(o.policy, b, real) {
                violations.push(v);
                violations.sort_by_key(|v| v.invariant);
            }
        }
    }
    violations
}

/// What a judge remembers from the steps it judged, so as not to redo
/// work: each distinct result's checked line ([`lines`](crate::lines)),
/// the records found to survive a JSON round trip ([`RoundTripped`]) and
/// the searcher of each presented token ([`Secrets`]). None changes a
/// verdict, so one can be carried from run to run
/// ([`Lockstep::remembering`], [`Lockstep::into_judged`]): the fuzz targets
/// keep one per thread, `explore` one per worker. Every table is bounded
/// (emptied when full). `check` does not carry one: its generated cases
/// rarely repeat a result or a record, so the memory saved 2 % of its
/// judging for 70 MB.
#[derive(Default)]
pub struct Judged {
    lines: Lines,
    round_tripped: RoundTripped,
    secrets: Secrets,
}

impl std::fmt::Debug for Judged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judged").finish_non_exhaustive()
    }
}

impl Judged {
    /// [`judge`], on the kept line of an equal result when there is one.
    /// `slot` names what the caller runs again and again (explore: the
    /// move), whose last line is tried first ([`Lines::recent`]).
    pub(crate) fn judge(
        &mut self,
        history: &mut History,
        o: Observed<'_>,
        slot: Option<usize>,
    ) -> Vec<Violation> {
        let (known, secrets) = (Some(&self.round_tripped), Some(&self.secrets));
        if let Some((line, absent)) = slot.and_then(|s| self.lines.recent(s, o.result)) {
            return judge_line(history, o, check_step, line, Some(absent), known, secrets);
        }
        let hash = self.lines.hash(o.result);
        if let Some((line, absent, place)) = self.lines.get(hash, o.result) {
            let violations = judge_line(history, o, check_step, line, Some(absent), known, secrets);
            if let Some(s) = slot {
                self.lines.note(s, place);
            }
            return violations;
        }
        let line = serde_json::to_string(o.result).expect("results serialize");
        let violations = judge_line(history, o, check_step, &line, None, known, secrets);
        if !violations
            .iter()
            .any(|v| v.invariant == Invariant::Determinism)
        {
            let place = self.lines.keep(hash, o.result, line);
            if let Some(s) = slot {
                self.lines.note(s, place);
            }
        }
        violations
    }
}

/// An implementation running beside the model, one command at a time.
///
/// Built from the snapshot the implementation was loaded with; each
/// [`Lockstep::step`] runs a command on both, judges it, and counts its
/// coverage. Commands must not go back in time (docs/SPEC.md §10), as in a
/// trace file.
pub struct Lockstep<I> {
    implementation: I,
    model: Model,
    history: History,
    judged: Judged,
    /// The implementation's state after the last step.
    state: Snapshot,
    /// Where the next step exports the state it reaches (then swapped with
    /// `state`): its vectors are reused.
    after: Snapshot,
    last: Option<Command>,
    index: usize,
    initial: Vec<Violation>,
    coverage: Coverage,
}

impl<I: Implementation> Lockstep<I> {
    /// `implementation`, already holding `snapshot`, beside a model started
    /// from it. Checks the initial state ([`Lockstep::initial_violations`]).
    pub fn new(policy: &Policy, snapshot: &Snapshot, implementation: I) -> Result<Self, Error> {
        Lockstep::remembering(
            Arc::new(policy.clone()),
            snapshot,
            implementation,
            Judged::default(),
        )
    }

    /// [`Lockstep::new`] with what an earlier run's judge remembered
    /// ([`Lockstep::into_judged`]): the same verdicts, with less work. The
    /// policy is the caller's, shared with the model ([`Model::shared`]),
    /// not copied.
    pub fn remembering(
        policy: Arc<Policy>,
        snapshot: &Snapshot,
        mut implementation: I,
        judged: Judged,
    ) -> Result<Self, Error> {
        let model = Model::shared(snapshot, policy);
        let exported = implementation
            .snapshot()
            .map_err(|e| Error::implementation(None, e))?;
        let initial = check_initial(snapshot, &exported, &model, &judged);
        Ok(Lockstep {
            implementation,
            model,
            history: History::new(snapshot),
            judged,
            state: exported,
            after: Snapshot::default(),
            last: None,
            index: 0,
            initial,
            coverage: Coverage::default(),
        })
    }

    /// Violations on the initial snapshot, before any step.
    pub fn initial_violations(&self) -> &[Violation] {
        &self.initial
    }

    /// Runs `command` on the implementation and the model and judges the
    /// step. A command earlier than the previous one is invalid input.
    pub fn step(&mut self, command: &Command) -> Result<StepRecord, Error> {
        let index = self.index;
        authproof_engine::load::check_order(self.last.as_ref(), command)
            .map_err(|e| e.nested_in(&format!("$.steps[{index}]")))?;
        // The model's policy is the run's: one copy of it, not two.
        let policy = self.model.policy();
        // Decided by hash before the step changes the state (a sliding
        // refresh would).
        let presentation = by_hash::presentation(policy, &self.state, command);
        let by_hash = match presentation.zip(command.request()) {
            Some((p, req)) => self
                .implementation
                .decide_presented(policy, &req, &p.presented)
                .map_err(|e| Error::implementation(Some(index), e))?
                .map(|d| (p, d)),
            None => None,
        };
        let result = self
            .implementation
            .apply(policy, command)
            .map_err(|e| Error::implementation(Some(index), e))?;
        self.implementation
            .snapshot_into(&mut self.after)
            .map_err(|e| Error::implementation(Some(index), e))?;
        let model = self.model.apply(command);
        let violations = self.judged.judge(
            &mut self.history,
            Observed {
                policy: self.model.policy(),
                index,
                command,
                before: &self.state,
                after: &self.after,
                result: &result,
                model: &model,
                model_after: self.model.state(),
                by_hash: by_hash.as_ref().map(|(presentation, decision)| ByHash {
                    presentation: *presentation,
                    decision,
                }),
                diff: None,
                model_diff: None,
                longest_public: None,
                policy_strings: None,
                before_noted: false,
            },
            None,
        );
        self.coverage.record(&result);
        std::mem::swap(&mut self.state, &mut self.after);
        self.last = Some(command.clone());
        self.index += 1;
        Ok(StepRecord {
            index,
            command: command.clone(),
            result,
            model,
            violations,
        })
    }

    /// Runs `steps` in order, stopping after the first step with a
    /// violation (or before any, when the initial state is already wrong).
    pub fn run(self, steps: &[Command]) -> Result<Run, Error> {
        self.run_remembering(steps).map(|(run, _)| run)
    }

    /// [`Lockstep::run`], and what the judge remembers for the next run.
    pub fn run_remembering(mut self, steps: &[Command]) -> Result<(Run, Judged), Error> {
        let mut out = Run {
            initial: self.initial.clone(),
            ..Run::default()
        };
        if out.initial.is_empty() {
            for command in steps {
                let record = self.step(command)?;
                let stop = !record.violations.is_empty();
                out.steps.push(record);
                if stop {
                    break;
                }
            }
        }
        out.coverage = self.coverage;
        Ok((out, self.judged))
    }

    /// What the steps so far reached.
    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }

    /// The implementation's state after the last step.
    pub fn state(&self) -> &Snapshot {
        &self.state
    }

    /// The reference model, as the steps so far left it.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The implementation under test.
    pub fn implementation(&mut self) -> &mut I {
        &mut self.implementation
    }

    /// What the judge remembers, for the next run
    /// ([`Lockstep::remembering`]).
    pub fn into_judged(self) -> Judged {
        self.judged
    }
}

impl Lockstep<State> {
    /// The engine loaded with `snapshot`, with `fault` injected, beside the
    /// model.
    pub fn engine(
        policy: &Policy,
        snapshot: &Snapshot,
        fault: Option<Fault>,
    ) -> Result<Self, Error> {
        Lockstep::engine_remembering(Arc::new(policy.clone()), snapshot, fault, Judged::default())
    }

    /// [`Lockstep::engine`] with what an earlier run's judge remembered.
    pub fn engine_remembering(
        policy: Arc<Policy>,
        snapshot: &Snapshot,
        fault: Option<Fault>,
        judged: Judged,
    ) -> Result<Self, Error> {
        let mut engine = State::from_snapshot(snapshot.clone())?;
        inject_fault(&mut engine, fault);
        Lockstep::remembering(policy, snapshot, engine, judged)
    }
}

/// Runs `steps` from `snapshot` on the engine with `fault` injected and on
/// the model; stops after the first step with a violation.
pub fn run_engine(
    policy: &Policy,
    snapshot: &Snapshot,
    steps: &[Command],
    fault: Option<Fault>,
) -> Result<Run, Error> {
    Lockstep::engine(policy, snapshot, fault)?.run(steps)
}

/// [`run_engine`] without a fault. The engine itself cannot fail: the only
/// error is invalid input ([`Error::input`]).
pub fn run(policy: &Policy, snapshot: &Snapshot, steps: &[Command]) -> Result<Run, Error> {
    run_engine(policy, snapshot, steps, None)
}

/// What a run reached: denial reasons, allows, and per op its outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Steps counted.
    pub steps: u64,
    /// Allowed `authenticate` steps.
    pub allows: u64,
    /// Denials per reason.
    pub reasons: BTreeMap<Reason, u64>,
    /// Per op, per outcome (`ok` or a rejection code; `allow`/`deny` for
    /// `authenticate`), how many steps ended so.
    pub outcomes: BTreeMap<(&'static str, &'static str), u64>,
}

/// One thing coverage is expected to reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// `authenticate` denied with this reason.
    Reason { reason: &'static str },
    /// `authenticate` allowed.
    Allow,
    /// `op` ended with `outcome` (`ok` or a rejection code).
    Outcome {
        op: &'static str,
        outcome: &'static str,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Reason { reason } => write!(f, "reason {reason}"),
            Target::Allow => f.write_str("allow"),
            Target::Outcome { op, outcome } => write!(f, "{op} {outcome}"),
        }
    }
}

fn op_name(op: &str) -> &'static str {
    Op::NAMES
        .iter()
        .find(|n| **n == op)
        .copied()
        .unwrap_or("unknown")
}

impl Coverage {
    /// Counts one engine result.
    pub fn record(&mut self, r: &CommandResult) {
        self.steps += 1;
        let op = op_name(r.op());
        let outcome = match r {
            CommandResult::Ok { .. } => "ok",
            CommandResult::Rejected { reason, .. } => reason.code(),
            CommandResult::Decision { decision, .. } => match decision.reason {
                None => {
                    self.allows += 1;
                    "allow"
                }
                Some(reason) => {
                    *self.reasons.entry(reason).or_default() += 1;
                    "deny"
                }
            },
        };
        *self.outcomes.entry((op, outcome)).or_default() += 1;
    }

    /// Adds another run's counts.
    pub fn merge(&mut self, other: &Coverage) {
        self.steps += other.steps;
        self.allows += other.allows;
        for (k, v) in &other.reasons {
            *self.reasons.entry(*k).or_default() += v;
        }
        for (k, v) in &other.outcomes {
            *self.outcomes.entry(*k).or_default() += v;
        }
    }

    /// Every target: the 23 reasons, allow, and for every op but
    /// `authenticate` its `ok` and each of its rejections.
    pub fn targets() -> Vec<Target> {
        let mut out: Vec<Target> = Reason::ALL
            .iter()
            .map(|r| Target::Reason { reason: r.code() })
            .collect();
        out.push(Target::Allow);
        for op in Op::NAMES {
            if op == "authenticate" {
                continue;
            }
            out.push(Target::Outcome { op, outcome: "ok" });
            for r in Rejection::of_op(op) {
                out.push(Target::Outcome {
                    op,
                    outcome: r.code(),
                });
            }
        }
        out
    }

    /// How often `t` was reached.
    pub fn count(&self, t: Target) -> u64 {
        match t {
            Target::Reason { reason } => self
                .reasons
                .iter()
                .find(|(r, _)| r.code() == reason)
                .map_or(0, |(_, n)| *n),
            Target::Allow => self.allows,
            Target::Outcome { op, outcome } => {
                self.outcomes.get(&(op, outcome)).copied().unwrap_or(0)
            }
        }
    }

    /// Targets never reached.
    pub fn gaps(&self) -> Vec<Target> {
        Coverage::targets()
            .into_iter()
            .filter(|t| self.count(*t) == 0)
            .collect()
    }
}

/// Targets no trace can reach under `policy`: a reason whose step the
/// policy switches off (`ambiguous_credential` needs `multiple = "deny"`,
/// `api_key_unbound` needs `unbound = "deny"`, an action knob no action
/// uses, …). A gap among these is not the generator's fault.
pub fn unreachable_under(policy: &Policy) -> Vec<Target> {
    use authproof_engine::{CredentialKind, Multiple, TenantRule, Unbound};
    let acts = || policy.actions.values();
    let mut out: Vec<Reason> = Vec::new();
    let any_key = acts().any(|a| a.allows(CredentialKind::ApiKey));
    let any_session = acts().any(|a| a.allows(CredentialKind::Session));
    if policy.credentials.multiple == Multiple::First {
        out.push(Reason::AmbiguousCredential);
    }
    if policy.api_key.unbound != Unbound::Deny || !any_key {
        out.push(Reason::ApiKeyUnbound);
    }
    if !any_key {
        out.push(Reason::CrossTenant);
        out.push(Reason::MissingCapability);
    }
    if !acts().any(|a| a.tenant == TenantRule::Required) {
        out.push(Reason::TenantRequired);
    }
    if !acts().any(|a| !a.roles.is_empty()) {
        out.push(Reason::InsufficientRole);
    }
    if !acts().any(|a| !a.capability.is_empty() && a.allows(CredentialKind::ApiKey)) {
        out.push(Reason::MissingCapability);
    }
    if !acts().any(|a| a.credentials.len() < 2) {
        out.push(Reason::CredentialNotAllowed);
    }
    if !any_key && !any_session {
        out.extend([
            Reason::ApiKeyUnbound,
            Reason::NotAMember,
            Reason::TenantSuspended,
        ]);
        out.extend([Reason::ResourceNotFound, Reason::NotResourceOwner]);
    }
    if policy.actions.is_empty() {
        return Reason::ALL
            .iter()
            .filter(|r| **r != Reason::UnknownAction)
            .map(|r| Target::Reason { reason: r.code() })
            .chain([Target::Allow])
            .collect();
    }
    out.sort();
    out.dedup();
    out.into_iter()
        .map(|r| Target::Reason { reason: r.code() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_cover_every_reason_and_rejection() {
        let t = Coverage::targets();
        assert_eq!(
            t.iter()
                .filter(|t| matches!(t, Target::Reason { .. }))
                .count(),
            23
        );
        let outcomes: usize = Op::NAMES
            .iter()
            .filter(|o| **o != "authenticate")
            .map(|o| 1 + Rejection::of_op(o).len())
            .sum();
        assert_eq!(t.len(), 24 + outcomes);
    }

    /// The initial checks (the one judgement of a search's root, and of
    /// every lockstep's start) see each of their three disagreements:
    /// no valid snapshot breaks them through the real engine and model, so
    /// they are fed states that differ by one record.
    #[test]
    fn initial_checks_see_an_export_or_a_model_that_differs() {
        let u = crate::explore::Universe::small();
        let policy = Policy::default();
        let model = Model::new(&u.snapshot, &policy);
        assert!(check_initial(&u.snapshot, &u.snapshot, &model, &Judged::default()).is_empty());

        let mut changed = u.snapshot.clone();
        changed.sessions[0].revoked_at = changed.taken_at.or(Some(u.times[0]));
        let v = check_initial(&u.snapshot, &changed, &model, &Judged::default());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].invariant, Invariant::Determinism);
        assert!(v[0].message.contains("does not export"), "{}", v[0].message);

        let other = Model::new(&changed, &policy);
        let v = check_initial(&u.snapshot, &u.snapshot, &other, &Judged::default());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].invariant, Invariant::PreciseReasons);
    }

    #[test]
    fn default_policy_leaves_only_ambiguous_unreachable() {
        assert_eq!(
            unreachable_under(&Policy::default()),
            vec![Target::Reason {
                reason: "ambiguous_credential"
            }]
        );
    }
}

#[cfg(test)]
mod projection_tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::explore::Universe;
    use authproof_engine::Decision;

    /// Decisions of every shape the explorer's universe asks for: allows,
    /// denials, sliding refreshes.
    fn decisions() -> Vec<Decision> {
        let u = Universe::small();
        let engine = State::from_snapshot(u.snapshot.clone()).unwrap();
        u.times
            .iter()
            .flat_map(|at| u.requests(*at))
            .map(|r| engine.decide(&Policy::default(), &r))
            .collect()
    }

    fn keys(v: serde_json::Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    /// A field added to `Decision` appears in its JSON: it must be listed as
    /// compared or ignored, and the destructuring in `of` must name it.
    #[test]
    fn projection_accounts_for_every_field_of_a_decision() {
        let named: BTreeSet<String> = DecisionProjection::COMPARED
            .iter()
            .chain(&DecisionProjection::IGNORED)
            .map(|s| s.to_string())
            .collect();
        let all = decisions();
        assert!(all.iter().any(Decision::is_allow) && !all.iter().all(Decision::is_allow));
        for d in &all {
            assert_eq!(keys(serde_json::to_value(d).unwrap()), named);
            let compared = keys(serde_json::to_value(DecisionProjection::of(d)).unwrap());
            let want: BTreeSet<String> = DecisionProjection::COMPARED
                .iter()
                .map(|s| s.to_string())
                .collect();
            assert_eq!(compared, want);
        }
    }

    #[test]
    fn lockstep_stops_at_the_first_violation_and_rejects_time_travel() {
        let u = Universe::small();
        let policy = Policy::default();
        let mut steps: Vec<Command> = u.request_commands(u.times[1]);
        let run = run_engine(&policy, &u.snapshot, &steps, None).unwrap();
        assert!(run.held());
        assert_eq!(run.steps.len(), steps.len());
        assert_eq!(run.coverage.steps, steps.len() as u64);
        steps.push(Command {
            at: u.times[0],
            ..steps[0].clone()
        });
        let e = run_engine(&policy, &u.snapshot, &steps, None).unwrap_err();
        let at = format!("$.steps[{}].at", steps.len() - 1);
        assert_eq!(e.input().and_then(|i| i.path()), Some(at.as_str()), "{e}");
    }
}
