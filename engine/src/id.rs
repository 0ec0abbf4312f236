//! Record identifiers.
//!
//! SPEC §1: an id is a non-empty string of at most 128 bytes without control
//! characters. Checking this once, at deserialization, means every id the
//! engine holds is printable in an explanation without escaping tricks.
//!
//! An id is stored inline up to 24 bytes (`CompactString`, the size of a
//! `String`): the usual id needs no heap allocation to load and clones by
//! copying, which is most of what loading a snapshot and recording a
//! decision did with ids (docs/PERFORMANCE.md).

use std::{
    borrow::Borrow,
    cmp::Ordering,
    fmt,
    hash::{Hash, Hasher},
};

use compact_str::CompactString;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::{error::ErrorKind, Error};

/// The longest accepted id, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// A validated id of a tenant, user, key, session or resource.
///
/// `PartialEq`, `Eq`, `PartialOrd`, `Ord` and `Hash` are written by hand as
/// those of the `str` (not derived from the representation): lookups by
/// `&str` (`Borrow<str>`) and the state's `PairRef` rely on an `Id` hashing
/// and comparing exactly like its text, and sorted outputs on `str` order.
#[derive(Clone)]
pub struct Id(CompactString);

impl Id {
    /// Validates `s` as an id. The error says which rule `s` breaks,
    /// without quoting it. A `String` too long to be inline keeps its
    /// allocation; anything else is copied once.
    pub fn new(s: impl AsRef<str>) -> Result<Id, Error> {
        check(s.as_ref())?;
        Ok(Id(CompactString::new(s)))
    }

