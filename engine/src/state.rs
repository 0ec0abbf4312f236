//! The indexed state: a snapshot checked for integrity, with the lookups a
//! decision needs in O(1) of the snapshot's size.
//!
//! Indexes: token hash → key or session; (user, tenant) → membership;
//! (tenant, id) → resource; user → tenants and user → sessions (bounded by
//! one user's records, not the snapshot). Records keep their input order
//! (`IndexMap`), so exporting a state after commands gives byte-identical
//! JSON for the same inputs, with new records appended in command order.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use indexmap::{Equivalent, IndexMap};

use crate::{
    snapshot::{ApiKey, Membership, Resource, Session, Snapshot, Tenant, User},
    Error, Id, Timestamp, TokenHash,
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

/// Hashes a [`TokenHash`] by taking 8 bytes of the digest: SHA-256 output is
/// already uniform, so running SipHash over it again buys nothing. The key
/// is a hash of a secret chosen by the presenter, but an attacker who can
/// find tokens whose SHA-256 collide in 8 bytes can already break SHA-256,
/// so this gives no HashDoS handle.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `TokenHash` hashes as one `[u8; 32]` write (a length prefix
        // first, which is folded in and changes nothing useful).
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(5) ^ n as u64;
    }
}

/// The index of credentials by token hash.
pub(crate) type TokenIndex = HashMap<TokenHash, Slot, BuildHasherDefault<DigestHasher>>;

/// A small sorted set of ids: one user's tenants. Most users have one or
/// two, where a `BTreeSet` would allocate a whole node (11 slots, about
/// 280 bytes) per user; the methods are the `BTreeSet` ones the engine uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SortedIds(Vec<Id>);

impl SortedIds {
    /// Adds `id`; false if it was already there.
    pub(crate) fn insert(&mut self, id: Id) -> bool {
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                // Tight for the usual one or two tenants, amortized beyond.
                if self.0.len() < 4 {
                    self.0.reserve_exact(1);
                }
                self.0.insert(at, id);
                true
            }
        }
    }

    /// Removes `id`; false if it was not there.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        match self.0.binary_search_by(|x| x.as_str().cmp(id)) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// The ids in ascending order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Id> {
        self.0.iter()
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
    pub(crate) by_token: TokenIndex,
    /// user → tenants with a membership record (any `since`).
    pub(crate) tenants_of: HashMap<Id, SortedIds>,
    /// user → indexes of the user's sessions.
    pub(crate) sessions_of: HashMap<Id, Vec<usize>>,
    /// The injected fault, in builds with the `faults` feature only.
    #[cfg(feature = "faults")]
    pub(crate) fault: Option<crate::Fault>,
}

