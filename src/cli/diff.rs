//! `authproof diff`: review a policy change with its blast radius.
//!
//! The review itself is [`authproof_review::run`]; this module parses the
//! arguments, reads the input files (naming them in errors), runs the
//! review, writes the counterexample traces of broken invariants to
//! `--traces DIR`, and prints the report.

use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;

use authproof_engine::{load, Timestamp};
use authproof_review::{
    self as review, ErrorKind, FailOn, InvariantCheck, RequestsInput, ReviewConfig, Side,
    SnapshotInput,
};

use super::{
    io,
    progress::{self, Line},
    CliError, Outcome,
};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// A readable report.
    #[default]
    Text,
    /// One JSON document (format authproof-diff/1, see docs/DIFF.md).
    Json,
    /// Markdown, ready for a pull-request comment.
    Markdown,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOnArg {
    /// Fail (exit 2) when any case is newly allowed or an invariant breaks.
    #[default]
    NewlyAllowed,
    /// Fail on any changed case or broken invariant.
    Any,
    /// Never fail.
    Never,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  cd examples/blast-radius
  authproof diff --old old.toml --new new.toml --snapshot snapshot.json
  authproof diff --old new.toml --new old.toml --snapshot snapshot.json --format markdown --out comment.md")]
pub struct Args {
    /// The current policy (TOML).
    #[arg(long, value_name = "P1")]
    old: PathBuf,
    /// The proposed policy (TOML).
    #[arg(long, value_name = "P2")]
    new: PathBuf,
    /// Snapshot whose every key and session is decided under both policies
    /// (a census); repeatable. Recorded requests use the first.
    #[arg(long, value_name = "S")]
    snapshot: Vec<PathBuf>,
    /// Recorded requests (JSON Lines), decided against the first snapshot;
    /// repeatable.
    #[arg(long, value_name = "R.jsonl")]
    requests: Vec<PathBuf>,
    /// Time of the census (RFC 3339); default: each snapshot's taken_at.
    #[arg(long, value_name = "T")]
    at: Option<String>,
    /// Depth of the exhaustive small-scope comparison and invariant check,
    /// 0 (none) to 4.
    #[arg(long, value_name = "N", default_value_t = review::DEFAULT_EXPLORE_DEPTH,
          value_parser = RangedU64ValueParser::<usize>::new().range(0..=MAX_EXPLORE_DEPTH))]
    explore_depth: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: DiffFormat,
    /// What makes the run exit 2.
    #[arg(long, value_enum, default_value_t)]
    fail_on: FailOnArg,
    /// Census threads, 1 to 64 (default: the available cores, at most 64).
    #[arg(long, value_name = "N",
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_THREADS))]
    threads: Option<usize>,
    /// Most ids listed per blast-radius entry in JSON, 0 to 10000000 (text
    /// and Markdown show 5).
    #[arg(long, value_name = "N", default_value_t = review::MAX_IDS,
          value_parser = RangedU64ValueParser::<usize>::new().range(0..=MAX_MAX_IDS))]
    max_ids: usize,
    /// Directory for counterexample traces of broken invariants (checked
    /// before the review starts; made when the first trace is written).
    #[arg(long, value_name = "DIR", default_value = ".")]
    traces: PathBuf,
    /// Write the report to this file instead of stdout (checked before the
    /// review starts; replaced only when complete).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Largest `--explore-depth`: each level multiplies the states by about
/// seven; depth 4 already holds some 400,000 states (about 2 GB) per
/// policy.
const MAX_EXPLORE_DEPTH: u64 = 4;
/// Largest `--threads` (the census uses at most 64).
const MAX_THREADS: u64 = 64;
/// Largest `--max-ids`.
const MAX_MAX_IDS: u64 = 10_000_000;

