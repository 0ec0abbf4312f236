//! `authproof diff`: review a policy change with its blast radius.
//!
//! The review itself is [`authproof_review::run`]; this module parses the
//! arguments, reads the input files (naming them in errors), runs the
//! review, writes the counterexample traces of broken invariants to
//! `--traces DIR`, and prints the report.

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
};

use authproof_engine::{load, Timestamp};
use authproof_review::{
    self as review, FailOn, InvariantCheck, RequestsInput, ReviewConfig, ReviewError, Side,
    SnapshotInput,
};

use super::{io, CliError, Outcome};

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
    /// Depth of the exhaustive small-scope comparison and invariant check.
    #[arg(long, value_name = "N", default_value_t = review::DEFAULT_EXPLORE_DEPTH)]
    explore_depth: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: DiffFormat,
    /// What makes the run exit 2.
    #[arg(long, value_enum, default_value_t)]
    fail_on: FailOnArg,
    /// Census threads (default: the available cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Most ids listed per blast-radius entry in JSON (text and Markdown
    /// show 5).
    #[arg(long, value_name = "N", default_value_t = review::MAX_IDS)]
    max_ids: usize,
    /// Directory for counterexample traces of broken invariants.
    #[arg(long, value_name = "DIR", default_value = ".")]
    traces: PathBuf,
}

/// Progress on stderr, only when it is a terminal (SPEC §10).
fn progress(msg: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("diff: {msg}");
    }
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
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
    for path in &a.snapshot {
        progress(&format!("loading {}", io::name(path)));
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

    let mut report = review::run_with_progress(&config, &mut |stage| {
        progress(&stage.to_string());
    })
    .map_err(input_error)?;
    write_traces(&mut report.invariants, &a.traces)?;
    let out = match a.format {
        DiffFormat::Text => report.to_text(),
        DiffFormat::Json => report.to_json(),
        DiffFormat::Markdown => report.to_markdown(),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|error| CliError::Io {
            file: "stdout".into(),
            error,
        })?;
    Ok(if report.fails() {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// A rejected input, in the words and the error kind the CLI has always
/// used for it.
fn input_error(e: ReviewError) -> CliError {
    match e {
        ReviewError::Integrity { origin, source } => CliError::Input(load::InputError {
            file: origin,
            line: None,
            path: source.path,
            message: source.message,
        }),
        ReviewError::NoCensusTime { origin } => CliError::Other(format!(
            "{origin}: the snapshot has no taken_at; give the census time with --at"
        )),
        ReviewError::RequestsWithoutSnapshot => {
            CliError::Other("--requests needs a --snapshot to decide against".into())
        }
    }
}

/// Writes each counterexample trace to `dir` and records its path.
fn write_traces(checks: &mut [InvariantCheck], dir: &std::path::Path) -> Result<(), CliError> {
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
        std::fs::create_dir_all(dir).map_err(|error| CliError::Io {
            file: io::name(dir),
            error,
        })?;
        let path = dir.join(format!("diff-{side}-{}-{n}.trace.json", c.source.as_str()));
        let mut text = serde_json::to_string_pretty(&trace).expect("traces serialize");
        text.push('\n');
        io::write(&path, text.as_bytes())?;
        c.trace_file = Some(io::name(&path));
    }
    Ok(())
}