impl State {
    /// Builds the state, checking SPEC §2 integrity. The error names the
    /// offending record by JSON path and the rule it breaks.
    pub fn from_snapshot(s: Snapshot) -> Result<State, Error> {
        // Pre-sized: no rehashing or regrowing while loading, and no
        // capacity left over from doubling.
        let mut st = State {
            taken_at: s.taken_at,
            tenants: IndexMap::with_capacity(s.tenants.len()),
            users: IndexMap::with_capacity(s.users.len()),
            memberships: IndexMap::with_capacity(s.memberships.len()),
            api_keys: IndexMap::with_capacity(s.api_keys.len()),
            sessions: IndexMap::with_capacity(s.sessions.len()),
            resources: IndexMap::with_capacity(s.resources.len()),
            by_token: TokenIndex::with_capacity_and_hasher(
                s.api_keys.len() + s.sessions.len(),
                Default::default(),
            ),
            ..State::default()
        };
        for (i, t) in s.tenants.into_iter().enumerate() {
            if let Some(j) = st.tenants.get_index_of(&t.id) {
                return Err(dup(
                    format!("$.tenants[{i}].id"),
                    "tenant",
                    format!("$.tenants[{j}]"),
                ));
            }
            st.tenants.insert(t.id.clone(), t);
        }
        for (i, u) in s.users.into_iter().enumerate() {
            if let Some(j) = st.users.get_index_of(&u.id) {
                return Err(dup(
                    format!("$.users[{i}].id"),
                    "user",
                    format!("$.users[{j}]"),
                ));
            }
            st.users.insert(u.id.clone(), u);
        }
        for (i, m) in s.memberships.into_iter().enumerate() {
            let at = |f: &str| format!("$.memberships[{i}].{f}");
            st.user_exists(&m.user, || at("user"))?;
            st.tenant_exists(&m.tenant, || at("tenant"))?;
            let key = Pair(m.user.clone(), m.tenant.clone());
            if let Some(j) = st.memberships.get_index_of(&key) {
                return Err(Error::at_path(
                    format!("$.memberships[{i}]"),
                    format_args!(
                        "duplicate membership: the same user and tenant as $.memberships[{j}] (rule: unique (user, tenant) memberships)"
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
            if let Some(j) = st.api_keys.get_index_of(&k.id) {
                return Err(dup(at("id"), "api key", format!("$.api_keys[{j}]")));
            }
            st.user_exists(&k.owner, || at("owner"))?;
            if let Some(t) = &k.tenant {
                st.tenant_exists(t, || at("tenant"))?;
            }
            st.token_unique(&k.token_sha256, || at("token_sha256"))?;
            st.by_token
                .insert(k.token_sha256, Slot::ApiKey(st.api_keys.len()));
            st.api_keys.insert(k.id.clone(), k);
        }
        for (i, x) in s.sessions.into_iter().enumerate() {
            let at = |f: &str| format!("$.sessions[{i}].{f}");
            if let Some(j) = st.sessions.get_index_of(&x.id) {
                return Err(dup(at("id"), "session", format!("$.sessions[{j}]")));
            }
            st.user_exists(&x.user, || at("user"))?;
            if let Some(t) = &x.tenant {
                st.tenant_exists(t, || at("tenant"))?;
            }
            if x.created_at > x.expires_at {
                return Err(Error::at_path(
                    at("expires_at"),
                    "the session expires before it is created (rule: created_at <= expires_at)",
                ));
            }
            st.token_unique(&x.token_sha256, || at("token_sha256"))?;
            st.insert_session(x);
        }
        for (i, r) in s.resources.into_iter().enumerate() {
            let at = |f: &str| format!("$.resources[{i}].{f}");
            st.tenant_exists(&r.tenant, || at("tenant"))?;
            st.user_exists(&r.owner, || at("owner"))?;
            let key = Pair(r.tenant.clone(), r.id.clone());
            if let Some(j) = st.resources.get_index_of(&key) {
                return Err(Error::at_path(
                    format!("$.resources[{i}]"),
                    format_args!(
                        "duplicate resource: the same tenant and id as $.resources[{j}] (rule: unique (tenant, id) resources)"
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

    // The JSON path is built only on error: loading checks every record.
    fn user_exists(&self, id: &Id, path: impl FnOnce() -> String) -> Result<(), Error> {
        if self.users.contains_key(id) {
            Ok(())
        } else {
            Err(dangling(path(), "user"))
        }
    }

    fn tenant_exists(&self, id: &Id, path: impl FnOnce() -> String) -> Result<(), Error> {
        if self.tenants.contains_key(id) {
            Ok(())
        } else {
            Err(dangling(path(), "tenant"))
        }
    }

    fn token_unique(&self, h: &TokenHash, path: impl FnOnce() -> String) -> Result<(), Error> {
        match self.by_token.get(h) {
            None => Ok(()),
            Some(slot) => {
                // Named by path (loading inserts in input order, so the
                // index is the record's index in the snapshot), not by id.
                let other = match *slot {
                    Slot::ApiKey(i) => format!("$.api_keys[{i}]"),
                    Slot::Session(i) => format!("$.sessions[{i}]"),
                };
                Err(Error::at_path(
                    path(),
                    format_args!(
                        "token_sha256 is already used by {other} (rule: token_sha256 unique across keys and sessions)"
                    ),
                ))
            }
        }
    }
}

// Integrity errors name records by JSON path, never by a value read from
// the input (an id field may hold a pasted secret): docs/INPUTS.md.
fn dup(path: String, what: &str, earlier: String) -> Error {
    Error::at_path(
        path,
        format_args!(
            "duplicate {what} id: the same as {earlier}.id (rule: unique ids per collection)"
        ),
    )
}

fn dangling(path: String, what: &str) -> Error {
    Error::at_path(
        path,
        format_args!("dangling reference: no {what} has this id (rule: every reference resolves)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    #[test]
    fn sorted_ids_behave_like_a_set() {
        let mut s = SortedIds::default();
        assert!(s.insert(id("b")));
        assert!(s.insert(id("a")));
        assert!(s.insert(id("c")));
        assert!(!s.insert(id("b")));
        let all: Vec<&str> = s.iter().map(Id::as_str).collect();
        assert_eq!(all, ["a", "b", "c"]);
        assert!(s.remove("b"));
        assert!(!s.remove("b"));
        let all: Vec<&str> = s.iter().map(Id::as_str).collect();
        assert_eq!(all, ["a", "c"]);
    }

    #[test]
    fn token_index_spreads_digests() {
        let b = BuildHasherDefault::<DigestHasher>::default();
        let a = b.hash_one(TokenHash::of("a"));
        assert_ne!(a, b.hash_one(TokenHash::of("b")));
        assert_eq!(a, b.hash_one(TokenHash::of("a")));
        let mut index = TokenIndex::default();
        for i in 0..1000 {
            index.insert(TokenHash::of(&i.to_string()), Slot::Session(i));
        }
        for i in 0..1000 {
            assert_eq!(
                index.get(&TokenHash::of(&i.to_string())),
                Some(&Slot::Session(i))
            );
        }
    }
}
