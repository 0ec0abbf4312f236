//! The conform protocol (docs/CONFORM.md): JSON Lines between authproof
//! (the driver) and an adapter process in front of the service under test.
//!
//! Every request is one line `{"id": N, "type": ..., ...}` on the adapter's
//! stdin; the adapter answers each with exactly one line on its stdout
//! carrying the same `id`: `hello`, `ok` (after `reset`), `result` (after
//! `step`), `snapshot` (after `observe`) or `error` (it could not do what
//! was asked: the run stops with exit 1, this is not a finding).

use std::collections::BTreeSet;

use authproof_engine::{Op, Reason, Rejection};
use serde::{Deserialize, Serialize};

/// The protocol version both sides name in `hello`.
pub const PROTOCOL: &str = "authproof-conform/1";

/// What the adapter can tell apart among denial reasons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonPrecision {
    /// Each denial names its SPEC §6.2 reason (up to `indistinguishable`).
    #[default]
    Exact,
    /// Denials say only "deny": reasons are never compared.
    DenyOnly,
}

/// What the adapter can tell apart among command rejections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionPrecision {
    /// Each rejection names its SPEC §8.2 code (up to
    /// `indistinguishable_rejections`).
    #[default]
    Exact,
    /// Rejections say only "rejected": codes are never compared.
    KindOnly,
}

/// How `reset` may start the service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetKind {
    /// From any snapshot the driver sends.
    #[default]
    Snapshot,
    /// Only empty: generated cases start from the empty snapshot.
    Empty,
}

/// The adapter's `hello`: what the target supports and how it may be
/// compared. Everything it does not declare is compared exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub protocol: String,
    /// The service and its version, for reports.
    pub name: String,
    /// The SPEC §8 ops it runs (`authenticate` included); cases are drawn
    /// with only these.
    pub ops: Vec<String>,
    /// The policy actions `authenticate` may ask for; `null`: every action.
    #[serde(default)]
    pub actions: Option<Vec<String>>,
    #[serde(default)]
    pub reasons: ReasonPrecision,
    /// Groups of reasons the service answers alike: within a group the
    /// model's reason stands for the target's.
    #[serde(default)]
    pub indistinguishable: Vec<Vec<Reason>>,
    #[serde(default)]
    pub rejections: RejectionPrecision,
    #[serde(default)]
    pub indistinguishable_rejections: Vec<Vec<Rejection>>,
    /// Decision fields the adapter reports (SPEC §7, the ones I5 compares);
    /// the others are taken from the model. Default: all.
    #[serde(default = "all_decision_fields")]
    pub decision_fields: Vec<String>,
    /// Whether `ok` results carry their SPEC §8.5 `changes`.
    #[serde(default = "yes")]
    pub changes: bool,
    /// Whether the adapter sets the service's clock to each command's
    /// `at`. Required in this version of the protocol.
    pub clock: bool,
    /// Whether `observe` returns the service's state as a snapshot.
    #[serde(default)]
    pub observe: bool,
    #[serde(default)]
    pub reset: ResetKind,
    /// Whether `authenticate` requests may name a `tenant` or `resource`
    /// (false: the service takes the tenant from the credential only, and
    /// such requests are not drawn).
    #[serde(default = "yes")]
    pub request_tenant: bool,
    /// Free-form notes for the report (what is faked by test hooks, what is
    /// off).
    #[serde(default)]
    pub notes: Vec<String>,
}

fn yes() -> bool {
    true
}

fn all_decision_fields() -> Vec<String> {
    crate::lockstep::DecisionProjection::COMPARED
        .iter()
        .map(|s| s.to_string())
        .collect()
}

impl Hello {
    /// Checks what the adapter declared: known protocol, ops and fields.
    pub fn validate(&self) -> Result<(), String> {
        if self.protocol != PROTOCOL {
            return Err(format!(
                "hello: protocol {:?}, expected {PROTOCOL:?}",
                self.protocol
            ));
        }
        for op in &self.ops {
            if !Op::NAMES.contains(&op.as_str()) {
                return Err(format!("hello: unknown op {op:?}"));
            }
        }
        for f in &self.decision_fields {
            if !crate::lockstep::DecisionProjection::COMPARED.contains(&f.as_str()) {
                return Err(format!("hello: unknown decision field {f:?}"));
            }
        }
        if !self.clock {
            return Err(
                "hello: the target does not control its clock (\"clock\": false); \
                 conform needs every command to run at its own `at`"
                    .into(),
            );
        }
        Ok(())
    }

    /// Whether the op named `op` is run.
    pub fn supports_op(&self, op: &str) -> bool {
        self.ops.iter().any(|o| o == op)
    }

    /// Whether `authenticate` may ask for `action`.
    pub fn supports_action(&self, action: &str) -> bool {
        match &self.actions {
            Some(a) => a.iter().any(|x| x == action),
            None => true,
        }
    }

    /// Whether the decision field `f` is reported.
    pub fn reports(&self, f: &str) -> bool {
        self.decision_fields.iter().any(|x| x == f)
    }

    /// Whether the target may answer `expected` when it says `observed`.
    pub fn same_reason(&self, expected: Reason, observed: Reason) -> bool {
        expected == observed
            || self.reasons == ReasonPrecision::DenyOnly
            || self
                .indistinguishable
                .iter()
                .any(|g| g.contains(&expected) && g.contains(&observed))
    }

    /// Whether the target may answer rejection `expected` as `observed`.
    pub fn same_rejection(&self, expected: Rejection, observed: Rejection) -> bool {
        expected == observed
            || self.rejections == RejectionPrecision::KindOnly
            || self
                .indistinguishable_rejections
                .iter()
                .any(|g| g.contains(&expected) && g.contains(&observed))
    }

    /// Ops of SPEC §8 the target does not run.
    pub fn unsupported_ops(&self) -> Vec<&'static str> {
        let have: BTreeSet<&str> = self.ops.iter().map(String::as_str).collect();
        Op::NAMES
            .iter()
            .copied()
            .filter(|o| !have.contains(o))
            .collect()
    }
}
