//! Outputs and arguments, through the built binary:
//!
//! - every output file (`apply --out`, `gen snapshot --out`, `snapshot
//!   export --out`, `diff --out`/`--traces`, `test --out`/`--coverage-out`)
//!   is checked before any work: a bad path fails at once, with nothing on
//!   stdout; an existing file is replaced whole or not at all, and no
//!   temporary file is left behind (SPEC §10.3);
//! - a closed stdout pipe (`authproof … | head -1`) ends the run quietly
//!   with exit 141 (SPEC §10.1);
//! - every numeric argument has a range; outside it is a usage error, exit
//!   1, never a panic or an abort;
//! - file names in messages and reports never carry a raw escape sequence.

use crate::cli_common;

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
    process::{Command, Stdio},
};

use cli_common::{root, run, run_in, Run};

/// Exit 1, nothing on stdout, one `error:` naming `needle`, no panic.
fn fails_before_work(r: &Run, needle: &str) {
    r.expect_code(1);
    assert!(r.stdout.is_empty(), "stdout must be empty:\n{}", r.stdout);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(
        r.stderr.contains(needle),
        "stderr lacks {needle:?}: {}",
        r.stderr
    );
}

/// No `*.authproof-tmp` file in `dir`.
fn no_temp_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.ends_with(".authproof-tmp"), "left behind: {n}");
    }
}

fn examples_in(dir: &Path) {
    for f in ["snapshot.json", "commands.jsonl", "requests.jsonl"] {
        std::fs::copy(root().join("examples").join(f), dir.join(f)).unwrap();
    }
}

#[test]
fn apply_out_is_checked_before_any_command() {
    let d = tempfile::tempdir().unwrap();
    examples_in(d.path());
    std::fs::create_dir(d.path().join("adir")).unwrap();
    let apply = |out: &str| {
        run_in(
            d.path(),
            &[
                "apply",
                "--snapshot",
                "snapshot.json",
                "--commands",
                "commands.jsonl",
                "--out",
                out,
            ],
        )
    };
    // A missing directory, a directory, a file used as a directory: no
    // result line is printed before the error.
    fails_before_work(&apply("no/such/dir/out.json"), "no/such/dir/out.json");
    fails_before_work(&apply("adir"), "adir");
    fails_before_work(&apply("snapshot.json/out.json"), "snapshot.json/out.json");
    // The snapshot may be its own --out: it is read before it is replaced.
    let before = std::fs::read_to_string(d.path().join("snapshot.json")).unwrap();
    let r = apply("snapshot.json");
    r.expect_code(2);
    let after = std::fs::read_to_string(d.path().join("snapshot.json")).unwrap();
    assert_ne!(before, after);
    // An input error leaves an existing --out untouched.
    std::fs::write(d.path().join("bad.jsonl"), "{\"op\": 1}\n").unwrap();
    std::fs::write(d.path().join("keep.json"), "precious").unwrap();
    let r = run_in(
        d.path(),
        &[
            "apply",
            "--snapshot",
            "snapshot.json",
            "--commands",
            "bad.jsonl",
            "--out",
            "keep.json",
        ],
    );
    fails_before_work(&r, "bad.jsonl");
    assert_eq!(
        std::fs::read_to_string(d.path().join("keep.json")).unwrap(),
        "precious"
    );
    // A device is written in place, never replaced.
    #[cfg(unix)]
    apply("/dev/null").expect_code(2);
    no_temp_files(d.path());
}

