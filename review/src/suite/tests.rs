//! Library tests of suites, on the repository's `examples/`.

use std::path::{Path, PathBuf};

use authproof_engine::load;

use super::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn snapshot() -> Snapshot {
    let p = examples().join("snapshot.json");
    load::parse_snapshot(&std::fs::read(&p).unwrap(), "snapshot.json").unwrap()
}

/// Parses and builds `text` against the examples snapshot.
fn suite(text: &str, mode: Mode) -> Result<Suite, authproof_engine::Error> {
    let parsed = parse(text, "t.toml", mode)?;
    build(
        parsed,
        snapshot(),
        "snapshot.json",
        PolicySource::default_policy(),
        mode,
    )
}

const HEAD: &str = "version = 1\nsnapshot = \"snapshot.json\"\n";
/// sha256 of key_revoked's token in the examples.
const REVOKED: &str = "55c1568732a32952a8f8e5619cdea4a1265e1c022e6406f99ffd6f82cc576e16";

#[test]
fn the_examples_suites_pass() {
    for f in expand(&examples().join("suite")).unwrap() {
        let s = load(&f, &LoadOptions::default()).unwrap();
        let r = run(&s);
        assert!(r.cases.len() >= 2);
        assert_eq!(
            r.failed(),
            0,
            "{}: {}",
            f.display(),
            report::text(std::slice::from_ref(&r))
        );
    }
}

#[test]
fn a_reference_decides_like_the_real_token() {
    let text = format!(
        "{HEAD}[[case]]\nname = \"revoked\"\nrequest = {{ at = 2026-05-28T12:00:00Z, action = \"workspace.read\", headers = {{ authorization = \"Bearer {{{{sha256:{REVOKED}:sk_live_}}}}\" }} }}\n[case.expect]\ndecision = \"deny\"\nreason = \"api_key_revoked\"\ncredential = \"api_key key_revoked\"\n"
    );
    let r = run(&suite(&text, Mode::Run).unwrap());
    assert!(r.cases[0].passed(), "{:?}", r.cases[0].mismatches);
}

#[test]
fn mismatches_name_field_expected_and_actual() {
    let text = format!(
        "{HEAD}[[case]]\nname = \"x\"\nrequest = {{ at = \"2026-05-28T12:00:00Z\", action = \"workspace.read\", headers = {{ x-api-key = \"{{{{sha256:{REVOKED}}}}}\" }} }}\n[case.expect]\ndecision = \"deny\"\nreason = \"api_key_not_found\"\nstatus = 401\n"
    );
    let r = run(&suite(&text, Mode::Run).unwrap());
    assert_eq!(
        r.cases[0].mismatches,
        vec![Mismatch {
            field: "reason",
            expected: "\"api_key_not_found\"".into(),
            actual: "\"api_key_revoked\"".into()
        }]
    );
    let junit = report::junit(std::slice::from_ref(&r));
    assert!(junit.contains("<failure type=\"mismatch\""), "{junit}");
    assert!(report::text(&[r]).ends_with("0 passed, 1 failed\n"));
}

fn input_error(text: &str) -> authproof_engine::Error {
    suite(text, Mode::Run).unwrap_err()
}

#[test]
fn bad_files_name_line_and_path_and_never_echo() {
    let case = "[[case]]\nname = \"a\"\nrequest = { at = \"2026-05-28T12:00:00Z\", action = \"workspace.read\" }\n";
    let e = input_error(&format!(
        "{HEAD}{case}[case.expect]\ndecision = \"deny\"\nreason = \"sk_live_SECRET\"\n"
    ));
    assert_eq!(
        (e.line(), e.path().unwrap()),
        (Some(8), "case[0].expect.reason"),
        "{e}"
    );
    assert!(!e.to_string().contains("SECRET"), "{e}");

    let e = input_error(&format!(
        "{HEAD}{case}[case.expect]\ndecision = \"deny\"\nreasn = \"x\"\n"
    ));
    assert_eq!(
        (e.line(), e.path().unwrap()),
        (Some(8), "case[0].expect.reasn"),
        "{e}"
    );

    let e = input_error(&format!(
        "{HEAD}{case}[case.expect]\ndecision = \"deny\"\n{case}[case.expect]\ndecision = \"maybe\"\n"
    ));
    assert_eq!(e.path().unwrap(), "case[1].expect.decision", "{e}");

    let e = input_error(&format!("{HEAD}{case}"));
    assert!(e.message().contains("expect"), "{e}");

    // The engine's request rules apply, under the case's path.
    let e = input_error(&format!(
        "{HEAD}[[case]]\nname = \"a\"\nrequest = {{ at = \"2026-05-28T12:00:00Z\", action = \"a\", headers = {{ cookie = 7 }} }}\n[case.expect]\ndecision = \"deny\"\n"
    ));
    assert_eq!(
        (e.line(), e.path().unwrap()),
        (Some(5), "case[0].request.headers.cookie"),
        "{e}"
    );

    // A raw token of the snapshot is refused, and not echoed.
    let raw = "sk_live_acme_Sup3rvisor_9f2Kq7";
    let e = input_error(&format!(
        "{HEAD}[[case]]\nname = \"a\"\nrequest = {{ at = \"2026-05-28T12:00:00Z\", action = \"a\", headers = {{ x-api-key = \"{raw}\" }} }}\n[case.expect]\ndecision = \"deny\"\n"
    ));
    assert_eq!(
        e.path().unwrap(),
        "case[0].request.headers.x-api-key",
        "{e}"
    );
    assert!(!e.to_string().contains(raw));

    // Malformed references and TOML syntax.
    let e = input_error(&format!(
        "{HEAD}[[case]]\nname = \"a\"\nrequest = {{ at = \"2026-05-28T12:00:00Z\", action = \"a\", headers = {{ x-api-key = \"{{{{sha256:zz}}}}\" }} }}\n[case.expect]\ndecision = \"deny\"\n"
    ));
    assert!(e.message().contains("reference"), "{e}");
    let e = input_error("version = 1\nsnapshot = \"s\"\n[[case]\nname = \"secret_value\"\n");
    assert_eq!(e.line(), Some(3), "{e}");
    assert!(!e.to_string().contains("secret_value"));
    assert!(input_error("version = 2\nsnapshot = \"s\"\n").path() == Some("version"));
}

