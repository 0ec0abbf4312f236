//! The indexed state: a snapshot checked for integrity, with the lookups a
//! decision needs in O(1) of the snapshot's size.
//!
//! Indexes: token hash → key or session; (user, tenant) → membership;
//! (tenant, id) → resource; per user, the user's memberships and sessions
//! (bounded by one user's records, not the snapshot). Records keep their
//! input order (`IndexMap`), so exporting a state after commands gives
//! byte-identical JSON for the same inputs, with new records appended in
//! command order.
//!
//! # Handles
//!
//! Tenants, users, API keys and sessions are never removed, so a record's
//! position in its table is a stable integer handle. The decision path
//! follows handles instead of hashing ids again: the token index's slot
//! carries the credential's position *and its user's*, and a user's
//! [`UserLinks`] (found by handle) list the user's memberships with the
//! fields a decision reads (tenant handle, `since`, role) and the user's
//! sessions. An allowed session thus costs one probe of the token index,
//! then direct reads — where it used to hash the user id for the user, the
//! (user, tenant) pair for the membership and again for every tenant of the
//! scope; at a million records each of those hashed lookups is two
//! dependent cache misses (docs/PERFORMANCE.md "Handles").
//!
//! Rejected: handles for memberships and resources, which are removed
//! (their positions shift, and `shift_remove` keeps the export order);
//! interning every id (the export and every explanation need the text,
//! which the records already hold). The membership fields in
//! [`UserLinks`] are copies, kept in step by the three commands that
//! change memberships; the lockstep against the reference model (whose
//! memberships are a plain map) checks that they agree.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use indexmap::{Equivalent, IndexMap};

mod build;
mod table;
pub(crate) use build::{Builder, Capacity};
pub(crate) use table::{Table, Tracked};

use crate::{
    snapshot::{ApiKey, Diff, Membership, Resource, Session, Snapshot, Tenant, User},
    CompactString, CredentialKind, Error, Id, Timestamp, TokenHash,
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

/// A record's position in its table (tenants, users, keys, sessions: never
/// removed, so positions are stable).
pub(crate) type Handle = u32;

/// No record: a credential without a tenant, or whose owner or tenant is
/// no record (only an injected fault can re-point a key: F06).
pub(crate) const NO_HANDLE: Handle = Handle::MAX;

/// A credential record found by its token hash: its kind, its position in
/// `api_keys` or `sessions`, its user's position in `users` and its
/// tenant's in `tenants` (a key's bound tenant, a session's active one, or
/// [`NO_HANDLE`]). 16 bytes, read with the digest on the one probe a
/// decision makes (the entry stays 48 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) kind: CredentialKind,
    pub(crate) index: Handle,
    pub(crate) user: Handle,
    pub(crate) tenant: Handle,
}

/// One membership of a user, as the decision reads it: a copy of the
/// record's `since` and `role`, with the tenant's handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) tenant: Handle,
    pub(crate) since: Timestamp,
    pub(crate) role: CompactString,
}

/// What a user's handle leads to: the user's memberships, sorted by tenant
/// id (a session's scope is listed in that order), and the positions of the
/// user's sessions.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct UserLinks {
    pub(crate) members: Vec<Member>,
    pub(crate) sessions: Vec<Handle>,
}

impl Clone for UserLinks {
    fn clone(&self) -> Self {
        let mut copy = Self::default();
        copy.clone_from(self);
        copy
    }

    fn clone_from(&mut self, source: &Self) {
        self.members.clone_from(&source.members);
        self.sessions.clone_from(&source.sessions);
    }
}

impl UserLinks {
    /// The membership in tenant `t` (any `since`).
    #[inline]
    pub(crate) fn member(&self, t: Handle) -> Option<&Member> {
        self.members.iter().find(|m| m.tenant == t)
    }

    /// Adds a membership, keeping tenant-id order; `tenants` gives a
    /// handle's id. The caller has checked it is not there yet.
    fn add_member(&mut self, m: Member, tenants: &IdMap<Id, Tenant>) {
        let id = |h: Handle| tenants.get_index(h as usize).map(|(id, _)| id.as_str());
        let at = self
            .members
            .partition_point(|x| id(x.tenant) < id(m.tenant));
        // Tight for the usual one or two tenants, amortized beyond.
        if self.members.len() < 4 {
            self.members.reserve_exact(1);
        }
        self.members.insert(at, m);
    }
}

/// The engine's state. Build it with [`State::from_snapshot`], decide with
/// [`State::decide`], change it with [`State::apply`].
#[derive(Debug, Default)]
pub struct State {
    pub(crate) taken_at: Option<Timestamp>,
    pub(crate) tenants: Table<Id, Tenant>,
    pub(crate) users: Table<Id, User>,
    pub(crate) memberships: Table<Pair, Membership>,
    pub(crate) api_keys: Table<Id, ApiKey>,
    pub(crate) sessions: Table<Id, Session>,
    pub(crate) resources: Table<Pair, Resource>,
    /// Keys and sessions are never removed, so their positions are stable.
    pub(crate) by_token: Tracked<TokenIndex>,
    /// Per user handle (same length as `users`): memberships and sessions.
    pub(crate) links: Tracked<Vec<UserLinks>>,
    /// The injected fault, in builds with the `faults` feature only.
    #[cfg(feature = "faults")]
    pub(crate) fault: Option<crate::Fault>,
}

/// Written out for `clone_from`: the derived one would drop `self` and
/// allocate every map anew. Copying into a state of the same shape reuses
/// its tables and vectors, which is what a caller that tries many commands
/// on one state (the explorer) does: clone, apply, look, clone again.
impl Clone for State {
    fn clone(&self) -> Self {
        let mut copy = Self::default();
        copy.clone_from(self);
        copy
    }

    fn clone_from(&mut self, source: &Self) {
        // Destructured without `..`: a new field does not compile until it
        // is copied here.
        let State {
            taken_at,
            tenants,
            users,
            memberships,
            api_keys,
            sessions,
            resources,
            by_token,
            links,
            #[cfg(feature = "faults")]
            fault,
        } = self;
        *taken_at = source.taken_at;
        tenants.clone_from(&source.tenants);
        users.clone_from(&source.users);
        memberships.clone_from(&source.memberships);
        api_keys.clone_from(&source.api_keys);
        sessions.clone_from(&source.sessions);
        resources.clone_from(&source.resources);
        by_token.clone_from(&source.by_token);
        links.clone_from(&source.links);
        #[cfg(feature = "faults")]
        {
            *fault = source.fault;
        }
    }
}

