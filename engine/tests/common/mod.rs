//! Shared helpers for the engine's integration tests: snapshot and request
//! builders, token hashing, and assertions whose expectations come from
//! SPEC.md (status table, output shape), not from the engine itself.
//!
//! Every test binary includes this module and uses a different subset of it.
#![allow(dead_code)]

use authproof_engine::{load, Command, CommandResult, Decision, Policy, Request, State};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

#[cfg(feature = "faults")]
thread_local! {
    /// The fault every state built by [`Snap::state`] on this thread carries.
    pub static INJECT: std::cell::Cell<Option<authproof_engine::Fault>> =
        const { std::cell::Cell::new(None) };
}

/// The default request/command time.
pub const AT: &str = "2026-05-28T12:00:00Z";

/// Tokens of the base fixture.
pub const KEY_TOKEN: &str = "sk_live_alice/+=%2F";
pub const SESSION_TOKEN: &str = "ses/alice+1=%3D";

/// Lowercase hex SHA-256 of a token's exact bytes (SPEC §1).
pub fn sha(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The HTTP status SPEC §6 assigns to a reason code.
pub fn spec_status(reason: &str) -> u16 {
    match reason {
        "no_credential"
        | "malformed_credential"
        | "ambiguous_credential"
        | "session_not_found"
        | "session_revoked"
        | "session_expired"
        | "api_key_not_found"
        | "api_key_deleted"
        | "api_key_revoked"
        | "api_key_disabled"
        | "api_key_expired" => 401,
        "resource_not_found" => 404,
        "user_banned"
        | "credential_not_allowed"
        | "api_key_unbound"
        | "cross_tenant"
        | "tenant_required"
        | "not_a_member"
        | "tenant_suspended"
        | "insufficient_role"
        | "missing_capability"
        | "not_resource_owner"
        | "unknown_action" => 403,
        other => panic!("{other:?} is not a SPEC §6 reason"),
    }
}

/// Shallow-merges the fields of `extra` (an object) into `v`.
pub fn with(mut v: Value, extra: Value) -> Value {
    let obj = v.as_object_mut().expect("a record is an object");
    for (k, x) in extra.as_object().expect("extra fields are an object") {
        obj.insert(k.clone(), x.clone());
    }
    v
}

/// An API key record: created 2026-02-01, no expiry.
pub fn key(id: &str, owner: &str, tenant: Option<&str>, token: &str) -> Value {
    json!({"id": id, "owner": owner, "tenant": tenant, "token_sha256": sha(token),
           "prefix": "sk_live_", "capabilities": [], "created_at": "2026-02-01T00:00:00Z"})
}

/// A session record: created 2026-05-01, expires 2026-05-31.
pub fn session(id: &str, user: &str, tenant: Option<&str>, token: &str) -> Value {
    json!({"id": id, "user": user, "tenant": tenant, "token_sha256": sha(token),
           "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"})
}

/// A snapshot under construction, as JSON (what `snapshot.json` holds).
#[derive(Clone, Debug)]
pub struct Snap(pub Value);

impl Default for Snap {
    fn default() -> Self {
        Snap::new()
    }
}

impl Snap {
    pub fn new() -> Snap {
        Snap(
            json!({"tenants": [], "users": [], "memberships": [], "api_keys": [],
                    "sessions": [], "resources": []}),
        )
    }

    /// acme and beta; alice (owner of acme since 2026-01-01, member of beta
    /// since 2026-03-01) and bob (member of beta); alice's key `key_1` bound
    /// to acme and her session `ses_1` active in acme.
    pub fn base() -> Snap {
        Snap::new()
            .tenant("acme")
            .tenant("beta")
            .user("alice")
            .user("bob")
            .member_since("alice", "acme", "owner", "2026-01-01T00:00:00Z")
            .member_since("alice", "beta", "member", "2026-03-01T00:00:00Z")
            .member("bob", "beta", "member")
            .push(
                "api_keys",
                with(
                    key("key_1", "alice", Some("acme"), KEY_TOKEN),
                    json!({"capabilities": ["supervisor"]}),
                ),
            )
            .push(
                "sessions",
                session("ses_1", "alice", Some("acme"), SESSION_TOKEN),
            )
    }

    pub fn push(mut self, collection: &str, record: Value) -> Snap {
        self.0[collection]
            .as_array_mut()
            .expect("a collection")
            .push(record);
        self
    }

    /// Merges `extra` into the record of `collection` whose `id` is `id`.
    pub fn edit(mut self, collection: &str, id: &str, extra: Value) -> Snap {
        let list = self.0[collection].as_array_mut().expect("a collection");
        let r = list
            .iter_mut()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no {collection} record {id}"));
        *r = with(r.clone(), extra);
        self
    }

    /// Sets a top-level field of the snapshot document.
    pub fn with_top(mut self, field: &str, value: Value) -> Snap {
        self.0[field] = value;
        self
    }

    pub fn tenant(self, id: &str) -> Snap {
        self.push("tenants", json!({"id": id}))
    }

    pub fn user(self, id: &str) -> Snap {
        self.push("users", json!({"id": id}))
    }

    /// A membership since the epoch (the default `since`).
    pub fn member(self, user: &str, tenant: &str, role: &str) -> Snap {
        self.push(
            "memberships",
            json!({"user": user, "tenant": tenant, "role": role}),
        )
    }

    pub fn member_since(self, user: &str, tenant: &str, role: &str, since: &str) -> Snap {
        self.push(
            "memberships",
            json!({"user": user, "tenant": tenant, "role": role, "since": since}),
        )
    }

    pub fn resource(self, tenant: &str, id: &str, owner: &str) -> Snap {
        self.push(
            "resources",
            json!({"tenant": tenant, "id": id, "owner": owner}),
        )
    }

    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).expect("json")
    }

    /// Loads the snapshot; panics on an input error. With the `faults`
    /// feature, the fault set in [`INJECT`] is switched on in the state.
    pub fn state(&self) -> State {
        #[allow(unused_mut)]
        let mut st = load::snapshot(&self.bytes(), "snapshot.json")
            .unwrap_or_else(|e| panic!("fixture snapshot must load: {e}"));
        #[cfg(feature = "faults")]
        st.inject(INJECT.with(|c| c.get()));
        st
    }
}

