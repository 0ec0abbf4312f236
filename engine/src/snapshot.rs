//! The state snapshot format (SPEC §2), as plain data.
//!
//! These types are what `snapshot.json` deserializes into and what `apply
//! --out` writes back: no indexes, no logic. Integrity (unique ids, resolved
//! references, unique token hashes) is not a property of the data types but
//! of a [`State`](crate::State) built from them, which checks it once at load.
//! Field order here is output order.

use serde::{Deserialize, Serialize};

use crate::{CompactString, Id, Timestamp, TokenHash};

/// A whole snapshot.
#[derive(Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// When the snapshot was taken; a default `at` for tools that need one.
    #[serde(default)]
    pub taken_at: Option<Timestamp>,
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub memberships: Vec<Membership>,
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    #[serde(default)]
    pub sessions: Vec<Session>,
    #[serde(default)]
    pub resources: Vec<Resource>,
}

/// Written out for `clone_from`, which copies into the existing vectors: a
/// caller that copies many snapshots of one shape (the explorer, once per
/// transition) allocates nothing after the first.
impl Clone for Snapshot {
    fn clone(&self) -> Self {
        let mut copy = Self::default();
        copy.clone_from(self);
        copy
    }

    fn clone_from(&mut self, source: &Self) {
        // Destructured without `..`: a new field does not compile until it
        // is copied here.
        let Snapshot {
            taken_at,
            tenants,
            users,
            memberships,
            api_keys,
            sessions,
            resources,
        } = self;
        *taken_at = source.taken_at;
        tenants.clone_from(&source.tenants);
        users.clone_from(&source.users);
        memberships.clone_from(&source.memberships);
        api_keys.clone_from(&source.api_keys);
        sessions.clone_from(&source.sessions);
        resources.clone_from(&source.resources);
    }
}

/// Where one snapshot differs from another, record by record: whether
/// `taken_at` differs, and for each section (in snapshot order: tenants,
/// users, memberships, api_keys, sessions, resources) the positions `i`, in
/// increasing order, at which the second holds a record that is not the
/// first's record at `i` (a record past the first's end included; the
/// first's records past the second's end are not positions of the second:
/// `shortened` says a section lost records at its end).
///
/// What a step changed, found in one pass: the explorer exports each
/// command's state over the state it started from
/// ([`State::update_snapshot`](crate::State::update_snapshot)) and hands
/// the positions to every check that round-trips or packs only what
/// changed, instead of each comparing the two snapshots again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub taken_at: bool,
    pub sections: [Vec<u32>; 6],
    /// Some section of the second is shorter than the first's.
    pub shortened: bool,
}

impl Diff {
    /// The diff of `after` against `before`, comparing every record: the
    /// reference [`State::update_snapshot`](crate::State::update_snapshot)
    /// is tested against.
    pub fn between(before: &Snapshot, after: &Snapshot) -> Diff {
        let mut d = Diff::default();
        d.set_between(before, after);
        d
    }

    /// Makes this the diff of `after` against `before`, comparing every
    /// record, into the vectors already here.
    pub fn set_between(&mut self, before: &Snapshot, after: &Snapshot) {
        self.set_between_sections(before, after, [true; 6]);
    }

    /// [`Diff::set_between`] comparing only the sections `compared` marks
    /// (in the order of [`Diff::sections`]); the others are taken to be
    /// equal. For a caller that knows which sections a command may have
    /// written (the explorer, from the changes the reference model
    /// reports) and checks that knowledge elsewhere.
    pub fn set_between_sections(
        &mut self,
        before: &Snapshot,
        after: &Snapshot,
        compared: [bool; 6],
    ) {
        fn section<T: PartialEq>(
            compared: bool,
            before: &[T],
            after: &[T],
            out: &mut Vec<u32>,
        ) -> bool {
            out.clear();
            if !compared {
                return false;
            }
            out.extend(
                (0..after.len())
                    .filter(|&i| before.get(i) != Some(&after[i]))
                    .map(position),
            );
            after.len() < before.len()
        }
        self.taken_at = before.taken_at != after.taken_at;
        let [t, u, m, k, s, r] = &mut self.sections;
        let [ct, cu, cm, ck, cs, cr] = compared;
        let shortened = [
            section(ct, &before.tenants, &after.tenants, t),
            section(cu, &before.users, &after.users, u),
            section(cm, &before.memberships, &after.memberships, m),
            section(ck, &before.api_keys, &after.api_keys, k),
            section(cs, &before.sessions, &after.sessions, s),
            section(cr, &before.resources, &after.resources, r),
        ];
        self.shortened = shortened.contains(&true);
    }

