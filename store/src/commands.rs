//! SPEC §8 commands as SQL, one transaction each (the caller opens it).
//!
//! Each command mirrors the engine's `State::apply`: the same checks in the
//! same order, the same rejection reasons and explanations, the same
//! `changes` list. Reads that a write depends on lock their rows
//! (`{update}` / `{share}`, PostgreSQL only; SQLite serializes writers);
//! docs/STORES.md gives the isolation and locking of each command and why.
//!
//! Row locks are taken in one global order to avoid deadlocks:
//! users → sessions / api_keys → memberships → tenants → resources.
//! (A deadlock is still handled: the transaction is retried.)

use authproof_engine::{
    credential::{extract, Extraction},
    is_valid_token,
    snapshot::{self, reached},
    Change, Command, CommandResult, CredentialKind, Effect, Id, Op, Policy, RecordRef, Rejection,
    Request, Snapshot, State, Timestamp, Token, TokenHash,
};
use serde::Serialize;
use serde_json::Value;

use crate::db::{Row, StoreError, Tx, Val};

type Check<T> = Result<T, (Rejection, String)>;

/// What a command's transaction does at its end.
pub(crate) struct Done {
    pub result: CommandResult,
    /// Commit (`ok`, a decision) or roll back (a rejection).
    pub commit: bool,
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

fn reject<T>(reason: Rejection, why: impl Into<String>) -> Result<Check<T>, StoreError> {
    Ok(Err((reason, why.into())))
}

// ---- row decoding ----------------------------------------------------------

pub(crate) fn id(v: Option<String>, what: &str) -> Result<Id, StoreError> {
    let s = v.ok_or_else(|| StoreError::Corrupt(format!("{what} is NULL")))?;
    Id::new(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn opt_id(v: Option<String>, what: &str) -> Result<Option<Id>, StoreError> {
    v.map(|s| id(Some(s), what)).transpose()
}

pub(crate) fn ts(v: Option<i64>, what: &str) -> Result<Timestamp, StoreError> {
    let s = v.ok_or_else(|| StoreError::Corrupt(format!("{what} is NULL")))?;
    Timestamp::from_unix(s).ok_or_else(|| StoreError::Corrupt(format!("{what} out of range")))
}

pub(crate) fn opt_ts(v: Option<i64>, what: &str) -> Result<Option<Timestamp>, StoreError> {
    v.map(|s| ts(Some(s), what)).transpose()
}

fn t(x: Timestamp) -> Val {
    Val::from(x.unix())
}

fn ot(x: Option<Timestamp>) -> Val {
    Val::Int(x.map(Timestamp::unix))
}

pub(crate) const TENANT_COLS: &str = "id, suspended";
pub(crate) fn tenant_row(r: &Row) -> Result<snapshot::Tenant, StoreError> {
    Ok(snapshot::Tenant {
        id: id(r.text(0)?, "tenants.id")?,
        suspended: r.bool(1)?,
    })
}

pub(crate) const USER_COLS: &str = "id, banned";
pub(crate) fn user_row(r: &Row) -> Result<snapshot::User, StoreError> {
    Ok(snapshot::User {
        id: id(r.text(0)?, "users.id")?,
        banned: r.bool(1)?,
    })
}

pub(crate) const MEMBERSHIP_COLS: &str = "user_id, tenant_id, role, since";
pub(crate) fn membership_row(r: &Row) -> Result<snapshot::Membership, StoreError> {
    Ok(snapshot::Membership {
        user: id(r.text(0)?, "memberships.user_id")?,
        tenant: id(r.text(1)?, "memberships.tenant_id")?,
        role: r.text(2)?.unwrap_or_default(),
        since: ts(r.int(3)?, "memberships.since")?,
    })
}

pub(crate) const KEY_COLS: &str = "id, owner, tenant_id, token_sha256, prefix, capabilities, \
     enabled, name, created_at, expires_at, revoked_at, deleted_at";
pub(crate) fn key_row(r: &Row) -> Result<snapshot::ApiKey, StoreError> {
    let hash = r.text(3)?.unwrap_or_default();
    let caps = r.text(5)?.unwrap_or_default();
    Ok(snapshot::ApiKey {
        id: id(r.text(0)?, "api_keys.id")?,
        owner: id(r.text(1)?, "api_keys.owner")?,
        tenant: opt_id(r.text(2)?, "api_keys.tenant_id")?,
        token_sha256: TokenHash::from_hex(&hash)
            .ok_or_else(|| StoreError::Corrupt("api_keys.token_sha256".into()))?,
        prefix: r.text(4)?.unwrap_or_default(),
        capabilities: serde_json::from_str(&caps)
            .map_err(|e| StoreError::Corrupt(format!("api_keys.capabilities: {e}")))?,
        enabled: r.bool(6)?,
        name: r.text(7)?.unwrap_or_default(),
        created_at: ts(r.int(8)?, "api_keys.created_at")?,
        expires_at: opt_ts(r.int(9)?, "api_keys.expires_at")?,
        revoked_at: opt_ts(r.int(10)?, "api_keys.revoked_at")?,
        deleted_at: opt_ts(r.int(11)?, "api_keys.deleted_at")?,
    })
}

pub(crate) const SESSION_COLS: &str =
    "id, user_id, tenant_id, token_sha256, created_at, expires_at, revoked_at";
pub(crate) fn session_row(r: &Row) -> Result<snapshot::Session, StoreError> {
    let hash = r.text(3)?.unwrap_or_default();
    Ok(snapshot::Session {
        id: id(r.text(0)?, "sessions.id")?,
        user: id(r.text(1)?, "sessions.user_id")?,
        tenant: opt_id(r.text(2)?, "sessions.tenant_id")?,
        token_sha256: TokenHash::from_hex(&hash)
            .ok_or_else(|| StoreError::Corrupt("sessions.token_sha256".into()))?,
        created_at: ts(r.int(4)?, "sessions.created_at")?,
        expires_at: ts(r.int(5)?, "sessions.expires_at")?,
        revoked_at: opt_ts(r.int(6)?, "sessions.revoked_at")?,
    })
}

pub(crate) const RESOURCE_COLS: &str = "tenant_id, id, owner, created_at";
pub(crate) fn resource_row(r: &Row) -> Result<snapshot::Resource, StoreError> {
    Ok(snapshot::Resource {
        tenant: id(r.text(0)?, "resources.tenant_id")?,
        id: id(r.text(1)?, "resources.id")?,
        owner: id(r.text(2)?, "resources.owner")?,
        created_at: ts(r.int(3)?, "resources.created_at")?,
    })
}

// ---- inserts, shared with import -------------------------------------------

pub(crate) fn insert_tenant(tx: &mut dyn Tx, x: &snapshot::Tenant) -> Result<(), StoreError> {
    tx.exec(
        "INSERT INTO tenants (id, suspended) VALUES (?1, ?2)",
        &[x.id.as_str().into(), x.suspended.into()],
    )?;
    Ok(())
}

pub(crate) fn insert_user(tx: &mut dyn Tx, x: &snapshot::User) -> Result<(), StoreError> {
    tx.exec(
        "INSERT INTO users (id, banned) VALUES (?1, ?2)",
        &[x.id.as_str().into(), x.banned.into()],
    )?;
    Ok(())
}

pub(crate) fn insert_membership(
    tx: &mut dyn Tx,
    x: &snapshot::Membership,
) -> Result<(), StoreError> {
    tx.exec(
        "INSERT INTO memberships (user_id, tenant_id, role, since) VALUES (?1, ?2, ?3, ?4)",
        &[
            x.user.as_str().into(),
            x.tenant.as_str().into(),
            x.role.as_str().into(),
            t(x.since),
        ],
    )?;
    Ok(())
}

pub(crate) fn insert_key(tx: &mut dyn Tx, x: &snapshot::ApiKey) -> Result<(), StoreError> {
    let hash = x.token_sha256.to_string();
    tx.exec(
        "INSERT INTO token_hashes (token_sha256, kind) VALUES (?1, 'api_key')",
        &[hash.as_str().into()],
    )?;
    tx.exec(
        "INSERT INTO api_keys (id, owner, tenant_id, token_sha256, prefix, capabilities, enabled, \
         name, created_at, expires_at, revoked_at, deleted_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        &[
            x.id.as_str().into(),
            x.owner.as_str().into(),
            x.tenant.as_deref().into(),
            hash.into(),
            x.prefix.as_str().into(),
            json(&x.capabilities).to_string().into(),
            x.enabled.into(),
            x.name.as_str().into(),
            t(x.created_at),
            ot(x.expires_at),
            ot(x.revoked_at),
            ot(x.deleted_at),
        ],
    )?;
    Ok(())
}

pub(crate) fn insert_session(tx: &mut dyn Tx, x: &snapshot::Session) -> Result<(), StoreError> {
    let hash = x.token_sha256.to_string();
    tx.exec(
        "INSERT INTO token_hashes (token_sha256, kind) VALUES (?1, 'session')",
        &[hash.as_str().into()],
    )?;
    tx.exec(
        "INSERT INTO sessions (id, user_id, tenant_id, token_sha256, created_at, expires_at, \
         revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            x.id.as_str().into(),
            x.user.as_str().into(),
            x.tenant.as_deref().into(),
            hash.into(),
            t(x.created_at),
            t(x.expires_at),
            ot(x.revoked_at),
        ],
    )?;
    Ok(())
}

pub(crate) fn insert_resource(tx: &mut dyn Tx, x: &snapshot::Resource) -> Result<(), StoreError> {
    tx.exec(
        "INSERT INTO resources (tenant_id, id, owner, created_at) VALUES (?1, ?2, ?3, ?4)",
        &[
            x.tenant.as_str().into(),
            x.id.as_str().into(),
            x.owner.as_str().into(),
            t(x.created_at),
        ],
    )?;
    Ok(())
}

// ---- lookups ---------------------------------------------------------------

/// `lock` is `""`, `"{share}"` or `"{update}"`.
fn tenant(tx: &mut dyn Tx, tid: &str, lock: &str) -> Result<Option<snapshot::Tenant>, StoreError> {
    let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE id = ?1 {lock}");
    tx.query_opt(&sql, &[tid.into()])?
        .map(|r| tenant_row(&r))
        .transpose()
}

fn user(tx: &mut dyn Tx, uid: &str, lock: &str) -> Result<Option<snapshot::User>, StoreError> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE id = ?1 {lock}");
    tx.query_opt(&sql, &[uid.into()])?
        .map(|r| user_row(&r))
        .transpose()
}

