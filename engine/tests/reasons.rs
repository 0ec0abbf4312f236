//! SPEC §6/§7: one test per reason code, the order of the steps, the scope of
//! an allow, the output fields of a deny, the `unbound` and
//! `empty_capabilities` modes, a replacing `actions` table and point-in-time
//! semantics. Fixture: `Snap::base()` (see tests/common).

use crate::common;

use authproof_engine::{Policy, Reason};
use common::*;
use serde_json::{json, Value};

const LEGACY_TOKEN: &str = "sk_live_legacy";

fn legacy() -> Snap {
    Snap::base().push("api_keys", key("key_old", "alice", None, LEGACY_TOKEN))
}

fn oldest() -> Policy {
    policy("[api_key]\nunbound = \"oldest_membership\"\n")
}

/// An API-key request of alice's `key_1` for `action`.
fn by_key(action: &str) -> Req {
    req(action).key(KEY_TOKEN)
}

/// A session request of alice's `ses_1` for `action`.
fn by_session(action: &str) -> Req {
    req(action).cookie(SESSION_TOKEN)
}

// ---- one test per reason ---------------------------------------------------

#[test]
fn every_reason_has_a_test_and_its_spec_status() {
    // The engine's closed set of reasons is exactly SPEC §6's 23 codes, each
    // with the table's status.
    assert_eq!(Reason::ALL.len(), 23);
    for r in Reason::ALL {
        assert_eq!(r.status(), spec_status(r.code()), "{r}");
    }
}

#[test]
fn unknown_action() {
    let d = decide(&Snap::base().state(), &by_key("workspace.delete"));
    assert_deny(&d, "unknown_action");
    assert_who(&d, None, None);
    assert_eq!(d["tenant"], Value::Null);
    assert_eq!(d["action"], "workspace.delete");
}

#[test]
fn no_credential() {
    let st = Snap::base().state();
    assert_deny(&decide(&st, &req("workspace.read")), "no_credential");
    // A cookie header without a session cookie is no credential either.
    let d = decide(
        &st,
        &req("workspace.read").header("cookie", "theme=dark; lang=en"),
    );
    assert_deny(&d, "no_credential");
    assert_who(&d, None, None);
}

#[test]
fn ambiguous_credential() {
    let p = policy("[credentials]\nmultiple = \"deny\"\n");
    let d = decide_with(
        &Snap::base().state(),
        &p,
        &by_key("workspace.read").cookie(SESSION_TOKEN),
    );
    assert_deny(&d, "ambiguous_credential");
    assert_who(&d, None, None);
}

#[test]
fn malformed_credential() {
    let d = decide(
        &Snap::base().state(),
        &req("workspace.read").header("authorization", "Basic YWxpY2U6cHc="),
    );
    assert_deny(&d, "malformed_credential");
    assert_who(&d, None, None);
}

#[test]
fn api_key_not_found() {
    let d = decide(
        &Snap::base().state(),
        &req("workspace.read").key("sk_live_wrong"),
    );
    assert_deny(&d, "api_key_not_found");
    assert_who(&d, None, None);
    assert_eq!(d["tenant"], Value::Null);
}

/// The credential record `id` of `collection` edited with `extra`, then
/// presented: the reason, and the record and its owner are reported
/// (identified in step 2) but no tenant yet.
fn record_state_case(collection: &str, extra: Value, reason: &str) {
    let (kind, id, r) = match collection {
        "api_keys" => ("api_key", "key_1", by_key("workspace.read")),
        _ => ("session", "ses_1", by_session("workspace.read")),
    };
    let st = Snap::base().edit(collection, id, extra).state();
    let d = decide(&st, &r);
    assert_deny(&d, reason);
    assert_who(&d, Some("alice"), Some((kind, id)));
    assert_eq!(d["tenant"], Value::Null, "tenant is null before step 4");
}

fn key_state_case(extra: Value, reason: &str) {
    record_state_case("api_keys", extra, reason);
}

#[test]
fn api_key_deleted() {
    key_state_case(
        json!({"deleted_at": "2026-05-01T00:00:00Z"}),
        "api_key_deleted",
    );
}

#[test]
fn api_key_revoked() {
    key_state_case(
        json!({"revoked_at": "2026-05-01T00:00:00Z"}),
        "api_key_revoked",
    );
}

#[test]
fn api_key_disabled() {
    key_state_case(json!({"enabled": false}), "api_key_disabled");
}

