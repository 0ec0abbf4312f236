//! The fault catalogue is killed: every injected fault of INCIDENTS.md is
//! caught by check and by explore, and the counterexample replays.
//!
//! Needs the `faults` feature:
//! `cargo test -p authproof-verification --features faults --test lib mutants`.

use std::sync::Arc;
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

/// Symmetry reduction hides no fault: on the wide universe (t3 mirrors t2),
/// the reduced search and the full one find, for every injected fault, a
/// counterexample of the same length and the same set of violated
/// invariants over every transition up to that depth. (A faulty engine need
/// not be symmetric, which is why this is checked fault by fault.)
#[test]
fn symmetry_finds_what_the_full_search_finds() {
    let policy = Policy::default();
    let universe = Universe::wide_for_policy(&policy);
    universe
        .check_symmetries()
        .expect("the wide universe is closed");
    let run = |fault, depth, symmetry, stop_at_first| {
        let cfg = explore::Config {
            depth,
            fault,
            symmetry,
            stop_at_first,
            ..explore::Config::default()
        };
        explore::explore(&universe, &policy, &cfg, &mut |_| {})
    };
    // Without a fault both hold, and the reduction keeps fewer states.
    let (full, reduced) = (run(None, 2, false, true), run(None, 2, true, true));
    assert!(full.counterexample.is_none() && reduced.counterexample.is_none());
    assert!(
        reduced.states < full.states,
        "{} vs {}",
        reduced.states,
        full.states
    );
    for fault in Fault::ALL {
        let kill = (1..=3)
            .find(|&d| run(Some(fault), d, false, true).counterexample.is_some())
            .unwrap_or_else(|| panic!("{fault} survived the wide universe to depth 3"));
        let (full, reduced) = (
            run(Some(fault), kill, false, false),
            run(Some(fault), kill, true, false),
        );
        let steps = |r: &explore::ExploreReport| r.counterexample.as_ref().map(|c| c.steps);
        assert_eq!(steps(&reduced), steps(&full), "{fault}");
        assert!(!full.violated.is_empty(), "{fault}");
        assert_eq!(reduced.violated, full.violated, "{fault} at depth {kill}");
        assert_eq!(reduced.symmetries, 1);
        assert!(reduced.states <= full.states, "{fault}");
    }
}

/// The premise of symmetry reduction, tested directly: a trace and its
/// mirror (t2 and t3 exchanged in every command) violate the same invariant
/// at the same step, for the fixed engine and for every injected fault —
/// 150 random traces of up to 6 commands each over the wide universe's
/// moves and clock values, drawn with a fixed seed.
#[test]
fn mirrored_traces_fail_alike() {
    use authproof_engine::Command;
    let policy = Policy::default();
    let universe = Universe::wide_for_policy(&policy);
    let swap = &universe.symmetries[0];
    let moves: Vec<_> = universe.ops.iter().chain(&universe.requests).collect();
    let mut seed = 0x5eed_u64;
    let mut next = |n: usize| {
        // splitmix64: a fixed, dependency-free stream.
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    };
    let traces: Vec<Vec<Command>> = (0..150)
        .map(|_| {
            let mut clock = 0;
            (0..1 + next(6))
                .map(|_| {
                    clock = (clock + next(2)).min(universe.times.len() - 1);
                    Command {
                        at: universe.times[clock],
                        op: moves[next(moves.len())].clone(),
                    }
                })
                .collect()
        })
        .collect();
    let mirrored_steps = |t: &[Command]| -> Vec<Command> {
        t.iter()
            .map(|c| Command {
                at: c.at,
                op: swap.op(&c.op),
            })
            .collect()
    };
    let mut failing = 0;
    for fault in std::iter::once(None).chain(Fault::ALL.into_iter().map(Some)) {
        for t in &traces {
            let verdict = |steps: &[Command]| {
                let run = lockstep::run_engine(&policy, &universe.snapshot, steps, fault).unwrap();
                run.first_violation().map(|(i, v)| (i, v.invariant))
            };
            let (a, b) = (verdict(t), verdict(&mirrored_steps(t)));
            assert_eq!(a, b, "{fault:?}: a trace and its mirror disagree");
            if fault.is_none() {
                assert!(a.is_none(), "the fixed engine fails a trace: {a:?}");
            }
            failing += usize::from(a.is_some());
        }
    }
    // The faults are seen: the comparison is not between two passes.
    assert!(failing > 150, "only {failing} failing traces");
}

/// A judge that remembers earlier runs ([`lockstep::Judged`], what `check`
/// and the fuzz targets carry from case to case) gives every run exactly
/// what a fresh one gives: the same steps, violations and coverage, on the
/// correct engine and on every faulty one, with the memory carried across
/// all of them in turn.
#[test]
fn a_remembering_judge_gives_what_a_fresh_one_gives() {
    use authproof_verification::{generate, Lockstep};
    use proptest::strategy::{Strategy, ValueTree};

    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let traces: Vec<Trace> = (0..120)
        .map(|_| {
            generate::trace(None, 10)
                .new_tree(&mut runner)
                .expect("a trace")
                .current()
        })
        .collect();
    let mut judged = lockstep::Judged::default();
    let mut failed = 0;
    for fault in std::iter::once(None).chain(Fault::ALL.map(Some)) {
        for t in &traces {
            let fresh = lockstep::run_engine(&t.policy, &t.snapshot, &t.steps, fault).unwrap();
            let lockstep = Lockstep::engine_remembering(
                Arc::new(t.policy.clone()),
                &t.snapshot,
                fault,
                judged,
            )
            .expect("a generated trace loads");
            let (remembered, kept) = lockstep.run_remembering(&t.steps).unwrap();
            judged = kept;
            assert_eq!(
                format!("{remembered:?}"),
                format!("{fresh:?}"),
                "{fault:?}: a remembering judge differs"
            );
            failed += usize::from(!fresh.held());
        }
    }
    // Both verdicts were compared, many times.
    assert!(failed > 100, "{failed} failing runs");
}
