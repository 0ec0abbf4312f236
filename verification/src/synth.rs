//! Synthetic snapshots for policy reviews and benchmarks.
//!
//! [`snapshot`] builds a realistic-looking state from a handful of sizes and
//! a seed, deterministically: the same [`Shape`] always gives the same
//! snapshot, byte for byte, on every machine (a small self-contained PRNG,
//! splitmix64, no platform randomness). It always passes the engine's
//! integrity check.
//!
//! The shape follows the "blast radius of a stricter key policy" incident
//! (INCIDENTS.md): most users are members of one tenant and a few of
//! several; a `legacy_ratio` share of the API keys are legacy unbound keys
//! (`tenant: null`). Bound keys and sessions come in every state a real
//! back end has (revoked, expired, disabled, deleted, banned owner, no
//! active tenant, a suspended tenant), but **legacy keys are always usable
//! apart from their binding**: live, enabled, owned by an unbanned user
//! whose oldest membership is in a tenant that is not suspended. So a
//! switch of `api_key.unbound` changes the outcome of exactly the legacy
//! keys and nothing else — which is what the blast-radius example checks.
//!
//! The same generator serves `authproof gen snapshot`, the review tests and
//! the benches (which ask for a uniform spread of users, `documents` and
//! `deploy` keys to reach every decision class): one generator, so a bench
//! figure and a review example describe the same kind of data. Every knob
//! beyond the sizes defaults to what `gen snapshot` has always generated,
//! and draws from the PRNG only when set, so its output stays byte for byte
//! the same. Rejected: a second, "bench" generator tuned for uniformity —
//! the two drifted (id formats, capabilities, token formats) and only one
//! of them was tested against the engine's integrity check.
//!
//! Tokens are derived from the seed ([`key_token`], [`session_token`]) so a
//! test can present the real token of any generated credential; the
//! snapshot itself holds only their SHA-256, as always.

use authproof_engine::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    Id, Snapshot, Timestamp, TokenHash,
};

/// What to generate. Start from [`Shape::default`] (the shape of
/// `authproof gen snapshot` without flags) and set what matters:
/// `Shape { keys: 1000, seed: 7, ..Shape::default() }`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub keys: usize,
    pub users: usize,
    pub tenants: usize,
    pub sessions: usize,
    /// Share of API keys that are legacy (tenant null), 0.0..=1.0.
    pub legacy_ratio: f64,
    pub seed: u64,
    /// Share of users whose home tenant is the first one (one big tenant,
    /// as most SaaS back ends have); the others' home is uniform over the
    /// tenants that are not suspended. 0.6 by default; 0.0 spreads every
    /// user uniformly.
    pub big_tenant: f64,
    /// Resources with ids of their own (`doc_…`), each owned by a random
    /// member of its tenant, besides the one `conv_default` per tenant. 0 by
    /// default.
    pub documents: usize,
    /// Share of the bound API keys that carry only the `deploy` capability
    /// (so `supervisor.connect` misses a capability), 0.0..=1.0. 0 by
    /// default.
    pub deploy_ratio: f64,
}

impl Default for Shape {
    /// The defaults of `authproof gen snapshot`.
    fn default() -> Shape {
        Shape {
            keys: 300,
            users: 300,
            tenants: 10,
            sessions: 200,
            legacy_ratio: 0.0,
            seed: 1,
            big_tenant: 0.6,
            documents: 0,
            deploy_ratio: 0.0,
        }
    }
}

/// The snapshot's `taken_at`: 2026-05-28T12:00:00Z.
pub const TAKEN_AT: i64 = 1_779_969_600;

const DAY: i64 = 86_400;

/// splitmix64: a tiny, well-mixed 64-bit generator (Steele, Lea, Flood).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// One value derived from the seed, a stream and an index, independent of
/// generation order.
fn mix(seed: u64, stream: u64, index: u64) -> u64 {
    let mut g = SplitMix64::new(seed ^ stream.wrapping_mul(0xa076_1d64_78bd_642f) ^ index);
    g.next_u64();
    g.next_u64()
}

