//! Invalid snapshots through the lockstep: the engine's load-time integrity
//! check (SPEC §2) judged against the model's own reading of the rules.
//!
//! Every other checker starts from a snapshot the engine accepted, drawn by
//! generators that only build valid ones, so an engine that stopped refusing
//! a dangling reference, a reused token hash or a session that expires
//! before it is created would pass them all. Here the engine
//! (`State::from_snapshot`) and the model
//! ([`authproof_models::integrity::check`]) each judge the same snapshot,
//! and [`judge`] requires them to agree: both accept it, or both refuse it
//! at the same JSON path with the same message (SPEC §2 pins the order of
//! the rules and their words, so "the first violation" is one answer, not
//! two). An error is compared through its public accessors only (`path()`,
//! `message()`, and no `file()` or `line()`: a snapshot given in code has
//! neither); neither message holds a value (SPEC §1.1), so a disagreement is
//! printed without a token or a token hash.
//!
//! The engine loads each snapshot twice: `State::from_snapshot`, and
//! [`load::snapshot`] of the snapshot's JSON (`serde_json::to_vec`), the
//! one-pass load the CLI runs, which hands the records to the state's
//! builder while it parses and sets `taken_at` only at the end. Each load
//! must agree with the model on its own: a bug in the one-pass load alone
//! (a lost `taken_at`, say: cargo-mutants' miss in `state/build.rs`,
//! docs/VERIFICATION.md §2) was judged by no checker, since every other one
//! starts from `State::from_snapshot`. (The snapshots here are small: each
//! section is one batch of the one-pass load.) The one-pass load's refusal must name the file
//! it was given (`snapshot.json`) and no line.
//!
//! When both accept, the loaded state is also read the way other crates
//! read it — `to_snapshot()`, `taken_at()`, `record_count()` and the six
//! record iterators, which `diff`'s census and the store's write-back call —
//! and every reading must list exactly the snapshot's records, in input
//! order (SPEC §2, "records in state order"). The model's state *is* the
//! snapshot at load ([`authproof_models::Model::new`] copies it), so that is
//! the comparison with the model. *Why at load and not after every step of
//! `check`:* the census reads a freshly loaded state, which this covers; the
//! lockstep already compares `to_snapshot()` with the model after every step
//! (I5, I6), and reading every accessor there too would add a second copy
//! of the state per step to `check` and `explore` for code the census and
//! the store's tests already run after commands.
//!
//! [`snapshot`] draws the snapshots (behind the `proptest` feature): a valid
//! one from [`generate::snapshot`](crate::generate::snapshot), then zero to
//! three [`Plant`]s, each a violation put there on purpose in the small
//! universe where collisions happen: an id given to a second record, a
//! reference pointed at a tenant or user that does not exist (or at an id of
//! the other kind), a token hash shared by a key and a session, a session's
//! times swapped or set one second apart either way, a membership or
//! resource repeated, a record removed (which leaves references to it
//! dangling) or moved (which changes which violation comes first). A plant
//! whose record is missing does nothing, so some cases stay valid and some
//! hold several violations, whose order the comparison then checks.
//! Rejected: drawing every field from the pools independently (almost every
//! case would fail at the first duplicate tenant and the later rules would
//! almost never be reached), and one plant per case (the order between two
//! violations would never be judged).
//!
//! [`run`] draws `cases` snapshots from a seed, judges each, counts which
//! rule at which field refused it ([`IntegrityReport::coverage`], so a
//! generator that stops reaching a rule shows up), and shrinks the first
//! disagreement with proptest. The gate runs it (`gate_integrity_agrees`),
//! and the `snapshot_json` fuzz target judges every input that parses.

use authproof_engine::{load, Error, Snapshot, State};
use authproof_models::integrity::{self, Rule};

/// How the engine and the model judged one snapshot, when they agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both load it, and every reading of the loaded state lists the
    /// snapshot's records.
    Accepted,
    /// Both refuse it: the rule, and the path with its indexes replaced by
    /// `[]` (`$.sessions[].user`), for coverage.
    Refused { rule: Rule, field: String },
}

/// The engine and the model disagree on a snapshot. The message names paths
/// and rules only, never a value of the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    pub message: String,
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn disagree(message: String) -> Result<Verdict, Disagreement> {
    Err(Disagreement { message })
}

