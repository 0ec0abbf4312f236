//! `authproof snapshot import|export` and `apply --db`, as a user runs them
//! (the built binary). For a snapshot S and commands C, importing S,
//! applying C with `--db` and exporting gives the same snapshot JSON, the
//! same result lines and the same exit code as `apply --snapshot S
//! --commands C --out`: on SQLite always, and on PostgreSQL when
//! `AUTHPROOF_PG_URL` is set (`scripts/with-postgres`); without it the
//! PostgreSQL test fails unless `AUTHPROOF_SKIP_PG=1`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_authproof"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run authproof");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!r.stderr.contains("panicked"), "panic: {}", r.stderr);
    r
}

fn ok(args: &[&str]) -> Run {
    let r = run(args);
    assert_eq!(
        r.code, 0,
        "{args:?}\n--- stdout\n{}\n--- stderr\n{}",
        r.stdout, r.stderr
    );
    r
}

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "authproof-cli-store-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Commands for a snapshot of the examples: logins, mints, requests,
/// revocations and membership changes over its own ids.
const EXTRA_COMMANDS: &str = r#"{"at": "2026-05-28T12:00:00Z", "op": "create_tenant", "tenant": "zeta"}
{"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": "zed"}
{"at": "2026-05-28T12:00:01Z", "op": "add_member", "user": "zed", "tenant": "zeta", "role": "owner"}
{"at": "2026-05-28T12:00:02Z", "op": "login", "session": "ses_zed", "user": "zed", "token": "zed/+=tok", "tenant": "zeta"}
{"at": "2026-05-28T12:00:03Z", "op": "mint_api_key", "key": "key_zed", "owner": "zed", "tenant": "zeta", "token": "sk_live_zed", "capabilities": ["supervisor"]}
{"at": "2026-06-20T12:00:03Z", "op": "authenticate", "action": "workspace.read", "headers": {"cookie": "better-auth.session_token=zed/+=tok"}}
{"at": "2026-06-20T12:00:04Z", "op": "authenticate", "action": "supervisor.connect", "headers": {"x-api-key": "sk_live_zed"}}
{"at": "2026-06-20T12:00:05Z", "op": "create_resource", "tenant": "zeta", "resource": "conv_1", "owner": "zed"}
{"at": "2026-06-20T12:00:06Z", "op": "update_api_key", "key": "key_zed", "name": "renamed", "expires_at": "2026-07-01T00:00:00Z"}
{"at": "2026-06-20T12:00:07Z", "op": "update_api_key", "key": "key_zed", "tenant": "other"}
{"at": "2026-06-20T12:00:08Z", "op": "revoke_api_key", "key": "key_zed"}
{"at": "2026-06-20T12:00:09Z", "op": "authenticate", "action": "supervisor.connect", "headers": {"x-api-key": "sk_live_zed"}}
{"at": "2026-06-20T12:00:10Z", "op": "remove_member", "user": "zed", "tenant": "zeta"}
{"at": "2026-06-20T12:00:11Z", "op": "authenticate", "action": "workspace.read", "headers": {"cookie": "better-auth.session_token=zed/+=tok"}}
{"at": "2026-06-20T12:00:12Z", "op": "ban_user", "user": "zed"}
{"at": "2026-06-20T12:00:13Z", "op": "logout", "session": "ses_zed"}
{"at": "2026-06-20T12:00:14Z", "op": "delete_resource", "tenant": "zeta", "resource": "conv_1"}
"#;

