//! `authproof mutants`: prove the harness catches every known bug class.
//!
//! Each fault of INCIDENTS.md is injected into the engine in turn (builds
//! with the `faults` feature only) and attacked with check (the runner of
//! `authproof check`: same seed, same cases), explore (increasing depth)
//! and, when cargo-fuzz is available, a bounded `differential` fuzz run. A fault nothing kills has survived: exit 2.

use std::{fmt::Write as _, io::IsTerminal, path::PathBuf, process::Command, time::Duration};

use authproof_engine::Fault;
use authproof_verification::mutants::{self, CheckBudget, FuzzResult, Kill, MutantRow};

use super::{io, CliError, Outcome};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  cargo run --features faults -- mutants
  cargo run --features faults -- mutants --only F03 --format markdown")]
pub struct Args {
    /// Only these faults (e.g. `F03,F08` or `F03-reencoded-token`).
    #[arg(long, value_delimiter = ',', value_parser = parse_fault)]
    only: Vec<Fault>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    format: TableFormat,
    /// Seed of the check technique: it draws the cases `check --seed N` draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Time budget of check, per fault, in seconds.
    #[arg(long, default_value_t = 10.0)]
    check_time: f64,
    /// Deepest explore level tried.
    #[arg(long, default_value_t = 6)]
    max_depth: usize,
    /// Time budget of explore, per fault, in seconds.
    #[arg(long, default_value_t = 30.0)]
    explore_time: f64,
    /// Seconds of `differential` fuzzing per fault when cargo-fuzz and the
    /// project's fuzz/ directory are available; 0 skips fuzzing.
    #[arg(long, default_value_t = 0)]
    fuzz_seconds: u64,
    /// Directory for each fault's shortest counterexample trace.
    #[arg(long, value_name = "DIR", default_value = "authproof-out/mutants")]
    out: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    Text,
    Json,
    Markdown,
}

