//! SPEC §8 commands: every op's success with its exact `changes` list
//! (docs/SEMANTICS.md "Changes"), every rejection in the listed order (where
//! two apply, the earlier-listed one wins), `no_change`, and that a rejection
//! leaves the snapshot byte-identical (checked by `rejected` on every case).

use crate::common;

use authproof_engine::{load, Policy, State};
use common::*;
use serde_json::{json, Value};

const LATER: &str = "2026-06-01T00:00:00Z";

fn st() -> State {
    Snap::base().state()
}

fn p() -> Policy {
    Policy::default()
}

fn create(record: &str, id: &str) -> Value {
    json!({"change": "create", "record": record, "id": id})
}

fn update(record: &str, id: &str, field: &str, from: Value, to: Value) -> Value {
    json!({"change": "update", "record": record, "id": id, "field": field, "from": from, "to": to})
}

/// A state builder, a command and the rejection it must get.
type Case = (fn() -> State, Value, &'static str);

/// Applies every case to a fresh base state: each must be rejected with its
/// reason (and leave the state byte-identical).
#[track_caller]
fn rejections(state: impl Fn() -> State, cases: &[(Value, &str)]) {
    for (c, reason) in cases {
        rejected(&mut state(), &p(), c.clone(), reason);
    }
}

// ---- tenants and users ----------------------------------------------------------

#[test]
fn create_tenant() {
    let mut s = st();
    let changes = ok(
        &mut s,
        &p(),
        json!({"op": "create_tenant", "tenant": "gamma"}),
    );
    assert_eq!(changes, json!([create("tenant", "gamma")]));
    assert_eq!(
        record(&s, "tenants", "gamma"),
        json!({"id": "gamma", "suspended": false})
    );
    rejected(
        &mut s,
        &p(),
        json!({"op": "create_tenant", "tenant": "gamma"}),
        "duplicate_id",
    );
    rejected(
        &mut s,
        &p(),
        json!({"op": "create_tenant", "tenant": "acme"}),
        "duplicate_id",
    );
}

#[test]
fn suspend_and_reinstate_tenant() {
    let mut s = st();
    let c = json!({"op": "suspend_tenant", "tenant": "acme"});
    let changes = ok(&mut s, &p(), c.clone());
    assert_eq!(
        changes,
        json!([update(
            "tenant",
            "acme",
            "suspended",
            json!(false),
            json!(true)
        )])
    );
    assert_deny(
        &decide(&s, &req("workspace.read").key(KEY_TOKEN)),
        "tenant_suspended",
    );
    rejected(&mut s, &p(), c, "no_change");
    let c = json!({"op": "reinstate_tenant", "tenant": "acme"});
    let changes = ok(&mut s, &p(), c.clone());
    assert_eq!(
        changes,
        json!([update(
            "tenant",
            "acme",
            "suspended",
            json!(true),
            json!(false)
        )])
    );
    assert_eq!(
        decide(&s, &req("workspace.read").key(KEY_TOKEN))["decision"],
        "allow"
    );
    rejected(&mut s, &p(), c, "no_change");
    for op in ["suspend_tenant", "reinstate_tenant"] {
        rejected(
            &mut s,
            &p(),
            json!({"op": op, "tenant": "gamma"}),
            "unknown_tenant",
        );
    }
}

#[test]
fn create_user() {
    let mut s = st();
    let changes = ok(&mut s, &p(), json!({"op": "create_user", "user": "carol"}));
    assert_eq!(changes, json!([create("user", "carol")]));
    assert_eq!(
        record(&s, "users", "carol"),
        json!({"id": "carol", "banned": false})
    );
    rejected(
        &mut s,
        &p(),
        json!({"op": "create_user", "user": "alice"}),
        "duplicate_id",
    );
}

/// alice with, besides the live `ses_1`: an expired session, a revoked one
/// and one created after `AT`.
fn alice_sessions() -> State {
    Snap::base()
        .push(
            "sessions",
            with(
                session("ses_exp", "alice", None, "t-exp"),
                json!({"expires_at": "2026-05-20T00:00:00Z"}),
            ),
        )
        .push(
            "sessions",
            with(
                session("ses_rev", "alice", None, "t-rev"),
                json!({"revoked_at": "2026-05-02T00:00:00Z"}),
            ),
        )
        .push(
            "sessions",
            with(
                session("ses_new", "alice", None, "t-new"),
                json!({"created_at": LATER, "expires_at": "2026-07-01T00:00:00Z"}),
            ),
        )
        .push("sessions", session("ses_bob", "bob", Some("beta"), "t-bob"))
        .state()
}

#[test]
fn ban_user_revokes_live_sessions_for_good() {
    let mut s = alice_sessions();
    let changes = ok(&mut s, &p(), json!({"op": "ban_user", "user": "alice"}));
    assert_eq!(
        changes,
        json!([
            update("user", "alice", "banned", json!(false), json!(true)),
            update("session", "ses_1", "revoked_at", Value::Null, json!(AT)),
        ]),
        "only the live session is revoked"
    );
    assert_eq!(record(&s, "sessions", "ses_exp")["revoked_at"], Value::Null);
    assert_eq!(
        record(&s, "sessions", "ses_rev")["revoked_at"],
        "2026-05-02T00:00:00Z"
    );
    assert_eq!(record(&s, "sessions", "ses_new")["revoked_at"], Value::Null);
    assert_eq!(record(&s, "sessions", "ses_bob")["revoked_at"], Value::Null);
    assert_deny(
        &decide(&s, &req("workspace.read").key(KEY_TOKEN)),
        "user_banned",
    );
    rejected(
        &mut s,
        &p(),
        json!({"op": "ban_user", "user": "alice"}),
        "no_change",
    );

    let later = "2026-05-28T13:00:00Z";
    let changes = ok(
        &mut s,
        &p(),
        json!({"at": later, "op": "unban_user", "user": "alice"}),
    );
    assert_eq!(
        changes,
        json!([update("user", "alice", "banned", json!(true), json!(false))])
    );
    rejected(
        &mut s,
        &p(),
        json!({"at": later, "op": "unban_user", "user": "alice"}),
        "no_change",
    );
    // The key works again; the session never comes back.
    assert_eq!(
        decide(&s, &req("workspace.read").key(KEY_TOKEN).at(later))["decision"],
        "allow"
    );
    assert_deny(
        &decide(&s, &req("workspace.read").cookie(SESSION_TOKEN).at(later)),
        "session_revoked",
    );
    // The session created after the ban is usable once it exists.
    let d = decide(&s, &req("session.read").cookie("t-new").at(LATER));
    assert_eq!(d["decision"], "allow", "{d:#}");
    for op in ["ban_user", "unban_user"] {
        rejected(
            &mut s,
            &p(),
            json!({"at": later, "op": op, "user": "carol"}),
            "unknown_user",
        );
    }
}

// ---- memberships ------------------------------------------------------------------

fn membership(change: &str, user: &str, tenant: &str) -> Value {
    json!({"change": change, "record": "membership", "user": user, "tenant": tenant})
}

#[test]
fn add_member() {
    let mut s = st();
    let c = json!({"op": "add_member", "user": "bob", "tenant": "acme", "role": "admin"});
    assert_eq!(
        ok(&mut s, &p(), c),
        json!([membership("create", "bob", "acme")])
    );
    let m = serde_json::to_value(s.to_snapshot()).unwrap()["memberships"][3].clone();
    assert_eq!(
        m,
        json!({"user": "bob", "tenant": "acme", "role": "admin", "since": AT})
    );
    rejections(
        st,
        &[
            (
                json!({"op": "add_member", "user": "carol", "tenant": "gamma", "role": "x"}),
                "unknown_user",
            ),
            (
                json!({"op": "add_member", "user": "carol", "tenant": "acme", "role": "x"}),
                "unknown_user",
            ),
            (
                json!({"op": "add_member", "user": "bob", "tenant": "gamma", "role": "x"}),
                "unknown_tenant",
            ),
            (
                json!({"op": "add_member", "user": "alice", "tenant": "acme", "role": "owner"}),
                "already_member",
            ),
        ],
    );
    // Existence, not liveness: a membership starting later is still there.
    let future = || {
        Snap::base()
            .member_since("bob", "acme", "member", LATER)
            .state()
    };
    rejections(
        future,
        &[(
            json!({"op": "add_member", "user": "bob", "tenant": "acme", "role": "x"}),
            "already_member",
        )],
    );
}

#[test]
fn remove_member_keeps_keys_and_clears_active_tenants() {
    // ses_exp is not live but points at acme too.
    let snap = Snap::base()
        .push(
            "sessions",
            with(
                session("ses_exp", "alice", Some("acme"), "t-exp"),
                json!({"expires_at": "2026-05-20T00:00:00Z"}),
            ),
        )
        .push(
            "sessions",
            session("ses_beta", "alice", Some("beta"), "t-beta"),
        );
    let mut s = snap.state();
    let c = json!({"op": "remove_member", "user": "alice", "tenant": "acme"});
    let changes = ok(&mut s, &p(), c.clone());
    assert_eq!(
        changes,
        json!([
            membership("delete", "alice", "acme"),
            update("session", "ses_1", "tenant", json!("acme"), Value::Null),
            update("session", "ses_exp", "tenant", json!("acme"), Value::Null),
        ])
    );
    assert_eq!(record(&s, "sessions", "ses_beta")["tenant"], "beta");
    assert!(
        record(&s, "api_keys", "key_1").is_object(),
        "the key is kept"
    );
    assert_deny(
        &decide(&s, &req("workspace.read").key(KEY_TOKEN)),
        "not_a_member",
    );
    assert_deny(
        &decide(&s, &req("workspace.read").cookie(SESSION_TOKEN)),
        "tenant_required",
    );
    rejected(&mut s, &p(), c, "not_a_member");
    // Re-added: the key works again (since = the re-add time).
    let t = "2026-05-28T13:00:00Z";
    ok(
        &mut s,
        &p(),
        json!({"at": t, "op": "add_member", "user": "alice", "tenant": "acme", "role": "member"}),
    );
    assert_eq!(
        decide(&s, &req("workspace.read").key(KEY_TOKEN).at(t))["decision"],
        "allow"
    );
    // Other rejections: not a member, or not yet.
    let future = || {
        Snap::base()
            .member_since("bob", "acme", "member", LATER)
            .state()
    };
    rejections(
        future,
        &[
            (
                json!({"op": "remove_member", "user": "bob", "tenant": "acme"}),
                "not_a_member",
            ),
            (
                json!({"op": "remove_member", "user": "carol", "tenant": "acme"}),
                "not_a_member",
            ),
            (
                json!({"op": "remove_member", "user": "bob", "tenant": "gamma"}),
                "not_a_member",
            ),
        ],
    );
}

#[test]
fn set_role() {
    let mut s = st();
    let c = json!({"op": "set_role", "user": "alice", "tenant": "beta", "role": "admin"});
    let changes = ok(&mut s, &p(), c.clone());
    assert_eq!(
        changes,
        json!([{"change": "update", "record": "membership", "user": "alice", "tenant": "beta",
                "field": "role", "from": "member", "to": "admin"}])
    );
    assert_eq!(
        decide(
            &s,
            &req("member.remove").cookie(SESSION_TOKEN).tenant("beta")
        )["decision"],
        "allow"
    );
    rejected(&mut s, &p(), c, "no_change");
    rejections(
        st,
        &[
            (
                json!({"op": "set_role", "user": "bob", "tenant": "acme", "role": "owner"}),
                "not_a_member",
            ),
            (
                json!({"op": "set_role", "user": "carol", "tenant": "acme", "role": "owner"}),
                "not_a_member",
            ),
        ],
    );
}

// ---- API keys -----------------------------------------------------------------------

fn mint(key: &str, owner: &str, tenant: &str, token: &str) -> Value {
    json!({"op": "mint_api_key", "key": key, "owner": owner, "tenant": tenant, "token": token})
}

/// Asserts a rejected mint/login never shows its raw token.
#[track_caller]
fn rejected_quietly(s: &mut State, p: &Policy, c: Value, reason: &str) {
    let token = c["token"].as_str().unwrap().to_string();
    let result = serde_json::to_string(&s.apply(p, &cmd(c.clone()))).unwrap();
    assert!(
        token.is_empty() || !result.contains(&token),
        "raw token in {result}"
    );
    // Re-run through the byte-identical check (the first run changed nothing
    // either, or this one would see a duplicate).
    rejected(s, p, c, reason);
}

#[test]
fn mint_api_key() {
    let mut s = st();
    let mut c = mint("key_2", "alice", "beta", "sk_live_new/+=");
    c["capabilities"] = json!(["supervisor"]);
    c["name"] = json!("deploy");
    c["expires_at"] = json!(LATER);
    assert_eq!(ok(&mut s, &p(), c), json!([create("api_key", "key_2")]));
    assert_eq!(
        record(&s, "api_keys", "key_2"),
        json!({"id": "key_2", "owner": "alice", "tenant": "beta", "token_sha256": sha("sk_live_new/+="),
               "prefix": "sk_live_", "capabilities": ["supervisor"], "enabled": true, "name": "deploy",
               "created_at": AT, "expires_at": LATER, "revoked_at": null, "deleted_at": null})
    );
    let d = decide(&s, &req("supervisor.connect").key("sk_live_new/+="));
    assert_allow(&d, json!("beta"), json!(["beta"]));
    // Defaults: capabilities [], no name, no expiry.
    ok(&mut s, &p(), mint("key_3", "bob", "beta", "sk_live_bob"));
    let k = record(&s, "api_keys", "key_3");
    assert_eq!(
        (&k["capabilities"], &k["name"], &k["expires_at"]),
        (&json!([]), &json!(""), &Value::Null)
    );
}

#[test]
fn mint_api_key_prefix_is_the_first_configured_match() {
    for (prefixes, expected) in [
        ("[\"sk_test_\", \"sk_\"]", "sk_test_"),
        ("[\"sk_\", \"sk_test_\"]", "sk_"),
    ] {
        let pol = policy(&format!("[api_key]\nprefixes = {prefixes}\n"));
        let mut s = st();
        ok(&mut s, &pol, mint("key_2", "alice", "acme", "sk_test_abc"));
        assert_eq!(record(&s, "api_keys", "key_2")["prefix"], expected);
    }
}

#[test]
fn mint_api_key_rejections_in_order() {
    let banned = || {
        Snap::base()
            .edit("users", "alice", json!({"banned": true}))
            .state()
    };
    let future = || {
        Snap::base()
            .member_since("bob", "acme", "member", LATER)
            .state()
    };
    let p = p();
    #[rustfmt::skip]
    let cases: [Case; 12] = [
        // duplicate_id beats everything after it.
        (st, mint("key_1", "carol", "gamma", SESSION_TOKEN), "duplicate_id"),
        // duplicate_token (a session's token, without a prefix) beats invalid_token.
        (st, mint("key_2", "alice", "acme", SESSION_TOKEN), "duplicate_token"),
        (st, mint("key_2", "alice", "acme", KEY_TOKEN), "duplicate_token"),
        // invalid_token beats not_a_member.
        (st, mint("key_2", "carol", "gamma", "nokeyprefix"), "invalid_token"),
        (st, mint("key_2", "alice", "acme", "sk_live_a b"), "invalid_token"),
        (st, mint("key_2", "alice", "acme", "sk_live_a,b"), "invalid_token"),
        (st, mint("key_2", "alice", "acme", "Sk_live_upper"), "invalid_token"),
        // not_a_member beats user_banned.
        (banned, mint("key_2", "alice", "gamma", "sk_live_n1"), "not_a_member"),
        (st, mint("key_2", "bob", "acme", "sk_live_n2"), "not_a_member"),
        (st, mint("key_2", "carol", "acme", "sk_live_n3"), "not_a_member"),
        (future, mint("key_2", "bob", "acme", "sk_live_n4"), "not_a_member"),
        (banned, mint("key_2", "alice", "acme", "sk_live_n5"), "user_banned"),
    ];
    for (state, c, reason) in cases {
        rejected_quietly(&mut state(), &p, c, reason);
    }
}

fn upd(fields: Value) -> Value {
    with(json!({"op": "update_api_key", "key": "key_1"}), fields)
}

#[test]
fn update_api_key_changes() {
    let mut s = st();
    let changes = ok(
        &mut s,
        &p(),
        upd(json!({"name": "ci-2", "enabled": false, "expires_at": LATER})),
    );
    assert_eq!(
        changes,
        json!([
            update("api_key", "key_1", "name", json!(""), json!("ci-2")),
            update("api_key", "key_1", "enabled", json!(true), json!(false)),
            update("api_key", "key_1", "expires_at", Value::Null, json!(LATER)),
        ])
    );
    assert_deny(
        &decide(&s, &req("workspace.read").key(KEY_TOKEN)),
        "api_key_disabled",
    );
    // Only the fields that differ are changes; null clears the expiry.
    let changes = ok(
        &mut s,
        &p(),
        upd(json!({"name": "ci-2", "enabled": true, "expires_at": null})),
    );
    assert_eq!(
        changes,
        json!([
            update("api_key", "key_1", "enabled", json!(false), json!(true)),
            update("api_key", "key_1", "expires_at", json!(LATER), Value::Null),
        ])
    );
    assert_eq!(
        decide(&s, &req("workspace.read").key(KEY_TOKEN))["decision"],
        "allow"
    );
}

#[test]
fn update_api_key_no_change() {
    let mut s = st();
    for fields in [
        json!({}),
        json!({"name": ""}),
        json!({"enabled": true, "expires_at": null}),
    ] {
        rejected(&mut s, &p(), upd(fields), "no_change");
    }
}

#[test]
fn update_api_key_can_update_expired_and_disabled_keys() {
    let expired = Snap::base()
        .edit(
            "api_keys",
            "key_1",
            json!({"expires_at": "2026-05-01T00:00:00Z", "enabled": false}),
        )
        .state();
    let mut s = expired;
    let changes = ok(
        &mut s,
        &p(),
        upd(json!({"expires_at": LATER, "enabled": true})),
    );
    assert_eq!(changes.as_array().unwrap().len(), 2);
    assert_eq!(
        decide(&s, &req("workspace.read").key(KEY_TOKEN))["decision"],
        "allow"
    );
}

#[test]
fn update_api_key_immutable_fields_of_every_json_type() {
    let fields = [
        json!({"tenant": "acme"}), // unchanged string
        json!({"tenant": "beta"}), // re-pointing (F06)
        json!({"owner": "alice"}),
        json!({"token": KEY_TOKEN}),
        json!({"token_sha256": sha(KEY_TOKEN)}),
        json!({"version": 2}),       // number
        json!({"revoked": false}),   // bool
        json!({"revoked_at": null}), // null: no un-revoking
        json!({"deleted_at": null}),
        json!({"capabilities": ["supervisor"]}), // unchanged array
        json!({"metadata": {"organizationId": "beta"}}), // object
        json!({"created_at": "2026-02-01T00:00:00Z"}),
        json!({"id": "key_1"}),
        json!({"prefix": "sk_live_"}),
        json!({"name": "x", "tenant": "acme"}), // mixed with a valid change
        json!({"name": "", "metadata": {}}),    // immutable beats no_change
    ];
    for f in fields {
        rejected(&mut st(), &p(), upd(f), "immutable_field");
    }
}

#[test]
fn update_api_key_rejections_in_order() {
    let state = |extra: Value| {
        move || {
            Snap::base()
                .edit("api_keys", "key_1", extra.clone())
                .state()
        }
    };
    let revoked = state(json!({"revoked_at": "2026-05-01T00:00:00Z"}));
    let deleted =
        state(json!({"revoked_at": "2026-05-01T00:00:00Z", "deleted_at": "2026-05-02T00:00:00Z"}));
    let future = state(json!({"created_at": LATER}));
    let other = json!({"tenant": "beta"});
    rejections(
        st,
        &[(
            with(upd(other.clone()), json!({"key": "key_9"})),
            "api_key_not_found",
        )],
    );
    rejections(future, &[(upd(other.clone()), "api_key_not_found")]);
    rejections(
        deleted,
        &[
            (upd(other.clone()), "api_key_deleted"),
            (upd(json!({"name": "x"})), "api_key_deleted"),
        ],
    );
    // F15: a revoked key is not re-enabled, whatever else the update says.
    rejections(
        revoked,
        &[
            (upd(other), "api_key_revoked"),
            (upd(json!({"enabled": true})), "api_key_revoked"),
            (
                upd(json!({"enabled": true, "name": "x", "expires_at": null})),
                "api_key_revoked",
            ),
        ],
    );
}

#[test]
fn revoke_api_key() {
    let mut s = st();
    let c = json!({"op": "revoke_api_key", "key": "key_1"});
    let changes = ok(&mut s, &p(), c.clone());
    assert_eq!(
        changes,
        json!([update(
            "api_key",
            "key_1",
            "revoked_at",
            Value::Null,
            json!(AT)
        )])
    );
    assert_deny(
        &decide(&s, &req("workspace.read").key(KEY_TOKEN)),
        "api_key_revoked",
    );
    rejected(&mut s, &p(), c, "api_key_revoked");
    let deleted = || {
        Snap::base()
            .edit(
                "api_keys",
                "key_1",
                json!({"revoked_at": "2026-05-01T00:00:00Z", "deleted_at": "2026-05-02T00:00:00Z"}),
            )
            .state()
    };
    rejections(
        deleted,
        &[(
            json!({"op": "revoke_api_key", "key": "key_1"}),
            "api_key_deleted",
        )],
    );
    rejections(
        st,
        &[(
            json!({"op": "revoke_api_key", "key": "nope"}),
            "api_key_not_found",
        )],
    );
}

#[test]
fn delete_api_key() {
    let mut s = st();
    ok(
        &mut s,
        &p(),
        json!({"op": "revoke_api_key", "key": "key_1"}),
    );
    // Deleting a revoked key is allowed (the stronger state).
    let c = json!({"op": "delete_api_key", "key": "key_1"});
    let changes = ok(&mut s, &p(), c.clone());
    assert_eq!(
        changes,
        json!([update(
            "api_key",
            "key_1",
            "deleted_at",
            Value::Null,
            json!(AT)
        )])
    );
    assert_deny(
        &decide(&s, &req("workspace.read").key(KEY_TOKEN)),
        "api_key_deleted",
    );
    rejected(&mut s, &p(), c, "api_key_deleted");
    let future = || {
        Snap::base()
            .edit("api_keys", "key_1", json!({"created_at": LATER}))
            .state()
    };
    rejections(
        future,
        &[(
            json!({"op": "delete_api_key", "key": "key_1"}),
            "api_key_not_found",
        )],
    );
}

// ---- sessions -----------------------------------------------------------------------

fn login(session: &str, user: &str, token: &str) -> Value {
    json!({"op": "login", "session": session, "user": user, "token": token})
}

#[test]
fn login_creates_a_session() {
    let mut s = st();
    let c = with(
        login("ses_2", "alice", "new/tok+en="),
        json!({"tenant": "beta"}),
    );
    assert_eq!(ok(&mut s, &p(), c), json!([create("session", "ses_2")]));
    assert_eq!(
        record(&s, "sessions", "ses_2"),
        json!({"id": "ses_2", "user": "alice", "tenant": "beta", "token_sha256": sha("new/tok+en="),
               "created_at": AT, "expires_at": "2026-06-27T12:00:00Z", "revoked_at": null})
    );
    let d = decide(&s, &req("workspace.read").cookie("new/tok+en="));
    assert_allow(&d, json!("beta"), json!(["acme", "beta"]));
    // Without a tenant: none active.
    ok(&mut s, &p(), login("ses_3", "bob", "bob-tok"));
    assert_eq!(record(&s, "sessions", "ses_3")["tenant"], Value::Null);
}

#[test]
fn login_expiry_is_capped_by_absolute_max() {
    for (toml, expires) in [
        ("absolute_max = \"7d\"", "2026-06-04T12:00:00Z"),
        ("absolute_max = \"30d\"", "2026-06-27T12:00:00Z"),
        ("absolute_max = \"90d\"", "2026-06-27T12:00:00Z"),
        ("ttl = \"1h\"", "2026-05-28T13:00:00Z"),
    ] {
        let pol = policy(&format!("[session]\n{toml}\n"));
        let mut s = st();
        ok(&mut s, &pol, login("ses_2", "alice", "tok"));
        assert_eq!(
            record(&s, "sessions", "ses_2")["expires_at"],
            expires,
            "{toml}"
        );
    }
}

#[test]
fn login_rejections_in_order() {
    let banned = || {
        Snap::base()
            .edit("users", "alice", json!({"banned": true}))
            .state()
    };
    let future = || {
        Snap::base()
            .member_since("bob", "acme", "member", LATER)
            .state()
    };
    fn with_tenant(c: Value, t: &str) -> Value {
        with(c, json!({"tenant": t}))
    }
    let p = p();
    #[rustfmt::skip]
    let cases: [Case; 12] = [
        (st, login("ses_1", "carol", "sk_live_x"), "duplicate_id"),
        // duplicate_token beats invalid_token (the key's token has a key prefix).
        (st, login("ses_2", "alice", KEY_TOKEN), "duplicate_token"),
        (st, login("ses_2", "alice", SESSION_TOKEN), "duplicate_token"),
        // invalid_token beats unknown_user.
        (st, login("ses_2", "carol", "sk_live_looks_like_a_key"), "invalid_token"),
        (st, login("ses_2", "alice", "a b"), "invalid_token"),
        (st, login("ses_2", "alice", ""), "invalid_token"),
        (st, login("ses_2", "alice", "caf\u{e9}"), "invalid_token"),
        // unknown_user beats not_a_member; user_banned beats not_a_member.
        (st, with_tenant(login("ses_2", "carol", "t1"), "gamma"), "unknown_user"),
        (banned, with_tenant(login("ses_2", "alice", "t2"), "gamma"), "user_banned"),
        (st, with_tenant(login("ses_2", "bob", "t3"), "acme"), "not_a_member"),
        (st, with_tenant(login("ses_2", "bob", "t4"), "gamma"), "not_a_member"),
        (future, with_tenant(login("ses_2", "bob", "t5"), "acme"), "not_a_member"),
    ];
    for (state, c, reason) in cases {
        rejected_quietly(&mut state(), &p, c, reason);
    }
}

fn sessions_in_every_state() -> State {
    Snap::base()
        .push(
            "sessions",
            with(
                session("ses_gone", "alice", Some("acme"), "t-gone"),
                json!({"revoked_at": "2026-05-02T00:00:00Z", "expires_at": "2026-05-03T00:00:00Z"}),
            ),
        )
        .push(
            "sessions",
            with(
                session("ses_exp", "alice", Some("acme"), "t-exp"),
                json!({"expires_at": AT}),
            ),
        )
        .push(
            "sessions",
            with(
                session("ses_new", "alice", Some("acme"), "t-new"),
                json!({"created_at": LATER, "expires_at": "2026-07-01T00:00:00Z"}),
            ),
        )
        .edit("tenants", "beta", json!({"suspended": true}))
        .tenant("gamma")
        .state()
}

#[test]
fn logout() {
    let mut s = st();
    let c = json!({"op": "logout", "session": "ses_1"});
    let changes = ok(&mut s, &p(), c.clone());
    assert_eq!(
        changes,
        json!([update(
            "session",
            "ses_1",
            "revoked_at",
            Value::Null,
            json!(AT)
        )])
    );
    assert_deny(
        &decide(&s, &req("workspace.read").cookie(SESSION_TOKEN)),
        "session_revoked",
    );
    rejected(&mut s, &p(), c, "session_revoked");
    let out = |id: &str| json!({"op": "logout", "session": id});
    rejections(
        sessions_in_every_state,
        &[
            (out("ses_9"), "session_not_found"),
            (out("ses_new"), "session_not_found"),
            (out("ses_gone"), "session_revoked"), // revoked and expired
            (out("ses_exp"), "session_expired"),  // expiring exactly at `at`
        ],
    );
}

#[test]
fn switch_tenant() {
    let mut s = st();
    let c = json!({"op": "switch_tenant", "session": "ses_1", "tenant": "beta"});
    let changes = ok(&mut s, &p(), c.clone());
    assert_eq!(
        changes,
        json!([update(
            "session",
            "ses_1",
            "tenant",
            json!("acme"),
            json!("beta")
        )])
    );
    assert_allow(
        &decide(&s, &req("workspace.read").cookie(SESSION_TOKEN)),
        json!("beta"),
        json!(["acme", "beta"]),
    );
    rejected(&mut s, &p(), c, "no_change");
    let sw = |id: &str, t: &str| json!({"op": "switch_tenant", "session": id, "tenant": t});
    rejections(
        sessions_in_every_state,
        &[
            (sw("ses_9", "acme"), "session_not_found"),
            (sw("ses_new", "gamma"), "session_not_found"),
            (sw("ses_gone", "gamma"), "session_revoked"),
            (sw("ses_exp", "gamma"), "session_expired"),
            (sw("ses_1", "gamma"), "not_a_member"), // exists, no membership
            (sw("ses_1", "nowhere"), "not_a_member"),
            (sw("ses_1", "beta"), "tenant_suspended"),
        ],
    );
    // not_a_member beats tenant_suspended; tenant_suspended beats no_change.
    let both = || {
        Snap::base()
            .edit("tenants", "acme", json!({"suspended": true}))
            .push("sessions", session("ses_bob", "bob", Some("beta"), "t-bob"))
            .state()
    };
    rejections(
        both,
        &[
            (sw("ses_bob", "acme"), "not_a_member"),
            (sw("ses_1", "acme"), "tenant_suspended"),
        ],
    );
}

// ---- resources ----------------------------------------------------------------------

fn resource_change(change: &str, tenant: &str, id: &str) -> Value {
    json!({"change": change, "record": "resource", "tenant": tenant, "id": id})
}

#[test]
fn create_resource() {
    let mut s = Snap::base().resource("acme", "default", "alice").state();
    let c =
        json!({"op": "create_resource", "tenant": "beta", "resource": "default", "owner": "bob"});
    assert_eq!(
        ok(&mut s, &p(), c.clone()),
        json!([resource_change("create", "beta", "default")])
    );
    let r = serde_json::to_value(s.to_snapshot()).unwrap()["resources"][1].clone();
    assert_eq!(
        r,
        json!({"tenant": "beta", "id": "default", "owner": "bob", "created_at": AT})
    );
    rejected(&mut s, &p(), c, "duplicate_id");
    let cr = |t: &str, id: &str, owner: &str| json!({"op": "create_resource", "tenant": t, "resource": id, "owner": owner});
    let with_future = || {
        Snap::base()
            .member_since("bob", "acme", "member", LATER)
            .resource("acme", "default", "alice")
            .state()
    };
    rejections(
        with_future,
        &[
            (cr("acme", "default", "carol"), "duplicate_id"), // beats not_a_member
            (cr("gamma", "x", "carol"), "unknown_tenant"),    // beats not_a_member
            (cr("acme", "x", "carol"), "not_a_member"),
            (cr("acme", "x", "bob"), "not_a_member"), // member only later
        ],
    );
}

#[test]
fn delete_resource() {
    let snap = || {
        Snap::base()
            .resource("acme", "default", "alice")
            .resource("beta", "default", "bob")
            .push(
                "resources",
                json!({"tenant": "acme", "id": "later", "owner": "alice", "created_at": LATER}),
            )
            .state()
    };
    let mut s = snap();
    let c = json!({"op": "delete_resource", "tenant": "acme", "resource": "default"});
    assert_eq!(
        ok(&mut s, &p(), c.clone()),
        json!([resource_change("delete", "acme", "default")])
    );
    // Only acme's: beta's resource of the same id stays.
    let resources = serde_json::to_value(s.to_snapshot()).unwrap()["resources"].clone();
    assert_eq!(resources.as_array().unwrap().len(), 2);
    assert_eq!(resources[0]["tenant"], "beta");
    rejected(&mut s, &p(), c, "resource_not_found");
    let del = |t: &str, id: &str| json!({"op": "delete_resource", "tenant": t, "resource": id});
    rejections(
        snap,
        &[
            (del("acme", "nope"), "resource_not_found"),
            (del("gamma", "default"), "resource_not_found"),
            (del("acme", "later"), "resource_not_found"),
        ],
    );
}

// ---- authenticate and result lines ------------------------------------------------

#[test]
fn authenticate_is_never_rejected() {
    let mut s = st();
    let d = authenticate(&mut s, &p(), &req("workspace.read").key("sk_live_nope"));
    assert_deny(&d, "api_key_not_found");
    let d = authenticate(&mut s, &p(), &req("nope"));
    assert_deny(&d, "unknown_action");
    let d = authenticate(&mut s, &p(), &req("workspace.read").key(KEY_TOKEN));
    assert_allow(&d, json!("acme"), json!(["acme"]));
}

#[test]
fn result_lines_have_the_spec_shape() {
    let mut s = st();
    let line = |s: &mut State, c: Value| serde_json::to_string(&s.apply(&p(), &cmd(c))).unwrap();
    let ok_line = line(&mut s, json!({"op": "create_user", "user": "carol"}));
    assert_eq!(
        ok_line,
        r#"{"result":"ok","op":"create_user","changes":[{"change":"create","record":"user","id":"carol"}]}"#
    );
    let rej = line(&mut s, json!({"op": "create_user", "user": "carol"}));
    assert!(
        rej.starts_with(
            r#"{"result":"rejected","op":"create_user","reason":"duplicate_id","explain":""#
        ),
        "{rej}"
    );
    let authenticate = serde_json::to_value(req("workspace.read").command()).unwrap();
    let dec = line(&mut s, authenticate);
    assert!(
        dec.starts_with(
            r#"{"result":"decision","op":"authenticate","decision":{"decision":"deny""#
        ),
        "{dec}"
    );
}

#[test]
fn commands_must_have_non_decreasing_at() {
    let lines = [
        r#"{"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": "a"}"#,
        r#"{"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": "b"}"#,
        "",
        r#"{"at": "2026-05-28T14:00:00+02:00", "op": "create_user", "user": "c"}"#,
        r#"{"at": "2026-05-28T11:59:59Z", "op": "create_user", "user": "d"}"#,
    ];
    let text = lines.join("\n");
    let e = load::commands_jsonl(text.as_bytes(), "commands.jsonl").unwrap_err();
    assert_eq!(
        (e.file().unwrap(), e.line(), e.path().unwrap()),
        ("commands.jsonl", Some(5), "$.at")
    );
    assert!(e.to_string().starts_with("commands.jsonl:5:"), "{e}");
    // Equal times (also written with an offset) are fine.
    let ok_text = lines[..4].join("\n");
    assert_eq!(
        load::commands_jsonl(ok_text.as_bytes(), "c.jsonl")
            .unwrap()
            .len(),
        3
    );
}
