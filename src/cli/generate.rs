//! `authproof gen snapshot`: a synthetic snapshot, deterministic from a seed.

use std::{io::Write, path::PathBuf};

use authproof_verification::synth;

use super::{io, CliError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// A synthetic snapshot (same flags and seed: the same bytes).
    Snapshot(SnapshotArgs),
}

/// Largest `--keys`, `--users`, `--tenants` and `--sessions`: a snapshot
/// with several times this many records would not load again under the
/// default 1 GiB input limit (about 300 bytes per key or session).
pub const MAX_COUNT: u64 = 5_000_000;

fn count() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_COUNT)
}

/// A share from 0 to 1 (`0`, `0.06`, `1`); NaN and infinities are refused.
fn ratio(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err("expected a number from 0 to 1".into()),
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof gen snapshot --keys 300 --users 250 --legacy-ratio 0.06 --seed 7 --out snapshot.json
  authproof gen snapshot --keys 500000 --users 200000 --tenants 20000 --sessions 500000 --out big.json")]
pub struct SnapshotArgs {
    /// Number of API keys, 0 to 5000000.
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = count())]
    keys: usize,
    /// Number of users, 0 to 5000000 (at least one is made when there are
    /// keys or sessions).
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = count())]
    users: usize,
    /// Number of tenants, 0 to 5000000 (at least one is made when there are
    /// users).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = count())]
    tenants: usize,
    /// Number of sessions, 0 to 5000000.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = count())]
    sessions: usize,
    /// Share of API keys that are legacy unbound keys (tenant null), 0 to 1.
    #[arg(long, value_name = "R", default_value_t = 0.0, value_parser = ratio)]
    legacy_ratio: f64,
    /// PRNG seed, 0 to 18446744073709551615.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Write the snapshot to this file instead of stdout (checked before
    /// generating; replaced only when complete).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Snapshots up to this many records are pretty-printed; larger ones are
/// written compactly (a million credentials pretty-printed is mostly
/// indentation).
const PRETTY_MAX_RECORDS: usize = 10_000;

pub fn run(c: Command) -> Result<Outcome, CliError> {
    let Command::Snapshot(a) = c;
    let out_file = a.out.as_deref().map(io::Output::create).transpose()?;
    let snap = synth::snapshot(&synth::Shape {
        keys: a.keys,
        users: a.users,
        tenants: a.tenants,
        sessions: a.sessions,
        legacy_ratio: a.legacy_ratio,
        seed: a.seed,
        ..synth::Shape::default()
    });
    let records = snap.record_count();
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
    match out_file {
        Some(mut file) => {
            write(&mut file).map_err(|e| file.error(e))?;
            file.commit()?;
        }
        None => write(&mut std::io::stdout().lock()).map_err(io::stdout_error)?,
    }
    Ok(Outcome::Success)
}
