//! The one error type of the review crate.
//!
//! A review only fails on its inputs: a snapshot that does not pass the
//! engine's integrity check, a census without a time, recorded requests
//! without a snapshot to decide them against. Reading and parsing files is
//! the caller's (the CLI names files and JSON paths); everything after the
//! inputs are accepted is infallible, so [`crate::run`] returns either a
//! whole report or one of these, never a partial report.

use authproof_engine::FieldError;

/// Why a review could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// A snapshot fails the engine's integrity check (a dangling
    /// reference, a duplicate id, …); `source` says where.
    #[error("{origin}: the snapshot fails the integrity check")]
    Integrity {
        /// The snapshot's name (its file).
        origin: String,
        #[source]
        source: FieldError,
    },
    /// A snapshot has no `taken_at` and no census time was given.
    #[error("{origin}: the snapshot has no taken_at and no census time was given")]
    NoCensusTime {
        /// The snapshot's name (its file).
        origin: String,
    },
    /// Recorded requests were given without a snapshot.
    #[error("recorded requests need a snapshot to decide against")]
    RequestsWithoutSnapshot,
}
