//! Record tables and indexes that remember which of their parts were
//! written.
//!
//! # Why
//!
//! A caller that runs many commands on one state (the explorer: every move
//! from every reachable state) exports the state after each command into a
//! snapshot that held it before, and wants to know which records the
//! command changed ([`State::update_snapshot`](crate::State::update_snapshot)).
//! Comparing every record of the state found the one or two that changed
//! at the cost of every other record's comparison: about a twentieth of an
//! explored transition, most of it comparing ids of records no command
//! touched. A table that knows which positions were written since the
//! caller last said the snapshot matched ([`Table::forget_writes`]) lets
//! the export compare those alone.
//!
//! # By construction
//!
//! The map is private and every way to reach a record mutably goes through
//! a method here that marks its position first: `get_mut`, `get_index_mut`,
//! `insert`, `shift_remove` (which marks the removed position and every
//! later one, since they shift), indexing with `[]`, `entry` (the builder's
//! path; it marks everything), `clone_from` (everything). So no command,
//! correct or faulty, can change a record the export then skips. A mark is
//! conservative: a position written with the value it held is compared and
//! found equal, as before.
//!
//! A new table and a copy remember every position as written: a copy's
//! marks would say what changed since *its source's* snapshot, which need
//! not be the snapshot the copy's caller holds.
//!
//! # Rejected
//!
//! - A record of changes kept by the commands themselves (their `changes`):
//!   a command that writes without saying so is exactly the silent write
//!   I7 exists to catch, and it would then hide its write from the export
//!   that catches it.
//! - Comparing every record (the cost above).
//! - Marks past position 63 one by one: the tables the explorer runs on
//!   hold a handful of records; beyond 64, one flag says "compare the rest".

use std::{
    hash::Hash,
    ops::{Deref, Index, IndexMut},
};

use indexmap::{map::Entry, Equivalent};

use super::IdMap;

/// The positions written since the marks were last forgotten: one bit per
/// position below 64, one flag for any position from 64 on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Written {
    low: u64,
    high: bool,
}

impl Written {
    const ALL: Written = Written {
        low: u64::MAX,
        high: true,
    };
    const NONE: Written = Written {
        low: 0,
        high: false,
    };

    #[inline]
    fn mark(&mut self, i: usize) {
        if i < 64 {
            self.low |= 1 << i;
        } else {
            self.high = true;
        }
    }

    /// Marks `i` and every position after it.
    #[inline]
    fn mark_from(&mut self, i: usize) {
        if i < 64 {
            self.low |= u64::MAX << i;
        }
        self.high = true;
    }
}

/// An id-keyed record table in insertion order ([`IdMap`]) that marks every
/// position reached mutably (module docs). Reads go through `Deref`.
#[derive(Debug)]
pub(crate) struct Table<K, V> {
    map: IdMap<K, V>,
    written: Written,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table {
            map: IdMap::default(),
            written: Written::ALL,
        }
    }
}

impl<K: Clone, V: Clone> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        Table {
            map: self.map.clone(),
            written: Written::ALL,
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.map.clone_from(&source.map);
        self.written = Written::ALL;
    }
}

impl<K, V> Deref for Table<K, V> {
    type Target = IdMap<K, V>;

    #[inline]
    fn deref(&self) -> &IdMap<K, V> {
        &self.map
    }
}

impl<K: Hash + Eq, V> Table<K, V> {
    /// An empty table with room for `n` records.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Table {
            map: IdMap::with_capacity_and_hasher(n, Default::default()),
            written: Written::ALL,
        }
    }

    /// The record under `key`, marked written.
    #[inline]
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        Q: ?Sized + Hash + Equivalent<K>,
    {
        let (i, _, v) = self.map.get_full_mut(key)?;
        self.written.mark(i);
        Some(v)
    }

    /// The record at position `i`, marked written.
    #[inline]
    pub(crate) fn get_index_mut(&mut self, i: usize) -> Option<(&K, &mut V)> {
        let entry = self.map.get_index_mut(i)?;
        self.written.mark(i);
        Some(entry)
    }

    /// Inserts or replaces the record under `key`, marking its position.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let (i, old) = self.map.insert_full(key, value);
        self.written.mark(i);
        old
    }

    /// Removes the record under `key`, keeping the others' order: its
    /// position and every later one are marked (they shift down).
    pub(crate) fn shift_remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        Q: ?Sized + Hash + Equivalent<K>,
    {
        let (i, _, v) = self.map.shift_remove_full(key)?;
        self.written.mark_from(i);
        Some(v)
    }

    /// The builder's entry for `key`. Marks every position: an entry can
    /// insert or overwrite anywhere.
    pub(crate) fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        self.written = Written::ALL;
        self.map.entry(key)
    }
}

