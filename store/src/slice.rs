//! Reading the slice of the state one command needs, with its row locks.
//!
//! A [`Slice`] is a partial snapshot: the records a command names (the
//! tenant, user, membership, key, session or resource), the records whose
//! presence decides a rejection (an id already taken, a token hash already
//! used: both must be in the slice for the engine to answer `duplicate_id` /
//! `duplicate_token`), and the parents those records reference, so the
//! slice passes the engine's SPEC §2 integrity check. Records of each kind
//! keep their insertion order (`seq`), so the engine sees them in the order
//! the whole state would hold them (a ban revokes sessions in that order).
//!
//! This module decides *which rows to read and how to lock them*, never
//! what a command does with them: that is the engine's `State::apply`.
//!
//! Row locks are taken in one global order to avoid deadlocks:
//! users → sessions / api_keys → memberships → tenants → resources.
//! Parents added only for integrity are read without a lock, after the
//! locked rows (tenants and users are never deleted; the engine does not
//! read the fields of a parent it was not given for its own sake).

use std::collections::BTreeMap;

use authproof_engine::{
    credential::{extract, Extraction},
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    Command, CredentialKind, Id, Op, Policy, Request, Snapshot, TokenHash,
};

use crate::{
    db::{Row, Tx, Val},
    error::{Error, Repr},
    records::*,
};

/// How a read locks the rows it returns (PostgreSQL; SQLite serializes
/// whole write transactions and ignores these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lock {
    /// A plain read: the row only proves presence (a unique key or a
    /// foreign key guards the write), or it is a parent read for integrity.
    None,
    /// `FOR SHARE`: the row must not change before commit.
    Share,
    /// `FOR UPDATE`: the command may write the row.
    Update,
}

impl Lock {
    fn sql(self) -> &'static str {
        match self {
            Lock::None => "",
            Lock::Share => "{share}",
            Lock::Update => "{update}",
        }
    }
}

/// The records read so far, each kind keyed by its insertion sequence (so
/// in state order, and a row read twice is kept once).
#[derive(Debug, Default)]
pub(crate) struct Slice {
    tenants: BTreeMap<i64, Tenant>,
    users: BTreeMap<i64, User>,
    memberships: BTreeMap<i64, Membership>,
    api_keys: BTreeMap<i64, ApiKey>,
    sessions: BTreeMap<i64, Session>,
    resources: BTreeMap<i64, Resource>,
}

/// A record kind: its table, its columns and how a row decodes.
struct Kind<T> {
    table: &'static str,
    cols: &'static str,
    decode: fn(&Row) -> Result<T, Error>,
}

const TENANTS: Kind<Tenant> = Kind {
    table: "tenants",
    cols: TENANT_COLS,
    decode: tenant_row,
};
const USERS: Kind<User> = Kind {
    table: "users",
    cols: USER_COLS,
    decode: user_row,
};
const MEMBERSHIPS: Kind<Membership> = Kind {
    table: "memberships",
    cols: MEMBERSHIP_COLS,
    decode: membership_row,
};
const KEYS: Kind<ApiKey> = Kind {
    table: "api_keys",
    cols: KEY_COLS,
    decode: key_row,
};
const SESSIONS: Kind<Session> = Kind {
    table: "sessions",
    cols: SESSION_COLS,
    decode: session_row,
};
const RESOURCES: Kind<Resource> = Kind {
    table: "resources",
    cols: RESOURCE_COLS,
    decode: resource_row,
};

/// The last record a read returned, if any.
type Found<T> = Result<Option<T>, Error>;

/// Reads the rows of `kind` where `cond` (in `seq` order, locked as `lock`
/// says) into `into`; returns the last one.
fn fetch<T: Clone>(
    tx: &mut dyn Tx,
    into: &mut BTreeMap<i64, T>,
    kind: &Kind<T>,
    cond: &str,
    params: &[Val],
    lock: Lock,
) -> Found<T> {
    let Kind {
        table,
        cols,
        decode,
    } = kind;
    let sql = format!(
        "SELECT {cols}, seq FROM {table} WHERE {cond} ORDER BY seq {}",
        lock.sql()
    );
    let mut last = None;
    for r in tx.query(&sql, params)? {
        let seq = r
            .int(r.0.len() - 1)?
            .ok_or_else(|| Repr::Corrupt(format!("{table}.seq is NULL")))?;
        let x = decode(&r)?;
        last = Some(x.clone());
        into.insert(seq, x);
    }
    Ok(last)
}

const BY_ID: &str = "id = ?1";
const BY_TOKEN: &str = "token_sha256 = ?1";