#[test]
fn record_round_trip_holds_no_raw_token() {
    let reqs = std::fs::read(examples().join("requests.jsonl")).unwrap();
    let values: Vec<(String, usize, serde_json::Value)> = reqs
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            (
                "requests.jsonl".to_string(),
                i + 1,
                serde_json::from_slice(l).unwrap(),
            )
        })
        .collect();
    // A command session first, with tokens holding / + = %.
    let cmds = vec![(
        "c.jsonl".to_string(),
        1,
        serde_json::json!({"at": "2026-05-01T00:00:00Z", "op": "login", "session": "ses_new",
                           "user": "bob", "token": "n3w/t0k+en=x%2F_long"}),
    )];
    let parsed = record_requests("snapshot.json", None, values, cmds);
    let s = build(
        parsed,
        snapshot(),
        "snapshot.json",
        PolicySource::default_policy(),
        Mode::Record,
    )
    .unwrap();
    let r = run(&s);
    let text = record(&s, &r, "test");
    for raw in [
        "n3w/t0k+en=x%2F_long",
        "aLiCe/s3ss+i0n=t0k%en_Q8z",
        "sk_live_acme_Sup3rvisor_9f2Kq7",
    ] {
        assert!(!text.contains(raw), "the recorded suite holds a raw token");
    }
    let again = suite(&text, Mode::Run).unwrap();
    let r2 = run(&again);
    assert_eq!(r2.cases.len(), 34);
    assert_eq!(
        r2.failed(),
        0,
        "{}",
        report::text(std::slice::from_ref(&r2))
    );
    // Recording is deterministic.
    assert_eq!(record(&again, &r2, "test"), text);
}

#[test]
fn policy_override_changes_pinned_results() {
    let f = examples().join("suite/decisions.toml");
    let legacy = std::fs::read_to_string(examples().join("policy-legacy-oldest.toml")).unwrap();
    let opts = LoadOptions {
        mode: Mode::Run,
        policy: Some(PolicySource::from_text("legacy.toml", &legacy).unwrap()),
    };
    let r = run(&load(&f, &opts).unwrap());
    let failed: Vec<&str> = r
        .cases
        .iter()
        .filter(|c| !c.passed())
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        !failed.is_empty() && failed.iter().all(|n| n.contains("f12-")),
        "{failed:?}"
    );
}

#[test]
fn coverage_lists_unreached_rules_and_maps_lines() {
    let f = examples().join("suite/decisions.toml");
    let s = load(&f, &LoadOptions::default()).unwrap();
    let r = run(&s);
    let mut cov = Coverage::new();
    cov.add(&s, &r);
    let j = cov.json();
    let p = &j["policies"][0];
    assert_eq!(p["policy"], DEFAULT_POLICY_NAME);
    let reasons = p["unreached"]["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|x| x == "ambiguous_credential"), "{j}");
    let rules = p["unreached"]["rules"].to_string();
    assert!(rules.contains("member.remove roles"), "{rules}");
    let lcov = cov.lcov();
    assert!(
        lcov.starts_with("TN:authproof\nSF:policies/default.toml\n"),
        "{lcov}"
    );
    assert!(lcov.trim_end().ends_with("end_of_record"));
    // `[actions."member.remove"]` is hit; its roles line has a branch never taken.
    let line = |needle: &str| {
        DEFAULT_POLICY_TOML
            .lines()
            .position(|l| l.starts_with(needle))
            .unwrap()
            + 1
    };
    let header = line("[actions.\"member.remove\"]");
    assert!(lcov.contains(&format!("DA:{header},1\n")), "{lcov}");
    let roles = header + 2;
    assert!(lcov.contains(&format!("BRDA:{roles},0,0,0\n")), "{lcov}");
    assert!(cov.text().contains("NEVER"));
}
