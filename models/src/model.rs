//! The reference model: SPEC §5–§8 written down a second time, for obviousness.
//!
//! The engine is the implementation people run; this is the one the engine is
//! checked against. It shares only the plain serde data types with the engine,
//! never its logic: the state is six `Vec`s in snapshot order, every lookup is
//! a linear scan, and each function follows the spec's numbered steps in
//! order, citing them. When engine and model disagree, one of them misread the
//! spec, and two independent readings rarely make the same mistake.
//!
//! Choices the first spec left open are written into `docs/SPEC.md`; the comments
//! say which ones. Nothing here is tuned for speed but one memo: the SHA-256
//! of each token presented ([`Hashes`]), a pure function remembered per
//! model so that the explorer does not hash the same five tokens on every
//! decision it judges.

use std::{borrow::Cow, sync::Arc};

use authproof_engine::snapshot::{ApiKey, Diff, Membership, Resource, Session, Tenant, User};
use authproof_engine::{
    ActionRule, Candidate, Change, Command, CommandResult, CookieFormat, CredentialKind,
    CredentialRef, Decision, Duration, Effect, EmptyCapabilities, Id, Multiple, Op, Policy, Reason,
    RecordRef, Rejection, Request, Snapshot, TenantRule, Timestamp, TokenHash, Unbound, Verdict,
};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

/// The SHA-256 of a token's exact bytes (SPEC §1), by the `sha2` crate's
/// own `Digest` (its padding, its length encoding), not by the engine's
/// `TokenHash::of`: the engine pads the message by hand and calls the
/// compression function itself, and were the model to call it too, a wrong
/// hash would be the same wrong hash on both sides of every comparison
/// (docs/VERIFICATION.md §2, "Changed code since 9773865"). Only the
/// engine's hex parser is shared, to build the engine's type.
fn token_hash(token: &str) -> TokenHash {
    use sha2::{Digest, Sha256};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(token.as_bytes());
    // On the stack: this runs on every decision the model makes.
    let mut hex = [0u8; 64];
    for (pair, b) in hex.chunks_exact_mut(2).zip(digest.iter()) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
    let hex = std::str::from_utf8(&hex).expect("hex digits are ASCII");
    TokenHash::from_hex(hex).expect("64 lowercase hex characters")
}

/// The reference model: a policy and the state as plain vectors.
#[derive(Debug)]
pub struct Model {
    /// Shared: a model is cloned per explored transition, its policy never
    /// changes.
    policy: Arc<Policy>,
    /// The state, kept as the snapshot it is: the vectors are the model's
    /// tables, and the caller reads the state without a copy.
    snap: Snapshot,
    /// Tokens already hashed, with their hashes.
    hashes: Hashes,
}

/// The hashes of the last tokens a model presented to [`token_hash`].
///
/// A token's hash is a function of its bytes alone, so remembering it
/// changes no decision: a model answers as a fresh one would. Bounded (a
/// fuzzer presents a new token on every run): at [`Hashes::CAPACITY`]
/// entries it is emptied. Not copied by `clone`: it is a cache, not state,
/// and an explorer clones a node's model for every command. A linear scan:
/// a universe presents a handful of tokens, shorter than a cache line each.
///
/// Rejected: a table in the caller keyed by token (the model would then
/// take hashes from the code it checks); a thread-local (hidden state that
/// outlives the model).
#[derive(Debug, Default)]
struct Hashes(std::cell::RefCell<Vec<(Box<str>, TokenHash)>>);

impl Hashes {
    const CAPACITY: usize = 16;

    fn of(&self, token: &str) -> TokenHash {
        let mut memo = self.0.borrow_mut();
        if let Some((_, hash)) = memo.iter().find(|(t, _)| **t == *token) {
            return *hash;
        }
        let hash = token_hash(token);
        if memo.len() >= Self::CAPACITY {
            memo.clear();
        }
        memo.push((token.into(), hash));
        hash
    }
}

/// Written out for `clone_from`, which copies into the existing vectors
/// (explore copies a node's model into one per worker for each command).
impl Clone for Model {
    fn clone(&self) -> Self {
        Model {
            policy: Arc::clone(&self.policy),
            snap: self.snap.clone(),
            hashes: Hashes::default(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        if !Arc::ptr_eq(&self.policy, &source.policy) {
            self.policy = Arc::clone(&source.policy);
        }
        self.snap.clone_from(&source.snap);
    }
}

impl Model {
    /// A model of `snapshot` under `policy`.
    ///
    /// `snapshot` must pass SPEC §2's integrity rules; `new` does not check
    /// them. The model's own reading of those rules is
    /// [`integrity::check`](crate::integrity::check), which the verification
    /// holds the engine's load to (`authproof_verification::integrity`).
    pub fn new(snapshot: &Snapshot, policy: &Policy) -> Model {
        Model::shared(snapshot, Arc::new(policy.clone()))
    }

    /// [`Model::new`] under a policy the caller shares rather than one the
    /// model copies: a policy is dozens of allocations, and a caller that
    /// starts a model per run (a fuzz target, tens of thousands a second)
    /// hands over the one it built.
    pub fn shared(snapshot: &Snapshot, policy: Arc<Policy>) -> Model {
        Model {
            policy,
            snap: snapshot.clone(),
            hashes: Hashes::default(),
        }
    }

    /// Puts the model in state `snapshot`, under the same policy: a caller
    /// that runs the model from many states (the explorer, one per node)
    /// copies each into the vectors already there and shares the policy,
    /// where [`Model::new`] copies the policy too.
    pub fn reset(&mut self, snapshot: &Snapshot) {
        self.snap.clone_from(snapshot);
    }

    /// Puts the model back in state `to`, where its state differs from
    /// `to` as `diff` says ([`Snapshot::revert`]): the undo of a command
    /// for the explorer, which runs many on one state.
    pub fn revert(&mut self, to: &Snapshot, diff: &Diff) {
        self.snap.revert(to, diff);
    }

    /// The policy the model decides under.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The current state. Record order is SPEC §8: input order,
    /// created records appended, removed records deleted in place.
    pub fn snapshot(&self) -> Snapshot {
        self.snap.clone()
    }

    /// The current state, borrowed.
    pub fn state(&self) -> &Snapshot {
        &self.snap
    }

    /// The model's state as a snapshot, without copying it: for a model
    /// made for one step.
    pub fn into_snapshot(self) -> Snapshot {
        self.snap
    }
}

// ---------------------------------------------------------------------------
// Small helpers. Each one is a sentence of the spec.

/// SPEC §2: `revoked_at`, `deleted_at`, `expires_at` take effect when `<= at`.
fn in_effect(t: Option<Timestamp>, at: Timestamp) -> bool {
    match t {
        Some(t) => t <= at,
        None => false,
    }
}

/// SPEC §1: a token is non-empty visible ASCII `0x21..=0x7E` except `"`, `,`,
/// `;` and `\`.
fn token_ok(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    for b in s.bytes() {
        if !(0x21..=0x7E).contains(&b) {
            return false;
        }
        if b == b'"' || b == b',' || b == b';' || b == b'\\' {
            return false;
        }
    }
    true
}

/// The first configured API-key prefix `token` starts with (policy order).
///
/// An empty prefix is ignored: it would turn every Bearer token into an API
/// key, which no policy author means.
fn key_prefix<'p>(policy: &'p Policy, token: &str) -> Option<&'p str> {
    for p in &policy.api_key.prefixes {
        if !p.is_empty() && token.starts_with(p.as_str()) {
            return Some(p.as_str());
        }
    }
    None
}

