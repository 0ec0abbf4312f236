//! `conform`: checks a live auth service against the reference model, the
//! way Jepsen checks databases.
//!
//! authproof starts an *adapter* process in front of the service and speaks
//! JSON Lines to it ([`protocol`], docs/CONFORM.md). [`Target`] makes that
//! process an [`Implementation`](crate::Implementation), so the one
//! lockstep harness runs it beside the model and checks every invariant on
//! every step. [`run`] draws cases with the generators of `check`
//! (restricted to what the target declares it supports), resets the target
//! to each case's snapshot, shrinks a failing case with `check`'s own
//! shrinker and minimizer (each attempt replayed on a reset target), and
//! groups findings by cause. [`replay`] re-runs a trace on a target.

pub mod protocol;
pub mod target;

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::PathBuf,
    time::{Duration, Instant},
};

use authproof_engine::{Command, CommandResult, Decision, Policy, Snapshot, Verdict};
use proptest::{
    strategy::{Strategy, ValueTree},
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use serde_json::json;

pub use protocol::{Hello, PROTOCOL};
pub use target::{merge, Target, TargetError, TargetSpec};

use crate::{
    check::{self, CaseVerdict, CheckConfig},
    generate,
    lockstep::{Coverage, Failure, Run},
    redact::{redact, secrets_of},
    Error, Lockstep, Trace,
};

/// What to run against a target and for how long.
#[derive(Clone, Debug)]
pub struct ConformConfig {
    pub seed: u64,
    /// Stop after this many cases (`None`: only `time` bounds the run).
    pub cases: Option<u64>,
    pub time: Option<Duration>,
    /// The service's configuration as a policy: every case uses it.
    pub policy: Policy,
    pub policy_label: String,
    pub max_steps: usize,
    /// Shrinking one finding gives up after this long.
    pub shrink_time: Duration,
    /// Distinct causes shrunk at most (later ones are only counted).
    pub max_findings: usize,
    /// Where traces are meant to go: the runner names them, the caller
    /// writes them.
    pub out: PathBuf,
}

impl Default for ConformConfig {
    fn default() -> Self {
        ConformConfig {
            seed: 0,
            cases: Some(1000),
            time: None,
            policy: Policy::default(),
            policy_label: "default".into(),
            max_steps: check::MAX_STEPS,
            shrink_time: Duration::from_secs(30),
            max_findings: 16,
            out: PathBuf::from("authproof-out"),
        }
    }
}

/// One distinct finding: a cause, its shrunk trace, how often it was met.
#[derive(Clone, Debug)]
pub struct ServiceFinding {
    pub failure: Failure,
    /// The op of the failing step.
    pub op: String,
    /// What the model expected and what the target did, without ids.
    pub expected: String,
    pub observed: String,
    /// The invariant's message on the shrunk trace (redacted).
    pub message: String,
    /// The failing step of the shrunk trace.
    pub step: Option<usize>,
    pub trace: Trace,
    pub path: PathBuf,
    /// Cases that failed with this cause.
    pub occurrences: u64,
    pub original_steps: usize,
    pub shrink_attempts: u32,
}

impl ServiceFinding {
    /// `I2 authenticate: expected DENY session_revoked, observed ALLOW`.
    pub fn summary(&self) -> String {
        format!(
            "{} {}: expected {}, observed {}",
            self.failure.id(),
            self.op,
            self.expected,
            self.observed
        )
    }

    /// The cause findings are grouped by.
    fn cause(&self) -> (String, String, String, String) {
        (
            self.failure.id().to_string(),
            self.op.clone(),
            self.expected.clone(),
            self.observed.clone(),
        )
    }
}

/// What a conform run did.
#[derive(Clone, Debug)]
pub struct ConformReport {
    pub target: String,
    pub hello: Hello,
    pub seed: u64,
    pub policy_label: String,
    pub cases: u64,
    pub elapsed: Duration,
    pub coverage: Coverage,
    pub findings: Vec<ServiceFinding>,
    /// Failing cases beyond `max_findings` distinct causes, not shrunk.
    pub unshrunk: u64,
    /// Time spent shrinking (not counted in steps/s).
    pub shrinking: Duration,
}

/// The result's outcome without ids: `ALLOW`, `DENY session_revoked`,
/// `ok`, `rejected no_change`.
pub fn outcome(r: &CommandResult) -> String {
    match r {
        CommandResult::Ok { .. } => "ok".into(),
        CommandResult::Rejected {
            reason, explain, ..
        } => match explain.strip_prefix(target::UNCLASSIFIED) {
            Some(why) => format!("rejected ({})", why.trim_start_matches(": ")),
            None => format!("rejected {reason}"),
        },
        CommandResult::Decision { decision, .. } => decision_outcome(decision),
    }
}

fn decision_outcome(d: &Decision) -> String {
    match (d.decision, d.reason) {
        (Verdict::Allow, _) => "ALLOW".into(),
        (Verdict::Deny, Some(r)) => format!("DENY {r}"),
        (Verdict::Deny, None) => "DENY".into(),
    }
}

/// The cases drawn for a target: `check`'s generator under the target's
/// policy, with every command the target does not support removed
/// (unsupported ops, `authenticate` with an unsupported action) and, for a
/// target that resets only to empty, the empty snapshot. Removing commands
/// keeps proptest's shrinking intact (it shrinks the intents underneath).
pub fn cases(hello: &Hello, policy: &Policy, max_steps: usize) -> impl Strategy<Value = Trace> {
    let hello = hello.clone();
    generate::trace(Some(policy.clone()), max_steps).prop_map(move |t| restrict(&hello, t))
}

/// See [`cases`]. A target that resets only to empty gets the drawn
/// snapshot rebuilt by supported commands ([`prelude`]) at the head of the
/// steps, so the model runs them too and the case stays self-consistent.
pub fn restrict(hello: &Hello, mut t: Trace) -> Trace {
    t.steps.retain(|c| supported(hello, c));
    if hello.reset == protocol::ResetKind::Empty {
        let start = t.steps.first().map(|c| c.at);
        let mut steps = prelude(hello, &t.snapshot, start);
        steps.append(&mut t.steps);
        t.snapshot = Snapshot::default();
        t.steps = steps;
    }
    t
}

/// Commands that rebuild `snapshot` from empty with the ops `hello`
/// supports, each at its record's own time and none after `until`: create
/// tenants and users, add members at `since`, log in and mint keys at
/// `created_at` (the generator's tokens are known by their hashes), then
/// disable, revoke, delete and log out at their times, and ban. A record
/// the target cannot build is left out (a revoked key on a target without
/// `revoke_api_key`, say); a session's expiry is the policy's, not the
/// drawn one.
pub fn prelude(
    hello: &Hello,
    snapshot: &Snapshot,
    until: Option<authproof_engine::Timestamp>,
) -> Vec<Command> {
    use authproof_engine::{Timestamp, TokenHash};
    let tokens: BTreeMap<TokenHash, &str> = generate::TOKENS
        .iter()
        .map(|t| (TokenHash::of(t), *t))
        .collect();
    let mut times: Vec<Timestamp> = snapshot
        .memberships
        .iter()
        .map(|m| m.since)
        .chain(snapshot.api_keys.iter().map(|k| k.created_at))
        .chain(snapshot.sessions.iter().map(|s| s.created_at))
        .collect();
    times.sort();
    let first = times
        .first()
        .copied()
        .or(until)
        .unwrap_or_else(generate::start_time)
        .min(until.unwrap_or(authproof_engine::Timestamp::MAX));
    let ok_time = |t: Timestamp| !matches!(until, Some(u) if t > u);
    let mut out: Vec<(Timestamp, usize, serde_json::Value)> = Vec::new();
    let push = |at: Timestamp, v: serde_json::Value, out: &mut Vec<_>| {
        let n = out.len();
        let mut v = v;
        v["at"] = json!(at);
        out.push((at, n, v));
    };
    let can = |op: &str| hello.supports_op(op);
    if can("create_tenant") {
        for t in &snapshot.tenants {
            push(
                first,
                json!({"op": "create_tenant", "tenant": t.id}),
                &mut out,
            );
        }
    }
    if can("create_user") {
        for u in &snapshot.users {
            push(first, json!({"op": "create_user", "user": u.id}), &mut out);
        }
    }
    if can("add_member") {
        for m in &snapshot.memberships {
            if ok_time(m.since.max(first)) {
                push(
                    m.since.max(first),
                    json!({"op": "add_member", "user": m.user, "tenant": m.tenant, "role": m.role}),
                    &mut out,
                );
            }
        }
    }
    let mut last = first;
    if can("mint_api_key") {
        for k in &snapshot.api_keys {
            let (Some(tenant), Some(token)) = (&k.tenant, tokens.get(&k.token_sha256)) else {
                continue;
            };
            let dead_unsupported = (k.revoked_at.is_some() && !can("revoke_api_key"))
                || (k.deleted_at.is_some() && !can("delete_api_key"))
                || (!k.enabled && !can("update_api_key"));
            if dead_unsupported || !ok_time(k.created_at) {
                continue;
            }
            let mut v = json!({"op": "mint_api_key", "key": k.id, "owner": k.owner,
                "tenant": tenant, "token": token, "capabilities": k.capabilities, "name": k.name});
            if let Some(e) = k.expires_at {
                v["expires_at"] = json!(e);
            }
            push(k.created_at, v, &mut out);
            last = last.max(k.created_at);
            if !k.enabled {
                push(
                    k.created_at,
                    json!({"op": "update_api_key", "key": k.id, "enabled": false}),
                    &mut out,
                );
            }
            for (t, op) in [
                (k.revoked_at, "revoke_api_key"),
                (k.deleted_at, "delete_api_key"),
            ] {
                if let Some(t) = t.filter(|t| ok_time(*t)) {
                    push(
                        t.max(k.created_at),
                        json!({"op": op, "key": k.id}),
                        &mut out,
                    );
                    last = last.max(t);
                }
            }
        }
    }
    if can("login") {
        for s in &snapshot.sessions {
            let Some(token) = tokens.get(&s.token_sha256) else {
                continue;
            };
            if !ok_time(s.created_at) || (s.revoked_at.is_some() && !can("logout")) {
                continue;
            }
            let mut v = json!({"op": "login", "session": s.id, "user": s.user, "token": token});
            if let Some(t) = &s.tenant {
                v["tenant"] = json!(t);
            }
            push(s.created_at, v, &mut out);
            last = last.max(s.created_at);
            if let Some(t) = s.revoked_at.filter(|t| ok_time(*t)) {
                push(
                    t.max(s.created_at),
                    json!({"op": "logout", "session": s.id}),
                    &mut out,
                );
                last = last.max(t);
            }
        }
    }
    if can("ban_user") {
        for u in snapshot.users.iter().filter(|u| u.banned) {
            if ok_time(last) {
                push(last, json!({"op": "ban_user", "user": u.id}), &mut out);
            }
        }
    }
    if can("suspend_tenant") {
        for t in snapshot.tenants.iter().filter(|t| t.suspended) {
            if ok_time(last) {
                push(
                    last,
                    json!({"op": "suspend_tenant", "tenant": t.id}),
                    &mut out,
                );
            }
        }
    }
    out.sort_by_key(|(at, n, _)| (*at, *n));
    out.into_iter()
        .filter_map(|(_, _, v)| Command::from_value(v).ok())
        .collect()
}

fn supported(hello: &Hello, c: &Command) -> bool {
    hello.supports_op(c.op.name())
        && match &c.op {
            authproof_engine::Op::Authenticate {
                action,
                tenant,
                resource,
                ..
            } => {
                hello.supports_action(action)
                    && (hello.request_tenant || (tenant.is_none() && resource.is_none()))
            }
            _ => true,
        }
}

/// Runs `trace` on `target` (reset to its snapshot) beside the model.
pub fn run_trace(target: &mut Target, trace: &Trace) -> Result<Run, Error> {
    target
        .reset(&trace.policy, &trace.snapshot)
        .map_err(|e| Error::implementation(None, e))?;
    Lockstep::new(&trace.policy, &trace.snapshot, &mut *target)?.run(&trace.steps)
}

/// `authproof replay TRACE --target T`: the trace on a freshly started
/// target.
pub fn replay(spec: &TargetSpec, trace: &Trace) -> Result<Run, Error> {
    let mut target =
        Target::start(spec, &trace.policy).map_err(|e| Error::implementation(None, e))?;
    run_trace(&mut target, trace)
}

/// The expected and observed outcomes of a run's failing step.
fn failing_step(run: &Run) -> (String, String, String) {
    match run.steps.iter().find(|s| !s.violations.is_empty()) {
        Some(s) => (
            s.command.op.name().to_string(),
            outcome(&s.model),
            outcome(&s.result),
        ),
        None => ("initial".into(), "-".into(), "-".into()),
    }
}

fn verdict_of(run: &Run) -> (CaseVerdict, (String, String, String)) {
    let cause = failing_step(run);
    let v = match run.first_violation() {
        None => CaseVerdict::Held(run.coverage.clone()),
        Some((step, v)) => CaseVerdict::Failed {
            failure: Failure::Invariant(v.invariant),
            step,
            message: v.message.clone(),
            coverage: run.coverage.clone(),
        },
    };
    (v, cause)
}

/// Starts the target and runs cases until `cfg.cases` or `cfg.time`.
/// `progress` sees (cases done, findings so far).
pub fn run(
    spec: &TargetSpec,
    cfg: &ConformConfig,
    progress: &mut dyn FnMut(u64, usize),
) -> Result<ConformReport, Error> {
    let mut target =
        Target::start(spec, &cfg.policy).map_err(|e| Error::implementation(None, e))?;
    let hello = target.hello().clone();
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &check::seed_bytes(cfg.seed));
    let mut runner = TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        rng,
    );
    let strategy = cases(&hello, &cfg.policy, cfg.max_steps);
    let shrink_cfg = CheckConfig {
        seed: cfg.seed,
        policy: Some(cfg.policy.clone()),
        shrink_time: cfg.shrink_time,
        out: cfg.out.clone(),
        ..CheckConfig::default()
    };
    let started = Instant::now();
    let mut shrinking = Duration::ZERO;
    let mut coverage = Coverage::default();
    let mut findings: Vec<ServiceFinding> = Vec::new();
    let mut seen: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    let mut unshrunk = 0u64;
    let mut done = 0u64;
    while !matches!(cfg.cases, Some(n) if done >= n)
        && !matches!(cfg.time, Some(l) if started.elapsed() >= l)
    {
        let mut tree = strategy.new_tree(&mut runner).map_err(Error::generation)?;
        let case = tree.current();
        let run = run_trace(&mut target, &case)?;
        done += 1;
        coverage.merge(&run.coverage);
        let (verdict, (op, expected, observed)) = verdict_of(&run);
        if let CaseVerdict::Failed { failure, .. } = &verdict {
            let key = (failure.id().to_string(), op, expected, observed);
            if let Some(&i) = seen.get(&key) {
                findings[i].occurrences += 1;
            } else if findings.len() >= cfg.max_findings {
                unshrunk += 1;
            } else {
                let t0 = Instant::now();
                let want = *failure;
                let original_steps = case.steps.len();
                let eval = &mut |c: &Trace| -> Result<CaseVerdict, Error> {
                    let run = run_trace(&mut target, c)?;
                    Ok(verdict_of(&run).0)
                };
                let (case, verdict, iters) =
                    check::shrink(&shrink_cfg, eval, &mut tree, want, (case, verdict))?;
                let (case, verdict, more) =
                    check::minimize(&shrink_cfg, eval, want, case, verdict)?;
                shrinking += t0.elapsed();
                // The cause of the shrunk trace, as it runs now.
                let run = run_trace(&mut target, &case)?;
                let (_, (op, expected, observed)) = verdict_of(&run);
                let CaseVerdict::Failed { step, message, .. } = verdict else {
                    unreachable!("only failures are shrunk")
                };
                let mut trace = case;
                if let Some(i) = step {
                    trace.steps.truncate(i + 1);
                }
                let f = ServiceFinding {
                    failure: want,
                    op,
                    expected,
                    observed,
                    message: redact(&message, &secrets_of(&trace.steps)),
                    step,
                    path: PathBuf::new(),
                    trace,
                    occurrences: 1,
                    original_steps,
                    shrink_attempts: iters + more,
                };
                // Shrinking may land on a cause already found: then both
                // causes name that finding.
                match seen.get(&f.cause()).copied() {
                    Some(i) => {
                        findings[i].occurrences += 1;
                        seen.insert(key, i);
                    }
                    None => {
                        seen.insert(key, findings.len());
                        seen.insert(f.cause(), findings.len());
                        findings.push(f);
                    }
                }
            }
        }
        progress(done, findings.len());
    }
    for (n, f) in findings.iter_mut().enumerate() {
        f.path = cfg.out.join(format!(
            "conform-{}-{}-{}.json",
            f.failure.id(),
            cfg.seed,
            n + 1
        ));
    }
    Ok(ConformReport {
        target: hello.name.clone(),
        hello,
        seed: cfg.seed,
        policy_label: cfg.policy_label.clone(),
        cases: done,
        elapsed: started.elapsed(),
        coverage,
        findings,
        unshrunk,
        shrinking,
    })
}