/// Equal states hold the same records *in the same order* (so they export
/// the same snapshot) and the same indexes: the token index and the user
/// links, which a faulty build could change without touching a record.
/// `IndexMap`'s own equality ignores order, and order is part of the state
/// (it is the snapshot's). See [`State::same_records`] for the records
/// alone.
impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        self.same_records(other) && self.same_indexes(other)
    }
}

impl Eq for State {}

impl State {
    /// Whether `other` holds the same records in the same order: whether
    /// the two export the same snapshot, without exporting either.
    ///
    /// A caller that tries many commands on one state (the explorer)
    /// applies each in place and asks whether the state still equals the
    /// one it started from (records, then indexes: `==`), instead of copying
    /// the state before every command.
    ///
    /// The tables' keys are not compared: each is its record's id (or
    /// pair), set from the record when it is inserted and never rewritten,
    /// so equal records in the same order have equal keys.
    pub fn same_records(&self, other: &State) -> bool {
        fn section<K, V: PartialEq, S>(a: &IndexMap<K, V, S>, b: &IndexMap<K, V, S>) -> bool {
            a.len() == b.len() && a.values().eq(b.values())
        }
        // Destructured without `..`: a new field does not compile until it
        // is compared here or in `same_indexes`.
        let State {
            taken_at,
            tenants,
            users,
            memberships,
            api_keys,
            sessions,
            resources,
            by_token: _,
            links: _,
            #[cfg(feature = "faults")]
                fault: _,
        } = self;
        *taken_at == other.taken_at
            && section(tenants, &other.tenants)
            && section(users, &other.users)
            && section(memberships, &other.memberships)
            && section(api_keys, &other.api_keys)
            && section(sessions, &other.sessions)
            && section(resources, &other.resources)
    }

    /// Makes `out` this state's snapshot, as [`State::snapshot_into`]
    /// does, copying only the records that differ from the one `out` holds
    /// at the same position, and sets `diff` to where `out` changed
    /// ([`Diff`]; the same as `Diff::between` of `out` before and after).
    ///
    /// For a caller that keeps `out` equal to a state it knows (the
    /// explorer: the node whose commands it runs), one pass says whether a
    /// command changed a record and which, and [`Snapshot::revert`] undoes
    /// the export by those positions alone.
    ///
    /// Only the records written since [`State::forget_writes`] are compared
    /// (every record of a state never told, or copied since): `out` must
    /// hold this state's snapshot as it was then. The tables mark every
    /// write whatever made it (`state/table.rs`), so a command cannot
    /// change a record this skips.
    pub fn update_snapshot(&self, out: &mut Snapshot, diff: &mut Diff) {
        fn section<K, V: Clone + PartialEq>(
            out: &mut Vec<V>,
            table: &Table<K, V>,
            at: &mut Vec<u32>,
        ) -> bool {
            at.clear();
            let shortened = out.len() > table.len();
            out.truncate(table.len());
            let kept = out.len();
            // Only a written position can differ from `out`'s record.
            for i in table.written_below(kept) {
                let v = &table[i];
                if out[i] != *v {
                    out[i].clone_from(v);
                    at.push(crate::snapshot::position(i));
                }
            }
            for (i, v) in table.values().enumerate().skip(kept) {
                out.push(v.clone());
                at.push(crate::snapshot::position(i));
            }
            shortened
        }
        // Destructured without `..`: a new field does not compile until it
        // is exported here.
        let State {
            taken_at,
            tenants,
            users,
            memberships,
            api_keys,
            sessions,
            resources,
            by_token: _,
            links: _,
            #[cfg(feature = "faults")]
                fault: _,
        } = self;
        let [t, u, m, k, s, r] = &mut diff.sections;
        diff.taken_at = out.taken_at != *taken_at;
        out.taken_at = *taken_at;
        let shortened = [
            section(&mut out.tenants, tenants, t),
            section(&mut out.users, users, u),
            section(&mut out.memberships, memberships, m),
            section(&mut out.api_keys, api_keys, k),
            section(&mut out.sessions, sessions, s),
            section(&mut out.resources, resources, r),
        ];
        diff.shortened = shortened.contains(&true);
    }

    /// Makes `self` equal to `to` again, given `diff`: where `self`'s
    /// records differ from `to`'s ([`State::update_snapshot`] of `self`
    /// over `to`'s snapshot gives it). A section whose records kept their
    /// ids in place gets back only the records at `diff`'s positions, one
    /// that lost records at its end is cut, and any other (a record
    /// removed from its middle shifts the rest) is copied whole; an index
    /// (they are small) is copied whole when it was written since
    /// [`State::forget_writes`], which a caller that forgets writes must
    /// have called when this state equalled `to` (a new or copied state
    /// counts every index as written).
    ///
    /// The undo of a command for a caller that tries many on one state (the
    /// explorer), where copying the whole state back cost a tenth of a
    /// transition: a command changes one or two records.
    pub fn revert(&mut self, to: &State, diff: &Diff) {
        fn section<K: Clone + Eq + std::hash::Hash, V: Clone>(
            mine: &mut Table<K, V>,
            to: &Table<K, V>,
            at: &[u32],
        ) {
            if mine.len() > to.len() {
                // Records added at the end (ids are never reused, so they
                // are new keys): cut.
                mine.truncate(to.len());
            }
            let in_place = mine.len() == to.len()
                && at.iter().all(|&i| {
                    let i = i as usize;
                    i >= to.len()
                        || mine.get_index(i).map(|(k, _)| k) == to.get_index(i).map(|(k, _)| k)
                });
            if !in_place {
                mine.clone_from(to);
                return;
            }
            for &i in at {
                let i = i as usize;
                if let (Some((_, slot)), Some((_, rec))) = (mine.get_index_mut(i), to.get_index(i))
                {
                    slot.clone_from(rec);
                }
            }
        }
        // Destructured without `..`: a new field does not compile until it
        // is reverted here.
        let State {
            taken_at,
            tenants,
            users,
            memberships,
            api_keys,
            sessions,
            resources,
            by_token,
            links,
            #[cfg(feature = "faults")]
            fault,
        } = self;
        let [t, u, m, k, s, r] = &diff.sections;
        *taken_at = to.taken_at;
        section(tenants, &to.tenants, t);
        section(users, &to.users, u);
        section(memberships, &to.memberships, m);
        section(api_keys, &to.api_keys, k);
        section(sessions, &to.sessions, s);
        section(resources, &to.resources, r);
        // An index not written since the writes were forgotten is still
        // `to`'s (see the contract above).
        if by_token.written() {
            by_token.clone_from(&to.by_token);
        }
        if links.written() {
            links.clone_from(&to.links);
        }
        #[cfg(feature = "faults")]
        {
            *fault = to.fault;
        }
    }

