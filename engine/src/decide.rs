//! The decision procedure (SPEC §6).
//!
//! Straight-line steps in the spec's order; the first that fails gives the
//! one reason of the denial. Every lookup is an index hit, so a decision
//! costs O(1) in the snapshot's size (the session scope and the legacy-key
//! binding read one user's memberships, not everyone's).
//!
//! The explanation records which credential, which record and which rule
//! decided, never a token: a token is named by the first 8 hex characters
//! of its SHA-256.

use crate::{
    credential::{extract, Extraction},
    fault::percent_encode,
    presented::{Presented, Resolved},
    snapshot::{reached, ApiKey, Session},
    state::Slot,
    ActionRule, CredentialKind, CredentialRef, Decision, Effect, EmptyCapabilities, Fault, Headers,
    Id, Policy, Reason, Request, State, TenantRule, Timestamp, TokenHash, Unbound, Verdict,
};

/// A decision being built: what the steps so far have established.
struct Draft<'r> {
    action: &'r str,
    user: Option<Id>,
    credential: Option<CredentialRef>,
    tenant: Option<Id>,
    explain: Vec<String>,
}

impl Draft<'_> {
    fn note(&mut self, line: String) {
        self.explain.push(line);
    }

    fn deny(mut self, reason: Reason, mut why: String) -> Decision {
        // "deny {reason}: {why}", reusing `why`'s buffer.
        let code = reason.code();
        why.reserve(code.len() + 7);
        why.insert_str(0, ": ");
        why.insert_str(0, code);
        why.insert_str(0, "deny ");
        self.explain.push(why);
        Decision {
            decision: Verdict::Deny,
            reason: Some(reason),
            status: reason.status(),
            action: self.action.to_string(),
            user: self.user,
            credential: self.credential,
            tenant: self.tenant,
            scope: Vec::new(),
            effects: Vec::new(),
            explain: self.explain,
        }
    }
}

/// What step 1 found, before any record is looked up: the token itself is
/// no longer needed, only its hash.
enum Found {
    None,
    Ambiguous(usize),
    Malformed(crate::credential::Channel, crate::credential::Malformed),
    /// See [`Resolved::Unmatched`].
    Unmatched(crate::credential::Channel),
    /// The signature is `Some` under `session.cookie_format = "signed"`.
    Token(
        CredentialKind,
        crate::credential::Channel,
        TokenHash,
        Option<crate::signed::Signature>,
    ),
}

