//! The fuzz target bodies. Each takes the fuzzer's bytes and panics (a
//! libFuzzer crash) on a broken property; the messages name invariants,
//! steps, ids and lengths, never a token.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use authproof_engine::credential::{extract, Channel, Extraction};
use authproof_engine::{
    is_valid_token, load, Command, CredentialKind, Headers, Id, Multiple, Policy, Reason, Request,
    State, Timestamp,
};
use authproof_models::Model;
use authproof_verification::{inject_fault, lockstep::DecisionProjection, Trace};

use crate::harness::{fault_from_env, run};
use crate::input::{self, ACTIONS, T0};

// ---------------------------------------------------------------- parsers

/// `snapshot.json` bytes: a snapshot or an input error, never a panic; a
/// parsed snapshot serializes and parses back to itself, and a loaded
/// state's `to_snapshot()` survives a JSON round trip byte for byte. Every
/// snapshot that parses is also judged by the engine's integrity check and
/// the model's (SPEC §2, §11.5): the same verdict, path and message. The
/// one-pass load (`load::snapshot`) agrees with the two-step one (parse a
/// whole snapshot, then `State::from_snapshot`): the same state, or the
/// same error word for word.
pub fn snapshot_json(data: &[u8]) {
    let two_step = load::parse_snapshot(data, "snapshot.json")
        .and_then(|s| State::from_snapshot(s).map_err(|e| e.in_file("snapshot.json", None)));
    let outcome = |r: Result<State, authproof_engine::Error>| match r {
        Ok(st) => Ok(serde_json::to_vec(&st.to_snapshot()).expect("a snapshot serializes")),
        Err(e) => Err(e.to_string()),
    };
    let (want, got) = (
        outcome(two_step),
        outcome(load::snapshot(data, "snapshot.json")),
    );
    // Compared without printing either: an error may quote the input's path.
    assert!(
        got == want,
        "the one-pass load and the two-step load disagree"
    );
    if let Ok(snap) = load::parse_snapshot(data, "snapshot.json") {
        let bytes = serde_json::to_vec(&snap).expect("a snapshot serializes");
        let back = load::parse_snapshot(&bytes, "snapshot.json")
            .unwrap_or_else(|e| panic!("a serialized snapshot does not parse back: {e}"));
        assert!(back == snap, "snapshot changed in a JSON round trip");
        // The disagreement names paths and rules, never a value.
        if let Err(d) = authproof_verification::integrity::judge(&snap) {
            panic!("engine and model disagree on snapshot integrity: {d}");
        }
    }
    match load::snapshot(data, "snapshot.json") {
        Ok(state) => {
            let snap = state.to_snapshot();
            let bytes = serde_json::to_vec(&snap).expect("a snapshot serializes");
            let again = load::snapshot(&bytes, "snapshot.json")
                .unwrap_or_else(|e| panic!("an exported state does not load back: {e}"));
            let snap2 = again.to_snapshot();
            assert!(snap2 == snap, "to_snapshot() changed in a JSON round trip");
            let bytes2 = serde_json::to_vec(&snap2).expect("a snapshot serializes");
            assert!(bytes2 == bytes, "exported bytes changed in a round trip");
        }
        Err(e) => clear_error(&e),
    }
}

/// `request.json` bytes: a request or an input error; a parsed request
/// round-trips. The same bytes as JSON Lines: every line round-trips.
pub fn request_json(data: &[u8]) {
    match load::request(data, "request.json") {
        Ok(req) => {
            let bytes = serde_json::to_vec(&req).expect("a request serializes");
            let back = load::request(&bytes, "request.json")
                .unwrap_or_else(|e| panic!("a serialized request does not parse back: {e}"));
            assert!(back == req, "request changed in a JSON round trip");
        }
        Err(e) => clear_error(&e),
    }
    match load::requests_jsonl(data, "requests.jsonl") {
        Ok(reqs) => {
            let mut text = Vec::new();
            for r in &reqs {
                serde_json::to_writer(&mut text, r).expect("a request serializes");
                text.push(b'\n');
            }
            let back = load::requests_jsonl(&text, "requests.jsonl")
                .unwrap_or_else(|e| panic!("serialized requests do not parse back: {e}"));
            assert!(back == reqs, "requests changed in a JSON Lines round trip");
        }
        Err(e) => clear_error(&e),
    }
}