#[test]
fn every_other_output_is_checked_before_work() {
    let d = tempfile::tempdir().unwrap();
    examples_in(d.path());
    let bad = "no/such/dir/x";
    // gen snapshot: a million keys would take seconds; the bad path fails
    // before any is made.
    let r = run_in(
        d.path(),
        &["gen", "snapshot", "--keys", "5000000", "--out", bad],
    );
    fails_before_work(&r, bad);
    // snapshot export: the output is named, not the (missing) database.
    let r = run_in(
        d.path(),
        &[
            "snapshot",
            "export",
            "--db",
            "sqlite:missing.db",
            "--out",
            bad,
        ],
    );
    fails_before_work(&r, bad);
    // diff: --out and --traces.
    let diff = ["diff", "--old", "snapshot.json", "--new", "snapshot.json"];
    let r = run_in(d.path(), &[&diff[..], &["--out", bad]].concat());
    fails_before_work(&r, bad);
    let r = run_in(
        d.path(),
        &[&diff[..], &["--traces", "snapshot.json/traces"]].concat(),
    );
    fails_before_work(&r, "snapshot.json/traces");
    // test: --out, --coverage-out, and --record --out.
    let suite = root().join("examples/suite");
    let suite = suite.to_str().unwrap();
    let r = run_in(d.path(), &["test", suite, "--out", bad]);
    fails_before_work(&r, bad);
    let r = run_in(d.path(), &["test", suite, "--coverage-out", bad]);
    fails_before_work(&r, bad);
    let r = run_in(
        d.path(),
        &[
            "test",
            "--record",
            "--snapshot",
            "snapshot.json",
            "--requests",
            "requests.jsonl",
            "--out",
            bad,
        ],
    );
    fails_before_work(&r, bad);
    // And the good paths write whole files, with nothing left over.
    let r = run_in(
        d.path(),
        &["gen", "snapshot", "--keys", "3", "--out", "g.json"],
    );
    r.expect_code(0);
    assert!(r.stdout.is_empty());
    let g = std::fs::read_to_string(d.path().join("g.json")).unwrap();
    assert!(g.ends_with("}\n"));
    let r = run_in(
        d.path(),
        &[
            "test",
            suite,
            "--format",
            "junit",
            "--out",
            "junit.xml",
            "--coverage-out",
            "policy.lcov",
        ],
    );
    r.expect_code(0);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(std::fs::read_to_string(d.path().join("junit.xml"))
        .unwrap()
        .starts_with("<?xml"));
    assert!(std::fs::read_to_string(d.path().join("policy.lcov"))
        .unwrap()
        .starts_with("TN:"));
    no_temp_files(d.path());
}

