//! The fault catalogue run against the harness: does verification catch
//! each bug class of INCIDENTS.md?
//!
//! For each injected [`Fault`], two techniques race to a counterexample:
//!
//! * **check** — the check runner of `authproof check` ([`crate::check`]),
//!   seeded the same way, on the faulty engine: a shrunk, minimized trace;
//! * **explore** — the exhaustive search of [`crate::explore`] at increasing
//!   depth, whose first counterexample is a shortest one.
//!
//! A fault that neither kills *survives*: the harness would have shipped
//! that bug. Fault injection needs the `faults` cargo feature.

use std::time::{Duration, Instant};

use authproof_engine::{Fault, Policy};
use serde::Serialize;

use crate::explore::{self, Universe};
use crate::lockstep::Failure;
#[cfg(feature = "proptest")]
use crate::{check, Error};

/// How a fault was killed.
#[derive(Clone, Debug, Serialize)]
pub struct Kill {
    /// Time to the (shrunk) counterexample.
    #[serde(serialize_with = "millis")]
    pub time: Duration,
    /// Commands in the counterexample trace.
    pub steps: usize,
    /// What fired first: an invariant id, or `panic` (check only).
    pub invariant: Failure,
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
}

impl Default for CheckBudget {
    fn default() -> Self {
        CheckBudget {
            seed: 0,
            cases: 20_000,
            time: Duration::from_secs(10),
        }
    }
}

/// Kills `fault` with the check runner — the same runner, seeding,
/// shrinking and minimizing as `authproof check`, so `mutants --seed N`
/// draws the cases of `check --seed N` — or `None` within the budget.
#[cfg(feature = "proptest")]
pub fn by_check(fault: Fault, budget: &CheckBudget) -> Result<Option<Kill>, Error> {
    let start = Instant::now();
    let cfg = check::CheckConfig {
        seed: budget.seed,
        cases: Some(budget.cases),
        time: Some(budget.time),
        fault: Some(fault),
        ..check::CheckConfig::default()
    };
    let report = check::run(&cfg, check::DRAWN_POLICIES, &mut |_| {})?;
    Ok(report.finding.map(|f| Kill {
        time: start.elapsed(),
        steps: f.trace.steps.len(),
        invariant: f.failure,
        message: f.message,
        depth: None,
        trace: f.trace.to_value(),
    }))
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
                invariant: Failure::Invariant(c.violation.invariant),
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
pub struct MutantRow {
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

impl MutantRow {
    /// Killed by at least one technique.
    pub fn killed(&self) -> bool {
        self.check.is_some()
            || self.explore.is_some()
            || self.fuzz.as_ref().is_some_and(|f| f.killed)
    }
}

/// Runs check and explore against `fault`.
#[cfg(feature = "proptest")]
pub fn row(
    fault: Fault,
    budget: &CheckBudget,
    max_depth: usize,
    explore_time: Duration,
) -> Result<MutantRow, Error> {
    Ok(MutantRow {
        fault: format!("{fault:?}"),
        name: fault.name(),
        check: by_check(fault, budget)?,
        explore: by_explore(fault, max_depth, explore_time),
        fuzz: None,
    })
}