fn parse_fault(s: &str) -> Result<Fault, String> {
    Fault::parse(s).ok_or_else(|| format!("unknown fault {s:?}: expected F01..F16"))
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    if !cfg!(feature = "faults") {
        return Err(CliError::Other(
            "this authproof was built without fault injection; run \
             `cargo run --release --features faults -- mutants`"
                .into(),
        ));
    }
    let faults: Vec<Fault> = if a.only.is_empty() {
        Fault::ALL.to_vec()
    } else {
        a.only.clone()
    };
    let budget = CheckBudget {
        seed: a.seed,
        time: Duration::from_secs_f64(a.check_time.max(0.0)),
        ..CheckBudget::default()
    };
    let fuzz = a.fuzz_seconds > 0 && fuzz_available();
    let tty = std::io::stderr().is_terminal();
    std::fs::create_dir_all(&a.out).map_err(|error| CliError::Io {
        file: io::name(&a.out),
        error,
    })?;
    let mut rows = Vec::new();
    for (i, &f) in faults.iter().enumerate() {
        if tty {
            eprintln!("[{}/{}] {f}", i + 1, faults.len());
        }
        let mut row = mutants::row(
            f,
            &budget,
            a.max_depth,
            Duration::from_secs_f64(a.explore_time.max(0.0)),
        )
        .map_err(|e| CliError::Other(super::check::error_chain(&e)))?;
        if fuzz {
            row.fuzz = Some(fuzz_run(f, a.fuzz_seconds));
        }
        // Keep the shortest counterexample of the two techniques.
        let best = [&row.explore, &row.check]
            .into_iter()
            .flatten()
            .min_by_key(|k| k.steps);
        if let Some(k) = best {
            let path = a.out.join(format!("{f}.json"));
            let mut json = serde_json::to_string_pretty(&k.trace).expect("traces serialize");
            json.push('\n');
            io::write(&path, json.as_bytes())?;
        }
        rows.push(row);
    }
    let out = match a.format {
        TableFormat::Json => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "faults": rows,
                "killed": rows.iter().filter(|r| r.killed()).count(),
                "total": rows.len(),
            }))
            .expect("json");
            s.push('\n');
            s
        }
        TableFormat::Text => table(&rows, false),
        TableFormat::Markdown => table(&rows, true),
    };
    io::print(&out)?;
    Ok(if rows.iter().all(MutantRow::killed) {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

fn cell(k: &Option<Kill>) -> String {
    match k {
        None => "survived".into(),
        Some(k) => {
            let depth = k.depth.map(|d| format!(" d{d}")).unwrap_or_default();
            format!(
                "{:.2}s{depth} {} steps {}",
                k.time.as_secs_f64(),
                k.steps,
                k.invariant.id()
            )
        }
    }
}

fn fuzz_cell(f: &Option<FuzzResult>) -> String {
    match f {
        None => "skipped".into(),
        Some(r) if r.killed => format!("{:.1}s", r.time.as_secs_f64()),
        Some(_) => "survived".into(),
    }
}

fn table(rows: &[MutantRow], markdown: bool) -> String {
    let header = [
        "fault",
        "killed by",
        "check (time, steps, invariant)",
        "explore (time, depth, steps, invariant)",
        "fuzz",
    ];
    let body: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let mut by: Vec<&str> = Vec::new();
            if r.check.is_some() {
                by.push("check");
            }
            if r.explore.is_some() {
                by.push("explore");
            }
            if r.fuzz.as_ref().is_some_and(|f| f.killed) {
                by.push("fuzz");
            }
            [
                format!("{}-{}", r.fault, r.name),
                if by.is_empty() {
                    "SURVIVED".into()
                } else {
                    by.join("+")
                },
                cell(&r.check),
                cell(&r.explore),
                fuzz_cell(&r.fuzz),
            ]
        })
        .collect();
    let mut s = String::new();
    if markdown {
        let _ = writeln!(s, "| {} |", header.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(header.len()));
        for row in &body {
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
    } else {
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                body.iter()
                    .map(|r| r[i].len())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[&str]| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let _ = writeln!(s, "{}", line(&header));
        for row in &body {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            let _ = writeln!(s, "{}", line(&cells));
        }
    }
    let killed = rows.iter().filter(|r| r.killed()).count();
    let _ = writeln!(s, "\n{killed}/{} faults killed", rows.len());
    s
}

/// cargo-fuzz and the project's fuzz/ directory are both here.
fn fuzz_available() -> bool {
    std::path::Path::new("fuzz/Cargo.toml").exists()
        && Command::new("cargo")
            .args(["fuzz", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// A bounded `differential` fuzz run with the fault injected (the fuzz
/// targets read AUTHPROOF_FAULT), seeded like `scripts/fuzz-smoke` from the
/// committed seed corpus and dictionary, with a scratch corpus per fault; a
/// crash is a kill.
fn fuzz_run(f: Fault, seconds: u64) -> FuzzResult {
    let start = std::time::Instant::now();
    let scratch = format!("fuzz/corpus/differential-{f:?}");
    let _ = std::fs::create_dir_all(&scratch);
    let out = Command::new("cargo")
        .args([
            "fuzz",
            "run",
            "-s",
            "none",
            "--features",
            "faults",
            "differential",
            &scratch,
            "fuzz/corpus-seed/differential",
            "--",
            "-dict=fuzz/authproof.dict",
            "-max_len=4096",
            &format!("-max_total_time={seconds}"),
        ])
        .env("AUTHPROOF_FAULT", format!("{f:?}"))
        .output();
    match out {
        Ok(o) => FuzzResult {
            killed: !o.status.success(),
            time: start.elapsed(),
            detail: format!("cargo fuzz exited with {}", o.status),
        },
        Err(e) => FuzzResult {
            killed: false,
            time: start.elapsed(),
            detail: format!("cargo fuzz did not run: {e}"),
        },
    }
}
