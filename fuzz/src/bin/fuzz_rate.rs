//! `fuzz-rate TARGET CORPUS [ROUNDS]`: runs the body of fuzz target TARGET
//! over every file of the directory CORPUS, ROUNDS times (default 10), in
//! an ordinary release build — no libFuzzer, no coverage or comparison
//! instrumentation — and prints the inputs run per second.
//!
//! What libFuzzer reports as `exec/s` is this rate slowed by its own work
//! per input: the comparison hooks the instrumentation adds to every
//! comparison, and the scan of every coverage counter of the binary after
//! each run (docs/VERIFICATION.md §3 has both, measured). This tool gives
//! the target's own cost, to compare two versions of the harness on the
//! same inputs: a corpus is fixed, where a fuzzing run's inputs depend on
//! the coverage each version reaches.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Instant;

use authproof_fuzz::targets;

const USAGE: &str = "usage: fuzz-rate TARGET CORPUS_DIR [ROUNDS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (target, dir, rounds) = match args.as_slice() {
        [t, d] => (t, d, 10),
        [t, d, r] => match r.parse::<u32>() {
            Ok(r) if r > 0 => (t, d, r),
            _ => {
                eprintln!("fuzz-rate: ROUNDS must be a positive integer\n{USAGE}");
                return ExitCode::from(1);
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(1);
        }
    };
    let body: fn(&[u8]) = match target.as_str() {
        "credentials" => targets::credentials,
        "snapshot_json" => targets::snapshot_json,
        "request_json" => targets::request_json,
        "policy_toml" => targets::policy_toml,
        "commands_jsonl" => targets::commands_jsonl,
        "decide" => targets::decide,
        "differential" => targets::differential,
        _ => {
            eprintln!("fuzz-rate: no fuzz target named so\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let mut inputs = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("fuzz-rate: {dir}: {e}");
            return ExitCode::from(1);
        }
    };
    for entry in entries.flatten() {
        if let Ok(bytes) = std::fs::read(entry.path()) {
            inputs.push((entry.file_name(), bytes));
        }
    }
    // Name order: the same sequence on every run.
    inputs.sort();
    if inputs.is_empty() {
        eprintln!("fuzz-rate: {dir}: no inputs");
        return ExitCode::from(1);
    }
    let start = Instant::now();
    for _ in 0..rounds {
        for (_, bytes) in &inputs {
            body(bytes);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let runs = inputs.len() as f64 * f64::from(rounds);
    println!(
        "{target}: {} inputs x {rounds} rounds in {secs:.2} s: {:.0} runs/s ({:.1} us a run)",
        inputs.len(),
        runs / secs,
        secs * 1e6 / runs
    );
    ExitCode::SUCCESS
}
