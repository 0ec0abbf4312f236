//! The check runner: model-based random verification.
//!
//! Draws cases (a policy, an initial snapshot, commands) with proptest from a
//! fixed seed, runs each through the [`Lockstep`](crate::Lockstep) harness
//! on the engine (with a fault injected, for `mutants`) and the reference
//! model, and counts coverage. On the first violation it shrinks the case
//! with proptest, then minimizes it command by command and record by record,
//! and returns the shortest trace it found. `authproof check` and the check
//! technique of `authproof mutants` both call [`run`], so the same seed
//! draws the same cases in both.
//!
//! The runner returns a [`CheckReport`] value and does no I/O; the CLI
//! writes the trace and prints one of the renderings ([`CheckReport::text`],
//! [`CheckReport::json`], [`CheckReport::junit`]).

use std::{
    cell::Cell,
    fmt::Write as _,
    panic::{self, AssertUnwindSafe},
    path::{Path, PathBuf},
    sync::Once,
    time::{Duration, Instant},
};

use authproof_engine::{Fault, Policy, Reason, State};
use proptest::{
    strategy::{Strategy, ValueTree},
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use serde_json::json;

use crate::{
    generate,
    lockstep::{self, Coverage, Failure, Target},
    Error, Invariant, Trace,
};

/// Default number of cases: about 17 s (single-threaded) in a release build.
pub const DEFAULT_CASES: u64 = 50_000;
/// Longest generated trace.
pub const MAX_STEPS: usize = 24;

/// What to check and for how long.
#[derive(Clone, Debug)]
pub struct CheckConfig {
    /// Seed of the generator: the same seed gives the same cases.
    pub seed: u64,
    /// Stop after this many cases (`None`: only `time` bounds the run).
    pub cases: Option<u64>,
    /// Stop after this long (the running case finishes).
    pub time: Option<Duration>,
    /// Every case under this policy; `None` draws the shipped default and
    /// variations of every policy knob.
    pub policy: Option<Policy>,
    /// An engine fault to inject (needs the `faults` feature).
    pub fault: Option<Fault>,
    /// Longest generated trace.
    pub max_steps: usize,
    /// Shrinking gives up after this many attempts or this long.
    pub shrink_attempts: u32,
    pub shrink_time: Duration,
    /// The directory counterexample traces are meant for: the runner only
    /// names the file ([`Finding::path`]), the caller writes it.
    pub out: PathBuf,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            seed: 0,
            cases: Some(DEFAULT_CASES),
            time: None,
            policy: None,
            fault: None,
            max_steps: MAX_STEPS,
            shrink_attempts: 20_000,
            shrink_time: Duration::from_secs(60),
            out: PathBuf::from("authproof-out"),
        }
    }
}

/// How one case ended.
pub(crate) enum CaseVerdict {
    Held(Coverage),
    Failed {
        failure: Failure,
        step: Option<usize>,
        message: String,
        coverage: Coverage,
    },
}

/// Runs one case and says how it ended: the engine for `check`, a live
/// target for `conform` (which shrinks with the same [`shrink`] and
/// [`minimize`]).
pub(crate) type Evaluate<'a> = dyn FnMut(&Trace) -> Result<CaseVerdict, Error> + 'a;

impl CaseVerdict {
    pub(crate) fn failure(&self) -> Option<Failure> {
        match self {
            CaseVerdict::Held(_) => None,
            CaseVerdict::Failed { failure, .. } => Some(*failure),
        }
    }
}

thread_local! {
    /// Set while this thread runs cases: their panics are failures the
    /// report shows, not noise for stderr.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the panic messages of this thread (only) kept off stderr;
/// other threads (tests running beside a check) keep theirs.
pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> R {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    match r {
        Ok(r) => r,
        Err(p) => {
            // A panic outside a case (generating or shrinking one, where
            // the engine also runs): the hook kept its message off stderr,
            // and it is not a case's failure the report would show, so it
            // is said here before it goes on.
            eprintln!(
                "authproof: panic outside a checked case: {}",
                panic_message(p.as_ref())
            );
            panic::resume_unwind(p)
        }
    }
}

pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".into()
    }
}

