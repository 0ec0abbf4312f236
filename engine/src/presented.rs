//! Deciding a credential known only by its hash.
//!
//! A snapshot holds token hashes, never tokens, so a tool that asks "what
//! would every credential of this snapshot get under that policy?" (the
//! `diff` census) cannot build a request with real headers. A [`Presented`]
//! credential stands for a request carrying exactly one credential header:
//! *where* the token is presented ([`Via`]), the token's hash, and the part
//! of the token that is known without it (an API key's stored `prefix`).
//!
//! [`State::decide_presented`](crate::State::decide_presented) resolves it
//! under the policy exactly as extraction (SPEC §5) would resolve the real
//! header, then runs the same decision steps as [`State::decide`]
//! (crate::State::decide): the code after extraction is shared, not copied.
//!
//! Resolution, for a request carrying only this header:
//!
//! * [`Via::Header`]`(name)`: an API key when `name` is the policy's
//!   `api_key.header` (case-insensitive); `authorization` without a Bearer
//!   scheme is `malformed_credential`; any other header is no credential.
//!   (A header named `cookie` is read as no session cookie: a token is taken
//!   not to begin with `<cookie name>=`.)
//! * [`Via::Cookie`]`(name)`: a session token when `name` is one of the
//!   policy's `session.cookies`, else no credential.
//! * [`Via::Bearer`]: an API key when the known prefix starts with one of the
//!   policy's `api_key.prefixes` (then `api_key.bearer` must be true), else
//!   a session token (then `session.bearer` must be true); a refused kind is
//!   `malformed_credential`. A policy prefix longer than the known prefix is
//!   taken not to match: only the known part of the token is compared.
//! * A policy whose `api_key.header` is `cookie` or `authorization` reads that
//!   whole header as an API key: `Bearer <token>` has a space and is
//!   `malformed_credential`; a cookie pair `name=token` is not the presented
//!   token, so no key is taken to have its hash: `api_key_not_found`. That
//!   header is then two candidates, and `credentials.order` says which one
//!   is looked at first. Under `credentials.multiple = "deny"` such a
//!   header, when it is both candidates (`authorization: Bearer <token>`, or
//!   `authorization` without a scheme; a cookie pair named in
//!   `session.cookies`), is `ambiguous_credential`, as it is for the real
//!   header.
//! * Under `session.cookie_format = "signed"` a presented session token
//!   stands for its correctly signed value (SPEC §5.1): resolution is the
//!   same, and the explanation says nothing about a signature.

use crate::{
    credential::Channel, credential::Malformed, Candidate, CredentialKind, Multiple, Policy,
    TokenHash,
};

/// Where a token is presented, independently of any policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Via<'a> {
    /// A header whose whole value is the token (an API-key header).
    Header(&'a str),
    /// A `cookie` header with the single pair `name=token`.
    Cookie(&'a str),
    /// `authorization: Bearer token`.
    Bearer,
}

/// A credential presented by hash: see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presented<'a> {
    pub via: Via<'a>,
    /// SHA-256 of the token.
    pub token: TokenHash,
    /// The beginning of the token known without it: an API key's stored
    /// `prefix`, `""` for a session token. Only Bearer routing reads it.
    pub known_prefix: &'a str,
}

/// What extraction finds for a presented credential under one policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// No credential present: `no_credential`.
    None,
    /// This many candidates under `credentials.multiple = "deny"`:
    /// `ambiguous_credential`.
    Ambiguous(usize),
    /// The candidate is unusable: `malformed_credential`.
    Malformed(Channel, Malformed),
    /// A token of this kind, from this channel.
    Token(CredentialKind, Channel),
    /// The policy reads another header's whole value as the API key, so
    /// the presented token is not what is looked up: `api_key_not_found`.
    Unmatched(Channel),
}

