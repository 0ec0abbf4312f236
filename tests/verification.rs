//! `authproof check` and `authproof replay` end to end: exit codes, reports,
//! determinism, and no raw token in any output.

use std::{path::PathBuf, process::Command};

use authproof_verification::generate::TOKENS;

fn authproof(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_authproof"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    let s = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
    (
        out.status.code().unwrap_or(-1),
        s(out.stdout),
        s(out.stderr),
    )
}

fn no_token(text: &str) {
    for t in TOKENS {
        assert!(!text.contains(t), "a raw token in the output:\n{text}");
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "authproof-verification-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn replay_of_every_regression_trace_holds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 16);
    for f in &files {
        let f = f.to_str().unwrap();
        let (code, out, err) = authproof(&["replay", f]);
        assert_eq!(code, 0, "{f}\n{out}\n{err}");
        assert!(out.contains("held: no invariant violated"), "{out}");
        no_token(&out);
        let (code, out, _) = authproof(&["replay", f, "--format", "json"]);
        assert_eq!(code, 0);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["result"], "held");
        no_token(&out);
    }
}

#[test]
fn replay_reports_input_errors_with_path() {
    let d = scratch("bad");
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join("t.json");
    std::fs::write(
        &f,
        r#"{"format": "authproof-trace/1", "policy": null, "snapshot": {},
            "steps": [{"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": "u"},
                      {"at": "2026-05-28T11:00:00Z", "op": "create_user", "user": "v"}]}"#,
    )
    .unwrap();
    let (code, out, err) = authproof(&["replay", f.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("t.json") && err.contains("$.steps[1].at"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn check_is_deterministic_and_holds() {
    let d = scratch("check");
    let out_dir = d.to_str().unwrap();
    let run = || {
        authproof(&[
            "check", "--cases", "150", "--seed", "7", "--out", out_dir, "--format", "json",
        ])
    };
    let (code, a, err) = run();
    assert_eq!(code, 0, "{a}\n{err}");
    no_token(&a);
    let (_, b, _) = run();
    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        v.as_object_mut().unwrap().remove("elapsed_secs");
        v.as_object_mut().unwrap().remove("steps_per_sec");
        v
    };
    assert_eq!(strip(&a), strip(&b), "same seed, same report");
    let v = strip(&a);
    assert_eq!(v["result"], "held");
    assert_eq!(v["cases"], 150);
    assert!(v["steps"].as_u64().unwrap() > 150);
    // No violation, so nothing written.
    assert!(!d.exists());

    let (code, text, _) = authproof(&["check", "--cases", "50", "--out", out_dir]);
    assert_eq!(code, 0);
    assert!(text.contains("HELD") && text.contains("steps/s"), "{text}");
    let (code, xml, _) = authproof(&[
        "check", "--cases", "50", "--out", out_dir, "--format", "junit",
    ]);
    assert_eq!(code, 0);
    assert!(
        xml.starts_with("<?xml") && xml.contains("I10 bounded sliding"),
        "{xml}"
    );
}
