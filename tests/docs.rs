//! The README's commands work when pasted, and print what the README says.
//!
//! Every ```` ```sh ```` block of `README.md` and `examples/README.md` is
//! read command by command (`\`-continued lines joined, `#` comments cut
//! off). A command that starts with `authproof` or `cargo run --release
//! [--features F] --` runs with the built binary (`authproof` on PATH is
//! the binary under test), in a scratch copy of the repository's
//! `examples/`, `policies/` and `tests/regressions/` so that the files the
//! commands write never land in the work tree; `cd DIR` moves within the
//! block; `mkdir`, `tr`, `cp`, `cat` and `echo` lines run as the setup they
//! are; anything else (`cargo install`, `scripts/with-postgres …`) is
//! skipped. Each command must exit with the code its comment names (`#
//! exit 2`), else 0, and never panic. When a ```` ```text ```` block comes
//! right after the `sh` block, the block's stdout must equal it.
//!
//! Markers (HTML comments on the line before a block):
//! - `<!-- not run by tests: REASON -->` before an `sh` block: not run (too
//!   slow for a debug build, or needs another build);
//! - `<!-- output: not checked (REASON) -->` before a `text` block: the
//!   commands run, their output is not compared (timings).
//!
//! Commands that need `--features faults` run only when the tests are
//! built with it.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Debug)]
struct Block {
    lang: String,
    /// 1-based line of the opening fence.
    line: usize,
    body: Vec<String>,
    /// The HTML comment right before the fence, if any.
    marker: Option<String>,
    /// Only blank lines and HTML comments between this block and the
    /// previous one.
    follows_previous: bool,
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<Block> = Vec::new();
    let mut i = 0;
    let mut since_last_block_only_blank = false;
    let mut marker: Option<String> = None;
    while i < lines.len() {
        let l = lines[i];
        if let Some(lang) = l.strip_prefix("```") {
            let start = i;
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && lines[i] != "```" {
                body.push(lines[i].to_string());
                i += 1;
            }
            out.push(Block {
                lang: lang.trim().to_string(),
                line: start + 1,
                body,
                marker: marker.take(),
                follows_previous: since_last_block_only_blank,
            });
            since_last_block_only_blank = true;
        } else if l.trim().starts_with("<!--") && l.trim().ends_with("-->") {
            marker = Some(l.trim().to_string());
        } else if !l.trim().is_empty() {
            since_last_block_only_blank = false;
            marker = None;
        }
        i += 1;
    }
    out
}

/// `(command, comment)` per logical line of a shell block.
fn commands(body: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for l in body {
        let l = l.trim_end();
        if let Some(head) = l.strip_suffix('\\') {
            acc.push_str(head);
            acc.push(' ');
            continue;
        }
        acc.push_str(l);
        let line = std::mem::take(&mut acc);
        let (cmd, comment) = split_comment(&line);
        if !cmd.trim().is_empty() {
            out.push((collapse(cmd.trim()), comment.trim().to_string()));
        }
    }
    out
}

/// Splits at the first `#` that starts a shell comment (after whitespace,
/// outside quotes).
fn split_comment(line: &str) -> (&str, &str) {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => {
                return (&line[..i], &line[i + 1..]);
            }
            _ => {}
        }
        prev = c;
    }
    (line, "")
}

