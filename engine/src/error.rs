//! The engine's one error type, [`Error`].
//!
//! Everything the engine refuses is an input that is not what SPEC §1–§4
//! and §8 allow: a snapshot, policy, request or command (where: file, line,
//! JSON path or TOML key; what: the expected form), or a single value given
//! in code (an [`Id`](crate::Id), a [`Timestamp`](crate::Timestamp), a
//! [`Duration`](crate::Duration), a
//! [`CookieSecret`](crate::signed::CookieSecret)). One type serves them all.
//!
//! *Why opaque* (a struct with accessors, its kind private, after
//! `regex-automata`): callers only ever print an engine error or move it to
//! another file and line; none branches on why an id was refused. Rejected:
//! one public type per concern with public fields (what this replaced: six
//! types, every new check a breaking change, and callers could build
//! errors that skip the two rules every message keeps); a
//! `Box<dyn Error>` or `anyhow` (callers could no longer ask where). The
//! rules: it **never echoes an input value** (serde's quoted values are
//! removed, [`redact_values`]) and it **escapes control characters** when
//! displayed, so a file name or JSON key never writes an escape sequence to
//! a terminal. Constructors from other crates ([`Error::at_path`]) take a
//! message they promise holds no value; the escaping holds for every error.
//!
//! *Why no [`source`](std::error::Error::source)*: the causes are serde,
//! serde_json and toml errors, whose messages quote the input (a token
//! pasted into an id field would come back). They are turned into a
//! redacted message here instead of being chained; an engine error ends the
//! chain.

use std::fmt;

/// An input the engine refuses: where it is (file, line, JSON path or TOML
/// key, each when known) and what was expected, never the value itself.
///
/// Displayed as `file[:line]: path: message`, with the parts not known left
/// out (`path: message`, or the message alone for a value given in code),
/// control characters and bidirectional overrides escaped as `\u{…}`.
///
/// Other crates that check inputs of their own (suites, traces) build one
/// with [`Error::at_path`] or [`Error::at_serde_path`] and attach the file
/// with [`Error::in_file`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<Inner>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    file: Option<String>,
    /// 1-based, in the file; only with a file.
    line: Option<usize>,
    /// A JSON path (`$.api_keys[3].tenant`) or a TOML key (`session.ttl`).
    path: Option<String>,
}

/// Why; each kind is its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    IdEmpty,
    IdTooLong,
    IdControl,
    Timestamp,
    TimestampRange,
    Duration,
    DurationRange,
    SecretEmpty,
    /// A policy value that loads but can never work.
    PolicyValue(&'static str),
    /// Any other input error: what was expected, redacted.
    Invalid(String),
}

impl ErrorKind {
    fn message(&self) -> &str {
        match self {
            ErrorKind::IdEmpty => "an id must not be empty",
            ErrorKind::IdTooLong => "an id must be at most 128 bytes",
            ErrorKind::IdControl => "an id must not contain control characters",
            ErrorKind::Timestamp => {
                "expected an RFC 3339 timestamp such as \"2026-05-28T12:00:00Z\""
            }
            ErrorKind::TimestampRange => {
                "timestamp outside 0000-01-01T00:00:00Z..9999-12-31T23:59:59Z"
            }
            ErrorKind::Duration => {
                "expected a duration: \"<n>s\", \"<n>m\", \"<n>h\", \"<n>d\" or whole seconds"
            }
            ErrorKind::DurationRange => "duration out of range (0 to 10000 years)",
            ErrorKind::SecretEmpty => "the cookie secret is empty",
            ErrorKind::PolicyValue(m) => m,
            ErrorKind::Invalid(m) => m,
        }
    }
}

