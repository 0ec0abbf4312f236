//! `authproof check`: model-based random verification.
//!
//! Generates cases (policy, initial snapshot, commands) with proptest from
//! a fixed seed, runs each on the engine and the reference model side by
//! side with every invariant checked after every step, and reports
//! throughput and coverage. On a violation it shrinks the case with
//! proptest, writes the shortest trace it found to `--out` and prints the
//! `authproof replay` command that reproduces it.

use std::{
    fmt::Write as _,
    io::{IsTerminal, Write as _},
    panic::{self, AssertUnwindSafe},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use authproof_engine::{Policy, Reason};
use authproof_verification::{
    generate::{self, Case},
    lockstep::{self, Coverage, Target},
    trace::Trace,
    Invariant,
};
use proptest::{
    strategy::{Strategy, ValueTree},
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use serde_json::json;

use super::{io, CliError, Outcome, PolicyArg};

/// Default number of cases: about 17 s (single-threaded) in a release build.
pub const DEFAULT_CASES: u64 = 50_000;
/// Longest generated trace.
pub const MAX_STEPS: usize = 24;
/// Shrinking gives up after this many attempts or this long.
const SHRINK_ITERS: u32 = 20_000;
const SHRINK_TIME: Duration = Duration::from_secs(60);

/// Report format of `check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A report for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
    /// JUnit XML: one test case per invariant and one for coverage.
    Junit,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check under this policy only; without it, cases draw the shipped
    /// default policy and variations of every SPEC §3 knob.
    #[command(flatten)]
    policy: PolicyArg,
    /// Seed of the random generator; the same seed gives the same cases.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Number of cases [default: 50000, unlimited with --time].
    #[arg(long, value_name = "N")]
    cases: Option<u64>,
    /// Stop after this many seconds (the running case finishes).
    #[arg(long, value_name = "SECS")]
    time: Option<f64>,
    /// Where shrunk counterexample traces are written.
    #[arg(long, value_name = "DIR", default_value = "authproof-out")]
    out: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
    /// Inject an engine fault (F01..F16) to see the check catch it.
    #[cfg(feature = "faults")]
    #[arg(long, value_name = "F", hide = true, value_parser = parse_fault)]
    inject: Option<authproof_engine::Fault>,
}

/// An engine fault to inject: builds with the `faults` feature only.
#[cfg(feature = "faults")]
pub type Inject = Option<authproof_engine::Fault>;
/// An engine fault to inject: nothing without the `faults` feature.
#[cfg(not(feature = "faults"))]
pub type Inject = ();

#[cfg(feature = "faults")]
pub fn parse_fault(s: &str) -> Result<authproof_engine::Fault, String> {
    authproof_engine::Fault::parse(s).ok_or_else(|| "expected a fault id F01..F16".to_string())
}

/// Runs a trace with the harness, on an engine with `inject` switched on.
#[cfg_attr(not(feature = "faults"), allow(unused_variables))]
pub fn run_trace(
    inject: Inject,
    policy: &Policy,
    snapshot: &authproof_engine::Snapshot,
    steps: &[authproof_engine::Command],
) -> Result<lockstep::Run, lockstep::HarnessError> {
    #[cfg(feature = "faults")]
    if let Some(f) = inject {
        let mut engine = authproof_engine::State::from_snapshot(snapshot.clone())?;
        engine.inject(Some(f));
        return lockstep::run_on(engine, policy, snapshot, steps);
    }
    lockstep::run(policy, snapshot, steps)
}

/// How one case ended.
enum Verdict {
    Held(Coverage),
    /// `key` is the invariant id, or `panic`.
    Failed {
        key: String,
        name: String,
        step: Option<usize>,
        message: String,
        coverage: Coverage,
    },
}

impl Verdict {
    fn key(&self) -> Option<&str> {
        match self {
            Verdict::Held(_) => None,
            Verdict::Failed { key, .. } => Some(key),
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".into()
    }
}

/// Runs one case; a panic in the engine or the model is a failure too.
fn evaluate(inject: Inject, case: &Case) -> Result<Verdict, CliError> {
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        run_trace(inject, &case.policy, &case.snapshot, &case.steps)
    }));
    let run = match r {
        Ok(Ok(run)) => run,
        Ok(Err(e)) => {
            return Err(CliError::Other(format!(
                "generated case is not valid input ({e}); this is a generator bug"
            )))
        }
        Err(p) => {
            return Ok(Verdict::Failed {
                key: "panic".into(),
                name: "panic".into(),
                step: None,
                message: panic_message(p.as_ref()),
                coverage: Coverage::default(),
            })
        }
    };
    Ok(match run.first_violation() {
        None => Verdict::Held(run.coverage),
        Some((step, v)) => Verdict::Failed {
            key: v.invariant.id().to_string(),
            name: v.invariant.name().to_string(),
            step,
            message: v.message.clone(),
            coverage: run.coverage.clone(),
        },
    })
}

