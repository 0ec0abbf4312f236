//! Grouping changed cases: the running comparison every source feeds.
//!
//! Each case is decided under both policies and compared on its outcome
//! (decision, reason, status, user, credential, tenant, scope, effects; not
//! the free-form explanation). Unchanged cases are only counted; a changed
//! one goes to the group of its (old class → new class) transition, keyed
//! by [`GroupKey`], whose accumulator keeps a count per source, up to
//! [`EXAMPLES`] examples (each of another credential) and the blast radius.
//!
//! Why a tally and not a list of changed cases: a census of a million
//! credentials compares over a hundred million cases, and a stricter policy
//! can change millions of them; the report only ever shows counts, a few
//! examples and the affected ids, so that is all a tally keeps. Every part
//! of it is order-independent (sums, sets, the *smallest* examples), so
//! per-thread tallies merge into exactly what one thread computes: the
//! alternative, sorting all changed cases at the end, costs memory
//! proportional to the change and buys nothing the report shows.

use authproof_verification::lockstep::DecisionProjection;
use std::collections::{BTreeMap, BTreeSet};

use authproof_engine::{CredentialRef, Decision, Id, Reason, Timestamp, Verdict};
use serde::Serialize;

use crate::blast::RadiusSets;

/// How many examples a group keeps.
pub const EXAMPLES: usize = 3;

/// Where a case comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Census,
    Requests,
    Explore,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Census => "census",
            SourceKind::Requests => "requests",
            SourceKind::Explore => "explore",
        }
    }
}

/// The kind of a change, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionChange {
    /// deny → allow.
    NewlyAllowed,
    /// allow → deny.
    NewlyDenied,
    /// deny → deny with another reason.
    ReasonChanged,
    /// Same decision and reason, another user, credential, tenant, scope or
    /// effects (an allow in another tenant, say).
    DetailChanged,
}

impl DecisionChange {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionChange::NewlyAllowed => "newly_allowed",
            DecisionChange::NewlyDenied => "newly_denied",
            DecisionChange::ReasonChanged => "reason_changed",
            DecisionChange::DetailChanged => "detail_changed",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            DecisionChange::NewlyAllowed => "NEWLY ALLOWED",
            DecisionChange::NewlyDenied => "NEWLY DENIED",
            DecisionChange::ReasonChanged => "REASON CHANGED",
            DecisionChange::DetailChanged => "DETAIL CHANGED",
        }
    }
}

/// A decision and its reason: what groups are keyed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Class {
    pub decision: Verdict,
    pub reason: Option<Reason>,
}

impl Class {
    fn of(d: &Decision) -> Class {
        Class {
            decision: d.decision,
            reason: d.reason,
        }
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.decision, self.reason) {
            (Verdict::Allow, _) => f.write_str("allow"),
            (Verdict::Deny, Some(r)) => write!(f, "deny {r}"),
            (Verdict::Deny, None) => f.write_str("deny"),
        }
    }
}

/// What identifies a group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct GroupKey {
    pub(crate) change: DecisionChange,
    pub(crate) old: Class,
    pub(crate) new: Class,
    /// For [`DecisionChange::DetailChanged`]: the outcome fields that differ.
    pub(crate) fields: Vec<&'static str>,
}

/// One changed case, as shown in a report. Never holds a token.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Example {
    /// Examples from real inputs (census, requests) sort first.
    pub source: SourceKind,
    /// The credential the decisions identified (either policy's), if any.
    pub credential: Option<CredentialRef>,
    pub action: String,
    /// The tenant the request names (`null`: none).
    pub tenant: Option<Id>,
    /// Where the credential is presented: `header x-api-key`,
    /// `cookie <name>`, `authorization: Bearer`, `none`.
    pub channel: String,
    pub user: Option<Id>,
    pub at: Timestamp,
    /// Which input: the snapshot or requests file (with `#n`, the 1-based
    /// request number), or `universe state <n>` for the explorer.
    pub origin: String,
}

/// The examples of a group: for each of the (at most [`EXAMPLES`])
/// smallest (source, credential) pairs, its smallest example. The choice
/// depends only on the set of cases, not on the order they come in, so
/// threads and merges do not change it.
type ExampleKey = (SourceKind, Option<CredentialRef>);

#[derive(Clone, Debug, Default)]
pub(crate) struct Acc {
    pub(crate) count: u64,
    pub(crate) by_source: BTreeMap<SourceKind, u64>,
    pub(crate) examples: BTreeMap<ExampleKey, Example>,
    pub(crate) radius: RadiusSets,
}

impl Acc {
    /// Whether an example with this key could be kept.
    fn wants(&self, source: SourceKind, cred: Option<&CredentialRef>) -> bool {
        self.examples.len() < EXAMPLES
            || self
                .examples
                .keys()
                .next_back()
                .is_some_and(|(s, c)| (source, cred) <= (*s, c.as_ref()))
    }

