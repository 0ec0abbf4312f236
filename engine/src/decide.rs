//! The decision procedure (SPEC §6).
//!
//! Straight-line steps in the spec's order; the first that fails gives the
//! one reason of the denial. Every lookup is an index hit, so a decision
//! costs O(1) in the snapshot's size (the session scope and the legacy-key
//! binding read one user's memberships, not everyone's).
//!
//! The explanation records which credential, which record and which rule
//! decided, never a token: a token is named by the first 8 hex characters
//! of its SHA-256. It is recorded as notes ([`crate::explain`]) and
//! written as text only when an output asks for it: no step formats a
//! string.

use crate::{
    credential::{extract, Channel, Extraction},
    explain::{
        ChannelName, CredentialNote, End, KeyTenant, Kinds, MemberNote, RecordNote, ResourceNote,
        RuleNote, Steps, TenantNote, Text, Why,
    },
    fault::percent_encode,
    presented::{Presented, Resolved},
    snapshot::{reached, ApiKey, Session},
    state::{Handle, Member, Slot, NO_HANDLE},
    ActionRule, CompactString, CredentialKind, CredentialRef, Decision, Effect, Effects,
    EmptyCapabilities, Explain, Fault, Headers, Id, Policy, Reason, Request, Scope, State,
    TenantRule, Timestamp, TokenHash, Unbound, Verdict,
};

/// A decision being built: what the steps so far have established.
///
/// The user, credential and tenant are borrowed from the state and the
/// request, and cloned once, into the [`Decision`] itself: an id cloned
/// into an `Option<Id>` local went through a stack copy whose pieces the
/// next read straddled (a store-forwarding stall per id), and a step that
/// sets one dropped the previous value first.
struct Draft<'a> {
    action: &'a str,
    user: Option<&'a Id>,
    credential: Option<(CredentialKind, &'a Id)>,
    tenant: Option<&'a Id>,
    steps: Steps,
    /// A bound key's tenant, named by its record line: copied into the
    /// notes at the end only if it is not the decision's tenant.
    key_tenant: Option<&'a Id>,
}

impl Draft<'_> {
    /// Resolves the key's tenant in the notes. The notes are then moved
    /// into the decision, not taken (a take copies them and writes
    /// defaults in their place).
    fn finish(&mut self) {
        if let (Some(t), Some(RecordNote::ApiKey(kt))) = (self.key_tenant, &mut self.steps.record) {
            *kt = if self.tenant == Some(t) {
                KeyTenant::Decision
            } else {
                KeyTenant::Other(t.clone())
            };
        }
    }

    /// The denial. By reference: the draft passed by value was a copy of
    /// its 500-odd bytes into the call before the notes' copy into the
    /// decision; taking the notes leaves a default in their place, fewer
    /// bytes written.
    fn deny(&mut self, reason: Reason, why: Why) -> Decision {
        self.steps.end = Some(End::Deny(reason, why));
        self.finish();
        Decision {
            decision: Verdict::Deny,
            reason: Some(reason),
            status: reason.status(),
            action: CompactString::new(self.action),
            user: self.user.cloned(),
            credential: credential_ref(self.credential),
            tenant: self.tenant.cloned(),
            scope: Scope::new(),
            effects: Effects::new(),
            explain: Explain::of_steps(std::mem::take(&mut self.steps)),
        }
    }
}

/// How the explanation names a channel: the policy's header or cookie
/// name, copied into the notes' text.
fn channel_name(channel: Channel, policy: &Policy, text: &mut Text) -> ChannelName {
    match channel {
        Channel::ApiKeyHeader => ChannelName::Header(text.word(&policy.api_key.header)),
        Channel::Cookie(i) => ChannelName::Cookie(
            text.word(policy.session.cookies.get(i).map_or("?", String::as_str)),
        ),
        Channel::Bearer => ChannelName::Bearer,
    }
}

