//! The fault catalogue run against the harness: does verification catch
//! each bug class of INCIDENTS.md?
//!
//! For each injected [`Fault`], two techniques race to a counterexample:
//!
//! * **check** — random model-based testing with a fixed seed: proptest
//!   cases from [`crate::generate::case`] under the default policy, run on the
//!   faulty engine and the model with every invariant, shrunk to a minimal
//!   trace;
//! * **explore** — the exhaustive search of [`crate::explore`] at increasing
//!   depth, whose first counterexample is a shortest one.
//!
//! A fault that neither kills *survives*: the harness would have shipped
//! that bug. Fault injection needs the `faults` cargo feature.

use std::time::{Duration, Instant};

use authproof_engine::{Fault, Policy};
use proptest::{
    strategy::{Strategy, ValueTree},
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use serde::Serialize;

use crate::{
    explore::{self, engine_state, Universe},
    generate::{self, Case},
    lockstep,
    trace::Trace,
    Invariant, Violation,
};

/// How a fault was killed.
#[derive(Clone, Debug, Serialize)]
pub struct Kill {
    /// Time to the (shrunk) counterexample.
    #[serde(serialize_with = "millis")]
    pub time: Duration,
    /// Commands in the counterexample trace.
    pub steps: usize,
    /// The first invariant that fired.
    pub invariant: Invariant,
    pub message: String,
    /// For explore: the depth searched when it was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    /// The counterexample, as a replayable trace.
    #[serde(skip)]
    pub trace: serde_json::Value,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Budget of the check technique.
#[derive(Clone, Debug)]
pub struct CheckBudget {
    pub seed: u64,
    pub cases: u64,
    pub time: Duration,
    pub max_steps: usize,
}

impl Default for CheckBudget {
    fn default() -> Self {
        CheckBudget {
            seed: 0,
            cases: 20_000,
            time: Duration::from_secs(10),
            max_steps: 24,
        }
    }
}

/// Runs one case on the engine with `fault` and the model: the first
/// violation, with the step it happened on.
fn verdict(case: &Case, fault: Fault) -> Option<(usize, Violation)> {
    let engine = engine_state(&case.snapshot, Some(fault));
    let run = lockstep::run_on(engine, &case.policy, &case.snapshot, &case.steps).ok()?;
    run.first_violation()
        .map(|(step, v)| (step.unwrap_or(0), v.clone()))
}

/// Kills `fault` by random testing, or `None` within the budget.
pub fn by_check(fault: Fault, budget: &CheckBudget) -> Option<Kill> {
    let start = Instant::now();
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&budget.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let strategy = generate::case(Some(Policy::default()), budget.max_steps);
    for _ in 0..budget.cases {
        if start.elapsed() > budget.time {
            return None;
        }
        let mut tree = strategy.new_tree(&mut runner).ok()?;
        let Some(mut found) = verdict(&tree.current(), fault) else {
            continue;
        };
        let mut best = tree.current();
        // Shrink (proptest's simplify/complicate walk), keeping a candidate
        // only while the same invariant still fires; bounded so a fault that
        // shrinks slowly cannot stall the table.
        let want = found.1.invariant;
        let mut more = tree.simplify();
        let mut budget_left = 4096;
        while more && budget_left > 0 {
            budget_left -= 1;
            let candidate = tree.current();
            match verdict(&candidate, fault) {
                Some(v) if v.1.invariant == want => {
                    found = v;
                    best = candidate;
                    more = tree.simplify();
                }
                _ => more = tree.complicate(),
            }
        }
        let (step, violation) = found;
        let mut steps = best.steps;
        steps.truncate(step + 1);
        let trace = Trace {
            policy: best.policy,
            snapshot: best.snapshot,
            steps,
        };
        return Some(Kill {
            time: start.elapsed(),
            steps: trace.steps.len(),
            invariant: violation.invariant,
            message: violation.message,
            depth: None,
            trace: trace.to_value(),
        });
    }
    None
}

/// Kills `fault` by exhaustive exploration at depth 1, 2, … `max_depth`,
/// giving up after `time` in all.
pub fn by_explore(fault: Fault, max_depth: usize, time: Duration) -> Option<Kill> {
    let start = Instant::now();
    let policy = Policy::default();
    let universe = Universe::for_policy(&policy);
    for depth in 1..=max_depth {
        let cfg = explore::Config {
            depth,
            fault: Some(fault),
            time_limit: Some(time.saturating_sub(start.elapsed())),
            ..explore::Config::default()
        };
        let report = explore::explore(&universe, &policy, &cfg, &mut |_| {});
        if report.timed_out {
            return None;
        }
        if let Some(c) = report.counterexample {
            return Some(Kill {
                time: start.elapsed(),
                steps: c.steps,
                invariant: c.violation.invariant,
                message: c.violation.message,
                depth: Some(depth),
                trace: c.trace,
            });
        }
    }
    None
}

/// One row of the mutants table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub fault: String,
    pub name: &'static str,
    pub check: Option<Kill>,
    pub explore: Option<Kill>,
    /// Set when a bounded `differential` fuzz run was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuzz: Option<FuzzResult>,
}

/// The outcome of a bounded fuzz run.
#[derive(Clone, Debug, Serialize)]
pub struct FuzzResult {
    pub killed: bool,
    #[serde(serialize_with = "millis")]
    pub time: Duration,
    pub detail: String,
}

impl Row {
    /// Killed by at least one technique.
    pub fn killed(&self) -> bool {
        self.check.is_some()
            || self.explore.is_some()
            || self.fuzz.as_ref().is_some_and(|f| f.killed)
    }
}

/// Runs check and explore against `fault`.
pub fn row(fault: Fault, budget: &CheckBudget, max_depth: usize, explore_time: Duration) -> Row {
    Row {
        fault: format!("{fault:?}"),
        name: fault.name(),
        check: by_check(fault, budget),
        explore: by_explore(fault, max_depth, explore_time),
        fuzz: None,
    }
}
