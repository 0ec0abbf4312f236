//! Issue 12: an input error never echoes a value read from the input. A
//! token-like secret (and a long number) is planted in every field of every
//! input kind, one field at a time; whatever the loader says about it must
//! not contain it. Integrity errors name records by JSON path and index.

use authproof_engine::{load, Error};
use serde_json::{json, Value};

const SECRET: &str = "sk_live_PLANTEDsecret0123";
const NUMBER: u64 = 271_828_182_845_904;
const AT: &str = "2026-05-28T12:00:00Z";
const HASH: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const HASH2: &str = "cb8379ac2098aa165029e3938a51da0bcecfc008fd6795f401178647f96c5b34";

#[track_caller]
fn clean(e: &Error, what: &str) {
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains("PLANTED") && !text.contains(&NUMBER.to_string()),
        "{what}: the error echoes a value: {e}"
    );
}

/// Every leaf of `v` (and every array element and object), as a JSON pointer.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(x, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    if !at.is_empty() {
        out.push(at);
    }
}

/// `base` with each field in turn replaced by the secret, by the number and
/// by the secret inside an array and an object.
fn planted(base: &Value) -> Vec<(String, Value)> {
    let mut paths = Vec::new();
    leaves(base, String::new(), &mut paths);
    let mut out = Vec::new();
    for p in paths {
        for x in [
            json!(SECRET),
            json!(NUMBER),
            json!(-(NUMBER as i64)),
            json!(2.718281828459045e300),
            json!([SECRET]),
            // Keys are names, echoed (escaped) to point at a typo; values
            // never are.
            json!({ "x": SECRET }),
        ] {
            let mut v = base.clone();
            *v.pointer_mut(&p).unwrap() = x.clone();
            out.push((format!("{p} = {x}"), v));
        }
    }
    out
}

fn full_snapshot() -> Value {
    json!({
        "taken_at": AT,
        "tenants": [{"id": "acme", "suspended": false}, {"id": "beta", "suspended": true}],
        "users": [{"id": "alice", "banned": false}, {"id": "bob", "banned": true}],
        "memberships": [{"user": "alice", "tenant": "acme", "role": "owner", "since": AT}],
        "api_keys": [{"id": "k1", "owner": "alice", "tenant": "acme", "token_sha256": HASH,
            "prefix": "sk_live_", "capabilities": ["supervisor"], "enabled": true, "name": "ci",
            "created_at": AT, "expires_at": AT, "revoked_at": AT, "deleted_at": AT}],
        "sessions": [{"id": "s1", "user": "alice", "tenant": "acme", "token_sha256": HASH2,
            "created_at": AT, "expires_at": AT, "revoked_at": AT}],
        "resources": [{"tenant": "acme", "id": "r1", "owner": "alice", "created_at": AT}]
    })
}

#[test]
fn snapshot_fields() {
    let base = full_snapshot();
    load::snapshot(&serde_json::to_vec(&base).unwrap(), "s.json").expect("the base loads");
    for (what, v) in planted(&base) {
        if let Err(e) = load::snapshot(&serde_json::to_vec(&v).unwrap(), "s.json") {
            clean(&e, &what);
        }
    }
}

#[test]
fn snapshot_integrity_errors_name_records_not_values() {
    let s = |x: &str| format!("{SECRET}_{x}");
    let base = json!({
        "tenants": [{"id": s("t")}],
        "users": [{"id": s("u")}],
        "memberships": [{"user": s("u"), "tenant": s("t"), "role": s("role")}],
        "api_keys": [{"id": s("k"), "owner": s("u"), "tenant": s("t"), "token_sha256": HASH,
            "created_at": AT}],
        "sessions": [{"id": s("s"), "user": s("u"), "tenant": s("t"), "token_sha256": HASH2,
            "created_at": AT, "expires_at": AT}],
        "resources": [{"tenant": s("t"), "id": s("r"), "owner": s("u")}]
    });
    load::snapshot(&serde_json::to_vec(&base).unwrap(), "s.json").expect("the base loads");
    let mut cases: Vec<(String, Value, &str)> = Vec::new();
    for c in [
        "tenants",
        "users",
        "memberships",
        "api_keys",
        "sessions",
        "resources",
    ] {
        // A second copy of the record: a duplicate id (or pair).
        let mut v = base.clone();
        let first = v[c][0].clone();
        v[c].as_array_mut().unwrap().push(first.clone());
        cases.push((format!("duplicate {c}"), v, "[1]"));
        if c == "api_keys" || c == "sessions" {
            // Another id, the same token hash.
            let mut v = base.clone();
            let mut other = first.clone();
            other["id"] = json!(s("other"));
            v[c].as_array_mut().unwrap().push(other);
            cases.push((format!("token reuse in {c}"), v, "[1].token_sha256"));
        }
    }
    for (c, f) in [
        ("memberships", "user"),
        ("memberships", "tenant"),
        ("api_keys", "owner"),
        ("api_keys", "tenant"),
        ("sessions", "user"),
        ("sessions", "tenant"),
        ("resources", "tenant"),
        ("resources", "owner"),
    ] {
        let mut v = base.clone();
        v[c][0][f] = json!(s("missing"));
        cases.push((format!("dangling {c}.{f}"), v, "[0]"));
    }
    let mut v = base.clone();
    v["sessions"][0]["created_at"] = json!("2026-06-01T00:00:00Z");
    cases.push(("expires before created".into(), v, "[0]"));
    for (what, v, path) in cases {
        let e = load::snapshot(&serde_json::to_vec(&v).unwrap(), "s.json")
            .err()
            .unwrap_or_else(|| panic!("{what}: should not load"));
        clean(&e, &what);
        assert!(e.path().unwrap().contains(path), "{what}: {e}");
    }
}