/// The membership record, whatever its `since`.
fn membership(
    tx: &mut dyn Tx,
    uid: &str,
    tid: &str,
    lock: &str,
) -> Result<Option<snapshot::Membership>, StoreError> {
    let sql = format!(
        "SELECT {MEMBERSHIP_COLS} FROM memberships WHERE user_id = ?1 AND tenant_id = ?2 {lock}"
    );
    tx.query_opt(&sql, &[uid.into(), tid.into()])?
        .map(|r| membership_row(&r))
        .transpose()
}

/// The membership that exists at `at` (SPEC §2 point in time).
fn membership_at(
    tx: &mut dyn Tx,
    uid: &str,
    tid: &str,
    at: Timestamp,
    lock: &str,
) -> Result<Option<snapshot::Membership>, StoreError> {
    Ok(membership(tx, uid, tid, lock)?.filter(|m| m.since <= at))
}

fn key(tx: &mut dyn Tx, kid: &str, lock: &str) -> Result<Option<snapshot::ApiKey>, StoreError> {
    let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE id = ?1 {lock}");
    tx.query_opt(&sql, &[kid.into()])?
        .map(|r| key_row(&r))
        .transpose()
}

fn session(
    tx: &mut dyn Tx,
    sid: &str,
    lock: &str,
) -> Result<Option<snapshot::Session>, StoreError> {
    let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE id = ?1 {lock}");
    tx.query_opt(&sql, &[sid.into()])?
        .map(|r| session_row(&r))
        .transpose()
}