/// `$.sessions[1].user` → `$.sessions[].user`.
fn field_of(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

/// The file name the one-pass load is given.
const FILE: &str = "snapshot.json";

/// Loads `snapshot` into the engine, by `State::from_snapshot` and by
/// [`load::snapshot`] of its JSON, and checks it with the model; `Ok` when
/// both loads agree with the model (SPEC §2; see the module documentation).
pub fn judge(snapshot: &Snapshot) -> Result<Verdict, Disagreement> {
    let model = integrity::check(snapshot);
    let verdict = agree(
        State::from_snapshot(snapshot.clone()),
        &model,
        snapshot,
        None,
    )?;
    let json = serde_json::to_vec(snapshot).expect("a snapshot serializes");
    agree(load::snapshot(&json, FILE), &model, snapshot, Some(FILE)).map_err(|d| Disagreement {
        message: format!("loaded from its JSON by load::snapshot: {}", d.message),
    })?;
    Ok(verdict)
}

/// One load of `snapshot` (`file`: the file it was loaded as, if any)
/// against the model's judgement of it.
fn agree(
    engine: Result<State, Error>,
    model: &Result<(), integrity::Refusal>,
    snapshot: &Snapshot,
    file: Option<&str>,
) -> Result<Verdict, Disagreement> {
    match (engine, model) {
        (Ok(state), Ok(())) => read_back(&state, snapshot),
        (Err(e), Err(r)) => {
            if e.path() != Some(r.path.as_str()) {
                return disagree(format!(
                    "both refuse the snapshot, the engine at {} and the model at {} ({})",
                    e.path().unwrap_or("no path"),
                    r.path,
                    r.rule
                ));
            }
            if e.message() != r.message {
                return disagree(format!(
                    "both refuse the snapshot at {}, the engine saying {:?} and the model {:?}",
                    r.path,
                    e.message(),
                    r.message
                ));
            }
            if e.file() != file || e.line().is_some() {
                return disagree(format!(
                    "the engine's refusal at {} names the file {:?} and the line {:?}, not {file:?} and no line",
                    r.path,
                    e.file(),
                    e.line()
                ));
            }
            Ok(Verdict::Refused {
                rule: r.rule,
                field: field_of(&r.path),
            })
        }
        (Ok(_), Err(r)) => disagree(format!(
            "the engine loads the snapshot, the model refuses it at {r}"
        )),
        (Err(e), Ok(())) => disagree(format!(
            "the engine refuses the snapshot at {}: {:?}; the model accepts it",
            e.path().unwrap_or("no path"),
            e.message()
        )),
    }
}

/// Every public reading of a freshly loaded `state` lists `snapshot`'s
/// records, in order.
fn read_back(state: &State, snapshot: &Snapshot) -> Result<Verdict, Disagreement> {
    let s = snapshot;
    if state.to_snapshot() != *s {
        return disagree("to_snapshot() of the loaded state is not the snapshot it loaded".into());
    }
    if state.taken_at() != s.taken_at {
        return disagree("taken_at() of the loaded state is not the snapshot's taken_at".into());
    }
    let records = s.record_count();
    if state.record_count() != records {
        return disagree(format!(
            "record_count() of the loaded state is {}, the snapshot holds {records} records",
            state.record_count()
        ));
    }
    // Each iterator against its collection; the name says which.
    fn same<'a, T: PartialEq + 'a>(
        name: &str,
        read: impl Iterator<Item = &'a T>,
        records: &'a [T],
    ) -> Result<(), Disagreement> {
        if read.eq(records.iter()) {
            Ok(())
        } else {
            Err(Disagreement {
                message: format!(
                    "{name}() of the loaded state does not list the snapshot's {name}, in order"
                ),
            })
        }
    }
    same("tenants", state.tenants(), &s.tenants)?;
    same("users", state.users(), &s.users)?;
    same("memberships", state.memberships(), &s.memberships)?;
    same("api_keys", state.api_keys(), &s.api_keys)?;
    same("sessions", state.sessions(), &s.sessions)?;
    same("resources", state.resources(), &s.resources)?;
    Ok(Verdict::Accepted)
}

/// `agree`, the comparison each load goes through, on loads that are wrong
/// on purpose: the one-pass load's judgement can fail.
#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(json: &str) -> Snapshot {
        load::parse_snapshot(json.as_bytes(), "t").expect("the test snapshot parses")
    }

    #[test]
    fn a_load_that_loses_taken_at_or_names_another_file_disagrees() {
        let s = parsed(r#"{"taken_at": "2026-03-01T00:00:00Z", "tenants": [{"id": "acme"}]}"#);
        assert_eq!(judge(&s), Ok(Verdict::Accepted));
        // The state a one-pass load that dropped `taken_at` would give.
        let mut lost = s.clone();
        lost.taken_at = None;
        let wrong = State::from_snapshot(lost).expect("valid");
        let d = agree(Ok(wrong), &integrity::check(&s), &s, Some(FILE)).unwrap_err();
        assert!(d.message.contains("to_snapshot()"), "{d}");

        let dup = parsed(r#"{"tenants": [{"id": "acme"}, {"id": "acme"}]}"#);
        let model = integrity::check(&dup);
        let json = serde_json::to_vec(&dup).expect("serializes");
        assert!(matches!(judge(&dup), Ok(Verdict::Refused { .. })));
        let other = load::snapshot(&json, "other.json");
        let d = agree(other, &model, &dup, Some(FILE)).unwrap_err();
        assert!(d.message.contains("names the file"), "{d}");
        let in_code = State::from_snapshot(dup.clone());
        assert!(agree(in_code, &model, &dup, Some(FILE)).is_err());
    }
}

#[cfg(feature = "proptest")]
pub use generator::{run, snapshot, IntegrityFinding, IntegrityReport, Plant};

#[cfg(feature = "proptest")]
mod generator {
    use std::collections::BTreeMap;

    use authproof_engine::{Id, Snapshot, Timestamp};
    use proptest::{
        collection::vec,
        prelude::*,
        strategy::ValueTree,
        test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
    };

    use super::{judge, Disagreement, Verdict};
    use crate::{check::seed_bytes, generate, Error};

    /// The collections of a snapshot, in SPEC §2's order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Collection {
        Tenants,
        Users,
        Memberships,
        ApiKeys,
        Sessions,
        Resources,
    }

    const COLLECTIONS: [Collection; 6] = [
        Collection::Tenants,
        Collection::Users,
        Collection::Memberships,
        Collection::ApiKeys,
        Collection::Sessions,
        Collection::Resources,
    ];

    /// A reference field: what it names, and where.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Reference {
        MembershipUser,
        MembershipTenant,
        KeyOwner,
        KeyTenant,
        SessionUser,
        SessionTenant,
        ResourceTenant,
        ResourceOwner,
    }

    const REFERENCES: [Reference; 8] = [
        Reference::MembershipUser,
        Reference::MembershipTenant,
        Reference::KeyOwner,
        Reference::KeyTenant,
        Reference::SessionUser,
        Reference::SessionTenant,
        Reference::ResourceTenant,
        Reference::ResourceOwner,
    ];

    /// What happens to a session's `created_at` and `expires_at`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Times {
        /// Swapped (invalid unless they were equal).
        Swap,
        /// Equal: valid, the boundary of the rule.
        Equal,
        /// Expires one second before it is created: invalid.
        OneSecondEarly,
        /// Expires one second after it is created: valid.
        OneSecondLate,
    }

    /// One violation (or boundary) put into a valid snapshot on purpose.
    /// Indexes are taken modulo the collection's length; a plant on an empty
    /// collection does nothing.
    #[derive(Clone, Debug)]
    pub enum Plant {
        /// Record `to` gets the id of record `from` (tenants, users, keys,
        /// sessions).
        ReuseId {
            collection: Collection,
            from: u8,
            to: u8,
        },
        /// A reference names a missing record: the pool's absent tenant or
        /// user, or an id of the other kind (a user id as a tenant).
        Dangle {
            field: Reference,
            index: u8,
            other_kind: bool,
        },
        /// Credential `to` gets the token hash of credential `from`, keys
        /// and sessions numbered together (keys first).
        ReuseToken { from: u8, to: u8 },
        /// A session's times.
        SessionTimes { index: u8, times: Times },
        /// A copy of membership or resource `from` inserted at `at`, with
        /// its other fields changed (a role, an owner): the same pair.
        RepeatPair { resources: bool, from: u8, at: u8 },
        /// A record removed: references to it now dangle.
        Remove { collection: Collection, index: u8 },
        /// A record moved to the front: which violation is first changes.
        ToFront { collection: Collection, index: u8 },
    }

    fn collection() -> impl Strategy<Value = Collection> {
        proptest::sample::select(COLLECTIONS.to_vec())
    }

    fn plant() -> impl Strategy<Value = Plant> {
        let id_collection = proptest::sample::select(vec![
            Collection::Tenants,
            Collection::Users,
            Collection::ApiKeys,
            Collection::Sessions,
        ]);
        let times = proptest::sample::select(vec![
            Times::Swap,
            Times::Equal,
            Times::OneSecondEarly,
            Times::OneSecondLate,
        ]);
        prop_oneof![
            3 => (id_collection, any::<u8>(), any::<u8>())
                .prop_map(|(collection, from, to)| Plant::ReuseId { collection, from, to }),
            4 => (proptest::sample::select(REFERENCES.to_vec()), any::<u8>(), prop::bool::weighted(0.3))
                .prop_map(|(field, index, other_kind)| Plant::Dangle { field, index, other_kind }),
            3 => (any::<u8>(), any::<u8>())
                .prop_map(|(from, to)| Plant::ReuseToken { from, to }),
            3 => (any::<u8>(), times)
                .prop_map(|(index, times)| Plant::SessionTimes { index, times }),
            2 => (any::<bool>(), any::<u8>(), any::<u8>())
                .prop_map(|(resources, from, at)| Plant::RepeatPair { resources, from, at }),
            2 => (collection(), any::<u8>())
                .prop_map(|(collection, index)| Plant::Remove { collection, index }),
            1 => (collection(), any::<u8>())
                .prop_map(|(collection, index)| Plant::ToFront { collection, index }),
        ]
    }

    /// `i` modulo `len`, or `None` for an empty collection.
    fn nth(i: u8, len: usize) -> Option<usize> {
        (len > 0).then(|| usize::from(i) % len)
    }

    fn id(s: &str) -> Id {
        Id::new(s).expect("pool ids are valid")
    }

    fn len_of(s: &Snapshot, c: Collection) -> usize {
        match c {
            Collection::Tenants => s.tenants.len(),
            Collection::Users => s.users.len(),
            Collection::Memberships => s.memberships.len(),
            Collection::ApiKeys => s.api_keys.len(),
            Collection::Sessions => s.sessions.len(),
            Collection::Resources => s.resources.len(),
        }
    }

    /// Applies `plant` to `s`.
    pub(super) fn apply(s: &mut Snapshot, plant: &Plant) {
        match *plant {
            Plant::ReuseId {
                collection,
                from,
                to,
            } => {
                let len = len_of(s, collection);
                let (Some(from), Some(to)) = (nth(from, len), nth(to, len)) else {
                    return;
                };
                match collection {
                    Collection::Tenants => s.tenants[to].id = s.tenants[from].id.clone(),
                    Collection::Users => s.users[to].id = s.users[from].id.clone(),
                    Collection::ApiKeys => s.api_keys[to].id = s.api_keys[from].id.clone(),
                    Collection::Sessions => s.sessions[to].id = s.sessions[from].id.clone(),
                    Collection::Memberships | Collection::Resources => {}
                }
            }
            Plant::Dangle {
                field,
                index,
                other_kind,
            } => {
                // The pools' last tenant and user are never in a generated
                // snapshot; an id of the other kind never names a record of
                // this kind either (the pools share no id).
                let missing_tenant = id(if other_kind {
                    generate::USERS[0]
                } else {
                    generate::TENANTS[3]
                });
                let missing_user = id(if other_kind {
                    generate::TENANTS[0]
                } else {
                    generate::USERS[3]
                });
                let at = |len: usize| nth(index, len);
                match field {
                    Reference::MembershipUser => {
                        if let Some(i) = at(s.memberships.len()) {
                            s.memberships[i].user = missing_user;
                        }
                    }
                    Reference::MembershipTenant => {
                        if let Some(i) = at(s.memberships.len()) {
                            s.memberships[i].tenant = missing_tenant;
                        }
                    }
                    Reference::KeyOwner => {
                        if let Some(i) = at(s.api_keys.len()) {
                            s.api_keys[i].owner = missing_user;
                        }
                    }
                    Reference::KeyTenant => {
                        if let Some(i) = at(s.api_keys.len()) {
                            s.api_keys[i].tenant = Some(missing_tenant);
                        }
                    }
                    Reference::SessionUser => {
                        if let Some(i) = at(s.sessions.len()) {
                            s.sessions[i].user = missing_user;
                        }
                    }
                    Reference::SessionTenant => {
                        if let Some(i) = at(s.sessions.len()) {
                            s.sessions[i].tenant = Some(missing_tenant);
                        }
                    }
                    Reference::ResourceTenant => {
                        if let Some(i) = at(s.resources.len()) {
                            s.resources[i].tenant = missing_tenant;
                        }
                    }
                    Reference::ResourceOwner => {
                        if let Some(i) = at(s.resources.len()) {
                            s.resources[i].owner = missing_user;
                        }
                    }
                }
            }
            Plant::ReuseToken { from, to } => {
                let keys = s.api_keys.len();
                let len = keys + s.sessions.len();
                let (Some(from), Some(to)) = (nth(from, len), nth(to, len)) else {
                    return;
                };
                let hash = if from < keys {
                    s.api_keys[from].token_sha256
                } else {
                    s.sessions[from - keys].token_sha256
                };
                if to < keys {
                    s.api_keys[to].token_sha256 = hash;
                } else {
                    s.sessions[to - keys].token_sha256 = hash;
                }
            }
            Plant::SessionTimes { index, times } => {
                let Some(i) = nth(index, s.sessions.len()) else {
                    return;
                };
                let x = &mut s.sessions[i];
                let step = |t: Timestamp, by: i64| {
                    Timestamp::from_unix(t.unix() + by).expect("generated times are in range")
                };
                match times {
                    Times::Swap => std::mem::swap(&mut x.created_at, &mut x.expires_at),
                    Times::Equal => x.expires_at = x.created_at,
                    Times::OneSecondEarly => x.expires_at = step(x.created_at, -1),
                    Times::OneSecondLate => x.expires_at = step(x.created_at, 1),
                }
            }
            Plant::RepeatPair {
                resources,
                from,
                at,
            } => {
                if resources {
                    let Some(from) = nth(from, s.resources.len()) else {
                        return;
                    };
                    let mut copy = s.resources[from].clone();
                    if let Some(u) = nth(at, s.users.len()) {
                        copy.owner = s.users[u].id.clone();
                    }
                    let at = usize::from(at) % (s.resources.len() + 1);
                    s.resources.insert(at, copy);
                } else {
                    let Some(from) = nth(from, s.memberships.len()) else {
                        return;
                    };
                    let mut copy = s.memberships[from].clone();
                    copy.role = "other".into();
                    let at = usize::from(at) % (s.memberships.len() + 1);
                    s.memberships.insert(at, copy);
                }
            }
            Plant::Remove { collection, index } => {
                let Some(i) = nth(index, len_of(s, collection)) else {
                    return;
                };
                match collection {
                    Collection::Tenants => {
                        s.tenants.remove(i);
                    }
                    Collection::Users => {
                        s.users.remove(i);
                    }
                    Collection::Memberships => {
                        s.memberships.remove(i);
                    }
                    Collection::ApiKeys => {
                        s.api_keys.remove(i);
                    }
                    Collection::Sessions => {
                        s.sessions.remove(i);
                    }
                    Collection::Resources => {
                        s.resources.remove(i);
                    }
                }
            }
            Plant::ToFront { collection, index } => {
                let Some(i) = nth(index, len_of(s, collection)) else {
                    return;
                };
                match collection {
                    Collection::Tenants => s.tenants[..=i].rotate_right(1),
                    Collection::Users => s.users[..=i].rotate_right(1),
                    Collection::Memberships => s.memberships[..=i].rotate_right(1),
                    Collection::ApiKeys => s.api_keys[..=i].rotate_right(1),
                    Collection::Sessions => s.sessions[..=i].rotate_right(1),
                    Collection::Resources => s.resources[..=i].rotate_right(1),
                }
            }
        }
    }

    /// A snapshot that may break SPEC §2's integrity rules: a valid one of
    /// the small universe with zero to three [`Plant`]s applied in order.
    pub fn snapshot() -> impl Strategy<Value = Snapshot> {
        (generate::snapshot(), vec(plant(), 0..=3)).prop_map(|(mut s, plants)| {
            for p in &plants {
                apply(&mut s, p);
            }
            s
        })
    }

    /// The first disagreement found, shrunk.
    #[derive(Clone, Debug)]
    pub struct IntegrityFinding {
        pub disagreement: Disagreement,
        /// The shrunk snapshot. Its `Debug` form shows token hashes as
        /// their first 8 hex characters.
        pub snapshot: Snapshot,
        /// The case (1-based) that first disagreed.
        pub case: u64,
    }

    /// What [`run`] did.
    #[derive(Clone, Debug, Default)]
    pub struct IntegrityReport {
        pub cases: u64,
        /// Cases both accepted (`"accepted"`), and cases both refused, by
        /// the refused field (`$.sessions[].user`).
        pub coverage: BTreeMap<String, u64>,
        pub finding: Option<IntegrityFinding>,
    }

    /// Judges `cases` snapshots drawn from `seed` (the same seed, the same
    /// snapshots), stopping at the first disagreement, which it shrinks.
    pub fn run(seed: u64, cases: u64) -> Result<IntegrityReport, Error> {
        let config = Config {
            failure_persistence: None,
            ..Config::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed));
        let mut runner = TestRunner::new_with_rng(config, rng);
        let strategy = snapshot();
        let mut report = IntegrityReport::default();
        while report.cases < cases {
            let mut tree = strategy.new_tree(&mut runner).map_err(Error::generation)?;
            report.cases += 1;
            match judge(&tree.current()) {
                Ok(verdict) => {
                    let key = match verdict {
                        Verdict::Accepted => "accepted".to_string(),
                        Verdict::Refused { field, .. } => field,
                    };
                    *report.coverage.entry(key).or_default() += 1;
                }
                Err(first) => {
                    report.finding = Some(shrink(&mut tree, first, report.cases));
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Proptest's shrinking loop: keep a simpler snapshot while the engine
    /// and the model still disagree on it.
    fn shrink(
        tree: &mut impl ValueTree<Value = Snapshot>,
        first: Disagreement,
        case: u64,
    ) -> IntegrityFinding {
        let mut best = IntegrityFinding {
            disagreement: first,
            snapshot: tree.current(),
            case,
        };
        if !tree.simplify() {
            return best;
        }
        for _ in 0..2_000 {
            let s = tree.current();
            let more = match judge(&s) {
                Err(d) => {
                    best.disagreement = d;
                    best.snapshot = s;
                    tree.simplify()
                }
                Ok(_) => tree.complicate(),
            };
            if !more {
                break;
            }
        }
        best
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Every plant is reachable and does what it says on a snapshot
        /// that has the records it needs.
        #[test]
        fn plants_break_the_rule_they_name() {
            use authproof_models::integrity::{check, Rule};
            let mut runner = TestRunner::deterministic();
            let mut full = None;
            for _ in 0..500 {
                let s = generate::snapshot()
                    .new_tree(&mut runner)
                    .expect("a snapshot")
                    .current();
                if s.tenants.len() >= 2
                    && s.users.len() >= 2
                    && s.api_keys.len() >= 2
                    && s.sessions.len() >= 2
                    && !s.resources.is_empty()
                {
                    full = Some(s);
                    break;
                }
            }
            let base = full.expect("a snapshot with every kind of record");
            let rule_of = |p: Plant| {
                let mut s = base.clone();
                apply(&mut s, &p);
                check(&s).map_err(|r| r.rule)
            };
            assert_eq!(
                rule_of(Plant::ReuseId {
                    collection: Collection::Users,
                    from: 0,
                    to: 1
                }),
                Err(Rule::UniqueIds)
            );
            assert_eq!(
                rule_of(Plant::ReuseToken { from: 0, to: 3 }),
                Err(Rule::UniqueTokenHashes)
            );
            assert_eq!(
                rule_of(Plant::SessionTimes {
                    index: 1,
                    times: Times::OneSecondEarly
                }),
                Err(Rule::SessionCreatedBeforeExpiry)
            );
            assert_eq!(
                rule_of(Plant::SessionTimes {
                    index: 1,
                    times: Times::Equal
                }),
                Ok(())
            );
            assert_eq!(
                rule_of(Plant::RepeatPair {
                    resources: true,
                    from: 0,
                    at: 9
                }),
                Err(Rule::UniqueResources)
            );
            for field in REFERENCES {
                for other_kind in [false, true] {
                    let r = rule_of(Plant::Dangle {
                        field,
                        index: 0,
                        other_kind,
                    });
                    // The key's tenant of a legacy key is set too, so every
                    // field dangles (or an earlier rule fires first).
                    assert!(r.is_err(), "{field:?} {other_kind}");
                }
            }
        }
    }
}
