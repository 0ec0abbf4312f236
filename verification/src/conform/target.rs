//! A live target: an adapter process spoken to over JSON Lines, as an
//! [`Implementation`] the lockstep harness runs beside the model.
//!
//! The adapter answers in authproof's result shape but may leave out what
//! the service cannot say (its `hello` declares what). [`Target`] keeps its
//! own copy of the reference model only to fill in what was not observed:
//! each result it returns to the harness is the model's expectation with
//! every *observed* field overlaid, so the harness compares exactly what the
//! target declared it can show, and a wrong answer still reaches every
//! invariant (an allow of a revoked session is an allow with the target's
//! user, credential and scope, judged by I2).

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command as Process, Stdio},
    sync::mpsc::{self, Receiver, RecvTimeoutError},
    time::Duration,
};

use authproof_engine::{
    Change, Command, CommandResult, CredentialRef, Decision, Effect, Id, Policy, Reason, Rejection,
    Snapshot, Verdict,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::protocol::{Hello, ResetKind, PROTOCOL};
use crate::{
    redact::{redact, secrets},
    Implementation, Model,
};

/// Why the target could not be run (exit 1: not a finding): its
/// `target.toml`, or the adapter process (it would not start, exited, timed
/// out, broke the protocol or reported an error).
///
/// Its own type, not a kind of [`crate::Error`]: it is the implementation's
/// error, the `source()` of the [`crate::Error`] a run ends with, as a
/// store's error is for a store. Opaque like it; the messages name the
/// request, never a token the step presented.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TargetError(Box<Kind>);

#[derive(Debug, thiserror::Error)]
enum Kind {
    #[error("{file}: {message}")]
    Spec { file: String, message: String },
    #[error("could not start the adapter `{command}`")]
    Spawn {
        command: String,
        #[source]
        error: std::io::Error,
    },
    #[error("the adapter exited ({status}) while answering {request}")]
    Exited { request: String, status: String },
    #[error("the adapter did not answer {request} within {secs:.1} s")]
    Timeout { request: String, secs: f64 },
    #[error("the adapter's answer to {request} is not valid: {message}")]
    Protocol { request: String, message: String },
    #[error("the adapter could not do {request}: {message}")]
    Adapter { request: String, message: String },
    // The I/O error is in the message and chained: what `authproof conform`
    // has always printed.
    #[error("writing to the adapter: {0}")]
    Io(#[source] std::io::Error),
}

impl From<Kind> for TargetError {
    fn from(kind: Kind) -> TargetError {
        TargetError(Box::new(kind))
    }
}

/// A target as `target.toml` describes it.
#[derive(Clone, Debug)]
pub struct TargetSpec {
    /// The file it was read from (for messages).
    pub file: PathBuf,
    /// The directory the adapter runs in; relative paths are resolved here.
    pub dir: PathBuf,
    pub name: String,
    /// argv of the adapter; a first word `authproof` is this executable.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// The policy describing the service's configuration (a path relative
    /// to `dir`), used when `--policy` is not given.
    pub policy: Option<PathBuf>,
    /// Per message.
    pub timeout: Duration,
    /// For `hello` (the service starts) and `reset`.
    pub startup: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    name: Option<String>,
    command: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    policy: Option<PathBuf>,
    timeout_secs: Option<f64>,
    startup_secs: Option<f64>,
}

impl TargetSpec {
    /// Reads `path`: a directory holding `target.toml`, or a TOML file.
    pub fn load(path: &Path) -> Result<TargetSpec, TargetError> {
        let file = if path.is_dir() {
            path.join("target.toml")
        } else {
            path.to_path_buf()
        };
        let name = file.display().to_string();
        let spec_err = |message: String| Kind::Spec {
            file: name.clone(),
            message,
        };
        let text = std::fs::read_to_string(&file).map_err(|e| spec_err(e.to_string()))?;
        let f: SpecFile = toml::from_str(&text).map_err(|e| spec_err(e.message().to_string()))?;
        if f.command.is_empty() {
            return Err(spec_err("command: expected the adapter's argv".into()).into());
        }
        let secs = |v: Option<f64>, d: f64, key: &str| -> Result<Duration, TargetError> {
            let v = v.unwrap_or(d);
            if v.is_finite() && v > 0.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(spec_err(format!("{key}: expected a positive number")).into())
            }
        };
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(TargetSpec {
            name: f.name.unwrap_or_else(|| dir.display().to_string()),
            command: f.command,
            env: f.env,
            policy: f.policy.map(|p| dir.join(p)),
            timeout: secs(f.timeout_secs, 10.0, "timeout_secs")?,
            startup: secs(f.startup_secs, 60.0, "startup_secs")?,
            file,
            dir,
        })
    }
}

/// A running adapter.
pub struct Target {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<std::io::Result<String>>,
    next_id: u64,
    timeout: Duration,
    startup: Duration,
    hello: Hello,
    /// The model from the last reset: fills in what the target does not
    /// report, and is the state when the target cannot be observed.
    shadow: Option<Model>,
    secrets: Vec<String>,
    /// Messages exchanged (for reports).
    pub messages: u64,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.hello.name)
            .finish()
    }
}

