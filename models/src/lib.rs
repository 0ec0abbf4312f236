//! # authproof-models
//!
//! The verification side of authproof: an independent reference model of the
//! decision procedure and the commands (SPEC §5–§8), and the invariant
//! catalogue (SPEC §9) checked after every step of a trace.
//!
//! The model shares no decision or command logic with the engine: only the
//! plain serde data types. Two implementations written separately from the
//! same spec that agree on every step are the evidence; where they disagree,
//! one of them is wrong and the spec says which.
#![forbid(unsafe_code)]

pub mod diff;
pub mod explore;
pub mod gen;
pub mod harness;
pub mod invariants;
pub mod model;
pub mod mutants;
pub mod synth;
pub mod trace;

pub use invariants::{check_step, History, Invariant, Step, Violation};
pub use model::Model;
