//! `fuzz-to-trace TARGET INPUT`: turns a `decide` or `differential` fuzz
//! input (a crash artifact, a corpus file) into an `authproof-trace/1` JSON
//! trace on stdout, built by the same code the target runs, so
//! `authproof replay` reproduces the finding.
//!
//! `fuzz-to-trace seeds REPO_ROOT`: rewrites the parser targets' seed
//! corpora under `fuzz/corpus-seed/` from `examples/`, `policies/` and the
//! regression traces in `tests/regressions/*.json` (snapshot, policy, steps
//! and the requests of `authenticate` steps).
//!
//! `fuzz-to-trace replay TRACE`: re-runs a trace through the engine and the
//! reference model with every invariant checked after every step (honours
//! `AUTHPROOF_FAULT` in builds with the `faults` feature). Exit 0 when no
//! invariant broke, 2 on a violation, 1 on an error.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use authproof_engine::CommandResult;
use authproof_fuzz::{fault_from_env, harness::run_with, input};
use authproof_verification::Trace;

const USAGE: &str = "usage: fuzz-to-trace (decide|differential) INPUT > trace.json\n       fuzz-to-trace replay TRACE\n       fuzz-to-trace seeds REPO_ROOT";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, path] if cmd == "replay" => replay(path),
        [cmd, root] if cmd == "seeds" => seeds(std::path::Path::new(root)),
        [target, path] => to_trace(target, path),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(1)
        }
    }
}

fn read(path: &str) -> Result<Vec<u8>, ExitCode> {
    std::fs::read(path).map_err(|e| {
        eprintln!("fuzz-to-trace: {path}: {e}");
        ExitCode::from(1)
    })
}

fn to_trace(target: &str, path: &str) -> ExitCode {
    let data = match read(path) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let trace = match target {
        "decide" => input::decide_trace(&data),
        "differential" => input::differential_trace(&data),
        _ => {
            eprintln!(
                "fuzz-to-trace: only decide and differential inputs become traces (got {target:?})\n{USAGE}"
            );
            return ExitCode::from(1);
        }
    };
    let Ok(trace) = trace else {
        eprintln!(
            "fuzz-to-trace: {path}: too short to build a {target} input (the target ignores it)"
        );
        return ExitCode::from(1);
    };
    let json = serde_json::to_string_pretty(&trace.to_value()).expect("a trace serializes");
    println!("{json}");
    ExitCode::SUCCESS
}

fn replay(path: &str) -> ExitCode {
    let data = match read(path) {
        Ok(d) => d,
        Err(code) => return code,
    };
    // The one trace reader: it also checks the snapshot's integrity.
    let case = match Trace::parse(&data, path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fuzz-to-trace: {e}");
            return ExitCode::from(1);
        }
    };
    // One line per step: op and outcome, no explanation text (it could
    // carry what a faulty engine leaked).
    let steps = case.steps.len();
    let result = run_with(case, fault_from_env(), |i, cmd, r| {
        let what = match r {
            CommandResult::Ok { changes, .. } => format!("ok ({} changes)", changes.len()),
            CommandResult::Rejected { reason, .. } => format!("rejected {reason}"),
            CommandResult::Decision { decision, .. } => match decision.reason {
                Some(reason) => format!("deny {reason}"),
                None => format!(
                    "allow tenant {:?}",
                    decision.tenant.as_ref().map(|t| t.as_str())
                ),
            },
        };
        println!("step {i} {} {}: {what}", cmd.at, cmd.op.name());
    });
    match result {
        Ok(None) => {
            println!("{steps} steps, no invariant violated");
            ExitCode::SUCCESS
        }
        Ok(Some(f)) => {
            println!("violation at {f}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("fuzz-to-trace: {path}: {e}");
            ExitCode::from(1)
        }
    }
}

/// Writes the parser seed corpora from the repository's examples, policies
/// and regression traces.
fn seeds(root: &Path) -> ExitCode {
    match write_seeds(root) {
        Ok(n) => {
            eprintln!("fuzz-to-trace: wrote {n} seed files under fuzz/corpus-seed/");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fuzz-to-trace: seeds: {e}");
            ExitCode::from(1)
        }
    }
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn write_seeds(root: &Path) -> Result<usize, String> {
    let out = root.join("fuzz/corpus-seed");
    let mut n = 0;
    let mut put = |target: &str, name: &str, bytes: &[u8]| -> Result<(), String> {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        n += 1;
        Ok(())
    };
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let ex = root.join("examples");
    for p in files(&ex, "json") {
        put(
            "snapshot_json",
            &format!("example-{}.json", stem(&p)),
            &read(&p)?,
        )?;
    }
    for p in files(&ex.join("requests"), "json") {
        put(
            "request_json",
            &format!("example-{}.json", stem(&p)),
            &read(&p)?,
        )?;
    }
    for p in files(&ex, "jsonl") {
        let bytes = read(&p)?;
        let name = format!("example-{}.jsonl", stem(&p));
        if stem(&p).starts_with("request") {
            put("request_json", &name, &bytes)?;
        } else {
            put("commands_jsonl", &name, &bytes)?;
        }
    }
    for dir in [root.join("policies"), ex.clone()] {
        for p in files(&dir, "toml") {
            put("policy_toml", &format!("{}.toml", stem(&p)), &read(&p)?)?;
        }
    }
    put("policy_toml", "empty.toml", b"")?;
    for p in files(&root.join("tests/regressions"), "json") {
        let file = p.display().to_string();
        let case = Trace::parse(&read(&p)?, &file).map_err(|e| e.to_string())?;
        let name = format!("regression-{}", stem(&p));
        let snap = serde_json::to_vec_pretty(&case.snapshot).expect("json");
        put("snapshot_json", &format!("{name}.json"), &snap)?;
        put(
            "policy_toml",
            &format!("{name}.toml"),
            case.policy.to_toml().as_bytes(),
        )?;
        let mut lines = Vec::new();
        for (i, c) in case.steps.iter().enumerate() {
            serde_json::to_writer(&mut lines, c).expect("json");
            lines.push(b'\n');
            if let Some(req) = c.request() {
                let r = serde_json::to_vec(&req).expect("json");
                put("request_json", &format!("{name}-step{i}.json"), &r)?;
            }
        }
        put("commands_jsonl", &format!("{name}.jsonl"), &lines)?;
    }
    Ok(n)
}