impl Error {
    /// An error of this kind, with no location yet.
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Inner {
            kind,
            file: None,
            line: None,
            path: None,
        }))
    }

    /// An input error at `path`: a JSON path (`$.steps[3].at`, `$` for the
    /// whole document) or a TOML key (`case[2].request`), and what was
    /// expected there.
    ///
    /// The message must not hold a value read from the input (SPEC §1: it
    /// might be a token pasted into the wrong field); name fields, paths and
    /// the expected form instead. Control characters in the path and the
    /// message are escaped when the error is displayed.
    pub fn at_path(path: impl Into<String>, message: impl fmt::Display) -> Error {
        Error::invalid(path.into(), message.to_string())
    }

    /// An input error from a serde error (`message`) at a path as
    /// `serde_path_to_error` renders it (`a.b[0]`, `.` for the root; it
    /// becomes `$.a.b[0]`). The values serde quotes (`invalid type: string
    /// "…"`, ``unknown variant `…` ``) are removed from the message.
    pub fn at_serde_path(path: &str, message: impl fmt::Display) -> Error {
        Error::invalid(
            crate::command::json_path(path),
            redact_values(&message.to_string()),
        )
    }

    /// The same error, located in `file` (and at `line`, 1-based, for
    /// JSON Lines and TOML): what an input error becomes once the caller
    /// knows which file the document came from.
    pub fn in_file(mut self, file: impl Into<String>, line: Option<usize>) -> Error {
        self.0.file = Some(file.into());
        self.0.line = line;
        self
    }

    /// The same error for a document that sits at `prefix` in a larger one
    /// (a command in a trace, a request in a suite): `$.headers.cookie`
    /// under `$.steps[3]` is `$.steps[3].headers.cookie`, under
    /// `case[1].request` (a TOML key) `case[1].request.headers.cookie`; the
    /// document itself (`$`) is `prefix`.
    pub fn nested_in(mut self, prefix: &str) -> Error {
        let path = self.0.path.as_deref().unwrap_or("$");
        let rest = path.strip_prefix('$').unwrap_or(path);
        self.0.path = Some(if rest.is_empty() {
            prefix.to_string()
        } else if rest.starts_with('.') || rest.starts_with('[') {
            format!("{prefix}{rest}")
        } else {
            format!("{prefix}.{rest}")
        });
        self
    }

    pub(crate) fn invalid(path: String, message: String) -> Error {
        Error::new(ErrorKind::Invalid(message)).with_path(path)
    }

    pub(crate) fn with_path(mut self, path: String) -> Error {
        self.0.path = Some(path);
        self
    }

    #[cfg(test)]
    pub(crate) fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The file the input came from, as the caller named it.
    pub fn file(&self) -> Option<&str> {
        self.0.file.as_deref()
    }

    /// The 1-based line in [`file`](Error::file), when known (JSON Lines,
    /// TOML, and JSON syntax errors).
    pub fn line(&self) -> Option<usize> {
        self.0.line
    }

    /// Where in the document: a JSON path (`$.api_keys[3].tenant`) or a
    /// TOML key (`session.ttl`); `None` for a value given in code.
    pub fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    /// What was expected (or which rule was broken), without the location:
    /// never a value read from the input. Not escaped; the error's
    /// [`Display`](fmt::Display) escapes it.
    pub fn message(&self) -> &str {
        self.0.kind.message()
    }
}

impl fmt::Display for Error {
    /// `file[:line]: path: message`, the parts not known left out, with
    /// control characters escaped: a file name or a JSON key never writes
    /// an escape sequence raw to a terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.0.file {
            write!(f, "{}", Escaped(file))?;
            if let Some(line) = self.0.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(path) = &self.0.path {
            write!(f, "{}: ", Escaped(path))?;
        }
        write!(f, "{}", Escaped(self.message()))
    }
}

impl std::error::Error for Error {}

