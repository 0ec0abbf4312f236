//! Fuzz target `commands_jsonl`: see fuzz/README.md and `authproof_fuzz::targets::commands_jsonl`;
//! also checks strictness (duplicate keys at any depth, arrays for objects) and that no error echoes a planted secret (issue 12).
#![no_main]

use authproof_engine::load;
use authproof_fuzz::strict;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    authproof_fuzz::targets::commands_jsonl(data);
    let load = |b: &[u8]| load::commands_jsonl(b, "commands.jsonl");
    // One command line against the strict reader.
    // A blank document is zero commands in JSON Lines, not a JSON value.
    if !data.contains(&b'\n') && data.iter().any(|b| !b.is_ascii_whitespace()) {
        strict::agree(data, load, "command");
        strict::as_array(data, load, "command");
        strict::with_duplicate(data, load, "command");
        strict::planted(
            data,
            data.len().wrapping_mul(31) ^ usize::from(data.first().copied().unwrap_or(0)),
            load,
        );
    } else if let Err(e) = load(data) {
        strict::assert_clean_in(data, &e, "commands.jsonl");
    }
});
