//! A request to decide (SPEC §4).

use std::{collections::HashSet, fmt};

use serde::{
    de::{self, MapAccess, Visitor},
    ser::SerializeMap,
    Deserialize, Deserializer, Serialize, Serializer,
};

use crate::{Id, Timestamp};

/// One request: who presents what, at which time, to do which action where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub at: Timestamp,
    pub action: String,
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Id>,
}

/// Request headers: names match case-insensitively, and two names that are
/// equal ignoring case are an input error (which one would win is exactly
/// the kind of ambiguity an auth check must not resolve silently).
///
/// Input order is kept so a request serializes back as it was written.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// Headers from (name, value) pairs; `Err(name)` on a duplicate name.
    pub fn new<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<Headers, String>
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut seen = Seen::default();
        for (n, v) in pairs {
            let n = n.into();
            if !seen.insert(&n) {
                return Err(n);
            }
            out.push((n, v.into()));
        }
        Ok(Headers(out))
    }

    /// The value of header `name`, matched case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of three headers, each matched case-insensitively as by
    /// [`Headers::get`], in one pass over the headers (extraction reads the
    /// API-key header, `cookie` and `authorization` on every decision).
    #[inline]
    pub(crate) fn find3<'h>(&'h self, names: [&str; 3]) -> [Option<&'h str>; 3] {
        let mut out = [None; 3];
        for (n, v) in &self.0 {
            for (slot, name) in out.iter_mut().zip(names) {
                if slot.is_none() && n.eq_ignore_ascii_case(name) {
                    *slot = Some(v.as_str());
                }
            }
        }
        out
    }

    /// No headers at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The (name, value) pairs in input order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// The header names read so far, lowercased: duplicate detection in
/// constant time per header (a scan of every earlier name made 80k headers
/// take seconds). Small requests, the usual case, stay on a short scan.
#[derive(Default)]
struct Seen {
    few: Vec<String>,
    many: Option<HashSet<String>>,
}

impl Seen {
    const FEW: usize = 16;

    /// False when `name` (ignoring ASCII case) was inserted before.
    fn insert(&mut self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        if let Some(set) = &mut self.many {
            return set.insert(lower);
        }
        if self.few.contains(&lower) {
            return false;
        }
        self.few.push(lower);
        if self.few.len() > Self::FEW {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

/// Header values may be tokens: `Debug` shows names only.
impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (n, v) in &self.0 {
            m.serialize_entry(n, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of header names to string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out: Vec<(String, String)> = Vec::new();
                let mut seen = Seen::default();
                while let Some(name) = map.next_key::<String>()? {
                    if !seen.insert(&name) {
                        // Which one: by its index, not its name (a name is
                        // read from the input too).
                        return Err(de::Error::custom(format_args!(
                            "duplicate header name: header {} has the name of an earlier one (header names match case-insensitively)",
                            out.len()
                        )));
                    }
                    let value = map.next_value::<String>()?;
                    out.push((name, value));
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_lookup_and_duplicates() {
        let h = Headers::new([("X-Api-Key", "k"), ("Cookie", "a=b")]).unwrap();
        assert_eq!(h.get("x-api-key"), Some("k"));
        assert_eq!(h.get("COOKIE"), Some("a=b"));
        assert_eq!(h.get("authorization"), None);
        assert!(Headers::new([("a", "1"), ("A", "2")]).is_err());
        let err = serde_json::from_str::<Headers>(r#"{"Cookie":"a","cookie":"b"}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate header name"));
    }

    #[test]
    fn debug_hides_values() {
        let h = Headers::new([("x-api-key", "sk_live_secret")]).unwrap();
        assert!(!format!("{h:?}").contains("secret"));
    }
}

crate::load::objects_only!(Request);
