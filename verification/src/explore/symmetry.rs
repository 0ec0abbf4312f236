//! Symmetry reduction: states that differ only by a renaming of
//! interchangeable tenants or users are explored once.
//!
//! A universe may declare [`Renaming`]s under which it is closed: renaming
//! its initial snapshot gives the same records, and renaming any of its
//! moves gives one of its moves ([`Universe::check_symmetries`]). For such a
//! renaming π, every path p from the initial state has a mirror π(p), and
//! the state π(p) reaches is π of the state p reaches. So the search can
//! keep one state per *orbit* {s, π(s), …}: the visited set is keyed by
//! the smallest fingerprint over the orbit ([`orbit_fingerprint`]), and a
//! state whose orbit was already met is not expanded again.
//!
//! # Why it is sound for these invariants
//!
//! The reduction finds a violation at depth d iff the full search does, when
//! the engine and the model are *equivariant* under π (running π(c) on π(s)
//! gives π of the result of c on s) and each invariant's verdict is the same
//! on a transition and its mirror. The invariants (models/src/invariants.rs)
//! compare the engine with the model and with the history; none of them
//! names a particular tenant or user, so their verdicts are mirror-invariant.
//! The decision rules use ids only through equality, with two exceptions,
//! both on tenant ids (docs/SPEC.md §5): a legacy key's tenant is the owner's
//! membership with the smallest (`since`, tenant id), and a session allow
//! lists its scope in id order. The scope is a *set* printed sorted, so both
//! implementations print the mirror of the sorted mirror. The tie-break
//! matters only between two memberships with the same `since`: in the wide
//! universe the legacy key's owner keeps its oldest membership in `t1`,
//! which no move removes and which sorts before both mirrored tenants, so
//! no tie between them is ever broken by a correct implementation.
//!
//! A *faulty* engine need not be equivariant (a fault may pick the largest
//! id), so the reduction could hide a violation that only one member of an
//! orbit shows. The tests therefore run every injected fault with and
//! without the reduction and require the same shortest counterexample
//! length and the same violated invariants
//! (`symmetry_finds_what_the_full_search_finds`, verification/tests).
//!
//! # Record order
//!
//! A snapshot's sections are sets keyed by id (docs/SPEC.md §2); their order
//! only fixes the export's byte order. Renaming the initial snapshot permutes
//! where records sit (π(t2) is `t3`, which sits after `t2`), so the orbit
//! fingerprint hashes each section as a set: the wrapping sum of a 128-bit
//! hash of each renamed record. This also merges states that differ only in
//! record order, which the reduced search therefore explores once: a bug
//! visible in one order of the same records and not the other would be
//! missed by the reduced search (it is off on the default universe).
//!
//! Rejected: sorting each renamed snapshot and hashing it in order (a clone
//! and a sort per orbit member per state; the sum needs neither); renaming
//! keys and sessions (their tokens are presented by value in the request
//! alphabet, so a renaming would have to rewrite header strings too).

use std::collections::BTreeMap;

use super::fingerprint::Encoding;
use authproof_engine::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    Id, Op, Snapshot,
};

/// A permutation of tenant ids and of user ids; ids it does not name are
/// kept. Build it with [`Renaming::swap_tenants`] / [`Renaming::swap_users`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Renaming {
    tenants: BTreeMap<Id, Id>,
    users: BTreeMap<Id, Id>,
}

impl Renaming {
    /// Exchanges tenants `a` and `b`.
    pub fn swap_tenants(a: &Id, b: &Id) -> Renaming {
        let mut r = Renaming::default();
        r.tenants.insert(a.clone(), b.clone());
        r.tenants.insert(b.clone(), a.clone());
        r
    }

    /// Exchanges users `a` and `b`.
    pub fn swap_users(a: &Id, b: &Id) -> Renaming {
        let mut r = Renaming::default();
        r.users.insert(a.clone(), b.clone());
        r.users.insert(b.clone(), a.clone());
        r
    }

