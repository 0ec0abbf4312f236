//! Differential smoke test: random command traces over a tiny universe, run
//! on the engine and the model side by side, with every invariant checked at
//! every step. The generator is a fixed-seed xorshift so a failure always
//! reproduces; the universe is small so that ids, tokens and times collide
//! often (that is where the boundaries are).

use authproof_engine::{load, Command, Policy, Snapshot, State, TokenHash};
use authproof_verification::Lockstep;
use serde_json::{json, Value};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
    fn coin(&mut self) -> bool {
        self.one_in(2)
    }
    /// True with probability 1/n.
    fn one_in(&mut self, n: u64) -> bool {
        self.next().checked_rem(n) == Some(0)
    }
}

const USERS: [&str; 3] = ["u1", "u2", "u3"];
const TENANTS: [&str; 3] = ["t1", "t2", "t3"];
const KEYS: [&str; 3] = ["k1", "k2", "k3"];
const SESSIONS: [&str; 3] = ["s1", "s2", "s3"];
const RESOURCES: [&str; 2] = ["conv", "doc"];
const ROLES: [&str; 2] = ["owner", "member"];
const KEY_TOKENS: [&str; 4] = [
    "sk_live_k1tok",
    "sk_live_k2tok",
    "sk_live_k3tok",
    "sk_live_a/+=",
];
const SESSION_TOKENS: [&str; 4] = ["sestoken1", "sestoken2", "sestoken3", "ses/+=%2F"];
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

fn snapshot() -> Snapshot {
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
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"}
        ],
        "resources": [
            {"tenant": "t1", "id": "conv", "owner": "u1"},
            {"tenant": "t2", "id": "conv", "owner": "u2"}
        ]
    }))
    .unwrap()
}

fn headers(rng: &mut Rng) -> Value {
    let mut h = serde_json::Map::new();
    let all: Vec<&str> = KEY_TOKENS.iter().chain(&SESSION_TOKENS).copied().collect();
    if rng.one_in(3) {
        let v = if rng.one_in(8) { "" } else { *rng.pick(&all) };
        h.insert("x-api-key".into(), json!(v));
    }
    if rng.one_in(2) {
        let name = rng.pick(&[
            "better-auth.session_token",
            "__Secure-better-auth.session_token",
            "other",
        ]);
        let tok = rng.pick(&all);
        let v = if rng.one_in(6) {
            format!("theme=x; {name}=\"{tok}\"")
        } else {
            format!("{name}={tok}")
        };
        h.insert("cookie".into(), json!(v));
    }
    if rng.one_in(3) {
        let scheme = rng.pick(&["Bearer ", "bearer  ", "Basic ", "Bearer"]);
        h.insert(
            "authorization".into(),
            json!(format!("{scheme}{}", rng.pick(&all))),
        );
    }
    Value::Object(h)
}

fn command(rng: &mut Rng, at: &str) -> Value {
    let u = *rng.pick(&USERS);
    let t = *rng.pick(&TENANTS);
    let k = *rng.pick(&KEYS);
    let s = *rng.pick(&SESSIONS);
    let r = *rng.pick(&RESOURCES);
    let role = *rng.pick(&ROLES);
    let mut v = match rng.next() % 22 {
        0 => json!({"op": "create_tenant", "tenant": t}),
        1 => json!({"op": "suspend_tenant", "tenant": t}),
        2 => json!({"op": "reinstate_tenant", "tenant": t}),
        3 => json!({"op": "create_user", "user": u}),
        4 => json!({"op": "ban_user", "user": u}),
        5 => json!({"op": "unban_user", "user": u}),
        6 => json!({"op": "add_member", "user": u, "tenant": t, "role": role}),
        7 => json!({"op": "remove_member", "user": u, "tenant": t}),
        8 => json!({"op": "set_role", "user": u, "tenant": t, "role": role}),
        9 => {
            let tok = if rng.coin() {
                *rng.pick(&KEY_TOKENS)
            } else {
                *rng.pick(&SESSION_TOKENS)
            };
            json!({"op": "mint_api_key", "key": k, "owner": u, "tenant": t, "token": tok,
                   "capabilities": if rng.coin() { json!(["supervisor"]) } else { json!([]) }})
        }
        10 => {
            let mut v = json!({"op": "update_api_key", "key": k});
            let o = v.as_object_mut().unwrap();
            if rng.coin() {
                o.insert("enabled".into(), json!(rng.coin()));
            }
            if rng.one_in(3) {
                o.insert("name".into(), json!(rng.pick(&["", "ci"])));
            }
            if rng.one_in(3) {
                o.insert(
                    "expires_at".into(),
                    if rng.coin() {
                        Value::Null
                    } else {
                        json!("2026-05-04T00:00:00Z")
                    },
                );
            }
            if rng.one_in(5) {
                o.insert("tenant".into(), json!(t));
            }
            v
        }
        11 => json!({"op": "revoke_api_key", "key": k}),
        12 => json!({"op": "delete_api_key", "key": k}),
        13 => {
            let tok = if rng.one_in(4) {
                *rng.pick(&KEY_TOKENS)
            } else {
                *rng.pick(&SESSION_TOKENS)
            };
            let mut v = json!({"op": "login", "session": s, "user": u, "token": tok});
            if rng.coin() {
                v.as_object_mut().unwrap().insert("tenant".into(), json!(t));
            }
            v
        }
        14 => json!({"op": "logout", "session": s}),
        15 => json!({"op": "switch_tenant", "session": s, "tenant": t}),
        16 => json!({"op": "create_resource", "tenant": t, "resource": r, "owner": u}),
        17 => json!({"op": "delete_resource", "tenant": t, "resource": r}),
        _ => {
            let mut v = json!({"op": "authenticate", "action": rng.pick(&ACTIONS), "headers": headers(rng)});
            let o = v.as_object_mut().unwrap();
            if rng.one_in(3) {
                o.insert("tenant".into(), json!(t));
            }
            if rng.one_in(3) {
                o.insert("resource".into(), json!(r));
            }
            v
        }
    };
    v.as_object_mut().unwrap().insert("at".into(), json!(at));
    v
}

