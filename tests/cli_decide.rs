//! `authproof decide` as a user runs it: exit codes (SPEC §10), the JSON
//! decision (SPEC §7), the text format, determinism, and `policy default`.

use crate::cli_common;

use std::path::Path;

use cli_common::{ex, request_files, run, Run};

const SNAPSHOT: &str = "examples/snapshot.json";

fn decide(request: &str, extra: &[&str]) -> Run {
    let mut args = vec!["decide", "--snapshot", SNAPSHOT, "--request", request];
    args.extend(extra);
    run(&args)
}

fn decide_batch(requests: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<&std::ffi::OsStr> = ["decide", "--snapshot", SNAPSHOT, "--requests"]
        .iter()
        .map(|s| s.as_ref())
        .collect();
    args.push(requests.as_os_str());
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    run(&args)
}

/// A JSON Lines file of the given example requests, compacted.
fn batch_of(dir: &Path, names: &[&str]) -> std::path::PathBuf {
    let mut s = String::new();
    for n in names {
        let text = std::fs::read_to_string(cli_common::root().join(ex(n))).expect("request");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        s.push_str(&serde_json::to_string(&v).expect("JSON"));
        s.push('\n');
    }
    let path = dir.join("batch.jsonl");
    std::fs::write(&path, s).expect("write batch");
    path
}

const ALLOWED: [&str; 4] = [
    "requests/f02-cookie-session.json",
    "requests/f04-key-header.json",
    "requests/f10-cross-tenant-resume.json",
    "requests/f13-key-before-expiry.json",
];

#[test]
fn allow_exits_0_with_a_spec_decision() {
    let r = decide(&ex("requests/f10-cross-tenant-resume.json"), &[]);
    r.expect_code(0);
    assert!(r.stderr.is_empty());
    assert!(r.stdout.ends_with('\n') && r.stdout.lines().count() == 1);
    let d: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let keys: Vec<&str> = d
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "decision",
            "reason",
            "status",
            "action",
            "user",
            "credential",
            "tenant",
            "scope",
            "effects",
            "explain"
        ],
        "SPEC §7 key order"
    );
    assert_eq!(d["decision"], "allow");
    assert_eq!(d["reason"], serde_json::Value::Null);
    assert_eq!(d["status"], 200);
    assert_eq!(d["action"], "conversation.resume");
    assert_eq!(d["user"], "bob");
    assert_eq!(
        d["credential"],
        serde_json::json!({"kind": "session", "id": "ses_bob"})
    );
    assert_eq!(d["tenant"], "globex");
    assert_eq!(d["scope"], serde_json::json!(["globex"]));
    assert_eq!(
        d["effects"],
        serde_json::json!([{"kind": "extend_session", "session": "ses_bob",
                            "expires_at": "2026-06-27T12:00:00Z"}])
    );
    assert!(d["explain"].as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn deny_exits_2_with_reason_status_and_empty_scope() {
    let r = decide(&ex("requests/f01-revoked-key.json"), &[]);
    r.expect_code(2);
    assert!(r.stderr.is_empty());
    let d = &r.json_lines()[0];
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["reason"], "api_key_revoked");
    assert_eq!(d["status"], 401);
    assert_eq!(d["user"], "alice");
    assert_eq!(d["credential"]["id"], "key_revoked");
    assert_eq!(d["tenant"], serde_json::Value::Null);
    assert_eq!(d["scope"], serde_json::json!([]));
    assert_eq!(d["effects"], serde_json::json!([]));
}

#[test]
fn batch_all_allowed_exits_0_any_denied_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let all = batch_of(dir.path(), &ALLOWED);
    let r = decide_batch(&all, &[]);
    r.expect_code(0);
    let ds = r.json_lines();
    assert_eq!(ds.len(), ALLOWED.len());
    assert!(ds.iter().all(|d| d["decision"] == "allow"));

    let mut names = ALLOWED.to_vec();
    names.insert(2, "requests/f13-expiry-boundary.json");
    let some = batch_of(dir.path(), &names);
    let r = decide_batch(&some, &[]);
    r.expect_code(2);
    let ds = r.json_lines();
    assert_eq!(
        ds.len(),
        names.len(),
        "every line is decided, also after a deny"
    );
    assert_eq!(ds[2]["reason"], "session_expired");
    assert_eq!(ds[3]["decision"], "allow");
}

#[test]
fn empty_batch_exits_0_with_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n\n").expect("write");
    let r = decide_batch(&empty, &[]);
    r.expect_code(0);
    assert!(r.stdout.is_empty());
}

