//! Commands applied to the state (SPEC §8).
//!
//! Every command first runs its checks, in the order SPEC §8 lists its
//! rejections, without touching the state; only then does it write, and it
//! reports each write as a [`Change`]. So a rejection leaves the state
//! exactly as it was, and an `ok` always names what changed: there is no
//! path that reports success for a write that matched nothing (F11, I7).

use serde::Serialize;
use serde_json::Value;

use crate::{
    is_valid_token,
    snapshot::{reached, ApiKey, Membership, Resource, Session, Tenant, User},
    state::{Pair, PairRef, NO_HANDLE},
    Change, Command, CommandResult, Effect, Fault, Id, Op, Policy, RecordRef, Rejection, State,
    Timestamp, Token,
};

type Check<T> = Result<T, (Rejection, String)>;

fn reject<T>(reason: Rejection, why: impl Into<String>) -> Check<T> {
    Err((reason, why.into()))
}

fn json(v: impl Serialize) -> Value {
    serde_json::to_value(v).expect("plain data serializes")
}

fn update(record: RecordRef, field: &str, from: impl Serialize, to: impl Serialize) -> Change {
    Change::Update {
        record,
        field: field.to_string(),
        from: json(from),
        to: json(to),
    }
}

impl State {
    /// Applies one command under `policy`. A rejection changes nothing.
    ///
    /// The caller is responsible for the command order (non-decreasing `at`,
    /// an input error): see [`crate::load::commands_jsonl`].
    pub fn apply(&mut self, policy: &Policy, cmd: &Command) -> CommandResult {
        let op = cmd.op.op_name();
        if let Some(req) = cmd.request() {
            let decision = self.decide(policy, &req);
            for effect in &decision.effects {
                let Effect::ExtendSession {
                    session,
                    expires_at,
                } = effect;
                if let Some(s) = self.sessions.get_mut(session) {
                    s.expires_at = *expires_at;
                }
            }
            return CommandResult::Decision {
                op,
                decision: Box::new(decision),
            };
        }
        match self.run(policy, cmd.at, &cmd.op) {
            Ok(changes) => {
                debug_assert!(
                    !changes.is_empty() || cfg!(feature = "faults"),
                    "ok without a change is a silent write"
                );
                CommandResult::Ok { op, changes }
            }
            // F11: a write that matched no record "succeeds".
            Err((
                Rejection::ApiKeyNotFound
                | Rejection::SessionNotFound
                | Rejection::ResourceNotFound
                | Rejection::UnknownUser
                | Rejection::UnknownTenant,
                _,
            )) if self.fault(Fault::F11) => CommandResult::Ok {
                op,
                changes: Vec::new(),
            },
            Err((reason, explain)) => CommandResult::Rejected {
                op,
                reason,
                explain,
            },
        }
    }