fn collapse(s: &str) -> String {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The expected exit code named in a comment (`exit 2: some denied`).
fn expected_exit(comment: &str) -> i32 {
    comment
        .find("exit ")
        .and_then(|i| comment[i + 5..].chars().next())
        .and_then(|c| c.to_digit(10))
        .map_or(0, |d| d as i32)
}

enum Kind {
    /// Run with the binary under test (the command as bash runs it).
    Test(String),
    Cd(String),
    Setup,
    Skip,
}

fn kind(cmd: &str) -> Kind {
    if let Some(rest) = cmd.strip_prefix("cargo run --release ") {
        let (features, rest) = match rest.strip_prefix("--features ") {
            Some(r) => {
                let (f, r) = r.split_once(' ').unwrap_or((r, ""));
                (Some(f), r)
            }
            None => (None, rest),
        };
        let Some(args) = rest.strip_prefix("-- ") else {
            return Kind::Skip;
        };
        if features == Some("faults") && !cfg!(feature = "faults") {
            return Kind::Skip;
        }
        return Kind::Test(format!("authproof {args}"));
    }
    if cmd.starts_with("authproof ") {
        return Kind::Test(cmd.to_string());
    }
    if let Some(dir) = cmd.strip_prefix("cd ") {
        return Kind::Cd(dir.trim().to_string());
    }
    match cmd.split(' ').next().unwrap_or("") {
        "mkdir" | "tr" | "cp" | "cat" | "echo" => Kind::Setup,
        _ => Kind::Skip,
    }
}

/// A scratch copy of what the documented commands read.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["examples", "policies", "tests/regressions"] {
        copy_dir(&root().join(sub), &dir.path().join(sub));
    }
    let bin = dir.path().join(".bin");
    std::fs::create_dir(&bin).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_authproof"), bin.join("authproof")).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn bash(dir: &Path, bin: &Path, cmd: &str) -> std::process::Output {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-c", cmd])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("bash runs")
}

/// Runs every documented command of `doc`; returns how many ran.
fn check_doc(doc: &str) -> usize {
    let text = std::fs::read_to_string(root().join(doc)).unwrap();
    let blocks = blocks(&text);
    let scratch = scratch();
    let base = scratch.path().to_path_buf();
    let bin = base.join(".bin");
    let mut ran = 0;
    let mut failures = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        if b.lang != "sh" {
            continue;
        }
        if b.marker
            .as_deref()
            .is_some_and(|m| m.contains("not run by tests"))
        {
            continue;
        }
        let mut cwd = base.clone();
        let mut stdout = String::new();
        let mut tested = 0;
        for (cmd, comment) in commands(&b.body) {
            let where_ = format!("{doc}:{} `{cmd}`", b.line);
            match kind(&cmd) {
                Kind::Skip => {}
                Kind::Cd(d) => {
                    cwd = cwd.join(d);
                    assert!(cwd.is_dir(), "{where_}: no such directory");
                }
                Kind::Setup => {
                    let o = bash(&cwd, &bin, &cmd);
                    assert!(o.status.success(), "{where_}: setup failed: {o:?}");
                }
                Kind::Test(run) => {
                    let o = bash(&cwd, &bin, &run);
                    let out = String::from_utf8_lossy(&o.stdout).into_owned();
                    let err = String::from_utf8_lossy(&o.stderr).into_owned();
                    let want = expected_exit(&comment);
                    if o.status.code() != Some(want) {
                        failures.push(format!(
                            "{where_}: exit {:?}, the README says {want}\n{err}",
                            o.status.code()
                        ));
                    }
                    if err.contains("panicked") {
                        failures.push(format!("{where_}: panicked\n{err}"));
                    }
                    stdout.push_str(&out);
                    tested += 1;
                    ran += 1;
                }
            }
        }
        let Some(next) = blocks.get(i + 1) else {
            continue;
        };
        if tested == 0 || next.lang != "text" || !next.follows_previous {
            continue;
        }
        if next
            .marker
            .as_deref()
            .is_some_and(|m| m.contains("output: not checked"))
        {
            continue;
        }
        let got: Vec<&str> = stdout.lines().map(str::trim_end).collect();
        let want: Vec<&str> = next.body.iter().map(|l| l.trim_end()).collect();
        if got != want {
            let first = got
                .iter()
                .zip(&want)
                .position(|(g, w)| g != w)
                .unwrap_or(got.len().min(want.len()));
            failures.push(format!(
                "{doc}:{}: the output differs from the text block at {doc}:{} (first at its line {}):\n--- printed\n{}\n--- documented\n{}",
                b.line,
                next.line,
                first + 1,
                got.get(first).unwrap_or(&"(end)"),
                want.get(first).unwrap_or(&"(end)"),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    ran
}

#[cfg(unix)]
#[test]
fn readme_commands_work_as_documented() {
    let ran = check_doc("README.md");
    assert!(
        ran >= 8,
        "only {ran} README commands ran: is the parser lost?"
    );
}

#[cfg(unix)]
#[test]
fn examples_readme_commands_work_as_documented() {
    let ran = check_doc("examples/README.md");
    assert!(ran >= 3, "only {ran} commands ran");
}

#[test]
fn the_parser_reads_blocks_markers_and_comments() {
    let md = "intro\n\n<!-- not run by tests: slow -->\n```sh\nauthproof a \\\n    --b c   # exit 2: x\n# just a comment\necho '#not' # real\n```\n\n```text\nout\n```\n";
    let b = blocks(md);
    assert_eq!(b.len(), 2);
    assert_eq!(
        b[0].marker.as_deref(),
        Some("<!-- not run by tests: slow -->")
    );
    assert!(b[1].follows_previous);
    let c = commands(&b[0].body);
    assert_eq!(
        c[0],
        ("authproof a --b c".to_string(), "exit 2: x".to_string())
    );
    assert_eq!(expected_exit(&c[0].1), 2);
    assert_eq!(c[1].0, "echo '#not'");
    assert_eq!(c.len(), 2);
}

/// `authproof <cmd> --help`.
fn help(cmd: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_authproof"))
        .args(cmd.split(' ').filter(|w| !w.is_empty()))
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success(), "{cmd} --help");
    String::from_utf8(o.stdout).unwrap()
}

/// Every `--flag` an options list of `--help` shows (not `--help`).
fn flags(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            // `-x, --long`: drop the short form.
            let l = match l.as_bytes() {
                [b'-', c, b',', b' ', ..] if c.is_ascii_alphabetic() => &l[4..],
                _ => l,
            };
            let flag = l.strip_prefix("--")?;
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (name != "help" && name != "version").then(|| format!("--{name}"))
        })
        .collect()
}

