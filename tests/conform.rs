//! `authproof conform` and `replay --target` on the correct target
//! (authproof's own store behind the protocol, docs/CONFORM.md).

use std::process::Command;

fn authproof(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_authproof"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs")
}

#[test]
fn the_store_conforms() {
    let out = tempfile::tempdir().unwrap();
    let o = authproof(&[
        "conform",
        "--target",
        "targets/store",
        "--cases",
        "30",
        "--seed",
        "3",
        "--format",
        "json",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "authproof-conform/1");
    assert_eq!(v["cases"], 30);
    assert_eq!(v["findings"], serde_json::json!([]));
    assert!(v["steps"].as_u64().unwrap() > 0);
}

#[test]
fn a_trace_replays_on_the_store_target() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.json");
    std::fs::write(
        &trace,
        r#"{"format": "authproof-trace/1", "policy": null,
            "snapshot": {"tenants": [{"id": "acme"}], "users": [{"id": "alice"}],
                         "memberships": [{"user": "alice", "tenant": "acme", "role": "owner"}]},
            "steps": [
              {"at": "2026-05-28T12:00:00Z", "op": "login", "session": "ses_1", "user": "alice", "token": "ses/+=%tok1", "tenant": "acme"},
              {"at": "2026-05-28T12:00:00Z", "op": "authenticate", "action": "workspace.read", "headers": {"authorization": "Bearer ses/+=%tok1"}}
            ]}"#,
    )
    .unwrap();
    let o = authproof(&[
        "replay",
        trace.to_str().unwrap(),
        "--target",
        "targets/store",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("held"), "{text}");
    assert!(
        !text.contains("ses/+=%tok1"),
        "no token in the output: {text}"
    );
}

#[test]
fn a_missing_adapter_is_an_error_not_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("target.toml");
    std::fs::write(&t, "command = [\"/nonexistent/adapter\"]\n").unwrap();
    let o = authproof(&["conform", "--target", t.to_str().unwrap(), "--cases", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("could not start the adapter"));
}