    /// This renaming, then `next`.
    pub fn then(&self, next: &Renaming) -> Renaming {
        fn compose(a: &BTreeMap<Id, Id>, b: &BTreeMap<Id, Id>) -> BTreeMap<Id, Id> {
            a.keys()
                .chain(b.keys())
                .map(|x| {
                    let y = a.get(x).unwrap_or(x);
                    (x.clone(), b.get(y).unwrap_or(y).clone())
                })
                .filter(|(x, y)| x != y)
                .collect()
        }
        Renaming {
            tenants: compose(&self.tenants, &next.tenants),
            users: compose(&self.users, &next.users),
        }
    }

    /// Whether this renaming moves nothing.
    pub fn is_identity(&self) -> bool {
        self.tenants.iter().all(|(a, b)| a == b) && self.users.iter().all(|(a, b)| a == b)
    }

    /// The tenants and users this renaming moves, for reports.
    pub fn describe(&self) -> String {
        let pairs = |m: &BTreeMap<Id, Id>| {
            m.iter()
                .filter(|(a, b)| a < b)
                .map(|(a, b)| format!("{a}<->{b}"))
                .collect::<Vec<_>>()
        };
        let mut all = pairs(&self.tenants);
        all.extend(pairs(&self.users));
        all.join(", ")
    }

    fn tenant<'a>(&'a self, id: &'a Id) -> &'a Id {
        self.tenants.get(id).unwrap_or(id)
    }

    fn user<'a>(&'a self, id: &'a Id) -> &'a Id {
        self.users.get(id).unwrap_or(id)
    }

    /// `snapshot` with every tenant and user id renamed, records in place.
    pub fn snapshot(&self, s: &Snapshot) -> Snapshot {
        let mut s = s.clone();
        for t in &mut s.tenants {
            t.id = self.tenant(&t.id).clone();
        }
        for u in &mut s.users {
            u.id = self.user(&u.id).clone();
        }
        for m in &mut s.memberships {
            m.user = self.user(&m.user).clone();
            m.tenant = self.tenant(&m.tenant).clone();
        }
        for k in &mut s.api_keys {
            k.owner = self.user(&k.owner).clone();
            k.tenant = k.tenant.as_ref().map(|t| self.tenant(t).clone());
        }
        for x in &mut s.sessions {
            x.user = self.user(&x.user).clone();
            x.tenant = x.tenant.as_ref().map(|t| self.tenant(t).clone());
        }
        for r in &mut s.resources {
            r.tenant = self.tenant(&r.tenant).clone();
            r.owner = self.user(&r.owner).clone();
        }
        s
    }

