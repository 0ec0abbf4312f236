//! A small command generator over a tiny universe (3 users, 3 tenants, a
//! few keys, sessions and resources), where ids, tokens and times collide
//! often and many requests are allowed, so the sliding refresh, bans,
//! revocations and membership changes all meet. Each step is a tuple of
//! small numbers, so proptest shrinks a failing trace to a short one.

use authproof_engine::{load, Command, Policy, Snapshot, Timestamp, TokenHash};
use proptest::prelude::*;
use serde_json::{json, Value};

pub const KEY_TOKENS: [&str; 4] = [
    "sk_live_k1tok",
    "sk_live_k2tok",
    "sk_live_k3tok",
    "sk_live_a/+=",
];
pub const SESSION_TOKENS: [&str; 6] = [
    "sestoken1",
    "sestoken2",
    "sestoken3",
    "ses/+=%2F",
    "sestoken5",
    "sestoken6",
];
const USERS: [&str; 3] = ["u1", "u2", "u3"];
const TENANTS: [&str; 3] = ["t1", "t2", "t3"];
const KEYS: [&str; 3] = ["k1", "k2", "k3"];
const SESSIONS: [&str; 5] = ["s1", "s2", "s3", "s4", "s5"];
const RESOURCES: [&str; 2] = ["conv", "doc"];
const ROLES: [&str; 2] = ["owner", "member"];
const ACTIONS: [&str; 8] = [
    "session.read",
    "workspace.read",
    "member.remove",
    "api_key.create",
    "supervisor.connect",
    "conversation.resume",
    "token.mint",
    "nope",
];
/// Seconds between steps.
const STEPS: [i64; 6] = [0, 1, 60, 3600, 6 * 3600, 86400];

pub fn snapshot() -> Snapshot {
    serde_json::from_value(json!({
        "taken_at": "2026-05-01T00:00:00Z",
        "tenants": [{"id": "t1"}, {"id": "t2"}],
        "users": [{"id": "u1"}, {"id": "u2"}],
        "memberships": [
            {"user": "u1", "tenant": "t1", "role": "owner", "since": "2026-01-01T00:00:00Z"},
            {"user": "u2", "tenant": "t1", "role": "member", "since": "2026-01-01T00:00:00Z"},
            {"user": "u2", "tenant": "t2", "role": "owner", "since": "2026-01-01T00:00:00Z"}
        ],
        "api_keys": [
            {"id": "k1", "owner": "u1", "tenant": "t1",
             "token_sha256": TokenHash::of(KEY_TOKENS[0]).to_string(),
             "capabilities": ["supervisor"], "created_at": "2026-03-01T00:00:00Z",
             "expires_at": "2026-05-03T00:00:00Z"},
            {"id": "k3", "owner": "u2", "tenant": "t2",
             "token_sha256": TokenHash::of(KEY_TOKENS[2]).to_string(),
             "created_at": "2026-03-01T00:00:00Z"},
            {"id": "k2", "owner": "u2", "tenant": null,
             "token_sha256": TokenHash::of(KEY_TOKENS[1]).to_string(),
             "created_at": "2025-03-01T00:00:00Z"}
        ],
        "sessions": [
            {"id": "s1", "user": "u1", "tenant": "t1",
             "token_sha256": TokenHash::of(SESSION_TOKENS[0]).to_string(),
             "created_at": "2026-04-20T00:00:00Z", "expires_at": "2026-05-02T00:00:00Z"},
            {"id": "s2", "user": "u2", "tenant": null,
             "token_sha256": TokenHash::of(SESSION_TOKENS[1]).to_string(),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-03T00:00:00Z",
             "revoked_at": "2026-05-02T12:00:00Z"},
            {"id": "s3", "user": "u1", "tenant": "t1",
             "token_sha256": TokenHash::of(SESSION_TOKENS[2]).to_string(),
             "created_at": "2026-04-30T00:00:00Z", "expires_at": "2026-05-20T00:00:00Z"}
        ],
        "resources": [
            {"tenant": "t1", "id": "conv", "owner": "u1"},
            {"tenant": "t2", "id": "conv", "owner": "u2"}
        ]
    }))
    .expect("the tiny snapshot parses")
}

/// The default policy, and one with a short sliding window, an absolute
/// maximum, legacy keys bound to their oldest membership and `[]`
/// capabilities read as none.
pub fn policies() -> Vec<Policy> {
    let custom = load::policy(
        r#"
[session]
ttl = "2d"
refresh_after = "1h"
absolute_max = "5d"
[api_key]
unbound = "oldest_membership"
empty_capabilities = "none"
"#,
        "tiny.toml",
    )
    .expect("the tiny policy parses");
    vec![Policy::default(), custom]
}

