//! SPEC §6 sliding refresh: when `session.sliding` and
//! `expires_at - ttl + refresh_after <= at`, an allowed session request has
//! the effect "expires at `at + ttl`", capped at `created_at + absolute_max`,
//! and only if that is later than the current expiry. `authenticate` applies
//! it. Fixture session `ses_1`: created 2026-05-01T00:00:00Z, expires
//! 2026-05-31T00:00:00Z; default ttl 30d, refresh_after 1d, so the refresh
//! threshold is 2026-05-31 - 30d + 1d = 2026-05-02T00:00:00Z.

use crate::common;

use authproof_engine::Policy;
use common::*;
use serde_json::{json, Value};

const THRESHOLD: &str = "2026-05-02T00:00:00Z";
const JUST_BEFORE: &str = "2026-05-01T23:59:59Z";

fn at(t: &str) -> Req {
    req("workspace.read").cookie(SESSION_TOKEN).at(t)
}

fn extend(expires_at: &str) -> Value {
    json!([{"kind": "extend_session", "session": "ses_1", "expires_at": expires_at}])
}

/// Decides `at(t)` under `p` against the base fixture; asserts an allow and
/// returns its effects.
fn effects(p: &Policy, t: &str) -> Value {
    let d = decide_with(&Snap::base().state(), p, &at(t));
    assert_eq!(d["decision"], "allow", "{d:#}");
    d["effects"].clone()
}

#[test]
fn refreshes_exactly_at_the_threshold() {
    let p = Policy::default();
    // at + 30d.
    assert_eq!(effects(&p, THRESHOLD), extend("2026-06-01T00:00:00Z"));
}

#[test]
fn one_second_before_the_threshold_does_not_refresh() {
    assert_eq!(effects(&Policy::default(), JUST_BEFORE), json!([]));
}

#[test]
fn effect_serializes_in_spec_key_order() {
    let d = Snap::base()
        .state()
        .decide(&Policy::default(), &at(THRESHOLD).build());
    let text = serde_json::to_string(&d.effects).unwrap();
    assert_eq!(
        text,
        r#"[{"kind":"extend_session","session":"ses_1","expires_at":"2026-06-01T00:00:00Z"}]"#
    );
}

#[test]
fn short_ttl_arithmetic() {
    // ttl 1h, refresh_after 10m: threshold = 05-31T00:00 - 1h + 10m = 05-30T23:10.
    let p = policy("[session]\nttl = \"1h\"\nrefresh_after = \"10m\"\n");
    assert_eq!(
        effects(&p, "2026-05-30T23:10:00Z"),
        extend("2026-05-31T00:10:00Z")
    );
    assert_eq!(effects(&p, "2026-05-30T23:09:59Z"), json!([]));
    // Integer seconds are durations too.
    let p = policy("[session]\nttl = 3600\nrefresh_after = 600\n");
    assert_eq!(
        effects(&p, "2026-05-30T23:10:00Z"),
        extend("2026-05-31T00:10:00Z")
    );
}

#[test]
fn no_effect_when_the_new_expiry_is_not_later() {
    // refresh_after 0: threshold = expires_at - ttl = 2026-05-01T00:00:00Z,
    // where at + ttl equals the current expiry: no effect; a second later, +1s.
    let p = policy("[session]\nrefresh_after = \"0s\"\n");
    assert_eq!(effects(&p, "2026-05-01T00:00:00Z"), json!([]));
    assert_eq!(
        effects(&p, "2026-05-01T00:00:01Z"),
        extend("2026-05-31T00:00:01Z")
    );
}

#[test]
fn absolute_max_caps_at_created_at_plus_max() {
    // created 05-01 + 35d = 06-05T00:00:00Z, earlier than at + 30d.
    let p = policy("[session]\nabsolute_max = \"35d\"\n");
    assert_eq!(effects(&p, AT), extend("2026-06-05T00:00:00Z"));
    // A cap later than at + ttl does not bind.
    let p = policy("[session]\nabsolute_max = \"90d\"\n");
    assert_eq!(effects(&p, AT), extend("2026-06-27T12:00:00Z"));
}

#[test]
fn absolute_max_not_later_than_current_expiry_has_no_effect() {
    // Cap equal to the current expiry, and earlier than it: never a change,
    // never a decrease.
    for max in ["30d", "29d", "1s"] {
        let p = policy(&format!("[session]\nabsolute_max = \"{max}\"\n"));
        assert_eq!(effects(&p, AT), json!([]), "absolute_max {max}");
    }
    // One second more than the current lifetime: +1s exactly.
    let p = policy("[session]\nabsolute_max = \"2592001s\"\n");
    assert_eq!(effects(&p, AT), extend("2026-05-31T00:00:01Z"));
}

