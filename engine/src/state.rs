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

use indexmap::{map::Entry, Equivalent, IndexMap};

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

/// The hasher of every id-keyed index: foldhash's fast variant with a
/// per-process random seed. SipHash (the standard library's default) was
/// 12 % of an allowed session's instructions, hashing ids of a few bytes
/// 4–7 times per decision (PERFORMANCE.md "Hasher"). The keys are ids from
/// the snapshot, which the operator loads; a request's ids are only looked
/// up, never inserted, so a client cannot fill a table with collisions. The
/// random seed keeps an id chosen by a tenant (a resource id) from being
/// aimed at a known hash function. Iteration order never reaches an output:
/// records are exported from the `IndexMap`s in insertion order.
pub(crate) type IdHasher = foldhash::fast::RandomState;

/// A record table keyed by id, in insertion order.
pub(crate) type IdMap<K, V> = IndexMap<K, V, IdHasher>;

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
    pub(crate) tenants: IdMap<Id, Tenant>,
    pub(crate) users: IdMap<Id, User>,
    pub(crate) memberships: IdMap<Pair, Membership>,
    pub(crate) api_keys: IdMap<Id, ApiKey>,
    pub(crate) sessions: IdMap<Id, Session>,
    pub(crate) resources: IdMap<Pair, Resource>,
    /// Keys and sessions are never removed, so their indexes are stable.
    pub(crate) by_token: TokenIndex,
    /// user → tenants with a membership record (any `since`).
    pub(crate) tenants_of: HashMap<Id, SortedIds, IdHasher>,
    /// user → indexes of the user's sessions.
    pub(crate) sessions_of: HashMap<Id, Vec<usize>, IdHasher>,
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
            tenants: IdMap::with_capacity_and_hasher(s.tenants.len(), IdHasher::default()),
            users: IdMap::with_capacity_and_hasher(s.users.len(), IdHasher::default()),
            memberships: IdMap::with_capacity_and_hasher(s.memberships.len(), IdHasher::default()),
            api_keys: IdMap::with_capacity_and_hasher(s.api_keys.len(), IdHasher::default()),
            sessions: IdMap::with_capacity_and_hasher(s.sessions.len(), IdHasher::default()),
            resources: IdMap::with_capacity_and_hasher(s.resources.len(), IdHasher::default()),
            by_token: TokenIndex::with_capacity_and_hasher(
                s.api_keys.len() + s.sessions.len(),
                Default::default(),
            ),
            ..State::default()
        };
        // Where the duplicate check is followed by the insert, one `entry`
        // does both: one hash and one probe per record instead of two (the
        // key's clone is a copy for an inline id).
        for (i, t) in s.tenants.into_iter().enumerate() {
            match st.tenants.entry(t.id.clone()) {
                Entry::Occupied(e) => {
                    return Err(dup(
                        format!("$.tenants[{i}].id"),
                        "tenant",
                        format!("$.tenants[{}]", e.index()),
                    ))
                }
                Entry::Vacant(e) => e.insert(t),
            };
        }
        for (i, u) in s.users.into_iter().enumerate() {
            match st.users.entry(u.id.clone()) {
                Entry::Occupied(e) => {
                    return Err(dup(
                        format!("$.users[{i}].id"),
                        "user",
                        format!("$.users[{}]", e.index()),
                    ))
                }
                Entry::Vacant(e) => e.insert(u),
            };
        }
        for (i, m) in s.memberships.into_iter().enumerate() {
            let at = |f: &str| format!("$.memberships[{i}].{f}");
            user_exists(&st.users, &m.user, || at("user"))?;
            tenant_exists(&st.tenants, &m.tenant, || at("tenant"))?;
            let slot = match st.memberships.entry(Pair(m.user.clone(), m.tenant.clone())) {
                Entry::Occupied(e) => {
                    let j = e.index();
                    return Err(Error::at_path(
                        format!("$.memberships[{i}]"),
                        format_args!(
                            "duplicate membership: the same user and tenant as $.memberships[{j}] (rule: unique (user, tenant) memberships)"
                        ),
                    ));
                }
                Entry::Vacant(e) => e,
            };
            st.tenants_of
                .entry(m.user.clone())
                .or_default()
                .insert(m.tenant.clone());
            slot.insert(m);
        }
        for (i, k) in s.api_keys.into_iter().enumerate() {
            let at = |f: &str| format!("$.api_keys[{i}].{f}");
            let index = st.api_keys.len();
            // The entry is held across the other checks, which read other
            // fields of `st` (hence free functions): same checks, same order.
            let slot = match st.api_keys.entry(k.id.clone()) {
                Entry::Occupied(e) => {
                    return Err(dup(
                        at("id"),
                        "api key",
                        format!("$.api_keys[{}]", e.index()),
                    ))
                }
                Entry::Vacant(e) => e,
            };
            user_exists(&st.users, &k.owner, || at("owner"))?;
            if let Some(t) = &k.tenant {
                tenant_exists(&st.tenants, t, || at("tenant"))?;
            }
            token_unique(&st.by_token, &k.token_sha256, || at("token_sha256"))?;
            st.by_token.insert(k.token_sha256, Slot::ApiKey(index));
            slot.insert(k);
        }
        for (i, x) in s.sessions.into_iter().enumerate() {
            let at = |f: &str| format!("$.sessions[{i}].{f}");
            let index = st.sessions.len();
            let slot = match st.sessions.entry(x.id.clone()) {
                Entry::Occupied(e) => {
                    return Err(dup(
                        at("id"),
                        "session",
                        format!("$.sessions[{}]", e.index()),
                    ))
                }
                Entry::Vacant(e) => e,
            };
            user_exists(&st.users, &x.user, || at("user"))?;
            if let Some(t) = &x.tenant {
                tenant_exists(&st.tenants, t, || at("tenant"))?;
            }
            if x.created_at > x.expires_at {
                return Err(Error::at_path(
                    at("expires_at"),
                    "the session expires before it is created (rule: created_at <= expires_at)",
                ));
            }
            token_unique(&st.by_token, &x.token_sha256, || at("token_sha256"))?;
            index_session(&mut st.by_token, &mut st.sessions_of, &x, index);
            slot.insert(x);
        }
        for (i, r) in s.resources.into_iter().enumerate() {
            let at = |f: &str| format!("$.resources[{i}].{f}");
            tenant_exists(&st.tenants, &r.tenant, || at("tenant"))?;
            user_exists(&st.users, &r.owner, || at("owner"))?;
            match st.resources.entry(Pair(r.tenant.clone(), r.id.clone())) {
                Entry::Occupied(e) => {
                    let j = e.index();
                    return Err(Error::at_path(
                        format!("$.resources[{i}]"),
                        format_args!(
                            "duplicate resource: the same tenant and id as $.resources[{j}] (rule: unique (tenant, id) resources)"
                        ),
                    ));
                }
                Entry::Vacant(e) => e.insert(r),
            };
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
        index_session(&mut self.by_token, &mut self.sessions_of, &x, index);
        self.sessions.insert(x.id.clone(), x);
    }
}

