//! Schema, URLs, import and export on both backends.

use crate::common;

use authproof_engine::{load, Policy, Snapshot};
use authproof_store::{schema::SCHEMA_VERSION, ErrorKind, Store, Url};

fn stores(test: &str) -> Vec<Store> {
    let mut out = vec![common::sqlite_memory()];
    if let Some(url) = common::pg_database(test) {
        out.push(common::open(&url));
    }
    out
}

fn example() -> Snapshot {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/snapshot.json"
    ))
    .expect("examples/snapshot.json");
    load::snapshot(&bytes, "snapshot.json")
        .unwrap()
        .to_snapshot()
}

#[test]
fn urls() {
    assert_eq!(
        Url::parse("sqlite:a.db").unwrap(),
        Url::Sqlite("a.db".into())
    );
    assert_eq!(
        Url::parse("sqlite:///tmp/a.db").unwrap(),
        Url::Sqlite("/tmp/a.db".into())
    );
    assert!(matches!(
        Url::parse("postgres://h/db").unwrap(),
        Url::Postgres(_)
    ));
    assert!(matches!(
        Url::parse("postgresql://h/db").unwrap(),
        Url::Postgres(_)
    ));
    let e = Url::parse("mysql://u:secret@h/db").unwrap_err();
    assert!(!e.to_string().contains("secret"), "{e}");
    assert!(Url::parse("sqlite:").is_err());
}

#[test]
fn migrations_are_idempotent_and_versioned() {
    for mut s in stores("migrations") {
        assert_eq!(s.schema_version().unwrap(), Some(SCHEMA_VERSION));
        assert_eq!(s.migrate().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.schema_version().unwrap(), Some(SCHEMA_VERSION));
    }
    let mut fresh = Store::open("sqlite::memory:").unwrap();
    assert_eq!(fresh.schema_version().unwrap(), None);
}

#[test]
fn import_export_round_trip_and_refusal() {
    let snap = example();
    for mut s in stores("import_export") {
        assert!(s.is_empty().unwrap());
        s.import(&snap, false).unwrap();
        assert!(!s.is_empty().unwrap());
        assert_eq!(
            serde_json::to_string_pretty(&s.export().unwrap()).unwrap(),
            serde_json::to_string_pretty(&snap).unwrap()
        );
        assert_eq!(
            s.import(&snap, false).map_err(|e| e.kind()),
            Err(ErrorKind::NotEmpty)
        );
        s.import(&Snapshot::default(), true).unwrap();
        assert!(s.is_empty().unwrap());
        assert_eq!(s.export().unwrap(), Snapshot::default());
    }
}

#[test]
fn import_checks_integrity_first() {
    let mut snap = example();
    let dup = snap.tenants[0].clone();
    snap.tenants.push(dup);
    for mut s in stores("integrity") {
        let e = s.import(&snap, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
        // The engine's error, chained: where the snapshot breaks the rule.
        let cause = std::error::Error::source(&e).expect("chained").to_string();
        let at = format!("$.tenants[{}].id: ", snap.tenants.len() - 1);
        assert!(cause.starts_with(&at), "{cause}");
        assert!(s.is_empty().unwrap());
    }
}

#[test]
fn rejections_leave_the_database_unchanged() {
    let snap = example();
    let policy = Policy::default();
    let cmd = authproof_engine::Command::from_value(serde_json::json!({
        "at": "2026-05-28T12:00:00Z", "op": "update_api_key", "key": "nope", "name": "x"}))
    .unwrap();
    for mut s in stores("rejections") {
        s.import(&snap, false).unwrap();
        let r = s.apply(&policy, &cmd).unwrap();
        assert_eq!(r.rejection().map(|r| r.code()), Some("api_key_not_found"));
        assert_eq!(s.export().unwrap(), snap);
    }
}