    /// Makes `self` the state `to` builds into: equal (`==`) to what
    /// [`State::from_snapshot`] gives for it, with the same injected fault,
    /// or the error it gives (`self` is then left partly written).
    ///
    /// When every section of `to` holds the ids of `self`'s in the same
    /// places, only the records that differ are copied and the indexes
    /// updated where they refer to them; otherwise (a record added or
    /// removed, an id elsewhere, a credential's token hash or a session's
    /// user changed, a reference that would not resolve) the state is
    /// built whole. For a caller that loads state after state, each close
    /// to the one before (the explorer: the nodes of a level, mostly
    /// siblings), where building each one whole was 4 % of a transition.
    pub fn assign(&mut self, to: &Snapshot) -> Result<(), Error> {
        if !self.assign_in_place(to) {
            #[cfg(feature = "faults")]
            let fault = self.fault;
            *self = State::from_snapshot(to.clone())?;
            #[cfg(feature = "faults")]
            {
                self.fault = fault;
            }
        }
        Ok(())
    }

    /// [`State::assign`] by the records that differ; `false` when `to`
    /// must be built whole (`self` is then partly written).
    ///
    /// Tenants and users keep their places (a credential or a membership
    /// refers to them by position). Each section that refers to them is
    /// kept up to the first place where `to` holds another id (or ends), its
    /// records there copied where they differ; the rest is cut, with what
    /// the indexes say of it, and `to`'s records from that place on are
    /// added as a load adds them ([`build::Builder`], checks included): a
    /// sibling node with one more key, or one membership fewer, costs the
    /// records after the difference, not the whole state.
    fn assign_in_place(&mut self, to: &Snapshot) -> bool {
        if self.tenants.len() != to.tenants.len() || self.users.len() != to.users.len() {
            return false;
        }
        // Destructured without `..`: a new field does not compile until it
        // is assigned here.
        let State {
            taken_at,
            tenants,
            users,
            memberships,
            api_keys,
            sessions,
            resources,
            by_token,
            links,
            #[cfg(feature = "faults")]
                fault: _,
        } = self;
        *taken_at = to.taken_at;
        for (i, t) in to.tenants.iter().enumerate() {
            if tenants[i] != *t {
                match tenants.get_index_mut(i) {
                    Some((id, slot)) if *id == t.id => slot.clone_from(t),
                    _ => return false,
                }
            }
        }
        for (i, u) in to.users.iter().enumerate() {
            if users[i] != *u {
                match users.get_index_mut(i) {
                    Some((id, slot)) if *id == u.id => slot.clone_from(u),
                    _ => return false,
                }
            }
        }
        let handle = |h: Option<usize>| h.map(|h| h as Handle);
        let tenant_of = |t: &Option<Id>| match t {
            None => Some(NO_HANDLE),
            Some(t) => handle(tenants.get_index_of(t)),
        };

        // Memberships, by (user, tenant).
        let kept = common(memberships.keys(), &to.memberships, |Pair(u, t), m| {
            *u == m.user && *t == m.tenant
        });
        for i in kept..memberships.len() {
            let Pair(user, tenant) = &memberships.get_index(i).expect("below len").0;
            let (Some(u), Some(t)) = (
                users.get_index_of(user),
                handle(tenants.get_index_of(tenant)),
            ) else {
                return false;
            };
            if let Some(l) = links.write().get_mut(u) {
                l.members.retain(|x| x.tenant != t);
            }
        }
        memberships.truncate(kept);
        for (i, m) in to.memberships[..kept].iter().enumerate() {
            if memberships[i] == *m {
                continue;
            }
            let (Pair(user, tenant), slot) = memberships.get_index_mut(i).expect("below kept");
            slot.clone_from(m);
            // The user's member entry copies `since` and `role`.
            let (Some(u), Some(t)) = (
                users.get_index_of(user),
                handle(tenants.get_index_of(tenant)),
            ) else {
                return false;
            };
            let Some(member) = links
                .write()
                .get_mut(u)
                .and_then(|l| l.members.iter_mut().find(|x| x.tenant == t))
            else {
                return false;
            };
            member.since = m.since;
            member.role.clone_from(&m.role);
        }

        // API keys: a key whose token hash changed is built whole.
        let keys = common(api_keys.keys(), &to.api_keys, |id, k| *id == k.id);
        for i in keys..api_keys.len() {
            unindex(
                by_token.write(),
                &api_keys[i].token_sha256,
                CredentialKind::ApiKey,
                i,
            );
        }
        api_keys.truncate(keys);
        for (i, k) in to.api_keys[..keys].iter().enumerate() {
            if api_keys[i] == *k {
                continue;
            }
            let (_, slot) = api_keys.get_index_mut(i).expect("below kept");
            let (Some(user), Some(tenant)) =
                (handle(users.get_index_of(&k.owner)), tenant_of(&k.tenant))
            else {
                return false;
            };
            if slot.token_sha256 != k.token_sha256 {
                return false;
            }
            slot.clone_from(k);
            let credential = Slot {
                kind: CredentialKind::ApiKey,
                index: i as Handle,
                user,
                tenant,
            };
            if by_token.get(&k.token_sha256) != Some(&credential) {
                by_token.write().insert(k.token_sha256, credential);
            }
        }

        // Sessions: one whose token hash or user changed is built whole.
        let kept_sessions = common(sessions.keys(), &to.sessions, |id, x| *id == x.id);
        for i in kept_sessions..sessions.len() {
            let x = &sessions[i];
            unindex(
                by_token.write(),
                &x.token_sha256,
                CredentialKind::Session,
                i,
            );
            if let Some(l) = users
                .get_index_of(&x.user)
                .and_then(|u| links.write().get_mut(u))
            {
                l.sessions.retain(|&h| h as usize != i);
            }
        }
        sessions.truncate(kept_sessions);
        for (i, x) in to.sessions[..kept_sessions].iter().enumerate() {
            if sessions[i] == *x {
                continue;
            }
            let (_, slot) = sessions.get_index_mut(i).expect("below kept");
            let (Some(user), Some(tenant)) =
                (handle(users.get_index_of(&x.user)), tenant_of(&x.tenant))
            else {
                return false;
            };
            if slot.token_sha256 != x.token_sha256
                || slot.user != x.user
                || x.created_at > x.expires_at
            {
                return false;
            }
            slot.clone_from(x);
            let credential = Slot {
                kind: CredentialKind::Session,
                index: i as Handle,
                user,
                tenant,
            };
            if by_token.get(&x.token_sha256) != Some(&credential) {
                by_token.write().insert(x.token_sha256, credential);
            }
        }

        // Resources, by (tenant, id).
        let kept_resources = common(resources.keys(), &to.resources, |Pair(t, id), r| {
            *t == r.tenant && *id == r.id
        });
        resources.truncate(kept_resources);
        for (i, r) in to.resources[..kept_resources].iter().enumerate() {
            if resources[i] == *r {
                continue;
            }
            if users.get_index_of(&r.owner).is_none() {
                return false;
            }
            resources
                .get_index_mut(i)
                .expect("below kept")
                .1
                .clone_from(r);
        }

        // The rest of each section, added as a load adds records.
        if kept == to.memberships.len()
            && keys == to.api_keys.len()
            && kept_sessions == to.sessions.len()
            && kept_resources == to.resources.len()
        {
            return true;
        }
        let mut b = build::Builder::resume(std::mem::take(self));
        let added = b
            .memberships(kept, &mut to.memberships[kept..].to_vec())
            .and_then(|()| b.api_keys(keys, &mut to.api_keys[keys..].to_vec()))
            .and_then(|()| b.sessions(kept_sessions, &mut to.sessions[kept_sessions..].to_vec()))
            .and_then(|()| {
                b.resources(kept_resources, &mut to.resources[kept_resources..].to_vec())
            });
        *self = b.finish();
        added.is_ok()
    }