    fn offer(&mut self, e: Example) {
        let key = (e.source, e.credential.clone());
        match self.examples.get_mut(&key) {
            Some(have) => {
                if e < *have {
                    *have = e;
                }
            }
            None => {
                self.examples.insert(key, e);
                if self.examples.len() > EXAMPLES {
                    self.examples.pop_last();
                }
            }
        }
    }

    fn merge(&mut self, other: Acc) {
        self.count += other.count;
        for (k, v) in other.by_source {
            *self.by_source.entry(k).or_default() += v;
        }
        for e in other.examples.into_values() {
            self.offer(e);
        }
        self.radius.merge(other.radius);
    }
}

/// Cases per source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourceCount {
    pub cases: u64,
    pub changed: u64,
}

/// The running comparison: changed cases grouped, with counts.
#[derive(Clone, Debug, Default)]
pub struct CaseTally {
    pub(crate) groups: BTreeMap<GroupKey, Acc>,
    pub(crate) sources: BTreeMap<SourceKind, SourceCount>,
}

/// The outcome fields that differ between two decisions (besides the
/// decision and reason themselves).
fn differing(old: &Decision, new: &Decision) -> Vec<&'static str> {
    let mut f = Vec::new();
    if old.user != new.user {
        f.push("user");
    }
    if old.credential != new.credential {
        f.push("credential");
    }
    if old.tenant != new.tenant {
        f.push("tenant");
    }
    if old.scope != new.scope {
        f.push("scope");
    }
    if old.effects != new.effects {
        f.push("effects");
    }
    f
}

/// How one case changed, or `None` when its outcome is the same.
pub fn change_of(old: &Decision, new: &Decision) -> Option<DecisionChange> {
    if DecisionProjection::of(old) == DecisionProjection::of(new) {
        return None;
    }
    Some(match (old.decision, new.decision) {
        (Verdict::Deny, Verdict::Allow) => DecisionChange::NewlyAllowed,
        (Verdict::Allow, Verdict::Deny) => DecisionChange::NewlyDenied,
        _ if old.reason != new.reason => DecisionChange::ReasonChanged,
        _ => DecisionChange::DetailChanged,
    })
}

impl CaseTally {
    pub fn new() -> CaseTally {
        CaseTally::default()
    }

    /// Counts unchanged cases of a source in bulk.
    pub(crate) fn count_cases(&mut self, source: SourceKind, n: u64) {
        self.sources.entry(source).or_default().cases += n;
    }

    /// Compares one case's decisions; records it when it changed.
    /// `example` is only built when the case is kept as an example.
    pub fn record(
        &mut self,
        source: SourceKind,
        old: &Decision,
        new: &Decision,
        example: impl FnOnce() -> Example,
    ) {
        self.count_cases(source, 1);
        self.record_changed(source, old, new, example);
    }

    /// [`CaseTally::record`] for a case already counted.
    pub(crate) fn record_changed(
        &mut self,
        source: SourceKind,
        old: &Decision,
        new: &Decision,
        example: impl FnOnce() -> Example,
    ) {
        let Some(change) = change_of(old, new) else {
            return;
        };
        self.sources.entry(source).or_default().changed += 1;
        let key = GroupKey {
            change,
            old: Class::of(old),
            new: Class::of(new),
            fields: if change == DecisionChange::DetailChanged {
                differing(old, new)
            } else {
                Vec::new()
            },
        };
        let acc = self.groups.entry(key).or_default();
        acc.count += 1;
        *acc.by_source.entry(source).or_default() += 1;
        // The explorer's universe is synthetic: its changes are counted,
        // but its ids (k1, s1, ...) name nobody, so they stay out of the
        // blast radius.
        if source != SourceKind::Explore {
            acc.radius.add(old, new);
        }
        // Every example names the new decision's credential, else the old
        // one's: build it only when it could be kept.
        if acc.wants(source, new.credential.as_ref().or(old.credential.as_ref())) {
            acc.offer(example());
        }
    }

    /// Adds another tally (from another thread or source).
    pub fn merge(&mut self, other: CaseTally) {
        for (k, v) in other.groups {
            self.groups.entry(k).or_default().merge(v);
        }
        for (k, v) in other.sources {
            let s = self.sources.entry(k).or_default();
            s.cases += v.cases;
            s.changed += v.changed;
        }
    }

    /// Number of changed cases of one kind.
    pub fn count(&self, change: DecisionChange) -> u64 {
        self.groups
            .iter()
            .filter(|(k, _)| k.change == change)
            .map(|(_, a)| a.count)
            .sum()
    }

    /// The ids of the API keys in groups of one kind of change.
    pub fn api_keys(&self, change: DecisionChange) -> BTreeSet<Id> {
        let mut out = BTreeSet::new();
        for (k, a) in &self.groups {
            if k.change == change {
                out.extend(a.radius.api_keys.iter().cloned());
            }
        }
        out
    }
}
