//! Shared by the benches: the bench data (the one realistic-snapshot
//! generator, `authproof_verification::synth`, at bench sizes), the bench
//! policy, and requests of every decision class built from the generated
//! data.
//!
//! The generator is deterministic (splitmix64, a fixed seed) so the same
//! size always gives the same snapshot, byte for byte, on every machine.
//! Tokens are derived from the seed and the record's index
//! ([`synth::key_token`], [`synth::session_token`]), so a request can
//! present the real token of any generated credential without the bench
//! keeping two million token strings around.
#![allow(dead_code)] // each bench uses a different part of this module

use std::collections::HashMap;

use authproof_engine::{Headers, Id, Policy, Reason, Request, Snapshot, State, Timestamp};
use authproof_verification::synth::{self, SplitMix64};

/// The seed of every generated snapshot and its tokens.
pub const SEED: u64 = 0x5eed_a417_0f00_0001;

/// True with probability `percent` / 100.
pub fn percent(rng: &mut SplitMix64, percent: usize) -> bool {
    rng.below(100) < percent
}

/// The token of generated API key `i`.
pub fn key_token(i: usize) -> String {
    synth::key_token(SEED, i)
}

/// The token of generated session `i`.
pub fn session_token(i: usize) -> String {
    synth::session_token(SEED, i)
}

/// A token no generated record has: generated tokens all hold a `/`.
pub fn unknown_token(i: usize, api_key: bool) -> String {
    let mut g = SplitMix64::new(SEED ^ 0x0bad ^ i as u64);
    format!(
        "{}{:016x}{:016x}",
        if api_key { "sk_live_" } else { "" },
        g.next_u64(),
        g.next_u64()
    )
}

/// `at` of every request: the generated snapshots' `taken_at`,
/// 2026-05-28T12:00:00Z.
pub fn at() -> Timestamp {
    Timestamp::from_unix(synth::TAKEN_AT).expect("in range")
}

/// The bench shape of size `n`: `n` API keys (3 % legacy unbound) and `n`
/// sessions, `n / 10` tenants, `n / 4` users spread uniformly (no big
/// tenant), `n / 2` documents besides one `conv_default` per tenant with a
/// member, and 30 % of the bound keys limited to `deploy` (for
/// `missing_capability`). `n = 1_000_000` is the "1M keys, 1M sessions,
/// 100k tenants" shape of issue 8: about 3.2 M records in all.
pub fn shape(n: usize) -> synth::Shape {
    synth::Shape {
        keys: n,
        sessions: n,
        tenants: (n / 10).max(2),
        users: (n / 4).max(2),
        legacy_ratio: 0.03,
        seed: SEED,
        big_tenant: 0.0,
        documents: (n / 2).max(1),
        deploy_ratio: 0.3,
    }
}

/// Bench-only lookups into the generated data, to pick requests of each
/// class without scanning the snapshot.
#[derive(Debug, Default)]
pub struct Meta {
    /// user → indexes of their memberships.
    pub memberships_of: Vec<Vec<u32>>,
    /// tenant → indexes of its resources.
    pub resources_of: Vec<Vec<u32>>,
    /// tenant id → its index.
    pub tenant_index: HashMap<Id, usize>,
}

impl Meta {
    pub fn of(snap: &Snapshot) -> Meta {
        let tenant_index: HashMap<Id, usize> = snap
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        let user_index: HashMap<&Id, usize> = snap
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (&u.id, i))
            .collect();
        let mut memberships_of = vec![Vec::new(); snap.users.len()];
        for (i, m) in snap.memberships.iter().enumerate() {
            memberships_of[user_index[&m.user]].push(i as u32);
        }
        let mut resources_of = vec![Vec::new(); snap.tenants.len()];
        for (i, r) in snap.resources.iter().enumerate() {
            resources_of[tenant_index[&r.tenant]].push(i as u32);
        }
        Meta {
            memberships_of,
            resources_of,
            tenant_index,
        }
    }
}