    fn run(&mut self, policy: &Policy, at: Timestamp, op: &Op) -> Check<Vec<Change>> {
        match op {
            Op::CreateTenant { tenant } => {
                if self.tenants.contains_key(tenant) {
                    return reject(Rejection::DuplicateId, format!("tenant {tenant:?} exists"));
                }
                self.tenants.insert(
                    tenant.clone(),
                    Tenant {
                        id: tenant.clone(),
                        suspended: false,
                    },
                );
                Ok(vec![Change::Create {
                    record: RecordRef::Tenant { id: tenant.clone() },
                }])
            }
            Op::SuspendTenant { tenant } | Op::ReinstateTenant { tenant } => {
                let suspend = matches!(op, Op::SuspendTenant { .. });
                let Some(t) = self.tenants.get_mut(tenant) else {
                    return reject(Rejection::UnknownTenant, format!("no tenant {tenant:?}"));
                };
                if t.suspended == suspend {
                    return reject(
                        Rejection::NoChange,
                        format!(
                            "tenant {tenant:?} is already {}",
                            if suspend { "suspended" } else { "active" }
                        ),
                    );
                }
                t.suspended = suspend;
                Ok(vec![update(
                    RecordRef::Tenant { id: tenant.clone() },
                    "suspended",
                    !suspend,
                    suspend,
                )])
            }
            Op::CreateUser { user } => {
                if self.users.contains_key(user) {
                    return reject(Rejection::DuplicateId, format!("user {user:?} exists"));
                }
                self.insert_user(User {
                    id: user.clone(),
                    banned: false,
                });
                Ok(vec![Change::Create {
                    record: RecordRef::User { id: user.clone() },
                }])
            }
            Op::BanUser { user } | Op::UnbanUser { user } => {
                let ban = matches!(op, Op::BanUser { .. });
                let Some(u) = self.users.get_mut(user) else {
                    return reject(Rejection::UnknownUser, format!("no user {user:?}"));
                };
                if u.banned == ban {
                    return reject(
                        Rejection::NoChange,
                        format!(
                            "user {user:?} is already {}",
                            if ban { "banned" } else { "not banned" }
                        ),
                    );
                }
                u.banned = ban;
                let mut changes = vec![update(
                    RecordRef::User { id: user.clone() },
                    "banned",
                    !ban,
                    ban,
                )];
                if ban && !self.fault(Fault::F16) {
                    // A ban ends the user's live sessions for good: unban
                    // does not bring them back (F16).
                    let ours = (self.users.get_index_of(user))
                        .map_or(&[][..], |h| &self.links[h].sessions[..]);
                    for &i in ours {
                        let s = &mut self.sessions[i as usize];
                        if is_live(s, at) {
                            changes.push(update(
                                RecordRef::Session { id: s.id.clone() },
                                "revoked_at",
                                s.revoked_at,
                                at,
                            ));
                            s.revoked_at = Some(at);
                        }
                    }
                }
                Ok(changes)
            }
            Op::AddMember { user, tenant, role } => {
                if !self.users.contains_key(user) {
                    return reject(Rejection::UnknownUser, format!("no user {user:?}"));
                }
                if !self.tenants.contains_key(tenant) {
                    return reject(Rejection::UnknownTenant, format!("no tenant {tenant:?}"));
                }
                if self.membership(user, tenant).is_some() {
                    return reject(
                        Rejection::AlreadyMember,
                        format!("{user:?} is already a member of {tenant:?}"),
                    );
                }
                self.insert_membership(Membership {
                    user: user.clone(),
                    tenant: tenant.clone(),
                    role: role.as_str().into(),
                    since: at,
                });
                Ok(vec![Change::Create {
                    record: membership_ref(user, tenant),
                }])
            }
            Op::RemoveMember { user, tenant } => {
                if self.membership_at(user, tenant, at).is_none() {
                    return reject(
                        Rejection::NotAMember,
                        format!("{user:?} is not a member of {tenant:?} at {at}"),
                    );
                }
                self.remove_membership(user, tenant);
                let mut changes = vec![Change::Delete {
                    record: membership_ref(user, tenant),
                }];
                // The user's keys stay (they work again on re-add); sessions
                // that pointed at the tenant lose it as their active tenant.
                let ours = (self.users.get_index_of(user))
                    .map_or(&[][..], |h| &self.links[h].sessions[..]);
                for &i in ours {
                    let s = &mut self.sessions[i as usize];
                    if s.tenant.as_ref() == Some(tenant) {
                        changes.push(update(
                            RecordRef::Session { id: s.id.clone() },
                            "tenant",
                            &s.tenant,
                            Value::Null,
                        ));
                        s.tenant = None;
                        if let Some(slot) = self.by_token.write().get_mut(&s.token_sha256) {
                            slot.tenant = NO_HANDLE;
                        }
                    }
                }
                Ok(changes)
            }
            Op::SetRole { user, tenant, role } => {
                if self.membership_at(user, tenant, at).is_none() {
                    return reject(
                        Rejection::NotAMember,
                        format!("{user:?} is not a member of {tenant:?} at {at}"),
                    );
                }
                let m = self.membership(user, tenant).expect("checked above");
                if m.role == *role {
                    return reject(
                        Rejection::NoChange,
                        format!("{user:?} already has role {role:?} in {tenant:?}"),
                    );
                }
                let change = update(membership_ref(user, tenant), "role", &m.role, role);
                self.set_role(user, tenant, role);
                Ok(vec![change])
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
                if self.api_keys.contains_key(key) {
                    return reject(Rejection::DuplicateId, format!("api key {key:?} exists"));
                }
                let hash = self.unused_token(token)?;
                let Some(prefix) = is_valid_token(token.expose())
                    .then(|| policy.api_key_prefix(token.expose()))
                    .flatten()
                else {
                    return reject(
                        Rejection::InvalidToken,
                        format!(
                            "token sha256 {} is not a valid token starting with one of {:?}",
                            hash.short(),
                            policy.api_key.prefixes
                        ),
                    );
                };
                if !self.tenants.contains_key(tenant)
                    || self.membership_at(owner, tenant, at).is_none()
                {
                    return reject(
                        Rejection::NotAMember,
                        format!("owner {owner:?} is not a member of {tenant:?} at {at}"),
                    );
                }
                if self.users[owner].banned {
                    return reject(Rejection::UserBanned, format!("owner {owner:?} is banned"));
                }
                let k = ApiKey {
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
                };
                self.insert_api_key(k);
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
                // F15: the revoked check is skipped, and enabling clears it.
                let k = self.updatable_key(key, at, !self.fault(Fault::F15))?;
                if self.fault(Fault::F15) && *enabled == Some(true) && k.revoked_at.is_some() {
                    let change = update(
                        RecordRef::ApiKey { id: key.clone() },
                        "revoked_at",
                        k.revoked_at,
                        Value::Null,
                    );
                    let k = self.api_keys.get_mut(key).expect("checked above");
                    k.revoked_at = None;
                    k.enabled = true;
                    return Ok(vec![change]);
                }
                // F06: re-pointing a key at another tenant or owner is accepted.
                if self.fault(Fault::F06) && !immutable.is_empty() {
                    let mut changes = Vec::new();
                    for (field, v) in immutable {
                        let Some(id) = v.as_str().and_then(|v| Id::new(v).ok()) else {
                            continue;
                        };
                        let r = RecordRef::ApiKey { id: key.clone() };
                        let k = self.api_keys.get_mut(key).expect("checked above");
                        match field.as_str() {
                            "tenant" => {
                                changes.push(update(r, "tenant", &k.tenant, &id));
                                self.set_key_tenant(key, id);
                            }
                            "owner" => {
                                changes.push(update(r, "owner", &k.owner, &id));
                                self.set_key_owner(key, id);
                            }
                            _ => {}
                        }
                    }
                    if !changes.is_empty() {
                        return Ok(changes);
                    }
                }
                if !immutable.is_empty() {
                    let fields: Vec<&str> = immutable.keys().map(String::as_str).collect();
                    return reject(
                        Rejection::ImmutableField,
                        format!("update of key {key:?} names {fields:?}; only name, enabled and expires_at may change"),
                    );
                }
                let r = || RecordRef::ApiKey { id: key.clone() };
                let mut changes = Vec::new();
                if let Some(n) = name.as_ref().filter(|n| **n != k.name) {
                    changes.push(update(r(), "name", &k.name, n));
                }
                if let Some(e) = enabled.filter(|e| *e != k.enabled) {
                    changes.push(update(r(), "enabled", k.enabled, e));
                }
                if let Some(x) = expires_at.filter(|x| *x != k.expires_at) {
                    changes.push(update(r(), "expires_at", k.expires_at, x));
                }
                if changes.is_empty() {
                    return reject(
                        Rejection::NoChange,
                        format!("update of key {key:?} changes nothing"),
                    );
                }
                let k = self.api_keys.get_mut(key).expect("checked above");
                if let Some(n) = name {
                    k.name = n.as_str().into();
                }
                if let Some(e) = enabled {
                    k.enabled = *e;
                }
                if let Some(x) = expires_at {
                    k.expires_at = *x;
                }
                Ok(changes)
            }
            Op::RevokeApiKey { key } => {
                let k = self.updatable_key(key, at, true)?;
                let change = update(
                    RecordRef::ApiKey { id: key.clone() },
                    "revoked_at",
                    k.revoked_at,
                    at,
                );
                self.api_keys[key].revoked_at = Some(at);
                Ok(vec![change])
            }
            Op::DeleteApiKey { key } => {
                let k = self.updatable_key(key, at, false)?;
                let change = update(
                    RecordRef::ApiKey { id: key.clone() },
                    "deleted_at",
                    k.deleted_at,
                    at,
                );
                self.api_keys[key].deleted_at = Some(at);
                Ok(vec![change])
            }
            Op::Login {
                session,
                user,
                token,
                tenant,
            } => {
                if self.sessions.contains_key(session) {
                    return reject(
                        Rejection::DuplicateId,
                        format!("session {session:?} exists"),
                    );
                }
                let hash = self.unused_token(token)?;
                if !is_valid_token(token.expose())
                    || policy.api_key_prefix(token.expose()).is_some()
                {
                    return reject(
                        Rejection::InvalidToken,
                        format!("token sha256 {} is not a valid session token (or starts with an API-key prefix)", hash.short()),
                    );
                }
                let Some(u) = self.users.get(user) else {
                    return reject(Rejection::UnknownUser, format!("no user {user:?}"));
                };
                if u.banned {
                    return reject(Rejection::UserBanned, format!("user {user:?} is banned"));
                }
                if let Some(t) = tenant {
                    if !self.tenants.contains_key(t) || self.membership_at(user, t, at).is_none() {
                        return reject(
                            Rejection::NotAMember,
                            format!("{user:?} is not a member of {t:?} at {at}"),
                        );
                    }
                }
                let mut expires_at = at.saturating_add(policy.session.ttl);
                if let Some(max) = policy.session.absolute_max {
                    expires_at = expires_at.min(at.saturating_add(max));
                }
                self.insert_session(Session {
                    id: session.clone(),
                    user: user.clone(),
                    tenant: tenant.clone(),
                    token_sha256: hash,
                    created_at: at,
                    expires_at,
                    revoked_at: None,
                });
                Ok(vec![Change::Create {
                    record: RecordRef::Session {
                        id: session.clone(),
                    },
                }])
            }
            Op::Logout { session } => {
                let s = self.live_session_for(session, at)?;
                let change = update(
                    RecordRef::Session {
                        id: session.clone(),
                    },
                    "revoked_at",
                    s.revoked_at,
                    at,
                );
                self.sessions[session].revoked_at = Some(at);
                Ok(vec![change])
            }
            Op::SwitchTenant { session, tenant } => {
                let s = self.live_session_for(session, at)?;
                if !self.tenants.contains_key(tenant)
                    || self.membership_at(&s.user, tenant, at).is_none()
                {
                    return reject(
                        Rejection::NotAMember,
                        format!("{:?} is not a member of {tenant:?} at {at}", s.user),
                    );
                }
                if self.tenants[tenant].suspended {
                    return reject(
                        Rejection::TenantSuspended,
                        format!("tenant {tenant:?} is suspended"),
                    );
                }
                if s.tenant.as_ref() == Some(tenant) {
                    return reject(
                        Rejection::NoChange,
                        format!("session {session:?} already acts in {tenant:?}"),
                    );
                }
                let change = update(
                    RecordRef::Session {
                        id: session.clone(),
                    },
                    "tenant",
                    &s.tenant,
                    tenant,
                );
                let index = self.sessions.get_index_of(session).expect("live session");
                self.set_session_tenant(index, Some(tenant.clone()));
                Ok(vec![change])
            }
            Op::CreateResource {
                tenant,
                resource,
                owner,
            } => {
                if self.resource(tenant, resource).is_some() {
                    return reject(
                        Rejection::DuplicateId,
                        format!("resource {resource:?} exists in {tenant:?}"),
                    );
                }
                if !self.tenants.contains_key(tenant) {
                    return reject(Rejection::UnknownTenant, format!("no tenant {tenant:?}"));
                }
                if self.membership_at(owner, tenant, at).is_none() {
                    return reject(
                        Rejection::NotAMember,
                        format!("owner {owner:?} is not a member of {tenant:?} at {at}"),
                    );
                }
                self.resources.insert(
                    Pair(tenant.clone(), resource.clone()),
                    Resource {
                        tenant: tenant.clone(),
                        id: resource.clone(),
                        owner: owner.clone(),
                        created_at: at,
                    },
                );
                Ok(vec![Change::Create {
                    record: resource_ref(tenant, resource),
                }])
            }
            Op::DeleteResource { tenant, resource } => {
                if self
                    .resource(tenant, resource)
                    .filter(|r| r.created_at <= at)
                    .is_none()
                {
                    return reject(
                        Rejection::ResourceNotFound,
                        format!("no resource {resource:?} in {tenant:?} at {at}"),
                    );
                }
                self.resources.shift_remove(&PairRef(tenant, resource));
                Ok(vec![Change::Delete {
                    record: resource_ref(tenant, resource),
                }])
            }
            Op::Authenticate { .. } => unreachable!("handled by apply"),
        }
    }