fn full_request() -> Value {
    json!({"at": AT, "action": "conversation.resume", "tenant": "acme", "resource": "r1",
        "headers": {"x-api-key": "k", "cookie": "a=b", "authorization": "Bearer x"}})
}

#[test]
fn request_fields() {
    let base = full_request();
    load::request(&serde_json::to_vec(&base).unwrap(), "r.json").expect("the base loads");
    for (what, v) in planted(&base) {
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Err(e) = load::request(&bytes, "r.json") {
            clean(&e, &what);
        }
        let mut lines = serde_json::to_vec(&base).unwrap();
        lines.push(b'\n');
        lines.extend_from_slice(&bytes);
        if let Err(e) = load::requests_jsonl(&lines, "r.jsonl") {
            clean(&e, &what);
        }
    }
}

#[test]
fn command_fields() {
    let ops = [
        json!({"op": "create_tenant", "tenant": "t"}),
        json!({"op": "suspend_tenant", "tenant": "t"}),
        json!({"op": "reinstate_tenant", "tenant": "t"}),
        json!({"op": "create_user", "user": "u"}),
        json!({"op": "ban_user", "user": "u"}),
        json!({"op": "unban_user", "user": "u"}),
        json!({"op": "add_member", "user": "u", "tenant": "t", "role": "r"}),
        json!({"op": "remove_member", "user": "u", "tenant": "t"}),
        json!({"op": "set_role", "user": "u", "tenant": "t", "role": "r"}),
        json!({"op": "mint_api_key", "key": "k", "owner": "u", "tenant": "t", "token": "sk_live_x",
            "capabilities": ["c"], "expires_at": AT, "name": "n"}),
        json!({"op": "update_api_key", "key": "k", "name": "n", "enabled": true, "expires_at": AT}),
        json!({"op": "revoke_api_key", "key": "k"}),
        json!({"op": "delete_api_key", "key": "k"}),
        json!({"op": "login", "session": "s", "user": "u", "token": "t", "tenant": "t"}),
        json!({"op": "logout", "session": "s"}),
        json!({"op": "switch_tenant", "session": "s", "tenant": "t"}),
        json!({"op": "create_resource", "tenant": "t", "resource": "r", "owner": "u"}),
        json!({"op": "delete_resource", "tenant": "t", "resource": "r"}),
        json!({"op": "authenticate", "action": "a", "tenant": "t", "resource": "r",
            "headers": {"x-api-key": "k", "cookie": "a=b"}}),
    ];
    let first = json!({"at": AT, "op": "create_tenant", "tenant": "t0"});
    for mut op in ops {
        op["at"] = json!(AT);
        let text = format!("{first}\n{op}\n");
        load::commands_jsonl(text.as_bytes(), "c.jsonl").expect("the base loads");
        for (what, v) in planted(&op) {
            let text = format!("{first}\n{v}\n");
            if let Err(e) = load::commands_jsonl(text.as_bytes(), "c.jsonl") {
                clean(&e, &format!("{} {what}", op["op"]));
            }
        }
    }
    // An `at` earlier than the previous one: the order error names no time.
    let text = "{\"at\":\"2026-05-28T12:00:00Z\",\"op\":\"create_user\",\"user\":\"u\"}\n\
         {\"at\":\"2026-05-28T11:59:59Z\",\"op\":\"create_user\",\"user\":\"v\"}\n";
    let e = load::commands_jsonl(text.as_bytes(), "c.jsonl").unwrap_err();
    assert_eq!((e.line(), e.path().unwrap()), (Some(2), "$.at"), "{e}");
    assert!(!e.to_string().contains("11:59:59"), "{e}");
}

fn full_policy() -> Value {
    let mut p = serde_json::to_value(authproof_engine::Policy::default()).unwrap();
    p["session"]["absolute_max"] = json!("90d");
    p
}

#[test]
fn policy_fields() {
    let base = full_policy();
    for (what, v) in planted(&base) {
        if let Err(e) = load::policy_json(v.clone(), "trace.json") {
            clean(&e, &what);
        }
        // The same as TOML (a value TOML cannot hold is skipped).
        let Ok(text) = toml::to_string(&v) else {
            continue;
        };
        if let Err(e) = load::policy(&text, "p.toml") {
            clean(&e, &what);
        }
    }
}

#[test]
fn json_value_errors() {
    for bad in [
        format!("{{\"a\": \"{SECRET}\", \"a\": 1}}"),
        format!("{{\"a\": \"{SECRET}\" x}}"),
        format!("[\"{SECRET}\", {NUMBER}"),
        format!("{NUMBER}{NUMBER}{NUMBER}{NUMBER}e999999"),
    ] {
        let e = load::json_value(bad.as_bytes(), "t.json").unwrap_err();
        clean(&e, &bad);
    }
}
