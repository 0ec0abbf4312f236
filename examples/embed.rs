//! Embedding `authproof-engine` in a service.
//!
//! ```sh
//! cargo run --example embed
//! ```
//!
//! A service loads its state and policy once at start-up (here from the
//! repository's `examples/` directory), then for every incoming request
//! builds a [`Request`] and asks [`State::decide`]; state changes (login,
//! revoke, remove a member, the sliding refresh of an allowed session
//! request) go through [`State::apply`], which either changes the state and
//! lists the changes or rejects the command and leaves the state as it was.
//!
//! The engine does no I/O and reads no clock: the service passes the time
//! of each request. Nothing printed here contains a raw token — a decision
//! identifies a credential by its record id and at most 8 hex characters of
//! the token's SHA-256.

use std::{
    error::Error,
    path::{Path, PathBuf},
};

use authproof_engine::{
    load, Command, CommandResult, Decision, Effect, Headers, Op, Policy, Request, State, Timestamp,
};

/// The repository's `examples/` directory, wherever cargo is run from.
fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn read(name: &str) -> Result<(Vec<u8>, String), Box<dyn Error>> {
    let path = examples_dir().join(name);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((bytes, format!("examples/{name}")))
}

/// The auth layer of a service: state and policy, loaded once.
struct AuthLayer {
    state: State,
    policy: Policy,
}

impl AuthLayer {
    /// Loads and integrity-checks the snapshot and the policy. Every error
    /// names the file and the JSON path or TOML key.
    fn load(snapshot: &str, policy: Option<&str>) -> Result<AuthLayer, Box<dyn Error>> {
        let (bytes, name) = read(snapshot)?;
        let state = load::snapshot(&bytes, &name)?;
        let policy = match policy {
            None => Policy::default(),
            Some(p) => {
                let (bytes, name) = read(p)?;
                load::policy(std::str::from_utf8(&bytes)?, &name)?
            }
        };
        Ok(AuthLayer { state, policy })
    }

    /// Decides one request: pure, the state is not touched.
    fn decide(&self, request: &Request) -> Decision {
        self.state.decide(&self.policy, request)
    }

    /// Decides one request and applies its effects (the sliding refresh),
    /// as a request handler does before letting it through: this is the
    /// `authenticate` command. `decide` alone only reports the effects.
    fn authenticate(&mut self, request: &Request) -> Decision {
        let cmd = Command {
            at: request.at,
            op: Op::Authenticate {
                action: request.action.clone(),
                headers: request.headers.clone(),
                tenant: request.tenant.clone(),
                resource: request.resource.clone(),
            },
        };
        let result = self.state.apply(&self.policy, &cmd);
        let decision = result
            .decision()
            .cloned()
            .expect("authenticate returns a decision");
        for effect in &decision.effects {
            let Effect::ExtendSession {
                session,
                expires_at,
            } = effect;
            println!("    applied: session {session} now expires at {expires_at}");
        }
        decision
    }
}

/// One line per decision: verdict, reason, status, who, where.
fn summary(d: &Decision) -> String {
    let reason = d.reason.map_or("-".to_string(), |r| r.to_string());
    let cred = d
        .credential
        .as_ref()
        .map_or("-".to_string(), |c| format!("{} {}", c.kind.as_str(), c.id));
    let scope: Vec<&str> = d.scope.iter().map(|t| t.as_str()).collect();
    format!(
        "{:5} {} {:22} credential={} tenant={} scope=[{}]",
        format!("{:?}", d.decision).to_lowercase(),
        d.status,
        reason,
        cred,
        d.tenant.as_deref().unwrap_or("-"),
        scope.join(",")
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    // 1. Start-up: load once.
    let mut auth = AuthLayer::load("snapshot.json", None)?;
    let legacy = AuthLayer::load("snapshot.json", Some("policy-legacy-oldest.toml"))?;
    println!(
        "loaded examples/snapshot.json ({} records, taken at {})",
        auth.state.record_count(),
        auth.state
            .taken_at()
            .map_or("-".to_string(), |t| t.to_string())
    );

    // 2. Per request: decide. Requests come from the example files here; a
    //    service builds them from its HTTP request (see step 3).
    println!("\ndecisions (default policy):");
    for name in [
        "f01-revoked-key",
        "f02-cookie-session",
        "f03-reencoded-token",
        "f04-key-header",
        "f05-key-other-tenant",
        "f10-cross-tenant-resume",
        "f10-cross-tenant-resume-not-member",
        "f12-legacy-key",
        "f13-expiry-boundary",
    ] {
        let (bytes, file) = read(&format!("requests/{name}.json"))?;
        let request = load::request(&bytes, &file)?;
        println!("  {name:36} {}", summary(&auth.decide(&request)));
    }
    let (bytes, file) = read("requests/f12-legacy-key.json")?;
    let request = load::request(&bytes, &file)?;
    println!("\ndecision with policy-legacy-oldest.toml:");
    println!(
        "  {:36} {}",
        "f12-legacy-key",
        summary(&legacy.decide(&request))
    );

    // 3. A request built in code, as a handler would from its HTTP request.
    //    Header names match case-insensitively; the cookie value is used
    //    verbatim (never percent-decoded).
    let request = Request {
        at: Timestamp::parse("2026-05-28T12:00:00Z")?,
        action: "workspace.read".to_string(),
        headers: Headers::new([("Cookie", "theme=dark; better-auth.session_token=unknown/+=")])
            .map_err(|name| format!("duplicate header {name}"))?,
        tenant: None,
        resource: None,
    };
    let d = auth.decide(&request);
    println!("\na request built in code:");
    println!("  {:36} {}", "unknown session cookie", summary(&d));
    println!("  explain:");
    for line in d.explain_lines() {
        println!("    {line}");
    }

    // 4. An allowed session request with its sliding refresh applied.
    println!("\nauthenticate (decide + apply the sliding refresh):");
    let (bytes, file) = read("requests/f02-cookie-session.json")?;
    let request = load::request(&bytes, &file)?;
    let d = auth.authenticate(&request);
    println!("  {:36} {}", "f02-cookie-session", summary(&d));

    // 5. State changes: apply commands; each is ok with its changes or
    //    rejected with one reason (and the state unchanged).
    println!("\ncommands (examples/commands.jsonl):");
    let (bytes, file) = read("commands.jsonl")?;
    let commands = load::commands_jsonl(&bytes, &file)?;
    for (i, cmd) in commands.iter().enumerate() {
        let result = auth.state.apply(&auth.policy, cmd);
        let line = match &result {
            CommandResult::Ok { op, changes } => {
                format!("{op}: ok, {} change(s)", changes.len())
            }
            CommandResult::Rejected { op, reason, .. } => format!("{op}: rejected {reason}"),
            CommandResult::Decision { op, decision } => format!("{op}: {}", summary(decision)),
        };
        println!("  {:2} {} {line}", i + 1, cmd.at);
    }

    // 6. The state can be written back as a snapshot (records in a stable
    //    order, so the same inputs give byte-identical JSON).
    let snapshot = serde_json::to_string(&auth.state.to_snapshot())?;
    println!(
        "\nfinal snapshot: {} bytes, {} records",
        snapshot.len(),
        auth.state.record_count()
    );
    Ok(())
}
