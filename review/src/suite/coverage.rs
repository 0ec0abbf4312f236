//! Coverage of a policy by the suites run under it: which actions were
//! decided, which rules were reached on each side (passed / denied), which
//! reasons were given; as text, JSON and LCOV over the policy file's lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use authproof_engine::{
    credential::{extract, Channel, Extraction},
    CredentialKind, Decision, Policy, Reason, Request, TenantRule,
};
use serde_json::{json, Value};
use toml_edit::{ImDocument, TableLike};

use super::{Suite, SuiteRun};

/// What coverage keeps of one decision.
#[derive(Clone, Debug)]
pub struct Observed {
    action: String,
    reason: Option<Reason>,
    kind: Option<CredentialKind>,
    tenant: bool,
    channel: Option<Channel>,
}

impl Observed {
    pub fn new(policy: &Policy, req: &Request, d: &Decision) -> Observed {
        let channel = match extract(policy, &req.headers) {
            Extraction::Token { channel, .. } => Some(channel),
            _ => None,
        };
        Observed {
            action: d.action.to_string(),
            reason: d.reason,
            kind: d.credential.as_ref().map(|c| c.kind),
            tenant: d.tenant.is_some(),
            channel,
        }
    }

    /// The SPEC §6.1 step the decision ended at (9: allow).
    fn step(&self) -> u8 {
        use Reason::*;
        match self.reason {
            None => 9,
            Some(UnknownAction) => 0,
            Some(NoCredential | AmbiguousCredential | MalformedCredential) => 1,
            Some(CredentialNotAllowed) => 3,
            Some(ApiKeyUnbound | CrossTenant | TenantRequired) => 4,
            Some(NotAMember | TenantSuspended) => 5,
            Some(InsufficientRole) => 6,
            Some(MissingCapability) => 7,
            Some(ResourceNotFound | NotResourceOwner) => 8,
            Some(_) => 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    Decided,
    Accepted(CredentialKind),
    Refused,
    TenantRequired,
    InTenant,
    WithoutTenant,
    Role(bool),
    Capability(bool),
    Resource(bool),
    Owner(bool),
    Channel(Channel, Option<CredentialKind>),
}

/// One thing the policy says that a case may reach.
#[derive(Clone, Debug)]
pub struct Target {
    /// The action, or `None` for a setting of `[session]` / `[api_key]`.
    pub action: Option<String>,
    /// The TOML section and key (`roles`, `session.cookies`); `None` for
    /// the action table itself.
    pub key: Option<String>,
    /// What reaching it means.
    pub label: String,
    pub hits: usize,
    /// The policy file's line, when the file states it.
    pub line: Option<usize>,
    rule: Rule,
}

impl Target {
    fn hit(&self, o: &Observed) -> bool {
        if let Some(a) = &self.action {
            if *a != o.action {
                return false;
            }
        }
        let s = o.step();
        match self.rule {
            Rule::Decided => true,
            Rule::Accepted(k) => o.kind == Some(k) && s >= 4,
            Rule::Refused => o.reason == Some(Reason::CredentialNotAllowed),
            Rule::TenantRequired => o.reason == Some(Reason::TenantRequired),
            Rule::InTenant => s >= 5 && o.tenant,
            Rule::WithoutTenant => s >= 5 && !o.tenant,
            Rule::Role(pass) => {
                if pass {
                    s > 6 && o.tenant
                } else {
                    o.reason == Some(Reason::InsufficientRole)
                }
            }
            Rule::Capability(pass) => {
                if pass {
                    s > 7 && o.kind == Some(CredentialKind::ApiKey)
                } else {
                    o.reason == Some(Reason::MissingCapability)
                }
            }
            Rule::Resource(pass) => {
                if pass {
                    s == 9 || o.reason == Some(Reason::NotResourceOwner)
                } else {
                    o.reason == Some(Reason::ResourceNotFound)
                }
            }
            Rule::Owner(pass) => {
                if pass {
                    s == 9
                } else {
                    o.reason == Some(Reason::NotResourceOwner)
                }
            }
            Rule::Channel(c, k) => o.channel == Some(c) && (k.is_none() || k == o.kind),
        }
    }

    /// `workspace.read`, `member.remove roles`, `session.cookies`.
    pub fn name(&self) -> String {
        match (&self.action, &self.key) {
            (Some(a), Some(k)) => format!("{a} {k}"),
            (Some(a), None) => a.clone(),
            (None, Some(k)) => k.clone(),
            (None, None) => String::new(),
        }
    }
}

/// The targets of a policy, with the lines its text gives them.
fn targets(p: &Policy, text: &str) -> Vec<Target> {
    let doc = ImDocument::parse(text).ok();
    let line_of = |span: Option<std::ops::Range<usize>>| {
        span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
    };
    let table = |t: &dyn TableLike, k: &str| -> Option<usize> {
        line_of(t.get(k).and_then(|i| i.span())).or(line_of(t.key(k).and_then(|k| k.span())))
    };
    let root = doc.as_ref().map(|d| d.as_table() as &dyn TableLike);
    let section = |s: &str| root.and_then(|r| r.get(s)).and_then(|i| i.as_table_like());
    let actions = section("actions");
    let mut out = Vec::new();
    let mut add = |action: Option<&str>, key: Option<&str>, label: String, rule: Rule| {
        let line = match (action, key) {
            (Some(a), k) => actions.and_then(|t| {
                let at = t.get(a).and_then(|i| i.as_table_like());
                let own = at.zip(k).and_then(|(at, k)| table(at, k));
                own.or_else(|| table(t, a))
            }),
            (None, Some(k)) => {
                let (s, k) = k.split_once('.').expect("section.key");
                section(s).and_then(|t| table(t, k))
            }
            (None, None) => None,
        };
        out.push(Target {
            action: action.map(str::to_string),
            key: key.map(str::to_string),
            label,
            hits: 0,
            line,
            rule,
        });
    };
    for (i, c) in p.session.cookies.iter().enumerate() {
        add(
            None,
            Some("session.cookies"),
            format!("session cookie {c:?} presented"),
            Rule::Channel(Channel::Cookie(i), None),
        );
    }
    if p.session.bearer {
        add(
            None,
            Some("session.bearer"),
            "session token as Bearer".into(),
            Rule::Channel(Channel::Bearer, Some(CredentialKind::Session)),
        );
    }
    add(
        None,
        Some("api_key.header"),
        format!("API key in header {:?}", p.api_key.header),
        Rule::Channel(Channel::ApiKeyHeader, None),
    );
    if p.api_key.bearer {
        add(
            None,
            Some("api_key.bearer"),
            "API key as Bearer".into(),
            Rule::Channel(Channel::Bearer, Some(CredentialKind::ApiKey)),
        );
    }
    for (name, r) in &p.actions {
        let a = Some(name.as_str());
        add(a, None, "decided".into(), Rule::Decided);
        for k in &r.credentials {
            add(
                a,
                Some("credentials"),
                format!("{} accepted", k.as_str()),
                Rule::Accepted(*k),
            );
        }
        if r.credentials.len() < 2 {
            add(
                a,
                Some("credentials"),
                "denied credential_not_allowed".into(),
                Rule::Refused,
            );
        }
        match r.tenant {
            TenantRule::Required => {
                add(
                    a,
                    Some("tenant"),
                    "required: acted in a tenant".into(),
                    Rule::InTenant,
                );
                add(
                    a,
                    Some("tenant"),
                    "required: denied tenant_required".into(),
                    Rule::TenantRequired,
                );
            }
            TenantRule::Optional => {
                add(
                    a,
                    Some("tenant"),
                    "optional: acted in a tenant".into(),
                    Rule::InTenant,
                );
                add(
                    a,
                    Some("tenant"),
                    "optional: acted without a tenant".into(),
                    Rule::WithoutTenant,
                );
            }
        }
        if !r.roles.is_empty() {
            add(
                a,
                Some("roles"),
                format!("a role of {:?}", r.roles),
                Rule::Role(true),
            );
            add(
                a,
                Some("roles"),
                "denied insufficient_role".into(),
                Rule::Role(false),
            );
        }
        if !r.capability.is_empty() && r.allows(CredentialKind::ApiKey) {
            add(
                a,
                Some("capability"),
                format!("key carries {:?}", r.capability),
                Rule::Capability(true),
            );
            add(
                a,
                Some("capability"),
                "denied missing_capability".into(),
                Rule::Capability(false),
            );
        }
        if r.resource {
            add(
                a,
                Some("resource"),
                "resource found".into(),
                Rule::Resource(true),
            );
            add(
                a,
                Some("resource"),
                "denied resource_not_found".into(),
                Rule::Resource(false),
            );
        }
        if r.owner_only {
            add(
                a,
                Some("owner_only"),
                "the owner allowed".into(),
                Rule::Owner(true),
            );
            add(
                a,
                Some("owner_only"),
                "denied not_resource_owner".into(),
                Rule::Owner(false),
            );
        }
    }
    out
}

/// Coverage of one policy.
#[derive(Clone, Debug)]
pub struct PolicyCoverage {
    pub policy: String,
    pub suites: Vec<String>,
    pub decisions: usize,
    pub allows: usize,
    pub reasons: BTreeMap<Reason, usize>,
    pub targets: Vec<Target>,
}

impl PolicyCoverage {
    fn actions(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.rule == Rule::Decided)
    }

    fn rules(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.rule != Rule::Decided)
    }

