//! # authproof-models
//!
//! The independent reference model of authproof's decision procedure and
//! commands (docs/SPEC.md §5–§8), its reading of the snapshot integrity
//! rules (§2, [`integrity`]), and the invariant catalogue (§9) that judges
//! every step of a trace.
//!
//! The model shares no decision or command logic with the engine: only the
//! plain serde data types. Two implementations written separately from the
//! same spec that agree on every step are the evidence; where they disagree,
//! one of them is wrong and the spec says which. The boundary is enforced:
//! `models/clippy.toml` disallows the engine's `State::decide`,
//! `State::decide_presented`, `State::apply` and its integrity check
//! (`State::from_snapshot`, `load::snapshot`) in this crate.
//!
//! Running the model beside an implementation (the lockstep harness),
//! generators, traces and the checkers live in `authproof-verification`.
#![forbid(unsafe_code)]

pub mod integrity;
pub mod invariants;
pub mod model;

pub use invariants::{
    check_step, check_step_whole, Absent, DecisionProjection, History, Invariant, PolicyStrings,
    RoundTripped, Secrets, Step, Violation,
};
pub use model::Model;