/// `t + d`, saturating at the end of year 9999 (SPEC §1).
fn plus(t: Timestamp, d: Duration) -> Timestamp {
    let secs = t.unix() + d.secs();
    Timestamp::from_unix(secs).unwrap_or(Timestamp::MAX)
}

/// The SPEC §6 status table, written out independently of the engine.
pub fn status_of(reason: Reason) -> u16 {
    match reason {
        Reason::NoCredential => 401,
        Reason::MalformedCredential => 401,
        Reason::AmbiguousCredential => 401,
        Reason::SessionNotFound => 401,
        Reason::SessionRevoked => 401,
        Reason::SessionExpired => 401,
        Reason::ApiKeyNotFound => 401,
        Reason::ApiKeyDeleted => 401,
        Reason::ApiKeyRevoked => 401,
        Reason::ApiKeyDisabled => 401,
        Reason::ApiKeyExpired => 401,
        Reason::UserBanned => 403,
        Reason::CredentialNotAllowed => 403,
        Reason::ApiKeyUnbound => 403,
        Reason::CrossTenant => 403,
        Reason::TenantRequired => 403,
        Reason::NotAMember => 403,
        Reason::TenantSuspended => 403,
        Reason::InsufficientRole => 403,
        Reason::MissingCapability => 403,
        Reason::ResourceNotFound => 404,
        Reason::NotResourceOwner => 403,
        Reason::UnknownAction => 403,
    }
}

/// What SPEC §5 extraction found. Tokens borrow from the request where
/// they are its bytes (only a signed cookie's is decoded into a new string).
enum Extracted<'r> {
    /// No candidate present.
    Nothing,
    /// `credentials.multiple = "deny"` and two or more present.
    Ambiguous,
    /// The first present candidate is unusable.
    Malformed,
    /// A usable token and the kind of record to look it up in.
    Token(CredentialKind, Cow<'r, str>),
}

/// The three SPEC §5 candidates, with the value each carries.
enum Present<'r> {
    ApiKeyHeader(&'r str),
    Cookie(&'r str),
    Authorization(&'r str),
}

/// SPEC §5: the order the candidates are looked at. `credentials.order`
/// names each once (a loaded policy is checked); for a policy built in code
/// a repeat is skipped and a missing candidate comes after the named ones,
/// in the default order (API-key header, cookie, Authorization).
fn candidate_order(policy: &Policy) -> [Candidate; 3] {
    let defaults = [
        Candidate::ApiKeyHeader,
        Candidate::Cookie,
        Candidate::Authorization,
    ];
    let mut order = defaults;
    let mut n = 0;
    for c in policy.credentials.order.iter().chain(defaults.iter()) {
        if !order[..n].contains(c) {
            order[n] = *c;
            n += 1;
        }
    }
    order
}

/// SPEC §5 step 2: the session cookie's value, if one of `session.cookies`
/// occurs in the `cookie` header.
fn session_cookie<'r>(policy: &Policy, cookie_header: &'r str) -> Option<&'r str> {
    // Split on `;`, trim spaces (U+0020 only, SPEC §5), split at the first
    // `=`, skip pairs without one.
    let pairs = || {
        cookie_header
            .split(';')
            .filter_map(|raw| raw.trim_matches(' ').split_once('='))
    };
    // The first name in `session.cookies` order that occurs wins; of several
    // pairs with that name the first is used (SPEC). Names match exactly.
    for name in &policy.session.cookies {
        for (n, v) in pairs() {
            if n == name.as_str() {
                return Some(unquote(v));
            }
        }
    }
    None
}

