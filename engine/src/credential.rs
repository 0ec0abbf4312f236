//! Credential extraction (SPEC §5): which token a request presents, and how.
//!
//! The rules are strict on purpose. Each of the incidents this module guards
//! against came from a "helpful" extraction: decoding a cookie value (F03),
//! reading the cookie but validating it as a Bearer header (F02), or reading
//! only one of the two places an API key may arrive (F04). So:
//!
//! * three candidates, in the policy's `credentials.order` (by default the
//!   API-key header, the session cookie, `Authorization`);
//! * values are used verbatim (one pair of surrounding double quotes is
//!   removed from a cookie value, nothing else) — except that under
//!   `session.cookie_format = "signed"` a session token is unwrapped from
//!   its signed form by [`unwrap_token`] (SPEC §5.1), exactly as the
//!   deployment signs it;
//! * the first present candidate is *the* credential; if it is unusable the
//!   request is denied `malformed_credential`, with no fallback to a later one.
//!
//! Extraction runs on every decision, so it reads the request once: one
//! pass over the headers for the three names ([`Headers::find3`]) and one
//! pass over the `cookie` header's pairs for every policy cookie name at
//! once ([`session_cookie`]), stopping at the first-ranked name. The
//! straightforward form — a header lookup per name, and a `split(';')`
//! scan of the cookie header per policy cookie name — cost ≈ 1,400
//! instructions per decision, a fifth of an allow (docs/PERFORMANCE.md
//! "Extraction in one pass"); the result is the same by construction and
//! by the exhaustive test below, which compares both forms.

use std::borrow::Cow;
use std::fmt;

use crate::signed::{self, Signature};
use crate::{is_valid_token, Candidate, CookieFormat, CredentialKind, Headers, Multiple, Policy};

/// Where a credential was presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// The API-key header (`api_key.header`).
    ApiKeyHeader,
    /// The session cookie with this index in `session.cookies`.
    Cookie(usize),
    /// `Authorization: Bearer`.
    Bearer,
}

/// Why the chosen candidate cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Malformed {
    /// The value is empty.
    Empty,
    /// The value has a character a token may not have (SPEC §1).
    InvalidToken,
    /// `Authorization` does not use the Bearer scheme.
    NotBearer,
    /// `Authorization: Bearer` with no token.
    MissingToken,
    /// A Bearer API key, but `api_key.bearer = false`.
    BearerApiKeyRefused,
    /// A Bearer session token, but `session.bearer = false`.
    BearerSessionRefused,
    /// Signed format: the value is not valid percent-encoding, or does not
    /// decode to a valid token.
    PercentEncoding,
    /// Signed format: no `.` with a token before it (an unsigned cookie).
    Unsigned,
    /// Signed format: the part after the last `.` is not 43 characters of
    /// standard base64 and `=`.
    SignatureShape,
    /// Signed format: the signature does not match under the given secret.
    BadSignature,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::Empty => "the value is empty",
            Malformed::InvalidToken => {
                "the value is not a valid token (visible ASCII except \" , ; \\)"
            }
            Malformed::NotBearer => "the authorization scheme is not Bearer followed by a space",
            Malformed::MissingToken => "Bearer carries no token",
            Malformed::BearerApiKeyRefused => "an API key as Bearer, but api_key.bearer = false",
            Malformed::BearerSessionRefused => {
                "a session token as Bearer, but session.bearer = false"
            }
            Malformed::PercentEncoding => {
                "session.cookie_format = \"signed\": the value is not valid percent-encoding of a token"
            }
            Malformed::Unsigned => {
                "session.cookie_format = \"signed\": no signature (expected <token>.<signature>)"
            }
            Malformed::SignatureShape => {
                "session.cookie_format = \"signed\": the signature is not 44 characters of standard base64 ending in ="
            }
            Malformed::BadSignature => {
                "session.cookie_format = \"signed\": the signature does not match (HMAC-SHA256 under the given secret)"
            }
        })
    }
}

/// The result of extraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extraction<'r> {
    /// No candidate present: `no_credential`.
    None,
    /// `credentials.multiple = "deny"` and this many candidates present.
    Ambiguous(usize),
    /// The first present candidate is unusable: `malformed_credential`.
    Malformed(Channel, Malformed),
    /// A usable token, of this kind, from this channel.
    Token {
        kind: CredentialKind,
        channel: Channel,
        token: &'r str,
    },
}