/// Displays a string with control characters (and bidirectional
/// overrides) escaped as `\u{…}`.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// Drops the values serde quotes in its error messages (`invalid type:
/// string "…"`, `integer `…``, `floating point `…``, `character `…``,
/// `unknown variant `…``): an input error never echoes a value, which might
/// be a token pasted into the wrong field (SPEC §1, docs/INPUTS.md). The
/// kind of the value ("string", "integer") and field names are kept.
pub(crate) fn redact_values(msg: &str) -> String {
    /// A marker, and how its quoted value ends.
    const MARKERS: [(&str, End); 6] = [
        ("string \"", End::Quote),
        ("variant `", End::VariantList),
        ("integer `", End::Backtick),
        ("floating point `", End::Backtick),
        ("character `", End::Char),
        ("boolean `", End::Backtick),
    ];
    #[derive(Clone, Copy)]
    enum End {
        Quote,
        VariantList,
        Backtick,
        Char,
    }
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    'scan: while !rest.is_empty() {
        for (marker, end) in MARKERS {
            let Some(value) = rest.strip_prefix(marker) else {
                continue;
            };
            // Keep the word ("string", "integer"), drop the quoted value.
            out.push_str(&marker[..marker.len() - 2]);
            let len = match end {
                // A Rust-escaped string: ends at the first unescaped quote.
                End::Quote => {
                    let mut escaped = false;
                    value
                        .char_indices()
                        .find(|&(_, c)| {
                            let close = c == '"' && !escaped;
                            escaped = c == '\\' && !escaped;
                            close
                        })
                        .map(|(j, _)| j + 1)
                }
                // `unknown variant `…`, expected …` (or `…`, there are no variants).
                End::VariantList => value.find("`, ").map(|j| j + 1),
                End::Backtick => value.find('`').map(|j| j + 1),
                // One character, then the closing backtick.
                End::Char => value
                    .char_indices()
                    .nth(1)
                    .and_then(|(j, _)| value[j..].starts_with('`').then_some(j + 1)),
            };
            rest = len.map_or("", |j| &value[j..]);
            continue 'scan;
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_leaves_out_what_is_not_known() {
        let e = Error::new(ErrorKind::IdEmpty);
        assert_eq!(e.to_string(), "an id must not be empty");
        assert_eq!((e.file(), e.line(), e.path()), (None, None, None));
        let e = Error::at_path("$.users[0].id", "an id must not be empty");
        assert_eq!(e.to_string(), "$.users[0].id: an id must not be empty");
        let e = e.in_file("s.json", None);
        assert_eq!(
            e.to_string(),
            "s.json: $.users[0].id: an id must not be empty"
        );
        let e = e.in_file("c.jsonl", Some(3));
        assert_eq!(
            e.to_string(),
            "c.jsonl:3: $.users[0].id: an id must not be empty"
        );
        assert_eq!(
            (e.file(), e.line(), e.path(), e.message()),
            (
                Some("c.jsonl"),
                Some(3),
                Some("$.users[0].id"),
                "an id must not be empty"
            )
        );
    }

    #[test]
    fn display_escapes_control_characters() {
        let e = Error::at_path("$[\"\u{1b}[31m\"]", "unknown field `\u{202e}x`")
            .in_file("a\u{7}.json", Some(1));
        assert_eq!(
            e.to_string(),
            "a\\u{7}.json:1: $[\"\\u{1b}[31m\"]: unknown field `\\u{202e}x`"
        );
        // The accessors give the text as built; only Display escapes.
        assert_eq!(e.message(), "unknown field `\u{202e}x`");
    }

    #[test]
    fn nested_paths() {
        let nest = |path: &str, prefix: &str| {
            Error::at_path(path, "m")
                .nested_in(prefix)
                .path()
                .unwrap()
                .to_string()
        };
        assert_eq!(nest("$.at", "$.steps[3]"), "$.steps[3].at");
        assert_eq!(nest("$[0]", "$.snapshot"), "$.snapshot[0]");
        assert_eq!(nest("$", "$.policy"), "$.policy");
        assert_eq!(
            nest("$.headers.cookie", "case[1].request"),
            "case[1].request.headers.cookie"
        );
        assert_eq!(nest("ttl", "policy"), "policy.ttl");
        assert_eq!(
            Error::new(ErrorKind::IdEmpty).nested_in("$.x").path(),
            Some("$.x")
        );
    }

    #[test]
    fn serde_messages_lose_their_values() {
        let e = Error::at_serde_path("a.b[0]", "invalid type: string \"sk_live_x\", expected u64");
        assert_eq!(e.path(), Some("$.a.b[0]"));
        assert_eq!(e.message(), "invalid type: string, expected u64");
        assert_eq!(Error::at_serde_path(".", "x").path(), Some("$"));
    }

    /// An engine error ends the chain: its causes (serde, toml) quote the
    /// input, so they become a redacted message, never a `source()`.
    #[test]
    fn ends_the_source_chain() {
        let e = crate::load::policy("[session]\nttl = \"sk_live_secret\"", "p.toml").unwrap_err();
        assert!(e.source().is_none());
        assert!(!e.to_string().contains("sk_live"), "{e}");
    }
}
