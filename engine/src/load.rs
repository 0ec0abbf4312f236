//! Reading inputs: snapshot, policy, requests and commands, from bytes.
//!
//! The engine does no I/O; the caller reads a file and hands its bytes and
//! its name here. Every error is an [`InputError`] naming the file, the line
//! for JSON Lines, and the JSON path (or TOML key), with what was expected —
//! never the offending value itself, which might be a secret.

use std::fmt;

use crate::{command::json_path, Command, FieldError, Policy, Request, Snapshot, State};

/// An input error: which file, where in it, and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    /// 1-based line, for JSON Lines inputs.
    pub line: Option<usize>,
    /// JSON path (`$.api_keys[3].tenant`) or TOML key (`session.ttl`).
    pub path: String,
    pub message: String,
}

impl InputError {
    fn new(file: &str, line: Option<usize>, e: FieldError) -> InputError {
        InputError {
            file: file.to_string(),
            line,
            path: e.path,
            message: e.message,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}: {}", self.file, self.path, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.path, self.message),
        }
    }
}

impl std::error::Error for InputError {}

/// Deserializes JSON with the path of the first error.
fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    // Plain serde_json first: tracking the path costs about a third of a
    // large snapshot's parse time, and is only needed for the error. The
    // same bytes fail the same way below, now with their path.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| FieldError::from_path(e.path().to_string(), e.inner()))?;
    de.end().map_err(|e| {
        FieldError::new(
            "$",
            format_args!("trailing characters after the JSON value: {e}"),
        )
    })?;
    Ok(value)
}

/// Parses `snapshot.json` (format only, no integrity).
pub fn parse_snapshot(bytes: &[u8], file: &str) -> Result<Snapshot, InputError> {
    json(bytes).map_err(|e| InputError::new(file, None, e))
}

/// Parses `snapshot.json` and checks its integrity (SPEC §2).
pub fn snapshot(bytes: &[u8], file: &str) -> Result<State, InputError> {
    let s = parse_snapshot(bytes, file)?;
    State::from_snapshot(s).map_err(|e| InputError::new(file, None, e))
}

/// Parses `policy.toml`; the empty file is the default policy.
pub fn policy(text: &str, file: &str) -> Result<Policy, InputError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize::<_, Policy>(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let line = inner
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let key = if path.is_empty() || path == "." {
            "(top level)".to_string()
        } else {
            path
        };
        InputError {
            file: file.to_string(),
            line,
            path: key,
            // Redacted like JSON errors: a TOML value may be a secret too.
            message: crate::command::redact_values(&toml_message(&inner)),
        }
    })
}

/// The description of a TOML error. Some syntax errors leave `message()`
/// empty and describe themselves only in the rendered report, whose snippet
/// of the input is dropped here (the input is not echoed).
fn toml_message(e: &toml::de::Error) -> String {
    let m = e.message().trim_end();
    if !m.is_empty() {
        return m.to_string();
    }
    let rendered = e.to_string();
    let described: Vec<&str> = rendered
        .lines()
        .skip(1)
        // Drop the snippet: gutter lines (`  |`, `1 | ttl=`) quote the input.
        .filter(|l| !l.contains('|'))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if described.is_empty() {
        "invalid TOML".to_string()
    } else {
        described.join("; ")
    }
}

/// Parses a policy given as JSON (the form traces carry).
pub fn policy_json(value: serde_json::Value, file: &str) -> Result<Policy, InputError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        InputError::new(
            file,
            None,
            FieldError::from_path(e.path().to_string(), e.inner()),
        )
    })
}

/// Parses one `request.json`.
pub fn request(bytes: &[u8], file: &str) -> Result<Request, InputError> {
    json(bytes).map_err(|e| InputError::new(file, None, e))
}

/// Non-empty lines of a JSON Lines file, with their 1-based numbers.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
}

/// Parses a JSON Lines file of requests.
pub fn requests_jsonl(bytes: &[u8], file: &str) -> Result<Vec<Request>, InputError> {
    lines(bytes)
        .map(|(n, l)| json(l).map_err(|e| InputError::new(file, Some(n), e)))
        .collect()
}

/// Parses a JSON Lines file of commands, checking that `at` never goes back.
pub fn commands_jsonl(bytes: &[u8], file: &str) -> Result<Vec<Command>, InputError> {
    let mut out: Vec<Command> = Vec::new();
    for (n, l) in lines(bytes) {
        let value: serde_json::Value = json(l).map_err(|e| InputError::new(file, Some(n), e))?;
        let cmd = Command::from_value(value).map_err(|e| InputError::new(file, Some(n), e))?;
        check_order(out.last(), &cmd).map_err(|e| InputError::new(file, Some(n), e))?;
        out.push(cmd);
    }
    Ok(out)
}

/// Commands must have non-decreasing `at` (SPEC §8).
pub fn check_order(prev: Option<&Command>, next: &Command) -> Result<(), FieldError> {
    match prev {
        Some(p) if next.at < p.at => Err(FieldError::new(
            "$.at",
            format_args!(
                "commands must have non-decreasing `at`: {} is earlier than the previous command's {}",
                next.at, p.at
            ),
        )),
        _ => Ok(()),
    }
}

/// Re-exported for callers that report paths of their own.
pub fn path_of(serde_path: &str) -> String {
    json_path(serde_path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn toml_syntax_errors_have_a_message() {
        // Found by the policy_toml fuzz target: `message()` is empty here.
        let e = super::policy("ttl=", "p.toml").unwrap_err();
        assert!(!e.message.trim().is_empty(), "{e}");
        assert!(!e.message.contains("ttl="), "the input is not echoed: {e}");
    }
}
