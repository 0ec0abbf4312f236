//! The explanation helps a human: it names the credential's channel, the
//! record and the rule that decided — and never the token.

use crate::common;

use common::*;

fn explain(d: &serde_json::Value) -> String {
    d["explain"]
        .as_array()
        .expect("explain is a list")
        .iter()
        .map(|l| l.as_str().expect("lines are strings"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_allow_names_channel_record_and_hash_prefix() {
    let d = decide(
        &Snap::base().state(),
        &req("workspace.read").cookie(SESSION_TOKEN),
    );
    let text = explain(&d);
    assert!(text.contains("cookie better-auth.session_token"), "{text}");
    assert!(text.contains("\"ses_1\""), "{text}");
    assert!(text.contains(&sha(SESSION_TOKEN)[..8]), "{text}");
    assert!(!text.contains(SESSION_TOKEN), "no raw token: {text}");
    assert!(text.contains("member of \"acme\""), "{text}");
}

#[test]
fn a_malformed_credential_says_where_and_why() {
    let d = decide(
        &Snap::base().state(),
        &req("workspace.read").header("cookie", "better-auth.session_token=a b"),
    );
    let text = explain(&d);
    assert!(text.contains("cookie better-auth.session_token"), "{text}");
    assert!(text.contains("not a valid token"), "{text}");
    let d = decide(
        &Snap::base().state(),
        &req("workspace.read").header("authorization", "Basic abc"),
    );
    let text = explain(&d);
    assert!(text.contains("authorization"), "{text}");
    assert!(text.contains("Bearer"), "{text}");
}

/// The first line states the rule that applies: the action's credentials,
/// tenant rule, roles and capability, as the policy has them.
#[test]
fn the_first_line_states_the_action_rule() {
    let d = decide(
        &Snap::base().state(),
        &req("member.remove").cookie(SESSION_TOKEN),
    );
    let first = d["explain"][0].as_str().unwrap();
    assert!(
        first.contains(r#"action "member.remove": credentials ["session"], tenant required, roles ["owner", "admin"]"#),
        "{first}"
    );
    assert!(!first.contains("capability"), "{first}");
    let d = decide(
        &Snap::base().state(),
        &req("supervisor.connect").key(KEY_TOKEN),
    );
    let first = d["explain"][0].as_str().unwrap();
    assert!(
        first.contains(r#"credentials ["api_key"], tenant required, capability "supervisor""#),
        "{first}"
    );
    assert!(!first.contains("roles"), "{first}");
    let d = decide(&Snap::base().state(), &req("workspace.read").key(KEY_TOKEN));
    let first = d["explain"][0].as_str().unwrap();
    assert!(
        first.contains(r#"credentials ["session", "api_key"]"#),
        "{first}"
    );
}
