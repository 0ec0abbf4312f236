//! `authproof apply` as a user runs it: exit codes (SPEC §10), result lines
//! (SPEC §8), `--out`, determinism and the text format.

use crate::cli_common;

use std::path::{Path, PathBuf};

use cli_common::{run, Run};
use serde_json::Value;

const SNAPSHOT: &str = "examples/snapshot.json";

fn apply(snapshot: &Path, commands: &Path, extra: &[&std::ffi::OsStr]) -> Run {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "apply".as_ref(),
        "--snapshot".as_ref(),
        snapshot.as_os_str(),
        "--commands".as_ref(),
        commands.as_os_str(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn examples_commands() -> &'static Path {
    Path::new("examples/commands.jsonl")
}

const OK_COMMANDS: &str = r#"{"at": "2026-05-28T12:00:00Z", "op": "create_tenant", "tenant": "umbrella"}
{"at": "2026-05-28T12:01:00Z", "op": "add_member", "user": "bob", "tenant": "umbrella", "role": "owner"}
{"at": "2026-05-28T12:02:00Z", "op": "create_resource", "tenant": "umbrella", "resource": "conv_default", "owner": "bob"}
{"at": "2026-05-28T12:03:00Z", "op": "reinstate_tenant", "tenant": "initech"}
"#;

#[test]
fn none_rejected_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = write(dir.path(), "ok.jsonl", OK_COMMANDS);
    let r = apply(Path::new(SNAPSHOT), &c, &[]);
    r.expect_code(0);
    let lines = r.json_lines();
    assert_eq!(lines.len(), 4);
    for l in &lines {
        assert_eq!(l["result"], "ok");
        assert!(!l["changes"].as_array().expect("changes").is_empty(), "{l}");
    }
    assert_eq!(
        lines[0],
        serde_json::json!({"result": "ok", "op": "create_tenant",
            "changes": [{"change": "create", "record": "tenant", "id": "umbrella"}]})
    );
}

#[test]
fn a_denied_authenticate_is_not_a_rejection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = write(
        dir.path(),
        "auth.jsonl",
        r#"{"at": "2026-05-28T12:00:00Z", "op": "authenticate", "action": "workspace.read"}"#,
    );
    let r = apply(Path::new(SNAPSHOT), &c, &[]);
    r.expect_code(0);
    let l = &r.json_lines()[0];
    assert_eq!(l["result"], "decision");
    assert_eq!(l["op"], "authenticate");
    assert_eq!(l["decision"]["reason"], "no_credential");
}

#[test]
fn some_rejected_exits_2_and_every_command_has_a_result() {
    let r = apply(Path::new(SNAPSHOT), examples_commands(), &[]);
    r.expect_code(2);
    let lines = r.json_lines();
    let n = std::fs::read_to_string(cli_common::root().join(examples_commands()))
        .expect("commands")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(lines.len(), n);
    let rejected: Vec<&Value> = lines.iter().filter(|l| l["result"] == "rejected").collect();
    assert!(!rejected.is_empty());
    for l in rejected {
        let keys: Vec<&str> = l
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["result", "op", "reason", "explain"]);
    }
    let imm = lines
        .iter()
        .find(|l| l["reason"] == "immutable_field")
        .expect("an immutable_field rejection");
    assert_eq!(imm["op"], "update_api_key");
}

