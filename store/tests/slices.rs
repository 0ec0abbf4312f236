//! Every rejection of every command, on a store that reads only the slice
//! of records the command needs. Each command runs on a fresh import of one
//! hand-made snapshot, in the engine and in every store; the results must
//! be equal (explanations included) and so must the exported snapshots.
//! The test then checks its own coverage: every (op, rejection) pair of
//! `Rejection::of_op` and an `ok` for every op were seen — in particular
//! the cases where the deciding record is not one the command names
//! (`duplicate_token` by a record of the other kind, `duplicate_id` of a
//! key owned by someone else, a membership that only starts later).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use authproof_engine::{Command, CommandResult, Op, Policy, Rejection, Snapshot, State, TokenHash};
use authproof_store::Store;
use serde_json::{json, Value};

const AT: &str = "2026-05-28T12:00:00Z";
const PAST: &str = "2026-01-01T00:00:00Z";
const LATER: &str = "2026-05-20T00:00:00Z";
const FUTURE: &str = "2027-01-01T00:00:00Z";

fn h(token: &str) -> String {
    TokenHash::of(token).to_string()
}

fn snapshot() -> Snapshot {
    let key = |id: &str, owner: &str, tenant: Value, token: &str, extra: Value| {
        let mut k = json!({"id": id, "owner": owner, "tenant": tenant,
            "token_sha256": h(token), "prefix": "sk_live_", "created_at": PAST});
        for (f, v) in extra.as_object().unwrap() {
            k[f] = v.clone();
        }
        k
    };
    let session = |id: &str, user: &str, tenant: Value, token: &str, extra: Value| {
        let mut s = json!({"id": id, "user": user, "tenant": tenant, "token_sha256": h(token),
            "created_at": PAST, "expires_at": "2026-05-29T00:00:00Z"});
        for (f, v) in extra.as_object().unwrap() {
            s[f] = v.clone();
        }
        s
    };
    let member = |user: &str, tenant: &str, role: &str, since: &str| json!({"user": user, "tenant": tenant, "role": role, "since": since});
    serde_json::from_value(json!({
        "taken_at": AT,
        "tenants": [{"id": "acme"}, {"id": "globex"}, {"id": "frozen", "suspended": true},
                    {"id": "initech"}],
        "users": [{"id": "alice"}, {"id": "bob"}, {"id": "carol", "banned": true}, {"id": "dave"}],
        "memberships": [
            member("alice", "acme", "owner", PAST),
            member("bob", "globex", "member", PAST),
            member("bob", "acme", "member", FUTURE),
            member("carol", "acme", "member", PAST),
            member("alice", "frozen", "member", PAST),
            member("alice", "initech", "member", PAST),
        ],
        "api_keys": [
            key("k_alice", "alice", json!("acme"), "sk_live_alice", json!({})),
            key("k_revoked", "alice", json!("acme"), "sk_live_rev", json!({"revoked_at": LATER})),
            key("k_deleted", "alice", json!("acme"), "sk_live_del", json!({"deleted_at": LATER})),
            key("k_future", "alice", json!("acme"), "sk_live_fut", json!({"created_at": FUTURE})),
            key("k_later_revoke", "bob", json!("globex"), "sk_live_lr", json!({"revoked_at": FUTURE})),
            key("k_legacy", "bob", Value::Null, "sk_live_legacy", json!({})),
        ],
        "sessions": [
            session("s_alice", "alice", json!("acme"), "ses_alice", json!({})),
            session("s_alice_2", "alice", json!("acme"), "ses_alice_2",
                json!({"revoked_at": FUTURE})),
            session("s_alice_free", "alice", Value::Null, "ses_alice_free", json!({})),
            session("s_revoked", "alice", json!("acme"), "ses_rev", json!({"revoked_at": LATER})),
            session("s_expired", "alice", json!("acme"), "ses_exp",
                json!({"expires_at": LATER})),
            session("s_future", "alice", json!("acme"), "ses_fut",
                json!({"created_at": FUTURE, "expires_at": "2027-02-01T00:00:00Z"})),
            session("s_bob", "bob", json!("globex"), "ses_bob", json!({})),
        ],
        "resources": [
            {"tenant": "acme", "id": "doc1", "owner": "alice", "created_at": PAST},
            {"tenant": "globex", "id": "doc1", "owner": "bob", "created_at": PAST},
            {"tenant": "acme", "id": "doc_future", "owner": "alice", "created_at": FUTURE},
        ],
    }))
    .unwrap()
}