fn hex(mut v: u64, out: &mut String) {
    for _ in 0..16 {
        out.push(char::from(b"0123456789abcdef"[(v >> 60) as usize]));
        v <<= 4;
    }
}

/// The token of the `index`-th generated API key (0-based). Test input
/// only: never print it.
pub fn key_token(seed: u64, index: usize) -> String {
    let mut t = String::from("sk_live_");
    hex(mix(seed, 1, index as u64), &mut t);
    t.push('/');
    hex(mix(seed, 2, index as u64), &mut t);
    t.push_str("+=");
    t
}

/// The token of the `index`-th generated session (0-based).
pub fn session_token(seed: u64, index: usize) -> String {
    let mut t = String::from("ses_");
    hex(mix(seed, 3, index as u64), &mut t);
    t.push('/');
    hex(mix(seed, 4, index as u64), &mut t);
    t.push_str("%3D");
    t
}

fn id(s: String) -> Id {
    Id::new(s).expect("generated ids are valid")
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs).expect("generated times are in range")
}

/// Zero-padded id: `prefix` and `i` padded to the width of `n`.
fn numbered(prefix: &str, i: usize, n: usize) -> Id {
    let width = n.max(1).to_string().len().max(4);
    id(format!("{prefix}{i:0width$}"))
}

