//! Reading inputs: snapshot, policy, requests and commands, from bytes.
//!
//! The engine does no I/O; the caller reads a file and hands its bytes and
//! its name here. Every error is an [`Error`] naming the file, the line
//! for JSON Lines, and the JSON path (or TOML key), with what was expected —
//! never the offending value itself, which might be a secret.

use std::fmt;

use crate::{command::json_path, Command, Error, Policy, Request, Snapshot, State};

mod stream;

/// Deserializes JSON with the path of the first error.
///
/// Strict: every struct of the input types reads from a JSON object only
/// (never from serde's positional array form) and rejects a repeated field;
/// maps (`headers`) reject repeated keys themselves.
fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Located> {
    // Plain serde_json first: tracking the path costs about a third of a
    // large snapshot's parse time, and is only needed for the error. The
    // same bytes fail the same way below, now with their path.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = json_path(&e.path().to_string());
        Located::serde(path, e.inner())
    })?;
    de.end().map_err(|e| Located::serde("$".into(), &e))?;
    Ok(value)
}

/// A JSON error with its position in the document it was read from.
#[derive(Debug)]
struct Located {
    /// 1-based line and column in the bytes given; `None` when unknown
    /// (errors found after parsing, such as integrity).
    line: Option<usize>,
    column: Option<usize>,
    /// JSON path.
    path: String,
    /// What was expected, redacted.
    message: String,
}

impl Located {
    /// From a serde_json error: its position, and its message with the
    /// position suffix dropped and any quoted value redacted.
    fn serde(path: String, e: &serde_json::Error) -> Located {
        let text = e.to_string();
        let (line, column) = (e.line(), e.column());
        let suffix = format!(" at line {line} column {column}");
        let message = text.strip_suffix(&suffix).unwrap_or(&text);
        let message = crate::error::redact_values(message);
        // `duplicate field `x``: the path names the repeated key itself.
        if let Some(field) = message
            .strip_prefix("duplicate field `")
            .and_then(|r| r.split('`').next())
        {
            return Located {
                line: (line > 0).then_some(line),
                column: (line > 0).then_some(column),
                path: push_key(&path, field),
                message: format!(
                    "duplicate key `{field}`: a key may appear only once in an object"
                ),
            };
        }
        Located {
            line: (line > 0).then_some(line),
            column: (line > 0).then_some(column),
            path,
            message,
        }
    }

    /// The input error, in `file`. `line_base` is the file line of a JSON
    /// Lines record (the document's own line is then always 1).
    fn into_input(self, file: &str, line_base: Option<usize>) -> Error {
        let line = match line_base {
            Some(n) => Some(n),
            None => self.line,
        };
        let mut message = self.message;
        if let Some(c) = self.column.filter(|&c| c > 0) {
            message.push_str(&format!(" (column {c})"));
        }
        Error::invalid(self.path, message).in_file(file, line)
    }
}

/// `$.a` + `b` → `$.a.b`; a key that is not a plain name is quoted
/// (`$.headers["x y"]`), with control characters escaped.
fn push_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{key:?}]")
    }
}

/// Parses one JSON document into a [`serde_json::Value`], strictly: a key
/// repeated in any object, at any depth, is an input error naming the file,
/// the line, the column and the JSON path of the repeated key (never "last
/// wins", which is what `serde_json::from_slice::<Value>` does). Positions
/// are those of the original bytes. Trailing characters after the value are
/// an error. Messages never quote a value read from the input.
///
/// This is the one JSON reader for untyped input (command lines, traces):
/// every typed loader here is as strict (objects only, no repeated key).
pub fn json_value(bytes: &[u8], file: &str) -> Result<serde_json::Value, Error> {
    strict_value(bytes).map_err(|e| e.into_input(file, None))
}

/// [`json_value`] for one line of a JSON Lines file: the error names
/// `line` (1-based, in the file) and the column within the line.
pub fn json_value_at_line(
    bytes: &[u8],
    file: &str,
    line: usize,
) -> Result<serde_json::Value, Error> {
    strict_value(bytes).map_err(|e| e.into_input(file, Some(line)))
}

fn strict_value(bytes: &[u8]) -> Result<serde_json::Value, Located> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut track = strict::Track::default();
    let value = strict::Value(&mut track)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    value.map_err(|e| {
        let mut l = Located::serde(track.render(), &e);
        if track.duplicate {
            l.message = "duplicate key: a key may appear only once in an object".to_string();
        }
        l
    })
}

