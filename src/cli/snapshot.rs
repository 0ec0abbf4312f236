//! `authproof snapshot import|export`: move a snapshot into and out of a
//! database (`sqlite:PATH`, `postgres://…`), see the `authproof-store` crate.

use std::path::PathBuf;

use authproof_store::{ErrorKind, Store};

use super::{io, CliError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load a snapshot into a database, creating the schema if needed.
    Import(ImportArgs),
    /// Write the snapshot a database holds (to stdout, or --out).
    Export(ExportArgs),
}

// `snapshot import --from/--mapping`: read a foreign database (issue 13).
#[path = "import.rs"]
mod foreign;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof snapshot import --db sqlite:auth.db --snapshot examples/snapshot.json
  authproof snapshot import --db postgres://authproof@localhost/auth --snapshot examples/snapshot.json --replace")]
pub struct ImportArgs {
    /// Database URL: `sqlite:PATH` or `postgres://…` (with --from/--mapping:
    /// the foreign database to read, read-only).
    #[arg(long, value_name = "URL")]
    db: String,
    /// State snapshot (JSON).
    #[arg(long, value_name = "S", required_unless_present_any = ["from", "mapping"])]
    snapshot: Option<PathBuf>,
    /// Replace what the database holds (otherwise a non-empty database is
    /// refused).
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    foreign: foreign::ForeignArgs,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof snapshot export --db sqlite:auth.db --out snapshot.json
  authproof snapshot export --db sqlite:auth.db | authproof decide --snapshot - --request examples/requests/f05-key-tenant.json")]
pub struct ExportArgs {
    /// Database URL: `sqlite:PATH` or `postgres://…`.
    #[arg(long, value_name = "URL")]
    db: String,
    /// Write the snapshot to this file instead of stdout (checked before
    /// the database is opened; replaced only when complete).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(c: Command) -> Result<Outcome, CliError> {
    match c {
        Command::Import(a) => import(a),
        Command::Export(a) => export(a),
    }
}

fn import(a: ImportArgs) -> Result<Outcome, CliError> {
    let (Some(path), false) = (&a.snapshot, a.foreign.used()) else {
        return foreign::run(&a.db, a.foreign, a.replace);
    };
    // Parsed and integrity-checked before the database is touched.
    let snapshot = io::snapshot(path)?.to_snapshot();
    let mut store = open(&a.db)?;
    store.migrate().map_err(|e| db_error(&a.db, e))?;
    store
        .import(&snapshot, a.replace)
        .map_err(|e| db_error(&a.db, e))?;
    Ok(Outcome::Success)
}

fn export(a: ExportArgs) -> Result<Outcome, CliError> {
    let out_file = a.out.as_deref().map(io::Output::create).transpose()?;
    let mut store = open_existing(&a.db)?;
    let snapshot = store.export().map_err(|e| db_error(&a.db, e))?;
    let mut json = serde_json::to_string_pretty(&snapshot).expect("snapshots serialize");
    json.push('\n');
    match out_file {
        Some(file) => file.finish(json.as_bytes())?,
        None => io::print(&json)?,
    }
    Ok(Outcome::Success)
}

fn open(url: &str) -> Result<Store, CliError> {
    Store::open(url).map_err(|e| db_error(url, e))
}

/// A store that already holds an authproof schema (migrated to this
/// build's version if older); a database without one is an error, so a
/// typo in the URL does not silently create an empty store.
pub fn open_existing(url: &str) -> Result<Store, CliError> {
    if let Ok(authproof_store::Url::Sqlite(path)) = authproof_store::Url::parse(url) {
        if path != ":memory:" && !std::path::Path::new(&path).exists() {
            return Err(CliError::Other(format!(
                "{}: no such database file; create it with `authproof snapshot import`",
                redact(url)
            )));
        }
    }
    let mut store = open(url)?;
    match store.schema_version().map_err(|e| db_error(url, e))? {
        None => Err(CliError::Other(format!(
            "{}: no authproof schema in this database; load one with `authproof snapshot import`",
            redact(url)
        ))),
        Some(_) => {
            store.migrate().map_err(|e| db_error(url, e))?;
            Ok(store)
        }
    }
}

/// A store error as a CLI error (exit 1), naming the database. Connection
/// and URL errors already name it (masked); others get the masked URL.
pub fn db_error(url: &str, e: authproof_store::Error) -> CliError {
    match e.kind() {
        ErrorKind::Url | ErrorKind::Connect => CliError::Other(e.to_string()),
        _ => CliError::Other(format!("{}: {e}", redact(url))),
    }
}

/// The URL for messages: every credential it can carry masked, control
/// characters escaped (`authproof_store::redact`).
fn redact(url: &str) -> String {
    authproof_store::redact(url)
}