/// Generates the snapshot of `shape`. At least one user and one tenant are
/// always generated when keys or sessions are asked for.
pub fn snapshot(shape: &Shape) -> Snapshot {
    let mut rng = SplitMix64::new(shape.seed);
    let needs_owner = shape.keys + shape.sessions > 0;
    let n_users = if needs_owner {
        shape.users.max(1)
    } else {
        shape.users
    };
    let n_tenants = if n_users > 0 {
        shape.tenants.max(1)
    } else {
        shape.tenants
    };
    let legacy_ratio = shape.legacy_ratio.clamp(0.0, 1.0);
    let taken = TAKEN_AT;

    // Tenants: about one in 25 suspended, never the first.
    let tenants: Vec<Tenant> = (0..n_tenants)
        .map(|i| Tenant {
            id: numbered("t_", i, n_tenants),
            suspended: i > 0 && rng.chance(0.04),
        })
        .collect();
    let live_tenants: Vec<usize> = (0..n_tenants).filter(|&i| !tenants[i].suspended).collect();

    // Users: about one in 100 banned.
    let users: Vec<User> = (0..n_users)
        .map(|i| User {
            id: numbered("u_", i, n_users),
            banned: rng.chance(0.01),
        })
        .collect();

    // Memberships: each user has a home tenant (`big_tenant` of them the
    // first: most owners sit in one big tenant), a not-suspended one, joined
    // first; about one in 10 users also joined one or two others later.
    let roles = ["owner", "admin", "member", "member", "member"];
    let mut memberships: Vec<Membership> = Vec::new();
    // Per user: (first membership index, count).
    let mut of_user: Vec<(usize, usize)> = Vec::with_capacity(n_users);
    for user in &users {
        let start = memberships.len();
        let home = if rng.chance(shape.big_tenant) || live_tenants.len() == 1 {
            live_tenants[0]
        } else {
            live_tenants[rng.below(live_tenants.len())]
        };
        let joined = taken - (200 + rng.below(300) as i64) * DAY;
        memberships.push(Membership {
            user: user.id.clone(),
            tenant: tenants[home].id.clone(),
            role: roles[rng.below(roles.len())].into(),
            since: ts(joined),
        });
        if n_tenants > 1 && rng.chance(0.1) {
            let extra = 1 + rng.below(2);
            for _ in 0..extra {
                let t = rng.below(n_tenants);
                if memberships[start..]
                    .iter()
                    .any(|m| m.tenant == tenants[t].id)
                {
                    continue;
                }
                memberships.push(Membership {
                    user: user.id.clone(),
                    tenant: tenants[t].id.clone(),
                    role: roles[rng.below(roles.len())].into(),
                    since: ts(joined + (1 + rng.below(150) as i64) * DAY),
                });
            }
        }
        of_user.push((start, memberships.len() - start));
    }
    let unbanned: Vec<usize> = (0..n_users).filter(|&u| !users[u].banned).collect();

    // Owners are skewed: a quarter of the keys belong to the first 2 % of
    // users (service accounts), the rest spread out.
    let pick_user = |rng: &mut SplitMix64, pool: &[usize]| -> usize {
        if rng.chance(0.25) {
            pool[rng.below(pool.len().div_ceil(50).max(1))]
        } else {
            pool[rng.below(pool.len())]
        }
    };
    let all_users: Vec<usize> = (0..n_users).collect();

    let mut api_keys: Vec<ApiKey> = Vec::with_capacity(shape.keys);
    for i in 0..shape.keys {
        let legacy = !unbanned.is_empty() && rng.chance(legacy_ratio);
        let owner = if legacy {
            pick_user(&mut rng, &unbanned)
        } else {
            pick_user(&mut rng, &all_users)
        };
        let (start, count) = of_user[owner];
        let created = taken - (1 + rng.below(180) as i64) * DAY - rng.below(DAY as usize) as i64;
        let mut key = ApiKey {
            id: numbered("key_", i, shape.keys),
            owner: users[owner].id.clone(),
            tenant: None,
            token_sha256: TokenHash::of(&key_token(shape.seed, i)),
            prefix: "sk_live_".into(),
            capabilities: if rng.chance(0.2) {
                vec!["supervisor".into()]
            } else {
                Vec::new()
            },
            enabled: true,
            name: ["ci", "deploy", "supervisor", "local", "backup"][rng.below(5)].into(),
            created_at: ts(created),
            expires_at: None,
            revoked_at: None,
            deleted_at: None,
        };
        if legacy {
            // Usable apart from its binding: see the module docs.
            api_keys.push(key);
            continue;
        }
        key.tenant = Some(memberships[start + rng.below(count)].tenant.clone());
        // Drawn only when asked for, so that shapes without deploy keys
        // generate what they always did.
        if shape.deploy_ratio > 0.0 && rng.chance(shape.deploy_ratio) {
            key.capabilities = vec!["deploy".into()];
        }
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

    let mut sessions: Vec<Session> = Vec::with_capacity(shape.sessions);
    for i in 0..shape.sessions {
        let user = pick_user(&mut rng, &all_users);
        let (start, count) = of_user[user];
        let created = taken - rng.below(40 * DAY as usize) as i64;
        let mut s = Session {
            id: numbered("ses_", i, shape.sessions),
            user: users[user].id.clone(),
            tenant: if rng.chance(0.1) {
                None
            } else {
                Some(memberships[start + rng.below(count)].tenant.clone())
            },
            token_sha256: TokenHash::of(&session_token(shape.seed, i)),
            created_at: ts(created),
            expires_at: ts(created + 30 * DAY),
            revoked_at: None,
        };
        if rng.chance(0.03) {
            s.revoked_at = Some(ts(created + (taken - created) / 2));
        }
        sessions.push(s);
    }

    // One resource per tenant with the same global default id, owned by a
    // member (the cross-tenant resume shape), when the tenant has one.
    let mut resources = Vec::new();
    let mut owner_of: Vec<Option<usize>> = vec![None; n_tenants];
    for (u, &(start, count)) in of_user.iter().enumerate() {
        for m in &memberships[start..start + count] {
            let t = tenants
                .binary_search_by(|x| x.id.as_str().cmp(m.tenant.as_str()))
                .expect("memberships name generated tenants");
            owner_of[t].get_or_insert(u);
        }
    }
    for (t, owner) in owner_of.iter().enumerate() {
        if let Some(u) = owner {
            resources.push(Resource {
                tenant: tenants[t].id.clone(),
                id: id("conv_default".into()),
                owner: users[*u].id.clone(),
                created_at: ts(taken - 100 * DAY),
            });
        }
    }

    // Documents: ids of their own, each owned by a member of its tenant
    // (drawn last, so that shapes without documents are unchanged).
    if !memberships.is_empty() {
        for i in 0..shape.documents {
            let m = &memberships[rng.below(memberships.len())];
            resources.push(Resource {
                tenant: m.tenant.clone(),
                id: numbered("doc_", i, shape.documents),
                owner: m.user.clone(),
                created_at: ts(taken - (1 + rng.below(100) as i64) * DAY),
            });
        }
    }

    Snapshot {
        taken_at: Some(ts(taken)),
        tenants,
        users,
        memberships,
        api_keys,
        sessions,
        resources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authproof_engine::State;

    fn shape(seed: u64) -> Shape {
        Shape {
            keys: 400,
            users: 300,
            tenants: 12,
            sessions: 200,
            legacy_ratio: 0.06,
            seed,
            ..Shape::default()
        }
    }

    #[test]
    fn deterministic_and_passes_integrity() {
        let a = snapshot(&shape(7));
        let b = snapshot(&shape(7));
        assert_eq!(a, b);
        assert_ne!(a, snapshot(&shape(8)));
        State::from_snapshot(a.clone()).expect("integrity");
        let legacy = a.api_keys.iter().filter(|k| k.tenant.is_none()).count();
        assert!((12..=40).contains(&legacy), "about 6 %: {legacy}");
        let multi = a
            .users
            .iter()
            .filter(|u| a.memberships.iter().filter(|m| m.user == u.id).count() > 1)
            .count();
        assert!(
            multi > 5 && multi < 100,
            "a few users in several tenants: {multi}"
        );
    }

    #[test]
    fn tokens_match_hashes() {
        let s = snapshot(&shape(3));
        for (i, k) in s.api_keys.iter().enumerate() {
            assert_eq!(k.token_sha256, TokenHash::of(&key_token(3, i)));
            assert!(authproof_engine::is_valid_token(&key_token(3, i)));
        }
        for (i, x) in s.sessions.iter().enumerate() {
            assert_eq!(x.token_sha256, TokenHash::of(&session_token(3, i)));
            assert!(authproof_engine::is_valid_token(&session_token(3, i)));
        }
    }

    #[test]
    fn empty_and_tiny_shapes() {
        for (k, u, t, s) in [(0, 0, 0, 0), (1, 0, 0, 0), (0, 0, 0, 1), (3, 1, 1, 3)] {
            let snap = snapshot(&Shape {
                keys: k,
                users: u,
                tenants: t,
                sessions: s,
                legacy_ratio: 0.5,
                seed: 1,
                ..Shape::default()
            });
            State::from_snapshot(snap).expect("integrity");
        }
    }

    #[test]
    fn bench_knobs_reach_their_classes_and_pass_integrity() {
        let plain = snapshot(&shape(5));
        let s = snapshot(&Shape {
            big_tenant: 0.0,
            documents: 150,
            deploy_ratio: 0.3,
            ..shape(5)
        });
        State::from_snapshot(s.clone()).expect("integrity");
        assert_eq!(s.resources.len(), plain.resources.len() + 150);
        let deploy = s
            .api_keys
            .iter()
            .filter(|k| k.capabilities == ["deploy"])
            .count();
        assert!(deploy > 50, "about 30 % of the bound keys: {deploy}");
        assert!(s
            .api_keys
            .iter()
            .filter(|k| k.capabilities == ["deploy"])
            .all(|k| k.tenant.is_some()));
        let first = &s.tenants[0].id;
        let in_first = s.memberships.iter().filter(|m| &m.tenant == first).count();
        assert!(
            in_first < 100,
            "no big tenant when big_tenant is 0: {in_first}"
        );
    }

    /// The defaults draw nothing new: `gen snapshot` output is pinned by
    /// tests/cli_diff.rs against examples/blast-radius/snapshot.json.
    #[test]
    fn defaults_are_gen_snapshot_defaults() {
        let d = Shape::default();
        assert_eq!(
            (d.keys, d.users, d.tenants, d.sessions, d.seed),
            (300, 300, 10, 200, 1)
        );
        assert_eq!((d.big_tenant, d.documents, d.deploy_ratio), (0.6, 0, 0.0));
    }
}
