//! A write that affects a different number of rows than the engine's change
//! says aborts the command loudly: here a trigger silently skips the
//! UPDATE or DELETE (SQLite `RAISE(IGNORE)`, a PostgreSQL `BEFORE` trigger
//! returning NULL), which is exactly "an UPDATE that matched 0 rows and
//! reported success". The store must return `ErrorKind::RowCount`, not
//! retry, and leave the database as it was (the whole command rolls back,
//! including the writes before the skipped one).

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};

use authproof_engine::{Command, Policy, Snapshot};
use authproof_store::{ErrorKind, Store};
use serde_json::json;

const AT: &str = "2026-05-28T12:00:00Z";

fn snapshot() -> Snapshot {
    serde_json::from_value(json!({
        "tenants": [{"id": "acme"}],
        "users": [{"id": "alice"}],
        "memberships": [{"user": "alice", "tenant": "acme", "role": "owner",
                         "since": "2026-01-01T00:00:00Z"}],
        "sessions": [{"id": "s1", "user": "alice", "tenant": "acme",
            "token_sha256": authproof_engine::TokenHash::of("ses_1").to_string(),
            "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-06-01T00:00:00Z"}],
    }))
    .unwrap()
}

fn cmd(v: serde_json::Value) -> Command {
    let mut v = v;
    v["at"] = json!(AT);
    Command::from_value(v).unwrap()
}

/// Runs `c` on `store` (holding `snapshot()` and a trigger that skips the
/// write) and checks the loud failure and the rollback.
fn expect_row_count(store: &mut Store, c: serde_json::Value) {
    let before = store.export().unwrap();
    let started = std::time::Instant::now();
    let e = store
        .apply(&Policy::default(), &cmd(c.clone()))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RowCount, "{c}: {e}");
    assert!(
        e.to_string()
            .starts_with("write affected 0 rows instead of 1, rolled back: "),
        "{c}: {e}"
    );
    assert!(e.to_string().contains("rolled back"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{c}: retried instead of failing"
    );
    assert_eq!(store.export().unwrap(), before, "{c}: partially written");
}

#[test]
fn a_skipped_write_aborts_the_command_on_sqlite() {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "authproof-row-count-{}-{}.db",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let url = format!("sqlite:{}", path.display());
    let mut store = common::open(&url);
    store.import(&snapshot(), true).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "CREATE TRIGGER skip_tenant BEFORE UPDATE ON tenants BEGIN SELECT RAISE(IGNORE); END;
         CREATE TRIGGER skip_session BEFORE UPDATE ON sessions BEGIN SELECT RAISE(IGNORE); END;
         CREATE TRIGGER skip_membership BEFORE DELETE ON memberships
             BEGIN SELECT RAISE(IGNORE); END;",
    )
    .unwrap();
    drop(raw);
    expect_row_count(
        &mut store,
        json!({"op": "suspend_tenant", "tenant": "acme"}),
    );
    // The user's UPDATE succeeds, the session's is skipped: all rolled back.
    expect_row_count(&mut store, json!({"op": "ban_user", "user": "alice"}));
    expect_row_count(
        &mut store,
        json!({"op": "remove_member", "user": "alice", "tenant": "acme"}),
    );
    // A sliding refresh is a write too.
    let e = store
        .apply(
            &Policy::default(),
            &cmd(
                json!({"op": "authenticate", "action": "workspace.read", "tenant": "acme",
                "headers": {"cookie": "better-auth.session_token=ses_1"}}),
            ),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RowCount, "{e}");
    // Writes the triggers do not touch still work.
    let r = store
        .apply(
            &Policy::default(),
            &cmd(json!({"op": "create_user", "user": "bob"})),
        )
        .unwrap();
    assert!(r.rejection().is_none(), "{r:?}");
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[test]
fn a_skipped_write_aborts_the_command_on_postgres() {
    let Some(url) = common::pg_database("row_count") else {
        return;
    };
    let mut store = common::open(&url);
    store.import(&snapshot(), true).unwrap();
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    raw.batch_execute(
        "CREATE FUNCTION skip_write() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RETURN NULL; END $$;
         CREATE TRIGGER skip_tenant BEFORE UPDATE ON tenants
             FOR EACH ROW EXECUTE FUNCTION skip_write();
         CREATE TRIGGER skip_session BEFORE UPDATE ON sessions
             FOR EACH ROW EXECUTE FUNCTION skip_write();
         CREATE TRIGGER skip_membership BEFORE DELETE ON memberships
             FOR EACH ROW EXECUTE FUNCTION skip_write();",
    )
    .unwrap();
    expect_row_count(
        &mut store,
        json!({"op": "suspend_tenant", "tenant": "acme"}),
    );
    expect_row_count(&mut store, json!({"op": "ban_user", "user": "alice"}));
    expect_row_count(
        &mut store,
        json!({"op": "remove_member", "user": "alice", "tenant": "acme"}),
    );
}
