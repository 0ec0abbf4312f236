//! Helpers shared by the CLI tests: run the built `authproof` binary and
//! look at what it printed.
#![allow(dead_code)] // each test crate uses a different subset

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

/// The repository root (the root package's manifest directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/<rel>`, relative to the repository root (the binary runs there).
pub fn ex(rel: &str) -> String {
    format!("examples/{rel}")
}

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Fails the test with both streams when the code differs.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self.expect_no_panic()
    }

    pub fn expect_no_panic(&self) -> &Run {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "the binary panicked:\n{}",
            self.stderr
        );
        self
    }

    /// stdout as JSON Lines.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {e}: {l}"))
            })
            .collect()
    }
}

/// Runs `authproof <args>` in the repository root.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    run_in(&root(), args)
}

/// Runs `authproof <args>` in `dir`.
pub fn run_in<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_authproof"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the authproof binary runs");
    Run {
        code: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Every request file under `examples/requests/`, sorted, as paths relative
/// to the repository root.
pub fn request_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("examples/requests"))
        .expect("examples/requests exists")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("UTF-8")
        })
        .filter(|n| n.ends_with(".json"))
        .map(|n| format!("examples/requests/{n}"))
        .collect();
    v.sort();
    v
}

fn read_json(rel: &str) -> Value {
    let text = std::fs::read_to_string(root().join(rel)).expect("example file reads");
    serde_json::from_str(&text).expect("example file is JSON")
}

fn read_jsonl(rel: &str) -> Vec<Value> {
    std::fs::read_to_string(root().join(rel))
        .expect("example file reads")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// The credentials a request's headers carry: the API-key header's value,
/// every cookie value, the token after the Authorization scheme.
fn header_tokens(headers: &Value, out: &mut Vec<String>) {
    let Some(h) = headers.as_object() else { return };
    for (name, value) in h {
        let v = value.as_str().unwrap_or_default();
        match name.to_ascii_lowercase().as_str() {
            "cookie" => {
                for pair in v.split(';') {
                    if let Some((_, val)) = pair.trim().split_once('=') {
                        out.push(val.trim_matches('"').to_string());
                    }
                }
            }
            "authorization" => {
                if let Some((_, tok)) = v.split_once(' ') {
                    out.push(tok.trim().to_string());
                }
                out.push(v.to_string());
            }
            _ => out.push(v.to_string()),
        }
    }
}

/// Every raw token used anywhere in `examples/` (request files, the batch,
/// the command file): none may appear in any output. Short cookie values
/// such as `dark` are not tokens and are left out.
pub fn example_tokens() -> Vec<String> {
    let mut out = Vec::new();
    let mut requests: Vec<Value> = request_files().iter().map(|f| read_json(f)).collect();
    requests.extend(read_jsonl("examples/requests.jsonl"));
    let commands = read_jsonl("examples/commands.jsonl");
    for r in requests.iter().chain(&commands) {
        header_tokens(&r["headers"], &mut out);
        if let Some(t) = r["token"].as_str() {
            out.push(t.to_string());
        }
    }
    out.retain(|t| t.len() >= 12);
    out.sort();
    out.dedup();
    assert!(
        out.len() >= 15,
        "the examples use at least 15 tokens: {}",
        out.len()
    );
    out
}

/// Fails when any of `tokens` occurs in `text`.
pub fn assert_no_token(what: &str, text: &str, tokens: &[String]) {
    for t in tokens {
        assert!(
            !text.contains(t.as_str()),
            "{what} contains a raw token from the examples (first 4 chars {:?})",
            &t[..4]
        );
    }
}
