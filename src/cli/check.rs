//! `authproof check`: model-based random verification.
//!
//! The runner lives in `authproof_verification::check`; this file parses the
//! arguments, draws the progress bar, writes the shrunk counterexample trace
//! to `--out` and prints the report.

use std::{path::PathBuf, time::Duration};

use authproof_verification::check::{self, CheckConfig, DEFAULT_CASES, DRAWN_POLICIES};

use super::{io, progress::Line, CliError, Outcome, PolicyArg};

/// Report format of `check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// A report for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
    /// JUnit XML: one test case per invariant and one for coverage.
    Junit,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof check --cases 2000
  authproof check --policy policies/better-auth.toml --seed 7 --time 60
  authproof check --cases 5000 --format junit > check.xml")]
pub struct Args {
    /// Check under this policy only; without it, cases draw the shipped
    /// default policy and variations of every SPEC §3 knob.
    #[command(flatten)]
    policy: PolicyArg,
    /// Seed of the random generator; the same seed gives the same cases.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Number of cases, 1 or more [default: 50000, unlimited with --time].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    cases: Option<u64>,
    /// Stop after this many seconds (the running case finishes).
    #[arg(long, value_name = "SECS")]
    time: Option<f64>,
    /// Where shrunk counterexample traces are written.
    #[arg(long, value_name = "DIR", default_value = "authproof-out")]
    out: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    format: CheckFormat,
    /// Inject an engine fault (F01..F16) to see the check catch it.
    #[cfg(feature = "faults")]
    #[arg(long, value_name = "F", value_parser = parse_fault)]
    inject: Option<authproof_engine::Fault>,
}

/// The hidden `--inject F` of `check` and `replay` (`faults` builds only).
#[cfg(feature = "faults")]
pub fn parse_fault(s: &str) -> Result<authproof_engine::Fault, String> {
    authproof_engine::Fault::parse(s).ok_or_else(|| "expected a fault id F01..F16".to_string())
}

/// `[#####.....]  42%  1234 cases  3.1 s`: the fraction is of `--cases` or
/// of `--time`, whichever is further along.
fn bar(done: u64, total: Option<u64>, time: Option<f64>, secs: f64) -> String {
    let frac = match (total, time) {
        (Some(t), Some(l)) => (done as f64 / t as f64).max(secs / l),
        (Some(t), None) => done as f64 / t as f64,
        (None, Some(l)) => secs / l,
        (None, None) => 0.0,
    }
    .clamp(0.0, 1.0);
    let width = 30;
    let filled = (frac * width as f64) as usize;
    format!(
        "[{}{}] {:3.0}%  {done} cases  {secs:.1} s",
        "#".repeat(filled),
        ".".repeat(width - filled),
        frac * 100.0
    )
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    let policy = match &a.policy.policy {
        Some(p) => Some(io::policy(Some(p))?),
        None => None,
    };
    let label = match &a.policy.policy {
        Some(p) => io::name(p),
        None => DRAWN_POLICIES.into(),
    };
    let cases = match (a.cases, a.time) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_CASES),
    };
    if let Some(t) = a.time {
        if !(t.is_finite() && t >= 0.0) {
            return Err(CliError::Other(
                "--time: expected a number of seconds".into(),
            ));
        }
    }
    let cfg = CheckConfig {
        seed: a.seed,
        cases,
        time: a.time.map(Duration::from_secs_f64),
        policy,
        #[cfg(feature = "faults")]
        fault: a.inject,
        out: a.out.clone(),
        ..CheckConfig::default()
    };
    let mut line = Line::stderr();
    // Checked before the run: a violation found after minutes must not be
    // lost to an output directory that cannot be written.
    let out_dir = io::OutputDir::prepare(&a.out)?;
    let report = check::run(&cfg, &label, &mut |done| {
        line.update(|secs| bar(done, cases, a.time, secs));
    });
    line.clear();
    let report = report.map_err(|e| CliError::Other(error_chain(&e)))?;
    // The report goes to stdout even if writing the trace fails: a found
    // violation is always reported; the write error then ends the run.
    let written = match &report.finding {
        Some(f) => {
            let name = f.path.file_name().map(|n| n.to_string_lossy().into_owned());
            match name {
                Some(name) => out_dir
                    .file(&name)
                    .and_then(|o| o.finish(f.trace.to_json().as_bytes())),
                None => Ok(()),
            }
        }
        None => Ok(()),
    };
    let text = match a.format {
        CheckFormat::Text => report.text(),
        CheckFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report.json()).expect("serializes");
            s.push('\n');
            s
        }
        CheckFormat::Junit => report.junit(),
    };
    io::print(&text)?;
    written?;
    Ok(if report.finding.is_some() {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// An error and its sources, `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        s.push_str(&format!(": {cause}"));
        next = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    /// The CLI prints an error with its causes: each crate's error keeps
    /// its cause out of its own message and chains it through `source()`.
    #[test]
    fn errors_print_with_their_sources() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = authproof_verification::Error::implementation(Some(2), io);
        assert_eq!(
            error_chain(&e),
            "the implementation failed on step 2: no such file"
        );
        // The engine's input error ends a chain: printed once.
        let input = authproof_engine::Error::at_path("$.at", "too early");
        let e = authproof_verification::Error::from(input);
        assert_eq!(error_chain(&e), "$.at: too early");
    }
}
