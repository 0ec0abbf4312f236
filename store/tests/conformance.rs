//! Conformance: the same random command sequences (the models' generator,
//! `authproof_verification::generate::case`) run on the reference model, the engine,
//! SQLite and PostgreSQL. After every step the results must agree — the
//! stores' `CommandResult` equals the engine's exactly (explanations
//! included), the model's in everything but the free-form explanation (and
//! `Decision::outcome()` for `authenticate`) — and every store's exported
//! snapshot equals the engine's `to_snapshot()`, byte for byte as JSON.

mod common;

use std::cell::RefCell;

use authproof_engine::{CommandResult, Snapshot, State};
use authproof_store::Store;
use authproof_verification::{generate, Model};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// What the model must agree on: everything but explanations.
fn comparable(r: &CommandResult) -> serde_json::Value {
    match r {
        CommandResult::Rejected { op, reason, .. } => {
            serde_json::json!({"op": op, "reason": reason})
        }
        CommandResult::Decision { op, decision } => {
            serde_json::json!({"op": op, "outcome": decision.outcome()})
        }
        ok => serde_json::to_value(ok).unwrap(),
    }
}

fn pretty(s: &Snapshot) -> String {
    serde_json::to_string_pretty(s).unwrap()
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

fn run_case(
    case: &generate::Case,
    stores: &mut [(&str, &mut Store)],
    tally: &mut Tally,
) -> Result<(), TestCaseError> {
    let mut engine = State::from_snapshot(case.snapshot.clone()).expect("integrity");
    let mut model = Model::new(&case.snapshot, &case.policy);
    for (name, store) in stores.iter_mut() {
        store
            .import(&case.snapshot, true)
            .map_err(|e| TestCaseError::fail(format!("{name}: import: {e}")))?;
        let back = store
            .export()
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(
            pretty(&back),
            pretty(&engine.to_snapshot()),
            "{} import",
            name
        );
    }
    for (i, cmd) in case.steps.iter().enumerate() {
        let want = engine.apply(&case.policy, cmd);
        match &want {
            CommandResult::Ok { op, .. } => {
                tally.ok += 1;
                tally.commands.insert(op.clone());
            }
            CommandResult::Rejected { .. } => tally.rejected += 1,
            CommandResult::Decision { decision, .. } => {
                if decision.is_allow() {
                    tally.allow += 1;
                    tally.refresh += usize::from(!decision.effects.is_empty());
                } else {
                    tally.deny += 1;
                    *tally
                        .reasons
                        .entry(decision.reason.map(|r| r.code()).unwrap_or_default())
                        .or_default() += 1;
                }
            }
        }
        let by_model = model.apply(cmd);
        prop_assert_eq!(
            comparable(&by_model),
            comparable(&want),
            "step {}: model vs engine on {}",
            i,
            serde_json::to_string(cmd).unwrap()
        );
        let snap = pretty(&engine.to_snapshot());
        prop_assert_eq!(
            pretty(&model.snapshot()),
            snap.clone(),
            "step {}: model snapshot",
            i
        );
        for (name, store) in stores.iter_mut() {
            let got = store
                .apply(&case.policy, cmd)
                .map_err(|e| TestCaseError::fail(format!("{name}: step {i}: {e}")))?;
            prop_assert_eq!(
                &got,
                &want,
                "step {}: {} vs engine on {}",
                i,
                name,
                serde_json::to_string(cmd).unwrap()
            );
            let back = store
                .export()
                .map_err(|e| TestCaseError::fail(format!("{name}: export: {e}")))?;
            prop_assert_eq!(pretty(&back), snap.clone(), "step {}: {} snapshot", i, name);
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

fn conformance(test: &str, strategy: BoxedStrategy<generate::Case>, min: fn(&Tally) -> bool) {
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
fn tiny_cases(max: usize) -> BoxedStrategy<generate::Case> {
    let policies = common::tiny::policies();
    (0..policies.len(), common::tiny::seeds(max))
        .prop_map(move |(p, seeds)| generate::Case {
            policy: policies[p].clone(),
            snapshot: common::tiny::snapshot(),
            steps: common::tiny::commands(&seeds),
        })
        .boxed()
}

/// The models' generator (random policies and snapshots).
#[test]
fn model_engine_sqlite_postgres_agree_on_generated_traces() {
    conformance("conformance", generate::case(None, 24), |t| {
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
