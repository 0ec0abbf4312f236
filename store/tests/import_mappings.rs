//! The shipped mappings for the two hand-written shapes
//! (`mappings/api-keys-table.toml`, `mappings/auth-sessions-table.toml`),
//! each on a test database created here by SQL, on SQLite and PostgreSQL
//! (`scripts/with-postgres`; `AUTHPROOF_SKIP_PG=1` leaves it out). Each
//! import is checked record by record, then decided: the raw tokens the
//! rows were made from find their records through the default policy, with
//! the reason the row's state calls for. No raw token in any output.

use crate::common;

use std::path::{Path, PathBuf};

use authproof_engine::{load, Policy, State, Timestamp, TokenHash};
use authproof_store::import::{self, Action, Mapping, Options};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn mapping(name: &str) -> Mapping {
    let path = root().join("mappings").join(name);
    Mapping::parse(&std::fs::read_to_string(&path).unwrap(), name).unwrap()
}

fn hex(s: &str) -> String {
    TokenHash::of(s)
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = TokenHash::of(s).as_bytes().to_vec();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Runs `sql` (statements separated by `;`) on a fresh database: a SQLite
/// file in `dir`, or PostgreSQL.
fn create(url: &str, sql: &str) {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch(sql).unwrap();
    } else {
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        c.batch_execute(sql).unwrap();
    }
}

fn decide(snapshot: &authproof_engine::Snapshot, req: serde_json::Value) -> String {
    let state = State::from_snapshot(snapshot.clone()).unwrap();
    let req = load::request(req.to_string().as_bytes(), "req.json").unwrap();
    let d = state.decide(&Policy::default(), &req);
    let v = serde_json::to_value(&d).unwrap();
    v["reason"].as_str().unwrap_or("allow").to_string()
}

const KEY_LIVE: &str = "sk_live_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const KEY_REVOKED: &str = "sk_live_revoked_0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const KEY_DELETED: &str = "sk_live_deleted_13579bdf2468ace013579bdf2468ace0";
const KEY_EXPIRED: &str = "sk_live_expired_fedcba9876543210fedcba9876543210";
const KEY_ORPHAN: &str = "sk_live_orphan_00112233445566778899aabbccddeeff";

fn api_keys_ddl() -> String {
    format!(
        "CREATE TABLE tenants (id TEXT PRIMARY KEY, suspended BOOLEAN NOT NULL DEFAULT FALSE);
         CREATE TABLE users (id TEXT PRIMARY KEY, banned BOOLEAN);
         CREATE TABLE memberships (user_id TEXT, tenant_id TEXT, role TEXT NOT NULL, created_at TIMESTAMPTZ, PRIMARY KEY (user_id, tenant_id));
         CREATE TABLE api_keys (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, tenant_id TEXT, key_prefix TEXT, key_hash TEXT NOT NULL,
             scopes TEXT, name TEXT, created_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ, revoked_at TIMESTAMPTZ, deleted_at TIMESTAMPTZ);
         INSERT INTO tenants (id, suspended) VALUES ('acme', FALSE), ('globex', TRUE);
         INSERT INTO users (id, banned) VALUES ('alice', FALSE), ('bob', NULL), ('mallory', TRUE);
         INSERT INTO memberships VALUES ('alice', 'acme', 'owner', '2026-01-01T00:00:00.250Z'), ('bob', 'acme', 'member', '2026-01-02T00:00:00Z'),
             ('ghost', 'acme', 'member', '2026-01-02T00:00:00Z');
         INSERT INTO api_keys VALUES
           ('k_live', 'alice', 'acme', 'sk_live_', '{live}', 'supervisor workspace:read', 'ci', '2026-02-01T00:00:00.999Z', NULL, NULL, NULL),
           ('k_revoked', 'alice', 'acme', 'sk_live_', '{revoked}', '', 'old', '2026-02-01T00:00:00Z', NULL, '2026-03-01T12:00:00.500Z', NULL),
           ('k_deleted', 'bob', 'acme', 'sk_live_', '{deleted}', NULL, NULL, '2026-02-01T00:00:00Z', NULL, NULL, '2026-03-02T00:00:00Z'),
           ('k_expired', 'bob', NULL, 'sk_live_', '{expired}', NULL, 'legacy', '2026-02-01T00:00:00Z', '2026-04-01T00:00:00.999Z', NULL, NULL),
           ('k_orphan', 'nobody', 'acme', 'sk_live_', '{orphan}', NULL, NULL, '2026-02-01T00:00:00Z', NULL, NULL, NULL),
           ('k_zdup', 'alice', 'nowhere', 'sk_live_', '{live_upper}', NULL, NULL, '2026-02-01T00:00:00Z', NULL, NULL, NULL),
           ('k_bad', 'alice', 'acme', 'sk_live_', 'not-a-hash', NULL, NULL, '2026-02-01T00:00:00Z', NULL, NULL, NULL)",
        live = hex(KEY_LIVE),
        revoked = hex(KEY_REVOKED),
        deleted = hex(KEY_DELETED),
        expired = hex(KEY_EXPIRED),
        orphan = hex(KEY_ORPHAN),
        live_upper = hex(KEY_LIVE).to_uppercase(),
    )
}

