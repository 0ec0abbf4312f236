//! Exhaustive small-scope exploration.
//!
//! Random testing finds most bugs; exhaustive search of a small universe
//! proves their absence up to a bound and, being breadth-first, returns the
//! *shortest* counterexample. The universe is deliberately tiny but dense in
//! the places bugs live: two tenants holding a resource with the same id, a
//! legacy key next to a bound one, sessions with and without an active
//! tenant, tokens full of `/ + = %`, every header shape, and clock values on
//! the exact expiry and sliding-refresh boundaries.
//!
//! Every move is either a command (the [`Universe::ops`] and
//! [`Universe::requests`] alphabets, applied at the current time) or a tick
//! of the clock to the next of [`Universe::times`]. Each command runs on the
//! engine and the reference model side by side, and every invariant is
//! checked on every transition. States are deduplicated by a canonical
//! encoding: the engine's snapshot JSON plus the clock index, hashed to 128
//! bits. The invariant history kept for a state is that of the first
//! (shortest) path reaching it.
//!
//! Memory is bounded by `max_states`: when the visited set is full, the
//! search finishes the level it is on without adding states and reports the
//! last depth it completed — a bound, not a crash. A kept state costs about
//! 5 KB (its snapshot, invariant history and path; depth 4 keeps 410k states
//! in 2.2 GB), so the default bound of 1M states stays near 5 GB.

use std::{
    collections::HashSet,
    time::{Duration as StdDuration, Instant},
};

use authproof_engine::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    Command, CommandResult, Fault, Headers, Id, Op, Policy, Request, Snapshot, State, Timestamp,
    Token, TokenHash,
};
use serde::Serialize;

use crate::{
    lockstep::{inject_fault, judge, Observed},
    History, Model, Trace, Violation,
};

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
                role: r.to_string(),
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
        }
    }

    /// Every request of the alphabet at time `at`.
    pub fn requests(&self, at: Timestamp) -> Vec<Request> {
        self.requests
            .iter()
            .filter_map(|op| Command { at, op: op.clone() }.request())
            .collect()
    }

    /// Number of moves from each state: commands, requests and the tick.
    pub fn branching(&self) -> usize {
        self.ops.len() + self.requests.len() + 1
    }

    fn moves(&self) -> impl Iterator<Item = Option<&Op>> {
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

/// How to explore.
#[derive(Clone, Debug)]
pub struct Config {
    /// Maximum number of commands on a path (ticks are free).
    pub depth: usize,
    /// `(i, n)`: explore only paths whose first move index is `i` mod `n`.
    pub shard: (usize, usize),
    /// Visited-set bound; see the module docs.
    pub max_states: usize,
    /// A fault to inject into the engine (needs the `faults` feature).
    pub fault: Option<Fault>,
    /// Stop at the first violation (the shortest, by BFS order).
    pub stop_at_first: bool,
    /// Give up after this long; the report says the depth completed.
    pub time_limit: Option<StdDuration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            depth: 4,
            shard: (0, 1),
            max_states: 1_000_000,
            fault: None,
            stop_at_first: true,
            time_limit: None,
        }
    }
}

/// Progress after each level.
#[derive(Clone, Debug, Serialize)]
pub struct Level {
    pub depth: usize,
    pub states: u64,
    pub transitions: u64,
    /// The next level's frontier so far.
    pub frontier: usize,
    /// Nodes of this level expanded, of `of` (equal when `done`).
    pub expanded: usize,
    pub of: usize,
    /// The level is finished; otherwise this is a report from inside it
    /// (every 1,024 nodes), for a moving progress line.
    pub done: bool,
    pub elapsed: StdDuration,
}

/// A shortest counterexample.
#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    pub violation: Violation,
    /// The trace (SPEC §10 format), ready for `authproof replay`.
    pub trace: serde_json::Value,
    /// Number of commands in the trace.
    pub steps: usize,
}

