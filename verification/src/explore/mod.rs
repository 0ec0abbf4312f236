//! Exhaustive small-scope exploration.
//!
//! Random testing finds most bugs; exhaustive search of a small universe
//! proves their absence up to a bound and, being breadth-first, returns the
//! *shortest* counterexample. The universe is deliberately tiny but dense in
//! the places bugs live: two tenants holding a resource with the same id, a
//! legacy key next to a bound one, sessions with and without an active
//! tenant, tokens full of `/ + = %`, every header shape, and clock values on
//! the exact expiry and sliding-refresh boundaries.
//!
//! Every move is either a command (the [`Universe::ops`] and
//! [`Universe::requests`] alphabets, applied at the current time) or a tick
//! of the clock to the next of [`Universe::times`]. Each command runs on the
//! engine and the reference model side by side, and every invariant is
//! checked on every transition by the harness's one step judge
//! ([`judge`](crate::lockstep::judge)).
//!
//! How the search stays cheap, and the alternatives rejected:
//!
//! - **States are deduplicated by fingerprint**: the snapshot's structural
//!   hash plus the clock index: XXH3-128 of the snapshot's canonical byte
//!   encoding (no JSON; [`fingerprint`]). The visited set holds fingerprints only. The invariant history
//!   kept for a state is that of the first (shortest) path reaching it.
//! - **Parent links, not paths**: a kept state records the command that
//!   reached it and its parent's link (8 bytes); the path of a
//!   counterexample is rebuilt from the links when one is found.
//! - **Frontier nodes are packed** ([`packed`]): each distinct record and
//!   history is stored once and a node holds their numbers, a few dozen
//!   bytes instead of a 5 KB snapshot.
//! - **The last level is counted, not kept**: its new states get a
//!   fingerprint in the visited set and nothing else (no node, no link),
//!   since nothing expands them and a counterexample on one of their
//!   transitions is rebuilt from the node it ran on. Those are most of a
//!   search's states (13.5M of depth 6's 16.4M), so a search needs about
//!   40 bytes for each of them and about 250 for each state it expands.
//! - **Level-synchronous, on every core**: a level is expanded in batches;
//!   the nodes of a batch are expanded in parallel (engine, model and
//!   invariants are pure), then their transitions are merged into the
//!   visited set *in the sequential order* (node, then move). So the states
//!   kept, the counts and the counterexample are the same for any thread
//!   count, and the counterexample is still a shortest one: a level is
//!   finished before the next starts, unlike a work-stealing search
//!   (stateright's) whose first counterexample need not be shortest.
//! - **The last level streamed**: its merge only keys and counts, so its
//!   workers run for the whole level, taking chunks of nodes while the
//!   merge takes their results in order ([`Merged::last_level`]); they
//!   hand it every child rather than read the visited set it writes.
//!   Rejected: merging a batch while the next is expanded (a thread
//!   started per batch cost more than the overlap saved); workers
//!   inserting into a shared visited set (the count would then depend on
//!   the order of arrival at the state bound).
//!
//! Memory is bounded by `max_states`: when the visited set is full, the
//! search finishes the level it is on without adding states and reports the
//! last depth it completed — a bound, not a crash; a state already seen
//! does not reach the bound, so the report does not depend on which
//! children a worker left out. `time_limit` stops the search between
//! batches (chunks, on the last level) the same way.

mod fingerprint;
mod packed;
mod stream;
mod symmetry;
mod universe;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
    time::{Duration as StdDuration, Instant},
};

use authproof_engine::{
    snapshot::Diff, Change, Command, CommandResult, Decision, Fault, Op, Policy, RecordRef,
    Request, Snapshot, State, Timestamp,
};
use serde::Serialize;

use crate::{
    by_hash::{self, ByHash, Parsed, Presentation},
    lockstep::{check_initial, inject_fault, judge_whole, Judged, Observed},
    History, Model, Trace, Violation,
};
use authproof_models::invariants::{longest_public, PolicyStrings};

/// What one worker keeps between transitions so as not to redo work.
#[derive(Default)]
struct Memo {
    judged: Judged,
    scratch: Scratch,
    /// The last node's model, reset to the next node's state
    /// ([`Model::reset`]: its policy is not copied again).
    node_model: Option<Model>,
    /// The last node's engine, assigned the next node's state
    /// ([`State::assign`]: only the records that differ are copied).
    node_engine: Option<State>,
    /// Emptied transition lists taken from [`Spare`], filled one a node.
    lists: Vec<Vec<Transition>>,
}

/// Transition lists the merge has emptied, for the workers to fill again.
///
/// A node's transitions are a list of 34 (about 4 KB), made by a worker
/// and emptied by the merge, often on another thread. Allocated and freed
/// once a node, they were the allocator's pages taken, returned to the
/// kernel a second later and faulted in again as fresh zeroed memory: 91 %
/// of the page faults of `explore --depth 5` (`perf record -e page-faults`)
/// and 3 % of its CPU in the kernel zeroing pages. Kept here instead, at
/// most [`Spare::KEEP`] of them, a worker taking a chunk's worth under
/// one lock.
#[derive(Default)]
struct Spare(Mutex<Vec<Vec<Transition>>>);

impl Spare {
    /// The lists kept at most: those of the chunks the last level's
    /// workers may hold ahead of the merge, with room for the workers' own.
    const KEEP: usize = (AHEAD + 16) * CHUNK;

    /// Up to `n` emptied lists into `into`.
    fn take(&self, n: usize, into: &mut Vec<Vec<Transition>>) {
        let mut spare = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let from = spare.len().saturating_sub(n);
        into.extend(spare.drain(from..));
    }

    /// Keeps the (emptied) lists of `lists`, up to [`Spare::KEEP`].
    fn give(&self, lists: &mut Vec<Vec<Transition>>) {
        let mut spare = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lists.truncate(Spare::KEEP.saturating_sub(spare.len()));
        spare.append(lists);
    }
}

/// Where a command runs. The node's engine and model are copied into these
/// once per node (`clone_from`, into their existing tables and vectors);
/// each command is applied to them in place, and they are copied back from
/// the node only after a command that changed them, and only where it
/// changed them ([`State::revert`], [`Model::revert`], by the diffs below). About half of the
/// commands a search runs change nothing (a rejected `revoke`, a second
/// `suspend`): those cost no copy and no export, where copying before every
/// command was a fifth of a transition. Whether a command changed a side is
/// asked of the side itself (the engine's export and its indexes, the
/// model's snapshot), never taken from its result: a faulty engine may
/// reject and write (I7).
///
/// `after` is likewise kept equal to the node's snapshot: each command's
/// state is exported over it ([`State::update_snapshot`]), which writes
/// only the records that differ and says which in `diff`; packing the child
/// takes the parent's numbers for the rest, and `after` is reverted by the
/// same positions. A child keeps a copy only when it is new and has a
/// record the store has not met.
#[derive(Default)]
struct Scratch {
    engine: State,
    /// Made on the worker's first node.
    model: Option<Model>,
    after: Snapshot,
    diff: Diff,
    /// Where the model's state differs from the node's after a command.
    model_diff: Diff,
    /// The node's noted history: each command's check notes what it saw
    /// here, and it is rewound to the node's after the command
    /// ([`History::rewind`]) rather than copied before the next.
    history: History,
    /// The engine's and the model's results of the last request without
    /// effects ([`decided`]).
    decided: [Option<CommandResult>; 2],
    /// A child's record numbers, for its key on the last level
    /// ([`Store::key`]).
    words: Vec<u32>,
}
use packed::{Packed, Store};
pub use symmetry::Renaming;
pub use universe::{Universe, TOKENS};