/// `policy.toml` text: a policy or an input error; a parsed policy
/// round-trips through TOML (`to_toml`) and through JSON (the trace form).
pub fn policy_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load::policy(text, "policy.toml") {
        Ok(p) => {
            let toml = p.to_toml();
            let back = load::policy(&toml, "policy.toml")
                .unwrap_or_else(|e| panic!("to_toml() output does not parse back: {e}"));
            assert!(back == p, "policy changed in a TOML round trip");
            let json = serde_json::to_value(&p).expect("a policy serializes to JSON");
            let back = load::policy_json(json, "trace.json")
                .unwrap_or_else(|e| panic!("a policy as JSON does not parse back: {e}"));
            assert!(back == p, "policy changed in a JSON round trip");
        }
        Err(e) => {
            assert!(
                !e.file().unwrap_or_default().is_empty(),
                "an input error names no file"
            );
            assert!(
                !e.path().unwrap_or_default().is_empty(),
                "an input error names no path"
            );
            assert!(
                !e.message().trim().is_empty(),
                "an input error says nothing"
            );
        }
    }
}

/// `commands.jsonl` bytes: commands or an input error; parsed commands
/// serialize as JSON Lines that parse back to the same commands.
pub fn commands_jsonl(data: &[u8]) {
    match load::commands_jsonl(data, "commands.jsonl") {
        Ok(cmds) => {
            let mut text = Vec::new();
            for c in &cmds {
                serde_json::to_writer(&mut text, c).expect("a command serializes");
                text.push(b'\n');
            }
            let back = load::commands_jsonl(&text, "commands.jsonl")
                .unwrap_or_else(|e| panic!("serialized commands do not parse back: {e}"));
            // serde_json (without `float_roundtrip`) may move a float in an
            // `update_api_key` foreign field by one ulp; compare printed forms
            // after one normalization when the values differ.
            if back != cmds {
                let mut again = Vec::new();
                for c in &back {
                    serde_json::to_writer(&mut again, c).expect("a command serializes");
                    again.push(b'\n');
                }
                let third = load::commands_jsonl(&again, "commands.jsonl")
                    .unwrap_or_else(|e| panic!("re-serialized commands do not parse: {e}"));
                assert!(
                    third == back && only_floats_differ(&cmds, &back),
                    "commands changed in a JSON Lines round trip"
                );
            }
        }
        Err(e) => clear_error(&e),
    }
}

fn only_floats_differ(a: &[Command], b: &[Command]) -> bool {
    fn strip(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => serde_json::Value::Null,
            serde_json::Value::Array(xs) => xs.iter().map(strip).collect(),
            serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), strip(v))).collect(),
            other => other.clone(),
        }
    }
    let j = |c: &Command| strip(&serde_json::to_value(c).expect("a command serializes"));
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| j(x) == j(y))
}

/// An input error must say where and what.
fn clear_error(e: &authproof_engine::Error) {
    assert!(
        !e.file().unwrap_or_default().is_empty(),
        "an input error names no file"
    );
    assert!(
        !e.path().unwrap_or_default().is_empty(),
        "an input error names no path"
    );
    assert!(!e.message().is_empty(), "an input error has no message");
}

// ------------------------------------------------------------ credentials

/// Policy knobs extraction depends on.
#[derive(Arbitrary, Debug)]
struct Knobs {
    header: Option<String>,
    cookies: Option<Vec<String>>,
    prefixes: Option<Vec<String>>,
    session_bearer: bool,
    api_key_bearer: bool,
    deny_multiple: bool,
}

#[derive(Arbitrary, Debug)]
enum Name {
    ApiKey,
    Cookie,
    Authorization,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Raw(String),
    /// `Bearer` (in some case), spaces, a value.
    Bearer(u8, u8, Box<Value>),
    /// `name=value` pairs joined by `;` and spaces.
    Cookies(Vec<(Option<String>, Value)>),
    /// One of the fixed snapshot's tokens.
    Known(u8),
    Quoted(Box<Value>),
}

#[derive(Arbitrary, Debug)]
struct CredentialsInput {
    knobs: Knobs,
    headers: Vec<(Name, u8, Value)>,
    action: u8,
    tenant: Option<bool>,
}

/// Tokens of the fixed snapshot of the `credentials` target (also in the
/// dictionary, so the fuzzer reaches the allow paths).
const KNOWN: [&str; 3] = [
    "sk_live_fuzzKey/+=01",
    "sk_live_fuzzKey02",
    "fuzz/Sess+ion=01%",
];

