//! SPEC §5.1 signed session tokens (`session.cookie_format = "signed"`) and
//! the `credentials.order` setting, observed through decisions; and the
//! shipped `policies/better-auth.toml`.
//!
//! The signed values below were produced by better-auth's own code
//! (better-call 1.x `signCookieValue`, the function that writes the session
//! cookie) with the secret of `targets/better-auth/seed.mjs`, so the engine
//! is checked against the real format, not against its own signer.

use crate::common;

use authproof_engine::signed::{self, CookieSecret};
use authproof_engine::{load, Candidate, CookieFormat, Policy};
use common::*;
use serde_json::{json, Value};

const SECRET: &str = "authproof-better-auth-test-secret-not-for-production-0001";
/// A token of better-auth's shape (32 `[A-Za-z0-9]`).
const TOKEN: &str = "Xk3pQ9vT2mLw8RzA7bNc4YdF6gHj1KsE";
/// `signCookieValue(TOKEN, SECRET)`: the cookie value better-auth sets.
const COOKIE: &str =
    "Xk3pQ9vT2mLw8RzA7bNc4YdF6gHj1KsE.WD%2BEGdLJD%2By8sUDBNsS5imO4ehrFdFcdV2nw3xrv5ms%3D";
/// The signature, decoded (what `set-auth-token` carries after the `.`).
const SIG: &str = "WD+EGdLJD+y8sUDBNsS5imO4ehrFdFcdV2nw3xrv5ms=";
/// A token holding dots, and `signCookieValue("a.b.c", SECRET)`.
const DOTTED: &str = "a.b.c";
const DOTTED_COOKIE: &str = "a.b.c.6eDidfhcneue6a%2FqHN9awpKeW07Mcn5LKVjaeXb2arg%3D";

fn secret() -> CookieSecret {
    CookieSecret::new(SECRET).unwrap()
}

fn state() -> authproof_engine::State {
    Snap::base()
        .push("sessions", session("ses_ba", "alice", Some("acme"), TOKEN))
        .push("sessions", session("ses_dot", "bob", Some("beta"), DOTTED))
        .state()
}

fn signed_policy() -> Policy {
    policy("[session]\ncookie_format = \"signed\"\n")
}

fn with_secret(p: Policy) -> Policy {
    p.with_cookie_secret(Some(secret()))
}

fn read() -> Req {
    req("workspace.read")
}

