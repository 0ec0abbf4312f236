//! The engine and the reference model side by side (the lockstep harness,
//! every invariant after every step) on requests that exercise SPEC §5.1
//! signed session tokens and the `credentials.order` setting, under every
//! combination of the settings that change extraction.
//!
//! The signed values were produced by better-auth's own code (better-call
//! `signCookieValue`) with the secret of `targets/better-auth/seed.mjs`.

use authproof_engine::signed::CookieSecret;
use authproof_engine::{
    load, Candidate, Command, CommandResult, CookieFormat, Multiple, Policy, Snapshot, TokenHash,
};
use authproof_verification::lockstep;
use serde_json::{json, Value};

const SECRET: &str = "authproof-better-auth-test-secret-not-for-production-0001";
const TOKEN: &str = "Xk3pQ9vT2mLw8RzA7bNc4YdF6gHj1KsE";
const COOKIE: &str =
    "Xk3pQ9vT2mLw8RzA7bNc4YdF6gHj1KsE.WD%2BEGdLJD%2By8sUDBNsS5imO4ehrFdFcdV2nw3xrv5ms%3D";
const SIG: &str = "WD+EGdLJD+y8sUDBNsS5imO4ehrFdFcdV2nw3xrv5ms=";
const DOTTED_COOKIE: &str = "a.b.c.6eDidfhcneue6a%2FqHN9awpKeW07Mcn5LKVjaeXb2arg%3D";
const KEY: &str = "sk_live_key1";
const T: &str = "2026-05-28T12:00:00Z";

fn h(token: &str) -> String {
    TokenHash::of(token).to_string()
}

