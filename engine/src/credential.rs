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
    let api_key = headers.get(&policy.api_key.header);
    let cookie = headers
        .get("cookie")
        .and_then(|c| session_cookie(policy, c));
    let authorization = headers.get("authorization");

    let present =
        api_key.is_some() as usize + cookie.is_some() as usize + authorization.is_some() as usize;
    if present == 0 {
        return Extraction::None;
    }
    if present > 1 && policy.credentials.multiple == Multiple::Deny {
        return Extraction::Ambiguous(present);
    }

    for candidate in policy.credential_order() {
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
fn session_cookie<'r>(policy: &Policy, header: &'r str) -> Option<(usize, &'r str)> {
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
