//! The importer against a database written by the REAL better-auth 1.7.5
//! (`targets/better-auth/seed.mjs`), on SQLite and PostgreSQL:
//!
//! - every row of `facts.json` maps to its record by the rules of
//!   docs/IMPORT.md §2–§3, computed here independently of the importer;
//! - every skip / merge / change the seed provokes is in the summary;
//! - no raw token of the seed (cookies, Bearer values, API keys) appears
//!   in the snapshot, the summary, or an error message, also with broken
//!   mappings that point a time or capabilities field at a token column;
//! - the source database is not written (its bytes are unchanged);
//! - better-auth's answers to `requests.jsonl` against authproof's
//!   decisions under `policies/better-auth.toml` with the seed's cookie
//!   secret: every request agrees, or is in [`DISAGREE`] with its class
//!   (docs/IMPORT.md §4 table, §8).
//!
//! Needs Node and `npm ci` in targets/better-auth: without them the test
//! FAILS, unless `AUTHPROOF_SKIP_NODE=1` says to leave it out.

use crate::common;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use authproof_engine::{Snapshot, Timestamp};
use authproof_store::import::{self, Action, Mapping, Options};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether Node and the target's packages are there; panics (fails the
/// test) when not, unless AUTHPROOF_SKIP_NODE=1.
fn node_ready(test: &str) -> bool {
    let skip = std::env::var("AUTHPROOF_SKIP_NODE").as_deref() == Ok("1");
    let modules = root().join("targets/better-auth/node_modules");
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node && modules.is_dir() {
        return true;
    }
    if skip {
        eprintln!("{test}: SKIPPED (AUTHPROOF_SKIP_NODE=1)");
        return false;
    }
    panic!(
        "{test}: needs Node 20 and `npm ci` in targets/better-auth (node found: {node}, node_modules: {}). \
         Run `(cd targets/better-auth && npm ci)`, or set AUTHPROOF_SKIP_NODE=1 to leave this test out explicitly.",
        modules.is_dir()
    );
}

struct Seeded {
    _dir: TempDir,
    out: PathBuf,
    facts: Value,
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "authproof-import-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn seed(db: &str, tag: &str) -> Seeded {
    let dir = TempDir::new(tag);
    let out = dir.0.join("out");
    let o = Command::new("node")
        .arg(root().join("targets/better-auth/seed.mjs"))
        .args(["--db", db, "--out"])
        .arg(&out)
        .output()
        .expect("run node");
    assert!(
        o.status.success(),
        "seed.mjs failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let facts = serde_json::from_slice(&std::fs::read(out.join("facts.json")).unwrap()).unwrap();
    Seeded {
        _dir: dir,
        out,
        facts,
    }
}

/// Every secret string the seed's requests carry: session tokens, their
/// signatures, API keys (percent-decoded, split at `.`).
fn secrets(out: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(out.join("requests.jsonl")).unwrap();
    let mut s = BTreeSet::new();
    for line in text.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        for (_, v) in r["headers"].as_object().unwrap() {
            let v = v.as_str().unwrap();
            let decoded = percent_decode(v);
            for whole in [v.to_string(), decoded] {
                for part in whole.split([' ', ';', '=', '.']) {
                    if part.len() >= 16 {
                        s.insert(part.to_string());
                    }
                }
            }
        }
    }
    assert!(s.len() >= 20, "found the seed's tokens ({})", s.len());
    s
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_no_secret(what: &str, text: &str, secrets: &BTreeSet<String>) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "{what} holds a raw token (sha256 prefix of it: {})",
            &sha_hex(s)[..8]
        );
    }
}

