//! The census: every credential of a snapshot, decided under both policies.
//!
//! Every API key and session × every action of either policy × each tenant
//! that matters for the credential (its user's memberships, a key's bound
//! tenant, one foreign tenant, and no tenant) × every presentation channel
//! either policy accepts (each policy's API-key header, Bearer, each cookie
//! name of either policy). A snapshot holds token hashes only, so the
//! census decides each credential by hash ([`Presented`] and
//! [`State::decide_presented`]); a channel a policy does not accept gives
//! `no_credential` / `malformed_credential` under that policy exactly as a
//! real request would.
//!
//! Why by hash and not by replaying real requests: the tokens are not in
//! the snapshot (and must never be), so a census of real headers is
//! impossible outside tests; `census_matches_real_requests` below checks,
//! with the generator's known tokens, that both give the same tally case
//! for case. Why the tenants that *matter* and not every tenant: a
//! credential × every tenant is quadratic (a million keys × 100,000
//! tenants), while every foreign tenant decides like the first foreign one
//! (SPEC §6 step 4 only asks "member or not"). The census also shares
//! decisions that are provably equal (see `Census::run`); each sharing is
//! named with the guarantee it rests on.

use authproof_verification::lockstep::DecisionProjection;
use std::collections::{BTreeSet, HashMap};

use authproof_engine::{
    CredentialKind, Decision, Id, Policy, Presented, Reason, Request, State, Timestamp, Via,
};

use crate::progress::Progress;
use crate::tally::{CaseTally, Example, SourceKind};

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
) -> CaseTally {
    census_counted(state, old, new, at, origin, threads, &Progress::new())
}

/// [`census`], adding each credential's cases to `progress` as it is taken up.
pub(crate) fn census_counted(
    state: &State,
    old: &Policy,
    new: &Policy,
    at: Timestamp,
    origin: &str,
    threads: usize,
    progress: &Progress,
) -> CaseTally {
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
        progress,
    };
    let threads = threads.clamp(1, 64);
    if threads == 1 || creds.len() < 1024 {
        return ctx.run(&creds);
    }
    let chunk = creds.len().div_ceil(threads);
    let tallies: Vec<CaseTally> = std::thread::scope(|scope| {
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
    let mut out = CaseTally::new();
    for t in tallies {
        out.merge(t);
    }
    out
}

struct Census<'s, 'p> {
    progress: &'s Progress,
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

    fn run(&self, creds: &[Cred<'s>]) -> CaseTally {
        let mut tally = CaseTally::new();
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
            self.progress.add((nt * na * nc) as u64);
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
                        if DecisionProjection::of(old) == DecisionProjection::of(new) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{census_info as info, policies, shape};
    use crate::{DecisionChange, FailOn, ReviewReport, MAX_IDS};
    use authproof_engine::Headers;
    use authproof_verification::synth;

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
        let mut slow = CaseTally::new();
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
        let a = ReviewReport::build("o", "n", vec![(info(), fast)], vec![], FailOn::Any, MAX_IDS)
            .to_json();
        let b = ReviewReport::build("o", "n", vec![(info(), slow)], vec![], FailOn::Any, MAX_IDS)
            .to_json();
        assert_eq!(a, b);
        assert!(a.contains("newly_allowed") || a.contains("newly_denied"));
    }

    #[test]
    fn progress_counts_every_case_once_on_any_thread_count() {
        let snap = synth::snapshot(&shape());
        let state = State::from_snapshot(snap.clone()).unwrap();
        let (old, new) = policies();
        let at = snap.taken_at.unwrap();
        let size = census_size(&state, &old, &new);
        assert!(size > 0);
        for threads in [1, 3] {
            let progress = Progress::new();
            census_counted(&state, &old, &new, at, "s", threads, &progress);
            assert_eq!(progress.sample().done, size, "{threads} threads");
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
        assert_eq!(t.count(DecisionChange::NewlyAllowed), 0);
        assert_eq!(t.api_keys(DecisionChange::NewlyDenied), legacy);
        // The reverse change.
        let r = census(&state, &new, &old, at, "s", 3);
        assert_eq!(r.count(DecisionChange::NewlyDenied), 0);
        assert_eq!(r.api_keys(DecisionChange::NewlyAllowed), legacy);
        // Threads do not change the report.
        let one = census(&state, &new, &old, at, "s", 1);
        let rep = |t| {
            ReviewReport::build(
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
        let r = ReviewReport::build("a", "a", vec![(info(), t)], vec![], FailOn::Any, MAX_IDS);
        assert_eq!(r.summary.changed, 0);
        assert!(r.summary.cases > 0);
        assert!(!r.fails());
    }
}
