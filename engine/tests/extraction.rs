//! SPEC §5 credential extraction, observed through decisions: which record
//! (if any) a presented token resolves to. A token matches only when the
//! SHA-256 of its exact bytes is the record's `token_sha256`.

use crate::common;

use authproof_engine::{load, Policy};
use common::*;
use serde_json::{json, Value};

/// `ses_2` (alice, acme) with a second token, for cookie-order tests.
const OTHER_SESSION: &str = "ses-two";

fn state() -> authproof_engine::State {
    Snap::base()
        .push(
            "sessions",
            session("ses_2", "alice", Some("acme"), OTHER_SESSION),
        )
        .state()
}

fn read() -> Req {
    req("workspace.read")
}

/// Asserts the decision allowed and identified this credential.
#[track_caller]
fn resolves(d: &Value, kind: &str, id: &str) {
    assert_eq!(d["decision"], "allow", "{d:#}");
    assert_eq!(d["credential"], json!({"kind": kind, "id": id}), "{d:#}");
}

#[track_caller]
fn malformed(p: &Policy, r: &Req) {
    let d = decide_with(&state(), p, r);
    assert_deny(&d, "malformed_credential");
    assert_who(&d, None, None);
}

// ---- verbatim tokens ----------------------------------------------------------

#[test]
fn tokens_with_slash_plus_equals_percent_match_verbatim() {
    let st = state();
    assert!(KEY_TOKEN.contains("/+=%2F") && SESSION_TOKEN.contains("+1=%3D"));
    resolves(&decide(&st, &read().key(KEY_TOKEN)), "api_key", "key_1");
    resolves(&decide(&st, &read().bearer(KEY_TOKEN)), "api_key", "key_1");
    resolves(
        &decide(&st, &read().cookie(SESSION_TOKEN)),
        "session",
        "ses_1",
    );
    resolves(
        &decide(&st, &read().bearer(SESSION_TOKEN)),
        "session",
        "ses_1",
    );
}

#[test]
fn percent_decoding_never_happens() {
    // Records hold the hash of the *decoded* spelling; presenting the encoded
    // spelling must not find them (and the other way round).
    let st = Snap::base()
        .push(
            "api_keys",
            key("key_dec", "alice", Some("acme"), "sk_live_a/b"),
        )
        .push(
            "sessions",
            session("ses_dec", "alice", Some("acme"), "s/t u"),
        )
        .push(
            "sessions",
            session("ses_plus", "alice", Some("acme"), "p+q"),
        )
        .state();
    assert_deny(
        &decide(&st, &read().key("sk_live_a%2Fb")),
        "api_key_not_found",
    );
    assert_deny(
        &decide(&st, &read().bearer("sk_live_a%2Fb")),
        "api_key_not_found",
    );
    assert_deny(
        &decide(&st, &read().cookie("s%2Ft%20u")),
        "session_not_found",
    );
    // `+` is not a space and is not re-encoded.
    resolves(&decide(&st, &read().cookie("p+q")), "session", "ses_plus");
    assert_deny(&decide(&st, &read().cookie("p%2Bq")), "session_not_found");
    // The hash is of the exact bytes: sha256 of the encoded form differs.
    assert_ne!(sha("sk_live_a%2Fb"), sha("sk_live_a/b"));
}

#[test]
fn cookie_value_keeps_inner_equals_signs() {
    // Split at the first `=` only.
    let st = Snap::base()
        .push("sessions", session("ses_eq", "alice", None, "a==b="))
        .state();
    let d = decide(
        &st,
        &req("session.read").header("cookie", "better-auth.session_token=a==b="),
    );
    resolves(&d, "session", "ses_eq");
}

// ---- cookies ------------------------------------------------------------------------

#[test]
fn cookie_name_order_is_the_policy_order_not_the_header_order() {
    let st = state();
    let header = format!(
        "theme=dark; better-auth.session_token={OTHER_SESSION}; __Secure-better-auth.session_token={SESSION_TOKEN}"
    );
    let r = read().header("cookie", &header);
    resolves(&decide(&st, &r), "session", "ses_1");
    // Reversing the policy's list reverses the winner.
    let p = policy(
        "[session]\ncookies = [\"better-auth.session_token\", \"__Secure-better-auth.session_token\"]\n",
    );
    resolves(&decide_with(&st, &p, &r), "session", "ses_2");
    // The third default name is looked up too.
    let r = read().header(
        "cookie",
        &format!("__Host-better-auth.session_token={SESSION_TOKEN}"),
    );
    resolves(&decide(&st, &r), "session", "ses_1");
}

#[test]
fn first_occurrence_of_the_winning_name_and_trimmed_pairs() {
    let st = state();
    let header = format!(
        "junk;  better-auth.session_token={SESSION_TOKEN} ;better-auth.session_token={OTHER_SESSION}"
    );
    resolves(
        &decide(&st, &read().header("cookie", &header)),
        "session",
        "ses_1",
    );
}

