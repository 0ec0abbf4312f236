//! SPEC §2 records as table rows: the column lists, decoding a row into a
//! record, and inserting one. Used by import, export, the slice reader and
//! the change writer alike, so a record has exactly one row shape.

use authproof_engine::{snapshot, Id, Timestamp, TokenHash};

use crate::db::{Row, Tx, Val};
use crate::error::{Error, Repr};

pub(crate) fn id(v: Option<String>, what: &str) -> Result<Id, Error> {
    let s = v.ok_or_else(|| Repr::Corrupt(format!("{what} is NULL")))?;
    Ok(Id::new(s).map_err(|e| Repr::Corrupt(format!("{what}: {e}")))?)
}

pub(crate) fn opt_id(v: Option<String>, what: &str) -> Result<Option<Id>, Error> {
    v.map(|s| id(Some(s), what)).transpose()
}

pub(crate) fn ts(v: Option<i64>, what: &str) -> Result<Timestamp, Error> {
    let s = v.ok_or_else(|| Repr::Corrupt(format!("{what} is NULL")))?;
    Ok(Timestamp::from_unix(s).ok_or_else(|| Repr::Corrupt(format!("{what} out of range")))?)
}

pub(crate) fn opt_ts(v: Option<i64>, what: &str) -> Result<Option<Timestamp>, Error> {
    v.map(|s| ts(Some(s), what)).transpose()
}

pub(crate) fn t(x: Timestamp) -> Val {
    Val::from(x.unix())
}

pub(crate) fn ot(x: Option<Timestamp>) -> Val {
    Val::Int(x.map(Timestamp::unix))
}

pub(crate) const TENANT_COLS: &str = "id, suspended";
pub(crate) fn tenant_row(r: &Row) -> Result<snapshot::Tenant, Error> {
    Ok(snapshot::Tenant {
        id: id(r.text(0)?, "tenants.id")?,
        suspended: r.bool(1)?,
    })
}

pub(crate) const USER_COLS: &str = "id, banned";
pub(crate) fn user_row(r: &Row) -> Result<snapshot::User, Error> {
    Ok(snapshot::User {
        id: id(r.text(0)?, "users.id")?,
        banned: r.bool(1)?,
    })
}

pub(crate) const MEMBERSHIP_COLS: &str = "user_id, tenant_id, role, since";
pub(crate) fn membership_row(r: &Row) -> Result<snapshot::Membership, Error> {
    Ok(snapshot::Membership {
        user: id(r.text(0)?, "memberships.user_id")?,
        tenant: id(r.text(1)?, "memberships.tenant_id")?,
        role: r.text(2)?.unwrap_or_default().into(),
        since: ts(r.int(3)?, "memberships.since")?,
    })
}

pub(crate) const KEY_COLS: &str = "id, owner, tenant_id, token_sha256, prefix, capabilities, \
     enabled, name, created_at, expires_at, revoked_at, deleted_at";
pub(crate) fn key_row(r: &Row) -> Result<snapshot::ApiKey, Error> {
    let hash = r.text(3)?.unwrap_or_default();
    let caps = r.text(5)?.unwrap_or_default();
    Ok(snapshot::ApiKey {
        id: id(r.text(0)?, "api_keys.id")?,
        owner: id(r.text(1)?, "api_keys.owner")?,
        tenant: opt_id(r.text(2)?, "api_keys.tenant_id")?,
        token_sha256: TokenHash::from_hex(&hash)
            .ok_or_else(|| Repr::Corrupt("api_keys.token_sha256".into()))?,
        prefix: r.text(4)?.unwrap_or_default().into(),
        capabilities: serde_json::from_str(&caps)
            .map_err(|e| Repr::Corrupt(format!("api_keys.capabilities: {e}")))?,
        enabled: r.bool(6)?,
        name: r.text(7)?.unwrap_or_default().into(),
        created_at: ts(r.int(8)?, "api_keys.created_at")?,
        expires_at: opt_ts(r.int(9)?, "api_keys.expires_at")?,
        revoked_at: opt_ts(r.int(10)?, "api_keys.revoked_at")?,
        deleted_at: opt_ts(r.int(11)?, "api_keys.deleted_at")?,
    })
}

pub(crate) const SESSION_COLS: &str =
    "id, user_id, tenant_id, token_sha256, created_at, expires_at, revoked_at";