/// Generates the snapshot of size `n` (see [`shape`]).
pub fn generate(n: usize) -> (Snapshot, Meta) {
    let snap = synth::snapshot(&shape(n));
    let meta = Meta::of(&snap);
    (snap, meta)
}

fn tenant_index(meta: &Meta, id: &Id) -> usize {
    meta.tenant_index[id]
}

/// The bench policy: the default policy, with `supervisor.connect` also
/// requiring the role owner or admin, so one API-key action exercises
/// every step (membership, role, capability). The Cedar bench expresses
/// exactly this.
pub fn policy() -> Policy {
    let mut p = Policy::default();
    p.actions
        .get_mut("supervisor.connect")
        .expect("a default action")
        .roles = vec!["owner".into(), "admin".into()];
    p
}

fn headers(pairs: &[(&str, String)]) -> Headers {
    Headers::new(pairs.iter().map(|(n, v)| (*n, v.as_str()))).expect("distinct header names")
}

/// A request as a browser or a client sends it: an API key in `x-api-key`.
pub fn key_request(i: usize, action: &str, tenant: Option<&Id>) -> Request {
    Request {
        at: at(),
        action: action.into(),
        headers: headers(&[
            ("user-agent", "authproof-bench/1".into()),
            ("x-api-key", key_token(i)),
        ]),
        tenant: tenant.cloned(),
        resource: None,
    }
}

/// A request with a session cookie among other cookies.
pub fn session_request(i: usize, action: &str, tenant: Option<&Id>) -> Request {
    Request {
        at: at(),
        action: action.into(),
        headers: headers(&[
            ("user-agent", "authproof-bench/1".into()),
            (
                "cookie",
                format!(
                    "theme=dark; __Secure-better-auth.session_token={}; _ga=GA1.2.3",
                    session_token(i)
                ),
            ),
        ]),
        tenant: tenant.cloned(),
        resource: None,
    }
}

/// Every decision class the decide bench measures: an allow of each
/// credential kind and each deny reason the generated data can produce.
pub const CLASSES: &[&str] = &[
    "allow_api_key",
    "allow_session",
    "allow_resource",
    "unknown_action",
    "no_credential",
    "malformed_credential",
    "api_key_not_found",
    "api_key_deleted",
    "api_key_revoked",
    "api_key_disabled",
    "api_key_expired",
    "session_not_found",
    "session_revoked",
    "session_expired",
    "user_banned",
    "credential_not_allowed",
    "api_key_unbound",
    "cross_tenant",
    "tenant_required",
    "not_a_member",
    "tenant_suspended",
    "insufficient_role",
    "missing_capability",
    "resource_not_found",
    "not_resource_owner",
];

