//! Proptest strategies for small universes where collisions happen.
//!
//! Everything is drawn from tiny pools — three tenants and a fourth that
//! does not exist yet, three users and a fourth unknown one, four key and
//! session ids, two resource ids shared by every tenant, a dozen tokens that
//! all contain `/ + = %` — so duplicate ids, duplicate tokens, cross-tenant
//! look-ups, legacy keys and every rejection of SPEC §8 happen all the time.
//!
//! Times cluster on the edges that matter: every command's `at` is either
//! the previous one, a small step after it, or an *anchor* of the current
//! state (a record's `created_at`, `expires_at`, `revoked_at`, `deleted_at`,
//! `since`, a session's refresh point `expires_at - ttl + refresh_after` and
//! its absolute cap) plus {-1, 0, +1} seconds. Anchors are computed on the
//! state the command will run against, by simulating the case with the
//! engine while it is generated; the engine only decides *when* commands
//! happen, never what is expected of them.
//!
//! Cases are built from *intents* (indexes into pools, choices of header
//! shape) and resolved into concrete commands by a plain function, so
//! proptest shrinks the intents and the resolved trace shrinks with them:
//! shorter command lists, simpler times (`Same` first), fewer credentials.
//! Snapshots are well-formed by construction (unique ids and tokens,
//! resolved references, `created_at <= expires_at`).

use std::collections::BTreeSet;

use authproof_engine::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    ActionRule, ApiKeyPolicy, Command, CredentialKind, CredentialsPolicy, Duration,
    EmptyCapabilities, Headers, Id, Multiple, Op, Policy, SessionPolicy, Snapshot, State,
    TenantRule, Timestamp, Token, TokenHash, Unbound,
};
use proptest::{collection::vec, option, prelude::*, sample::select};
use serde_json::{json, Value};

use crate::trace::Trace;

/// The centre of every generated universe: `2026-05-28T12:00:00Z`.
pub const T0: i64 = 1_779_969_600;
const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Tenant ids; the last one is never in a generated snapshot. It is the
/// first with two bytes swapped: the differences of `acme` and `acem` cancel
/// out when folded by XOR or summed, so an id comparison that folds them
/// takes an unknown tenant for a real one (docs/VERIFICATION.md §2).
pub const TENANTS: [&str; 4] = ["acme", "globex", "initech", "acem"];
/// User ids; the last one is never in a generated snapshot.
pub const USERS: [&str; 4] = ["alice", "bob", "carol", "mallory"];
/// Key ids; snapshots use a prefix of this list.
pub const KEYS: [&str; 4] = ["key_1", "key_2", "key_3", "key_4"];
/// Session ids; snapshots use a prefix of this list.
pub const SESSIONS: [&str; 4] = ["ses_1", "ses_2", "ses_3", "ses_4"];
/// Resource ids, shared across tenants on purpose (F10).
pub const RESOURCES: [&str; 2] = ["default", "conv_1"];
/// Membership roles.
pub const ROLES: [&str; 3] = ["owner", "admin", "member"];

/// Valid tokens. 0–3 and 8 carry an API-key prefix, 4–7 and 9 do not; 8
/// and 9 are never in a generated snapshot, so minting or logging in with
/// them can succeed.
///
/// 3 is 56 bytes and 9 is 120: SHA-256 pads a message whose last block
/// holds 56 bytes or more into two blocks, and hashes each full 64-byte
/// block first; the other tokens fit one block. The model hashes with
/// `sha2`'s own padding, the engine with its own (`token.rs`), so a token
/// of each length is where a wrong padding shows (docs/VERIFICATION.md §2).
pub const TOKENS: [&str; 10] = [
    "sk_live_a/+=%1",
    "sk_live_b+/=%2",
    "sk_test_c/+=%3",
    "sk_live_d%2F%3D_0123456789012345678901234567890123456789",
    "ses/+=%tok1",
    "ses+/=%tok2",
    "ses%2Btok/=3",
    "ses==//tok4",
    "sk_live_e/+=%5",
    "ses/+=%tok5_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab",
];
const _: () = assert!(TOKENS[3].len() == 56 && TOKENS[9].len() == 120);

/// Strings that are not valid tokens (SPEC §1), or valid but unusable for
/// the command they are given to.
pub const BAD_TOKENS: [&str; 3] = ["sk_live_bad token", "sk_live_q\"uote", "nopfx/+=%01"];

/// Valid tokens no record ever has.
const UNKNOWN_TOKENS: [&str; 2] = ["sk_live_zz/+=%9", "ses/+=%unknown"];

const CAPABILITY_SETS: [&[&str]; 4] = [&[], &["supervisor"], &["read"], &["read", "supervisor"]];

/// The action a request names when it picks past the policy's actions.
pub const UNKNOWN_ACTION: &str = "admin.nuke";

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs).expect("generated times are in range")
}

fn id(s: &str) -> Id {
    Id::new(s).expect("pool ids are valid")
}

fn dur(secs: i64) -> Duration {
    Duration::from_secs(secs).expect("generated durations are in range")
}

fn pick<'a>(pool: &[&'a str], i: u8) -> &'a str {
    pool[usize::from(i) % pool.len()]
}

// ---------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------

const COOKIE_LISTS: [&[&str]; 5] = [
    &[
        "__Secure-better-auth.session_token",
        "better-auth.session_token",
        "__Host-better-auth.session_token",
    ],
    &[
        "better-auth.session_token",
        "__Secure-better-auth.session_token",
    ],
    &["sid"],
    &["sid", "better-auth.session_token"],
    &[],
];

const PREFIX_LISTS: [&[&str]; 4] = [&["sk_live_"], &["sk_live_", "sk_test_"], &["sk_"], &[]];

const ACTION_NAMES: [&str; 6] = [
    "workspace.read",
    "conversation.resume",
    "supervisor.connect",
    "member.remove",
    "session.read",
    "x.custom",
];

