//! Token references: how a suite names a token without holding it.
//!
//! `{{sha256:HEX}}` or `{{sha256:HEX:PREFIX}}` stands for the token whose
//! SHA-256 is `HEX` (64 lowercase hex), wherever it appears in a header value
//! or a command's `token`. PREFIX is the clear start of the token (a key's
//! stored `prefix`), needed when routing depends on it (`Authorization:
//! Bearer` and `api_key.prefixes`, `mint_api_key`'s prefix check).
//!
//! The runner resolves a reference to a **stand-in**: `PREFIX`, `~` and 32
//! hex digits derived from `HEX` — a valid token (SPEC §1) that is the same
//! on every machine. In its copy of the snapshot, every key or session whose
//! `token_sha256` is `HEX` gets the stand-in's hash instead. Explanations
//! therefore name the stand-in's hash prefix, not the real token's.

use std::collections::{BTreeMap, HashMap};

use authproof_engine::{is_valid_token, Error, Policy, Snapshot, TokenHash};
use serde_json::Value;

const OPEN: &str = "{{sha256:";
const CLOSE: &str = "}}";

/// The stand-in token a reference resolves to.
pub fn stand_in(hex: &str, prefix: &str) -> String {
    let body = TokenHash::of(&format!("authproof-test/1 stand-in {hex}")).to_string();
    format!("{prefix}~{}", &body[..32])
}

/// The reference for a raw token: `{{sha256:HEX}}`, with `:PREFIX` when
/// the token starts with a prefix that matters.
pub fn reference(token: &str, policy: &Policy, known: &Known) -> String {
    let hash = TokenHash::of(token);
    let stored = known
        .prefix
        .get(&hash)
        .filter(|p| !p.is_empty() && token.starts_with(p.as_str()));
    let from_policy = policy
        .api_key
        .prefixes
        .iter()
        .filter(|p| !p.is_empty() && token.starts_with(p.as_str()))
        .max_by_key(|p| p.len());
    match stored.or(from_policy) {
        Some(p) if valid_prefix(p) => format!("{OPEN}{hash}:{p}{CLOSE}"),
        _ => format!("{OPEN}{hash}{CLOSE}"),
    }
}

fn valid_prefix(p: &str) -> bool {
    p.is_empty() || (is_valid_token(p) && !p.contains(['{', '}']))
}

/// The token hashes a snapshot holds, with each key's stored prefix.
#[derive(Clone, Debug, Default)]
pub struct Known {
    prefix: HashMap<TokenHash, String>,
}

impl Known {
    pub fn new(s: &Snapshot) -> Known {
        let mut prefix = HashMap::new();
        for k in &s.api_keys {
            prefix.insert(k.token_sha256, k.prefix.to_string());
        }
        for x in &s.sessions {
            prefix.insert(x.token_sha256, String::new());
        }
        Known { prefix }
    }

    fn holds(&self, token: &str) -> bool {
        self.prefix.contains_key(&TokenHash::of(token))
    }
}

/// Where a header value may carry a token: byte ranges inside `value`.
/// `cookie`: each pair's value (inside one pair of quotes);
/// `authorization`: the text after the scheme; any header: the whole value.
fn candidates(name: &str, value: &str) -> Vec<(std::ops::Range<usize>, Option<String>)> {
    let mut out = vec![(0..value.len(), None)];
    if name.eq_ignore_ascii_case("cookie") {
        let mut start = 0;
        for seg in value.split(';') {
            if let Some(eq) = seg.find('=') {
                let cname = seg[..eq].trim_matches(' ').to_string();
                let v = seg[eq + 1..].trim_end_matches(' ');
                let (mut a, mut b) = (start + eq + 1, start + eq + 1 + v.len());
                if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
                    a += 1;
                    b -= 1;
                }
                out.push((a..b, Some(cname)));
            }
            start += seg.len() + 1;
        }
    } else if name.eq_ignore_ascii_case("authorization") {
        if let Some(sp) = value.find(' ') {
            let rest = &value[sp + 1..];
            let lead = rest.len() - rest.trim_start_matches(' ').len();
            let tok = rest.trim_matches(' ');
            let a = sp + 1 + lead;
            out.push((a..a + tok.len(), None));
        }
    }
    out
}

