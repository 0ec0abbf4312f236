//! Runs every example of `examples/` through the built binary and checks the
//! decision, reason, status, tenant and exit code that `examples/README.md`
//! states for it (parsed from its tables, not copied here), plus that no
//! output ever contains a raw token of the examples.

use crate::cli_common;

use std::collections::BTreeSet;

use cli_common::{assert_no_token, ex, example_tokens, request_files, root, run};
use serde_json::Value;

/// One row of the README's decisions table.
#[derive(Debug)]
struct Expect {
    request: String,
    policy: Option<String>,
    decision: String,
    reason: Option<String>,
    status: u64,
    tenant: Option<String>,
    exit: i32,
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().trim_matches('`').to_string())
        .collect()
}

fn dash(s: &str) -> Option<String> {
    (s != "-").then(|| s.to_string())
}

/// The lines of `examples/README.md` under the heading `## {title}`.
fn section(title: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(root().join("examples/README.md")).expect("examples/README.md");
    let heading = format!("## {title}");
    let lines: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with(&heading))
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .map(str::to_string)
        .collect();
    assert!(
        !lines.is_empty(),
        "examples/README.md has a section {heading:?}"
    );
    lines
}

/// Rows `| `requests/….json` | policy | decision | reason | status | tenant | exit | … |`.
fn decision_rows() -> Vec<Expect> {
    let rows: Vec<Expect> = section("Decisions")
        .iter()
        .filter(|l| l.starts_with("| `requests/"))
        .map(|l| {
            let c = cells(l);
            assert!(c.len() >= 7, "short row: {l}");
            Expect {
                request: format!("examples/{}", c[0]),
                policy: (c[1] != "default").then(|| ex(&c[1])),
                decision: c[2].clone(),
                reason: dash(&c[3]),
                status: c[4].parse().expect("status is a number"),
                tenant: dash(&c[5]),
                exit: c[6].parse().expect("exit is a number"),
            }
        })
        .collect();
    assert!(rows.len() >= 30, "the README's decisions table was found");
    rows
}

/// Rows `| n | op | result | outcome | … |` of the commands table.
fn command_rows() -> Vec<(usize, String, String, Option<String>)> {
    section("Commands")
        .iter()
        .filter_map(|l| {
            let c = cells(l);
            let n: usize = c.first()?.parse().ok()?;
            Some((n, c[1].clone(), c[2].clone(), dash(&c[3])))
        })
        .collect()
}

fn decide(request: &str, policy: Option<&str>, text: bool) -> cli_common::Run {
    let mut args = vec![
        "decide",
        "--snapshot",
        "examples/snapshot.json",
        "--request",
        request,
    ];
    if let Some(p) = policy {
        args.extend(["--policy", p]);
    }
    if text {
        args.extend(["--format", "text"]);
    }
    run(&args)
}

fn check_decision(d: &Value, e: &Expect) {
    let what = format!("{} (policy {:?})", e.request, e.policy);
    assert_eq!(d["decision"], e.decision.as_str(), "{what}: decision");
    assert_eq!(d["reason"].as_str(), e.reason.as_deref(), "{what}: reason");
    assert_eq!(d["status"], e.status, "{what}: status");
    assert_eq!(d["tenant"].as_str(), e.tenant.as_deref(), "{what}: tenant");
}

#[test]
fn every_request_gives_the_decision_the_readme_states() {
    let tokens = example_tokens();
    for e in decision_rows() {
        let r = decide(&e.request, e.policy.as_deref(), false);
        r.expect_code(e.exit);
        assert!(r.stderr.is_empty(), "{}: stderr {}", e.request, r.stderr);
        let lines = r.json_lines();
        assert_eq!(lines.len(), 1, "{}: one decision", e.request);
        check_decision(&lines[0], &e);
        assert_no_token(&e.request, &r.stdout, &tokens);

        // The text form agrees and names the reason.
        let t = decide(&e.request, e.policy.as_deref(), true);
        t.expect_code(e.exit);
        let first = t.stdout.lines().next().unwrap_or_default();
        match &e.reason {
            Some(reason) => {
                assert!(first.starts_with("DENY"), "{}: {first}", e.request);
                assert!(first.ends_with(reason.as_str()), "{}: {first}", e.request);
            }
            None => assert!(first.starts_with("ALLOW"), "{}: {first}", e.request),
        }
        assert_no_token(&e.request, &t.stdout, &tokens);
        assert_no_token(&e.request, &t.stderr, &tokens);
    }
}