    /// Forgets which records were written: the caller's snapshot now holds
    /// this state's records, so the next [`State::update_snapshot`] into it
    /// compares only the records written after this call. Telling it when
    /// the snapshot does not hold them makes that export miss changes.
    pub fn forget_writes(&mut self) {
        // Destructured without `..`: a new table must be forgotten here.
        let State {
            taken_at: _,
            tenants,
            users,
            memberships,
            api_keys,
            sessions,
            resources,
            by_token,
            links,
            #[cfg(feature = "faults")]
                fault: _,
        } = self;
        tenants.forget_writes();
        users.forget_writes();
        memberships.forget_writes();
        api_keys.forget_writes();
        sessions.forget_writes();
        resources.forget_writes();
        by_token.forget_writes();
        links.forget_writes();
    }

    /// Whether an index (the token index, the user links) was written since
    /// [`State::forget_writes`]: one that was not is still what it was
    /// then. A command that changes no record can still write an index
    /// (only a faulty one does), so a caller that asks whether a state
    /// moved compares the indexes ([`State::same_indexes`]) only when this
    /// says they were written.
    pub fn indexes_written(&self) -> bool {
        self.by_token.written() || self.links.written()
    }

    /// What `==` compares besides [`State::same_records`]: the token index,
    /// the user links and the injected fault.
    pub fn same_indexes(&self, other: &State) -> bool {
        #[cfg(feature = "faults")]
        if self.fault != other.fault {
            return false;
        }
        *self.by_token == *other.by_token && *self.links == *other.links
    }