    fn unreached_reasons(&self) -> Vec<&'static str> {
        Reason::ALL
            .iter()
            .filter(|r| !self.reasons.contains_key(r))
            .map(|r| r.code())
            .collect()
    }
}

fn ratio<'a>(it: impl Iterator<Item = &'a Target>) -> (usize, usize) {
    it.fold((0, 0), |(c, n), t| (c + usize::from(t.hits > 0), n + 1))
}

/// Coverage of every policy the suites ran under, by policy name.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    pub policies: BTreeMap<String, PolicyCoverage>,
}

impl Coverage {
    pub fn new() -> Coverage {
        Coverage::default()
    }

    /// Counts the decisions of one suite's run.
    pub fn add(&mut self, suite: &Suite, run: &SuiteRun) {
        let p = &suite.policy;
        let pc = self
            .policies
            .entry(p.name.clone())
            .or_insert_with(|| PolicyCoverage {
                policy: p.name.clone(),
                suites: Vec::new(),
                decisions: 0,
                allows: 0,
                reasons: BTreeMap::new(),
                targets: targets(&p.policy, &p.text),
            });
        pc.suites.push(run.file.clone());
        for o in &run.observed {
            pc.decisions += 1;
            match o.reason {
                Some(r) => *pc.reasons.entry(r).or_default() += 1,
                None => pc.allows += 1,
            }
            for t in &mut pc.targets {
                if t.hit(o) {
                    t.hits += 1;
                }
            }
        }
    }

