//! Policy change review: what changes when `old` policy becomes `new`.
//!
//! Every decision that could differ is made under both policies with the
//! engine ([`State::decide`] / [`State::decide_presented`]) and compared on
//! its outcome (decision, reason, status, user, credential, tenant, scope,
//! effects; not the free-form explanation). Three sources of cases:
//!
//! 1. a **census** of a snapshot ([`census`]): every API key and session ×
//!    every action of either policy × each tenant that matters for the
//!    credential (its user's memberships, a key's bound tenant, one foreign
//!    tenant, and no tenant) × every presentation channel either policy
//!    accepts (each policy's API-key header, Bearer, each cookie name of
//!    either policy). A snapshot holds token hashes only, so the census
//!    decides each credential by hash ([`Presented`]); a channel a policy
//!    does not accept gives `no_credential` / `malformed_credential` under
//!    that policy exactly as a real request would;
//! 2. **recorded requests** ([`requests`]) against a snapshot;
//! 3. an **exhaustive small scope** ([`explore`]): every request of the
//!    explorer's small universe in every state reachable within a depth, by
//!    the old policy's moves and by the new one's.
//!
//! Changed cases are grouped by (old outcome → new outcome) into a
//! [`Tally`], which keeps counts, up to three examples of each group, each
//! of another credential (credential id, action, tenant, channel — never a
//! token; real inputs before the explorer's) and the blast radius (affected keys, sessions,
//! users, tenants of the census and the recorded requests: the explorer's
//! universe is synthetic, its changes are counted but name nobody). Everything is sorted:
//! the same inputs give byte-identical reports, whatever the thread count.

pub mod suite;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use authproof_engine::{
    credential::{extract, Extraction},
    Command, CredentialKind, CredentialRef, Decision, Id, Op, Policy, Presented, Reason, Request,
    Snapshot, State, Timestamp, Verdict, Via,
};
use serde::Serialize;

use authproof_verification::explore::{self as explorer, Universe};

/// How many examples a group keeps.
pub const EXAMPLES: usize = 3;
/// How many ids text and Markdown reports show per blast-radius entry.
pub const FIRST_IDS: usize = 5;
/// How many ids a JSON report lists per blast-radius entry by default.
pub const MAX_IDS: usize = 1000;

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
pub enum Change {
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

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::NewlyAllowed => "newly_allowed",
            Change::NewlyDenied => "newly_denied",
            Change::ReasonChanged => "reason_changed",
            Change::DetailChanged => "detail_changed",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Change::NewlyAllowed => "NEWLY ALLOWED",
            Change::NewlyDenied => "NEWLY DENIED",
            Change::ReasonChanged => "REASON CHANGED",
            Change::DetailChanged => "DETAIL CHANGED",
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
struct GroupKey {
    change: Change,
    old: Class,
    new: Class,
    /// For [`Change::DetailChanged`]: the outcome fields that differ.
    fields: Vec<&'static str>,
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

/// Ids affected by a group of changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RadiusSets {
    api_keys: BTreeSet<Id>,
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
    fn merge(&mut self, other: RadiusSets) {
        self.api_keys.extend(other.api_keys);
        self.sessions.extend(other.sessions);
        self.users.extend(other.users);
        self.tenants.extend(other.tenants);
    }

