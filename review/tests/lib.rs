//! `authproof_review::run` end to end, without the binary: the one
//! integration-test binary of the crate.

use std::collections::BTreeSet;
use std::error::Error as _;

use authproof_engine::{Headers, Id, Policy, Request, Snapshot, Unbound};
use authproof_review::{
    run, DecisionChange, ErrorKind, FailOn, RequestsInput, ReviewConfig, ReviewReport,
    SnapshotInput, SourceKind,
};
use authproof_verification::synth;

const SEED: u64 = 11;

/// 1,200 credentials: enough for the census to split over threads.
fn snapshot() -> Snapshot {
    synth::snapshot(&synth::Shape {
        keys: 800,
        users: 300,
        tenants: 8,
        sessions: 400,
        legacy_ratio: 0.06,
        seed: SEED,
        ..synth::Shape::default()
    })
}

/// Legacy keys act in their owner's oldest membership.
fn lenient() -> Policy {
    let mut p = Policy::default();
    p.api_key.unbound = Unbound::OldestMembership;
    p
}

/// Legacy keys are denied `api_key_unbound` (the default).
fn strict() -> Policy {
    Policy::default()
}

fn config(old: Policy, new: Policy, snap: &Snapshot, depth: usize) -> ReviewConfig {
    let mut c = ReviewConfig::new("old.toml", old, "new.toml", new);
    c.snapshots
        .push(SnapshotInput::new("snapshot.json", snap.clone(), None).expect("accepted"));
    c.explore_depth = depth;
    c.threads = 2;
    c
}

fn legacy_keys(snap: &Snapshot) -> BTreeSet<String> {
    snap.api_keys
        .iter()
        .filter(|k| k.tenant.is_none())
        .map(|k| k.id.to_string())
        .collect()
}

/// The API keys of the groups of one kind (only the census and requests
/// name any: the explorer's universe names nobody).
fn api_keys(report: &ReviewReport, change: DecisionChange) -> BTreeSet<String> {
    report
        .groups
        .iter()
        .filter(|g| g.change == change)
        .flat_map(|g| g.blast_radius.api_keys.ids.iter().map(|i| i.to_string()))
        .collect()
}

#[test]
fn stricter_policy_newly_denies_exactly_the_legacy_keys() {
    let snap = snapshot();
    let report = run(&config(lenient(), strict(), &snap, 1)).expect("runs");
    let legacy = legacy_keys(&snap);
    assert!(!legacy.is_empty());
    assert!(report.summary.newly_denied > 0);
    assert_eq!(report.summary.newly_allowed, 0);
    assert_eq!(api_keys(&report, DecisionChange::NewlyDenied), legacy);
    assert!(report.summary.invariants_held);
    // Nothing newly allowed: passes the default --fail-on.
    assert_eq!(report.fail_on, FailOn::NewlyAllowed);
    assert!(!report.fails());
    // Sources in order, the census's changes counted.
    let kinds: Vec<SourceKind> = report.sources.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [SourceKind::Census, SourceKind::Explore]);
    assert!(report.sources[0].changed > 0);
}

#[test]
fn looser_policy_newly_allows_them_and_fails() {
    let snap = snapshot();
    let report = run(&config(strict(), lenient(), &snap, 1)).expect("runs");
    assert!(report.summary.newly_allowed > 0);
    assert_eq!(report.summary.newly_denied, 0);
    assert_eq!(
        api_keys(&report, DecisionChange::NewlyAllowed),
        legacy_keys(&snap)
    );
    assert!(report.fails());
    assert_eq!(report.result, "fail");
}

#[test]
fn unchanged_policy_gives_an_empty_report() {
    let snap = snapshot();
    let mut c = config(strict(), strict(), &snap, 1);
    c.fail_on = FailOn::Any;
    let report = run(&c).expect("runs");
    assert!(report.summary.cases > 0);
    assert_eq!(report.summary.changed, 0);
    assert!(report.groups.is_empty());
    assert!(report.blast_radius.is_empty());
    assert!(report.sources.iter().all(|s| s.changed == 0 && s.cases > 0));
    assert!(report.summary.invariants_held);
    assert!(!report.fails(), "even --fail-on any passes");
}

