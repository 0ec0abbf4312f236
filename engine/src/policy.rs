//! The policy (SPEC §3): which credentials are accepted where, and what each
//! action requires.
//!
//! Every field has a default and the empty file is the default policy. Tables
//! merge field by field over the defaults (that is what `#[serde(default)]` on
//! each field gives), except `actions`, which replaces the default actions as
//! a whole when present, so a policy file states every action it allows. An
//! unknown key anywhere is an input error: a typo in an auth policy must not
//! silently fall back to a default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{error::ErrorKind, signed::CookieSecret, Duration, Error};

/// The default policy, as shipped in `policies/default.toml`.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../policies/default.toml");

/// A whole policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default = "version_one", deserialize_with = "de_version")]
    pub version: u32,
    #[serde(default)]
    pub session: SessionPolicy,
    #[serde(default)]
    pub api_key: ApiKeyPolicy,
    #[serde(default)]
    pub credentials: CredentialsPolicy,
    #[serde(default = "default_actions")]
    pub actions: BTreeMap<String, ActionRule>,
    /// The secret that signs session tokens under `session.cookie_format =
    /// "signed"` (SPEC §5.1). Never part of a policy file or of any output:
    /// a runtime value the caller sets (the CLI reads it from the
    /// environment or a file, [`crate::signed::cookie_secret`]). `None`: the
    /// signature of a signed token is not verified.
    #[serde(skip)]
    pub cookie_secret: Option<CookieSecret>,
}

fn version_one() -> u32 {
    1
}

fn de_version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if v == 1 {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(
            "unsupported policy version (expected 1)",
        ))
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: 1,
            session: SessionPolicy::default(),
            api_key: ApiKeyPolicy::default(),
            credentials: CredentialsPolicy::default(),
            actions: default_actions(),
            cookie_secret: None,
        }
    }
}

/// `[session]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields, default)]
pub struct SessionPolicy {
    /// Lifetime given at login and by each sliding refresh.
    pub ttl: Duration,
    /// Whether an allowed request may extend the session.
    pub sliding: bool,
    /// Extend only when `expires_at - ttl + refresh_after <= at`.
    pub refresh_after: Duration,
    /// Never extend past `created_at + absolute_max`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absolute_max: Option<Duration>,
    /// Session cookie names, looked up in this order.
    pub cookies: Vec<String>,
    /// Accept a session token as `Authorization: Bearer`.
    pub bearer: bool,
    /// How a session token is presented (SPEC §5.1): verbatim, or signed
    /// the way better-auth signs it. Omitted from output when `plain`.
    #[serde(skip_serializing_if = "CookieFormat::is_plain")]
    pub cookie_format: CookieFormat,
}

/// `session.cookie_format` (SPEC §5.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CookieFormat {
    /// The cookie value (and a Bearer session token) is the token, verbatim.
    #[default]
    Plain,
    /// The cookie value is `percent-encode(token "." base64(HMAC-SHA256(secret,
    /// token)))`; a Bearer session token is that value (encoded or not) or
    /// the raw token.
    Signed,
}

impl CookieFormat {
    /// Whether this is the default, `plain`.
    pub fn is_plain(&self) -> bool {
        *self == CookieFormat::Plain
    }

    /// The spelling used in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            CookieFormat::Plain => "plain",
            CookieFormat::Signed => "signed",
        }
    }
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            ttl: Duration::from_secs(30 * 86_400).expect("in range"),
            sliding: true,
            refresh_after: Duration::from_secs(86_400).expect("in range"),
            absolute_max: None,
            cookies: vec![
                "__Secure-better-auth.session_token".into(),
                "better-auth.session_token".into(),
                "__Host-better-auth.session_token".into(),
            ],
            bearer: true,
            cookie_format: CookieFormat::Plain,
        }
    }
}

