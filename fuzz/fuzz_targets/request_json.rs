//! Fuzz target `request_json`: see fuzz/README.md and `authproof_fuzz::targets::request_json`;
//! also checks strictness (duplicate keys, arrays for objects) and that no error echoes a planted secret (issue 12).
#![no_main]

use authproof_engine::load;
use authproof_fuzz::strict;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    authproof_fuzz::targets::request_json(data);
    let load = |b: &[u8]| load::request(b, "request.json");
    strict::agree(data, load, "request");
    strict::as_array(data, load, "request");
    strict::with_duplicate(data, load, "request");
    strict::planted(
        data,
        data.len().wrapping_mul(31) ^ usize::from(data.first().copied().unwrap_or(0)),
        load,
    );
    // As JSON Lines: the same rules per line.
    if let Err(e) = load::requests_jsonl(data, "requests.jsonl") {
        strict::assert_clean_in(data, &e, "requests.jsonl");
    }
});