#[test]
fn cookie_names_are_case_sensitive() {
    let r = read().header(
        "cookie",
        &format!("Better-Auth.Session_Token={SESSION_TOKEN}"),
    );
    assert_deny(&decide(&state(), &r), "no_credential");
}

#[test]
fn one_pair_of_quotes_is_removed() {
    let st = state();
    let c = |v: &str| read().header("cookie", &format!("better-auth.session_token={v}"));
    resolves(
        &decide(&st, &c(&format!("\"{SESSION_TOKEN}\""))),
        "session",
        "ses_1",
    );
    let p = Policy::default();
    for bad in [
        format!("\"\"{SESSION_TOKEN}\"\""), // only one pair goes
        format!("\"{SESSION_TOKEN}"),       // unbalanced
        format!("{SESSION_TOKEN}\""),
        "\"".to_string(),   // a lone quote is not a pair
        "\"\"".to_string(), // empty after unquoting
        String::new(),
    ] {
        malformed(&p, &c(&bad));
    }
}

#[test]
fn invalid_token_characters_are_malformed() {
    let p = Policy::default();
    for bad in ["a,b", "a\\b", "caf\u{e9}", "a\u{7f}"] {
        malformed(&p, &read().cookie(bad));
        malformed(&p, &read().key(bad));
    }
    // A space inside the API-key header value is not trimmed away.
    malformed(&p, &read().key(&format!("{KEY_TOKEN} ")));
    malformed(&p, &read().key(&format!(" {KEY_TOKEN}")));
}

// ---- Authorization: Bearer --------------------------------------------------------

#[test]
fn bearer_scheme_is_case_insensitive_with_any_number_of_spaces() {
    let st = state();
    for v in [
        format!("Bearer {SESSION_TOKEN}"),
        format!("bearer {SESSION_TOKEN}"),
        format!("BEARER     {SESSION_TOKEN}"),
        format!("bEaReR  {SESSION_TOKEN}   "),
    ] {
        let d = decide(&st, &read().header("authorization", &v));
        resolves(&d, "session", "ses_1");
    }
}

#[test]
fn other_authorization_shapes_are_malformed() {
    let p = Policy::default();
    for v in [
        "Basic YWxpY2U6cHc=".to_string(),
        "Bearer".to_string(),
        "Bearer    ".to_string(),
        format!("Bearer\t{SESSION_TOKEN}"),
        format!("Bearer:{SESSION_TOKEN}"),
        format!("Token {SESSION_TOKEN}"),
        format!("Bearer {SESSION_TOKEN} extra"),
        format!(" Bearer {SESSION_TOKEN}"),
        String::new(),
    ] {
        malformed(&p, &read().header("authorization", &v));
    }
}

#[test]
fn bearer_prefix_routes_api_keys_and_sessions() {
    let st = state();
    // With the prefix: an API key, looked up among keys only.
    let d = decide(&st, &read().bearer("sk_live_unknown"));
    assert_deny(&d, "api_key_not_found");
    // Without: a session token.
    assert_deny(&decide(&st, &read().bearer("unknown")), "session_not_found");
    // Other prefixes: alice's key no longer looks like an API key.
    let p = policy("[api_key]\nprefixes = [\"ak_\", \"sk_\"]\n");
    resolves(
        &decide_with(&st, &p, &read().bearer(KEY_TOKEN)),
        "api_key",
        "key_1",
    );
    let p = policy("[api_key]\nprefixes = [\"ak_\"]\n");
    assert_deny(
        &decide_with(&st, &p, &read().bearer(KEY_TOKEN)),
        "session_not_found",
    );
}

#[test]
fn api_key_header_needs_no_prefix() {
    let st = Snap::base()
        .push(
            "api_keys",
            key("key_plain", "alice", Some("acme"), "plainkey"),
        )
        .state();
    resolves(
        &decide(&st, &read().key("plainkey")),
        "api_key",
        "key_plain",
    );
    // The same token as Bearer is taken for a session token.
    assert_deny(
        &decide(&st, &read().bearer("plainkey")),
        "session_not_found",
    );
}

#[test]
fn bearer_kinds_the_policy_refuses_are_malformed() {
    let no_key_bearer = policy("[api_key]\nbearer = false\n");
    malformed(&no_key_bearer, &read().bearer(KEY_TOKEN));
    // Other channels still work, and session Bearer is unaffected.
    resolves(
        &decide_with(&state(), &no_key_bearer, &read().key(KEY_TOKEN)),
        "api_key",
        "key_1",
    );
    resolves(
        &decide_with(&state(), &no_key_bearer, &read().bearer(SESSION_TOKEN)),
        "session",
        "ses_1",
    );

    let no_session_bearer = policy("[session]\nbearer = false\n");
    malformed(&no_session_bearer, &read().bearer(SESSION_TOKEN));
    resolves(
        &decide_with(&state(), &no_session_bearer, &read().cookie(SESSION_TOKEN)),
        "session",
        "ses_1",
    );
    resolves(
        &decide_with(&state(), &no_session_bearer, &read().bearer(KEY_TOKEN)),
        "api_key",
        "key_1",
    );
}