/// `[api_key]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeyPolicy {
    /// Header carrying an API key (matched case-insensitively).
    pub header: String,
    /// A Bearer token starting with one of these is an API key.
    pub prefixes: Vec<String>,
    /// Accept `Authorization: Bearer <token with a prefix above>`.
    pub bearer: bool,
    /// What a legacy key (tenant null) does.
    pub unbound: Unbound,
    /// What `capabilities = []` means.
    pub empty_capabilities: EmptyCapabilities,
}

impl Default for ApiKeyPolicy {
    fn default() -> Self {
        ApiKeyPolicy {
            header: "x-api-key".into(),
            prefixes: vec!["sk_live_".into()],
            bearer: true,
            unbound: Unbound::Deny,
            empty_capabilities: EmptyCapabilities::All,
        }
    }
}

/// `api_key.unbound`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unbound {
    /// A legacy key is denied `api_key_unbound`.
    Deny,
    /// A legacy key acts in its owner's oldest membership.
    OldestMembership,
}

/// `api_key.empty_capabilities`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EmptyCapabilities {
    All,
    None,
}

/// `[credentials]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields, default)]
pub struct CredentialsPolicy {
    pub multiple: Multiple,
    /// The order in which the three candidates are looked at (SPEC §5):
    /// each of them exactly once. Omitted from output when it is the
    /// default order.
    #[serde(skip_serializing_if = "is_default_order")]
    pub order: Vec<Candidate>,
}

impl Default for CredentialsPolicy {
    fn default() -> Self {
        CredentialsPolicy {
            multiple: Multiple::First,
            order: Candidate::DEFAULT_ORDER.to_vec(),
        }
    }
}

fn is_default_order(order: &[Candidate]) -> bool {
    order == Candidate::DEFAULT_ORDER
}

/// One of the three credential candidates of SPEC §5, as
/// `credentials.order` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Candidate {
    /// The API-key header (`api_key.header`).
    ApiKeyHeader,
    /// The session cookie (`session.cookies`).
    Cookie,
    /// `Authorization`.
    Authorization,
}

impl Candidate {
    /// The default order: API-key header, cookie, `Authorization`.
    pub const DEFAULT_ORDER: [Candidate; 3] = [
        Candidate::ApiKeyHeader,
        Candidate::Cookie,
        Candidate::Authorization,
    ];

    /// The spelling used in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Candidate::ApiKeyHeader => "api_key_header",
            Candidate::Cookie => "cookie",
            Candidate::Authorization => "authorization",
        }
    }
}

/// `credentials.multiple`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Multiple {
    /// Use the first present candidate, in SPEC §5 order.
    #[default]
    First,
    /// Deny `ambiguous_credential` when two or more are present.
    Deny,
}

/// The kind of a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Session,
    ApiKey,
}

impl CredentialKind {
    /// The spelling used in JSON and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::ApiKey => "api_key",
        }
    }
}

/// `tenant = "required" | "optional"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TenantRule {
    #[default]
    Required,
    Optional,
}

/// One `[actions."name"]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields, default)]
pub struct ActionRule {
    pub credentials: Vec<CredentialKind>,
    pub tenant: TenantRule,
    pub roles: Vec<String>,
    pub capability: String,
    pub resource: bool,
    pub owner_only: bool,
}

impl Default for ActionRule {
    fn default() -> Self {
        ActionRule {
            credentials: vec![CredentialKind::Session, CredentialKind::ApiKey],
            tenant: TenantRule::Required,
            roles: Vec::new(),
            capability: String::new(),
            resource: false,
            owner_only: false,
        }
    }
}

impl ActionRule {
    /// Whether this credential kind may perform the action.
    pub fn allows(&self, kind: CredentialKind) -> bool {
        self.credentials.contains(&kind)
    }
}

