//! Runs a trace on the engine and the reference model side by side and
//! checks every invariant after every step.
//!
//! The engine's [`State`] and the [`Model`] start from the same snapshot;
//! each command is applied to both, and [`check_step`] judges the step. The
//! run stops after the first step with a violation: past a divergence the
//! two states differ and every later step would only repeat it.
//!
//! The run also records *coverage*: which denial reasons, allows and
//! command outcomes (per op: `ok` and each rejection) the engine reached,
//! so a generator that never exercises a path shows up as a gap.

use std::collections::BTreeMap;

use authproof_engine::{
    Command, CommandResult, FieldError, Op, Policy, Reason, Rejection, Snapshot, State,
};
use serde::Serialize;

use crate::{check_step, History, Invariant, Model, Step, Violation};

/// One step of a run.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// 0-based.
    pub index: usize,
    pub command: Command,
    pub engine: CommandResult,
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

/// The snapshot does not pass integrity, or the steps go back in time.
pub type HarnessError = FieldError;

/// Invariants checkable on the initial snapshot alone: a JSON round trip
/// changes nothing and the engine's indexed state exports it unchanged (I6),
/// and the model starts from the same state as the engine.
pub fn check_initial(snapshot: &Snapshot, engine: &State, model: &Model) -> Vec<Violation> {
    let mut out = Vec::new();
    let round = serde_json::to_string(snapshot)
        .ok()
        .and_then(|s| serde_json::from_str::<Snapshot>(&s).ok());
    if round.as_ref() != Some(snapshot) {
        out.push(Violation {
            invariant: Invariant::Determinism,
            message: "the initial snapshot changes in a JSON round trip".into(),
        });
    }
    if engine.to_snapshot() != *snapshot {
        out.push(Violation {
            invariant: Invariant::Determinism,
            message: "the engine does not export the initial snapshot it loaded unchanged".into(),
        });
    }
    if model.snapshot() != *snapshot {
        out.push(Violation {
            invariant: Invariant::PreciseReasons,
            message: "the model does not start from the initial snapshot".into(),
        });
    }
    out
}

/// Runs `steps` from `snapshot` under `policy` on the engine and the model,
/// checking every invariant after every step; stops after the first step
/// with a violation.
pub fn run(policy: &Policy, snapshot: &Snapshot, steps: &[Command]) -> Result<Run, HarnessError> {
    run_on(
        State::from_snapshot(snapshot.clone())?,
        policy,
        snapshot,
        steps,
    )
}

/// [`run`] on an engine state built by the caller from `snapshot` — with a
/// fault injected, for `authproof mutants`.
pub fn run_on(
    mut engine: State,
    policy: &Policy,
    snapshot: &Snapshot,
    steps: &[Command],
) -> Result<Run, HarnessError> {
    let mut model = Model::new(snapshot, policy);
    let mut history = History::new(snapshot);
    let mut out = Run {
        initial: check_initial(snapshot, &engine, &model),
        ..Run::default()
    };
    if !out.initial.is_empty() {
        return Ok(out);
    }
    let mut before = snapshot.clone();
    for (index, command) in steps.iter().enumerate() {
        if index > 0 {
            authproof_engine::load::check_order(Some(&steps[index - 1]), command)
                .map_err(|e| FieldError::new(format!("$.steps[{index}].at"), e.message))?;
        }
        let engine_result = engine.apply(policy, command);
        let model_result = model.apply(command);
        let after = engine.to_snapshot();
        let model_after = model.snapshot();
        let engine_output = serde_json::to_string(&engine_result).expect("results serialize");
        let violations = check_step(
            &mut history,
            &Step {
                policy,
                index,
                command,
                before: &before,
                after: &after,
                engine: &engine_result,
                model: &model_result,
                model_after: &model_after,
                engine_output: &engine_output,
            },
        );
        out.coverage.record(&engine_result);
        let stop = !violations.is_empty();
        out.steps.push(StepRecord {
            index,
            command: command.clone(),
            engine: engine_result,
            model: model_result,
            violations,
        });
        if stop {
            break;
        }
        before = after;
    }
    Ok(out)
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
