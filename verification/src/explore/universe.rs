//! The explorer's universe: one small snapshot dense in the places bugs
//! live, the clock values on its boundaries, and the move alphabets.

use authproof_engine::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    Command, Headers, Id, Op, Policy, Request, Snapshot, Timestamp, Token, TokenHash,
};

use super::symmetry::{same_records, Renaming};

fn id(s: &str) -> Id {
    Id::new(s).expect("universe ids are valid")
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs).expect("universe times are in range")
}

const DAY: i64 = 86_400;
/// Where the universe's clock starts, 2026-05-01T00:00:00Z (the generators'
/// centre, `generate::T0`, is another date on purpose: different anchors).
const UNIVERSE_START: i64 = 1_777_593_600;

/// Tokens of the universe: every one contains `/ + = %`.
pub const TOKENS: [(&str, &str); 5] = [
    ("k1", "sk_live_k1/+=%2F"),
    ("k2", "sk_live_k2+/=="),
    ("s1", "s1/+=%3Dtok"),
    ("s2", "s2%2B+/=tok"),
    ("s3", "s3==/+%tok"),
];

fn token(name: &str) -> &'static str {
    TOKENS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("known token")
}

/// A small universe: the initial snapshot, the clock values and the move
/// alphabets.
#[derive(Clone, Debug)]
pub struct Universe {
    pub snapshot: Snapshot,
    /// Clock values, increasing; the search starts at the first.
    pub times: Vec<Timestamp>,
    /// State-changing commands (without `at`).
    pub ops: Vec<Op>,
    /// `authenticate` commands, one per request shape (without `at`).
    pub requests: Vec<Op>,
    /// Renamings the universe is closed under, every non-identity element
    /// of the group (see [`super::symmetry`]); empty when no two elements
    /// play the same role. [`Universe::check_symmetries`] checks them.
    pub symmetries: Vec<Renaming>,
}

impl Universe {
    /// The universe of the default policy's session timing.
    pub fn small() -> Universe {
        Universe::for_policy(&Policy::default())
    }

