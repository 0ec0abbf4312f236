//! `authproof diff`: review a policy change with its blast radius.
//!
//! The comparison itself is [`authproof_review`]; this module reads
//! the inputs, runs the sources in order (census of each snapshot, recorded
//! requests, small-scope exploration), checks the invariants under both
//! policies, writes counterexample traces, and prints the report.

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
};

use authproof_engine::{load, Timestamp};
use authproof_review::{self as diff, FailOn, InvariantCheck, Side, SourceInfo, SourceKind};

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
    #[arg(long, value_name = "N", default_value_t = 3)]
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
    #[arg(long, value_name = "N", default_value_t = diff::MAX_IDS)]
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
    // Read and check every input before the first decision: an input
    // error prints no partial report.
    let mut snapshots = Vec::new();
    for (i, path) in a.snapshot.iter().enumerate() {
        progress(&format!("loading {}", io::name(path)));
        let snap = load::parse_snapshot(&io::read(path)?, &io::name(path))?;
        // The harness replays recorded requests from the first snapshot's
        // records; keep a copy only then.
        let kept = (i == 0 && !a.requests.is_empty()).then(|| snap.clone());
        let state = authproof_engine::State::from_snapshot(snap).map_err(|e| {
            CliError::Input(load::InputError {
                file: io::name(path),
                line: None,
                path: e.path,
                message: e.message,
            })
        })?;
        let when = at.or(state.taken_at()).ok_or_else(|| {
            CliError::Other(format!(
                "{}: the snapshot has no taken_at; give the census time with --at",
                io::name(path)
            ))
        })?;
        snapshots.push((path, kept, state, when));
    }
    let mut request_files = Vec::new();
    for path in &a.requests {
        request_files.push((
            path,
            load::requests_jsonl(&io::read(path)?, &io::name(path))?,
        ));
    }
    let threads = a.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });

    let mut sources = Vec::new();
    for (path, _, state, when) in &snapshots {
        let name = io::name(path);
        progress(&format!(
            "census of {name}: {} cases",
            diff::census_size(state, &old, &new)
        ));
        let tally = diff::census(state, &old, &new, *when, &name, threads);
        sources.push((info(SourceKind::Census, name, Some(*when), None), tally));
    }
    if let Some((_, _, state, _)) = snapshots.first() {
        for (path, reqs) in &request_files {
            let name = io::name(path);
            progress(&format!("requests {name}: {} requests", reqs.len()));
            let tally = diff::requests(state, &old, &new, reqs, &name);
            sources.push((info(SourceKind::Requests, name, None, None), tally));
        }
    }
    // The small-scope comparison and the invariant searches under each
    // policy are independent: run them side by side.
    progress(&format!(
        "small-scope comparison and invariants I1-I10 to depth {}",
        a.explore_depth
    ));
    let depth = a.explore_depth;
    let ((tally, stats), explored) = std::thread::scope(|scope| {
        let old_check = scope.spawn(|| diff::invariants_explore(&old, Side::Old, depth));
        let new_check = scope.spawn(|| diff::invariants_explore(&new, Side::New, depth));
        let compared = diff::explore(&old, &new, depth);
        let checks = [old_check, new_check].map(|h| h.join().expect("explore thread"));
        (compared, checks)
    });
    sources.push((
        info(SourceKind::Explore, "universe".into(), None, Some(stats)),
        tally,
    ));
    let mut checks = Vec::new();
    for (check, (side, policy)) in explored
        .into_iter()
        .zip([(Side::Old, &old), (Side::New, &new)])
    {
        checks.push(check);
        if let Some((_, Some(snap), _, _)) = snapshots.first() {
            for (_, reqs) in &request_files {
                checks.push(diff::invariants_requests(policy, side, snap, reqs));
            }
        }
    }
    write_traces(&mut checks, &a.traces)?;

    let report = diff::Report::build(
        &io::name(&a.old),
        &io::name(&a.new),
        sources,
        checks,
        match a.fail_on {
            FailOnArg::NewlyAllowed => FailOn::NewlyAllowed,
            FailOnArg::Any => FailOn::Any,
            FailOnArg::Never => FailOn::Never,
        },
        a.max_ids,
    );
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

fn info(
    kind: SourceKind,
    origin: String,
    at: Option<Timestamp>,
    explore: Option<diff::ExploreStats>,
) -> SourceInfo {
    SourceInfo {
        kind,
        origin,
        at,
        explore,
        cases: 0,
        changed: 0,
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