fn check_api_keys(url: &str) {
    create(url, &api_keys_ddl());
    let at = Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
    let got = import::run(url, &mapping("api-keys-table.toml"), &Options { at })
        .unwrap_or_else(|e| panic!("{e}"));
    let s = &got.snapshot;
    let json = serde_json::to_value(s).unwrap();
    assert_eq!(
        json["tenants"],
        serde_json::json!([{"id": "acme", "suspended": false}, {"id": "globex", "suspended": true}])
    );
    assert_eq!(
        json["users"],
        serde_json::json!([{"id": "alice", "banned": false}, {"id": "bob", "banned": false}, {"id": "mallory", "banned": true}])
    );
    // since: a start, rounded up.
    assert_eq!(json["memberships"][0]["since"], "2026-01-01T00:00:01Z");
    assert_eq!(s.memberships.len(), 2);
    let keys: Vec<&str> = s.api_keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(keys, ["k_deleted", "k_expired", "k_live", "k_revoked"]);
    let k = |id: &str| {
        json["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        k("k_live")["capabilities"],
        serde_json::json!(["supervisor", "workspace:read"])
    );
    assert_eq!(k("k_live")["created_at"], "2026-02-01T00:00:01Z");
    assert_eq!(
        k("k_revoked")["revoked_at"],
        "2026-03-01T12:00:00Z",
        "an end, rounded down"
    );
    assert_eq!(k("k_expired")["expires_at"], "2026-04-01T00:00:00Z");
    assert_eq!(k("k_expired")["tenant"], serde_json::Value::Null);
    assert_eq!(k("k_deleted")["deleted_at"], "2026-03-02T00:00:00Z");
    assert_eq!(k("k_live")["token_sha256"], hex(KEY_LIVE));

    let reasons: Vec<(&str, &str, Action)> = got
        .summary
        .notes
        .iter()
        .map(|n| (n.record.as_str(), n.reason, n.action))
        .collect();
    for want in [
        ("#3", "unknown_user", Action::Skipped),
        ("k_orphan", "unknown_owner", Action::Skipped),
        ("k_zdup", "duplicate_token", Action::Skipped),
        ("k_bad", "bad_token", Action::Skipped),
    ] {
        assert!(reasons.contains(&want), "{want:?} in {reasons:?}");
    }
    let c = &got.summary.counts.api_keys;
    assert_eq!((c.read, c.imported, c.skipped, c.changed), (7, 4, 3, 0));

    // The raw keys find their records, with the reason each row calls for.
    let req = |key: &str, at: &str| serde_json::json!({"at": at, "action": "workspace.read", "tenant": "acme", "headers": {"x-api-key": key}});
    assert_eq!(decide(s, req(KEY_LIVE, "2026-06-01T00:00:00Z")), "allow");
    assert_eq!(
        decide(s, req(KEY_LIVE, "2026-02-01T00:00:00Z")),
        "api_key_not_found",
        "created 00.999: not yet at 00"
    );
    assert_eq!(
        decide(s, req(KEY_REVOKED, "2026-06-01T00:00:00Z")),
        "api_key_revoked"
    );
    assert_eq!(decide(s, req(KEY_REVOKED, "2026-03-01T11:59:59Z")), "allow");
    assert_eq!(
        decide(s, req(KEY_DELETED, "2026-06-01T00:00:00Z")),
        "api_key_deleted"
    );
    assert_eq!(
        decide(s, req(KEY_EXPIRED, "2026-06-01T00:00:00Z")),
        "api_key_expired"
    );
    assert_eq!(
        decide(s, req(KEY_ORPHAN, "2026-06-01T00:00:00Z")),
        "api_key_not_found"
    );

    let out = format!(
        "{}{}",
        serde_json::to_string(s).unwrap(),
        got.summary.text(usize::MAX)
    );
    for t in [KEY_LIVE, KEY_REVOKED, KEY_DELETED, KEY_EXPIRED, KEY_ORPHAN] {
        assert!(!out.contains(t));
    }
}

const SES_LIVE: &str = "st_5Q2mX8v1Lr0pZk7HcW3nYbT6";
const SES_REVOKED: &str = "st_Zp9Lq2Wm4Xn6Rb8Tc0Vd1Fe3";
const SES_EXPIRED: &str = "st_Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8";
const SES_GONE_ORG: &str = "st_Kk9Jj8Ii7Hh6Gg5Ff4Ee3Dd2";

fn auth_sessions_ddl() -> String {
    // 1780272000 = 2026-06-01T00:00:00Z
    format!(
        "CREATE TABLE accounts (id TEXT PRIMARY KEY, disabled BOOLEAN);
         CREATE TABLE orgs (id TEXT PRIMARY KEY);
         CREATE TABLE org_members (account_id TEXT, org_id TEXT, role TEXT, joined_at BIGINT);
         CREATE TABLE auth_sessions (token_hash TEXT PRIMARY KEY, account_id TEXT NOT NULL, org_id TEXT,
             created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT);
         INSERT INTO accounts VALUES ('alice', FALSE), ('bob', TRUE);
         INSERT INTO orgs VALUES ('acme');
         INSERT INTO org_members VALUES ('alice', 'acme', 'owner', 1767225600), ('alice', 'acme', 'admin', 1767225700);
         INSERT INTO auth_sessions VALUES
           ('{live}', 'alice', 'acme', 1780200000, 1780900000, NULL),
           ('{revoked}', 'alice', 'acme', 1780200000, 1780900000, 1780250000),
           ('{expired}', 'bob', NULL, 1780000000, 1780100000, NULL),
           ('{gone}', 'alice', 'initech', 1780200000, 1780900000, NULL),
           ('{ghost}', 'ghost', NULL, 1780200000, 1780900000, NULL)",
        live = b64(SES_LIVE),
        revoked = b64(SES_REVOKED),
        expired = b64(SES_EXPIRED),
        gone = b64(SES_GONE_ORG),
        ghost = b64("st_ghost_token_value_1234"),
    )
}

fn check_auth_sessions(url: &str) {
    create(url, &auth_sessions_ddl());
    let at = Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
    let got = import::run(url, &mapping("auth-sessions-table.toml"), &Options { at })
        .unwrap_or_else(|e| panic!("{e}"));
    let s = &got.snapshot;
    assert_eq!(s.sessions.len(), 4);
    assert_eq!(s.memberships.len(), 1);
    assert_eq!(
        s.memberships[0].role, "owner",
        "the earliest duplicate is kept"
    );
    let reasons: Vec<(&str, Action)> = got
        .summary
        .notes
        .iter()
        .map(|n| (n.reason, n.action))
        .collect();
    for want in [
        ("duplicate_membership_role_conflict", Action::Merged),
        ("tenant_not_found", Action::Changed),
        ("unknown_user", Action::Skipped),
    ] {
        assert!(reasons.contains(&want), "{want:?} in {reasons:?}");
    }
    let live = s
        .sessions
        .iter()
        .find(|x| x.token_sha256 == TokenHash::of(SES_LIVE))
        .unwrap();
    assert_eq!(live.id.as_str(), b64(SES_LIVE));
    assert_eq!(live.expires_at.unix(), 1780900000);

    let req = |tok: &str| serde_json::json!({"at": "2026-06-01T00:00:00Z", "action": "workspace.read", "tenant": "acme", "headers": {"authorization": format!("Bearer {tok}")}});
    assert_eq!(decide(s, req(SES_LIVE)), "allow");
    assert_eq!(decide(s, req(SES_REVOKED)), "session_revoked");
    assert_eq!(decide(s, req(SES_EXPIRED)), "session_expired");
    let out = format!(
        "{}{}",
        serde_json::to_string(s).unwrap(),
        got.summary.text(usize::MAX)
    );
    for t in [SES_LIVE, SES_REVOKED, SES_EXPIRED, SES_GONE_ORG] {
        assert!(!out.contains(t));
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("authproof-mappings-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn url(&self, file: &str) -> String {
        format!("sqlite:{}", self.0.join(file).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn api_keys_table_sqlite() {
    let d = TempDir::new("keys");
    check_api_keys(&d.url("keys.db"));
}

#[test]
fn auth_sessions_table_sqlite() {
    let d = TempDir::new("sessions");
    check_auth_sessions(&d.url("sessions.db"));
}

#[test]
fn api_keys_table_postgres() {
    if let Some(url) = common::pg_database("import_api_keys") {
        check_api_keys(&url);
    }
}

#[test]
fn auth_sessions_table_postgres() {
    if let Some(url) = common::pg_database("import_auth_sessions") {
        check_auth_sessions(&url);
    }
}

#[test]
fn better_auth_mapping_is_valid() {
    let m = Mapping::better_auth();
    assert_eq!(m.name, "better-auth");
}

#[test]
fn mapping_errors_name_the_place() {
    let e = Mapping::parse(
        "format = 1\nname = \"x\"\n[users]\nquery = \"SELECT 1\"\n",
        "m.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("[users]: `id` is required"), "{e}");
    let e = Mapping::parse(
        "format = 1\nname = \"x\"\n[users]\nquery = \"q\"\nid = \"id\"\nowner = \"o\"\n",
        "m.toml",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("`owner` is not a field of users"),
        "{e}"
    );
    let e = Mapping::parse(
        "format = 1\nname = \"x\"\n[users]\nquery = \"q\"\nid = \"id\"\ncolour = 1\n",
        "m.toml",
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("mapping m.toml:6:"), "{e}");
    let e = Mapping::parse(
        "format = 2\nname = \"x\"\n[users]\nquery = \"q\"\nid = \"id\"\n",
        "m.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("format = 2"), "{e}");
    // A missing source, a missing table, a missing column.
    let d = TempDir::new("errors");
    let url = d.url("none.db");
    let m = mapping("auth-sessions-table.toml");
    let at = Timestamp::EPOCH;
    let e = import::run(&url, &m, &Options { at }).unwrap_err();
    assert!(e.to_string().contains("no such database file"), "{e}");
    create(&url, "CREATE TABLE orgs (id TEXT)");
    let e = import::run(&url, &m, &Options { at }).unwrap_err();
    assert!(
        e.to_string().contains("[users] the query failed") && e.to_string().contains("accounts"),
        "{e}"
    );
    create(&url, "CREATE TABLE accounts (id TEXT, banned BOOLEAN)");
    let e = import::run(&url, &m, &Options { at }).unwrap_err();
    assert!(
        e.to_string().contains("[users]") && e.to_string().contains("disabled"),
        "{e}"
    );
    // An integer time without integer_times.
    let url2 = d.url("int.db");
    create(&url2, "CREATE TABLE users (id TEXT, banned BOOLEAN); CREATE TABLE tenants (id TEXT, suspended BOOLEAN);
        CREATE TABLE memberships (user_id TEXT, tenant_id TEXT, role TEXT, created_at BIGINT);
        CREATE TABLE api_keys (id TEXT, user_id TEXT, tenant_id TEXT, key_prefix TEXT, key_hash TEXT, scopes TEXT, name TEXT, created_at, expires_at, revoked_at, deleted_at);
        INSERT INTO users VALUES ('u1', 0); INSERT INTO tenants VALUES ('t1', 0); INSERT INTO memberships VALUES ('u1', 't1', 'r', 1700000000)");
    let e = import::run(&url2, &mapping("api-keys-table.toml"), &Options { at }).unwrap_err();
    assert_eq!(
        e.to_string(),
        "[memberships] column `created_at`, row #1: an integer, and the mapping does not say what it counts: set `integer_times = \"unix-s\"` or `\"unix-ms\"`"
    );
}
