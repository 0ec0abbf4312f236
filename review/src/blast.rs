//! Blast radius: who and what a group of changed cases touches.
//!
//! Per group, the sets of API keys, sessions and users either decision
//! identified and the tenants acted in; a report lists each as a count and
//! the smallest ids ([`IdCount`]). Sets are [`BTreeSet`]s so that the ids
//! come out sorted and a merge of per-thread sets gives the same result as
//! one thread (reports are byte-identical whatever `--threads` is).
//!
//! Rejected: counting distinct ids with a sketch (HyperLogLog) to bound
//! memory on huge censuses — a reviewer needs the exact ids to contact the
//! owners, and a census's changed credentials are at most the snapshot's
//! credentials, which are already in memory; keeping ids per *case* instead
//! of per group — the same key changes for dozens of actions and channels,
//! and the reviewer asks "which keys", not "which cases".

use std::collections::BTreeSet;

use authproof_engine::{CredentialKind, Decision, Id};
use serde::Serialize;

/// Ids affected by a group of changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RadiusSets {
    pub(crate) api_keys: BTreeSet<Id>,
    sessions: BTreeSet<Id>,
    users: BTreeSet<Id>,
    tenants: BTreeSet<Id>,
}

fn insert(set: &mut BTreeSet<Id>, id: &Id) {
    if !set.contains(id) {
        set.insert(id.clone());
    }
}

impl RadiusSets {
    /// Adds what one changed case touches: the credential and user either
    /// decision identified, and the tenant acted in (the allowing side's
    /// first).
    pub(crate) fn add(&mut self, old: &Decision, new: &Decision) {
        let (first, second) = if new.is_allow() {
            (new, old)
        } else {
            (old, new)
        };
        for d in [first, second] {
            if let Some(c) = &d.credential {
                match c.kind {
                    CredentialKind::ApiKey => insert(&mut self.api_keys, &c.id),
                    CredentialKind::Session => insert(&mut self.sessions, &c.id),
                }
            }
            if let Some(u) = &d.user {
                insert(&mut self.users, u);
            }
        }
        if let Some(t) = first.tenant.as_ref().or(second.tenant.as_ref()) {
            insert(&mut self.tenants, t);
        }
    }

    pub(crate) fn merge(&mut self, other: RadiusSets) {
        self.api_keys.extend(other.api_keys);
        self.sessions.extend(other.sessions);
        self.users.extend(other.users);
        self.tenants.extend(other.tenants);
    }

    pub(crate) fn summary(&self, max_ids: usize) -> BlastRadius {
        let ids = |s: &BTreeSet<Id>| IdCount {
            count: s.len(),
            ids: s.iter().take(max_ids).cloned().collect(),
            truncated: s.len() > max_ids,
        };
        BlastRadius {
            api_keys: ids(&self.api_keys),
            sessions: ids(&self.sessions),
            users: ids(&self.users),
            tenants: ids(&self.tenants),
        }
    }
}

/// A count and the ids (all of them, or the smallest `max_ids`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdCount {
    pub count: usize,
    /// The smallest ids, sorted, at most the report's `max_ids`.
    pub ids: Vec<Id>,
    /// Whether `ids` lists fewer than `count`.
    pub truncated: bool,
}

/// Who and what a change touches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlastRadius {
    pub api_keys: IdCount,
    pub sessions: IdCount,
    pub users: IdCount,
    pub tenants: IdCount,
}