    fn summary(&self, max_ids: usize) -> BlastRadius {
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

/// The examples of a group: for each of the (at most [`EXAMPLES`])
/// smallest (source, credential) pairs, its smallest example. The choice
/// depends only on the set of cases, not on the order they come in, so
/// threads and merges do not change it.
type ExampleKey = (SourceKind, Option<CredentialRef>);

#[derive(Clone, Debug, Default)]
struct Acc {
    count: u64,
    by_source: BTreeMap<SourceKind, u64>,
    examples: BTreeMap<ExampleKey, Example>,
    radius: RadiusSets,
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
pub struct Tally {
    groups: BTreeMap<GroupKey, Acc>,
    sources: BTreeMap<SourceKind, SourceCount>,
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
pub fn change_of(old: &Decision, new: &Decision) -> Option<Change> {
    if old.outcome() == new.outcome() {
        return None;
    }
    Some(match (old.decision, new.decision) {
        (Verdict::Deny, Verdict::Allow) => Change::NewlyAllowed,
        (Verdict::Allow, Verdict::Deny) => Change::NewlyDenied,
        _ if old.reason != new.reason => Change::ReasonChanged,
        _ => Change::DetailChanged,
    })
}

impl Tally {
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Counts unchanged cases of a source in bulk.
    fn count_cases(&mut self, source: SourceKind, n: u64) {
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

    /// [`Tally::record`] for a case already counted.
    fn record_changed(
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
            fields: if change == Change::DetailChanged {
                differing(old, new)
            } else {
                Vec::new()
            },
        };
        let acc = self.groups.entry(key).or_default();
        acc.count += 1;
        *acc.by_source.entry(source).or_default() += 1;
        // The blast radius: the credential and user either decision
        // identified, and the tenant acted in (by the allowing side first).
        // The explorer's universe is synthetic: its changes are counted,
        // but its ids (k1, s1, ...) name nobody, so they stay out.
        let (first, second) = if new.is_allow() {
            (new, old)
        } else {
            (old, new)
        };
        let radius = if source == SourceKind::Explore {
            &mut RadiusSets::default()
        } else {
            &mut acc.radius
        };
        for d in [first, second] {
            if let Some(c) = &d.credential {
                match c.kind {
                    CredentialKind::ApiKey => insert(&mut radius.api_keys, &c.id),
                    CredentialKind::Session => insert(&mut radius.sessions, &c.id),
                }
            }
            if let Some(u) = &d.user {
                insert(&mut radius.users, u);
            }
        }
        if let Some(t) = first.tenant.as_ref().or(second.tenant.as_ref()) {
            insert(&mut radius.tenants, t);
        }
        // Every example names the new decision's credential, else the old
        // one's: build it only when it could be kept.
        if acc.wants(source, new.credential.as_ref().or(old.credential.as_ref())) {
            acc.offer(example());
        }
    }

    /// Adds another tally (from another thread or source).
    pub fn merge(&mut self, other: Tally) {
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
    pub fn count(&self, change: Change) -> u64 {
        self.groups
            .iter()
            .filter(|(k, _)| k.change == change)
            .map(|(_, a)| a.count)
            .sum()
    }

    /// The ids of the API keys in groups of one kind of change.
    pub fn api_keys(&self, change: Change) -> BTreeSet<Id> {
        let mut out = BTreeSet::new();
        for (k, a) in &self.groups {
            if k.change == change {
                out.extend(a.radius.api_keys.iter().cloned());
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Sources.

/// A credential of the census: a key or a session of the snapshot.
struct Cred<'s> {
    /// The kind of the record.
    kind: CredentialKind,
    token: authproof_engine::TokenHash,
    known_prefix: &'s str,
    user: &'s Id,
    bound: Option<&'s Id>,
    /// The tenant the credential acts in when the request names none: a
    /// bound key's tenant, a session's active tenant.
    implied: Option<&'s Id>,
}

/// The presentation channels of the census: each policy's API-key header,
/// Bearer, each cookie name of either policy; deduplicated, in that order.
pub fn channels<'p>(old: &'p Policy, new: &'p Policy) -> Vec<Via<'p>> {
    let mut out: Vec<Via<'p>> = Vec::new();
    for p in [old, new] {
        let h = p.api_key.header.as_str();
        if !out
            .iter()
            .any(|v| matches!(v, Via::Header(x) if x.eq_ignore_ascii_case(h)))
        {
            out.push(Via::Header(h));
        }
    }
    out.push(Via::Bearer);
    for p in [old, new] {
        for c in &p.session.cookies {
            if !out.contains(&Via::Cookie(c)) {
                out.push(Via::Cookie(c));
            }
        }
    }
    out
}

/// How a channel is named in reports.
pub fn describe(via: &Via<'_>) -> String {
    match via {
        Via::Header(h) => format!("header {}", h.to_ascii_lowercase()),
        Via::Cookie(c) => format!("cookie {c}"),
        Via::Bearer => "authorization: Bearer".into(),
    }
}

/// The actions of either policy, sorted.
pub fn actions<'p>(old: &'p Policy, new: &'p Policy) -> Vec<&'p str> {
    let set: BTreeSet<&str> = old
        .actions
        .keys()
        .chain(new.actions.keys())
        .map(String::as_str)
        .collect();
    set.into_iter().collect()
}

/// Number of census cases a snapshot gives (for progress and sizing).
pub fn census_size(state: &State, old: &Policy, new: &Policy) -> u64 {
    let idx = TenantIndex::new(state);
    let per = (actions(old, new).len() * channels(old, new).len()) as u64;
    let keys: u64 = state
        .api_keys()
        .map(|k| idx.tenants_for(&k.owner, k.tenant.as_ref()).len() as u64)
        .sum();
    let sessions: u64 = state
        .sessions()
        .map(|s| idx.tenants_for(&s.user, None).len() as u64)
        .sum();
    (keys + sessions) * per
}

/// user → tenants of the user's memberships, and the tenant list.
struct TenantIndex<'s> {
    of_user: HashMap<&'s str, Vec<&'s Id>>,
    all: Vec<&'s Id>,
}

impl<'s> TenantIndex<'s> {
    fn new(state: &'s State) -> TenantIndex<'s> {
        let mut of_user: HashMap<&str, Vec<&Id>> = HashMap::new();
        for m in state.memberships() {
            of_user.entry(m.user.as_str()).or_default().push(&m.tenant);
        }
        TenantIndex {
            of_user,
            all: state.tenants().map(|t| &t.id).collect(),
        }
    }

    /// The tenants that matter for a credential: no tenant, the user's
    /// memberships, the bound tenant, and the first other tenant of the
    /// snapshot (a foreign one), without repeats.
    fn tenants_for(&self, user: &str, bound: Option<&'s Id>) -> Vec<Option<&'s Id>> {
        let mut out: Vec<Option<&Id>> = vec![None];
        let mine = self.of_user.get(user).map_or(&[][..], Vec::as_slice);
        for t in mine.iter().copied().chain(bound) {
            if !out.contains(&Some(t)) {
                out.push(Some(t));
            }
        }
        if let Some(foreign) = self.all.iter().find(|t| !out.contains(&Some(**t))) {
            out.push(Some(foreign));
        }
        out
    }
}

/// Census of `state` at `at`: see the module documentation. Runs on
/// `threads` threads (at least one); the tally does not depend on it.
pub fn census(
    state: &State,
    old: &Policy,
    new: &Policy,
    at: Timestamp,
    origin: &str,
    threads: usize,
) -> Tally {
    let idx = TenantIndex::new(state);
    let creds: Vec<Cred<'_>> = state
        .api_keys()
        .map(|k| Cred {
            kind: CredentialKind::ApiKey,
            token: k.token_sha256,
            known_prefix: &k.prefix,
            user: &k.owner,
            bound: k.tenant.as_ref(),
            implied: k.tenant.as_ref(),
        })
        .chain(state.sessions().map(|s| Cred {
            kind: CredentialKind::Session,
            token: s.token_sha256,
            known_prefix: "",
            user: &s.user,
            bound: None,
            implied: s.tenant.as_ref(),
        }))
        .collect();
    let ctx = Census {
        state,
        policies: [old, new],
        actions: actions(old, new),
        channels: channels(old, new),
        at,
        origin,
        idx,
    };
    let threads = threads.clamp(1, 64);
    if threads == 1 || creds.len() < 1024 {
        return ctx.run(&creds);
    }
    let chunk = creds.len().div_ceil(threads);
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = creds
            .chunks(chunk)
            .map(|part| {
                let ctx = &ctx;
                scope.spawn(move || ctx.run(part))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("census thread"))
            .collect()
    });
    let mut out = Tally::new();
    for t in tallies {
        out.merge(t);
    }
    out
}

struct Census<'s, 'p> {
    state: &'s State,
    policies: [&'p Policy; 2],
    actions: Vec<&'p str>,
    channels: Vec<Via<'p>>,
    at: Timestamp,
    origin: &'s str,
    idx: TenantIndex<'s>,
}

fn kind_index(k: CredentialKind) -> usize {
    match k {
        CredentialKind::Session => 0,
        CredentialKind::ApiKey => 1,
    }
}

/// A census credential presented on `via`.
fn present<'a>(via: Via<'a>, cred: &Cred<'a>) -> Presented<'a> {
    Presented {
        via,
        token: cred.token,
        known_prefix: cred.known_prefix,
    }
}

impl<'s, 'p> Census<'s, 'p> {
    fn request(&self, action: &str, tenant: Option<&Id>) -> Request {
        Request {
            at: self.at,
            action: action.to_string(),
            headers: Default::default(),
            tenant: tenant.cloned(),
            resource: None,
        }
    }

    fn run(&self, creds: &[Cred<'s>]) -> Tally {
        let mut tally = Tally::new();
        let (na, nc) = (self.actions.len(), self.channels.len());
        // Decisions shared by many cases are made once. Each sharing rests
        // on a guarantee, and `census_matches_real_requests` checks the
        // result case for case against `decide` on real headers:
        //
        // * `fixed[p][c][a]`: the policy reads no usable token from the
        //   channel; the outcome does not depend on the credential
        //   (`Presented::kind_under`).
        // * `absent[p][k][a]`: a token read as kind `k` whose record is of
        //   the other kind is not found (docs/SEMANTICS.md: kinds never
        //   cross), whatever the credential and tenant.
        // * one decision for every tenant when it fails before step 4
        //   (SPEC §6: the request's tenant is first read there);
        // * naming the tenant a credential acts in anyway (a key's bound
        //   tenant, a session's active tenant) decides as naming none
        //   (SPEC §6 step 4);
        // * one decision per action rule (`same_rule` below).
        let mut fixed: Vec<Option<Decision>> = vec![None; 2 * nc * na];
        let mut absent: Vec<Option<Decision>> = vec![None; 2 * 2 * na];
        // Per credential: decisions, and [policy][kind][action][tenant] →
        // index into them.
        let mut local: Vec<Decision> = Vec::new();
        let mut slots: Vec<usize> = Vec::new();
        let mut reqs: Vec<Request> = self.actions.iter().map(|a| self.request(a, None)).collect();
        // same_rule[p][a]: the first action with the same rule as `a` under
        // policy p (unknown actions count as one rule). An outcome depends
        // on the action only through its rule (the `action` field is not
        // part of it), so such actions share their decisions.
        let same_rule: [Vec<usize>; 2] = self.policies.map(|policy| {
            let rules: Vec<_> = self
                .actions
                .iter()
                .map(|a| policy.actions.get(*a))
                .collect();
            (0..na)
                .map(|a| rules.iter().position(|r| *r == rules[a]).expect("a itself"))
                .collect()
        });
        for cred in creds {
            let tenants = self.idx.tenants_for(cred.user, cred.bound);
            let nt = tenants.len();
            local.clear();
            slots.clear();
            slots.resize(2 * 2 * na * nt, usize::MAX);
            let presented = |via: Via<'p>| present(via, cred);
            // kinds[p][c]: the kind policy p reads from channel c.
            let kinds: [Vec<Option<CredentialKind>>; 2] = [0, 1].map(|p| {
                self.channels
                    .iter()
                    .map(|v| presented(*v).kind_under(self.policies[p]))
                    .collect()
            });
            for (p, policy) in self.policies.iter().enumerate() {
                for (c, via) in self.channels.iter().enumerate() {
                    let Some(k) = kinds[p][c] else {
                        for (a, req) in reqs.iter().enumerate() {
                            let slot = &mut fixed[(p * nc + c) * na + a];
                            if slot.is_none() {
                                *slot = Some(self.state.decide_presented(
                                    policy,
                                    req,
                                    &presented(*via),
                                ));
                            }
                        }
                        continue;
                    };
                    if k != cred.kind {
                        for (a, req) in reqs.iter().enumerate() {
                            let slot = &mut absent[(p * 2 + kind_index(k)) * na + a];
                            if slot.is_none() {
                                let d = self.state.decide_presented(policy, req, &presented(*via));
                                debug_assert!(d.credential.is_none() && before_tenant(&d));
                                *slot = Some(d);
                            }
                        }
                        continue;
                    }
                    let base = (p * 2 + kind_index(k)) * na * nt;
                    if slots[base] != usize::MAX {
                        continue;
                    }
                    for (a, req) in reqs.iter_mut().enumerate() {
                        let same = same_rule[p][a];
                        if same != a {
                            slots.copy_within(
                                base + same * nt..base + (same + 1) * nt,
                                base + a * nt,
                            );
                            continue;
                        }
                        for (t, tenant) in tenants.iter().enumerate() {
                            let i = base + a * nt + t;
                            if t > 0
                                && (before_tenant(&local[slots[base + a * nt]])
                                    || (*tenant).is_some() && *tenant == cred.implied)
                            {
                                slots[i] = slots[base + a * nt];
                                continue;
                            }
                            req.tenant = tenant.cloned();
                            local.push(self.state.decide_presented(policy, req, &presented(*via)));
                            slots[i] = local.len() - 1;
                        }
                        req.tenant = None;
                    }
                }
            }
            tally.count_cases(SourceKind::Census, (nc * na * nt) as u64);
            for c in 0..nc {
                for a in 0..na {
                    for t in 0..nt {
                        let get = |p: usize| -> &Decision {
                            match kinds[p][c] {
                                None => fixed[(p * nc + c) * na + a].as_ref(),
                                Some(k) if k != cred.kind => {
                                    absent[(p * 2 + kind_index(k)) * na + a].as_ref()
                                }
                                Some(k) => {
                                    local.get(slots[(p * 2 + kind_index(k)) * na * nt + a * nt + t])
                                }
                            }
                            .expect("decided above")
                        };
                        let (old, new) = (get(0), get(1));
                        if old.outcome() == new.outcome() {
                            continue;
                        }
                        tally.record_changed(SourceKind::Census, old, new, || Example {
                            credential: new.credential.clone().or_else(|| old.credential.clone()),
                            action: self.actions[a].to_string(),
                            tenant: tenants[t].cloned(),
                            channel: describe(&self.channels[c]),
                            user: new.user.clone().or_else(|| old.user.clone()),
                            at: self.at,
                            source: SourceKind::Census,
                            origin: self.origin.to_string(),
                        });
                    }
                }
            }
        }
        tally
    }
}

/// Whether a decision failed in steps 0–3 of SPEC §6, before the request's
/// tenant is read: then every tenant gets the same outcome.
fn before_tenant(d: &Decision) -> bool {
    use Reason::*;
    matches!(
        d.reason,
        Some(
            UnknownAction
                | NoCredential
                | AmbiguousCredential
                | MalformedCredential
                | ApiKeyNotFound
                | ApiKeyDeleted
                | ApiKeyRevoked
                | ApiKeyDisabled
                | ApiKeyExpired
                | SessionNotFound
                | SessionRevoked
                | SessionExpired
                | UserBanned
                | CredentialNotAllowed
        )
    )
}

/// The channel a request presents its credential on, as extraction under
/// `policy` reads it (`none` when it presents none).
fn request_channel(policy: &Policy, req: &Request) -> String {
    match extract(policy, &req.headers) {
        Extraction::Token { channel, .. } | Extraction::Malformed(channel, _) => {
            channel.describe(policy)
        }
        Extraction::Ambiguous(n) => format!("{n} credentials"),
        Extraction::None => "none".into(),
    }
}

fn request_example(
    old: &Decision,
    new: &Decision,
    policy: &Policy,
    req: &Request,
    source: SourceKind,
    origin: String,
) -> Example {
    Example {
        credential: new.credential.clone().or_else(|| old.credential.clone()),
        action: req.action.clone(),
        tenant: req.tenant.clone(),
        channel: request_channel(policy, req),
        user: new.user.clone().or_else(|| old.user.clone()),
        at: req.at,
        source,
        origin,
    }
}

/// Recorded requests decided against `state` under both policies.
pub fn requests(
    state: &State,
    old: &Policy,
    new: &Policy,
    reqs: &[Request],
    origin: &str,
) -> Tally {
    let mut tally = Tally::new();
    for (i, req) in reqs.iter().enumerate() {
        let (o, n) = (state.decide(old, req), state.decide(new, req));
        tally.record(SourceKind::Requests, &o, &n, || {
            request_example(
                &o,
                &n,
                old,
                req,
                SourceKind::Requests,
                format!("{origin}#{}", i + 1),
            )
        });
    }
    tally
}

/// What the exhaustive comparison covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExploreStats {
    pub depth: usize,
    /// Distinct (state, time) pairs compared.
    pub states: u64,
}

/// The universes to compare on: the explorer's universe for each policy's
/// timing (once when they coincide).
pub fn universes(old: &Policy, new: &Policy) -> Vec<Universe> {
    let a = Universe::for_policy(old);
    let b = Universe::for_policy(new);
    if a.times == b.times {
        vec![a]
    } else {
        vec![a, b]
    }
}

/// Every request of the small universe in every state reachable within
/// `depth` commands under the old policy or the new one, decided under
/// both.
pub fn explore(old: &Policy, new: &Policy, depth: usize) -> (Tally, ExploreStats) {
    let mut tally = Tally::new();
    let mut stats = ExploreStats { depth, states: 0 };
    for universe in universes(old, new) {
        let mut seen: BTreeSet<(String, Timestamp)> = BTreeSet::new();
        let mut states: Vec<(Snapshot, Timestamp)> = Vec::new();
        for policy in [old, new] {
            for (snap, at) in explorer::reachable(&universe, policy, depth) {
                let key = serde_json::to_string(&snap).expect("snapshots serialize");
                if seen.insert((key, at)) {
                    states.push((snap, at));
                }
            }
        }
        for (snap, at) in states {
            stats.states += 1;
            let n = stats.states;
            let state = State::from_snapshot(snap).expect("reachable states are well formed");
            for req in universe.requests(at) {
                let (o, d) = (state.decide(old, &req), state.decide(new, &req));
                tally.record(SourceKind::Explore, &o, &d, || {
                    request_example(
                        &o,
                        &d,
                        old,
                        &req,
                        SourceKind::Explore,
                        format!("universe state {n}"),
                    )
                });
            }
        }
    }
    (tally, stats)
}

// ---------------------------------------------------------------------------
// Invariants.

/// Which policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Old,
    New,
}

/// The invariants checked under one policy on one source.
#[derive(Clone, Debug, Serialize)]
pub struct InvariantCheck {
    pub policy: Side,
    pub source: SourceKind,
    /// Commands run (transitions for the explorer).
    pub steps: u64,
    pub held: bool,
    /// The first violation, e.g. `I1 tenant isolation: ...`.
    pub violation: Option<String>,
    /// Where the counterexample trace was written (set by the caller).
    pub trace_file: Option<String>,
    /// The counterexample trace (SPEC §10); written to a file, never
    /// printed: it holds test tokens.
    #[serde(skip)]
    pub trace: Option<serde_json::Value>,
    /// Why the check did not run, if it did not.
    pub skipped: Option<String>,
}

/// I1–I10 under `policy` on the explorer's small universe to `depth`.
pub fn invariants_explore(policy: &Policy, side: Side, depth: usize) -> InvariantCheck {
    let universe = Universe::for_policy(policy);
    let cfg = explorer::Config {
        depth,
        ..explorer::Config::default()
    };
    let report = explorer::explore(&universe, policy, &cfg, &mut |_| {});
    let cx = report.counterexample;
    InvariantCheck {
        policy: side,
        source: SourceKind::Explore,
        steps: report.transitions,
        held: cx.is_none(),
        violation: cx.as_ref().map(|c| c.violation.to_string()),
        trace_file: None,
        trace: cx.map(|c| c.trace),
        skipped: None,
    }
}

/// Snapshots larger than this (records) are not replayed through the
/// harness, which copies the whole state at every step.
pub const HARNESS_MAX_RECORDS: usize = 20_000;

/// I1–I10 under `policy` on the recorded requests as `authenticate`
/// commands (sorted by time, stably) from `snapshot`.
pub fn invariants_requests(
    policy: &Policy,
    side: Side,
    snapshot: &Snapshot,
    reqs: &[Request],
) -> InvariantCheck {
    let mut check = InvariantCheck {
        policy: side,
        source: SourceKind::Requests,
        steps: 0,
        held: true,
        violation: None,
        trace_file: None,
        trace: None,
        skipped: None,
    };
    let records = snapshot.tenants.len()
        + snapshot.users.len()
        + snapshot.memberships.len()
        + snapshot.api_keys.len()
        + snapshot.sessions.len()
        + snapshot.resources.len();
    if records > HARNESS_MAX_RECORDS {
        check.skipped = Some(format!(
            "snapshot has {records} records (the harness replays at most {HARNESS_MAX_RECORDS})"
        ));
        return check;
    }
    let mut steps: Vec<Command> = reqs
        .iter()
        .map(|r| Command {
            at: r.at,
            op: Op::Authenticate {
                action: r.action.clone(),
                headers: r.headers.clone(),
                tenant: r.tenant.clone(),
                resource: r.resource.clone(),
            },
        })
        .collect();
    steps.sort_by_key(|c| c.at);
    match authproof_verification::lockstep::run(policy, snapshot, &steps) {
        Err(e) => check.skipped = Some(format!("not replayable: {}", e.message)),
        Ok(run) => {
            check.steps = run.steps.len() as u64;
            if let Some((index, v)) = run.first_violation() {
                check.held = false;
                check.violation = Some(v.to_string());
                let upto = index.map_or(0, |i| i + 1);
                check.trace = Some(explorer::trace(policy, snapshot, &steps[..upto]));
            }
        }
    }
    check
}

// ---------------------------------------------------------------------------
// Reports.

/// `--fail-on`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailOn {
    /// Fail when any case is newly allowed (or an invariant breaks).
    #[default]
    NewlyAllowed,
    /// Fail on any change at all (or an invariant breaks).
    Any,
    /// Never fail.
    Never,
}

/// One source of a report.
#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo {
    pub kind: SourceKind,
    /// The file, or `universe` for the explorer.
    pub origin: String,
    /// The time the census decided at (census only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// Explorer depth and states compared (explorer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explore: Option<ExploreStats>,
    pub cases: u64,
    pub changed: u64,
}

/// One group of changed cases.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub change: Change,
    pub old: Class,
    pub new: Class,
    /// For `detail_changed`: which outcome fields differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<&'static str>,
    pub count: u64,
    pub by_source: BTreeMap<SourceKind, u64>,
    pub examples: Vec<Example>,
    pub blast_radius: BlastRadius,
}

/// Totals.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub cases: u64,
    pub changed: u64,
    pub newly_allowed: u64,
    pub newly_denied: u64,
    pub reason_changed: u64,
    pub detail_changed: u64,
    pub invariants_held: bool,
}

/// A whole review.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub old: String,
    pub new: String,
    pub sources: Vec<SourceInfo>,
    pub summary: Summary,
    pub groups: Vec<Group>,
    /// Per change kind (newly_allowed, newly_denied, ...), the union of its
    /// groups' blast radii.
    pub blast_radius: BTreeMap<Change, BlastRadius>,
    pub invariants: Vec<InvariantCheck>,
    pub fail_on: FailOn,
    /// `pass` or `fail`, per `fail_on`.
    pub result: &'static str,
}

/// The `format` of a JSON report.
pub const FORMAT: &str = "authproof-diff/1";

impl Report {
    /// Builds the report of a tally. `sources` lists the inputs in the
    /// order they were given; their counts are filled from the tallies.
    /// Blast radii list at most `max_ids` ids each.
    pub fn build(
        old: &str,
        new: &str,
        sources: Vec<(SourceInfo, Tally)>,
        invariants: Vec<InvariantCheck>,
        fail_on: FailOn,
        max_ids: usize,
    ) -> Report {
        let mut all = Tally::new();
        let mut infos = Vec::new();
        for (mut info, tally) in sources {
            let c = tally.sources.get(&info.kind).cloned().unwrap_or_default();
            info.cases = c.cases;
            info.changed = c.changed;
            infos.push(info);
            all.merge(tally);
        }
        let mut per_change: BTreeMap<Change, RadiusSets> = BTreeMap::new();
        let mut groups = Vec::new();
        // Within a kind, biggest groups first, then by classes.
        let mut keyed: Vec<(GroupKey, Acc)> = all.groups.into_iter().collect();
        keyed.sort_by(|(ka, a), (kb, b)| {
            (ka.change, std::cmp::Reverse(a.count), ka).cmp(&(
                kb.change,
                std::cmp::Reverse(b.count),
                kb,
            ))
        });
        for (k, acc) in keyed {
            per_change
                .entry(k.change)
                .or_default()
                .merge(acc.radius.clone());
            groups.push(Group {
                change: k.change,
                old: k.old,
                new: k.new,
                fields: k.fields,
                count: acc.count,
                by_source: acc.by_source,
                examples: acc.examples.into_values().collect(),
                blast_radius: acc.radius.summary(max_ids),
            });
        }
        let count = |c: Change| {
            groups
                .iter()
                .filter(|g| g.change == c)
                .map(|g| g.count)
                .sum()
        };
        let summary = Summary {
            cases: infos.iter().map(|s| s.cases).sum(),
            changed: infos.iter().map(|s| s.changed).sum(),
            newly_allowed: count(Change::NewlyAllowed),
            newly_denied: count(Change::NewlyDenied),
            reason_changed: count(Change::ReasonChanged),
            detail_changed: count(Change::DetailChanged),
            invariants_held: invariants.iter().all(|c| c.held),
        };
        let fails = match fail_on {
            FailOn::Never => false,
            FailOn::NewlyAllowed => summary.newly_allowed > 0 || !summary.invariants_held,
            FailOn::Any => summary.changed > 0 || !summary.invariants_held,
        };
        Report {
            format: FORMAT,
            old: old.to_string(),
            new: new.to_string(),
            sources: infos,
            summary,
            groups,
            blast_radius: per_change
                .into_iter()
                .map(|(k, v)| (k, v.summary(max_ids)))
                .collect(),
            invariants,
            fail_on,
            result: if fails { "fail" } else { "pass" },
        }
    }

    /// Whether the report fails its `fail_on`.
    pub fn fails(&self) -> bool {
        self.result == "fail"
    }

    /// Pretty JSON, with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("reports serialize");
        s.push('\n');
        s
    }

    /// Plain text for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "policy diff: {} -> {}", self.old, self.new);
        for src in &self.sources {
            let _ = writeln!(
                s,
                "  {}: {} cases, {} changed",
                source_line(src),
                src.cases,
                src.changed
            );
        }
        let sm = &self.summary;
        let _ = writeln!(
            s,
            "\n{} cases, {} changed: {} newly allowed, {} newly denied, {} reason changed, {} detail changed",
            sm.cases, sm.changed, sm.newly_allowed, sm.newly_denied, sm.reason_changed, sm.detail_changed
        );
        for g in &self.groups {
            let _ = writeln!(
                s,
                "\n{}  {}: {} cases ({})",
                g.change.title(),
                group_title(g),
                g.count,
                by_source(g)
            );
            let _ = writeln!(s, "  blast radius: {}", group_radius(g));
            for e in &g.examples {
                let _ = writeln!(s, "  e.g. {}", example_line(e));
            }
        }
        if !self.invariants.is_empty() {
            let _ = writeln!(s, "\ninvariants I1-I10:");
            for c in &self.invariants {
                let _ = writeln!(s, "  {}", invariant_line(c));
            }
        }
        let _ = writeln!(
            s,
            "\nresult: {} (--fail-on {})",
            self.result,
            fail_on_str(self.fail_on)
        );
        s
    }

    /// Markdown, ready for a pull-request comment.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let verdict = if self.fails() {
            "❌ fails"
        } else {
            "✅ passes"
        };
        let _ = writeln!(
            s,
            "### Policy diff: `{}` → `{}`\n\n**{verdict}** `--fail-on {}`\n",
            self.old,
            self.new,
            fail_on_str(self.fail_on)
        );
        let sm = &self.summary;
        let _ = writeln!(s, "| | cases |\n|---|---:|");
        let _ = writeln!(s, "| compared | {} |", sm.cases);
        let _ = writeln!(s, "| changed | {} |", sm.changed);
        let _ = writeln!(s, "| newly allowed | {} |", sm.newly_allowed);
        let _ = writeln!(s, "| newly denied | {} |", sm.newly_denied);
        let _ = writeln!(s, "| reason changed | {} |", sm.reason_changed);
        let _ = writeln!(s, "| detail changed | {} |\n", sm.detail_changed);
        let _ = writeln!(s, "Sources:\n");
        for src in &self.sources {
            let _ = writeln!(
                s,
                "- {}: {} cases, {} changed",
                md_escape(&source_line(src)),
                src.cases,
                src.changed
            );
        }
        if !self.groups.is_empty() {
            let _ = writeln!(
                s,
                "\n| change | old → new | cases | api keys | users | tenants |\n|---|---|---:|---:|---:|---:|"
            );
            for g in &self.groups {
                let r = &g.blast_radius;
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} |",
                    g.change.as_str().replace('_', " "),
                    md_escape(&group_title(g)),
                    g.count,
                    r.api_keys.count,
                    r.users.count,
                    r.tenants.count
                );
            }
            for g in &self.groups {
                let _ = writeln!(
                    s,
                    "\n<details><summary>{}: {} ({} cases: {})</summary>\n",
                    g.change.as_str().replace('_', " "),
                    md_escape(&group_title(g)),
                    g.count,
                    by_source(g)
                );
                let _ = writeln!(s, "Blast radius: {}\n", md_escape(&group_radius(g)));
                for e in &g.examples {
                    let _ = writeln!(s, "- {}", md_escape(&example_line(e)));
                }
                let _ = writeln!(s, "\n</details>");
            }
        }
        if !self.invariants.is_empty() {
            let _ = writeln!(s, "\nInvariants I1–I10:\n");
            for c in &self.invariants {
                let _ = writeln!(s, "- {}", md_escape(&invariant_line(c)));
            }
        }
        s
    }
}

