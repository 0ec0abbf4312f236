//! The indexed state: a snapshot checked for integrity, with the lookups a
//! decision needs in O(1) of the snapshot's size.
//!
//! Indexes: token hash → key or session; (user, tenant) → membership;
//! (tenant, id) → resource; user → tenants and user → sessions (bounded by
//! one user's records, not the snapshot). Records keep their input order
//! (`IndexMap`), so exporting a state after commands gives byte-identical
//! JSON for the same inputs, with new records appended in command order.

use std::collections::{BTreeSet, HashMap};

use indexmap::{Equivalent, IndexMap};

use crate::{
    snapshot::{ApiKey, Membership, Resource, Session, Snapshot, Tenant, User},
    FieldError, Id, Timestamp, TokenHash,
};

/// Key of a record identified by two ids: (user, tenant) or (tenant, id).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Pair(pub Id, pub Id);

/// Borrowed form of [`Pair`], so lookups do not allocate. Hashes like `Pair`
/// because `Id` hashes like `str` and both hash their fields in order.
#[derive(Hash)]
pub(crate) struct PairRef<'a>(pub &'a str, pub &'a str);

impl Equivalent<Pair> for PairRef<'_> {
    fn equivalent(&self, key: &Pair) -> bool {
        key.0.as_str() == self.0 && key.1.as_str() == self.1
    }
}

/// A credential record found by its token hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    ApiKey(usize),
    Session(usize),
}

/// The engine's state. Build it with [`State::from_snapshot`], decide with
/// [`State::decide`], change it with [`State::apply`].
#[derive(Clone, Debug, Default)]
pub struct State {
    pub(crate) taken_at: Option<Timestamp>,
    pub(crate) tenants: IndexMap<Id, Tenant>,
    pub(crate) users: IndexMap<Id, User>,
    pub(crate) memberships: IndexMap<Pair, Membership>,
    pub(crate) api_keys: IndexMap<Id, ApiKey>,
    pub(crate) sessions: IndexMap<Id, Session>,
    pub(crate) resources: IndexMap<Pair, Resource>,
    /// Keys and sessions are never removed, so their indexes are stable.
    pub(crate) by_token: HashMap<TokenHash, Slot>,
    /// user → tenants with a membership record (any `since`).
    pub(crate) tenants_of: HashMap<Id, BTreeSet<Id>>,
    /// user → indexes of the user's sessions.
    pub(crate) sessions_of: HashMap<Id, Vec<usize>>,
    /// The injected fault, in builds with the `faults` feature only.
    #[cfg(feature = "faults")]
    pub(crate) fault: Option<crate::Fault>,
}

impl State {
    /// Builds the state, checking SPEC §2 integrity. The error names the
    /// offending record by JSON path and the rule it breaks.
    pub fn from_snapshot(s: Snapshot) -> Result<State, FieldError> {
        let mut st = State {
            taken_at: s.taken_at,
            ..State::default()
        };
        for (i, t) in s.tenants.into_iter().enumerate() {
            if st.tenants.contains_key(&t.id) {
                return Err(dup(format!("$.tenants[{i}].id"), "tenant", &t.id));
            }
            st.tenants.insert(t.id.clone(), t);
        }
        for (i, u) in s.users.into_iter().enumerate() {
            if st.users.contains_key(&u.id) {
                return Err(dup(format!("$.users[{i}].id"), "user", &u.id));
            }
            st.users.insert(u.id.clone(), u);
        }
        for (i, m) in s.memberships.into_iter().enumerate() {
            let at = |f: &str| format!("$.memberships[{i}].{f}");
            st.user_exists(&m.user, at("user"))?;
            st.tenant_exists(&m.tenant, at("tenant"))?;
            let key = Pair(m.user.clone(), m.tenant.clone());
            if st.memberships.contains_key(&key) {
                return Err(FieldError::new(
                    format!("$.memberships[{i}]"),
                    format_args!(
                        "duplicate membership of user {:?} in tenant {:?} (rule: unique (user, tenant) memberships)",
                        m.user, m.tenant
                    ),
                ));
            }
            st.tenants_of
                .entry(m.user.clone())
                .or_default()
                .insert(m.tenant.clone());
            st.memberships.insert(key, m);
        }
        for (i, k) in s.api_keys.into_iter().enumerate() {
            let at = |f: &str| format!("$.api_keys[{i}].{f}");
            if st.api_keys.contains_key(&k.id) {
                return Err(dup(at("id"), "api key", &k.id));
            }
            st.user_exists(&k.owner, at("owner"))?;
            if let Some(t) = &k.tenant {
                st.tenant_exists(t, at("tenant"))?;
            }
            st.token_unique(&k.token_sha256, at("token_sha256"))?;
            st.by_token
                .insert(k.token_sha256, Slot::ApiKey(st.api_keys.len()));
            st.api_keys.insert(k.id.clone(), k);
        }
        for (i, x) in s.sessions.into_iter().enumerate() {
            let at = |f: &str| format!("$.sessions[{i}].{f}");
            if st.sessions.contains_key(&x.id) {
                return Err(dup(at("id"), "session", &x.id));
            }
            st.user_exists(&x.user, at("user"))?;
            if let Some(t) = &x.tenant {
                st.tenant_exists(t, at("tenant"))?;
            }
            if x.created_at > x.expires_at {
                return Err(FieldError::new(
                    at("expires_at"),
                    format_args!(
                        "session {:?} expires before it is created (rule: created_at <= expires_at)",
                        x.id
                    ),
                ));
            }
            st.token_unique(&x.token_sha256, at("token_sha256"))?;
            st.insert_session(x);
        }
        for (i, r) in s.resources.into_iter().enumerate() {
            let at = |f: &str| format!("$.resources[{i}].{f}");
            st.tenant_exists(&r.tenant, at("tenant"))?;
            st.user_exists(&r.owner, at("owner"))?;
            let key = Pair(r.tenant.clone(), r.id.clone());
            if st.resources.contains_key(&key) {
                return Err(FieldError::new(
                    format!("$.resources[{i}]"),
                    format_args!(
                        "duplicate resource {:?} in tenant {:?} (rule: unique (tenant, id) resources)",
                        r.id, r.tenant
                    ),
                ));
            }
            st.resources.insert(key, r);
        }
        Ok(st)
    }

