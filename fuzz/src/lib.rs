//! # authproof-fuzz
//!
//! The fuzz targets of authproof (cargo-fuzz / libFuzzer), as plain
//! functions over bytes so that the targets in `fuzz_targets/`, the
//! `fuzz-to-trace` tool and unit tests all run the same code:
//!
//! * [`gen`] builds well-formed worlds, requests and command sequences from
//!   fuzzer bytes (one construction, shared by targets and tools);
//! * [`harness`] runs a case step by step through the engine and the
//!   reference model and checks the SPEC §9 invariants after every step;
//! * [`trace`] writes and reads `authproof-trace/1` JSON;
//! * [`targets`] are the fuzz target bodies.
//!
//! `AUTHPROOF_FAULT=F03` switches an injected engine fault on, only in
//! builds with the `faults` feature, only here: the engine reads no
//! environment.
#![forbid(unsafe_code)]

pub mod gen;
pub mod harness;
pub mod targets;
pub mod trace;

pub use harness::{fault_from_env, run, Finding};