fn resource(
    tx: &mut dyn Tx,
    tid: &str,
    rid: &str,
    lock: &str,
) -> Result<Option<snapshot::Resource>, StoreError> {
    let sql =
        format!("SELECT {RESOURCE_COLS} FROM resources WHERE tenant_id = ?1 AND id = ?2 {lock}");
    tx.query_opt(&sql, &[tid.into(), rid.into()])?
        .map(|r| resource_row(&r))
        .transpose()
}

fn token_used(tx: &mut dyn Tx, hash: &TokenHash) -> Result<bool, StoreError> {
    Ok(tx
        .query_opt(
            "SELECT kind FROM token_hashes WHERE token_sha256 = ?1",
            &[hash.to_string().into()],
        )?
        .is_some())
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

// ---- commands --------------------------------------------------------------

/// Runs one command inside `tx`.
pub(crate) fn apply(tx: &mut dyn Tx, policy: &Policy, cmd: &Command) -> Result<Done, StoreError> {
    let op = cmd.op.name().to_string();
    if let Some(req) = cmd.request() {
        let decision = authenticate(tx, policy, &req)?;
        return Ok(Done {
            result: CommandResult::Decision {
                op,
                decision: Box::new(decision),
            },
            commit: true,
        });
    }
    Ok(match run(tx, policy, cmd.at, &cmd.op)? {
        Ok(changes) => Done {
            result: CommandResult::Ok { op, changes },
            commit: true,
        },
        Err((reason, explain)) => Done {
            result: CommandResult::Rejected {
                op,
                reason,
                explain,
            },
            commit: false,
        },
    })
}

fn run(
    tx: &mut dyn Tx,
    policy: &Policy,
    at: Timestamp,
    op: &Op,
) -> Result<Check<Vec<Change>>, StoreError> {
    match op {
        Op::CreateTenant { tenant: tid } => {
            if tenant(tx, tid, "")?.is_some() {
                return reject(Rejection::DuplicateId, format!("tenant {tid:?} exists"));
            }
            insert_tenant(
                tx,
                &snapshot::Tenant {
                    id: tid.clone(),
                    suspended: false,
                },
            )?;
            Ok(Ok(vec![Change::Create {
                record: RecordRef::Tenant { id: tid.clone() },
            }]))
        }
        Op::SuspendTenant { tenant: tid } | Op::ReinstateTenant { tenant: tid } => {
            let suspend = matches!(op, Op::SuspendTenant { .. });
            let Some(x) = tenant(tx, tid, "{update}")? else {
                return reject(Rejection::UnknownTenant, format!("no tenant {tid:?}"));
            };
            if x.suspended == suspend {
                return reject(
                    Rejection::NoChange,
                    format!(
                        "tenant {tid:?} is already {}",
                        if suspend { "suspended" } else { "active" }
                    ),
                );
            }
            tx.exec(
                "UPDATE tenants SET suspended = ?2 WHERE id = ?1",
                &[tid.as_str().into(), suspend.into()],
            )?;
            Ok(Ok(vec![update(
                RecordRef::Tenant { id: tid.clone() },
                "suspended",
                !suspend,
                suspend,
            )]))
        }
        Op::CreateUser { user: uid } => {
            if user(tx, uid, "")?.is_some() {
                return reject(Rejection::DuplicateId, format!("user {uid:?} exists"));
            }
            insert_user(
                tx,
                &snapshot::User {
                    id: uid.clone(),
                    banned: false,
                },
            )?;
            Ok(Ok(vec![Change::Create {
                record: RecordRef::User { id: uid.clone() },
            }]))
        }
        Op::BanUser { user: uid } | Op::UnbanUser { user: uid } => {
            let ban = matches!(op, Op::BanUser { .. });
            let Some(u) = user(tx, uid, "{update}")? else {
                return reject(Rejection::UnknownUser, format!("no user {uid:?}"));
            };
            if u.banned == ban {
                return reject(
                    Rejection::NoChange,
                    format!(
                        "user {uid:?} is already {}",
                        if ban { "banned" } else { "not banned" }
                    ),
                );
            }
            tx.exec(
                "UPDATE users SET banned = ?2 WHERE id = ?1",
                &[uid.as_str().into(), ban.into()],
            )?;
            let mut changes = vec![update(
                RecordRef::User { id: uid.clone() },
                "banned",
                !ban,
                ban,
            )];
            if ban {
                // The user's sessions live at `at`: created, not revoked,
                // not expired. They stay revoked after an unban (F16).
                const LIVE: &str = "user_id = ?1 AND created_at <= ?2 \
                     AND (revoked_at IS NULL OR revoked_at > ?2) AND expires_at > ?2";
                let rows = tx.query(
                    &format!(
                        "SELECT {SESSION_COLS} FROM sessions WHERE {LIVE} ORDER BY seq {{update}}"
                    ),
                    &[uid.as_str().into(), t(at)],
                )?;
                for r in &rows {
                    let s = session_row(r)?;
                    changes.push(update(
                        RecordRef::Session { id: s.id },
                        "revoked_at",
                        s.revoked_at,
                        at,
                    ));
                }
                if !rows.is_empty() {
                    tx.exec(
                        &format!("UPDATE sessions SET revoked_at = ?2 WHERE {LIVE}"),
                        &[uid.as_str().into(), t(at)],
                    )?;
                }
            }
            Ok(Ok(changes))
        }
        Op::AddMember {
            user: uid,
            tenant: tid,
            role,
        } => {
            if user(tx, uid, "{share}")?.is_none() {
                return reject(Rejection::UnknownUser, format!("no user {uid:?}"));
            }
            if tenant(tx, tid, "{share}")?.is_none() {
                return reject(Rejection::UnknownTenant, format!("no tenant {tid:?}"));
            }
            if membership(tx, uid, tid, "")?.is_some() {
                return reject(
                    Rejection::AlreadyMember,
                    format!("{uid:?} is already a member of {tid:?}"),
                );
            }
            insert_membership(
                tx,
                &snapshot::Membership {
                    user: uid.clone(),
                    tenant: tid.clone(),
                    role: role.clone(),
                    since: at,
                },
            )?;
            Ok(Ok(vec![Change::Create {
                record: membership_ref(uid, tid),
            }]))
        }
        Op::RemoveMember {
            user: uid,
            tenant: tid,
        } => {
            // Lock order: the sessions that point at the tenant, then the
            // membership (authenticate locks a session before memberships).
            let rows = tx.query(
                &format!(
                    "SELECT {SESSION_COLS} FROM sessions WHERE user_id = ?1 AND tenant_id = ?2 \
                     ORDER BY seq {{update}}"
                ),
                &[uid.as_str().into(), tid.as_str().into()],
            )?;
            if membership_at(tx, uid, tid, at, "{update}")?.is_none() {
                return reject(
                    Rejection::NotAMember,
                    format!("{uid:?} is not a member of {tid:?} at {at}"),
                );
            }
            tx.exec(
                "DELETE FROM memberships WHERE user_id = ?1 AND tenant_id = ?2",
                &[uid.as_str().into(), tid.as_str().into()],
            )?;
            let mut changes = vec![Change::Delete {
                record: membership_ref(uid, tid),
            }];
            for r in &rows {
                let s = session_row(r)?;
                changes.push(update(
                    RecordRef::Session { id: s.id },
                    "tenant",
                    &s.tenant,
                    Value::Null,
                ));
            }
            if !rows.is_empty() {
                tx.exec(
                    "UPDATE sessions SET tenant_id = NULL WHERE user_id = ?1 AND tenant_id = ?2",
                    &[uid.as_str().into(), tid.as_str().into()],
                )?;
            }
            Ok(Ok(changes))
        }
        Op::SetRole {
            user: uid,
            tenant: tid,
            role,
        } => {
            let Some(m) = membership_at(tx, uid, tid, at, "{update}")? else {
                return reject(
                    Rejection::NotAMember,
                    format!("{uid:?} is not a member of {tid:?} at {at}"),
                );
            };
            if m.role == *role {
                return reject(
                    Rejection::NoChange,
                    format!("{uid:?} already has role {role:?} in {tid:?}"),
                );
            }
            tx.exec(
                "UPDATE memberships SET role = ?3 WHERE user_id = ?1 AND tenant_id = ?2",
                &[
                    uid.as_str().into(),
                    tid.as_str().into(),
                    role.as_str().into(),
                ],
            )?;
            Ok(Ok(vec![update(
                membership_ref(uid, tid),
                "role",
                &m.role,
                role,
            )]))
        }
        Op::MintApiKey {
            key: kid,
            owner,
            tenant: tid,
            token,
            capabilities,
            expires_at,
            name,
        } => {
            // Lock order: owner, then membership, then tenant; the checks
            // below still run in SPEC §8 order.
            let owner_row = user(tx, owner, "{share}")?;
            if key(tx, kid, "")?.is_some() {
                return reject(Rejection::DuplicateId, format!("api key {kid:?} exists"));
            }
            let hash = match unused_token(tx, token)? {
                Ok(h) => h,
                Err(e) => return Ok(Err(e)),
            };
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
            let member = membership_at(tx, owner, tid, at, "{share}")?;
            if tenant(tx, tid, "{share}")?.is_none() || member.is_none() {
                return reject(
                    Rejection::NotAMember,
                    format!("owner {owner:?} is not a member of {tid:?} at {at}"),
                );
            }
            if owner_row.is_some_and(|u| u.banned) {
                return reject(Rejection::UserBanned, format!("owner {owner:?} is banned"));
            }
            insert_key(
                tx,
                &snapshot::ApiKey {
                    id: kid.clone(),
                    owner: owner.clone(),
                    tenant: Some(tid.clone()),
                    token_sha256: hash,
                    prefix: prefix.to_string(),
                    capabilities: capabilities.clone(),
                    enabled: true,
                    name: name.clone().unwrap_or_default(),
                    created_at: at,
                    expires_at: *expires_at,
                    revoked_at: None,
                    deleted_at: None,
                },
            )?;
            Ok(Ok(vec![Change::Create {
                record: RecordRef::ApiKey { id: kid.clone() },
            }]))
        }
        Op::UpdateApiKey {
            key: kid,
            name,
            enabled,
            expires_at,
            immutable,
        } => {
            let k = match updatable_key(tx, kid, at, true)? {
                Ok(k) => k,
                Err(e) => return Ok(Err(e)),
            };
            if !immutable.is_empty() {
                let fields: Vec<&str> = immutable.keys().map(String::as_str).collect();
                return reject(
                    Rejection::ImmutableField,
                    format!("update of key {kid:?} names {fields:?}; only name, enabled and expires_at may change"),
                );
            }
            let r = || RecordRef::ApiKey { id: kid.clone() };
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
                    format!("update of key {kid:?} changes nothing"),
                );
            }
            tx.exec(
                "UPDATE api_keys SET name = ?2, enabled = ?3, expires_at = ?4 WHERE id = ?1",
                &[
                    kid.as_str().into(),
                    name.as_deref().unwrap_or(&k.name).into(),
                    enabled.unwrap_or(k.enabled).into(),
                    ot(expires_at.unwrap_or(k.expires_at)),
                ],
            )?;
            Ok(Ok(changes))
        }
        Op::RevokeApiKey { key: kid } | Op::DeleteApiKey { key: kid } => {
            let revoke = matches!(op, Op::RevokeApiKey { .. });
            let k = match updatable_key(tx, kid, at, revoke)? {
                Ok(k) => k,
                Err(e) => return Ok(Err(e)),
            };
            let (field, from, sql) = if revoke {
                (
                    "revoked_at",
                    k.revoked_at,
                    "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1",
                )
            } else {
                (
                    "deleted_at",
                    k.deleted_at,
                    "UPDATE api_keys SET deleted_at = ?2 WHERE id = ?1",
                )
            };
            tx.exec(sql, &[kid.as_str().into(), t(at)])?;
            Ok(Ok(vec![update(
                RecordRef::ApiKey { id: kid.clone() },
                field,
                from,
                at,
            )]))
        }
        Op::Login {
            session: sid,
            user: uid,
            token,
            tenant: tid,
        } => {
            let u = user(tx, uid, "{share}")?;
            if session(tx, sid, "")?.is_some() {
                return reject(Rejection::DuplicateId, format!("session {sid:?} exists"));
            }
            let hash = match unused_token(tx, token)? {
                Ok(h) => h,
                Err(e) => return Ok(Err(e)),
            };
            if !is_valid_token(token.expose()) || policy.api_key_prefix(token.expose()).is_some() {
                return reject(
                    Rejection::InvalidToken,
                    format!("token sha256 {} is not a valid session token (or starts with an API-key prefix)", hash.short()),
                );
            }
            let Some(u) = u else {
                return reject(Rejection::UnknownUser, format!("no user {uid:?}"));
            };
            if u.banned {
                return reject(Rejection::UserBanned, format!("user {uid:?} is banned"));
            }
            if let Some(tid) = tid {
                let m = membership_at(tx, uid, tid, at, "{share}")?;
                if tenant(tx, tid, "{share}")?.is_none() || m.is_none() {
                    return reject(
                        Rejection::NotAMember,
                        format!("{uid:?} is not a member of {tid:?} at {at}"),
                    );
                }
            }
            let mut expires_at = at.saturating_add(policy.session.ttl);
            if let Some(max) = policy.session.absolute_max {
                expires_at = expires_at.min(at.saturating_add(max));
            }
            insert_session(
                tx,
                &snapshot::Session {
                    id: sid.clone(),
                    user: uid.clone(),
                    tenant: tid.clone(),
                    token_sha256: hash,
                    created_at: at,
                    expires_at,
                    revoked_at: None,
                },
            )?;
            Ok(Ok(vec![Change::Create {
                record: RecordRef::Session { id: sid.clone() },
            }]))
        }
        Op::Logout { session: sid } => {
            let s = match live_session_for(tx, sid, at)? {
                Ok(s) => s,
                Err(e) => return Ok(Err(e)),
            };
            tx.exec(
                "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1",
                &[sid.as_str().into(), t(at)],
            )?;
            Ok(Ok(vec![update(
                RecordRef::Session { id: sid.clone() },
                "revoked_at",
                s.revoked_at,
                at,
            )]))
        }
        Op::SwitchTenant {
            session: sid,
            tenant: tid,
        } => {
            let s = match live_session_for(tx, sid, at)? {
                Ok(s) => s,
                Err(e) => return Ok(Err(e)),
            };
            let m = membership_at(tx, &s.user, tid, at, "{share}")?;
            let x = tenant(tx, tid, "{share}")?;
            let Some(x) = x.filter(|_| m.is_some()) else {
                return reject(
                    Rejection::NotAMember,
                    format!("{:?} is not a member of {tid:?} at {at}", s.user),
                );
            };
            if x.suspended {
                return reject(
                    Rejection::TenantSuspended,
                    format!("tenant {tid:?} is suspended"),
                );
            }
            if s.tenant.as_ref() == Some(tid) {
                return reject(
                    Rejection::NoChange,
                    format!("session {sid:?} already acts in {tid:?}"),
                );
            }
            tx.exec(
                "UPDATE sessions SET tenant_id = ?2 WHERE id = ?1",
                &[sid.as_str().into(), tid.as_str().into()],
            )?;
            Ok(Ok(vec![update(
                RecordRef::Session { id: sid.clone() },
                "tenant",
                &s.tenant,
                tid,
            )]))
        }
        Op::CreateResource {
            tenant: tid,
            resource: rid,
            owner,
        } => {
            let m = membership_at(tx, owner, tid, at, "{share}")?;
            if resource(tx, tid, rid, "")?.is_some() {
                return reject(
                    Rejection::DuplicateId,
                    format!("resource {rid:?} exists in {tid:?}"),
                );
            }
            if tenant(tx, tid, "{share}")?.is_none() {
                return reject(Rejection::UnknownTenant, format!("no tenant {tid:?}"));
            }
            if m.is_none() {
                return reject(
                    Rejection::NotAMember,
                    format!("owner {owner:?} is not a member of {tid:?} at {at}"),
                );
            }
            insert_resource(
                tx,
                &snapshot::Resource {
                    tenant: tid.clone(),
                    id: rid.clone(),
                    owner: owner.clone(),
                    created_at: at,
                },
            )?;
            Ok(Ok(vec![Change::Create {
                record: resource_ref(tid, rid),
            }]))
        }
        Op::DeleteResource {
            tenant: tid,
            resource: rid,
        } => {
            if resource(tx, tid, rid, "{update}")?
                .filter(|r| r.created_at <= at)
                .is_none()
            {
                return reject(
                    Rejection::ResourceNotFound,
                    format!("no resource {rid:?} in {tid:?} at {at}"),
                );
            }
            tx.exec(
                "DELETE FROM resources WHERE tenant_id = ?1 AND id = ?2",
                &[tid.as_str().into(), rid.as_str().into()],
            )?;
            Ok(Ok(vec![Change::Delete {
                record: resource_ref(tid, rid),
            }]))
        }
        Op::Authenticate { .. } => unreachable!("handled by apply"),
    }
}

