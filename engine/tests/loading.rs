//! SPEC §1/§2/§3 input errors: each names the file and the JSON path (or TOML
//! key) and says what was expected, and never echoes a string value (it may
//! be a secret pasted into the wrong field).

use crate::common;

use authproof_engine::{load, Error};
use common::*;
use serde_json::{json, Value};

const FILE: &str = "snapshot.json";

fn load_err(s: &Snap) -> Error {
    match load::snapshot(&s.bytes(), FILE) {
        Ok(_) => panic!("snapshot should not load: {:#}", s.0),
        Err(e) => e,
    }
}

/// Asserts the snapshot fails at exactly `path`, with a message, and that
/// the rendered error names the file and the path.
#[track_caller]
fn fails_at(s: Snap, path: &str) -> Error {
    let e = load_err(&s);
    assert_eq!(e.file().unwrap(), FILE);
    assert_eq!(e.path().unwrap(), path, "{e}");
    assert!(!e.message().is_empty());
    let text = e.to_string();
    assert!(text.contains(FILE) && text.contains(path), "{text}");
    e
}

fn policy_err(text: &str) -> Error {
    match load::policy(text, "policy.toml") {
        Ok(p) => panic!("policy should not load: {p:?}"),
        Err(e) => e,
    }
}

// ---- format ------------------------------------------------------------------------

#[test]
fn not_json() {
    for bytes in [
        &b"{not json"[..],
        b"",
        b"{\"tenants\": []} trailing",
        b"{\"tenants\": {}}",
    ] {
        let e = load::snapshot(bytes, FILE).unwrap_err();
        assert_eq!(e.file().unwrap(), FILE);
        assert!(e.path().unwrap().starts_with('$'), "{e}");
        assert!(e.to_string().starts_with(FILE), "{e}");
    }
    let e = load::request(b"at: now", "request.json").unwrap_err();
    assert_eq!(e.file().unwrap(), "request.json");
}