/// Runs `traces` random traces of `len` steps under `policy`.
/// Returns the distinct outcomes seen (`allow`, denial and rejection reasons,
/// `ok`), so a test can check the traces reach far enough to mean something.
fn run(policy_toml: &str, seed: u64, traces: usize, len: usize) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let policy: Policy = load::policy(policy_toml, "policy.toml").unwrap();
    let mut rng = Rng(seed);
    // Times around the fixture's boundaries (expiries on 05-02, 05-03).
    let times = [
        "2026-05-01T00:00:00Z",
        "2026-05-01T23:59:59Z",
        "2026-05-02T00:00:00Z",
        "2026-05-03T00:00:00Z",
        "2026-05-04T00:00:00Z",
        "2026-06-15T00:00:00Z",
        "2026-07-20T00:00:00Z",
    ];
    for trace in 0..traces {
        let initial = snapshot();
        let engine = State::from_snapshot(initial.clone()).unwrap();
        let mut lockstep = Lockstep::new(&policy, &initial, engine).unwrap();
        assert!(lockstep.initial_violations().is_empty());
        let mut clock = 0usize;
        let mut lines: Vec<String> = Vec::new();
        for index in 0..len {
            if rng.one_in(5) && clock + 1 < times.len() {
                clock += 1;
            }
            let line = command(&mut rng, times[clock]);
            lines.push(line.to_string());
            let cmd = Command::from_value(line).unwrap();
            let step = lockstep.step(&cmd).unwrap();
            let (violations, model_result) = (&step.violations, &step.model);
            let outcome = match (&model_result.rejection(), model_result.decision()) {
                (Some(r), _) => r.code().to_string(),
                (None, Some(d)) => d
                    .reason
                    .map_or("allow".to_string(), |r| r.code().to_string()),
                (None, None) => "ok".to_string(),
            };
            if !seen.contains(&outcome) {
                seen.push(outcome);
            }
            assert!(
                violations.is_empty(),
                "seed {seed} trace {trace} step {index}: {violations:#?}\ntrace:\n{}\nengine: {}\nmodel:  {}",
                lines.join("\n"),
                serde_json::to_string(&step.result).unwrap(),
                serde_json::to_string(model_result).unwrap()
            );
        }
    }
    seen.sort();
    seen
}

#[test]
fn default_policy() {
    let seen = run("", 0x9E37_79B9_7F4A_7C15, 60, 60);
    eprintln!("{} outcomes: {seen:?}", seen.len());
    for must in [
        "allow",
        "ok",
        "cross_tenant",
        "session_expired",
        "api_key_revoked",
        "no_change",
    ] {
        assert!(
            seen.iter().any(|s| s == must),
            "never reached {must}: {seen:?}"
        );
    }
}

#[test]
fn strict_policy() {
    run(
        "[session]\nttl = \"1d\"\nrefresh_after = \"0s\"\nabsolute_max = \"2d\"\n\
         [api_key]\nunbound = \"oldest_membership\"\nempty_capabilities = \"none\"\n\
         [credentials]\nmultiple = \"deny\"\n",
        0xD1B5_4A32_D192_ED03,
        60,
        60,
    );
}

#[test]
fn sliding_heavy_policy() {
    run(
        "[session]\nttl = \"2d\"\nrefresh_after = \"1d\"\nabsolute_max = \"3d\"\nbearer = false\n",
        0x2545_F491_4F6C_DD1D,
        60,
        60,
    );
}
