//! # authproof-verification
//!
//! Everything that checks an implementation of docs/SPEC.md against the
//! reference model of `authproof-models`:
//!
//! - [`lockstep`] — runs an [`Implementation`] (the engine, the store, a
//!   live service) beside the model and checks every invariant after every
//!   step; the one loop every checker uses;
//! - [`by_hash`] — a request's credential presented by its hash, so the
//!   harness judges the census's decision by hash beside the real one;
//! - [`integrity`] — invalid snapshots through the lockstep: the engine's
//!   load-time integrity check against the model's reading of SPEC §2;
//! - [`trace`] — the replayable trace format and its one reader;
//! - [`generate`] — proptest strategies over small universes (2–3 tenants,
//!   users, keys; tokens with `/ + = %`) so that collisions happen;
//! - [`check`] — the check runner: seeded cases through the harness, shrunk
//!   and minimized counterexamples, coverage, reports (`authproof check`
//!   and the check technique of `mutants`);
//! - [`conform`] — a live service behind an adapter process (JSON Lines,
//!   docs/CONFORM.md) as an [`Implementation`], and the `conform` runner;
//! - [`synth`] — realistic large snapshots for benches and reviews;
//! - [`explore`] — exhaustive breadth-first search with shortest
//!   counterexamples;
//! - [`mutants`] — the fault catalogue (docs/INCIDENTS.md) attacked by the
//!   checkers.
//!
//! `generate` and `check` need proptest, behind the default `proptest`
//! feature: the fuzz crate builds without it.
#![forbid(unsafe_code)]

pub mod by_hash;
#[cfg(feature = "proptest")]
pub mod check;
#[cfg(feature = "proptest")]
pub mod conform;
mod error;
pub mod explore;
#[cfg(feature = "proptest")]
pub mod generate;
pub mod integrity;
mod lines;
pub mod lockstep;
pub mod mutants;
pub mod redact;
pub mod synth;
pub mod trace;

pub use authproof_models::{
    check_step, check_step_whole, Absent, History, Invariant, Model, PolicyStrings, RoundTripped,
    Secrets, Step, Violation,
};
pub use error::Error;
pub use lockstep::{inject_fault, Implementation, Lockstep};
pub use trace::Trace;