/// After proptest's shrinking (which works on the generator's intents, so
/// removing a command can move the times of the ones after it): remove
/// single commands at their concrete times, then single snapshot records
/// (keeping integrity), while the case still fails the same way.
fn minimize(
    inject: Inject,
    key: &str,
    mut case: Case,
    mut verdict: Verdict,
) -> Result<(Case, Verdict, u32), CliError> {
    let started = Instant::now();
    let mut iters = 0u32;
    let try_case = |c: Case, iters: &mut u32| -> Result<Option<(Case, Verdict)>, CliError> {
        *iters += 1;
        if authproof_engine::State::from_snapshot(c.snapshot.clone()).is_err() {
            return Ok(None);
        }
        let v = evaluate(inject, &c)?;
        Ok((v.key() == Some(key)).then_some((c, v)))
    };
    loop {
        let mut changed = false;
        // Steps past the failing one first, then each step.
        if let Verdict::Failed { step: Some(i), .. } = verdict {
            case.steps.truncate(i + 1);
        }
        let mut i = 0;
        while i < case.steps.len() {
            let mut c = case.clone();
            c.steps.remove(i);
            match try_case(c, &mut iters)? {
                Some((c, v)) => {
                    (case, verdict, changed) = (c, v, true);
                }
                None => i += 1,
            }
        }
        // Then each record of the snapshot.
        macro_rules! drop_records {
            ($field:ident) => {
                let mut i = 0;
                while i < case.snapshot.$field.len() {
                    let mut c = case.clone();
                    c.snapshot.$field.remove(i);
                    match try_case(c, &mut iters)? {
                        Some((c, v)) => {
                            (case, verdict, changed) = (c, v, true);
                        }
                        None => i += 1,
                    }
                }
            };
        }
        drop_records!(resources);
        drop_records!(sessions);
        drop_records!(api_keys);
        drop_records!(memberships);
        drop_records!(users);
        drop_records!(tenants);
        if case.snapshot.taken_at.is_some() {
            let mut c = case.clone();
            c.snapshot.taken_at = None;
            if let Some((c, v)) = try_case(c, &mut iters)? {
                (case, verdict, changed) = (c, v, true);
            }
        }
        if !changed || started.elapsed() > SHRINK_TIME {
            return Ok((case, verdict, iters));
        }
    }
}

/// Proptest's shrinking loop: simplify while the case still fails the same
/// way, complicate back when a simplification made it pass.
fn shrink(
    inject: Inject,
    tree: &mut impl ValueTree<Value = Case>,
    key: &str,
    mut best: (Case, Verdict),
) -> Result<(Case, Verdict, u32), CliError> {
    let started = Instant::now();
    let mut iters = 0;
    if !tree.simplify() {
        return Ok((best.0, best.1, iters));
    }
    while iters < SHRINK_ITERS && started.elapsed() < SHRINK_TIME {
        iters += 1;
        let case = tree.current();
        let v = evaluate(inject, &case)?;
        if v.key() == Some(key) {
            best = (case, v);
            if !tree.simplify() {
                break;
            }
        } else if !tree.complicate() {
            break;
        }
    }
    Ok((best.0, best.1, iters))
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, chunk) in b.chunks_mut(8).enumerate() {
        let word = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    b
}

struct Progress {
    on: bool,
    last: Instant,
}

impl Progress {
    fn tick(&mut self, done: u64, total: Option<u64>, started: Instant, time: Option<f64>) {
        if !self.on || self.last.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last = Instant::now();
        let secs = started.elapsed().as_secs_f64();
        let frac = match (total, time) {
            (Some(t), Some(l)) => (done as f64 / t as f64).max(secs / l),
            (Some(t), None) => done as f64 / t as f64,
            (None, Some(l)) => secs / l,
            (None, None) => 0.0,
        }
        .clamp(0.0, 1.0);
        let width = 30;
        let filled = (frac * width as f64) as usize;
        let mut e = std::io::stderr().lock();
        let _ = write!(
            e,
            "\r[{}{}] {:3.0}%  {done} cases  {secs:.1} s ",
            "#".repeat(filled),
            ".".repeat(width - filled),
            frac * 100.0
        );
        let _ = e.flush();
    }

