//! Expected-decision suites: `authproof test` (docs/TESTING.md).
//!
//! A **suite** is a TOML file of cases against one snapshot and one policy.
//! A case is a request (optionally after a command sequence) or a command
//! sequence alone, with what is expected of its decision or of its last
//! command's result. Requests and commands are converted to JSON and read
//! with the engine's own loaders, so every input rule of SPEC §4 and §8
//! applies to them.
//!
//! A suite never holds a raw token. A token is written as a **reference**,
//! `{{sha256:HEX}}` or `{{sha256:HEX:PREFIX}}` ([`tokens`]): the runner puts a
//! deterministic stand-in token in its place and, in its own copy of the
//! snapshot, gives every record whose `token_sha256` is `HEX` the stand-in's
//! hash. Extraction thus runs on real header text and the decision is the
//! one the real token gets.
//!
//! The pipeline is [`parse`] (the file's structure, pure) → [`build`] (with
//! the snapshot and policy: references resolved, requests and commands
//! typed) → [`run()`] → a report ([`report`]), a [`Coverage`] of the policy,
//! or a recorded suite ([`record`]). [`load`] reads the files around it.

pub mod coverage;
mod parse;
pub mod record;
pub mod report;
mod run;
pub mod tokens;

use std::path::{Path, PathBuf};

use authproof_engine::{
    load, Command, Effect, Policy, Request, Snapshot, State, Verdict, DEFAULT_POLICY_TOML,
};

// A suite fails to load when a file cannot be read (`ErrorKind::Read`) or
// its input is not valid (`ErrorKind::Input`): the crate's one error.
use crate::Error;
use serde_json::Value;

pub use coverage::Coverage;
pub use parse::parse;
pub use record::{record, record_requests};
pub use run::{run, Actual, CaseResult, Mismatch, SuiteRun};

/// The only suite format version.
pub const VERSION: i64 = 1;

/// The name coverage and reports give the default policy.
pub const DEFAULT_POLICY_NAME: &str = "policies/default.toml";

/// Whether expectations are required (running) or written (recording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every case states its expectation; raw tokens of the snapshot are
    /// refused.
    Run,
    /// Expectations may be absent; raw tokens are turned into references.
    Record,
}

/// A request or command as written, in JSON form, with where it was written.
/// Its token references are unresolved (and, when recording, its raw tokens
/// are replaced by references).
#[derive(Clone, Debug)]
pub struct Written {
    pub json: Value,
    pub line: Option<usize>,
    /// TOML path (`case[2].commands[0]`).
    pub path: String,
}

/// What a case expects. `None` fields are not checked; `Some(None)` expects
/// null (written `""` in the file: ids are never empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    pub line: Option<usize>,
    pub decision: Option<Verdict>,
    /// A §6.2 reason for a decision, a §8.2 rejection for a command.
    pub reason: Option<String>,
    pub status: Option<u16>,
    pub user: Option<Option<String>>,
    /// `"session ses_1"` / `"api_key key_1"`.
    pub credential: Option<Option<String>>,
    pub tenant: Option<Option<String>>,
    pub scope: Option<Vec<String>>,
    pub effects: Option<Vec<Effect>>,
    /// `"ok"` or `"rejected"`: the last command's result.
    pub result: Option<String>,
}

/// One case as parsed.
#[derive(Clone, Debug)]
pub struct ParsedCase {
    pub index: usize,
    pub name: String,
    pub line: Option<usize>,
    pub commands: Vec<Written>,
    pub request: Option<Written>,
    pub expect: Option<Expect>,
}

/// A suite file's structure, before its snapshot and policy are read.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub file: String,
    /// `snapshot = "…"` as written (relative to the suite file).
    pub snapshot: String,
    pub snapshot_line: Option<usize>,
    /// `policy = "…"` as written, if any.
    pub policy: Option<String>,
    pub policy_line: Option<usize>,
    /// Top-level `commands`: applied before every case's own.
    pub setup: Vec<Written>,
    pub cases: Vec<ParsedCase>,
}

/// A case ready to run.
#[derive(Clone, Debug)]
pub struct Case {
    pub index: usize,
    pub name: String,
    pub line: Option<usize>,
    pub commands: Vec<Command>,
    pub request: Option<Request>,
    pub expect: Option<Expect>,
}

/// The policy a suite runs under: the policy itself, the name reports and
/// coverage give it, and its text (for LCOV lines).
#[derive(Clone, Debug)]
pub struct PolicySource {
    pub name: String,
    pub text: String,
    pub policy: Policy,
}

impl PolicySource {
    /// The shipped default policy, named `policies/default.toml`.
    pub fn default_policy() -> PolicySource {
        PolicySource {
            name: DEFAULT_POLICY_NAME.to_string(),
            text: DEFAULT_POLICY_TOML.to_string(),
            policy: Policy::default(),
        }
    }

    /// A policy file's text, read with the engine's loader.
    pub fn from_text(name: &str, text: &str) -> Result<PolicySource, authproof_engine::Error> {
        Ok(PolicySource {
            name: name.to_string(),
            text: text.to_string(),
            policy: load::policy(text, name)?,
        })
    }
}

/// A suite ready to run.
#[derive(Clone, Debug)]
pub struct Suite {
    /// The parsed file; when recording, its raw tokens already replaced by
    /// references.
    pub parsed: Parsed,
    pub policy: PolicySource,
    /// The snapshot with every referenced hash rewritten to its stand-in's.
    pub state: State,
    pub setup: Vec<Command>,
    pub cases: Vec<Case>,
}

impl Suite {
    /// The file the suite was read from.
    pub fn file(&self) -> &str {
        &self.parsed.file
    }
}

