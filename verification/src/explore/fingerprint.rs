//! Fingerprints: the 128-bit keys of the visited set.
//!
//! A value is first *encoded*: [`Encoding`] is a [`Hasher`] that keeps the
//! bytes the value's `Hash` implementation writes instead of mixing them.
//! The standard library makes that stream prefix-free for the types a
//! snapshot holds (a `str` is its bytes and a `0xff` that UTF-8 never
//! contains, a collection its length first, integers fixed width, an
//! `Option` or enum its discriminant first), so two snapshots with the same
//! stream are equal: it is a canonical encoding, and no JSON. The stream is
//! then hashed once with XXH3-128 (`xxhash-rust`), a 128-bit hash built for
//! fingerprinting: n states collide with odds about n²/2¹²⁹.
//!
//! The search itself keys a stored state by its record numbers instead
//! ([`super::packed::Packed::fingerprint`]): the same XXH3-128, over a
//! hundred bytes rather than the ≈ 1.5 KB encoding, exact for the same
//! reason (a record's number names it). This encoding keys what is not
//! stored: `reachable`'s states and, under symmetry reduction, a state's
//! renamings ([`super::symmetry`]).
//!
//! Rejected: two fixed-key SipHash-1-3 passes over the value (the previous
//! fingerprint: ≈ 2,100 instructions per small-universe state, 11 % of a
//! transition); two differently seeded passes of one fast 64-bit hash
//! (half the cost, but collisions that do not depend on the seed would
//! defeat the second pass); the encoding itself as the key (exact, but
//! 100–200 bytes per visited state instead of 16, the difference between
//! depth 6 fitting in memory or not).

use std::hash::{Hash, Hasher};

use authproof_engine::Snapshot;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

/// The bytes a value's `Hash` writes: see the module documentation.
pub(super) struct Encoding(Vec<u8>);

impl Encoding {
    pub(super) fn with_capacity(n: usize) -> Encoding {
        Encoding(Vec::with_capacity(n))
    }

    /// Appends `v`'s encoding.
    pub(super) fn put<T: Hash + ?Sized>(&mut self, v: &T) {
        v.hash(self);
    }

    /// XXH3-128 of everything put so far.
    pub(super) fn fingerprint(&self) -> u128 {
        xxh3_128(&self.0)
    }

    /// Empties the encoding, keeping its buffer.
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }
}

impl Hasher for Encoding {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Only for completeness: the search reads [`Encoding::fingerprint`].
    fn finish(&self) -> u64 {
        xxh3_64(&self.0)
    }
}

/// The fingerprint of `snapshot` at clock index `clock`.
pub(super) fn of(snapshot: &Snapshot, clock: usize) -> u128 {
    // A small-universe snapshot encodes to ≈ 1.5 KB: one allocation.
    let mut e = Encoding::with_capacity(2048);
    e.put(snapshot);
    e.put(&clock);
    e.fingerprint()
}

/// The visited set: fingerprints only, in one open-addressed table.
///
/// A fingerprint is already uniform, so its low bits are its slot, and it
/// is its own tag: a slot holds the fingerprint itself, 0 marking an empty
/// one (the fingerprint 0 is kept aside). Finding a key reads one slot, or
/// the few after it on the same cache line (linear probing, the table kept
/// at most three-quarters full). At depth 6 the set holds tens of millions
/// of keys, far past the cache: each insert is a cache miss, and the
/// merge inserts every child of the last level on one thread, about a
/// tenth of the search. [`Seen::touch`] lets the merge start a chunk's
/// misses together before it inserts the chunk's keys one by one.
///
/// A new table of [`PREFAULT`] slots or more has its pages written on
/// the search's threads before the rehash (see [`Seen::with_threads`]).
///
/// Rejected: the standard `HashSet` (what this was): it keeps its tags
/// apart from its keys, so an insert misses twice, and it has no way to
/// look ahead; 64-bit keys (half the memory, but n states would collide
/// with odds n²/2⁶⁵: about 1 in 140 at depth 7).
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// A power of two in length (or empty), 0 for a free slot.
    slots: Vec<u128>,
    /// Keys in `slots`.
    held: usize,
    /// Whether the fingerprint 0 was inserted.
    zero: bool,
    /// Threads that write a large new table's pages (0 or 1: the rehash
    /// alone touches them).
    threads: usize,
}