/// The default policy's actions (SPEC §3).
pub fn default_actions() -> BTreeMap<String, ActionRule> {
    let any = ActionRule::default;
    let sessions_only = || ActionRule {
        credentials: vec![CredentialKind::Session],
        ..any()
    };
    BTreeMap::from([
        (
            "session.read".into(),
            ActionRule {
                tenant: TenantRule::Optional,
                ..any()
            },
        ),
        (
            "token.mint".into(),
            ActionRule {
                tenant: TenantRule::Optional,
                ..any()
            },
        ),
        ("workspace.read".into(), any()),
        ("workspace.create".into(), any()),
        (
            "member.remove".into(),
            ActionRule {
                roles: vec!["owner".into(), "admin".into()],
                ..sessions_only()
            },
        ),
        ("api_key.create".into(), sessions_only()),
        (
            "supervisor.connect".into(),
            ActionRule {
                credentials: vec![CredentialKind::ApiKey],
                capability: "supervisor".into(),
                ..any()
            },
        ),
        (
            "conversation.resume".into(),
            ActionRule {
                resource: true,
                owner_only: true,
                ..any()
            },
        ),
    ])
}

/// True for an HTTP token (RFC 9110 `token`: one or more `tchar`), the
/// syntax of a header name and of a cookie name (RFC 6265 `cookie-name`).
pub fn is_http_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

impl Policy {
    /// Refuses values that load but can never work (docs/INPUTS.md): a
    /// cookie name that no `cookie` header can carry, an API-key header
    /// that is no header name or is one of the other credential channels,
    /// an API-key prefix that is empty (every Bearer token would be an API
    /// key) or holds characters no token has, a session lifetime of zero.
    /// The message never quotes the value; the error's
    /// [`path`](Error::path) is the key without a root
    /// (`session.cookies[1]`).
    pub fn validate(&self) -> Result<(), Error> {
        let err =
            |key: String, message| Err(Error::new(ErrorKind::PolicyValue(message)).with_path(key));
        if self.session.ttl.secs() == 0 {
            return err(
                "session.ttl".into(),
                "must be longer than 0s: every session would expire when it is created",
            );
        }
        for (i, c) in self.session.cookies.iter().enumerate() {
            if !is_http_token(c) {
                return err(
                    format!("session.cookies[{i}]"),
                    "not a cookie name: must be non-empty, without `;`, `=`, `,`, quotes, whitespace or control characters (an HTTP token)",
                );
            }
        }
        let header = &self.api_key.header;
        if !is_http_token(header) {
            return err(
                "api_key.header".into(),
                "not a header name: must be non-empty, without `:`, whitespace, separators or control characters (an HTTP token)",
            );
        }
        if header.eq_ignore_ascii_case("cookie") || header.eq_ignore_ascii_case("authorization") {
            return err(
                "api_key.header".into(),
                "must not be `cookie` or `authorization`: those headers are the session cookie and Bearer channels",
            );
        }
        let order = &self.credentials.order;
        if order.len() != 3 || Candidate::DEFAULT_ORDER.iter().any(|c| !order.contains(c)) {
            return err(
                "credentials.order".into(),
                "must name each of \"api_key_header\", \"cookie\" and \"authorization\" exactly once",
            );
        }
        for (i, p) in self.api_key.prefixes.iter().enumerate() {
            if !crate::is_valid_token(p) {
                return err(
                    format!("api_key.prefixes[{i}]"),
                    "not a token prefix: must be non-empty visible ASCII without `\"`, `,`, `;` or `\\` (an empty prefix would make every Bearer token an API key)",
                );
            }
        }
        Ok(())
    }

    /// The rule of `action`: `self.actions.get(action)`, found faster in a
    /// small map. Every decision looks its action up first; the map's
    /// ordered search calls `memcmp` once per key it passes (eight for
    /// `workspace.read` in the default policy: ≈ 350 instructions, more
    /// than the rest of an early deny). Up to [`Policy::SCAN_ACTIONS`]
    /// actions are scanned in order instead, comparing lengths before
    /// bytes, and the bytes inline (a `memcmp` call per key of the same
    /// length cost more than the comparison); a larger map is searched as
    /// before. Keys are unique, so both find the same rule.
    pub(crate) fn rule(&self, action: &str) -> Option<&ActionRule> {
        if self.actions.len() <= Policy::SCAN_ACTIONS {
            self.actions
                .iter()
                .find(|(k, _)| crate::credential::same_bytes(k.as_bytes(), action.as_bytes()))
                .map(|(_, r)| r)
        } else {
            self.actions.get(action)
        }
    }