    /// A universe whose clock values straddle `policy`'s expiry and
    /// sliding-refresh boundaries.
    pub fn for_policy(policy: &Policy) -> Universe {
        let ttl = policy.session.ttl.secs().clamp(2, 365 * DAY);
        let refresh_after = policy.session.refresh_after.secs().min(ttl);
        // s1: mid-life at UNIVERSE_START and past its refresh boundary; s2: fresh at UNIVERSE_START.
        let s1_expires = UNIVERSE_START + ttl / 2;
        let s2_expires = UNIVERSE_START + ttl;
        let k1_expires = UNIVERSE_START + ttl / 4 + 1;
        let mut times = vec![
            UNIVERSE_START,
            s2_expires - ttl + refresh_after - 1,
            s2_expires - ttl + refresh_after,
            k1_expires,
            s1_expires - 1,
            s1_expires,
            s1_expires + 1,
        ];
        times.sort_unstable();
        times.dedup();
        let times: Vec<Timestamp> = times
            .into_iter()
            .filter(|&t| t >= UNIVERSE_START)
            .map(ts)
            .collect();

        let hash = |n: &str| TokenHash::of(token(n));
        let snapshot = Snapshot {
            taken_at: Some(ts(UNIVERSE_START)),
            tenants: ["t1", "t2"]
                .iter()
                .map(|t| Tenant {
                    id: id(t),
                    suspended: false,
                })
                .collect(),
            users: ["u1", "u2"]
                .iter()
                .map(|u| User {
                    id: id(u),
                    banned: false,
                })
                .collect(),
            memberships: [
                ("u1", "t1", "owner"),
                ("u2", "t1", "member"),
                ("u2", "t2", "owner"),
            ]
            .iter()
            .map(|(u, t, r)| Membership {
                user: id(u),
                tenant: id(t),
                role: (*r).into(),
                since: ts(UNIVERSE_START - 100 * DAY),
            })
            .collect(),
            api_keys: vec![
                ApiKey {
                    id: id("k1"),
                    owner: id("u1"),
                    tenant: Some(id("t1")),
                    token_sha256: hash("k1"),
                    prefix: "sk_live_".into(),
                    capabilities: vec!["supervisor".into()],
                    enabled: true,
                    name: "ci".into(),
                    created_at: ts(UNIVERSE_START - 50 * DAY),
                    expires_at: Some(ts(k1_expires)),
                    revoked_at: None,
                    deleted_at: None,
                },
                ApiKey {
                    id: id("k2"),
                    owner: id("u2"),
                    tenant: None,
                    token_sha256: hash("k2"),
                    prefix: "sk_live_".into(),
                    capabilities: Vec::new(),
                    enabled: true,
                    name: "legacy".into(),
                    created_at: ts(UNIVERSE_START - 400 * DAY),
                    expires_at: None,
                    revoked_at: None,
                    deleted_at: None,
                },
            ],
            sessions: vec![
                Session {
                    id: id("s1"),
                    user: id("u1"),
                    tenant: Some(id("t1")),
                    token_sha256: hash("s1"),
                    created_at: ts(s1_expires - ttl),
                    expires_at: ts(s1_expires),
                    revoked_at: None,
                },
                Session {
                    id: id("s2"),
                    user: id("u2"),
                    tenant: None,
                    token_sha256: hash("s2"),
                    created_at: ts(UNIVERSE_START),
                    expires_at: ts(s2_expires),
                    revoked_at: None,
                },
            ],
            resources: vec![
                Resource {
                    tenant: id("t1"),
                    id: id("conv"),
                    owner: id("u1"),
                    created_at: Timestamp::EPOCH,
                },
                Resource {
                    tenant: id("t2"),
                    id: id("conv"),
                    owner: id("u2"),
                    created_at: Timestamp::EPOCH,
                },
            ],
        };

        let key = || id("k1");
        let ops = vec![
            Op::RevokeApiKey { key: key() },
            Op::DeleteApiKey { key: key() },
            update_k1(Some(false), None),
            update_k1(Some(true), None),
            update_k1(None, Some(("tenant", "t2"))),
            Op::RemoveMember {
                user: id("u1"),
                tenant: id("t1"),
            },
            Op::AddMember {
                user: id("u1"),
                tenant: id("t1"),
                role: "owner".into(),
            },
            Op::RemoveMember {
                user: id("u2"),
                tenant: id("t2"),
            },
            Op::AddMember {
                user: id("u1"),
                tenant: id("t2"),
                role: "member".into(),
            },
            Op::SetRole {
                user: id("u2"),
                tenant: id("t1"),
                role: "admin".into(),
            },
            Op::BanUser { user: id("u1") },
            Op::UnbanUser { user: id("u1") },
            Op::Logout { session: id("s1") },
            Op::SwitchTenant {
                session: id("s2"),
                tenant: id("t1"),
            },
            Op::SuspendTenant { tenant: id("t1") },
            Op::ReinstateTenant { tenant: id("t1") },
            Op::Login {
                session: id("s3"),
                user: id("u1"),
                token: Token::new(token("s3")),
                tenant: Some(id("t1")),
            },
            Op::DeleteResource {
                tenant: id("t1"),
                resource: id("conv"),
            },
            Op::CreateResource {
                tenant: id("t1"),
                resource: id("conv"),
                owner: id("u2"),
            },
        ];

        let requests = [
            (
                "supervisor.connect",
                vec![("x-api-key", token("k1").to_string())],
                None,
                None,
            ),
            (
                "supervisor.connect",
                vec![("X-API-Key", token("k1").to_string())],
                Some("t2"),
                None,
            ),
            (
                "workspace.read",
                vec![("authorization", format!("Bearer {}", token("k1")))],
                None,
                None,
            ),
            (
                "workspace.read",
                vec![("x-api-key", token("k2").to_string())],
                None,
                None,
            ),
            (
                "conversation.resume",
                vec![(
                    "cookie",
                    format!(
                        "theme=dark; __Secure-better-auth.session_token={}",
                        token("s1")
                    ),
                )],
                None,
                Some("conv"),
            ),
            (
                "workspace.read",
                vec![("authorization", format!("bearer   {}  ", token("s1")))],
                Some("t2"),
                None,
            ),
            (
                "conversation.resume",
                vec![(
                    "Cookie",
                    format!("better-auth.session_token=\"{}\"", token("s2")),
                )],
                Some("t2"),
                Some("conv"),
            ),
            (
                "workspace.read",
                vec![(
                    "cookie",
                    format!("better-auth.session_token={}", token("s2")),
                )],
                None,
                None,
            ),
            (
                "member.remove",
                vec![(
                    "cookie",
                    format!("better-auth.session_token={}", token("s2")),
                )],
                Some("t1"),
                None,
            ),
            (
                "session.read",
                vec![(
                    "cookie",
                    format!("__Host-better-auth.session_token={}", token("s3")),
                )],
                None,
                None,
            ),
            (
                "workspace.read",
                vec![("cookie", "theme=dark".to_string())],
                Some("t1"),
                None,
            ),
            (
                "workspace.read",
                vec![("authorization", "Basic dXNlcjpwdw==".to_string())],
                Some("t1"),
                None,
            ),
            (
                "workspace.read",
                vec![
                    ("x-api-key", token("k1").to_string()),
                    (
                        "cookie",
                        format!("better-auth.session_token={}", token("s2")),
                    ),
                ],
                None,
                None,
            ),
            (
                "billing.export",
                vec![("x-api-key", token("k1").to_string())],
                None,
                None,
            ),
        ]
        .into_iter()
        .map(|(action, headers, tenant, resource)| Op::Authenticate {
            action: action.into(),
            headers: Headers::new(headers).expect("distinct header names"),
            tenant: tenant.map(id),
            resource: resource.map(id),
        })
        .collect();

        Universe {
            snapshot,
            times,
            ops,
            requests,
            symmetries: Vec::new(),
        }
    }

