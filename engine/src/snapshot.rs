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

impl Snapshot {
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
