//! Human renderings of a [`ReviewReport`]: text for a terminal and
//! Markdown for a pull-request comment (JSON is the report's own
//! serialization).
//!
//! Both show the first [`FIRST_IDS`] ids of each blast-radius entry, and
//! never a token (examples carry credential ids, never tokens or even token
//! prefixes). Markdown escapes every character that would change how an id
//! renders: ids are free strings.

use std::fmt::Write as _;

use authproof_engine::Id;

use crate::blast::{BlastRadius, IdCount};
use crate::invariants::{InvariantCheck, Side};
use crate::report::{FailOn, Group, ReviewReport, SourceInfo};
use crate::tally::{Example, SourceKind};

/// How many ids text and Markdown reports show per blast-radius entry.
pub const FIRST_IDS: usize = 5;

impl ReviewReport {
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
            "### Policy diff: {} → {}\n\n**{verdict}** `--fail-on {}`\n",
            code_span(&self.old),
            code_span(&self.new),
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
                // An HTML block: Markdown escapes are not processed inside
                // it, so its text is escaped for HTML instead.
                let _ = writeln!(
                    s,
                    "\n<details><summary>{}: {} ({} cases: {})</summary>\n",
                    g.change.as_str().replace('_', " "),
                    html_escape(&group_title(g)),
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

/// Escapes, with a backslash, every character that would change how
/// Markdown text renders (ids and file names are free strings). Only for
/// Markdown text: inside an HTML block (`<summary>`) use [`html_escape`].
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(
            ch,
            '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\' | '#' | '&' | '~'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Text for an HTML block such as `<summary>`: CommonMark passes it through
/// as HTML, so `&`, `<`, `>` and `"` become entities and nothing else
/// changes (a backslash would show as a backslash).
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` as a Markdown code span, whatever backticks it holds: the fence is
/// one backtick longer than its longest run, and padded with spaces when
/// `s` starts or ends with a backtick.
fn code_span(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if s.starts_with('`') || s.ends_with('`') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census;
    use crate::test_support::{census_info as info, policies, shape};
    use crate::MAX_IDS;
    use authproof_engine::State;
    use authproof_verification::synth;

    #[test]
    fn reports_hold_no_token() {
        let snap = synth::snapshot(&shape());
        let state = State::from_snapshot(snap.clone()).unwrap();
        let (old, new) = policies();
        let t = census(&state, &new, &old, snap.taken_at.unwrap(), "s", 2);
        let r = ReviewReport::build(
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