/// Options of [`load`].
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub mode: Mode,
    /// Runs every suite under this policy instead of its own (`--policy`).
    pub policy: Option<PolicySource>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            mode: Mode::Run,
            policy: None,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|error| Error::read(path.display().to_string(), error))
}

fn utf8(bytes: Vec<u8>, file: &str) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| {
        authproof_engine::Error::at_path("(file)", "not UTF-8 text")
            .in_file(file, None)
            .into()
    })
}

/// Reads, parses and builds the suite at `path`; its snapshot and policy
/// paths are relative to the suite file's directory.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Suite, Error> {
    let file = path.display().to_string();
    let text = utf8(read(path)?, &file)?;
    let parsed = parse(&text, &file, opts.mode)?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let snapshot_path = dir.join(&parsed.snapshot);
    let snapshot_name = snapshot_path.display().to_string();
    let snapshot = load::parse_snapshot(&read(&snapshot_path)?, &snapshot_name)?;
    let policy = match (&opts.policy, &parsed.policy) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => {
            let p = dir.join(p);
            let name = p.display().to_string();
            PolicySource::from_text(&name, &utf8(read(&p)?, &name)?)?
        }
        (None, None) => PolicySource::default_policy(),
    };
    Ok(build(parsed, snapshot, &snapshot_name, policy, opts.mode)?)
}

/// Every `*.toml` file directly in `dir` (not in subdirectories), sorted by
/// name, or `path` itself when it is a file.
pub fn expand(path: &Path) -> Result<Vec<PathBuf>, Error> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let io = |error| Error::read(path.display().to_string(), error);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.is_file() && p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Builds a parsed suite against its snapshot (parsed, not yet checked) and
/// policy: records raw tokens as references (recording) or refuses them
/// (running), resolves references to stand-ins, types every request and
/// command with the engine's loaders, and checks the snapshot's integrity
/// once its referenced hashes are rewritten.
pub fn build(
    mut parsed: Parsed,
    snapshot: Snapshot,
    snapshot_name: &str,
    policy: PolicySource,
    mode: Mode,
) -> Result<Suite, authproof_engine::Error> {
    // Integrity of the snapshot as the user wrote it: its errors name its
    // records as they are in the file.
    State::from_snapshot(snapshot.clone()).map_err(|e| e.in_file(snapshot_name, None))?;
    let known = tokens::Known::new(&snapshot);
    let file = parsed.file.clone();
    for w in all_written_mut(&mut parsed) {
        match mode {
            Mode::Record => tokens::replace_raw(&mut w.json, &policy.policy, &known),
            Mode::Run => tokens::refuse_raw(&w.json, &known).map_err(|e| located(&file, w, e))?,
        }
    }
    let mut refs = tokens::References::default();
    for w in all_written_mut(&mut parsed) {
        refs.collect(&w.json).map_err(|e| located(&file, w, e))?;
    }
    let command = |w: &Written| -> Result<Command, authproof_engine::Error> {
        Command::from_value(refs.resolve(&w.json)).map_err(|e| located(&file, w, e))
    };
    let order = |prev: Option<&Command>,
                 next: &Command,
                 w: &Written|
     -> Result<(), authproof_engine::Error> {
        load::check_order(prev, next).map_err(|e| located(&file, w, e))
    };
    let mut setup: Vec<Command> = Vec::new();
    for w in &parsed.setup {
        let c = command(w)?;
        order(setup.last(), &c, w)?;
        setup.push(c);
    }
    let mut cases = Vec::new();
    for pc in &parsed.cases {
        let mut commands: Vec<Command> = Vec::new();
        for w in &pc.commands {
            let c = command(w)?;
            order(commands.last().or(setup.last()), &c, w)?;
            commands.push(c);
        }
        let request = match &pc.request {
            None => None,
            Some(w) => {
                let bytes = serde_json::to_vec(&refs.resolve(&w.json)).expect("JSON serializes");
                let r = load::request(&bytes, &file).map_err(|e| located(&file, w, e))?;
                if let Some(prev) = commands.last().or(setup.last()) {
                    if r.at < prev.at {
                        let e = authproof_engine::Error::at_path(
                            "$.at",
                            format_args!(
                                "the request's `at` {} is earlier than the last command's {}",
                                r.at, prev.at
                            ),
                        );
                        return Err(located(&file, w, e));
                    }
                }
                Some(r)
            }
        };
        cases.push(Case {
            index: pc.index,
            name: pc.name.clone(),
            line: pc.line,
            commands,
            request,
            expect: pc.expect.clone(),
        });
    }
    let state = State::from_snapshot(refs.rewrite(snapshot)).map_err(|e| {
        authproof_engine::Error::at_path(
            e.path().unwrap_or("$"),
            format_args!(
                "{} (after resolving the token references of {file})",
                e.message()
            ),
        )
        .in_file(snapshot_name, None)
    })?;
    Ok(Suite {
        parsed,
        policy,
        state,
        setup,
        cases,
    })
}

fn all_written_mut(p: &mut Parsed) -> Vec<&mut Written> {
    let mut v: Vec<&mut Written> = p.setup.iter_mut().collect();
    for c in &mut p.cases {
        v.extend(c.commands.iter_mut());
        v.extend(c.request.iter_mut());
    }
    v
}

/// An input error at a written request or command; the JSON path inside it
/// (`$.headers.cookie`) is appended to the TOML path
/// (`case[1].request.headers.cookie`).
fn located(file: &str, w: &Written, sub: authproof_engine::Error) -> authproof_engine::Error {
    sub.nested_in(&w.path).in_file(file, w.line)
}
#[cfg(test)]
mod tests;