impl Slice {
    /// The slice `cmd` needs, read in lock order, closed under references.
    pub(crate) fn read(tx: &mut dyn Tx, policy: &Policy, cmd: &Command) -> Result<Slice, Error> {
        let mut s = Slice::default();
        match &cmd.op {
            Op::CreateTenant { tenant } => {
                s.tenant(tx, tenant, Lock::None)?;
            }
            Op::SuspendTenant { tenant } | Op::ReinstateTenant { tenant } => {
                s.tenant(tx, tenant, Lock::Update)?;
            }
            Op::CreateUser { user } => {
                s.user(tx, user, Lock::None)?;
            }
            Op::BanUser { user } => {
                s.user(tx, user, Lock::Update)?;
                // Every session of the user: the engine picks the live ones.
                s.session(tx, "user_id = ?1", &[user.as_str().into()], Lock::Update)?;
            }
            Op::UnbanUser { user } => {
                s.user(tx, user, Lock::Update)?;
            }
            Op::AddMember { user, tenant, .. } => {
                s.user(tx, user, Lock::Share)?;
                s.tenant(tx, tenant, Lock::Share)?;
                s.membership(tx, user, tenant, Lock::None)?;
            }
            Op::RemoveMember { user, tenant } => {
                // The sessions acting in the tenant (the removal clears
                // their tenant), before the membership: authenticate locks
                // a session before memberships.
                s.session(
                    tx,
                    "user_id = ?1 AND tenant_id = ?2",
                    &[user.as_str().into(), tenant.as_str().into()],
                    Lock::Update,
                )?;
                s.membership(tx, user, tenant, Lock::Update)?;
            }
            Op::SetRole { user, tenant, .. } => {
                s.membership(tx, user, tenant, Lock::Update)?;
            }
            Op::MintApiKey {
                key,
                owner,
                tenant,
                token,
                ..
            } => {
                s.user(tx, owner, Lock::Share)?;
                s.key(tx, BY_ID, &[key.as_str().into()], Lock::None)?;
                s.token_users(tx, &token.hash())?;
                s.membership(tx, owner, tenant, Lock::Share)?;
                s.tenant(tx, tenant, Lock::Share)?;
            }
            Op::UpdateApiKey { key, .. } | Op::RevokeApiKey { key } | Op::DeleteApiKey { key } => {
                s.key(tx, BY_ID, &[key.as_str().into()], Lock::Update)?;
            }
            Op::Login {
                session,
                user,
                token,
                tenant,
            } => {
                s.user(tx, user, Lock::Share)?;
                s.session(tx, BY_ID, &[session.as_str().into()], Lock::None)?;
                s.token_users(tx, &token.hash())?;
                if let Some(tenant) = tenant {
                    s.membership(tx, user, tenant, Lock::Share)?;
                    s.tenant(tx, tenant, Lock::Share)?;
                }
            }
            Op::Logout { session } => {
                s.session(tx, BY_ID, &[session.as_str().into()], Lock::Update)?;
            }
            Op::SwitchTenant { session, tenant } => {
                if let Some(x) = s.session(tx, BY_ID, &[session.as_str().into()], Lock::Update)? {
                    s.membership(tx, &x.user, tenant, Lock::Share)?;
                }
                s.tenant(tx, tenant, Lock::Share)?;
            }
            Op::CreateResource {
                tenant,
                resource,
                owner,
            } => {
                s.membership(tx, owner, tenant, Lock::Share)?;
                s.tenant(tx, tenant, Lock::Share)?;
                s.resource(tx, tenant, resource, Lock::None)?;
            }
            Op::DeleteResource { tenant, resource } => {
                s.resource(tx, tenant, resource, Lock::Update)?;
            }
            Op::Authenticate { .. } => {
                if let Some(req) = cmd.request() {
                    s.for_request(tx, policy, &req)?;
                }
            }
        }
        s.close(tx)?;
        Ok(s)
    }