    /// `op` with every tenant and user id renamed, including the `tenant`
    /// and `owner` of an `update_api_key`'s immutable fields (the attempts
    /// to rewrite them that the engine must refuse).
    pub fn op(&self, op: &Op) -> Op {
        let t = |id: &Id| self.tenant(id).clone();
        let u = |id: &Id| self.user(id).clone();
        // Every variant spelled out: a new one must decide what it renames.
        match op {
            Op::CreateTenant { tenant } => Op::CreateTenant { tenant: t(tenant) },
            Op::SuspendTenant { tenant } => Op::SuspendTenant { tenant: t(tenant) },
            Op::ReinstateTenant { tenant } => Op::ReinstateTenant { tenant: t(tenant) },
            Op::CreateUser { user } => Op::CreateUser { user: u(user) },
            Op::BanUser { user } => Op::BanUser { user: u(user) },
            Op::UnbanUser { user } => Op::UnbanUser { user: u(user) },
            Op::AddMember { user, tenant, role } => Op::AddMember {
                user: u(user),
                tenant: t(tenant),
                role: role.clone(),
            },
            Op::RemoveMember { user, tenant } => Op::RemoveMember {
                user: u(user),
                tenant: t(tenant),
            },
            Op::SetRole { user, tenant, role } => Op::SetRole {
                user: u(user),
                tenant: t(tenant),
                role: role.clone(),
            },
            Op::MintApiKey {
                key,
                owner,
                tenant,
                token,
                capabilities,
                expires_at,
                name,
            } => Op::MintApiKey {
                key: key.clone(),
                owner: u(owner),
                tenant: t(tenant),
                token: token.clone(),
                capabilities: capabilities.clone(),
                expires_at: *expires_at,
                name: name.clone(),
            },
            Op::UpdateApiKey {
                key,
                name,
                enabled,
                expires_at,
                immutable,
            } => Op::UpdateApiKey {
                key: key.clone(),
                name: name.clone(),
                enabled: *enabled,
                expires_at: *expires_at,
                immutable: immutable
                    .iter()
                    .map(|(field, value)| {
                        let renamed = match (field.as_str(), value.as_str()) {
                            ("tenant", Some(v)) => Id::new(v).ok().map(|id| t(&id)),
                            ("owner", Some(v)) => Id::new(v).ok().map(|id| u(&id)),
                            _ => None,
                        };
                        let value = renamed.map_or_else(
                            || value.clone(),
                            |id| serde_json::Value::String(id.as_str().into()),
                        );
                        (field.clone(), value)
                    })
                    .collect(),
            },
            Op::RevokeApiKey { key } => Op::RevokeApiKey { key: key.clone() },
            Op::DeleteApiKey { key } => Op::DeleteApiKey { key: key.clone() },
            Op::Login {
                session,
                user,
                token,
                tenant,
            } => Op::Login {
                session: session.clone(),
                user: u(user),
                token: token.clone(),
                tenant: tenant.as_ref().map(t),
            },
            Op::Logout { session } => Op::Logout {
                session: session.clone(),
            },
            Op::SwitchTenant { session, tenant } => Op::SwitchTenant {
                session: session.clone(),
                tenant: t(tenant),
            },
            Op::CreateResource {
                tenant,
                resource,
                owner,
            } => Op::CreateResource {
                tenant: t(tenant),
                resource: resource.clone(),
                owner: u(owner),
            },
            Op::DeleteResource { tenant, resource } => Op::DeleteResource {
                tenant: t(tenant),
                resource: resource.clone(),
            },
            Op::Authenticate {
                action,
                headers,
                tenant,
                resource,
            } => Op::Authenticate {
                action: action.clone(),
                headers: headers.clone(),
                tenant: tenant.as_ref().map(t),
                resource: resource.clone(),
            },
        }
    }
}

/// The fingerprint of `snapshot` renamed by `r`, each section hashed as a
/// set (the module docs say why), with the clock index.
fn set_fingerprint(s: &Snapshot, clock: usize, r: &Renaming) -> u128 {
    // One buffer for every record's encoding.
    let mut h = Encoding::with_capacity(256);
    h.put(&0u8);
    h.put(&s.taken_at);
    h.put(&clock);
    let mut sum = h.fingerprint();
    let mut add = |tag: u8, put: &dyn Fn(&mut Encoding)| {
        h.clear();
        h.put(&tag);
        put(&mut h);
        sum = sum.wrapping_add(h.fingerprint());
    };
    // Destructured in full: a new field must be hashed (or stop compiling).
    for Tenant { id, suspended } in &s.tenants {
        add(1, &|h| {
            h.put(r.tenant(id));
            h.put(suspended);
        });
    }
    for User { id, banned } in &s.users {
        add(2, &|h| {
            h.put(r.user(id));
            h.put(banned);
        });
    }
    for Membership {
        user,
        tenant,
        role,
        since,
    } in &s.memberships
    {
        add(3, &|h| {
            h.put(r.user(user));
            h.put(r.tenant(tenant));
            h.put(role);
            h.put(since);
        });
    }
    for ApiKey {
        id,
        owner,
        tenant,
        token_sha256,
        prefix,
        capabilities,
        enabled,
        name,
        created_at,
        expires_at,
        revoked_at,
        deleted_at,
    } in &s.api_keys
    {
        add(4, &|h| {
            h.put(id);
            h.put(r.user(owner));
            h.put(&tenant.as_ref().map(|t| r.tenant(t)));
            h.put(token_sha256);
            h.put(prefix);
            h.put(capabilities);
            h.put(enabled);
            h.put(name);
            h.put(created_at);
            h.put(expires_at);
            h.put(revoked_at);
            h.put(deleted_at);
        });
    }
    for Session {
        id,
        user,
        tenant,
        token_sha256,
        created_at,
        expires_at,
        revoked_at,
    } in &s.sessions
    {
        add(5, &|h| {
            h.put(id);
            h.put(r.user(user));
            h.put(&tenant.as_ref().map(|t| r.tenant(t)));
            h.put(token_sha256);
            h.put(created_at);
            h.put(expires_at);
            h.put(revoked_at);
        });
    }
    for Resource {
        tenant,
        id,
        owner,
        created_at,
    } in &s.resources
    {
        add(6, &|h| {
            h.put(r.tenant(tenant));
            h.put(id);
            h.put(r.user(owner));
            h.put(created_at);
        });
    }
    sum
}