prop_compose! {
    /// One `[actions."…"]` table with every field drawn.
    pub fn action_rule()(
        creds in select(vec![
            vec![CredentialKind::Session, CredentialKind::ApiKey],
            vec![CredentialKind::Session],
            vec![CredentialKind::ApiKey],
            vec![CredentialKind::ApiKey, CredentialKind::Session],
            vec![],
        ]),
        optional in any::<bool>(),
        roles in select(vec![vec![], vec!["owner"], vec!["owner", "admin"], vec!["member"]]),
        capability in select(vec!["", "supervisor", "read"]),
        resource in any::<bool>(),
        owner_only in any::<bool>(),
    ) -> ActionRule {
        ActionRule {
            credentials: creds,
            tenant: if optional { TenantRule::Optional } else { TenantRule::Required },
            roles: roles.into_iter().map(String::from).collect(),
            capability: capability.to_string(),
            resource,
            owner_only,
        }
    }
}

prop_compose! {
    /// A policy with every knob of SPEC §3 drawn.
    pub fn any_policy()(
        ttl in select(vec![HOUR, DAY, 7 * DAY, 30 * DAY]),
        sliding in prop::bool::weighted(0.75),
        refresh_after in select(vec![0, MIN, HOUR, DAY]),
        absolute_max in option::of(select(vec![HOUR, DAY, 2 * DAY, 90 * DAY])),
        cookies in prop_oneof![3 => Just(COOKIE_LISTS[0]), 2 => select(COOKIE_LISTS.to_vec())],
        session_bearer in prop::bool::weighted(0.75),
        header in select(vec!["x-api-key", "X-API-Key", "api-key"]),
        prefixes in prop_oneof![3 => Just(PREFIX_LISTS[0]), 2 => select(PREFIX_LISTS.to_vec())],
        key_bearer in prop::bool::weighted(0.75),
        oldest in any::<bool>(),
        empty_none in any::<bool>(),
        deny_multiple in any::<bool>(),
        actions in prop_oneof![
            2 => Just(None),
            1 => vec((select(ACTION_NAMES.to_vec()), action_rule()), 1..=5).prop_map(Some),
        ],
    ) -> Policy {
        Policy {
            version: 1,
            session: SessionPolicy {
                ttl: dur(ttl),
                sliding,
                refresh_after: dur(refresh_after),
                absolute_max: absolute_max.map(dur),
                cookies: cookies.iter().map(|c| c.to_string()).collect(),
                bearer: session_bearer,
                ..SessionPolicy::default()
            },
            api_key: ApiKeyPolicy {
                header: header.to_string(),
                prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
                bearer: key_bearer,
                unbound: if oldest { Unbound::OldestMembership } else { Unbound::Deny },
                empty_capabilities: if empty_none {
                    EmptyCapabilities::None
                } else {
                    EmptyCapabilities::All
                },
            },
            credentials: CredentialsPolicy {
                multiple: if deny_multiple { Multiple::Deny } else { Multiple::First },
                ..CredentialsPolicy::default()
            },
            actions: match actions {
                None => authproof_engine::default_actions(),
                Some(list) => list.into_iter().map(|(n, r)| (n.to_string(), r)).collect(),
            },
            ..Policy::default()
        }
    }
}

