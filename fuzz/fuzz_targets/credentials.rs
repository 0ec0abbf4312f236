//! Fuzz target `credentials`: see fuzz/README.md and `authproof_fuzz::targets::credentials`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| authproof_fuzz::targets::credentials(data));