#[test]
fn every_request_file_is_in_the_readme_and_every_row_has_a_file() {
    let files: BTreeSet<String> = request_files().into_iter().collect();
    let rows: BTreeSet<String> = decision_rows().into_iter().map(|e| e.request).collect();
    assert_eq!(files, rows, "request files vs. README rows");
    // Each file has exactly one row under the default policy.
    for f in &files {
        let n = decision_rows()
            .iter()
            .filter(|e| &e.request == f && e.policy.is_none())
            .count();
        assert_eq!(n, 1, "{f}: rows under the default policy");
    }
}

#[test]
fn the_batch_gives_each_requests_default_row_and_exits_2() {
    let tokens = example_tokens();
    let rows = decision_rows();
    let files: Vec<(Value, &Expect)> = rows
        .iter()
        .filter(|e| e.policy.is_none())
        .map(|e| {
            let text = std::fs::read_to_string(root().join(&e.request)).expect("request");
            (serde_json::from_str(&text).expect("JSON"), e)
        })
        .collect();
    let batch: Vec<Value> = std::fs::read_to_string(root().join("examples/requests.jsonl"))
        .expect("requests.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(
        batch.len(),
        files.len(),
        "the batch holds every request once"
    );

    let r = run(&[
        "decide",
        "--snapshot",
        "examples/snapshot.json",
        "--requests",
        "examples/requests.jsonl",
    ]);
    r.expect_code(2);
    let decisions = r.json_lines();
    assert_eq!(decisions.len(), batch.len());
    for (req, d) in batch.iter().zip(&decisions) {
        let (_, e) = files
            .iter()
            .find(|(v, _)| v == req)
            .expect("each batch line equals a request file");
        check_decision(d, e);
    }
    assert_no_token("decide --requests", &r.stdout, &tokens);

    let t = run(&[
        "decide",
        "--snapshot",
        "examples/snapshot.json",
        "--requests",
        "examples/requests.jsonl",
        "--format",
        "text",
    ]);
    t.expect_code(2);
    assert_no_token("decide --requests --format text", &t.stdout, &tokens);
}

#[test]
fn the_commands_give_the_results_the_readme_states() {
    let tokens = example_tokens();
    let rows = command_rows();
    assert!(rows.len() >= 15, "the README's commands table was found");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("after.json");
    let r = run(&[
        "apply".as_ref(),
        "--snapshot".as_ref(),
        "examples/snapshot.json".as_ref(),
        "--commands".as_ref(),
        "examples/commands.jsonl".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let any_rejected = rows.iter().any(|(_, _, res, _)| res == "rejected");
    r.expect_code(if any_rejected { 2 } else { 0 });
    let results = r.json_lines();
    assert_eq!(results.len(), rows.len(), "one result line per table row");
    for ((n, op, result, outcome), line) in rows.iter().zip(&results) {
        assert_eq!(line["op"], op.as_str(), "line {n}: op");
        assert_eq!(line["result"], result.as_str(), "line {n}: result");
        match result.as_str() {
            "ok" => {
                assert!(outcome.is_none(), "line {n}");
                assert!(!line["changes"].as_array().expect("changes").is_empty());
            }
            "rejected" => assert_eq!(line["reason"].as_str(), outcome.as_deref(), "line {n}"),
            "decision" => {
                let d = &line["decision"];
                match outcome.as_deref() {
                    Some("allow") => assert_eq!(d["decision"], "allow", "line {n}"),
                    reason => {
                        assert_eq!(d["decision"], "deny", "line {n}");
                        assert_eq!(d["reason"].as_str(), reason, "line {n}");
                    }
                }
            }
            other => panic!("line {n}: unknown result {other}"),
        }
    }
    assert_no_token("apply", &r.stdout, &tokens);
    assert_no_token("apply stderr", &r.stderr, &tokens);
    let snapshot = std::fs::read_to_string(&out).expect("--out was written");
    // The snapshot holds hashes, never the tokens of the commands.
    assert_no_token("apply --out snapshot", &snapshot, &tokens);

    let t = run(&[
        "apply",
        "--snapshot",
        "examples/snapshot.json",
        "--commands",
        "examples/commands.jsonl",
        "--format",
        "text",
    ]);
    t.expect_code(r.code);
    assert_no_token("apply --format text", &t.stdout, &tokens);
}

#[test]
fn the_example_snapshot_holds_no_raw_token() {
    let tokens = example_tokens();
    let snapshot =
        std::fs::read_to_string(root().join("examples/snapshot.json")).expect("snapshot");
    assert_no_token("examples/snapshot.json", &snapshot, &tokens);
}