/// (snapshot, commands, policy) triples to compare.
fn cases(dir: &Path) -> Vec<(String, String, Option<String>)> {
    let extra = dir.join("extra.jsonl");
    std::fs::write(&extra, EXTRA_COMMANDS).unwrap();
    let extra = s(&extra).to_string();
    let mut out = vec![
        (
            "examples/snapshot.json".into(),
            "examples/commands.jsonl".into(),
            None,
        ),
        ("examples/snapshot.json".into(), extra.clone(), None),
    ];
    if Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/policy-legacy-oldest.toml")
        .exists()
    {
        out.push((
            "examples/snapshot.json".into(),
            "examples/commands.jsonl".into(),
            Some("examples/policy-legacy-oldest.toml".into()),
        ));
    }
    if Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/blast-radius/snapshot.json")
        .exists()
    {
        out.push(("examples/blast-radius/snapshot.json".into(), extra, None));
    }
    out
}

/// import S, apply --db C, export  ==  apply --snapshot S --commands C --out.
fn round_trip(db: &str, dir: &Path) {
    for (i, (snapshot, commands, policy)) in cases(dir).into_iter().enumerate() {
        let mut pol: Vec<&str> = Vec::new();
        if let Some(p) = &policy {
            pol = vec!["--policy", p];
        }
        let want_out = dir.join(format!("want-{i}.json"));
        let mut args = vec!["apply", "--snapshot", &snapshot, "--commands", &commands];
        args.extend(&pol);
        args.extend(["--out", s(&want_out)]);
        let want = run(&args);
        assert!(want.code == 0 || want.code == 2, "{}", want.stderr);

        ok(&[
            "snapshot",
            "import",
            "--db",
            db,
            "--snapshot",
            &snapshot,
            "--replace",
        ]);
        let mut args = vec!["apply", "--db", db, "--commands", &commands];
        args.extend(&pol);
        let got = run(&args);
        assert_eq!(got.code, want.code, "exit code, case {i}: {}", got.stderr);
        assert_eq!(got.stdout, want.stdout, "result lines, case {i}");

        let got_out = dir.join(format!("got-{i}.json"));
        ok(&["snapshot", "export", "--db", db, "--out", s(&got_out)]);
        let want_json = std::fs::read_to_string(&want_out).unwrap();
        let got_json = std::fs::read_to_string(&got_out).unwrap();
        assert_eq!(got_json, want_json, "exported snapshot, case {i} ({db})");
        // Export to stdout prints the same bytes.
        assert_eq!(ok(&["snapshot", "export", "--db", db]).stdout, want_json);
    }
}