/// How to explore.
#[derive(Clone, Debug)]
pub struct Config {
    /// Maximum number of commands on a path (ticks are free).
    pub depth: usize,
    /// `(i, n)`: explore only paths whose first move index is `i` mod `n`.
    pub shard: (usize, usize),
    /// Visited-set bound; see the module docs.
    pub max_states: usize,
    /// A fault to inject into the engine (needs the `faults` feature).
    pub fault: Option<Fault>,
    /// Stop at the first violation (the shortest, by BFS order).
    pub stop_at_first: bool,
    /// Give up after this long; the report says the depth completed.
    pub time_limit: Option<StdDuration>,
    /// Worker threads expanding a level (at least one); the result does
    /// not depend on it.
    pub threads: usize,
    /// Also judge every transition with the whole-state invariant check
    /// ([`judge_whole`](crate::lockstep::judge_whole)) and panic if it
    /// disagrees with the incremental one. For tests: it costs a second check.
    pub cross_check: bool,
    /// Keep one state per orbit of the universe's
    /// [`symmetries`](Universe::symmetries) ([`symmetry`] reduction). No
    /// effect on a universe without any.
    pub symmetry: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            depth: 4,
            shard: (0, 1),
            // About 250 bytes a state kept for expansion (visited
            // fingerprint, link, packed node), about 40 one of the last
            // level (its fingerprint): depth 6 of the default universe
            // (16.4M states, 13.5M of them its last level's) fits, in
            // 1.2 GB.
            max_states: 20_000_000,
            fault: None,
            stop_at_first: true,
            time_limit: None,
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            cross_check: false,
            symmetry: true,
        }
    }
}

/// Progress after each level.
#[derive(Clone, Debug, Serialize)]
pub struct Level {
    pub depth: usize,
    pub states: u64,
    pub transitions: u64,
    /// The next level's frontier so far.
    pub frontier: usize,
    /// Nodes of this level expanded, of `of` (equal when `done`).
    pub expanded: usize,
    pub of: usize,
    /// The level is finished; otherwise this is a report from inside it
    /// (every 1,024 nodes), for a moving progress line.
    pub done: bool,
    pub elapsed: StdDuration,
    /// Distinct records and histories the packed states share.
    pub stored: usize,
}

/// A shortest counterexample.
#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    pub violation: Violation,
    /// The trace (SPEC §10 format), ready for `authproof replay`.
    pub trace: serde_json::Value,
    /// Number of commands in the trace.
    pub steps: usize,
}