/// The shipped default policy a third of the time, else any policy.
pub fn policy() -> BoxedStrategy<Policy> {
    prop_oneof![1 => Just(Policy::default()), 2 => any_policy()].boxed()
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

/// Offsets from [`T0`] of records' times: mostly past, some exactly at the
/// edge, a few in the future (records that do not exist yet).
fn offset() -> impl Strategy<Value = i64> {
    select(vec![
        -30 * DAY,
        -10 * DAY,
        -DAY,
        -HOUR,
        -MIN,
        -1,
        0,
        1,
        HOUR,
        DAY,
    ])
}

fn past_offset() -> impl Strategy<Value = i64> {
    select(vec![-30 * DAY, -10 * DAY, -2 * DAY, -DAY, -HOUR, -1, 0])
}

/// Time after a record's start: 0 and 1 s, or longer.
fn span() -> impl Strategy<Value = i64> {
    select(vec![0, 1, MIN, HOUR, DAY, 2 * DAY, 10 * DAY, 30 * DAY])
}

#[derive(Clone, Debug)]
struct KeyDesc {
    /// Owner and tenant from the `member`-th membership, when there is one.
    member: Option<u8>,
    owner: u8,
    tenant: Option<u8>,
    token: u8,
    caps: u8,
    enabled: bool,
    created: i64,
    expires: Option<i64>,
    revoked: Option<i64>,
    deleted: Option<i64>,
}

prop_compose! {
    fn key_desc()(
        member in option::weighted(0.75, any::<u8>()),
        owner in any::<u8>(),
        tenant in option::weighted(0.8, any::<u8>()),
        token in prop_oneof![4 => 0u8..4, 1 => 4u8..8],
        caps in any::<u8>(),
        enabled in prop::bool::weighted(0.9),
        created in past_offset(),
        expires in option::weighted(0.25, span()),
        revoked in option::weighted(0.15, offset()),
        deleted in option::weighted(0.1, offset()),
    ) -> KeyDesc {
        KeyDesc { member, owner, tenant, token, caps, enabled, created, expires, revoked, deleted }
    }
}

#[derive(Clone, Debug)]
struct SessionDesc {
    /// User and active tenant from the `member`-th membership.
    member: Option<u8>,
    user: u8,
    tenant: Option<u8>,
    token: u8,
    created: i64,
    lifetime: i64,
    revoked: Option<i64>,
}

prop_compose! {
    fn session_desc()(
        member in option::weighted(0.75, any::<u8>()),
        user in any::<u8>(),
        tenant in option::weighted(0.7, any::<u8>()),
        token in prop_oneof![4 => 4u8..8, 1 => 0u8..4],
        created in past_offset(),
        lifetime in prop_oneof![1 => span(), 1 => select(vec![DAY, 10 * DAY, 29 * DAY]).prop_map(|d| -d)],
        revoked in option::weighted(0.15, offset()),
    ) -> SessionDesc {
        SessionDesc { member, user, tenant, token, created, lifetime, revoked }
    }
}

#[derive(Clone, Debug)]
struct SnapshotDesc {
    tenants: Vec<Option<bool>>,
    users: Vec<Option<bool>>,
    memberships: Vec<(u8, u8, u8, i64)>,
    keys: Vec<KeyDesc>,
    sessions: Vec<SessionDesc>,
    resources: Vec<(u8, u8, u8, i64)>,
    taken_at: bool,
}

prop_compose! {
    fn snapshot_desc()(
        tenants in vec(option::weighted(0.85, prop::bool::weighted(0.1)), 3),
        users in vec(option::weighted(0.85, prop::bool::weighted(0.1)), 3),
        memberships in vec(
            (any::<u8>(), any::<u8>(), any::<u8>(),
             prop_oneof![4 => Just(-30 * DAY), 1 => offset()]),
            1..=6,
        ),
        keys in vec(key_desc(), 0..=3),
        sessions in vec(session_desc(), 0..=3),
        resources in vec((any::<u8>(), any::<u8>(), any::<u8>(), past_offset()), 0..=3),
        taken_at in any::<bool>(),
    ) -> SnapshotDesc {
        SnapshotDesc { tenants, users, memberships, keys, sessions, resources, taken_at }
    }
}

/// Takes the first unused token at or after `preferred` (wrapping).
fn take_token(used: &mut BTreeSet<usize>, preferred: u8) -> usize {
    let start = usize::from(preferred) % TOKENS.len();
    let i = (0..TOKENS.len())
        .map(|k| (start + k) % TOKENS.len())
        .find(|i| !used.contains(i))
        .expect("at most 6 records hold tokens, the pool has 10");
    used.insert(i);
    i
}

fn build_snapshot(d: SnapshotDesc) -> Snapshot {
    let mut tenants: Vec<Tenant> = d
        .tenants
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            t.map(|suspended| Tenant {
                id: id(TENANTS[i]),
                suspended,
            })
        })
        .collect();
    if tenants.is_empty() {
        tenants.push(Tenant {
            id: id(TENANTS[0]),
            suspended: false,
        });
    }
    let mut users: Vec<User> = d
        .users
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            u.map(|banned| User {
                id: id(USERS[i]),
                banned,
            })
        })
        .collect();
    if users.is_empty() {
        users.push(User {
            id: id(USERS[0]),
            banned: false,
        });
    }
    let tenant = |i: u8| tenants[usize::from(i) % tenants.len()].id.clone();
    let user = |i: u8| users[usize::from(i) % users.len()].id.clone();

    let mut memberships: Vec<Membership> = Vec::new();
    for &(u, t, role, since) in &d.memberships {
        let (u, t) = (user(u), tenant(t));
        if memberships.iter().any(|m| m.user == u && m.tenant == t) {
            continue;
        }
        memberships.push(Membership {
            user: u,
            tenant: t,
            role: pick(&ROLES, role).into(),
            since: ts(T0 + since),
        });
    }
    let member = |i: Option<u8>| {
        i.filter(|_| !memberships.is_empty())
            .map(|i| &memberships[usize::from(i) % memberships.len()])
    };
    let mut used = BTreeSet::new();
    let api_keys: Vec<ApiKey> = d
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let token = TOKENS[take_token(&mut used, k.token)];
            let created = T0 + k.created;
            let (owner, bound) = match member(k.member) {
                Some(m) => (m.user.clone(), k.tenant.map(|_| m.tenant.clone())),
                None => (user(k.owner), k.tenant.map(tenant)),
            };
            ApiKey {
                id: id(KEYS[i]),
                owner,
                tenant: bound,
                token_sha256: TokenHash::of(token),
                prefix: if token.starts_with("sk_") {
                    token[..8].into()
                } else {
                    Default::default()
                },
                capabilities: CAPABILITY_SETS[usize::from(k.caps) % CAPABILITY_SETS.len()]
                    .iter()
                    .map(|&c| c.into())
                    .collect(),
                enabled: k.enabled,
                name: Default::default(),
                created_at: ts(created),
                expires_at: k.expires.map(|s| ts(created + s)),
                revoked_at: k.revoked.map(|o| ts(T0 + o)),
                deleted_at: k.deleted.map(|o| ts(T0 + o)),
            }
        })
        .collect();
    let sessions: Vec<Session> = d
        .sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let token = TOKENS[take_token(&mut used, s.token)];
            let created = T0 + s.created;
            let (owner, active) = match member(s.member) {
                Some(m) => (m.user.clone(), s.tenant.map(|_| m.tenant.clone())),
                None => (user(s.user), s.tenant.map(tenant)),
            };
            Session {
                id: id(SESSIONS[i]),
                user: owner,
                tenant: active,
                token_sha256: TokenHash::of(token),
                created_at: ts(created),
                // A negative lifetime means "expires that long after T0".
                expires_at: ts(if s.lifetime < 0 {
                    T0 - s.lifetime
                } else {
                    created + s.lifetime
                }),
                revoked_at: s.revoked.map(|o| ts(T0 + o)),
            }
        })
        .collect();
    let mut resources: Vec<Resource> = Vec::new();
    for &(t, r, owner, created) in &d.resources {
        let (t, r) = (tenant(t), id(pick(&RESOURCES, r)));
        if resources.iter().any(|x| x.tenant == t && x.id == r) {
            continue;
        }
        resources.push(Resource {
            tenant: t,
            id: r,
            owner: user(owner),
            created_at: ts(T0 + created),
        });
    }
    Snapshot {
        taken_at: d.taken_at.then(|| ts(T0)),
        tenants,
        users,
        memberships,
        api_keys,
        sessions,
        resources,
    }
}

/// A snapshot of 1–3 tenants and users that passes the integrity check.
pub fn snapshot() -> impl Strategy<Value = Snapshot> {
    snapshot_desc().prop_map(build_snapshot)
}

// ---------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------

/// When a command happens, relative to the previous one and the state.
#[derive(Clone, Debug)]
pub enum TimeIntent {
    /// The previous command's `at`.
    Same,
    /// That many seconds after the previous command.
    After(i64),
    /// The `nth` nearest anchor of the state at or after the previous
    /// command, moved by `delta` seconds (-1, 0 or +1).
    Anchor { nth: usize, delta: i64 },
}

