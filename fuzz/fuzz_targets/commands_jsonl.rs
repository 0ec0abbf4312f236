//! Fuzz target `commands_jsonl`: see fuzz/README.md and `authproof_fuzz::targets::commands_jsonl`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| authproof_fuzz::targets::commands_jsonl(data));