/// What a search did.
#[derive(Clone, Debug, Serialize)]
pub struct ExploreReport {
    /// Distinct states visited.
    pub states: u64,
    /// Commands run (engine + model + invariants each).
    pub transitions: u64,
    /// The deepest level fully explored.
    pub depth_completed: usize,
    /// The state bound was reached.
    pub limit_reached: bool,
    /// The time limit was reached.
    pub timed_out: bool,
    #[serde(serialize_with = "secs")]
    pub elapsed: StdDuration,
    pub counterexample: Option<Counterexample>,
    /// The invariants violated on the transitions run, sorted, each once:
    /// the counterexample's alone when the search stops at the first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violated: Vec<String>,
    /// Renamings the search reduced by (none: every state is its own
    /// representative).
    #[serde(skip_serializing_if = "is_zero")]
    pub symmetries: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn secs<S: serde::Serializer>(d: &StdDuration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl ExploreReport {
    /// Transitions per second.
    pub fn rate(&self) -> f64 {
        self.transitions as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One node of the search: a packed state, the clock, and how it was
/// reached. The engine and model states are not kept: both equal the
/// snapshot (I5 checks that on every step, and a violating state is never
/// kept), so they are rebuilt from it when the node is expanded.
#[derive(Clone)]
struct Node {
    state: Packed,
    clock: usize,
    /// The last command on the path, in [`Search::links`]; `ROOT` for none.
    link: u32,
    /// Commands on the path.
    steps: usize,
    /// Index of the first move, for sharding.
    first: Option<usize>,
}

/// A parent link: the command that reached a state, as the move index and
/// the clock it ran at, and the link of the state it ran on. A path is
/// rebuilt from these only when a counterexample is reported.
#[derive(Clone, Copy)]
struct Link {
    parent: u32,
    mv: u16,
    clock: u16,
}

const ROOT: u32 = u32::MAX;

/// The engine on `snapshot`, with `fault` injected.
fn engine(snapshot: &Snapshot, fault: Option<Fault>) -> State {
    let mut s = State::from_snapshot(snapshot.clone()).expect("universe snapshot is well formed");
    inject_fault(&mut s, fault);
    s
}

/// A state a transition reached, not known before its batch.
struct Child {
    state: ChildState,
    /// Its key, when the worker could compute it ([`Search::child`]).
    fingerprint: Option<Key>,
}

/// A child's visited-set key, as two words. A `u128` is aligned to 16
/// bytes, which made an `Option` of one 32 bytes and a [`Transition`] 112;
/// as words, with the violation boxed, a transition is 64 bytes, one
/// cache line. The workers write and the merge moves every transition of
/// a level: 96 million at depth 6, where moving them was half of the
/// merging thread's time.
#[derive(Clone, Copy)]
struct Key([u64; 2]);

impl Key {
    fn new(f: u128) -> Key {
        Key([f as u64, (f >> 64) as u64])
    }

    fn get(self) -> u128 {
        u128::from(self.0[1]) << 64 | u128::from(self.0[0])
    }
}

/// A child as the worker leaves it: packed when the store held all its
/// records, else whole, for the merge to intern; on the last level, only
/// its key when it has one (nothing keeps it).
enum ChildState {
    Packed(Packed),
    Whole(Whole),
    Counted,
}

/// A child's state and history, unpacked.
type Whole = Box<(Snapshot, History)>;

/// What one transition gave. Boxed, the rare violation takes a word.
struct Transition {
    mv: usize,
    violation: Option<Box<Violation>>,
    child: Option<Child>,
}

/// The node being expanded: its snapshot, history, and both implementations
/// rebuilt on it.
struct Expanding<'a> {
    node: &'a Node,
    policy: &'a Policy,
    cross_check: bool,
    snapshot: Snapshot,
    history: History,
    engine: State,
    model: Model,
    /// [`longest_public`] of the node's snapshot, for every
    /// command run on it ([`Step::longest_public`](authproof_models::invariants::Step)).
    longest_public: usize,
    /// The search's [`PolicyStrings`].
    policy_strings: &'a PolicyStrings,
    /// `history` with the node's snapshot noted at its clock
    /// ([`History::note_before`]): what each of its transitions' checks
    /// starts from ([`Step::before_noted`](authproof_models::invariants::Step)).
    noted: History,
}

/// Runs one command on both implementations and checks every invariant.
/// Returns whether the state changed: the state reached and the history
/// are then in `memo.scratch` (`after`, `history`); one that did not change
/// is already known, so the search does not keep it.
fn step(
    x: &Expanding<'_>,
    mv: usize,
    (cmd, req): &Move,
    parsed: Option<&Parsed<'_>>,
    memo: &mut Memo,
) -> (bool, Vec<Violation>) {
    let policy = x.policy;
    // A request without effects changes nothing on either side: decide on
    // the node itself instead of copying it. `apply` on `authenticate` is
    // exactly `decide` plus its effects, so the checked result is the same.
    let mut by_hash = None;
    if let Some(req) = req {
        // I5 judges the request decided by its credential's hash beside it
        // (SPEC §6.5), on the node's state, whatever the request changes.
        by_hash = parsed.map(|p| {
            let p = p.in_state(policy, &x.snapshot);
            let d = x.engine.decide_presented(policy, req, &p.presented);
            (p, d)
        });
        let decision = x.engine.decide(policy, req);
        if decision.effects.is_empty() {
            let Scratch {
                history,
                decided: [engine_slot, model_slot],
                ..
            } = &mut memo.scratch;
            let engine_result = decided(engine_slot, decision);
            let model_result = decided(model_slot, x.model.decide(req));
            let violations = check(
                history,
                x,
                (mv, cmd),
                (engine_result, &x.snapshot, &NO_CHANGE),
                (model_result, &x.snapshot, &NO_CHANGE),
                judged_by_hash(&by_hash),
                &mut memo.judged,
            );
            return (false, violations);
        }
    }
    let Scratch {
        engine,
        model,
        after,
        diff,
        model_diff,
        history,
        decided: _,
        words: _,
    } = &mut memo.scratch;
    let model = model.as_mut().expect("made for the node");
    // Both sides and `after` are at the node's state (see `Scratch`).
    let engine_result = engine.apply(policy, cmd);
    // Compared once, here: the judge takes the answer (I6, I7), and a step
    // that changed nothing leaves no child. A state that moved only in its
    // indexes exports the node's snapshot, and is copied back all the same.
    engine.update_snapshot(after, diff);
    if x.cross_check {
        assert_eq!(*diff, Diff::between(&x.snapshot, after), "an export's diff");
        // Against the whole export: a write the tables failed to mark
        // would leave `after` behind the engine.
        assert!(*after == engine.to_snapshot(), "the export is the engine's");
    }
    let unchanged = diff.is_empty();
    // Indexes not written since the node's are the node's.
    let engine_moved = !unchanged || (engine.indexes_written() && !engine.same_indexes(&x.engine));
    if x.cross_check {
        // The fast answer (the export's diff, then the indexes) against
        // the reference one, state equality: each sees a wrong other.
        assert_eq!(
            engine_moved,
            *engine != x.engine,
            "whether the engine moved"
        );
    }
    let after_state = if unchanged { &x.snapshot } else { &*after };
    let model_result = model.apply(cmd);
    // The model's diff, for I5 (which then compares the two states where
    // either changed) and for undoing the command, over the sections the
    // model says it wrote: none for a rejection (SPEC §8: it leaves the
    // state as it was), those its changes name for an `ok` (every write is
    // a change, SPEC §8), every one for a decision. The model is the
    // reference; the cross-check below holds it to the whole comparison.
    match &model_result {
        CommandResult::Rejected { .. } => model_diff.clear(),
        CommandResult::Ok { changes, .. } => {
            model_diff.set_between_sections(&x.snapshot, model.state(), written(changes))
        }
        CommandResult::Decision { .. } => model_diff.set_between(&x.snapshot, model.state()),
    }
    let model_moved = !model_diff.is_empty();
    if x.cross_check {
        assert_eq!(
            model_moved,
            *model.state() != x.snapshot,
            "whether the model moved"
        );
    }
    // An unmoved model is judged on the node's snapshot itself, so I5 finds
    // it equal to an unmoved engine's without a second comparison.
    let model_after = if model_moved {
        model.state()
    } else {
        &x.snapshot
    };
    let violations = check(
        history,
        x,
        (mv, cmd),
        (&engine_result, after_state, diff),
        (&model_result, model_after, model_diff),
        judged_by_hash(&by_hash),
        &mut memo.judged,
    );
    // Back to the node's state for the next command: by the diff, the
    // records the command changed.
    if engine_moved {
        engine.revert(&x.engine, diff);
        if x.cross_check {
            assert!(*engine == x.engine, "the engine reverted by the diff");
        }
    }
    // The engine is at the node's state, and `after` will be once the
    // caller reverts it by `diff`.
    engine.forget_writes();
    if model_moved {
        model.revert(&x.snapshot, model_diff);
        if x.cross_check {
            assert_eq!(*model.state(), x.snapshot, "the model reverted by its diff");
        }
    }
    (!unchanged, violations)
}

/// `d` as `authenticate`'s result, in the box `slot` holds from the last
/// one: a request without effects is judged on a result, and the box (a
/// decision is 600 bytes) is reused rather than allocated and freed on
/// every such transition.
fn decided(slot: &mut Option<CommandResult>, d: Decision) -> &CommandResult {
    match slot {
        Some(CommandResult::Decision { decision, .. }) => **decision = d,
        _ => {
            *slot = Some(CommandResult::Decision {
                op: "authenticate".into(),
                decision: Box::new(d),
            })
        }
    }
    slot.as_ref().expect("set above")
}

/// The snapshot sections (in [`Diff::sections`] order) that `changes`
/// name a record of.
fn written(changes: &[Change]) -> [bool; 6] {
    let mut sections = [false; 6];
    for c in changes {
        let (Change::Create { record } | Change::Update { record, .. } | Change::Delete { record }) =
            c;
        sections[match record {
            RecordRef::Tenant { .. } => 0,
            RecordRef::User { .. } => 1,
            RecordRef::Membership { .. } => 2,
            RecordRef::ApiKey { .. } => 3,
            RecordRef::Session { .. } => 4,
            RecordRef::Resource { .. } => 5,
        }] = true;
    }
    sections
}

/// The diff of a step that changed nothing.
static NO_CHANGE: Diff = Diff {
    taken_at: false,
    sections: [const { Vec::new() }; 6],
    shortened: false,
};

/// A move's command at one clock value, with its request.
type Move = (Command, Option<Request>);

/// The decision by hash as the judge takes it.
fn judged_by_hash<'a>(by_hash: &'a Option<(Presentation<'a>, Decision)>) -> Option<ByHash<'a>> {
    by_hash.as_ref().map(|(presentation, decision)| ByHash {
        presentation: *presentation,
        decision,
    })
}

/// Judges a transition from the node with the harness's step judge.
fn check(
    history: &mut History,
    x: &Expanding<'_>,
    (mv, cmd): (usize, &Command),
    (result, after, diff): (&CommandResult, &Snapshot, &Diff),
    (model, model_after, model_diff): (&CommandResult, &Snapshot, &Diff),
    by_hash: Option<ByHash<'_>>,
    memo: &mut Judged,
) -> Vec<Violation> {
    let observed = || Observed {
        policy: x.policy,
        index: x.node.steps,
        command: cmd,
        before: &x.snapshot,
        after,
        result,
        model,
        model_after,
        by_hash,
        diff: Some(diff),
        model_diff: Some(model_diff),
        longest_public: Some(x.longest_public),
        policy_strings: Some(x.policy_strings),
        before_noted: true,
    };
    if x.cross_check {
        let mut whole_history = history.clone();
        let whole = judge_whole(&mut whole_history, observed());
        let changed = memo.judge(history, observed(), Some(mv));
        assert_eq!(
            changed, whole,
            "incremental and whole-state checks disagree"
        );
        assert_eq!(*history, whole_history, "histories disagree");
        return changed;
    }
    memo.judge(history, observed(), Some(mv))
}

/// Nodes expanded between two merges. Large enough that starting the
/// worker threads is noise, small enough that a batch's children (held
/// until the merge) stay a few MB and progress moves.
const BATCH: usize = 512;

/// Nodes a worker of the last level takes at a time
/// ([`Merged::last_level`]): small, since the merge waits for the chunks in
/// order, and a power of two that divides [`BATCH`], for progress.
const CHUNK: usize = 64;

/// Chunks the last level's workers expand ahead of the merge, at most:
/// about 150k transitions held.
const AHEAD: usize = 64;

/// A breadth-first search in progress.
struct Search<'a> {
    universe: &'a Universe,
    policy: &'a Policy,
    cfg: &'a Config,
    moves: Vec<Option<&'a Op>>,
    /// Each move's command at each clock value, by clock then move, with
    /// its request (`Command::request`): built once, not cloned from the
    /// move on every transition.
    commands: Vec<Vec<Option<Move>>>,
    /// Each move's request as presented by hash, parsed once
    /// ([`by_hash::parse`]): only the known prefix depends on the state.
    parsed: Vec<Option<Parsed<'a>>>,
    /// The policy's strings joined, for I9 on every transition
    /// ([`Step::policy_strings`](authproof_models::invariants::Step)).
    policy_strings: PolicyStrings,
    store: Store,
    /// Whether the level being expanded is the last: its children are
    /// counted, not kept.
    last: bool,
    /// Each worker's memo, by worker number.
    memos: Vec<Mutex<Memo>>,
    /// The transition lists the merge emptied.
    spare: Spare,
}

/// The merge's side of a search: what the workers do not read while the
/// last level's batches are expanded (the visited set, read by the workers
/// on the other levels only between merges).
struct Merged {
    seen: fingerprint::Seen,
    links: Vec<Link>,
    report: ExploreReport,
    /// New states of the level being merged.
    reached: usize,
    /// Children of the last level with a record the store lacks, merged
    /// while the workers read the store: keyed once they are done.
    deferred: Vec<(usize, Whole, Option<u128>)>,
    start: Instant,
}

/// What the merge reads of the search: disjoint from the store, which the
/// merge of a kept level writes.
#[derive(Clone, Copy)]
struct Cx<'s> {
    universe: &'s Universe,
    policy: &'s Policy,
    cfg: &'s Config,
    moves: &'s [Option<&'s Op>],
    last: bool,
    spare: &'s Spare,
}

impl Search<'_> {
    /// Whether states are keyed by their orbit (symmetry reduction).
    fn by_orbit(&self) -> bool {
        self.cfg.symmetry && !self.universe.symmetries.is_empty()
    }