impl Presented<'_> {
    /// The kind of credential `policy` reads from this presentation, or
    /// `None` when it reads none or an unusable one (`no_credential`,
    /// `ambiguous_credential`, `malformed_credential`, or a whole other
    /// header as the API key).
    ///
    /// When this is `None`, the decision does not depend on `token` at all,
    /// only on the policy and the request; when it is `Some(kind)`, it
    /// depends on the kind and the token's hash but not on the channel
    /// (which appears only in the explanation). A census may rely on both.
    pub fn kind_under(&self, policy: &Policy) -> Option<CredentialKind> {
        match self.resolve(policy) {
            Resolved::Token(kind, _) => Some(kind),
            _ => None,
        }
    }

    /// Resolves the presentation under `policy` (SPEC §5 for one header).
    pub(crate) fn resolve(&self, policy: &Policy) -> Resolved {
        let key_header = policy.api_key.header.as_str();
        // Whether the API-key header is looked at before `other`: matters
        // only when the API-key header is itself `cookie` or
        // `authorization`, so that one header is two candidates.
        let key_first = |other: Candidate| {
            let order = policy.credential_order();
            order.iter().position(|c| *c == Candidate::ApiKeyHeader)
                < order.iter().position(|c| *c == other)
        };
        // `multiple = "deny"` counts candidates: where the API-key header
        // is itself `authorization` or `cookie`, this one header can be two.
        if policy.credentials.multiple == Multiple::Deny {
            let two = match self.via {
                Via::Header(name) => {
                    name.eq_ignore_ascii_case(key_header)
                        && name.eq_ignore_ascii_case("authorization")
                }
                Via::Bearer => key_header.eq_ignore_ascii_case("authorization"),
                Via::Cookie(name) => {
                    key_header.eq_ignore_ascii_case("cookie")
                        && policy.session.cookies.iter().any(|c| c == name)
                }
            };
            if two {
                return Resolved::Ambiguous(2);
            }
        }
        match self.via {
            Via::Header(name)
                if name.eq_ignore_ascii_case(key_header)
                    && name.eq_ignore_ascii_case("authorization")
                    && !key_first(Candidate::Authorization) =>
            {
                // `authorization` is read first, and a token has no space.
                Resolved::Malformed(Channel::Bearer, Malformed::NotBearer)
            }
            Via::Header(name) if name.eq_ignore_ascii_case(key_header) => {
                Resolved::Token(CredentialKind::ApiKey, Channel::ApiKeyHeader)
            }
            Via::Header(name) if name.eq_ignore_ascii_case("authorization") => {
                // A valid token has no space: not `Bearer <token>`.
                Resolved::Malformed(Channel::Bearer, Malformed::NotBearer)
            }
            Via::Header(_) => Resolved::None,
            Via::Cookie(name) => {
                let session = policy.session.cookies.iter().position(|c| c == name);
                let key = key_header.eq_ignore_ascii_case("cookie");
                match session {
                    Some(i) if !key || !key_first(Candidate::Cookie) => {
                        Resolved::Token(CredentialKind::Session, Channel::Cookie(i))
                    }
                    _ if key => Resolved::Unmatched(Channel::ApiKeyHeader),
                    _ => Resolved::None,
                }
            }
            Via::Bearer
                if key_header.eq_ignore_ascii_case("authorization")
                    && key_first(Candidate::Authorization) =>
            {
                // The whole value `Bearer <token>` has a space.
                Resolved::Malformed(Channel::ApiKeyHeader, Malformed::InvalidToken)
            }
            Via::Bearer => {
                if policy.api_key_prefix(self.known_prefix).is_some() {
                    if policy.api_key.bearer {
                        Resolved::Token(CredentialKind::ApiKey, Channel::Bearer)
                    } else {
                        Resolved::Malformed(Channel::Bearer, Malformed::BearerApiKeyRefused)
                    }
                } else if policy.session.bearer {
                    Resolved::Token(CredentialKind::Session, Channel::Bearer)
                } else {
                    Resolved::Malformed(Channel::Bearer, Malformed::BearerSessionRefused)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load, Headers, Request, Timestamp};

    const KEY: &str = "sk_live_k1/+=";
    const LEGACY: &str = "sk_live_legacy";
    const SESSION: &str = "ses/tok=1";

    fn state() -> crate::State {
        let json = format!(
            r#"{{
  "tenants": [{{"id": "acme"}}, {{"id": "globex"}}],
  "users": [{{"id": "alice"}}],
  "memberships": [{{"user": "alice", "tenant": "acme", "role": "owner"}},
                  {{"user": "alice", "tenant": "globex", "role": "member", "since": "2026-02-01T00:00:00Z"}}],
  "api_keys": [
    {{"id": "k1", "owner": "alice", "tenant": "acme", "token_sha256": "{}", "prefix": "sk_live_",
      "created_at": "2026-01-01T00:00:00Z"}},
    {{"id": "k2", "owner": "alice", "tenant": null, "token_sha256": "{}", "prefix": "sk_live_",
      "created_at": "2026-01-01T00:00:00Z"}}],
  "sessions": [{{"id": "s1", "user": "alice", "tenant": "globex", "token_sha256": "{}",
      "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"}}]
}}"#,
            TokenHash::of(KEY),
            TokenHash::of(LEGACY),
            TokenHash::of(SESSION)
        );
        load::snapshot(json.as_bytes(), "s.json").unwrap()
    }

    fn policies() -> Vec<Policy> {
        let mut out = vec![Policy::default()];
        let mut p = Policy::default();
        p.api_key.bearer = false;
        p.session.bearer = false;
        p.api_key.unbound = crate::Unbound::OldestMembership;
        out.push(p);
        let mut p = Policy::default();
        p.session.cookies = vec!["sid".into()];
        p.api_key.header = "X-Key".into();
        p.api_key.prefixes = vec!["pk_".into()];
        out.push(p);
        for header in ["cookie", "authorization"] {
            for order in [
                crate::Candidate::DEFAULT_ORDER,
                [
                    crate::Candidate::Authorization,
                    crate::Candidate::Cookie,
                    crate::Candidate::ApiKeyHeader,
                ],
            ] {
                let mut p = Policy::default();
                p.api_key.header = header.into();
                p.credentials.order = order.to_vec();
                out.push(p.clone());
                p.credentials.multiple = crate::Multiple::Deny;
                out.push(p);
            }
        }
        let mut p = Policy::default();
        p.credentials.order = vec![
            crate::Candidate::Authorization,
            crate::Candidate::Cookie,
            crate::Candidate::ApiKeyHeader,
        ];
        out.push(p);
        out
    }

    /// `decide_presented` gives what `decide` gives for the real header,
    /// explanation included (except where the token is not what is looked
    /// up, where only the outcome can agree).
    #[test]
    fn presented_decides_like_the_real_header() {
        let st = state();
        let vias = [
            Via::Header("x-api-key"),
            Via::Header("X-Key"),
            Via::Header("authorization"),
            Via::Header("other"),
            Via::Cookie("better-auth.session_token"),
            Via::Cookie("sid"),
            Via::Cookie("nope"),
            Via::Bearer,
        ];
        let mut checked = 0;
        for policy in policies() {
            for (token, prefix) in [(KEY, "sk_live_"), (LEGACY, "sk_live_"), (SESSION, "")] {
                for via in vias {
                    let headers = match via {
                        Via::Header(n) => Headers::new([(n.to_string(), token.to_string())]),
                        Via::Cookie(n) => Headers::new([("cookie", format!("{n}={token}"))]),
                        Via::Bearer => Headers::new([("authorization", format!("Bearer {token}"))]),
                    }
                    .unwrap();
                    for action in [
                        "workspace.read",
                        "session.read",
                        "nope",
                        "supervisor.connect",
                    ] {
                        for tenant in [None, Some("acme"), Some("globex"), Some("zzz")] {
                            let mut req = Request {
                                at: Timestamp::parse("2026-05-28T12:00:00Z").unwrap(),
                                action: action.into(),
                                headers: Headers::default(),
                                tenant: tenant.map(|t| crate::Id::new(t).unwrap()),
                                resource: None,
                            };
                            let presented = Presented {
                                via,
                                token: TokenHash::of(token),
                                known_prefix: prefix,
                            };
                            let by_hash = st.decide_presented(&policy, &req, &presented);
                            req.headers = headers.clone();
                            let real = st.decide(&policy, &req);
                            let without_explain = |d: &crate::Decision| crate::Decision {
                                explain: Default::default(),
                                ..d.clone()
                            };
                            assert_eq!(
                                without_explain(&by_hash),
                                without_explain(&real),
                                "{via:?} {action} {tenant:?}"
                            );
                            if !matches!(presented.resolve(&policy), Resolved::Unmatched(_)) {
                                assert_eq!(by_hash.explain_lines(), real.explain_lines());
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 1000);
    }
}
