//! Fuzz target `differential`: see fuzz/README.md and `authproof_fuzz::targets::differential`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| authproof_fuzz::targets::differential(data));