fn time_intent() -> BoxedStrategy<TimeIntent> {
    prop_oneof![
        6 => Just(TimeIntent::Same),
        2 => select(vec![1, MIN, HOUR]).prop_map(TimeIntent::After),
        1 => select(vec![DAY, 10 * DAY, 31 * DAY]).prop_map(TimeIntent::After),
        4 => (0usize..4, -1i64..=1).prop_map(|(nth, delta)| TimeIntent::Anchor { nth, delta }),
    ]
    .boxed()
}

/// The records resolution looks at, borrowed from a snapshot or from an
/// engine state (which spares a snapshot copy per generated command).
#[derive(Clone, Debug)]
pub struct Records<'a> {
    pub taken_at: Option<Timestamp>,
    pub memberships: Vec<&'a Membership>,
    pub resources: Vec<&'a Resource>,
    pub api_keys: Vec<&'a ApiKey>,
    pub sessions: Vec<&'a Session>,
}

impl<'a> Records<'a> {
    /// The records of a snapshot.
    pub fn of_snapshot(s: &'a Snapshot) -> Records<'a> {
        Records {
            taken_at: s.taken_at,
            memberships: s.memberships.iter().collect(),
            resources: s.resources.iter().collect(),
            api_keys: s.api_keys.iter().collect(),
            sessions: s.sessions.iter().collect(),
        }
    }

    /// The records of an engine state.
    pub fn of_state(s: &'a State) -> Records<'a> {
        Records {
            taken_at: s.taken_at(),
            memberships: s.memberships().collect(),
            resources: s.resources().collect(),
            api_keys: s.api_keys().collect(),
            sessions: s.sessions().collect(),
        }
    }
}

/// The times at which something in `snap` changes under `policy`: every
/// record timestamp, each session's refresh point and absolute cap.
pub fn anchors(snap: &Snapshot, policy: &Policy) -> Vec<Timestamp> {
    anchors_of(&Records::of_snapshot(snap), policy)
}

fn anchors_of(r: &Records<'_>, policy: &Policy) -> Vec<Timestamp> {
    let mut out: BTreeSet<Timestamp> = BTreeSet::new();
    out.extend(r.taken_at);
    out.extend(r.memberships.iter().map(|m| m.since));
    out.extend(r.resources.iter().map(|r| r.created_at));
    for k in &r.api_keys {
        out.insert(k.created_at);
        out.extend(k.expires_at);
        out.extend(k.revoked_at);
        out.extend(k.deleted_at);
    }
    let s = &policy.session;
    for x in &r.sessions {
        out.insert(x.created_at);
        out.insert(x.expires_at);
        out.extend(x.revoked_at);
        out.insert(
            x.expires_at
                .saturating_sub(s.ttl)
                .saturating_add(s.refresh_after),
        );
        if let Some(max) = s.absolute_max {
            out.insert(x.created_at.saturating_add(max));
        }
    }
    out.into_iter().collect()
}

fn resolve_time(t: &TimeIntent, prev: Timestamp, anchors: &[Timestamp]) -> Timestamp {
    match *t {
        TimeIntent::Same => prev,
        TimeIntent::After(s) => prev.saturating_add(dur(s)),
        TimeIntent::Anchor { nth, delta } => {
            let mut c: Vec<Timestamp> = anchors
                .iter()
                .filter_map(|a| Timestamp::from_unix(a.unix() + delta))
                .filter(|a| *a >= prev)
                .collect();
            c.dedup();
            if c.is_empty() {
                prev
            } else {
                c[nth % c.len()]
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// What a request presents where a token goes.
#[derive(Clone, Debug)]
pub enum Presented {
    /// The token of the `i`-th credential record of the state (of the kind
    /// the header suggests), verbatim.
    Live(u8),
    /// `TOKENS[i]`, verbatim.
    Token(u8),
    /// `TOKENS[i]` percent-encoded (F03: it must not match).
    Encoded(u8),
    /// A valid token no record has.
    Unknown(u8),
    /// The empty string.
    Empty,
    /// Not a valid token.
    Invalid,
}

impl Presented {
    fn text(&self, live: &[usize]) -> String {
        match *self {
            Presented::Live(i) if !live.is_empty() => {
                TOKENS[live[usize::from(i) % live.len()]].to_string()
            }
            Presented::Live(i) | Presented::Token(i) => pick(&TOKENS, i).to_string(),
            Presented::Encoded(i) => pick(&TOKENS, i)
                .replace('%', "%25")
                .replace('/', "%2F")
                .replace('+', "%2B")
                .replace('=', "%3D"),
            Presented::Unknown(i) => pick(&UNKNOWN_TOKENS, i).to_string(),
            Presented::Empty => String::new(),
            Presented::Invalid => "bad\"token".to_string(),
        }
    }
}

fn presented() -> impl Strategy<Value = Presented> {
    prop_oneof![
        16 => any::<u8>().prop_map(Presented::Live),
        4 => (0u8..10).prop_map(Presented::Token),
        1 => any::<u8>().prop_map(Presented::Encoded),
        1 => any::<u8>().prop_map(Presented::Unknown),
        1 => Just(Presented::Empty),
        1 => Just(Presented::Invalid),
    ]
}

/// One pair of the `cookie` header.
#[derive(Clone, Debug)]
pub enum CookiePair {
    /// A session cookie: the policy's `name`-th cookie name.
    Session {
        name: u8,
        value: Presented,
        quote: Quote,
    },
    /// An unrelated cookie.
    Junk(u8),
    /// A pair without `=`.
    Malformed,
    /// A session cookie name in the wrong case (cookie names are exact).
    WrongCase(Presented),
}

/// How a session cookie's value is quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quote {
    None,
    /// `"value"`: the quotes are not part of the token (SPEC §4).
    Both,
    /// `"value_` and `_value"`: one quote only, so nothing is unquoted —
    /// though stripping both ends would give the token exactly.
    OpenOnly,
    CloseOnly,
}

fn quote() -> impl Strategy<Value = Quote> {
    prop_oneof![
        14 => Just(Quote::None),
        4 => Just(Quote::Both),
        1 => Just(Quote::OpenOnly),
        1 => Just(Quote::CloseOnly),
    ]
}

fn cookie_pair() -> impl Strategy<Value = CookiePair> {
    prop_oneof![
        12 => (any::<u8>(), presented(), quote())
            .prop_map(|(name, value, quote)| CookiePair::Session { name, value, quote }),
        2 => any::<u8>().prop_map(CookiePair::Junk),
        1 => Just(CookiePair::Malformed),
        1 => presented().prop_map(CookiePair::WrongCase),
    ]
}

/// One credential-carrying header.
#[derive(Clone, Debug)]
pub enum Credential {
    /// The `nth` credential record of the state in its natural header: a
    /// key in the API-key header, a session in the first session cookie
    /// (Bearer when the policy has no cookie).
    Natural(u8),
    /// The policy's API-key header, its name in some case.
    ApiKeyHeader { case: u8, value: Presented },
    /// A `cookie` header.
    Cookie {
        case: u8,
        pairs: Vec<CookiePair>,
        tight: bool,
    },
    /// An `authorization` header.
    Authorization {
        scheme: u8,
        spaces: u8,
        trailing: u8,
        value: Presented,
    },
}

/// Boxed, like the other strategies drawn inside unions ([`time_intent`],
/// [`start`], [`policy`]): a `prop_oneof!` value tree keeps, for every arm,
/// a test runner to draw it later (about 550 bytes each), so a credential's
/// tree is 10 KB, and unboxed it was copied again by every tree around it
/// (`memcpy` was 46 % of `check`'s instructions). Boxing moves a pointer
/// instead and draws exactly the same values.
fn credential() -> BoxedStrategy<Credential> {
    prop_oneof![
        (any::<u8>(), presented())
            .prop_map(|(case, value)| Credential::ApiKeyHeader { case, value }),
        (any::<u8>(), vec(cookie_pair(), 1..=3), any::<bool>())
            .prop_map(|(case, pairs, tight)| Credential::Cookie { case, pairs, tight }),
        (
            prop_oneof![6 => Just(0u8), 1 => any::<u8>()],
            prop_oneof![4 => Just(1u8), 1 => 1u8..4],
            prop_oneof![4 => Just(0u8), 1 => 1u8..3],
            presented(),
        )
            .prop_map(
                |(scheme, spaces, trailing, value)| Credential::Authorization {
                    scheme,
                    spaces,
                    trailing,
                    value
                }
            ),
    ]
    .boxed()
}

/// An `authenticate` command before resolution.
#[derive(Clone, Debug)]
pub struct RequestIntent {
    pub action: u8,
    pub credentials: Vec<Credential>,
    pub tenant: Option<u8>,
    pub resource: Option<u8>,
    pub extra_header: bool,
}

prop_compose! {
    pub fn request_intent()(
        action in prop_oneof![24 => 0u8..8, 1 => Just(u8::MAX)],
        credentials in prop_oneof![
            1 => Just(Vec::new()),
            10 => any::<u8>().prop_map(|n| vec![Credential::Natural(n)]),
            12 => credential().prop_map(|c| vec![c]),
            2 => vec(credential(), 2..=3),
        ],
        tenant in option::weighted(0.5, any::<u8>()),
        resource in option::weighted(0.3, any::<u8>()),
        extra_header in prop::bool::weighted(0.1),
    ) -> RequestIntent {
        RequestIntent { action, credentials, tenant, resource, extra_header }
    }
}

fn in_case(name: &str, case: u8) -> String {
    match case % 4 {
        0 => name.to_string(),
        1 => name.to_ascii_uppercase(),
        2 => name.to_ascii_lowercase(),
        _ => {
            // Title-Case-Per-Dash.
            name.split('-')
                .map(|w| {
                    let mut c = w.chars();
                    match c.next() {
                        Some(f) => {
                            f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()
                        }
                        None => String::new(),
                    }
                })
                .collect::<Vec<_>>()
                .join("-")
        }
    }
}

/// Unrelated cookies. `a=1` is short: after it the `;` before it lies in
/// the header's last 8 bytes, past its last whole 8-byte word, which the
/// engine's byte search reads one byte at a time (docs/VERIFICATION.md §2).
const JUNK_COOKIES: [&str; 4] = ["theme=dark", "lang=en-US", "_ga=GA1.2.3=4", "a=1"];
const SCHEMES: [&str; 5] = ["Bearer", "bearer", "BEARER", "Basic", "Token"];

fn headers(policy: &Policy, ctx: &Context, creds: &[Credential], extra: bool) -> Headers {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let has = |pairs: &Vec<(String, String)>, n: &str| {
        pairs.iter().any(|(m, _)| m.eq_ignore_ascii_case(n))
    };
    for c in creds {
        match c {
            Credential::Natural(nth) => {
                // Mostly a live credential, sometimes any.
                let list = if nth % 4 == 3 || ctx.live_tokens.is_empty() {
                    &ctx.all_tokens
                } else {
                    &ctx.live_tokens
                };
                let Some(&t) = list.get(usize::from(nth / 4) % list.len().max(1)) else {
                    continue;
                };
                let is_key = ctx.key_tokens.contains(&t);
                let (name, value) = if is_key {
                    (policy.api_key.header.clone(), TOKENS[t].to_string())
                } else if let Some(cookie) = policy.session.cookies.first() {
                    ("cookie".to_string(), format!("{cookie}={}", TOKENS[t]))
                } else {
                    ("authorization".to_string(), format!("Bearer {}", TOKENS[t]))
                };
                if !has(&pairs, &name) {
                    pairs.push((name, value));
                }
            }
            Credential::ApiKeyHeader { case, value } => {
                let name = in_case(&policy.api_key.header, *case);
                if !has(&pairs, &name) {
                    pairs.push((name, value.text(&ctx.key_tokens)));
                }
            }
            Credential::Cookie {
                case,
                pairs: cp,
                tight,
            } => {
                let name = in_case("cookie", *case);
                if has(&pairs, &name) {
                    continue;
                }
                let parts: Vec<String> = cp
                    .iter()
                    .map(|p| match p {
                        CookiePair::Session { name, value, quote } => {
                            let cookies = &policy.session.cookies;
                            let n = if cookies.is_empty() {
                                "better-auth.session_token".to_string()
                            } else {
                                cookies[usize::from(*name) % cookies.len()].clone()
                            };
                            let v = value.text(&ctx.session_tokens);
                            match quote {
                                Quote::None => format!("{n}={v}"),
                                Quote::Both => format!("{n}=\"{v}\""),
                                Quote::OpenOnly => format!("{n}=\"{v}_"),
                                Quote::CloseOnly => format!("{n}=_{v}\""),
                            }
                        }
                        CookiePair::Junk(i) => pick(&JUNK_COOKIES, *i).to_string(),
                        CookiePair::Malformed => "garbage".to_string(),
                        CookiePair::WrongCase(v) => {
                            format!("Better-Auth.Session_Token={}", v.text(&ctx.session_tokens))
                        }
                    })
                    .collect();
                let sep = if *tight { ";" } else { "; " };
                pairs.push((name, parts.join(sep)));
            }
            Credential::Authorization {
                scheme,
                spaces,
                trailing,
                value,
            } => {
                if has(&pairs, "authorization") {
                    continue;
                }
                let v = format!(
                    "{}{}{}{}",
                    pick(&SCHEMES, *scheme),
                    " ".repeat(usize::from(*spaces)),
                    value.text(&ctx.all_tokens),
                    " ".repeat(usize::from(*trailing)),
                );
                pairs.push(("authorization".to_string(), v));
            }
        }
    }
    if extra && !has(&pairs, "x-request-id") {
        pairs.push(("x-request-id".to_string(), "req-1".to_string()));
    }
    Headers::new(pairs).expect("header names are distinct by construction")
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// A command before resolution: indexes into the pools.
#[derive(Clone, Debug)]
pub enum OpIntent {
    CreateTenant(u8),
    SuspendTenant(u8),
    ReinstateTenant(u8),
    CreateUser(u8),
    BanUser(u8),
    UnbanUser(u8),
    AddMember {
        user: u8,
        tenant: u8,
        role: u8,
    },
    RemoveMember {
        user: u8,
        tenant: u8,
    },
    SetRole {
        user: u8,
        tenant: u8,
        role: u8,
    },
    MintApiKey {
        key: u8,
        owner: u8,
        tenant: u8,
        token: u8,
        caps: u8,
        expires: Option<i64>,
        name: Option<u8>,
    },
    UpdateApiKey {
        key: u8,
        name: Option<u8>,
        enabled: Option<bool>,
        expires: Option<Option<i64>>,
        immutable: Vec<(u8, u8)>,
    },
    RevokeApiKey(u8),
    DeleteApiKey(u8),
    Login {
        session: u8,
        user: u8,
        token: u8,
        tenant: Option<u8>,
    },
    Logout(u8),
    SwitchTenant {
        session: u8,
        tenant: u8,
    },
    CreateResource {
        tenant: u8,
        resource: u8,
        owner: u8,
    },
    DeleteResource {
        tenant: u8,
        resource: u8,
    },
    Authenticate(RequestIntent),
}

/// Expiry offsets from the command's `at`: already expired, expiring now,
/// or later.
fn expiry() -> impl Strategy<Value = i64> {
    select(vec![-1, 0, 1, HOUR, DAY])
}

/// Token indexes for mint and login: the pool (collisions, fresh ones) and
/// the bad ones past it.
fn command_token() -> impl Strategy<Value = u8> {
    prop_oneof![8 => 0u8..10, 1 => 10u8..13]
}

fn command_token_text(i: u8) -> &'static str {
    let i = usize::from(i) % (TOKENS.len() + BAD_TOKENS.len());
    if i < TOKENS.len() {
        TOKENS[i]
    } else {
        BAD_TOKENS[i - TOKENS.len()]
    }
}

const IMMUTABLE_FIELDS: [&str; 6] = [
    "tenant",
    "owner",
    "metadata",
    "capabilities",
    "token",
    "created_at",
];

fn immutable_value(i: u8) -> Value {
    match i % 7 {
        0 => json!("acme"),
        1 => Value::Null,
        2 => json!(true),
        3 => json!(42),
        4 => json!(["supervisor"]),
        5 => json!({"organizationId": "globex", "tags": [1, 2.5, null]}),
        _ => json!(""),
    }
}

fn op_intent() -> impl Strategy<Value = OpIntent> {
    let t = || any::<u8>();
    // Key and session ids: mostly the ones a snapshot holds (the first
    // three), so updates, revocations and logouts find their record.
    let existing = || prop_oneof![3 => 0u8..3, 1 => any::<u8>()];
    // Mostly the id no snapshot holds, so mint and login can succeed.
    let fresh = || prop_oneof![3 => Just(3u8), 1 => any::<u8>()];
    // Mint: mostly a fresh prefixed token; login: a fresh unprefixed one.
    let key_token = || prop_oneof![4 => Just(8u8), 3 => 0u8..4, 2 => command_token()];
    let session_token = || prop_oneof![4 => Just(9u8), 3 => 4u8..8, 2 => command_token()];
    prop_oneof![
        1 => t().prop_map(OpIntent::CreateTenant),
        1 => t().prop_map(OpIntent::SuspendTenant),
        1 => t().prop_map(OpIntent::ReinstateTenant),
        1 => t().prop_map(OpIntent::CreateUser),
        1 => t().prop_map(OpIntent::BanUser),
        1 => t().prop_map(OpIntent::UnbanUser),
        2 => (t(), t(), t()).prop_map(|(user, tenant, role)| OpIntent::AddMember { user, tenant, role }),
        2 => (t(), t()).prop_map(|(user, tenant)| OpIntent::RemoveMember { user, tenant }),
        1 => (t(), t(), t()).prop_map(|(user, tenant, role)| OpIntent::SetRole { user, tenant, role }),
        3 => (fresh(), t(), t(), key_token(), t(), option::weighted(0.3, expiry()), option::of(t()))
            .prop_map(|(key, owner, tenant, token, caps, expires, name)| OpIntent::MintApiKey {
                key, owner, tenant, token, caps, expires, name
            }),
        3 => (
            existing(),
            option::weighted(0.3, t()),
            option::weighted(0.5, any::<bool>()),
            option::weighted(0.3, option::weighted(0.7, expiry())),
            prop_oneof![3 => Just(Vec::new()), 1 => vec((t(), t()), 1..=2)],
        )
            .prop_map(|(key, name, enabled, expires, immutable)| OpIntent::UpdateApiKey {
                key, name, enabled, expires, immutable
            }),
        2 => existing().prop_map(OpIntent::RevokeApiKey),
        2 => existing().prop_map(OpIntent::DeleteApiKey),
        3 => (fresh(), t(), session_token(), option::weighted(0.5, t()))
            .prop_map(|(session, user, token, tenant)| OpIntent::Login { session, user, token, tenant }),
        2 => existing().prop_map(OpIntent::Logout),
        3 => (existing(), t()).prop_map(|(session, tenant)| OpIntent::SwitchTenant { session, tenant }),
        1 => (t(), t(), t()).prop_map(|(tenant, resource, owner)| OpIntent::CreateResource {
            tenant, resource, owner
        }),
        1 => (t(), t()).prop_map(|(tenant, resource)| OpIntent::DeleteResource { tenant, resource }),
        22 => request_intent().boxed().prop_map(OpIntent::Authenticate),
    ]
}

/// One command before resolution: when and what.
#[derive(Clone, Debug)]
pub struct Intent {
    pub time: TimeIntent,
    pub op: OpIntent,
}

prop_compose! {
    pub fn intent()(time in time_intent(), op in op_intent()) -> Intent {
        Intent { time, op }
    }
}

/// What resolution needs to know of the state a command will run against.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// See [`anchors`].
    pub anchors: Vec<Timestamp>,
    /// Indexes into [`TOKENS`] of the state's keys, in record order.
    pub key_tokens: Vec<usize>,
    /// Indexes into [`TOKENS`] of the state's sessions, in record order.
    pub session_tokens: Vec<usize>,
    /// Both, keys first.
    pub all_tokens: Vec<usize>,
    /// The tokens of keys and sessions usable at the previous command's
    /// time (not revoked, deleted, disabled or expired), keys first.
    pub live_tokens: Vec<usize>,
}

/// SHA-256 of every pool token, computed once.
fn token_hashes() -> &'static [TokenHash; 10] {
    static HASHES: std::sync::OnceLock<[TokenHash; 10]> = std::sync::OnceLock::new();
    HASHES.get_or_init(|| TOKENS.map(TokenHash::of))
}

impl Context {
    /// The context of `snap` under `policy`, for a command at or after
    /// `prev`.
    pub fn of(snap: &Snapshot, policy: &Policy, prev: Timestamp) -> Context {
        Context::of_records(&Records::of_snapshot(snap), policy, prev)
    }

    /// The context of `r` under `policy`, for a command at or after `prev`.
    pub fn of_records(r: &Records<'_>, policy: &Policy, prev: Timestamp) -> Context {
        let hashes = token_hashes();
        let index = |h: &TokenHash| hashes.iter().position(|x| x == h);
        let key_tokens: Vec<usize> = r
            .api_keys
            .iter()
            .filter_map(|k| index(&k.token_sha256))
            .collect();
        let session_tokens: Vec<usize> = r
            .sessions
            .iter()
            .filter_map(|k| index(&k.token_sha256))
            .collect();
        let dead = |t: Option<Timestamp>| t.is_some_and(|t| t <= prev);
        let live_keys = r.api_keys.iter().filter(|k| {
            k.enabled && !dead(k.revoked_at) && !dead(k.deleted_at) && !dead(k.expires_at)
        });
        let live_sessions = r
            .sessions
            .iter()
            .filter(|x| !dead(x.revoked_at) && x.expires_at > prev);
        let live_tokens = live_keys
            .filter_map(|k| index(&k.token_sha256))
            .chain(live_sessions.filter_map(|x| index(&x.token_sha256)))
            .collect();
        Context {
            anchors: anchors_of(r, policy),
            live_tokens,
            all_tokens: key_tokens.iter().chain(&session_tokens).copied().collect(),
            key_tokens,
            session_tokens,
        }
    }
}

/// Resolves an intent into a command at or after `prev`, against the state
/// described by `ctx`, under `policy`.
pub fn resolve(intent: &Intent, policy: &Policy, ctx: &Context, prev: Timestamp) -> Command {
    let at = resolve_time(&intent.time, prev, &ctx.anchors);
    let tenant = |i: u8| id(pick(&TENANTS, i));
    let user = |i: u8| id(pick(&USERS, i));
    let key = |i: u8| id(pick(&KEYS, i));
    let session = |i: u8| id(pick(&SESSIONS, i));
    let resource = |i: u8| id(pick(&RESOURCES, i));
    let role = |i: u8| pick(&ROLES, i).to_string();
    let later = |s: i64| Timestamp::from_unix(at.unix() + s).unwrap_or(at);
    let op = match &intent.op {
        OpIntent::CreateTenant(t) => Op::CreateTenant { tenant: tenant(*t) },
        OpIntent::SuspendTenant(t) => Op::SuspendTenant { tenant: tenant(*t) },
        OpIntent::ReinstateTenant(t) => Op::ReinstateTenant { tenant: tenant(*t) },
        OpIntent::CreateUser(u) => Op::CreateUser { user: user(*u) },
        OpIntent::BanUser(u) => Op::BanUser { user: user(*u) },
        OpIntent::UnbanUser(u) => Op::UnbanUser { user: user(*u) },
        OpIntent::AddMember {
            user: u,
            tenant: t,
            role: r,
        } => Op::AddMember {
            user: user(*u),
            tenant: tenant(*t),
            role: role(*r),
        },
        OpIntent::RemoveMember { user: u, tenant: t } => Op::RemoveMember {
            user: user(*u),
            tenant: tenant(*t),
        },
        OpIntent::SetRole {
            user: u,
            tenant: t,
            role: r,
        } => Op::SetRole {
            user: user(*u),
            tenant: tenant(*t),
            role: role(*r),
        },
        OpIntent::MintApiKey {
            key: k,
            owner,
            tenant: t,
            token,
            caps,
            expires,
            name,
        } => Op::MintApiKey {
            key: key(*k),
            owner: user(*owner),
            tenant: tenant(*t),
            token: Token::new(command_token_text(*token)),
            capabilities: CAPABILITY_SETS[usize::from(*caps) % CAPABILITY_SETS.len()]
                .iter()
                .map(|c| c.to_string())
                .collect(),
            expires_at: expires.map(later),
            name: name.map(|n| pick(&["ci", "prod"], n).to_string()),
        },
        OpIntent::UpdateApiKey {
            key: k,
            name,
            enabled,
            expires,
            immutable,
        } => Op::UpdateApiKey {
            key: key(*k),
            name: name.map(|n| pick(&["", "ci", "prod"], n).to_string()),
            enabled: *enabled,
            expires_at: expires.map(|e| e.map(later)),
            immutable: immutable
                .iter()
                .map(|(f, v)| (pick(&IMMUTABLE_FIELDS, *f).to_string(), immutable_value(*v)))
                .collect(),
        },
        OpIntent::RevokeApiKey(k) => Op::RevokeApiKey { key: key(*k) },
        OpIntent::DeleteApiKey(k) => Op::DeleteApiKey { key: key(*k) },
        OpIntent::Login {
            session: s,
            user: u,
            token,
            tenant: t,
        } => Op::Login {
            session: session(*s),
            user: user(*u),
            token: Token::new(command_token_text(*token)),
            tenant: t.map(tenant),
        },
        OpIntent::Logout(s) => Op::Logout {
            session: session(*s),
        },
        OpIntent::SwitchTenant {
            session: s,
            tenant: t,
        } => Op::SwitchTenant {
            session: session(*s),
            tenant: tenant(*t),
        },
        OpIntent::CreateResource {
            tenant: t,
            resource: r,
            owner,
        } => Op::CreateResource {
            tenant: tenant(*t),
            resource: resource(*r),
            owner: user(*owner),
        },
        OpIntent::DeleteResource {
            tenant: t,
            resource: r,
        } => Op::DeleteResource {
            tenant: tenant(*t),
            resource: resource(*r),
        },
        OpIntent::Authenticate(r) => {
            let names: Vec<&String> = policy.actions.keys().collect();
            let i = usize::from(r.action);
            let action = if r.action == u8::MAX || names.is_empty() {
                UNKNOWN_ACTION.to_string()
            } else {
                names[i % names.len()].clone()
            };
            Op::Authenticate {
                action,
                headers: headers(policy, ctx, &r.credentials, r.extra_header),
                tenant: r.tenant.map(tenant),
                resource: r.resource.map(resource),
            }
        }
    };
    Command { at, op }
}

/// Where a generated trace starts: before, at or around [`T0`].
fn start() -> BoxedStrategy<i64> {
    prop_oneof![3 => Just(-HOUR), 2 => Just(0), 1 => Just(-2 * DAY), 1 => Just(-31 * DAY)].boxed()
}

/// Resolves intents one after the other, simulating them on the engine so
/// each command's anchors are those of the state it will run against. The
/// result is a whole case: a policy, an initial snapshot that passes
/// integrity, and commands with non-decreasing `at`.
pub fn resolve_trace(policy: Policy, snapshot: Snapshot, start: i64, intents: &[Intent]) -> Trace {
    let mut state =
        State::from_snapshot(snapshot.clone()).expect("generated snapshots pass integrity");
    let mut prev = ts(T0 + start);
    let mut steps = Vec::with_capacity(intents.len());
    for i in intents {
        let cmd = resolve(
            i,
            &policy,
            &Context::of_records(&Records::of_state(&state), &policy, prev),
            prev,
        );
        state.apply(&policy, &cmd);
        prev = cmd.at;
        steps.push(cmd);
    }
    Trace {
        policy,
        snapshot,
        steps,
    }
}

/// Cases under `policy`, or under drawn policies when `None`, with up to
/// `max_steps` commands.
pub fn trace(policy: Option<Policy>, max_steps: usize) -> BoxedStrategy<Trace> {
    let policy: BoxedStrategy<Policy> = match policy {
        Some(p) => Just(p).boxed(),
        None => self::policy().boxed(),
    };
    (policy, snapshot(), start(), vec(intent(), 1..=max_steps))
        .prop_map(|(p, s, start, intents)| resolve_trace(p, s, start, &intents))
        .boxed()
}

/// Commands for the state `snap` under `policy`, at or after `prev` (for
/// state-machine tests, where the state is known when drawing).
pub fn command(policy: &Policy, snap: &Snapshot, prev: Timestamp) -> BoxedStrategy<Command> {
    let policy = policy.clone();
    let ctx = Context::of(snap, &policy, prev);
    intent()
        .prop_map(move |i| resolve(&i, &policy, &ctx, prev))
        .boxed()
}

/// The `at` a generated trace starts from when nothing else says.
pub fn start_time() -> Timestamp {
    ts(T0 - HOUR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    #[test]
    fn generated_cases_are_well_formed() {
        let mut runner = TestRunner::deterministic();
        let s = trace(None, 12);
        for _ in 0..200 {
            let c = s.new_tree(&mut runner).unwrap().current();
            State::from_snapshot(c.snapshot.clone()).expect("integrity");
            for w in c.steps.windows(2) {
                assert!(w[0].at <= w[1].at);
            }
            for cmd in &c.steps {
                let v = serde_json::to_value(cmd).unwrap();
                assert_eq!(Command::from_value(v).unwrap(), *cmd);
            }
        }
    }

    #[test]
    fn tokens_are_tokens() {
        for t in TOKENS.iter().chain(&UNKNOWN_TOKENS) {
            assert!(authproof_engine::is_valid_token(t), "{t}");
            assert!(t.len() >= 8);
        }
    }
}