#[test]
fn thread_count_does_not_change_a_byte() {
    let snap = snapshot();
    let render = |threads: usize| {
        let mut c = config(strict(), lenient(), &snap, 0);
        c.threads = threads;
        let r = run(&c).expect("runs");
        [r.to_json(), r.to_text(), r.to_markdown()]
    };
    let one = render(1);
    assert_eq!(one, render(2));
    assert_eq!(one, render(5));
    assert!(one[0].contains("\"newly_allowed\""));
}

/// The real token of generated key `i` in `x-api-key`.
fn key_request(snap: &Snapshot, i: usize) -> Request {
    Request {
        at: snap.taken_at.expect("taken_at"),
        action: "workspace.read".into(),
        headers: Headers::new([("x-api-key", synth::key_token(SEED, i))]).expect("one header"),
        tenant: None,
        resource: None,
    }
}

#[test]
fn recorded_requests_are_compared_and_replayed() {
    let snap = snapshot();
    let legacy = snap
        .api_keys
        .iter()
        .position(|k| k.tenant.is_none())
        .expect("a legacy key");
    let bound = snap
        .api_keys
        .iter()
        .position(|k| k.tenant.is_some())
        .expect("a bound key");
    let mut c = config(lenient(), strict(), &snap, 0);
    c.requests.push(RequestsInput {
        origin: "requests.jsonl".into(),
        requests: vec![key_request(&snap, bound), key_request(&snap, legacy)],
    });
    let report = run(&c).expect("runs");
    let src = &report.sources[1];
    assert_eq!(
        (src.kind, src.cases, src.changed),
        (SourceKind::Requests, 2, 1)
    );
    // The legacy key's request is newly denied; examples prefer the
    // census (real inputs in source order), so count it by source.
    let from_requests: u64 = report
        .groups
        .iter()
        .filter(|g| g.change == DecisionChange::NewlyDenied)
        .filter_map(|g| g.by_source.get(&SourceKind::Requests))
        .sum();
    assert_eq!(from_requests, 1);
    // Invariants: the explorer, then the requests, under each policy.
    let checks: Vec<(SourceKind, bool, u64)> = report
        .invariants
        .iter()
        .map(|c| (c.source, c.held, c.steps))
        .filter(|c| c.0 == SourceKind::Requests)
        .collect();
    assert_eq!(
        checks,
        [
            (SourceKind::Requests, true, 2),
            (SourceKind::Requests, true, 2)
        ]
    );
    assert_eq!(report.invariants.len(), 4);
}

#[test]
fn inputs_are_rejected_with_a_reason() {
    let snap = snapshot();
    // Requests without a snapshot.
    let mut c = ReviewConfig::new("a", strict(), "b", strict());
    c.requests.push(RequestsInput {
        origin: "r".into(),
        requests: Vec::new(),
    });
    assert_eq!(
        run(&c).map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::RequestsWithoutSnapshot)
    );

    // No census time.
    let mut untimed = snap.clone();
    untimed.taken_at = None;
    let e = SnapshotInput::new("s.json", untimed.clone(), None).unwrap_err();
    assert_eq!(
        (e.kind(), e.origin()),
        (ErrorKind::NoCensusTime, Some("s.json"))
    );
    SnapshotInput::new("s.json", untimed, snap.taken_at).expect("a census time given");

    // Integrity, with the engine's error as the source.
    let mut broken = snap;
    broken.memberships[0].user = Id::new("nobody").unwrap();
    let e = SnapshotInput::new("s.json", broken, None).unwrap_err();
    assert!(e.to_string().starts_with("s.json: "));
    let source = e.source().expect("chained").to_string();
    assert!(source.contains("memberships[0].user"), "{source}");
    assert_eq!(e.kind(), ErrorKind::Integrity);
    assert_eq!(
        e.input().and_then(|i| i.path()),
        Some("$.memberships[0].user")
    );
}