    /// The visited-set key of a stored state at `clock`: its orbit's under
    /// symmetry reduction, else the state's own, from its record numbers
    /// ([`Packed::fingerprint`]).
    fn fingerprint(&self, state: &Packed, clock: usize) -> u128 {
        if self.by_orbit() {
            let (snapshot, _) = self.store.unpack(state);
            symmetry::orbit_fingerprint(&snapshot, clock, &self.universe.symmetries)
        } else {
            state.fingerprint(clock)
        }
    }

    /// A child as the worker hands it to the merge, `None` when its key is
    /// already seen. Packed here when the store holds all its records and
    /// its history (on the last level, only keyed); a child with a new
    /// record cannot have been seen (every seen state was stored or keyed
    /// from stored records), and its key waits for the merge to number the
    /// record. A child with only a new history has its key (the key leaves
    /// the history out) and goes whole to the merge, which interns it.
    fn child(
        &self,
        x: &Expanding<'_>,
        step: &mut Scratch,
        clock: usize,
        seen: Option<&fingerprint::Seen>,
    ) -> Option<Child> {
        let Scratch {
            after: snapshot,
            history,
            diff,
            words,
            ..
        } = step;
        let (snapshot, history, diff) = (&*snapshot, &*history, &*diff);
        let parent = (&x.node.state, &x.history, diff);
        let orbit = self
            .by_orbit()
            .then(|| symmetry::orbit_fingerprint(snapshot, clock, &self.universe.symmetries));
        // On the last level the key is all a child needs: nothing keeps it.
        let (state, fingerprint) = if self.last {
            let f = orbit.or_else(|| {
                self.store
                    .key(words, snapshot, history, Some(parent), clock)
            });
            (f.map(|_| ChildState::Counted), f)
        } else if orbit.is_none() {
            // Keyed first, packed only when not seen: most children of a
            // kept level were reached before, and the key needs neither an
            // allocation nor the history's number.
            let f = self
                .store
                .key(words, snapshot, history, Some(parent), clock);
            if f.is_some_and(|f| seen.is_some_and(|seen| seen.contains(&f))) {
                return None;
            }
            let packed = f.and_then(|_| {
                self.store
                    .keyed(words, history, (&x.node.state, &x.history))
            });
            (packed.map(ChildState::Packed), f)
        } else {
            let packed = self.store.packed(snapshot, history, Some(parent));
            (packed.map(ChildState::Packed), orbit)
        };
        if fingerprint.is_some_and(|f| seen.is_some_and(|seen| seen.contains(&f))) {
            return None;
        }
        Some(Child {
            state: state.unwrap_or_else(|| {
                ChildState::Whole(Box::new((snapshot.clone(), history.clone())))
            }),
            fingerprint: fingerprint.map(Key::new),
        })
    }

