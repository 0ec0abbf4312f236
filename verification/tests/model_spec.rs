//! The SPEC examples, decided by the reference model with the expected
//! outcome written next to each case, and run side by side with the engine:
//! every step must agree (I5) and keep every other invariant.
//!
//! Each case is one command line and the outcome the spec prescribes: `allow`,
//! a denial reason, `ok`, or a rejection reason. Cases run in order on one
//! state, so commands see the effects of earlier ones.

use authproof_engine::{load, Command, CommandResult, Policy, Snapshot, State, TokenHash};
use authproof_verification::{lockstep::DecisionProjection, Lockstep, Model};
use serde_json::{json, Value};

const T: &str = "2026-05-28T12:00:00Z";

fn h(token: &str) -> String {
    TokenHash::of(token).to_string()
}

/// The fixture: three tenants (one suspended), a banned user, keys and
/// sessions in every state, and two tenants sharing a resource id.
fn snapshot() -> Snapshot {
    let v = json!({
        "taken_at": T,
        "tenants": [{"id": "acme"}, {"id": "beta"}, {"id": "susp", "suspended": true}],
        "users": [{"id": "alice"}, {"id": "bob"}, {"id": "carol", "banned": true},
                  {"id": "dave"}, {"id": "erin"}],
        "memberships": [
            {"user": "alice", "tenant": "acme", "role": "owner", "since": "2026-01-01T00:00:00Z"},
            {"user": "alice", "tenant": "beta", "role": "member", "since": "2026-03-01T00:00:00Z"},
            {"user": "alice", "tenant": "susp", "role": "member", "since": "2026-03-01T00:00:00Z"},
            {"user": "bob", "tenant": "acme", "role": "member"},
            {"user": "bob", "tenant": "beta", "role": "admin"},
            {"user": "carol", "tenant": "acme", "role": "member"},
            {"user": "dave", "tenant": "susp", "role": "member"},
            {"user": "erin", "tenant": "beta", "role": "member"},
            {"user": "dave", "tenant": "beta", "role": "member", "since": "2027-01-01T00:00:00Z"}
        ],
        "api_keys": [
            {"id": "key_1", "owner": "alice", "tenant": "acme", "token_sha256": h("sk_live_alice1"),
             "prefix": "sk_live_", "capabilities": ["supervisor"], "created_at": "2026-02-01T00:00:00Z"},
            {"id": "key_legacy", "owner": "alice", "tenant": null, "token_sha256": h("sk_live_legacy1"),
             "created_at": "2026-02-01T00:00:00Z"},
            {"id": "key_rev", "owner": "alice", "tenant": "acme", "token_sha256": h("sk_live_revoked1"),
             "created_at": "2026-02-01T00:00:00Z", "revoked_at": T},
            {"id": "key_del", "owner": "alice", "tenant": "acme", "token_sha256": h("sk_live_deleted1"),
             "created_at": "2026-02-01T00:00:00Z", "revoked_at": "2026-03-01T00:00:00Z",
             "deleted_at": "2026-04-01T00:00:00Z"},
            {"id": "key_dis", "owner": "alice", "tenant": "acme", "token_sha256": h("sk_live_disabled1"),
             "created_at": "2026-02-01T00:00:00Z", "enabled": false},
            {"id": "key_exp", "owner": "alice", "tenant": "acme", "token_sha256": h("sk_live_expired1"),
             "created_at": "2026-02-01T00:00:00Z", "expires_at": T},
            {"id": "key_carol", "owner": "carol", "tenant": "acme", "token_sha256": h("sk_live_carol1"),
             "created_at": "2026-02-01T00:00:00Z"},
            {"id": "key_future", "owner": "alice", "tenant": "acme", "token_sha256": h("sk_live_future1"),
             "created_at": "2026-06-01T00:00:00Z"},
            {"id": "key_nocap", "owner": "bob", "tenant": "acme", "token_sha256": h("sk_live_nocap1"),
             "created_at": "2026-02-01T00:00:00Z"},
            {"id": "key_other", "owner": "bob", "tenant": "beta", "token_sha256": h("sk_live_other1"),
             "capabilities": ["other"], "created_at": "2026-02-01T00:00:00Z"}
        ],
        "sessions": [
            {"id": "ses_1", "user": "alice", "tenant": "acme", "token_sha256": h("sesalice1/+="),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"},
            {"id": "ses_rev", "user": "alice", "tenant": "acme", "token_sha256": h("sesrevoked1"),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z",
             "revoked_at": "2026-05-02T00:00:00Z"},
            {"id": "ses_exp", "user": "alice", "tenant": "acme", "token_sha256": h("sesexpired1"),
             "created_at": "2026-04-28T12:00:00Z", "expires_at": T},
            {"id": "ses_carol", "user": "carol", "tenant": "acme", "token_sha256": h("sescarol1"),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"},
            {"id": "ses_bob", "user": "bob", "tenant": null, "token_sha256": h("sesbob0001"),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"},
            {"id": "ses_dave", "user": "dave", "tenant": "susp", "token_sha256": h("sesdave001"),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"},
            {"id": "ses_erin", "user": "erin", "tenant": "beta", "token_sha256": h("seserin001"),
             "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"},
            {"id": "ses_future", "user": "alice", "tenant": "acme", "token_sha256": h("sesfuture1"),
             "created_at": "2026-06-01T00:00:00Z", "expires_at": "2026-07-01T00:00:00Z"}
        ],
        "resources": [
            {"tenant": "acme", "id": "conv_1", "owner": "alice"},
            {"tenant": "acme", "id": "conv_2", "owner": "bob"},
            {"tenant": "acme", "id": "general", "owner": "alice"},
            {"tenant": "beta", "id": "general", "owner": "erin"}
        ]
    });
    serde_json::from_value(v).expect("fixture snapshot")
}

/// Engine and model side by side in the harness, with the invariants
/// checked at each step.
struct Fixture {
    lockstep: Lockstep<State>,
}

impl Fixture {
    fn new(snapshot: Snapshot, policy_toml: &str) -> Fixture {
        let policy = load::policy(policy_toml, "policy.toml").expect("policy");
        let engine = State::from_snapshot(snapshot.clone()).expect("fixture passes integrity");
        let lockstep = Lockstep::new(&policy, &snapshot, engine).expect("the engine runs");
        assert_eq!(lockstep.initial_violations(), &[]);
        Fixture { lockstep }
    }

    /// Runs one command on both; panics on any violation. Returns the
    /// model's result.
    fn step(&mut self, cmd: &Command) -> CommandResult {
        let step = self
            .lockstep
            .step(cmd)
            .expect("cases do not go back in time");
        assert!(
            step.violations.is_empty(),
            "step {} {}: {:#?}\nengine: {}\nmodel:  {}",
            step.index,
            serde_json::to_string(cmd).unwrap(),
            step.violations,
            serde_json::to_string(&step.result).unwrap(),
            serde_json::to_string(&step.model).unwrap(),
        );
        step.model
    }

    /// Runs `cases` in order, asserting each one's expected outcome.
    fn cases(&mut self, cases: &[(Value, &str)]) {
        for (line, want) in cases {
            let cmd = Command::from_value(line.clone()).expect("case parses");
            let got = self.step(&cmd);
            assert_eq!(outcome(&got), *want, "case {line}");
        }
    }
}

/// `allow`, a denial reason, `ok` or a rejection reason.
fn outcome(r: &CommandResult) -> String {
    match r {
        CommandResult::Ok { .. } => "ok".into(),
        CommandResult::Rejected { reason, .. } => reason.code().into(),
        CommandResult::Decision { decision, .. } => match decision.reason {
            None => "allow".into(),
            Some(reason) => reason.code().into(),
        },
    }
}

/// An `authenticate` command at `at`.
fn auth(at: &str, action: &str, headers: Value, extra: Value) -> Value {
    let mut v = json!({"at": at, "op": "authenticate", "action": action, "headers": headers});
    if let Value::Object(extra) = extra {
        v.as_object_mut().unwrap().extend(extra);
    }
    v
}

fn cookie(token: &str) -> Value {
    json!({"cookie": format!("theme=dark; better-auth.session_token={token}")})
}

fn key(token: &str) -> Value {
    json!({"x-api-key": token})
}

fn bearer(token: &str) -> Value {
    json!({"authorization": format!("Bearer {token}")})
}

fn none() -> Value {
    json!({})
}

#[test]
fn every_reason_in_order_default_policy() {
    let mut run = Fixture::new(snapshot(), "");
    let a = |action: &str, headers: Value, extra: Value| auth(T, action, headers, extra);
    run.cases(&[
        // Step 0.
        (a("nope.nope", cookie("sesalice1/+="), none()), "unknown_action"),
        // Step 1 (§5).
        (a("workspace.read", json!({}), none()), "no_credential"),
        (a("workspace.read", json!({"cookie": "theme=dark"}), none()), "no_credential"),
        (a("workspace.read", key(""), none()), "malformed_credential"),
        (a("workspace.read", key("sk_live a"), none()), "malformed_credential"),
        (a("workspace.read", json!({"authorization": "Basic abc"}), none()), "malformed_credential"),
        (a("workspace.read", json!({"authorization": "Bearer"}), none()), "malformed_credential"),
        (a("workspace.read", json!({"authorization": "Bearer\tabc"}), none()), "malformed_credential"),
        (a("workspace.read", json!({"authorization": "Bearer    "}), none()), "malformed_credential"),
        (a("workspace.read", cookie("a,b"), none()), "malformed_credential"),
        (a("workspace.read", cookie(""), none()), "malformed_credential"),
        // First present wins, no fallback: a malformed API-key header hides
        // a good cookie.
        (a("workspace.read", json!({"x-api-key": "", "cookie": "better-auth.session_token=sesalice1/+="}), none()), "malformed_credential"),
        // Verbatim cookie values, quotes removed once, scheme any case,
        // several spaces, trailing spaces trimmed.
        (a("workspace.read", json!({"cookie": "better-auth.session_token=\"sesalice1/+=\""}), none()), "allow"),
        (a("workspace.read", json!({"AUTHORIZATION": "bEaReR   sesalice1/+=  "}), none()), "allow"),
        (a("workspace.read", json!({"Cookie": "__Host-better-auth.session_token=nope1234; better-auth.session_token=sesalice1/+="}), none()), "allow"),
        (a("workspace.read", json!({"cookie": "better-auth.session_token=sesalice1%2F%2B%3D"}), none()), "session_not_found"),
        // Step 2, API keys.
        (a("workspace.read", key("sk_live_nope"), none()), "api_key_not_found"),
        (a("workspace.read", key("sesalice1/+="), none()), "api_key_not_found"),
        (a("workspace.read", key("sk_live_future1"), none()), "api_key_not_found"),
        (a("workspace.read", key("sk_live_deleted1"), none()), "api_key_deleted"),
        (a("workspace.read", key("sk_live_revoked1"), none()), "api_key_revoked"),
        (a("workspace.read", key("sk_live_disabled1"), none()), "api_key_disabled"),
        (a("workspace.read", key("sk_live_expired1"), none()), "api_key_expired"),
        (a("workspace.read", key("sk_live_carol1"), none()), "user_banned"),
        (a("workspace.read", bearer("sk_live_alice1"), none()), "allow"),
        // Step 2, sessions.
        (a("workspace.read", cookie("nosuchsession"), none()), "session_not_found"),
        (a("workspace.read", cookie("sk_live_alice1"), none()), "session_not_found"),
        (a("workspace.read", cookie("sesfuture1"), none()), "session_not_found"),
        (a("workspace.read", cookie("sesrevoked1"), none()), "session_revoked"),
        (a("workspace.read", cookie("sesexpired1"), none()), "session_expired"),
        (a("workspace.read", bearer("sescarol1"), none()), "user_banned"),
        // Step 3.
        (a("supervisor.connect", cookie("sesalice1/+="), none()), "credential_not_allowed"),
        (a("api_key.create", key("sk_live_alice1"), none()), "credential_not_allowed"),
        // Step 4.
        (a("workspace.read", key("sk_live_legacy1"), none()), "api_key_unbound"),
        (a("workspace.read", key("sk_live_alice1"), json!({"tenant": "beta"})), "cross_tenant"),
        (a("workspace.read", cookie("sesbob0001"), none()), "tenant_required"),
        (a("session.read", cookie("sesbob0001"), none()), "allow"),
        (a("workspace.read", cookie("sesbob0001"), json!({"tenant": "beta"})), "allow"),
        // Step 5.
        (a("workspace.read", cookie("sesalice1/+="), json!({"tenant": "ghost"})), "not_a_member"),
        (a("workspace.read", cookie("sesdave001"), json!({"tenant": "acme"})), "not_a_member"),
        // A membership that starts later does not exist yet.
        (a("workspace.read", cookie("sesdave001"), json!({"tenant": "beta"})), "not_a_member"),
        (a("workspace.read", cookie("sesdave001"), none()), "tenant_suspended"),
        (a("workspace.read", cookie("sesalice1/+="), json!({"tenant": "susp"})), "tenant_suspended"),
        // Step 6.
        (a("member.remove", cookie("sesbob0001"), json!({"tenant": "acme"})), "insufficient_role"),
        (a("member.remove", cookie("sesbob0001"), json!({"tenant": "beta"})), "allow"),
        (a("member.remove", cookie("sesalice1/+="), none()), "allow"),
        // Step 7.
        (a("supervisor.connect", key("sk_live_other1"), none()), "missing_capability"),
        (a("supervisor.connect", key("sk_live_nocap1"), none()), "allow"),
        (a("supervisor.connect", key("sk_live_alice1"), none()), "allow"),
        // Step 8, including the cross-tenant resume incident.
        (a("conversation.resume", cookie("sesalice1/+="), none()), "resource_not_found"),
        (a("conversation.resume", cookie("sesalice1/+="), json!({"resource": "conv_9"})), "resource_not_found"),
        (a("conversation.resume", cookie("sesalice1/+="), json!({"tenant": "beta", "resource": "conv_1"})), "resource_not_found"),
        (a("conversation.resume", cookie("sesalice1/+="), json!({"resource": "conv_2"})), "not_resource_owner"),
        (a("workspace.read", cookie("sesalice1/+="), json!({"resource": "conv_2"})), "allow"),
        (a("session.read", cookie("sesbob0001"), json!({"resource": "conv_2"})), "resource_not_found"),
        (a("conversation.resume", cookie("seserin001"), json!({"resource": "general"})), "allow"),
        (a("conversation.resume", cookie("seserin001"), json!({"tenant": "acme", "resource": "general"})), "not_a_member"),
        (a("conversation.resume", cookie("sesalice1/+="), json!({"tenant": "beta", "resource": "general"})), "not_resource_owner"),
        (a("conversation.resume", key("sk_live_alice1"), json!({"resource": "conv_1"})), "allow"),
    ]);
}

#[test]
fn policy_variants() {
    let a = |action: &str, headers: Value, extra: Value| auth(T, action, headers, extra);
    let both =
        json!({"x-api-key": "sk_live_alice1", "cookie": "better-auth.session_token=sesalice1/+="});

    let mut run = Fixture::new(snapshot(), "[credentials]\nmultiple = \"deny\"\n");
    run.cases(&[
        (
            a("workspace.read", both.clone(), none()),
            "ambiguous_credential",
        ),
        // Present, not usable, still counts.
        (
            a(
                "workspace.read",
                json!({"x-api-key": "", "authorization": "x"}),
                none(),
            ),
            "ambiguous_credential",
        ),
        (a("workspace.read", key("sk_live_alice1"), none()), "allow"),
    ]);

    let mut run = Fixture::new(snapshot(), "");
    run.cases(&[(a("workspace.read", both, none()), "allow")]);

    let mut run = Fixture::new(
        snapshot(),
        "[api_key]\nunbound = \"oldest_membership\"\nempty_capabilities = \"none\"\n",
    );
    run.cases(&[
        (a("workspace.read", key("sk_live_legacy1"), none()), "allow"),
        (
            a(
                "workspace.read",
                key("sk_live_legacy1"),
                json!({"tenant": "beta"}),
            ),
            "cross_tenant",
        ),
        (
            a("supervisor.connect", key("sk_live_nocap1"), none()),
            "missing_capability",
        ),
        (
            a("supervisor.connect", key("sk_live_alice1"), none()),
            "allow",
        ),
    ]);

    let mut run = Fixture::new(
        snapshot(),
        "[session]\nbearer = false\n[api_key]\nbearer = false\n",
    );
    run.cases(&[
        (
            a("workspace.read", bearer("sesalice1/+="), none()),
            "malformed_credential",
        ),
        (
            a("workspace.read", bearer("sk_live_alice1"), none()),
            "malformed_credential",
        ),
        (a("workspace.read", cookie("sesalice1/+="), none()), "allow"),
    ]);

    let mut run = Fixture::new(snapshot(), "[api_key]\nheader = \"X-Key\"\nprefixes = [\"pk_\", \"sk_live_\"]\n[session]\ncookies = [\"sid\"]\n");
    run.cases(&[
        (
            a("workspace.read", json!({"x-key": "sk_live_alice1"}), none()),
            "allow",
        ),
        (
            a("workspace.read", key("sk_live_alice1"), none()),
            "no_credential",
        ),
        (
            a("workspace.read", cookie("sesalice1/+="), none()),
            "no_credential",
        ),
        (
            a(
                "workspace.read",
                json!({"cookie": "sid=sesalice1/+="}),
                none(),
            ),
            "allow",
        ),
        (
            a("workspace.read", bearer("pk_abc"), none()),
            "api_key_not_found",
        ),
    ]);
}

#[test]
fn decision_fields() {
    let mut model = Model::new(&snapshot(), &Policy::default());
    let cmd = |v: Value| Command::from_value(v).unwrap();
    // Sliding refresh: ttl 30d, refresh_after 1d, expires 05-31 → extend to
    // at + 30d.
    let allow = model.apply(&cmd(auth(
        T,
        "workspace.read",
        cookie("sesalice1/+="),
        none(),
    )));
    let d = allow.decision().unwrap();
    assert_eq!(
        serde_json::to_value(DecisionProjection::of(d)).unwrap(),
        json!({"decision": "allow", "reason": null, "status": 200, "user": "alice",
               "credential": {"kind": "session", "id": "ses_1"}, "tenant": "acme",
               "scope": ["acme", "beta"],
               "effects": [{"kind": "extend_session", "session": "ses_1",
                            "expires_at": "2026-06-27T12:00:00Z"}]})
    );
    assert_eq!(d.action, "workspace.read");
    // The effect was applied.
    let s = model.snapshot();
    assert_eq!(s.sessions[0].expires_at.to_string(), "2026-06-27T12:00:00Z");

    let deny = model.decide(
        &cmd(auth(
            T,
            "workspace.read",
            key("sk_live_alice1"),
            json!({"tenant": "beta"}),
        ))
        .request()
        .unwrap(),
    );
    assert_eq!(
        serde_json::to_value(DecisionProjection::of(&deny)).unwrap(),
        json!({"decision": "deny", "reason": "cross_tenant", "status": 403, "user": "alice",
               "credential": {"kind": "api_key", "id": "key_1"}, "tenant": "acme",
               "scope": [], "effects": []})
    );
    let not_found = model.decide(&cmd(auth(T, "x.y", none(), none())).request().unwrap());
    assert_eq!(not_found.status, 403);
    assert_eq!(not_found.user, None);
    let nf = model.decide(
        &cmd(auth(T, "workspace.read", key("sk_live_nope"), none()))
            .request()
            .unwrap(),
    );
    assert_eq!(
        (nf.status, nf.user.clone(), nf.credential.clone()),
        (401, None, None)
    );
    let revoked = model.decide(
        &cmd(auth(T, "workspace.read", key("sk_live_revoked1"), none()))
            .request()
            .unwrap(),
    );
    assert_eq!(revoked.user.as_deref(), Some("alice"));
    assert_eq!(revoked.tenant, None, "tenant is unknown before step 4");
    for line in revoked.explain_lines().iter().chain(&d.explain_lines()) {
        assert!(
            !line.contains("sk_live_") && !line.contains("sesalice1"),
            "{line}"
        );
    }
}

#[test]
fn every_command_rejection_in_listed_order() {
    let mut run = Fixture::new(snapshot(), "");
    let c = |at: &str, v: Value| {
        let mut v = v;
        v.as_object_mut().unwrap().insert("at".into(), json!(at));
        v
    };
    let t1 = "2026-05-28T13:00:00Z";
    run.cases(&[
        (c(t1, json!({"op": "create_tenant", "tenant": "acme"})), "duplicate_id"),
        (c(t1, json!({"op": "create_tenant", "tenant": "gamma"})), "ok"),
        (c(t1, json!({"op": "suspend_tenant", "tenant": "ghost"})), "unknown_tenant"),
        (c(t1, json!({"op": "suspend_tenant", "tenant": "susp"})), "no_change"),
        (c(t1, json!({"op": "suspend_tenant", "tenant": "gamma"})), "ok"),
        (c(t1, json!({"op": "reinstate_tenant", "tenant": "ghost"})), "unknown_tenant"),
        (c(t1, json!({"op": "reinstate_tenant", "tenant": "acme"})), "no_change"),
        (c(t1, json!({"op": "reinstate_tenant", "tenant": "gamma"})), "ok"),
        (c(t1, json!({"op": "create_user", "user": "alice"})), "duplicate_id"),
        (c(t1, json!({"op": "create_user", "user": "frank"})), "ok"),
        (c(t1, json!({"op": "ban_user", "user": "ghost"})), "unknown_user"),
        (c(t1, json!({"op": "ban_user", "user": "carol"})), "no_change"),
        (c(t1, json!({"op": "unban_user", "user": "ghost"})), "unknown_user"),
        (c(t1, json!({"op": "unban_user", "user": "alice"})), "no_change"),
        (c(t1, json!({"op": "add_member", "user": "ghost", "tenant": "ghost", "role": "member"})), "unknown_user"),
        (c(t1, json!({"op": "add_member", "user": "frank", "tenant": "ghost", "role": "member"})), "unknown_tenant"),
        (c(t1, json!({"op": "add_member", "user": "alice", "tenant": "acme", "role": "member"})), "already_member"),
        // A future membership still exists for uniqueness.
        (c(t1, json!({"op": "add_member", "user": "dave", "tenant": "beta", "role": "member"})), "already_member"),
        (c(t1, json!({"op": "add_member", "user": "frank", "tenant": "acme", "role": "member"})), "ok"),
        (c(t1, json!({"op": "remove_member", "user": "frank", "tenant": "beta"})), "not_a_member"),
        (c(t1, json!({"op": "remove_member", "user": "dave", "tenant": "beta"})), "not_a_member"),
        (c(t1, json!({"op": "set_role", "user": "frank", "tenant": "beta", "role": "x"})), "not_a_member"),
        (c(t1, json!({"op": "set_role", "user": "frank", "tenant": "acme", "role": "member"})), "no_change"),
        (c(t1, json!({"op": "set_role", "user": "frank", "tenant": "acme", "role": "admin"})), "ok"),
        (c(t1, json!({"op": "mint_api_key", "key": "key_1", "owner": "alice", "tenant": "acme", "token": "sk_live_alice1"})), "duplicate_id"),
        (c(t1, json!({"op": "mint_api_key", "key": "key_n", "owner": "alice", "tenant": "acme", "token": "sesalice1/+="})), "duplicate_token"),
        (c(t1, json!({"op": "mint_api_key", "key": "key_n", "owner": "alice", "tenant": "acme", "token": "noprefix1234"})), "invalid_token"),
        (c(t1, json!({"op": "mint_api_key", "key": "key_n", "owner": "alice", "tenant": "acme", "token": "sk_live_a,b"})), "invalid_token"),
        (c(t1, json!({"op": "mint_api_key", "key": "key_n", "owner": "dave", "tenant": "acme", "token": "sk_live_newkey1"})), "not_a_member"),
        (c(t1, json!({"op": "mint_api_key", "key": "key_n", "owner": "ghost", "tenant": "acme", "token": "sk_live_newkey1"})), "not_a_member"),
        (c(t1, json!({"op": "mint_api_key", "key": "key_n", "owner": "carol", "tenant": "acme", "token": "sk_live_newkey1"})), "user_banned"),
        (c(t1, json!({"op": "mint_api_key", "key": "key_n", "owner": "frank", "tenant": "acme", "token": "sk_live_newkey1", "capabilities": ["supervisor"], "name": "ci"})), "ok"),
        (c(t1, json!({"op": "update_api_key", "key": "ghost", "name": "x"})), "api_key_not_found"),
        (c(t1, json!({"op": "update_api_key", "key": "key_future", "name": "x"})), "api_key_not_found"),
        (c(t1, json!({"op": "update_api_key", "key": "key_del", "tenant": "beta"})), "api_key_deleted"),
        (c(t1, json!({"op": "update_api_key", "key": "key_rev", "enabled": true})), "api_key_revoked"),
        (c(t1, json!({"op": "update_api_key", "key": "key_n", "tenant": "acme", "name": "ci"})), "immutable_field"),
        (c(t1, json!({"op": "update_api_key", "key": "key_n", "metadata": {"a": 1}})), "immutable_field"),
        (c(t1, json!({"op": "update_api_key", "key": "key_n", "name": "ci", "expires_at": null})), "no_change"),
        (c(t1, json!({"op": "update_api_key", "key": "key_n"})), "no_change"),
        (c(t1, json!({"op": "update_api_key", "key": "key_n", "name": "ci", "enabled": false, "expires_at": "2027-01-01T00:00:00Z"})), "ok"),
        (c(t1, json!({"op": "update_api_key", "key": "key_dis", "enabled": true})), "ok"),
        (c(t1, json!({"op": "update_api_key", "key": "key_exp", "expires_at": null})), "ok"),
        (c(t1, json!({"op": "revoke_api_key", "key": "ghost"})), "api_key_not_found"),
        (c(t1, json!({"op": "revoke_api_key", "key": "key_del"})), "api_key_deleted"),
        (c(t1, json!({"op": "revoke_api_key", "key": "key_rev"})), "api_key_revoked"),
        (c(t1, json!({"op": "revoke_api_key", "key": "key_n"})), "ok"),
        (c(t1, json!({"op": "delete_api_key", "key": "ghost"})), "api_key_not_found"),
        (c(t1, json!({"op": "delete_api_key", "key": "key_del"})), "api_key_deleted"),
        (c(t1, json!({"op": "delete_api_key", "key": "key_rev"})), "ok"),
        (c(t1, json!({"op": "login", "session": "ses_1", "user": "alice", "token": "newsession1"})), "duplicate_id"),
        (c(t1, json!({"op": "login", "session": "ses_n", "user": "alice", "token": "sk_live_alice1"})), "duplicate_token"),
        (c(t1, json!({"op": "login", "session": "ses_n", "user": "alice", "token": "sk_live_zzzzz"})), "invalid_token"),
        (c(t1, json!({"op": "login", "session": "ses_n", "user": "alice", "token": "a b"})), "invalid_token"),
        (c(t1, json!({"op": "login", "session": "ses_n", "user": "ghost", "token": "newsession1"})), "unknown_user"),
        (c(t1, json!({"op": "login", "session": "ses_n", "user": "carol", "token": "newsession1"})), "user_banned"),
        (c(t1, json!({"op": "login", "session": "ses_n", "user": "frank", "token": "newsession1", "tenant": "beta"})), "not_a_member"),
        (c(t1, json!({"op": "login", "session": "ses_n", "user": "frank", "token": "newsession1", "tenant": "ghost"})), "not_a_member"),
        (c(t1, json!({"op": "login", "session": "ses_n", "user": "frank", "token": "newsession1", "tenant": "acme"})), "ok"),
        (c(t1, json!({"op": "logout", "session": "ghost"})), "session_not_found"),
        (c(t1, json!({"op": "logout", "session": "ses_future"})), "session_not_found"),
        (c(t1, json!({"op": "logout", "session": "ses_rev"})), "session_revoked"),
        (c(t1, json!({"op": "logout", "session": "ses_exp"})), "session_expired"),
        (c(t1, json!({"op": "switch_tenant", "session": "ghost", "tenant": "acme"})), "session_not_found"),
        (c(t1, json!({"op": "switch_tenant", "session": "ses_rev", "tenant": "acme"})), "session_revoked"),
        (c(t1, json!({"op": "switch_tenant", "session": "ses_exp", "tenant": "acme"})), "session_expired"),
        (c(t1, json!({"op": "switch_tenant", "session": "ses_1", "tenant": "ghost"})), "not_a_member"),
        (c(t1, json!({"op": "switch_tenant", "session": "ses_n", "tenant": "beta"})), "not_a_member"),
        (c(t1, json!({"op": "switch_tenant", "session": "ses_1", "tenant": "susp"})), "tenant_suspended"),
        (c(t1, json!({"op": "switch_tenant", "session": "ses_1", "tenant": "acme"})), "no_change"),
        (c(t1, json!({"op": "switch_tenant", "session": "ses_1", "tenant": "beta"})), "ok"),
        (c(t1, json!({"op": "switch_tenant", "session": "ses_bob", "tenant": "acme"})), "ok"),
        (c(t1, json!({"op": "create_resource", "tenant": "acme", "resource": "conv_1", "owner": "alice"})), "duplicate_id"),
        (c(t1, json!({"op": "create_resource", "tenant": "ghost", "resource": "conv_1", "owner": "alice"})), "unknown_tenant"),
        (c(t1, json!({"op": "create_resource", "tenant": "acme", "resource": "conv_3", "owner": "dave"})), "not_a_member"),
        (c(t1, json!({"op": "create_resource", "tenant": "beta", "resource": "conv_1", "owner": "bob"})), "ok"),
        (c(t1, json!({"op": "delete_resource", "tenant": "beta", "resource": "conv_2"})), "resource_not_found"),
        (c(t1, json!({"op": "delete_resource", "tenant": "acme", "resource": "conv_2"})), "ok"),
        // Bans revoke live sessions, for good.
        (c(t1, json!({"op": "ban_user", "user": "bob"})), "ok"),
        (auth(t1, "workspace.read", cookie("sesbob0001"), none()), "session_revoked"),
        (c(t1, json!({"op": "unban_user", "user": "bob"})), "ok"),
        (auth(t1, "workspace.read", cookie("sesbob0001"), none()), "session_revoked"),
        (auth(t1, "workspace.read", key("sk_live_nocap1"), none()), "allow"),
        // Removing a member clears active tenants and denies, re-adding
        // restores the user's keys.
        (c(t1, json!({"op": "remove_member", "user": "alice", "tenant": "beta"})), "ok"),
        (auth(t1, "workspace.read", cookie("sesalice1/+="), none()), "tenant_required"),
        (auth(t1, "workspace.read", cookie("sesalice1/+="), json!({"tenant": "beta"})), "not_a_member"),
        (c(t1, json!({"op": "remove_member", "user": "alice", "tenant": "acme"})), "ok"),
        (auth(t1, "workspace.read", key("sk_live_alice1"), none()), "not_a_member"),
        (c(t1, json!({"op": "add_member", "user": "alice", "tenant": "acme", "role": "owner"})), "ok"),
        (auth(t1, "workspace.read", key("sk_live_alice1"), none()), "allow"),
        (c(t1, json!({"op": "logout", "session": "ses_1"})), "ok"),
        (auth(t1, "workspace.read", cookie("sesalice1/+="), json!({"tenant": "acme"})), "session_revoked"),
    ]);
}

/// Sliding refresh at its exact boundaries: `expires_at - ttl +
/// refresh_after == at` refreshes, one second earlier does not; the cap
/// `created_at + absolute_max` applies at equality, and an extension that
/// would not move the expiry later is no effect at all.
#[test]
fn sliding_refresh_boundaries() {
    // ttl 10d, refresh_after 2d, absolute_max 25d. Session created 05-01,
    // expires 05-11: threshold = 05-11 - 10d + 2d = 05-03.
    let policy = "[session]\nttl = \"10d\"\nrefresh_after = \"2d\"\nabsolute_max = \"25d\"\n";
    let snap = |created: &str, expires: &str| -> Snapshot {
        serde_json::from_value(json!({
            "tenants": [{"id": "acme"}], "users": [{"id": "alice"}],
            "memberships": [{"user": "alice", "tenant": "acme", "role": "owner"}],
            "sessions": [{"id": "s", "user": "alice", "tenant": "acme", "token_sha256": h("slidetok1"),
                          "created_at": created, "expires_at": expires}]
        }))
        .unwrap()
    };
    let effects = |run: &mut Fixture, at: &str| -> Vec<String> {
        let cmd =
            Command::from_value(auth(at, "workspace.read", cookie("slidetok1"), none())).unwrap();
        let r = run.step(&cmd);
        let d = r.decision().unwrap();
        assert!(d.is_allow(), "{at}: {:?}", d.reason);
        d.effects
            .iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["expires_at"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };

    let mut run = Fixture::new(snap("2026-05-01T00:00:00Z", "2026-05-11T00:00:00Z"), policy);
    assert_eq!(
        effects(&mut run, "2026-05-02T23:59:59Z"),
        Vec::<String>::new()
    );
    assert_eq!(
        effects(&mut run, "2026-05-03T00:00:00Z"),
        vec!["2026-05-13T00:00:00Z"]
    );
    // Now expires 05-13: threshold 05-05.
    assert_eq!(
        effects(&mut run, "2026-05-04T23:59:59Z"),
        Vec::<String>::new()
    );
    assert_eq!(
        effects(&mut run, "2026-05-05T00:00:00Z"),
        vec!["2026-05-15T00:00:00Z"]
    );
    assert_eq!(
        effects(&mut run, "2026-05-12T00:00:00Z"),
        vec!["2026-05-22T00:00:00Z"]
    );
    // at + ttl == cap exactly (05-26): the cap is that value.
    assert_eq!(
        effects(&mut run, "2026-05-16T00:00:00Z"),
        vec!["2026-05-26T00:00:00Z"]
    );
    // Past the cap: capped at 05-26, which is not later: no effect.
    assert_eq!(
        effects(&mut run, "2026-05-20T00:00:00Z"),
        Vec::<String>::new()
    );
    // Expiring exactly now is expired.
    let cmd = Command::from_value(auth(
        "2026-05-26T00:00:00Z",
        "workspace.read",
        cookie("slidetok1"),
        none(),
    ))
    .unwrap();
    assert_eq!(outcome(&run.step(&cmd)), "session_expired");

    // A cap that cuts an extension short but still moves it later.
    let mut run = Fixture::new(snap("2026-05-01T00:00:00Z", "2026-05-24T00:00:00Z"), policy);
    assert_eq!(
        effects(&mut run, "2026-05-20T00:00:00Z"),
        vec!["2026-05-26T00:00:00Z"]
    );

    // sliding = false: never.
    let mut run = Fixture::new(
        snap("2026-05-01T00:00:00Z", "2026-05-11T00:00:00Z"),
        "[session]\nsliding = false\n",
    );
    assert_eq!(
        effects(&mut run, "2026-05-10T00:00:00Z"),
        Vec::<String>::new()
    );

    // login: expires_at = at + min(ttl, absolute_max).
    let mut run = Fixture::new(
        snap("2026-05-01T00:00:00Z", "2026-05-11T00:00:00Z"),
        "[session]\nttl = \"10d\"\nabsolute_max = \"3d\"\n",
    );
    let login = json!({"at": "2026-05-01T00:00:00Z", "op": "login", "session": "s2", "user": "alice", "token": "logintok1"});
    assert_eq!(
        outcome(&run.step(&Command::from_value(login).unwrap())),
        "ok"
    );
    assert_eq!(
        run.lockstep.model().snapshot().sessions[1]
            .expires_at
            .to_string(),
        "2026-05-04T00:00:00Z"
    );
}