#[test]
fn unknown_fields_at_several_depths() {
    let cases = [
        (Snap::base().with_top("colour", json!(1)), "$", "colour"),
        (
            Snap::base().edit("tenants", "acme", json!({"plan": "pro"})),
            "$.tenants[0]",
            "plan",
        ),
        (
            Snap::base().edit("api_keys", "key_1", json!({"organizationId": "acme"})),
            "$.api_keys[0]",
            "organizationId",
        ),
        (
            Snap::base().edit("sessions", "ses_1", json!({"ip": null})),
            "$.sessions[0]",
            "ip",
        ),
    ];
    for (s, path, field) in cases {
        let e = load_err(&s);
        assert!(e.path().unwrap().starts_with(path), "{path}: {e}");
        assert!(
            e.message().contains(field) || e.path().unwrap().contains(field),
            "{e}"
        );
    }
    let e = load::request(
        format!(r#"{{"at": "{AT}", "action": "x", "tenantId": "acme"}}"#).as_bytes(),
        "request.json",
    )
    .unwrap_err();
    assert!(
        e.message().contains("tenantId") || e.path().unwrap().contains("tenantId"),
        "{e}"
    );
    let e = load::commands_jsonl(
        format!(
            "\n{{\"at\": \"{AT}\", \"op\": \"create_user\", \"user\": \"u\", \"role\": \"x\"}}\n"
        )
        .as_bytes(),
        "commands.jsonl",
    )
    .unwrap_err();
    assert_eq!(e.line(), Some(2), "line numbers count empty lines");
    assert!(e.to_string().starts_with("commands.jsonl:2:"), "{e}");
    assert!(e.message().contains("role"), "{e}");
}

#[test]
fn bad_token_sha256() {
    let upper = sha(KEY_TOKEN).to_uppercase();
    let short = sha(KEY_TOKEN)[..63].to_string();
    let long = format!("{}0", sha(KEY_TOKEN));
    for bad in [upper, short, long, "g".repeat(64)] {
        fails_at(
            Snap::base().edit("api_keys", "key_1", json!({"token_sha256": bad})),
            "$.api_keys[0].token_sha256",
        );
        fails_at(
            Snap::base().edit("sessions", "ses_1", json!({"token_sha256": bad})),
            "$.sessions[0].token_sha256",
        );
    }
}

#[test]
fn dangling_references() {
    let cases = [
        (
            Snap::base().member("carol", "acme", "x"),
            "$.memberships[3].user",
        ),
        (
            Snap::base().member("bob", "gamma", "x"),
            "$.memberships[3].tenant",
        ),
        (
            Snap::base().edit("api_keys", "key_1", json!({"owner": "carol"})),
            "$.api_keys[0].owner",
        ),
        (
            Snap::base().edit("api_keys", "key_1", json!({"tenant": "gamma"})),
            "$.api_keys[0].tenant",
        ),
        (
            Snap::base().edit("sessions", "ses_1", json!({"user": "carol"})),
            "$.sessions[0].user",
        ),
        (
            Snap::base().edit("sessions", "ses_1", json!({"tenant": "gamma"})),
            "$.sessions[0].tenant",
        ),
        (
            Snap::base().resource("gamma", "r", "alice"),
            "$.resources[0].tenant",
        ),
        (
            Snap::base().resource("acme", "r", "carol"),
            "$.resources[0].owner",
        ),
    ];
    for (s, path) in cases {
        let e = fails_at(s, path);
        assert!(
            e.message().contains("dangling") || e.message().contains("resolve"),
            "{e}"
        );
    }
}

#[test]
fn duplicate_ids_in_each_collection() {
    let cases = [
        (Snap::base().tenant("acme"), "$.tenants[2].id"),
        (Snap::base().user("bob"), "$.users[2].id"),
        (
            Snap::base().push("api_keys", key("key_1", "bob", Some("beta"), "sk_live_b")),
            "$.api_keys[1].id",
        ),
        (
            Snap::base().push("sessions", session("ses_1", "bob", None, "ses-b")),
            "$.sessions[1].id",
        ),
    ];
    for (s, path) in cases {
        let e = fails_at(s, path);
        assert!(e.message().contains("duplicate"), "{e}");
    }
}

#[test]
fn duplicate_membership_and_resource() {
    let e = fails_at(
        Snap::base().member("bob", "beta", "admin"),
        "$.memberships[3]",
    );
    assert!(e.message().contains("duplicate"), "{e}");
    let s = Snap::base()
        .resource("acme", "conv_1", "alice")
        .resource("acme", "conv_1", "bob");
    fails_at(s, "$.resources[1]");
    // The same id in two tenants is two resources.
    Snap::base()
        .resource("acme", "default", "alice")
        .resource("beta", "default", "bob")
        .state();
}

#[test]
fn duplicate_token_across_keys_and_sessions() {
    let cases = [
        (
            Snap::base().push("sessions", session("ses_k", "bob", None, KEY_TOKEN)),
            "$.sessions[1].token_sha256",
        ),
        (
            Snap::base().push("api_keys", key("key_2", "bob", Some("beta"), KEY_TOKEN)),
            "$.api_keys[1].token_sha256",
        ),
        (
            Snap::base().push("sessions", session("ses_2", "bob", None, SESSION_TOKEN)),
            "$.sessions[1].token_sha256",
        ),
    ];
    for (s, path) in cases {
        let e = fails_at(s, path);
        assert!(
            e.message().contains("unique") || e.message().contains("already"),
            "{e}"
        );
    }
}

#[test]
fn session_created_after_it_expires() {
    let s = Snap::base().edit(
        "sessions",
        "ses_1",
        json!({"created_at": "2026-06-01T00:00:00Z", "expires_at": "2026-05-31T23:59:59Z"}),
    );
    let e = load_err(&s);
    assert!(e.path().unwrap().starts_with("$.sessions[0]"), "{e}");
    // Equal is allowed (an already expired session).
    Snap::base()
        .edit(
            "sessions",
            "ses_1",
            json!({"created_at": AT, "expires_at": AT}),
        )
        .state();
}

#[test]
fn missing_required_fields() {
    let mut s = Snap::base();
    s.0["sessions"][0]
        .as_object_mut()
        .unwrap()
        .remove("expires_at");
    let e = load_err(&s);
    assert!(e.path().unwrap().starts_with("$.sessions[0]"), "{e}");
    assert!(e.message().contains("expires_at"), "{e}");
    let mut s = Snap::base();
    s.0["api_keys"][0]
        .as_object_mut()
        .unwrap()
        .remove("created_at");
    assert!(load_err(&s).message().contains("created_at"));
}

#[test]
fn bad_ids() {
    fails_at(Snap::base().tenant(""), "$.tenants[2].id");
    fails_at(Snap::base().user(&"u".repeat(129)), "$.users[2].id");
    fails_at(Snap::base().user("a\nb"), "$.users[2].id");
}

#[test]
fn bad_timestamps() {
    for bad in [
        "2026-13-01T00:00:00Z",
        "2026-05-28",
        "yesterday",
        "2026-05-28T25:00:00Z",
        "",
    ] {
        fails_at(
            Snap::base().edit("api_keys", "key_1", json!({"expires_at": bad})),
            "$.api_keys[0].expires_at",
        );
    }
    fails_at(
        Snap::base().edit("sessions", "ses_1", json!({"created_at": 1779969600})),
        "$.sessions[0].created_at",
    );
    let e = load::request(br#"{"at": "soon", "action": "x"}"#, "request.json").unwrap_err();
    assert_eq!(
        (e.file().unwrap(), e.path().unwrap()),
        ("request.json", "$.at")
    );
}

#[test]
fn accepted_timestamp_forms() {
    // Offsets convert to UTC and fractions floor; output is Z and whole seconds.
    let s = Snap::base().edit(
        "sessions",
        "ses_1",
        json!({"expires_at": "2026-05-31T02:00:00.999+02:00"}),
    );
    assert_eq!(
        record(&s.state(), "sessions", "ses_1")["expires_at"],
        "2026-05-31T00:00:00Z"
    );
}

// ---- policy --------------------------------------------------------------------------

#[test]
fn bad_durations() {
    for bad in ["\"1w\"", "\"-1d\"", "\"1.5h\"", "\"d\"", "-5", "true"] {
        let e = policy_err(&format!("[session]\nttl = {bad}\n"));
        assert_eq!(e.file().unwrap(), "policy.toml");
        assert!(e.path().unwrap().contains("ttl"), "{bad}: {e}");
    }
    let e = policy_err("[session]\nabsolute_max = \"90 d\"\n");
    assert!(e.path().unwrap().contains("absolute_max"), "{e}");
}

#[test]
fn unknown_policy_keys() {
    for (text, key) in [
        ("colour = 1\n", "colour"),
        ("[session]\nttll = \"1d\"\n", "ttll"),
        ("[api_key]\nheaders = \"x\"\n", "headers"),
        ("[actions.\"x.y\"]\nrole = [\"owner\"]\n", "role"),
        ("[sessions]\nttl = \"1d\"\n", "sessions"),
    ] {
        let e = policy_err(text);
        assert_eq!(e.file().unwrap(), "policy.toml");
        assert!(
            e.message().contains(key) || e.path().unwrap().contains(key),
            "{text}: {e}"
        );
    }
}

#[test]
fn bad_policy_values() {
    for (text, key) in [
        ("[api_key]\nunbound = \"newest\"\n", "unbound"),
        ("[credentials]\nmultiple = \"all\"\n", "multiple"),
        ("[actions.\"x\"]\ntenant = \"maybe\"\n", "tenant"),
        (
            "[actions.\"x\"]\ncredentials = [\"cookie\"]\n",
            "credentials",
        ),
    ] {
        let e = policy_err(text);
        assert!(e.path().unwrap().contains(key), "{text}: {e}");
    }
}

#[test]
fn wrong_policy_version() {
    for text in ["version = 2\n", "version = 0\n", "version = \"1\"\n"] {
        let e = policy_err(text);
        assert_eq!(e.path().unwrap(), "version", "{e}");
    }
    assert_eq!(policy("version = 1\n"), authproof_engine::Policy::default());
    assert_eq!(policy(""), authproof_engine::Policy::default());
}

// ---- JSON Lines ---------------------------------------------------------------------

#[test]
fn requests_jsonl_names_the_line() {
    let text = format!(
        "{{\"at\": \"{AT}\", \"action\": \"a\"}}\n\n{{\"at\": \"{AT}\", \"action\": \"a\", \"headers\": {{\"A\": \"1\", \"a\": \"2\"}}}}\n"
    );
    let e = load::requests_jsonl(text.as_bytes(), "requests.jsonl").unwrap_err();
    assert_eq!((e.file().unwrap(), e.line()), ("requests.jsonl", Some(3)));
    assert!(e.path().unwrap().starts_with("$.headers"), "{e}");
    let ok = format!(
        "{{\"at\": \"{AT}\", \"action\": \"a\"}}\n\n  \n{{\"at\": \"{AT}\", \"action\": \"b\"}}"
    );
    assert_eq!(
        load::requests_jsonl(ok.as_bytes(), "r.jsonl")
            .unwrap()
            .len(),
        2
    );
}

// ---- no secrets in errors ----------------------------------------------------------

const SECRET: &str = "sk_live_S3cr3tV4lu3/+=";

/// Asserts the error neither prints nor debug-prints the secret.
#[track_caller]
fn no_secret(e: &Error) {
    assert!(!e.to_string().contains("S3cr3t"), "leaks the value: {e}");
    assert!(
        !format!("{e:?}").contains("S3cr3t"),
        "leaks the value: {e:?}"
    );
}

#[test]
fn errors_never_echo_string_values() {
    // A token pasted into every kind of typed field of a snapshot.
    let s = json!(SECRET);
    let snaps = [
        Snap::base().edit("api_keys", "key_1", json!({"expires_at": s})),
        Snap::base().edit("api_keys", "key_1", json!({"token_sha256": s})),
        Snap::base().edit("api_keys", "key_1", json!({"enabled": s})),
        Snap::base().edit("api_keys", "key_1", json!({"capabilities": s})),
        Snap::base().edit("tenants", "acme", json!({"suspended": s})),
        Snap::base().edit("sessions", "ses_1", json!({"created_at": s})),
        Snap::base().edit("sessions", "ses_1", json!({"user": format!("{SECRET}\n")})),
        Snap::base().user(&SECRET.repeat(10)),
        Snap::base().with_top("tenants", s.clone()),
        // Escaped quotes inside the value do not end the redaction early.
        Snap::base().edit(
            "users",
            "bob",
            json!({"banned": format!("x\\\"y\" {SECRET}")}),
        ),
    ];
    for snap in snaps {
        no_secret(&load_err(&snap));
    }
    // In a request and in commands.
    for body in [
        json!({"at": SECRET, "action": "x"}),
        json!({"at": AT, "action": "x", "headers": SECRET}),
        json!({"at": AT, "action": "x", "tenant": format!("{SECRET}\u{1}")}),
        json!({"at": AT, "action": "x", "headers": {"x-api-key": [SECRET]}}),
    ] {
        no_secret(&load::request(body.to_string().as_bytes(), "request.json").unwrap_err());
    }
    for line in [
        json!({"at": SECRET, "op": "create_user", "user": "u"}),
        json!({"at": AT, "op": SECRET}),
        json!({"at": AT, "op": "update_api_key", "key": "k", "enabled": SECRET}),
        json!({"at": AT, "op": "mint_api_key", "key": "k", "owner": "o", "tenant": "t",
               "token": SECRET, "expires_at": SECRET}),
        json!({"at": AT, "op": "login", "session": "s", "user": "u", "token": [SECRET]}),
    ] {
        no_secret(&load::commands_jsonl(line.to_string().as_bytes(), "c.jsonl").unwrap_err());
    }
    // A policy value.
    for text in [
        format!("[session]\nttl = \"{SECRET}\"\n"),
        format!("[session]\nsliding = \"{SECRET}\"\n"),
        format!("[api_key]\nunbound = \"{SECRET}\"\n"),
        format!("[api_key]\nprefixes = \"{SECRET}\"\n"),
        format!("version = \"{SECRET}\"\n"),
    ] {
        no_secret(&policy_err(&text));
    }
}

#[test]
fn errors_in_a_policy_given_as_json_name_the_key() {
    let e = load::policy_json(json!({"session": {"ttl": "soon"}}), "trace.json").unwrap_err();
    assert_eq!(e.file().unwrap(), "trace.json");
    assert!(
        e.path().unwrap().contains("session") && e.path().unwrap().contains("ttl"),
        "{e}"
    );
    let v: Value = json!({"api_key": {"unbound": SECRET}});
    no_secret(&load::policy_json(v, "trace.json").unwrap_err());
}
