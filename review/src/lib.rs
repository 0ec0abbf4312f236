//! # authproof-review
//!
//! Policy change review: what changes when the `old` policy becomes the
//! `new` one, for whom, and whether both still satisfy I1–I10.
//!
//! Every decision that could differ is made under both policies with the
//! engine itself ([`State::decide`](authproof_engine::State::decide) /
//! [`State::decide_presented`](authproof_engine::State::decide_presented))
//! and compared on its outcome. The review never calls the reference model
//! for decisions: it answers "what does the shipped engine do differently",
//! and the engine is what is shipped. [`run`] is the whole pipeline; the
//! modules are its steps, one concept each:
//!
//! - [`census`] — every credential of a snapshot × action × tenant that
//!   matters × channel, decided by token hash;
//! - [`requests`] — recorded requests, decided with their real headers;
//! - [`scope`] — every request of the explorer's small universe in every
//!   state reachable within a depth (states that do not exist yet);
//! - [`invariants`] — I1–I10 under each policy, by the explorer and by
//!   replaying the recorded requests;
//! - [`tally`] — changed cases grouped by (old → new) class, with counts
//!   and examples, mergeable across threads;
//! - [`blast`] — the keys, sessions, users and tenants a group touches;
//! - [`report`] — the merged, sorted [`ReviewReport`] (its JSON is
//!   docs/DIFF.md's `authproof-diff/1`); `render` — text and Markdown;
//! - [`pipeline`] — [`run`]: accepted inputs in, report out;
//! - [`progress`] — counters the pipeline bumps for a progress line.
//!
//! Everything is sorted: the same inputs give byte-identical reports,
//! whatever the thread count. A report never holds a token.
//!
//! Why a crate of its own: a review is a user-facing tool built *on* the
//! engine and the verification crate's explorer and harness; keeping it out
//! of `authproof-models` keeps the model free of engine decision calls, and
//! keeping it out of the CLI makes it testable without a binary. Rejected:
//! one module per output format with its own pipeline (they would drift);
//! returning the tallies and letting callers assemble a report (every
//! caller would redo the ordering that makes output deterministic).
#![forbid(unsafe_code)]

pub mod blast;
pub mod census;
pub mod error;
pub mod invariants;
pub mod pipeline;
pub mod progress;
mod render;
pub mod report;
pub mod requests;
pub mod scope;
pub mod suite;
pub mod tally;

pub use blast::{BlastRadius, IdCount};
pub use census::{actions, census, census_size, channels, describe};
pub use error::{Error, ErrorKind};
pub use invariants::{
    invariants_explore, invariants_requests, InvariantCheck, Side, HARNESS_MAX_RECORDS,
};
pub use pipeline::{
    run, run_with_progress, RequestsInput, ReviewConfig, SnapshotInput, Stage,
    DEFAULT_EXPLORE_DEPTH,
};
pub use progress::{Progress, Sample};
pub use render::FIRST_IDS;
pub use report::{FailOn, Group, ReviewReport, SourceInfo, Summary, FORMAT, MAX_IDS};
pub use requests::requests;
pub use scope::{explore, universes, ExploreStats};
pub use tally::{
    change_of, CaseTally, Class, DecisionChange, Example, SourceCount, SourceKind, EXAMPLES,
};

#[cfg(test)]
mod test_support {
    use authproof_engine::{Policy, Unbound};
    use authproof_verification::synth;

    use crate::{SourceInfo, SourceKind};

    /// The review tests' snapshot: 300 keys (about 6 % legacy), seed 11.
    pub fn shape() -> synth::Shape {
        synth::Shape {
            keys: 300,
            users: 200,
            tenants: 8,
            sessions: 150,
            legacy_ratio: 0.06,
            seed: 11,
            ..synth::Shape::default()
        }
    }

    /// Legacy keys act in the oldest membership (old) or are denied (new).
    pub fn policies() -> (Policy, Policy) {
        let mut old = Policy::default();
        old.api_key.unbound = Unbound::OldestMembership;
        (old, Policy::default())
    }

    pub fn census_info() -> SourceInfo {
        SourceInfo {
            kind: SourceKind::Census,
            origin: "s".into(),
            at: None,
            explore: None,
            cases: 0,
            changed: 0,
        }
    }
}
