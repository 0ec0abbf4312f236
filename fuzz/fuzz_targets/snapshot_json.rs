//! Fuzz target `snapshot_json`: see fuzz/README.md and `authproof_fuzz::targets::snapshot_json`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| authproof_fuzz::targets::snapshot_json(data));