/// The README's Commands table lists every option every command has, and
/// every command the CLI has; each command the CLI's own docs cover has
/// examples at the end of its `--help`.
#[test]
fn readme_commands_table_lists_every_option() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("\n## Commands\n").expect("a Commands section");
    let rest = &readme[start + 1..];
    let table = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3)];
    let commands = [
        ("decide", "`authproof decide", true),
        ("apply", "`authproof apply", true),
        ("policy default", "`authproof policy default", true),
        ("check", "`authproof check", false),
        ("replay", "`authproof replay", false),
        ("explore", "`authproof explore", false),
        ("mutants", "`authproof mutants", false),
        ("diff", "`authproof diff", true),
        ("test", "`authproof test", true),
        ("gen snapshot", "`authproof gen snapshot", true),
        ("snapshot import", "snapshot import", true),
        ("snapshot export", "snapshot export", true),
    ];
    let mut missing = Vec::new();
    for (cmd, needle, owned_examples) in commands {
        let rows: String = table
            .lines()
            .filter(|l| l.starts_with('|') && l.contains(needle))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!rows.is_empty(), "no Commands row for {cmd}");
        let h = help(cmd);
        for f in flags(&h) {
            let listed = rows
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .any(|w| w == f);
            if !listed {
                missing.push(format!("{cmd} {f}"));
            }
        }
        if owned_examples {
            assert!(
                h.contains("Examples:") || h.contains("Example:"),
                "`authproof {cmd} --help` has no example"
            );
        }
    }
    assert!(
        missing.is_empty(),
        "options missing from the README's Commands table: {missing:?}"
    );
    // And no subcommand is missing from the list above.
    let top = help("");
    let listed: Vec<&str> = commands
        .iter()
        .map(|c| c.0.split(' ').next().unwrap())
        .collect();
    let mut in_commands = false;
    for l in top.lines() {
        if l.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            let Some(name) = l.trim_start().split(' ').next().filter(|n| !n.is_empty()) else {
                break;
            };
            if name != "help" {
                assert!(
                    listed.contains(&name),
                    "{name} is not in the Commands table check"
                );
            }
        }
    }
}
