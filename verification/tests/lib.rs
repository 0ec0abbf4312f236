//! The integration tests of authproof-verification, as one test binary
//! (one link of the crate graph instead of one per file).

mod baseline;
mod gate;
mod model_diff;
mod model_spec;
#[cfg(feature = "faults")]
mod mutants;
