//! Bad inputs: every one exits 1 with a message on stderr that names the
//! file and the JSON path (or TOML key), prints nothing on stdout, never
//! panics and never echoes a token.

use crate::cli_common;

use cli_common::{root, run_in, Run};

/// A directory with a good snapshot, request, policy and command file, to
/// which each case adds its one bad file.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        for (from, to) in [
            ("examples/snapshot.json", "snapshot.json"),
            ("examples/requests/f02-cookie-session.json", "request.json"),
            ("examples/requests.jsonl", "requests.jsonl"),
            ("examples/commands.jsonl", "commands.jsonl"),
            ("examples/policy-legacy-oldest.toml", "policy.toml"),
        ] {
            std::fs::copy(root().join(from), dir.path().join(to)).expect("copy example");
        }
        Fixture { dir }
    }

    fn file(&self, name: &str, content: impl AsRef<[u8]>) -> &Fixture {
        std::fs::write(self.dir.path().join(name), content).expect("write");
        self
    }

    fn run(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args)
    }
}

/// Exit 1, nothing on stdout, one `error:` message naming every `needle`.
fn input_error(r: &Run, needles: &[&str]) {
    r.expect_code(1);
    assert!(r.stdout.is_empty(), "stdout must be empty:\n{}", r.stdout);
    assert!(r.stderr.starts_with("error: "), "stderr: {}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks {n:?}: {}", r.stderr);
    }
}

fn decide_snapshot(snapshot: &str) -> [&str; 5] {
    [
        "decide",
        "--snapshot",
        snapshot,
        "--request",
        "request.json",
    ]
}

const SES: &str = r#""created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-02-01T00:00:00Z""#;
const HASH: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

#[test]
fn snapshot_not_json() {
    let f = Fixture::new();
    f.file("bad.json", "{\"tenants\": [");
    input_error(&f.run(&decide_snapshot("bad.json")), &["bad.json", "$"]);
    f.file("empty.json", "");
    input_error(&f.run(&decide_snapshot("empty.json")), &["empty.json"]);
    f.file("trailing.json", "{} {}");
    input_error(
        &f.run(&decide_snapshot("trailing.json")),
        &["trailing.json", "$"],
    );
    f.file("latin1.json", b"{\"tenants\": [{\"id\": \"caf\xe9\"}]}");
    input_error(&f.run(&decide_snapshot("latin1.json")), &["latin1.json"]);
}

#[test]
fn snapshot_unknown_field() {
    let f = Fixture::new();
    f.file(
        "bad.json",
        r#"{"tenants": [{"id": "acme", "colour": "red"}]}"#,
    );
    input_error(
        &f.run(&decide_snapshot("bad.json")),
        &["bad.json", "$.tenants[0].colour", "unknown field"],
    );
    f.file("top.json", r#"{"tenants": [], "organizations": []}"#);
    input_error(
        &f.run(&decide_snapshot("top.json")),
        &["top.json", "$.organizations"],
    );
}

#[test]
fn snapshot_bad_hash() {
    let f = Fixture::new();
    for (name, hash) in [
        ("upper.json", HASH.to_uppercase()),
        ("short.json", HASH[..63].to_string()),
        ("nothex.json", format!("{}zz", &HASH[..62])),
    ] {
        f.file(
            name,
            format!(
                r#"{{"users": [{{"id": "u"}}], "sessions": [{{"id": "s", "user": "u",
                    "token_sha256": "{hash}", {SES}}}]}}"#
            ),
        );
        input_error(
            &f.run(&decide_snapshot(name)),
            &[name, "$.sessions[0].token_sha256"],
        );
    }
}

#[test]
fn snapshot_dangling_reference() {
    let f = Fixture::new();
    f.file(
        "bad.json",
        r#"{"users": [{"id": "u"}], "memberships": [{"user": "u", "tenant": "nope", "role": "x"}]}"#,
    );
    input_error(
        &f.run(&decide_snapshot("bad.json")),
        &["bad.json", "$.memberships[0].tenant"],
    );
    f.file(
        "owner.json",
        format!(
            r#"{{"users": [{{"id": "u"}}], "sessions": [{{"id": "s", "user": "ghost",
                "token_sha256": "{HASH}", {SES}}}]}}"#
        ),
    );
    input_error(
        &f.run(&decide_snapshot("owner.json")),
        &["owner.json", "$.sessions[0].user"],
    );
}

