//! The small-scope comparison: every request of the explorer's small
//! universe in every state reachable within a depth, decided under both
//! policies.
//!
//! A census and recorded requests only see the states that exist today;
//! a policy change can also matter in states that do not exist *yet* (a
//! key minted after the change, a session whose tenant gets suspended).
//! The explorer's universe (2 tenants, a few users, keys and sessions, the
//! times that matter for each policy) reaches those states by the old
//! policy's moves and by the new one's (the union: a state only one policy
//! can reach still has requests the other decides). States are
//! deduplicated by their serialized snapshot and time.
//!
//! Rejected: random sampling of states (proptest) — not exhaustive, and a
//! review must be reproducible byte for byte; comparing whole traces —
//! a single command's decision is what a reviewer can read.

use std::collections::BTreeSet;

use authproof_engine::{Policy, Snapshot, State, Timestamp};
use authproof_verification::explore::{self as explorer, Universe};
use serde::Serialize;

use crate::progress::Progress;
use crate::requests::request_example;
use crate::tally::{CaseTally, SourceKind};

/// What the exhaustive comparison covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExploreStats {
    pub depth: usize,
    /// Distinct (state, time) pairs compared.
    pub states: u64,
}

/// The universes to compare on: the explorer's universe for each policy's
/// timing (once when they coincide).
pub fn universes(old: &Policy, new: &Policy) -> Vec<Universe> {
    let a = Universe::for_policy(old);
    let b = Universe::for_policy(new);
    if a.times == b.times {
        vec![a]
    } else {
        vec![a, b]
    }
}

/// Every request of the small universe in every state reachable within
/// `depth` commands under the old policy or the new one, decided under
/// both.
pub fn explore(
    old: &Policy,
    new: &Policy,
    depth: usize,
    progress: &Progress,
) -> (CaseTally, ExploreStats) {
    let mut tally = CaseTally::new();
    let mut stats = ExploreStats { depth, states: 0 };
    for universe in universes(old, new) {
        let mut seen: BTreeSet<(String, Timestamp)> = BTreeSet::new();
        let mut states: Vec<(Snapshot, Timestamp)> = Vec::new();
        for policy in [old, new] {
            for (snap, at) in explorer::reachable(&universe, policy, depth) {
                let key = serde_json::to_string(&snap).expect("snapshots serialize");
                if seen.insert((key, at)) {
                    states.push((snap, at));
                }
            }
        }
        for (snap, at) in states {
            stats.states += 1;
            progress.add(1);
            let n = stats.states;
            let state = State::from_snapshot(snap).expect("reachable states are well formed");
            for req in universe.requests(at) {
                let (o, d) = (state.decide(old, &req), state.decide(new, &req));
                tally.record(SourceKind::Explore, &o, &d, || {
                    request_example(
                        &o,
                        &d,
                        old,
                        &req,
                        SourceKind::Explore,
                        format!("universe state {n}"),
                    )
                });
            }
        }
    }
    (tally, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::policies;
    use crate::DecisionChange;

    #[test]
    fn explore_sees_the_unbound_switch() {
        let (old, new) = policies();
        let (t, stats) = explore(&old, &new, 1, &Progress::new());
        assert!(stats.states > 1);
        assert!(t.count(DecisionChange::NewlyDenied) > 0);
        assert_eq!(t.count(DecisionChange::NewlyAllowed), 0);
    }
}