fn sha_hex(s: &str) -> String {
    authproof_engine::TokenHash::of(s)
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Milliseconds since the epoch from a facts.json time (ISO text).
fn ms(v: &Value) -> Option<i64> {
    // PostgreSQL rows: {"pg_timestamp": "…"}.
    let v = v.get("pg_timestamp").unwrap_or(v);
    let s = v.as_str()?;
    let us = import::values::parse_time(s).unwrap_or_else(|| panic!("time {s}"));
    Some(us / 1000)
}

fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        other => panic!("boolean {other}"),
    }
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs).unwrap()
}

fn floor(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

fn ceil(ms: i64) -> i64 {
    -(-ms).div_euclid(1000)
}

/// The snapshot docs/IMPORT.md says the rows give, computed from
/// facts.json without the importer.
fn expected(facts: &Value, at: Timestamp) -> Snapshot {
    let rows = &facts["rows"];
    let ids = &facts["ids"];
    let mut s = serde_json::json!({
        "taken_at": at.to_string(), "tenants": [], "users": [], "memberships": [], "api_keys": [], "sessions": []
    });
    let orgs: BTreeSet<&str> = rows["organization"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    for o in &orgs {
        s["tenants"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"id": o, "suspended": false}));
    }
    let mut users: Vec<&Value> = rows["user"].as_array().unwrap().iter().collect();
    users.sort_by_key(|u| u["id"].as_str().unwrap());
    for u in users {
        let banned = truthy(&u["banned"]).unwrap_or(false)
            && ms(&u["banExpires"]).is_none_or(|e| e >= at.unix() * 1000);
        s["users"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"id": u["id"], "banned": banned}));
    }
    let mut best: BTreeMap<(String, String), (i64, String, Value)> = BTreeMap::new();
    for m in rows["member"].as_array().unwrap() {
        let k = (
            m["userId"].as_str().unwrap().to_string(),
            m["organizationId"].as_str().unwrap().to_string(),
        );
        let cand = (
            ms(&m["createdAt"]).unwrap(),
            m["id"].as_str().unwrap().to_string(),
            m.clone(),
        );
        match best.get(&k) {
            Some(b) if (b.0, &b.1) <= (cand.0, &cand.1) => {}
            _ => {
                best.insert(k, cand);
            }
        }
    }
    for ((u, o), (c, _, m)) in best {
        s["memberships"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "user": u, "tenant": o, "role": m["role"], "since": ts(ceil(c)).to_string()
            }));
    }
    let key_tokens: BTreeMap<&str, &str> = ids["keys"]
        .as_object()
        .unwrap()
        .values()
        .map(|k| {
            (
                k["id"].as_str().unwrap(),
                k["token_sha256"].as_str().unwrap(),
            )
        })
        .collect();
    let mut keys: Vec<&Value> = rows["apikey"].as_array().unwrap().iter().collect();
    keys.sort_by_key(|k| k["id"].as_str().unwrap());
    for k in keys {
        let mut meta = k["metadata"].clone();
        while let Value::String(t) = &meta {
            meta = serde_json::from_str(t).unwrap_or(Value::Null);
        }
        let tenant = meta
            .get("organizationId")
            .and_then(Value::as_str)
            .filter(|t| orgs.contains(t));
        let mut caps = Vec::new();
        if let Some(p) = k["permissions"].as_str() {
            let p: Value = serde_json::from_str(p).unwrap();
            for (r, acts) in p.as_object().unwrap() {
                for a in acts.as_array().unwrap() {
                    caps.push(format!("{r}:{}", a.as_str().unwrap()));
                }
            }
        }
        caps.sort();
        let id = k["id"].as_str().unwrap();
        s["api_keys"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "id": id, "owner": k["referenceId"], "tenant": tenant,
                "token_sha256": key_tokens[id], "prefix": k["prefix"].as_str().unwrap_or(""),
                "capabilities": caps, "enabled": truthy(&k["enabled"]).unwrap_or(true),
                "name": k["name"].as_str().unwrap_or(""),
                "created_at": ts(ceil(ms(&k["createdAt"]).unwrap())).to_string(),
                "expires_at": ms(&k["expiresAt"]).map(|e| ts(floor(e)).to_string()),
                "revoked_at": null, "deleted_at": null
            }));
    }
    let mut sessions: Vec<&Value> = rows["session"].as_array().unwrap().iter().collect();
    sessions.sort_by_key(|k| k["id"].as_str().unwrap());
    for x in sessions {
        let expires = floor(ms(&x["expiresAt"]).unwrap());
        let created = ceil(ms(&x["createdAt"]).unwrap()).min(expires);
        let tenant = x["activeOrganizationId"]
            .as_str()
            .filter(|t| orgs.contains(t));
        s["sessions"].as_array_mut().unwrap().push(serde_json::json!({
            "id": x["id"], "user": x["userId"], "tenant": tenant,
            "token_sha256": x["token"]["sha256"],
            "created_at": ts(created).to_string(), "expires_at": ts(expires).to_string(), "revoked_at": null
        }));
    }
    serde_json::from_value(s).unwrap()
}