/// One command per expected outcome; the comment-free list is checked for
/// coverage at the end, so a missing case fails the test.
fn commands() -> Vec<Value> {
    vec![
        json!({"op": "create_tenant", "tenant": "acme"}),
        json!({"op": "create_tenant", "tenant": "t_new"}),
        json!({"op": "suspend_tenant", "tenant": "nope"}),
        json!({"op": "suspend_tenant", "tenant": "frozen"}),
        json!({"op": "suspend_tenant", "tenant": "acme"}),
        json!({"op": "reinstate_tenant", "tenant": "nope"}),
        json!({"op": "reinstate_tenant", "tenant": "acme"}),
        json!({"op": "reinstate_tenant", "tenant": "frozen"}),
        json!({"op": "create_user", "user": "alice"}),
        json!({"op": "create_user", "user": "u_new"}),
        json!({"op": "ban_user", "user": "nope"}),
        json!({"op": "ban_user", "user": "carol"}),
        // Revokes s_alice, s_alice_2 (revocation due later), s_alice_free;
        // not the revoked, expired or not-yet-created ones.
        json!({"op": "ban_user", "user": "alice"}),
        json!({"op": "ban_user", "user": "dave"}),
        json!({"op": "unban_user", "user": "nope"}),
        json!({"op": "unban_user", "user": "alice"}),
        json!({"op": "unban_user", "user": "carol"}),
        json!({"op": "add_member", "user": "nope", "tenant": "acme", "role": "member"}),
        json!({"op": "add_member", "user": "dave", "tenant": "nope", "role": "member"}),
        json!({"op": "add_member", "user": "alice", "tenant": "acme", "role": "member"}),
        json!({"op": "add_member", "user": "bob", "tenant": "acme", "role": "member"}),
        json!({"op": "add_member", "user": "dave", "tenant": "globex", "role": "member"}),
        json!({"op": "remove_member", "user": "dave", "tenant": "acme"}),
        json!({"op": "remove_member", "user": "bob", "tenant": "acme"}),
        json!({"op": "remove_member", "user": "nope", "tenant": "nope"}),
        // Clears the tenant of s_alice, s_alice_2, s_revoked, s_expired and
        // s_future (every session acting in acme), keeps s_alice_free.
        json!({"op": "remove_member", "user": "alice", "tenant": "acme"}),
        json!({"op": "remove_member", "user": "bob", "tenant": "globex"}),
        json!({"op": "set_role", "user": "dave", "tenant": "acme", "role": "admin"}),
        json!({"op": "set_role", "user": "bob", "tenant": "acme", "role": "admin"}),
        json!({"op": "set_role", "user": "alice", "tenant": "acme", "role": "owner"}),
        json!({"op": "set_role", "user": "alice", "tenant": "acme", "role": "admin"}),
        // A key id taken by someone else's key.
        json!({"op": "mint_api_key", "key": "k_legacy", "owner": "alice", "tenant": "acme",
               "token": "sk_live_new"}),
        // A token used by a session (not a key), and one used by a key.
        json!({"op": "mint_api_key", "key": "k_new", "owner": "alice", "tenant": "acme",
               "token": "ses_bob"}),
        json!({"op": "mint_api_key", "key": "k_new", "owner": "alice", "tenant": "acme",
               "token": "sk_live_lr"}),
        json!({"op": "mint_api_key", "key": "k_new", "owner": "alice", "tenant": "acme",
               "token": "no_prefix"}),
        json!({"op": "mint_api_key", "key": "k_new", "owner": "dave", "tenant": "acme",
               "token": "sk_live_new"}),
        json!({"op": "mint_api_key", "key": "k_new", "owner": "bob", "tenant": "acme",
               "token": "sk_live_new"}),
        json!({"op": "mint_api_key", "key": "k_new", "owner": "alice", "tenant": "nope",
               "token": "sk_live_new"}),
        json!({"op": "mint_api_key", "key": "k_new", "owner": "nope", "tenant": "acme",
               "token": "sk_live_new"}),
        json!({"op": "mint_api_key", "key": "k_new", "owner": "carol", "tenant": "acme",
               "token": "sk_live_new"}),
        json!({"op": "mint_api_key", "key": "k_new", "owner": "alice", "tenant": "acme",
               "token": "sk_live_new", "capabilities": ["supervisor", "a"], "name": "ci",
               "expires_at": FUTURE}),
        json!({"op": "update_api_key", "key": "nope", "name": "x"}),
        json!({"op": "update_api_key", "key": "k_future", "name": "x"}),
        json!({"op": "update_api_key", "key": "k_deleted", "name": "x"}),
        json!({"op": "update_api_key", "key": "k_revoked", "enabled": true}),
        json!({"op": "update_api_key", "key": "k_alice", "tenant": "globex"}),
        json!({"op": "update_api_key", "key": "k_alice", "name": "", "enabled": true}),
        json!({"op": "update_api_key", "key": "k_alice", "name": "renamed", "enabled": false,
               "expires_at": FUTURE}),
        json!({"op": "update_api_key", "key": "k_legacy", "expires_at": null, "name": "n"}),
        json!({"op": "revoke_api_key", "key": "nope"}),
        json!({"op": "revoke_api_key", "key": "k_deleted"}),
        json!({"op": "revoke_api_key", "key": "k_revoked"}),
        json!({"op": "revoke_api_key", "key": "k_alice"}),
        json!({"op": "revoke_api_key", "key": "k_later_revoke"}),
        json!({"op": "delete_api_key", "key": "nope"}),
        json!({"op": "delete_api_key", "key": "k_deleted"}),
        json!({"op": "delete_api_key", "key": "k_revoked"}),
        json!({"op": "login", "session": "s_bob", "user": "alice", "token": "ses_new"}),
        json!({"op": "login", "session": "s_new", "user": "alice", "token": "sk_live_legacy"}),
        json!({"op": "login", "session": "s_new", "user": "alice", "token": "ses_alice"}),
        json!({"op": "login", "session": "s_new", "user": "alice", "token": "sk_live_zzz"}),
        json!({"op": "login", "session": "s_new", "user": "alice", "token": "bad token"}),
        json!({"op": "login", "session": "s_new", "user": "nope", "token": "ses_new"}),
        json!({"op": "login", "session": "s_new", "user": "carol", "token": "ses_new"}),
        json!({"op": "login", "session": "s_new", "user": "alice", "token": "ses_new",
               "tenant": "globex"}),
        json!({"op": "login", "session": "s_new", "user": "bob", "token": "ses_new",
               "tenant": "acme"}),
        json!({"op": "login", "session": "s_new", "user": "alice", "token": "ses_new",
               "tenant": "nope"}),
        json!({"op": "login", "session": "s_new", "user": "alice", "token": "ses_new",
               "tenant": "acme"}),
        json!({"op": "login", "session": "s_new", "user": "dave", "token": "ses_new"}),
        json!({"op": "logout", "session": "nope"}),
        json!({"op": "logout", "session": "s_future"}),
        json!({"op": "logout", "session": "s_revoked"}),
        json!({"op": "logout", "session": "s_expired"}),
        json!({"op": "logout", "session": "s_alice"}),
        json!({"op": "logout", "session": "s_alice_2"}),
        json!({"op": "switch_tenant", "session": "nope", "tenant": "acme"}),
        json!({"op": "switch_tenant", "session": "s_revoked", "tenant": "initech"}),
        json!({"op": "switch_tenant", "session": "s_expired", "tenant": "initech"}),
        json!({"op": "switch_tenant", "session": "s_alice", "tenant": "globex"}),
        json!({"op": "switch_tenant", "session": "s_alice", "tenant": "nope"}),
        json!({"op": "switch_tenant", "session": "s_bob", "tenant": "acme"}),
        json!({"op": "switch_tenant", "session": "s_alice", "tenant": "frozen"}),
        json!({"op": "switch_tenant", "session": "s_alice", "tenant": "acme"}),
        json!({"op": "switch_tenant", "session": "s_alice", "tenant": "initech"}),
        json!({"op": "switch_tenant", "session": "s_alice_free", "tenant": "initech"}),
        json!({"op": "create_resource", "tenant": "acme", "resource": "doc1", "owner": "alice"}),
        json!({"op": "create_resource", "tenant": "acme", "resource": "doc_future",
               "owner": "dave"}),
        json!({"op": "create_resource", "tenant": "nope", "resource": "doc2", "owner": "alice"}),
        json!({"op": "create_resource", "tenant": "acme", "resource": "doc2", "owner": "dave"}),
        json!({"op": "create_resource", "tenant": "acme", "resource": "doc2", "owner": "bob"}),
        json!({"op": "create_resource", "tenant": "globex", "resource": "doc2", "owner": "bob"}),
        json!({"op": "delete_resource", "tenant": "acme", "resource": "nope"}),
        json!({"op": "delete_resource", "tenant": "acme", "resource": "doc_future"}),
        json!({"op": "delete_resource", "tenant": "globex", "resource": "doc1"}),
        json!({"op": "authenticate", "action": "workspace.read", "tenant": "acme",
               "headers": {"cookie": "better-auth.session_token=ses_alice"}}),
        json!({"op": "authenticate", "action": "workspace.read", "tenant": "acme",
               "resource": "doc1",
               "headers": {"cookie": "better-auth.session_token=ses_alice_2"}}),
        json!({"op": "authenticate", "action": "workspace.read", "tenant": "acme",
               "headers": {"cookie": "better-auth.session_token=ses_exp"}}),
        json!({"op": "authenticate", "action": "workspace.read", "tenant": "acme",
               "headers": {"x-api-key": "sk_live_alice"}}),
        json!({"op": "authenticate", "action": "workspace.read",
               "headers": {"x-api-key": "sk_live_legacy"}}),
        json!({"op": "authenticate", "action": "workspace.read", "tenant": "acme",
               "headers": {"x-api-key": "sk_live_rev"}}),
        json!({"op": "authenticate", "action": "workspace.read", "tenant": "acme",
               "headers": {"x-api-key": "sk_live_unknown"}}),
    ]
}