    /// The hash of a token no key or session uses yet.
    fn unused_token(&self, token: &Token) -> Check<crate::TokenHash> {
        let hash = token.hash();
        if self.by_token.contains_key(&hash) {
            return reject(
                Rejection::DuplicateToken,
                format!("token sha256 {} is already in use", hash.short()),
            );
        }
        Ok(hash)
    }

    /// A key that exists at `at` and is not deleted (nor revoked, when
    /// `not_revoked`): the checks of update, revoke and delete, in order.
    fn updatable_key(&self, key: &Id, at: Timestamp, not_revoked: bool) -> Check<ApiKey> {
        let Some(k) = self.api_keys.get(key).filter(|k| k.created_at <= at) else {
            return reject(
                Rejection::ApiKeyNotFound,
                format!("no api key {key:?} at {at}"),
            );
        };
        if reached(k.deleted_at, at) {
            return reject(
                Rejection::ApiKeyDeleted,
                format!("api key {key:?} is deleted"),
            );
        }
        if not_revoked && reached(k.revoked_at, at) {
            return reject(
                Rejection::ApiKeyRevoked,
                format!("api key {key:?} is revoked; a revoked key stays revoked"),
            );
        }
        Ok(k.clone())
    }

    /// A session that exists and is neither revoked nor expired at `at`.
    fn live_session_for(&self, session: &Id, at: Timestamp) -> Check<Session> {
        let Some(s) = self.sessions.get(session).filter(|s| s.created_at <= at) else {
            return reject(
                Rejection::SessionNotFound,
                format!("no session {session:?} at {at}"),
            );
        };
        if reached(s.revoked_at, at) {
            return reject(
                Rejection::SessionRevoked,
                format!("session {session:?} is revoked"),
            );
        }
        if s.expires_at <= at {
            return reject(
                Rejection::SessionExpired,
                format!("session {session:?} expired at {}", s.expires_at),
            );
        }
        Ok(s.clone())
    }
}

/// Created, not revoked and not expired at `at`.
fn is_live(s: &Session, at: Timestamp) -> bool {
    s.created_at <= at && !reached(s.revoked_at, at) && s.expires_at > at
}

fn membership_ref(user: &Id, tenant: &Id) -> RecordRef {
    RecordRef::Membership {
        user: user.clone(),
        tenant: tenant.clone(),
    }
}

fn resource_ref(tenant: &Id, id: &Id) -> RecordRef {
    RecordRef::Resource {
        tenant: tenant.clone(),
        id: id.clone(),
    }
}
