//! Concurrency on PostgreSQL: several connections (threads) run
//! authenticate, logout, revoke_api_key and remove_member in parallel
//! against the same rows. Every command is journaled with a sequence
//! number drawn inside its transaction while it holds its row locks, so for
//! two commands that touch the same row the sequence is their commit
//! order. Afterwards:
//!
//! - no allow of a session or key has a sequence after the logout / revoke
//!   of that credential, and no allow for (user, tenant) comes after the
//!   removal of that membership;
//! - no session was revived: a revoked or expired session's `expires_at`
//!   never grew after it was revoked (no refresh after the revoke, and the
//!   expired ones kept their expiry);
//! - replaying the journal in sequence order on the engine gives exactly
//!   the journaled results and the final state the database holds (the
//!   execution was serializable in that order).

use crate::common;

use std::collections::BTreeMap;

use authproof_engine::{
    Change, Command, CommandResult, CredentialKind, Effect, Policy, RecordRef, Snapshot, State,
    Timestamp, TokenHash,
};
use serde_json::json;

const USERS: usize = 6;
const SESSIONS_PER_USER: usize = 3;
const THREADS: usize = 6;
const OPS_PER_THREAD: usize = 120;
const AT: &str = "2026-05-28T12:00:00Z";

fn session_token(u: usize, s: usize) -> String {
    format!("ses_tok_{u}_{s}")
}

fn key_token(u: usize) -> String {
    format!("sk_live_tok_{u}")
}

/// Users u0.. in tenants t1 and t2; per user sessions (the last one
/// already expired at AT, the others due for a sliding refresh) and a key.
fn snapshot() -> Snapshot {
    let mut memberships = Vec::new();
    let mut sessions = Vec::new();
    let mut keys = Vec::new();
    for u in 0..USERS {
        for t in ["t1", "t2"] {
            memberships.push(
                json!({"user": format!("u{u}"), "tenant": t, "role": "owner",
                                    "since": "2026-01-01T00:00:00Z"}),
            );
        }
        for s in 0..SESSIONS_PER_USER {
            let expires = if s + 1 == SESSIONS_PER_USER {
                "2026-05-28T11:59:59Z"
            } else {
                "2026-05-28T13:00:00Z"
            };
            sessions.push(json!({"id": format!("s{u}_{s}"), "user": format!("u{u}"),
                "tenant": "t1", "token_sha256": TokenHash::of(&session_token(u, s)).to_string(),
                "created_at": "2026-05-01T00:00:00Z", "expires_at": expires}));
        }
        keys.push(
            json!({"id": format!("k{u}"), "owner": format!("u{u}"), "tenant": "t1",
            "token_sha256": TokenHash::of(&key_token(u)).to_string(),
            "created_at": "2026-05-01T00:00:00Z"}),
        );
    }
    serde_json::from_value(json!({
        "tenants": [{"id": "t1"}, {"id": "t2"}],
        "users": (0..USERS).map(|u| json!({"id": format!("u{u}")})).collect::<Vec<_>>(),
        "memberships": memberships, "api_keys": keys, "sessions": sessions,
    }))
    .unwrap()
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn command(rng: &mut Rng) -> Command {
    let u = rng.below(USERS);
    let s = rng.below(SESSIONS_PER_USER);
    let t = ["t1", "t2"][rng.below(2)];
    let v = match rng.below(40) {
        0..=17 => json!({"op": "authenticate", "action": "workspace.read", "tenant": t,
            "headers": {"cookie": format!("better-auth.session_token={}", session_token(u, s))}}),
        18..=33 => json!({"op": "authenticate", "action": "workspace.read", "tenant": "t1",
            "headers": {"x-api-key": key_token(u)}}),
        34..=35 => json!({"op": "logout", "session": format!("s{u}_{s}")}),
        36..=37 => json!({"op": "revoke_api_key", "key": format!("k{u}")}),
        _ => json!({"op": "remove_member", "user": format!("u{u}"), "tenant": t}),
    };
    let mut v = v;
    v["at"] = json!(AT);
    Command::from_value(v).unwrap()
}

#[test]
fn parallel_authenticate_revoke_logout_remove_member_on_postgres() {
    let Some(url) = common::pg_database("concurrency") else {
        return;
    };
    let policy = Policy::default();
    let initial = snapshot();
    common::open(&url).import(&initial, false).unwrap();

    std::thread::scope(|scope| {
        for th in 0..THREADS {
            let (url, policy) = (&url, &policy);
            scope.spawn(move || {
                let mut store = common::open(url);
                store.set_journal(true);
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((th as u64 + 1) * 0x1234_5678_9abc));
                for _ in 0..OPS_PER_THREAD {
                    let cmd = command(&mut rng);
                    store.apply(policy, &cmd).expect("command commits");
                }
            });
        }
    });

    let mut store = common::open(&url);
    let journal = store.journal().unwrap();
    let final_snapshot = store.export().unwrap();
    assert!(
        journal.len() > THREADS * OPS_PER_THREAD / 2,
        "journal has {} entries",
        journal.len()
    );

    // When each credential / membership ended (journal seq).
    let mut revoked_at_seq: BTreeMap<(CredentialKind, String), i64> = BTreeMap::new();
    let mut removed_at_seq: BTreeMap<(String, String), i64> = BTreeMap::new();
    for e in &journal {
        if let CommandResult::Ok { changes, .. } = &e.result {
            for c in changes {
                match c {
                    Change::Update {
                        record: RecordRef::Session { id },
                        field,
                        ..
                    } if field == "revoked_at" => {
                        revoked_at_seq.insert((CredentialKind::Session, id.to_string()), e.seq);
                    }
                    Change::Update {
                        record: RecordRef::ApiKey { id },
                        field,
                        ..
                    } if field == "revoked_at" => {
                        revoked_at_seq.insert((CredentialKind::ApiKey, id.to_string()), e.seq);
                    }
                    Change::Delete {
                        record: RecordRef::Membership { user, tenant },
                    } => {
                        removed_at_seq.insert((user.to_string(), tenant.to_string()), e.seq);
                    }
                    _ => {}
                }
            }
        }
    }
    let (mut allows, mut refreshes) = (0, 0);
    for e in &journal {
        let Some(d) = e.result.decision() else {
            continue;
        };
        if !d.is_allow() {
            continue;
        }
        allows += 1;
        let c = d.credential.as_ref().unwrap();
        if let Some(&r) = revoked_at_seq.get(&(c.kind, c.id.to_string())) {
            assert!(
                e.seq < r,
                "allow #{} of {:?} {} after its revoke #{r}",
                e.seq,
                c.kind,
                c.id
            );
        }
        let member = (
            d.user.clone().unwrap().to_string(),
            d.tenant.clone().unwrap().to_string(),
        );
        if let Some(&r) = removed_at_seq.get(&member) {
            assert!(
                e.seq < r,
                "allow #{} for {member:?} after its removal #{r}",
                e.seq
            );
        }
        for Effect::ExtendSession { session, .. } in &d.effects {
            refreshes += 1;
            if let Some(&r) = revoked_at_seq.get(&(CredentialKind::Session, session.to_string())) {
                assert!(
                    e.seq < r,
                    "refresh #{} of {session} after its revoke #{r}",
                    e.seq
                );
            }
        }
    }
    assert!(
        allows > 0 && refreshes > 0,
        "{allows} allows, {refreshes} refreshes"
    );

    // No revival: expired sessions kept their expiry; a revoked session's
    // expiry is the one it had when revoked.
    let at = Timestamp::parse(AT).unwrap();
    for (before, after) in initial.sessions.iter().zip(&final_snapshot.sessions) {
        assert_eq!(before.id, after.id);
        if before.expires_at <= at {
            assert_eq!(after.expires_at, before.expires_at, "{} revived", before.id);
        }
        assert!(after.expires_at >= before.expires_at);
    }

    // Serializable in journal order: the engine, replaying the journal in
    // sequence order, gives the same results and the same final state.
    let mut engine = State::from_snapshot(initial.clone()).unwrap();
    for e in &journal {
        let cmd = replayed_command(e, &journal);
        let r = engine.apply(&policy, &cmd);
        assert_eq!(r, e.result, "journal #{} replayed", e.seq);
    }
    assert_eq!(
        serde_json::to_string_pretty(&engine.to_snapshot()).unwrap(),
        serde_json::to_string_pretty(&final_snapshot).unwrap()
    );
    eprintln!(
        "concurrency: {} committed commands, {allows} allows, {refreshes} refreshes, {} revokes, {} removals",
        journal.len(),
        revoked_at_seq.len(),
        removed_at_seq.len()
    );
}

