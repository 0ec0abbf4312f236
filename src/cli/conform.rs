//! `authproof conform`: a live service, behind an adapter, against the
//! model (docs/CONFORM.md); and the hidden `authproof adapter store`, the
//! correct target: authproof's own store behind the same protocol.
//!
//! The runner lives in `authproof_verification::conform`; this file parses
//! the arguments, shows progress, writes the shrunk traces and prints the
//! report.

use std::{
    io::{BufRead, Write as _},
    path::PathBuf,
    time::Duration,
};

use authproof_engine::{Command as Cmd, Policy, Snapshot};
use authproof_store::Store;
use authproof_verification::conform::{self, ConformConfig, TargetSpec, PROTOCOL};
use serde_json::{json, Value};

use super::{io, progress::Line, CliError, Outcome, PolicyArg};

/// Report format of `conform`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ConformFormat {
    #[default]
    Text,
    Json,
    Junit,
    Markdown,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof conform --target targets/store --cases 300
  authproof conform --target targets/better-auth --time 60 --format json
  authproof replay authproof-out/conform-I5-0-1.json --target targets/better-auth")]
pub struct Args {
    /// The target: a directory holding target.toml, or a TOML file.
    #[arg(long, value_name = "DIR_OR_TOML")]
    target: PathBuf,
    /// The service's configuration as a policy [default: the target's
    /// `policy`, else the default policy].
    #[command(flatten)]
    policy: PolicyArg,
    /// Seed of the random generator; the same seed draws the same cases.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Number of cases [default: 200, unlimited with --time].
    #[arg(long, value_name = "N")]
    cases: Option<u64>,
    /// Stop drawing cases after this many seconds (the running case and
    /// any shrinking finish).
    #[arg(long, value_name = "SECS")]
    time: Option<f64>,
    /// Where shrunk traces are written.
    #[arg(long, value_name = "DIR", default_value = "authproof-out")]
    out: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    format: ConformFormat,
}

/// Resolves the policy of a target run: `--policy`, else the target's.
pub fn target_policy(
    arg: Option<&std::path::Path>,
    spec: &TargetSpec,
) -> Result<(Policy, String), CliError> {
    match (arg, &spec.policy) {
        (Some(p), _) => Ok((io::policy(Some(p))?, io::name(p))),
        (None, Some(p)) => Ok((io::policy(Some(p))?, io::name(p))),
        (None, None) => Ok((Policy::default(), "default".into())),
    }
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    let spec = TargetSpec::load(&a.target).map_err(|e| CliError::Other(e.to_string()))?;
    let (policy, policy_label) = target_policy(a.policy.policy.as_deref(), &spec)?;
    if let Some(t) = a.time {
        if !(t.is_finite() && t >= 0.0) {
            return Err(CliError::Other(
                "--time: expected a number of seconds".into(),
            ));
        }
    }
    let cases = match (a.cases, a.time) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(200),
    };
    let cfg = ConformConfig {
        seed: a.seed,
        cases,
        time: a.time.map(Duration::from_secs_f64),
        policy,
        policy_label,
        out: a.out.clone(),
        ..ConformConfig::default()
    };
    let mut line = Line::stderr();
    let report = conform::run(&spec, &cfg, &mut |done, found| {
        line.update(|secs| format!("conform: {done} cases, {found} finding(s), {secs:.0} s"));
    });
    line.clear();
    let report = report.map_err(|e| CliError::Other(super::check::error_chain(&e)))?;
    if !report.findings.is_empty() {
        std::fs::create_dir_all(&a.out).map_err(|error| CliError::Io {
            file: io::name(&a.out),
            error,
        })?;
        for f in &report.findings {
            io::write(&f.path, f.trace.to_json().as_bytes())?;
        }
    }
    let target_arg = a.target.display().to_string();
    let text = match a.format {
        ConformFormat::Text => report.text(&target_arg),
        ConformFormat::Json => {
            let mut s =
                serde_json::to_string_pretty(&report.json(&target_arg)).expect("serializes");
            s.push('\n');
            s
        }
        ConformFormat::Junit => report.junit(&target_arg),
        ConformFormat::Markdown => report.markdown(&target_arg),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|error| CliError::Io {
            file: "stdout".into(),
            error,
        })?;
    Ok(if report.findings.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// `authproof adapter ...` (hidden): adapters shipped with authproof.
#[derive(Debug, clap::Subcommand)]
pub enum AdapterCommand {
    /// authproof's own store (SQLite, PostgreSQL) behind the conform
    /// protocol on stdin/stdout: the correct target.
    Store(StoreArgs),
}

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The database (`sqlite:PATH`, `sqlite::memory:`, `postgres://…`);
    /// each `reset` replaces what it holds.
    #[arg(long, value_name = "URL", default_value = "sqlite::memory:")]
    db: String,
    /// Inject an engine fault (F01..F16) into every command the store runs.
    #[cfg(feature = "faults")]
    #[arg(long, value_name = "F", value_parser = super::check::parse_fault)]
    inject: Option<authproof_engine::Fault>,
}

