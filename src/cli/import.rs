//! `authproof snapshot import --from better-auth | --mapping FILE.toml --db URL`:
//! read a foreign auth database (read-only) into an authproof snapshot,
//! see `authproof_store::import` and docs/IMPORT.md. The presence of
//! `--from` or `--mapping` selects this mode; without them `snapshot
//! import --db URL --snapshot S` loads a JSON snapshot into an authproof
//! database as before.

use std::{io::Write, path::PathBuf};

use authproof_engine::Timestamp;
use authproof_store::import::{self, Mapping};

use super::super::{io, CliError, Outcome};

/// Foreign database kinds with a built-in mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// better-auth 1.7 (mappings/better-auth.toml).
    BetterAuth,
}

/// Notes printed per reason on stderr (all of them in `--summary`).
const NOTES_PER_REASON: usize = 20;

/// Snapshots with at most this many records are pretty-printed.
const PRETTY_MAX: usize = 100_000;

#[derive(Debug, clap::Args)]
pub struct ForeignArgs {
    /// Read a foreign database of this kind, read-only, through its
    /// built-in mapping; --db names it.
    #[arg(long, value_name = "KIND", value_enum, conflicts_with_all = ["mapping", "snapshot"])]
    from: Option<Kind>,
    /// Read a foreign database, read-only, through this mapping file
    /// (TOML, docs/IMPORT.md); --db names it.
    #[arg(long, value_name = "FILE.toml", conflicts_with = "snapshot")]
    mapping: Option<PathBuf>,
    /// With --from/--mapping: write the imported snapshot here (default:
    /// stdout).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["into", "snapshot"])]
    out: Option<PathBuf>,
    /// With --from/--mapping: load the imported snapshot into this
    /// authproof database (--replace to overwrite what it holds).
    #[arg(long, value_name = "URL", conflicts_with = "snapshot")]
    into: Option<String>,
    /// With --from/--mapping: write the import summary here (JSON); a
    /// readable summary always goes to stderr.
    #[arg(long, value_name = "FILE", conflicts_with = "snapshot")]
    summary: Option<PathBuf>,
    /// With --from/--mapping: the snapshot's taken_at, and when a ban
    /// with an end is judged (RFC 3339; default: now).
    #[arg(long, value_name = "T", conflicts_with = "snapshot")]
    at: Option<String>,
}

impl ForeignArgs {
    /// Whether a flag of the foreign mode was given.
    pub fn used(&self) -> bool {
        self.from.is_some()
            || self.mapping.is_some()
            || self.out.is_some()
            || self.into.is_some()
            || self.summary.is_some()
            || self.at.is_some()
    }
}

pub fn run(db: &str, a: ForeignArgs, replace: bool) -> Result<Outcome, CliError> {
    let mapping = match (&a.from, &a.mapping) {
        (Some(Kind::BetterAuth), _) => Mapping::better_auth(),
        (None, Some(path)) => {
            let bytes = io::read(path)?;
            let text = String::from_utf8(bytes).map_err(|_| {
                CliError::Other(format!("{}: not UTF-8", io::name(path)))
            })?;
            Mapping::parse(&text, &io::name(path)).map_err(|e| CliError::Other(e.to_string()))?
        }
        (None, None) => {
            return Err(CliError::Other(
                "snapshot import: --out, --into, --summary and --at need --from or --mapping (or give --snapshot S)".into(),
            ))
        }
    };
    if replace && a.into.is_none() {
        return Err(CliError::Other(
            "snapshot import: with --from/--mapping, --replace goes with --into".into(),
        ));
    }
    if a.into.as_deref() == Some(db) {
        return Err(CliError::Other(
            "snapshot import: --into names the database --db reads; import into another one".into(),
        ));
    }
    let at = match &a.at {
        Some(t) => Timestamp::parse(t)
            .map_err(|_| CliError::Other("--at: expected an RFC 3339 time".into()))?,
        None => now()?,
    };
    let imported = import::run(db, &mapping, &import::Options { at })
        .map_err(|e| CliError::Other(e.to_string()))?;
    // The summary first: also when writing the snapshot fails, nothing
    // that was skipped or merged goes unreported.
    eprint!("{}", imported.summary.text(NOTES_PER_REASON));
    if let Some(path) = &a.summary {
        let mut json =
            serde_json::to_string_pretty(&imported.summary).expect("summaries serialize");
        json.push('\n');
        io::write(path, json.as_bytes())?;
    }
    let s = &imported.snapshot;
    if let Some(url) = &a.into {
        let mut store = authproof_store::Store::open(url).map_err(|e| super::db_error(url, e))?;
        store.migrate().map_err(|e| super::db_error(url, e))?;
        store
            .import(s, replace)
            .map_err(|e| super::db_error(url, e))?;
        return Ok(Outcome::Success);
    }
    let records = s.record_count();
    let mut json = if records <= PRETTY_MAX {
        serde_json::to_string_pretty(s)
    } else {
        serde_json::to_string(s)
    }
    .expect("snapshots serialize");
    json.push('\n');
    match &a.out {
        Some(path) => io::write(path, json.as_bytes())?,
        None => std::io::stdout()
            .lock()
            .write_all(json.as_bytes())
            .map_err(|error| CliError::Io {
                file: "stdout".into(),
                error,
            })?,
    }
    Ok(Outcome::Success)
}

fn now() -> Result<Timestamp, CliError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| CliError::Other("the system clock is before 1970".into()))?
        .as_secs();
    i64::try_from(secs)
        .ok()
        .and_then(Timestamp::from_unix)
        .ok_or_else(|| CliError::Other("the system clock is out of range".into()))
}