/// The journal stores results, not commands: rebuild the command from the
/// result (each of these ops names its target in its changes or decision).
fn replayed_command(
    e: &authproof_store::JournalEntry,
    _: &[authproof_store::JournalEntry],
) -> Command {
    let v = match &e.result {
        CommandResult::Decision { decision, .. } => {
            let c = decision.credential.as_ref();
            let headers = match c.map(|c| (c.kind, c.id.as_str())) {
                Some((CredentialKind::Session, id)) => {
                    let (u, s) = id[1..].split_once('_').unwrap();
                    json!({"cookie": format!("better-auth.session_token={}",
                        session_token(u.parse().unwrap(), s.parse().unwrap()))})
                }
                Some((CredentialKind::ApiKey, id)) => {
                    json!({"x-api-key": key_token(id[1..].parse().unwrap())})
                }
                None => panic!("every generated request names a known credential"),
            };
            let tenant = match c.map(|c| c.kind) {
                Some(CredentialKind::ApiKey) => json!("t1"),
                _ => json!(decision.tenant),
            };
            json!({"op": "authenticate", "action": decision.action, "tenant": tenant,
                   "headers": headers})
        }
        CommandResult::Ok { op, changes } => match (op.as_str(), &changes[0]) {
            (
                "logout",
                Change::Update {
                    record: RecordRef::Session { id },
                    ..
                },
            ) => {
                json!({"op": "logout", "session": id})
            }
            (
                "revoke_api_key",
                Change::Update {
                    record: RecordRef::ApiKey { id },
                    ..
                },
            ) => {
                json!({"op": "revoke_api_key", "key": id})
            }
            (
                "remove_member",
                Change::Delete {
                    record: RecordRef::Membership { user, tenant },
                },
            ) => {
                json!({"op": "remove_member", "user": user, "tenant": tenant})
            }
            other => panic!("unexpected journal entry {other:?}"),
        },
        CommandResult::Rejected { .. } => panic!("rejections are not journaled"),
    };
    let mut v = v;
    v["at"] = json!(e.at);
    Command::from_value(v).unwrap()
}
