//! Building a [`State`] record by record: SPEC §2 integrity and every index
//! in one pass over each record.
//!
//! [`State::from_snapshot`] feeds it a parsed [`Snapshot`]'s sections in
//! order; the streaming loader ([`crate::load`]) feeds it records while the
//! rest of the file is still being parsed. Both go through these methods,
//! so the checks, their order and their words are one piece of code: the
//! first integrity error of a snapshot is the same whichever way it loads.
//!
//! Records must come section by section in the order of the snapshot
//! format (tenants, users, memberships, API keys, sessions, resources), each
//! section in its input order: a reference is checked against the sections
//! before it, and a handle is a record's position.

use indexmap::map::Entry;

use super::{Handle, Member, Pair, Slot, State, Table, TokenIndex, Tracked, UserLinks, NO_HANDLE};
use crate::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    CredentialKind, Error, Id, Timestamp, TokenHash,
};

/// A state being built; see the module docs.
#[derive(Debug)]
pub(crate) struct Builder {
    st: State,
}

/// How many records of each section to make room for up front (a parsed
/// snapshot knows; a stream does not, and its tables grow).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Capacity {
    pub(crate) tenants: usize,
    pub(crate) users: usize,
    pub(crate) memberships: usize,
    pub(crate) api_keys: usize,
    pub(crate) sessions: usize,
    pub(crate) resources: usize,
}

impl Builder {
    pub(crate) fn new(taken_at: Option<Timestamp>, n: Capacity) -> Builder {
        // Pre-sized when the sizes are known: no rehashing or regrowing
        // while loading, and no capacity left over from doubling.
        Builder {
            st: State {
                taken_at,
                tenants: Table::with_capacity(n.tenants),
                users: Table::with_capacity(n.users),
                memberships: Table::with_capacity(n.memberships),
                api_keys: Table::with_capacity(n.api_keys),
                sessions: Table::with_capacity(n.sessions),
                resources: Table::with_capacity(n.resources),
                by_token: Tracked::new(TokenIndex::with_capacity_and_hasher(
                    n.api_keys + n.sessions,
                    Default::default(),
                )),
                links: Tracked::new(Vec::with_capacity(n.users)),
                #[cfg(feature = "faults")]
                fault: None,
            },
        }
    }

    /// Goes on adding records to `st` ([`State::assign`]: the records
    /// after the place where its sections and the new snapshot's differ).
    pub(crate) fn resume(st: State) -> Builder {
        Builder { st }
    }

    pub(crate) fn set_taken_at(&mut self, taken_at: Option<Timestamp>) {
        self.st.taken_at = taken_at;
    }

    pub(crate) fn finish(self) -> State {
        self.st
    }

    // Each section is added a batch at a time (`first` is the index of the
    // batch's first record in its section), and the batch is left empty
    // for reuse. Where a record refers to users or tenants, the references
    // of up to `AHEAD` records are resolved first, in a loop of nothing
    // but lookups: each is two likely cache misses at a million records,
    // and independent lookups in a short loop overlap in the processor
    // where, one record at a time, each waited behind the record's inserts.
    // The checks still fail in the documented order: a lookup's result
    // waits for its record's turn. Where the duplicate check is followed by
    // the insert, one `entry` does both (the key's clone is a copy for an
    // inline id).

    /// Adds `$.tenants[first..]`.
    pub(crate) fn tenants(&mut self, first: usize, batch: &mut Vec<Tenant>) -> Result<(), Error> {
        for (i, t) in (first..).zip(batch.drain(..)) {
            countable("tenants", i)?;
            match self.st.tenants.entry(t.id.clone()) {
                Entry::Occupied(e) => {
                    return Err(dup(
                        format!("$.tenants[{i}].id"),
                        "tenant",
                        format!("$.tenants[{}]", e.index()),
                    ))
                }
                Entry::Vacant(e) => e.insert(t),
            };
        }
        Ok(())
    }

    /// Adds `$.users[first..]`.
    pub(crate) fn users(&mut self, first: usize, batch: &mut Vec<User>) -> Result<(), Error> {
        for (i, u) in (first..).zip(batch.drain(..)) {
            countable("users", i)?;
            match self.st.users.entry(u.id.clone()) {
                Entry::Occupied(e) => {
                    return Err(dup(
                        format!("$.users[{i}].id"),
                        "user",
                        format!("$.users[{}]", e.index()),
                    ))
                }
                Entry::Vacant(e) => e.insert(u),
            };
            self.st.links.write().push(UserLinks::default());
        }
        Ok(())
    }