/// What a search did.
#[derive(Clone, Debug, Serialize)]
pub struct ExploreReport {
    /// Distinct states visited.
    pub states: u64,
    /// Commands run (engine + model + invariants each).
    pub transitions: u64,
    /// The deepest level fully explored.
    pub depth_completed: usize,
    /// The state bound was reached.
    pub limit_reached: bool,
    /// The time limit was reached.
    pub timed_out: bool,
    #[serde(serialize_with = "secs")]
    pub elapsed: StdDuration,
    pub counterexample: Option<Counterexample>,
}

fn secs<S: serde::Serializer>(d: &StdDuration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl ExploreReport {
    /// Transitions per second.
    pub fn rate(&self) -> f64 {
        self.transitions as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One node of the search. The engine and model states are not kept: both
/// equal `snapshot` (I5 checks that on every step, and a violating state is
/// never kept), so they are rebuilt from it when the node is expanded. That
/// keeps a frontier node to its snapshot, history and path.
#[derive(Clone)]
struct Node {
    history: History,
    snapshot: Snapshot,
    clock: usize,
    /// Commands on the path so far, with their times.
    path: Vec<Command>,
    /// Index of the first move, for sharding.
    first: Option<usize>,
}

/// The engine on `snapshot`, with `fault` injected.
fn engine(snapshot: &Snapshot, fault: Option<Fault>) -> State {
    let mut s = State::from_snapshot(snapshot.clone()).expect("universe snapshot is well formed");
    inject_fault(&mut s, fault);
    s
}

fn fingerprint(snapshot: &Snapshot, clock: usize) -> u128 {
    use std::hash::{Hash, Hasher};
    // Two independent 64-bit SipHashes (fixed keys, so deterministic) make
    // a 128-bit fingerprint; a collision would merge two states, at odds of
    // about n²/2¹²⁹ for n states.
    let mut a = std::hash::DefaultHasher::new();
    let mut b = std::hash::DefaultHasher::new();
    0xa5u8.hash(&mut b);
    for h in [&mut a, &mut b] {
        snapshot.hash(h);
        clock.hash(h);
    }
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// Runs one command on both implementations and checks every invariant.
/// Returns the next node, or `None` when the state did not change (it is
/// then already known, so the search does not keep it).
fn step(
    node: &Node,
    engine: &State,
    model: &Model,
    policy: &Policy,
    cmd: &Command,
) -> (Option<Node>, Vec<Violation>) {
    // A request without effects changes nothing on either side: decide on
    // the node itself instead of copying it. `apply` on `authenticate` is
    // exactly `decide` plus its effects, so the checked result is the same.
    if let Some(req) = cmd.request() {
        let decision = engine.decide(policy, &req);
        if decision.effects.is_empty() {
            let wrap = |d| CommandResult::Decision {
                op: "authenticate".into(),
                decision: Box::new(d),
            };
            let engine_result = wrap(decision);
            let model_result = wrap(model.decide(&req));
            let mut history = node.history.clone();
            let violations = check(
                &mut history,
                node,
                policy,
                cmd,
                &engine_result,
                &model_result,
                &node.snapshot,
                &node.snapshot,
            );
            return (None, violations);
        }
    }
    // Copy only what the step changes: the node's snapshot is replaced by
    // `after`, so it is not cloned.
    let mut engine = engine.clone();
    let engine_result = engine.apply(policy, cmd);
    let after = engine.to_snapshot();
    let mut model = model.clone();
    let model_result = model.apply(cmd);
    let model_after = model.snapshot();
    let mut history = node.history.clone();
    let violations = check(
        &mut history,
        node,
        policy,
        cmd,
        &engine_result,
        &model_result,
        &after,
        &model_after,
    );
    if after == node.snapshot {
        return (None, violations);
    }
    let mut path = node.path.clone();
    path.push(cmd.clone());
    let next = Node {
        history,
        snapshot: after,
        clock: node.clock,
        path,
        first: node.first,
    };
    (Some(next), violations)
}

/// Judges a transition from `node` with the harness's step judge.
#[allow(clippy::too_many_arguments)]
fn check(
    history: &mut History,
    node: &Node,
    policy: &Policy,
    cmd: &Command,
    result: &CommandResult,
    model: &CommandResult,
    after: &Snapshot,
    model_after: &Snapshot,
) -> Vec<Violation> {
    judge(
        history,
        Observed {
            policy,
            index: node.path.len(),
            command: cmd,
            before: &node.snapshot,
            after,
            result,
            model,
            model_after,
        },
    )
}

/// Breadth-first search of `universe` under `policy`.
pub fn explore(
    universe: &Universe,
    policy: &Policy,
    cfg: &Config,
    progress: &mut dyn FnMut(&Level),
) -> ExploreReport {
    let start = Instant::now();
    let root = Node {
        history: History::new(&universe.snapshot),
        snapshot: universe.snapshot.clone(),
        clock: 0,
        path: Vec::new(),
        first: None,
    };
    let mut seen: HashSet<u128> = HashSet::new();
    seen.insert(fingerprint(&root.snapshot, 0));
    let mut report = ExploreReport {
        states: 1,
        transitions: 0,
        depth_completed: 0,
        limit_reached: false,
        timed_out: false,
        elapsed: StdDuration::ZERO,
        counterexample: None,
    };
    let (shard, shards) = (cfg.shard.0, cfg.shard.1.max(1));
    let mut frontier = vec![root];
    for depth in 1..=cfg.depth {
        let mut next_frontier = Vec::new();
        // Ticks do not count toward depth: close the frontier under them.
        let mut i = 0;
        while i < frontier.len() {
            let node = &frontier[i];
            if node.clock + 1 < universe.times.len() {
                let mut later = node.clone();
                later.clock += 1;
                if seen.insert(fingerprint(&later.snapshot, later.clock)) {
                    report.states += 1;
                    frontier.push(later);
                }
            }
            i += 1;
        }
        for (expanded, node) in frontier.iter().enumerate() {
            if expanded % 1024 == 1023 {
                progress(&Level {
                    depth,
                    states: report.states,
                    transitions: report.transitions,
                    frontier: next_frontier.len(),
                    expanded,
                    of: frontier.len(),
                    done: false,
                    elapsed: start.elapsed(),
                });
            }
            if cfg.time_limit.is_some_and(|t| start.elapsed() > t) {
                report.timed_out = true;
                break;
            }
            let at = universe.times[node.clock];
            let engine = engine(&node.snapshot, cfg.fault);
            let model = Model::new(&node.snapshot, policy);
            for (m, op) in universe.moves().enumerate() {
                let Some(op) = op else { continue };
                let first = node.first.unwrap_or(m);
                if first % shards != shard {
                    continue;
                }
                let cmd = Command { at, op: op.clone() };
                let (child, violations) = step(node, &engine, &model, policy, &cmd);
                report.transitions += 1;
                if let Some(v) = violations.into_iter().next() {
                    if report.counterexample.is_none() {
                        let mut path = node.path.clone();
                        path.push(cmd);
                        report.counterexample = Some(Counterexample {
                            steps: path.len(),
                            trace: trace(policy, &universe.snapshot, &path),
                            violation: v,
                        });
                    }
                    if cfg.stop_at_first {
                        report.elapsed = start.elapsed();
                        return report;
                    }
                    continue;
                }
                let Some(mut child) = child else { continue };
                child.first = Some(first);
                if seen.len() >= cfg.max_states {
                    report.limit_reached = true;
                    continue;
                }
                if seen.insert(fingerprint(&child.snapshot, child.clock)) {
                    report.states += 1;
                    next_frontier.push(child);
                }
            }
        }
        if !report.limit_reached && !report.timed_out {
            report.depth_completed = depth;
        }
        progress(&Level {
            depth,
            states: report.states,
            transitions: report.transitions,
            frontier: next_frontier.len(),
            expanded: frontier.len(),
            of: frontier.len(),
            done: true,
            elapsed: start.elapsed(),
        });
        if report.limit_reached || report.timed_out || next_frontier.is_empty() {
            break;
        }
        frontier = next_frontier;
    }
    report.elapsed = start.elapsed();
    report
}

/// A trace in the SPEC §10 format, as JSON ([`Trace::to_value`]).
pub fn trace(policy: &Policy, snapshot: &Snapshot, steps: &[Command]) -> serde_json::Value {
    Trace {
        policy: policy.clone(),
        snapshot: snapshot.clone(),
        steps: steps.to_vec(),
    }
    .to_value()
}

/// Distinct states reachable within `depth` commands, with the clock value
/// each was reached at (for `diff`'s exhaustive comparison). Invariants are
/// not checked here.
pub fn reachable(universe: &Universe, policy: &Policy, depth: usize) -> Vec<(Snapshot, Timestamp)> {
    let mut seen: HashSet<u128> = HashSet::new();
    let mut out = Vec::new();
    let mut visit = |s: &State, clock: usize| {
        let snap = s.to_snapshot();
        let new = seen.insert(fingerprint(&snap, clock));
        if new {
            out.push((snap, universe.times[clock]));
        }
        new
    };
    let root = engine(&universe.snapshot, None);
    visit(&root, 0);
    let mut frontier = vec![(root, 0usize)];
    for level in 0..=depth {
        // Ticks are free: close the frontier under them.
        let mut i = 0;
        while i < frontier.len() {
            let clock = frontier[i].1 + 1;
            if clock < universe.times.len() && visit(&frontier[i].0, clock) {
                let later = (frontier[i].0.clone(), clock);
                frontier.push(later);
            }
            i += 1;
        }
        if level == depth {
            break;
        }
        let mut next = Vec::new();
        for (s, clock) in &frontier {
            let at = universe.times[*clock];
            for op in universe.ops.iter().chain(universe.requests.iter()) {
                let mut child = s.clone();
                let r = child.apply(policy, &Command { at, op: op.clone() });
                if !matches!(r, CommandResult::Rejected { .. }) && visit(&child, *clock) {
                    next.push((child, *clock));
                }
            }
        }
        frontier = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universe_is_well_formed_and_boundary_dense() {
        let u = Universe::small();
        assert!(State::from_snapshot(u.snapshot.clone()).is_ok());
        assert!(u.times.windows(2).all(|w| w[0] < w[1]));
        let s1 = &u.snapshot.sessions[0];
        assert!(
            u.times.contains(&s1.expires_at),
            "exact expiry is a clock value"
        );
        for (_, t) in TOKENS {
            assert!(t.contains('/') && t.contains('+') && t.contains('='));
        }
    }

    #[test]
    fn shallow_search_holds_and_is_deterministic() {
        let u = Universe::small();
        let cfg = Config {
            depth: 2,
            ..Config::default()
        };
        let a = explore(&u, &Policy::default(), &cfg, &mut |_| {});
        assert!(a.counterexample.is_none(), "{:?}", a.counterexample);
        assert_eq!(a.depth_completed, 2);
        let b = explore(&u, &Policy::default(), &cfg, &mut |_| {});
        assert_eq!((a.states, a.transitions), (b.states, b.transitions));
    }

    #[test]
    fn shards_cover_the_same_transitions() {
        let u = Universe::small();
        let all = explore(
            &u,
            &Policy::default(),
            &Config {
                depth: 1,
                ..Config::default()
            },
            &mut |_| {},
        );
        let parts: u64 = (0..3)
            .map(|i| {
                explore(
                    &u,
                    &Policy::default(),
                    &Config {
                        depth: 1,
                        shard: (i, 3),
                        ..Config::default()
                    },
                    &mut |_| {},
                )
                .transitions
            })
            .sum();
        assert_eq!(parts, all.transitions);
    }

    #[test]
    fn reachable_includes_the_start() {
        let u = Universe::small();
        let states = reachable(&u, &Policy::default(), 1);
        assert_eq!(states[0].0, u.snapshot);
        assert!(states.len() > u.times.len());
    }
}
