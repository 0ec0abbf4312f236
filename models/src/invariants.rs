//! The invariant catalogue (skeleton).

use authproof_engine::{Command, CommandResult, Policy, Snapshot};

/// One invariant of SPEC §9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Invariant {
    I1,
    I2,
    I3,
    I4,
    I5,
    I6,
    I7,
    I8,
    I9,
    I10,
}

impl Invariant {
    /// Every invariant, in catalogue order.
    pub const ALL: [Invariant; 10] = [
        Invariant::I1,
        Invariant::I2,
        Invariant::I3,
        Invariant::I4,
        Invariant::I5,
        Invariant::I6,
        Invariant::I7,
        Invariant::I8,
        Invariant::I9,
        Invariant::I10,
    ];

    /// `"I1"` .. `"I10"`.
    pub fn id(self) -> &'static str {
        todo!()
    }

    /// The SPEC §9 name, e.g. `"tenant isolation"`.
    pub fn name(self) -> &'static str {
        todo!()
    }
}

/// One invariant broken on one step.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    pub invariant: Invariant,
    pub message: String,
}

/// Everything one step of a trace produced, for the invariants.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    pub policy: &'a Policy,
    /// Step number, 0-based.
    pub index: usize,
    pub command: &'a Command,
    /// Engine state before the step.
    pub before: &'a Snapshot,
    /// Engine state after the step.
    pub after: &'a Snapshot,
    /// Engine result.
    pub engine: &'a CommandResult,
    /// Model result.
    pub model: &'a CommandResult,
    /// Model state after the step.
    pub model_after: &'a Snapshot,
    /// The engine result serialized as the JSON line the CLI prints.
    pub engine_output: &'a str,
}

/// Cross-step memory for I2 and I4.
#[derive(Clone, Debug, Default)]
pub struct History {}

impl History {
    /// A history starting at `initial`.
    pub fn new(_initial: &Snapshot) -> History {
        todo!()
    }
}

/// Checks every invariant on one step (and records what later steps need).
/// Returns all violations, in invariant order.
pub fn check_step(_history: &mut History, _step: &Step<'_>) -> Vec<Violation> {
    todo!()
}