/// Runs `authproof <args>` with stdout a pipe that is closed after the
/// first line; returns the exit code and stderr.
fn close_after_first_line(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authproof"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty(), "one line was printed");
    // The reader (and the pipe's only read end) is dropped here.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    (status.code(), stderr)
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    let d = tempfile::tempdir().unwrap();
    // Far more than a pipe buffer holds, so the run is still writing when
    // the reader goes away.
    let batch = std::fs::read_to_string(root().join("examples/requests.jsonl")).unwrap();
    let big = d.path().join("big.jsonl");
    std::fs::write(&big, batch.repeat(2000)).unwrap();
    let big = big.to_str().unwrap();
    for args in [
        &[
            "decide",
            "--snapshot",
            "examples/snapshot.json",
            "--requests",
            big,
        ][..],
        &[
            "decide",
            "--snapshot",
            "examples/snapshot.json",
            "--requests",
            big,
            "--format",
            "text",
        ][..],
        // Pretty-printed (under 10,000 records), some 3 MB.
        &["gen", "snapshot", "--keys", "9000", "--sessions", "0"][..],
    ] {
        let (code, stderr) = close_after_first_line(args);
        assert_eq!(code, Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: nothing on stderr: {stderr}");
    }
}

#[test]
fn numeric_arguments_out_of_range_are_usage_errors() {
    let gen = |flag: &str, v: &str| {
        run(&[
            "gen",
            "snapshot",
            &format!("{flag}={v}"),
            "--out",
            "/dev/null",
        ])
    };
    for flag in ["--keys", "--users", "--tenants", "--sessions"] {
        for v in [
            "18446744073709551615",
            "10000000000",
            "5000001",
            "-1",
            "1e3",
            "x",
        ] {
            let r = gen(flag, v);
            r.expect_code(1);
            assert!(r.stderr.contains(flag), "{flag} {v}: {}", r.stderr);
        }
    }
    for v in ["NaN", "inf", "-0.1", "1.5", "", "x"] {
        let r = gen("--legacy-ratio", v);
        r.expect_code(1);
        assert!(r.stderr.contains("--legacy-ratio"), "{v}: {}", r.stderr);
    }
    for v in ["-1", "18446744073709551616"] {
        gen("--seed", v).expect_code(1);
    }
    // The bounds themselves are accepted.
    run(&[
        "gen",
        "snapshot",
        "--keys",
        "0",
        "--users",
        "0",
        "--tenants",
        "0",
        "--sessions",
        "0",
        "--legacy-ratio",
        "1",
        "--seed",
        "18446744073709551615",
    ])
    .expect_code(0);

    let diff = [
        "diff",
        "--old",
        "policies/default.toml",
        "--new",
        "policies/default.toml",
    ];
    for (flag, v) in [
        ("--threads", "0"),
        ("--threads", "65"),
        ("--threads", "18446744073709551615"),
        ("--max-ids", "10000001"),
        ("--max-ids", "-1"),
        ("--explore-depth", "5"),
        ("--explore-depth", "18446744073709551615"),
    ] {
        let r = run(&[&diff[..], &[&format!("{flag}={v}")[..]]].concat());
        r.expect_code(1);
        assert!(r.stdout.is_empty());
        assert!(r.stderr.contains(flag), "{flag} {v}: {}", r.stderr);
    }
    run(&[
        &diff[..],
        &["--threads", "64", "--max-ids", "0", "--explore-depth", "0"],
    ]
    .concat())
    .expect_code(0);
}

#[cfg(unix)]
#[test]
fn file_names_in_reports_and_messages_are_escaped() {
    let d = tempfile::tempdir().unwrap();
    let evil = "p\u{1b}[2J\u{202e}.toml";
    std::fs::copy(root().join("policies/default.toml"), d.path().join(evil)).unwrap();
    // diff: the report names both policies.
    let r = run_in(
        d.path(),
        &["diff", "--old", evil, "--new", evil, "--explore-depth", "0"],
    );
    r.expect_code(0);
    assert!(
        r.stdout.contains("p\\u{1b}[2J\\u{202e}.toml"),
        "{}",
        r.stdout
    );
    // test: the report names the suite and its policy.
    examples_in(d.path());
    let suite = "s\u{1b}]0;x\u{7}.toml".to_string();
    std::fs::write(
        d.path().join(&suite),
        format!("version = 1\nsnapshot = \"snapshot.json\"\npolicy = \"{}\"\n\n[[case]]\nname = \"c\"\nrequest = {{ at = \"2026-05-28T12:00:00Z\", action = \"workspace.read\", headers = {{}} }}\n[case.expect]\ndecision = \"deny\"\n", evil.replace('\u{1b}', "\\u001b").replace('\u{202e}', "\\u202e")),
    )
    .unwrap();
    for format in ["text", "json", "junit", "markdown"] {
        let r = run_in(d.path(), &["test", &suite, "--format", format]);
        r.expect_code(0);
        for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!r.stdout.contains(c), "{format}: {:?}", r.stdout);
        }
    }
    // Every output's message, and a URL's.
    for args in [
        vec![
            "apply",
            "--snapshot",
            "snapshot.json",
            "--commands",
            "commands.jsonl",
            "--out",
            "x\u{1b}[2J/o.json",
        ],
        vec![
            "diff",
            "--old",
            evil,
            "--new",
            evil,
            "--traces",
            "snapshot.json/\u{1b}[2J",
        ],
        vec!["snapshot", "export", "--db", "sqlite:/no/such/\u{1b}[2J.db"],
        vec![
            "snapshot",
            "export",
            "--db",
            "postgres://u:pw@h\u{1b}[2J/db",
        ],
    ] {
        let r = run_in(d.path(), &args);
        r.expect_code(1);
        assert!(!r.stderr.contains('\u{1b}'), "{args:?}: {:?}", r.stderr);
        assert!(r.stderr.contains("\\u{1b}"), "{args:?}: {:?}", r.stderr);
    }
}
