//! Test reports: text, JSON, JUnit XML and Markdown. Deterministic: the
//! same suites give byte-identical reports (JUnit `time` is always 0).

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{CaseResult, SuiteRun};

fn totals(runs: &[SuiteRun]) -> (usize, usize) {
    runs.iter()
        .fold((0, 0), |(p, f), r| (p + r.passed(), f + r.failed()))
}

fn line_of(c: &CaseResult) -> String {
    c.line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// The lines describing a failed case: mismatches, what it got, why.
fn failure_lines(c: &CaseResult) -> Vec<String> {
    let mut v: Vec<String> = c
        .mismatches
        .iter()
        .map(|m| format!("{}: expected {}, actual {}", m.field, m.expected, m.actual))
        .collect();
    v.push(format!("actual: {}", c.actual.summary()));
    let explain = c.actual.explain();
    if !explain.is_empty() {
        v.push("why:".into());
        v.extend(
            explain
                .iter()
                .enumerate()
                .map(|(i, l)| format!("  {}. {l}", i + 1)),
        );
    }
    v
}

/// For people; ends with `N passed, N failed`.
pub fn text(runs: &[SuiteRun]) -> String {
    let mut s = String::new();
    for r in runs {
        let n = r.cases.len();
        let plural = if n == 1 { "case" } else { "cases" };
        let _ = writeln!(s, "{} (policy {}, {n} {plural})", r.file, r.policy);
        for c in &r.cases {
            if c.passed() {
                let _ = writeln!(s, "  ok    {}", c.name);
            } else {
                let _ = writeln!(s, "  FAIL  {}{}", c.name, line_of(c));
                for l in failure_lines(c) {
                    let _ = writeln!(s, "        {l}");
                }
            }
        }
    }
    let (p, f) = totals(runs);
    let _ = writeln!(s, "{p} passed, {f} failed");
    s
}

/// `{"format": "authproof-test/1", "passed", "failed", "suites": [...]}`.
pub fn json(runs: &[SuiteRun]) -> Value {
    let (p, f) = totals(runs);
    let suites: Vec<Value> = runs
        .iter()
        .map(|r| {
            let cases: Vec<Value> = r
                .cases
                .iter()
                .map(|c| {
                    let mismatches: Vec<Value> = c
                        .mismatches
                        .iter()
                        .map(|m| json!({"field": m.field, "expected": m.expected, "actual": m.actual}))
                        .collect();
                    json!({
                        "name": c.name,
                        "line": c.line,
                        "result": if c.passed() { "pass" } else { "fail" },
                        "actual": c.actual.outcome_json(),
                        "mismatches": mismatches,
                        "explain": if c.passed() { Vec::new() } else { c.actual.explain() },
                    })
                })
                .collect();
            json!({"file": r.file, "policy": r.policy, "passed": r.passed(),
                   "failed": r.failed(), "cases": cases})
        })
        .collect();
    json!({"format": "authproof-test/1", "passed": p, "failed": f, "suites": suites})
}

/// XML text: escaped, and characters XML 1.0 cannot hold replaced.
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: one `<testsuite>` per file, one `<testcase>` per case, a
/// `<failure>` with expected vs actual and the explanation. `time` is 0.
pub fn junit(runs: &[SuiteRun]) -> String {
    let (p, f) = totals(runs);
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"authproof test\" tests=\"{}\" failures=\"{f}\" errors=\"0\" time=\"0\">",
        p + f
    );
    for r in runs {
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"0\">",
            xml(&r.file),
            r.cases.len(),
            r.failed()
        );
        let _ = writeln!(
            s,
            "    <properties><property name=\"policy\" value=\"{}\"/></properties>",
            xml(&r.policy)
        );
        for c in &r.cases {
            let line = c.line.map(|l| format!(" line=\"{l}\"")).unwrap_or_default();
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\"{line} time=\"0\"",
                xml(&r.file),
                xml(&c.name),
                xml(&r.file)
            );
            if c.passed() {
                let _ = writeln!(s, "{open}/>");
                continue;
            }
            let message: Vec<String> = c
                .mismatches
                .iter()
                .map(|m| format!("{}: expected {}, actual {}", m.field, m.expected, m.actual))
                .collect();
            let _ = writeln!(s, "{open}>");
            let _ = writeln!(
                s,
                "      <failure type=\"mismatch\" message=\"{}\">{}</failure>",
                xml(&message.join("; ")),
                xml(&failure_lines(c).join("\n"))
            );
            let _ = writeln!(s, "    </testcase>");
        }
        let _ = writeln!(s, "  </testsuite>");
    }
    s.push_str("</testsuites>\n");
    s
}

/// Markdown text: characters with a meaning escaped by a backslash.
fn md(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        if "\\`*_{}[]<>()#+-.!|~".contains(ch) {
            o.push('\\');
        }
        match ch {
            '\n' | '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// A fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in body.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// Markdown for a pull-request comment: a table per file, then each
/// failure with its expected vs actual and explanation in a code block.
pub fn markdown(runs: &[SuiteRun]) -> String {
    let (p, f) = totals(runs);
    let mut s = format!("## authproof test: {p} passed, {f} failed\n\n");
    s.push_str("| suite | policy | passed | failed |\n|---|---|---|---|\n");
    for r in runs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            md(&r.file),
            md(&r.policy),
            r.passed(),
            r.failed()
        );
    }
    if f > 0 {
        s.push_str("\n### Failures\n");
        for r in runs {
            for c in r.cases.iter().filter(|c| !c.passed()) {
                let body = failure_lines(c).join("\n");
                let fe = fence(&body);
                let _ = write!(
                    s,
                    "\n**{}** — {}{}\n\n{fe}text\n{body}\n{fe}\n",
                    md(&r.file),
                    md(&c.name),
                    md(&line_of(c))
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(xml("a<b&\"c'\u{1}"), "a&lt;b&amp;&quot;c&apos;\u{FFFD}");
        assert_eq!(md("a|b*c"), "a\\|b\\*c");
        assert_eq!(fence("x ``` y"), "````");
    }
}