fn pick<T: Copy>(xs: &[T], n: u32) -> T {
    xs[n as usize % xs.len()]
}

/// One step's numbers: (op, a, b, c, time step).
pub type StepSeed = (u32, u32, u32, u32, u32);

fn headers(a: u32, b: u32) -> Value {
    let all: Vec<&str> = KEY_TOKENS.iter().chain(&SESSION_TOKENS).copied().collect();
    let tok = pick(&all, b);
    match a % 11 {
        0 => json!({}),
        1..=3 => json!({"x-api-key": pick(&KEY_TOKENS, b)}),
        4..=6 => {
            json!({"cookie": format!("theme=x; better-auth.session_token={}", pick(&SESSION_TOKENS, b))})
        }
        7 => json!({"authorization": format!("Bearer {tok}")}),
        8 => json!({"cookie": format!("__Secure-better-auth.session_token=\"{tok}\"")}),
        9 => json!({"x-api-key": tok, "authorization": "Bearer sestoken1"}),
        _ => json!({"authorization": format!("Basic {tok}")}),
    }
}

fn command(seed: StepSeed, at: Timestamp) -> Command {
    let (op, a, b, c, _) = seed;
    let u = pick(&USERS, a);
    let t = pick(&TENANTS, b);
    let k = pick(&KEYS, c);
    let s = pick(&SESSIONS, c);
    let r = pick(&RESOURCES, a / 3);
    let role = pick(&ROLES, c / 3);
    let mut v = match op % 34 {
        0 => json!({"op": "create_tenant", "tenant": t}),
        1 => json!({"op": "suspend_tenant", "tenant": t}),
        2 => json!({"op": "reinstate_tenant", "tenant": t}),
        3 => json!({"op": "create_user", "user": u}),
        4 => json!({"op": "ban_user", "user": u}),
        5 => json!({"op": "unban_user", "user": u}),
        6 => json!({"op": "add_member", "user": u, "tenant": t, "role": role}),
        7 => json!({"op": "remove_member", "user": u, "tenant": t}),
        8 => json!({"op": "set_role", "user": u, "tenant": t, "role": role}),
        9 => json!({"op": "mint_api_key", "key": k, "owner": u, "tenant": t,
                    "token": pick(&KEY_TOKENS, c / 3), "capabilities": if a % 2 == 0 { json!([]) } else { json!(["supervisor"]) }}),
        10 => match a % 5 {
            0 => json!({"op": "update_api_key", "key": k, "enabled": b % 2 == 0}),
            1 => json!({"op": "update_api_key", "key": k, "name": pick(&["ci", "cd"], b)}),
            2 => json!({"op": "update_api_key", "key": k, "expires_at": null}),
            3 => json!({"op": "update_api_key", "key": k, "expires_at": "2026-05-04T00:00:00Z"}),
            _ => json!({"op": "update_api_key", "key": k, "tenant": t}),
        },
        11 => json!({"op": "revoke_api_key", "key": k}),
        12 => json!({"op": "delete_api_key", "key": k}),
        13 | 14 => {
            let mut v = json!({"op": "login", "session": s, "user": u,
                               "token": pick(&SESSION_TOKENS, c / 3)});
            if b % 3 != 0 {
                v["tenant"] = json!(t);
            }
            v
        }
        15 => json!({"op": "logout", "session": s}),
        16 => json!({"op": "switch_tenant", "session": s, "tenant": t}),
        17 => json!({"op": "create_resource", "tenant": t, "resource": r, "owner": u}),
        18 => json!({"op": "delete_resource", "tenant": t, "resource": r}),
        _ => {
            let mut v = json!({"op": "authenticate", "action": pick(&ACTIONS, a),
                               "headers": headers(b, c)});
            if c % 3 == 0 {
                v["tenant"] = json!(t);
            }
            if a % 4 == 0 {
                v["resource"] = json!(r);
            }
            v
        }
    };
    v["at"] = json!(at);
    Command::from_value(v).expect("generated commands parse")
}

/// Commands from their seeds, from 2026-05-01T00:00:00Z on.
pub fn commands(seeds: &[StepSeed]) -> Vec<Command> {
    let mut at = Timestamp::parse("2026-05-01T00:00:00Z").expect("a timestamp");
    seeds
        .iter()
        .map(|seed| {
            at = Timestamp::from_unix(at.unix() + pick(&STEPS, seed.4)).expect("in range");
            command(*seed, at)
        })
        .collect()
}

/// Traces of up to `max` steps.
pub fn seeds(max: usize) -> impl Strategy<Value = Vec<StepSeed>> {
    proptest::collection::vec(
        (0u32..34, 0u32..1000, 0u32..1000, 0u32..1000, 0u32..6),
        1..=max,
    )
}