impl ConformReport {
    /// Steps per second on the target, shrinking excluded.
    pub fn steps_per_sec(&self) -> f64 {
        let secs = (self.elapsed - self.shrinking.min(self.elapsed)).as_secs_f64();
        self.coverage.steps as f64 / secs.max(1e-9)
    }

    /// `authproof replay <trace> --target <target>` for a finding.
    pub fn replay_command(&self, f: &ServiceFinding, target_arg: &str) -> String {
        format!(
            "authproof replay {} --target {}",
            check::shell_path(&f.path),
            check::shell_path(std::path::Path::new(target_arg))
        )
    }

    /// The report for people.
    pub fn text(&self, target_arg: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "authproof conform");
        let _ = writeln!(s, "  target     {} ({})", self.target, target_arg);
        let _ = writeln!(s, "  seed       {}", self.seed);
        let _ = writeln!(s, "  policy     {}", self.policy_label);
        let _ = writeln!(s, "  cases      {}", self.cases);
        let _ = writeln!(s, "  steps      {}", self.coverage.steps);
        let _ = writeln!(
            s,
            "  elapsed    {:.1} s ({:.1} s shrinking)",
            self.elapsed.as_secs_f64(),
            self.shrinking.as_secs_f64()
        );
        let _ = writeln!(s, "  steps/s    {:.0}", self.steps_per_sec());
        let h = &self.hello;
        let _ = writeln!(s, "  ops        {}", h.ops.join(" "));
        let un = h.unsupported_ops();
        if !un.is_empty() {
            let _ = writeln!(s, "  not run    {}", un.join(" "));
        }
        if let Some(a) = &h.actions {
            let _ = writeln!(s, "  actions    {}", a.join(" "));
        }
        let _ =
            writeln!(
            s,
            "  compared   reasons {}, rejections {}, decision fields [{}], changes {}, state {}",
            match h.reasons {
                protocol::ReasonPrecision::Exact => "exact",
                protocol::ReasonPrecision::DenyOnly => "deny only",
            },
            match h.rejections {
                protocol::RejectionPrecision::Exact => "exact",
                protocol::RejectionPrecision::KindOnly => "kind only",
            },
            h.decision_fields.join(" "),
            if h.changes { "yes" } else { "no" },
            if h.observe { "observed" } else { "not observable" },
        );
        for g in &h.indistinguishable {
            let names: Vec<&str> = g.iter().map(|r| r.code()).collect();
            let _ = writeln!(s, "  alike      {}", names.join(" = "));
        }
        for g in &h.indistinguishable_rejections {
            let names: Vec<&str> = g.iter().map(|r| r.code()).collect();
            let _ = writeln!(s, "  alike      {}", names.join(" = "));
        }
        for n in &h.notes {
            let _ = writeln!(s, "  note       {n}");
        }
        let _ = writeln!(
            s,
            "  reached    allow {}, {} denial reasons, {} op outcomes",
            self.coverage.allows,
            self.coverage.reasons.len(),
            self.coverage.outcomes.len()
        );
        if self.findings.is_empty() {
            let _ = writeln!(s, "NO FINDINGS: every invariant held on every step");
            return s;
        }
        let _ = writeln!(s, "FINDINGS ({}):", self.findings.len());
        for (i, f) in self.findings.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {}. {} {} — {}",
                i + 1,
                f.failure.id(),
                f.failure.name(),
                f.summary()
            );
            let _ = writeln!(
                s,
                "     {} step{} (from {}), seen in {} case{}",
                f.trace.steps.len(),
                if f.trace.steps.len() == 1 { "" } else { "s" },
                f.original_steps,
                f.occurrences,
                if f.occurrences == 1 { "" } else { "s" }
            );
            let _ = writeln!(s, "     {}", f.message);
            let _ = writeln!(s, "     replay: {}", self.replay_command(f, target_arg));
        }
        if self.unshrunk > 0 {
            let _ = writeln!(
                s,
                "  ({} more failing cases with other causes, not shrunk)",
                self.unshrunk
            );
        }
        s
    }

    /// One JSON object (`authproof-conform/1`).
    pub fn json(&self, target_arg: &str) -> serde_json::Value {
        let findings: Vec<serde_json::Value> = self
            .findings
            .iter()
            .map(|f| {
                json!({
                    "invariant": f.failure.id(),
                    "name": f.failure.name(),
                    "summary": f.summary(),
                    "op": f.op,
                    "expected": f.expected,
                    "observed": f.observed,
                    "message": f.message,
                    "step": f.step,
                    "steps": f.trace.steps.len(),
                    "original_steps": f.original_steps,
                    "occurrences": f.occurrences,
                    "trace": f.path.display().to_string(),
                    "replay": self.replay_command(f, target_arg),
                })
            })
            .collect();
        json!({
            "format": "authproof-conform/1",
            "target": self.target,
            "target_path": target_arg,
            "seed": self.seed,
            "policy": self.policy_label,
            "result": if self.findings.is_empty() { "held" } else { "findings" },
            "cases": self.cases,
            "steps": self.coverage.steps,
            "elapsed_secs": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "shrinking_secs": (self.shrinking.as_secs_f64() * 1000.0).round() / 1000.0,
            "steps_per_sec": self.steps_per_sec().round(),
            "hello": self.hello,
            "findings": findings,
            "unshrunk_failures": self.unshrunk,
        })
    }

    /// JUnit XML: one test case per invariant, failing with its findings.
    pub fn junit(&self, target_arg: &str) -> String {
        let mut cases = String::new();
        let mut failures = 0;
        for inv in crate::Invariant::ALL {
            let name = format!("{} {}", inv.id(), inv.name());
            let mine: Vec<&ServiceFinding> = self
                .findings
                .iter()
                .filter(|f| f.failure == Failure::Invariant(inv))
                .collect();
            let _ = write!(
                cases,
                "    <testcase classname=\"authproof.conform\" name=\"{}\"",
                xml(&name)
            );
            if mine.is_empty() {
                let _ = writeln!(cases, "/>");
            } else {
                failures += 1;
                let body: Vec<String> = mine
                    .iter()
                    .map(|f| {
                        format!(
                            "{}\nreplay: {}",
                            f.summary(),
                            self.replay_command(f, target_arg)
                        )
                    })
                    .collect();
                let _ = writeln!(
                    cases,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml(&mine[0].summary()),
                    xml(&body.join("\n\n"))
                );
            }
        }
        let tests = crate::Invariant::ALL.len();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"authproof conform\" tests=\"{tests}\" failures=\"{failures}\" time=\"{secs:.3}\">\n  \
             <testsuite name=\"authproof conform {target} (seed {seed})\" tests=\"{tests}\" failures=\"{failures}\" time=\"{secs:.3}\">\n{cases}  </testsuite>\n</testsuites>\n",
            secs = self.elapsed.as_secs_f64(),
            target = xml(&self.target),
            seed = self.seed,
        )
    }

    /// A Markdown section: the run and a table of findings.
    pub fn markdown(&self, target_arg: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "## authproof conform: {}\n", self.target);
        let _ = writeln!(
            s,
            "seed {}, policy {}, {} cases, {} steps in {:.1} s ({:.0} steps/s), {} finding(s)\n",
            self.seed,
            self.policy_label,
            self.cases,
            self.coverage.steps,
            self.elapsed.as_secs_f64(),
            self.steps_per_sec(),
            self.findings.len()
        );
        if self.findings.is_empty() {
            let _ = writeln!(s, "No findings: every invariant held on every step.");
            return s;
        }
        let _ = writeln!(
            s,
            "| # | invariant | op | model expected | target did | steps | cases | replay |\n|---|---|---|---|---|---|---|---|"
        );
        for (i, f) in self.findings.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {} | {} {} | `{}` | {} | {} | {} | {} | `{}` |",
                i + 1,
                f.failure.id(),
                f.failure.name(),
                f.op,
                f.expected,
                f.observed,
                f.trace.steps.len(),
                f.occurrences,
                self.replay_command(f, target_arg)
            );
        }
        s
    }
}

/// The JUnit reports of `check` and `conform` escape alike.
use check::xml;