fn explain(d: &Value) -> String {
    d["explain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
fn allows_as(d: &Value, session: &str) {
    assert_eq!(d["decision"], "allow", "{d:#}");
    assert_eq!(
        d["credential"],
        json!({"kind": "session", "id": session}),
        "{d:#}"
    );
}

/// No output names the token, the signature or the secret.
#[track_caller]
fn no_secrets(d: &Value) {
    let text = d.to_string();
    for s in [TOKEN, SIG, COOKIE, "WD%2BEGdLJD", SECRET, "6eDidfhcneue6a"] {
        assert!(!text.contains(s), "output holds {s:?}: {text}");
    }
}

#[test]
fn the_real_cookie_is_found_and_its_signature_verified() {
    let d = decide_with(
        &state(),
        &with_secret(signed_policy()),
        &read().cookie(COOKIE),
    );
    allows_as(&d, "ses_ba");
    let e = explain(&d);
    assert!(e.contains("(signed: signature verified)"), "{e}");
    assert!(
        e.contains(&format!("token sha256 {}", &sha(TOKEN)[..8])),
        "the token part is what is hashed: {e}"
    );
    no_secrets(&d);
}

#[test]
fn without_a_secret_the_signature_is_not_verified() {
    let d = decide_with(&state(), &signed_policy(), &read().cookie(COOKIE));
    allows_as(&d, "ses_ba");
    assert!(
        explain(&d).contains("(signed: signature not verified: no secret given)"),
        "{d:#}"
    );
    no_secrets(&d);
    // Any well-formed signature passes unverified: shape only.
    let forged = format!("{TOKEN}.{}", "A".repeat(43) + "=");
    let d = decide_with(&state(), &signed_policy(), &read().cookie(&forged));
    allows_as(&d, "ses_ba");
}

#[test]
fn a_bad_signature_is_malformed_with_a_secret() {
    // Signed by another secret (better-auth ignores such a cookie).
    let other = CookieSecret::new("wrong-secret").unwrap();
    let bad = signed::cookie_value(&other, TOKEN);
    let d = decide_with(
        &state(),
        &with_secret(signed_policy()),
        &read().cookie(&bad),
    );
    assert_deny(&d, "malformed_credential");
    assert_who(&d, None, None);
    let e = explain(&d);
    assert!(e.contains("the signature does not match"), "{e}");
    no_secrets(&d);
    // One flipped character of the real signature.
    let flipped = COOKIE.replace("WD%2B", "WE%2B");
    let d = decide_with(
        &state(),
        &with_secret(signed_policy()),
        &read().cookie(&flipped),
    );
    assert_deny(&d, "malformed_credential");
    // The same value under another secret than the one given.
    let p = signed_policy().with_cookie_secret(Some(other));
    assert_deny(
        &decide_with(&state(), &p, &read().cookie(COOKIE)),
        "malformed_credential",
    );
}

#[test]
fn a_missing_or_misshapen_signature_is_malformed() {
    for p in [signed_policy(), with_secret(signed_policy())] {
        for value in [
            // The raw token: better-auth refuses an unsigned cookie.
            TOKEN.to_string(),
            // Nothing before the dot.
            format!(".{SIG}"),
            // Signature too short, not padded, not base64, padded twice.
            format!("{TOKEN}.abc"),
            format!("{TOKEN}.{}", &SIG[..43]),
            format!("{TOKEN}.{}A", &SIG[..43]),
            format!("{TOKEN}.{}-=", &SIG[..42]),
            format!("{TOKEN}.{}==", &SIG[..42]),
            // Trailing dot.
            format!("{TOKEN}."),
            // Bad percent-encoding, and encoding of a non-token character.
            format!("{TOKEN}%zz.{SIG}"),
            format!("{TOKEN}%2.{SIG}"),
            format!("{TOKEN}%20x.{SIG}"),
            format!("{TOKEN}%FF.{SIG}"),
        ] {
            let d = decide_with(&state(), &p, &read().cookie(&value));
            assert_deny(&d, "malformed_credential");
            no_secrets(&d);
        }
    }
}

#[test]
fn percent_encoding_is_decoded_once_in_either_form() {
    let p = with_secret(signed_policy());
    // The encoded form better-auth sets, the decoded form (set-auth-token),
    // and lower-case hex digits.
    for value in [
        COOKIE.to_string(),
        format!("{TOKEN}.{SIG}"),
        COOKIE
            .to_lowercase()
            .replace(&TOKEN.to_lowercase(), TOKEN)
            .replace(
                &"WD%2BEGdLJD%2By8sUDBNsS5imO4ehrFdFcdV2nw3xrv5ms%3D".to_lowercase(),
                "WD%2bEGdLJD%2by8sUDBNsS5imO4ehrFdFcdV2nw3xrv5ms%3d",
            ),
        format!("\"{COOKIE}\""),
    ] {
        allows_as(&decide_with(&state(), &p, &read().cookie(&value)), "ses_ba");
    }
    // Decoded exactly once: a doubly encoded value is not the signature.
    let twice = COOKIE.replace('%', "%25");
    assert_deny(
        &decide_with(&state(), &p, &read().cookie(&twice)),
        "malformed_credential",
    );
}

#[test]
fn a_token_with_dots_is_split_at_the_last_dot() {
    let p = with_secret(signed_policy());
    let d = decide_with(&state(), &p, &read().cookie(DOTTED_COOKIE));
    allows_as(&d, "ses_dot");
    assert_eq!(signed::cookie_value(&secret(), DOTTED), DOTTED_COOKIE);
    assert_eq!(signed::cookie_value(&secret(), TOKEN), COOKIE);
}

#[test]
fn plain_policies_are_unchanged() {
    // The default policy hashes the cookie verbatim: a signed cookie is
    // some other token, and a secret changes nothing.
    let st = state();
    for p in [
        Policy::default(),
        Policy::default().with_cookie_secret(Some(secret())),
    ] {
        let d = decide_with(&st, &p, &read().cookie(COOKIE));
        assert_deny(&d, "session_not_found");
        let d = decide_with(&st, &p, &read().cookie(TOKEN));
        allows_as(&d, "ses_ba");
        assert!(!explain(&d).contains("signed"), "{d:#}");
    }
    // The same decision, byte for byte, with and without a secret.
    let a = decide_with(&st, &Policy::default(), &read().cookie(SESSION_TOKEN));
    let b = decide_with(
        &st,
        &Policy::default().with_cookie_secret(Some(secret())),
        &read().cookie(SESSION_TOKEN),
    );
    assert_eq!(a.to_string(), b.to_string());
}

#[test]
fn api_keys_are_never_unwrapped() {
    // Under "signed" the API-key header (and a Bearer key) stay verbatim.
    let p = with_secret(signed_policy());
    let d = decide_with(&state(), &p, &read().key(KEY_TOKEN));
    assert_eq!(d["decision"], "allow", "{d:#}");
    assert!(!explain(&d).contains("signed"), "{d:#}");
    let d = decide_with(&state(), &p, &read().bearer(KEY_TOKEN));
    assert_eq!(d["credential"]["kind"], "api_key", "{d:#}");
}

#[test]
fn bearer_under_signed() {
    let st = state();
    for p in [signed_policy(), with_secret(signed_policy())] {
        let verified = p.cookie_secret.is_some();
        // token.signature, encoded or not: verified like the cookie.
        for value in [COOKIE.to_string(), format!("{TOKEN}.{SIG}")] {
            let d = decide_with(&st, &p, &read().bearer(&value));
            allows_as(&d, "ses_ba");
            let e = explain(&d);
            let want = if verified {
                "(signed: signature verified)"
            } else {
                "(signed: signature not verified: no secret given)"
            };
            assert!(e.contains(want), "{e}");
            no_secrets(&d);
        }
        // The raw token (the bearer plugin signs it itself).
        let d = decide_with(&st, &p, &read().bearer(TOKEN));
        allows_as(&d, "ses_ba");
        assert!(explain(&d).contains("(signed: raw token, no signature)"));
        // A `.` makes it a signed value: its signature must have the shape.
        let d = decide_with(&st, &p, &read().bearer(&format!("{TOKEN}.x")));
        assert_deny(&d, "malformed_credential");
    }
    // A bad signature with a secret: malformed, no fallback to the cookie.
    let other = CookieSecret::new("wrong-secret").unwrap();
    let bad = signed::sign(&other, TOKEN);
    let p = with_secret(signed_policy());
    assert_deny(
        &decide_with(&st, &p, &read().bearer(&bad)),
        "malformed_credential",
    );
    // Dotted tokens: split at the last dot in Bearer too.
    let d = decide_with(&st, &p, &read().bearer(&signed::sign(&secret(), DOTTED)));
    allows_as(&d, "ses_dot");
}

#[test]
fn credential_order_decides_which_present_candidate_is_used() {
    let st = state();
    let headers = |r: Req| {
        r.cookie(SESSION_TOKEN)
            .bearer(TOKEN)
            .header("x-api-key", KEY_TOKEN)
    };
    let ordered = |order: &str| policy(&format!("[credentials]\norder = {order}\n"));
    // Default: API-key header, cookie, Authorization.
    let d = decide_with(&st, &Policy::default(), &headers(read()));
    assert_eq!(d["credential"], json!({"kind": "api_key", "id": "key_1"}));
    let d = decide_with(
        &st,
        &Policy::default(),
        &read().cookie(SESSION_TOKEN).bearer(TOKEN),
    );
    allows_as(&d, "ses_1");
    // better-auth's order: Authorization before the cookie.
    let ba = ordered(r#"["api_key_header", "authorization", "cookie"]"#);
    let d = decide_with(&st, &ba, &read().cookie(SESSION_TOKEN).bearer(TOKEN));
    allows_as(&d, "ses_ba");
    let d = decide_with(&st, &ba, &headers(read()));
    assert_eq!(d["credential"]["kind"], "api_key");
    // Any order: the first present one, with no fallback.
    let cookie_first = ordered(r#"["cookie", "authorization", "api_key_header"]"#);
    allows_as(&decide_with(&st, &cookie_first, &headers(read())), "ses_1");
    let auth_first = ordered(r#"["authorization", "api_key_header", "cookie"]"#);
    allows_as(&decide_with(&st, &auth_first, &headers(read())), "ses_ba");
    let d = decide_with(
        &st,
        &auth_first,
        &read()
            .header("authorization", "Basic x")
            .header("x-api-key", KEY_TOKEN),
    );
    assert_deny(&d, "malformed_credential");
    // "deny" counts presence whatever the order.
    let deny = policy(
        "[credentials]\nmultiple = \"deny\"\norder = [\"authorization\", \"cookie\", \"api_key_header\"]\n",
    );
    assert_deny(
        &decide_with(&st, &deny, &headers(read())),
        "ambiguous_credential",
    );
    allows_as(&decide_with(&st, &deny, &read().bearer(TOKEN)), "ses_ba");
}

#[test]
fn credential_order_must_name_each_candidate_once() {
    for bad in [
        r#"["cookie", "authorization"]"#,
        r#"["cookie", "cookie", "authorization"]"#,
        r#"["cookie", "authorization", "api_key_header", "cookie"]"#,
        r#"[]"#,
    ] {
        let e = load::policy(&format!("[credentials]\norder = {bad}\n"), "p.toml").unwrap_err();
        assert_eq!(e.path().unwrap(), "credentials.order", "{e}");
    }
    let e = load::policy("[credentials]\norder = [\"header\"]\n", "p.toml").unwrap_err();
    assert!(e.path().unwrap().starts_with("credentials.order"), "{e}");
    let e = load::policy("[session]\ncookie_format = \"hmac\"\n", "p.toml").unwrap_err();
    assert_eq!(e.path().unwrap(), "session.cookie_format", "{e}");
    // A policy built in code with a repeat reads it once, the missing one last.
    let mut p = Policy::default();
    p.credentials.order = vec![Candidate::Authorization, Candidate::Authorization];
    assert_eq!(
        p.credential_order(),
        [
            Candidate::Authorization,
            Candidate::ApiKeyHeader,
            Candidate::Cookie
        ]
    );
}

#[test]
fn default_outputs_do_not_mention_the_new_settings() {
    // Byte-identical policy forms: the new fields appear only when set.
    let p = Policy::default();
    let toml = p.to_toml();
    let json = serde_json::to_string(&p).unwrap();
    for field in ["cookie_format", "order", "secret"] {
        assert!(!toml.contains(field), "{toml}");
        assert!(!json.contains(field), "{json}");
    }
    let mut p = with_secret(signed_policy());
    p.credentials.order = vec![
        Candidate::Cookie,
        Candidate::Authorization,
        Candidate::ApiKeyHeader,
    ];
    let toml = p.to_toml();
    assert!(toml.contains("cookie_format = \"signed\""), "{toml}");
    assert!(
        toml.contains("order = [\"cookie\", \"authorization\", \"api_key_header\"]"),
        "{toml}"
    );
    // The secret is in no form of the policy, and not in its Debug.
    let json = serde_json::to_string(&p).unwrap();
    for text in [toml.as_str(), json.as_str(), &format!("{p:?}")] {
        assert!(!text.contains(SECRET), "{text}");
    }
    // Round trips keep the settings (but not the secret).
    let back = load::policy(&toml, "p.toml").unwrap();
    assert_eq!(back.session.cookie_format, CookieFormat::Signed);
    assert_eq!(back.credentials.order, p.credentials.order);
    assert!(back.cookie_secret.is_none());
    let back = load::policy_json(serde_json::from_str(&json).unwrap(), "p.json").unwrap();
    assert_eq!(back, p.clone().with_cookie_secret(None));
}

#[test]
fn verification_compares_in_constant_time() {
    // The engine verifies through `Mac::verify_slice` (constant time) and
    // never compares signature bytes or strings with `==`.
    let src = include_str!("../src/signed.rs");
    let verify = src
        .split("fn verify(")
        .nth(1)
        .and_then(|s| s.split("\n}\n").next())
        .expect("signed.rs has fn verify");
    assert!(verify.contains(".verify_slice("), "{verify}");
    assert!(!verify.contains("=="), "{verify}");
    assert!(!verify.contains("!="), "{verify}");
}

#[test]
fn the_better_auth_policy_loads_as_documented() {
    let text = include_str!("../../policies/better-auth.toml");
    let p = load::policy(text, "policies/better-auth.toml").unwrap();
    assert_eq!(p.session.ttl.secs(), 7 * 86_400);
    assert_eq!(p.session.refresh_after.secs(), 86_400);
    assert!(p.session.sliding);
    assert_eq!(p.session.absolute_max, None);
    assert_eq!(p.session.cookies, vec!["better-auth.session_token"]);
    assert!(p.session.bearer);
    assert_eq!(p.session.cookie_format, CookieFormat::Signed);
    assert_eq!(p.api_key.header, "x-api-key");
    assert!(p.api_key.prefixes.is_empty());
    assert!(!p.api_key.bearer);
    assert_eq!(
        p.credentials.order,
        vec![
            Candidate::ApiKeyHeader,
            Candidate::Authorization,
            Candidate::Cookie
        ]
    );
    assert_eq!(p.actions, authproof_engine::default_actions());
    assert!(p.cookie_secret.is_none());
    let https = include_str!("../../examples/better-auth/policy-https.toml");
    let h = load::policy(https, "examples/better-auth/policy-https.toml").unwrap();
    assert_eq!(
        h.session.cookies,
        vec!["__Secure-better-auth.session_token"]
    );
    let mut same = h.clone();
    same.session.cookies = p.session.cookies.clone();
    assert_eq!(same, p, "the https variant differs only in its cookie name");

    // A session 6 days before expiry (older than updateAge) is extended to
    // at + 7d; one created an hour ago is not.
    let st = Snap::base()
        .push(
            "sessions",
            json!({"id": "stale", "user": "alice", "tenant": "acme", "token_sha256": sha(TOKEN),
                   "created_at": "2026-05-20T12:00:00Z", "expires_at": "2026-05-27T12:00:01Z"}),
        )
        .push(
            "sessions",
            json!({"id": "fresh", "user": "alice", "tenant": "acme", "token_sha256": sha(DOTTED),
                   "created_at": "2026-05-28T11:00:00Z", "expires_at": "2026-06-04T11:00:00Z"}),
        )
        .state();
    let p = p.with_cookie_secret(Some(secret()));
    let d = decide_with(&st, &p, &read().at("2026-05-27T12:00:00Z").cookie(COOKIE));
    assert_eq!(
        d["effects"],
        json!([{"kind": "extend_session", "session": "stale", "expires_at": "2026-06-03T12:00:00Z"}])
    );
    let d = decide_with(&st, &p, &read().cookie(DOTTED_COOKIE));
    allows_as(&d, "fresh");
    assert_eq!(d["effects"], json!([]));
    // The boundary: refreshed exactly when expires_at - 7d + 1d <= at.
    let d = decide_with(
        &st,
        &p,
        &read().at("2026-05-29T11:00:00Z").cookie(DOTTED_COOKIE),
    );
    assert_eq!(d["effects"][0]["expires_at"], "2026-06-05T11:00:00Z");
    let d = decide_with(
        &st,
        &p,
        &read().at("2026-05-29T10:59:59Z").cookie(DOTTED_COOKIE),
    );
    assert_eq!(d["effects"], json!([]));
}

#[test]
fn secrets_from_the_environment_or_a_file() {
    assert_eq!(signed::cookie_secret(None, None), Ok(None));
    // The file wins; one trailing newline is removed (seed.mjs writes one).
    let s = signed::cookie_secret(Some(b"env"), Some(format!("{SECRET}\n").as_bytes()))
        .unwrap()
        .unwrap();
    assert_eq!(s, secret());
    assert_eq!(
        signed::cookie_secret(Some(SECRET.as_bytes()), None).unwrap(),
        Some(secret())
    );
    let e = signed::cookie_secret(Some(b""), None).unwrap_err();
    assert!(!e.to_string().is_empty());
    assert_eq!(signed::SECRET_ENV, "AUTHPROOF_COOKIE_SECRET");
}

#[test]
fn the_better_auth_example_decides_as_its_readme_says() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/better-auth");
    let read = |f: &str| std::fs::read(format!("{dir}/{f}")).unwrap();
    let st = load::snapshot(&read("snapshot.json"), "snapshot.json").unwrap();
    let http = load::policy(include_str!("../../policies/better-auth.toml"), "p").unwrap();
    let https = load::policy(
        &String::from_utf8(read("policy-https.toml")).unwrap(),
        "policy-https.toml",
    )
    .unwrap();
    let file_secret = signed::cookie_secret(None, Some(&read("test-secret")))
        .unwrap()
        .unwrap();
    assert_eq!(file_secret, secret());
    let outcome = |p: &Policy, name: &str| {
        let r = load::request(&read(&format!("requests/{name}.json")), name).unwrap();
        let d = serde_json::to_value(st.decide(p, &r)).unwrap();
        no_secrets(&d);
        match (&d["reason"], &d["credential"]["id"]) {
            (Value::String(r), _) => r.clone(),
            (_, Value::String(id)) => match d["effects"][0]["expires_at"].as_str() {
                Some(t) => format!("allow {id} until {t}"),
                None => format!("allow {id}"),
            },
            _ => unreachable!(),
        }
    };
    let keyed = http.clone().with_cookie_secret(Some(file_secret));
    for (name, without, with) in [
        ("signed-cookie", "allow ses_alice", "allow ses_alice"),
        ("bad-signature", "allow ses_alice", "malformed_credential"),
        (
            "unsigned-cookie",
            "malformed_credential",
            "malformed_credential",
        ),
        ("bearer-raw", "allow ses_alice", "allow ses_alice"),
        ("bearer-signed", "allow ses_alice", "allow ses_alice"),
        ("bearer-and-cookie", "allow ses_alice", "allow ses_alice"),
        ("secure-cookie-name", "no_credential", "no_credential"),
        (
            "stale-session",
            "allow ses_bob until 2026-06-04T12:00:00Z",
            "allow ses_bob until 2026-06-04T12:00:00Z",
        ),
    ] {
        assert_eq!(outcome(&http, name), without, "{name} without a secret");
        assert_eq!(outcome(&keyed, name), with, "{name} with the secret");
    }
    assert_eq!(outcome(&https, "secure-cookie-name"), "allow ses_alice");
    assert_eq!(outcome(&https, "signed-cookie"), "no_credential");
    assert_eq!(outcome(&https, "bearer-raw"), "allow ses_alice");
}