impl Target {
    /// Starts the adapter and exchanges `hello` under `policy`.
    pub fn start(spec: &TargetSpec, policy: &Policy) -> Result<Target, TargetError> {
        let mut argv = spec.command.clone();
        if argv[0] == "authproof" {
            if let Ok(me) = std::env::current_exe() {
                argv[0] = me.display().to_string();
            }
        }
        let mut p = Process::new(&argv[0]);
        p.args(&argv[1..])
            .current_dir(&spec.dir)
            .envs(&spec.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = p.spawn().map_err(|error| Kind::Spawn {
            command: argv.join(" "),
            error,
        })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        if tx.send(Ok(line)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        let mut t = Target {
            child,
            stdin,
            lines: rx,
            next_id: 0,
            timeout: spec.timeout,
            startup: spec.startup,
            hello: Hello {
                protocol: PROTOCOL.into(),
                name: spec.name.clone(),
                ops: vec![],
                actions: None,
                reasons: Default::default(),
                indistinguishable: vec![],
                rejections: Default::default(),
                indistinguishable_rejections: vec![],
                decision_fields: vec![],
                changes: true,
                clock: true,
                observe: false,
                reset: ResetKind::Snapshot,
                request_tenant: true,
                notes: vec![],
            },
            shadow: None,
            secrets: Vec::new(),
            messages: 0,
        };
        let policy_json = serde_json::to_value(policy).expect("policies serialize");
        let answer = t.request(
            "hello",
            json!({"type": "hello", "protocol": PROTOCOL, "policy": policy_json}),
            t.startup,
        )?;
        let hello: Hello =
            serde_json::from_value(strip(answer, "hello")?).map_err(|e| Kind::Protocol {
                request: "hello".into(),
                message: e.to_string(),
            })?;
        hello.validate().map_err(|message| Kind::Protocol {
            request: "hello".into(),
            message,
        })?;
        t.hello = hello;
        Ok(t)
    }

    /// What the adapter declared.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Sends one request and waits for its answer (`type` checked by the
    /// caller; `error` answers become an adapter error).
    fn request(
        &mut self,
        what: &str,
        mut msg: Value,
        timeout: Duration,
    ) -> Result<Value, TargetError> {
        self.next_id += 1;
        let id = self.next_id;
        msg["id"] = json!(id);
        let mut line = serde_json::to_string(&msg).expect("values serialize");
        line.push('\n');
        self.messages += 1;
        if let Err(e) = self
            .stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush())
        {
            return Err(self.exited(what).unwrap_or(Kind::Io(e)).into());
        }
        let answer = match self.lines.recv_timeout(timeout) {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return Err(Kind::Io(e).into()),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                return Err(Kind::Timeout {
                    request: what.into(),
                    secs: timeout.as_secs_f64(),
                }
                .into());
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(self
                    .exited(what)
                    .unwrap_or(Kind::Exited {
                        request: what.into(),
                        status: "closed its stdout".into(),
                    })
                    .into())
            }
        };
        let v: Value = serde_json::from_str(&answer).map_err(|e| Kind::Protocol {
            request: what.into(),
            message: format!("not a JSON line: {e}"),
        })?;
        if v.get("id") != Some(&json!(id)) {
            return Err(Kind::Protocol {
                request: what.into(),
                message: format!("answer has id {}, expected {id}", v["id"]),
            }
            .into());
        }
        if v.get("type") == Some(&json!("error")) {
            let message = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)");
            return Err(Kind::Adapter {
                request: what.into(),
                message: redact(message, &self.secrets),
            }
            .into());
        }
        Ok(v)
    }

    fn exited(&mut self, what: &str) -> Option<Kind> {
        for _ in 0..20 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(Kind::Exited {
                    request: what.into(),
                    status: status.to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }

    /// Starts the service afresh from `snapshot` (empty for targets that
    /// can only reset to empty: the caller draws cases accordingly).
    pub fn reset(&mut self, policy: &Policy, snapshot: &Snapshot) -> Result<(), TargetError> {
        let a = self.request(
            "reset",
            json!({"type": "reset", "snapshot": snapshot}),
            self.startup,
        )?;
        expect_type(&a, "ok", "reset")?;
        self.shadow = Some(Model::new(snapshot, policy));
        Ok(())
    }

    /// The service's state, when the target can be observed.
    pub fn observe(&mut self) -> Result<Snapshot, TargetError> {
        let a = self.request("observe", json!({"type": "observe"}), self.timeout)?;
        let v = strip(a, "snapshot")?;
        let s = v.get("snapshot").cloned().unwrap_or(Value::Null);
        let snapshot = serde_json::from_value(s).map_err(|e| Kind::Protocol {
            request: "observe".into(),
            message: format!("snapshot: {e}"),
        })?;
        Ok(snapshot)
    }

    /// Every secret presented since the target started.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    fn shadow(&mut self) -> &mut Model {
        self.shadow
            .as_mut()
            .expect("Target::reset runs before any step")
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self
            .stdin
            .write_all(b"{\"id\":0,\"type\":\"bye\"}\n")
            .and_then(|()| self.stdin.flush());
        for _ in 0..40 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn expect_type(v: &Value, t: &str, request: &str) -> Result<(), TargetError> {
    if v.get("type") == Some(&json!(t)) {
        Ok(())
    } else {
        Err(Kind::Protocol {
            request: request.into(),
            message: format!("expected type {t:?}, got {}", v["type"]),
        }
        .into())
    }
}

/// The answer without its `id` and `type`.
fn strip(mut v: Value, t: &str) -> Result<Value, TargetError> {
    expect_type(&v, t, t)?;
    if let Value::Object(m) = &mut v {
        m.remove("id");
        m.remove("type");
    }
    Ok(v)
}

impl Implementation for Target {
    type Error = TargetError;

    fn apply(&mut self, _policy: &Policy, command: &Command) -> Result<CommandResult, TargetError> {
        self.secrets.extend(secrets(command));
        let what = format!("step ({})", command.op.name());
        let a = self.request(
            &what,
            json!({"type": "step", "command": command}),
            self.timeout,
        )?;
        expect_type(&a, "result", &what)?;
        let observed = a.get("result").cloned().unwrap_or(Value::Null);
        let expected = self.shadow().apply(command);
        let hello = self.hello.clone();
        let result = merge(&hello, &expected, &observed).map_err(|message| Kind::Protocol {
            request: what,
            message,
        })?;
        Ok(result)
    }

    fn snapshot(&mut self) -> Result<Snapshot, TargetError> {
        if self.hello.observe {
            self.observe()
        } else {
            Ok(self.shadow().snapshot())
        }
    }
}

/// The harness drives a borrowed target, so one adapter process serves
/// every case of a run.
impl Implementation for &mut Target {
    type Error = TargetError;

    fn apply(&mut self, policy: &Policy, command: &Command) -> Result<CommandResult, TargetError> {
        Target::apply(self, policy, command)
    }

    fn snapshot(&mut self) -> Result<Snapshot, TargetError> {
        <Target as Implementation>::snapshot(self)
    }
}

fn field<T: serde::de::DeserializeOwned>(v: &Value, name: &str) -> Result<Option<T>, String> {
    match v.get(name) {
        None => Ok(None),
        Some(x) => serde_json::from_value(x.clone())
            .map(Some)
            .map_err(|e| format!("{name}: {e}")),
    }
}

/// The explain prefix of a rejection the adapter could not classify (its
/// reason is then the op's first listed one, a stand-in).
pub const UNCLASSIFIED: &str = "unclassified rejection";

/// A reason code, or `None` for `null`, `"deny"` or an unknown word (the
/// adapter could not tell).
fn reason_of(v: &Value) -> Option<Reason> {
    v.get("reason")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
}

fn rejection_of(v: &Value) -> Option<Rejection> {
    v.get("reason")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
}

/// The model's `expected` result with every field the target reported (and
/// declared) overlaid; where the target's answer is of another kind, a
/// result built from what it reported. Relaxations are exactly the ones
/// `hello` declares.
pub fn merge(
    hello: &Hello,
    expected: &CommandResult,
    observed: &Value,
) -> Result<CommandResult, String> {
    let op = authproof_engine::OpName::from(expected.op());
    let kind = observed
        .get("result")
        .and_then(Value::as_str)
        .ok_or("expected a result line with \"result\"")?;
    let is_auth = op == "authenticate";
    match kind {
        "decision" if is_auth => {
            let d = observed
                .get("decision")
                .ok_or("a decision result without \"decision\"")?;
            let CommandResult::Decision { decision: e, .. } = expected else {
                unreachable!("authenticate always decides")
            };
            Ok(CommandResult::Decision {
                op,
                decision: Box::new(merge_decision(hello, e, d)?),
            })
        }
        "ok" if !is_auth => {
            let changes: Option<Vec<Change>> = if hello.changes {
                field(observed, "changes")?
            } else {
                None
            };
            Ok(match (expected, changes) {
                (CommandResult::Ok { .. }, None) => expected.clone(),
                (_, changes) => CommandResult::Ok {
                    op,
                    changes: changes.unwrap_or_default(),
                },
            })
        }
        "rejected" if !is_auth => {
            let got = rejection_of(observed);
            Ok(match (expected, got) {
                (CommandResult::Rejected { reason, .. }, None) => {
                    let _ = reason;
                    expected.clone()
                }
                (CommandResult::Rejected { reason, .. }, Some(r))
                    if hello.same_rejection(*reason, r) =>
                {
                    expected.clone()
                }
                (_, r) => CommandResult::Rejected {
                    reason: r.unwrap_or_else(|| Rejection::of_op(&op)[0]),
                    explain: match (r, observed.get("explain").and_then(Value::as_str)) {
                        (Some(_), _) => "rejected by the target".into(),
                        (None, e) => format!("{UNCLASSIFIED}: {}", e.unwrap_or("no reason given")),
                    },
                    op,
                },
            })
        }
        other => Err(format!("result {other:?} does not answer op {op}")),
    }
}

fn merge_decision(hello: &Hello, e: &Decision, d: &Value) -> Result<Decision, String> {
    let verdict: Verdict = field(d, "decision")?.ok_or("a decision without \"decision\"")?;
    let reported = |f: &str| hello.reports(f) && d.get(f).is_some();
    let mut out = e.clone();
    // The engine's words stay as written whatever field the target changes.
    out.freeze_explain();
    if verdict != e.decision {
        out.decision = verdict;
        out.explain = vec!["as reported by the target".to_string()].into();
        out.user = None;
        out.credential = None;
        out.tenant = None;
        out.scope.clear();
        out.effects.clear();
        match verdict {
            Verdict::Allow => {
                out.reason = None;
                out.status = 200;
            }
            Verdict::Deny => {
                out.reason = reason_of(d);
                out.status = out.reason.map_or(403, |r| r.status());
            }
        }
    } else if verdict == Verdict::Deny && reported("reason") {
        if let Some(r) = reason_of(d) {
            if !hello.same_reason(e.reason.unwrap_or(r), r) {
                out.reason = Some(r);
                out.status = r.status();
            }
        }
    }
    if reported("status") {
        if let Some(s) = field::<u16>(d, "status")? {
            // A status follows its reason: compared only when reasons are.
            if out.reason == e.reason && verdict == e.decision && out.reason.is_some() {
                if hello.reasons == super::protocol::ReasonPrecision::Exact {
                    out.status = s;
                }
            } else if verdict == Verdict::Allow {
                out.status = s;
            }
        }
    }
    if reported("user") {
        out.user = field::<Option<Id>>(d, "user")?.flatten();
    }
    if reported("credential") {
        out.credential = field::<Option<CredentialRef>>(d, "credential")?.flatten();
    }
    if reported("tenant") {
        out.tenant = field::<Option<Id>>(d, "tenant")?.flatten();
    }
    if reported("scope") {
        out.scope = field::<Vec<Id>>(d, "scope")?.unwrap_or_default().into();
    }
    if reported("effects") {
        out.effects = field::<Vec<Effect>>(d, "effects")?
            .unwrap_or_default()
            .into();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn spec(command: &str) -> TargetSpec {
        TargetSpec {
            file: PathBuf::from("target.toml"),
            dir: PathBuf::from("."),
            name: "test".into(),
            command: vec![command.into()],
            env: BTreeMap::new(),
            policy: None,
            timeout: Duration::from_secs(1),
            startup: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_spawn_failure_chains_the_io_error() {
        let Err(e) = Target::start(&spec("./no-such-adapter"), &Policy::default()) else {
            panic!("no such program");
        };
        assert_eq!(
            e.to_string(),
            "could not start the adapter `./no-such-adapter`"
        );
        let io = e.source().expect("the I/O error is chained");
        assert_eq!(
            io.downcast_ref::<std::io::Error>().map(|e| e.kind()),
            Some(std::io::ErrorKind::NotFound)
        );
        // As the harness reports it: the implementation's error, chained.
        let run = crate::Error::implementation(None, e);
        let mut causes = vec![run.to_string()];
        let mut next = run.source();
        while let Some(cause) = next {
            causes.push(cause.to_string());
            next = cause.source();
        }
        assert_eq!(causes.len(), 3, "{causes:?}");
        assert_eq!(causes[1], "could not start the adapter `./no-such-adapter`");
    }

    #[test]
    fn a_spec_error_names_the_file() {
        let dir = std::env::temp_dir().join(format!("authproof-target-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("target.toml");
        std::fs::write(&file, "command = []\n").unwrap();
        let e = TargetSpec::load(&file).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: command: expected the adapter's argv", file.display())
        );
        assert!(e.source().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
