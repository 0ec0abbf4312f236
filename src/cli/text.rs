//! The `--format text` rendering: a one-screen explanation for people.

use std::fmt::Write;

use authproof_engine::{Change, Command, CommandResult, Decision, Effect, RecordRef, Verdict};

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

/// A decision as a short report: verdict line, who and where, then the
/// steps the engine took.
pub fn decision(d: &Decision) -> String {
    let mut s = String::new();
    match (d.decision, d.reason) {
        (Verdict::Allow, _) => writeln!(s, "ALLOW {} ({})", d.action, d.status),
        (Verdict::Deny, Some(r)) => writeln!(s, "DENY  {} ({}): {}", d.action, d.status, r),
        (Verdict::Deny, None) => writeln!(s, "DENY  {} ({})", d.action, d.status),
    }
    .expect("writing to a String");
    let cred = d
        .credential
        .as_ref()
        .map(|c| format!("{} {}", c.kind.as_str(), c.id));
    let _ = writeln!(s, "  user        {}", or_dash(d.user.as_deref()));
    let _ = writeln!(s, "  credential  {}", or_dash(cred.as_deref()));
    let _ = writeln!(s, "  tenant      {}", or_dash(d.tenant.as_deref()));
    if d.decision == Verdict::Allow {
        let scope: Vec<&str> = d.scope.iter().map(|t| t.as_str()).collect();
        let _ = writeln!(s, "  scope       [{}]", scope.join(", "));
        for e in &d.effects {
            let Effect::ExtendSession {
                session,
                expires_at,
            } = e;
            let _ = writeln!(s, "  effect      extend session {session} to {expires_at}");
        }
    }
    let _ = writeln!(s, "  why:");
    for (i, line) in d.explain_lines().iter().enumerate() {
        let _ = writeln!(s, "    {}. {line}", i + 1);
    }
    s
}

fn record(r: &RecordRef) -> String {
    match r {
        RecordRef::Tenant { id } => format!("tenant {id}"),
        RecordRef::User { id } => format!("user {id}"),
        RecordRef::Membership { user, tenant } => format!("membership {user} in {tenant}"),
        RecordRef::ApiKey { id } => format!("api key {id}"),
        RecordRef::Session { id } => format!("session {id}"),
        RecordRef::Resource { tenant, id } => format!("resource {id} of {tenant}"),
    }
}

/// A command result in one or a few lines.
pub fn result(cmd: &Command, r: &CommandResult) -> String {
    let mut s = String::new();
    match r {
        CommandResult::Ok { op, changes } => {
            let _ = writeln!(s, "{} {op}: ok", cmd.at);
            for c in changes {
                let line = match c {
                    Change::Create { record: r } => format!("created {}", record(r)),
                    Change::Delete { record: r } => format!("removed {}", record(r)),
                    Change::Update {
                        record: r,
                        field,
                        from,
                        to,
                    } => format!("{}: {field} {from} -> {to}", record(r)),
                };
                let _ = writeln!(s, "    {line}");
            }
        }
        CommandResult::Rejected {
            op,
            reason,
            explain,
        } => {
            let _ = writeln!(s, "{} {op}: rejected {reason}: {explain}", cmd.at);
        }
        CommandResult::Decision { decision: d, .. } => {
            let _ = write!(s, "{} authenticate: ", cmd.at);
            for (i, line) in decision(d).lines().enumerate() {
                let indent = if i == 0 { "" } else { "    " };
                let _ = writeln!(s, "{indent}{line}");
            }
        }
    }
    s
}
