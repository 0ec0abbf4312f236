//! Compact search states: every distinct record stored once.
//!
//! A search node needs its snapshot and its invariant history to be expanded
//! later. Kept as values they cost about 5 KB a node (strings, vectors, a
//! token digest per key and session), so depth 5 would not fit in memory.
//! But a search over one small universe meets few distinct *records*: key k1
//! enabled or disabled, revoked at one of a handful of clock values, bound to
//! t1 or t2 — a few dozen versions of each record in all. So each distinct
//! record (and each distinct history) is stored once, in a [`Store`], and a
//! node keeps only their numbers: a few dozen bytes.
//!
//! Rejected: a byte encoding of the snapshot (serde into a binary format):
//! smaller than JSON, still a copy of every string per node; storing the
//! path and replaying it from the root to expand a node: no state per node
//! at all, but every expansion would rerun up to `depth` commands on the
//! engine, the model and the invariants.
//!
//! Interning happens only where the search is sequential (its merge), so
//! the tables need no lock; the parallel expansion only reads them: to
//! unpack the nodes it expands, and to pack every child whose records are
//! all stored already ([`Store::packed`]) — after the first levels nearly
//! all of them, so packing is no longer serial work.

use std::{collections::HashMap, hash::Hash};

use authproof_engine::{
    snapshot::{ApiKey, Diff, Membership, Resource, Session, Tenant, User},
    Snapshot, Timestamp,
};

use xxhash_rust::xxh3::xxh3_128;

use crate::History;

/// Each distinct value once, named by its position.
struct Table<T> {
    values: Vec<T>,
    /// foldhash, not SipHash: the records are the universe's own, and the
    /// table's order is `values`, never the map's.
    index: HashMap<T, u32, foldhash::fast::RandomState>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            values: Vec::new(),
            index: HashMap::default(),
        }
    }
}

impl<T: Hash + Eq + Clone> Table<T> {
    fn intern(&mut self, v: &T) -> u32 {
        if let Some(&i) = self.index.get(v) {
            return i;
        }
        let i = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct records");
        self.values.push(v.clone());
        self.index.insert(v.clone(), i);
        i
    }

    fn get(&self, i: u32) -> &T {
        &self.values[i as usize]
    }

    /// The number of `v`, if it is stored.
    fn find(&self, v: &T) -> Option<u32> {
        self.index.get(v).copied()
    }
}