#[test]
fn batch_lines_equal_single_decisions_in_order() {
    let files = request_files();
    let dir = tempfile::tempdir().expect("tempdir");
    let rel: Vec<String> = files
        .iter()
        .map(|f| f.trim_start_matches("examples/").to_string())
        .collect();
    let names: Vec<&str> = rel.iter().map(String::as_str).collect();
    let batch = batch_of(dir.path(), &names);
    let r = decide_batch(&batch, &[]);
    r.expect_code(2);
    let singles: String = files.iter().map(|f| decide(f, &[]).stdout).collect();
    assert_eq!(
        r.stdout, singles,
        "the snapshot loaded once decides like one per run"
    );
}

#[test]
fn output_is_byte_identical_across_runs() {
    for format in ["json", "text"] {
        for f in request_files() {
            let a = decide(&f, &["--format", format]);
            let b = decide(&f, &["--format", format]);
            assert_eq!(a.stdout, b.stdout, "{f} --format {format}");
            assert_eq!(a.code, b.code);
        }
        let a = decide_batch(Path::new("examples/requests.jsonl"), &["--format", format]);
        let b = decide_batch(Path::new("examples/requests.jsonl"), &["--format", format]);
        assert_eq!(a.stdout, b.stdout, "batch --format {format}");
    }
}

#[test]
fn text_format_is_readable_and_names_the_reason() {
    let r = decide(
        &ex("requests/f10-cross-tenant-resume-not-member.json"),
        &["--format", "text"],
    );
    r.expect_code(2);
    let first = r.stdout.lines().next().expect("a line");
    assert_eq!(first, "DENY  conversation.resume (403): not_a_member");
    assert!(!r.stdout.trim_start().starts_with('{'), "not JSON");
    for label in [
        "user        bob",
        "credential  session ses_bob",
        "tenant      acme",
        "why:",
    ] {
        assert!(
            r.stdout.contains(label),
            "missing {label:?} in\n{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("not_a_member"));

    let r = decide(
        &ex("requests/f02-cookie-session.json"),
        &["--format", "text"],
    );
    r.expect_code(0);
    assert!(r.stdout.starts_with("ALLOW workspace.create (200)\n"));
    assert!(r.stdout.contains("scope       [acme]"));
    assert!(r
        .stdout
        .contains("effect      extend session ses_alice to 2026-06-27T12:00:00Z"));
}

#[test]
fn text_batch_separates_decisions_with_a_blank_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch = batch_of(dir.path(), &ALLOWED[..2]);
    let r = decide_batch(&batch, &["--format", "text"]);
    r.expect_code(0);
    let blocks: Vec<&str> = r.stdout.split("\n\n").collect();
    assert_eq!(blocks.len(), 2, "{}", r.stdout);
    assert!(blocks.iter().all(|b| b.starts_with("ALLOW ")));
}

#[test]
fn policy_default_exits_0_and_parses_as_the_default_policy() {
    let r = run(&["policy", "default"]);
    r.expect_code(0);
    assert!(r.stderr.is_empty());
    assert!(r.stdout.contains("[session]") && r.stdout.contains("[actions."));
    let dir = tempfile::tempdir().expect("tempdir");
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, &r.stdout).expect("write");
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").expect("write");
    let shipped = cli_common::root().join("policies/default.toml");
    assert_eq!(
        std::fs::read_to_string(shipped).expect("policies/default.toml"),
        r.stdout,
        "prints the shipped file"
    );
    // The printed policy, the empty policy and no policy decide alike.
    for f in request_files() {
        let base = decide(&f, &[]);
        for p in [&printed, &empty] {
            let with = decide(&f, &["--policy", p.to_str().expect("UTF-8 path")]);
            assert_eq!(with.code, base.code, "{f} with {}", p.display());
            assert_eq!(with.stdout, base.stdout, "{f} with {}", p.display());
        }
    }
}

#[test]
fn a_policy_file_changes_the_decision() {
    let f = ex("requests/f12-legacy-key.json");
    decide(&f, &[]).expect_code(2);
    let r = decide(&f, &["--policy", &ex("policy-legacy-oldest.toml")]);
    r.expect_code(0);
    assert_eq!(r.json_lines()[0]["tenant"], "globex");
}

#[test]
fn request_and_requests_together_are_a_usage_error() {
    let r = run(&[
        "decide",
        "--snapshot",
        SNAPSHOT,
        "--request",
        &ex("requests/f02-cookie-session.json"),
        "--requests",
        "examples/requests.jsonl",
    ]);
    r.expect_code(1);
    assert!(r.stdout.is_empty());
    let r = run(&["decide", "--snapshot", SNAPSHOT]);
    r.expect_code(1);
    assert!(r.stderr.contains("--request"));
}