/// The hash of a token no key or session uses yet.
fn unused_token(tx: &mut dyn Tx, token: &Token) -> Result<Check<TokenHash>, StoreError> {
    let hash = token.hash();
    if token_used(tx, &hash)? {
        return reject(
            Rejection::DuplicateToken,
            format!("token sha256 {} is already in use", hash.short()),
        );
    }
    Ok(Ok(hash))
}

/// The engine's `updatable_key`: exists at `at`, not deleted (nor revoked).
fn updatable_key(
    tx: &mut dyn Tx,
    kid: &Id,
    at: Timestamp,
    not_revoked: bool,
) -> Result<Check<snapshot::ApiKey>, StoreError> {
    let Some(k) = key(tx, kid, "{update}")?.filter(|k| k.created_at <= at) else {
        return reject(
            Rejection::ApiKeyNotFound,
            format!("no api key {kid:?} at {at}"),
        );
    };
    if reached(k.deleted_at, at) {
        return reject(
            Rejection::ApiKeyDeleted,
            format!("api key {kid:?} is deleted"),
        );
    }
    if not_revoked && reached(k.revoked_at, at) {
        return reject(
            Rejection::ApiKeyRevoked,
            format!("api key {kid:?} is revoked; a revoked key stays revoked"),
        );
    }
    Ok(Ok(k))
}