fn snapshot() -> Snapshot {
    serde_json::from_value(json!({
        "tenants": [{"id": "acme"}, {"id": "beta"}],
        "users": [{"id": "alice"}, {"id": "bob"}],
        "memberships": [
            {"user": "alice", "tenant": "acme", "role": "owner"},
            {"user": "bob", "tenant": "beta", "role": "member"}
        ],
        "api_keys": [{"id": "key_1", "owner": "alice", "tenant": "acme",
                      "token_sha256": h(KEY), "prefix": "sk_live_", "created_at": "2026-01-01T00:00:00Z"}],
        "sessions": [
            {"id": "ses_ba", "user": "alice", "tenant": "acme", "token_sha256": h(TOKEN),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-06-30T00:00:00Z"},
            {"id": "ses_dot", "user": "bob", "tenant": "beta", "token_sha256": h("a.b.c"),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-06-30T00:00:00Z"},
            // A session whose token is the whole signed value: found only
            // when the value is hashed verbatim (plain).
            {"id": "ses_whole", "user": "bob", "tenant": "beta", "token_sha256": h(&format!("{TOKEN}.{SIG}")),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-06-30T00:00:00Z"}
        ]
    }))
    .expect("fixture snapshot")
}

/// Session-token values: real, decoded, quoted, raw, forged, misshapen,
/// badly encoded, doubly encoded, dotted, empty.
fn session_values() -> Vec<String> {
    let other = CookieSecret::new("wrong-secret").unwrap();
    vec![
        COOKIE.to_string(),
        format!("{TOKEN}.{SIG}"),
        format!("\"{COOKIE}\""),
        TOKEN.to_string(),
        authproof_engine::signed::cookie_value(&other, TOKEN),
        format!("{TOKEN}.{}=", "A".repeat(43)),
        format!("{TOKEN}.{}B=", &SIG[..42]),
        format!("{TOKEN}.short"),
        format!(".{SIG}"),
        format!("{TOKEN}%zz.{SIG}"),
        format!("{TOKEN}%20.{SIG}"),
        COOKIE.replace('%', "%25"),
        DOTTED_COOKIE.to_string(),
        "a.b.c".to_string(),
        String::new(),
    ]
}

fn policies() -> Vec<(String, Policy)> {
    let orders = [
        Candidate::DEFAULT_ORDER,
        [
            Candidate::ApiKeyHeader,
            Candidate::Authorization,
            Candidate::Cookie,
        ],
        [
            Candidate::Authorization,
            Candidate::Cookie,
            Candidate::ApiKeyHeader,
        ],
        [
            Candidate::Cookie,
            Candidate::ApiKeyHeader,
            Candidate::Authorization,
        ],
    ];
    let secrets = [
        None,
        Some(CookieSecret::new(SECRET).unwrap()),
        Some(CookieSecret::new("wrong-secret").unwrap()),
    ];
    let mut out = Vec::new();
    for format in [CookieFormat::Plain, CookieFormat::Signed] {
        for (si, secret) in secrets.iter().enumerate() {
            for order in orders {
                for multiple in [Multiple::First, Multiple::Deny] {
                    for bearer in [true, false] {
                        let mut p = Policy::default();
                        p.session.cookie_format = format;
                        p.session.bearer = bearer;
                        p.credentials.order = order.to_vec();
                        p.credentials.multiple = multiple;
                        let p = p.with_cookie_secret(secret.clone());
                        let label = format!(
                            "{} secret#{si} {order:?} {multiple:?} bearer={bearer}",
                            format.as_str()
                        );
                        out.push((label, p));
                    }
                }
            }
        }
    }
    // The shipped better-auth policy, with and without the secret.
    let text = include_str!("../../policies/better-auth.toml");
    let ba = load::policy(text, "policies/better-auth.toml").unwrap();
    out.push(("better-auth.toml".into(), ba.clone()));
    out.push((
        "better-auth.toml + secret".into(),
        ba.with_cookie_secret(Some(CookieSecret::new(SECRET).unwrap())),
    ));
    out
}

fn auth(headers: Value) -> Command {
    Command::from_value(
        json!({"at": T, "op": "authenticate", "action": "session.read", "headers": headers}),
    )
    .expect("command")
}

fn steps() -> Vec<Command> {
    let values = session_values();
    let mut cookies: Vec<Option<String>> = vec![None];
    cookies.extend(
        values
            .iter()
            .map(|v| Some(format!("theme=dark; better-auth.session_token={v}"))),
    );
    let mut bearers: Vec<Option<String>> =
        vec![None, Some("Basic x".into()), Some(format!("Bearer {KEY}"))];
    bearers.extend(
        values
            .iter()
            .filter(|v| !v.is_empty())
            .map(|v| Some(format!("Bearer {v}"))),
    );
    let mut out = Vec::new();
    for key in [None, Some(KEY), Some("")] {
        for cookie in &cookies {
            for bearer in &bearers {
                let mut headers = serde_json::Map::new();
                if let Some(k) = key {
                    headers.insert("x-api-key".into(), json!(k));
                }
                if let Some(c) = cookie {
                    headers.insert("cookie".into(), json!(c));
                }
                if let Some(b) = bearer {
                    headers.insert("authorization".into(), json!(b));
                }
                out.push(auth(Value::Object(headers)));
            }
        }
    }
    out
}

#[test]
fn engine_and_model_agree_on_signed_tokens_and_orders() {
    let snapshot = snapshot();
    let steps = steps();
    let mut allows = 0;
    let mut denies = 0;
    for (label, policy) in policies() {
        let run = lockstep::run(&policy, &snapshot, &steps).expect("harness");
        if let Some((step, v)) = run.first_violation() {
            panic!("{label}: step {step:?}: {v:?}");
        }
        assert_eq!(run.steps.len(), steps.len(), "{label}");
        for s in &run.steps {
            if let CommandResult::Decision { decision, .. } = &s.result {
                if decision.is_allow() {
                    allows += 1;
                } else {
                    denies += 1;
                }
            }
        }
    }
    assert!(
        allows > 1000 && denies > 1000,
        "{allows} allows, {denies} denies"
    );
}

/// The cases where signed and plain must differ, stated outright (so a model
/// and engine that agreed by both ignoring the setting would fail here).
#[test]
fn signed_and_plain_differ_where_the_spec_says() {
    let snapshot = snapshot();
    let cookie = |v: &str| auth(json!({"cookie": format!("better-auth.session_token={v}")}));
    let outcome = |policy: &Policy, cmd: Command| -> String {
        let run = lockstep::run(policy, &snapshot, &[cmd]).unwrap();
        assert!(run.held(), "{:?}", run.first_violation());
        match &run.steps[0].model {
            CommandResult::Decision { decision, .. } => {
                match (&decision.credential, decision.reason) {
                    (Some(c), None) => format!("allow {}", c.id),
                    (_, Some(r)) => r.code().to_string(),
                    _ => unreachable!(),
                }
            }
            other => panic!("{other:?}"),
        }
    };
    let plain = Policy::default();
    let mut signed = Policy::default();
    signed.session.cookie_format = CookieFormat::Signed;
    let keyed = signed
        .clone()
        .with_cookie_secret(Some(CookieSecret::new(SECRET).unwrap()));
    let wrong = signed
        .clone()
        .with_cookie_secret(Some(CookieSecret::new("x").unwrap()));
    assert_eq!(outcome(&plain, cookie(COOKIE)), "session_not_found");
    assert_eq!(
        outcome(&plain, cookie(&format!("{TOKEN}.{SIG}"))),
        "allow ses_whole"
    );
    assert_eq!(outcome(&signed, cookie(COOKIE)), "allow ses_ba");
    assert_eq!(outcome(&keyed, cookie(COOKIE)), "allow ses_ba");
    assert_eq!(outcome(&wrong, cookie(COOKIE)), "malformed_credential");
    assert_eq!(outcome(&signed, cookie(TOKEN)), "malformed_credential");
    assert_eq!(outcome(&plain, cookie(TOKEN)), "allow ses_ba");
    assert_eq!(outcome(&keyed, cookie(DOTTED_COOKIE)), "allow ses_dot");
    let bearer = |v: &str| auth(json!({"authorization": format!("Bearer {v}")}));
    assert_eq!(outcome(&keyed, bearer(TOKEN)), "allow ses_ba");
    assert_eq!(outcome(&keyed, bearer(COOKIE)), "allow ses_ba");
    assert_eq!(outcome(&wrong, bearer(TOKEN)), "allow ses_ba");
    assert_eq!(outcome(&wrong, bearer(COOKIE)), "malformed_credential");
    // Order: Authorization before the cookie.
    let mut ba = keyed.clone();
    ba.credentials.order = vec![
        Candidate::ApiKeyHeader,
        Candidate::Authorization,
        Candidate::Cookie,
    ];
    let both = auth(
        json!({"authorization": "Bearer a.b.c.6eDidfhcneue6a/qHN9awpKeW07Mcn5LKVjaeXb2arg=",
                           "cookie": format!("better-auth.session_token={COOKIE}")}),
    );
    assert_eq!(outcome(&ba, both.clone()), "allow ses_dot");
    assert_eq!(outcome(&keyed, both), "allow ses_ba");
}