#[test]
fn api_key_expired() {
    key_state_case(json!({"expires_at": AT}), "api_key_expired");
}

#[test]
fn session_not_found() {
    let d = decide(
        &Snap::base().state(),
        &req("workspace.read").cookie("ses-unknown"),
    );
    assert_deny(&d, "session_not_found");
    assert_who(&d, None, None);
}

fn session_state_case(extra: Value, reason: &str) {
    record_state_case("sessions", extra, reason);
}

#[test]
fn session_revoked() {
    session_state_case(
        json!({"revoked_at": "2026-05-02T00:00:00Z"}),
        "session_revoked",
    );
}

#[test]
fn session_expired() {
    session_state_case(json!({"expires_at": AT}), "session_expired");
}

#[test]
fn user_banned() {
    let st = Snap::base()
        .edit("users", "alice", json!({"banned": true}))
        .state();
    for (r, cred) in [
        (by_key("workspace.read"), ("api_key", "key_1")),
        (by_session("workspace.read"), ("session", "ses_1")),
    ] {
        let d = decide(&st, &r);
        assert_deny(&d, "user_banned");
        assert_who(&d, Some("alice"), Some(cred));
        assert_eq!(d["tenant"], Value::Null);
    }
}

#[test]
fn credential_not_allowed() {
    let st = Snap::base().state();
    // api_key.create and member.remove are sessions only;
    // supervisor.connect is API keys only.
    for r in [
        by_key("api_key.create"),
        by_key("member.remove"),
        by_session("supervisor.connect"),
    ] {
        let d = decide(&st, &r);
        assert_deny(&d, "credential_not_allowed");
        assert_eq!(d["tenant"], Value::Null, "before step 4");
        assert_eq!(d["user"], "alice");
    }
}

#[test]
fn api_key_unbound() {
    let d = decide(&legacy().state(), &req("workspace.read").key(LEGACY_TOKEN));
    assert_deny(&d, "api_key_unbound");
    assert_who(&d, Some("alice"), Some(("api_key", "key_old")));
    assert_eq!(d["tenant"], Value::Null, "no effective tenant was found");
}

#[test]
fn cross_tenant() {
    // alice is a member of beta too: the key is still bound to acme.
    let d = decide(
        &Snap::base().state(),
        &by_key("workspace.read").tenant("beta"),
    );
    assert_deny(&d, "cross_tenant");
    assert_eq!(
        d["tenant"], "acme",
        "cross_tenant reports the key's bound tenant"
    );
    assert_who(&d, Some("alice"), Some(("api_key", "key_1")));
    // Naming the bound tenant itself is fine.
    let d = decide(
        &Snap::base().state(),
        &by_key("workspace.read").tenant("acme"),
    );
    assert_allow(&d, json!("acme"), json!(["acme"]));
}

#[test]
fn tenant_required() {
    let st = Snap::base()
        .edit("sessions", "ses_1", json!({"tenant": null}))
        .state();
    let d = decide(&st, &by_session("workspace.read"));
    assert_deny(&d, "tenant_required");
    assert_eq!(d["tenant"], Value::Null);
    assert_who(&d, Some("alice"), Some(("session", "ses_1")));
    // The same session may act where the tenant is optional.
    let d = decide(&st, &by_session("session.read"));
    assert_allow(&d, Value::Null, json!(["acme", "beta"]));
}

#[test]
fn not_a_member() {
    let st = Snap::base()
        .push("sessions", session("ses_bob", "bob", None, "ses-bob"))
        .state();
    let d = decide(&st, &req("workspace.read").cookie("ses-bob").tenant("acme"));
    assert_deny(&d, "not_a_member");
    assert_eq!(d["tenant"], "acme", "step 4 determined the tenant");
    assert_who(&d, Some("bob"), Some(("session", "ses_bob")));
    // A tenant that does not exist is not_a_member too (SEMANTICS).
    let d = decide(
        &st,
        &req("workspace.read").cookie("ses-bob").tenant("nowhere"),
    );
    assert_deny(&d, "not_a_member");
}

#[test]
fn tenant_suspended() {
    let st = Snap::base()
        .edit("tenants", "acme", json!({"suspended": true}))
        .state();
    for r in [by_key("workspace.read"), by_session("workspace.read")] {
        let d = decide(&st, &r);
        assert_deny(&d, "tenant_suspended");
        assert_eq!(d["tenant"], "acme");
    }
}

