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

use std::hash::{BuildHasherDefault, Hash, Hasher};

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

/// Hashes a fingerprint for the visited set by taking 64 of its bits: it is
/// already uniform, hashing it again would buy nothing.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Passthrough(u64);

impl Hasher for Passthrough {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is expected; anything else still spreads.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The visited set: fingerprints only.
pub(super) type Seen = std::collections::HashSet<u128, BuildHasherDefault<Passthrough>>;

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
        for i in 0..10_000u128 {
            assert!(seen.insert(i << 64 | i.wrapping_mul(0x9e37_79b9)));
        }
        assert!(!seen.insert(5 << 64 | 5u128.wrapping_mul(0x9e37_79b9)));
        assert_eq!(seen.len(), 10_000);
    }
}
