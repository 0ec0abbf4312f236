//! Traces (SPEC §10): a policy, an initial snapshot and the commands to run
//! on it, as one replayable JSON document.
//!
//! ```json
//! {"format": "authproof-trace/1", "policy": null,
//!  "snapshot": {...}, "steps": [{"at": "...", "op": "login", ...}]}
//! ```
//!
//! `policy` is the policy as JSON, or `null` for the default policy. A trace
//! is test input, like a request file: the tokens its commands present are
//! written verbatim so it replays on any machine.

use std::fmt::Write as _;

use authproof_engine::{load, Command, Error, Policy, Snapshot, State};
use serde_json::Value;

/// The `format` value of this version.
pub const FORMAT: &str = "authproof-trace/1";

/// A trace: everything needed to re-run a sequence of commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub policy: Policy,
    pub snapshot: Snapshot,
    pub steps: Vec<Command>,
}

fn err(file: &str, path: &str, message: impl std::fmt::Display) -> Error {
    Error::at_path(path, message).in_file(file, None)
}

impl Trace {
    /// Parses a trace. Errors name `file` and the JSON path; the snapshot
    /// must pass integrity and the steps must have non-decreasing `at`.
    pub fn parse(bytes: &[u8], file: &str) -> Result<Trace, Error> {
        // The engine's strict reader: a duplicate key anywhere is an error
        // (never "last wins": `steps` twice would replay the second), with
        // its line and column in these bytes.
        let value = load::json_value(bytes, file)?;
        Trace::from_value(value, file)
    }

    /// Reads a trace from a JSON value (see [`Trace::parse`]).
    pub fn from_value(value: Value, file: &str) -> Result<Trace, Error> {
        let Value::Object(mut obj) = value else {
            return Err(err(file, "$", "expected a trace object"));
        };
        match obj.remove("format") {
            Some(Value::String(f)) if f == FORMAT => {}
            Some(_) => {
                return Err(err(
                    file,
                    "$.format",
                    format_args!("unsupported trace format (expected {FORMAT:?})"),
                ))
            }
            None => return Err(err(file, "$", "missing field `format`")),
        }
        let policy = match obj.remove("policy") {
            None | Some(Value::Null) => Policy::default(),
            Some(v) => load::policy_json(v, file).map_err(|e| e.nested_in("$.policy"))?,
        };
        let snapshot: Snapshot = match obj.remove("snapshot") {
            None => return Err(err(file, "$", "missing field `snapshot`")),
            Some(v) => serde_path_to_snapshot(v)
                .map_err(|e| e.nested_in("$.snapshot").in_file(file, None))?,
        };
        State::from_snapshot(snapshot.clone())
            .map_err(|e| e.nested_in("$.snapshot").in_file(file, None))?;
        let steps = match obj.remove("steps") {
            None => return Err(err(file, "$", "missing field `steps`")),
            Some(Value::Array(items)) => {
                let mut out: Vec<Command> = Vec::with_capacity(items.len());
                for (i, v) in items.into_iter().enumerate() {
                    let at = |e: Error| e.nested_in(&format!("$.steps[{i}]")).in_file(file, None);
                    let cmd = Command::from_value(v).map_err(at)?;
                    load::check_order(out.last(), &cmd).map_err(at)?;
                    out.push(cmd);
                }
                out
            }
            Some(_) => return Err(err(file, "$.steps", "expected an array of commands")),
        };
        if let Some(k) = obj.keys().next() {
            return Err(err(
                file,
                "$",
                format_args!(
                    "unknown field `{k}`, expected one of `format`, `policy`, `snapshot`, `steps`"
                ),
            ));
        }
        Ok(Trace {
            policy,
            snapshot,
            steps,
        })
    }

    /// The trace as JSON: the policy is `null` when it is the default.
    pub fn to_value(&self) -> Value {
        let policy = if self.policy == Policy::default() {
            Value::Null
        } else {
            serde_json::to_value(&self.policy).expect("policies serialize")
        };
        serde_json::json!({
            "format": FORMAT,
            "policy": policy,
            "snapshot": self.snapshot,
            "steps": self.steps,
        })
    }

    /// The trace as a readable file: pretty-printed, one step per line.
    pub fn to_json(&self) -> String {
        let v = self.to_value();
        let indent = |s: String| s.replace('\n', "\n  ");
        let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("values serialize");
        let mut s = String::new();
        let _ = writeln!(s, "{{");
        let _ = writeln!(s, "  \"format\": {},", pretty(&v["format"]));
        let _ = writeln!(s, "  \"policy\": {},", indent(pretty(&v["policy"])));
        let _ = writeln!(s, "  \"snapshot\": {},", indent(pretty(&v["snapshot"])));
        if self.steps.is_empty() {
            let _ = writeln!(s, "  \"steps\": []");
        } else {
            let _ = writeln!(s, "  \"steps\": [");
            for (i, step) in self.steps.iter().enumerate() {
                let line = serde_json::to_string(step).expect("commands serialize");
                let comma = if i + 1 < self.steps.len() { "," } else { "" };
                let _ = writeln!(s, "    {line}{comma}");
            }
            let _ = writeln!(s, "  ]");
        }
        let _ = writeln!(s, "}}");
        s
    }
}

