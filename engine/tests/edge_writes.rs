//! Writes at the edges of the point-in-time rules: records a snapshot holds
//! in states commands alone cannot reach (a banned user with a live session,
//! a key with a revocation scheduled in the future). These tests kill
//! mutants cargo-mutants found surviving the rest of the suite.

use crate::common;

use common::*;
use serde_json::json;

/// A user banned in the snapshot keeps a live session there; `unban_user`
/// changes only the ban flag, and never touches sessions.
#[test]
fn unban_changes_only_the_ban_flag() {
    let mut state = Snap::base()
        .edit("users", "alice", json!({"banned": true}))
        .state();
    let p = authproof_engine::Policy::default();
    let changes = ok(&mut state, &p, json!({"op": "unban_user", "user": "alice"}));
    assert_eq!(
        changes,
        json!([{"change": "update", "record": "user", "id": "alice",
                "field": "banned", "from": true, "to": false}])
    );
    assert_eq!(
        record(&state, "sessions", "ses_1")["revoked_at"],
        json!(null)
    );
    let d = decide(&state, &req("workspace.read").cookie(SESSION_TOKEN));
    assert_eq!(d["decision"], "allow", "{d:#}");
}

/// A key whose `revoked_at` lies after the command's `at` is not revoked
/// yet: an update is an ordinary update and keeps the scheduled revocation.
#[test]
fn update_keeps_a_future_revocation() {
    let future = "2027-01-01T00:00:00Z";
    let mut state = Snap::base()
        .edit("api_keys", "key_1", json!({"revoked_at": future}))
        .state();
    let p = authproof_engine::Policy::default();
    let changes = ok(
        &mut state,
        &p,
        json!({"op": "update_api_key", "key": "key_1", "enabled": true, "name": "renamed"}),
    );
    assert_eq!(
        changes,
        json!([{"change": "update", "record": "api_key", "id": "key_1",
                "field": "name", "from": "", "to": "renamed"}])
    );
    assert_eq!(
        record(&state, "api_keys", "key_1")["revoked_at"],
        json!(future)
    );
}

/// A session whose expiry equals the ban's `at` is already expired (SPEC §6:
/// expiring exactly at `at` is expired), so the ban does not revoke it.
#[test]
fn ban_leaves_a_session_expiring_exactly_then() {
    let expires = "2026-05-31T00:00:00Z";
    let mut state = Snap::base().state();
    let p = authproof_engine::Policy::default();
    let changes = ok(
        &mut state,
        &p,
        json!({"at": expires, "op": "ban_user", "user": "alice"}),
    );
    assert_eq!(changes.as_array().unwrap().len(), 1, "{changes:#}");
    assert_eq!(
        record(&state, "sessions", "ses_1")["revoked_at"],
        json!(null)
    );
}
