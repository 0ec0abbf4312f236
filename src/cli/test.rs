//! `authproof test`: run expected-decision suites, or record one
//! (docs/TESTING.md). The library does the work
//! (`authproof_review::suite`); this module parses arguments, reads and
//! writes files, and prints.

use std::path::{Component, Path, PathBuf};

use authproof_engine::load;
use authproof_review::suite::{self, Coverage, LoadOptions, Mode, PolicySource};
use clap::ValueEnum;
use serde_json::Value;

use super::{io, CliError, Outcome};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    #[default]
    Text,
    Json,
    Junit,
    Markdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CoverageFormat {
    Text,
    Json,
    Lcov,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof test examples/suite
  authproof test examples/suite --format junit --out junit.xml --coverage-out policy.lcov
  authproof test --record --snapshot examples/snapshot.json --requests examples/requests.jsonl --out pinned.toml")]
pub struct Args {
    /// Suite files, or directories (every *.toml directly in them, sorted).
    /// With --record: at most one suite file without expectations.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
    /// Run every suite under this policy instead of its own (review a
    /// proposed policy against the pinned cases); with --record, the policy
    /// to record under.
    #[arg(long, value_name = "P")]
    policy: Option<PathBuf>,
    /// Coverage of the policy: after the text report, or to --coverage-out.
    #[arg(long, value_enum, value_name = "FORMAT")]
    coverage: Option<CoverageFormat>,
    /// Write coverage to this file (LCOV unless --coverage says otherwise).
    #[arg(long, value_name = "FILE")]
    coverage_out: Option<PathBuf>,
    /// Record a suite with today's answers as expectations.
    #[arg(long)]
    record: bool,
    /// With --record: the snapshot the requests are decided against.
    #[arg(long, value_name = "S", requires = "record")]
    snapshot: Option<PathBuf>,
    /// With --record: requests, one JSON object per line.
    #[arg(long, value_name = "R.jsonl", requires = "record")]
    requests: Option<PathBuf>,
    /// With --record: commands applied before every request.
    #[arg(long, value_name = "C.jsonl", requires = "requests")]
    commands: Option<PathBuf>,
    /// Write the report to this file instead of stdout; with --record, the
    /// suite file to write. Checked before any suite is read; replaced
    /// only when complete.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// With --record: overwrite an existing --out.
    #[arg(long, requires = "record")]
    force: bool,
}

fn usage(m: &str) -> CliError {
    CliError::Other(m.to_string())
}

fn from_suite(e: authproof_review::Error) -> CliError {
    match e.input() {
        Some(input) if e.kind() == authproof_review::ErrorKind::Input => {
            CliError::Input(input.clone())
        }
        // `file: error`, the I/O error chained.
        _ => CliError::Other(super::check::error_chain(&e)),
    }
}

/// [`suite::load`] through the CLI's reader: the input size limit, `-`,
/// devices refused, and every file named escaped ([`io::name`]) in reports
/// and messages alike.
fn load_suite(path: &Path, opts: &LoadOptions) -> Result<suite::Suite, CliError> {
    let file = io::name(path);
    let text = utf8(io::read(path)?, &file)?;
    let parsed = suite::parse(&text, &file, opts.mode)?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let snapshot_path = dir.join(&parsed.snapshot);
    let snapshot_name = io::name(&snapshot_path);
    let snapshot = load::parse_snapshot(&io::read(&snapshot_path)?, &snapshot_name)?;
    let policy = match (&opts.policy, &parsed.policy) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => policy_source(&dir.join(p))?,
        (None, None) => PolicySource::default_policy(),
    };
    Ok(suite::build(
        parsed,
        snapshot,
        &snapshot_name,
        policy,
        opts.mode,
    )?)
}

fn utf8(bytes: Vec<u8>, file: &str) -> Result<String, CliError> {
    String::from_utf8(bytes).map_err(|_| {
        authproof_engine::Error::at_path("(file)", "not UTF-8 text")
            .in_file(file, None)
            .into()
    })
}