/// Deserializes a snapshot with the JSON path of the first error.
/// The snapshot of a trace, read from the value itself: re-serializing it to
/// reuse the byte loader would report line and column of the copy, not of
/// the file, so errors here name the JSON path only.
fn serde_path_to_snapshot(v: Value) -> Result<Snapshot, Error> {
    serde_path_to_error::deserialize(v)
        .map_err(|e| Error::at_serde_path(&e.path().to_string(), e.inner()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(steps: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "format": FORMAT,
            "policy": null,
            "snapshot": {"tenants": [{"id": "acme"}], "users": [{"id": "alice"}]},
            "steps": steps,
        }))
        .unwrap()
    }

    #[test]
    fn round_trips() {
        let t = Trace::parse(
            &doc(json!([{"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": "bob"}])),
            "t.json",
        )
        .unwrap();
        assert_eq!(t.steps.len(), 1);
        let back = Trace::parse(t.to_json().as_bytes(), "t.json").unwrap();
        assert_eq!(back, t);
        let p = Trace {
            policy: Policy {
                credentials: authproof_engine::CredentialsPolicy {
                    multiple: authproof_engine::Multiple::Deny,
                    ..Default::default()
                },
                ..Policy::default()
            },
            ..t
        };
        assert_eq!(Trace::parse(p.to_json().as_bytes(), "t.json").unwrap(), p);
    }

    /// A repeated key is an error with its position in the file, never
    /// "last wins": `steps` twice used to replay the second (empty) list and
    /// say "held"; a step with two `user`s acted on the second.
    #[test]
    fn duplicate_keys_are_refused_where_they_are() {
        let text = "{\"format\": \"authproof-trace/1\", \"policy\": null,\n\
             \"snapshot\": {\"tenants\": [], \"users\": []},\n\
             \"steps\": [{\"at\": \"2026-05-28T12:00:00Z\", \"op\": \"create_user\", \"user\": \"a\"}],\n\
             \"steps\": []}";
        let e = Trace::parse(text.as_bytes(), "t.json").unwrap_err();
        assert_eq!((e.path().unwrap(), e.line()), ("$.steps", Some(4)), "{e}");
        let text = "{\"format\": \"authproof-trace/1\", \"policy\": null,\n\
             \"snapshot\": {\"tenants\": [], \"users\": []},\n\
             \"steps\": [{\"at\": \"2026-05-28T12:00:00Z\", \"op\": \"create_user\",\n\
             \"user\": \"a\", \"user\": \"b\"}]}";
        let e = Trace::parse(text.as_bytes(), "t.json").unwrap_err();
        assert_eq!(
            (e.path().unwrap(), e.line()),
            ("$.steps[0].user", Some(4)),
            "{e}"
        );
    }

    /// An error inside the snapshot names its path and no made-up position
    /// (the snapshot is read from the parsed value, not a re-serialization).
    #[test]
    fn snapshot_errors_have_a_path_and_no_false_position() {
        let text = "{\"format\": \"authproof-trace/1\", \"policy\": null,\n\
             \"snapshot\": {\"tenants\": [{\"id\": 7}], \"users\": []}, \"steps\": []}";
        let e = Trace::parse(text.as_bytes(), "t.json").unwrap_err();
        assert_eq!(
            (e.path().unwrap(), e.line()),
            ("$.snapshot.tenants[0].id", None),
            "{e}"
        );
        assert!(!e.to_string().contains('7'), "{e}");
    }

    #[test]
    fn errors_name_file_and_path() {
        let e = Trace::parse(
            &doc(json!([{"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": ""}])),
            "t.json",
        )
        .unwrap_err();
        assert_eq!(
            (e.file().unwrap(), e.path().unwrap()),
            ("t.json", "$.steps[0].user")
        );
        let e = Trace::parse(
            &doc(json!([
                {"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": "a"},
                {"at": "2026-05-28T11:00:00Z", "op": "create_user", "user": "b"}
            ])),
            "t.json",
        )
        .unwrap_err();
        assert_eq!(e.path().unwrap(), "$.steps[1].at");
        let bad = serde_json::to_vec(
            &json!({"format": FORMAT, "policy": {"session": {"ttl": "x"}},
            "snapshot": {}, "steps": []}),
        )
        .unwrap();
        let e = Trace::parse(&bad, "t.json").unwrap_err();
        assert_eq!(e.path().unwrap(), "$.policy.session.ttl");
        let bad = serde_json::to_vec(&json!({"format": FORMAT, "policy": null,
            "snapshot": {"memberships": [{"user": "x", "tenant": "y", "role": "r"}]}, "steps": []}))
        .unwrap();
        let e = Trace::parse(&bad, "t.json").unwrap_err();
        assert_eq!(e.path().unwrap(), "$.snapshot.memberships[0].user");
    }
}
