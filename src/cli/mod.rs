//! Command-line interface: argument definitions and dispatch.
//!
//! Each subcommand lives in its own module and returns an [`Outcome`] (the
//! exit code of SPEC §10) or a [`CliError`] (exit 1, printed on stderr).

mod apply;
mod check;
mod conform;
mod decide;
mod diff;
mod explore;
mod generate;
mod io;
mod mutants;
mod output;
mod progress;
mod replay;
mod snapshot;
mod test;
mod text;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use io::CliError;

/// What a successful run tells the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: allowed, applied, held.
    Success,
    /// Exit 2: a denial, a rejection, a violation.
    Failure,
    /// Exit 3: no violation found, but a bound (`--max-states`, `--time`)
    /// stopped the work before what was asked was covered: not "held".
    Incomplete,
}

impl From<Outcome> for std::process::ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Success => std::process::ExitCode::SUCCESS,
            Outcome::Failure => std::process::ExitCode::from(2),
            Outcome::Incomplete => std::process::ExitCode::from(3),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "authproof",
    version,
    about = "Decide and verify multi-tenant authentication and authorization",
    long_about = "Decide and verify multi-tenant authentication and authorization.\n\n\
        Exit codes: 0 allowed / applied / held, 2 denied / rejected / violated, 1 input error."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output format of `decide` and `apply`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    #[default]
    Json,
    /// A readable explanation for people.
    Text,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide one request (--request) or a batch (--requests, JSON Lines).
    Decide(decide::Args),
    /// Apply commands (JSON Lines) to a snapshot or a database (--db); print one result per line.
    Apply(apply::Args),
    /// Exhaustive small-scope exploration: engine vs model, every invariant.
    Explore(explore::Args),
    /// Model-based random verification; shrunk counterexamples to --out.
    Check(check::Args),
    /// Re-run a trace step by step; show the first violated invariant.
    Replay(replay::Args),
    /// Review a policy change: what changes, for whom (blast radius).
    Diff(diff::Args),
    /// Generate inputs (a synthetic snapshot).
    #[command(subcommand)]
    Gen(generate::Command),
    /// Inject each known fault (INCIDENTS.md) and show the harness kills it.
    Mutants(mutants::Args),
    /// Policy utilities.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Move a snapshot into (import) or out of (export) a database.
    #[command(subcommand)]
    Snapshot(snapshot::Command),
    /// Run expected-decision suites (or --record one); coverage of the policy.
    Test(test::Args),
    /// Check a live service, through its adapter, against the model (docs/CONFORM.md).
    Conform(conform::Args),
    /// Adapters shipped with authproof (conform targets), speaking JSON Lines on stdin/stdout.
    #[command(subcommand, hide = true)]
    Adapter(conform::AdapterCommand),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Print the default policy (policies/default.toml).
    #[command(after_help = "Example:
  authproof policy default > policy.toml")]
    Default,
}

/// The `--policy` option shared by every subcommand.
#[derive(Debug, clap::Args)]
pub struct PolicyArg {
    /// Policy file (TOML); the default policy when absent.
    #[arg(long, value_name = "P")]
    pub policy: Option<PathBuf>,
}

pub fn run(cli: Cli) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Decide(a) => decide::run(a),
        Command::Apply(a) => apply::run(a),
        Command::Explore(a) => explore::run(a),
        Command::Mutants(a) => mutants::run(a),
        Command::Check(a) => check::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Gen(c) => generate::run(c),
        Command::Snapshot(c) => snapshot::run(c),
        Command::Test(a) => test::run(a),
        Command::Conform(a) => conform::run(a),
        Command::Adapter(c) => conform::adapter(c),
        Command::Policy(PolicyCommand::Default) => {
            io::print(authproof_engine::DEFAULT_POLICY_TOML)?;
            Ok(Outcome::Success)
        }
    }
}
