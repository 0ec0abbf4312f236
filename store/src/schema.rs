//! The schema, as ordered migrations.
//!
//! `schema_version` holds one row per applied migration; migration `n`
//! (1-based) runs once, in a transaction, when the highest recorded version
//! is below `n`. Migrations are never edited once released: a change is a
//! new migration appended to [`MIGRATIONS`].
//!
//! Dialect differences are two placeholders: `{serial}` (the insertion
//! sequence, an auto-increment primary key) and `{bool}`.
//!
//! - Every record table has `seq`, its insertion sequence: export orders by
//!   it, so records keep the order of the snapshot they came from and
//!   created records are appended, exactly as the engine's `to_snapshot()`.
//! - Timestamps are BIGINT Unix seconds (SPEC §1: whole seconds UTC, years
//!   0000–9999, which fit neither SQLite's nor every driver's date types).
//! - `token_hashes` makes `token_sha256` unique across keys and sessions
//!   together (SPEC §2) with a primary key, so two concurrent mints or
//!   logins of the same token cannot both commit.
//! - `journal` is an optional append-only log of command results in commit
//!   order (see `Store::set_journal`); results never hold a raw token.

/// Creates the version table; safe to run on any database.
pub(crate) const BOOTSTRAP: &str =
    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY)";

/// Ordered migrations: `MIGRATIONS[n - 1]` is version `n`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the SPEC §2 records.
    "
CREATE TABLE meta (
    name TEXT NOT NULL PRIMARY KEY,
    int_value BIGINT
);
CREATE TABLE tenants (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    suspended {bool} NOT NULL
);
CREATE TABLE users (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    banned {bool} NOT NULL
);
CREATE TABLE memberships (
    seq {serial},
    user_id TEXT NOT NULL REFERENCES users (id),
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    role TEXT NOT NULL,
    since BIGINT NOT NULL,
    UNIQUE (user_id, tenant_id)
);
CREATE INDEX memberships_by_tenant ON memberships (tenant_id);
CREATE TABLE token_hashes (
    token_sha256 TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('api_key', 'session'))
);
CREATE TABLE api_keys (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL REFERENCES users (id),
    tenant_id TEXT REFERENCES tenants (id),
    token_sha256 TEXT NOT NULL UNIQUE REFERENCES token_hashes (token_sha256),
    prefix TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    enabled {bool} NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    deleted_at BIGINT
);
CREATE INDEX api_keys_by_owner ON api_keys (owner);
CREATE TABLE sessions (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id),
    tenant_id TEXT REFERENCES tenants (id),
    token_sha256 TEXT NOT NULL UNIQUE REFERENCES token_hashes (token_sha256),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CHECK (created_at <= expires_at)
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE TABLE resources (
    seq {serial},
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    owner TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, id)
);
",
    // 2: the optional journal of command results.
    "
CREATE TABLE journal (
    seq {serial},
    at BIGINT NOT NULL,
    op TEXT NOT NULL,
    result TEXT NOT NULL
);
",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A migration in SQLite's dialect.
pub(crate) fn sqlite(m: &str) -> String {
    m.replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT")
        .replace("{bool}", "INTEGER")
}

/// A migration in PostgreSQL's dialect.
pub(crate) fn postgres(m: &str) -> String {
    m.replace(
        "{serial}",
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    )
    .replace("{bool}", "BOOLEAN")
}

/// Record tables, parents first (delete in reverse).
pub(crate) const TABLES: [&str; 8] = [
    "meta",
    "tenants",
    "users",
    "memberships",
    "token_hashes",
    "api_keys",
    "sessions",
    "resources",
];
