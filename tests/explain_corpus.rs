//! `decide`'s output over a generated corpus of every decision class is
//! byte for byte what it was when the engine formatted `explain` eagerly
//! (issue 15: the explanation is now recorded as notes and rendered only
//! when an output asks for it).
//!
//! The corpus: the bench generator's snapshot at 2,000 keys
//! (`benches/common`, deterministic), up to 4 requests of each of the 25
//! bench classes plus crafted ones (two credentials at once, signed and
//! unsigned cookies, a legacy key, a Bearer header), decided by the built
//! CLI under three policies (the bench policy; legacy keys bound to the
//! oldest membership, several credentials denied, `[]` read as no
//! capability; signed session cookies). The JSON output is compared with
//! `tests/golden/explain-corpus-<policy>.jsonl`, recorded by the engine
//! before the change; the text output with the SHA-256 recorded then in
//! `tests/golden/explain-corpus.sha256` (the text is the same lines in
//! another layout; the JSON shows any difference).
//!
//! After a deliberate change of wording, re-record with
//! `AUTHPROOF_RECORD_GOLDEN=1 cargo test --test cli explain_corpus`
//! (`AUTHPROOF_GOLDEN_BIN=PATH` records with another build of the CLI, as
//! the files here were: with the engine of before the change).

use std::{fmt::Write as _, path::Path, process::Command};

use authproof_engine::{Headers, Request, State, TokenHash, DEFAULT_POLICY_TOML};

#[path = "../benches/common/mod.rs"]
mod bench_common;

/// Requests kept per class.
const PER_CLASS: usize = 4;

/// The bench policy (the default one, `supervisor.connect` limited to
/// owners and admins) and two variations, as TOML.
fn policies() -> Vec<(&'static str, String)> {
    let replace = |text: &str, from: &str, to: &str| {
        assert!(text.contains(from), "the default policy has {from:?}");
        text.replacen(from, to, 1)
    };
    let bench = replace(
        DEFAULT_POLICY_TOML,
        "[actions.\"supervisor.connect\"]\ncredentials = [\"api_key\"]\n",
        "[actions.\"supervisor.connect\"]\ncredentials = [\"api_key\"]\nroles = [\"owner\", \"admin\"]\n",
    );
    let mut legacy = replace(
        &bench,
        "unbound = \"deny\"",
        "unbound = \"oldest_membership\"",
    );
    legacy = replace(&legacy, "multiple = \"first\"", "multiple = \"deny\"");
    legacy = replace(
        &legacy,
        "empty_capabilities = \"all\"",
        "empty_capabilities = \"none\"",
    );
    let signed = replace(
        &bench,
        "[session]\n",
        "[session]\ncookie_format = \"signed\"\n",
    );
    vec![("bench", bench), ("legacy", legacy), ("signed", signed)]
}

