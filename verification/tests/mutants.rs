//! The fault catalogue is killed: every injected fault of INCIDENTS.md is
//! caught by check and by explore, and the counterexample replays.
//!
//! Needs the `faults` feature:
//! `cargo test -p authproof-verification --features faults --test lib mutants`.

use std::time::Duration;

use authproof_engine::{Fault, Policy};
use authproof_verification::{
    explore::{self, Universe},
    lockstep::{self, Failure},
    mutants::{by_check, by_explore, CheckBudget},
    Trace,
};

#[test]
fn every_fault_is_killed_by_check_and_explore() {
    let budget = CheckBudget {
        time: Duration::from_secs(60),
        ..CheckBudget::default()
    };
    for fault in Fault::ALL {
        let check = by_check(fault, &budget)
            .expect("the check runs")
            .unwrap_or_else(|| panic!("{fault} survived check"));
        let explore = by_explore(fault, 3, Duration::from_secs(120))
            .unwrap_or_else(|| panic!("{fault} survived explore to depth 3"));
        for kill in [&check, &explore] {
            // The counterexample is a trace that replays to the same
            // invariant with the fault, and holds without it.
            let trace = Trace::from_value(kill.trace.clone(), "counterexample").unwrap();
            let faulty =
                lockstep::run_engine(&trace.policy, &trace.snapshot, &trace.steps, Some(fault))
                    .unwrap();
            let (_, v) = faulty
                .first_violation()
                .unwrap_or_else(|| panic!("{fault}: counterexample does not replay"));
            assert_eq!(Failure::Invariant(v.invariant), kill.invariant, "{fault}");
            let fixed = lockstep::run(&trace.policy, &trace.snapshot, &trace.steps).unwrap();
            assert!(
                fixed.held(),
                "{fault}: the fixed engine fails its counterexample"
            );
        }
    }
}

/// The shortest explore kill of each fault — (fault, depth, steps,
/// invariant) — as the sequential, unpacked search found them before the
/// search was made parallel and packed (the README's `mutants` table).
const EXPLORE_KILLS: [(&str, usize, usize, &str); 16] = [
    ("F01", 2, 2, "I5"),
    ("F02", 1, 1, "I5"),
    ("F03", 1, 1, "I5"),
    ("F04", 1, 1, "I5"),
    ("F05", 1, 1, "I5"),
    ("F06", 1, 1, "I3"),
    ("F07", 2, 2, "I5"),
    ("F08", 1, 1, "I2"),
    ("F09", 2, 2, "I1"),
    ("F10", 1, 1, "I5"),
    ("F11", 2, 2, "I5"),
    ("F12", 1, 1, "I1"),
    ("F13", 1, 1, "I5"),
    ("F14", 1, 1, "I9"),
    ("F15", 2, 2, "I5"),
    ("F16", 1, 1, "I5"),
];

/// The parallel search keeps the sequential order: for every fault, one
/// thread and three find the same shortest counterexample, at the depth the
/// sequential search found it, and the incremental invariant check agrees
/// with the whole-state one on every transition on the way (`cross_check`
/// panics otherwise).
#[test]
fn explore_is_the_same_on_any_thread_count() {
    let policy = Policy::default();
    let universe = Universe::for_policy(&policy);
    for fault in Fault::ALL {
        let (_, kill_depth, kill_steps, kill_invariant) = EXPLORE_KILLS
            .iter()
            .find(|(f, ..)| fault.to_string().starts_with(f))
            .copied()
            .unwrap_or_else(|| panic!("{fault} has no expected kill"));
        for depth in 1..=3 {
            let run = |threads, cross_check| {
                let cfg = explore::Config {
                    depth,
                    fault: Some(fault),
                    threads,
                    cross_check,
                    ..explore::Config::default()
                };
                explore::explore(&universe, &policy, &cfg, &mut |_| {})
            };
            let (one, three) = (run(1, true), run(3, false));
            assert_eq!(
                (one.states, one.transitions),
                (three.states, three.transitions),
                "{fault} at depth {depth}"
            );
            let (a, b) = (one.counterexample, three.counterexample);
            assert_eq!(a.is_some(), b.is_some(), "{fault} at depth {depth}");
            if let (Some(a), Some(b)) = (a, b) {
                assert_eq!((a.steps, &a.trace), (b.steps, &b.trace), "{fault}");
                assert_eq!(a.violation, b.violation, "{fault}");
                assert_eq!(
                    (depth, a.steps, a.violation.invariant.id()),
                    (kill_depth, kill_steps, kill_invariant),
                    "{fault}: not the sequential search's shortest kill"
                );
                break;
            }
            assert!(depth < kill_depth, "{fault} survived depth {depth}");
        }
    }
}