impl<K, V> Table<K, V> {
    /// Keeps the first `n` records. Nothing is marked: the positions cut
    /// no longer exist, and a record added there later is marked then.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.map.truncate(n);
    }

    /// Forgets every mark: the caller's snapshot now holds these records.
    #[inline]
    pub(crate) fn forget_writes(&mut self) {
        self.written = Written::NONE;
    }

    /// The marked positions below `n`, in increasing order.
    #[inline]
    pub(crate) fn written_below(&self, n: usize) -> impl Iterator<Item = usize> {
        let Written { low, high } = self.written;
        let low = if n < 64 { low & !(u64::MAX << n) } else { low };
        let bits = std::iter::successors((low != 0).then_some(low), |&b| {
            let rest = b & (b - 1);
            (rest != 0).then_some(rest)
        })
        .map(|b| b.trailing_zeros() as usize);
        let rest = if high { 64..n.max(64) } else { 64..64 };
        bits.chain(rest)
    }
}

impl<K, V> Index<usize> for Table<K, V> {
    type Output = V;

    #[inline]
    fn index(&self, i: usize) -> &V {
        &self.map[i]
    }
}

impl<K, V> IndexMut<usize> for Table<K, V> {
    /// The record at position `i`, marked written.
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut V {
        self.written.mark(i);
        &mut self.map[i]
    }
}

impl<K: Hash + Eq, V, Q: ?Sized + Hash + Equivalent<K>> Index<&Q> for Table<K, V> {
    type Output = V;

    #[inline]
    fn index(&self, key: &Q) -> &V {
        &self.map[key]
    }
}

impl<K: Hash + Eq, V, Q: ?Sized + Hash + Equivalent<K>> IndexMut<&Q> for Table<K, V> {
    /// The record under `key`, marked written; panics when there is none,
    /// as `IndexMap`'s does.
    #[inline]
    fn index_mut(&mut self, key: &Q) -> &mut V {
        let (i, _, v) = self.map.get_full_mut(key).expect("IndexMut: key not found");
        self.written.mark(i);
        v
    }
}

/// An index of the state (the token index, the user links) that remembers
/// whether it was written since the marks were last forgotten: the same
/// contract as [`Table`]'s, one flag for the whole index. Reads go through
/// `Deref`; every mutable access goes through [`Tracked::write`].
#[derive(Debug)]
pub(crate) struct Tracked<T> {
    value: T,
    written: bool,
}

impl<T> Tracked<T> {
    pub(crate) fn new(value: T) -> Self {
        Tracked {
            value,
            written: true,
        }
    }

    /// The index, marked written.
    #[inline]
    pub(crate) fn write(&mut self) -> &mut T {
        self.written = true;
        &mut self.value
    }

    /// Whether it was written since [`Tracked::forget_writes`] (or ever,
    /// for a new index or a copy).
    #[inline]
    pub(crate) fn written(&self) -> bool {
        self.written
    }

    #[inline]
    pub(crate) fn forget_writes(&mut self) {
        self.written = false;
    }
}

impl<T: Default> Default for Tracked<T> {
    fn default() -> Self {
        Tracked::new(T::default())
    }
}

impl<T: Clone> Clone for Tracked<T> {
    fn clone(&self) -> Self {
        Tracked::new(self.value.clone())
    }