#[test]
fn insufficient_role() {
    // alice is a plain member of beta; member.remove needs owner/admin.
    let st = Snap::base().state();
    let d = decide(&st, &by_session("member.remove").tenant("beta"));
    assert_deny(&d, "insufficient_role");
    assert_eq!(d["tenant"], "beta");
    // ... and she is owner of acme.
    let d = decide(&st, &by_session("member.remove"));
    assert_allow(&d, json!("acme"), json!(["acme", "beta"]));
}

#[test]
fn missing_capability() {
    let st = Snap::base()
        .edit(
            "api_keys",
            "key_1",
            json!({"capabilities": ["read", "Supervisor"]}),
        )
        .state();
    let d = decide(&st, &by_key("supervisor.connect"));
    assert_deny(&d, "missing_capability");
    assert_eq!(d["tenant"], "acme");
    assert_who(&d, Some("alice"), Some(("api_key", "key_1")));
}

#[test]
fn resource_not_found() {
    let st = Snap::base().resource("acme", "conv_1", "alice").state();
    assert_deny(
        &decide(&st, &by_session("conversation.resume")),
        "resource_not_found",
    );
    let d = decide(&st, &by_session("conversation.resume").resource("conv_2"));
    assert_deny(&d, "resource_not_found");
    assert_eq!(d["tenant"], "acme");
    // An action that does not require a resource still checks a named one.
    let d = decide(&st, &by_session("workspace.read").resource("conv_2"));
    assert_deny(&d, "resource_not_found");
    let d = decide(&st, &by_session("workspace.read").resource("conv_1"));
    assert_allow(&d, json!("acme"), json!(["acme", "beta"]));
}

#[test]
fn not_resource_owner() {
    let st = Snap::base().resource("beta", "conv_1", "bob").state();
    let d = decide(
        &st,
        &by_session("conversation.resume")
            .tenant("beta")
            .resource("conv_1"),
    );
    assert_deny(&d, "not_resource_owner");
    assert_eq!(d["tenant"], "beta");
}

// ---- allow output ------------------------------------------------------------

#[test]
fn allow_output_shape_and_key_order() {
    let st = Snap::base().state();
    let d = st.decide(&Policy::default(), &by_key("supervisor.connect").build());
    let text = serde_json::to_string(&d).unwrap();
    let keys = [
        "decision",
        "reason",
        "status",
        "action",
        "user",
        "credential",
        "tenant",
        "scope",
        "effects",
        "explain",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} in {text}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "SPEC §7 key order: {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_allow(&v, json!("acme"), json!(["acme"]));
    assert_who(&v, Some("alice"), Some(("api_key", "key_1")));
    assert_eq!(v["effects"], json!([]), "API keys have no effects");
    // Byte-identical on a second run.
    let again = serde_json::to_string(
        &st.decide(&Policy::default(), &by_key("supervisor.connect").build()),
    )
    .unwrap();
    assert_eq!(text, again);
}

// ---- step order ----------------------------------------------------------------

#[test]
fn order_unknown_action_before_extraction() {
    let r = req("nope").header("authorization", "Basic x").key("");
    assert_deny(&decide(&Snap::base().state(), &r), "unknown_action");
}

#[test]
fn order_extraction_before_lookup() {
    // The API-key header comes first and is malformed: no fallback to the
    // valid cookie.
    let r = by_session("workspace.read").key("bad token");
    assert_deny(&decide(&Snap::base().state(), &r), "malformed_credential");
}

#[test]
fn order_key_states() {
    let cases = [
        (
            json!({"revoked_at": "2026-05-01T00:00:00Z", "deleted_at": "2026-05-02T00:00:00Z"}),
            "api_key_deleted",
        ),
        (
            json!({"revoked_at": "2026-05-01T00:00:00Z", "enabled": false, "expires_at": "2026-05-01T00:00:00Z"}),
            "api_key_revoked",
        ),
        (
            json!({"enabled": false, "expires_at": "2026-05-01T00:00:00Z"}),
            "api_key_disabled",
        ),
    ];
    for (extra, reason) in cases {
        key_state_case(extra, reason);
    }
    // Expired and banned: the key's state comes first.
    let st = Snap::base()
        .edit(
            "api_keys",
            "key_1",
            json!({"expires_at": "2026-05-01T00:00:00Z"}),
        )
        .edit("users", "alice", json!({"banned": true}))
        .state();
    assert_deny(&decide(&st, &by_key("workspace.read")), "api_key_expired");
}