/// A record of any section, as [`Store::encode`] hands it out.
enum Record<'a> {
    TakenAt(&'a Option<Timestamp>),
    History(&'a History),
    Tenant(&'a Tenant),
    User(&'a User),
    Membership(&'a Membership),
    ApiKey(&'a ApiKey),
    Session(&'a Session),
    Resource(&'a Resource),
}

/// The records and histories a search has met.
#[derive(Default)]
pub(super) struct Store {
    taken_at: Table<Option<Timestamp>>,
    tenants: Table<Tenant>,
    users: Table<User>,
    memberships: Table<Membership>,
    api_keys: Table<ApiKey>,
    sessions: Table<Session>,
    resources: Table<Resource>,
    histories: Table<History>,
}

/// A snapshot and history as numbers into a [`Store`]: `taken_at`, the
/// history, the six section lengths, then each section's records in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Packed(Box<[u32]>);

const HEADER: usize = 8;

impl Packed {
    /// The numbers of section `k` (0 tenants … 5 resources).
    fn section(&self, k: usize) -> &[u32] {
        let p = &self.0;
        let start = HEADER + p[2..2 + k].iter().map(|&n| n as usize).sum::<usize>();
        &p[start..start + p[2 + k] as usize]
    }

    /// The visited-set key of this state at clock index `clock`: XXH3-128
    /// of its record numbers (the history's left out: the search keys
    /// states by snapshot and clock only) and the clock.
    ///
    /// Exact as the snapshot's own encoding ([`super::fingerprint::of`]) is:
    /// a record's number never changes once given, so two states of one
    /// search have the same numbers exactly when they are equal. It costs
    /// a hash of about a hundred bytes instead of encoding every string of
    /// the snapshot. The numbers depend on the order records were first
    /// stored, which is the sequential merge's, so the keys (and with them
    /// the search) do not depend on the thread count.
    pub(super) fn fingerprint(&self, clock: usize) -> u128 {
        fingerprint(&self.0, clock)
    }
}

/// [`Packed::fingerprint`] of the packed form `numbers`.
fn fingerprint(numbers: &[u32], clock: usize) -> u128 {
    let clock = u32::try_from(clock).expect("clock index fits u32");
    let words = numbers[..1]
        .iter()
        .chain(&numbers[2..])
        .chain(std::iter::once(&clock));
    // On the stack for any state of a small universe.
    const WORDS: usize = 64;
    if numbers.len() <= WORDS {
        let mut buf = [0u8; 4 * WORDS];
        let mut n = 0;
        for w in words {
            buf[n..n + 4].copy_from_slice(&w.to_le_bytes());
            n += 4;
        }
        xxh3_128(&buf[..n])
    } else {
        let bytes: Vec<u8> = words.flat_map(|w| w.to_le_bytes()).collect();
        xxh3_128(&bytes)
    }
}

impl Store {
    /// Packs `snapshot` and `history`, adding what is new to the tables.
    pub(super) fn pack(&mut self, snapshot: &Snapshot, history: &History) -> Packed {
        let mut out = Vec::new();
        Store::encode(&mut out, snapshot, history, |r, _| {
            Some(match r {
                Record::TakenAt(v) => self.taken_at.intern(v),
                Record::History(v) => self.histories.intern(v),
                Record::Tenant(v) => self.tenants.intern(v),
                Record::User(v) => self.users.intern(v),
                Record::Membership(v) => self.memberships.intern(v),
                Record::ApiKey(v) => self.api_keys.intern(v),
                Record::Session(v) => self.sessions.intern(v),
                Record::Resource(v) => self.resources.intern(v),
            })
        })
        .expect("interning numbers every record");
        Packed(out.into_boxed_slice())
    }

    /// What [`Store::pack`] gives, when every record and the history are
    /// already stored; `None` when one is new. It only reads the tables, so
    /// the parallel expansion packs most children itself and the sequential
    /// merge interns only the rest (after the first levels, nearly none).
    ///
    /// With `parent` — a stored state, its history, and where `snapshot`
    /// differs from it ([`Diff`], which the search has from exporting the
    /// child over the parent) — a record at a position the diff does not
    /// name is the parent's record there and takes its number without a
    /// lookup or a comparison: a command changes one or two records.
    pub(super) fn packed(
        &self,
        snapshot: &Snapshot,
        history: &History,
        parent: Option<(&Packed, &History, &Diff)>,
    ) -> Option<Packed> {
        let mut out = Vec::new();
        self.numbered(&mut out, snapshot, history, parent, true)?;
        Some(Packed(out.into_boxed_slice()))
    }

    /// The key [`Packed::fingerprint`] gives at `clock` to what
    /// [`Store::packed`] would give, for a state that will not be kept (the
    /// search's last level). The history, which the key leaves out, is not
    /// looked up, so one never stored before does not send the state to
    /// the merge to be interned. `None` when a record is new. The numbers
    /// are written to `words`, the caller's, so a key allocates nothing.
    pub(super) fn key(
        &self,
        words: &mut Vec<u32>,
        snapshot: &Snapshot,
        history: &History,
        parent: Option<(&Packed, &History, &Diff)>,
        clock: usize,
    ) -> Option<u128> {
        self.numbered(words, snapshot, history, parent, false)?;
        Some(fingerprint(words, clock))
    }

    /// What [`Store::packed`] gives, from the numbers [`Store::key`] left
    /// in `words` for the same child of `parent` (a stored state and its
    /// history): those with the history's number. `None` when the history
    /// is new.
    pub(super) fn keyed(
        &self,
        words: &[u32],
        history: &History,
        (numbers, before): (&Packed, &History),
    ) -> Option<Packed> {
        let n = if history == before {
            numbers.0[1]
        } else {
            self.histories.find(history)?
        };
        let mut out = words.to_vec();
        out[1] = n;
        Some(Packed(out.into_boxed_slice()))
    }

    /// [`Store::packed`] into `out`, with the history numbered 0 unless
    /// `with_history`.
    fn numbered(
        &self,
        out: &mut Vec<u32>,
        snapshot: &Snapshot,
        history: &History,
        parent: Option<(&Packed, &History, &Diff)>,
        with_history: bool,
    ) -> Option<()> {
        let history_number = |v: &History, before: Option<(&History, u32)>| {
            if !with_history {
                return Some(0);
            }
            match before {
                Some((before, n)) if v == before => Some(n),
                _ => self.histories.find(v),
            }
        };
        let Some((numbers, before_history, diff)) = parent else {
            return Store::encode(out, snapshot, history, |r, _| match r {
                Record::TakenAt(v) => self.taken_at.find(v),
                Record::History(v) => history_number(v, None),
                Record::Tenant(v) => self.tenants.find(v),
                Record::User(v) => self.users.find(v),
                Record::Membership(v) => self.memberships.find(v),
                Record::ApiKey(v) => self.api_keys.find(v),
                Record::Session(v) => self.sessions.find(v),
                Record::Resource(v) => self.resources.find(v),
            });
        };
        // The parent's number of the record at position `i` of section
        // `k`, when the diff says it is the parent's record.
        let kept = |k: usize, i: usize| {
            let i32 = u32::try_from(i).expect("a section fits u32");
            diff.sections[k]
                .binary_search(&i32)
                .is_err()
                .then(|| numbers.section(k)[i])
        };
        Store::encode(out, snapshot, history, |r, i| match r {
            Record::TakenAt(v) => (!diff.taken_at)
                .then_some(numbers.0[0])
                .or_else(|| self.taken_at.find(v)),
            Record::History(v) => history_number(v, Some((before_history, numbers.0[1]))),
            Record::Tenant(v) => kept(0, i).or_else(|| self.tenants.find(v)),
            Record::User(v) => kept(1, i).or_else(|| self.users.find(v)),
            Record::Membership(v) => kept(2, i).or_else(|| self.memberships.find(v)),
            Record::ApiKey(v) => kept(3, i).or_else(|| self.api_keys.find(v)),
            Record::Session(v) => kept(4, i).or_else(|| self.sessions.find(v)),
            Record::Resource(v) => kept(5, i).or_else(|| self.resources.find(v)),
        })
    }

    /// The packed form, into `out` (emptied first), numbering each record
    /// with `number` (given the record and its position in its section);
    /// `None` as soon as it gives none.
    fn encode(
        out: &mut Vec<u32>,
        snapshot: &Snapshot,
        history: &History,
        mut number: impl FnMut(Record<'_>, usize) -> Option<u32>,
    ) -> Option<()> {
        // Destructured without `..`: a new snapshot field does not compile
        // until it is packed.
        let Snapshot {
            taken_at,
            tenants,
            users,
            memberships,
            api_keys,
            sessions,
            resources,
        } = snapshot;
        let len = |n: usize| u32::try_from(n).expect("section fits u32");
        out.clear();
        out.reserve(
            HEADER
                + tenants.len()
                + users.len()
                + memberships.len()
                + api_keys.len()
                + sessions.len()
                + resources.len(),
        );
        out.push(number(Record::TakenAt(taken_at), 0)?);
        out.push(number(Record::History(history), 0)?);
        out.extend(
            [
                tenants.len(),
                users.len(),
                memberships.len(),
                api_keys.len(),
                sessions.len(),
                resources.len(),
            ]
            .map(len),
        );
        for (i, r) in tenants.iter().enumerate() {
            out.push(number(Record::Tenant(r), i)?);
        }
        for (i, r) in users.iter().enumerate() {
            out.push(number(Record::User(r), i)?);
        }
        for (i, r) in memberships.iter().enumerate() {
            out.push(number(Record::Membership(r), i)?);
        }
        for (i, r) in api_keys.iter().enumerate() {
            out.push(number(Record::ApiKey(r), i)?);
        }
        for (i, r) in sessions.iter().enumerate() {
            out.push(number(Record::Session(r), i)?);
        }
        for (i, r) in resources.iter().enumerate() {
            out.push(number(Record::Resource(r), i)?);
        }
        Some(())
    }

    /// The snapshot and history `packed` stands for.
    pub(super) fn unpack(&self, packed: &Packed) -> (Snapshot, History) {
        let p = &packed.0;
        let (t, u, m, k, s, r) = (
            packed.section(0),
            packed.section(1),
            packed.section(2),
            packed.section(3),
            packed.section(4),
            packed.section(5),
        );
        let snapshot = Snapshot {
            taken_at: *self.taken_at.get(p[0]),
            tenants: t.iter().map(|&i| self.tenants.get(i).clone()).collect(),
            users: u.iter().map(|&i| self.users.get(i).clone()).collect(),
            memberships: m.iter().map(|&i| self.memberships.get(i).clone()).collect(),
            api_keys: k.iter().map(|&i| self.api_keys.get(i).clone()).collect(),
            sessions: s.iter().map(|&i| self.sessions.get(i).clone()).collect(),
            resources: r.iter().map(|&i| self.resources.get(i).clone()).collect(),
        };
        (snapshot, self.histories.get(p[1]).clone())
    }

    /// Distinct values stored, all tables together.
    pub(super) fn len(&self) -> usize {
        self.taken_at.values.len()
            + self.tenants.values.len()
            + self.users.values.len()
            + self.memberships.values.len()
            + self.api_keys.values.len()
            + self.sessions.values.len()
            + self.resources.values.len()
            + self.histories.values.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::Universe;

    #[test]
    fn unpack_inverts_pack_and_shares_records() {
        let u = Universe::small();
        let mut store = Store::default();
        let h = History::new(&u.snapshot);
        let a = store.pack(&u.snapshot, &h);
        assert_eq!(store.unpack(&a), (u.snapshot.clone(), h.clone()));
        let before = store.len();
        let mut other = u.snapshot.clone();
        other.users[0].banned = true;
        let b = store.pack(&other, &h);
        assert_ne!(a, b);
        assert_eq!(store.unpack(&b).0, other);
        assert_eq!(store.len(), before + 1, "only the changed record is new");
        assert_eq!(store.pack(&u.snapshot, &h), a, "packing is canonical");
        assert_eq!(
            store.packed(&u.snapshot, &h, None),
            Some(a.clone()),
            "a stored state packs read-only"
        );
        assert_eq!(store.packed(&other, &h, None), Some(b.clone()));
        let mut third = other.clone();
        third.sessions[0].revoked_at = third.taken_at;
        assert_eq!(
            store.packed(&third, &h, None),
            None,
            "a new record needs the merge"
        );
        let before = store.len();
        assert_eq!(
            store.packed(&third, &h, None),
            None,
            "reading stores nothing"
        );
        assert_eq!(store.len(), before);

        // Keys: equal states at equal clocks, whatever their history.
        let mut other_history = a.0.to_vec();
        other_history[1] += 1;
        let a2 = Packed(other_history.into_boxed_slice());
        assert_eq!(a2.fingerprint(3), a.fingerprint(3));
        assert_ne!(a.fingerprint(3), a.fingerprint(4));
        assert_ne!(a.fingerprint(3), b.fingerprint(3));
        let c = store.pack(&third, &h);
        assert_ne!(c.fingerprint(0), b.fingerprint(0));

        // From a parent: the numbers a lookup gives, whatever changed — a
        // record, a section's length, the positions after a removal.
        let mut longer = other.clone();
        longer.sessions.push(third.sessions[0].clone());
        let mut shorter = third.clone();
        shorter.tenants.remove(0);
        let mut fresh = third.clone();
        fresh.users[1].banned = true;
        for (parent, parent_history) in [(&u.snapshot, &h), (&other, &h), (&third, &h)] {
            let numbers = store.packed(parent, parent_history, None).unwrap();
            for s in [&u.snapshot, &other, &third, &longer, &shorter, &fresh] {
                let diff = Diff::between(parent, s);
                let whole = store.packed(s, &h, None);
                assert_eq!(
                    store.packed(s, &h, Some((&numbers, parent_history, &diff))),
                    whole
                );
                // Keyed, then packed from the key's numbers: the same.
                let mut words = vec![7; 3];
                let key = store.key(
                    &mut words,
                    s,
                    &h,
                    Some((&numbers, parent_history, &diff)),
                    2,
                );
                assert_eq!(key, whole.as_ref().map(|p| p.fingerprint(2)));
                if key.is_some() {
                    assert_eq!(store.keyed(&words, &h, (&numbers, parent_history)), whole);
                }
            }
        }
        assert_eq!(store.packed(&fresh, &h, None), None);

        // A history the store lacks leaves a keyed child unpacked, until
        // the merge interns it.
        let mut dead = h.clone();
        dead.note_before(&third, third.taken_at.expect("a snapshot time"));
        assert_ne!(dead, h, "the revoked session is noted");
        let numbers = store.packed(&other, &h, None).unwrap();
        let diff = Diff::between(&other, &third);
        let mut words = Vec::new();
        let key = store.key(&mut words, &third, &dead, Some((&numbers, &h, &diff)), 0);
        assert_eq!(
            key,
            Some(c.fingerprint(0)),
            "the key leaves the history out"
        );
        assert_eq!(store.keyed(&words, &dead, (&numbers, &h)), None);
        let interned = store.pack(&third, &dead);
        assert_eq!(store.keyed(&words, &dead, (&numbers, &h)), Some(interned));
    }
}