    /// A report for people; unreached targets are marked `NEVER`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for pc in self.policies.values() {
            let (ac, an) = ratio(pc.actions());
            let (rc, rn) = ratio(pc.rules());
            let unreached = pc.unreached_reasons();
            let _ = writeln!(s, "coverage of {} ({} decisions)", pc.policy, pc.decisions);
            let _ = writeln!(s, "  actions {ac}/{an} decided");
            for t in pc.actions() {
                let mark = if t.hits == 0 { "  NEVER" } else { "" };
                let _ = writeln!(s, "    {:<40} {:>5}{mark}", t.name(), t.hits);
            }
            let _ = writeln!(s, "  rules {rc}/{rn} reached");
            for t in pc.rules() {
                let mark = if t.hits == 0 { "  NEVER" } else { "" };
                let what = format!("{}: {}", t.name(), t.label);
                let _ = writeln!(s, "    {what:<64} {:>5}{mark}", t.hits);
            }
            let _ = writeln!(
                s,
                "  reasons {}/{} given, allow {}",
                Reason::ALL.len() - unreached.len(),
                Reason::ALL.len(),
                pc.allows
            );
            for (r, n) in &pc.reasons {
                let _ = writeln!(s, "    {:<40} {n:>5}", r.code());
            }
            if !unreached.is_empty() {
                let _ = writeln!(s, "  never given: {}", unreached.join(", "));
            }
        }
        s
    }

    /// `{"format": "authproof-coverage/1", "policies": [...]}`.
    pub fn json(&self) -> Value {
        let policies: Vec<Value> = self
            .policies
            .values()
            .map(|pc| {
                let target = |t: &Target| {
                    json!({"action": t.action, "key": t.key, "rule": t.label,
                           "hits": t.hits, "line": t.line})
                };
                let (ac, an) = ratio(pc.actions());
                let (rc, rn) = ratio(pc.rules());
                let unreached = pc.unreached_reasons();
                let reasons: serde_json::Map<String, Value> = pc
                    .reasons
                    .iter()
                    .map(|(r, n)| (r.code().to_string(), json!(n)))
                    .collect();
                json!({
                    "policy": pc.policy,
                    "suites": pc.suites,
                    "decisions": pc.decisions,
                    "allows": pc.allows,
                    "actions": {"covered": ac, "total": an},
                    "rules": {"covered": rc, "total": rn},
                    "reasons": {"covered": Reason::ALL.len() - unreached.len(), "total": Reason::ALL.len()},
                    "targets": pc.targets.iter().map(target).collect::<Vec<_>>(),
                    "reason_hits": reasons,
                    "unreached": {
                        "actions": pc.actions().filter(|t| t.hits == 0).map(Target::name).collect::<Vec<_>>(),
                        "rules": pc.rules().filter(|t| t.hits == 0).map(|t| format!("{}: {}", t.name(), t.label)).collect::<Vec<_>>(),
                        "reasons": unreached,
                    },
                })
            })
            .collect();
        json!({"format": "authproof-coverage/1", "policies": policies})
    }

    /// LCOV over each policy file's lines: an action table's line is hit
    /// by every decision under that action; a rule's line (or the action's,
    /// when the file leaves the rule at its default) carries one branch per
    /// side of the rule (`BRDA`), so a rule reached only on one side shows
    /// as partly covered.
    pub fn lcov(&self) -> String {
        let mut s = String::new();
        for pc in self.policies.values() {
            let mut lines: BTreeMap<usize, (usize, Vec<usize>)> = BTreeMap::new();
            for t in &pc.targets {
                let Some(l) = t.line else { continue };
                let e = lines.entry(l).or_default();
                if t.rule == Rule::Decided {
                    e.0 = e.0.max(t.hits);
                } else {
                    e.1.push(t.hits);
                }
            }
            let _ = writeln!(s, "TN:authproof");
            let _ = writeln!(s, "SF:{}", pc.policy);
            let (mut brf, mut brh) = (0, 0);
            for (l, (_, branches)) in &lines {
                for (i, h) in branches.iter().enumerate() {
                    let _ = writeln!(s, "BRDA:{l},0,{i},{h}");
                    brf += 1;
                    brh += usize::from(*h > 0);
                }
            }
            let _ = writeln!(s, "BRF:{brf}");
            let _ = writeln!(s, "BRH:{brh}");
            let mut lh = 0;
            for (l, (decided, branches)) in &lines {
                let hits = (*decided).max(branches.iter().sum());
                lh += usize::from(hits > 0);
                let _ = writeln!(s, "DA:{l},{hits}");
            }
            let _ = writeln!(s, "LF:{}", lines.len());
            let _ = writeln!(s, "LH:{lh}");
            let _ = writeln!(s, "end_of_record");
        }
        s
    }
}
