//! The whole review as one function: [`run`] takes accepted inputs and
//! returns the report.
//!
//! The order is the report's: the census of each snapshot (in the order
//! given), each recorded-requests file against the first snapshot, then the
//! small-scope comparison; the invariant checks under the old policy, then
//! the new one (each: explorer, then each requests file). The small-scope
//! comparison and the two invariant searches are independent and run side
//! by side on three threads; the census splits its credentials over
//! [`ReviewConfig::threads`]. Nothing here depends on the thread count.
//!
//! Inputs are accepted one by one before anything is decided
//! ([`SnapshotInput::new`] checks integrity and the census time), so a
//! caller reports the first bad input in its own order and a review never
//! stops half-way with a partial report. The counterexample traces of
//! broken invariants stay in the report's [`InvariantCheck`]s for the
//! caller to store (the CLI writes `--traces DIR`); they are never rendered.
//!
//! Rejected: taking file paths and reading them here — the CLI owns files,
//! their names in messages and the JSON paths of parse errors, and a
//! library user (a test, a service) has its inputs in memory already.

use std::fmt;

use authproof_engine::{Policy, Request, Snapshot, State, Timestamp};

use crate::census::{census_counted, census_size};
use crate::error::Error;
use crate::invariants::{
    invariants_explore, invariants_requests, records, skipped_for_size, InvariantCheck, Side,
    HARNESS_MAX_RECORDS,
};
use crate::progress::Progress;
use crate::report::{FailOn, ReviewReport, SourceInfo, MAX_IDS};
use crate::requests::requests;
use crate::scope::{explore, ExploreStats};
use crate::tally::SourceKind;

/// The default depth of the small-scope comparison and invariant search.
pub const DEFAULT_EXPLORE_DEPTH: usize = 3;

/// A snapshot accepted for a review: integrity-checked, with its census
/// time.
#[derive(Debug)]
pub struct SnapshotInput {
    origin: String,
    state: State,
    at: Timestamp,
    records: usize,
    /// The records, kept for replaying recorded requests through the
    /// harness; only for snapshots the harness replays at all.
    replay: Option<Snapshot>,
}

impl SnapshotInput {
    /// Accepts `snapshot`, named `origin` in the report. The census decides
    /// at `at`, or else at the snapshot's `taken_at`.
    pub fn new(
        origin: impl Into<String>,
        snapshot: Snapshot,
        at: Option<Timestamp>,
    ) -> Result<SnapshotInput, Error> {
        let origin = origin.into();
        let records = records(&snapshot);
        let replay = (records <= HARNESS_MAX_RECORDS).then(|| snapshot.clone());
        let state = match State::from_snapshot(snapshot) {
            Ok(state) => state,
            Err(source) => return Err(Error::integrity(origin, source)),
        };
        let Some(at) = at.or(state.taken_at()) else {
            return Err(Error::no_census_time(origin));
        };
        Ok(SnapshotInput {
            origin,
            state,
            at,
            records,
            replay,
        })
    }

    /// The snapshot's name in the report.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The census time.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The snapshot as the engine holds it.
    pub fn state(&self) -> &State {
        &self.state
    }
}

/// A file of recorded requests.
#[derive(Clone, Debug)]
pub struct RequestsInput {
    /// Its name in the report (examples cite `origin#n`).
    pub origin: String,
    pub requests: Vec<Request>,
}

/// Everything a review needs.
#[derive(Debug)]
pub struct ReviewConfig {
    /// The current policy, and its name in the report.
    pub old: Policy,
    pub old_name: String,
    /// The proposed policy, and its name in the report.
    pub new: Policy,
    pub new_name: String,
    /// Snapshots to take a census of; recorded requests use the first.
    pub snapshots: Vec<SnapshotInput>,
    pub requests: Vec<RequestsInput>,
    /// Depth of the small-scope comparison and the invariant search.
    pub explore_depth: usize,
    pub fail_on: FailOn,
    /// Census threads (at least one is used).
    pub threads: usize,
    /// Most ids listed per blast-radius entry.
    pub max_ids: usize,
}