fn check(db: &str, seeded: &Seeded, sqlite_file: Option<&Path>) {
    let secrets = secrets(&seeded.out);
    let before = sqlite_file.map(|p| std::fs::read(p).unwrap());
    // taken_at: one hour after the seed (carol's ban, 1 day, still on).
    let seed_at = ms(&seeded.facts["rows"]["user"][0]["createdAt"]).unwrap();
    let at = ts(floor(seed_at) + 3600);
    let mapping = Mapping::better_auth();
    let got = import::run(db, &mapping, &Options { at }).unwrap_or_else(|e| panic!("import: {e}"));
    let want = expected(&seeded.facts, at);

    // Every record, field by field.
    assert_eq!(got.snapshot.tenants, want.tenants);
    assert_eq!(got.snapshot.users, want.users);
    assert_eq!(got.snapshot.memberships, want.memberships);
    assert_eq!(got.snapshot.api_keys, want.api_keys);
    assert_eq!(got.snapshot.sessions, want.sessions);
    assert_eq!(got.snapshot, want);

    // The named records of the seed, as docs/IMPORT.md says.
    let ids = &seeded.facts["ids"];
    let key = |name: &str| {
        let id = ids["keys"][name]["id"].as_str().unwrap();
        got.snapshot.api_keys.iter().find(|k| k.id.as_str() == id)
    };
    let acme = ids["orgs"]["acme"].as_str().unwrap();
    assert_eq!(
        key("k_alice_acme")
            .unwrap()
            .tenant
            .as_ref()
            .map(|t| t.as_str()),
        Some(acme)
    );
    assert_eq!(
        key("k_alice_acme").unwrap().capabilities,
        [
            "conversation:read",
            "conversation:resume",
            "supervisor:connect"
        ]
    );
    assert_eq!(key("k_alice_acme").unwrap().prefix, "sk_live_");
    assert_eq!(key("k_alice_unbound").unwrap().tenant, None);
    assert_eq!(key("k_alice_nometa_org").unwrap().tenant, None);
    assert_eq!(
        key("k_alice_updated")
            .unwrap()
            .tenant
            .as_ref()
            .map(|t| t.as_str()),
        Some(acme)
    );
    assert!(key("k_alice_deleted").is_none());
    assert!(!key("k_bob_disabled").unwrap().enabled);
    assert!(key("k_bob_expired").unwrap().expires_at.unwrap() < at);
    for (name, k) in ids["keys"].as_object().unwrap() {
        if let Some(k2) = key(name) {
            assert_eq!(
                authproof_engine::TokenHash::from_hex(k["token_sha256"].as_str().unwrap()),
                Some(k2.token_sha256),
                "{name}"
            );
        }
    }

    // The summary: counts and every note the seed provokes.
    let c = &got.summary.counts;
    assert_eq!(
        (
            c.memberships.read,
            c.memberships.imported,
            c.memberships.merged
        ),
        (7, 6, 1)
    );
    assert_eq!(c.api_keys.read, c.api_keys.imported);
    assert_eq!(c.sessions.read, c.sessions.imported);
    let notes: BTreeSet<(&str, Action, &str)> = got
        .summary
        .notes
        .iter()
        .map(|n| (n.collection, n.action, n.reason))
        .collect();
    assert!(
        notes.contains(&(
            "memberships",
            Action::Merged,
            "duplicate_membership_role_conflict"
        )) || notes.contains(&("memberships", Action::Merged, "duplicate_membership")),
        "{notes:?}"
    );
    assert!(
        notes.contains(&("users", Action::Noted, "ban_has_end")),
        "{notes:?}"
    );
    assert!(
        notes.contains(&("sessions", Action::Noted, "active_tenant_not_member")),
        "{notes:?}"
    );
    let bob_b1 = ids["sessions"]["bob_b1"]["token_sha256"].as_str().unwrap();
    let b1 = got
        .snapshot
        .sessions
        .iter()
        .find(|s| s.token_sha256 == authproof_engine::TokenHash::from_hex(bob_b1).unwrap())
        .unwrap();
    assert!(got
        .summary
        .notes
        .iter()
        .any(|n| n.reason == "active_tenant_not_member" && n.record == b1.id.as_str()));
    for (name, count) in c.all() {
        assert_eq!(
            count.read,
            count.imported + count.skipped + count.merged,
            "{name}"
        );
    }

    // No raw token in anything the importer produced.
    assert_no_secret(
        "snapshot",
        &serde_json::to_string(&got.snapshot).unwrap(),
        &secrets,
    );
    assert_no_secret(
        "summary",
        &serde_json::to_string(&got.summary).unwrap(),
        &secrets,
    );
    assert_no_secret("summary text", &got.summary.text(usize::MAX), &secrets);

    // Broken mappings pointing fields at token columns: the errors and
    // notes name the column and the row, never the value.
    for (section, from, to) in [
        (
            "[sessions]",
            r#"created_at = "createdAt""#,
            r#"created_at = "token""#,
        ),
        (
            "[sessions]",
            r#"expires_at = "expiresAt""#,
            r#"expires_at = "token""#,
        ),
        ("[sessions]", r#"id = "id""#, r#"id = "token""#),
        (
            "[sessions]",
            r#"token_encoding = "raw""#,
            r#"token_encoding = "sha256-hex""#,
        ),
        (
            "[api_keys]",
            r#"created_at = "createdAt""#,
            r#"created_at = "key""#,
        ),
    ] {
        let m = Mapping::parse(&edit(section, from, to), "broken.toml").unwrap();
        match import::run(db, &m, &Options { at }) {
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("row ") && msg.contains("column `"), "{msg}");
                assert_no_secret("error message", &msg, &secrets);
            }
            Ok(got) => {
                // `id = "token"` imports sessions named by their token: a
                // mapping error the importer cannot see; the raw-token
                // encoding case is reported as bad_token.
                if to.contains("sha256-hex") {
                    assert_eq!(got.summary.counts.sessions.imported, 0);
                    assert!(got.summary.notes.iter().any(|n| n.reason == "bad_token"));
                    assert_no_secret("summary", &got.summary.text(usize::MAX), &secrets);
                    assert_no_secret(
                        "snapshot",
                        &serde_json::to_string(&got.snapshot).unwrap(),
                        &secrets,
                    );
                }
            }
        }
    }
    let t = import::mapping::BETTER_AUTH_TOML;

    // Read-only: a mapping whose query writes fails, and the file is unchanged.
    let text = t.replacen(
        r#"query = 'SELECT "id" FROM "organization"'"#,
        r#"query = 'DELETE FROM "organization" RETURNING "id"'"#,
        1,
    );
    let e = import::run(
        db,
        &Mapping::parse(&text, "write.toml").unwrap(),
        &Options { at },
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("[tenants]")
            && (msg.contains("readonly") || msg.contains("read-only") || msg.contains("read only")),
        "{msg}"
    );
    if let (Some(p), Some(before)) = (sqlite_file, before) {
        assert_eq!(
            std::fs::read(p).unwrap(),
            before,
            "the source database was written"
        );
    }

    agreement(&seeded.out, &got.snapshot);
}

