//! The reference model (skeleton).

use authproof_engine::{Command, CommandResult, Decision, Policy, Request, Snapshot};

/// The reference model: the state as plain vectors and the policy.
#[derive(Clone, Debug)]
pub struct Model {
    policy: Policy,
    snapshot: Snapshot,
}

impl Model {
    /// A model of `snapshot` under `policy`; `snapshot` has already passed
    /// the engine's integrity check.
    pub fn new(snapshot: &Snapshot, policy: &Policy) -> Model {
        Model {
            policy: policy.clone(),
            snapshot: snapshot.clone(),
        }
    }

    /// The policy the model decides under.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides `req` (SPEC §5–§7).
    pub fn decide(&self, _req: &Request) -> Decision {
        todo!()
    }

    /// Applies `cmd` (SPEC §8).
    pub fn apply(&mut self, _cmd: &Command) -> CommandResult {
        todo!()
    }

    /// The current state.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.clone()
    }
}