/// The principal a credential resolved to.
enum Principal<'s> {
    ApiKey(&'s ApiKey),
    Session(&'s Session),
}

impl State {
    /// Decides one request under `policy`. Pure: the same state, policy and
    /// request always give the same decision, byte for byte.
    pub fn decide(&self, policy: &Policy, req: &Request) -> Decision {
        let d = self.decide_steps(policy, req);
        #[cfg(feature = "faults")]
        let d = self.decision_faults(policy, req, d);
        d
    }

    /// Faults that corrupt a finished decision (F01, F07, F14).
    #[cfg(feature = "faults")]
    fn decision_faults(&self, policy: &Policy, req: &Request, mut d: Decision) -> Decision {
        use crate::Reason::*;
        if self.fault(Fault::F01)
            && matches!(
                d.reason,
                Some(ApiKeyNotFound | ApiKeyDeleted | ApiKeyRevoked | MissingCapability)
            )
        {
            d.reason = Some(ApiKeyNotFound);
            d.status = ApiKeyNotFound.status();
        }
        if self.fault(Fault::F07) && d.is_allow() {
            if let (Some(c), Some(u)) = (&d.credential, &d.user) {
                if c.kind == CredentialKind::ApiKey {
                    d.scope = self.session_scope(u, req.at);
                }
            }
        }
        if self.fault(Fault::F14) {
            if let Extraction::Token { token, .. } = extract(policy, &req.headers) {
                d.explain.push(format!("token {token}"));
            }
        }
        d
    }

    /// Decides a credential presented by its hash, without its token (for
    /// policy review: a snapshot holds hashes only). `req` gives the time,
    /// action, tenant and resource; its headers are ignored: `presented`
    /// stands for a request carrying exactly that one credential header, and
    /// is resolved under `policy` as extraction would resolve the header
    /// (see [`Presented`]). Steps 0 and 2–9 are the ones [`State::decide`]
    /// runs: only where the credential comes from differs.
    pub fn decide_presented(
        &self,
        policy: &Policy,
        req: &Request,
        presented: &Presented<'_>,
    ) -> Decision {
        let d = self.decide_with(policy, req, || match presented.resolve(policy) {
            Resolved::None => Found::None,
            Resolved::Malformed(channel, why) => Found::Malformed(channel, why),
            Resolved::Unmatched(channel) => Found::Unmatched(channel),
            Resolved::Token(kind, channel) => Found::Token(kind, channel, presented.token, None),
        });
        #[cfg(feature = "faults")]
        let d = self.decision_faults(policy, req, d);
        d
    }

    fn decide_steps(&self, policy: &Policy, req: &Request) -> Decision {
        self.decide_with(policy, req, || self.extract_step(policy, req))
    }

    /// Step 1 for a request with headers: extraction, then the token's hash.
    fn extract_step(&self, policy: &Policy, req: &Request) -> Found {
        let without_key_header;
        let headers = if self.fault(Fault::F04) {
            without_key_header = Headers::new(
                req.headers
                    .iter()
                    .filter(|(n, _)| !n.eq_ignore_ascii_case(&policy.api_key.header)),
            )
            .expect("a subset of valid headers");
            &without_key_header
        } else {
            &req.headers
        };
        let mut extraction = extract(policy, headers);
        if let Extraction::Token {
            channel: channel @ crate::credential::Channel::Cookie(_),
            token,
            ..
        } = extraction
        {
            if self.fault(Fault::F02)
                && !token
                    .get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("bearer "))
            {
                extraction =
                    Extraction::Malformed(channel, crate::credential::Malformed::NotBearer);
            }
        }
        match extraction {
            Extraction::None => Found::None,
            Extraction::Ambiguous(n) => Found::Ambiguous(n),
            Extraction::Malformed(channel, why) => Found::Malformed(channel, why),
            Extraction::Token {
                kind,
                channel,
                token,
            } => {
                let (token, signature) =
                    match crate::credential::unwrap_token(policy, kind, channel, token) {
                        Ok(unwrapped) => unwrapped,
                        Err(why) => return Found::Malformed(channel, why),
                    };
                let hash = if self.fault(Fault::F03) {
                    TokenHash::of(&percent_encode(&token))
                } else {
                    TokenHash::of(&token)
                };
                Found::Token(kind, channel, hash, signature)
            }
        }
    }

    /// The decision procedure, shared by [`State::decide`] and
    /// [`State::decide_presented`], which differ only in how step 1 finds
    /// the credential (`step1`, run after step 0): from there on a
    /// credential is its kind and its token's hash.
    fn decide_with(
        &self,
        policy: &Policy,
        req: &Request,
        step1: impl FnOnce() -> Found,
    ) -> Decision {
        let at = req.at;
        let mut d = Draft {
            action: &req.action,
            user: None,
            credential: None,
            tenant: None,
            // An allow writes about six lines: no regrowing.
            explain: Vec::with_capacity(8),
        };

        // 0. The action.
        let Some(rule) = policy.actions.get(&req.action) else {
            return d.deny(
                Reason::UnknownAction,
                format!("action {:?} is not defined by the policy", req.action),
            );
        };
        d.note(describe_rule(at, &req.action, rule));

        // 1. The credential.
        let (kind, token) = match step1() {
            Found::None => {
                return d.deny(
                    Reason::NoCredential,
                    "no API-key header, session cookie or authorization header".into(),
                )
            }
            Found::Ambiguous(n) => {
                return d.deny(
                    Reason::AmbiguousCredential,
                    format!("{n} credentials presented and credentials.multiple = \"deny\""),
                )
            }
            Found::Malformed(channel, why) => {
                return d.deny(
                    Reason::MalformedCredential,
                    format!(
                        "{}: {why} (no fallback to a later credential)",
                        channel.describe(policy)
                    ),
                )
            }
            Found::Unmatched(channel) => {
                return d.deny(
                    Reason::ApiKeyNotFound,
                    format!(
                        "{} carries the whole header value as the API key, not the presented token",
                        channel.describe(policy)
                    ),
                )
            }
            Found::Token(kind, channel, hash, signature) => {
                let mut line = format!(
                    "credential: {} from {}, token sha256 {}",
                    kind.as_str(),
                    channel.describe(policy),
                    hash.short()
                );
                if let Some(signature) = signature {
                    line.push_str(" (signed: ");
                    line.push_str(signature.describe());
                    line.push(')');
                }
                d.note(line);
                (kind, hash)
            }
        };

        // 2. The credential's record.
        let principal = match kind {
            CredentialKind::ApiKey => match self.live_key(&token, at, &mut d) {
                Ok(k) => Principal::ApiKey(k),
                Err((reason, why)) => return d.deny(reason, why),
            },
            CredentialKind::Session => {
                match self.live_session(&token, at, policy.session.sliding, &mut d) {
                    Ok(s) => Principal::Session(s),
                    Err((reason, why)) => return d.deny(reason, why),
                }
            }
        };
        let user: &Id = match principal {
            Principal::ApiKey(k) => &k.owner,
            Principal::Session(s) => &s.user,
        };
        if self.users.get(user).is_some_and(|u| u.banned) {
            return d.deny(Reason::UserBanned, format!("user {user:?} is banned"));
        }

        // 3. The credential kind.
        if !rule.allows(kind) {
            return d.deny(
                Reason::CredentialNotAllowed,
                format!(
                    "action {:?} does not accept {} credentials",
                    req.action,
                    kind.as_str()
                ),
            );
        }

        // 4. The effective tenant.
        let tenant: Option<&Id> = match principal {
            Principal::ApiKey(k) if self.fault(Fault::F05) => {
                let t = req.tenant.as_ref().or(self.newest_membership(&k.owner, at));
                d.tenant = t.cloned();
                t
            }
            Principal::ApiKey(k) => {
                let bound = match &k.tenant {
                    Some(t) => t,
                    None if self.fault(Fault::F12) && policy.api_key.unbound == Unbound::Deny => {
                        match self.newest_membership(&k.owner, at) {
                            Some(t) => t,
                            None => return d.deny(Reason::NotAMember, "no membership".into()),
                        }
                    }
                    None => match policy.api_key.unbound {
                        Unbound::Deny => {
                            return d.deny(
                                Reason::ApiKeyUnbound,
                                format!("key {:?} is a legacy key with no tenant and api_key.unbound = \"deny\"", k.id),
                            )
                        }
                        Unbound::OldestMembership => match self.oldest_membership(&k.owner, at) {
                            Some(t) => {
                                d.note(format!(
                                    "legacy key {:?} bound to its owner's oldest membership {t:?} (api_key.unbound = \"oldest_membership\")",
                                    k.id
                                ));
                                t
                            }
                            None => {
                                return d.deny(
                                    Reason::NotAMember,
                                    format!("legacy key {:?}: owner {:?} has no membership at {at}", k.id, k.owner),
                                )
                            }
                        },
                    },
                };
                d.tenant = Some(bound.clone());
                if let Some(asked) = req.tenant.as_ref().filter(|t| *t != bound) {
                    return d.deny(
                        Reason::CrossTenant,
                        format!(
                            "key {:?} is bound to tenant {bound:?}; the request asks for {asked:?}",
                            k.id
                        ),
                    );
                }
                Some(bound)
            }
            Principal::Session(s) => {
                let t = req.tenant.as_ref().or(s.tenant.as_ref());
                match (t, &req.tenant) {
                    (Some(t), Some(_)) => d.note(format!("tenant {t:?} as the request names it")),
                    (Some(t), None) => d.note(format!("tenant {t:?}: the session's active tenant")),
                    (None, _) => {}
                }
                d.tenant = t.cloned();
                t
            }
        };

        match tenant {
            None if rule.tenant == TenantRule::Required => {
                return d.deny(
                    Reason::TenantRequired,
                    format!("action {:?} requires a tenant; the request names none and the session has no active tenant", req.action),
                )
            }
            None => d.note("no tenant; the action does not require one".into()),
            Some(t) => {
                // 5. Membership and tenant status.
                let m = self
                    .tenants
                    .contains_key(t)
                    .then(|| self.membership_at(user, t, at))
                    .flatten();
                let role = match m {
                    Some(m) => {
                        d.note(format!("{user:?} is a member of {t:?} as {:?} since {}", m.role, m.since));
                        m.role.as_str()
                    }
                    // F09: trusts the tenant the credential was minted for.
                    None if self.fault(Fault::F09)
                        && self.tenants.contains_key(t)
                        && credential_tenant(&principal) == Some(t) =>
                    {
                        ""
                    }
                    None => {
                        return d.deny(
                            Reason::NotAMember,
                            format!("user {user:?} is not a member of tenant {t:?} at {at}"),
                        )
                    }
                };
                if self.tenants[t].suspended {
                    return d.deny(Reason::TenantSuspended, format!("tenant {t:?} is suspended"));
                }

                // 6. Role.
                if !rule.roles.is_empty() && !rule.roles.iter().any(|r| r == role) {
                    return d.deny(
                        Reason::InsufficientRole,
                        format!("role {role:?} is not one of {:?}", rule.roles),
                    );
                }

                // 7. Capability.
                if let Principal::ApiKey(k) = principal {
                    if !rule.capability.is_empty() && !has_capability(policy, k, &rule.capability) {
                        return d.deny(
                            Reason::MissingCapability,
                            format!(
                                "key {:?} lacks capability {:?} (it has {:?}; api_key.empty_capabilities = {:?})",
                                k.id, rule.capability, k.capabilities, policy.api_key.empty_capabilities
                            ),
                        );
                    }
                }
            }
        }

        // 8. Resource.
        if rule.resource || req.resource.is_some() {
            let Some(id) = &req.resource else {
                return d.deny(
                    Reason::ResourceNotFound,
                    format!(
                        "action {:?} needs a resource and the request names none",
                        req.action
                    ),
                );
            };
            let found = if self.fault(Fault::F10) {
                self.resources.values().find(|r| r.id == *id)
            } else {
                tenant.and_then(|t| self.resource(t, id))
            }
            .filter(|r| r.created_at <= at);
            let Some(r) = found else {
                return d.deny(
                    Reason::ResourceNotFound,
                    match tenant {
                        Some(t) => format!("no resource {id:?} in tenant {t:?} at {at} (resources are looked up by (tenant, id))"),
                        None => format!("no resource {id:?}: no effective tenant"),
                    },
                );
            };
            if rule.owner_only && r.owner != *user {
                return d.deny(
                    Reason::NotResourceOwner,
                    format!(
                        "resource {id:?} of tenant {:?} is owned by {:?}",
                        r.tenant, r.owner
                    ),
                );
            }
            d.note(format!(
                "resource {id:?} of tenant {:?}, owner {:?}",
                r.tenant, r.owner
            ));
        }

        // 9. Allow.
        let (scope, effects) = match principal {
            Principal::ApiKey(_) => (tenant.into_iter().cloned().collect(), Vec::new()),
            Principal::Session(s) => (
                self.session_scope(user, at),
                sliding_refresh(policy, s, at).into_iter().collect(),
            ),
        };
        for e in &effects {
            let Effect::ExtendSession {
                session,
                expires_at,
            } = e;
            d.explain.push(format!(
                "sliding refresh: session {session:?} now expires at {expires_at}"
            ));
        }
        d.explain.push(format!("allow: scope {scope:?}"));
        // `d.user` and `d.tenant` hold clones of `user` and `tenant` (steps
        // 2 and 4): moved, not cloned again.
        debug_assert_eq!(d.user.as_ref(), Some(user));
        debug_assert_eq!(d.tenant.as_ref(), tenant);
        Decision {
            decision: Verdict::Allow,
            reason: None,
            status: 200,
            action: req.action.clone(),
            user: d.user,
            credential: d.credential,
            tenant: d.tenant,
            scope,
            effects,
            explain: d.explain,
        }
    }

    /// Step 2 for an API key.
    fn live_key(
        &self,
        token: &TokenHash,
        at: Timestamp,
        d: &mut Draft<'_>,
    ) -> Result<&ApiKey, (Reason, String)> {
        let key = match self.by_token.get(token) {
            Some(Slot::ApiKey(i)) => &self.api_keys[*i],
            _ => return Err((Reason::ApiKeyNotFound, "no API key has this token".into())),
        };
        if key.created_at > at {
            return Err((
                Reason::ApiKeyNotFound,
                format!(
                    "the key with this token is created at {}, after {at}",
                    key.created_at
                ),
            ));
        }
        d.user = Some(key.owner.clone());
        d.credential = Some(CredentialRef {
            kind: CredentialKind::ApiKey,
            id: key.id.clone(),
        });
        d.note(match &key.tenant {
            Some(t) => format!("api key {:?} (owner {:?}, tenant {t:?})", key.id, key.owner),
            None => format!(
                "api key {:?} (owner {:?}, tenant none: legacy)",
                key.id, key.owner
            ),
        });
        let id = &key.id;
        if reached(key.deleted_at, at) {
            return Err((
                Reason::ApiKeyDeleted,
                format!(
                    "key {id:?} was deleted at {}",
                    key.deleted_at.expect("reached")
                ),
            ));
        }
        if reached(key.revoked_at, at) {
            return Err((
                Reason::ApiKeyRevoked,
                format!(
                    "key {id:?} was revoked at {}",
                    key.revoked_at.expect("reached")
                ),
            ));
        }
        if !key.enabled {
            return Err((Reason::ApiKeyDisabled, format!("key {id:?} is disabled")));
        }
        if reached(key.expires_at, at) && !(self.fault(Fault::F13) && key.expires_at == Some(at)) {
            return Err((
                Reason::ApiKeyExpired,
                format!("key {id:?} expired at {}", key.expires_at.expect("reached")),
            ));
        }
        Ok(key)
    }

    /// Step 2 for a session.
    fn live_session(
        &self,
        token: &TokenHash,
        at: Timestamp,
        sliding: bool,
        d: &mut Draft<'_>,
    ) -> Result<&Session, (Reason, String)> {
        let s = match self.by_token.get(token) {
            Some(Slot::Session(i)) => &self.sessions[*i],
            _ => return Err((Reason::SessionNotFound, "no session has this token".into())),
        };
        if s.created_at > at {
            return Err((
                Reason::SessionNotFound,
                format!(
                    "the session with this token is created at {}, after {at}",
                    s.created_at
                ),
            ));
        }
        d.user = Some(s.user.clone());
        d.credential = Some(CredentialRef {
            kind: CredentialKind::Session,
            id: s.id.clone(),
        });
        d.note(format!(
            "session {:?} of user {:?}, expires at {}",
            s.id, s.user, s.expires_at
        ));
        if reached(s.revoked_at, at) {
            return Err((
                Reason::SessionRevoked,
                format!(
                    "session {:?} was revoked at {}",
                    s.id,
                    s.revoked_at.expect("reached")
                ),
            ));
        }
        let off_by_one = self.fault(Fault::F13) && s.expires_at == at;
        let revived = self.fault(Fault::F08) && sliding;
        if s.expires_at <= at && !off_by_one && !revived {
            return Err((
                Reason::SessionExpired,
                format!(
                    "session {:?} expired at {} (expiry equal to the request time is expired)",
                    s.id, s.expires_at
                ),
            ));
        }
        Ok(s)
    }

    /// The membership with the largest (`since`, tenant id): only faults use it.
    fn newest_membership(&self, user: &str, at: Timestamp) -> Option<&Id> {
        self.tenants_of
            .get(user)?
            .iter()
            .filter_map(|t| self.membership_at(user, t, at).map(|m| (m.since, t)))
            .max()
            .map(|(_, t)| t)
    }

    /// The owner's membership with the smallest (`since`, tenant id) at `at`.
    pub(crate) fn oldest_membership(&self, user: &str, at: Timestamp) -> Option<&Id> {
        self.tenants_of
            .get(user)?
            .iter()
            .filter_map(|t| self.membership_at(user, t, at).map(|m| (m.since, t)))
            .min()
            .map(|(_, t)| t)
    }

    /// A session allow's scope: the sorted ids of the non-suspended tenants
    /// the user is a member of at `at`.
    pub(crate) fn session_scope(&self, user: &str, at: Timestamp) -> Vec<Id> {
        self.tenants_of.get(user).map_or_else(Vec::new, |ts| {
            ts.iter()
                .filter(|t| {
                    self.membership_at(user, t, at).is_some() && !self.tenants[*t].suspended
                })
                .cloned()
                .collect()
        })
    }
}