#[test]
fn sliding_false_never_refreshes() {
    let p = policy("[session]\nsliding = false\n");
    for t in [THRESHOLD, AT, "2026-05-30T23:59:59Z"] {
        assert_eq!(effects(&p, t), json!([]), "{t}");
    }
}

#[test]
fn session_expiring_exactly_at_at_is_expired_and_not_refreshed() {
    let st = Snap::base().state();
    let d = decide(&st, &at("2026-05-31T00:00:00Z"));
    assert_deny(&d, "session_expired");
    // One second earlier it is live and refreshed.
    let d = decide(&st, &at("2026-05-30T23:59:59Z"));
    assert_eq!(d["effects"], extend("2026-06-29T23:59:59Z"));
}

#[test]
fn denied_requests_have_no_effect() {
    // Live session, allowed-refresh time, but a deny later in the procedure.
    let st = Snap::base().state();
    let d = decide(
        &st,
        &req("member.remove").cookie(SESSION_TOKEN).tenant("beta"),
    );
    assert_deny(&d, "insufficient_role");
    let mut st = st;
    let before = serde_json::to_string(&st.to_snapshot()).unwrap();
    let r = req("member.remove").cookie(SESSION_TOKEN).tenant("beta");
    assert_deny(
        &authenticate(&mut st, &Policy::default(), &r),
        "insufficient_role",
    );
    assert_eq!(serde_json::to_string(&st.to_snapshot()).unwrap(), before);
}

#[test]
fn api_key_requests_have_no_effect() {
    let d = decide(&Snap::base().state(), &req("workspace.read").key(KEY_TOKEN));
    assert_eq!(d["decision"], "allow");
    assert_eq!(d["effects"], json!([]));
}

#[test]
fn authenticate_applies_the_effect_and_later_requests_see_it() {
    let p = Policy::default();
    let mut st = Snap::base().state();
    let d = authenticate(&mut st, &p, &at(THRESHOLD));
    assert_eq!(d["effects"], extend("2026-06-01T00:00:00Z"));
    assert_eq!(
        record(&st, "sessions", "ses_1")["expires_at"],
        "2026-06-01T00:00:00Z"
    );
    // The old expiry has passed but the session lives on...
    let d = authenticate(&mut st, &p, &at("2026-05-31T00:00:00Z"));
    assert_eq!(d["decision"], "allow", "{d:#}");
    // ... and was refreshed again: at + 30d.
    assert_eq!(d["effects"], extend("2026-06-30T00:00:00Z"));
    // Without refreshes it expires exactly at its expiry.
    let mut st = Snap::base().state();
    let d = authenticate(&mut st, &p, &at(JUST_BEFORE));
    assert_eq!(d["effects"], json!([]));
    assert_deny(
        &authenticate(&mut st, &p, &at("2026-05-31T00:00:00Z")),
        "session_expired",
    );
    // decide alone never writes.
    let st = Snap::base().state();
    decide(&st, &at(THRESHOLD));
    assert_eq!(
        record(&st, "sessions", "ses_1")["expires_at"],
        "2026-05-31T00:00:00Z"
    );
}

#[test]
fn repeated_refreshes_never_pass_absolute_max() {
    let p = policy("[session]\nabsolute_max = \"40d\"\n");
    let cap = "2026-06-10T00:00:00Z"; // 05-01 + 40d
    let mut st = Snap::base().state();
    for t in [
        THRESHOLD,
        "2026-05-20T00:00:00Z",
        "2026-06-05T00:00:00Z",
        "2026-06-09T23:59:59Z",
    ] {
        let d = authenticate(&mut st, &p, &at(t));
        assert_eq!(d["decision"], "allow", "{t}: {d:#}");
        let e = record(&st, "sessions", "ses_1")["expires_at"].clone();
        assert!(e.as_str().unwrap() <= cap, "{t}: {e}");
    }
    assert_eq!(record(&st, "sessions", "ses_1")["expires_at"], cap);
    assert_deny(&authenticate(&mut st, &p, &at(cap)), "session_expired");
}

#[test]
fn new_expiry_saturates_at_year_9999() {
    let st = Snap::new()
        .tenant("acme")
        .user("alice")
        .member("alice", "acme", "owner")
        .push(
            "sessions",
            json!({"id": "ses_1", "user": "alice", "tenant": "acme", "token_sha256": sha(SESSION_TOKEN),
                   "created_at": "9999-01-01T00:00:00Z", "expires_at": "9999-12-31T00:00:00Z"}),
        )
        .state();
    let p = policy("[session]\nttl = \"3650d\"\nrefresh_after = \"0s\"\n");
    let d = decide_with(&st, &p, &at("9999-06-01T00:00:00Z"));
    assert_eq!(d["effects"], extend("9999-12-31T23:59:59Z"));
}