/// Slots from which a new table is prefaulted: 32 MB. A smaller one is
/// mapped in well under the time it takes to start the threads.
const PREFAULT: usize = 1 << 21;

/// Bytes of a page: the kernel maps a new table one such page at a time.
const PAGE: usize = 4096;

impl Seen {
    /// An empty set whose large tables are prefaulted on `threads`
    /// threads. The kernel maps a new table's memory page by page as it is
    /// first written, and on this machine's virtual CPUs that costs far
    /// more from one thread than from two: the 512 MB table of depth 6
    /// took 0.06–1.15 s to map from one thread and 0.03–0.07 s from two
    /// (each page written once, alternated runs). Mapping it was most of
    /// the 1.04 s the last level's reserve took while the workers waited.
    pub(super) fn with_threads(threads: usize) -> Seen {
        Seen {
            threads,
            ..Seen::default()
        }
    }

    /// Fingerprints held.
    pub(super) fn len(&self) -> usize {
        self.held + usize::from(self.zero)
    }

    /// Whether `f` was inserted.
    pub(super) fn contains(&self, f: &u128) -> bool {
        if *f == 0 {
            return self.zero;
        }
        if self.slots.is_empty() {
            return false;
        }
        let mask = self.slots.len() - 1;
        let mut i = *f as usize & mask;
        loop {
            match self.slots[i] {
                0 => return false,
                k if k == *f => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Inserts `f`; whether it was new.
    pub(super) fn insert(&mut self, f: u128) -> bool {
        if f == 0 {
            return !std::mem::replace(&mut self.zero, true);
        }
        self.reserve(1);
        let mask = self.slots.len() - 1;
        let mut i = f as usize & mask;
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = f;
                    self.held += 1;
                    return true;
                }
                k if k == f => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Makes room for `more` keys without growing.
    pub(super) fn reserve(&mut self, more: usize) {
        let want = self.held + more;
        // At most three-quarters full.
        if want.saturating_mul(4) <= self.slots.len() * 3 {
            return;
        }
        let size = want
            .saturating_mul(4)
            .div_ceil(3)
            .next_power_of_two()
            .max(16);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        if size >= PREFAULT && self.threads > 1 {
            prefault(&mut self.slots, self.threads);
        }
        let mask = size - 1;
        for f in old.into_iter().filter(|&f| f != 0) {
            let mut i = f as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = f;
        }
    }

    /// Reads the slot where `f` would be looked for, so that a lookup soon
    /// after finds it in the cache; returns it for the caller to pass to
    /// [`std::hint::black_box`] (the read is otherwise dead).
    #[inline]
    pub(super) fn touch(&self, f: u128) -> u128 {
        match self.slots.len() {
            0 => 0,
            n => self.slots[f as usize & (n - 1)],
        }
    }
}

/// Writes a 0 (what they hold) to every page of `slots`, the pages split
/// among `threads` threads, so that the kernel maps them in parallel.
fn prefault(slots: &mut [u128], threads: usize) {
    let per_page = PAGE / std::mem::size_of::<u128>();
    let part = slots.len().div_ceil(threads).next_multiple_of(per_page);
    std::thread::scope(|s| {
        for part in slots.chunks_mut(part) {
            s.spawn(|| {
                for page in part.chunks_mut(per_page) {
                    // The value is opaque to the compiler, so the store of
                    // a 0 over a 0 is not elided.
                    page[0] = std::hint::black_box(0);
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::Universe;

    #[test]
    fn equal_states_share_a_fingerprint_and_any_change_moves_it() {
        let u = Universe::small();
        let s = u.snapshot.clone();
        assert_eq!(of(&s, 0), of(&s.clone(), 0));
        assert_ne!(of(&s, 0), of(&s, 1), "the clock is part of the state");
        let mut banned = s.clone();
        banned.users[0].banned = !banned.users[0].banned;
        assert_ne!(of(&s, 0), of(&banned, 0));
        // Moving bytes between two adjacent strings changes the encoding:
        // the terminator keeps ("ab", "c") apart from ("a", "bc").
        let mut a = s.clone();
        let mut b = s.clone();
        a.api_keys[0].name = "ab".into();
        a.api_keys[0].prefix = "c".into();
        b.api_keys[0].name = "a".into();
        b.api_keys[0].prefix = "bc".into();
        assert_ne!(of(&a, 0), of(&b, 0));
        // A record moved from one section's end to the next's start too.
        let mut fewer = s.clone();
        fewer.users.pop();
        assert_ne!(of(&s, 0), of(&fewer, 0));
    }

    #[test]
    fn the_visited_set_keeps_distinct_fingerprints() {
        let mut seen = Seen::default();
        let key = |i: u128| i << 64 | i.wrapping_mul(0x9e37_79b9);
        for i in 0..10_000u128 {
            assert!(!seen.contains(&key(i)));
            assert!(seen.insert(key(i)));
            assert!(seen.contains(&key(i)));
        }
        assert!(!seen.insert(key(5)));
        assert_eq!(seen.len(), 10_000);
        // Every key survives the growths, and no other key is found.
        for i in 0..10_000u128 {
            assert!(seen.contains(&key(i)), "{i}");
            assert!(!seen.contains(&key(i + 10_000)), "{i}");
        }
        // Keys that share their low bits (one slot) probe past each other.
        let mut clash = Seen::default();
        for i in 1..=100u128 {
            assert!(clash.insert(i << 64));
        }
        for i in 1..=100u128 {
            assert!(clash.contains(&(i << 64)) && !clash.insert(i << 64));
        }
        assert!(!clash.contains(&(101 << 64)));
        assert_eq!(clash.len(), 100);
    }

    /// The fingerprint 0, which marks a free slot, is a key like any other.
    #[test]
    fn zero_is_a_fingerprint_too() {
        let mut seen = Seen::default();
        assert!(!seen.contains(&0));
        assert_eq!(seen.touch(0), 0, "nothing to touch yet");
        assert!(seen.insert(0));
        assert!(seen.contains(&0) && !seen.insert(0));
        assert_eq!(seen.len(), 1);
        assert!(seen.insert(1 << 64) && seen.len() == 2);
        assert!(seen.contains(&0) && seen.contains(&(1 << 64)));
    }

    /// Reserved room is not grown into: a full reservation keeps its slots.
    #[test]
    fn reserve_makes_room_once() {
        let mut seen = Seen::default();
        seen.reserve(1000);
        let slots = seen.slots.len();
        assert!(slots * 3 >= 4 * 1000 && slots.is_power_of_two(), "{slots}");
        for i in 1..=1000u128 {
            assert!(seen.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
            assert_eq!(seen.slots.len(), slots, "regrown at {i} keys");
        }
        // Three-quarters full at most: one more key past that grows it.
        let mut full = Seen::default();
        full.reserve(12);
        assert_eq!(full.slots.len(), 16);
        for i in 1..=12u128 {
            assert!(full.insert(i << 64));
            assert_eq!(full.slots.len(), 16, "regrown at {i} keys");
        }
        assert!(full.insert(13 << 64));
        assert_eq!(full.slots.len(), 32, "grown past three-quarters");
        assert_eq!(
            seen.touch(0x9e37_79b9_7f4a_7c15),
            seen.slots[0x7c15 & (slots - 1)]
        );
    }

    /// A table large enough to be prefaulted, on two and on three threads
    /// (parts that do not divide it evenly), holds what one grown on a
    /// single thread holds, slot for slot, and is empty where no key is.
    #[test]
    fn prefaulted_tables_are_the_tables() {
        let key = |i: u128| (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        let mut one = Seen::default();
        for i in 0..1000 {
            one.insert(key(i));
        }
        one.reserve(PREFAULT);
        assert!(one.slots.len() >= PREFAULT);
        for threads in [2, 3] {
            let mut many = Seen::with_threads(threads);
            for i in 0..1000 {
                many.insert(key(i));
            }
            many.reserve(PREFAULT);
            assert!(many.slots == one.slots, "{threads} threads");
            assert_eq!(many.len(), 1000);
            assert!((0..1000).all(|i| many.contains(&key(i))));
            assert!(!many.contains(&key(1000)));
        }
    }
}