/// The strict `Value` reader: a `DeserializeSeed` that builds a
/// `serde_json::Value` in one pass, checking each object's keys against the
/// keys already read (a hash lookup: linear in the input), and keeping the
/// path to the current position, rendered only on error.
pub(crate) mod strict {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number};

    enum Seg {
        Key(String),
        Index(usize),
    }

    #[derive(Default)]
    pub(crate) struct Track {
        path: Vec<Seg>,
        pub(super) duplicate: bool,
    }

    impl Track {
        pub(super) fn render(&self) -> String {
            let mut out = String::from("$");
            for s in &self.path {
                match s {
                    Seg::Key(k) => out = super::push_key(&out, k),
                    Seg::Index(i) => out.push_str(&format!("[{i}]")),
                }
            }
            out
        }
    }

    pub(crate) struct Value<'a>(pub(crate) &'a mut Track);

    impl<'de> DeserializeSeed<'de> for Value<'_> {
        type Value = serde_json::Value;
        fn deserialize<D: de::Deserializer<'de>>(
            self,
            d: D,
        ) -> Result<serde_json::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Value<'_> {
        type Value = serde_json::Value;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<serde_json::Value, E> {
            Ok(v.into())
        }
        fn visit_i64<E>(self, v: i64) -> Result<serde_json::Value, E> {
            Ok(v.into())
        }
        fn visit_u64<E>(self, v: u64) -> Result<serde_json::Value, E> {
            Ok(v.into())
        }
        fn visit_f64<E>(self, v: f64) -> Result<serde_json::Value, E> {
            Ok(Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
        }
        fn visit_str<E>(self, v: &str) -> Result<serde_json::Value, E> {
            Ok(serde_json::Value::String(v.to_string()))
        }
        fn visit_string<E>(self, v: String) -> Result<serde_json::Value, E> {
            Ok(serde_json::Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<serde_json::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_none<E>(self) -> Result<serde_json::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<serde_json::Value, A::Error> {
            let mut out = Vec::new();
            self.0.path.push(Seg::Index(0));
            while let Some(v) = seq.next_element_seed(Value(&mut *self.0))? {
                out.push(v);
                if let Some(Seg::Index(i)) = self.0.path.last_mut() {
                    *i = out.len();
                }
            }
            self.0.path.pop();
            Ok(serde_json::Value::Array(out))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<serde_json::Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let repeated = out.contains_key(&key);
                self.0.path.push(Seg::Key(key));
                if repeated {
                    self.0.duplicate = true;
                    return Err(de::Error::custom("duplicate key"));
                }
                let v = map.next_value_seed(Value(&mut *self.0))?;
                let Some(Seg::Key(key)) = self.0.path.pop() else {
                    unreachable!("the key pushed above")
                };
                out.insert(key, v);
            }
            Ok(serde_json::Value::Object(out))
        }
    }
}

/// Parses `snapshot.json` (format only, no integrity).
pub fn parse_snapshot(bytes: &[u8], file: &str) -> Result<Snapshot, Error> {
    json(bytes).map_err(|e| e.into_input(file, None))
}

/// Parses `snapshot.json` and checks its integrity (SPEC §2), in one pass:
/// a large input (1 MiB or more) is parsed on the calling thread while a
/// second thread builds the state ([`snapshot_on`] with 2 threads).
pub fn snapshot(bytes: &[u8], file: &str) -> Result<State, Error> {
    snapshot_on(bytes, file, 2)
}

/// [`snapshot`] on at most `threads` threads: 1 parses and builds on the
/// calling thread; 2 or more builds on a second thread when the input is
/// 1 MiB or more (the load has two stages, so a third thread would idle).
/// The state and every error are the same whatever `threads` is.
pub fn snapshot_on(bytes: &[u8], file: &str, threads: usize) -> Result<State, Error> {
    match stream::snapshot(bytes, threads) {
        Some(state) => state.map_err(|e| e.in_file(file, None)),
        // Not a snapshot: the two-step parse reports why, with the path.
        None => {
            let s = parse_snapshot(bytes, file)?;
            State::from_snapshot(s).map_err(|e| e.in_file(file, None))
        }
    }
}

/// Parses `policy.toml`; the empty file is the default policy.
pub fn policy(text: &str, file: &str) -> Result<Policy, Error> {
    let de = toml::Deserializer::new(text);
    let policy = serde_path_to_error::deserialize::<_, Policy>(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // The line holding the span's first byte: one plus the newlines
        // before it (`lines().count()` missed the line a span starts at
        // when it starts a line: one line early).
        let line = inner.span().map(|s| {
            let start = floor_char_boundary(text, s.start);
            text[..start].bytes().filter(|&b| b == b'\n').count() + 1
        });
        let key = if path.is_empty() || path == "." {
            "(top level)".to_string()
        } else {
            path
        };
        // Redacted like JSON errors: a TOML value may be a secret too.
        Error::invalid(key, crate::error::redact_values(&toml_message(&inner))).in_file(file, line)
    })?;
    policy.validate().map_err(|e| e.in_file(file, None))?;
    Ok(policy)
}