    /// Builds the state, checking SPEC §2 integrity. The error names the
    /// offending record by JSON path and the rule it breaks.
    pub fn from_snapshot(s: Snapshot) -> Result<State, Error> {
        // Handles are u32: refuse a section that cannot be counted in one
        // (4 billion records would not fit in memory anyway).
        for (name, n) in [
            ("tenants", s.tenants.len()),
            ("users", s.users.len()),
            ("api_keys", s.api_keys.len()),
            ("sessions", s.sessions.len()),
        ] {
            if n >= NO_HANDLE as usize {
                return Err(build::too_many(name));
            }
        }
        let mut b = build::Builder::new(
            s.taken_at,
            build::Capacity {
                tenants: s.tenants.len(),
                users: s.users.len(),
                memberships: s.memberships.len(),
                api_keys: s.api_keys.len(),
                sessions: s.sessions.len(),
                resources: s.resources.len(),
            },
        );
        let Snapshot {
            mut tenants,
            mut users,
            mut memberships,
            mut api_keys,
            mut sessions,
            mut resources,
            ..
        } = s;
        // Each section's buffer is freed once built, as the load goes.
        b.tenants(0, &mut tenants)?;
        drop(tenants);
        b.users(0, &mut users)?;
        drop(users);
        b.memberships(0, &mut memberships)?;
        drop(memberships);
        b.api_keys(0, &mut api_keys)?;
        drop(api_keys);
        b.sessions(0, &mut sessions)?;
        drop(sessions);
        b.resources(0, &mut resources)?;
        drop(resources);
        Ok(b.finish())
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

    /// [`State::to_snapshot`] into `out`, reusing its vectors: for a caller
    /// that exports many states (the explorer exports one per transition).
    pub fn snapshot_into(&self, out: &mut Snapshot) {
        fn section<K, V: Clone, S>(out: &mut Vec<V>, map: &IndexMap<K, V, S>) {
            // Record by record into the slots there are (each record's own
            // `clone_from`), then appended or cut to length.
            let (values, n) = (map.values(), map.len());
            if out.len() > n {
                out.truncate(n);
            }
            let kept = out.len();
            for (slot, v) in out.iter_mut().zip(values.clone()) {
                slot.clone_from(v);
            }
            out.extend(values.skip(kept).cloned());
        }
        out.taken_at = self.taken_at;
        section(&mut out.tenants, &self.tenants);
        section(&mut out.users, &self.users);
        section(&mut out.memberships, &self.memberships);
        section(&mut out.api_keys, &self.api_keys);
        section(&mut out.sessions, &self.sessions);
        section(&mut out.resources, &self.resources);
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

    /// The user at handle `h` (none for [`NO_HANDLE`]).
    #[inline]
    pub(crate) fn user_at(&self, h: Handle) -> Option<&User> {
        self.users.get_index(h as usize).map(|(_, u)| u)
    }

    /// The links of the user at handle `h` (none for [`NO_HANDLE`]).
    #[inline]
    pub(crate) fn links_at(&self, h: Handle) -> Option<&UserLinks> {
        self.links.get(h as usize)
    }

    /// The id of the tenant at handle `h`.
    #[inline]
    pub(crate) fn tenant_id(&self, h: Handle) -> &Id {
        self.tenants.get_index(h as usize).expect("a live handle").0
    }

    /// The tenant at handle `h`.
    #[inline]
    pub(crate) fn tenant_at(&self, h: Handle) -> &Tenant {
        self.tenants.get_index(h as usize).expect("a live handle").1
    }

    /// Adds a user with no links (the caller checked the id is new).
    pub(crate) fn insert_user(&mut self, u: User) {
        self.users.insert(u.id.clone(), u);
        self.links.write().push(UserLinks::default());
    }

    /// Adds a membership and its copy in the user's links (the caller
    /// checked the user and tenant exist and the pair is new).
    pub(crate) fn insert_membership(&mut self, m: Membership) {
        let user = self.users.get_index_of(&m.user).expect("checked user");
        let tenant = self
            .tenants
            .get_index_of(&m.tenant)
            .expect("checked tenant") as Handle;
        self.links.write()[user].add_member(
            Member {
                tenant,
                since: m.since,
                role: m.role.clone(),
            },
            &self.tenants,
        );
        self.memberships
            .insert(Pair(m.user.clone(), m.tenant.clone()), m);
    }

    /// Removes the membership of `user` in `tenant` and its copy.
    pub(crate) fn remove_membership(&mut self, user: &str, tenant: &str) {
        self.memberships.shift_remove(&PairRef(user, tenant));
        if let (Some(u), Some(t)) = (
            self.users.get_index_of(user),
            self.tenants.get_index_of(tenant),
        ) {
            self.links.write()[u]
                .members
                .retain(|m| m.tenant as usize != t);
        }
    }

    /// Changes the role of an existing membership and its copy.
    pub(crate) fn set_role(&mut self, user: &str, tenant: &str, role: &str) {
        if let Some(m) = self.memberships.get_mut(&PairRef(user, tenant)) {
            m.role = role.into();
        }
        if let (Some(u), Some(t)) = (
            self.users.get_index_of(user),
            self.tenants.get_index_of(tenant),
        ) {
            if let Some(m) = self.links.write()[u]
                .members
                .iter_mut()
                .find(|m| m.tenant as usize == t)
            {
                m.role = role.into();
            }
        }
    }

    /// Adds an API key and indexes its token (the caller checked the id and
    /// token are new and the owner exists).
    pub(crate) fn insert_api_key(&mut self, k: ApiKey) {
        let slot = Slot {
            kind: CredentialKind::ApiKey,
            index: self.api_keys.len() as Handle,
            user: self.user_handle(&k.owner),
            tenant: self.tenant_handle(k.tenant.as_deref()),
        };
        self.by_token.write().insert(k.token_sha256, slot);
        self.api_keys.insert(k.id.clone(), k);
    }

    /// Re-points key `id`'s owner (only an injected fault does: F06),
    /// keeping its slot's user handle in step.
    pub(crate) fn set_key_owner(&mut self, id: &str, owner: Id) {
        let user = self.user_handle(&owner);
        if let Some(k) = self.api_keys.get_mut(id) {
            k.owner = owner;
            if let Some(slot) = self.by_token.write().get_mut(&k.token_sha256) {
                slot.user = user;
            }
        }
    }

    /// Re-points key `id`'s tenant (only an injected fault does: F06),
    /// keeping its slot's tenant handle in step.
    pub(crate) fn set_key_tenant(&mut self, id: &str, tenant: Id) {
        let h = self.tenant_handle(Some(&tenant));
        if let Some(k) = self.api_keys.get_mut(id) {
            k.tenant = Some(tenant);
            if let Some(slot) = self.by_token.write().get_mut(&k.token_sha256) {
                slot.tenant = h;
            }
        }
    }

    /// Sets the active tenant of the session at position `index`, keeping
    /// its slot's tenant handle in step.
    pub(crate) fn set_session_tenant(&mut self, index: usize, tenant: Option<Id>) {
        let h = self.tenant_handle(tenant.as_deref());
        let s = &mut self.sessions[index];
        s.tenant = tenant;
        if let Some(slot) = self.by_token.write().get_mut(&s.token_sha256) {
            slot.tenant = h;
        }
    }

    pub(crate) fn user_handle(&self, id: &str) -> Handle {
        self.users
            .get_index_of(id)
            .map_or(NO_HANDLE, |h| h as Handle)
    }

    pub(crate) fn tenant_handle(&self, id: Option<&str>) -> Handle {
        id.and_then(|id| self.tenants.get_index_of(id))
            .map_or(NO_HANDLE, |h| h as Handle)
    }

    /// Adds a session and indexes it (the caller checked the id and token
    /// are new and the user exists).
    pub(crate) fn insert_session(&mut self, x: Session) {
        let slot = Slot {
            kind: CredentialKind::Session,
            index: self.sessions.len() as Handle,
            user: self.user_handle(&x.user),
            tenant: self.tenant_handle(x.tenant.as_deref()),
        };
        self.by_token.write().insert(x.token_sha256, slot);
        if let Some(l) = self.links.write().get_mut(slot.user as usize) {
            l.sessions.push(slot.index);
        }
        self.sessions.insert(x.id.clone(), x);
    }
}

/// How many records, from the first, have keys `same` as `to`'s in the same
/// places ([`State::assign`]).
fn common<'k, K: 'k, T>(
    keys: impl Iterator<Item = &'k K>,
    to: &[T],
    same: impl Fn(&K, &T) -> bool,
) -> usize {
    keys.zip(to).take_while(|(k, t)| same(k, t)).count()
}

/// Takes credential `index`'s token hash out of the index, if it names
/// that credential ([`State::assign`] cutting a section).
fn unindex(by_token: &mut TokenIndex, h: &TokenHash, kind: CredentialKind, index: usize) {
    if by_token
        .get(h)
        .is_some_and(|s| s.kind == kind && s.index as usize == index)
    {
        by_token.remove(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn slot(i: u32) -> Slot {
        Slot {
            kind: CredentialKind::Session,
            index: i,
            user: i / 2,
            tenant: NO_HANDLE,
        }
    }

    #[test]
    fn token_index_spreads_digests() {
        let b = BuildHasherDefault::<DigestHasher>::default();
        let a = b.hash_one(TokenHash::of("a"));
        assert_ne!(a, b.hash_one(TokenHash::of("b")));
        assert_eq!(a, b.hash_one(TokenHash::of("a")));
        let mut index = TokenIndex::default();
        for i in 0..1000 {
            index.insert(TokenHash::of(&i.to_string()), slot(i));
        }
        for i in 0..1000 {
            assert_eq!(index.get(&TokenHash::of(&i.to_string())), Some(&slot(i)));
        }
    }

    /// The links are what loading the exported snapshot would build:
    /// after every command of a sequence that adds, re-adds, re-roles and
    /// removes memberships (in an order that is not tenant-id order), adds
    /// users and sessions, and bans.
    #[test]
    fn links_stay_what_loading_builds() {
        use serde_json::json;
        const T0: &str = "2026-01-01T00:00:00Z";
        let snapshot = json!({
            "tenants": [{"id": "t-b"}, {"id": "t-a"}, {"id": "t-c"}],
            "users": [{"id": "u1"}, {"id": "u2"}],
            "memberships": [
                {"user": "u1", "tenant": "t-c", "role": "member", "since": T0},
                {"user": "u1", "tenant": "t-a", "role": "admin", "since": T0}
            ],
            "sessions": [{"id": "s1", "user": "u1", "tenant": "t-a",
                "token_sha256": TokenHash::of("tok/1+=%").to_string(),
                "created_at": T0, "expires_at": "2026-02-01T00:00:00Z"}]
        });
        let mut st = crate::load::snapshot(snapshot.to_string().as_bytes(), "s.json").unwrap();
        let at = |m: u32| format!("2026-01-01T00:{m:02}:00Z");
        let cmds = [
            json!({"op": "add_member", "user": "u1", "tenant": "t-b", "role": "member"}),
            json!({"op": "create_user", "user": "u3"}),
            json!({"op": "add_member", "user": "u3", "tenant": "t-c", "role": "owner"}),
            json!({"op": "set_role", "user": "u1", "tenant": "t-a", "role": "member"}),
            json!({"op": "login", "session": "s2", "user": "u3", "token": "tok/2+=%"}),
            json!({"op": "login", "session": "s3", "user": "u1", "token": "tok/3+=%", "tenant": "t-c"}),
            json!({"op": "remove_member", "user": "u1", "tenant": "t-a"}),
            json!({"op": "switch_tenant", "session": "s1", "tenant": "t-b"}),
            json!({"op": "add_member", "user": "u1", "tenant": "t-a", "role": "owner"}),
            json!({"op": "ban_user", "user": "u1"}),
            json!({"op": "remove_member", "user": "u3", "tenant": "t-c"}),
        ];
        let policy = crate::Policy::default();
        let mut states = vec![st.clone()];
        for (i, c) in cmds.iter().enumerate() {
            let mut c = c.clone();
            c["at"] = json!(at(i as u32 + 1));
            let cmd = &crate::load::commands_jsonl(c.to_string().as_bytes(), "c.jsonl").unwrap()[0];
            // The export after the command compares only what it wrote.
            let before = st.to_snapshot();
            let mut out = before.clone();
            st.forget_writes();
            // Tried on a copy whose writes were forgotten, and undone by
            // the export's diff: the state it started from, indexes and all.
            let node = st.clone();
            let mut trial = st.clone();
            trial.forget_writes();
            assert!(!trial.indexes_written());
            let _ = trial.apply(&policy, cmd);
            // Each of these commands writes an index exactly when it
            // changes one: the flag is neither lost nor set for nothing.
            assert_eq!(
                trial.indexes_written(),
                !trial.same_indexes(&node),
                "command {i}'s index writes"
            );
            let (mut tried, mut undo) = (before.clone(), Diff::default());
            trial.update_snapshot(&mut tried, &mut undo);
            trial.revert(&node, &undo);
            assert!(trial == node, "command {i} tried and undone");
            let result = serde_json::to_value(st.apply(&policy, cmd)).unwrap();
            assert!(result.get("rejected").is_none(), "command {i}: {result}");
            let mut diff = Diff::default();
            st.update_snapshot(&mut out, &mut diff);
            assert_eq!(out, st.to_snapshot(), "export after command {i}");
            assert_eq!(diff, Diff::between(&before, &out), "diff of command {i}");
            assert!(!diff.is_empty(), "command {i} changed a record");
            // Comparing only the sections that changed finds the same; a
            // section left out is taken as equal.
            let changed = diff.sections.clone().map(|s| !s.is_empty());
            let mut partial = Diff::default();
            partial.set_between_sections(&before, &out, changed);
            assert_eq!(partial.sections, diff.sections, "command {i}");
            partial.set_between_sections(&before, &out, [false; 6]);
            assert!(partial.sections.iter().all(Vec::is_empty));
            let reloaded = State::from_snapshot(st.to_snapshot()).unwrap();
            assert_eq!(*st.links, *reloaded.links, "after command {i}");
            assert_eq!(st.links.len(), st.users.len());
            let mut slots: Vec<_> = st.by_token.values().copied().collect();
            let mut again: Vec<_> = reloaded.by_token.values().copied().collect();
            slots.sort_by_key(|s| (s.kind as u8, s.index));
            again.sort_by_key(|s| (s.kind as u8, s.index));
            assert_eq!(slots, again, "after command {i}");
            states.push(st.clone());
        }
        // `clone_from` into a state of another shape (more or fewer users,
        // sessions, memberships) is a clone: same records in the same
        // order, same lookups, same links and token index.
        for (i, a) in states.iter().enumerate() {
            for (j, b) in states.iter().enumerate() {
                let mut x = b.clone();
                x.clone_from(a);
                assert_eq!(x.to_snapshot(), a.to_snapshot(), "{j} from {i}");
                let mut into = b.to_snapshot();
                a.snapshot_into(&mut into);
                assert_eq!(into, a.to_snapshot(), "{j} into {i}");
                let mut copy = b.to_snapshot();
                copy.clone_from(&into);
                assert_eq!(copy, into, "{j} copied from {i}");
                assert_eq!(*x.links, *a.links, "{j} from {i}");
                assert_eq!(*x.by_token, *a.by_token, "{j} from {i}");
                for id in a.users.keys() {
                    assert_eq!(x.users.get_index_of(id), a.users.get_index_of(id));
                }
                for id in a.sessions.keys() {
                    assert_eq!(x.sessions.get_index_of(id), a.sessions.get_index_of(id));
                }
                for p in a.memberships.keys() {
                    assert_eq!(x.memberships.get_index_of(p), a.memberships.get_index_of(p));
                }
                assert_eq!(x.sessions.get_index_of("s-none"), None);
            }
        }
        // The end state, spelled out: u1 in t-a (owner), t-b, t-c in that
        // order; u3 in none; u1's sessions s1 and s3, u3's s2.
        let tenants = |u: usize| -> Vec<(&str, &str)> {
            st.links[u]
                .members
                .iter()
                .map(|m| (st.tenant_id(m.tenant).as_str(), m.role.as_str()))
                .collect()
        };
        assert_eq!(
            tenants(0),
            [("t-a", "owner"), ("t-b", "member"), ("t-c", "member")]
        );
        assert_eq!(tenants(2), []);
        assert_eq!(st.links[0].sessions, [0, 2]);
        assert_eq!(st.links[2].sessions, [1]);
        // Equality is the exported snapshot's, for states whose indexes are
        // what loading builds (every state here).
        for (i, a) in states.iter().enumerate() {
            for (j, b) in states.iter().enumerate() {
                let same = a.to_snapshot() == b.to_snapshot();
                assert_eq!(a.same_records(b), same, "{i} and {j}");
                assert_eq!(*a == *b, same, "{i} and {j}");
                // An export over another state's snapshot: the same
                // snapshot, the diff the reference computes, and reverted
                // by it.
                let (from, to) = (b.to_snapshot(), a.to_snapshot());
                let mut out = from.clone();
                let mut diff = Diff {
                    taken_at: true,
                    sections: Default::default(),
                    shortened: true,
                };
                a.update_snapshot(&mut out, &mut diff);
                assert_eq!(out, to, "{j} updated to {i}");
                assert_eq!(diff, Diff::between(&from, &to), "{j} updated to {i}");
                assert_eq!(diff.is_empty(), same, "{j} updated to {i}");
                out.revert(&from, &diff);
                assert_eq!(out, from, "{j} updated to {i} and back");
                // The state reverted by the same diff: equal, indexes and
                // lookups included.
                let mut back = a.clone();
                back.revert(b, &diff);
                assert!(back == *b, "{i} reverted to {j}");
                for id in b.users.keys() {
                    assert_eq!(back.users.get_index_of(id), b.users.get_index_of(id));
                }
                for p in b.memberships.keys() {
                    assert_eq!(
                        back.memberships.get_index_of(p),
                        b.memberships.get_index_of(p)
                    );
                }
                for id in a.sessions.keys() {
                    assert_eq!(back.sessions.get_index_of(id), b.sessions.get_index_of(id));
                }
            }
        }
    }

    #[test]
    fn equality_sees_order_and_indexes() {
        use serde_json::json;
        let load = |v: serde_json::Value| crate::load::snapshot(v.to_string().as_bytes(), "s.json");
        let a = load(json!({"tenants": [{"id": "t1"}, {"id": "t2"}], "users": [{"id": "u1"}]}));
        let b = load(json!({"tenants": [{"id": "t2"}, {"id": "t1"}], "users": [{"id": "u1"}]}));
        let (a, b) = (a.unwrap(), b.unwrap());
        // The same records, another order: another snapshot.
        assert!(
            *a.tenants == *b.tenants,
            "IndexMap's equality ignores order"
        );
        assert!(!a.same_records(&b) && a != b);
        // The same records, another index: not equal, though it exports the
        // same snapshot.
        let mut c = a.clone();
        assert!(c == a);
        c.links.write()[0].sessions.push(7);
        assert!(c.same_records(&a) && !c.same_indexes(&a) && c != a);
        assert_eq!(c.to_snapshot(), a.to_snapshot());
        let mut d = a.clone();
        d.by_token
            .write()
            .insert(TokenHash::of("tok/1+=%"), slot(0));
        assert!(d.same_records(&a) && d != a);
        // A record changed in place.
        let mut e = a.clone();
        e.tenants[1].suspended = true;
        assert!(!e.same_records(&a) && e != a);
    }

    /// `assign` gives what loading gives, between every two of a set of
    /// snapshots that differ in each way it treats apart (a record changed
    /// in place, added at the end, removed from the middle; a token hash, a
    /// session's user, a key's owner and tenant changed; tenants or users
    /// added), and loading's error for an invalid one.
    #[test]
    fn assign_is_loading() {
        use serde_json::{json, Value};
        const AT: &str = "2026-01-01T00:00:00Z";
        const LATER: &str = "2026-01-02T00:00:00Z";
        fn h(t: &str) -> String {
            TokenHash::of(t).to_string()
        }
        fn key(id: &str, owner: &str, tenant: Value, token: &str) -> Value {
            json!({"id": id, "owner": owner, "tenant": tenant, "token_sha256": h(token),
                "created_at": AT})
        }
        fn session(id: &str, user: &str, tenant: Value, token: &str) -> Value {
            json!({"id": id, "user": user, "tenant": tenant, "token_sha256": h(token),
                "created_at": AT, "expires_at": LATER})
        }
        let base = json!({
            "taken_at": AT,
            "tenants": [{"id": "t-b"}, {"id": "t-a"}],
            "users": [{"id": "u1"}, {"id": "u2"}],
            "memberships": [{"user": "u1", "tenant": "t-b", "role": "r", "since": AT},
                {"user": "u2", "tenant": "t-a", "role": "r", "since": AT},
                {"user": "u1", "tenant": "t-a", "role": "admin", "since": AT}],
            "api_keys": [key("k1", "u1", json!("t-b"), "tok/1+=%"),
                key("k2", "u2", json!(null), "tok/2+=%")],
            "sessions": [session("s1", "u1", json!("t-a"), "tok/3+=%"),
                session("s2", "u2", json!(null), "tok/4+=%")],
            "resources": [{"tenant": "t-b", "id": "r", "owner": "u1"},
                {"tenant": "t-a", "id": "r", "owner": "u2"}],
        });
        type Edit = Box<dyn Fn(&mut Value)>;
        let valid: Vec<Edit> = vec![
            Box::new(|_| {}),
            Box::new(|v| v["taken_at"] = json!(LATER)),
            Box::new(|v| v["tenants"][1]["suspended"] = json!(true)),
            Box::new(|v| v["users"][0]["banned"] = json!(true)),
            Box::new(|v| {
                v["tenants"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": "t-c"}))
            }),
            Box::new(|v| v["users"].as_array_mut().unwrap().push(json!({"id": "u3"}))),
            Box::new(|v| v["memberships"][2]["role"] = json!("owner")),
            Box::new(|v| v["memberships"][0]["since"] = json!(LATER)),
            Box::new(|v| {
                v["memberships"].as_array_mut().unwrap().remove(0);
            }),
            Box::new(|v| {
                let m = json!({"user": "u2", "tenant": "t-b", "role": "r", "since": AT});
                v["memberships"].as_array_mut().unwrap().push(m);
            }),
            Box::new(|v| {
                v["api_keys"][0]["owner"] = json!("u2");
                v["api_keys"][0]["tenant"] = json!(null);
            }),
            Box::new(|v| v["api_keys"][1]["tenant"] = json!("t-a")),
            Box::new(|v| v["api_keys"][1]["revoked_at"] = json!(AT)),
            Box::new(|v| v["api_keys"][0]["token_sha256"] = json!(h("tok/5+=%"))),
            Box::new(|v| {
                let k = key("k3", "u1", json!("t-a"), "tok/6+=%");
                v["api_keys"].as_array_mut().unwrap().push(k);
            }),
            Box::new(|v| {
                v["api_keys"].as_array_mut().unwrap().remove(0);
            }),
            Box::new(|v| v["sessions"][0]["tenant"] = json!("t-b")),
            Box::new(|v| v["sessions"][1]["user"] = json!("u1")),
            Box::new(|v| v["sessions"][0]["revoked_at"] = json!(AT)),
            Box::new(|v| v["sessions"][1]["token_sha256"] = json!(h("tok/7+=%"))),
            Box::new(|v| {
                v["sessions"].as_array_mut().unwrap().remove(0);
            }),
            Box::new(|v| {
                let x = session("s3", "u2", json!("t-a"), "tok/8+=%");
                v["sessions"].as_array_mut().unwrap().push(x);
            }),
            Box::new(|v| v["resources"][1]["owner"] = json!("u1")),
            Box::new(|v| {
                v["resources"].as_array_mut().unwrap().remove(0);
            }),
            Box::new(|v| {
                let mut all = v["memberships"].as_array().unwrap().clone();
                all.reverse();
                v["memberships"] = json!(all);
            }),
        ];
        let invalid: Vec<Edit> = vec![
            Box::new(|v| v["api_keys"][0]["owner"] = json!("nobody")),
            Box::new(|v| v["api_keys"][1]["tenant"] = json!("nowhere")),
            Box::new(|v| v["sessions"][0]["tenant"] = json!("nowhere")),
            Box::new(|v| v["sessions"][0]["created_at"] = json!("2026-01-03T00:00:00Z")),
            Box::new(|v| v["resources"][0]["owner"] = json!("nobody")),
            Box::new(|v| v["sessions"][1]["token_sha256"] = json!(h("tok/1+=%"))),
            Box::new(|v| {
                let k = key("k3", "u1", json!("t-a"), "tok/3+=%");
                v["api_keys"].as_array_mut().unwrap().push(k);
            }),
            Box::new(|v| {
                let m = json!({"user": "u1", "tenant": "t-b", "role": "x", "since": AT});
                v["memberships"].as_array_mut().unwrap().push(m);
            }),
            Box::new(|v| {
                let x = session("s3", "nobody", json!(null), "tok/8+=%");
                v["sessions"].as_array_mut().unwrap().push(x);
            }),
        ];
        let snapshot = |edit: &Edit| -> Snapshot {
            let mut v = base.clone();
            edit(&mut v);
            serde_json::from_value(v).unwrap()
        };
        let (mut in_place, mut errors) = (0, 0);
        for from in &valid {
            let from = snapshot(from);
            for to in valid.iter().chain(&invalid) {
                let to = snapshot(to);
                let mut st = State::from_snapshot(from.clone()).unwrap();
                #[cfg(feature = "faults")]
                st.inject(Some(crate::Fault::ALL[0]));
                let mut probe = State::from_snapshot(from.clone()).unwrap();
                in_place += usize::from(probe.assign_in_place(&to));
                match (st.assign(&to), State::from_snapshot(to.clone())) {
                    (Ok(()), Ok(mut want)) => {
                        #[cfg(feature = "faults")]
                        want.inject(Some(crate::Fault::ALL[0]));
                        assert!(st == want, "{from:?}\nassigned\n{to:?}");
                        let _ = &mut want;
                    }
                    (Err(got), Err(want)) => {
                        assert_eq!(got.to_string(), want.to_string());
                        errors += 1;
                    }
                    (got, want) => panic!("assign {got:?}, loading {want:?}: {to:?}"),
                }
            }
        }
        // Both ways taken: most pairs in place, every invalid one refused.
        assert!(
            in_place > valid.len() * valid.len() / 2,
            "{in_place} in place"
        );
        assert_eq!(errors, valid.len() * invalid.len());
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
