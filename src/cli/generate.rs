//! `authproof gen snapshot`: a synthetic snapshot, deterministic from a seed.

use std::{io::Write, path::PathBuf};

use authproof_verification::synth;

use super::{io, CliError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// A synthetic snapshot (same flags and seed: the same bytes).
    Snapshot(SnapshotArgs),
}

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// Number of API keys.
    #[arg(long, value_name = "N", default_value_t = 300)]
    keys: usize,
    /// Number of users.
    #[arg(long, value_name = "N", default_value_t = 300)]
    users: usize,
    /// Number of tenants.
    #[arg(long, value_name = "N", default_value_t = 10)]
    tenants: usize,
    /// Number of sessions.
    #[arg(long, value_name = "N", default_value_t = 200)]
    sessions: usize,
    /// Share of API keys that are legacy unbound keys (tenant null), 0 to 1.
    #[arg(long, value_name = "R", default_value_t = 0.0)]
    legacy_ratio: f64,
    /// PRNG seed.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Write the snapshot here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Snapshots up to this many records are pretty-printed; larger ones are
/// written compactly (a million credentials pretty-printed is mostly
/// indentation).
const PRETTY_MAX_RECORDS: usize = 10_000;

pub fn run(c: Command) -> Result<Outcome, CliError> {
    let Command::Snapshot(a) = c;
    if !(0.0..=1.0).contains(&a.legacy_ratio) {
        return Err(CliError::Other(
            "--legacy-ratio: expected a number from 0 to 1".into(),
        ));
    }
    let snap = synth::snapshot(&synth::Shape {
        keys: a.keys,
        users: a.users,
        tenants: a.tenants,
        sessions: a.sessions,
        legacy_ratio: a.legacy_ratio,
        seed: a.seed,
        ..synth::Shape::default()
    });
    let records = snap.tenants.len()
        + snap.users.len()
        + snap.memberships.len()
        + snap.api_keys.len()
        + snap.sessions.len()
        + snap.resources.len();
    let write = |w: &mut dyn Write| -> std::io::Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, w);
        if records <= PRETTY_MAX_RECORDS {
            serde_json::to_writer_pretty(&mut w, &snap)?;
        } else {
            serde_json::to_writer(&mut w, &snap)?;
        }
        w.write_all(b"\n")?;
        w.flush()
    };
    match &a.out {
        Some(path) => {
            let mut f = std::fs::File::create(path).map_err(|error| CliError::Io {
                file: io::name(path),
                error,
            })?;
            write(&mut f).map_err(|error| CliError::Io {
                file: io::name(path),
                error,
            })?;
        }
        None => write(&mut std::io::stdout().lock()).map_err(|error| CliError::Io {
            file: "stdout".into(),
            error,
        })?,
    }
    Ok(Outcome::Success)
}