/// A request under construction, as JSON (what `request.json` holds).
#[derive(Clone, Debug)]
pub struct Req(pub Value);

/// A request for `action` at [`AT`] with no headers.
pub fn req(action: &str) -> Req {
    Req(json!({"at": AT, "action": action, "headers": {}}))
}

impl Req {
    pub fn at(mut self, at: &str) -> Req {
        self.0["at"] = json!(at);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.0["headers"][name] = json!(value);
        self
    }

    /// The API key in the default API-key header.
    pub fn key(self, token: &str) -> Req {
        self.header("x-api-key", token)
    }

    /// The session token in the default policy's second cookie name.
    pub fn cookie(self, token: &str) -> Req {
        self.header("cookie", &format!("better-auth.session_token={token}"))
    }

    pub fn bearer(self, token: &str) -> Req {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn tenant(mut self, tenant: &str) -> Req {
        self.0["tenant"] = json!(tenant);
        self
    }

    pub fn resource(mut self, resource: &str) -> Req {
        self.0["resource"] = json!(resource);
        self
    }

    pub fn build(&self) -> Request {
        load::request(&serde_json::to_vec(&self.0).unwrap(), "request.json")
            .unwrap_or_else(|e| panic!("fixture request must load: {e}"))
    }

    /// The same request as an `authenticate` command.
    pub fn command(&self) -> Command {
        let mut v = self.0.clone();
        v["op"] = json!("authenticate");
        cmd(v)
    }
}

/// A policy from TOML text; panics on an input error.
pub fn policy(toml: &str) -> Policy {
    load::policy(toml, "policy.toml").unwrap_or_else(|e| panic!("fixture policy must load: {e}"))
}

/// Decides under `policy`, returning the decision as JSON (SPEC §7 shape).
pub fn decide_with(state: &State, policy: &Policy, r: &Req) -> Value {
    let d: Decision = state.decide(policy, &r.build());
    serde_json::to_value(&d).unwrap()
}

/// Decides under the default policy.
pub fn decide(state: &State, r: &Req) -> Value {
    decide_with(state, &Policy::default(), r)
}

/// Asserts `d` is a deny with `reason`, its SPEC status and the deny shape.
#[track_caller]
pub fn assert_deny(d: &Value, reason: &str) {
    assert_eq!(d["decision"], "deny", "{d:#}");
    assert_eq!(d["reason"], reason, "{d:#}");
    assert_eq!(d["status"], spec_status(reason), "{d:#}");
    assert_eq!(d["scope"], json!([]), "a deny has no scope");
    assert_eq!(d["effects"], json!([]), "a deny has no effects");
}

/// Asserts `d` is an allow in `tenant` (JSON null for none) with `scope`.
#[track_caller]
pub fn assert_allow(d: &Value, tenant: Value, scope: Value) {
    assert_eq!(d["decision"], "allow", "{d:#}");
    assert_eq!(d["reason"], Value::Null, "{d:#}");
    assert_eq!(d["status"], 200, "{d:#}");
    assert_eq!(d["tenant"], tenant, "{d:#}");
    assert_eq!(d["scope"], scope, "{d:#}");
}

/// Asserts who a decision identified: `user` and the credential (kind, id),
/// or nulls.
#[track_caller]
pub fn assert_who(d: &Value, user: Option<&str>, credential: Option<(&str, &str)>) {
    assert_eq!(d["user"], json!(user), "{d:#}");
    let c = credential.map(|(kind, id)| json!({"kind": kind, "id": id}));
    assert_eq!(d["credential"], json!(c), "{d:#}");
}

/// A command from JSON; `at` defaults to [`AT`].
pub fn cmd(mut v: Value) -> Command {
    if v.get("at").is_none() {
        v["at"] = json!(AT);
    }
    Command::from_value(v).unwrap_or_else(|e| panic!("fixture command must parse: {e}"))
}

fn snapshot_json(state: &State) -> String {
    serde_json::to_string(&state.to_snapshot()).unwrap()
}

/// Applies `c`, asserts it is `ok`, and returns its `changes` list.
#[track_caller]
pub fn ok(state: &mut State, policy: &Policy, c: Value) -> Value {
    let r = serde_json::to_value(state.apply(policy, &cmd(c))).unwrap();
    assert_eq!(r["result"], "ok", "{r:#}");
    let changes = r["changes"].clone();
    assert!(
        !changes.as_array().unwrap().is_empty(),
        "ok with no change is a silent write"
    );
    changes
}

/// Applies `c`, asserts it is rejected with `reason`, and that the state's
/// snapshot is byte-identical afterwards (SPEC §8, no silent writes).
#[track_caller]
pub fn rejected(state: &mut State, policy: &Policy, c: Value, reason: &str) {
    let before = snapshot_json(state);
    let r = state.apply(policy, &cmd(c));
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["result"], "rejected", "{v:#}");
    assert_eq!(v["reason"], reason, "{v:#}");
    assert!(
        v["explain"].as_str().is_some_and(|s| !s.is_empty()),
        "a rejection explains itself"
    );
    assert_eq!(
        snapshot_json(state),
        before,
        "a rejection must leave the state byte-identical"
    );
}

/// Applies an `authenticate` command and returns its decision as JSON.
pub fn authenticate(state: &mut State, policy: &Policy, r: &Req) -> Value {
    match state.apply(policy, &r.command()) {
        CommandResult::Decision { decision, .. } => serde_json::to_value(&decision).unwrap(),
        other => panic!("authenticate returns a decision, got {other:?}"),
    }
}

/// The record of `collection` with this `id` in the state's snapshot.
pub fn record(state: &State, collection: &str, id: &str) -> Value {
    let snap = serde_json::to_value(state.to_snapshot()).unwrap();
    snap[collection]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// A JSON object from pairs, for building commands with computed keys.
pub fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<Map<String, Value>>(),
    )
}