/// The tenant a credential was minted or logged in for.
fn credential_tenant<'s>(p: &Principal<'s>) -> Option<&'s Id> {
    match p {
        Principal::ApiKey(k) => k.tenant.as_ref(),
        Principal::Session(s) => s.tenant.as_ref(),
    }
}

/// Whether a key carries `capability`, reading `[]` per the policy.
fn has_capability(policy: &Policy, key: &ApiKey, capability: &str) -> bool {
    if key.capabilities.is_empty() {
        policy.api_key.empty_capabilities == EmptyCapabilities::All
    } else {
        key.capabilities.iter().any(|c| c == capability)
    }
}

/// The sliding-refresh effect of an allowed request on a live session.
pub(crate) fn sliding_refresh(policy: &Policy, s: &Session, at: Timestamp) -> Option<Effect> {
    let sp = &policy.session;
    if !sp.sliding {
        return None;
    }
    // expires_at - ttl + refresh_after <= at, without leaving i64: every
    // term is bounded by the timestamp and duration ranges.
    if s.expires_at.unix() - sp.ttl.secs() + sp.refresh_after.secs() > at.unix() {
        return None;
    }
    let mut new = at.saturating_add(sp.ttl);
    if let Some(max) = sp.absolute_max {
        new = new.min(s.created_at.saturating_add(max));
    }
    (new > s.expires_at).then(|| Effect::ExtendSession {
        session: s.id.clone(),
        expires_at: new,
    })
}

/// `at {at}, action {action:?}: credentials [..], tenant ..[, roles ..]…`,
/// written into one buffer.
fn describe_rule(at: Timestamp, action: &str, rule: &ActionRule) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(128);
    let _ = write!(s, "at {at}, action {action:?}: credentials [");
    for (i, c) in rule.credentials.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{:?}", c.as_str());
    }
    s.push_str("], tenant ");
    s.push_str(match rule.tenant {
        TenantRule::Required => "required",
        TenantRule::Optional => "optional",
    });
    if !rule.roles.is_empty() {
        let _ = write!(s, ", roles {:?}", rule.roles);
    }
    if !rule.capability.is_empty() {
        let _ = write!(s, ", capability {:?}", rule.capability);
    }
    if rule.resource {
        s.push_str(", resource required");
    }
    if rule.owner_only {
        s.push_str(", owner only");
    }
    s
}