#[test]
fn snapshot_duplicates() {
    let f = Fixture::new();
    f.file(
        "ids.json",
        r#"{"users": [{"id": "u"}, {"id": "v"}, {"id": "u"}]}"#,
    );
    input_error(
        &f.run(&decide_snapshot("ids.json")),
        &["ids.json", "$.users[2].id"],
    );
    f.file(
        "tokens.json",
        format!(
            r#"{{"users": [{{"id": "u"}}], "sessions": [
                {{"id": "s1", "user": "u", "token_sha256": "{HASH}", {SES}}},
                {{"id": "s2", "user": "u", "token_sha256": "{HASH}", {SES}}}]}}"#
        ),
    );
    input_error(
        &f.run(&decide_snapshot("tokens.json")),
        &["tokens.json", "$.sessions[1]"],
    );
}

#[test]
fn snapshot_session_expiring_before_creation() {
    let f = Fixture::new();
    f.file(
        "bad.json",
        format!(
            r#"{{"users": [{{"id": "u"}}], "sessions": [{{"id": "s", "user": "u",
                "token_sha256": "{HASH}", "created_at": "2026-02-01T00:00:00Z",
                "expires_at": "2026-01-01T00:00:00Z"}}]}}"#
        ),
    );
    input_error(
        &f.run(&decide_snapshot("bad.json")),
        &["bad.json", "$.sessions[0]"],
    );
}

#[test]
fn request_duplicate_header_names_differing_in_case() {
    let f = Fixture::new();
    f.file(
        "dup.json",
        r#"{"at": "2026-05-28T12:00:00Z", "action": "workspace.read",
            "headers": {"Cookie": "a=b", "X-Api-Key": "k1", "cookie": "c=d"}}"#,
    );
    let r = f.run(&[
        "decide",
        "--snapshot",
        "snapshot.json",
        "--request",
        "dup.json",
    ]);
    input_error(&r, &["dup.json", "$.headers", "duplicate header"]);
}

#[test]
fn request_bad_timestamp_and_unknown_field() {
    let f = Fixture::new();
    for (name, body, path) in [
        (
            "words.json",
            r#"{"at": "yesterday", "action": "a"}"#,
            "$.at",
        ),
        (
            "nozone.json",
            r#"{"at": "2026-05-28T12:00:00", "action": "a"}"#,
            "$.at",
        ),
        (
            "month.json",
            r#"{"at": "2026-13-28T12:00:00Z", "action": "a"}"#,
            "$.at",
        ),
        (
            "number.json",
            r#"{"at": 1780000000, "action": "a"}"#,
            "$.at",
        ),
        (
            "field.json",
            r#"{"at": "2026-05-28T12:00:00Z", "action": "a", "colour": 1}"#,
            "$.colour",
        ),
        (
            "missing.json",
            r#"{"at": "2026-05-28T12:00:00Z"}"#,
            "action",
        ),
        (
            "header.json",
            r#"{"at": "2026-05-28T12:00:00Z", "action": "a", "headers": {"x-api-key": 7}}"#,
            "$.headers",
        ),
    ] {
        f.file(name, body);
        let r = f.run(&["decide", "--snapshot", "snapshot.json", "--request", name]);
        input_error(&r, &[name, path]);
    }
}

#[test]
fn batch_error_names_the_line() {
    let f = Fixture::new();
    f.file(
        "batch.jsonl",
        "{\"at\": \"2026-05-28T12:00:00Z\", \"action\": \"a\"}\n\n{\"at\": \"soon\", \"action\": \"a\"}\n",
    );
    let r = f.run(&[
        "decide",
        "--snapshot",
        "snapshot.json",
        "--requests",
        "batch.jsonl",
    ]);
    input_error(&r, &["batch.jsonl:3", "$.at"]);
}

#[test]
fn policy_bad_duration_and_unknown_key() {
    let f = Fixture::new();
    for (name, body, key) in [
        ("unit.toml", "[session]\nttl = \"30x\"\n", "session.ttl"),
        (
            "negative.toml",
            "[session]\nrefresh_after = \"-1d\"\n",
            "session.refresh_after",
        ),
        (
            "words.toml",
            "[session]\nabsolute_max = \"forever\"\n",
            "session.absolute_max",
        ),
        ("key.toml", "[session]\nttll = \"30d\"\n", "session.ttll"),
        ("table.toml", "[sessions]\nttl = \"30d\"\n", "sessions"),
        (
            "action.toml",
            "[actions.\"workspace.read\"]\nrole = [\"owner\"]\n",
            "role",
        ),
        (
            "enum.toml",
            "[api_key]\nunbound = \"newest_membership\"\n",
            "api_key.unbound",
        ),
        ("syntax.toml", "[session\n", "syntax.toml"),
    ] {
        f.file(name, body);
        let r = f.run(&[
            "decide",
            "--snapshot",
            "snapshot.json",
            "--request",
            "request.json",
            "--policy",
            name,
        ]);
        input_error(&r, &[name, key]);
    }
    f.file("binary.toml", b"\xff\xfe");
    let r = f.run(&["policy", "default"]);
    r.expect_code(0);
    let r = f.run(&[
        "apply",
        "--snapshot",
        "snapshot.json",
        "--commands",
        "commands.jsonl",
        "--policy",
        "binary.toml",
    ]);
    input_error(&r, &["binary.toml"]);
}