/// Indexes session number `index` by its token and its user.
fn index_session(
    by_token: &mut TokenIndex,
    sessions_of: &mut HashMap<Id, Vec<usize>, IdHasher>,
    x: &Session,
    index: usize,
) {
    by_token.insert(x.token_sha256, Slot::Session(index));
    sessions_of.entry(x.user.clone()).or_default().push(index);
}

// The integrity checks of `from_snapshot`, on the one index each reads (so
// an entry of another index can be held meanwhile). The JSON path is built
// only on error: loading checks every record.
fn user_exists(
    users: &IdMap<Id, User>,
    id: &Id,
    path: impl FnOnce() -> String,
) -> Result<(), Error> {
    if users.contains_key(id) {
        Ok(())
    } else {
        Err(dangling(path(), "user"))
    }
}

fn tenant_exists(
    tenants: &IdMap<Id, Tenant>,
    id: &Id,
    path: impl FnOnce() -> String,
) -> Result<(), Error> {
    if tenants.contains_key(id) {
        Ok(())
    } else {
        Err(dangling(path(), "tenant"))
    }
}

fn token_unique(
    by_token: &TokenIndex,
    h: &TokenHash,
    path: impl FnOnce() -> String,
) -> Result<(), Error> {
    match by_token.get(h) {
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

    #[test]
    fn integrity_errors_keep_their_order_and_words() {
        use serde_json::{json, Value};
        const AT: &str = "2026-01-01T00:00:00Z";
        let h = |t: &str| TokenHash::of(t).to_string();
        let base = json!({
            "tenants": [{"id": "t"}, {"id": "t2"}],
            "users": [{"id": "u"}, {"id": "u2"}],
            "memberships": [{"user": "u", "tenant": "t", "role": "r"},
                {"user": "u2", "tenant": "t2", "role": "r"}],
            "api_keys": [{"id": "k", "owner": "u", "tenant": "t", "token_sha256": h("a"),
                "created_at": AT}],
            "sessions": [{"id": "s", "user": "u", "tenant": "t", "token_sha256": h("b"),
                "created_at": AT, "expires_at": AT}],
            "resources": [{"tenant": "t", "id": "r", "owner": "u"}],
        });
        let with = |c: &str, record: Value| {
            let mut v = base.clone();
            v[c].as_array_mut().unwrap().push(record);
            v
        };
        let dup = |what: &str, earlier: &str| {
            format!(
                "duplicate {what} id: the same as {earlier}.id (rule: unique ids per collection)"
            )
        };
        let cases = [
            (with("tenants", json!({"id": "t2"})), "$.tenants[2].id", dup("tenant", "$.tenants[1]")),
            (with("users", json!({"id": "u"})), "$.users[2].id", dup("user", "$.users[0]")),
            (
                with("memberships", json!({"user": "u", "tenant": "t", "role": "x"})),
                "$.memberships[2]",
                "duplicate membership: the same user and tenant as $.memberships[0] (rule: unique (user, tenant) memberships)".into(),
            ),
            // A duplicate id is reported before the record's other faults.
            (
                with("api_keys", json!({"id": "k", "owner": "nobody", "token_sha256": h("a"),
                    "created_at": AT})),
                "$.api_keys[1].id",
                dup("api key", "$.api_keys[0]"),
            ),
            (
                with("sessions", json!({"id": "s", "user": "nobody", "token_sha256": h("b"),
                    "created_at": AT, "expires_at": AT})),
                "$.sessions[1].id",
                dup("session", "$.sessions[0]"),
            ),
            (
                with("sessions", json!({"id": "s2", "user": "u", "token_sha256": h("a"),
                    "created_at": AT, "expires_at": AT})),
                "$.sessions[1].token_sha256",
                "token_sha256 is already used by $.api_keys[0] (rule: token_sha256 unique across keys and sessions)".into(),
            ),
            // A dangling reference before a duplicate pair.
            (
                with("resources", json!({"tenant": "t", "id": "r", "owner": "nobody"})),
                "$.resources[1].owner",
                "dangling reference: no user has this id (rule: every reference resolves)".into(),
            ),
            (
                with("resources", json!({"tenant": "t", "id": "r", "owner": "u2"})),
                "$.resources[1]",
                "duplicate resource: the same tenant and id as $.resources[0] (rule: unique (tenant, id) resources)".into(),
            ),
        ];
        let snapshot = |v: &Value| -> Snapshot { serde_json::from_value(v.clone()).unwrap() };
        State::from_snapshot(snapshot(&base)).expect("the base loads");
        for (v, path, message) in cases {
            let e = State::from_snapshot(snapshot(&v)).unwrap_err();
            assert_eq!(e.path(), Some(path), "{e}");
            assert_eq!(e.message(), message, "{e}");
        }
    }
}