/// Every class of the bench, then crafted requests for what the classes do
/// not reach.
fn corpus() -> (authproof_engine::Snapshot, Vec<Request>) {
    let (snap, meta) = bench_common::generate(2_000);
    let state = State::from_snapshot(snap.clone()).expect("generated data passes integrity");
    let policy = bench_common::policy();
    let mut reqs = Vec::new();
    for class in bench_common::CLASSES {
        let got = bench_common::requests(class, &snap, &meta, &state, &policy, PER_CLASS);
        assert!(!got.is_empty() || *class == "tenant_suspended", "{class}");
        reqs.extend(got);
    }
    let session_token = bench_common::session_token(3);
    let key_token = bench_common::key_token(5);
    let legacy = snap
        .api_keys
        .iter()
        .position(|k| k.tenant.is_none())
        .expect("the generator makes legacy keys");
    let with = |action: &str, headers: Vec<(&str, String)>, tenant: Option<&str>| Request {
        at: bench_common::at(),
        action: action.into(),
        headers: Headers::new(headers).expect("distinct names"),
        tenant: tenant.map(|t| authproof_engine::Id::new(t).expect("an id")),
        resource: None,
    };
    let signature = format!("{}=", "A".repeat(43));
    let cookie = |v: &str| format!("better-auth.session_token={v}");
    for action in ["workspace.read", "supervisor.connect", "session.read"] {
        reqs.push(with(
            action,
            vec![
                ("x-api-key", key_token.clone()),
                ("cookie", cookie(&session_token)),
            ],
            None,
        ));
        reqs.push(with(
            action,
            vec![("cookie", cookie(&format!("{session_token}.{signature}")))],
            None,
        ));
        reqs.push(with(
            action,
            vec![("cookie", cookie(&format!("{session_token}.short")))],
            None,
        ));
        reqs.push(with(
            action,
            vec![("authorization", format!("Bearer {session_token}"))],
            None,
        ));
        reqs.push(with(
            action,
            vec![("authorization", format!("Bearer {key_token}"))],
            Some("t0"),
        ));
        reqs.push(with(
            action,
            vec![("x-api-key", bench_common::key_token(legacy))],
            None,
        ));
        reqs.push(with(
            action,
            vec![("authorization", "Basic abc".into())],
            None,
        ));
    }
    (snap, reqs)
}

fn sha256(text: &str) -> String {
    TokenHash::of(text).to_string()
}

#[test]
fn decide_output_is_byte_identical_over_every_class() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (snap, reqs) = corpus();
    let snapshot = dir.path().join("snapshot.json");
    std::fs::write(&snapshot, serde_json::to_vec(&snap).expect("serializes")).expect("writes");
    let mut jsonl = String::new();
    for r in &reqs {
        jsonl.push_str(&serde_json::to_string(r).expect("serializes"));
        jsonl.push('\n');
    }
    let requests = dir.path().join("requests.jsonl");
    std::fs::write(&requests, jsonl).expect("writes");

    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let record = std::env::var("AUTHPROOF_RECORD_GOLDEN").is_ok_and(|v| v == "1");
    let bin = match std::env::var_os("AUTHPROOF_GOLDEN_BIN") {
        Some(other) if record => other,
        _ => env!("CARGO_BIN_EXE_authproof").into(),
    };
    let mut digests = String::new();
    for (name, toml) in policies() {
        let policy = dir.path().join(format!("{name}.toml"));
        std::fs::write(&policy, toml).expect("writes");
        for format in ["json", "text"] {
            let out = Command::new(&bin)
                .args(["decide", "--snapshot"])
                .arg(&snapshot)
                .arg("--requests")
                .arg(&requests)
                .arg("--policy")
                .arg(&policy)
                .args(["--format", format])
                .output()
                .expect("runs the CLI");
            assert_eq!(
                out.status.code(),
                Some(2),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8(out.stdout).expect("UTF-8");
            let _ = writeln!(digests, "{}  {name}.{format}", sha256(&stdout));
            if format != "json" {
                continue;
            }
            let file = golden.join(format!("explain-corpus-{name}.jsonl"));
            if record {
                std::fs::create_dir_all(&golden).expect("creates tests/golden");
                std::fs::write(&file, &stdout).expect("writes the golden file");
                continue;
            }
            let want = std::fs::read_to_string(&file).expect("the golden file");
            for (i, (got, want)) in stdout.lines().zip(want.lines()).enumerate() {
                assert_eq!(got, want, "{name}: decision {} differs", i + 1);
            }
            assert_eq!(
                stdout.lines().count(),
                want.lines().count(),
                "{name}: decisions"
            );
        }
    }
    let sums = golden.join("explain-corpus.sha256");
    if record {
        std::fs::write(&sums, &digests).expect("writes the digests");
        return;
    }
    assert_eq!(
        digests,
        std::fs::read_to_string(&sums).expect("the digests"),
        "the JSON matched, so the text layout changed"
    );
}