    /// Expands `node`: every move of its shard, judged, with the children
    /// not already seen before this batch.
    fn expand(
        &self,
        node: &Node,
        memo: &mut Memo,
        seen: Option<&fingerprint::Seen>,
    ) -> Vec<Transition> {
        let (shard, shards) = (self.cfg.shard.0, self.cfg.shard.1.max(1));
        let (snapshot, history) = self.store.unpack(&node.state);
        let model = match memo.node_model.take() {
            Some(mut model) => {
                model.reset(&snapshot);
                model
            }
            None => Model::new(&snapshot, self.policy),
        };
        let x = Expanding {
            node,
            policy: self.policy,
            cross_check: self.cfg.cross_check,
            engine: match memo.node_engine.take() {
                Some(mut engine) => {
                    engine
                        .assign(&snapshot)
                        .expect("universe snapshot is well formed");
                    engine
                }
                None => engine(&snapshot, self.cfg.fault),
            },
            model,
            longest_public: longest_public(&snapshot),
            policy_strings: &self.policy_strings,
            noted: {
                // Every move of the node runs at its clock.
                let mut noted = history.clone();
                noted.note_before(&snapshot, self.universe.times[node.clock]);
                noted
            },
            snapshot,
            history,
        };
        if x.cross_check {
            assert!(
                x.engine == engine(&x.snapshot, self.cfg.fault),
                "the engine assigned the node's state is the one built from it"
            );
        }
        // The node's state on both sides, where its commands run in place.
        // `after` holds the engine's snapshot: its exports compare only the
        // records a command writes.
        memo.scratch.engine.clone_from(&x.engine);
        memo.scratch.after.clone_from(&x.snapshot);
        memo.scratch.engine.forget_writes();
        memo.scratch.history.clone_from(&x.noted);
        match &mut memo.scratch.model {
            Some(model) => model.clone_from(&x.model),
            none => *none = Some(x.model.clone()),
        }
        let mut out = match memo.lists.pop() {
            Some(list) => list,
            None => {
                self.spare.take(CHUNK, &mut memo.lists);
                memo.lists.pop().unwrap_or_default()
            }
        };
        out.reserve(self.commands[node.clock].len());
        for (mv, cmd) in self.commands[node.clock].iter().enumerate() {
            let Some(cmd) = cmd else { continue };
            if node.first.unwrap_or(mv) % shards != shard {
                continue;
            }
            let (changed, mut violations) = step(&x, mv, cmd, self.parsed[mv].as_ref(), memo);
            let violation = (!violations.is_empty()).then(|| Box::new(violations.swap_remove(0)));
            let child = changed
                .then(|| self.child(&x, &mut memo.scratch, node.clock, seen))
                .flatten();
            if changed {
                let Scratch { after, diff, .. } = &mut memo.scratch;
                after.revert(&x.snapshot, diff);
                if x.cross_check {
                    assert_eq!(*after, x.snapshot, "reverted by the diff");
                }
            }
            memo.scratch.history.rewind(&x.noted);
            if x.cross_check {
                assert_eq!(memo.scratch.history, x.noted, "the history rewound");
            }
            let stop = violation.is_some() && self.cfg.stop_at_first;
            out.push(Transition {
                mv,
                violation,
                child,
            });
            if stop {
                break;
            }
        }
        memo.node_model = Some(x.model);
        memo.node_engine = Some(x.engine);
        out
    }

    /// Expands `nodes` on the configured threads; results in node order.
    /// Children already in `seen` are left out (when it is given).
    fn expand_all(&self, nodes: &[Node], seen: Option<&fingerprint::Seen>) -> Vec<Vec<Transition>> {
        let threads = self.cfg.threads.clamp(1, nodes.len().max(1));
        if threads == 1 {
            let mut memo = self.memos[0].lock().expect("one worker");
            return nodes
                .iter()
                .map(|n| self.expand(n, &mut memo, seen))
                .collect();
        }
        let next = AtomicUsize::new(0);
        let mut slots: Vec<Option<Vec<Transition>>> = Vec::new();
        slots.resize_with(nodes.len(), || None);
        let parts: Vec<Vec<(usize, Vec<Transition>)>> = std::thread::scope(|s| {
            let workers: Vec<_> = self.memos[..threads]
                .iter()
                .map(|memo| {
                    s.spawn(|| {
                        let mut memo = memo.lock().expect("a worker's own memo");
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(node) = nodes.get(i) else { break };
                            mine.push((i, self.expand(node, &mut memo, seen)));
                        }
                        mine
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("explore worker"))
                .collect()
        });
        for (i, t) in parts.into_iter().flatten() {
            slots[i] = Some(t);
        }
        slots
            .into_iter()
            .map(|t| t.expect("every node expanded"))
            .collect()
    }

    /// What the merge reads of the search, and the store it writes.
    fn split(&mut self) -> (Cx<'_>, &mut Store) {
        (
            Cx {
                universe: self.universe,
                policy: self.policy,
                cfg: self.cfg,
                moves: &self.moves,
                last: self.last,
                spare: &self.spare,
            },
            &mut self.store,
        )
    }

    /// What the merge reads of the search.
    fn cx(&self) -> Cx<'_> {
        Cx {
            universe: self.universe,
            policy: self.policy,
            cfg: self.cfg,
            moves: &self.moves,
            last: self.last,
            spare: &self.spare,
        }
    }
}

impl Merged {
    /// The commands of the path ending with `link`.
    fn path(&self, cx: &Cx<'_>, mut link: u32) -> Vec<Command> {
        let mut path = Vec::new();
        while link != ROOT {
            let l = self.links[link as usize];
            let op = cx.moves[l.mv as usize].expect("links name commands");
            path.push(Command {
                at: cx.universe.times[l.clock as usize],
                op: op.clone(),
            });
            link = l.parent;
        }
        path.reverse();
        path
    }

    fn level(&self, depth: usize, expanded: usize, of: usize, done: bool, stored: usize) -> Level {
        Level {
            depth,
            states: self.report.states,
            transitions: self.report.transitions,
            frontier: self.reached,
            expanded,
            of,
            done,
            elapsed: self.start.elapsed(),
            stored,
        }
    }

