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
//! Tokens are derived from the seed ([`key_token`], [`session_token`]) so a
//! test can present the real token of any generated credential; the
//! snapshot itself holds only their SHA-256, as always.

use authproof_engine::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    Id, Snapshot, Timestamp, TokenHash,
};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub keys: usize,
    pub users: usize,
    pub tenants: usize,
    pub sessions: usize,
    /// Share of API keys that are legacy (tenant null), 0.0..=1.0.
    pub legacy_ratio: f64,
    pub seed: u64,
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

    // Memberships: each user has a home tenant (skewed towards the first
    // few: most owners sit in one big tenant), a not-suspended one, joined
    // first; about one in 10 users also joined one or two others later.
    let roles = ["owner", "admin", "member", "member", "member"];
    let mut memberships: Vec<Membership> = Vec::new();
    // Per user: (first membership index, count).
    let mut of_user: Vec<(usize, usize)> = Vec::with_capacity(n_users);
    for user in &users {
        let start = memberships.len();
        let home = if rng.chance(0.6) || live_tenants.len() == 1 {
            live_tenants[0]
        } else {
            live_tenants[rng.below(live_tenants.len())]
        };
        let joined = taken - (200 + rng.below(300) as i64) * DAY;
        memberships.push(Membership {
            user: user.id.clone(),
            tenant: tenants[home].id.clone(),
            role: roles[rng.below(roles.len())].to_string(),
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
                    role: roles[rng.below(roles.len())].to_string(),
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
            });
            State::from_snapshot(snap).expect("integrity");
        }
    }
}