/// The engine's `live_session_for`: exists, not revoked, not expired.
fn live_session_for(
    tx: &mut dyn Tx,
    sid: &Id,
    at: Timestamp,
) -> Result<Check<snapshot::Session>, StoreError> {
    let Some(s) = session(tx, sid, "{update}")?.filter(|s| s.created_at <= at) else {
        return reject(
            Rejection::SessionNotFound,
            format!("no session {sid:?} at {at}"),
        );
    };
    if reached(s.revoked_at, at) {
        return reject(
            Rejection::SessionRevoked,
            format!("session {sid:?} is revoked"),
        );
    }
    if s.expires_at <= at {
        return reject(
            Rejection::SessionExpired,
            format!("session {sid:?} expired at {}", s.expires_at),
        );
    }
    Ok(Ok(s))
}

// ---- authenticate ----------------------------------------------------------

/// Loads just the rows one request needs, decides with the engine on a
/// mini state built from them, and applies the sliding refresh with one
/// conditional UPDATE that can never revive a session.
fn authenticate(
    tx: &mut dyn Tx,
    policy: &Policy,
    req: &Request,
) -> Result<authproof_engine::Decision, StoreError> {
    let mini = load_for(tx, policy, req)?;
    let state = State::from_snapshot(mini)
        .map_err(|e| StoreError::Corrupt(format!("rows for a decision: {e}")))?;
    let decision = state.decide(policy, req);
    for effect in &decision.effects {
        let Effect::ExtendSession {
            session: sid,
            expires_at,
        } = effect;
        // Only a session live at `at` whose expiry the refresh moves
        // forward: never a revoked or expired one (F08, I2, I10).
        let n = tx.exec(
            "UPDATE sessions SET expires_at = ?2 WHERE id = ?1 AND created_at <= ?3 \
             AND (revoked_at IS NULL OR revoked_at > ?3) AND expires_at > ?3 AND expires_at < ?2",
            &[sid.as_str().into(), t(*expires_at), t(req.at)],
        )?;
        if n != 1 {
            return Err(StoreError::Conflict(format!(
                "sliding refresh of session {sid:?} matched {n} rows"
            )));
        }
    }
    Ok(decision)
}

