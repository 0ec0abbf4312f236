//! Running a suite: each case on a fresh copy of the suite's state.

use authproof_engine::{CommandResult, Decision, Request, Verdict};
use serde_json::{json, Value};

use super::{coverage::Observed, Case, Expect, Suite};

/// What a case got: a decision, or its last command's result.
#[derive(Clone, Debug)]
pub enum Actual {
    Decision(Box<Decision>),
    Command(Box<CommandResult>),
}

impl Actual {
    /// The outcome as JSON (no explanation): a §7 decision without
    /// `action` and `explain`, or `{"result", "op", "reason"}`.
    pub fn outcome_json(&self) -> Value {
        match self {
            Actual::Decision(d) => {
                serde_json::to_value(authproof_verification::lockstep::DecisionProjection::of(d))
                    .expect("serializes")
            }
            Actual::Command(r) => json!({
                "result": result_word(r),
                "op": r.op(),
                "reason": r.rejection().map(|x| x.code()),
            }),
        }
    }

    /// The engine's explanation: a decision's steps, a rejection's text.
    pub fn explain(&self) -> Vec<String> {
        match self {
            Actual::Decision(d) => d.explain_lines(),
            Actual::Command(r) => match r.as_ref() {
                CommandResult::Rejected { explain, .. } => vec![explain.clone()],
                _ => Vec::new(),
            },
        }
    }

    /// One line: `DENY workspace.read (401): api_key_revoked`, `revoke_api_key: ok`.
    pub fn summary(&self) -> String {
        match self {
            Actual::Decision(d) => match d.reason {
                Some(r) => format!("DENY {} ({}): {r}", d.action, d.status),
                None => format!("ALLOW {} ({})", d.action, d.status),
            },
            Actual::Command(r) => match r.rejection() {
                Some(x) => format!("{}: rejected {x}", r.op()),
                None => format!("{}: {}", r.op(), result_word(r)),
            },
        }
    }
}

fn result_word(r: &CommandResult) -> &'static str {
    match r {
        CommandResult::Ok { .. } => "ok",
        CommandResult::Rejected { .. } => "rejected",
        CommandResult::Decision { .. } => "decision",
    }
}

/// One expected field that differs. Values are JSON text (`"acme"`, `null`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub field: &'static str,
    pub expected: String,
    pub actual: String,
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub index: usize,
    pub name: String,
    pub line: Option<usize>,
    pub actual: Actual,
    /// Empty when the case passed.
    pub mismatches: Vec<Mismatch>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// The results of one suite, and every decision made (for coverage).
#[derive(Clone, Debug)]
pub struct SuiteRun {
    pub file: String,
    pub policy: String,
    pub cases: Vec<CaseResult>,
    pub observed: Vec<Observed>,
}

impl SuiteRun {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

/// Runs every case of `suite`, in order, each from the suite's state.
pub fn run(suite: &Suite) -> SuiteRun {
    let policy = &suite.policy.policy;
    let mut observed = Vec::new();
    let mut cases = Vec::new();
    for case in &suite.cases {
        let mut state = suite.state.clone();
        let mut last = None;
        let note = |req: &Request, d: &Decision, o: &mut Vec<Observed>| {
            o.push(Observed::new(policy, req, d));
        };
        for cmd in suite.setup.iter().chain(&case.commands) {
            let r = state.apply(policy, cmd);
            if let (Some(d), Some(req)) = (r.decision(), cmd.request()) {
                note(&req, d, &mut observed);
            }
            last = Some(r);
        }
        let actual = match (&case.request, last) {
            (Some(req), _) => {
                let d = state.decide(policy, req);
                note(req, &d, &mut observed);
                Actual::Decision(Box::new(d))
            }
            (None, Some(CommandResult::Decision { decision, .. })) => Actual::Decision(decision),
            (None, Some(r)) => Actual::Command(Box::new(r)),
            (None, None) => unreachable!("a case has a request or commands (parse)"),
        };
        cases.push(check(case, actual));
    }
    SuiteRun {
        file: suite.file().to_string(),
        policy: suite.policy.name.clone(),
        cases,
        observed,
    }
}

fn text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serializes")
}

fn check(case: &Case, actual: Actual) -> CaseResult {
    let mut m = Vec::new();
    if let Some(e) = &case.expect {
        compare(e, &actual, &mut m);
    }
    CaseResult {
        index: case.index,
        name: case.name.clone(),
        line: case.line,
        actual,
        mismatches: m,
    }
}

fn push<T: serde::Serialize + PartialEq>(
    m: &mut Vec<Mismatch>,
    field: &'static str,
    expected: &Option<T>,
    actual: T,
) {
    if let Some(e) = expected {
        if *e != actual {
            m.push(Mismatch {
                field,
                expected: text(e),
                actual: text(&actual),
            });
        }
    }
}

fn compare(e: &Expect, actual: &Actual, m: &mut Vec<Mismatch>) {
    match actual {
        Actual::Decision(d) => {
            let verdict = |v: Verdict| match v {
                Verdict::Allow => "allow",
                Verdict::Deny => "deny",
            };
            push(m, "decision", &e.decision.map(verdict), verdict(d.decision));
            if e.reason.is_some() {
                push(
                    m,
                    "reason",
                    &Some(e.reason.clone()),
                    d.reason.map(|r| r.code().to_string()),
                );
            }
            push(m, "status", &e.status, d.status);
            push(m, "user", &e.user, d.user.as_ref().map(|u| u.to_string()));
            let cred = d
                .credential
                .as_ref()
                .map(|c| format!("{} {}", c.kind.as_str(), c.id));
            push(m, "credential", &e.credential, cred);
            push(
                m,
                "tenant",
                &e.tenant,
                d.tenant.as_ref().map(|t| t.to_string()),
            );
            let scope: Vec<String> = d.scope.iter().map(|t| t.to_string()).collect();
            push(m, "scope", &e.scope, scope);
            push(m, "effects", &e.effects, d.effects.to_vec());
            if e.result.is_some() {
                m.push(Mismatch {
                    field: "result",
                    expected: text(&e.result),
                    actual: text(&"decision"),
                });
            }
        }
        Actual::Command(r) => {
            let word = result_word(r).to_string();
            push(m, "result", &e.result, word);
            let reason = r.rejection().map(|x| x.code().to_string());
            if e.reason.is_some() || e.result.as_deref() == Some("ok") {
                push(m, "reason", &Some(e.reason.clone()), reason);
            }
            if e.decision.is_some() {
                m.push(Mismatch {
                    field: "decision",
                    expected: text(&e.decision),
                    actual: text(&"none: the case ends on a command"),
                });
            }
        }
    }
}