/// What step 1 found, before any record is looked up: the token itself is
/// no longer needed, only its hash, which step 1 writes to a slot of its
/// own (see [`State::decide_with`]).
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
        // The words as the engine wrote them, whatever a fault changes below.
        d.freeze_explain();
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
                    let h = self
                        .users
                        .get_index_of(u)
                        .map_or(NO_HANDLE, |h| h as Handle);
                    d.scope = self.session_scope(h, req.at);
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
        let d = self.decide_with(policy, req, |hash| match presented.resolve(policy) {
            Resolved::None => Found::None,
            Resolved::Ambiguous(n) => Found::Ambiguous(n),
            Resolved::Malformed(channel, why) => Found::Malformed(channel, why),
            Resolved::Unmatched(channel) => Found::Unmatched(channel),
            Resolved::Token(kind, channel) => {
                *hash = presented.token;
                Found::Token(kind, channel, None)
            }
        });
        #[cfg(feature = "faults")]
        let d = self.decision_faults(policy, req, d);
        d
    }

    fn decide_steps(&self, policy: &Policy, req: &Request) -> Decision {
        self.decide_with(policy, req, |hash| self.extract_step(policy, req, hash))
    }

    /// Step 1 for a request with headers: extraction, then the token's hash
    /// (written to `hash`).
    fn extract_step(&self, policy: &Policy, req: &Request, hash: &mut TokenHash) -> Found {
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
                *hash = if self.fault(Fault::F03) {
                    TokenHash::of(&percent_encode(&token))
                } else {
                    TokenHash::of(&token)
                };
                Found::Token(kind, channel, signature)
            }
        }
    }

    /// The decision procedure, shared by [`State::decide`] and
    /// [`State::decide_presented`], which differ only in how step 1 finds
    /// the credential (`step1`, run after step 0): from there on a
    /// credential is its kind and its token's hash.
    ///
    /// `step1` writes the hash to `token`, a slot of its own, rather than
    /// returning it in [`Found`]: moved through the enum, the 32 bytes were
    /// copied in odd pieces that the token index's `u64` loads then
    /// straddled, a store-forwarding stall on every lookup.
    fn decide_with(
        &self,
        policy: &Policy,
        req: &Request,
        step1: impl FnOnce(&mut TokenHash) -> Found,
    ) -> Decision {
        let at = req.at;
        let mut d = Draft {
            action: &req.action,
            user: None,
            credential: None,
            tenant: None,
            steps: Steps::default(),
            key_tenant: None,
        };

        // 0. The action.
        let Some(rule) = policy.rule(&req.action) else {
            return d.deny(Reason::UnknownAction, Why::UnknownAction);
        };
        d.steps.rule = Some(rule_note(at, rule, &mut d.steps.text));

        // 1. The credential.
        let mut token = TokenHash::UNSET;
        let kind = match step1(&mut token) {
            Found::None => return d.deny(Reason::NoCredential, Why::NoCredential),
            Found::Ambiguous(n) => return d.deny(Reason::AmbiguousCredential, Why::Ambiguous(n)),
            Found::Malformed(channel, why) => {
                let channel = channel_name(channel, policy, &mut d.steps.text);
                return d.deny(Reason::MalformedCredential, Why::Malformed(channel, why));
            }
            Found::Unmatched(channel) => {
                let channel = channel_name(channel, policy, &mut d.steps.text);
                return d.deny(Reason::ApiKeyNotFound, Why::Unmatched(channel));
            }
            Found::Token(kind, channel, signature) => {
                let b = token.as_bytes();
                d.steps.credential = Some(CredentialNote {
                    kind,
                    channel: channel_name(channel, policy, &mut d.steps.text),
                    short: [b[0], b[1], b[2], b[3]],
                    signature,
                });
                kind
            }
        };

        // 2. The credential's record.
        // The slot carries the record's and its user's handles: from here
        // on no user id is hashed (state.rs "Handles").
        let slot = self.by_token.get(&token).filter(|s| s.kind == kind);
        let principal = match kind {
            CredentialKind::ApiKey => match self.live_key(slot, at, &mut d) {
                Ok(k) => Principal::ApiKey(k),
                Err((reason, why)) => return d.deny(reason, why),
            },
            CredentialKind::Session => {
                match self.live_session(slot, at, policy.session.sliding, &mut d) {
                    Ok(s) => Principal::Session(s),
                    Err((reason, why)) => return d.deny(reason, why),
                }
            }
        };
        let user: &Id = match principal {
            Principal::ApiKey(k) => &k.owner,
            Principal::Session(s) => &s.user,
        };
        let user_h = slot.map_or(NO_HANDLE, |s| s.user);
        if self.user_at(user_h).is_some_and(|u| u.banned) {
            return d.deny(Reason::UserBanned, Why::UserBanned);
        }

        // 3. The credential kind.
        if !rule.allows(kind) {
            return d.deny(
                Reason::CredentialNotAllowed,
                Why::CredentialNotAllowed(kind),
            );
        }

        // 4. The effective tenant.
        let tenant: Option<&Id> = match principal {
            Principal::ApiKey(_) if self.fault(Fault::F05) => {
                let t = req.tenant.as_ref().or(self.newest_membership(user_h, at));
                d.tenant = t;
                t
            }
            Principal::ApiKey(k) => {
                let bound = match &k.tenant {
                    Some(t) => t,
                    None if self.fault(Fault::F12) && policy.api_key.unbound == Unbound::Deny => {
                        match self.newest_membership(user_h, at) {
                            Some(t) => t,
                            None => return d.deny(Reason::NotAMember, Why::NoMembership),
                        }
                    }
                    None => match policy.api_key.unbound {
                        Unbound::Deny => return d.deny(Reason::ApiKeyUnbound, Why::Unbound),
                        Unbound::OldestMembership => match self.oldest_membership(user_h, at) {
                            Some(t) => {
                                d.steps.tenant = Some(TenantNote::Legacy);
                                t
                            }
                            None => return d.deny(Reason::NotAMember, Why::LegacyNoMembership(at)),
                        },
                    },
                };
                d.tenant = Some(bound);
                if k.tenant.is_some() {
                    // The decision's tenant is the key's own: the record
                    // line's `KeyTenant::Decision` stands, and
                    // `Draft::finish` need not compare the two ids.
                    d.key_tenant = None;
                }
                if let Some(asked) = req.tenant.as_ref().filter(|t| *t != bound) {
                    return d.deny(
                        Reason::CrossTenant,
                        Why::CrossTenant {
                            asked: asked.clone(),
                        },
                    );
                }
                Some(bound)
            }
            Principal::Session(s) => {
                let t = req.tenant.as_ref().or(s.tenant.as_ref());
                d.steps.tenant = match (t, &req.tenant) {
                    (Some(_), Some(_)) => Some(TenantNote::Named),
                    (Some(_), None) => Some(TenantNote::Active),
                    (None, _) => None,
                };
                d.tenant = t;
                t
            }
        };

        match tenant {
            None if rule.tenant == TenantRule::Required => {
                return d.deny(Reason::TenantRequired, Why::TenantRequired)
            }
            None => d.steps.tenant = Some(TenantNote::NotNeeded),
            Some(t) => {
                // 5. Membership and tenant status.
                // One lookup of the tenant for both checks; none when it is
                // the credential's own tenant, whose handle the slot holds.
                let own = slot
                    .map(|s| s.tenant)
                    .filter(|&h| h != NO_HANDLE && is_credential_tenant(&principal, t));
                let record = match own {
                    Some(h) => Some((h, self.tenant_at(h))),
                    None => self.tenants.get_full(t).map(|(h, _, r)| (h as Handle, r)),
                };
                let m = record.and_then(|(th, _)| self.member_at(user_h, th, at));
                let role = match m {
                    Some(m) => {
                        d.steps.member = Some(MemberNote {
                            role: d.steps.text.word(&m.role),
                            since: m.since,
                        });
                        m.role.as_str()
                    }
                    // F09: trusts the tenant the credential was minted for.
                    None if self.fault(Fault::F09)
                        && record.is_some()
                        && credential_tenant(&principal) == Some(t) =>
                    {
                        ""
                    }
                    None => return d.deny(Reason::NotAMember, Why::NotAMember(at)),
                };
                if record.is_some_and(|(_, r)| r.suspended) {
                    return d.deny(Reason::TenantSuspended, Why::TenantSuspended);
                }

                // 6. Role.
                if !rule.roles.is_empty() && !rule.roles.iter().any(|r| r == role) {
                    let role = d.steps.text.word(role);
                    return d.deny(Reason::InsufficientRole, Why::InsufficientRole(role));
                }

                // 7. Capability.
                if let Principal::ApiKey(k) = principal {
                    if !rule.capability.is_empty() && !has_capability(policy, k, &rule.capability) {
                        d.steps.capabilities = Some(d.steps.text.words(&k.capabilities));
                        return d.deny(
                            Reason::MissingCapability,
                            Why::MissingCapability(policy.api_key.empty_capabilities),
                        );
                    }
                }
            }
        }

        // 8. Resource.
        if rule.resource || req.resource.is_some() {
            let Some(id) = &req.resource else {
                return d.deny(Reason::ResourceNotFound, Why::NoResourceNamed);
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
                        Some(_) => Why::ResourceNotFound { id: id.clone(), at },
                        None => Why::ResourceNoTenant(id.clone()),
                    },
                );
            };
            if rule.owner_only && r.owner != *user {
                return d.deny(
                    Reason::NotResourceOwner,
                    Why::NotResourceOwner {
                        id: id.clone(),
                        tenant: r.tenant.clone(),
                        owner: r.owner.clone(),
                    },
                );
            }
            d.steps.resource = Some(ResourceNote {
                id: id.clone(),
                tenant: (tenant != Some(&r.tenant)).then(|| r.tenant.clone()),
                owner: r.owner.clone(),
            });
        }

        // 9. Allow.
        // One element is built whole (`from_buf`), not pushed: see
        // `State::session_scope`.
        let (scope, effects) = match principal {
            Principal::ApiKey(_) => (
                tenant.map_or_else(Scope::new, |t| Scope::from_buf([t.clone()])),
                Effects::new(),
            ),
            Principal::Session(s) => (
                self.session_scope(user_h, at),
                sliding_refresh(policy, s, at)
                    .map_or_else(Effects::new, |e| Effects::from_buf([e])),
            ),
        };
        d.steps.end = Some(End::Allow);
        d.finish();
        // `d.user` and `d.tenant` are `user` and `tenant` (steps 2 and 4).
        debug_assert_eq!(d.user, Some(user));
        debug_assert_eq!(d.tenant, tenant);
        Decision {
            decision: Verdict::Allow,
            reason: None,
            status: 200,
            action: CompactString::new(&req.action),
            user: d.user.cloned(),
            credential: credential_ref(d.credential),
            tenant: d.tenant.cloned(),
            scope,
            effects,
            // Built in place: a local first is one more copy of the notes.
            explain: Explain::of_steps(d.steps),
        }
    }

    /// Step 2 for an API key.
    fn live_key<'s>(
        &'s self,
        slot: Option<&Slot>,
        at: Timestamp,
        d: &mut Draft<'s>,
    ) -> Result<&'s ApiKey, (Reason, Why)> {
        let Some((_, key)) = slot.and_then(|s| self.api_keys.get_index(s.index as usize)) else {
            return Err((Reason::ApiKeyNotFound, Why::NoApiKey));
        };
        if key.created_at > at {
            return Err((
                Reason::ApiKeyNotFound,
                Why::KeyCreatedLater {
                    created_at: key.created_at,
                    at,
                },
            ));
        }
        d.user = Some(&key.owner);
        d.credential = Some((CredentialKind::ApiKey, &key.id));
        d.key_tenant = key.tenant.as_ref();
        d.steps.record = Some(RecordNote::ApiKey(match &key.tenant {
            Some(_) => KeyTenant::Decision, // resolved by `Draft::finish`
            None => KeyTenant::None,
        }));
        if let Some(t) = key.deleted_at.filter(|t| *t <= at) {
            return Err((Reason::ApiKeyDeleted, Why::KeyDeleted(t)));
        }
        if let Some(t) = key.revoked_at.filter(|t| *t <= at) {
            return Err((Reason::ApiKeyRevoked, Why::KeyRevoked(t)));
        }
        if !key.enabled {
            return Err((Reason::ApiKeyDisabled, Why::KeyDisabled));
        }
        if reached(key.expires_at, at) && !(self.fault(Fault::F13) && key.expires_at == Some(at)) {
            return Err((
                Reason::ApiKeyExpired,
                Why::KeyExpired(key.expires_at.expect("reached")),
            ));
        }
        Ok(key)
    }

    /// Step 2 for a session.
    fn live_session<'s>(
        &'s self,
        slot: Option<&Slot>,
        at: Timestamp,
        sliding: bool,
        d: &mut Draft<'s>,
    ) -> Result<&'s Session, (Reason, Why)> {
        let Some((_, s)) = slot.and_then(|s| self.sessions.get_index(s.index as usize)) else {
            return Err((Reason::SessionNotFound, Why::NoSession));
        };
        if s.created_at > at {
            return Err((
                Reason::SessionNotFound,
                Why::SessionCreatedLater {
                    created_at: s.created_at,
                    at,
                },
            ));
        }
        d.user = Some(&s.user);
        d.credential = Some((CredentialKind::Session, &s.id));
        d.steps.record = Some(RecordNote::Session {
            expires_at: s.expires_at,
        });
        if let Some(t) = s.revoked_at.filter(|t| *t <= at) {
            return Err((Reason::SessionRevoked, Why::SessionRevoked(t)));
        }
        let off_by_one = self.fault(Fault::F13) && s.expires_at == at;
        let revived = self.fault(Fault::F08) && sliding;
        if s.expires_at <= at && !off_by_one && !revived {
            return Err((Reason::SessionExpired, Why::SessionExpired(s.expires_at)));
        }
        Ok(s)
    }

    /// The membership of the user at `user` in the tenant at `tenant` that
    /// exists at `at`.
    #[inline]
    fn member_at(&self, user: Handle, tenant: Handle, at: Timestamp) -> Option<&Member> {
        self.links_at(user)?
            .member(tenant)
            .filter(|m| m.since <= at)
    }

    /// The user's memberships that exist at `at`, in tenant-id order.
    fn members_at(&self, user: Handle, at: Timestamp) -> impl Iterator<Item = &Member> {
        self.links_at(user)
            .into_iter()
            .flat_map(|l| l.members.iter())
            .filter(move |m| m.since <= at)
    }

    /// The membership with the largest (`since`, tenant id): only faults use it.
    fn newest_membership(&self, user: Handle, at: Timestamp) -> Option<&Id> {
        self.members_at(user, at)
            .map(|m| (m.since, self.tenant_id(m.tenant)))
            .max()
            .map(|(_, t)| t)
    }

    /// The owner's membership with the smallest (`since`, tenant id) at `at`.
    pub(crate) fn oldest_membership(&self, user: Handle, at: Timestamp) -> Option<&Id> {
        self.members_at(user, at)
            .map(|m| (m.since, self.tenant_id(m.tenant)))
            .min()
            .map(|(_, t)| t)
    }

    /// A session allow's scope: the sorted ids of the non-suspended tenants
    /// the user is a member of at `at` (the links keep tenant-id order).
    ///
    /// The usual one tenant is built whole (`from_buf`): pushed, the
    /// vector's length and the id were written in pieces that the copy
    /// of the returned vector then read across, a store-forwarding stall;
    /// and `collect` (its `extend` reserving by the size hint first) cost
    /// twice as much. Two or more are pushed, spilling to the heap as
    /// before.
    pub(crate) fn session_scope(&self, user: Handle, at: Timestamp) -> Scope {
        let mut tenants = self
            .members_at(user, at)
            .filter(|m| !self.tenant_at(m.tenant).suspended)
            .map(|m| self.tenant_id(m.tenant));
        let Some(first) = tenants.next() else {
            return Scope::new();
        };
        let Some(second) = tenants.next() else {
            return Scope::from_buf([first.clone()]);
        };
        let mut scope = Scope::new();
        scope.push(first.clone());
        scope.push(second.clone());
        for t in tenants {
            scope.push(t.clone());
        }
        scope
    }
}

/// The decision's credential, cloned from the draft's.
fn credential_ref(c: Option<(CredentialKind, &Id)>) -> Option<CredentialRef> {
    c.map(|(kind, id)| CredentialRef {
        kind,
        id: id.clone(),
    })
}

/// Whether `t` is the credential's own tenant. Usually it is that very
/// id (a bound key's tenant, a session's active one): then no bytes are
/// compared.
fn is_credential_tenant(p: &Principal<'_>, t: &Id) -> bool {
    credential_tenant(p).is_some_and(|c| std::ptr::eq(c, t) || c == t)
}

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

/// The rule line's note: what it names of the policy's rule (the action is
/// the decision's). Roles and capability are copied into the notes' text.
///
/// Inlined: called, it returned the note through memory that was read
/// back at once in other widths, a store-forwarding stall on every
/// decision.
#[inline(always)]
fn rule_note(at: Timestamp, rule: &ActionRule, text: &mut Text) -> RuleNote {
    RuleNote {
        at,
        credentials: Kinds::of(&rule.credentials),
        tenant: rule.tenant,
        roles: text.words(&rule.roles),
        capability: text.word(&rule.capability),
        resource: rule.resource,
        owner_only: rule.owner_only,
    }
}