/// The better-auth mapping with the first `from` after `section` made `to`.
fn edit(section: &str, from: &str, to: &str) -> String {
    let t = import::mapping::BETTER_AUTH_TOML;
    let pos = t.find(section).unwrap();
    assert!(t[pos..].contains(from), "{from}");
    format!("{}{}", &t[..pos], t[pos..].replacen(from, to, 1))
}

/// A class of disagreement between better-auth's answer and authproof's
/// decision, each explained in docs/IMPORT.md §4 (the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Differs {
    /// better-auth does not look at `user.banned` when it finds a session
    /// or verifies a key; authproof says `user_banned` (§4 item 3).
    BanIgnored,
    /// `verifyApiKey` binds a key to no organization; a key without
    /// `metadata.organizationId` is `api_key_unbound` under the policy's
    /// `unbound = "deny"` (§4 item 6).
    UnboundKey,
    /// better-auth falls back to the cookie when a Bearer signature does
    /// not verify; authproof's first credential decides (§4 item 8).
    NoFallback,
    /// The session's active organization is one the user left: better-auth
    /// returns it as stored, authproof says `not_a_member` (§4 item 11).
    ActiveTenantLeft,
}

/// Every request on which better-auth and authproof disagree, with its
/// class and authproof's reason. Every other request must agree.
const DISAGREE: &[(&str, Differs, &str)] = &[
    ("erin_signup/cookie", Differs::BanIgnored, "UserBanned"),
    ("erin_signup/bearer-raw", Differs::BanIgnored, "UserBanned"),
    (
        "erin_signup/bearer-signed",
        Differs::BanIgnored,
        "UserBanned",
    ),
    ("erin_e1/cookie", Differs::BanIgnored, "UserBanned"),
    ("erin_e1/bearer-raw", Differs::BanIgnored, "UserBanned"),
    ("erin_e1/bearer-signed", Differs::BanIgnored, "UserBanned"),
    ("bob_b1/cookie", Differs::ActiveTenantLeft, "NotAMember"),
    ("bob_b1/bearer-raw", Differs::ActiveTenantLeft, "NotAMember"),
    (
        "bob_b1/bearer-signed",
        Differs::ActiveTenantLeft,
        "NotAMember",
    ),
    (
        "k_carol_globex/x-api-key",
        Differs::BanIgnored,
        "UserBanned",
    ),
    ("k_dave_acme/x-api-key", Differs::BanIgnored, "UserBanned"),
    (
        "k_alice_unbound/x-api-key",
        Differs::UnboundKey,
        "ApiKeyUnbound",
    ),
    (
        "k_alice_nometa_org/x-api-key",
        Differs::UnboundKey,
        "ApiKeyUnbound",
    ),
    (
        "alice_live/bearer-bad-signature+cookie-bob",
        Differs::NoFallback,
        "MalformedCredential",
    ),
];