#[test]
fn order_session_states() {
    session_state_case(
        json!({"revoked_at": "2026-05-02T00:00:00Z", "expires_at": "2026-05-03T00:00:00Z"}),
        "session_revoked",
    );
    let st = Snap::base()
        .edit(
            "sessions",
            "ses_1",
            json!({"expires_at": "2026-05-03T00:00:00Z"}),
        )
        .edit("users", "alice", json!({"banned": true}))
        .state();
    assert_deny(
        &decide(&st, &by_session("workspace.read")),
        "session_expired",
    );
}

#[test]
fn order_banned_before_kind_before_tenant() {
    let st = legacy()
        .edit("users", "alice", json!({"banned": true}))
        .state();
    assert_deny(
        &decide(&st, &req("api_key.create").key(LEGACY_TOKEN)),
        "user_banned",
    );
    // Not banned: the kind check (step 3) comes before the unbound key (step 4).
    let st = legacy().state();
    assert_deny(
        &decide(&st, &req("api_key.create").key(LEGACY_TOKEN)),
        "credential_not_allowed",
    );
    // Unbound comes before cross-tenant.
    assert_deny(
        &decide(&st, &req("workspace.read").key(LEGACY_TOKEN).tenant("beta")),
        "api_key_unbound",
    );
}

#[test]
fn order_cross_tenant_before_membership_and_suspension() {
    // Bound tenant suspended and the key's owner no longer in it: a request
    // naming another tenant is still cross_tenant first.
    let mut s = Snap::base().edit("tenants", "acme", json!({"suspended": true}));
    s.0["memberships"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["tenant"] != "acme");
    let st = s.state();
    let d = decide(&st, &by_key("workspace.read").tenant("beta"));
    assert_deny(&d, "cross_tenant");
    assert_eq!(d["tenant"], "acme");
    // Without a named tenant, membership of the bound tenant is checked.
    assert_deny(&decide(&st, &by_key("workspace.read")), "not_a_member");
}

#[test]
fn order_not_a_member_before_tenant_suspended() {
    let st = Snap::base()
        .edit("tenants", "acme", json!({"suspended": true}))
        .push("sessions", session("ses_bob", "bob", None, "ses-bob"))
        .state();
    let d = decide(&st, &req("workspace.read").cookie("ses-bob").tenant("acme"));
    assert_deny(&d, "not_a_member");
}

#[test]
fn order_tenant_required_before_resource() {
    let st = Snap::base()
        .edit("sessions", "ses_1", json!({"tenant": null}))
        .state();
    assert_deny(
        &decide(&st, &by_session("conversation.resume")),
        "tenant_required",
    );
}

#[test]
fn order_suspended_role_capability_resource() {
    let p = policy(
        "[actions.\"x.do\"]\nroles = [\"owner\"]\ncapability = \"x\"\nresource = true\nowner_only = true\n",
    );
    let r = by_key("x.do").resource("nope");
    // All of: acme suspended, alice's role there is member, the key lacks the
    // capability, the resource does not exist. Fix them one by one.
    let mut st = Snap::base()
        .edit("tenants", "acme", json!({"suspended": true}))
        .edit("api_keys", "key_1", json!({"capabilities": ["y"]}))
        .resource("acme", "r1", "bob");
    assert_eq!(st.0["memberships"][0]["tenant"], "acme");
    st.0["memberships"][0]["role"] = json!("member");
    assert_deny(&decide_with(&st.state(), &p, &r), "tenant_suspended");
    st.0["tenants"][0]["suspended"] = json!(false);
    assert_deny(&decide_with(&st.state(), &p, &r), "insufficient_role");
    st.0["memberships"][0]["role"] = json!("owner");
    assert_deny(&decide_with(&st.state(), &p, &r), "missing_capability");
    st.0["api_keys"][0]["capabilities"] = json!(["x"]);
    assert_deny(&decide_with(&st.state(), &p, &r), "resource_not_found");
    let r = by_key("x.do").resource("r1");
    assert_deny(&decide_with(&st.state(), &p, &r), "not_resource_owner");
    st.0["resources"][0]["owner"] = json!("alice");
    assert_allow(
        &decide_with(&st.state(), &p, &r),
        json!("acme"),
        json!(["acme"]),
    );
}

#[test]
fn kinds_never_cross() {
    // A session's token in the API-key header, and a key's token as a cookie.
    let st = Snap::base().state();
    assert_deny(
        &decide(&st, &req("workspace.read").key(SESSION_TOKEN)),
        "api_key_not_found",
    );
    assert_deny(
        &decide(&st, &req("workspace.read").cookie(KEY_TOKEN)),
        "session_not_found",
    );
}