#[test]
fn out_writes_a_snapshot_that_loads_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("after.json");
    let r = apply(
        Path::new(SNAPSHOT),
        examples_commands(),
        &["--out".as_ref(), out.as_os_str()],
    );
    r.expect_code(2);
    let text = std::fs::read_to_string(&out).expect("--out written");
    let snap: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(snap["taken_at"], "2026-05-28T12:00:00Z", "taken_at is kept");
    let session = |id: &str| {
        snap["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("session {id}"))
    };
    let key = |id: &str| {
        snap["api_keys"]
            .as_array()
            .expect("api_keys")
            .iter()
            .find(|k| k["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("key {id}"))
    };
    // authenticate applied the sliding refresh; revoke, ban took effect.
    assert_eq!(session("ses_alice")["expires_at"], "2026-06-27T12:00:00Z");
    assert_eq!(session("ses_carol")["revoked_at"], "2026-05-28T13:00:00Z");
    assert_eq!(session("ses_bob2")["tenant"], Value::Null);
    assert_eq!(key("key_ci2")["revoked_at"], "2026-05-28T12:15:00Z");
    assert_eq!(
        key("key_ci2")["tenant"],
        "acme",
        "the rejected update left the tenant alone"
    );
    assert_eq!(key("key_ci2")["name"], "ci supervisor (rotating)");

    // It loads again: decide against it, and apply nothing to it.
    let r = run(&[
        "decide".as_ref(),
        "--snapshot".as_ref(),
        out.as_os_str(),
        "--request".as_ref(),
        "examples/requests/f05-key-tenant.json".as_ref(),
    ]);
    r.expect_code(0);
    let empty = write(dir.path(), "none.jsonl", "");
    let again = dir.path().join("again.json");
    let r = apply(&out, &empty, &["--out".as_ref(), again.as_os_str()]);
    r.expect_code(0);
    assert!(r.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&again).expect("again"),
        text,
        "round trip is byte-identical"
    );
}

#[test]
fn rejected_commands_leave_the_snapshot_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = write(dir.path(), "none.jsonl", "");
    let base = dir.path().join("base.json");
    apply(
        Path::new(SNAPSHOT),
        &empty,
        &["--out".as_ref(), base.as_os_str()],
    )
    .expect_code(0);
    let rejected = write(
        dir.path(),
        "rejected.jsonl",
        r#"{"at": "2026-05-28T12:00:00Z", "op": "update_api_key", "key": "key_live", "tenant": "globex"}
{"at": "2026-05-28T12:00:00Z", "op": "update_api_key", "key": "key_live", "tenant": "acme", "name": "x"}
{"at": "2026-05-28T12:00:00Z", "op": "update_api_key", "key": "key_revoked", "enabled": true}
{"at": "2026-05-28T12:00:00Z", "op": "update_api_key", "key": "nope", "name": "x"}
{"at": "2026-05-28T12:00:00Z", "op": "remove_member", "user": "bob", "tenant": "acme"}
{"at": "2026-05-28T12:00:00Z", "op": "ban_user", "user": "mallory"}
"#,
    );
    let after = dir.path().join("after.json");
    let r = apply(
        Path::new(SNAPSHOT),
        &rejected,
        &["--out".as_ref(), after.as_os_str()],
    );
    r.expect_code(2);
    let reasons: Vec<Value> = r.json_lines().iter().map(|l| l["reason"].clone()).collect();
    assert_eq!(
        reasons,
        [
            "immutable_field",
            "immutable_field",
            "api_key_revoked",
            "api_key_not_found",
            "not_a_member",
            "no_change"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&after).expect("after"),
        std::fs::read_to_string(&base).expect("base"),
        "no silent writes"
    );
}

#[test]
fn output_and_out_are_byte_identical_across_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a_out = dir.path().join("a.json");
    let b_out = dir.path().join("b.json");
    let a = apply(
        Path::new(SNAPSHOT),
        examples_commands(),
        &["--out".as_ref(), a_out.as_os_str()],
    );
    let b = apply(
        Path::new(SNAPSHOT),
        examples_commands(),
        &["--out".as_ref(), b_out.as_os_str()],
    );
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.code, b.code);
    assert_eq!(
        std::fs::read(&a_out).expect("a"),
        std::fs::read(&b_out).expect("b")
    );
    let t1 = apply(
        Path::new(SNAPSHOT),
        examples_commands(),
        &["--format".as_ref(), "text".as_ref()],
    );
    let t2 = apply(
        Path::new(SNAPSHOT),
        examples_commands(),
        &["--format".as_ref(), "text".as_ref()],
    );
    assert_eq!(t1.stdout, t2.stdout);
}

#[test]
fn text_format_is_readable() {
    let r = apply(
        Path::new(SNAPSHOT),
        examples_commands(),
        &["--format".as_ref(), "text".as_ref()],
    );
    r.expect_code(2);
    assert!(!r.stdout.starts_with('{'));
    for needle in [
        "2026-05-28T12:05:00Z mint_api_key: ok",
        "created api key key_ci2",
        "update_api_key: rejected immutable_field",
        "revoked_at null -> \"2026-05-28T12:15:00Z\"",
        "authenticate: DENY  supervisor.connect (401): api_key_revoked",
        "removed membership bob in globex",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            r.stdout
        );
    }
}

#[test]
fn an_input_error_applies_nothing_and_writes_no_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = write(
        dir.path(),
        "bad.jsonl",
        "{\"at\": \"2026-05-28T12:00:00Z\", \"op\": \"create_tenant\", \"tenant\": \"t1\"}\n\
         {\"at\": \"2026-05-28T12:00:00Z\", \"op\": \"create_tenant\", \"tenant\": \"t2\", \"color\": 1}\n",
    );
    let out = dir.path().join("out.json");
    let r = apply(
        Path::new(SNAPSHOT),
        &c,
        &["--out".as_ref(), out.as_os_str()],
    );
    r.expect_code(1);
    assert!(r.stdout.is_empty(), "no result line before the input error");
    assert!(r.stderr.contains("bad.jsonl:2"), "{}", r.stderr);
    assert!(!out.exists(), "--out not written");
}