pub(crate) fn session_row(r: &Row) -> Result<snapshot::Session, Error> {
    let hash = r.text(3)?.unwrap_or_default();
    Ok(snapshot::Session {
        id: id(r.text(0)?, "sessions.id")?,
        user: id(r.text(1)?, "sessions.user_id")?,
        tenant: opt_id(r.text(2)?, "sessions.tenant_id")?,
        token_sha256: TokenHash::from_hex(&hash)
            .ok_or_else(|| Repr::Corrupt("sessions.token_sha256".into()))?,
        created_at: ts(r.int(4)?, "sessions.created_at")?,
        expires_at: ts(r.int(5)?, "sessions.expires_at")?,
        revoked_at: opt_ts(r.int(6)?, "sessions.revoked_at")?,
    })
}

pub(crate) const RESOURCE_COLS: &str = "tenant_id, id, owner, created_at";
pub(crate) fn resource_row(r: &Row) -> Result<snapshot::Resource, Error> {
    Ok(snapshot::Resource {
        tenant: id(r.text(0)?, "resources.tenant_id")?,
        id: id(r.text(1)?, "resources.id")?,
        owner: id(r.text(2)?, "resources.owner")?,
        created_at: ts(r.int(3)?, "resources.created_at")?,
    })
}

/// Runs one INSERT and checks that it wrote exactly one row.
fn insert_one(tx: &mut dyn Tx, what: &str, sql: &str, params: &[Val]) -> Result<(), Error> {
    let n = tx.exec(sql, params)?;
    if n != 1 {
        return Err(Repr::RowCount {
            write: format!("insert {what}"),
            expected: 1,
            found: n,
        }
        .into());
    }
    Ok(())
}

pub(crate) fn insert_tenant(tx: &mut dyn Tx, x: &snapshot::Tenant) -> Result<(), Error> {
    insert_one(
        tx,
        &format!("tenant {:?}", x.id),
        "INSERT INTO tenants (id, suspended) VALUES (?1, ?2)",
        &[x.id.as_str().into(), x.suspended.into()],
    )
}

pub(crate) fn insert_user(tx: &mut dyn Tx, x: &snapshot::User) -> Result<(), Error> {
    insert_one(
        tx,
        &format!("user {:?}", x.id),
        "INSERT INTO users (id, banned) VALUES (?1, ?2)",
        &[x.id.as_str().into(), x.banned.into()],
    )
}

pub(crate) fn insert_membership(tx: &mut dyn Tx, x: &snapshot::Membership) -> Result<(), Error> {
    insert_one(
        tx,
        &format!("membership ({:?}, {:?})", x.user, x.tenant),
        "INSERT INTO memberships (user_id, tenant_id, role, since) VALUES (?1, ?2, ?3, ?4)",
        &[
            x.user.as_str().into(),
            x.tenant.as_str().into(),
            x.role.as_str().into(),
            t(x.since),
        ],
    )
}

pub(crate) fn insert_key(tx: &mut dyn Tx, x: &snapshot::ApiKey) -> Result<(), Error> {
    let hash = x.token_sha256.to_string();
    let what = format!("api key {:?}", x.id);
    insert_one(
        tx,
        &what,
        "INSERT INTO token_hashes (token_sha256, kind) VALUES (?1, 'api_key')",
        &[hash.as_str().into()],
    )?;
    let caps = serde_json::to_string(&x.capabilities).expect("strings serialize");
    insert_one(
        tx,
        &what,
        "INSERT INTO api_keys (id, owner, tenant_id, token_sha256, prefix, capabilities, enabled, \
         name, created_at, expires_at, revoked_at, deleted_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        &[
            x.id.as_str().into(),
            x.owner.as_str().into(),
            x.tenant.as_deref().into(),
            hash.into(),
            x.prefix.as_str().into(),
            caps.into(),
            x.enabled.into(),
            x.name.as_str().into(),
            t(x.created_at),
            ot(x.expires_at),
            ot(x.revoked_at),
            ot(x.deleted_at),
        ],
    )
}

pub(crate) fn insert_session(tx: &mut dyn Tx, x: &snapshot::Session) -> Result<(), Error> {
    let hash = x.token_sha256.to_string();
    let what = format!("session {:?}", x.id);
    insert_one(
        tx,
        &what,
        "INSERT INTO token_hashes (token_sha256, kind) VALUES (?1, 'session')",
        &[hash.as_str().into()],
    )?;
    insert_one(
        tx,
        &what,
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
    )
}

pub(crate) fn insert_resource(tx: &mut dyn Tx, x: &snapshot::Resource) -> Result<(), Error> {
    insert_one(
        tx,
        &format!("resource ({:?}, {:?})", x.tenant, x.id),
        "INSERT INTO resources (tenant_id, id, owner, created_at) VALUES (?1, ?2, ?3, ?4)",
        &[
            x.tenant.as_str().into(),
            x.id.as_str().into(),
            x.owner.as_str().into(),
            t(x.created_at),
        ],
    )
}