#[test]
fn commands_with_decreasing_at() {
    let f = Fixture::new();
    f.file(
        "cmds.jsonl",
        "{\"at\": \"2026-05-28T12:00:00Z\", \"op\": \"create_user\", \"user\": \"x\"}\n\
         {\"at\": \"2026-05-28T11:59:59Z\", \"op\": \"create_user\", \"user\": \"y\"}\n",
    );
    let r = f.run(&[
        "apply",
        "--snapshot",
        "snapshot.json",
        "--commands",
        "cmds.jsonl",
    ]);
    input_error(&r, &["cmds.jsonl:2", "$.at", "non-decreasing"]);
}

#[test]
fn commands_bad_fields() {
    let f = Fixture::new();
    for (body, path) in [
        (
            r#"{"at": "2026-05-28T12:00:00Z", "op": "fly", "user": "x"}"#,
            "$.op",
        ),
        (r#"{"at": "2026-05-28T12:00:00Z", "user": "x"}"#, "op"),
        (
            r#"{"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": "x", "role": "y"}"#,
            "$.role",
        ),
        (
            r#"{"at": "2026-05-28T12:00:00Z", "op": "create_user"}"#,
            "user",
        ),
        (
            r#"{"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": ""}"#,
            "$.user",
        ),
        (r#"[1, 2]"#, "$"),
    ] {
        f.file("cmds.jsonl", format!("\n{body}\n"));
        let r = f.run(&[
            "apply",
            "--snapshot",
            "snapshot.json",
            "--commands",
            "cmds.jsonl",
        ]);
        input_error(&r, &["cmds.jsonl:2", path]);
    }
}

#[test]
fn missing_files() {
    let f = Fixture::new();
    let cases: [&[&str]; 6] = [
        &[
            "decide",
            "--snapshot",
            "nope.json",
            "--request",
            "request.json",
        ],
        &[
            "decide",
            "--snapshot",
            "snapshot.json",
            "--request",
            "nope.json",
        ],
        &[
            "decide",
            "--snapshot",
            "snapshot.json",
            "--requests",
            "nope.json",
        ],
        &[
            "decide",
            "--snapshot",
            "snapshot.json",
            "--request",
            "request.json",
            "--policy",
            "nope.json",
        ],
        &[
            "apply",
            "--snapshot",
            "snapshot.json",
            "--commands",
            "nope.json",
        ],
        &[
            "apply",
            "--snapshot",
            "nope.json",
            "--commands",
            "commands.jsonl",
        ],
    ];
    for args in cases {
        input_error(&f.run(args), &["nope.json"]);
    }
    // A directory is not a file either.
    std::fs::create_dir(f.dir.path().join("dir.json")).expect("mkdir");
    input_error(&f.run(&decide_snapshot("dir.json")), &["dir.json"]);
}

#[test]
fn out_to_an_unwritable_path() {
    let f = Fixture::new();
    let r = f.run(&[
        "apply",
        "--snapshot",
        "snapshot.json",
        "--commands",
        "commands.jsonl",
        "--out",
        "no/such/dir/out.json",
    ]);
    r.expect_code(1);
    assert!(r.stderr.contains("no/such/dir/out.json"), "{}", r.stderr);
}

#[test]
fn usage_errors_exit_1() {
    let f = Fixture::new();
    for args in [
        &[][..],
        &["frobnicate"][..],
        &["decide"][..],
        &["decide", "--snapshot", "snapshot.json"][..],
        &[
            "decide",
            "--snapshot",
            "snapshot.json",
            "--request",
            "request.json",
            "--format",
            "xml",
        ][..],
        &["apply", "--snapshot", "snapshot.json"][..],
    ] {
        let r = f.run(args);
        r.expect_code(1);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        assert!(!r.stderr.is_empty(), "{args:?}");
    }
    f.run(&["--help"]).expect_code(0);
    f.run(&["decide", "--help"]).expect_code(0);
    f.run(&["--version"]).expect_code(0);
}

#[test]
fn errors_never_echo_a_token() {
    let f = Fixture::new();
    let secret = "sk_live_LEAKED_secret_Zq9x/+=";
    let cases = [
        (
            "request.json",
            format!(r#"{{"at": "{secret}", "action": "workspace.read"}}"#),
            vec![
                "decide",
                "--snapshot",
                "snapshot.json",
                "--request",
                "request.json",
            ],
        ),
        (
            "request.json",
            format!(
                r#"{{"at": "2026-05-28T12:00:00Z", "action": "workspace.read", "tenant": "{secret}\u0007"}}"#
            ),
            vec![
                "decide",
                "--snapshot",
                "snapshot.json",
                "--request",
                "request.json",
            ],
        ),
        (
            "request.json",
            format!(
                r#"{{"at": "2026-05-28T12:00:00Z", "action": "workspace.read", "headers": {{"x-api-key": "{secret}", "X-API-KEY": "{secret}"}}}}"#
            ),
            vec![
                "decide",
                "--snapshot",
                "snapshot.json",
                "--request",
                "request.json",
            ],
        ),
        (
            "cmds.jsonl",
            format!(
                r#"{{"at": "2026-05-28T12:00:00Z", "op": "login", "session": "s9", "user": "alice", "token": ["{secret}"]}}"#
            ),
            vec![
                "apply",
                "--snapshot",
                "snapshot.json",
                "--commands",
                "cmds.jsonl",
            ],
        ),
        (
            "cmds.jsonl",
            format!(
                r#"{{"at": "2026-05-28T12:00:00Z", "op": "login", "session": "s9", "user": "alice", "token": "{secret}", "extra": 1}}"#
            ),
            vec![
                "apply",
                "--snapshot",
                "snapshot.json",
                "--commands",
                "cmds.jsonl",
            ],
        ),
        (
            "cmds.jsonl",
            format!(
                r#"{{"at": "2026-05-28T12:00:00Z", "op": "mint_api_key", "key": "k9", "owner": "alice", "tenant": "acme", "token": "{secret}", "expires_at": "never"}}"#
            ),
            vec![
                "apply",
                "--snapshot",
                "snapshot.json",
                "--commands",
                "cmds.jsonl",
            ],
        ),
        (
            "snapshot.json",
            format!(
                r#"{{"users": [{{"id": "u"}}], "sessions": [{{"id": "s", "user": "u", "token_sha256": "{secret}", {SES}}}]}}"#
            ),
            vec![
                "decide",
                "--snapshot",
                "snapshot.json",
                "--request",
                "f.json",
            ],
        ),
    ];
    for (name, body, args) in cases {
        f.file(name, &body);
        let r = f.run(&args);
        r.expect_code(1);
        assert!(r.stderr.contains(name), "{}", r.stderr);
        assert!(
            !r.stderr.contains("LEAKED") && !r.stdout.contains("LEAKED"),
            "an error echoed the token: {}",
            r.stderr
        );
    }
}

// ---- issue 12: strict JSON, bounded input, escaped names ----------------------------

/// Runs the binary in `dir` with extra environment and optional stdin.
fn run_with(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Run {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authproof"));
    cmd.current_dir(dir)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn authproof");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        // The binary may refuse before reading everything: ignore EPIPE.
        let _ = pipe.write_all(bytes);
    }
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn duplicate_keys_and_arrays_are_input_errors() {
    let f = Fixture::new();
    f.file(
        "dup.jsonl",
        "{\"at\":\"2026-05-28T12:00:00Z\",\"op\":\"create_tenant\",\"tenant\":\"t9\",\"tenant\":\"t10\"}\n",
    );
    let r = f.run(&[
        "apply",
        "--snapshot",
        "snapshot.json",
        "--commands",
        "dup.jsonl",
    ]);
    input_error(&r, &["dup.jsonl:1", "$.tenant", "duplicate key"]);
    f.file(
        "array.json",
        r#"["2026-05-28T12:00:00Z",[],[],[],[],[],[]]"#,
    );
    input_error(&f.run(&decide_snapshot("array.json")), &["array.json", "$"]);
    f.file("areq.json", r#"["2026-05-28T12:00:00Z","workspace.read"]"#);
    let r = f.run(&[
        "decide",
        "--snapshot",
        "snapshot.json",
        "--request",
        "areq.json",
    ]);
    input_error(&r, &["areq.json", "$"]);
}

#[cfg(unix)]
#[test]
fn devices_are_refused_before_reading() {
    let f = Fixture::new();
    let started = std::time::Instant::now();
    for args in [
        &[
            "decide",
            "--snapshot",
            "/dev/zero",
            "--request",
            "request.json",
        ][..],
        &[
            "decide",
            "--snapshot",
            "snapshot.json",
            "--request",
            "/dev/zero",
        ][..],
        &[
            "decide",
            "--snapshot",
            "snapshot.json",
            "--requests",
            "/dev/zero",
        ][..],
        &[
            "decide",
            "--snapshot",
            "snapshot.json",
            "--request",
            "request.json",
            "--policy",
            "/dev/zero",
        ][..],
        &[
            "apply",
            "--snapshot",
            "snapshot.json",
            "--commands",
            "/dev/zero",
        ][..],
    ] {
        let r = f.run(args);
        input_error(&r, &["/dev/zero", "device"]);
    }
    // `< /dev/zero` on stdin is the same device.
    let zero = std::fs::File::open("/dev/zero").expect("/dev/zero");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authproof"))
        .current_dir(f.dir.path())
        .args(["decide", "--snapshot", "snapshot.json", "--request", "-"])
        .stdin(zero)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(stdin)") && stderr.contains("device"),
        "{stderr}"
    );
    // Not a timing assertion: a refusal reads nothing, so this is far below
    // the seconds that filling memory from /dev/zero took.
    assert!(started.elapsed() < std::time::Duration::from_secs(120));
}

#[test]
fn inputs_past_the_size_limit_are_refused() {
    let f = Fixture::new();
    let limit = [("AUTHPROOF_MAX_INPUT_BYTES", "100")];
    let r = run_with(
        f.dir.path(),
        &decide_snapshot("snapshot.json"),
        &limit,
        None,
    );
    input_error(
        &r,
        &[
            "snapshot.json",
            "input limit of 100 bytes",
            "AUTHPROOF_MAX_INPUT_BYTES",
        ],
    );
    // Through a pipe, the limit holds as well (a limit the snapshot fits).
    let big = vec![b' '; 1000];
    let args = ["decide", "--snapshot", "snapshot.json", "--request", "-"];
    let small = std::fs::read(f.dir.path().join("request.json")).unwrap();
    let limit = format!(
        "{}",
        std::fs::metadata(f.dir.path().join("snapshot.json"))
            .unwrap()
            .len()
    );
    let r = run_with(
        f.dir.path(),
        &args,
        &[("AUTHPROOF_MAX_INPUT_BYTES", &limit)],
        Some(&big.repeat(10_000)),
    );
    input_error(&r, &["(stdin)", "input limit"]);
    let r = run_with(
        f.dir.path(),
        &args,
        &[("AUTHPROOF_MAX_INPUT_BYTES", &limit)],
        Some(&small),
    );
    assert!(matches!(r.code, 0 | 2), "{}", r.stderr);
    assert!(r.stdout.contains("\"decision\""), "{}", r.stdout);
    // A limit that is no size is a usage error.
    for bad in ["", "0", "-1", "12X", "lots"] {
        let r = run_with(
            f.dir.path(),
            &decide_snapshot("snapshot.json"),
            &[("AUTHPROOF_MAX_INPUT_BYTES", bad)],
            None,
        );
        input_error(&r, &["AUTHPROOF_MAX_INPUT_BYTES"]);
    }
}

#[test]
fn stdin_is_dash() {
    let f = Fixture::new();
    let request = std::fs::read(f.dir.path().join("request.json")).unwrap();
    let args = ["decide", "--snapshot", "snapshot.json", "--request", "-"];
    let piped = run_with(f.dir.path(), &args, &[], Some(&request));
    let named = f.run(&[
        "decide",
        "--snapshot",
        "snapshot.json",
        "--request",
        "request.json",
    ]);
    assert_eq!(piped.code, named.code, "{}", piped.stderr);
    assert_eq!(piped.stdout, named.stdout);
    let r = run_with(f.dir.path(), &args, &[], Some(b"{"));
    input_error(&r, &["(stdin)"]);
}

#[cfg(unix)]
#[test]
fn file_names_are_escaped_in_messages() {
    let f = Fixture::new();
    let evil = "evil\u{1b}[2J\u{7}.json";
    f.file(evil, "{\"tenants\": 1}");
    let r = f.run(&decide_snapshot(evil));
    input_error(&r, &["evil\\u{1b}[2J\\u{7}.json"]);
    assert!(
        !r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'),
        "{:?}",
        r.stderr
    );
    let r = f.run(&decide_snapshot("missing\u{1b}]0;title\u{7}.json"));
    r.expect_code(1);
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
    // A key with an escape sequence in it is escaped too.
    f.file(
        "key.json",
        "{\"tenants\": [{\"id\": \"a\", \"\u{1b}[2J\": 1}]}",
    );
    let r = f.run(&decide_snapshot("key.json"));
    r.expect_code(1);
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
}