    /// Switches an injected fault on (or off with `None`). Only in builds
    /// with the `faults` feature: see [`crate::Fault`].
    #[cfg(feature = "faults")]
    pub fn inject(&mut self, fault: Option<crate::Fault>) {
        self.fault = fault;
    }

    /// Whether fault `f` is injected. A constant `false` without the
    /// `faults` feature, so the fault branches compile away.
    #[inline(always)]
    pub(crate) fn fault(&self, f: crate::Fault) -> bool {
        #[cfg(feature = "faults")]
        {
            self.fault == Some(f)
        }
        #[cfg(not(feature = "faults"))]
        {
            let _ = f;
            false
        }
    }

    /// The state as a snapshot, records in their stable order.
    pub fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            taken_at: self.taken_at,
            tenants: self.tenants.values().cloned().collect(),
            users: self.users.values().cloned().collect(),
            memberships: self.memberships.values().cloned().collect(),
            api_keys: self.api_keys.values().cloned().collect(),
            sessions: self.sessions.values().cloned().collect(),
            resources: self.resources.values().cloned().collect(),
        }
    }

    /// When the snapshot was taken, if it says.
    pub fn taken_at(&self) -> Option<Timestamp> {
        self.taken_at
    }

    /// Number of records of every kind, for reports.
    pub fn record_count(&self) -> usize {
        self.tenants.len()
            + self.users.len()
            + self.memberships.len()
            + self.api_keys.len()
            + self.sessions.len()
            + self.resources.len()
    }

    /// All API keys, in order.
    pub fn api_keys(&self) -> impl Iterator<Item = &ApiKey> {
        self.api_keys.values()
    }

    /// All sessions, in order.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }

    /// All tenants, in order.
    pub fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        self.tenants.values()
    }

    /// All users, in order.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// All memberships, in order.
    pub fn memberships(&self) -> impl Iterator<Item = &Membership> {
        self.memberships.values()
    }

    /// All resources, in order.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.resources.values()
    }

    pub(crate) fn membership(&self, user: &str, tenant: &str) -> Option<&Membership> {
        self.memberships.get(&PairRef(user, tenant))
    }

    /// The membership of `user` in `tenant` that exists at `at`.
    pub(crate) fn membership_at(
        &self,
        user: &str,
        tenant: &str,
        at: Timestamp,
    ) -> Option<&Membership> {
        self.membership(user, tenant).filter(|m| m.since <= at)
    }

    pub(crate) fn resource(&self, tenant: &str, id: &str) -> Option<&Resource> {
        self.resources.get(&PairRef(tenant, id))
    }

    pub(crate) fn insert_session(&mut self, x: Session) {
        let index = self.sessions.len();
        self.by_token.insert(x.token_sha256, Slot::Session(index));
        self.sessions_of
            .entry(x.user.clone())
            .or_default()
            .push(index);
        self.sessions.insert(x.id.clone(), x);
    }

    fn user_exists(&self, id: &Id, path: String) -> Result<(), FieldError> {
        if self.users.contains_key(id) {
            Ok(())
        } else {
            Err(dangling(path, "user", id))
        }
    }

    fn tenant_exists(&self, id: &Id, path: String) -> Result<(), FieldError> {
        if self.tenants.contains_key(id) {
            Ok(())
        } else {
            Err(dangling(path, "tenant", id))
        }
    }

    fn token_unique(&self, h: &TokenHash, path: String) -> Result<(), FieldError> {
        match self.by_token.get(h) {
            None => Ok(()),
            Some(slot) => {
                let other = match *slot {
                    Slot::ApiKey(i) => format!("api key {:?}", self.api_keys[i].id),
                    Slot::Session(i) => format!("session {:?}", self.sessions[i].id),
                };
                Err(FieldError::new(
                    path,
                    format_args!(
                        "token_sha256 {}… is already used by {other} (rule: token_sha256 unique across keys and sessions)",
                        h.short()
                    ),
                ))
            }
        }
    }
}

fn dup(path: String, what: &str, id: &Id) -> FieldError {
    FieldError::new(
        path,
        format_args!("duplicate {what} id {id:?} (rule: unique ids per collection)"),
    )
}

fn dangling(path: String, what: &str, id: &Id) -> FieldError {
    FieldError::new(
        path,
        format_args!("dangling reference: no {what} {id:?} (rule: every reference resolves)"),
    )
}
