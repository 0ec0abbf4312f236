//! `authproof replay`: re-run a trace step by step on the engine and the
//! reference model, showing each result and the first violated invariant.

use std::path::PathBuf;

use authproof_engine::{CommandResult, Decision, Verdict};
use authproof_verification::{
    lockstep,
    redact::{redact, secrets_of},
    Error, Trace, Violation,
};
use serde_json::json;

use super::{io, CliError, Format, Outcome, PolicyArg};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof replay tests/regressions/F13-expiry-off-by-one.json
  authproof replay authproof-out/I5-0.json --format json
  authproof replay targets/better-auth/findings/conform-I5-0-5.json --target targets/better-auth")]
pub struct Args {
    /// Trace file (JSON, `authproof-trace/1`).
    #[arg(value_name = "TRACE")]
    trace: PathBuf,
    /// Replay under this policy instead of the trace's own.
    #[command(flatten)]
    policy: PolicyArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Replay on a live target (a directory holding target.toml, or a TOML
    /// file: docs/CONFORM.md) instead of the engine.
    #[arg(long, value_name = "DIR_OR_TOML")]
    target: Option<PathBuf>,
    /// Inject an engine fault (F01..F16), as `check --inject` did.
    #[cfg(feature = "faults")]
    #[arg(long, value_name = "F", value_parser = super::check::parse_fault)]
    inject: Option<authproof_engine::Fault>,
}

/// One result in a line, without anything secret: decisions name ids,
/// never tokens.
pub fn summary(r: &CommandResult) -> String {
    match r {
        CommandResult::Ok { changes, .. } => {
            let n = changes.len();
            format!("ok ({n} change{})", if n == 1 { "" } else { "s" })
        }
        CommandResult::Rejected { reason, .. } => format!("rejected {reason}"),
        CommandResult::Decision { decision, .. } => decision_summary(decision),
    }
}

fn decision_summary(d: &Decision) -> String {
    let mut s = match (d.decision, d.reason) {
        (Verdict::Allow, _) => format!("ALLOW {} ({})", d.action, d.status),
        (Verdict::Deny, Some(r)) => format!("DENY {r} ({}) {}", d.status, d.action),
        (Verdict::Deny, None) => format!("DENY ({}) {}", d.status, d.action),
    };
    if let Some(u) = &d.user {
        s.push_str(&format!(" user {u}"));
    }
    if let Some(c) = &d.credential {
        s.push_str(&format!(" {} {}", c.kind.as_str(), c.id));
    }
    if let Some(t) = &d.tenant {
        s.push_str(&format!(" tenant {t}"));
    }
    if d.is_allow() {
        let scope: Vec<&str> = d.scope.iter().map(|t| t.as_str()).collect();
        s.push_str(&format!(" scope [{}]", scope.join(", ")));
        for e in &d.effects {
            let authproof_engine::Effect::ExtendSession {
                session,
                expires_at,
            } = e;
            s.push_str(&format!(" extends {session} to {expires_at}"));
        }
    }
    s
}

fn violation_json(step: Option<usize>, v: &Violation) -> serde_json::Value {
    json!({
        "step": step,
        "invariant": v.invariant.id(),
        "name": v.invariant.name(),
        "message": v.message,
    })
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    let file = io::name(&a.trace);
    let mut trace = Trace::parse(&io::read(&a.trace)?, &file)?;
    let policy_label = match &a.policy.policy {
        Some(p) => {
            trace.policy = io::policy(Some(p))?;
            format!("{} (--policy)", io::name(p))
        }
        None if trace.policy == authproof_engine::Policy::default() => "default".into(),
        None => "the trace's own".into(),
    };
    #[cfg(feature = "faults")]
    let fault = a.inject;
    #[cfg(not(feature = "faults"))]
    let fault = None;
    let run = match &a.target {
        Some(t) => authproof_verification::conform::TargetSpec::load(t)
            .map_err(|e| Error::implementation(None, e))
            .and_then(|spec| authproof_verification::conform::replay(&spec, &trace)),
        None => lockstep::run_engine(&trace.policy, &trace.snapshot, &trace.steps, fault),
    };
    let run = run.map_err(|e| match e.input() {
        // The trace is not valid input: the error's path is in the trace.
        Some(input) => CliError::Input(input.clone().in_file(file.as_str(), None)),
        None => CliError::Other(super::check::error_chain(&e)),
    })?;
    let first = run.first_violation();
    let out = match a.format {
        Format::Text => {
            let mut s = format!(
                "replay {file}: {} steps, policy {policy_label}\n",
                trace.steps.len()
            );
            for v in &run.initial {
                s.push_str(&format!(
                    "initial snapshot: VIOLATION {} {}: {}\n",
                    v.invariant.id(),
                    v.invariant.name(),
                    v.message
                ));
            }
            for st in &run.steps {
                s.push_str(&format!(
                    "step {:<3} {}  {:<16} {}\n",
                    st.index,
                    st.command.at,
                    st.command.op.name(),
                    summary(&st.result)
                ));
                if let Some(v) = st.first_violation() {
                    s.push_str(&format!(
                        "         VIOLATION {} {}: {}\n",
                        v.invariant.id(),
                        v.invariant.name(),
                        v.message
                    ));
                    s.push_str(&format!("           engine: {}\n", summary(&st.result)));
                    s.push_str(&format!("           model:  {}\n", summary(&st.model)));
                    for more in &st.violations[1..] {
                        s.push_str(&format!(
                            "         also {} {}: {}\n",
                            more.invariant.id(),
                            more.invariant.name(),
                            more.message
                        ));
                    }
                }
            }
            match first {
                None => s.push_str(&format!(
                    "held: no invariant violated in {} steps\n",
                    run.steps.len()
                )),
                Some((step, v)) => {
                    let at = step.map_or("the initial snapshot".into(), |i| format!("step {i}"));
                    s.push_str(&format!(
                        "VIOLATION at {at}: {} {}\n",
                        v.invariant.id(),
                        v.invariant.name()
                    ));
                    let left = trace.steps.len() - run.steps.len();
                    if left > 0 {
                        s.push_str(&format!("({left} later steps not run)\n"));
                    }
                }
            }
            s
        }
        Format::Json => {
            let steps: Vec<serde_json::Value> = run
                .steps
                .iter()
                .map(|st| {
                    json!({
                        "index": st.index,
                        "at": st.command.at,
                        "op": st.command.op.name(),
                        "engine": st.result,
                        "model": st.model,
                        "violations": st.violations.iter()
                            .map(|v| violation_json(Some(st.index), v))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            let v = json!({
                "format": "authproof-replay/1",
                "trace": file,
                "policy": policy_label,
                "result": if first.is_some() { "violation" } else { "held" },
                "violation": first.map(|(i, v)| violation_json(i, v)),
                "initial_violations": run.initial.iter()
                    .map(|v| violation_json(None, v)).collect::<Vec<_>>(),
                "steps_total": trace.steps.len(),
                "steps": steps,
            });
            io::json_line(&v)
        }
    };
    io::print(&redact(&out, &secrets_of(&trace.steps)))?;
    Ok(if first.is_some() {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