struct Fixed {
    state: State,
    /// Text the output may legitimately contain: the snapshot, reason
    /// codes, and whole decisions for canonical requests.
    public: String,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let h = |t: &str| authproof_engine::TokenHash::of(t).to_string();
        let snap = serde_json::json!({
            "taken_at": "2026-05-28T12:00:00Z",
            "tenants": [{"id": "acme"}, {"id": "globex"}],
            "users": [{"id": "alice"}, {"id": "bob"}],
            "memberships": [
                {"user": "alice", "tenant": "acme", "role": "owner", "since": "2026-01-01T00:00:00Z"},
                {"user": "bob", "tenant": "globex", "role": "member", "since": "2026-01-01T00:00:00Z"}
            ],
            "api_keys": [
                {"id": "key_1", "owner": "alice", "tenant": "acme", "token_sha256": h(KNOWN[0]),
                 "prefix": "sk_live_", "capabilities": ["supervisor"], "created_at": "2026-02-01T00:00:00Z"},
                {"id": "key_2", "owner": "bob", "tenant": null, "token_sha256": h(KNOWN[1]),
                 "prefix": "sk_live_", "created_at": "2026-02-01T00:00:00Z"}
            ],
            "sessions": [
                {"id": "ses_1", "user": "alice", "tenant": "acme", "token_sha256": h(KNOWN[2]),
                 "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"}
            ],
            "resources": [{"tenant": "acme", "id": "conv_1", "owner": "alice"}]
        });
        let bytes = serde_json::to_vec(&snap).expect("json");
        let state = load::snapshot(&bytes, "fixed.json").expect("the fixed snapshot loads");
        let mut public = String::from_utf8(bytes).expect("utf-8");
        for r in Reason::ALL {
            public.push('\n');
            public.push_str(r.code());
        }
        // Whole decisions for canonical requests: every explanation template
        // a request below can produce is public text, not a leak.
        let policy = Policy::default();
        let presented: [(&str, String); 8] = [
            ("x-api-key", KNOWN[0].into()),
            ("x-api-key", KNOWN[1].into()),
            ("cookie", format!("better-auth.session_token={}", KNOWN[2])),
            ("authorization", format!("Bearer {}", KNOWN[0])),
            ("authorization", format!("Bearer {}", KNOWN[2])),
            ("authorization", "Basic x".into()),
            ("x-api-key", "sk_live_nosuchkey".into()),
            ("cookie", "better-auth.session_token=a b".into()),
        ];
        for action in ACTIONS {
            for tenant in [None, Some("acme"), Some("globex")] {
                for (name, value) in presented.iter().map(|(n, v)| (*n, v.as_str())) {
                    let req = Request {
                        at: Timestamp::from_unix(T0).expect("in range"),
                        action: action.into(),
                        headers: Headers::new([(name, value)]).expect("one header"),
                        tenant: tenant.map(|t| Id::new(t).expect("id")),
                        resource: None,
                    };
                    let d = state.decide(&policy, &req);
                    public.push('\n');
                    public.push_str(&serde_json::to_string(&d).expect("json"));
                }
            }
        }
        Fixed { state, public }
    })
}

fn recase(name: &str, case: u8) -> String {
    match case % 3 {
        0 => name.to_string(),
        1 => name.to_ascii_uppercase(),
        _ => {
            let mut cs: Vec<char> = name.chars().collect();
            if let Some(c) = cs.first_mut() {
                *c = c.to_ascii_uppercase();
            }
            cs.into_iter().collect()
        }
    }
}

