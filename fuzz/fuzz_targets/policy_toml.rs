//! Fuzz target `policy_toml`: see fuzz/README.md and `authproof_fuzz::targets::policy_toml`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| authproof_fuzz::targets::policy_toml(data));