/// One candidate request of `class`, drawn at random; the caller keeps it
/// only if the engine decides it as `class` says (most draws of a deny class
/// land on a record in another state).
fn candidate(class: &str, snap: &Snapshot, meta: &Meta, rng: &mut SplitMix64) -> Request {
    let n_keys = snap.api_keys.len();
    let n_ses = snap.sessions.len();
    let n_ten = snap.tenants.len();
    let k = rng.below(n_keys);
    let s = rng.below(n_ses);
    let key = &snap.api_keys[k];
    let ses = &snap.sessions[s];
    match class {
        "allow_api_key" | "api_key_deleted" | "api_key_revoked" | "api_key_disabled"
        | "api_key_expired" | "api_key_unbound" => {
            key_request(k, "workspace.read", key.tenant.as_ref())
        }
        "allow_session" | "session_revoked" | "session_expired" | "tenant_suspended" => {
            session_request(s, "workspace.read", ses.tenant.as_ref())
        }
        "user_banned" if percent(rng, 50) => key_request(k, "workspace.read", None),
        "user_banned" => session_request(s, "workspace.read", None),
        "allow_resource" | "not_resource_owner" => {
            let mut r = key_request(k, "conversation.resume", None);
            let t = key.tenant.as_ref().map_or(0, |id| tenant_index(meta, id));
            let of = &meta.resources_of[t];
            if !of.is_empty() {
                r.resource = Some(snap.resources[of[rng.below(of.len())] as usize].id.clone());
            }
            r
        }
        "resource_not_found" => {
            // A resource that exists, but in another tenant.
            let mut r = session_request(s, "conversation.resume", None);
            r.resource = Some(snap.resources[rng.below(snap.resources.len())].id.clone());
            r
        }
        "unknown_action" => key_request(k, "workspace.destroy", None),
        "no_credential" => Request {
            headers: headers(&[("user-agent", "authproof-bench/1".into())]),
            ..key_request(k, "workspace.read", None)
        },
        "malformed_credential" => Request {
            headers: headers(&[("authorization", "Basic dXNlcjpwYXNz".into())]),
            ..key_request(k, "workspace.read", None)
        },
        "api_key_not_found" => Request {
            headers: headers(&[("x-api-key", unknown_token(k, true))]),
            ..key_request(k, "workspace.read", None)
        },
        "session_not_found" => Request {
            headers: headers(&[(
                "cookie",
                format!("better-auth.session_token={}", unknown_token(s, false)),
            )]),
            ..key_request(k, "workspace.read", None)
        },
        "credential_not_allowed" => key_request(k, "api_key.create", None),
        "cross_tenant" => {
            let other = &snap.tenants[rng.below(n_ten)].id;
            key_request(k, "workspace.read", Some(other))
        }
        "tenant_required" => session_request(s, "workspace.read", None),
        "not_a_member" => {
            let other = &snap.tenants[rng.below(n_ten)].id;
            session_request(s, "workspace.read", Some(other))
        }
        "insufficient_role" => session_request(s, "member.remove", ses.tenant.as_ref()),
        "missing_capability" => key_request(k, "supervisor.connect", None),
        other => panic!("unknown class {other}"),
    }
}

/// What the engine must decide for a request of `class`.
pub fn expected(class: &str) -> Option<Reason> {
    if class.starts_with("allow") {
        return None;
    }
    Some(
        *Reason::ALL
            .iter()
            .find(|r| r.code() == class)
            .unwrap_or_else(|| panic!("no reason {class}")),
    )
}

/// Up to `count` distinct-ish requests of `class`, each checked against the
/// engine (outside any timing). Cycling through many requests, not one,
/// keeps the caches as cold as production traffic over a large state.
pub fn requests(
    class: &str,
    snap: &Snapshot,
    meta: &Meta,
    state: &State,
    policy: &Policy,
    count: usize,
) -> Vec<Request> {
    let want = expected(class);
    let mut rng = SplitMix64::new(SEED ^ class.len() as u64 ^ (class.as_bytes()[0] as u64) << 8);
    let mut out = Vec::with_capacity(count);
    let mut tries = 0usize;
    while out.len() < count && tries < count * 100 + 50_000 {
        tries += 1;
        let r = candidate(class, snap, meta, &mut rng);
        if state.decide(policy, &r).reason == want {
            out.push(r);
        }
    }
    out
}

/// Resident set size of this process, in bytes (Linux `/proc/self/statm`).
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Sizes from the environment: 1k and 100k by default; with
/// `AUTHPROOF_BENCH_FULL=1` also 1M; `AUTHPROOF_BENCH_SIZES=1000,5000`
/// overrides both.
pub fn bench_sizes() -> Vec<usize> {
    if let Ok(list) = std::env::var("AUTHPROOF_BENCH_SIZES") {
        return list
            .split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect();
    }
    let mut v = vec![1_000, 100_000];
    if std::env::var("AUTHPROOF_BENCH_FULL").is_ok_and(|v| v == "1") {
        v.push(1_000_000);
    }
    v
}

/// `1000` → `1k`, `1000000` → `1M`.
pub fn label(n: usize) -> String {
    if n >= 1_000_000 && (n / 1_000_000) * 1_000_000 == n {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && (n / 1_000) * 1_000 == n {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}
