//! `authproof decide`: reproduce a decision from a snapshot.

use std::{io::Write, path::PathBuf};

use authproof_engine::load;

use super::{io, text, CliError, Format, Outcome, PolicyArg};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof decide --snapshot examples/snapshot.json --request examples/requests/f10-cross-tenant-resume.json --format text
  authproof decide --snapshot examples/snapshot.json --requests examples/requests.jsonl
  authproof decide --snapshot examples/snapshot.json --request - < examples/requests/f05-key-tenant.json

A path of - reads stdin. Exit 0 every request allowed, 2 any denied, 1 error.")]
pub struct Args {
    /// State snapshot (JSON).
    #[arg(long, value_name = "S")]
    snapshot: PathBuf,
    /// One request (JSON).
    #[arg(
        long,
        value_name = "R",
        required_unless_present = "requests",
        conflicts_with = "requests"
    )]
    request: Option<PathBuf>,
    /// Requests, one JSON object per line; the snapshot is loaded once.
    #[arg(long, value_name = "R.jsonl")]
    requests: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    let policy = io::policy(a.policy.policy.as_deref())?;
    let state = io::snapshot(&a.snapshot)?;
    // Parse every request before deciding any: an input error prints no
    // partial output.
    let requests = match (&a.request, &a.requests) {
        (Some(r), _) => vec![load::request(&io::read(r)?, &io::name(r))?],
        (None, Some(rs)) => load::requests_jsonl(&io::read(rs)?, &io::name(rs))?,
        (None, None) => unreachable!("clap requires one"),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut all_allowed = true;
    for (i, req) in requests.iter().enumerate() {
        let d = state.decide(&policy, req);
        all_allowed &= d.is_allow();
        let s = match a.format {
            Format::Json => io::json_line(&d),
            Format::Text => {
                let mut s = text::decision(&d);
                if i + 1 < requests.len() {
                    s.push('\n');
                }
                s
            }
        };
        out.write_all(s.as_bytes()).map_err(io::stdout_error)?;
    }
    out.flush().map_err(io::stdout_error)?;
    Ok(if all_allowed {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
