//! Shared by the benches: a deterministic snapshot generator at scale, the
//! bench policy, and requests of every decision class built from the
//! generated data.
//!
//! The generator is self-contained (splitmix64, fixed seeds) so the same
//! size always gives the same snapshot, byte for byte, on every machine.
//! Tokens are derived from the seed and the record's index, so a request can
//! present the real token of any generated credential without the bench
//! keeping two million token strings around.
#![allow(dead_code)] // each bench uses a different part of this module

use authproof_engine::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    Headers, Id, Policy, Reason, Request, Snapshot, State, Timestamp, TokenHash,
};
use authproof_verification::synth::SplitMix64;

/// `taken_at` of every generated snapshot and `at` of every request:
/// 2026-05-28T12:00:00Z.
pub const TAKEN_AT: i64 = 1_779_969_600;
const DAY: i64 = 86_400;
pub const SEED: u64 = 0x5eed_a417_0f00_0001;

/// The generator of `authproof gen snapshot` (splitmix64), with the
/// percent helper the bench data uses.
#[derive(Clone, Debug)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n`, `n > 0`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn mix(stream: u64, index: u64) -> u64 {
    let mut g = Rng::new(SEED ^ stream.wrapping_mul(0xa076_1d64_78bd_642f) ^ index);
    g.next_u64();
    g.next_u64()
}

fn push_hex(v: u64, out: &mut String) {
    for shift in (0..16).rev() {
        out.push(char::from(
            b"0123456789abcdef"[((v >> (shift * 4)) & 0xf) as usize],
        ));
    }
}

/// The token of generated API key `i` (44 bytes, like a real `sk_live_` key).
pub fn key_token(i: usize) -> String {
    let mut t = String::with_capacity(44);
    t.push_str("sk_live_");
    push_hex(mix(1, i as u64), &mut t);
    t.push('/');
    push_hex(mix(2, i as u64), &mut t);
    t.push_str("+=");
    t
}

/// The token of generated session `i` (a better-auth style token).
pub fn session_token(i: usize) -> String {
    let mut t = String::with_capacity(40);
    push_hex(mix(3, i as u64), &mut t);
    push_hex(mix(4, i as u64), &mut t);
    t.push_str(".s%3D");
    t
}

/// A token no generated record has.
pub fn unknown_token(i: usize, api_key: bool) -> String {
    let mut t = String::from(if api_key { "sk_live_" } else { "" });
    push_hex(mix(5, i as u64), &mut t);
    push_hex(mix(6, i as u64), &mut t);
    t
}

fn id(s: String) -> Id {
    Id::new(s).expect("generated ids are valid")
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs).expect("generated times are in range")
}

pub fn at() -> Timestamp {
    ts(TAKEN_AT)
}

/// How many records of each kind a size `n` means: `n` API keys and `n`
/// sessions, `n / 10` tenants, `n / 4` users (about 1.2 memberships each),
/// `n / 2` resources. `n = 1_000_000` is the "1M keys, 1M sessions, 100k
/// tenants" shape of issue 8: about 3.15 M records in all.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub keys: usize,
    pub sessions: usize,
    pub tenants: usize,
    pub users: usize,
    pub resources: usize,
}

impl Sizes {
    pub fn of(n: usize) -> Sizes {
        Sizes {
            keys: n,
            sessions: n,
            tenants: (n / 10).max(2),
            users: (n / 4).max(2),
            resources: (n / 2).max(1),
        }
    }
}

/// Bench-only facts about the generated data, to pick requests of each
/// class without scanning the snapshot.
#[derive(Debug, Default)]
pub struct Meta {
    /// user → indexes of their memberships.
    pub memberships_of: Vec<Vec<u32>>,
    /// tenant → indexes of its resources.
    pub resources_of: Vec<Vec<u32>>,
}

/// Zero-padded ids so they sort like their numbers, as real ids often do.
fn numbered(prefix: &str, i: usize) -> Id {
    id(format!("{prefix}{i:07}"))
}