// ---- scope -----------------------------------------------------------------------

#[test]
fn scope_of_an_api_key_is_its_tenant_only() {
    let d = decide(&Snap::base().state(), &by_key("token.mint"));
    assert_allow(&d, json!("acme"), json!(["acme"]));
}

#[test]
fn scope_of_a_session_is_sorted_live_unsuspended_memberships() {
    let st = Snap::base()
        .tenant("zeta")
        .tenant("aardvark")
        .tenant("frozen")
        .tenant("later")
        .member("alice", "zeta", "member")
        .member("alice", "aardvark", "member")
        .member("alice", "frozen", "member")
        .member_since("alice", "later", "member", "2026-05-29T00:00:00Z")
        .edit("tenants", "frozen", json!({"suspended": true}))
        .state();
    let d = decide(&st, &by_session("token.mint"));
    assert_allow(
        &d,
        json!("acme"),
        json!(["aardvark", "acme", "beta", "zeta"]),
    );
    // Once the `later` membership exists, it is in scope.
    let d = decide(&st, &by_session("token.mint").at("2026-05-30T00:00:00Z"));
    assert_allow(
        &d,
        json!("acme"),
        json!(["aardvark", "acme", "beta", "later", "zeta"]),
    );
}

// ---- unbound, empty capabilities, actions table ----------------------------------

#[test]
fn unbound_oldest_membership_binds_to_smallest_since_then_tenant_id() {
    let p = oldest();
    let d = decide_with(
        &legacy().state(),
        &p,
        &req("workspace.read").key(LEGACY_TOKEN),
    );
    assert_allow(&d, json!("acme"), json!(["acme"]));
    // carol: zeta and mid share the oldest `since`; `future` is later
    // than `at`, so it does not exist yet.
    let st = Snap::base()
        .tenant("zeta")
        .tenant("mid")
        .tenant("future")
        .user("carol")
        .member_since("carol", "zeta", "member", "2026-01-01T00:00:00Z")
        .member_since("carol", "beta", "member", "2026-02-01T00:00:00Z")
        .member_since("carol", "mid", "member", "2026-01-01T00:00:00Z")
        .member_since("carol", "future", "member", "2026-12-01T00:00:00Z")
        .push("api_keys", key("key_c", "carol", None, "sk_live_carol"))
        .state();
    let r = req("workspace.read").key("sk_live_carol");
    assert_allow(&decide_with(&st, &p, &r), json!("mid"), json!(["mid"]));
    // Cross-tenant reports the tenant it was bound to.
    let d = decide_with(&st, &p, &r.clone().tenant("zeta"));
    assert_deny(&d, "cross_tenant");
    assert_eq!(d["tenant"], "mid");
    // Under "deny" the same key is unbound.
    assert_deny(&decide(&st, &r), "api_key_unbound");
}

#[test]
fn unbound_oldest_membership_without_membership_is_not_a_member() {
    let st = Snap::base()
        .user("dave")
        .tenant("later")
        .member_since("dave", "later", "member", "2026-12-01T00:00:00Z")
        .push("api_keys", key("key_d", "dave", None, "sk_live_dave"))
        .state();
    let d = decide_with(&st, &oldest(), &req("workspace.read").key("sk_live_dave"));
    assert_deny(&d, "not_a_member");
    assert_eq!(d["tenant"], Value::Null, "no tenant was found");
    assert_who(&d, Some("dave"), Some(("api_key", "key_d")));
}

#[test]
fn empty_capabilities_all_and_none() {
    let st = Snap::base()
        .edit("api_keys", "key_1", json!({"capabilities": []}))
        .state();
    let r = by_key("supervisor.connect");
    assert_allow(&decide(&st, &r), json!("acme"), json!(["acme"]));
    let none = policy("[api_key]\nempty_capabilities = \"none\"\n");
    assert_deny(&decide_with(&st, &none, &r), "missing_capability");
    // "none" does not affect actions without a capability.
    assert_allow(
        &decide_with(&st, &none, &by_key("workspace.read")),
        json!("acme"),
        json!(["acme"]),
    );
    // A non-empty list is read as is under either mode.
    let st = Snap::base()
        .edit("api_keys", "key_1", json!({"capabilities": ["other"]}))
        .state();
    assert_deny(&decide(&st, &r), "missing_capability");
}