/// The largest char boundary at or below `i` (clamped to the text).
fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
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
pub fn policy_json(value: serde_json::Value, file: &str) -> Result<Policy, Error> {
    let policy: Policy = serde_path_to_error::deserialize(value)
        .map_err(|e| Error::at_serde_path(&e.path().to_string(), e.inner()).in_file(file, None))?;
    policy.validate().map_err(|e| {
        // The key of `validate` as a JSON path: `$.session.ttl`.
        let path = format!("$.{}", e.path().unwrap_or_default());
        e.with_path(path).in_file(file, None)
    })?;
    Ok(policy)
}

/// Parses one `request.json`.
pub fn request(bytes: &[u8], file: &str) -> Result<Request, Error> {
    json(bytes).map_err(|e| e.into_input(file, None))
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
pub fn requests_jsonl(bytes: &[u8], file: &str) -> Result<Vec<Request>, Error> {
    lines(bytes)
        .map(|(n, l)| json(l).map_err(|e| e.into_input(file, Some(n))))
        .collect()
}

/// Parses a JSON Lines file of commands, checking that `at` never goes back.
pub fn commands_jsonl(bytes: &[u8], file: &str) -> Result<Vec<Command>, Error> {
    let mut out: Vec<Command> = Vec::new();
    for (n, l) in lines(bytes) {
        let value = json_value_at_line(l, file, n)?;
        let cmd = Command::from_value(value).map_err(|e| e.in_file(file, Some(n)))?;
        check_order(out.last(), &cmd).map_err(|e| e.in_file(file, Some(n)))?;
        out.push(cmd);
    }
    Ok(out)
}

/// Commands must have non-decreasing `at` (SPEC §8).
/// The error is at `$.at`, with no file: the caller knows where the
/// command was written.
pub fn check_order(prev: Option<&Command>, next: &Command) -> Result<(), Error> {
    match prev {
        Some(p) if next.at < p.at => Err(Error::at_path(
            "$.at",
            // The times are not echoed: like any value, they are input.
            "commands must have non-decreasing `at`: earlier than the previous command's",
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
        assert!(!e.message().trim().is_empty(), "{e}");
        assert!(
            !e.message().contains("ttl="),
            "the input is not echoed: {e}"
        );
    }
}

/// A deserializer that reads a struct from a map only: serde's derived
/// structs also accept a positional array (`["2026-…", [], …]` would load as
/// a snapshot), which no input format here allows. Every input struct's
/// `Deserialize` goes through this (see [`objects_only`]), so the rule holds
/// at every depth and for every format (JSON, TOML, a `Value`).
#[derive(Debug)]
pub(crate) struct MapOnly<D>(pub(crate) D);

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: serde::de::Visitor<'de>>(self, $($arg: $ty,)* v: V) -> Result<V::Value, D::Error> {
            self.0.$method($($arg,)* v)
        }
    )*};
}

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(ObjectVisitor(v))
    }

    forward! {
        deserialize_any(), deserialize_bool(), deserialize_i8(), deserialize_i16(),
        deserialize_i32(), deserialize_i64(), deserialize_i128(), deserialize_u8(),
        deserialize_u16(), deserialize_u32(), deserialize_u64(), deserialize_u128(),
        deserialize_f32(), deserialize_f64(), deserialize_char(), deserialize_str(),
        deserialize_string(), deserialize_bytes(), deserialize_byte_buf(),
        deserialize_option(), deserialize_unit(), deserialize_seq(), deserialize_map(),
        deserialize_identifier(), deserialize_ignored_any(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A struct visitor that accepts a map only: some deserializers (TOML)
/// answer `deserialize_map` with whatever the value is, arrays included.
struct ObjectVisitor<V>(V);

impl<'de, V: serde::de::Visitor<'de>> serde::de::Visitor<'de> for ObjectVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)?;
        f.write_str(" (an object)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}

/// Implements `Serialize` and `Deserialize` for structs derived with
/// `#[serde(remote = "Self")]`, reading them from objects only
/// ([`MapOnly`]).
macro_rules! objects_only {
    ($($t:ty),* $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$t>::deserialize($crate::load::MapOnly(d))
            }
        }
    )*};
}
pub(crate) use objects_only;
