//! Recording: a suite whose expectations are today's answers.
//!
//! The cases come from a suite file without expectations or from
//! `decide --requests` lines (after `--commands`); [`super::build`] in
//! [`super::Mode::Record`] has already replaced every raw token by its
//! reference, so the written file holds none.

use std::fmt::Write as _;

use authproof_engine::{Effect, Verdict};
use serde_json::Value;

use super::{Actual, Parsed, ParsedCase, Suite, SuiteRun, Written};

/// A suite built from JSON requests (and commands applied before every
/// one of them): `(source name, line, JSON object)` each.
pub fn record_requests(
    snapshot: &str,
    policy: Option<&str>,
    requests: Vec<(String, usize, Value)>,
    commands: Vec<(String, usize, Value)>,
) -> Parsed {
    let written = |line: usize, json: Value| Written {
        json,
        line: Some(line),
        path: "$".into(),
    };
    let file = requests
        .first()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "requests".into());
    Parsed {
        file,
        snapshot: snapshot.to_string(),
        snapshot_line: None,
        policy: policy.map(str::to_string),
        policy_line: None,
        setup: commands
            .into_iter()
            .map(|(_, l, j)| written(l, j))
            .collect(),
        cases: requests
            .into_iter()
            .enumerate()
            .map(|(index, (src, line, json))| {
                let action = json.get("action").and_then(Value::as_str).unwrap_or("");
                ParsedCase {
                    index,
                    name: format!("{src}:{line} {action}"),
                    line: Some(line),
                    commands: Vec::new(),
                    request: Some(written(line, json)),
                    expect: None,
                }
            })
            .collect(),
    }
}

/// A TOML basic string.
pub(crate) fn string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(o, "\\u{:04X}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        string(k)
    }
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(has_null),
        Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

/// A JSON value without nulls as an inline TOML value.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => unreachable!("callers check has_null"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(a) => format!("[{}]", a.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Object(o) if o.is_empty() => "{}".into(),
        Value::Object(o) => format!(
            "{{ {} }}",
            o.iter()
                .map(|(k, v)| format!("{} = {}", key(k), inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A request or command: an inline table, or — when it holds a JSON
/// `null`, which TOML cannot write — a string holding its JSON.
fn step(v: &Value) -> String {
    if has_null(v) {
        string(&v.to_string())
    } else {
        inline(v)
    }
}

fn steps(out: &mut String, k: &str, ws: &[Written]) {
    if ws.is_empty() {
        return;
    }
    let _ = writeln!(out, "{k} = [");
    for w in ws {
        let _ = writeln!(out, "  {},", step(&w.json));
    }
    let _ = writeln!(out, "]");
}

fn opt(v: Option<&str>) -> String {
    string(v.unwrap_or(""))
}

/// The suite as TOML, each case expecting what `run` got. `note` becomes
/// comment lines at the top.
pub fn record(suite: &Suite, run: &SuiteRun, note: &str) -> String {
    let p = &suite.parsed;
    let mut s = String::from("# authproof test suite (docs/TESTING.md)\n");
    for l in note.lines() {
        let _ = writeln!(s, "# {l}");
    }
    let _ = writeln!(s, "version = 1");
    let _ = writeln!(s, "snapshot = {}", string(&p.snapshot));
    if let Some(pol) = &p.policy {
        let _ = writeln!(s, "policy = {}", string(pol));
    }
    steps(&mut s, "commands", &p.setup);
    for (pc, r) in p.cases.iter().zip(&run.cases) {
        let _ = writeln!(s, "\n[[case]]");
        let _ = writeln!(s, "name = {}", string(&pc.name));
        steps(&mut s, "commands", &pc.commands);
        if let Some(w) = &pc.request {
            let mut j = w.json.clone();
            if let Value::Object(o) = &mut j {
                o.retain(|_, v| !v.is_null());
            }
            let _ = writeln!(s, "request = {}", step(&j));
        }
        let _ = writeln!(s, "[case.expect]");
        match &r.actual {
            Actual::Decision(d) => {
                let allow = d.decision == Verdict::Allow;
                let _ = writeln!(
                    s,
                    "decision = {}",
                    string(if allow { "allow" } else { "deny" })
                );
                if let Some(reason) = d.reason {
                    let _ = writeln!(s, "reason = {}", string(reason.code()));
                }
                let _ = writeln!(s, "status = {}", d.status);
                let _ = writeln!(s, "user = {}", opt(d.user.as_deref()));
                let cred = d
                    .credential
                    .as_ref()
                    .map(|c| format!("{} {}", c.kind.as_str(), c.id));
                let _ = writeln!(s, "credential = {}", opt(cred.as_deref()));
                let _ = writeln!(s, "tenant = {}", opt(d.tenant.as_deref()));
                let scope: Vec<String> = d.scope.iter().map(|t| string(t)).collect();
                let _ = writeln!(s, "scope = [{}]", scope.join(", "));
                let effects: Vec<String> = d
                    .effects
                    .iter()
                    .map(|e| match e {
                        Effect::ExtendSession {
                            session,
                            expires_at,
                        } => format!(
                            "{{ kind = \"extend_session\", session = {}, expires_at = {} }}",
                            string(session),
                            string(&expires_at.to_string())
                        ),
                    })
                    .collect();
                let _ = writeln!(s, "effects = [{}]", effects.join(", "));
            }
            Actual::Command(c) => {
                let word = if c.rejection().is_some() {
                    "rejected"
                } else {
                    "ok"
                };
                let _ = writeln!(s, "result = {}", string(word));
                if let Some(x) = c.rejection() {
                    let _ = writeln!(s, "reason = {}", string(x.code()));
                }
            }
        }
    }
    s
}