#[test]
fn sqlite_import_apply_export_equals_apply_snapshot() {
    let dir = scratch("sqlite");
    let db = format!("sqlite:{}", s(&dir.join("state.db")));
    round_trip(&db, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn postgres_import_apply_export_equals_apply_snapshot() {
    let Some(url) = std::env::var("AUTHPROOF_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        if std::env::var("AUTHPROOF_SKIP_PG").as_deref() == Ok("1") {
            eprintln!("PostgreSQL part SKIPPED (AUTHPROOF_SKIP_PG=1)");
            return;
        }
        panic!(
            "AUTHPROOF_PG_URL is not set: run `scripts/with-postgres cargo test ...` \
             (or set AUTHPROOF_SKIP_PG=1 to leave PostgreSQL out explicitly)"
        );
    };
    // The only test that uses the base database itself; `--replace`
    // clears it for each case.
    let db = url;
    let dir = scratch("pg");
    round_trip(&db, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_refuses_a_non_empty_database_without_replace() {
    let dir = scratch("refuse");
    let db = format!("sqlite:{}", s(&dir.join("state.db")));
    ok(&[
        "snapshot",
        "import",
        "--db",
        &db,
        "--snapshot",
        "examples/snapshot.json",
    ]);
    let r = run(&[
        "snapshot",
        "import",
        "--db",
        &db,
        "--snapshot",
        "examples/snapshot.json",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--replace"), "{}", r.stderr);
    ok(&[
        "snapshot",
        "import",
        "--db",
        &db,
        "--snapshot",
        "examples/snapshot.json",
        "--replace",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_and_database_errors_exit_1() {
    let dir = scratch("errors");
    let db = format!("sqlite:{}", s(&dir.join("state.db")));
    // --snapshot and --db are mutually exclusive; one is required.
    let both = run(&[
        "apply",
        "--snapshot",
        "examples/snapshot.json",
        "--db",
        &db,
        "--commands",
        "examples/commands.jsonl",
    ]);
    assert_eq!(both.code, 1, "{}", both.stderr);
    let neither = run(&["apply", "--commands", "examples/commands.jsonl"]);
    assert_eq!(neither.code, 1, "{}", neither.stderr);
    // A database that was never imported into.
    let missing = run(&["snapshot", "export", "--db", &db]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("snapshot import"),
        "{}",
        missing.stderr
    );
    let r = run(&[
        "apply",
        "--db",
        &db,
        "--commands",
        "examples/commands.jsonl",
    ]);
    assert_eq!(r.code, 1);
    // An unsupported URL.
    let r = run(&["snapshot", "export", "--db", "mysql://x/y"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("sqlite:PATH"), "{}", r.stderr);
    // An input error in the commands applies nothing.
    ok(&[
        "snapshot",
        "import",
        "--db",
        &db,
        "--snapshot",
        "examples/snapshot.json",
    ]);
    let before = ok(&["snapshot", "export", "--db", &db]).stdout;
    let bad = dir.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"at\": \"2026-05-28T12:00:00Z\", \"op\": \"create_tenant\", \"tenant\": \"new\"}\n{\"at\": \"yesterday\", \"op\": \"create_user\", \"user\": \"x\"}\n",
    )
    .unwrap();
    let r = run(&["apply", "--db", &db, "--commands", s(&bad)]);
    assert_eq!(r.code, 1);
    assert_eq!(ok(&["snapshot", "export", "--db", &db]).stdout, before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_database_never_holds_a_raw_token() {
    let dir = scratch("secret");
    let path = dir.join("state.db");
    let db = format!("sqlite:{}", s(&path));
    ok(&[
        "snapshot",
        "import",
        "--db",
        &db,
        "--snapshot",
        "examples/snapshot.json",
    ]);
    let commands = dir.join("c.jsonl");
    std::fs::write(&commands, EXTRA_COMMANDS).unwrap();
    let r = run(&["apply", "--db", &db, "--commands", s(&commands)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    for token in ["zed/+=tok", "sk_live_zed"] {
        assert!(!r.stdout.contains(token), "a result line holds a raw token");
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "jsonl") {
                continue; // the command file itself
            }
            let bytes = std::fs::read(&f).unwrap();
            let hay = String::from_utf8_lossy(&bytes);
            assert!(!hay.contains(token), "{} holds a raw token", f.display());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A connection string never comes back with a credential in it, in any
/// place a URL can carry one, nor with raw control characters; the error
/// says why the connection failed.
#[test]
fn connection_errors_mask_credentials_and_say_why() {
    for url in [
        "postgres://user:pw-SECRET-1@127.0.0.1:1/db",
        "postgres://user@127.0.0.1:1/db?password=pw-SECRET-1",
        "postgresql://127.0.0.1:1/db?sslmode=disable&password=pw-SECRET-1",
    ] {
        for args in [
            vec!["snapshot", "export", "--db", url],
            vec![
                "apply",
                "--db",
                url,
                "--commands",
                "examples/commands.jsonl",
            ],
        ] {
            let r = run(&args);
            assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
            assert!(!r.stderr.contains("SECRET"), "{args:?} leaks: {}", r.stderr);
            assert!(!r.stdout.contains("SECRET"), "{args:?} leaks: {}", r.stdout);
            assert!(r.stderr.contains("refused"), "{args:?}: {}", r.stderr);
        }
    }
    let r = run(&[
        "snapshot",
        "export",
        "--db",
        "sqlite:/nonexistent/\u{1b}[31mred.db",
    ]);
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains('\u{1b}'), "raw escape: {:?}", r.stderr);
}
