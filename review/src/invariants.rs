//! Invariants I1–I10 under each policy: a review is not only "what
//! changes" but "is the new policy still safe".
//!
//! Two checks per policy: the explorer's breadth-first search to the
//! review's depth (engine and reference model side by side, shortest
//! counterexample), and the recorded requests replayed as `authenticate`
//! commands from the first snapshot through the lockstep harness. A broken
//! invariant carries its counterexample trace; the caller decides where it
//! goes (the CLI writes a file), because a trace holds the universe's test
//! tokens and a report must never hold a token.
//!
//! Rejected: checking invariants on the census — the census decides by
//! hash, without commands, so there is nothing for the step invariants to
//! look at; replaying huge snapshots — the harness copies the state at
//! every step, so snapshots over [`HARNESS_MAX_RECORDS`] are skipped and
//! said so.

use authproof_engine::{Command, Op, Policy, Request, Snapshot};
use authproof_verification::explore::{self as explorer, Universe};
use serde::Serialize;

use crate::progress::Progress;
use crate::tally::SourceKind;

/// Which policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Old,
    New,
}

/// The invariants checked under one policy on one source.
#[derive(Clone, Debug, Serialize)]
pub struct InvariantCheck {
    pub policy: Side,
    pub source: SourceKind,
    /// Commands run (transitions for the explorer).
    pub steps: u64,
    pub held: bool,
    /// The first violation, e.g. `I1 tenant isolation: ...`.
    pub violation: Option<String>,
    /// Where the counterexample trace was written (set by the caller).
    pub trace_file: Option<String>,
    /// The counterexample trace (SPEC §10); written to a file, never
    /// printed: it holds test tokens.
    #[serde(skip)]
    pub trace: Option<serde_json::Value>,
    /// Why the check did not run, if it did not.
    pub skipped: Option<String>,
}

/// I1–I10 under `policy` on the explorer's small universe to `depth`.
/// Transitions checked are added to `progress` as the search goes.
pub fn invariants_explore(
    policy: &Policy,
    side: Side,
    depth: usize,
    progress: &Progress,
) -> InvariantCheck {
    let universe = Universe::for_policy(policy);
    let cfg = explorer::Config {
        depth,
        ..explorer::Config::default()
    };
    let mut counted = 0;
    let report = explorer::explore(&universe, policy, &cfg, &mut |level| {
        progress.add(level.transitions - counted);
        counted = level.transitions;
    });
    let cx = report.counterexample;
    InvariantCheck {
        policy: side,
        source: SourceKind::Explore,
        steps: report.transitions,
        held: cx.is_none(),
        violation: cx.as_ref().map(|c| c.violation.to_string()),
        trace_file: None,
        trace: cx.map(|c| c.trace),
        skipped: None,
    }
}

/// Snapshots larger than this (records) are not replayed through the
/// harness, which copies the whole state at every step.
pub const HARNESS_MAX_RECORDS: usize = 20_000;

/// I1–I10 under `policy` on the recorded requests as `authenticate`
/// commands (sorted by time, stably) from `snapshot`.
pub fn invariants_requests(
    policy: &Policy,
    side: Side,
    snapshot: &Snapshot,
    reqs: &[Request],
) -> InvariantCheck {
    let mut check = requests_check(side);
    if let Some(skipped) = skipped_for_size(side, records(snapshot)) {
        return skipped;
    }
    let mut steps: Vec<Command> = reqs
        .iter()
        .map(|r| Command {
            at: r.at,
            op: Op::Authenticate {
                action: r.action.clone(),
                headers: r.headers.clone(),
                tenant: r.tenant.clone(),
                resource: r.resource.clone(),
            },
        })
        .collect();
    steps.sort_by_key(|c| c.at);
    match authproof_verification::lockstep::run(policy, snapshot, &steps) {
        Err(e) => {
            // The input error's message (its path is the harness's), or
            // the harness's own error.
            let why = e
                .input()
                .map_or_else(|| e.to_string(), |i| i.message().to_string());
            check.skipped = Some(format!("not replayable: {why}"));
        }
        Ok(run) => {
            check.steps = run.steps.len() as u64;
            if let Some((index, v)) = run.first_violation() {
                check.held = false;
                check.violation = Some(v.to_string());
                let upto = index.map_or(0, |i| i + 1);
                check.trace = Some(explorer::trace(policy, snapshot, &steps[..upto]));
            }
        }
    }
    check
}

fn requests_check(side: Side) -> InvariantCheck {
    InvariantCheck {
        policy: side,
        source: SourceKind::Requests,
        steps: 0,
        held: true,
        violation: None,
        trace_file: None,
        trace: None,
        skipped: None,
    }
}

/// Records of a snapshot, of every kind.
pub(crate) fn records(snapshot: &Snapshot) -> usize {
    snapshot.record_count()
}

/// The recorded-requests check of a snapshot of `records` records, skipped
/// when the harness does not replay that many.
pub(crate) fn skipped_for_size(side: Side, records: usize) -> Option<InvariantCheck> {
    (records > HARNESS_MAX_RECORDS).then(|| InvariantCheck {
        skipped: Some(format!(
            "snapshot has {records} records (the harness replays at most {HARNESS_MAX_RECORDS})"
        )),
        ..requests_check(side)
    })
}