/// Extracts the credential of a request under `policy`: the presented
/// value, verbatim. Under `session.cookie_format = "signed"` a session
/// token still has to be unwrapped by [`unwrap_token`].
pub fn extract<'r>(policy: &Policy, headers: &'r Headers) -> Extraction<'r> {
    let [api_key, cookie, authorization] =
        headers.find3([&policy.api_key.header, "cookie", "authorization"]);
    let cookie = cookie.and_then(|c| session_cookie(policy, c));

    let present =
        api_key.is_some() as usize + cookie.is_some() as usize + authorization.is_some() as usize;
    if present == 0 {
        return Extraction::None;
    }
    if present > 1 && policy.credentials.multiple == Multiple::Deny {
        return Extraction::Ambiguous(present);
    }

    // One candidate present (the usual request) is the credential in any
    // order: the order is not worked out for it.
    let order = if present > 1 {
        policy.credential_order()
    } else if api_key.is_some() {
        [Candidate::ApiKeyHeader; 3]
    } else if cookie.is_some() {
        [Candidate::Cookie; 3]
    } else {
        [Candidate::Authorization; 3]
    };
    for candidate in order {
        match candidate {
            Candidate::ApiKeyHeader => {
                if let Some(value) = api_key {
                    return token(CredentialKind::ApiKey, Channel::ApiKeyHeader, value);
                }
            }
            Candidate::Cookie => {
                if let Some((index, value)) = cookie {
                    return token(CredentialKind::Session, Channel::Cookie(index), value);
                }
            }
            Candidate::Authorization => {
                if let Some(value) = authorization {
                    return bearer(policy, value);
                }
            }
        }
    }
    unreachable!("a present candidate is in every order")
}

/// `authorization` as the credential (SPEC §5, 3).
fn bearer<'r>(policy: &Policy, value: &'r str) -> Extraction<'r> {
    let channel = Channel::Bearer;
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Extraction::Malformed(channel, Malformed::NotBearer);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Extraction::Malformed(channel, Malformed::NotBearer);
    }
    let bearer = rest.trim_start_matches(' ').trim_end_matches(' ');
    if bearer.is_empty() {
        return Extraction::Malformed(channel, Malformed::MissingToken);
    }
    if !is_valid_token(bearer) {
        return Extraction::Malformed(channel, Malformed::InvalidToken);
    }
    if policy.api_key_prefix(bearer).is_some() {
        if !policy.api_key.bearer {
            return Extraction::Malformed(channel, Malformed::BearerApiKeyRefused);
        }
        token(CredentialKind::ApiKey, channel, bearer)
    } else {
        if !policy.session.bearer {
            return Extraction::Malformed(channel, Malformed::BearerSessionRefused);
        }
        token(CredentialKind::Session, channel, bearer)
    }
}

/// The token to look up for an extracted credential (SPEC §5.1), and what
/// is known of its signature. API keys and every token under
/// `session.cookie_format = "plain"` are the extracted value itself
/// (signature `None`). Under `"signed"` a session token from a cookie is
/// percent-decoded and split at its last `.`; one from `Bearer` likewise
/// when it holds a `.`, else it is the raw token. The signature is verified
/// when `policy.cookie_secret` is set: a mismatch is [`Malformed::BadSignature`].
pub fn unwrap_token<'t>(
    policy: &Policy,
    kind: CredentialKind,
    channel: Channel,
    token: &'t str,
) -> Result<(Cow<'t, str>, Option<Signature>), Malformed> {
    if kind == CredentialKind::ApiKey || policy.session.cookie_format == CookieFormat::Plain {
        return Ok((Cow::Borrowed(token), None));
    }
    let (token, signature) = signed::unwrap(
        token,
        channel == Channel::Bearer,
        policy.cookie_secret.as_ref(),
    )?;
    Ok((token, Some(signature)))
}

fn token(kind: CredentialKind, channel: Channel, value: &str) -> Extraction<'_> {
    if value.is_empty() {
        Extraction::Malformed(channel, Malformed::Empty)
    } else if !is_valid_token(value) {
        Extraction::Malformed(channel, Malformed::InvalidToken)
    } else {
        Extraction::Token {
            kind,
            channel,
            token: value,
        }
    }
}

