//! # authproof-fuzz
//!
//! The fuzz targets of authproof (cargo-fuzz / libFuzzer), as plain
//! functions over bytes so that the targets in `fuzz_targets/`, the
//! `fuzz-to-trace` tool and unit tests all run the same code:
//!
//! * [`input`] builds well-formed worlds, requests and command sequences
//!   from fuzzer bytes (one construction, shared by targets and tools);
//! * [`harness`] runs a trace through the lockstep harness of
//!   `authproof-verification` (engine beside the reference model, the SPEC §9
//!   invariants after every step) and reads the fault to inject;
//! * [`targets`] are the fuzz target bodies.
//!
//! Traces are `authproof_verification::Trace`, written and read by its one
//! reader; the verification crate comes without proptest
//! (`default-features = false`).
//!
//! `AUTHPROOF_FAULT=F03` switches an injected engine fault on, only in
//! builds with the `faults` feature, only here: the engine reads no
//! environment.
#![forbid(unsafe_code)]

pub mod harness;
pub mod input;
pub mod strict;
pub mod targets;

pub use harness::{fault_from_env, run};

/// With the `mimalloc` feature: a faster allocator than glibc's for the
/// many small allocations of a lockstep run. Never under AddressSanitizer
/// (scripts/fuzz-smoke leaves the feature off with `FUZZ_ASAN=1`), which
/// must see every allocation.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