/// One pair of surrounding double quotes is removed, only when the value is
/// at least two characters long and both starts and ends with `"`.
fn unquote(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// SPEC §5, the whole of it (§5.1 for signed session tokens).
fn extract<'r>(policy: &Policy, req: &'r Request) -> Extracted<'r> {
    // The present candidates, in order: how many, and the first.
    let mut present = candidate_order(policy)
        .into_iter()
        .filter_map(|candidate| match candidate {
            // API-key header: present when the header exists (even empty).
            Candidate::ApiKeyHeader => req
                .headers
                .get(&policy.api_key.header)
                .map(Present::ApiKeyHeader),
            // Session cookie: present when one of the names occurs.
            Candidate::Cookie => req
                .headers
                .get("cookie")
                .and_then(|cookies| session_cookie(policy, cookies))
                .map(Present::Cookie),
            // Authorization: present when the header exists.
            Candidate::Authorization => {
                req.headers.get("authorization").map(Present::Authorization)
            }
        });

    let Some(first) = present.next() else {
        return Extracted::Nothing;
    };
    if policy.credentials.multiple == Multiple::Deny && present.next().is_some() {
        return Extracted::Ambiguous;
    }
    // The first present candidate (in the policy's order) is the
    // credential; no fallback.
    match first {
        Present::ApiKeyHeader(v) => {
            // The header makes it an API key; no prefix needed (SPEC).
            if token_ok(v) {
                Extracted::Token(CredentialKind::ApiKey, v.into())
            } else {
                Extracted::Malformed
            }
        }
        Present::Cookie(v) => {
            if !token_ok(v) {
                return Extracted::Malformed;
            }
            session_token(policy, v, false)
        }
        Present::Authorization(v) => {
            // The scheme is everything before the first space; no space is
            // malformed (SPEC).
            let Some(space) = v.find(' ') else {
                return Extracted::Malformed;
            };
            let scheme = &v[..space];
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Extracted::Malformed;
            }
            // One or more spaces, then the token, trailing spaces trimmed.
            let token = v[space..].trim_start_matches(' ').trim_end_matches(' ');
            if !token_ok(token) {
                return Extracted::Malformed;
            }
            if key_prefix(policy, token).is_some() {
                if !policy.api_key.bearer {
                    return Extracted::Malformed;
                }
                Extracted::Token(CredentialKind::ApiKey, token.into())
            } else {
                if !policy.session.bearer {
                    return Extracted::Malformed;
                }
                session_token(policy, token, true)
            }
        }
    }
}

/// A session token as presented (already a valid token), under the
/// policy's `session.cookie_format` (SPEC §5.1).
fn session_token<'r>(policy: &Policy, value: &'r str, from_bearer: bool) -> Extracted<'r> {
    if policy.session.cookie_format == CookieFormat::Plain {
        return Extracted::Token(CredentialKind::Session, value.into());
    }
    // Signed. A Bearer value without a `.` is the raw token.
    if from_bearer && !value.contains('.') {
        return Extracted::Token(CredentialKind::Session, value.into());
    }
    // Percent-decode once; the result must still be a valid token.
    let Some(decoded) = percent_decoded(value) else {
        return Extracted::Malformed;
    };
    if !token_ok(&decoded) {
        return Extracted::Malformed;
    }
    // Split at the last `.`, with at least one character before it.
    let Some(dot) = decoded.rfind('.') else {
        return Extracted::Malformed;
    };
    if dot == 0 {
        return Extracted::Malformed;
    }
    let token = &decoded[..dot];
    let signature = &decoded[dot + 1..];
    // 43 characters of the standard base64 alphabet, then `=`.
    let Some(given) = signature_bytes(signature) else {
        return Extracted::Malformed;
    };
    // Verified only when a secret is given.
    if let Some(secret) = &policy.cookie_secret {
        let mut mac = Hmac::<sha2_hmac::Sha256>::new_from_slice(secret.expose())
            .expect("HMAC keys may have any length");
        mac.update(token.as_bytes());
        let expected: Vec<u8> = mac.finalize().into_bytes().to_vec();
        // A plain comparison: the model is never in a request path, so
        // timing does not matter here (the engine compares in constant time).
        if expected != given {
            return Extracted::Malformed;
        }
    }
    Extracted::Token(CredentialKind::Session, token.to_string().into())
}

/// `%HH` (hex digits of either case) becomes the byte `HH`; a `%` without
/// two hex digits after it, or a result that is not UTF-8, is `None`.
fn percent_decoded(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        // Two characters must follow the `%`.
        if i + 2 >= bytes.len() {
            return None;
        }
        let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        out.push(u8::from_str_radix(hex, 16).ok()?);
        i += 3;
    }
    String::from_utf8(out).ok()
}

/// The 32 bytes a signature stands for: exactly 44 characters, the first 43
/// from `A-Z a-z 0-9 + /`, the last `=`. The two bits the 43rd character
/// carries past the 256th are ignored (as `atob` ignores them).
fn signature_bytes(sig: &str) -> Option<Vec<u8>> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let chars: Vec<char> = sig.chars().collect();
    if chars.len() != 44 || chars[43] != '=' {
        return None;
    }
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in &chars[..43] {
        let v = ALPHABET.find(*c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// Decisions (SPEC §6, §7).

/// A decision under construction: the SPEC §7 fields known so far.
struct Draft<'r> {
    req: &'r Request,
    user: Option<Id>,
    credential: Option<CredentialRef>,
    tenant: Option<Id>,
    explain: Vec<String>,
}

impl Draft<'_> {
    fn deny(self, reason: Reason) -> Decision {
        let mut explain = self.explain;
        // Joined, not `format!`ted: the explorer's model decides on nearly
        // every transition, and the formatting machinery was a tenth of it.
        explain.push(["deny: ", reason.code()].concat());
        Decision {
            decision: Verdict::Deny,
            reason: Some(reason),
            status: status_of(reason),
            action: self.req.action.as_str().into(),
            user: self.user,
            credential: self.credential,
            tenant: self.tenant,
            scope: Default::default(),
            effects: Default::default(),
            explain: explain.into(),
        }
    }
}