pub fn run(a: Args) -> Result<Outcome, CliError> {
    // Outputs are checked before anything is read or decided.
    let out_file = a.out.as_deref().map(io::Output::create).transpose()?;
    let traces = io::OutputDir::prepare(&a.traces)?;
    let old = io::policy(Some(&a.old))?;
    let new = io::policy(Some(&a.new))?;
    let at = match &a.at {
        None => None,
        Some(s) => Some(
            Timestamp::parse(s)
                .map_err(|e| CliError::Other(format!("--at: {e} (expected RFC 3339)")))?,
        ),
    };
    if !a.requests.is_empty() && a.snapshot.is_empty() {
        return Err(CliError::Other(
            "--requests needs a --snapshot to decide against".into(),
        ));
    }
    let mut config = ReviewConfig::new(io::name(&a.old), old, io::name(&a.new), new);
    // Read and accept every input before the first decision: an input
    // error prints no partial report.
    let mut loading = Line::stderr();
    for path in &a.snapshot {
        loading.show(&format!("diff: loading {}", io::name(path)));
        let snap = load::parse_snapshot(&io::read(path)?, &io::name(path))?;
        config
            .snapshots
            .push(SnapshotInput::new(io::name(path), snap, at).map_err(input_error)?);
    }
    for path in &a.requests {
        config.requests.push(RequestsInput {
            origin: io::name(path),
            requests: load::requests_jsonl(&io::read(path)?, &io::name(path))?,
        });
    }
    config.explore_depth = a.explore_depth;
    config.fail_on = match a.fail_on {
        FailOnArg::NewlyAllowed => FailOn::NewlyAllowed,
        FailOnArg::Any => FailOn::Any,
        FailOnArg::Never => FailOn::Never,
    };
    if let Some(threads) = a.threads {
        config.threads = threads;
    }
    config.max_ids = a.max_ids;

    drop(loading);
    let counters = review::Progress::new();
    let line = |secs: f64| {
        let s = counters.sample();
        if s.stage.is_empty() {
            return format!("diff: starting, {secs:.1} s");
        }
        let rate = s.done as f64 / s.elapsed.as_secs_f64().max(1e-3);
        let rate = progress::count(rate as u64);
        let done = progress::count(s.done);
        match s.total {
            0 => format!("diff: {}: {done} done, {rate}/s, {secs:.1} s", s.stage),
            total => format!(
                "diff: {}: {done} ({:.0}%), {rate}/s, {secs:.1} s",
                s.stage,
                100.0 * s.done as f64 / total as f64
            ),
        }
    };
    let mut report = progress::while_drawing(Line::stderr(), line, || {
        review::run_with_progress(&config, &counters)
    })
    .map_err(input_error)?;
    write_traces(&mut report.invariants, &traces)?;
    let out = match a.format {
        DiffFormat::Text => report.to_text(),
        DiffFormat::Json => report.to_json(),
        DiffFormat::Markdown => report.to_markdown(),
    };
    match out_file {
        Some(file) => file.finish(out.as_bytes())?,
        None => io::print(&out)?,
    }
    Ok(if report.fails() {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// A rejected input, in the words and the error kind the CLI has always
/// used for it.
fn input_error(e: review::Error) -> CliError {
    let origin = e.origin().unwrap_or_default();
    match (e.kind(), e.input()) {
        (ErrorKind::Integrity, Some(source)) => {
            CliError::Input(source.clone().in_file(origin, None))
        }
        (ErrorKind::NoCensusTime, _) => CliError::Other(format!(
            "{origin}: the snapshot has no taken_at; give the census time with --at"
        )),
        (ErrorKind::RequestsWithoutSnapshot, _) => {
            CliError::Other("--requests needs a --snapshot to decide against".into())
        }
        _ => CliError::Other(super::check::error_chain(&e)),
    }
}

/// Writes each counterexample trace to `dir` and records its path.
fn write_traces(checks: &mut [InvariantCheck], dir: &io::OutputDir) -> Result<(), CliError> {
    let mut n = 0;
    for c in checks.iter_mut() {
        let Some(trace) = c.trace.take() else {
            continue;
        };
        n += 1;
        let side = match c.policy {
            Side::Old => "old",
            Side::New => "new",
        };
        let file = dir.file(&format!("diff-{side}-{}-{n}.trace.json", c.source.as_str()))?;
        let mut text = serde_json::to_string_pretty(&trace).expect("traces serialize");
        text.push('\n');
        let shown = file.name().to_string();
        file.finish(text.as_bytes())?;
        c.trace_file = Some(shown);
    }
    Ok(())
}
