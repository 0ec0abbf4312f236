//! Reports checked by real consumers: the Markdown of `diff` and `test`
//! rendered by a CommonMark/GFM renderer (pulldown-cmark, with GitHub's
//! tables and strikethrough), and `test`'s JUnit read by an XML parser
//! (roxmltree). What a reader sees must be the text meant: no stray
//! backslashes (escapes are not processed inside an HTML block such as
//! `<summary>`), the structure intact (details/summary, tables).

use crate::cli_common;

use std::path::Path;

use cli_common::{root, run, run_in};
use pulldown_cmark::{html, Options, Parser};

/// The HTML GitHub would make of `md` (CommonMark + GFM tables and
/// strikethrough; raw HTML passed through).
fn render(md: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(md, opts));
    out
}

/// The text a browser shows for `html`: tags removed, entities decoded.
fn visible(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The inner text of every `<tag>…</tag>` in `html`, in order.
fn elements<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut v = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let j = after.find(&close).expect("every element is closed");
        v.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    v
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

/// A copy of the blast-radius scenario under a file name full of Markdown
/// and HTML syntax, so that every place a name is shown is exercised.
const EVIL: &str = "snap_*[x]|<y>&`z`#1~.json";

#[test]
fn diff_markdown_renders_as_meant() {
    let dir = tempfile::tempdir().unwrap();
    let from = root().join("examples/blast-radius");
    for f in ["old.toml", "new.toml"] {
        std::fs::copy(from.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::copy(from.join("snapshot.json"), dir.path().join(EVIL)).unwrap();
    let r = run_in(
        dir.path(),
        &[
            "diff",
            "--old",
            "new.toml",
            "--new",
            "old.toml",
            "--snapshot",
            EVIL,
            "--explore-depth",
            "1",
            "--format",
            "markdown",
        ],
    );
    r.expect_code(2);
    let html = render(&r.stdout);
    let text = visible(&html);
    assert!(
        !text.contains('\\'),
        "a backslash is visible in the rendered report:\n{}",
        text.lines()
            .filter(|l| l.contains('\\'))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // One details block per group, each with one summary; as many groups
    // as rows of the group table.
    let summaries = elements(&html, "summary");
    assert!(!summaries.is_empty(), "{html}");
    assert_eq!(count(&html, "<details>"), summaries.len());
    assert_eq!(count(&html, "</details>"), summaries.len());
    let first = visible(summaries[0]);
    assert!(
        first.starts_with("newly allowed: deny api_key_unbound -> allow ("),
        "{first}"
    );
    for s in &summaries {
        let s = visible(s);
        assert!(s.contains(" -> ") && s.contains(" cases: "), "{s}");
    }
    // Two tables: the summary (7 rows with the header) and the groups.
    assert_eq!(count(&html, "<table>"), 2, "{html}");
    let rows = count(&html, "<tr>");
    assert_eq!(rows, 7 + 1 + summaries.len(), "{html}");
    let cells: Vec<String> = elements(&html, "td").into_iter().map(visible).collect();
    assert!(
        cells.iter().any(|c| c == "deny api_key_unbound -> allow"),
        "{cells:?}"
    );
    // The file name shows exactly as it is, in the sources and examples.
    assert!(text.contains(&format!("census of {EVIL} at ")), "{text}");
    assert!(text.contains(&format!("[census {EVIL}]")), "{text}");
    assert!(text.contains("Policy diff: new.toml → old.toml"), "{text}");
}

/// sha256 of `key_revoked`'s token in the examples.
const REVOKED: &str = "55c1568732a32952a8f8e5619cdea4a1265e1c022e6406f99ffd6f82cc576e16";

/// A suite in `dir` with one failing and one passing case whose names are
/// full of Markdown and XML syntax.
fn failing_suite(dir: &Path) -> String {
    std::fs::copy(
        root().join("examples/snapshot.json"),
        dir.join("snapshot.json"),
    )
    .unwrap();
    let case = |name: &str, reason: &str| {
        format!(
            "[[case]]\nname = \"{name}\"\n\
             request = {{ at = \"2026-05-28T12:00:00Z\", action = \"workspace.read\", headers = {{ x-api-key = \"{{{{sha256:{REVOKED}:sk_live_}}}}\" }} }}\n\
             [case.expect]\ndecision = \"deny\"\nreason = \"{reason}\"\n\n"
        )
    };
    let text = format!(
        "version = 1\nsnapshot = \"snapshot.json\"\n\n{}{}",
        case(
            "revoked_key *not* <found> & [pinned] | `x` #1",
            "api_key_not_found"
        ),
        case("still revoked (F01).", "api_key_revoked"),
    );
    let p = dir.join("pinned_suite.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn test_markdown_renders_as_meant() {
    let dir = tempfile::tempdir().unwrap();
    let f = failing_suite(dir.path());
    let r = run(&["test", &f, "--format", "markdown"]);
    r.expect_code(2);
    let html = render(&r.stdout);
    let text = visible(&html);
    // Failure bodies are code blocks; outside them, no backslash shows.
    let outside_code: String = {
        let mut s = html.clone();
        while let (Some(i), Some(j)) = (s.find("<pre>"), s.find("</pre>")) {
            s.replace_range(i..j + "</pre>".len(), "");
        }
        visible(&s)
    };
    assert!(!outside_code.contains('\\'), "{outside_code}");
    assert_eq!(count(&html, "<table>"), 1, "{html}");
    let cells: Vec<String> = elements(&html, "td").into_iter().map(visible).collect();
    assert_eq!(cells[0], f, "the suite's file name, as it is: {cells:?}");
    assert_eq!(&cells[2..], ["1", "1"]);
    assert!(
        text.contains("— revoked_key *not* <found> & [pinned] | `x` #1 (line 4)"),
        "{text}"
    );
    assert!(text.contains("1 passed, 1 failed"), "{text}");
    let code: Vec<String> = elements(&html, "pre").into_iter().map(visible).collect();
    assert!(
        code.iter()
            .any(|c| c
                .contains("reason: expected \"api_key_not_found\", actual \"api_key_revoked\"")),
        "{code:?}"
    );
}

#[test]
fn test_junit_is_read_by_an_xml_parser() {
    let dir = tempfile::tempdir().unwrap();
    let f = failing_suite(dir.path());
    for (args, code) in [
        (vec!["test", &f, "--format", "junit"], 2),
        (vec!["test", "examples/suite", "--format", "junit"], 0),
    ] {
        let r = run(&args);
        r.expect_code(code);
        assert!(
            !r.stdout.contains("None") && !r.stdout.contains("Some("),
            "a Rust Option leaked into the report:\n{}",
            r.stdout
        );
        let doc = roxmltree::Document::parse(&r.stdout).expect("JUnit is well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let mut failures = 0;
        let mut cases = 0;
        for n in doc.descendants().filter(|n| n.is_element()) {
            let tag = n.tag_name().name();
            if matches!(tag, "testsuites" | "testsuite" | "testcase") {
                let t = n
                    .attribute("time")
                    .unwrap_or_else(|| panic!("{tag} has a time"));
                assert!(t.parse::<f64>().is_ok(), "{tag} time {t:?}");
                assert!(n.attribute("name").is_some_and(|s| !s.is_empty()));
            }
            if tag == "testcase" {
                cases += 1;
            }
            if tag == "failure" {
                failures += 1;
                let m = n.attribute("message").unwrap_or_default();
                assert!(m.contains("expected") && m.contains("actual"), "{m}");
                assert!(n.text().is_some_and(|t| t.contains("actual: ")));
            }
        }
        let attr = |name: &str| root.attribute(name).unwrap().parse::<usize>().unwrap();
        assert_eq!(attr("tests"), cases);
        assert_eq!(attr("failures"), failures);
        assert_eq!(failures > 0, code == 2, "failures agree with the exit code");
    }
}