impl Model {
    fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.snap.tenants.iter().find(|t| t.id.as_str() == id)
    }

    fn user(&self, id: &str) -> Option<&User> {
        self.snap.users.iter().find(|u| u.id.as_str() == id)
    }

    fn user_banned(&self, id: &str) -> bool {
        match self.user(id) {
            Some(u) => u.banned,
            None => false,
        }
    }

    /// The membership of `user` in `tenant` that exists at `at`.
    fn membership_at(&self, user: &str, tenant: &str, at: Timestamp) -> Option<&Membership> {
        self.snap
            .memberships
            .iter()
            .find(|m| m.user.as_str() == user && m.tenant.as_str() == tenant && m.since <= at)
    }

    /// Decides `req` (SPEC §6), reporting but not applying effects.
    pub fn decide(&self, req: &Request) -> Decision {
        let at = req.at;
        let mut d = Draft {
            req,
            user: None,
            credential: None,
            tenant: None,
            // A decision explains itself in two to four lines: sized once.
            explain: Vec::with_capacity(4),
        };

        // 0. The action is not in the policy.
        let Some(rule) = self.policy.actions.get(&req.action) else {
            return d.deny(Reason::UnknownAction);
        };
        let rule: &ActionRule = rule;

        // 1. Extraction (§5).
        let (kind, token) = match extract(&self.policy, req) {
            Extracted::Nothing => return d.deny(Reason::NoCredential),
            Extracted::Ambiguous => return d.deny(Reason::AmbiguousCredential),
            Extracted::Malformed => return d.deny(Reason::MalformedCredential),
            Extracted::Token(kind, token) => (kind, token),
        };
        let hash = self.hashes.of(&token);
        // Name the token by its hash prefix only (SPEC §1).
        d.explain
            .push(["credential: ", kind.as_str(), " sha256:", &hash.short()].concat());

        // 2. Look the credential up. Kinds never cross (SPEC).
        let mut key: Option<&ApiKey> = None;
        let mut session: Option<&Session> = None;
        let principal: Id;
        match kind {
            CredentialKind::ApiKey => {
                let found = self
                    .snap
                    .api_keys
                    .iter()
                    .find(|k| k.token_sha256 == hash && k.created_at <= at);
                let Some(k) = found else {
                    return d.deny(Reason::ApiKeyNotFound);
                };
                d.user = Some(k.owner.clone());
                d.credential = Some(CredentialRef {
                    kind: CredentialKind::ApiKey,
                    id: k.id.clone(),
                });
                if in_effect(k.deleted_at, at) {
                    return d.deny(Reason::ApiKeyDeleted);
                }
                if in_effect(k.revoked_at, at) {
                    return d.deny(Reason::ApiKeyRevoked);
                }
                if !k.enabled {
                    return d.deny(Reason::ApiKeyDisabled);
                }
                if in_effect(k.expires_at, at) {
                    return d.deny(Reason::ApiKeyExpired);
                }
                if self.user_banned(&k.owner) {
                    return d.deny(Reason::UserBanned);
                }
                principal = k.owner.clone();
                key = Some(k);
            }
            CredentialKind::Session => {
                let found = self
                    .snap
                    .sessions
                    .iter()
                    .find(|s| s.token_sha256 == hash && s.created_at <= at);
                let Some(s) = found else {
                    return d.deny(Reason::SessionNotFound);
                };
                d.user = Some(s.user.clone());
                d.credential = Some(CredentialRef {
                    kind: CredentialKind::Session,
                    id: s.id.clone(),
                });
                if in_effect(s.revoked_at, at) {
                    return d.deny(Reason::SessionRevoked);
                }
                // A session expiring exactly at `at` is expired.
                if s.expires_at <= at {
                    return d.deny(Reason::SessionExpired);
                }
                if self.user_banned(&s.user) {
                    return d.deny(Reason::UserBanned);
                }
                principal = s.user.clone();
                session = Some(s);
            }
        }

        // 3. The credential kind is not allowed for the action.
        if !rule.credentials.contains(&kind) {
            return d.deny(Reason::CredentialNotAllowed);
        }

        // 4. Effective tenant.
        let effective: Option<Id>;
        if let Some(k) = key {
            let bound: Id = match &k.tenant {
                Some(t) => t.clone(),
                None => match self.policy.api_key.unbound {
                    Unbound::Deny => return d.deny(Reason::ApiKeyUnbound),
                    Unbound::OldestMembership => {
                        // Smallest (since, tenant id) among the owner's
                        // memberships at `at`.
                        let mut best: Option<&Membership> = None;
                        for m in &self.snap.memberships {
                            if m.user != k.owner || m.since > at {
                                continue;
                            }
                            let better = match best {
                                None => true,
                                Some(b) => (m.since, &m.tenant) < (b.since, &b.tenant),
                            };
                            if better {
                                best = Some(m);
                            }
                        }
                        match best {
                            Some(m) => m.tenant.clone(),
                            None => return d.deny(Reason::NotAMember),
                        }
                    }
                },
            };
            // For `cross_tenant` the output names the key's (bound) tenant.
            d.tenant = Some(bound.clone());
            if let Some(asked) = &req.tenant {
                if *asked != bound {
                    return d.deny(Reason::CrossTenant);
                }
            }
            effective = Some(bound);
        } else {
            let s = session.expect("a session when not an API key");
            effective = match &req.tenant {
                Some(t) => Some(t.clone()),
                None => s.tenant.clone(),
            };
            d.tenant = effective.clone();
        }
        if effective.is_none() && rule.tenant == TenantRule::Required {
            return d.deny(Reason::TenantRequired);
        }

        if let Some(t) = &effective {
            // 5. Membership and tenant state. An unknown tenant is
            // `not_a_member` (SPEC).
            let tenant = self.tenant(t);
            let membership = self.membership_at(&principal, t, at);
            let (Some(tenant), Some(membership)) = (tenant, membership) else {
                return d.deny(Reason::NotAMember);
            };
            if tenant.suspended {
                return d.deny(Reason::TenantSuspended);
            }
            // 6. Role.
            if !rule.roles.is_empty() && !rule.roles.iter().any(|r| *r == membership.role) {
                return d.deny(Reason::InsufficientRole);
            }
            // 7. Capability, API keys only.
            if let Some(k) = key {
                if !rule.capability.is_empty() {
                    let has = if k.capabilities.is_empty() {
                        self.policy.api_key.empty_capabilities == EmptyCapabilities::All
                    } else {
                        k.capabilities.iter().any(|c| *c == rule.capability)
                    };
                    if !has {
                        return d.deny(Reason::MissingCapability);
                    }
                }
            }
        }

        // 8. Resource: required and not named, or named and not found in the
        // effective tenant at `at` (never in another tenant).
        if rule.resource && req.resource.is_none() {
            return d.deny(Reason::ResourceNotFound);
        }
        if let Some(rid) = &req.resource {
            // Named while no effective tenant exists: not found (SPEC).
            let Some(t) = &effective else {
                return d.deny(Reason::ResourceNotFound);
            };
            let found = self
                .snap
                .resources
                .iter()
                .find(|r| r.tenant == *t && r.id == *rid && r.created_at <= at);
            let Some(r) = found else {
                return d.deny(Reason::ResourceNotFound);
            };
            // `owner_only` is checked whenever a resource was found.
            if rule.owner_only && r.owner != principal {
                return d.deny(Reason::NotResourceOwner);
            }
        }

        // 9. Allow. Scope: the key's tenant, or the sorted non-suspended
        // tenants the user is a member of at `at`.
        let scope: Vec<Id> = if key.is_some() {
            vec![effective
                .clone()
                .expect("an API key always has a tenant here")]
        } else {
            let mut scope: Vec<Id> = Vec::new();
            for m in &self.snap.memberships {
                if m.user != principal || m.since > at {
                    continue;
                }
                if let Some(t) = self.tenant(&m.tenant) {
                    if !t.suspended && !scope.contains(&m.tenant) {
                        scope.push(m.tenant.clone());
                    }
                }
            }
            scope.sort();
            scope
        };

        // Sliding refresh (§6): only for sessions.
        let mut effects: Vec<Effect> = Vec::new();
        if let Some(s) = session {
            if let Some(new) = self.sliding_expiry(s, at) {
                effects.push(Effect::ExtendSession {
                    session: s.id.clone(),
                    expires_at: new,
                });
            }
        }

        let mut explain = d.explain;
        explain.push("allow".to_string());
        Decision {
            decision: Verdict::Allow,
            reason: None,
            status: 200,
            action: req.action.as_str().into(),
            user: d.user,
            credential: d.credential,
            tenant: effective,
            scope: scope.into(),
            effects: effects.into(),
            explain: explain.into(),
        }
    }

    /// SPEC §6 sliding refresh: when `sliding` and
    /// `expires_at - ttl + refresh_after <= at`, the new expiry is `at + ttl`
    /// capped at `created_at + absolute_max`; only if later than the current.
    fn sliding_expiry(&self, s: &Session, at: Timestamp) -> Option<Timestamp> {
        let p = &self.policy.session;
        if !p.sliding {
            return None;
        }
        // Exact integer arithmetic: no saturation inside the comparison.
        let threshold = s.expires_at.unix() - p.ttl.secs() + p.refresh_after.secs();
        if threshold > at.unix() {
            return None;
        }
        let mut new = plus(at, p.ttl);
        if let Some(max) = p.absolute_max {
            let cap = plus(s.created_at, max);
            if new > cap {
                new = cap;
            }
        }
        if new > s.expires_at {
            Some(new)
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Commands (SPEC §8).

fn ts(t: Timestamp) -> Value {
    Value::String(t.to_string())
}

fn opt_ts(t: Option<Timestamp>) -> Value {
    match t {
        Some(t) => ts(t),
        None => Value::Null,
    }
}

fn opt_id(t: &Option<Id>) -> Value {
    match t {
        Some(t) => Value::String(t.to_string()),
        None => Value::Null,
    }
}

fn update(record: RecordRef, field: &str, from: Value, to: Value) -> Change {
    Change::Update {
        record,
        field: field.to_string(),
        from,
        to,
    }
}

/// How a command ends: its changes, or a rejection with an explanation.
type Outcome = Result<Vec<Change>, (Rejection, String)>;

fn reject(r: Rejection, why: impl Into<String>) -> Outcome {
    Err((r, why.into()))
}

impl Model {
    /// Whether `hash` belongs to any key or session, regardless of time
    /// (SPEC: uniqueness ignores time).
    fn token_taken(&self, hash: &TokenHash) -> bool {
        self.snap.api_keys.iter().any(|k| k.token_sha256 == *hash)
            || self.snap.sessions.iter().any(|s| s.token_sha256 == *hash)
    }

    /// The index of the key `id` if it exists at `at`.
    fn key_at(&self, id: &str, at: Timestamp) -> Option<usize> {
        self.snap
            .api_keys
            .iter()
            .position(|k| k.id.as_str() == id && k.created_at <= at)
    }

    /// The index of the session `id` if it exists at `at`.
    fn session_at(&self, id: &str, at: Timestamp) -> Option<usize> {
        self.snap
            .sessions
            .iter()
            .position(|s| s.id.as_str() == id && s.created_at <= at)
    }

    /// Applies `cmd` (SPEC §8). Checks run in the order the spec lists the
    /// op's rejections; a rejection leaves the state untouched.
    pub fn apply(&mut self, cmd: &Command) -> CommandResult {
        let op = cmd.op.op_name();
        if let Some(req) = cmd.request() {
            return CommandResult::Decision {
                op,
                decision: Box::new(self.authenticate(&req)),
            };
        }
        match self.run(cmd) {
            Ok(changes) => {
                debug_assert!(!changes.is_empty(), "ok always changes something");
                CommandResult::Ok { op, changes }
            }
            Err((reason, explain)) => CommandResult::Rejected {
                op,
                reason,
                explain,
            },
        }
    }

    /// `authenticate`: decide, then apply the decision's effects.
    fn authenticate(&mut self, req: &Request) -> Decision {
        let decision = self.decide(req);
        for effect in &decision.effects {
            let Effect::ExtendSession {
                session,
                expires_at,
            } = effect;
            for s in self.snap.sessions.iter_mut() {
                if s.id == *session {
                    s.expires_at = *expires_at;
                }
            }
        }
        decision
    }

    fn run(&mut self, cmd: &Command) -> Outcome {
        let at = cmd.at;
        match &cmd.op {
            Op::CreateTenant { tenant } => {
                if self.tenant(tenant).is_some() {
                    return reject(Rejection::DuplicateId, "the tenant already exists");
                }
                self.snap.tenants.push(Tenant {
                    id: tenant.clone(),
                    suspended: false,
                });
                Ok(vec![Change::Create {
                    record: RecordRef::Tenant { id: tenant.clone() },
                }])
            }
            Op::SuspendTenant { tenant } => self.set_suspended(tenant, true),
            Op::ReinstateTenant { tenant } => self.set_suspended(tenant, false),
            Op::CreateUser { user } => {
                if self.user(user).is_some() {
                    return reject(Rejection::DuplicateId, "the user already exists");
                }
                self.snap.users.push(User {
                    id: user.clone(),
                    banned: false,
                });
                Ok(vec![Change::Create {
                    record: RecordRef::User { id: user.clone() },
                }])
            }
            Op::BanUser { user } => self.ban(user, at),
            Op::UnbanUser { user } => {
                let Some(i) = self.snap.users.iter().position(|u| u.id == *user) else {
                    return reject(Rejection::UnknownUser, "no such user");
                };
                if !self.snap.users[i].banned {
                    return reject(Rejection::NoChange, "the user is not banned");
                }
                self.snap.users[i].banned = false;
                // Revoked sessions stay revoked: nothing else changes.
                Ok(vec![update(
                    RecordRef::User { id: user.clone() },
                    "banned",
                    Value::Bool(true),
                    Value::Bool(false),
                )])
            }
            Op::AddMember { user, tenant, role } => {
                if self.user(user).is_none() {
                    return reject(Rejection::UnknownUser, "no such user");
                }
                if self.tenant(tenant).is_none() {
                    return reject(Rejection::UnknownTenant, "no such tenant");
                }
                if self
                    .snap
                    .memberships
                    .iter()
                    .any(|m| m.user == *user && m.tenant == *tenant)
                {
                    return reject(Rejection::AlreadyMember, "the membership exists");
                }
                // `since` is the command's time (§8).
                self.snap.memberships.push(Membership {
                    user: user.clone(),
                    tenant: tenant.clone(),
                    role: role.as_str().into(),
                    since: at,
                });
                Ok(vec![Change::Create {
                    record: RecordRef::Membership {
                        user: user.clone(),
                        tenant: tenant.clone(),
                    },
                }])
            }
            Op::RemoveMember { user, tenant } => self.remove_member(user, tenant, at),
            Op::SetRole { user, tenant, role } => {
                let Some(i) = self
                    .snap
                    .memberships
                    .iter()
                    .position(|m| m.user == *user && m.tenant == *tenant && m.since <= at)
                else {
                    return reject(Rejection::NotAMember, "no such membership at this time");
                };
                if self.snap.memberships[i].role == *role {
                    return reject(Rejection::NoChange, "the role is already set");
                }
                let from =
                    std::mem::replace(&mut self.snap.memberships[i].role, role.as_str().into());
                Ok(vec![update(
                    RecordRef::Membership {
                        user: user.clone(),
                        tenant: tenant.clone(),
                    },
                    "role",
                    Value::String(from.into()),
                    Value::String(role.clone()),
                )])
            }
            Op::MintApiKey {
                key,
                owner,
                tenant,
                token,
                capabilities,
                expires_at,
                name,
            } => {
                if self.snap.api_keys.iter().any(|k| k.id == *key) {
                    return reject(Rejection::DuplicateId, "the key id exists");
                }
                let hash = self.hashes.of(token.expose());
                if self.token_taken(&hash) {
                    return reject(Rejection::DuplicateToken, "the token is in use");
                }
                // A valid token that starts with a configured prefix.
                let prefix = match key_prefix(&self.policy, token.expose()) {
                    Some(p) if token_ok(token.expose()) => p.to_string(),
                    _ => {
                        return reject(
                            Rejection::InvalidToken,
                            "the token is not a valid API key with a configured prefix",
                        )
                    }
                };
                // Unknown owner or tenant is `not_a_member` (SPEC).
                let member = self.tenant(tenant).is_some()
                    && self.user(owner).is_some()
                    && self.membership_at(owner, tenant, at).is_some();
                if !member {
                    return reject(Rejection::NotAMember, "the owner is not a member");
                }
                if self.user_banned(owner) {
                    return reject(Rejection::UserBanned, "the owner is banned");
                }
                self.snap.api_keys.push(ApiKey {
                    id: key.clone(),
                    owner: owner.clone(),
                    tenant: Some(tenant.clone()),
                    token_sha256: hash,
                    prefix: prefix.into(),
                    capabilities: capabilities.iter().map(|c| c.as_str().into()).collect(),
                    enabled: true,
                    name: name.as_deref().unwrap_or_default().into(),
                    created_at: at,
                    expires_at: *expires_at,
                    revoked_at: None,
                    deleted_at: None,
                });
                Ok(vec![Change::Create {
                    record: RecordRef::ApiKey { id: key.clone() },
                }])
            }
            Op::UpdateApiKey {
                key,
                name,
                enabled,
                expires_at,
                immutable,
            } => {
                let Some(i) = self.key_at(key, at) else {
                    return reject(Rejection::ApiKeyNotFound, "no such key at this time");
                };
                if in_effect(self.snap.api_keys[i].deleted_at, at) {
                    return reject(Rejection::ApiKeyDeleted, "the key is deleted");
                }
                if in_effect(self.snap.api_keys[i].revoked_at, at) {
                    return reject(Rejection::ApiKeyRevoked, "the key is revoked");
                }
                if !immutable.is_empty() {
                    return reject(
                        Rejection::ImmutableField,
                        "only name, enabled and expires_at may change",
                    );
                }
                let id = RecordRef::ApiKey { id: key.clone() };
                let k = &mut self.snap.api_keys[i];
                let mut changes = Vec::new();
                if let Some(name) = name {
                    if k.name != *name {
                        changes.push(update(
                            id.clone(),
                            "name",
                            Value::String(k.name.to_string()),
                            Value::String(name.clone()),
                        ));
                    }
                }
                if let Some(enabled) = enabled {
                    if k.enabled != *enabled {
                        changes.push(update(
                            id.clone(),
                            "enabled",
                            Value::Bool(k.enabled),
                            Value::Bool(*enabled),
                        ));
                    }
                }
                if let Some(expires_at) = expires_at {
                    if k.expires_at != *expires_at {
                        changes.push(update(
                            id.clone(),
                            "expires_at",
                            opt_ts(k.expires_at),
                            opt_ts(*expires_at),
                        ));
                    }
                }
                if changes.is_empty() {
                    return reject(Rejection::NoChange, "every given field is unchanged");
                }
                // Only now write: a rejection leaves the state as it was.
                if let Some(name) = name {
                    k.name = name.as_str().into();
                }
                if let Some(enabled) = enabled {
                    k.enabled = *enabled;
                }
                if let Some(expires_at) = expires_at {
                    k.expires_at = *expires_at;
                }
                Ok(changes)
            }
            Op::RevokeApiKey { key } => {
                let Some(i) = self.key_at(key, at) else {
                    return reject(Rejection::ApiKeyNotFound, "no such key at this time");
                };
                if in_effect(self.snap.api_keys[i].deleted_at, at) {
                    return reject(Rejection::ApiKeyDeleted, "the key is deleted");
                }
                if in_effect(self.snap.api_keys[i].revoked_at, at) {
                    return reject(Rejection::ApiKeyRevoked, "the key is revoked");
                }
                let from = self.snap.api_keys[i].revoked_at;
                self.snap.api_keys[i].revoked_at = Some(at);
                Ok(vec![update(
                    RecordRef::ApiKey { id: key.clone() },
                    "revoked_at",
                    opt_ts(from),
                    ts(at),
                )])
            }
            Op::DeleteApiKey { key } => {
                let Some(i) = self.key_at(key, at) else {
                    return reject(Rejection::ApiKeyNotFound, "no such key at this time");
                };
                if in_effect(self.snap.api_keys[i].deleted_at, at) {
                    return reject(Rejection::ApiKeyDeleted, "the key is deleted");
                }
                // A revoked key may be deleted: delete is the stronger state.
                let from = self.snap.api_keys[i].deleted_at;
                self.snap.api_keys[i].deleted_at = Some(at);
                Ok(vec![update(
                    RecordRef::ApiKey { id: key.clone() },
                    "deleted_at",
                    opt_ts(from),
                    ts(at),
                )])
            }
            Op::Login {
                session,
                user,
                token,
                tenant,
            } => {
                if self.snap.sessions.iter().any(|s| s.id == *session) {
                    return reject(Rejection::DuplicateId, "the session id exists");
                }
                let hash = self.hashes.of(token.expose());
                if self.token_taken(&hash) {
                    return reject(Rejection::DuplicateToken, "the token is in use");
                }
                if !token_ok(token.expose()) || key_prefix(&self.policy, token.expose()).is_some() {
                    return reject(
                        Rejection::InvalidToken,
                        "not a valid session token (or it has an API-key prefix)",
                    );
                }
                let Some(u) = self.user(user) else {
                    return reject(Rejection::UnknownUser, "no such user");
                };
                if u.banned {
                    return reject(Rejection::UserBanned, "the user is banned");
                }
                if let Some(t) = tenant {
                    let member =
                        self.tenant(t).is_some() && self.membership_at(user, t, at).is_some();
                    if !member {
                        return reject(Rejection::NotAMember, "not a member of the tenant");
                    }
                }
                // expires_at = at + min(ttl, absolute_max) (SPEC).
                let p = &self.policy.session;
                let life = match p.absolute_max {
                    Some(max) if max < p.ttl => max,
                    _ => p.ttl,
                };
                self.snap.sessions.push(Session {
                    id: session.clone(),
                    user: user.clone(),
                    tenant: tenant.clone(),
                    token_sha256: hash,
                    created_at: at,
                    expires_at: plus(at, life),
                    revoked_at: None,
                });
                Ok(vec![Change::Create {
                    record: RecordRef::Session {
                        id: session.clone(),
                    },
                }])
            }
            Op::Logout { session } => {
                let i = self.live_session(session, at)?;
                let from = self.snap.sessions[i].revoked_at;
                self.snap.sessions[i].revoked_at = Some(at);
                Ok(vec![update(
                    RecordRef::Session {
                        id: session.clone(),
                    },
                    "revoked_at",
                    opt_ts(from),
                    ts(at),
                )])
            }
            Op::SwitchTenant { session, tenant } => {
                let i = self.live_session(session, at)?;
                let user = self.snap.sessions[i].user.clone();
                let Some(t) = self.tenant(tenant) else {
                    return reject(Rejection::NotAMember, "no such tenant");
                };
                let suspended = t.suspended;
                if self.membership_at(&user, tenant, at).is_none() {
                    return reject(Rejection::NotAMember, "not a member of the tenant");
                }
                if suspended {
                    return reject(Rejection::TenantSuspended, "the tenant is suspended");
                }
                if self.snap.sessions[i].tenant.as_ref() == Some(tenant) {
                    return reject(Rejection::NoChange, "already the active tenant");
                }
                let from = opt_id(&self.snap.sessions[i].tenant);
                self.snap.sessions[i].tenant = Some(tenant.clone());
                Ok(vec![update(
                    RecordRef::Session {
                        id: session.clone(),
                    },
                    "tenant",
                    from,
                    Value::String(tenant.to_string()),
                )])
            }
            Op::CreateResource {
                tenant,
                resource,
                owner,
            } => {
                if self
                    .snap
                    .resources
                    .iter()
                    .any(|r| r.tenant == *tenant && r.id == *resource)
                {
                    return reject(Rejection::DuplicateId, "the resource exists");
                }
                if self.tenant(tenant).is_none() {
                    return reject(Rejection::UnknownTenant, "no such tenant");
                }
                if self.membership_at(owner, tenant, at).is_none() {
                    return reject(Rejection::NotAMember, "the owner is not a member");
                }
                self.snap.resources.push(Resource {
                    tenant: tenant.clone(),
                    id: resource.clone(),
                    owner: owner.clone(),
                    created_at: at,
                });
                Ok(vec![Change::Create {
                    record: RecordRef::Resource {
                        tenant: tenant.clone(),
                        id: resource.clone(),
                    },
                }])
            }
            Op::DeleteResource { tenant, resource } => {
                let Some(i) =
                    self.snap.resources.iter().position(|r| {
                        r.tenant == *tenant && r.id == *resource && r.created_at <= at
                    })
                else {
                    return reject(Rejection::ResourceNotFound, "no such resource at this time");
                };
                // Removed in place: the others keep their order.
                self.snap.resources.remove(i);
                Ok(vec![Change::Delete {
                    record: RecordRef::Resource {
                        tenant: tenant.clone(),
                        id: resource.clone(),
                    },
                }])
            }
            Op::Authenticate { .. } => unreachable!("handled by apply"),
        }
    }

    /// `suspend_tenant` / `reinstate_tenant`.
    fn set_suspended(&mut self, tenant: &Id, to: bool) -> Outcome {
        let Some(i) = self.snap.tenants.iter().position(|t| t.id == *tenant) else {
            return reject(Rejection::UnknownTenant, "no such tenant");
        };
        if self.snap.tenants[i].suspended == to {
            return reject(Rejection::NoChange, "the tenant is already in that state");
        }
        self.snap.tenants[i].suspended = to;
        Ok(vec![update(
            RecordRef::Tenant { id: tenant.clone() },
            "suspended",
            Value::Bool(!to),
            Value::Bool(to),
        )])
    }

    /// `ban_user`: the user is banned and every session of the user live at
    /// `at` is revoked at `at` (SPEC), never to come back.
    fn ban(&mut self, user: &Id, at: Timestamp) -> Outcome {
        let Some(i) = self.snap.users.iter().position(|u| u.id == *user) else {
            return reject(Rejection::UnknownUser, "no such user");
        };
        if self.snap.users[i].banned {
            return reject(Rejection::NoChange, "the user is already banned");
        }
        self.snap.users[i].banned = true;
        let mut changes = vec![update(
            RecordRef::User { id: user.clone() },
            "banned",
            Value::Bool(false),
            Value::Bool(true),
        )];
        for s in self.snap.sessions.iter_mut() {
            let live = s.user == *user
                && s.created_at <= at
                && !in_effect(s.revoked_at, at)
                && s.expires_at > at;
            if live {
                changes.push(update(
                    RecordRef::Session { id: s.id.clone() },
                    "revoked_at",
                    opt_ts(s.revoked_at),
                    ts(at),
                ));
                s.revoked_at = Some(at);
            }
        }
        Ok(changes)
    }

    /// `remove_member`: the membership is removed in place; every session of
    /// the user whose active tenant it was loses it (SPEC); keys stay.
    fn remove_member(&mut self, user: &Id, tenant: &Id, at: Timestamp) -> Outcome {
        let Some(i) = self
            .snap
            .memberships
            .iter()
            .position(|m| m.user == *user && m.tenant == *tenant && m.since <= at)
        else {
            return reject(Rejection::NotAMember, "no such membership at this time");
        };
        self.snap.memberships.remove(i);
        let mut changes = vec![Change::Delete {
            record: RecordRef::Membership {
                user: user.clone(),
                tenant: tenant.clone(),
            },
        }];
        for s in self.snap.sessions.iter_mut() {
            if s.user == *user && s.tenant.as_ref() == Some(tenant) {
                changes.push(update(
                    RecordRef::Session { id: s.id.clone() },
                    "tenant",
                    Value::String(tenant.to_string()),
                    Value::Null,
                ));
                s.tenant = None;
            }
        }
        Ok(changes)
    }

    /// The first three checks of `logout` and `switch_tenant`: the session
    /// exists at `at`, is not revoked and not expired.
    fn live_session(&self, id: &Id, at: Timestamp) -> Result<usize, (Rejection, String)> {
        let Some(i) = self.session_at(id, at) else {
            return Err((
                Rejection::SessionNotFound,
                "no such session at this time".into(),
            ));
        };
        if in_effect(self.snap.sessions[i].revoked_at, at) {
            return Err((Rejection::SessionRevoked, "the session is revoked".into()));
        }
        if self.snap.sessions[i].expires_at <= at {
            return Err((Rejection::SessionExpired, "the session is expired".into()));
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::{token_hash, Hashes, Model, Policy, Snapshot};

    /// The memo answers what hashing answers, past its capacity too, and
    /// a clone starts without it.
    #[test]
    fn remembered_hashes_are_the_hashes() {
        let hashes = Hashes::default();
        // It remembers: two tokens hashed, two kept.
        hashes.of("tok/a+b=c%2F");
        hashes.of("tok/d+e=f%3D");
        assert_eq!(hashes.0.borrow().len(), 2);
        let tokens: Vec<String> = (0..3 * Hashes::CAPACITY + 1)
            .map(|i| format!("tok/{i}+=%"))
            .collect();
        for round in 0..2 {
            for t in &tokens {
                assert_eq!(hashes.of(t), token_hash(t), "{t}, round {round}");
            }
        }
        assert!(hashes.0.borrow().len() <= Hashes::CAPACITY);
        let model = Model::new(&Snapshot::default(), &Policy::default());
        model.hashes.of("tok/a+b=c%2F");
        assert_eq!(model.clone().hashes.0.borrow().len(), 0);
    }

    /// The model's own hex of its own digest: FIPS 180-2's "abc" vector,
    /// and a token of the universe's alphabet against the engine's hash.
    #[test]
    fn token_hash_is_sha256() {
        assert_eq!(
            token_hash("abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = "tok/a+b=c%2F";
        assert_eq!(token_hash(t), authproof_engine::TokenHash::of(t));
    }
}
