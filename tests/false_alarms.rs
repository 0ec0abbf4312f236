//! The checker must not cry wolf: every trace in `tests/false-alarms/` once
//! made an invariant fire on a correct engine (a false alarm found by fuzzing
//! or review). Each must now replay clean through the built binary — the same
//! path a user takes — with exit code 0.

use std::path::PathBuf;
use std::process::Command;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/false-alarms")
}

#[test]
fn every_false_alarm_trace_replays_clean() {
    let mut traces: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/false-alarms")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    traces.sort();
    assert!(!traces.is_empty(), "no false-alarm traces found");
    for trace in traces {
        let out = Command::new(env!("CARGO_BIN_EXE_authproof"))
            .arg("replay")
            .arg(&trace)
            .output()
            .expect("run authproof replay");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {stdout}{}",
            trace.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("held"), "{}: {stdout}", trace.display());
    }
}
