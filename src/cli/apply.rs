//! `authproof apply`: run commands against a snapshot or a database.

use std::{io::Write, path::PathBuf};

use authproof_engine::{load, CommandResult};

use super::{io, text, CliError, Format, Outcome, PolicyArg};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// State snapshot (JSON).
    #[arg(
        long,
        value_name = "S",
        required_unless_present = "db",
        conflicts_with = "db"
    )]
    snapshot: Option<PathBuf>,
    /// Apply to the state held in a database instead (`sqlite:PATH`,
    /// `postgres://…`), one transaction per command.
    #[arg(long, value_name = "URL", conflicts_with = "out")]
    db: Option<String>,
    /// Commands, one JSON object per line, with non-decreasing `at`.
    #[arg(long, value_name = "C.jsonl")]
    commands: PathBuf,
    #[command(flatten)]
    policy: PolicyArg,
    /// Write the final snapshot here.
    #[arg(long, value_name = "S2")]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    let policy = io::policy(a.policy.policy.as_deref())?;
    let mut target = match (&a.snapshot, &a.db) {
        (Some(path), _) => Target::Snapshot(Box::new(io::snapshot(path)?)),
        (None, Some(url)) => Target::Db(super::snapshot::open_existing(url)?, url.clone()),
        (None, None) => return Err(CliError::Other("give --snapshot or --db".into())),
    };
    // Parsed and checked whole before the first command is applied.
    let commands = load::commands_jsonl(&io::read(&a.commands)?, &io::name(&a.commands))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut rejected = false;
    for cmd in &commands {
        let r = match &mut target {
            Target::Snapshot(state) => state.apply(&policy, cmd),
            Target::Db(store, url) => store
                .apply(&policy, cmd)
                .map_err(|e| super::snapshot::db_error(url, e))?,
        };
        rejected |= matches!(r, CommandResult::Rejected { .. });
        let s = match a.format {
            Format::Json => io::json_line(&r),
            Format::Text => text::result(cmd, &r),
        };
        out.write_all(s.as_bytes()).map_err(|error| CliError::Io {
            file: "stdout".into(),
            error,
        })?;
    }
    out.flush().map_err(|error| CliError::Io {
        file: "stdout".into(),
        error,
    })?;
    if let (Some(path), Target::Snapshot(state)) = (&a.out, &target) {
        let mut json =
            serde_json::to_string_pretty(&state.to_snapshot()).expect("snapshots serialize");
        json.push('\n');
        io::write(path, json.as_bytes())?;
    }
    Ok(if rejected {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// Where the commands go.
enum Target {
    Snapshot(Box<authproof_engine::State>),
    /// A store, with its URL for messages.
    Db(authproof_store::Store, String),
}