// ---- several candidates -------------------------------------------------------------

#[test]
fn first_present_candidate_wins_in_spec_order() {
    let st = state();
    // Header order in the request does not matter: API-key header first.
    let r = read()
        .bearer(OTHER_SESSION)
        .cookie(SESSION_TOKEN)
        .key(KEY_TOKEN);
    resolves(&decide(&st, &r), "api_key", "key_1");
    // Then the cookie, then Authorization.
    let r = read().bearer(OTHER_SESSION).cookie(SESSION_TOKEN);
    resolves(&decide(&st, &r), "session", "ses_1");
    // A cookie header without a session cookie is not a candidate.
    let r = read().bearer(OTHER_SESSION).header("cookie", "theme=dark");
    resolves(&decide(&st, &r), "session", "ses_2");
}

#[test]
fn no_fallback_from_an_unusable_first_candidate() {
    let st = state();
    let p = Policy::default();
    malformed(&p, &read().key("").cookie(SESSION_TOKEN));
    malformed(&p, &read().key("bad token").bearer(SESSION_TOKEN));
    malformed(&p, &read().cookie("bad,token").bearer(SESSION_TOKEN));
    malformed(&p, &read().cookie("\"\"").bearer(SESSION_TOKEN));
    // A usable but unknown first candidate: its own reason, no fallback.
    assert_deny(
        &decide(&st, &read().key("sk_live_nope").cookie(SESSION_TOKEN)),
        "api_key_not_found",
    );
    assert_deny(
        &decide(&st, &read().cookie("nope").bearer(KEY_TOKEN)),
        "session_not_found",
    );
}

#[test]
fn multiple_deny_counts_present_candidates() {
    let p = policy("[credentials]\nmultiple = \"deny\"\n");
    let st = state();
    for r in [
        read().key(KEY_TOKEN).cookie(SESSION_TOKEN),
        read().key(KEY_TOKEN).bearer(KEY_TOKEN),
        read().cookie(SESSION_TOKEN).bearer(SESSION_TOKEN),
        read().key("").header("authorization", "Basic x"), // present, even unusable
        read()
            .key(KEY_TOKEN)
            .cookie(SESSION_TOKEN)
            .bearer(OTHER_SESSION),
    ] {
        let d = decide_with(&st, &p, &r);
        assert_deny(&d, "ambiguous_credential");
        assert_who(&d, None, None);
    }
    // One candidate is fine; a cookie header without a session cookie is no
    // candidate.
    resolves(
        &decide_with(&st, &p, &read().key(KEY_TOKEN)),
        "api_key",
        "key_1",
    );
    let r = read().bearer(SESSION_TOKEN).header("cookie", "theme=dark");
    resolves(&decide_with(&st, &p, &r), "session", "ses_1");
}

// ---- header names ----------------------------------------------------------------------

#[test]
fn header_names_match_case_insensitively() {
    let st = state();
    resolves(
        &decide(&st, &read().header("X-API-KEY", KEY_TOKEN)),
        "api_key",
        "key_1",
    );
    let r = read().header(
        "COOKIE",
        &format!("better-auth.session_token={SESSION_TOKEN}"),
    );
    resolves(&decide(&st, &r), "session", "ses_1");
    let r = read().header("Authorization", &format!("Bearer {SESSION_TOKEN}"));
    resolves(&decide(&st, &r), "session", "ses_1");
    // A configured header name is matched case-insensitively too.
    let p = policy("[api_key]\nheader = \"X-Auth-Token\"\n");
    resolves(
        &decide_with(&st, &p, &read().header("x-auth-token", KEY_TOKEN)),
        "api_key",
        "key_1",
    );
    // ... and the default header is then no credential at all.
    assert_deny(
        &decide_with(&st, &p, &read().key(KEY_TOKEN)),
        "no_credential",
    );
}

#[test]
fn duplicate_header_names_differing_in_case_are_an_input_error() {
    let body = format!(
        r#"{{"at": "{AT}", "action": "workspace.read",
             "headers": {{"X-Api-Key": "{KEY_TOKEN}", "x-api-key": "sk_live_other"}}}}"#
    );
    let e = load::request(body.as_bytes(), "req.json").unwrap_err();
    assert_eq!(e.file().unwrap(), "req.json");
    assert!(e.path().unwrap().starts_with("$.headers"), "{e}");
    assert!(
        !e.to_string().contains(KEY_TOKEN),
        "no token in errors: {e}"
    );
    // The same inside an authenticate command.
    let line = format!(
        r#"{{"at": "{AT}", "op": "authenticate", "action": "workspace.read", "headers": {{"Cookie": "a=b", "COOKIE": "c=d"}}}}"#
    );
    let e = load::commands_jsonl(line.as_bytes(), "cmds.jsonl").unwrap_err();
    assert_eq!((e.file().unwrap(), e.line()), ("cmds.jsonl", Some(1)));
    assert!(e.path().unwrap().starts_with("$.headers"), "{e}");
}