/// The session cookie in a `cookie` header: the first name in
/// `session.cookies` order that occurs (its first occurrence), with one pair
/// of surrounding double quotes removed from its value.
///
/// A pair is what lies between two `;`, without leading and trailing
/// spaces; its name is the part before its first `=`, its value the rest.
/// One pass over the pairs: a pair's name is compared, as a prefix
/// followed by `=`, with the names ranked before the best found so far,
/// and only a matching pair's value is scanned for its end; the pass stops
/// at a pair with the first-ranked name. [`session_cookie_by_name`] is the
/// definition it is tested against.
fn session_cookie<'r>(policy: &Policy, header: &'r str) -> Option<(usize, &'r str)> {
    let wanted = &policy.session.cookies;
    let bytes = header.as_bytes();
    let mut best: Option<(usize, &'r str)> = None;
    let mut start = 0;
    while start <= bytes.len() {
        while bytes.get(start) == Some(&b' ') {
            start += 1;
        }
        let rest = &bytes[start..];
        let limit = best.map_or(wanted.len(), |(i, _)| i);
        // A name with `=` or `;` in it is never a pair's name (a name ends
        // at the first `=` and a pair at a `;`): skipped, not matched as a
        // prefix (checked only on a prefix match).
        let hit = wanted[..limit].iter().position(|w| {
            let w = w.as_bytes();
            rest.len() > w.len()
                && rest[w.len()] == b'='
                && same_bytes(&rest[..w.len()], w)
                && !has_separator(w)
        });
        match hit {
            Some(index) => {
                let from = start + wanted[index].len() + 1;
                let end = find_byte(&bytes[from..], b';').map_or(bytes.len(), |p| from + p);
                let value = header[from..end].trim_end_matches(' ');
                best = Some((index, unquote(value)));
                if index == 0 {
                    break;
                }
                start = end + 1;
            }
            None => {
                start = find_byte(rest, b';').map_or(bytes.len(), |p| start + p) + 1;
            }
        }
    }
    best
}

/// The definition [`session_cookie`] implements in one pass: a scan of the
/// header's pairs per policy cookie name.
#[cfg(test)]
fn session_cookie_by_name<'r>(policy: &Policy, header: &'r str) -> Option<(usize, &'r str)> {
    policy
        .session
        .cookies
        .iter()
        .enumerate()
        .find_map(|(index, wanted)| {
            header
                .split(';')
                .map(|pair| pair.trim_matches(' '))
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| (index, unquote(value)))
        })
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` equal to `b`, as their high bits: exact up to and
/// including the lowest such byte (above it a borrow may mark others),
/// and zero when there is none. The classic "has a zero byte" test.
fn eq_mask(word: u64, b: u8) -> u64 {
    let v = word ^ (LOW_BITS * u64::from(b));
    v.wrapping_sub(LOW_BITS) & !v & HIGH_BITS
}

fn words(hay: &[u8]) -> std::slice::ChunksExact<'_, u8> {
    hay.chunks_exact(8)
}

fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().expect("chunks of 8"))
}

/// Whether `a` and `b` are the same bytes, compared inline 8 bytes at a
/// time (the last word overlapping the one before): for the short names
/// compared on every decision (a policy cookie name, the action), a call
/// to `memcmp` costs more than the comparison.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        // Without an early exit: a few bytes, no branch per byte.
        return a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0;
    }
    let mut diff = 0;
    for (x, y) in words(a).zip(words(b)) {
        diff |= word(x) ^ word(y);
    }
    diff == 0 && word(&a[n - 8..]) == word(&b[n - 8..])
}

/// The position of the first `needle` in `hay`, 8 bytes at a time (a
/// cookie header is scanned on every decision; `str::split` costs a
/// `memchr` call per pair).
fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    let mut chunks = words(hay);
    let mut at = 0;
    for chunk in &mut chunks {
        let m = eq_mask(word(chunk), needle);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|p| at + p)
}

/// Whether `s` holds an `=` or a `;`, 8 bytes at a time.
fn has_separator(s: &[u8]) -> bool {
    let mut chunks = words(s);
    for chunk in &mut chunks {
        let w = word(chunk);
        if eq_mask(w, b'=') | eq_mask(w, b';') != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b == b'=' || b == b';')
}

fn unquote(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

impl Channel {
    /// A human description, naming the cookie or header (never the value).
    pub fn describe(self, policy: &Policy) -> String {
        match self {
            Channel::ApiKeyHeader => format!("header {}", policy.api_key.header),
            Channel::Cookie(i) => format!(
                "cookie {}",
                policy.session.cookies.get(i).map_or("?", String::as_str)
            ),
            Channel::Bearer => "authorization: Bearer".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn ex<'a>(p: &Policy, h: &'a Headers) -> Extraction<'a> {
        extract(p, h)
    }

    fn h(pairs: &[(&str, &str)]) -> Headers {
        Headers::new(pairs.iter().copied()).unwrap()
    }

    fn tok(e: Extraction<'_>) -> (CredentialKind, Channel, String) {
        match e {
            Extraction::Token {
                kind,
                channel,
                token,
            } => (kind, channel, token.to_string()),
            other => panic!("expected a token, got {other:?}"),
        }
    }

    #[test]
    fn none_present() {
        let p = Policy::default();
        assert_eq!(ex(&p, &h(&[])), Extraction::None);
        assert_eq!(
            ex(&p, &h(&[("cookie", "theme=dark; x=y")])),
            Extraction::None
        );
    }

    #[test]
    fn api_key_header_is_verbatim() {
        let p = Policy::default();
        let headers = h(&[("X-API-Key", "sk_live_a/b+c=d%2F")]);
        let (k, c, t) = tok(ex(&p, &headers));
        assert_eq!(
            (k, c, t.as_str()),
            (
                CredentialKind::ApiKey,
                Channel::ApiKeyHeader,
                "sk_live_a/b+c=d%2F"
            )
        );
        // No prefix needed in the header: it is an API key by position.
        assert_eq!(
            tok(ex(&p, &h(&[("x-api-key", "abc")]))).0,
            CredentialKind::ApiKey
        );
        assert_eq!(
            ex(&p, &h(&[("x-api-key", "")])),
            Extraction::Malformed(Channel::ApiKeyHeader, Malformed::Empty)
        );
        assert_eq!(
            ex(&p, &h(&[("x-api-key", " sk_live_a")])),
            Extraction::Malformed(Channel::ApiKeyHeader, Malformed::InvalidToken)
        );
    }

    #[test]
    fn cookie_order_quotes_and_verbatim_values() {
        let p = Policy::default();
        let headers = h(&[(
            "cookie",
            "theme=dark; better-auth.session_token=second; __Secure-better-auth.session_token=\"a/+=%3D\"",
        )]);
        let (k, c, t) = tok(ex(&p, &headers));
        assert_eq!(k, CredentialKind::Session);
        assert_eq!(c, Channel::Cookie(0), "policy order, not header order");
        assert_eq!(t, "a/+=%3D", "one pair of quotes removed, nothing decoded");
        let headers = h(&[("cookie", "better-auth.session_token=\"\"x\"\"")]);
        assert_eq!(
            ex(&p, &headers),
            Extraction::Malformed(Channel::Cookie(1), Malformed::InvalidToken),
            "only one pair of quotes is removed"
        );
    }

    #[test]
    fn cookie_value_split_at_first_equals() {
        let p = Policy::default();
        let headers = h(&[("cookie", "junk; better-auth.session_token=ab==; =x")]);
        assert_eq!(tok(ex(&p, &headers)).2, "ab==");
        let headers = h(&[("cookie", "better-auth.session_token=")]);
        assert_eq!(
            ex(&p, &headers),
            Extraction::Malformed(Channel::Cookie(1), Malformed::Empty)
        );
    }

    #[test]
    fn bearer_shapes() {
        let p = Policy::default();
        for v in ["Bearer abc", "bearer abc", "BEARER    abc  ", "bEaReR abc"] {
            let (k, c, t) = tok(ex(&p, &h(&[("authorization", v)])));
            assert_eq!(
                (k, c, t.as_str()),
                (CredentialKind::Session, Channel::Bearer, "abc"),
                "{v:?}"
            );
        }
        assert_eq!(
            tok(ex(&p, &h(&[("authorization", "Bearer sk_live_x")]))).0,
            CredentialKind::ApiKey
        );
        for (v, why) in [
            ("Basic abc", Malformed::NotBearer),
            ("Bearer", Malformed::NotBearer),
            ("Bearer:abc", Malformed::NotBearer),
            ("Bearer   ", Malformed::MissingToken),
            ("Bearer a b", Malformed::InvalidToken),
            ("Bearer\tabc", Malformed::NotBearer),
        ] {
            assert_eq!(
                ex(&p, &h(&[("authorization", v)])),
                Extraction::Malformed(Channel::Bearer, why),
                "{v:?}"
            );
        }
    }

    #[test]
    fn bearer_kinds_need_policy() {
        let mut p = Policy::default();
        p.api_key.bearer = false;
        assert_eq!(
            ex(&p, &h(&[("authorization", "Bearer sk_live_x")])),
            Extraction::Malformed(Channel::Bearer, Malformed::BearerApiKeyRefused)
        );
        let mut p = Policy::default();
        p.session.bearer = false;
        assert_eq!(
            ex(&p, &h(&[("authorization", "Bearer abc")])),
            Extraction::Malformed(Channel::Bearer, Malformed::BearerSessionRefused)
        );
    }

    #[test]
    fn first_present_wins_without_fallback() {
        let p = Policy::default();
        let headers = h(&[
            ("authorization", "Bearer good"),
            ("cookie", "better-auth.session_token=bad token"),
        ]);
        assert_eq!(
            ex(&p, &headers),
            Extraction::Malformed(Channel::Cookie(1), Malformed::InvalidToken)
        );
        let headers = h(&[("authorization", "Bearer b"), ("x-api-key", "k")]);
        assert_eq!(tok(ex(&p, &headers)).1, Channel::ApiKeyHeader);
    }

    /// The one-pass cookie scan against its definition, over every header
    /// of up to 6 characters from an alphabet of the characters that
    /// matter (`;`, `=`, space, quote, and name letters), under cookie
    /// lists with the awkward names: empty, a prefix of another, with `=`,
    /// `;` or spaces in them, repeated.
    #[test]
    fn session_cookie_one_pass_is_the_definition() {
        let lists: &[&[&str]] = &[
            &["a", "ab", "b"],
            &["ab", "a"],
            &["", "a"],
            &["a=b", "a;b", "a", " a", "a "],
            &["b", "b", "a"],
            &["a\"b", "\"a"],
        ];
        let alphabet = ['a', 'b', '=', ';', ' ', '"'];
        let mut header = String::new();
        let mut checked = 0;
        for len in 0..=6u32 {
            for mut code in 0..alphabet.len().pow(len) {
                header.clear();
                for _ in 0..len {
                    header.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                for list in lists {
                    let mut p = Policy::default();
                    p.session.cookies = list.iter().map(|c| c.to_string()).collect();
                    assert_eq!(
                        session_cookie(&p, &header),
                        session_cookie_by_name(&p, &header),
                        "{header:?} under {list:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 300_000);
        // Long headers: the vector path of `find_byte`.
        let p = Policy::default();
        for h in [
            "theme=dark; __Secure-better-auth.session_token=ses_0123456789abcdef/0123456789abcdef%3D; _ga=GA1.2.3",
            "a=1234567890123456789012345678901234567890;better-auth.session_token=x   ;   __Host-better-auth.session_token=\"y\"",
            "better-auth.session_token=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; better-auth.session_token=b",
        ] {
            assert_eq!(session_cookie(&p, h), session_cookie_by_name(&p, h), "{h:?}");
        }
    }

    #[test]
    fn find_byte_is_position() {
        let hay: Vec<u8> = (0..70u8).map(|i| b'a' + i % 26).collect();
        for len in 0..hay.len() {
            for at in 0..=len {
                for other in [0x3a, 0x3c, 0x80, 0xbb, 0xff] {
                    let mut h = hay[..len].to_vec();
                    if at < len {
                        h[at] = b';';
                    }
                    if at + 1 < len {
                        h[at + 1] = other;
                    }
                    if at >= 1 {
                        h[at - 1] = other;
                    }
                    assert_eq!(find_byte(&h, b';'), h.iter().position(|&b| b == b';'));
                }
            }
        }
    }

    #[test]
    fn same_bytes_is_eq() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for len in 0..base.len() {
            let a = &base[..len];
            assert!(same_bytes(a, a));
            assert!(!same_bytes(a, &base[..len + 1]), "length {len}");
            for at in 0..len {
                for other in [b'A', 0x80, 0xff, 0] {
                    let mut b = a.to_vec();
                    b[at] = other;
                    assert_eq!(same_bytes(a, &b), a == b.as_slice(), "{len} {at}");
                }
            }
        }
    }

    #[test]
    fn has_separator_is_contains() {
        for len in 0..40 {
            for at in 0..=len {
                for sep in [b'=', b';', b'a', 0x80, 0xff, 0x3c, 0x3e] {
                    let mut s = vec![b'x'; len];
                    if at < len {
                        s[at] = sep;
                    }
                    assert_eq!(has_separator(&s), s.contains(&b'=') || s.contains(&b';'));
                }
            }
        }
    }

    #[test]
    fn find3_is_get() {
        let headers = h(&[("User-Agent", "u"), ("COOKIE", "c"), ("x-api-key", "k")]);
        for names in [
            ["x-api-key", "cookie", "authorization"],
            ["cookie", "cookie", "Authorization"],
            ["", "user-agent", "x-api-keY"],
        ] {
            assert_eq!(headers.find3(names), names.map(|n| headers.get(n)));
        }
    }

    #[test]
    fn multiple_deny_counts_presence() {
        let mut p = Policy::default();
        p.credentials.multiple = Multiple::Deny;
        let headers = h(&[("authorization", "Basic x"), ("x-api-key", "")]);
        assert_eq!(ex(&p, &headers), Extraction::Ambiguous(2));
        let headers = h(&[("authorization", "Bearer x"), ("cookie", "theme=1")]);
        assert_eq!(tok(ex(&p, &headers)).1, Channel::Bearer);
    }
}
