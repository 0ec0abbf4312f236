//! `authproof test` through the built binary: suites pass and fail with
//! the right exit codes and readable reports, bad suites are refused like
//! every input, recording round-trips without raw tokens, coverage.

use crate::cli_common;

use std::path::Path;

use cli_common::{assert_no_token, example_tokens, root, run, run_in};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A copy of the examples snapshot in `dir`, for suites written there.
fn with_snapshot(dir: &Path) {
    std::fs::copy(
        root().join("examples/snapshot.json"),
        dir.join("snapshot.json"),
    )
    .unwrap();
}

/// sha256 of `key_revoked`'s token in the examples.
const REVOKED: &str = "55c1568732a32952a8f8e5619cdea4a1265e1c022e6406f99ffd6f82cc576e16";

fn revoked_case(reason: &str) -> String {
    format!(
        "version = 1\nsnapshot = \"snapshot.json\"\n\n[[case]]\nname = \"revoked key <told apart> & pinned\"\n\
         request = {{ at = \"2026-05-28T12:00:00Z\", action = \"workspace.read\", headers = {{ x-api-key = \"{{{{sha256:{REVOKED}:sk_live_}}}}\" }} }}\n\
         [case.expect]\ndecision = \"deny\"\nreason = \"{reason}\"\n"
    )
}

#[test]
fn the_examples_suite_passes_deterministically() {
    let a = run(&["test", "examples/suite"]);
    a.expect_code(0);
    assert!(a.stdout.ends_with("57 passed, 0 failed\n"), "{}", a.stdout);
    for format in ["text", "json", "junit", "markdown"] {
        let x = run(&["test", "examples/suite", "--format", format]);
        let y = run(&["test", "examples/suite", "--format", format]);
        x.expect_code(0);
        assert_eq!(x.stdout, y.stdout, "{format} output is byte-identical");
    }
    // No raw token of the examples in the suite files or any report.
    let tokens = example_tokens();
    for f in ["decisions", "legacy-oldest", "commands"] {
        let text =
            std::fs::read_to_string(root().join(format!("examples/suite/{f}.toml"))).unwrap();
        assert_no_token(f, &text, &tokens);
    }
    assert_no_token("report", &a.stdout, &tokens);
}

#[test]
fn a_changed_decision_fails_with_readable_junit() {
    let dir = tempfile::tempdir().unwrap();
    with_snapshot(dir.path());
    let f = write(
        dir.path(),
        "pinned.toml",
        &revoked_case("api_key_not_found"),
    );
    let r = run(&["test", &f, "--format", "junit"]);
    r.expect_code(2);
    let doc = roxmltree::Document::parse(&r.stdout).expect("JUnit is well-formed XML");
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!(suites.attribute("failures"), Some("1"));
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert_eq!(
        case.attribute("name"),
        Some("revoked key <told apart> & pinned")
    );
    assert_eq!(case.attribute("time"), Some("0"));
    let failure = case.children().find(|n| n.has_tag_name("failure")).unwrap();
    assert_eq!(
        failure.attribute("message"),
        Some("reason: expected \"api_key_not_found\", actual \"api_key_revoked\"")
    );
    let body = failure.text().unwrap();
    assert!(
        body.contains("actual: DENY workspace.read (401): api_key_revoked"),
        "{body}"
    );
    assert!(
        body.contains("why:") && body.contains("deny api_key_revoked"),
        "{body}"
    );

    // Text and Markdown say the same.
    let t = run(&["test", &f]);
    t.expect_code(2);
    assert!(t.stdout.contains("FAIL  revoked key"), "{}", t.stdout);
    assert!(t.stdout.ends_with("0 passed, 1 failed\n"));
    let m = run(&["test", &f, "--format", "markdown"]);
    assert!(
        m.stdout.contains("revoked key \\<told apart\\> & pinned"),
        "{}",
        m.stdout
    );
    let j = run(&["test", &f, "--format", "json"]).json_lines();
    assert_eq!(j[0]["failed"], 1);
    assert_eq!(
        j[0]["suites"][0]["cases"][0]["mismatches"][0]["field"],
        "reason"
    );

    let ok = write(dir.path(), "ok.toml", &revoked_case("api_key_revoked"));
    run(&["test", &ok]).expect_code(0);
}

#[test]
fn bad_suites_are_input_errors_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    with_snapshot(dir.path());
    let text = revoked_case("api_key_revoked").replace(
        "reason = \"api_key_revoked\"",
        "reason = \"sk_live_SECRET_9\"",
    );
    let f = write(dir.path(), "bad.toml", &text);
    let r = run(&["test", &f]);
    r.expect_code(1);
    assert!(r.stdout.is_empty());
    assert_eq!(
        r.stderr.trim_end(),
        format!("error: {f}:9: case[0].expect.reason: unknown reason; expected one of the 23 reasons of SPEC §6.2")
    );
    assert!(!r.stderr.contains("SECRET"));
    // An unknown key; a missing snapshot; no suite in a directory.
    let f = write(
        dir.path(),
        "bad.toml",
        &format!("{}colour = \"x\"\n", revoked_case("api_key_revoked")),
    );
    let r = run(&["test", &f]);
    r.expect_code(1);
    assert!(
        r.stderr.contains(":10: case[0].expect.colour: unknown key"),
        "{}",
        r.stderr
    );
    let f = write(
        dir.path(),
        "bad.toml",
        &revoked_case("x").replace("snapshot.json", "missing.json"),
    );
    run(&["test", &f]).expect_code(1);
    let empty = tempfile::tempdir().unwrap();
    run(&["test", &empty.path().display().to_string()]).expect_code(1);
}

