//! `authproof diff` and `authproof gen snapshot`, run as the built binary.
//!
//! The blast-radius scenario of INCIDENTS.md on `examples/blast-radius/`:
//! switching `api_key.unbound` from `oldest_membership` to `deny` must
//! report exactly the snapshot's legacy keys as newly denied and nothing
//! newly allowed; the reverse switch newly allows them and fails the
//! default `--fail-on`. The expected key set is computed here from the
//! snapshot, never hard-coded.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/blast-radius")
}

fn authproof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_authproof"))
        .args(args)
        .current_dir(dir())
        .output()
        .expect("runs the binary")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn snapshot() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("snapshot.json")).unwrap()).unwrap()
}

/// Ids of the snapshot's legacy keys (tenant null or absent).
fn legacy_keys() -> BTreeSet<String> {
    snapshot()["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["tenant"].is_null())
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect()
}

fn ids(radius: &Value, what: &str) -> BTreeSet<String> {
    assert_eq!(radius[what]["truncated"], false);
    radius[what]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Census groups (with their source counts) of one kind of change.
fn census_groups<'a>(report: &'a Value, change: &str) -> Vec<&'a Value> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["change"] == change && g["by_source"].get("census").is_some())
        .collect()
}

#[test]
fn stricter_key_policy_denies_exactly_the_legacy_keys() {
    let legacy = legacy_keys();
    let total = snapshot()["api_keys"].as_array().unwrap().len();
    assert!(total >= 200, "a few hundred keys: {total}");
    let share = legacy.len() as f64 / total as f64;
    assert!((0.03..=0.10).contains(&share), "about 6 % legacy: {share}");

    let out = authproof(&[
        "diff",
        "--old",
        "old.toml",
        "--new",
        "new.toml",
        "--snapshot",
        "snapshot.json",
        "--format",
        "json",
        // The exploration's ids are not part of the blast radius; depth 1
        // keeps this test quick in a debug build (the README shows the
        // default depth-3 run).
        "--explore-depth",
        "1",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&out);
    assert_eq!(r["result"], "pass");
    assert_eq!(r["summary"]["newly_allowed"], 0);
    assert!(r["summary"]["newly_denied"].as_u64().unwrap() > 0);
    assert!(r["summary"]["invariants_held"].as_bool().unwrap());

    // Exactly the legacy keys, and only keys, are newly denied, always
    // with api_key_unbound.
    let denied = &r["blast_radius"]["newly_denied"];
    assert_eq!(ids(denied, "api_keys"), legacy);
    assert_eq!(denied["sessions"]["count"], 0);
    let groups = census_groups(&r, "newly_denied");
    assert!(!groups.is_empty());
    for g in r["groups"].as_array().unwrap() {
        if g["change"] == "newly_denied" {
            assert_eq!(g["old"]["decision"], "allow");
            assert_eq!(g["new"]["decision"], "deny");
            assert_eq!(g["new"]["reason"], "api_key_unbound");
        }
    }
    // Nothing else changes in the census but the legacy keys' reasons.
    for change in ["reason_changed", "detail_changed"] {
        for g in census_groups(&r, change) {
            assert!(ids(&g["blast_radius"], "api_keys").is_subset(&legacy));
            assert_eq!(g["blast_radius"]["sessions"]["count"], 0);
        }
    }
}

#[test]
fn looser_key_policy_newly_allows_them_and_fails() {
    let legacy = legacy_keys();
    let out = authproof(&[
        "diff",
        "--old",
        "new.toml",
        "--new",
        "old.toml",
        "--snapshot",
        "snapshot.json",
        "--format",
        "json",
        "--explore-depth",
        "1",
    ]);
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&out);
    assert_eq!(r["result"], "fail");
    assert_eq!(r["summary"]["newly_denied"], 0);
    assert_eq!(ids(&r["blast_radius"]["newly_allowed"], "api_keys"), legacy);
    // The allow acts in the owner's oldest membership: a tenant is named.
    let tenants = ids(&r["blast_radius"]["newly_allowed"], "tenants");
    assert!(!tenants.is_empty());

    // --fail-on never passes the same change; --fail-on any fails the
    // stricter one.
    let args = |old: &'static str, new: &'static str, fail: &'static str| {
        [
            "diff",
            "--old",
            old,
            "--new",
            new,
            "--snapshot",
            "snapshot.json",
            "--explore-depth",
            "0",
            "--fail-on",
            fail,
        ]
    };
    assert_eq!(code(&authproof(&args("new.toml", "old.toml", "never"))), 0);
    assert_eq!(code(&authproof(&args("old.toml", "new.toml", "any"))), 2);
    assert_eq!(code(&authproof(&args("old.toml", "old.toml", "any"))), 0);
}

