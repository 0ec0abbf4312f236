//! Record identifiers.
//!
//! SPEC §1: an id is a non-empty string of at most 128 bytes without control
//! characters. Checking this once, at deserialization, means every id the
//! engine holds is printable in an explanation without escaping tricks.

use std::{borrow::Borrow, fmt};

use serde::{de, Deserialize, Deserializer, Serialize};

use crate::{error::ErrorKind, Error};

/// The longest accepted id, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// A validated id of a tenant, user, key, session or resource.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    /// Validates `s` as an id. The error says which rule `s` breaks,
    /// without quoting it.
    pub fn new(s: impl Into<String>) -> Result<Id, Error> {
        let s = s.into();
        if s.is_empty() {
            Err(Error::new(ErrorKind::IdEmpty))
        } else if s.len() > MAX_ID_BYTES {
            Err(Error::new(ErrorKind::IdTooLong))
        } else if s.chars().any(char::is_control) {
            Err(Error::new(ErrorKind::IdControl))
        } else {
            Ok(Id(s))
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    /// Exactly `str`'s `Debug`, with a fast path for the usual id: printable
    /// ASCII without `"` or `\` is written verbatim between quotes (it is
    /// what `str`'s `Debug` writes for it, minus the per-character escape
    /// checks; explanations quote several ids per decision).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self
            .0
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\');
        if plain && f.width().is_none() && f.precision().is_none() && !f.alternate() {
            f.write_str("\"")?;
            f.write_str(&self.0)?;
            f.write_str("\"")
        } else {
            fmt::Debug::fmt(&self.0, f)
        }
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Id {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Id::new(s).map_err(de::Error::custom)
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
}
