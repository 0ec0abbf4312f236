//! Fuzz target `policy_toml`: see fuzz/README.md and `authproof_fuzz::targets::policy_toml`;
//! also checks that loaded policies pass their value checks, arrays never load as tables, and that no error echoes a planted secret (issue 12).
#![no_main]

use authproof_engine::load;
use authproof_fuzz::strict;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    authproof_fuzz::targets::policy_toml(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // TOML has no duplicate keys (the parser refuses them); a policy that
    // loads passes its value checks, also as JSON (the trace form); a
    // policy with a planted value never echoes it.
    match load::policy(text, "policy.toml") {
        Ok(p) => {
            assert!(
                p.validate().is_ok(),
                "a loaded policy fails its value checks"
            );
            let json = serde_json::to_value(&p).expect("a policy serializes");
            let bytes = serde_json::to_vec(&json).expect("serializes");
            strict::agree(
                &bytes,
                |b| load::policy_json(load::json_value(b, "t.json")?, "t.json"),
                "policy json",
            );
            strict::as_array(
                &bytes,
                |b| load::policy_json(load::json_value(b, "t.json")?, "t.json"),
                "policy json",
            );
            strict::planted(&bytes, data.len(), |b| {
                load::policy_json(load::json_value(b, "t.json")?, "t.json")
            });
        }
        Err(e) => strict::assert_clean_in(data, &e, "policy.toml"),
    }
});
