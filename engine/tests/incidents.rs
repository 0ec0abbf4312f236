//! One regression test per incident class of INCIDENTS.md (F01–F16), in the
//! shape of the original incident, plus the two scenarios every suite must
//! contain (cross-tenant resume; blast radius of a stricter key policy).

use crate::common;

use authproof_engine::{load, Policy, State};
use common::*;
use serde_json::{json, Value};

fn read() -> Req {
    req("workspace.read")
}

fn verdict(d: &Value) -> (&str, &str) {
    (
        d["decision"].as_str().unwrap(),
        d["reason"].as_str().unwrap_or("-"),
    )
}

#[test]
fn f01_collapsed_reasons() {
    // A wrong key, a rotated (revoked) key, a deleted key and a key without
    // the capability: four different, precise reasons.
    let st = Snap::base()
        .push(
            "api_keys",
            with(
                key("key_rot", "alice", Some("acme"), "sk_live_rot"),
                json!({"revoked_at": "2026-05-01T00:00:00Z"}),
            ),
        )
        .push(
            "api_keys",
            with(
                key("key_del", "alice", Some("acme"), "sk_live_del"),
                json!({"deleted_at": "2026-05-01T00:00:00Z"}),
            ),
        )
        .push(
            "api_keys",
            with(
                key("key_ro", "alice", Some("acme"), "sk_live_ro"),
                json!({"capabilities": ["read"]}),
            ),
        )
        .state();
    let r = |t: &str| req("supervisor.connect").key(t);
    let reasons: Vec<Value> = ["sk_live_wrong", "sk_live_rot", "sk_live_del", "sk_live_ro"]
        .iter()
        .map(|t| decide(&st, &r(t))["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        json!([
            "api_key_not_found",
            "api_key_revoked",
            "api_key_deleted",
            "missing_capability"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
}

#[test]
fn f02_cookie_as_bearer() {
    // The session arrives as a cookie only (no Authorization header): it is
    // accepted as the library's own endpoint accepts it.
    let st = Snap::base().state();
    let d = decide(&st, &read().cookie(SESSION_TOKEN));
    assert_eq!(verdict(&d), ("allow", "-"));
    let d = decide(
        &st,
        &read().header(
            "cookie",
            &format!("__Secure-better-auth.session_token={SESSION_TOKEN}"),
        ),
    );
    assert_eq!(d["credential"], json!({"kind": "session", "id": "ses_1"}));
}

#[test]
fn f03_reencoded_token() {
    let token = "abc/def+ghi==";
    let st = Snap::base()
        .push("sessions", session("ses_b64", "alice", Some("acme"), token))
        .state();
    for r in [read().cookie(token), read().bearer(token)] {
        assert_eq!(verdict(&decide(&st, &r)), ("allow", "-"));
    }
    // The re-encoded spelling is a different token.
    let d = decide(&st, &read().cookie("abc%2Fdef%2Bghi%3D%3D"));
    assert_eq!(verdict(&d), ("deny", "session_not_found"));
}

#[test]
fn f04_key_header_ignored() {
    let st = Snap::base().state();
    let header = decide(&st, &read().key(KEY_TOKEN));
    let bearer = decide(&st, &read().bearer(KEY_TOKEN));
    for d in [&header, &bearer] {
        assert_eq!(verdict(d), ("allow", "-"));
        assert_eq!(d["credential"], json!({"kind": "api_key", "id": "key_1"}));
    }
}

#[test]
fn f05_key_tenant_ignored() {
    // alice's newest membership and her session's active tenant are beta;
    // her key is bound to acme and acts there only.
    let st = Snap::base()
        .edit("sessions", "ses_1", json!({"tenant": "beta"}))
        .state();
    let d = decide(&st, &read().key(KEY_TOKEN));
    assert_allow(&d, json!("acme"), json!(["acme"]));
    let d = decide(&st, &read().key(KEY_TOKEN).tenant("beta"));
    assert_deny(&d, "cross_tenant");
}

#[test]
fn f06_mutable_key_metadata() {
    let mut st = Snap::base().state();
    for extra in [
        json!({"tenant": "beta"}),
        json!({"metadata": {"organizationId": "beta"}}),
        json!({"owner": "bob"}),
    ] {
        let c = with(json!({"op": "update_api_key", "key": "key_1"}), extra);
        rejected(&mut st, &Policy::default(), c, "immutable_field");
    }
    assert_eq!(record(&st, "api_keys", "key_1")["tenant"], "acme");
    assert_deny(
        &decide(&st, &read().key(KEY_TOKEN).tenant("beta")),
        "cross_tenant",
    );
}

#[test]
fn f07_unscoped_token() {
    let st = Snap::base().state();
    let d = decide(&st, &req("token.mint").key(KEY_TOKEN));
    assert_allow(&d, json!("acme"), json!(["acme"]));
    // A session of the same owner lists both of her tenants.
    let d = decide(&st, &req("token.mint").cookie(SESSION_TOKEN));
    assert_allow(&d, json!("acme"), json!(["acme", "beta"]));
}

#[test]
fn f08_sliding_revives() {
    let p = Policy::default();
    // Expired exactly now, and revoked while inside the refresh window.
    let mut st = Snap::base()
        .push(
            "sessions",
            with(
                session("ses_rev", "alice", Some("acme"), "t-rev"),
                json!({"revoked_at": "2026-05-10T00:00:00Z"}),
            ),
        )
        .state();
    let at_expiry = read().cookie(SESSION_TOKEN).at("2026-05-31T00:00:00Z");
    assert_deny(&authenticate(&mut st, &p, &at_expiry), "session_expired");
    assert_deny(
        &authenticate(&mut st, &p, &read().cookie("t-rev")),
        "session_revoked",
    );
    for id in ["ses_1", "ses_rev"] {
        assert_eq!(
            record(&st, "sessions", id)["expires_at"],
            "2026-05-31T00:00:00Z",
            "{id}"
        );
    }
    // Still expired a day later.
    let later = read().cookie(SESSION_TOKEN).at("2026-06-01T00:00:00Z");
    assert_deny(&authenticate(&mut st, &p, &later), "session_expired");
}

#[test]
fn f09_stale_membership() {
    let p = Policy::default();
    let mut st = Snap::base().state();
    let c = json!({"op": "remove_member", "user": "alice", "tenant": "acme"});
    ok(&mut st, &p, c);
    let t = "2026-05-28T12:00:01Z";
    assert_deny(&decide(&st, &read().key(KEY_TOKEN).at(t)), "not_a_member");
    let d = decide(&st, &read().cookie(SESSION_TOKEN).tenant("acme").at(t));
    assert_deny(&d, "not_a_member");
    // The session's scope no longer lists acme.
    let d = decide(&st, &req("session.read").cookie(SESSION_TOKEN).at(t));
    assert_allow(&d, Value::Null, json!(["beta"]));
}

#[test]
fn f10_global_resource_key() {
    // Both tenants hold "default"; only acme holds "notes".
    let st = Snap::base()
        .resource("acme", "default", "alice")
        .resource("beta", "default", "bob")
        .resource("acme", "notes", "alice")
        .state();
    let resume = |id: &str| {
        req("conversation.resume")
            .cookie(SESSION_TOKEN)
            .tenant("beta")
            .resource(id)
    };
    // alice acting in beta gets beta's "default" (bob's), never her own in acme.
    assert_deny(&decide(&st, &resume("default")), "not_resource_owner");
    // acme's "notes" is not reachable from beta.
    assert_deny(&decide(&st, &resume("notes")), "resource_not_found");
    // In acme both are hers.
    let d = decide(&st, &resume("notes").tenant("acme"));
    assert_allow(&d, json!("acme"), json!(["acme", "beta"]));
}

#[test]
fn f11_silent_noop_write() {
    let p = Policy::default();
    let mut st = Snap::base().state();
    for (c, reason) in [
        (
            json!({"op": "update_api_key", "key": "key_9", "name": "x"}),
            "api_key_not_found",
        ),
        (
            json!({"op": "revoke_api_key", "key": "key_9"}),
            "api_key_not_found",
        ),
        (
            json!({"op": "logout", "session": "ses_9"}),
            "session_not_found",
        ),
        (
            json!({"op": "delete_resource", "tenant": "acme", "resource": "r9"}),
            "resource_not_found",
        ),
        (
            json!({"op": "update_api_key", "key": "key_1", "name": ""}),
            "no_change",
        ),
        (json!({"op": "unban_user", "user": "alice"}), "no_change"),
    ] {
        rejected(&mut st, &p, c, reason);
    }
}

#[test]
fn f12_legacy_key_misroute() {
    // alice's newest tenant is beta; her legacy key must not act there.
    let st = Snap::base()
        .push("api_keys", key("key_old", "alice", None, "sk_live_old"))
        .state();
    let r = read().key("sk_live_old");
    let d = decide(&st, &r);
    assert_deny(&d, "api_key_unbound");
    assert_eq!(d["tenant"], Value::Null);
    let oldest = policy("[api_key]\nunbound = \"oldest_membership\"\n");
    assert_allow(
        &decide_with(&st, &oldest, &r),
        json!("acme"),
        json!(["acme"]),
    );
}

#[test]
fn f13_expiry_off_by_one() {
    let st = Snap::base()
        .edit("api_keys", "key_1", json!({"expires_at": AT}))
        .edit("sessions", "ses_1", json!({"expires_at": AT}))
        .state();
    assert_deny(&decide(&st, &read().key(KEY_TOKEN)), "api_key_expired");
    assert_deny(
        &decide(&st, &read().cookie(SESSION_TOKEN)),
        "session_expired",
    );
    let before = "2026-05-28T11:59:59Z";
    for r in [read().key(KEY_TOKEN), read().cookie(SESSION_TOKEN)] {
        assert_eq!(verdict(&decide(&st, &r.at(before))), ("allow", "-"));
    }
}

#[test]
fn f14_secret_in_explain() {
    let p = Policy::default();
    let tokens = [
        KEY_TOKEN,
        SESSION_TOKEN,
        "sk_live_unknown_S3cret",
        "S3cret-session",
    ];
    let mut st = Snap::base()
        .edit("users", "bob", json!({"banned": true}))
        .state();
    let mut outputs: Vec<String> = Vec::new();
    let policies = [p.clone(), policy("[credentials]\nmultiple = \"deny\"\n")];
    for t in tokens {
        for r in [
            read().key(t),
            read().cookie(t),
            read().bearer(t),
            req("x").key(t),
        ] {
            for pol in &policies {
                outputs.push(serde_json::to_string(&st.decide(pol, &r.build())).unwrap());
            }
        }
    }
    // Command rejections name tokens by hash prefix at most.
    for c in [
        json!({"op": "mint_api_key", "key": "k2", "owner": "alice", "tenant": "acme", "token": KEY_TOKEN}),
        json!({"op": "login", "session": "s2", "user": "alice", "token": "sk_live_unknown_S3cret"}),
        json!({"op": "login", "session": "s3", "user": "bob", "token": "S3cret-session"}),
    ] {
        outputs.push(serde_json::to_string(&st.apply(&p, &cmd(c))).unwrap());
    }
    // And input errors.
    let bad = format!(r#"{{"at": "{KEY_TOKEN}", "action": "x"}}"#);
    outputs.push(
        load::request(bad.as_bytes(), "r.json")
            .unwrap_err()
            .to_string(),
    );
    for out in &outputs {
        for t in tokens {
            assert!(!out.contains(t), "raw token in {out}");
            assert!(
                !out.contains(&sha(t)[..9]),
                "more than 8 hex of a hash in {out}"
            );
        }
    }
}

#[test]
fn f15_revived_key() {
    let p = Policy::default();
    let mut st = Snap::base().state();
    ok(&mut st, &p, json!({"op": "revoke_api_key", "key": "key_1"}));
    for extra in [
        json!({"enabled": true}),
        json!({"enabled": false}),
        json!({"expires_at": null}),
        json!({"revoked_at": null}),
    ] {
        let c = with(json!({"op": "update_api_key", "key": "key_1"}), extra);
        rejected(&mut st, &p, c, "api_key_revoked");
    }
    assert_deny(&decide(&st, &read().key(KEY_TOKEN)), "api_key_revoked");
}

#[test]
fn f16_banned_session_survives() {
    let p = Policy::default();
    let mut st = Snap::base().state();
    ok(&mut st, &p, json!({"op": "ban_user", "user": "alice"}));
    ok(&mut st, &p, json!({"op": "unban_user", "user": "alice"}));
    let d = authenticate(&mut st, &p, &read().cookie(SESSION_TOKEN));
    assert_deny(&d, "session_revoked");
    // The key is usable again: keys are denied only while banned.
    assert_eq!(
        verdict(&decide(&st, &read().key(KEY_TOKEN))),
        ("allow", "-")
    );
}

// ---- the two scenarios ------------------------------------------------------------

#[test]
fn scenario_cross_tenant_resume() {
    // Two tenants each hold "welcome" (a global default name).
    let st = Snap::base()
        .user("bea")
        .member("bea", "beta", "member")
        .resource("acme", "welcome", "alice")
        .resource("beta", "welcome", "bea")
        .push("sessions", session("ses_bea", "bea", Some("beta"), "t-bea"))
        .state();
    let r = req("conversation.resume")
        .cookie("t-bea")
        .resource("welcome");
    // Acting in B (active tenant and explicitly): B's resource, owned by bea.
    for r in [r.clone(), r.clone().tenant("beta")] {
        let d = decide(&st, &r);
        assert_allow(&d, json!("beta"), json!(["beta"]));
        let explain = d["explain"].to_string();
        assert!(
            !explain.contains("\\\"acme\\\""),
            "A's resource is never used: {explain}"
        );
    }
    // Acting in A without membership.
    let d = decide(&st, &r.clone().tenant("acme"));
    assert_deny(&d, "not_a_member");
    assert_eq!(d["tenant"], "acme");
    // bob is in B too but does not own B's "welcome": owner check on B's record.
    let st2 = Snap::base()
        .resource("acme", "welcome", "bob")
        .resource("beta", "welcome", "alice")
        .push("sessions", session("ses_bob", "bob", Some("beta"), "t-bob"))
        .state();
    let d = decide(
        &st2,
        &req("conversation.resume")
            .cookie("t-bob")
            .resource("welcome"),
    );
    assert_deny(&d, "not_resource_owner");
}

/// A few hundred keys over a few hundred users, about 6 % legacy; most
/// owners are in one tenant, every tenth in several.
fn blast_radius_snapshot() -> (State, Vec<(String, bool)>) {
    let mut s = Snap::new();
    for t in 0..5 {
        s = s.tenant(&format!("t{t}"));
    }
    let mut keys = Vec::new();
    for u in 0..300 {
        let user = format!("u{u:03}");
        s = s.user(&user);
        let home = format!("t{}", u % 5);
        s = s.member_since(&user, &home, "member", "2026-01-01T00:00:00Z");
        if u % 10 == 0 {
            let other = format!("t{}", (u + 1) % 5);
            s = s.member_since(&user, &other, "member", "2025-06-01T00:00:00Z");
        }
        let legacy = u % 17 == 3; // 18 of 300 = 6 %
        let token = format!("sk_live_k{u:03}");
        let bound = (!legacy).then_some(home.as_str());
        s = s.push("api_keys", key(&format!("k{u:03}"), &user, bound, &token));
        keys.push((token, legacy));
    }
    (s.state(), keys)
}

#[test]
fn scenario_blast_radius_of_a_stricter_key_policy() {
    let (st, keys) = blast_radius_snapshot();
    let legacy_count = keys.iter().filter(|(_, l)| *l).count();
    assert_eq!((keys.len(), legacy_count), (300, 18));
    let old = policy("[api_key]\nunbound = \"oldest_membership\"\n");
    let new = Policy::default();
    let mut newly_denied = 0;
    for (token, legacy) in &keys {
        let r = read().key(token);
        let (before, after) = (decide_with(&st, &old, &r), decide_with(&st, &new, &r));
        assert_eq!(before["decision"], "allow", "{before:#}");
        if *legacy {
            assert_deny(&after, "api_key_unbound");
            newly_denied += 1;
        } else {
            assert_eq!(before, after, "non-legacy keys are unaffected");
        }
    }
    assert_eq!(
        newly_denied, legacy_count,
        "exactly the legacy keys, none newly allowed"
    );
    // A legacy owner in several tenants is bound to the oldest membership.
    let d = decide_with(&st, &old, &read().key("sk_live_k020"));
    assert_eq!(d["tenant"], "t1", "u020: t0 since 2026, t1 since 2025");
}

/// Each regression test above fails when its own incident is injected
/// (`cargo test -p authproof-engine --features faults`): the tests can fail.
#[cfg(feature = "faults")]
#[test]
fn each_regression_test_catches_its_injected_fault() {
    use authproof_engine::Fault;
    let tests: [(Fault, fn()); 16] = [
        (Fault::F01, f01_collapsed_reasons),
        (Fault::F02, f02_cookie_as_bearer),
        (Fault::F03, f03_reencoded_token),
        (Fault::F04, f04_key_header_ignored),
        (Fault::F05, f05_key_tenant_ignored),
        (Fault::F06, f06_mutable_key_metadata),
        (Fault::F07, f07_unscoped_token),
        (Fault::F08, f08_sliding_revives),
        (Fault::F09, f09_stale_membership),
        (Fault::F10, f10_global_resource_key),
        (Fault::F11, f11_silent_noop_write),
        (Fault::F12, f12_legacy_key_misroute),
        (Fault::F13, f13_expiry_off_by_one),
        (Fault::F14, f14_secret_in_explain),
        (Fault::F15, f15_revived_key),
        (Fault::F16, f16_banned_session_survives),
    ];
    let mut survivors = Vec::new();
    for (fault, test) in tests {
        INJECT.with(|c| c.set(Some(fault)));
        let caught = std::panic::catch_unwind(test).is_err();
        INJECT.with(|c| c.set(None));
        if !caught {
            survivors.push(fault);
        }
    }
    assert!(survivors.is_empty(), "faults not caught: {survivors:?}");
}
