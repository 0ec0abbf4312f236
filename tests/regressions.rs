//! Replays every trace in `tests/regressions/` (one per incident class of
//! INCIDENTS.md, F01–F16) on the engine and the reference model: no
//! invariant may break, and each decisive step must end as the incident's
//! fix says.

use std::path::Path;

use authproof_engine::{CommandResult, Reason, Rejection};
use authproof_verification::{lockstep, Trace};

/// How a decisive step must end.
#[derive(Debug)]
enum Expect {
    Allow {
        tenant: Option<&'static str>,
        scope: &'static [&'static str],
    },
    Deny(Reason),
    Rejected(Rejection),
}

use Expect::*;

/// (file stem, [(step, expectation)]).
const CASES: [(&str, &[(usize, Expect)]); 16] = [
    (
        "F01-collapsed-reasons",
        &[
            (0, Deny(Reason::ApiKeyNotFound)),
            (1, Deny(Reason::ApiKeyRevoked)),
            (2, Deny(Reason::ApiKeyDeleted)),
            (3, Deny(Reason::MissingCapability)),
        ],
    ),
    (
        "F02-cookie-as-bearer",
        &[(
            0,
            Allow {
                tenant: Some("acme"),
                scope: &["acme"],
            },
        )],
    ),
    (
        "F03-reencoded-token",
        &[(
            0,
            Allow {
                tenant: Some("acme"),
                scope: &["acme"],
            },
        )],
    ),
    (
        "F04-key-header-ignored",
        &[
            (
                0,
                Allow {
                    tenant: Some("acme"),
                    scope: &["acme"],
                },
            ),
            (
                1,
                Allow {
                    tenant: Some("acme"),
                    scope: &["acme"],
                },
            ),
        ],
    ),
    (
        "F05-key-tenant-ignored",
        &[(
            0,
            Allow {
                tenant: Some("acme"),
                scope: &["acme"],
            },
        )],
    ),
    (
        "F06-mutable-key-metadata",
        &[(0, Rejected(Rejection::ImmutableField))],
    ),
    (
        "F07-unscoped-token",
        &[(
            0,
            Allow {
                tenant: Some("acme"),
                scope: &["acme"],
            },
        )],
    ),
    ("F08-sliding-revives", &[(0, Deny(Reason::SessionExpired))]),
    ("F09-stale-membership", &[(1, Deny(Reason::NotAMember))]),
    (
        "F10-global-resource-key",
        &[
            (
                0,
                Allow {
                    tenant: Some("globex"),
                    scope: &["globex"],
                },
            ),
            (1, Deny(Reason::NotAMember)),
        ],
    ),
    (
        "F11-silent-noop-write",
        &[(0, Rejected(Rejection::ApiKeyNotFound))],
    ),
    (
        "F12-legacy-key-misroute",
        &[(0, Deny(Reason::ApiKeyUnbound))],
    ),
    (
        "F13-expiry-off-by-one",
        &[(0, Deny(Reason::SessionExpired))],
    ),
    ("F14-secret-in-explain", &[(0, Deny(Reason::ApiKeyRevoked))]),
    (
        "F15-revived-key",
        &[
            (0, Rejected(Rejection::ApiKeyRevoked)),
            (1, Deny(Reason::ApiKeyRevoked)),
        ],
    ),
    (
        "F16-banned-session-survives",
        &[(2, Deny(Reason::SessionRevoked))],
    ),
];

fn dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions"))
}

fn check(result: &CommandResult, expect: &Expect) -> Result<(), String> {
    match (expect, result) {
        (Allow { tenant, scope }, CommandResult::Decision { decision: d, .. }) => {
            if !d.is_allow() {
                return Err(format!("expected allow, got deny {:?}", d.reason));
            }
            let got_scope: Vec<&str> = d.scope.iter().map(|t| t.as_str()).collect();
            if d.tenant.as_deref() != *tenant || got_scope != *scope {
                return Err(format!(
                    "expected tenant {tenant:?} scope {scope:?}, got {:?} {got_scope:?}",
                    d.tenant
                ));
            }
            Ok(())
        }
        (Deny(reason), CommandResult::Decision { decision: d, .. }) => {
            if d.reason != Some(*reason) || !d.effects.is_empty() || !d.scope.is_empty() {
                return Err(format!("expected deny {reason}, got {:?}", d.reason));
            }
            Ok(())
        }
        (Rejected(r), CommandResult::Rejected { reason, .. }) if r == reason => Ok(()),
        _ => Err(format!(
            "expected {expect:?}, got {}",
            serde_json::to_string(result).unwrap()
        )),
    }
}

#[test]
fn every_regression_trace_replays_and_holds() {
    let mut failures = Vec::new();
    for (stem, expects) in CASES {
        let path = dir().join(format!("{stem}.json"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let trace = Trace::parse(&bytes, stem).unwrap_or_else(|e| panic!("{e}"));
        let run = lockstep::run(&trace.policy, &trace.snapshot, &trace.steps)
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        if let Some((step, v)) = run.first_violation() {
            failures.push(format!("{stem}: step {step:?}: {v}"));
            continue;
        }
        assert_eq!(
            run.steps.len(),
            trace.steps.len(),
            "{stem}: every step runs"
        );
        for (step, expect) in expects {
            if let Err(e) = check(&run.steps[*step].result, expect) {
                failures.push(format!("{stem}: step {step}: {e}"));
            }
        }
        // The decisive step is the last one: nothing after it is needed.
        let last = expects.iter().map(|(s, _)| *s).max().unwrap();
        assert_eq!(
            last + 1,
            trace.steps.len(),
            "{stem}: the trace ends at its decisive step"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_incident_class_has_exactly_one_trace() {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let listed: Vec<String> = CASES.iter().map(|(s, _)| format!("{s}.json")).collect();
    assert_eq!(on_disk, listed);
    for (i, (stem, _)) in CASES.iter().enumerate() {
        assert!(stem.starts_with(&format!("F{:02}-", i + 1)), "{stem}");
    }
}