/// The smallest set fingerprint of `snapshot` under the identity and every
/// renaming of `group`: equal for every member of an orbit.
pub(super) fn orbit_fingerprint(snapshot: &Snapshot, clock: usize, group: &[Renaming]) -> u128 {
    let identity = Renaming::default();
    std::iter::once(&identity)
        .chain(group)
        .map(|r| set_fingerprint(snapshot, clock, r))
        .min()
        .expect("the identity is always there")
}

/// Whether `a` and `b` hold the same records, in any order.
pub(super) fn same_records(a: &Snapshot, b: &Snapshot) -> bool {
    let identity = Renaming::default();
    set_fingerprint(a, 0, &identity) == set_fingerprint(b, 0, &identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::Universe;

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    #[test]
    fn a_swap_is_its_own_inverse_and_keeps_the_orbit() {
        let u = Universe::wide();
        let swap = Renaming::swap_tenants(&id("t2"), &id("t3"));
        let s = &u.snapshot;
        assert_eq!(swap.snapshot(&swap.snapshot(s)), *s);
        for op in u.ops.iter().chain(&u.requests) {
            assert_eq!(swap.op(&swap.op(op)), *op);
        }
        // The universe is closed: same records, in another order.
        let mirrored = swap.snapshot(s);
        assert_ne!(mirrored, *s);
        assert!(same_records(&mirrored, s));
        let group = std::slice::from_ref(&swap);
        assert_eq!(
            orbit_fingerprint(s, 0, group),
            orbit_fingerprint(&mirrored, 0, group)
        );
    }

    #[test]
    fn the_orbit_fingerprint_separates_what_no_renaming_relates() {
        let u = Universe::wide();
        let swap = Renaming::swap_tenants(&id("t2"), &id("t3"));
        let group = std::slice::from_ref(&swap);
        let base = orbit_fingerprint(&u.snapshot, 0, group);
        // Suspending t2 and suspending t3 are mirrors: one orbit.
        let suspend = |t: &str| {
            let mut s = u.snapshot.clone();
            s.tenants.iter_mut().find(|x| x.id == *t).unwrap().suspended = true;
            s
        };
        let (s2, s3, s1) = (suspend("t2"), suspend("t3"), suspend("t1"));
        assert_eq!(
            orbit_fingerprint(&s2, 0, group),
            orbit_fingerprint(&s3, 0, group)
        );
        // …but without the renaming they are two states,
        assert_ne!(
            orbit_fingerprint(&s2, 0, &[]),
            orbit_fingerprint(&s3, 0, &[])
        );
        // and suspending t1 (fixed by the swap) is another orbit, as is the
        // same state at another clock value.
        let f1 = orbit_fingerprint(&s1, 0, group);
        assert_ne!(f1, orbit_fingerprint(&s2, 0, group));
        assert_ne!(f1, base);
        assert_ne!(orbit_fingerprint(&s1, 1, group), f1);
        // Swapping users is a different renaming: u1 and u2 are not mirrors.
        let users = Renaming::swap_users(&id("u1"), &id("u2"));
        assert_ne!(
            set_fingerprint(&u.snapshot, 0, &users),
            set_fingerprint(&u.snapshot, 0, &Renaming::default())
        );
    }
}