/// The mini snapshot for one request: the credential's record (by token
/// hash), its user, the user's memberships and their tenants, the tenants
/// the request or the credential name, and the named resource in each of
/// those tenants with its owner.
fn load_for(tx: &mut dyn Tx, policy: &Policy, req: &Request) -> Result<Snapshot, StoreError> {
    let mut mini = Snapshot::default();
    if !policy.actions.contains_key(&req.action) {
        return Ok(mini);
    }
    let Extraction::Token { kind, token, .. } = extract(policy, &req.headers) else {
        return Ok(mini);
    };
    let hash = TokenHash::of(token).to_string();
    let (uid, cred_tenant) = match kind {
        CredentialKind::ApiKey => {
            let Some(r) = tx.query_opt(
                &format!("SELECT {KEY_COLS} FROM api_keys WHERE token_sha256 = ?1 {{share}}"),
                &[hash.as_str().into()],
            )?
            else {
                return Ok(mini);
            };
            let k = key_row(&r)?;
            let out = (k.owner.clone(), k.tenant.clone());
            mini.api_keys.push(k);
            out
        }
        CredentialKind::Session => {
            // Lock order: the user first (as ban_user), then the session.
            let Some(r) = tx.query_opt(
                "SELECT user_id FROM sessions WHERE token_sha256 = ?1",
                &[hash.as_str().into()],
            )?
            else {
                return Ok(mini);
            };
            let owner = r.text(0)?.unwrap_or_default();
            user(tx, &owner, "{share}")?;
            let Some(r) = tx.query_opt(
                &format!("SELECT {SESSION_COLS} FROM sessions WHERE token_sha256 = ?1 {{update}}"),
                &[hash.as_str().into()],
            )?
            else {
                return Ok(mini);
            };
            let s = session_row(&r)?;
            let out = (s.user.clone(), s.tenant.clone());
            mini.sessions.push(s);
            out
        }
    };
    let u = user(tx, &uid, "{share}")?
        .ok_or_else(|| StoreError::Corrupt(format!("credential of missing user {uid:?}")))?;
    mini.users.push(u);
    let rows = tx.query(
        &format!(
            "SELECT {MEMBERSHIP_COLS} FROM memberships WHERE user_id = ?1 ORDER BY seq {{share}}"
        ),
        &[uid.as_str().into()],
    )?;
    let mut tenant_ids: Vec<Id> = Vec::new();
    for r in &rows {
        let m = membership_row(r)?;
        tenant_ids.push(m.tenant.clone());
        mini.memberships.push(m);
    }
    tenant_ids.extend(cred_tenant);
    tenant_ids.extend(req.tenant.clone());
    tenant_ids.sort();
    tenant_ids.dedup();
    for tid in &tenant_ids {
        if let Some(x) = tenant(tx, tid, "{share}")? {
            mini.tenants.push(x);
        }
    }
    // Memberships of a tenant that vanished cannot be: foreign keys.
    if let Some(rid) = &req.resource {
        for x in mini.tenants.clone() {
            if let Some(r) = resource(tx, &x.id, rid, "{share}")? {
                if !mini.users.iter().any(|u| u.id == r.owner) {
                    if let Some(o) = user(tx, &r.owner, "")? {
                        mini.users.push(o);
                    }
                }
                mini.resources.push(r);
            }
        }
    }
    Ok(mini)
}
