//! Fuzz target `decide`: see fuzz/README.md and `authproof_fuzz::targets::decide`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| authproof_fuzz::targets::decide(data));