    /// Makes this the diff of two equal snapshots, keeping its vectors.
    pub fn clear(&mut self) {
        self.taken_at = false;
        self.shortened = false;
        self.sections.iter_mut().for_each(Vec::clear);
    }

    /// The two snapshots are equal.
    pub fn is_empty(&self) -> bool {
        !self.taken_at && !self.shortened && self.sections.iter().all(Vec::is_empty)
    }
}

/// A section position as a [`Diff`] holds it: sections fit `u32` (the
/// loader refuses larger ones, `state/build.rs`).
pub(crate) fn position(i: usize) -> u32 {
    u32::try_from(i).expect("a section fits u32")
}

impl Snapshot {
    /// Makes `self`, a snapshot that differs from `to` as `diff` says, equal
    /// to `to` again, copying only the records at `diff`'s positions and
    /// the length of each section: the undo of an incremental export.
    pub fn revert(&mut self, to: &Snapshot, diff: &Diff) {
        fn section<T: Clone>(mine: &mut Vec<T>, to: &[T], at: &[u32]) {
            for &i in at {
                if let (Some(slot), Some(rec)) = (mine.get_mut(i as usize), to.get(i as usize)) {
                    slot.clone_from(rec);
                }
            }
            mine.truncate(to.len());
            let n = mine.len();
            mine.extend_from_slice(&to[n..]);
        }
        // Destructured without `..`: a new field does not compile until it
        // is reverted here.
        let Snapshot {
            taken_at,
            tenants,
            users,
            memberships,
            api_keys,
            sessions,
            resources,
        } = self;
        let [t, u, m, k, s, r] = &diff.sections;
        *taken_at = to.taken_at;
        section(tenants, &to.tenants, t);
        section(users, &to.users, u);
        section(memberships, &to.memberships, m);
        section(api_keys, &to.api_keys, k);
        section(sessions, &to.sessions, s);
        section(resources, &to.resources, r);
    }

    /// Number of records of every kind.
    pub fn record_count(&self) -> usize {
        self.tenants.len()
            + self.users.len()
            + self.memberships.len()
            + self.api_keys.len()
            + self.sessions.len()
            + self.resources.len()
    }
}

/// A tenant (an organization, a workspace).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: Id,
    #[serde(default)]
    pub suspended: bool,
}

/// A user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: Id,
    #[serde(default)]
    pub banned: bool,
}

/// A user's membership of a tenant, with a role.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct Membership {
    pub user: Id,
    pub tenant: Id,
    pub role: CompactString,
    #[serde(default)]
    pub since: Timestamp,
}

/// An API key. `tenant == None` marks a legacy unbound key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub id: Id,
    pub owner: Id,
    #[serde(default)]
    pub tenant: Option<Id>,
    pub token_sha256: TokenHash,
    #[serde(default)]
    pub prefix: CompactString,
    #[serde(default)]
    pub capabilities: Vec<CompactString>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub name: CompactString,
    pub created_at: Timestamp,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
    #[serde(default)]
    pub deleted_at: Option<Timestamp>,
}

fn yes() -> bool {
    true
}

/// A login session. `tenant` is its active tenant, if any.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub id: Id,
    pub user: Id,
    #[serde(default)]
    pub tenant: Option<Id>,
    pub token_sha256: TokenHash,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// A tenant-scoped resource, identified by the pair (`tenant`, `id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub tenant: Id,
    pub id: Id,
    pub owner: Id,
    #[serde(default)]
    pub created_at: Timestamp,
}

/// `Some(t)` and `t <= at`: the SPEC §2 rule for `revoked_at`, `deleted_at`
/// and `expires_at`, which take effect at their own time.
pub fn reached(t: Option<Timestamp>, at: Timestamp) -> bool {
    t.is_some_and(|t| t <= at)
}

crate::load::objects_only!(Snapshot, Tenant, User, Membership, ApiKey, Session, Resource);
