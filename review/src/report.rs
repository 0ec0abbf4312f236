//! The review report: every source's tally merged into groups, totals,
//! blast radii, invariant results and the verdict for `--fail-on`.
//!
//! [`ReviewReport`] is plain data and serializes as the JSON document of
//! docs/DIFF.md (`authproof-diff/1`); the human renderings (text,
//! Markdown) live in `render`. Groups are sorted by kind of change, then
//! largest first, then by classes, so the same inputs give the same bytes.
//!
//! Rejected: rendering straight from tallies — JSON, text and Markdown
//! would each redo the merge and ordering and could disagree; one built
//! report, three renderings of it.

use std::collections::BTreeMap;

use authproof_engine::Timestamp;
use serde::Serialize;

use crate::blast::{BlastRadius, RadiusSets};
use crate::invariants::InvariantCheck;
use crate::scope::ExploreStats;
use crate::tally::{Acc, CaseTally, Class, DecisionChange, Example, GroupKey, SourceKind};

/// How many ids a JSON report lists per blast-radius entry by default.
pub const MAX_IDS: usize = 1000;

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
    pub change: DecisionChange,
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
pub struct ReviewReport {
    pub format: &'static str,
    pub old: String,
    pub new: String,
    pub sources: Vec<SourceInfo>,
    pub summary: Summary,
    pub groups: Vec<Group>,
    /// Per change kind (newly_allowed, newly_denied, ...), the union of its
    /// groups' blast radii.
    pub blast_radius: BTreeMap<DecisionChange, BlastRadius>,
    pub invariants: Vec<InvariantCheck>,
    pub fail_on: FailOn,
    /// `pass` or `fail`, per `fail_on`.
    pub result: &'static str,
}

/// The `format` of a JSON report.
pub const FORMAT: &str = "authproof-diff/1";

impl ReviewReport {
    /// Builds the report of a tally. `sources` lists the inputs in the
    /// order they were given; their counts are filled from the tallies.
    /// Blast radii list at most `max_ids` ids each.
    pub fn build(
        old: &str,
        new: &str,
        sources: Vec<(SourceInfo, CaseTally)>,
        invariants: Vec<InvariantCheck>,
        fail_on: FailOn,
        max_ids: usize,
    ) -> ReviewReport {
        let mut all = CaseTally::new();
        let mut infos = Vec::new();
        for (mut info, tally) in sources {
            let c = tally.sources.get(&info.kind).cloned().unwrap_or_default();
            info.cases = c.cases;
            info.changed = c.changed;
            infos.push(info);
            all.merge(tally);
        }
        let mut per_change: BTreeMap<DecisionChange, RadiusSets> = BTreeMap::new();
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
        let count = |c: DecisionChange| {
            groups
                .iter()
                .filter(|g| g.change == c)
                .map(|g| g.count)
                .sum()
        };
        let summary = Summary {
            cases: infos.iter().map(|s| s.cases).sum(),
            changed: infos.iter().map(|s| s.changed).sum(),
            newly_allowed: count(DecisionChange::NewlyAllowed),
            newly_denied: count(DecisionChange::NewlyDenied),
            reason_changed: count(DecisionChange::ReasonChanged),
            detail_changed: count(DecisionChange::DetailChanged),
            invariants_held: invariants.iter().all(|c| c.held),
        };
        let fails = match fail_on {
            FailOn::Never => false,
            FailOn::NewlyAllowed => summary.newly_allowed > 0 || !summary.invariants_held,
            FailOn::Any => summary.changed > 0 || !summary.invariants_held,
        };
        ReviewReport {
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
}