/// Generates the snapshot of size `n` (see [`Sizes::of`]).
pub fn generate(n: usize) -> (Snapshot, Meta) {
    let sz = Sizes::of(n);
    let mut rng = Rng::new(SEED ^ n as u64);
    let taken = TAKEN_AT;

    // Tenants: about 2 % suspended, never the first.
    let tenants: Vec<Tenant> = (0..sz.tenants)
        .map(|i| Tenant {
            id: numbered("org_", i),
            suspended: i > 0 && rng.percent(2),
        })
        .collect();
    let users: Vec<User> = (0..sz.users)
        .map(|i| User {
            id: numbered("user_", i),
            banned: rng.percent(1),
        })
        .collect();

    // Memberships: a home tenant each (a tenant has about 2.5 members), and
    // one in five users is also a member of a second tenant.
    let roles = ["owner", "admin", "member", "member"];
    let mut memberships: Vec<Membership> = Vec::with_capacity(sz.users * 6 / 5 + 1);
    let mut memberships_of: Vec<Vec<u32>> = Vec::with_capacity(sz.users);
    for (u, user) in users.iter().enumerate() {
        let mut mine = Vec::with_capacity(2);
        let home = rng.below(sz.tenants);
        let since = taken - (200 + rng.below(300) as i64) * DAY;
        mine.push(memberships.len() as u32);
        memberships.push(Membership {
            user: user.id.clone(),
            tenant: tenants[home].id.clone(),
            role: roles[rng.below(roles.len())].to_string(),
            since: ts(since),
        });
        if rng.percent(20) {
            let other = rng.below(sz.tenants);
            if other != home {
                mine.push(memberships.len() as u32);
                memberships.push(Membership {
                    user: user.id.clone(),
                    tenant: tenants[other].id.clone(),
                    role: roles[rng.below(roles.len())].to_string(),
                    since: ts(since + (1 + rng.below(100) as i64) * DAY),
                });
            }
        }
        debug_assert_eq!(memberships_of.len(), u);
        memberships_of.push(mine);
    }

    // API keys: bound to one of the owner's tenants (3 % legacy unbound);
    // capabilities [] (read as "all"), ["supervisor"] or ["deploy"]; about
    // 5 % revoked, 3 % expired, 2 % disabled, 2 % deleted.
    let mut api_keys: Vec<ApiKey> = Vec::with_capacity(sz.keys);
    for i in 0..sz.keys {
        let owner = rng.below(sz.users);
        let mine = &memberships_of[owner];
        let created = taken - (1 + rng.below(180) as i64) * DAY - rng.below(DAY as usize) as i64;
        let mut key = ApiKey {
            id: numbered("key_", i),
            owner: users[owner].id.clone(),
            tenant: if rng.percent(3) {
                None
            } else {
                Some(
                    memberships[mine[rng.below(mine.len())] as usize]
                        .tenant
                        .clone(),
                )
            },
            token_sha256: TokenHash::of(&key_token(i)),
            prefix: "sk_live_".into(),
            capabilities: match rng.below(10) {
                0..=2 => Vec::new(),
                3..=6 => vec!["supervisor".into()],
                _ => vec!["deploy".into()],
            },
            enabled: true,
            name: ["ci", "deploy", "supervisor", "local"][rng.below(4)].into(),
            created_at: ts(created),
            expires_at: None,
            revoked_at: None,
            deleted_at: None,
        };
        match rng.below(100) {
            0..=4 => key.revoked_at = Some(ts(created + (taken - created) / 2)),
            5..=7 => key.expires_at = Some(ts(taken - rng.below(30) as i64 * DAY)),
            8..=9 => key.enabled = false,
            10..=11 => key.deleted_at = Some(ts(taken - DAY)),
            12..=30 => key.expires_at = Some(ts(taken + (1 + rng.below(365) as i64) * DAY)),
            _ => {}
        }
        api_keys.push(key);
    }

    // Sessions: 30-day sessions created over the last 40 days (so about a
    // quarter have expired), 3 % revoked, 10 % with no active tenant.
    let mut sessions: Vec<Session> = Vec::with_capacity(sz.sessions);
    for i in 0..sz.sessions {
        let user = rng.below(sz.users);
        let mine = &memberships_of[user];
        let created = taken - rng.below(40 * DAY as usize) as i64;
        sessions.push(Session {
            id: numbered("ses_", i),
            user: users[user].id.clone(),
            tenant: if rng.percent(10) {
                None
            } else {
                Some(
                    memberships[mine[rng.below(mine.len())] as usize]
                        .tenant
                        .clone(),
                )
            },
            token_sha256: TokenHash::of(&session_token(i)),
            created_at: ts(created),
            expires_at: ts(created + 30 * DAY),
            revoked_at: rng.percent(3).then(|| ts(created + (taken - created) / 2)),
        });
    }

    // Resources: each owned by a member of its tenant.
    let mut resources: Vec<Resource> = Vec::with_capacity(sz.resources);
    let mut resources_of: Vec<Vec<u32>> = vec![Vec::new(); sz.tenants];
    for i in 0..sz.resources {
        let m = &memberships[rng.below(memberships.len())];
        let t = tenant_index(&m.tenant);
        resources_of[t].push(i as u32);
        resources.push(Resource {
            tenant: m.tenant.clone(),
            id: numbered("doc_", i),
            owner: m.user.clone(),
            created_at: ts(taken - (1 + rng.below(100) as i64) * DAY),
        });
    }

    let snapshot = Snapshot {
        taken_at: Some(ts(taken)),
        tenants,
        users,
        memberships,
        api_keys,
        sessions,
        resources,
    };
    let meta = Meta {
        memberships_of,
        resources_of,
    };
    (snapshot, meta)
}

/// The index of a generated id (`org_0000042` → 42).
pub fn index_of(id: &str) -> usize {
    let digits = id.rsplit('_').next().expect("numbered id");
    digits.parse().expect("numbered id")
}

fn tenant_index(id: &Id) -> usize {
    index_of(id.as_str())
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
fn candidate(class: &str, snap: &Snapshot, meta: &Meta, rng: &mut Rng) -> Request {
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
        "user_banned" if rng.percent(50) => key_request(k, "workspace.read", None),
        "user_banned" => session_request(s, "workspace.read", None),
        "allow_resource" | "not_resource_owner" => {
            let mut r = key_request(k, "conversation.resume", None);
            let t = key.tenant.as_ref().map_or(0, tenant_index);
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
    let mut rng = Rng::new(SEED ^ class.len() as u64 ^ (class.as_bytes()[0] as u64) << 8);
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
