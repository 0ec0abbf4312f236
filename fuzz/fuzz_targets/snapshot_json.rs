//! Fuzz target `snapshot_json`: see fuzz/README.md and `authproof_fuzz::targets::snapshot_json`;
//! also checks that the strict reader and the snapshot loader agree (duplicate keys, arrays for objects), and that no error echoes a planted secret (issue 12).
#![no_main]

use authproof_engine::load;
use authproof_fuzz::strict;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    authproof_fuzz::targets::snapshot_json(data);
    let load = |b: &[u8]| load::snapshot(b, "snapshot.json");
    strict::agree(data, load, "snapshot");
    strict::agree(
        data,
        |b| load::parse_snapshot(b, "snapshot.json"),
        "parse_snapshot",
    );
    strict::as_array(data, load, "snapshot");
    strict::with_duplicate(data, load, "snapshot");
    strict::planted(
        data,
        data.len().wrapping_mul(31) ^ usize::from(data.first().copied().unwrap_or(0)),
        load,
    );
});