    /// The slice as a snapshot, each kind in insertion order.
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            taken_at: None,
            tenants: self.tenants.values().cloned().collect(),
            users: self.users.values().cloned().collect(),
            memberships: self.memberships.values().cloned().collect(),
            api_keys: self.api_keys.values().cloned().collect(),
            sessions: self.sessions.values().cloned().collect(),
            resources: self.resources.values().cloned().collect(),
        }
    }

    /// The session `id`, if the slice holds it.
    pub(crate) fn find_session(&self, id: &str) -> Option<&Session> {
        self.sessions.values().find(|s| s.id.as_str() == id)
    }

    fn tenant(&mut self, tx: &mut dyn Tx, id: &str, lock: Lock) -> Found<Tenant> {
        fetch(tx, &mut self.tenants, &TENANTS, BY_ID, &[id.into()], lock)
    }

    fn user(&mut self, tx: &mut dyn Tx, id: &str, lock: Lock) -> Found<User> {
        fetch(tx, &mut self.users, &USERS, BY_ID, &[id.into()], lock)
    }

    fn membership(
        &mut self,
        tx: &mut dyn Tx,
        user: &str,
        tenant: &str,
        lock: Lock,
    ) -> Found<Membership> {
        let (cond, key) = (
            "user_id = ?1 AND tenant_id = ?2",
            [user.into(), tenant.into()],
        );
        fetch(tx, &mut self.memberships, &MEMBERSHIPS, cond, &key, lock)
    }

    fn key(&mut self, tx: &mut dyn Tx, cond: &str, key: &[Val], lock: Lock) -> Found<ApiKey> {
        fetch(tx, &mut self.api_keys, &KEYS, cond, key, lock)
    }

    fn session(&mut self, tx: &mut dyn Tx, cond: &str, key: &[Val], lock: Lock) -> Found<Session> {
        fetch(tx, &mut self.sessions, &SESSIONS, cond, key, lock)
    }

    fn resource(&mut self, tx: &mut dyn Tx, tenant: &str, id: &str, lock: Lock) -> Found<Resource> {
        let (cond, key) = ("tenant_id = ?1 AND id = ?2", [tenant.into(), id.into()]);
        fetch(tx, &mut self.resources, &RESOURCES, cond, &key, lock)
    }

    /// The key or session that already uses `hash`, if any: with it in the
    /// slice, the engine answers `duplicate_token`. No lock: the primary
    /// key of `token_hashes` stops a concurrent mint or login of the same
    /// token (the loser is re-run and then finds it here).
    fn token_users(&mut self, tx: &mut dyn Tx, hash: &TokenHash) -> Result<(), Error> {
        let h = [Val::from(hash.to_string())];
        self.key(tx, BY_TOKEN, &h, Lock::None)?;
        self.session(tx, BY_TOKEN, &h, Lock::None)?;
        Ok(())
    }

    /// The rows one request needs: the credential's record (by token hash),
    /// its user, the user's memberships and their tenants (the scope and
    /// `oldest_membership` need all of them), the tenants the request or
    /// the credential name, and the named resource in each of those tenants
    /// with its owner.
    fn for_request(
        &mut self,
        tx: &mut dyn Tx,
        policy: &Policy,
        req: &Request,
    ) -> Result<(), Error> {
        if !policy.actions.contains_key(&req.action) {
            return Ok(());
        }
        let Extraction::Token { kind, token, .. } = extract(policy, &req.headers) else {
            return Ok(());
        };
        let hash = Val::from(TokenHash::of(token).to_string());
        let (uid, cred_tenant) = match kind {
            CredentialKind::ApiKey => {
                let Some(k) = self.key(tx, BY_TOKEN, &[hash], Lock::Share)? else {
                    return Ok(());
                };
                (k.owner, k.tenant)
            }
            CredentialKind::Session => {
                // Lock order: the user first (as ban_user), then the session,
                // which the refresh may write.
                let Some(r) = tx.query_opt(
                    "SELECT user_id FROM sessions WHERE token_sha256 = ?1",
                    std::slice::from_ref(&hash),
                )?
                else {
                    return Ok(());
                };
                let owner = id(r.text(0)?, "sessions.user_id")?;
                self.user(tx, &owner, Lock::Share)?;
                let Some(s) = self.session(tx, BY_TOKEN, &[hash], Lock::Update)? else {
                    return Ok(());
                };
                (s.user, s.tenant)
            }
        };
        self.user(tx, &uid, Lock::Share)?;
        let key = [uid.as_str().into()];
        fetch(
            tx,
            &mut self.memberships,
            &MEMBERSHIPS,
            "user_id = ?1",
            &key,
            Lock::Share,
        )?;
        let mut tenants: Vec<Id> = self
            .memberships
            .values()
            .map(|m| m.tenant.clone())
            .collect();
        tenants.extend(cred_tenant);
        tenants.extend(req.tenant.clone());
        tenants.sort();
        tenants.dedup();
        let mut present = Vec::new();
        for t in &tenants {
            if self.tenant(tx, t, Lock::Share)?.is_some() {
                present.push(t);
            }
        }
        if let Some(rid) = &req.resource {
            for t in present {
                self.resource(tx, t, rid, Lock::Share)?;
            }
        }
        Ok(())
    }

    /// Adds every user and tenant a record of the slice references, so the
    /// slice passes the engine's integrity check (unlocked: see the module
    /// documentation).
    fn close(&mut self, tx: &mut dyn Tx) -> Result<(), Error> {
        let mut users: Vec<Id> = Vec::new();
        let mut tenants: Vec<Id> = Vec::new();
        for m in self.memberships.values() {
            users.push(m.user.clone());
            tenants.push(m.tenant.clone());
        }
        for k in self.api_keys.values() {
            users.push(k.owner.clone());
            tenants.extend(k.tenant.clone());
        }
        for s in self.sessions.values() {
            users.push(s.user.clone());
            tenants.extend(s.tenant.clone());
        }
        for r in self.resources.values() {
            users.push(r.owner.clone());
            tenants.push(r.tenant.clone());
        }
        users.sort();
        users.dedup();
        tenants.sort();
        tenants.dedup();
        for u in users {
            if !self.users.values().any(|x| x.id == u) && self.user(tx, &u, Lock::None)?.is_none() {
                return Err(
                    Repr::Corrupt(format!("a record references missing user {u:?}")).into(),
                );
            }
        }
        for t in tenants {
            if !self.tenants.values().any(|x| x.id == t)
                && self.tenant(tx, &t, Lock::None)?.is_none()
            {
                return Err(
                    Repr::Corrupt(format!("a record references missing tenant {t:?}")).into(),
                );
            }
        }
        Ok(())
    }
}