    fn done(&self) {
        if self.on {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r{}\r", " ".repeat(70));
            let _ = e.flush();
        }
    }
}

/// A counterexample, shrunk and written.
struct Found {
    key: String,
    name: String,
    step: Option<usize>,
    message: String,
    path: PathBuf,
    steps: usize,
    original_steps: usize,
    shrink_iters: u32,
}

struct Report {
    seed: u64,
    policy: String,
    fixed_policy: Option<Policy>,
    cases: u64,
    elapsed: Duration,
    coverage: Coverage,
    found: Option<Found>,
}

impl Report {
    fn steps_per_sec(&self) -> f64 {
        self.coverage.steps as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn not_applicable(&self) -> Vec<Target> {
        match &self.fixed_policy {
            Some(p) => lockstep::unreachable_under(p),
            None => Vec::new(),
        }
    }

    fn gaps(&self) -> Vec<Target> {
        let na = self.not_applicable();
        self.coverage
            .gaps()
            .into_iter()
            .filter(|t| !na.contains(t))
            .collect()
    }
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    let fixed = match &a.policy.policy {
        Some(p) => Some(io::policy(Some(p))?),
        None => None,
    };
    let policy_label = match &a.policy.policy {
        Some(p) => io::name(p),
        None => "drawn: the shipped default policy and variations of every SPEC §3 knob".into(),
    };
    let cases = match (a.cases, a.time) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_CASES),
    };
    if let Some(t) = a.time {
        if !(t.is_finite() && t >= 0.0) {
            return Err(CliError::Other(
                "--time: expected a number of seconds".into(),
            ));
        }
    }
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(a.seed));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = generate::case(fixed.clone(), MAX_STEPS);

    // Panics are caught and reported as failures; keep the default hook's
    // message off stderr while the cases run.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = run_cases(&a, cases, &mut runner, &strategy);
    panic::set_hook(hook);
    let (done, elapsed, coverage, failure) = result?;

    let found = match failure {
        None => None,
        Some((case, verdict, iters, original_steps)) => Some(write_counterexample(
            &a,
            fixed.as_ref(),
            case,
            verdict,
            iters,
            original_steps,
        )?),
    };
    let report = Report {
        seed: a.seed,
        policy: policy_label,
        fixed_policy: fixed,
        cases: done,
        elapsed,
        coverage,
        found,
    };
    let text = match a.format {
        ReportFormat::Text => text_report(&report),
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(&json_report(&report)).expect("serializes");
            s.push('\n');
            s
        }
        ReportFormat::Junit => junit_report(&report),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|error| CliError::Io {
            file: "stdout".into(),
            error,
        })?;
    Ok(if report.found.is_some() {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

type Failure = (Case, Verdict, u32, usize);

fn run_cases(
    a: &Args,
    cases: Option<u64>,
    runner: &mut TestRunner,
    strategy: &impl Strategy<Value = Case>,
) -> Result<(u64, Duration, Coverage, Option<Failure>), CliError> {
    #[cfg(feature = "faults")]
    let inject: Inject = a.inject;
    #[cfg(not(feature = "faults"))]
    let inject: Inject = ();
    let started = Instant::now();
    let limit = a.time.map(Duration::from_secs_f64);
    let mut progress = Progress {
        on: std::io::stderr().is_terminal(),
        last: Instant::now(),
    };
    let mut coverage = Coverage::default();
    let mut done = 0u64;
    let mut failure = None;
    while !matches!(cases, Some(n) if done >= n)
        && !matches!(limit, Some(l) if started.elapsed() >= l)
    {
        let mut tree = strategy
            .new_tree(runner)
            .map_err(|e| CliError::Other(format!("case generation failed: {e}")))?;
        let case = tree.current();
        let verdict = evaluate(inject, &case)?;
        done += 1;
        match &verdict {
            Verdict::Held(c) => coverage.merge(c),
            Verdict::Failed {
                coverage: c, key, ..
            } => {
                coverage.merge(c);
                let key = key.clone();
                let original = case.steps.len();
                let (case, verdict, iters) = shrink(inject, &mut tree, &key, (case, verdict))?;
                let (case, verdict, more) = minimize(inject, &key, case, verdict)?;
                let iters = iters + more;
                failure = Some((case, verdict, iters, original));
                break;
            }
        }
        progress.tick(done, cases, started, a.time);
    }
    progress.done();
    Ok((done, started.elapsed(), coverage, failure))
}

fn write_counterexample(
    a: &Args,
    fixed: Option<&Policy>,
    case: Case,
    verdict: Verdict,
    shrink_iters: u32,
    original_steps: usize,
) -> Result<Found, CliError> {
    let Verdict::Failed {
        key,
        name,
        step,
        message,
        ..
    } = verdict
    else {
        unreachable!("only failures are shrunk")
    };
    let mut steps = case.steps;
    // Steps after the first violation add nothing to the counterexample.
    if let Some(i) = step {
        steps.truncate(i + 1);
    }
    let trace = Trace {
        policy: fixed.cloned().unwrap_or(case.policy),
        snapshot: case.snapshot,
        steps,
    };
    std::fs::create_dir_all(&a.out).map_err(|error| CliError::Io {
        file: io::name(&a.out),
        error,
    })?;
    let path = a.out.join(format!("{key}-{}.json", a.seed));
    io::write(&path, trace.to_json().as_bytes())?;
    Ok(Found {
        key,
        name,
        step,
        message,
        path,
        steps: trace.steps.len(),
        original_steps,
        shrink_iters,
    })
}

fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn replay_command(f: &Found) -> String {
    format!("authproof replay {}", shell_path(&f.path))
}

fn text_report(r: &Report) -> String {
    let mut s = String::new();
    let c = &r.coverage;
    let _ = writeln!(s, "authproof check");
    let _ = writeln!(s, "  seed       {}", r.seed);
    let _ = writeln!(s, "  policy     {}", r.policy);
    let _ = writeln!(s, "  cases      {}", r.cases);
    let _ = writeln!(s, "  steps      {}", c.steps);
    let _ = writeln!(s, "  elapsed    {:.1} s", r.elapsed.as_secs_f64());
    let _ = writeln!(s, "  steps/s    {:.0}", r.steps_per_sec());
    match &r.found {
        None => {
            let _ = writeln!(
                s,
                "  result     HELD: {} held on every step",
                Invariant::ALL.map(|i| i.id()).join(" ")
            );
        }
        Some(f) => {
            let _ = writeln!(s, "  result     VIOLATION of {} {}", f.key, f.name);
            let at = f
                .step
                .map_or("the initial snapshot".to_string(), |i| format!("step {i}"));
            let _ = writeln!(s, "  where      {at} of the shrunk trace");
            let _ = writeln!(s, "  what       {}", f.message);
            let _ = writeln!(
                s,
                "  shrunk     {} -> {} steps in {} attempts",
                f.original_steps, f.steps, f.shrink_iters
            );
            let _ = writeln!(s, "  trace      {}", f.path.display());
            let _ = writeln!(s, "  replay     {}", replay_command(f));
        }
    }
    let targets = Coverage::targets();
    let reached = targets.iter().filter(|t| c.count(**t) > 0).count();
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "coverage: {reached} of {} targets reached (23 reasons, allow, every command outcome)",
        targets.len()
    );
    let _ = writeln!(s, "  decisions");
    let _ = writeln!(s, "    {:<24}{:>9}", "allow", c.allows);
    for reason in Reason::ALL {
        let n = c.count(Target::Reason {
            reason: reason.code(),
        });
        let _ = writeln!(s, "    {:<24}{:>9}", reason.code(), n);
    }
    let _ = writeln!(s, "  commands");
    for op in authproof_engine::Op::NAMES {
        if op == "authenticate" {
            continue;
        }
        let mut line = format!("    {op:<18}");
        for t in &targets {
            if let Target::Outcome { op: o, outcome } = t {
                if *o == op {
                    let _ = write!(line, " {outcome} {}", c.count(*t));
                }
            }
        }
        let _ = writeln!(s, "{line}");
    }
    let na = r.not_applicable();
    if !na.is_empty() {
        let list: Vec<String> = na.iter().map(ToString::to_string).collect();
        let _ = writeln!(s, "  n/a under this policy: {}", list.join(", "));
    }
    let gaps = r.gaps();
    if gaps.is_empty() {
        let _ = writeln!(s, "GAPS: none");
    } else {
        let _ = writeln!(s, "GAPS ({}):", gaps.len());
        for g in gaps {
            let _ = writeln!(s, "  {g}");
        }
    }
    s
}

fn json_report(r: &Report) -> serde_json::Value {
    let c = &r.coverage;
    let reasons: serde_json::Map<String, serde_json::Value> = Reason::ALL
        .iter()
        .map(|x| {
            (
                x.code().to_string(),
                json!(c.count(Target::Reason { reason: x.code() })),
            )
        })
        .collect();
    let mut commands = serde_json::Map::new();
    for t in Coverage::targets() {
        if let Target::Outcome { op, outcome } = t {
            let e = commands.entry(op.to_string()).or_insert_with(|| json!({}));
            e[outcome] = json!(c.count(t));
        }
    }
    let violation = r.found.as_ref().map(|f| {
        json!({
            "invariant": f.key,
            "name": f.name,
            "step": f.step,
            "message": f.message,
            "trace": f.path.display().to_string(),
            "steps": f.steps,
            "original_steps": f.original_steps,
            "shrink_attempts": f.shrink_iters,
            "replay": replay_command(f),
        })
    });
    json!({
        "format": "authproof-check/1",
        "seed": r.seed,
        "policy": r.policy,
        "result": if r.found.is_some() { "violation" } else { "held" },
        "cases": r.cases,
        "steps": c.steps,
        "elapsed_secs": (r.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "steps_per_sec": r.steps_per_sec().round(),
        "violation": violation,
        "coverage": {
            "allow": c.allows,
            "reasons": reasons,
            "commands": commands,
        },
        "not_applicable": r.not_applicable().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "gaps": r.gaps().iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn junit_report(r: &Report) -> String {
    let mut cases = String::new();
    let mut failures = 0;
    for inv in Invariant::ALL {
        let name = format!("{} {}", inv.id(), inv.name());
        let _ = write!(
            cases,
            "    <testcase classname=\"authproof.check.invariants\" name=\"{}\"",
            xml(&name)
        );
        match &r.found {
            Some(f) if f.key == inv.id() => {
                failures += 1;
                let _ = writeln!(
                    cases,
                    ">\n      <failure message=\"{}\">{}\nreplay: {}</failure>\n    </testcase>",
                    xml(&f.message),
                    xml(&format!("trace {}", f.path.display())),
                    xml(&replay_command(f)),
                );
            }
            _ => {
                let _ = writeln!(cases, "/>");
            }
        }
    }
    if let Some(f) = r.found.as_ref().filter(|f| f.key == "panic") {
        failures += 1;
        let _ = writeln!(
            cases,
            "    <testcase classname=\"authproof.check.invariants\" name=\"no panic\">\n      <failure message=\"{}\">replay: {}</failure>\n    </testcase>",
            xml(&f.message),
            xml(&replay_command(f)),
        );
    }
    let gaps = r.gaps();
    let _ = write!(
        cases,
        "    <testcase classname=\"authproof.check.coverage\" name=\"coverage\""
    );
    if gaps.is_empty() {
        let _ = writeln!(cases, "/>");
    } else {
        failures += 1;
        let list: Vec<String> = gaps.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            cases,
            ">\n      <failure message=\"{} unreached\">{}</failure>\n    </testcase>",
            gaps.len(),
            xml(&list.join("\n"))
        );
    }
    let tests =
        Invariant::ALL.len() + 1 + usize::from(r.found.as_ref().is_some_and(|f| f.key == "panic"));
    let secs = r.elapsed.as_secs_f64();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"authproof check\" tests=\"{tests}\" failures=\"{failures}\" time=\"{secs:.3}\">\n  \
         <testsuite name=\"authproof check (seed {seed})\" tests=\"{tests}\" failures=\"{failures}\" time=\"{secs:.3}\">\n    \
         <properties>\n      \
         <property name=\"seed\" value=\"{seed}\"/>\n      \
         <property name=\"policy\" value=\"{policy}\"/>\n      \
         <property name=\"cases\" value=\"{cases}\"/>\n      \
         <property name=\"steps\" value=\"{steps}\"/>\n    \
         </properties>\n{cases_xml}  </testsuite>\n</testsuites>\n",
        seed = r.seed,
        policy = xml(&r.policy),
        cases = r.cases,
        steps = r.coverage.steps,
        cases_xml = cases,
    )
}
