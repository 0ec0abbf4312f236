//! The verification gate: the product's own verification, on a bounded
//! budget, as one test. `cargo mutants` runs only this test on each mutant
//! of the engine (docs/VERIFICATION.md), so the mutation score it reports is
//! what `check` and `explore` catch — not what the engine's unit tests
//! catch.
//!
//! Budgets are fixed counts, not times, so a mutant is judged the same way
//! on a loaded machine: `check` draws 3,000 cases from seed 0 over drawn
//! policies (the default and every knob varied), and `explore` searches the
//! default universe to depth 2 under the default and the better-auth policy.

use std::path::PathBuf;

use authproof_engine::Policy;
use authproof_verification::{
    check::{self, CheckConfig},
    explore::{self, Universe},
};

const CASES: u64 = 3_000;

#[test]
fn gate_check_finds_nothing() {
    let cfg = CheckConfig {
        seed: 0,
        cases: Some(CASES),
        // Detection is all a mutant needs: no shrinking.
        shrink_attempts: 0,
        out: PathBuf::from("authproof-out"),
        ..CheckConfig::default()
    };
    let report = check::run(&cfg, "drawn", &mut |_| {}).expect("the check runs");
    if let Some(f) = &report.finding {
        panic!("check found a violation: {:?}: {}", f.failure, f.message);
    }
}

#[test]
fn gate_explore_finds_nothing() {
    let better_auth = authproof_engine::load::policy(
        include_str!("../../policies/better-auth.toml"),
        "policies/better-auth.toml",
    )
    .expect("the shipped policy loads");
    for policy in [Policy::default(), better_auth] {
        let cfg = explore::Config {
            depth: 2,
            ..explore::Config::default()
        };
        let universe = Universe::for_policy(&policy);
        let report = explore::explore(&universe, &policy, &cfg, &mut |_| {});
        if let Some(c) = &report.counterexample {
            panic!("explore found a violation: {}", c.violation);
        }
        assert_eq!(report.depth_completed, 2);
    }
}