    /// Up to this many actions, [`Policy::rule`] scans rather than searches.
    pub(crate) const SCAN_ACTIONS: usize = 16;

    /// Whether `token` starts with one of the configured API-key prefixes.
    pub fn api_key_prefix(&self, token: &str) -> Option<&str> {
        self.api_key
            .prefixes
            .iter()
            .find(|p| !p.is_empty() && token.starts_with(p.as_str()))
            .map(String::as_str)
    }

    /// The candidates in the order extraction looks at them: each of the
    /// three once. `credentials.order` as given, for a policy that passed
    /// [`Policy::validate`]; a policy built in code with a repeated or
    /// missing candidate is read with repeats dropped and the missing ones
    /// appended in the default order.
    pub fn credential_order(&self) -> [Candidate; 3] {
        let mut out = Candidate::DEFAULT_ORDER;
        let mut n = 0;
        for c in self
            .credentials
            .order
            .iter()
            .chain(Candidate::DEFAULT_ORDER.iter())
        {
            if !out[..n].contains(c) {
                out[n] = *c;
                n += 1;
            }
        }
        out
    }

    /// The same policy with `secret` as its cookie secret (SPEC §5.1).
    pub fn with_cookie_secret(mut self, secret: Option<CookieSecret>) -> Policy {
        self.cookie_secret = secret;
        self
    }

    /// The policy as TOML, in the shape of `policies/default.toml`.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a policy always serializes to TOML")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_is_the_default() {
        let p: Policy = toml::from_str(DEFAULT_POLICY_TOML).unwrap();
        assert_eq!(p, Policy::default());
        let empty: Policy = toml::from_str("").unwrap();
        assert_eq!(empty, Policy::default());
    }

    /// The scan of a small map and the search of a large one find what
    /// `get` finds, for every key, a prefix, an extension, a same-length
    /// neighbour and an empty name.
    #[test]
    fn rule_is_get() {
        for n in [
            0,
            1,
            2,
            8,
            Policy::SCAN_ACTIONS,
            Policy::SCAN_ACTIONS + 1,
            40,
        ] {
            let p = Policy {
                actions: (0..n)
                    .map(|i| {
                        let rule = ActionRule {
                            owner_only: i % 2 == 0,
                            roles: vec![format!("r{i}")],
                            ..ActionRule::default()
                        };
                        (format!("act.{i:03}"), rule)
                    })
                    .collect(),
                ..Policy::default()
            };
            let mut names: Vec<String> = p.actions.keys().cloned().collect();
            names.extend(["act.0", "act.0000", "act.999", "", "bct.000"].map(String::from));
            for name in &names {
                assert_eq!(p.rule(name), p.actions.get(name), "{name:?} of {n}");
            }
        }
    }

    #[test]
    fn tables_merge_and_actions_replace() {
        let p: Policy = toml::from_str(
            "[session]\nttl = \"1h\"\n[actions.\"x.y\"]\ncredentials = [\"api_key\"]\n",
        )
        .unwrap();
        assert_eq!(p.session.ttl.secs(), 3600);
        assert!(p.session.sliding, "other session fields keep defaults");
        assert_eq!(p.actions.len(), 1);
        assert_eq!(p.actions["x.y"].credentials, vec![CredentialKind::ApiKey]);
        assert_eq!(p.actions["x.y"].tenant, TenantRule::Required);
    }

    #[test]
    fn toml_round_trip() {
        let p = Policy {
            session: SessionPolicy {
                absolute_max: Some(Duration::from_secs(90 * 86_400).unwrap()),
                ..SessionPolicy::default()
            },
            ..Policy::default()
        };
        let back: Policy = toml::from_str(&p.to_toml()).unwrap();
        assert_eq!(back, p);
    }
}

crate::load::objects_only!(
    Policy,
    SessionPolicy,
    ApiKeyPolicy,
    CredentialsPolicy,
    ActionRule
);