fn policy_source(path: &Path) -> Result<PolicySource, CliError> {
    let name = io::name(path);
    let text = utf8(io::read(path)?, &name)?;
    Ok(PolicySource::from_text(&name, &text)?)
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    if a.record {
        return record(a);
    }
    if a.paths.is_empty() {
        return Err(usage(
            "authproof test needs at least one suite file or directory",
        ));
    }
    let coverage_format = match (a.coverage, &a.coverage_out) {
        (Some(f), _) => Some(f),
        (None, Some(_)) => Some(CoverageFormat::Lcov),
        (None, None) => None,
    };
    if coverage_format.is_some() && a.coverage_out.is_none() && a.format != ReportFormat::Text {
        return Err(usage(
            "--coverage with a --format other than text needs --coverage-out FILE",
        ));
    }
    // Outputs are checked before any suite is read.
    let report_file = a.out.as_deref().map(io::Output::create).transpose()?;
    let coverage_file = a
        .coverage_out
        .as_deref()
        .map(io::Output::create)
        .transpose()?;
    let opts = LoadOptions {
        mode: Mode::Run,
        policy: a.policy.as_deref().map(policy_source).transpose()?,
    };
    // Every suite is read and checked before the first case runs.
    let mut files = Vec::new();
    for p in &a.paths {
        let found = suite::expand(p).map_err(from_suite)?;
        if found.is_empty() {
            return Err(usage(&format!(
                "{}: no *.toml suite in this directory",
                io::name(p)
            )));
        }
        files.extend(found);
    }
    let suites = files
        .iter()
        .map(|f| load_suite(f, &opts))
        .collect::<Result<Vec<_>, _>>()?;
    let runs: Vec<_> = suites.iter().map(suite::run).collect();
    let mut out = match a.format {
        ReportFormat::Text => suite::report::text(&runs),
        ReportFormat::Json => io::json_line(&suite::report::json(&runs)),
        ReportFormat::Junit => suite::report::junit(&runs),
        ReportFormat::Markdown => suite::report::markdown(&runs),
    };
    if let Some(f) = coverage_format {
        let mut cov = Coverage::new();
        for (s, r) in suites.iter().zip(&runs) {
            cov.add(s, r);
        }
        let text = match f {
            CoverageFormat::Text => cov.text(),
            CoverageFormat::Json => io::json_line(&cov.json()),
            CoverageFormat::Lcov => cov.lcov(),
        };
        match coverage_file {
            Some(file) => file.finish(text.as_bytes())?,
            None => {
                out.push('\n');
                out.push_str(&text);
            }
        }
    }
    match report_file {
        Some(file) => file.finish(out.as_bytes())?,
        None => io::print(&out)?,
    }
    let failed = runs.iter().any(|r| r.failed() > 0);
    Ok(if failed {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// `to` relative to the directory `from` (both made absolute), with `/`.
fn relative(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (from, to) = (abs(from), abs(to));
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        // Nothing but the root in common: the absolute path reads better.
        return to.display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// The lines of a JSON Lines file as values, numbered like the engine's
/// loaders number them (checked by them first).
fn json_lines(path: &Path, bytes: &[u8]) -> Vec<(String, usize, Value)> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .filter_map(|(n, l)| Some((io::name(path), n, serde_json::from_slice(l).ok()?)))
        .collect()
}

fn record(a: Args) -> Result<Outcome, CliError> {
    let out = a
        .out
        .as_deref()
        .ok_or_else(|| usage("--record needs --out FILE"))?;
    if out.exists() && !a.force {
        return Err(usage(&format!(
            "{}: exists; pass --force to overwrite it",
            io::name(out)
        )));
    }
    let out_file = io::Output::create(out)?;
    let out_dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let policy = a.policy.as_deref().map(policy_source).transpose()?;
    let (suite, note) = match (a.paths.as_slice(), &a.snapshot, &a.requests) {
        ([path], None, None) => {
            let opts = LoadOptions { mode: Mode::Record, policy: policy.clone() };
            let mut s = load_suite(path, &opts)?;
            let dir = path.parent().unwrap_or(Path::new(""));
            s.parsed.snapshot = relative(&out_dir, &dir.join(&s.parsed.snapshot));
            s.parsed.policy = match (&a.policy, &s.parsed.policy) {
                (Some(p), _) => Some(relative(&out_dir, p)),
                (None, Some(p)) => Some(relative(&out_dir, &dir.join(p))),
                (None, None) => None,
            };
            (s, format!("Recorded by `authproof test --record` from {}.", io::name(path)))
        }
        ([], Some(snap), Some(reqs)) => {
            let snap_name = io::name(snap);
            let snapshot = load::parse_snapshot(&io::read(snap)?, &snap_name)?;
            let rbytes = io::read(reqs)?;
            load::requests_jsonl(&rbytes, &io::name(reqs))?;
            let commands = match &a.commands {
                Some(c) => {
                    let cbytes = io::read(c)?;
                    load::commands_jsonl(&cbytes, &io::name(c))?;
                    json_lines(c, &cbytes)
                }
                None => Vec::new(),
            };
            let parsed = suite::record_requests(
                &relative(&out_dir, snap),
                a.policy.as_deref().map(|p| relative(&out_dir, p)).as_deref(),
                json_lines(reqs, &rbytes),
                commands,
            );
            let policy = policy.unwrap_or_else(PolicySource::default_policy);
            let s = suite::build(parsed, snapshot, &snap_name, policy, Mode::Record)?;
            (s, format!("Recorded by `authproof test --record` from {}.", io::name(reqs)))
        }
        _ => {
            return Err(usage(
                "--record takes one suite file, or --snapshot S --requests R.jsonl [--commands C.jsonl]",
            ))
        }
    };
    let run = suite::run(&suite);
    let text = suite::record(&suite, &run, &format!(
        "{note}\nEvery expectation is the answer the engine gave then; tokens are {{{{sha256:…}}}} references."
    ));
    out_file.finish(text.as_bytes())?;
    io::print(&format!(
        "recorded {} cases to {}\n",
        run.cases.len(),
        io::name(out)
    ))?;
    Ok(Outcome::Success)
}