    fn clone_from(&mut self, source: &Self) {
        self.write().clone_from(&source.value);
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Table<u32, u32> {
        let mut t = Table::with_capacity(n);
        for i in 0..n as u32 {
            t.insert(i, i);
        }
        t
    }

    fn written(t: &Table<u32, u32>) -> Vec<usize> {
        t.written_below(t.len()).collect()
    }

    #[test]
    fn new_and_copied_tables_are_all_written() {
        let t = table(70);
        assert_eq!(written(&t), (0..70).collect::<Vec<_>>());
        let mut u = table(3);
        u.forget_writes();
        assert_eq!(written(&u), Vec::<usize>::new());
        u.clone_from(&t);
        assert_eq!(written(&u).len(), 70);
        let mut v = t.clone();
        v.forget_writes();
        assert!(written(&v).is_empty());
        assert_eq!(written(&v.clone()).len(), 70);
    }

    #[test]
    fn every_mutable_access_marks_its_position() {
        for n in [3, 64, 65, 130] {
            let mut t = table(n);
            let last = n - 1;
            t.forget_writes();
            *t.get_mut(&1).unwrap() = 7;
            assert_eq!(written(&t), [1]);
            *t.get_index_mut(last).unwrap().1 = 7;
            t[0usize] += 1;
            let mut want: Vec<usize> = vec![0, 1, last];
            if last >= 64 {
                want = vec![0, 1];
                want.extend(64..n);
            }
            assert_eq!(written(&t), want, "{n}");
            t.forget_writes();
            t[&2] = 9;
            t.insert(2, 9);
            assert_eq!(written(&t), [2]);
            // A new key is marked where it lands: the end.
            t.insert(1000, 0);
            if n < 64 {
                assert_eq!(written(&t), [2, n]);
            } else {
                // Past 63, one flag: every position from 64 on.
                let mut want = vec![2];
                want.extend(64..=n);
                assert_eq!(written(&t), want);
            }
            t.forget_writes();
            // A removal shifts every later record: all of them are marked.
            t.shift_remove(&1);
            let want: Vec<usize> = (1..t.len()).collect();
            assert_eq!(written(&t), want, "{n}");
            t.forget_writes();
            t.truncate(2);
            assert!(written(&t).is_empty());
            let _ = t.entry(5);
            assert_eq!(written(&t), [0, 1]);
        }
    }

    /// Past 63 one flag stands for every position: a removal there marks
    /// the flag alone (the shift it makes is all past 63).
    #[test]
    fn a_removal_past_63_marks_the_rest() {
        for n in [65, 130] {
            let mut t = table(n);
            t.forget_writes();
            t.shift_remove(&64);
            assert_eq!(written(&t), (64..n - 1).collect::<Vec<_>>(), "{n}");
        }
    }

    #[test]
    fn with_capacity_makes_room() {
        let t = Table::<u32, u32>::with_capacity(100);
        assert!(t.capacity() >= 100);
        assert!(t.is_empty());
    }

    #[test]
    fn reads_mark_nothing() {
        let mut t = table(5);
        t.forget_writes();
        let _ = (
            t.get(&1),
            t.get_index(2),
            t[3usize],
            t[&4],
            t.values().count(),
        );
        assert!(written(&t).is_empty());
        assert!(t.get_mut(&99).is_none());
        assert!(t.shift_remove(&99).is_none());
        assert!(written(&t).is_empty());
    }

    #[test]
    fn an_index_is_written_by_write_and_copies_only() {
        let mut t = Tracked::new(vec![1, 2]);
        assert!(t.written());
        t.forget_writes();
        let _ = (t.len(), t[0], t.iter().sum::<i32>());
        assert!(!t.written());
        t.write().push(3);
        assert!(t.written());
        t.forget_writes();
        let mut u = Tracked::new(Vec::new());
        u.forget_writes();
        u.clone_from(&t);
        assert!(u.written() && !t.written());
        assert!(t.clone().written());
    }

    #[test]
    fn written_below_stops_at_the_bound() {
        let t = table(100);
        assert_eq!(t.written_below(0).count(), 0);
        assert_eq!(t.written_below(5).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert_eq!(t.written_below(64).count(), 64);
        assert_eq!(t.written_below(65).count(), 65);
    }
}