impl ReviewConfig {
    /// A review of `old` → `new` with no snapshot or requests yet, the
    /// default depth, `--fail-on newly-allowed`, [`MAX_IDS`] and one census
    /// thread per available core.
    pub fn new(
        old_name: impl Into<String>,
        old: Policy,
        new_name: impl Into<String>,
        new: Policy,
    ) -> ReviewConfig {
        ReviewConfig {
            old,
            old_name: old_name.into(),
            new,
            new_name: new_name.into(),
            snapshots: Vec::new(),
            requests: Vec::new(),
            explore_depth: DEFAULT_EXPLORE_DEPTH,
            fail_on: FailOn::default(),
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            max_ids: MAX_IDS,
        }
    }
}

/// What a review is doing, for progress output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage<'a> {
    /// Starting the census of a snapshot of `cases` cases.
    Census { origin: &'a str, cases: u64 },
    /// Starting a file of `count` recorded requests.
    Requests { origin: &'a str, count: usize },
    /// Starting the small-scope comparison and invariant searches.
    SmallScope { depth: usize },
}

impl fmt::Display for Stage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Census { origin, cases } => write!(f, "census of {origin}: {cases} cases"),
            Stage::Requests { origin, count } => {
                write!(f, "requests {origin}: {count} requests")
            }
            Stage::SmallScope { depth } => write!(
                f,
                "small-scope comparison and invariants I1-I10 to depth {depth}"
            ),
        }
    }
}

/// Runs the review of `config`: see the module documentation.
pub fn run(config: &ReviewConfig) -> Result<ReviewReport, Error> {
    run_with_progress(config, &Progress::new())
}

/// [`run`], keeping `progress` up to date for another thread to draw.
pub fn run_with_progress(
    config: &ReviewConfig,
    progress: &Progress,
) -> Result<ReviewReport, Error> {
    let (old, new) = (&config.old, &config.new);
    let first = config.snapshots.first();
    if !config.requests.is_empty() && first.is_none() {
        return Err(Error::requests_without_snapshot());
    }
    let mut sources = Vec::new();
    for snap in &config.snapshots {
        let cases = census_size(&snap.state, old, new);
        progress.begin(
            Stage::Census {
                origin: &snap.origin,
                cases,
            },
            cases,
        );
        let tally = census_counted(
            &snap.state,
            old,
            new,
            snap.at,
            &snap.origin,
            config.threads,
            progress,
        );
        sources.push((
            source(SourceKind::Census, &snap.origin, Some(snap.at), None),
            tally,
        ));
    }
    if let Some(snap) = first {
        for file in &config.requests {
            progress.begin(
                Stage::Requests {
                    origin: &file.origin,
                    count: file.requests.len(),
                },
                file.requests.len() as u64,
            );
            let tally = requests(&snap.state, old, new, &file.requests, &file.origin);
            progress.add(file.requests.len() as u64);
            sources.push((
                source(SourceKind::Requests, &file.origin, None, None),
                tally,
            ));
        }
    }
    let depth = config.explore_depth;
    progress.begin(Stage::SmallScope { depth }, 0);
    let ((tally, stats), explored) = std::thread::scope(|scope| {
        let old_check = scope.spawn(|| invariants_explore(old, Side::Old, depth, progress));
        let new_check = scope.spawn(|| invariants_explore(new, Side::New, depth, progress));
        let compared = explore(old, new, depth, progress);
        let checks = [old_check, new_check].map(|h| h.join().expect("explore thread"));
        (compared, checks)
    });
    sources.push((
        source(SourceKind::Explore, "universe", None, Some(stats)),
        tally,
    ));
    let mut checks: Vec<InvariantCheck> = Vec::new();
    for (check, (side, policy)) in explored
        .into_iter()
        .zip([(Side::Old, old), (Side::New, new)])
    {
        checks.push(check);
        if let Some(snap) = first {
            for file in &config.requests {
                checks.push(match &snap.replay {
                    Some(records) => invariants_requests(policy, side, records, &file.requests),
                    None => skipped_for_size(side, snap.records)
                        .expect("only snapshots over the limit are not kept"),
                });
            }
        }
    }
    Ok(ReviewReport::build(
        &config.old_name,
        &config.new_name,
        sources,
        checks,
        config.fail_on,
        config.max_ids,
    ))
}

fn source(
    kind: SourceKind,
    origin: &str,
    at: Option<Timestamp>,
    explore: Option<ExploreStats>,
) -> SourceInfo {
    SourceInfo {
        kind,
        origin: origin.to_string(),
        at,
        explore,
        cases: 0,
        changed: 0,
    }
}
