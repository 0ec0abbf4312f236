//! `authproof apply`: run commands against a snapshot or a database.

use std::{io::Write, path::PathBuf};

use authproof_engine::{load, CommandResult};

use super::{io, text, CliError, Format, Outcome, PolicyArg};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof apply --snapshot examples/snapshot.json --commands examples/commands.jsonl --out after.json
  authproof apply --db sqlite:auth.db --commands examples/commands.jsonl

A path of - reads stdin. Exit 0 no command rejected, 2 some rejected, 1 error.")]
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
    /// Write the final snapshot to this file (checked before any command
    /// runs; replaced only when every result line was printed).
    #[arg(long, value_name = "S2")]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    // The output file is checked (and its temporary file created) before
    // any input is read: a bad --out fails before the first result line.
    let out_file = a.out.as_deref().map(io::Output::create).transpose()?;
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
        out.write_all(s.as_bytes()).map_err(io::stdout_error)?;
    }
    out.flush().map_err(io::stdout_error)?;
    if let (Some(file), Target::Snapshot(state)) = (out_file, &target) {
        let mut json =
            serde_json::to_string_pretty(&state.to_snapshot()).expect("snapshots serialize");
        json.push('\n');
        file.finish(json.as_bytes())?;
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
