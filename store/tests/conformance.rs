//! Conformance: the same random command sequences (the verification
//! generator, `authproof_verification::generate::trace`, and a tiny universe)
//! run on the engine, SQLite and PostgreSQL, each in the lockstep harness
//! beside the reference model, so every invariant (I1–I10, I5 being the
//! model's agreement) is checked on every store's own results and states.
//! On top of that, after every step each store's `CommandResult` equals the
//! engine's exactly (explanations included) and its exported snapshot equals
//! the engine's `to_snapshot()`, byte for byte as JSON.

use crate::common;

use std::cell::RefCell;

use authproof_engine::{CommandResult, Snapshot, State};
use authproof_store::Store;
use authproof_verification::{generate, Lockstep, Trace, Violation};
use common::StoreUnderTest;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn pretty(s: &Snapshot) -> String {
    serde_json::to_string_pretty(s).unwrap()
}

/// An error with its sources: the store's own error is the source of the
/// harness's.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        s += &format!(": {cause}");
        next = cause.source();
    }
    s
}

fn listed(v: &[Violation]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How many results of each kind a run saw, so a generator that drifts to
/// trivial traces fails the test instead of passing it vacuously.
#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    rejected: usize,
    allow: usize,
    deny: usize,
    refresh: usize,
    commands: std::collections::BTreeSet<String>,
    reasons: std::collections::BTreeMap<&'static str, usize>,
}

impl Tally {
    fn count(&mut self, r: &CommandResult) {
        match r {
            CommandResult::Ok { op, .. } => {
                self.ok += 1;
                self.commands.insert(op.to_string());
            }
            CommandResult::Rejected { .. } => self.rejected += 1,
            CommandResult::Decision { decision, .. } => {
                if decision.is_allow() {
                    self.allow += 1;
                    self.refresh += usize::from(!decision.effects.is_empty());
                } else {
                    self.deny += 1;
                    *self
                        .reasons
                        .entry(decision.reason.map(|r| r.code()).unwrap_or_default())
                        .or_default() += 1;
                }
            }
        }
    }
}

fn run_case(
    case: &Trace,
    stores: &mut [(&str, &mut Store)],
    tally: &mut Tally,
) -> Result<(), TestCaseError> {
    let fail = |e: authproof_verification::Error| TestCaseError::fail(chain(&e));
    let engine = State::from_snapshot(case.snapshot.clone()).expect("integrity");
    let mut engine = Lockstep::new(&case.policy, &case.snapshot, engine).map_err(fail)?;
    prop_assert!(
        engine.initial_violations().is_empty(),
        "engine: {}",
        listed(engine.initial_violations())
    );
    let mut running = Vec::new();
    for (name, store) in stores.iter_mut() {
        store
            .import(&case.snapshot, true)
            .map_err(|e| TestCaseError::fail(format!("{name}: import: {e}")))?;
        let lockstep = Lockstep::new(&case.policy, &case.snapshot, StoreUnderTest(store))
            .map_err(|e| TestCaseError::fail(format!("{name}: {}", chain(&e))))?;
        // Includes: the store exports exactly the snapshot it imported.
        prop_assert!(
            lockstep.initial_violations().is_empty(),
            "{} import: {}",
            name,
            listed(lockstep.initial_violations())
        );
        running.push((*name, lockstep));
    }
    for (i, cmd) in case.steps.iter().enumerate() {
        let want = engine.step(cmd).map_err(fail)?;
        tally.count(&want.result);
        prop_assert!(
            want.violations.is_empty(),
            "step {}: engine on {}: {}",
            i,
            serde_json::to_string(cmd).unwrap(),
            listed(&want.violations)
        );
        let snap = pretty(engine.state());
        for (name, store) in running.iter_mut() {
            let got = store
                .step(cmd)
                .map_err(|e| TestCaseError::fail(format!("{name}: step {i}: {}", chain(&e))))?;
            prop_assert!(
                got.violations.is_empty(),
                "step {}: {} on {}: {}",
                i,
                name,
                serde_json::to_string(cmd).unwrap(),
                listed(&got.violations)
            );
            prop_assert_eq!(
                &got.result,
                &want.result,
                "step {}: {} vs engine on {}",
                i,
                name,
                serde_json::to_string(cmd).unwrap()
            );
            prop_assert_eq!(
                pretty(store.state()),
                snap.clone(),
                "step {}: {} snapshot",
                i,
                name
            );
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("AUTHPROOF_STORE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

fn conformance(test: &str, strategy: BoxedStrategy<Trace>, min: fn(&Tally) -> bool) {
    let sqlite = RefCell::new(common::sqlite_memory());
    let pg = RefCell::new(common::pg_database(test).map(|url| common::open(&url)));
    let tally = RefCell::new(Tally::default());
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |case| {
        let mut sqlite = sqlite.borrow_mut();
        let mut pg = pg.borrow_mut();
        let mut stores: Vec<(&str, &mut Store)> = vec![("sqlite", &mut sqlite)];
        if let Some(pg) = pg.as_mut() {
            stores.push(("postgres", pg));
        }
        run_case(&case, &mut stores, &mut tally.borrow_mut())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let tally = tally.into_inner();
    eprintln!("{test}: {tally:?}");
    assert!(
        min(&tally),
        "{test}: the traces exercised too little: {tally:?}"
    );
}

/// Cases of the tiny universe (common::tiny), under each of its policies.
fn tiny_cases(max: usize) -> BoxedStrategy<Trace> {
    let policies = common::tiny::policies();
    (0..policies.len(), common::tiny::seeds(max))
        .prop_map(move |(p, seeds)| Trace {
            policy: policies[p].clone(),
            snapshot: common::tiny::snapshot(),
            steps: common::tiny::commands(&seeds),
        })
        .boxed()
}

/// The verification generator (random policies and snapshots).
#[test]
fn model_engine_sqlite_postgres_agree_on_generated_traces() {
    conformance("conformance", generate::trace(None, 24), |t| {
        t.ok > 0 && t.rejected > 0 && t.deny > 0
    });
}

/// The tiny universe, where requests are often allowed and sessions slide.
#[test]
fn model_engine_sqlite_postgres_agree_on_tiny_universe_traces() {
    conformance("conformance_tiny", tiny_cases(40), |t| {
        t.ok > 0
            && t.rejected > 0
            && t.allow > 0
            && t.deny > 0
            && t.refresh > 0
            && t.commands.len() >= 15
    });
}