fn render(v: &Value, depth: u8) -> String {
    if depth > 3 {
        return String::new();
    }
    match v {
        Value::Raw(s) => s.clone(),
        Value::Bearer(case, spaces, inner) => format!(
            "{}{}{}",
            recase("Bearer", *case),
            " ".repeat(usize::from(*spaces % 4)),
            render(inner, depth + 1)
        ),
        Value::Cookies(pairs) => pairs
            .iter()
            .map(|(n, v)| {
                let name = n
                    .clone()
                    .unwrap_or_else(|| "better-auth.session_token".into());
                format!("{name}={}", render(v, depth + 1))
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::Known(i) => KNOWN[usize::from(*i) % KNOWN.len()].to_string(),
        Value::Quoted(inner) => format!("\"{}\"", render(inner, depth + 1)),
    }
}

/// Candidate secrets in headers, as I9 collects them: whole values, cookie
/// values (raw and unquoted), the part after the `Authorization` scheme.
fn secrets(headers: &Headers) -> Vec<String> {
    let mut found = Vec::new();
    for (name, value) in headers.iter() {
        found.push(value.to_string());
        if name.eq_ignore_ascii_case("cookie") {
            for pair in value.split(';') {
                if let Some((_, v)) = pair.trim_matches(' ').split_once('=') {
                    found.push(v.to_string());
                    found.push(v.trim_matches('"').to_string());
                }
            }
        }
        if name.eq_ignore_ascii_case("authorization") {
            if let Some((_, rest)) = value.split_once(' ') {
                found.push(rest.trim_matches(' ').to_string());
            }
        }
    }
    found.retain(|s| s.len() >= authproof_models::invariants::MIN_SECRET_LEN);
    found
}

/// Arbitrary header maps and policy knobs: extraction never panics, is
/// deterministic, returns a valid token taken verbatim from the header its
/// channel names; and the decision on a small fixed snapshot never contains
/// a header value or token of 8 bytes or more (no token reaches output).
pub fn credentials(data: &[u8]) {
    let u = Unstructured::new(data);
    let Ok(input) = CredentialsInput::arbitrary_take_rest(u) else {
        return;
    };
    let fixed = fixed();
    let mut policy = Policy::default();
    let k = &input.knobs;
    if let Some(h) = &k.header {
        policy.api_key.header = h.clone();
    }
    if let Some(c) = &k.cookies {
        policy.session.cookies = c.clone();
    }
    if let Some(p) = &k.prefixes {
        policy.api_key.prefixes = p.clone();
    }
    policy.session.bearer = !k.session_bearer;
    policy.api_key.bearer = !k.api_key_bearer;
    if k.deny_multiple {
        policy.credentials.multiple = Multiple::Deny;
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, case, value) in &input.headers {
        let name = match name {
            Name::ApiKey => recase(&policy.api_key.header, *case),
            Name::Cookie => recase("cookie", *case),
            Name::Authorization => recase("authorization", *case),
            Name::Other(s) => s.clone(),
        };
        if pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            continue;
        }
        pairs.push((name, render(value, 0)));
    }
    let headers = Headers::new(pairs).expect("duplicates were skipped");

    let e1 = extract(&policy, &headers);
    let e2 = extract(&policy, &headers);
    assert!(e1 == e2, "extraction is not deterministic");
    if let Extraction::Token {
        kind,
        channel,
        token,
    } = e1
    {
        assert!(is_valid_token(token), "extracted an invalid token");
        match channel {
            Channel::ApiKeyHeader => {
                assert!(
                    kind == CredentialKind::ApiKey,
                    "API-key header gave a session"
                );
                assert!(
                    headers.get(&policy.api_key.header) == Some(token),
                    "the API-key header value was not used verbatim"
                );
            }
            Channel::Cookie(i) => {
                assert!(kind == CredentialKind::Session, "a cookie gave an API key");
                let name = policy
                    .session
                    .cookies
                    .get(i)
                    .expect("cookie index in range");
                let cookie = headers.get("cookie").expect("a cookie header");
                assert!(
                    cookie.contains(&format!("{name}={token}"))
                        || cookie.contains(&format!("{name}=\"{token}\"")),
                    "the session cookie value was not used verbatim"
                );
            }
            Channel::Bearer => {
                let auth = headers
                    .get("authorization")
                    .expect("an authorization header");
                assert!(
                    auth.contains(token),
                    "the Bearer token was not used verbatim"
                );
                let prefixed = policy.api_key_prefix(token).is_some();
                assert!(
                    prefixed == (kind == CredentialKind::ApiKey),
                    "Bearer routing ignores api_key.prefixes"
                );
            }
        }
    }

    let req = Request {
        at: Timestamp::from_unix(T0).expect("in range"),
        action: ACTIONS[usize::from(input.action) % ACTIONS.len()].into(),
        headers,
        tenant: input
            .tenant
            .map(|b| Id::new(if b { "acme" } else { "globex" }).expect("id")),
        resource: None,
    };
    let faulty;
    let state = match fault_from_env() {
        None => &fixed.state,
        fault => {
            let mut s = fixed.state.clone();
            inject_fault(&mut s, fault);
            faulty = s;
            &faulty
        }
    };
    let out = serde_json::to_string(&state.decide(&policy, &req)).expect("json");
    let again = serde_json::to_string(&state.decide(&policy, &req)).expect("json");
    assert!(out == again, "I6: the same request gave different bytes");
    for s in secrets(&req.headers) {
        if !out.contains(&s) {
            continue;
        }
        let public = fixed.public.contains(&s)
            || serde_json::to_string(&policy).expect("json").contains(&s)
            || s.contains(&req.action)
            || req.action.contains(&s)
            || from_elsewhere(state, &policy, &req, &s);
        if !public {
            panic!(
                "I9: the decision contains a presented header value ({} bytes)",
                s.len()
            );
        }
    }
}

/// Whether `s` is in the decision for another reason than being presented:
/// the same request with every occurrence of `s` in its header values masked
/// (same length) still yields an output containing `s` — a reason code or a
/// word of the explanation (`not_a_member`), not the header value. A leak
/// (F14) disappears with the mask. Deciding twice is the oracle: a list of
/// the explanation's words would drift from the engine.
fn from_elsewhere(
    state: &authproof_engine::State,
    policy: &Policy,
    req: &Request,
    s: &str,
) -> bool {
    let mask = "Q".repeat(s.len());
    let Ok(headers) = Headers::new(
        req.headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.replace(s, &mask))),
    ) else {
        return false;
    };
    let masked = Request {
        headers,
        ..req.clone()
    };
    serde_json::to_string(&state.decide(policy, &masked))
        .expect("json")
        .contains(s)
}