pub fn adapter(c: AdapterCommand) -> Result<Outcome, CliError> {
    let AdapterCommand::Store(a) = c;
    let mut store = Store::open(&a.db).map_err(|e| CliError::Other(e.to_string()))?;
    store
        .migrate()
        .map_err(|e| CliError::Other(e.to_string()))?;
    #[cfg(feature = "faults")]
    store.inject(a.inject);
    #[cfg(feature = "faults")]
    let name = match a.inject {
        Some(f) => format!(
            "authproof store ({}) with fault {f:?}",
            store.backend_name()
        ),
        None => format!("authproof store ({})", store.backend_name()),
    };
    #[cfg(not(feature = "faults"))]
    let name = format!("authproof store ({})", store.backend_name());
    let mut policy = Policy::default();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.map_err(|error| CliError::Io {
            file: "stdin".into(),
            error,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let msg: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                return Err(CliError::Other(format!(
                    "adapter: a request that is not JSON: {e}"
                )))
            }
        };
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        let kind = msg.get("type").and_then(Value::as_str).unwrap_or("");
        let answer: Result<Value, String> = match kind {
            "hello" => authproof_engine::load::policy_json(
                msg.get("policy").cloned().unwrap_or(json!({})),
                "hello",
            )
            .map_err(|e| e.to_string())
            .map(|p| {
                policy = p;
                json!({
                    "type": "hello", "protocol": PROTOCOL, "name": name,
                    "ops": authproof_engine::Op::NAMES,
                    "actions": null,
                    "reasons": "exact", "rejections": "exact",
                    "changes": true, "clock": true, "observe": true,
                    "reset": "snapshot",
                    "notes": ["every command runs at its own `at`: the store has no clock"],
                })
            }),
            "reset" => serde_json::from_value::<Snapshot>(
                msg.get("snapshot").cloned().unwrap_or(json!({})),
            )
            .map_err(|e| format!("snapshot: {e}"))
            .and_then(|s| store.import(&s, true).map_err(|e| e.to_string()))
            .map(|()| json!({"type": "ok"})),
            "step" => Cmd::from_value(msg.get("command").cloned().unwrap_or(Value::Null))
                .map_err(|e| e.to_string())
                .and_then(|c| store.apply(&policy, &c).map_err(|e| e.to_string()))
                .map(|r| json!({"type": "result", "result": r})),
            "observe" => store
                .export()
                .map_err(|e| e.to_string())
                .map(|s| json!({"type": "snapshot", "snapshot": s})),
            "bye" => break,
            other => Err(format!("unknown request type {other:?}")),
        };
        let mut v = answer.unwrap_or_else(|message| json!({"type": "error", "message": message}));
        v["id"] = id;
        let mut l = serde_json::to_string(&v).expect("values serialize");
        l.push('\n');
        stdout
            .write_all(l.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|error| CliError::Io {
                file: "stdout".into(),
                error,
            })?;
    }
    Ok(Outcome::Success)
}