fn pretty(s: &Snapshot) -> String {
    serde_json::to_string_pretty(s).unwrap()
}

#[test]
fn every_rejection_of_every_command_matches_the_engine() {
    let policy = Policy::default();
    let snap = snapshot();
    State::from_snapshot(snap.clone()).expect("the test snapshot is consistent");
    let mut stores: Vec<(&str, Store)> = vec![("sqlite", common::sqlite_memory())];
    if let Some(url) = common::pg_database("slices") {
        stores.push(("postgres", common::open(&url)));
    }
    let mut seen: BTreeMap<String, BTreeSet<Option<Rejection>>> = BTreeMap::new();
    let mut refreshes = 0;
    for v in commands() {
        let mut v = v;
        v["at"] = json!(AT);
        let cmd = Command::from_value(v.clone()).unwrap();
        let mut engine = State::from_snapshot(snap.clone()).unwrap();
        let want = engine.apply(&policy, &cmd);
        match &want {
            CommandResult::Decision { decision, .. } => {
                refreshes += decision.effects.len();
            }
            r => {
                seen.entry(r.op().to_string())
                    .or_default()
                    .insert(r.rejection());
            }
        }
        let after = pretty(&engine.to_snapshot());
        for (name, store) in &mut stores {
            store.import(&snap, true).unwrap();
            let got = store
                .apply(&policy, &cmd)
                .unwrap_or_else(|e| panic!("{name}: {v}: {e}"));
            assert_eq!(got, want, "{name}: {v}");
            assert_eq!(pretty(&store.export().unwrap()), after, "{name}: {v}");
        }
    }
    assert!(refreshes > 0, "no sliding refresh was exercised");
    // Every op of SPEC §8 but `authenticate`, which never rejects.
    for op in Op::NAMES.into_iter().filter(|o| *o != "authenticate") {
        let got = seen.get(op).cloned().unwrap_or_default();
        let mut want: BTreeSet<Option<Rejection>> =
            Rejection::of_op(op).iter().copied().map(Some).collect();
        want.insert(None);
        let missing: Vec<_> = want.difference(&got).collect();
        assert!(missing.is_empty(), "{op}: no case for {missing:?}");
    }
}