// ------------------------------------------------------- engine vs model

fn fail(target: &str, message: impl std::fmt::Display) -> ! {
    panic!("{target}: {message}")
}

/// A generated world and request: the engine's decision outcome equals the
/// model's; the decision is byte-identical when repeated and after a JSON
/// round trip of the snapshot (I6); and the whole invariant catalogue holds
/// on the request as an `authenticate` step (I1, I8, I9, ...).
pub fn decide(data: &[u8]) {
    let Ok((w, req)) = input::decide_case(data) else {
        return;
    };
    let fault = fault_from_env();
    let mut state = State::from_snapshot(w.snapshot.clone())
        .unwrap_or_else(|e| fail("decide", format!("generated snapshot rejected: {e}")));
    inject_fault(&mut state, fault);
    let d = state.decide(&w.policy, &req);
    let model = Model::new(&w.snapshot, &w.policy);
    let m = model.decide(&req);
    let (de, dm) = (DecisionProjection::of(&d), DecisionProjection::of(&m));
    if de != dm {
        fail(
            "decide",
            format!(
                "I5: engine {} vs model {}",
                serde_json::to_string(&de).expect("json"),
                serde_json::to_string(&dm).expect("json")
            ),
        );
    }
    let out = serde_json::to_string(&d).expect("json");
    if serde_json::to_string(&state.decide(&w.policy, &req)).expect("json") != out {
        fail("decide", "I6: the same request gave different bytes");
    }
    let bytes = serde_json::to_vec(&state.to_snapshot()).expect("json");
    let mut reloaded = load::snapshot(&bytes, "snapshot.json")
        .unwrap_or_else(|e| fail("decide", format!("I6: exported snapshot rejected: {e}")));
    inject_fault(&mut reloaded, fault);
    if serde_json::to_string(&reloaded.decide(&w.policy, &req)).expect("json") != out {
        fail(
            "decide",
            "I6: a snapshot JSON round trip changed the decision",
        );
    }
    let trace = Trace {
        policy: w.policy,
        snapshot: w.snapshot,
        steps: vec![input::authenticate_command(&req)],
    };
    match run(trace, fault) {
        Ok(None) => {}
        Ok(Some(f)) => fail("decide", f),
        Err(e) => fail("decide", format!("generated snapshot rejected: {e}")),
    }
}

/// A generated world and command sequence: engine and model after every
/// step, the whole invariant catalogue.
pub fn differential(data: &[u8]) {
    let Ok(trace) = input::differential_trace(data) else {
        return;
    };
    match run(trace, fault_from_env()) {
        Ok(None) => {}
        Ok(Some(f)) => fail("differential", f),
        Err(e) => fail("differential", format!("generated snapshot rejected: {e}")),
    }
}