    /// Merges `nodes`' transitions into the visited set in node order,
    /// then move order: the sequential search's order, so counts, the
    /// first violation and the states kept do not depend on the thread
    /// count. Whether the search stops (at a violation). Without the store
    /// (`None`: the last level's workers are reading it) a child with a
    /// record the store lacks is deferred to [`Merged::settle`].
    fn merge(
        &mut self,
        cx: &Cx<'_>,
        nodes: &[Node],
        transitions: Vec<Vec<Transition>>,
        mut store: Option<&mut Store>,
        next: &mut Vec<Node>,
    ) -> bool {
        let cfg = cx.cfg;
        // The batch's keys' slots read together first: their cache misses
        // overlap, where the inserts below would wait for each in turn.
        let touched = transitions
            .iter()
            .flatten()
            .filter_map(|t| t.child.as_ref()?.fingerprint.map(Key::get))
            .fold(0, |acc, f| acc ^ self.seen.touch(f));
        std::hint::black_box(touched);
        let mut emptied = transitions;
        for (node, transitions) in nodes.iter().zip(&mut emptied) {
            for t in transitions.drain(..) {
                self.report.transitions += 1;
                let first = node.first.unwrap_or(t.mv);
                if let Some(violation) = t.violation {
                    let name = violation.invariant.id().to_string();
                    if let Err(at) = self.report.violated.binary_search(&name) {
                        self.report.violated.insert(at, name);
                    }
                    if self.report.counterexample.is_none() {
                        let mut path = self.path(cx, node.link);
                        path.push(Command {
                            at: cx.universe.times[node.clock],
                            op: cx.moves[t.mv].expect("a command").clone(),
                        });
                        self.report.counterexample = Some(Counterexample {
                            steps: path.len(),
                            trace: trace(cx.policy, &cx.universe.snapshot, &path),
                            violation: *violation,
                        });
                    }
                    if cfg.stop_at_first {
                        return true;
                    }
                    continue;
                }
                let Some(child) = t.child else { continue };
                let key = child.fingerprint.map(Key::get);
                let fingerprint = match child.state {
                    ChildState::Whole(whole) if store.is_none() => {
                        assert!(
                            cx.last,
                            "only the last level's merge goes without the store"
                        );
                        self.deferred.push((node.clock, whole, key));
                        continue;
                    }
                    _ if self.seen.len() >= cfg.max_states => {
                        self.refuse(key);
                        continue;
                    }
                    ChildState::Whole(whole) => {
                        let store = store.as_deref_mut().expect("matched above");
                        let p = store.pack(&whole.0, &whole.1);
                        let f = key.unwrap_or_else(|| p.fingerprint(node.clock));
                        (Some(p), f)
                    }
                    ChildState::Packed(p) => (Some(p), key.expect("a packed child's key")),
                    ChildState::Counted => (None, key.expect("a counted child's key")),
                };
                let (state, fingerprint) = fingerprint;
                if self.seen.insert(fingerprint) {
                    self.report.states += 1;
                    self.reached += 1;
                    if cx.last {
                        continue;
                    }
                    let state = state.expect("a child of a kept level is packed");
                    let link = u32::try_from(self.links.len()).expect("fewer than 2^32 links");
                    self.links.push(Link {
                        parent: node.link,
                        mv: t.mv as u16,
                        clock: node.clock as u16,
                    });
                    next.push(Node {
                        state,
                        clock: node.clock,
                        link,
                        steps: node.steps + 1,
                        first: Some(first),
                    });
                }
            }
        }
        cx.spare.give(&mut emptied);
        false
    }

    /// A child that finds the visited set full: the bound is reached
    /// unless the child was seen already (a state seen is no state
    /// refused, whether the worker left it out or the merge finds it), so
    /// on the last level, where nothing is kept, the report does not
    /// depend on the order children arrive in: the states are the fewer of
    /// the bound and the distinct keys, and the bound is reached exactly
    /// when there are more.
    fn refuse(&mut self, fingerprint: Option<u128>) {
        if !fingerprint.is_some_and(|f| self.seen.contains(&f)) {
            self.report.limit_reached = true;
        }
    }

    /// Keys the deferred children of the last level, now that the store
    /// is free: their records are numbered, as the merge would have.
    fn settle(&mut self, search: &mut Search<'_>) {
        let cfg = search.cfg;
        for (clock, whole, f) in std::mem::take(&mut self.deferred) {
            let f = f.unwrap_or_else(|| search.store.pack(&whole.0, &whole.1).fingerprint(clock));
            if self.seen.len() >= cfg.max_states {
                self.refuse(Some(f));
            } else if self.seen.insert(f) {
                self.report.states += 1;
                self.reached += 1;
            }
        }
    }

