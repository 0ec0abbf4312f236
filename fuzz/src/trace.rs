//! `authproof-trace/1` JSON (SPEC §10): `{"format", "policy", "snapshot",
//! "steps"}`, replayable by `authproof replay`.

use authproof_engine::{load, Command, Policy};
use serde_json::{json, Value};

use crate::gen::Case;

/// The trace format tag.
pub const FORMAT: &str = "authproof-trace/1";

/// A case as a trace. The policy is `null` when it is the default.
pub fn to_json(case: &Case) -> Value {
    let policy = if case.policy == Policy::default() {
        Value::Null
    } else {
        serde_json::to_value(&case.policy).expect("a policy serializes")
    };
    json!({
        "format": FORMAT,
        "policy": policy,
        "snapshot": case.snapshot,
        "steps": case.steps,
    })
}

/// Reads a trace: format tag, policy (null = default), snapshot (with its
/// integrity checked by the caller), steps with non-decreasing `at`.
pub fn from_json(bytes: &[u8], file: &str) -> Result<Case, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("{file}: not JSON: {e}"))?;
    let Value::Object(mut obj) = v else {
        return Err(format!("{file}: $: expected a trace object"));
    };
    match obj.remove("format") {
        Some(Value::String(f)) if f == FORMAT => {}
        _ => return Err(format!("{file}: $.format: expected {FORMAT:?}")),
    }
    let policy = match obj.remove("policy") {
        None | Some(Value::Null) => Policy::default(),
        Some(p) => load::policy_json(p, file).map_err(|e| e.to_string())?,
    };
    let snapshot = obj
        .remove("snapshot")
        .ok_or_else(|| format!("{file}: $: missing field `snapshot`"))?;
    let snapshot =
        load::parse_snapshot(snapshot.to_string().as_bytes(), file).map_err(|e| e.to_string())?;
    let Some(Value::Array(raw)) = obj.remove("steps") else {
        return Err(format!("{file}: $.steps: expected an array of commands"));
    };
    if let Some(k) = obj.keys().next() {
        return Err(format!("{file}: $: unknown field `{k}`"));
    }
    let mut steps: Vec<Command> = Vec::with_capacity(raw.len());
    for (i, s) in raw.into_iter().enumerate() {
        let c = Command::from_value(s).map_err(|e| format!("{file}: $.steps[{i}]: {e}"))?;
        load::check_order(steps.last(), &c).map_err(|e| format!("{file}: $.steps[{i}]: {e}"))?;
        steps.push(c);
    }
    Ok(Case {
        policy,
        snapshot,
        steps,
    })
}
