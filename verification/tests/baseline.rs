//! The mutation-score baseline (issue 16): what a *differential smoke test*
//! alone catches — engine and model side by side on 100 generated traces
//! under the shipped default policy, every invariant on, no policy
//! variations, no exhaustive search. `scripts/mutation-score --baseline`
//! runs only this test on each mutant, so the gap to the gate
//! (`gate.rs`: 3,000 cases over drawn policies plus explore) is what the
//! verification's budget and breadth buy (docs/VERIFICATION.md §2).

use std::path::PathBuf;

use authproof_engine::Policy;
use authproof_verification::check::{self, CheckConfig};

#[test]
fn baseline_differential_smoke_finds_nothing() {
    let cfg = CheckConfig {
        seed: 0,
        cases: Some(100),
        policy: Some(Policy::default()),
        shrink_attempts: 0,
        out: PathBuf::from("authproof-out"),
        ..CheckConfig::default()
    };
    let report = check::run(&cfg, "default", &mut |_| {}).expect("the check runs");
    if let Some(f) = &report.finding {
        panic!("check found a violation: {:?}: {}", f.failure, f.message);
    }
}
