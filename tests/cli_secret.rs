//! The cookie secret of a signed-cookie policy comes from the environment
//! (`AUTHPROOF_COOKIE_SECRET_FILE` or `AUTHPROOF_COOKIE_SECRET`), never from
//! the policy, and never reaches any output.

use std::process::Command;

fn decide(request: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authproof"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "decide",
            "--snapshot",
            "examples/better-auth/snapshot.json",
            "--policy",
            "policies/better-auth.toml",
            "--format",
            "text",
            "--request",
        ])
        .arg(format!("examples/better-auth/requests/{request}.json"))
        .env_remove("AUTHPROOF_COOKIE_SECRET")
        .env_remove("AUTHPROOF_COOKIE_SECRET_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run authproof");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_secret_from_the_environment_verifies_signatures_and_is_never_printed() {
    let secret = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/better-auth/test-secret"),
    )
    .unwrap();
    let secret = secret.trim_end_matches('\n');
    // Without a secret the signature is not verified, and the explanation says so.
    let (code, out, _) = decide("bad-signature", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("signature not verified: no secret given"),
        "{out}"
    );
    // With the secret, from a file or a variable, a bad signature is refused.
    let file = [(
        "AUTHPROOF_COOKIE_SECRET_FILE",
        "examples/better-auth/test-secret",
    )];
    let var = [("AUTHPROOF_COOKIE_SECRET", secret)];
    for env in [&file[..], &var[..]] {
        let (code, out, _) = decide("bad-signature", env);
        assert_eq!(code, 2, "{out}");
        assert!(out.contains("malformed_credential"), "{out}");
        let (code, out, _) = decide("signed-cookie", env);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("signature verified"), "{out}");
        assert!(!out.contains(secret), "the secret leaked: {out}");
    }
    // An empty secret is an error naming its source, not its value.
    let (code, _, err) = decide("signed-cookie", &[("AUTHPROOF_COOKIE_SECRET", "")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AUTHPROOF_COOKIE_SECRET"), "{err}");
    let (code, _, err) = decide(
        "signed-cookie",
        &[("AUTHPROOF_COOKIE_SECRET_FILE", "/nonexistent/secret")],
    );
    assert_eq!(code, 1, "{err}");
}