/// Runs one case; a panic in the engine or the model is a failure too.
fn evaluate(fault: Option<Fault>, case: &Trace) -> Result<CaseVerdict, Error> {
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        // A fresh judge per case: carrying its memory from case to case
        // (as the fuzz targets do) saved 2 % of the judging here, where
        // generated cases rarely repeat a result or a record, and cost
        // 70 MB (docs/VERIFICATION.md §1, session 10).
        lockstep::run_engine(&case.policy, &case.snapshot, &case.steps, fault)
    }));
    let run = match r {
        Ok(Ok(run)) => run,
        Ok(Err(e)) => return Err(Error::invalid_generated_case(e)),
        Err(p) => {
            return Ok(CaseVerdict::Failed {
                failure: Failure::Panic,
                step: None,
                message: panic_message(p.as_ref()),
                coverage: Coverage::default(),
            })
        }
    };
    Ok(match run.first_violation() {
        None => CaseVerdict::Held(run.coverage),
        Some((step, v)) => CaseVerdict::Failed {
            failure: Failure::Invariant(v.invariant),
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
pub(crate) fn minimize(
    cfg: &CheckConfig,
    eval: &mut Evaluate<'_>,
    want: Failure,
    mut case: Trace,
    mut verdict: CaseVerdict,
) -> Result<(Trace, CaseVerdict, u32), Error> {
    let started = Instant::now();
    let mut iters = 0u32;
    let mut try_case = |c: Trace, iters: &mut u32| -> Result<Option<(Trace, CaseVerdict)>, Error> {
        *iters += 1;
        if State::from_snapshot(c.snapshot.clone()).is_err() {
            return Ok(None);
        }
        let v = eval(&c)?;
        Ok((v.failure() == Some(want)).then_some((c, v)))
    };
    loop {
        let mut changed = false;
        // Steps past the failing one first, then each step.
        if let CaseVerdict::Failed { step: Some(i), .. } = verdict {
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
        if !changed || started.elapsed() > cfg.shrink_time {
            return Ok((case, verdict, iters));
        }
    }
}

/// Proptest's shrinking loop: simplify while the case still fails the same
/// way, complicate back when a simplification made it pass.
pub(crate) fn shrink(
    cfg: &CheckConfig,
    eval: &mut Evaluate<'_>,
    tree: &mut impl ValueTree<Value = Trace>,
    want: Failure,
    mut best: (Trace, CaseVerdict),
) -> Result<(Trace, CaseVerdict, u32), Error> {
    let started = Instant::now();
    let mut iters = 0;
    if !tree.simplify() {
        return Ok((best.0, best.1, iters));
    }
    while iters < cfg.shrink_attempts && started.elapsed() < cfg.shrink_time {
        iters += 1;
        let case = tree.current();
        let v = eval(&case)?;
        if v.failure() == Some(want) {
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

/// The generator's 32-byte ChaCha seed for `seed`.
pub(crate) fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, chunk) in b.chunks_mut(8).enumerate() {
        let word = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    b
}

/// A counterexample, shrunk and minimized.
#[derive(Clone, Debug)]
pub struct Finding {
    pub failure: Failure,
    /// The step of the trace that broke it; `None` for the initial snapshot
    /// (or a panic).
    pub step: Option<usize>,
    pub message: String,
    /// The shrunk trace, cut after the failing step.
    pub trace: Trace,
    /// Where the caller is to write the trace: `<out>/<id>-<seed>.json`.
    pub path: PathBuf,
    /// Commands in the case before shrinking.
    pub original_steps: usize,
    pub shrink_attempts: u32,
    /// The engine fault the run injected: the replay must inject it too, or
    /// it replays the correct engine and says "held".
    pub fault: Option<Fault>,
}

impl Finding {
    /// The command that reproduces the finding (with `--inject` when the
    /// run injected a fault: that flag needs a `--features faults` build).
    pub fn replay_command(&self) -> String {
        match self.fault {
            None => format!("authproof replay {}", shell_path(&self.path)),
            Some(f) => format!("authproof replay {} --inject {f:?}", shell_path(&self.path)),
        }
    }
}

/// What a check did.
#[derive(Clone, Debug)]
pub struct CheckReport {
    pub seed: u64,
    /// How the report names the policy (a file name, or "drawn: …").
    pub policy_label: String,
    /// The policy every case used, when one was fixed.
    pub policy: Option<Policy>,
    pub cases: u64,
    pub elapsed: Duration,
    pub coverage: Coverage,
    /// The first failure, shrunk; `None` when every invariant held.
    pub finding: Option<Finding>,
}

/// How a report names a run without a fixed policy.
pub const DRAWN_POLICIES: &str =
    "drawn: the shipped default policy and variations of every SPEC §3 knob";

/// Runs the check: cases until `cfg.cases` or `cfg.time`, whichever comes
/// first, stopping at the first failure, which it shrinks. `progress` sees
/// the number of cases done after each case.
pub fn run(
    cfg: &CheckConfig,
    policy_label: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<CheckReport, Error> {
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(cfg.seed));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = generate::trace(cfg.policy.clone(), cfg.max_steps);
    let started = Instant::now();
    let (cases, coverage, finding) =
        quietly(|| run_cases(cfg, &mut runner, &strategy, started, progress))?;
    Ok(CheckReport {
        seed: cfg.seed,
        policy_label: policy_label.to_string(),
        policy: cfg.policy.clone(),
        cases,
        elapsed: started.elapsed(),
        coverage,
        finding,
    })
}

fn run_cases(
    cfg: &CheckConfig,
    runner: &mut TestRunner,
    strategy: &impl Strategy<Value = Trace>,
    started: Instant,
    progress: &mut dyn FnMut(u64),
) -> Result<(u64, Coverage, Option<Finding>), Error> {
    let mut coverage = Coverage::default();
    let mut done = 0u64;
    while !matches!(cfg.cases, Some(n) if done >= n)
        && !matches!(cfg.time, Some(l) if started.elapsed() >= l)
    {
        let mut tree = strategy.new_tree(runner).map_err(Error::generation)?;
        let case = tree.current();
        let verdict = evaluate(cfg.fault, &case)?;
        done += 1;
        match &verdict {
            CaseVerdict::Held(c) => coverage.merge(c),
            CaseVerdict::Failed {
                coverage: c,
                failure,
                ..
            } => {
                coverage.merge(c);
                let want = *failure;
                let original_steps = case.steps.len();
                let eval = &mut |c: &Trace| evaluate(cfg.fault, c);
                let (case, verdict, iters) = shrink(cfg, eval, &mut tree, want, (case, verdict))?;
                let (case, verdict, more) = minimize(cfg, eval, want, case, verdict)?;
                let finding = finding(cfg, case, verdict, iters + more, original_steps);
                return Ok((done, coverage, Some(finding)));
            }
        }
        progress(done);
    }
    Ok((done, coverage, None))
}

fn finding(
    cfg: &CheckConfig,
    case: Trace,
    verdict: CaseVerdict,
    shrink_attempts: u32,
    original_steps: usize,
) -> Finding {
    let CaseVerdict::Failed {
        failure,
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
        policy: cfg.policy.clone().unwrap_or(case.policy),
        snapshot: case.snapshot,
        steps,
    };
    Finding {
        failure,
        step,
        message,
        path: cfg.out.join(format!("{}-{}.json", failure.id(), cfg.seed)),
        trace,
        original_steps,
        shrink_attempts,
        fault: cfg.fault,
    }
}

pub(crate) fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl CheckReport {
    fn steps_per_sec(&self) -> f64 {
        self.coverage.steps as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Targets no case can reach under the fixed policy.
    pub fn not_applicable(&self) -> Vec<Target> {
        match &self.policy {
            Some(p) => lockstep::unreachable_under(p),
            None => Vec::new(),
        }
    }

    /// Targets never reached that could have been.
    pub fn gaps(&self) -> Vec<Target> {
        let na = self.not_applicable();
        self.coverage
            .gaps()
            .into_iter()
            .filter(|t| !na.contains(t))
            .collect()
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let c = &self.coverage;
        let _ = writeln!(s, "authproof check");
        let _ = writeln!(s, "  seed       {}", self.seed);
        let _ = writeln!(s, "  policy     {}", self.policy_label);
        let _ = writeln!(s, "  cases      {}", self.cases);
        let _ = writeln!(s, "  steps      {}", c.steps);
        let _ = writeln!(s, "  elapsed    {:.1} s", self.elapsed.as_secs_f64());
        let _ = writeln!(s, "  steps/s    {:.0}", self.steps_per_sec());
        match &self.finding {
            None => {
                let _ = writeln!(
                    s,
                    "  result     HELD: {} held on every step",
                    Invariant::ALL.map(|i| i.id()).join(" ")
                );
            }
            Some(f) => {
                let _ = writeln!(
                    s,
                    "  result     VIOLATION of {} {}",
                    f.failure.id(),
                    f.failure.name()
                );
                let at = f
                    .step
                    .map_or("the initial snapshot".to_string(), |i| format!("step {i}"));
                let _ = writeln!(s, "  where      {at} of the shrunk trace");
                let _ = writeln!(s, "  what       {}", f.message);
                let _ = writeln!(
                    s,
                    "  shrunk     {} -> {} steps in {} attempts",
                    f.original_steps,
                    f.trace.steps.len(),
                    f.shrink_attempts
                );
                let _ = writeln!(s, "  trace      {}", f.path.display());
                let _ = writeln!(s, "  replay     {}", f.replay_command());
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
        let na = self.not_applicable();
        if !na.is_empty() {
            let list: Vec<String> = na.iter().map(ToString::to_string).collect();
            let _ = writeln!(s, "  n/a under this policy: {}", list.join(", "));
        }
        let gaps = self.gaps();
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

    /// The report as one JSON object (`authproof-check/1`).
    pub fn json(&self) -> serde_json::Value {
        let c = &self.coverage;
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
        let violation = self.finding.as_ref().map(|f| {
            json!({
                "invariant": f.failure.id(),
                "name": f.failure.name(),
                "step": f.step,
                "message": f.message,
                "trace": f.path.display().to_string(),
                "steps": f.trace.steps.len(),
                "original_steps": f.original_steps,
                "shrink_attempts": f.shrink_attempts,
                "replay": f.replay_command(),
            })
        });
        json!({
            "format": "authproof-check/1",
            "seed": self.seed,
            "policy": self.policy_label,
            "result": if self.finding.is_some() { "violation" } else { "held" },
            "cases": self.cases,
            "steps": c.steps,
            "elapsed_secs": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "steps_per_sec": self.steps_per_sec().round(),
            "violation": violation,
            "coverage": {
                "allow": c.allows,
                "reasons": reasons,
                "commands": commands,
            },
            "not_applicable": self.not_applicable().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "gaps": self.gaps().iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    }

    /// JUnit XML: one test case per invariant and one for coverage.
    ///
    /// Every invariant is checked on every step of the same run, so each
    /// invariant case carries the run's whole time. Coverage gaps are
    /// `<skipped>` with the list, not a failure: they do not change the exit
    /// code (a violation does), and a JUnit consumer must agree with it.
    pub fn junit(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let mut cases = String::new();
        let mut failures = 0;
        for inv in Invariant::ALL {
            let name = format!("{} {}", inv.id(), inv.name());
            let _ = write!(
                cases,
                "    <testcase classname=\"authproof.check.invariants\" name=\"{}\" time=\"{secs:.3}\"",
                xml(&name)
            );
            match &self.finding {
                Some(f) if f.failure == Failure::Invariant(inv) => {
                    failures += 1;
                    let _ = writeln!(
                        cases,
                        ">\n      <failure message=\"{}\">{}\nreplay: {}</failure>\n    </testcase>",
                        xml(&f.message),
                        xml(&format!("trace {}", f.path.display())),
                        xml(&f.replay_command()),
                    );
                }
                _ => {
                    let _ = writeln!(cases, "/>");
                }
            }
        }
        let panicked = self
            .finding
            .as_ref()
            .filter(|f| f.failure == Failure::Panic);
        if let Some(f) = panicked {
            failures += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"authproof.check.invariants\" name=\"no panic\" time=\"{secs:.3}\">\n      <failure message=\"{}\">replay: {}</failure>\n    </testcase>",
                xml(&f.message),
                xml(&f.replay_command()),
            );
        }
        let gaps = self.gaps();
        let _ = write!(
            cases,
            "    <testcase classname=\"authproof.check.coverage\" name=\"coverage\" time=\"0.000\""
        );
        let skipped = usize::from(!gaps.is_empty());
        if gaps.is_empty() {
            let _ = writeln!(cases, "/>");
        } else {
            let list: Vec<String> = gaps.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                cases,
                ">\n      <skipped message=\"{} coverage targets never reached (not a failure)\">{}</skipped>\n    </testcase>",
                gaps.len(),
                xml(&list.join("\n"))
            );
        }
        let tests = Invariant::ALL.len() + 1 + usize::from(panicked.is_some());
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"authproof check\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{secs:.3}\">\n  \
             <testsuite name=\"authproof check (seed {seed})\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{secs:.3}\">\n    \
             <properties>\n      \
             <property name=\"seed\" value=\"{seed}\"/>\n      \
             <property name=\"policy\" value=\"{policy}\"/>\n      \
             <property name=\"cases\" value=\"{cases}\"/>\n      \
             <property name=\"steps\" value=\"{steps}\"/>\n    \
             </properties>\n{cases_xml}  </testsuite>\n</testsuites>\n",
            seed = self.seed,
            policy = xml(&self.policy_label),
            cases = self.cases,
            steps = self.coverage.steps,
            cases_xml = cases,
        )
    }
}

/// Text for an XML attribute or element (JUnit reports); control characters
/// other than newline and tab are dropped.
pub(crate) fn xml(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic that leaves `quietly` (one outside a case: generation,
    /// shrinking) still unwinds, and the thread's panics are loud again
    /// afterwards: before, the flag stayed set and every later panic of
    /// the thread went unsaid.
    #[test]
    fn a_panic_leaving_quietly_unwinds_and_restores_the_hook() {
        let r = panic::catch_unwind(|| quietly(|| panic!("outside a case")));
        let p = r.expect_err("the panic goes on");
        assert_eq!(panic_message(p.as_ref()), "outside a case");
        assert!(!QUIET.with(Cell::get), "the thread's panics are said again");
        assert_eq!(quietly(|| 7), 7);
        assert!(!QUIET.with(Cell::get));
    }

    /// The replay hint of a run with an injected fault injects it too:
    /// without `--inject` the replay runs the correct engine and says "held".
    #[test]
    fn replay_command_names_the_injected_fault() {
        let mut f = Finding {
            failure: Failure::Invariant(crate::Invariant::PreciseReasons),
            step: Some(0),
            message: String::new(),
            trace: Trace {
                policy: Policy::default(),
                snapshot: authproof_engine::Snapshot::default(),
                steps: Vec::new(),
            },
            path: PathBuf::from("authproof-out/I5-0.json"),
            original_steps: 1,
            shrink_attempts: 0,
            fault: None,
        };
        assert_eq!(
            f.replay_command(),
            "authproof replay authproof-out/I5-0.json"
        );
        f.fault = Some(Fault::F03);
        assert_eq!(
            f.replay_command(),
            "authproof replay authproof-out/I5-0.json --inject F03"
        );
    }

    fn small(seed: u64) -> CheckConfig {
        CheckConfig {
            seed,
            cases: Some(40),
            ..CheckConfig::default()
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_cases() {
        let a = run(&small(7), DRAWN_POLICIES, &mut |_| {}).unwrap();
        let b = run(&small(7), DRAWN_POLICIES, &mut |_| {}).unwrap();
        assert!(a.finding.is_none(), "{:?}", a.finding);
        assert_eq!(a.cases, 40);
        assert_eq!(a.coverage, b.coverage);
        let c = run(&small(8), DRAWN_POLICIES, &mut |_| {}).unwrap();
        assert_ne!(a.coverage, c.coverage, "another seed, other cases");
    }

    #[test]
    fn reports_render_the_same_facts() {
        let r = run(&small(1), DRAWN_POLICIES, &mut |_| {}).unwrap();
        let j = r.json();
        assert_eq!(j["result"], "held");
        assert_eq!(j["cases"], 40);
        assert_eq!(j["steps"], r.coverage.steps);
        assert!(r.text().contains("HELD: I1 I2 I3 I4 I5 I6 I7 I8 I9 I10"));
        assert!(r.junit().contains("tests=\"11\""));
    }
}