/// The header values and tokens of a request or command, as JSON pointers
/// into it, so both can be rewritten in place.
fn token_strings(json: &mut Value) -> Vec<(String, &mut String)> {
    let mut out = Vec::new();
    let Some(obj) = json.as_object_mut() else {
        return out;
    };
    for (k, v) in obj.iter_mut() {
        match (k.as_str(), v) {
            ("token", Value::String(s)) => out.push(("$.token".to_string(), s)),
            ("headers", Value::Object(h)) => {
                for (name, v) in h.iter_mut() {
                    if let Value::String(s) = v {
                        out.push((name.clone(), s));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Recording: replaces every raw token of a request or command by its
/// reference. A token is the `token` of a command; the whole value of the
/// policy's API-key header; a cookie value under one of the policy's session
/// cookie names; the text after `Authorization`'s scheme; and any of these
/// places in any header when the snapshot holds its hash. Only valid tokens
/// (SPEC §1) are replaced: anything else is malformed either way.
pub fn replace_raw(json: &mut Value, policy: &Policy, known: &Known) {
    for (name, s) in token_strings(json) {
        if s.contains(OPEN) {
            continue;
        }
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        if name == "$.token" {
            ranges.push(0..s.len());
        } else {
            for (r, cookie) in candidates(&name, s) {
                let whole = r == (0..s.len());
                let routed = match &cookie {
                    Some(c) => policy.session.cookies.contains(c),
                    None if whole => name.eq_ignore_ascii_case(&policy.api_key.header),
                    None => true, // the Authorization token
                };
                if routed || known.holds(&s[r.clone()]) {
                    ranges.push(r);
                }
            }
        }
        // The whole value wins over its parts; parts do not overlap.
        ranges.retain(|r| is_valid_token(&s[r.clone()]));
        if let Some(w) = ranges.iter().find(|r| **r == (0..s.len())).cloned() {
            ranges = vec![w];
        }
        ranges.sort_by_key(|r| std::cmp::Reverse(r.start));
        for r in ranges {
            let rf = reference(&s[r.clone()], policy, known);
            s.replace_range(r, &rf);
        }
    }
}

/// Running: a raw token whose hash the snapshot holds is refused, so a
/// suite file never carries a live credential.
pub fn refuse_raw(json: &Value, known: &Known) -> Result<(), Error> {
    let mut json = json.clone();
    for (name, s) in token_strings(&mut json) {
        let hit = if name == "$.token" {
            known.holds(s)
        } else {
            candidates(&name, s)
                .into_iter()
                .any(|(r, _)| known.holds(&s[r]))
        };
        if hit {
            let path = if name == "$.token" {
                name
            } else {
                format!("$.headers.{name}")
            };
            return Err(Error::at_path(
                path,
                "holds a raw token of a snapshot record; write it as {{sha256:<its token_sha256>}} \
                 (or record the case with `authproof test --record`)",
            ));
        }
    }
    Ok(())
}

/// The references of a suite: hash → the prefix they give.
#[derive(Clone, Debug, Default)]
pub struct References {
    prefix: BTreeMap<String, String>,
}

/// A reference found in a string: its byte range, HEX and PREFIX.
type Found = (std::ops::Range<usize>, String, String);

/// The references in `s`.
fn find(s: &str) -> Result<Vec<Found>, &'static str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = s[from..].find(OPEN) {
        let start = from + i;
        let body_start = start + OPEN.len();
        let Some(j) = s[body_start..].find(CLOSE) else {
            return Err("a token reference {{sha256:…}} is not closed by }}");
        };
        let body = &s[body_start..body_start + j];
        let (hex, prefix) = body.split_once(':').unwrap_or((body, ""));
        if TokenHash::from_hex(hex).is_none() {
            return Err("malformed token reference: expected {{sha256:HEX}} or {{sha256:HEX:PREFIX}} with HEX 64 lowercase hex characters");
        }
        if !valid_prefix(prefix) {
            return Err("malformed token reference: PREFIX must be token characters (SPEC §1) without { or }");
        }
        let end = body_start + j + CLOSE.len();
        out.push((start..end, hex.to_string(), prefix.to_string()));
        from = end;
    }
    Ok(out)
}

impl References {
    /// Notes the references of a request or command.
    pub fn collect(&mut self, json: &Value) -> Result<(), Error> {
        let mut json = json.clone();
        for (name, s) in token_strings(&mut json) {
            let path = if name == "$.token" {
                name
            } else {
                format!("$.headers.{name}")
            };
            for (_, hex, prefix) in find(s).map_err(|m| Error::at_path(&path, m))? {
                let slot = self.prefix.entry(hex).or_default();
                if prefix.is_empty() {
                    continue;
                }
                if !slot.is_empty() && *slot != prefix {
                    return Err(Error::at_path(
                        path,
                        "this token reference gives another PREFIX than an earlier reference to the same hash",
                    ));
                }
                *slot = prefix;
            }
        }
        Ok(())
    }

    /// A copy of `json` with every reference replaced by its stand-in.
    pub fn resolve(&self, json: &Value) -> Value {
        let mut json = json.clone();
        for (_, s) in token_strings(&mut json) {
            let Ok(found) = find(s) else { continue };
            for (r, hex, _) in found.into_iter().rev() {
                let prefix = self.prefix.get(&hex).map_or("", String::as_str);
                s.replace_range(r, &stand_in(&hex, prefix));
            }
        }
        json
    }

    /// The snapshot with each referenced hash replaced by its stand-in's.
    pub fn rewrite(&self, mut s: Snapshot) -> Snapshot {
        let swap = |h: &mut TokenHash| {
            if let Some(p) = self.prefix.get(&h.to_string()) {
                *h = TokenHash::of(&stand_in(&h.to_string(), p));
            }
        };
        s.api_keys
            .iter_mut()
            .for_each(|k| swap(&mut k.token_sha256));
        s.sessions
            .iter_mut()
            .for_each(|x| swap(&mut x.token_sha256));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stand_ins_are_valid_deterministic_tokens() {
        let h = TokenHash::of("x").to_string();
        let s = stand_in(&h, "sk_live_");
        assert!(is_valid_token(&s) && s.starts_with("sk_live_~"));
        assert_eq!(s, stand_in(&h, "sk_live_"));
        assert_ne!(
            stand_in(&h, ""),
            stand_in(&TokenHash::of("y").to_string(), "")
        );
    }

    #[test]
    fn replace_raw_keeps_header_text_around_tokens() {
        let policy = Policy::default();
        let known = Known::default();
        let mut j = json!({"at": "2026-01-01T00:00:00Z", "action": "a", "headers": {
            "cookie": "theme=dark; __Secure-better-auth.session_token=\"a/b+c=d%e\"; _ga=GA1",
            "Authorization": "Bearer  sk_live_k/+=%x ",
            "X-Api-Key": "sk_live_q/+=",
            "user-agent": "curl/8"}});
        replace_raw(&mut j, &policy, &known);
        let h = &j["headers"];
        let cookie = h["cookie"].as_str().unwrap();
        assert!(cookie.starts_with("theme=dark; __Secure-better-auth.session_token=\"{{sha256:"));
        assert!(cookie.ends_with("}}\"; _ga=GA1"), "{cookie}");
        let auth = h["Authorization"].as_str().unwrap();
        assert!(
            auth.starts_with("Bearer  {{sha256:") && auth.ends_with(":sk_live_}} "),
            "{auth}"
        );
        assert!(h["X-Api-Key"].as_str().unwrap().ends_with(":sk_live_}}"));
        assert_eq!(h["user-agent"], "curl/8");
        let text = j.to_string();
        for raw in ["a/b+c=d%e", "sk_live_k/+=%x", "sk_live_q/+="] {
            assert!(!text.contains(raw));
        }
        // Resolving gives the same header shape with stand-ins.
        let mut refs = References::default();
        refs.collect(&j).unwrap();
        let r = refs.resolve(&j);
        assert!(r["headers"]["cookie"]
            .as_str()
            .unwrap()
            .contains("session_token=\"~"));
        assert!(r["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .starts_with("Bearer  sk_live_~"));
    }

    #[test]
    fn malformed_and_conflicting_references() {
        let h = TokenHash::of("x").to_string();
        let mut refs = References::default();
        let bad = json!({"headers": {"x-api-key": "{{sha256:abc}}"}});
        let e = refs.collect(&bad).unwrap_err();
        assert_eq!(e.path(), Some("$.headers.x-api-key"));
        let a = json!({"token": format!("{{{{sha256:{h}:sk_a_}}}}")});
        let b = json!({"token": format!("{{{{sha256:{h}:sk_b_}}}}")});
        refs.collect(&a).unwrap();
        assert!(refs.collect(&b).is_err());
    }
}