fn fail_on_str(f: FailOn) -> &'static str {
    match f {
        FailOn::NewlyAllowed => "newly-allowed",
        FailOn::Any => "any",
        FailOn::Never => "never",
    }
}

fn source_line(src: &SourceInfo) -> String {
    match (src.kind, &src.at, &src.explore) {
        (SourceKind::Census, Some(at), _) => format!("census of {} at {at}", src.origin),
        (SourceKind::Explore, _, Some(e)) => format!(
            "small-scope exploration to depth {} ({} states)",
            e.depth, e.states
        ),
        (k, _, _) => format!("{} {}", k.as_str(), src.origin),
    }
}

fn group_title(g: &Group) -> String {
    let mut t = format!("{} -> {}", g.old, g.new);
    if !g.fields.is_empty() {
        let _ = write!(t, " ({} changed)", g.fields.join(", "));
    }
    t
}

fn ids_line(what: &str, c: &IdCount) -> Option<String> {
    if c.count == 0 {
        return None;
    }
    let mut s = format!("{} {what} (", c.count);
    s.push_str(
        &c.ids
            .iter()
            .take(FIRST_IDS)
            .map(Id::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    );
    if c.count > c.ids.len().min(FIRST_IDS) {
        s.push_str(", ...");
    }
    s.push(')');
    Some(s)
}

fn radius_line(r: &BlastRadius) -> String {
    let parts: Vec<String> = [
        ids_line("api keys", &r.api_keys),
        ids_line("sessions", &r.sessions),
        ids_line("users", &r.users),
        ids_line("tenants", &r.tenants),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "no identified credential".into()
    } else {
        parts.join("; ")
    }
}

/// `census 565, explore 54432`.
fn by_source(g: &Group) -> String {
    g.by_source
        .iter()
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn group_radius(g: &Group) -> String {
    if g.by_source.keys().all(|k| *k == SourceKind::Explore) {
        "none in the given inputs (seen in the small-scope universe only)".into()
    } else {
        radius_line(&g.blast_radius)
    }
}

fn example_line(e: &Example) -> String {
    let cred = e
        .credential
        .as_ref()
        .map_or("no credential".to_string(), |c| {
            format!("{} {}", c.kind.as_str(), c.id)
        });
    let tenant = e
        .tenant
        .as_ref()
        .map_or("none".to_string(), |t| t.to_string());
    format!(
        "{cred}, action {}, tenant {tenant}, via {} [{} {}]",
        e.action,
        e.channel,
        e.source.as_str(),
        e.origin
    )
}

fn invariant_line(c: &InvariantCheck) -> String {
    let side = match c.policy {
        Side::Old => "old",
        Side::New => "new",
    };
    let what = match c.source {
        SourceKind::Explore => "small-scope exploration",
        SourceKind::Requests => "recorded requests",
        SourceKind::Census => "census",
    };
    if let Some(why) = &c.skipped {
        return format!("{side} policy, {what}: skipped ({why})");
    }
    if c.held {
        return format!("{side} policy, {what}: held ({} steps)", c.steps);
    }
    let mut s = format!(
        "{side} policy, {what}: VIOLATED {}",
        c.violation.as_deref().unwrap_or("")
    );
    if let Some(f) = &c.trace_file {
        let _ = write!(s, " (trace: {f})");
    }
    s
}

/// Escapes characters that would change Markdown rendering (ids are free
/// strings).
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(
            ch,
            '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\' | '#'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use authproof_engine::{Headers, Unbound};
    use authproof_verification::synth;

    fn shape() -> synth::Shape {
        synth::Shape {
            keys: 300,
            users: 200,
            tenants: 8,
            sessions: 150,
            legacy_ratio: 0.06,
            seed: 11,
        }
    }

    fn policies() -> (Policy, Policy) {
        let mut old = Policy::default();
        old.api_key.unbound = Unbound::OldestMembership;
        (old, Policy::default())
    }

    /// The census by hash gives, case for case, what `decide` gives for the
    /// real headers: the generator knows every token.
    #[test]
    fn census_matches_real_requests() {
        let snap = synth::snapshot(&shape());
        let state = State::from_snapshot(snap.clone()).unwrap();
        let (old, mut new) = policies();
        new.session.bearer = false;
        new.session.cookies = vec!["sid".into(), "better-auth.session_token".into()];
        new.api_key.header = "X-Key".into();
        // Tenant-dependent steps change too.
        let ws = new.actions.get_mut("workspace.create").unwrap();
        ws.roles = vec!["owner".into()];
        new.actions.get_mut("session.read").unwrap().tenant =
            authproof_engine::TenantRule::Required;
        new.actions.remove("token.mint");
        let at = snap.taken_at.unwrap();
        let fast = census(&state, &old, &new, at, "s", 2);

        // The same cases, one real request each.
        let idx = TenantIndex::new(&state);
        let mut slow = Tally::new();
        let chans = channels(&old, &new);
        let acts = actions(&old, &new);
        let creds: Vec<(String, &Id, Option<&Id>)> = snap
            .api_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (synth::key_token(11, i), &k.owner, k.tenant.as_ref()))
            .chain(
                snap.sessions
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (synth::session_token(11, i), &s.user, None)),
            )
            .collect();
        for (token, user, bound) in &creds {
            for t in idx.tenants_for(user, *bound) {
                for a in &acts {
                    for via in &chans {
                        let headers = match via {
                            Via::Header(h) => Headers::new([(h.to_string(), token.clone())]),
                            Via::Cookie(c) => Headers::new([("cookie", format!("{c}={token}"))]),
                            Via::Bearer => {
                                Headers::new([("authorization", format!("Bearer {token}"))])
                            }
                        }
                        .unwrap();
                        let req = Request {
                            at,
                            action: a.to_string(),
                            headers,
                            tenant: t.cloned(),
                            resource: None,
                        };
                        let (o, n) = (state.decide(&old, &req), state.decide(&new, &req));
                        slow.record(SourceKind::Census, &o, &n, || Example {
                            credential: n.credential.clone().or_else(|| o.credential.clone()),
                            action: a.to_string(),
                            tenant: t.cloned(),
                            channel: describe(via),
                            user: n.user.clone().or_else(|| o.user.clone()),
                            at,
                            source: SourceKind::Census,
                            origin: "s".into(),
                        });
                    }
                }
            }
        }
        let a =
            Report::build("o", "n", vec![(info(), fast)], vec![], FailOn::Any, MAX_IDS).to_json();
        let b =
            Report::build("o", "n", vec![(info(), slow)], vec![], FailOn::Any, MAX_IDS).to_json();
        assert_eq!(a, b);
        assert!(a.contains("newly_allowed") || a.contains("newly_denied"));
    }

    fn info() -> SourceInfo {
        SourceInfo {
            kind: SourceKind::Census,
            origin: "s".into(),
            at: None,
            explore: None,
            cases: 0,
            changed: 0,
        }
    }

    #[test]
    fn blast_radius_is_exactly_the_legacy_keys() {
        let snap = synth::snapshot(&shape());
        let state = State::from_snapshot(snap.clone()).unwrap();
        let (old, new) = policies();
        let at = snap.taken_at.unwrap();
        let t = census(&state, &old, &new, at, "s", 1);
        let legacy: BTreeSet<Id> = snap
            .api_keys
            .iter()
            .filter(|k| k.tenant.is_none())
            .map(|k| k.id.clone())
            .collect();
        assert!(!legacy.is_empty());
        assert_eq!(t.count(Change::NewlyAllowed), 0);
        assert_eq!(t.api_keys(Change::NewlyDenied), legacy);
        // The reverse change.
        let r = census(&state, &new, &old, at, "s", 3);
        assert_eq!(r.count(Change::NewlyDenied), 0);
        assert_eq!(r.api_keys(Change::NewlyAllowed), legacy);
        // Threads do not change the report.
        let one = census(&state, &new, &old, at, "s", 1);
        let rep = |t| {
            Report::build(
                "o",
                "n",
                vec![(info(), t)],
                vec![],
                FailOn::default(),
                MAX_IDS,
            )
        };
        assert_eq!(rep(r).to_json(), rep(one).to_json());
    }

    #[test]
    fn identical_policies_change_nothing() {
        let snap = synth::snapshot(&shape());
        let state = State::from_snapshot(snap.clone()).unwrap();
        let p = Policy::default();
        let t = census(&state, &p, &p, snap.taken_at.unwrap(), "s", 2);
        let r = Report::build("a", "a", vec![(info(), t)], vec![], FailOn::Any, MAX_IDS);
        assert_eq!(r.summary.changed, 0);
        assert!(r.summary.cases > 0);
        assert!(!r.fails());
    }

    #[test]
    fn explore_sees_the_unbound_switch() {
        let (old, new) = policies();
        let (t, stats) = explore(&old, &new, 1);
        assert!(stats.states > 1);
        assert!(t.count(Change::NewlyDenied) > 0);
        assert_eq!(t.count(Change::NewlyAllowed), 0);
    }

    #[test]
    fn reports_hold_no_token() {
        let snap = synth::snapshot(&shape());
        let state = State::from_snapshot(snap.clone()).unwrap();
        let (old, new) = policies();
        let t = census(&state, &new, &old, snap.taken_at.unwrap(), "s", 2);
        let r = Report::build(
            "o",
            "n",
            vec![(info(), t)],
            vec![],
            FailOn::default(),
            MAX_IDS,
        );
        assert!(r.fails());
        for out in [r.to_json(), r.to_text(), r.to_markdown()] {
            for i in 0..snap.api_keys.len() {
                assert!(!out.contains(&synth::key_token(11, i)));
            }
            for i in 0..snap.sessions.len() {
                assert!(!out.contains(&synth::session_token(11, i)));
            }
            assert!(!out.contains("sk_live_"), "not even a token prefix");
        }
    }
}