#[test]
fn every_format_is_deterministic_and_tokenless() {
    for format in ["text", "json", "markdown"] {
        let run = || {
            authproof(&[
                "diff",
                "--old",
                "new.toml",
                "--new",
                "old.toml",
                "--snapshot",
                "snapshot.json",
                "--explore-depth",
                "1",
                "--format",
                format,
            ])
        };
        let (a, b) = (run(), run());
        assert_eq!(code(&a), 2);
        assert_eq!(a.stdout, b.stdout, "{format} output is byte-identical");
        let text = String::from_utf8(a.stdout).unwrap();
        assert!(!text.contains("sk_live_"), "{format}: no token");
        if format == "markdown" {
            assert!(text.starts_with("### Policy diff"));
            assert!(text.contains("| newly allowed |"));
        }
        if format == "text" {
            assert!(text.contains("NEWLY ALLOWED"));
            // Newly allowed comes before any other group.
            let first = text.find("NEWLY ALLOWED").unwrap();
            for other in ["NEWLY DENIED", "REASON CHANGED", "DETAIL CHANGED"] {
                if let Some(i) = text.find(other) {
                    assert!(first < i);
                }
            }
        }
    }
}

#[test]
fn recorded_requests_are_compared_and_checked() {
    let snap = snapshot();
    let keys = snap["api_keys"].as_array().unwrap();
    let i = keys
        .iter()
        .position(|k| k["tenant"].is_null())
        .expect("a legacy key");
    let token = authproof_verification::synth::key_token(42, i);
    // The checked-in snapshot is the generator's (seed 42): the token
    // matches the stored hash.
    let tmp = tempfile::tempdir().unwrap();
    let reqs = tmp.path().join("requests.jsonl");
    std::fs::write(
        &reqs,
        format!(
            "{{\"at\": \"2026-05-28T12:00:00Z\", \"action\": \"workspace.read\", \"headers\": {{\"x-api-key\": \"{token}\"}}}}\n\
             {{\"at\": \"2026-05-28T12:00:01Z\", \"action\": \"workspace.read\"}}\n"
        ),
    )
    .unwrap();
    let out = authproof(&[
        "diff",
        "--old",
        "old.toml",
        "--new",
        "new.toml",
        "--snapshot",
        "snapshot.json",
        "--requests",
        reqs.to_str().unwrap(),
        "--explore-depth",
        "0",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(!stdout.contains(&token));
    let r = json(&out);
    let src = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "requests")
        .unwrap();
    assert_eq!(src["cases"], 2);
    assert_eq!(src["changed"], 1);
    let checks = r["invariants"].as_array().unwrap();
    assert!(checks
        .iter()
        .any(|c| c["source"] == "requests" && c["held"] == true && c["steps"] == 2));
}

#[test]
fn input_errors_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    // No taken_at and no --at.
    let mut snap = snapshot();
    snap.as_object_mut().unwrap().remove("taken_at");
    let path = tmp.path().join("s.json");
    std::fs::write(&path, serde_json::to_vec(&snap).unwrap()).unwrap();
    let p = path.to_str().unwrap();
    let base = ["diff", "--old", "old.toml", "--new", "new.toml"];
    let out = authproof(&[&base[..], &["--snapshot", p, "--explore-depth", "0"]].concat());
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at"));
    // With --at it runs.
    let out = authproof(
        &[
            &base[..],
            &[
                "--snapshot",
                p,
                "--at",
                "2026-05-28T12:00:00Z",
                "--explore-depth",
                "0",
            ],
        ]
        .concat(),
    );
    assert_eq!(code(&out), 0);
    // A bad policy, a missing file, requests without a snapshot.
    std::fs::write(
        tmp.path().join("bad.toml"),
        "[api_key]\nunbound = \"maybe\"\n",
    )
    .unwrap();
    let bad = tmp.path().join("bad.toml");
    let out = authproof(&["diff", "--old", bad.to_str().unwrap(), "--new", "new.toml"]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        code(&authproof(&[
            "diff",
            "--old",
            "nope.toml",
            "--new",
            "new.toml"
        ])),
        1
    );
    assert_eq!(
        code(&authproof(&[
            "diff",
            "--old",
            "old.toml",
            "--new",
            "new.toml",
            "--requests",
            "r.jsonl"
        ])),
        1
    );
}

#[test]
fn generator_reproduces_the_example_snapshot() {
    let args = [
        "gen",
        "snapshot",
        "--keys",
        "300",
        "--users",
        "250",
        "--tenants",
        "12",
        "--sessions",
        "150",
        "--legacy-ratio",
        "0.06",
        "--seed",
        "42",
    ];
    let a = authproof(&args);
    assert_eq!(code(&a), 0);
    assert_eq!(a.stdout, authproof(&args).stdout, "deterministic");
    assert_eq!(
        a.stdout,
        std::fs::read(dir().join("snapshot.json")).unwrap(),
        "examples/blast-radius/snapshot.json is the generator's output (see its README)"
    );
    let other = authproof(&[&args[..12], &["--seed", "43"]].concat());
    assert_ne!(a.stdout, other.stdout);
    assert_eq!(
        code(&authproof(&["gen", "snapshot", "--legacy-ratio", "2"])),
        1
    );
}