#[test]
fn record_then_run_round_trips_without_raw_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    with_snapshot(d);
    // Tokens with / + = % in a command and in requests.
    let token = "t0k/en+with=pct%2F_x";
    std::fs::write(
        d.join("c.jsonl"),
        format!("{{\"at\": \"2026-05-27T00:00:00Z\", \"op\": \"login\", \"session\": \"ses_n\", \"user\": \"bob\", \"token\": \"{token}\", \"tenant\": \"globex\"}}\n"),
    )
    .unwrap();
    let reqs = std::fs::read_to_string(root().join("examples/requests.jsonl")).unwrap();
    std::fs::write(
        d.join("r.jsonl"),
        format!(
            "{{\"at\": \"2026-05-28T12:01:00Z\", \"action\": \"workspace.read\", \"headers\": {{\"cookie\": \"a=b; better-auth.session_token=\\\"{token}\\\"\"}}}}\n\
             {{\"at\": \"2026-05-28T12:01:00Z\", \"action\": \"workspace.read\", \"headers\": {{\"authorization\": \"Bearer {token}\"}}}}\n{reqs}"
        ),
    )
    .unwrap();
    let args = [
        "test",
        "--record",
        "--snapshot",
        "snapshot.json",
        "--commands",
        "c.jsonl",
        "--requests",
        "r.jsonl",
        "--out",
        "pinned.toml",
    ];
    // The examples' requests come after the login, which they do not see.
    let r = run_in(d, &args);
    r.expect_code(0);
    let text = std::fs::read_to_string(d.join("pinned.toml")).unwrap();
    let mut tokens = example_tokens();
    tokens.push(token.to_string());
    assert_no_token("recorded suite", &text, &tokens);
    assert!(text.contains("snapshot = \"snapshot.json\""));
    // Refuses to overwrite, unless --force.
    run_in(d, &args).expect_code(1);
    let mut forced = args.to_vec();
    forced.push("--force");
    run_in(d, &forced).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(d.join("pinned.toml")).unwrap(),
        text
    );
    // It runs green, and the session cookie and Bearer cases allow.
    let t = run_in(d, &["test", "pinned.toml"]);
    t.expect_code(0);
    let j = run_in(d, &["test", "pinned.toml", "--format", "json"]).json_lines();
    assert_eq!(j[0]["suites"][0]["cases"][0]["actual"]["decision"], "allow");
    assert_eq!(
        j[0]["suites"][0]["cases"][1]["actual"]["credential"]["id"],
        "ses_n"
    );

    // Recording from a suite without expectations, with a raw token.
    let bare = "version = 1\nsnapshot = \"snapshot.json\"\n[[case]]\nname = \"live key\"\n\
        request = { at = \"2026-05-28T12:00:00Z\", action = \"supervisor.connect\", \
        headers = { x-api-key = \"sk_live_acme_Sup3rvisor_9f2Kq7\" } }\n";
    write(d, "bare.toml", bare);
    run_in(d, &["test", "bare.toml"]).expect_code(1); // no expectation, raw token
    run_in(d, &["test", "--record", "bare.toml", "--out", "sub.toml"]).expect_code(0);
    let sub = std::fs::read_to_string(d.join("sub.toml")).unwrap();
    assert!(!sub.contains("sk_live_acme_Sup3rvisor_9f2Kq7"));
    assert!(sub.contains("decision = \"allow\""), "{sub}");
    run_in(d, &["test", "sub.toml"]).expect_code(0);
}

#[test]
fn policy_override_changes_a_result() {
    let r = run(&[
        "test",
        "examples/suite/decisions.toml",
        "--policy",
        "examples/policy-legacy-oldest.toml",
    ]);
    r.expect_code(2);
    assert!(r.stdout.contains("FAIL  F12"), "{}", r.stdout);
    assert!(r
        .stdout
        .contains("(policy examples/policy-legacy-oldest.toml"));
}

#[test]
fn coverage_shows_unreached_rules_and_writes_lcov() {
    let r = run(&[
        "test",
        "examples/suite/decisions.toml",
        "--coverage",
        "text",
    ]);
    r.expect_code(0);
    assert!(
        r.stdout.contains("coverage of policies/default.toml"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("never given: ambiguous_credential"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("NEVER"));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cov.lcov");
    let o = out.display().to_string();
    run(&[
        "test",
        "examples/suite",
        "--format",
        "junit",
        "--coverage-out",
        &o,
    ])
    .expect_code(0);
    let lcov = std::fs::read_to_string(&out).unwrap();
    let records: Vec<&str> = lcov
        .split("end_of_record\n")
        .filter(|r| !r.is_empty())
        .collect();
    assert_eq!(records.len(), 2, "default and legacy policies:\n{lcov}");
    let policy_lines = std::fs::read_to_string(root().join("policies/default.toml"))
        .unwrap()
        .lines()
        .count();
    for rec in &records {
        assert!(rec.starts_with("TN:authproof\nSF:"), "{rec}");
        let mut lf = 0;
        for l in rec.lines() {
            if let Some(da) = l.strip_prefix("DA:") {
                let (line, hits) = da.split_once(',').unwrap();
                let line: usize = line.parse().unwrap();
                assert!(line >= 1 && line <= policy_lines, "{l}");
                hits.parse::<usize>().unwrap();
                lf += 1;
            }
        }
        assert!(rec.contains(&format!("LF:{lf}\n")), "{rec}");
    }
    let default = records
        .iter()
        .find(|r| r.contains("SF:policies/default.toml"))
        .unwrap();
    assert!(default.contains("DA:"), "{default}");
    // JSON coverage parses, and a non-text report without --coverage-out is refused.
    run(&[
        "test",
        "examples/suite",
        "--format",
        "json",
        "--coverage",
        "json",
    ])
    .expect_code(1);
}