    /// The last level, on `cfg.threads` workers that go on expanding while
    /// the merge runs, in chunks of [`CHUNK`] nodes, at most [`AHEAD`]
    /// chunks ahead of it; whether the search stops (at a violation).
    ///
    /// On the other levels a batch is expanded, then merged, with the
    /// workers stopped: the merge writes the store they read (it numbers
    /// new records) and the visited set they filter children by. The last
    /// level's merge only keys and counts, and its children mostly have a
    /// key already; the workers hand it every child rather than read the
    /// visited set it writes, and a child whose key needs the store waits
    /// in [`Merged::deferred`]. A merge that stops the workers was one
    /// core idle for about 5 % of the level, and starting the threads for
    /// each batch cost about as much again.
    fn last_level(
        &mut self,
        search: &Search<'_>,
        frontier: &[Node],
        depth: usize,
        progress: &mut dyn FnMut(&Level),
    ) -> bool {
        let cx = search.cx();
        let cfg = search.cfg;
        let chunk = |c: usize| &frontier[c * CHUNK..((c + 1) * CHUNK).min(frontier.len())];
        let mut timed_out = false;
        let stop = stream::stream(
            cfg.threads,
            frontier.len().div_ceil(CHUNK),
            AHEAD,
            |worker, c| {
                let mut memo = search.memos[worker].lock().expect("a worker's own memo");
                chunk(c)
                    .iter()
                    .map(|n| search.expand(n, &mut memo, None))
                    .collect::<Vec<_>>()
            },
            |c, transitions| {
                if cfg.time_limit.is_some_and(|t| self.start.elapsed() > t) {
                    timed_out = true;
                    return true;
                }
                if self.merge(&cx, chunk(c), transitions, None, &mut Vec::new()) {
                    return true;
                }
                let done = ((c + 1) * CHUNK).min(frontier.len());
                if done.is_multiple_of(BATCH) && done < frontier.len() {
                    let stored = search.store.len();
                    progress(&self.level(depth, done, frontier.len(), false, stored));
                }
                false
            },
        );
        self.report.timed_out |= timed_out;
        stop && !timed_out
    }
}

/// Breadth-first search of `universe` under `policy`.
pub fn explore(
    universe: &Universe,
    policy: &Policy,
    cfg: &Config,
    progress: &mut dyn FnMut(&Level),
) -> ExploreReport {
    let mut search = Search {
        universe,
        policy,
        cfg,
        moves: universe.moves().collect(),
        commands: universe
            .times
            .iter()
            .map(|&at| {
                universe
                    .moves()
                    .map(|op| {
                        op.map(|op| {
                            let cmd = Command { at, op: op.clone() };
                            let req = cmd.request();
                            (cmd, req)
                        })
                    })
                    .collect()
            })
            .collect(),
        parsed: universe
            .moves()
            .map(|op| op.and_then(|op| by_hash::parse(policy, op)))
            .collect(),
        policy_strings: PolicyStrings::new(policy),
        store: Store::default(),
        last: false,
        memos: (0..cfg.threads.max(1)).map(|_| Mutex::default()).collect(),
        spare: Spare::default(),
    };
    let mut merged = Merged {
        seen: fingerprint::Seen::with_threads(cfg.threads),
        links: Vec::new(),
        reached: 0,
        deferred: Vec::new(),
        report: ExploreReport {
            states: 1,
            transitions: 0,
            depth_completed: 0,
            limit_reached: false,
            timed_out: false,
            elapsed: StdDuration::ZERO,
            counterexample: None,
            violated: Vec::new(),
            symmetries: if cfg.symmetry {
                universe.symmetries.len()
            } else {
                0
            },
        },
        start: Instant::now(),
    };
    if cfg.symmetry {
        if let Err(e) = universe.check_symmetries() {
            panic!("explore: the universe's declared symmetries do not hold: {e}");
        }
    }
    assert!(
        search.moves.len() <= usize::from(u16::MAX)
            && universe.times.len() <= usize::from(u16::MAX),
        "universe alphabets fit a link"
    );
    // The root's own checks (I6's round trip and export of the initial
    // state), once: the step checks judge what steps change.
    let initial = check_initial(
        &universe.snapshot,
        &engine(&universe.snapshot, cfg.fault).to_snapshot(),
        &Model::new(&universe.snapshot, policy),
        &Judged::default(),
    );
    if let Some(violation) = initial.first().cloned() {
        let mut names: Vec<String> = initial
            .iter()
            .map(|v| v.invariant.id().to_string())
            .collect();
        names.sort();
        names.dedup();
        merged.report.violated = names;
        merged.report.counterexample = Some(Counterexample {
            steps: 0,
            trace: trace(policy, &universe.snapshot, &[]),
            violation,
        });
        merged.report.elapsed = merged.start.elapsed();
        return merged.report;
    }
    let root = Node {
        state: search
            .store
            .pack(&universe.snapshot, &History::new(&universe.snapshot)),
        clock: 0,
        link: ROOT,
        steps: 0,
        first: None,
    };
    let root_fingerprint = search.fingerprint(&root.state, 0);
    merged.seen.insert(root_fingerprint);
    let mut frontier = vec![root];
    // New states per node expanded on the level before, to size the
    // visited set once for the last level: growing a table of tens of
    // millions of keys is a rehash of all of them on the merging thread.
    let mut growth = None;
    for depth in 1..=cfg.depth {
        let mut next: Vec<Node> = Vec::new();
        // The last level's new states are counted and keyed, not kept:
        // nothing expands them, and a counterexample on one of their
        // transitions is rebuilt from the node it ran on. At depth 6 they
        // are most of the states, so this is most of the memory.
        let last = depth == cfg.depth;
        search.last = last;
        merged.reached = 0;
        // Ticks do not count toward depth: close the frontier under them.
        let mut i = 0;
        while i < frontier.len() {
            let node = &frontier[i];
            if node.clock + 1 < universe.times.len() {
                let mut later = node.clone();
                later.clock += 1;
                let fingerprint = search.fingerprint(&later.state, later.clock);
                if merged.seen.insert(fingerprint) {
                    merged.report.states += 1;
                    frontier.push(later);
                }
            }
            i += 1;
        }
        if let (true, Some(growth)) = (last, growth) {
            let room = cfg.max_states.saturating_sub(merged.seen.len());
            merged
                .seen
                .reserve(((frontier.len() as f64 * growth) as usize).min(room));
        }
        let of = frontier.len();
        let stop = if last && cfg.threads > 1 {
            merged.last_level(&search, &frontier, depth, progress)
        } else {
            let mut stop = false;
            for (b, batch) in frontier.chunks(BATCH).enumerate() {
                if cfg.time_limit.is_some_and(|t| merged.start.elapsed() > t) {
                    merged.report.timed_out = true;
                    break;
                }
                let transitions = search.expand_all(batch, Some(&merged.seen));
                let (cx, store) = search.split();
                if merged.merge(&cx, batch, transitions, Some(store), &mut next) {
                    stop = true;
                    break;
                }
                let done = ((b + 1) * BATCH).min(of);
                if done < of {
                    progress(&merged.level(depth, done, of, false, search.store.len()));
                }
            }
            stop
        };
        merged.settle(&mut search);
        if stop {
            break;
        }
        if !merged.report.limit_reached && !merged.report.timed_out {
            merged.report.depth_completed = depth;
        }
        progress(&merged.level(
            depth,
            frontier.len(),
            frontier.len(),
            true,
            search.store.len(),
        ));
        if last || merged.report.limit_reached || merged.report.timed_out || next.is_empty() {
            break;
        }
        growth = Some(merged.reached as f64 / frontier.len().max(1) as f64);
        frontier = next;
    }
    merged.report.elapsed = merged.start.elapsed();
    merged.report
}

/// A trace in the SPEC §10 format, as JSON ([`Trace::to_value`]).
pub fn trace(policy: &Policy, snapshot: &Snapshot, steps: &[Command]) -> serde_json::Value {
    Trace {
        policy: policy.clone(),
        snapshot: snapshot.clone(),
        steps: steps.to_vec(),
    }
    .to_value()
}

/// Distinct states reachable within `depth` commands, with the clock value
/// each was reached at (for `diff`'s exhaustive comparison). Invariants are
/// not checked here.
pub fn reachable(universe: &Universe, policy: &Policy, depth: usize) -> Vec<(Snapshot, Timestamp)> {
    let mut seen = fingerprint::Seen::default();
    let mut out = Vec::new();
    let mut visit = |s: &State, clock: usize| {
        let snap = s.to_snapshot();
        let new = seen.insert(fingerprint::of(&snap, clock));
        if new {
            out.push((snap, universe.times[clock]));
        }
        new
    };
    let root = engine(&universe.snapshot, None);
    visit(&root, 0);
    let mut frontier = vec![(root, 0usize)];
    for level in 0..=depth {
        // Ticks are free: close the frontier under them.
        let mut i = 0;
        while i < frontier.len() {
            let clock = frontier[i].1 + 1;
            if clock < universe.times.len() && visit(&frontier[i].0, clock) {
                let later = (frontier[i].0.clone(), clock);
                frontier.push(later);
            }
            i += 1;
        }
        if level == depth {
            break;
        }
        let mut next = Vec::new();
        for (s, clock) in &frontier {
            let at = universe.times[*clock];
            for op in universe.ops.iter().chain(universe.requests.iter()) {
                let mut child = s.clone();
                let r = child.apply(policy, &Command { at, op: op.clone() });
                if !matches!(r, CommandResult::Rejected { .. }) && visit(&child, *clock) {
                    next.push((child, *clock));
                }
            }
        }
        frontier = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universe_is_well_formed_and_boundary_dense() {
        let u = Universe::small();
        assert!(State::from_snapshot(u.snapshot.clone()).is_ok());
        assert!(u.times.windows(2).all(|w| w[0] < w[1]));
        let s1 = &u.snapshot.sessions[0];
        assert!(
            u.times.contains(&s1.expires_at),
            "exact expiry is a clock value"
        );
        for (_, t) in TOKENS {
            assert!(t.contains('/') && t.contains('+') && t.contains('='));
        }
    }

    #[test]
    fn shallow_search_holds_and_is_deterministic() {
        let u = Universe::small();
        let cfg = Config {
            depth: 2,
            ..Config::default()
        };
        let a = explore(&u, &Policy::default(), &cfg, &mut |_| {});
        assert!(a.counterexample.is_none(), "{:?}", a.counterexample);
        assert_eq!(a.depth_completed, 2);
        let b = explore(&u, &Policy::default(), &cfg, &mut |_| {});
        assert_eq!((a.states, a.transitions), (b.states, b.transitions));
    }

    #[test]
    fn threads_and_incremental_checks_do_not_change_the_result() {
        let run = |threads, cross_check| {
            small(Config {
                depth: 2,
                threads,
                cross_check,
                ..Config::default()
            })
        };
        // `cross_check` panics if the incremental invariant check and the
        // whole-state one disagree on any transition.
        let one = run(1, true);
        let many = run(3, false);
        assert_eq!(
            (one.states, one.transitions, one.depth_completed),
            (many.states, many.transitions, many.depth_completed)
        );
        assert!(one.counterexample.is_none() && many.counterexample.is_none());
    }

    /// A search of the small universe under the default policy.
    fn small(cfg: Config) -> ExploreReport {
        explore(&Universe::small(), &Policy::default(), &cfg, &mut |_| {})
    }

    /// A report without its time, as the CLI prints it.
    fn timeless(mut r: ExploreReport) -> serde_json::Value {
        r.elapsed = StdDuration::ZERO;
        serde_json::to_value(&r).expect("a report serializes")
    }

    /// The last level on several threads (merged while the workers go on,
    /// children that need the store deferred: depth 3 has some) reports
    /// what one thread does, at the state bound too.
    #[test]
    fn the_streamed_last_level_reports_what_one_thread_does() {
        let run = |threads, max_states| {
            timeless(small(Config {
                depth: 3,
                threads,
                max_states,
                ..Config::default()
            }))
        };
        let whole = run(1, usize::MAX);
        assert_eq!(whole, run(3, usize::MAX), "3 threads");
        let bounded = run(1, 41_686);
        assert_eq!(bounded, run(2, 41_686), "at the bound, 2 threads");
        // Exactly the distinct states fit: the bound is not reached (a
        // state seen again is no state refused); one fewer, it is.
        assert_eq!(whole["states"], 41_687);
        assert_eq!(run(2, 41_687), whole);
        assert_eq!(bounded["limit_reached"], true);
        assert_eq!(bounded["states"], 41_686);
    }

    /// Every fault, stopping at the first violation or not: the streamed
    /// last level finds what one thread finds, counterexample included.
    #[cfg(feature = "faults")]
    #[test]
    fn the_streamed_last_level_finds_what_one_thread_finds() {
        for fault in Fault::ALL {
            for stop_at_first in [true, false] {
                let run = |threads| {
                    timeless(small(Config {
                        depth: 2,
                        threads,
                        fault: Some(fault),
                        stop_at_first,
                        ..Config::default()
                    }))
                };
                assert_eq!(run(1), run(2), "{fault:?}, stop at first: {stop_at_first}");
            }
        }
    }

    /// The incremental invariant check equals the whole-state one on every
    /// transition of depth 3 (161,172 of them): `cross_check` panics on the
    /// first disagreement, in the violations or in the history.
    #[test]
    fn incremental_checks_equal_whole_ones_to_depth_3() {
        let cfg = Config {
            depth: 3,
            cross_check: true,
            ..Config::default()
        };
        let r = explore(&Universe::small(), &Policy::default(), &cfg, &mut |_| {});
        assert!(r.counterexample.is_none());
        assert_eq!((r.states, r.transitions), (41_687, 161_172));
    }

    #[test]
    fn shards_cover_the_same_transitions() {
        let u = Universe::small();
        let all = explore(
            &u,
            &Policy::default(),
            &Config {
                depth: 1,
                ..Config::default()
            },
            &mut |_| {},
        );
        let parts: u64 = (0..3)
            .map(|i| {
                explore(
                    &u,
                    &Policy::default(),
                    &Config {
                        depth: 1,
                        shard: (i, 3),
                        ..Config::default()
                    },
                    &mut |_| {},
                )
                .transitions
            })
            .sum();
        assert_eq!(parts, all.transitions);
    }

    #[test]
    fn spare_lists_are_kept_empty_and_bounded() {
        let spare = Spare::default();
        let mut lists: Vec<Vec<Transition>> = (0..Spare::KEEP + 10)
            .map(|_| Vec::with_capacity(34))
            .collect();
        spare.give(&mut lists);
        assert!(lists.is_empty(), "given lists are taken");
        let mut got = Vec::new();
        spare.take(CHUNK, &mut got);
        assert_eq!(got.len(), CHUNK);
        assert!(got.iter().all(|l| l.is_empty() && l.capacity() >= 34));
        let mut rest = Vec::new();
        spare.take(usize::MAX, &mut rest);
        assert_eq!(got.len() + rest.len(), Spare::KEEP, "at most KEEP kept");
        spare.take(CHUNK, &mut rest);
        assert_eq!(got.len() + rest.len(), Spare::KEEP, "none left");
    }

    #[test]
    fn reachable_includes_the_start() {
        let u = Universe::small();
        let states = reachable(&u, &Policy::default(), 1);
        assert_eq!(states[0].0, u.snapshot);
        assert!(states.len() > u.times.len());
    }

    /// The reduced search keeps exactly one state per orbit: counted here
    /// without the orbit fingerprint, from the full search's states (each
    /// section sorted and printed as JSON, the smaller of a state and its
    /// mirror), on the wide universe with and without cross-checking. One
    /// clock value, so that `reachable` (which also ticks its last level)
    /// and the search cover the same states.
    #[test]
    fn symmetry_keeps_one_state_per_orbit() {
        let mut u = Universe::wide();
        u.times.truncate(1);
        let policy = Policy::default();
        let run = |symmetry, cross_check| {
            let cfg = Config {
                depth: 3,
                symmetry,
                cross_check,
                ..Config::default()
            };
            explore(&u, &policy, &cfg, &mut |_| {})
        };
        let (full, reduced) = (run(false, false), run(true, true));
        assert!(full.counterexample.is_none() && reduced.counterexample.is_none());
        let states = reachable(&u, &policy, 3);
        assert_eq!(states.len() as u64, full.states);
        let sorted = |s: &Snapshot| {
            let mut s = s.clone();
            s.tenants.sort_by(|a, b| a.id.cmp(&b.id));
            s.users.sort_by(|a, b| a.id.cmp(&b.id));
            s.memberships
                .sort_by(|a, b| (&a.user, &a.tenant).cmp(&(&b.user, &b.tenant)));
            s.api_keys.sort_by(|a, b| a.id.cmp(&b.id));
            s.sessions.sort_by(|a, b| a.id.cmp(&b.id));
            s.resources
                .sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
            serde_json::to_string(&s).unwrap()
        };
        let swap = &u.symmetries[0];
        let orbits: std::collections::HashSet<(String, Timestamp)> = states
            .iter()
            .map(|(s, at)| (sorted(s).min(sorted(&swap.snapshot(s))), *at))
            .collect();
        assert_eq!(reduced.states, orbits.len() as u64);
        assert!(reduced.states < full.states);
    }

    /// A transition fits a cache line (see [`Key`]), and a key survives
    /// its two words.
    #[test]
    fn a_transition_is_one_cache_line() {
        assert!(std::mem::size_of::<Transition>() <= 64);
        for f in [
            0,
            1,
            u128::MAX,
            1 << 64,
            (1 << 64) - 1,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            assert_eq!(Key::new(f).get(), f);
        }
    }
}