#[test]
fn actions_table_replaces_the_defaults() {
    let p = policy("[actions.\"report.read\"]\ncredentials = [\"api_key\"]\n");
    let st = Snap::base().state();
    assert_deny(
        &decide_with(&st, &p, &by_key("workspace.read")),
        "unknown_action",
    );
    assert_deny(
        &decide_with(&st, &p, &by_session("session.read")),
        "unknown_action",
    );
    assert_allow(
        &decide_with(&st, &p, &by_key("report.read")),
        json!("acme"),
        json!(["acme"]),
    );
    assert_deny(
        &decide_with(&st, &p, &by_session("report.read")),
        "credential_not_allowed",
    );
    // Other tables still merge: the default policy accepts the key as Bearer.
    assert_allow(
        &decide_with(&st, &p, &req("report.read").bearer(KEY_TOKEN)),
        json!("acme"),
        json!(["acme"]),
    );
}

// ---- point in time -------------------------------------------------------------------

#[test]
fn records_created_after_at_do_not_exist_yet() {
    let later = "2026-06-01T00:00:00Z";
    let st = Snap::base()
        .edit("api_keys", "key_1", json!({"created_at": later}))
        .edit(
            "sessions",
            "ses_1",
            json!({"created_at": later, "expires_at": "2026-07-01T00:00:00Z"}),
        )
        .state();
    let d = decide(&st, &by_key("workspace.read"));
    assert_deny(&d, "api_key_not_found");
    assert_who(&d, None, None);
    assert_deny(
        &decide(&st, &by_session("workspace.read")),
        "session_not_found",
    );
    // ... and exist from their own second on.
    assert_allow(
        &decide(&st, &by_key("workspace.read").at(later)),
        json!("acme"),
        json!(["acme"]),
    );

    let st = Snap::base()
        .member_since("bob", "acme", "member", "2026-06-01T00:00:00Z")
        .push("sessions", session("ses_bob", "bob", Some("acme"), "ses-bob"))
        .push(
            "resources",
            json!({"tenant": "acme", "id": "conv_1", "owner": "alice", "created_at": "2026-05-29T00:00:00Z"}),
        )
        .state();
    assert_deny(
        &decide(&st, &req("workspace.read").cookie("ses-bob")),
        "not_a_member",
    );
    let r = by_session("conversation.resume").resource("conv_1");
    assert_deny(&decide(&st, &r), "resource_not_found");
    let d = decide(&st, &r.at("2026-05-29T00:00:00Z"));
    assert_allow(&d, json!("acme"), json!(["acme", "beta"]));
}

#[test]
fn end_times_take_effect_when_at_or_before_at() {
    let one_after = "2026-05-28T12:00:01Z";
    for (field, reason) in [
        ("deleted_at", "api_key_deleted"),
        ("revoked_at", "api_key_revoked"),
        ("expires_at", "api_key_expired"),
    ] {
        let st = Snap::base()
            .edit("api_keys", "key_1", json!({ field: AT }))
            .state();
        assert_deny(&decide(&st, &by_key("workspace.read")), reason);
        let st = Snap::base()
            .edit("api_keys", "key_1", json!({ field: one_after }))
            .state();
        assert_allow(
            &decide(&st, &by_key("workspace.read")),
            json!("acme"),
            json!(["acme"]),
        );
    }
    for (field, reason) in [
        ("revoked_at", "session_revoked"),
        ("expires_at", "session_expired"),
    ] {
        let st = Snap::base()
            .edit("sessions", "ses_1", json!({ field: AT }))
            .state();
        assert_deny(&decide(&st, &by_session("workspace.read")), reason);
        let st = Snap::base()
            .edit("sessions", "ses_1", json!({ field: one_after }))
            .state();
        assert!(decide(&st, &by_session("workspace.read"))["decision"] == "allow");
    }
}

#[test]
fn replay_at_an_earlier_time_sees_the_past() {
    // A snapshot taken later (key revoked since) replayed at the incident's
    // time: the key was live then.
    let st = Snap::base()
        .edit(
            "api_keys",
            "key_1",
            json!({"revoked_at": "2026-05-29T00:00:00Z"}),
        )
        .state();
    assert_allow(
        &decide(&st, &by_key("workspace.read")),
        json!("acme"),
        json!(["acme"]),
    );
    let d = decide(&st, &by_key("workspace.read").at("2026-05-29T00:00:00Z"));
    assert_deny(&d, "api_key_revoked");
}