    /// Adds `$.memberships[first..]`.
    pub(crate) fn memberships(
        &mut self,
        first: usize,
        batch: &mut Vec<Membership>,
    ) -> Result<(), Error> {
        let look = |st: &State, m: &Membership| {
            Found(
                st.users.get_index_of(&m.user),
                st.tenants.get_index_of(&m.tenant),
            )
        };
        ahead(&mut self.st, first, batch, look, |st, i, m, found| {
            let at = |f: &str| format!("$.memberships[{i}].{f}");
            let user = found.user(|| at("user"))?;
            let tenant = found.tenant(|| at("tenant"))?;
            let slot = match st.memberships.entry(Pair(m.user.clone(), m.tenant.clone())) {
                Entry::Occupied(e) => {
                    let j = e.index();
                    return Err(Error::at_path(
                        format!("$.memberships[{i}]"),
                        format_args!(
                            "duplicate membership: the same user and tenant as $.memberships[{j}] (rule: unique (user, tenant) memberships)"
                        ),
                    ));
                }
                Entry::Vacant(e) => e,
            };
            st.links.write()[user as usize].add_member(
                Member {
                    tenant,
                    since: m.since,
                    role: m.role.clone(),
                },
                &st.tenants,
            );
            slot.insert(m);
            Ok(())
        })
    }

    /// Adds `$.api_keys[first..]`.
    pub(crate) fn api_keys(&mut self, first: usize, batch: &mut Vec<ApiKey>) -> Result<(), Error> {
        let look = |st: &State, k: &ApiKey| {
            Found(
                st.users.get_index_of(&k.owner),
                optional(st, k.tenant.as_ref()),
            )
        };
        ahead(&mut self.st, first, batch, look, |st, i, k, found| {
            countable("api_keys", i)?;
            let at = |f: &str| format!("$.api_keys[{i}].{f}");
            let index = st.api_keys.len() as Handle;
            // The entry is held across the other checks: same checks, same
            // order.
            let slot = match st.api_keys.entry(k.id.clone()) {
                Entry::Occupied(e) => {
                    return Err(dup(
                        at("id"),
                        "api key",
                        format!("$.api_keys[{}]", e.index()),
                    ))
                }
                Entry::Vacant(e) => e,
            };
            let user = found.user(|| at("owner"))?;
            let tenant = found.tenant(|| at("tenant"))?;
            let credential = Slot {
                kind: CredentialKind::ApiKey,
                index,
                user,
                tenant,
            };
            index_credential(st.by_token.write(), &k.token_sha256, credential, || {
                at("token_sha256")
            })?;
            slot.insert(k);
            Ok(())
        })
    }

    /// Adds `$.sessions[first..]`.
    pub(crate) fn sessions(&mut self, first: usize, batch: &mut Vec<Session>) -> Result<(), Error> {
        let look = |st: &State, x: &Session| {
            Found(
                st.users.get_index_of(&x.user),
                optional(st, x.tenant.as_ref()),
            )
        };
        ahead(&mut self.st, first, batch, look, |st, i, x, found| {
            countable("sessions", i)?;
            let at = |f: &str| format!("$.sessions[{i}].{f}");
            let index = st.sessions.len() as Handle;
            let slot = match st.sessions.entry(x.id.clone()) {
                Entry::Occupied(e) => {
                    return Err(dup(
                        at("id"),
                        "session",
                        format!("$.sessions[{}]", e.index()),
                    ))
                }
                Entry::Vacant(e) => e,
            };
            let user = found.user(|| at("user"))?;
            let tenant = found.tenant(|| at("tenant"))?;
            if x.created_at > x.expires_at {
                return Err(Error::at_path(
                    at("expires_at"),
                    "the session expires before it is created (rule: created_at <= expires_at)",
                ));
            }
            let credential = Slot {
                kind: CredentialKind::Session,
                index,
                user,
                tenant,
            };
            index_credential(st.by_token.write(), &x.token_sha256, credential, || {
                at("token_sha256")
            })?;
            if let Some(l) = st.links.write().get_mut(user as usize) {
                l.sessions.push(index);
            }
            slot.insert(x);
            Ok(())
        })
    }