    /// [`Universe::wide_for_policy`] of the default policy.
    pub fn wide() -> Universe {
        Universe::wide_for_policy(&Policy::default())
    }

    /// The small universe widened with a third tenant, `t3`, a mirror of
    /// `t2`: its own `conv` and owner membership for `u2`, and a mirror of
    /// every move that names `t2` (rebinding `k1` to it, `u2` leaving it,
    /// `u1` joining it, the requests that ask for it). The universe is
    /// closed under exchanging `t2` and `t3`, so the search keeps one
    /// state per mirrored pair (symmetry reduction).
    ///
    /// Why `t2`: a second tenant holding a resource with the same id as
    /// another is where cross-tenant reuse lives, and with a third one a
    /// key can be rebound twice to two different tenants, and a user can
    /// belong to, leave and rejoin several. `u2`'s oldest membership stays
    /// `t1` (no move removes it), so no tie between the mirrors is broken
    /// by id (module docs of `symmetry`).
    pub fn wide_for_policy(policy: &Policy) -> Universe {
        let mut u = Universe::for_policy(policy);
        let (t2, t3) = (id("t2"), id("t3"));
        let swap = Renaming::swap_tenants(&t2, &t3);
        let mirrored = swap.snapshot(&u.snapshot);
        let s = &mut u.snapshot;
        s.tenants
            .extend(mirrored.tenants.iter().filter(|x| x.id == t3).cloned());
        s.memberships.extend(
            mirrored
                .memberships
                .iter()
                .filter(|m| m.tenant == t3)
                .cloned(),
        );
        s.resources.extend(
            mirrored
                .resources
                .iter()
                .filter(|r| r.tenant == t3)
                .cloned(),
        );
        for alphabet in [&mut u.ops, &mut u.requests] {
            let mirrors: Vec<Op> = alphabet
                .iter()
                .map(|op| swap.op(op))
                .filter(|op| !alphabet.contains(op))
                .collect();
            alphabet.extend(mirrors);
        }
        u.symmetries.push(swap);
        u
    }

    /// Checks that the universe is closed under each of its
    /// [`Universe::symmetries`] and that they form a group: the renamed
    /// initial snapshot holds the same records, each renamed move is a
    /// move, and the composition of two renamings is the identity or
    /// another of them. The error says which condition fails.
    pub fn check_symmetries(&self) -> Result<(), String> {
        for r in &self.symmetries {
            let what = r.describe();
            if !same_records(&r.snapshot(&self.snapshot), &self.snapshot) {
                return Err(format!("renaming {what} changes the initial records"));
            }
            for op in self.ops.iter().chain(&self.requests) {
                let renamed = r.op(op);
                if !self.ops.contains(&renamed) && !self.requests.contains(&renamed) {
                    return Err(format!("renaming {what} maps a move outside the universe"));
                }
            }
            for q in &self.symmetries {
                let both = r.then(q);
                if !both.is_identity() && !self.symmetries.contains(&both) {
                    return Err(format!(
                        "the renamings are not a group: {what} then {} is missing",
                        q.describe()
                    ));
                }
            }
        }
        Ok(())
    }

    /// What the universe holds, for reports: "2 tenants, 2 users, 2 keys
    /// (1 legacy), 2 sessions, 2 resources sharing one id".
    pub fn summary(&self) -> String {
        let s = &self.snapshot;
        let legacy = s.api_keys.iter().filter(|k| k.tenant.is_none()).count();
        let shared = s.resources.len() > 1 && s.resources.iter().all(|r| r.id == s.resources[0].id);
        format!(
            "{} tenants, {} users, {} keys ({legacy} legacy), {} sessions, {} resources{}",
            s.tenants.len(),
            s.users.len(),
            s.api_keys.len(),
            s.sessions.len(),
            s.resources.len(),
            if shared { " sharing one id" } else { "" }
        )
    }

    /// Every request of the alphabet at time `at`, as `authenticate`
    /// commands.
    pub fn request_commands(&self, at: Timestamp) -> Vec<Command> {
        self.requests
            .iter()
            .map(|op| Command { at, op: op.clone() })
            .collect()
    }

    /// Every request of the alphabet at time `at`.
    pub fn requests(&self, at: Timestamp) -> Vec<Request> {
        self.request_commands(at)
            .iter()
            .filter_map(Command::request)
            .collect()
    }

    /// Number of moves from each state: commands, requests and the tick.
    pub fn branching(&self) -> usize {
        self.ops.len() + self.requests.len() + 1
    }

    pub(super) fn moves(&self) -> impl Iterator<Item = Option<&Op>> {
        std::iter::once(None).chain(self.ops.iter().chain(self.requests.iter()).map(Some))
    }
}

fn update_k1(enabled: Option<bool>, immutable: Option<(&str, &str)>) -> Op {
    Op::UpdateApiKey {
        key: id("k1"),
        name: None,
        enabled,
        expires_at: None,
        immutable: immutable
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.into())))
            .into_iter()
            .collect(),
    }
}