/// better-auth's answers against authproof's decisions under
/// `policies/better-auth.toml` with the seed's cookie secret
/// (docs/IMPORT.md §4, §8): every request agrees or is in [`DISAGREE`].
fn agreement(out: &Path, snapshot: &Snapshot) {
    let policy_path = root().join("policies/better-auth.toml");
    let secret = std::fs::read(out.join("secret")).unwrap();
    let secret = authproof_engine::signed::cookie_secret(None, Some(&secret))
        .unwrap()
        .expect("the seed's secret");
    let policy = authproof_engine::load::policy(
        &std::fs::read_to_string(&policy_path).unwrap(),
        "policies/better-auth.toml",
    )
    .unwrap()
    .with_cookie_secret(Some(secret));
    let state = authproof_engine::State::from_snapshot(snapshot.clone()).unwrap();
    let requests = std::fs::read(out.join("requests.jsonl")).unwrap();
    let requests = authproof_engine::load::requests_jsonl(&requests, "requests.jsonl").unwrap();
    let answers: Vec<Value> = std::fs::read_to_string(out.join("answers.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(requests.len(), answers.len());
    assert!(requests.len() >= 70, "{} requests", requests.len());

    // No request within a second of a credential's creation or expiry
    // (docs/IMPORT.md §3 rounding, §4 item 1): there the two disagree by
    // construction, and the seed keeps its requests away from them.
    for req in &requests {
        for s in &snapshot.sessions {
            assert!(
                s.created_at <= req.at,
                "session {} created after a request",
                s.id
            );
            assert!(
                s.expires_at.unix().abs_diff(req.at.unix()) > 1,
                "session {}",
                s.id
            );
        }
        for k in &snapshot.api_keys {
            assert!(
                k.created_at <= req.at,
                "key {} created after a request",
                k.id
            );
            if let Some(e) = k.expires_at {
                assert!(e.unix().abs_diff(req.at.unix()) > 1, "key {}", k.id);
            }
        }
    }

    let mut agree = 0;
    let mut differ = Vec::new();
    let mut report = Vec::new();
    for (req, a) in requests.iter().zip(&answers) {
        let id = a["id"].as_str().unwrap();
        let ba_ok = match a.get("verify_api_key") {
            Some(v) => v["valid"].as_bool() == Some(true),
            None => a["get_session"]["found"].as_bool() == Some(true),
        };
        let d = state.decide(&policy, req);
        let ap = d.reason.map_or("allow".to_string(), |r| format!("{r:?}"));
        if d.is_allow() == ba_ok {
            agree += 1;
        } else {
            differ.push((id.to_string(), ap.clone()));
            report.push(format!(
                "{id}: better-auth {ba_ok}, authproof {ap} ({})",
                d.explain_lines().join("; ")
            ));
        }
    }
    eprintln!(
        "agreement: {agree} agree, {} differ:\n  {}",
        differ.len(),
        report.join("\n  ")
    );
    let want: Vec<(String, String)> = DISAGREE
        .iter()
        .map(|(id, _, r)| (id.to_string(), r.to_string()))
        .collect();
    let mut got_sorted = differ.clone();
    got_sorted.sort();
    let mut want_sorted = want;
    want_sorted.sort();
    assert_eq!(
        got_sorted,
        want_sorted,
        "disagreements:\n  {}",
        report.join("\n  ")
    );
    // Each disagreement is better-auth saying yes where authproof says no.
    for (id, class, _) in DISAGREE {
        let a = answers.iter().find(|a| a["id"] == *id).unwrap();
        let ba_ok = match a.get("verify_api_key") {
            Some(v) => v["valid"].as_bool() == Some(true),
            None => a["get_session"]["found"].as_bool() == Some(true),
        };
        assert!(ba_ok, "{id} ({class:?}): better-auth accepts");
    }
    assert_eq!(agree + DISAGREE.len(), requests.len());
}

#[test]
fn better_auth_sqlite() {
    if !node_ready("better_auth_sqlite") {
        return;
    }
    let dir = TempDir::new("ba-sqlite");
    let file = dir.0.join("ba.db");
    let db = format!("sqlite:{}", file.display());
    let seeded = seed(&db, "sqlite");
    check(&db, &seeded, Some(&file));
}

#[test]
fn better_auth_postgres() {
    if !node_ready("better_auth_postgres") {
        return;
    }
    let Some(db) = common::pg_database("import_better_auth") else {
        return;
    };
    let seeded = seed(&db, "pg");
    check(&db, &seeded, None);
}