    /// Adds `$.resources[first..]`.
    pub(crate) fn resources(
        &mut self,
        first: usize,
        batch: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let look = |st: &State, r: &Resource| {
            Found(
                st.users.get_index_of(&r.owner),
                st.tenants.get_index_of(&r.tenant),
            )
        };
        ahead(&mut self.st, first, batch, look, |st, i, r, found| {
            let at = |f: &str| format!("$.resources[{i}].{f}");
            found.tenant(|| at("tenant"))?;
            found.user(|| at("owner"))?;
            match st.resources.entry(Pair(r.tenant.clone(), r.id.clone())) {
                Entry::Occupied(e) => {
                    let j = e.index();
                    Err(Error::at_path(
                        format!("$.resources[{i}]"),
                        format_args!(
                            "duplicate resource: the same tenant and id as $.resources[{j}] (rule: unique (tenant, id) resources)"
                        ),
                    ))
                }
                Entry::Vacant(e) => {
                    e.insert(r);
                    Ok(())
                }
            }
        })
    }
}

/// Records whose references are resolved in one loop before they are
/// added (see above).
const AHEAD: usize = 32;

/// A record's user and tenant positions, `None` when no record has the id.
/// A credential without a tenant has [`NO_HANDLE`] for it.
#[derive(Clone, Copy, Default)]
struct Found(Option<usize>, Option<usize>);

impl Found {
    fn user(self, path: impl FnOnce() -> String) -> Result<Handle, Error> {
        self.0
            .map(|h| h as Handle)
            .ok_or_else(|| dangling(path(), "user"))
    }

    fn tenant(self, path: impl FnOnce() -> String) -> Result<Handle, Error> {
        self.1
            .map(|h| h as Handle)
            .ok_or_else(|| dangling(path(), "tenant"))
    }
}

/// A credential's optional tenant.
fn optional(st: &State, tenant: Option<&Id>) -> Option<usize> {
    match tenant {
        Some(t) => st.tenants.get_index_of(t),
        None => Some(NO_HANDLE as usize),
    }
}

/// Adds the records of `batch` (the first being the section's `first`)
/// with `add`, each with what `look` found for it, looked up [`AHEAD`]
/// records at a time.
fn ahead<T>(
    st: &mut State,
    first: usize,
    batch: &mut Vec<T>,
    look: impl Fn(&State, &T) -> Found,
    mut add: impl FnMut(&mut State, usize, T, Found) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut records = batch.drain(..);
    let mut i = first;
    let mut found = [Found::default(); AHEAD];
    loop {
        let next = records.as_slice();
        if next.is_empty() {
            return Ok(());
        }
        let n = next.len().min(AHEAD);
        for (f, r) in found.iter_mut().zip(next) {
            *f = look(st, r);
        }
        for &f in &found[..n] {
            let Some(r) = records.next() else { break };
            add(st, i, r, f)?;
            i += 1;
        }
    }
}

/// Handles are u32: a section that cannot be counted in one is refused (4
/// billion records would not fit in memory anyway). `i` is the index of
/// the record being added.
fn countable(section: &str, i: usize) -> Result<(), Error> {
    if i >= NO_HANDLE as usize - 1 {
        return Err(too_many(section));
    }
    Ok(())
}

pub(crate) fn too_many(section: &str) -> Error {
    Error::at_path(
        format!("$.{section}"),
        "too many records (rule: fewer than 2^32 - 1 per collection)",
    )
}

/// Indexes a credential by its token hash, unless another has it: one
/// probe of the index for the check and the insert.
fn index_credential(
    by_token: &mut TokenIndex,
    h: &TokenHash,
    credential: Slot,
    path: impl FnOnce() -> String,
) -> Result<(), Error> {
    match by_token.entry(*h) {
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(credential);
            Ok(())
        }
        std::collections::hash_map::Entry::Occupied(e) => {
            // Named by path (loading inserts in input order, so the
            // index is the record's index in the snapshot), not by id.
            let slot = e.get();
            let other = match slot.kind {
                CredentialKind::ApiKey => format!("$.api_keys[{}]", slot.index),
                CredentialKind::Session => format!("$.sessions[{}]", slot.index),
            };
            Err(Error::at_path(
                path(),
                format_args!(
                    "token_sha256 is already used by {other} (rule: token_sha256 unique across keys and sessions)"
                ),
            ))
        }
    }
}

// Integrity errors name records by JSON path, never by a value read from
// the input (an id field may hold a pasted secret): docs/INPUTS.md.
fn dup(path: String, what: &str, earlier: String) -> Error {
    Error::at_path(
        path,
        format_args!(
            "duplicate {what} id: the same as {earlier}.id (rule: unique ids per collection)"
        ),
    )
}

fn dangling(path: String, what: &str) -> Error {
    Error::at_path(
        path,
        format_args!("dangling reference: no {what} has this id (rule: every reference resolves)"),
    )
}