    /// The id as a string.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The SPEC §1 rules, checked on the borrowed text before anything is
/// built from it.
fn check(s: &str) -> Result<(), Error> {
    if s.is_empty() {
        Err(Error::new(ErrorKind::IdEmpty))
    } else if s.len() > MAX_ID_BYTES {
        Err(Error::new(ErrorKind::IdTooLong))
    } else if s.chars().any(char::is_control) {
        Err(Error::new(ErrorKind::IdControl))
    } else {
        Ok(())
    }
}

// `#[inline]` as the derived impls had: the other crates (the model, the
// explorer) compare and hash ids in their inner loops.
impl PartialEq for Id {
    /// Inline, without the `memcmp` call `==` makes on slices: comparing
    /// whole snapshots (the model's against the engine's, before against
    /// after) compares a few ids per record, and those calls were a tenth
    /// of an explored transition.
    #[inline]
    fn eq(&self, other: &Id) -> bool {
        crate::credential::same_bytes(self.as_str().as_bytes(), other.as_str().as_bytes())
    }
}

impl Eq for Id {}

impl PartialOrd for Id {
    #[inline]
    fn partial_cmp(&self, other: &Id) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Id {
    #[inline]
    fn cmp(&self, other: &Id) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Id {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl Serialize for Id {
    /// A plain JSON string, as when the id was a `String`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Id {
    /// Exactly `str`'s `Debug`, with a fast path for the usual id: printable
    /// ASCII without `"` or `\` is written verbatim between quotes (it is
    /// what `str`'s `Debug` writes for it, minus the per-character escape
    /// checks; explanations quote several ids per decision).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self
            .as_str()
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\');
        if plain && f.width().is_none() && f.precision().is_none() && !f.alternate() {
            f.write_str("\"")?;
            f.write_str(self.as_str())?;
            f.write_str("\"")
        } else {
            fmt::Debug::fmt(self.as_str(), f)
        }
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Id {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Id {
    #[inline]
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Id {
    #[inline]
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<'de> Deserialize<'de> for Id {
    /// Reads the text where the deserializer has it (borrowed from the
    /// input, or in its scratch buffer for an escaped string) and checks it
    /// there: a short id is built inline without any allocation, where
    /// `String::deserialize` allocated one per id.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Id;
            // The same words as `String`'s visitor: type errors read as
            // they did ("invalid type: integer `5`, expected a string").
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            // `visit_borrowed_str` forwards here.
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Id, E> {
                check(s).map_err(E::custom)?;
                Ok(Id(CompactString::new(s)))
            }
            // An owned string (from a `serde_json::Value`): a long one keeps
            // its allocation.
            fn visit_string<E: de::Error>(self, s: String) -> Result<Id, E> {
                Id::new(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(Id::new("acme").is_ok());
        assert!(Id::new("a/b+c=d%").is_ok());
        let refused = |s: String| Id::new(s).unwrap_err().kind().clone();
        assert_eq!(refused("".into()), ErrorKind::IdEmpty);
        assert_eq!(refused("x".repeat(129)), ErrorKind::IdTooLong);
        assert!(Id::new("x".repeat(128)).is_ok());
        assert_eq!(refused("a\nb".into()), ErrorKind::IdControl);
        assert_eq!(
            Id::new("").unwrap_err().to_string(),
            "an id must not be empty"
        );
    }

    /// `Id` equality is `str` equality for every pair of ids of up to 18
    /// bytes that differ in one byte, at either end or in the middle, or
    /// in length (below, at and past one 8-byte word and two).
    #[test]
    fn equality_is_str_equality() {
        let mut texts = Vec::new();
        for n in 1..=18 {
            let base: String = "a/+=%bcdefghijklmnopq".chars().take(n).collect();
            texts.push(base.clone());
            for at in [0, n / 2, n - 1] {
                let mut b = base.clone().into_bytes();
                b[at] ^= 1;
                texts.push(String::from_utf8(b).unwrap());
            }
        }
        for a in &texts {
            for b in &texts {
                let (x, y) = (Id::new(a).unwrap(), Id::new(b).unwrap());
                assert_eq!(x == y, a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn debug_is_str_debug() {
        for s in [
            "acme",
            "a b/c+d=e%~!",
            "quo\"te",
            "back\\slash",
            "it's",
            "caf\u{e9}",
            "zero\u{200b}width",
            "\u{301}combining",
            "x",
        ] {
            let id = Id::new(s).unwrap();
            assert_eq!(format!("{id:?}"), format!("{s:?}"), "{s}");
            assert_eq!(format!("{id:>12?}"), format!("{s:>12?}"), "{s}");
        }
    }

    fn hash_of<T: Hash + ?Sized>(x: &T) -> u64 {
        use std::hash::BuildHasher;
        // A fixed-key SipHash: the same bytes give the same hash.
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(x)
    }

    #[test]
    fn generated_ids_are_inline() {
        // No larger than the `String` it replaces, with or without `Option`.
        assert_eq!(std::mem::size_of::<Id>(), std::mem::size_of::<String>());
        assert_eq!(
            std::mem::size_of::<Option<Id>>(),
            std::mem::size_of::<String>()
        );
        for s in ["t_00001", "usr_000123", "x", "i am 24 characters long!"] {
            assert!(s.len() <= 24);
            let id = Id::new(s).unwrap();
            assert!(!id.0.is_heap_allocated(), "{s}");
            assert!(!id.clone().0.is_heap_allocated(), "{s}");
        }
        let long = "y".repeat(MAX_ID_BYTES);
        assert!(Id::new(&long).unwrap().0.is_heap_allocated());
        assert_eq!(Id::new(&long).unwrap().as_str(), long);
    }

    #[test]
    fn hashes_and_compares_like_str() {
        use crate::state::{Pair, PairRef};
        let texts = [
            "a",
            "b",
            "t_00001",
            "t_00002",
            "usr_000123",
            "caf\u{e9}",
            "i am 24 characters long!",
            "i am 25 characters long!!",
            "a much longer id that lives on the heap, not inline",
        ];
        let ids: Vec<Id> = texts.iter().map(|s| Id::new(s).unwrap()).collect();
        for (a, ia) in texts.iter().zip(&ids) {
            assert_eq!(hash_of(ia), hash_of(*a), "{a}");
            assert_eq!(ia.as_str(), *a);
            assert_eq!(ia, *a);
            for (b, ib) in texts.iter().zip(&ids) {
                assert_eq!(ia.cmp(ib), a.cmp(b), "{a} {b}");
                assert_eq!(ia.partial_cmp(ib), a.partial_cmp(b), "{a} {b}");
                assert_eq!(ia == ib, a == b, "{a} {b}");
                // The state's two-id keys: a borrowed `PairRef` finds the
                // owned `Pair` only if both hash the same.
                let pair = Pair(ia.clone(), ib.clone());
                assert_eq!(hash_of(&pair), hash_of(&PairRef(a, b)), "{a} {b}");
            }
        }
        let mut map = indexmap::IndexMap::new();
        for (i, id) in ids.iter().enumerate() {
            map.insert(Pair(id.clone(), ids[(i + 1) % ids.len()].clone()), i);
        }
        for (i, t) in texts.iter().enumerate() {
            let next = texts[(i + 1) % texts.len()];
            assert_eq!(map.get(&PairRef(t, next)), Some(&i), "{t}");
            assert_eq!(map.get(&PairRef(next, t)), None, "{t}");
        }
        let by_str: std::collections::HashMap<Id, usize> = ids.iter().cloned().zip(0..).collect();
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(by_str.get(*t), Some(&i), "{t}");
        }
    }

    #[test]
    fn deserializes_without_changing_the_text() {
        let want = Id::new("usr_000123").unwrap();
        // Borrowed from the input (`visit_borrowed_str`).
        let borrowed: Id = serde_json::from_str("\"usr_000123\"").unwrap();
        // Unescaped into the parser's scratch buffer (`visit_str`).
        let escaped: Id = serde_json::from_str("\"usr\\u005f000123\"").unwrap();
        // Owned, from a `Value` (`visit_string`).
        let owned: Id = serde_json::from_value(serde_json::json!("usr_000123")).unwrap();
        let from_reader: Id = serde_json::from_reader(&b"\"usr_000123\""[..]).unwrap();
        for id in [&borrowed, &escaped, &owned, &from_reader] {
            assert_eq!(id, &want);
            assert!(!id.0.is_heap_allocated());
        }
        let long = "z".repeat(100);
        let id: Id = serde_json::from_str(&format!("{long:?}")).unwrap();
        assert_eq!(id, Id::new(&long).unwrap());
        assert_eq!(serde_json::to_string(&want).unwrap(), "\"usr_000123\"");
    }

    #[test]
    fn deserialize_errors_are_unchanged() {
        // A wrong type reads as `String`'s did.
        for input in ["5", "null", "[]", "{}", "true"] {
            let id = serde_json::from_str::<Id>(input).unwrap_err().to_string();
            let string = serde_json::from_str::<String>(input)
                .unwrap_err()
                .to_string();
            assert_eq!(id, string, "{input}");
        }
        // A rule broken: the rule, never the value.
        let e = serde_json::from_str::<Id>("\"\"").unwrap_err().to_string();
        assert!(e.starts_with("an id must not be empty"), "{e}");
        let e = serde_json::from_str::<Id>("\"se\\ncret\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("an id must not contain control characters"),
            "{e}"
        );
        assert!(!e.contains("cret"), "{e}");
        let e = serde_json::from_str::<Id>(&format!("{:?}", "s".repeat(129)))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("an id must be at most 128 bytes"), "{e}");
        let e = serde_json::from_value::<Id>(serde_json::json!("a\u{7}b"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "an id must not contain control characters");
    }
}
