//! Shared by the store tests: where the PostgreSQL under test is, and a
//! small command generator.
#![allow(dead_code)]

pub mod tiny;

use std::sync::atomic::{AtomicUsize, Ordering};

use authproof_store::Store;
use postgres::NoTls;

/// A fresh, empty PostgreSQL database for one test, as a URL; `None` only
/// when `AUTHPROOF_SKIP_PG=1` says to leave PostgreSQL out. Without
/// `AUTHPROOF_PG_URL` (set by `scripts/with-postgres`) the test fails: a
/// missing database is never a silent skip.
pub fn pg_database(test: &str) -> Option<String> {
    let base = match std::env::var("AUTHPROOF_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            if std::env::var("AUTHPROOF_SKIP_PG").as_deref() == Ok("1") {
                eprintln!("{test}: PostgreSQL part SKIPPED (AUTHPROOF_SKIP_PG=1)");
                return None;
            }
            panic!(
                "{test}: AUTHPROOF_PG_URL is not set. Run the tests under \
                 `scripts/with-postgres cargo test ...` (or set AUTHPROOF_SKIP_PG=1 \
                 to leave PostgreSQL out explicitly)"
            );
        }
    };
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "ap_{}_{}_{}",
        test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
    .to_lowercase();
    let mut admin = postgres::Client::connect(&base, NoTls).expect("connect to AUTHPROOF_PG_URL");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&sql).expect("create a test database");
    }
    Some(with_database(&base, &name))
}

/// `base` with its database (the URL path) replaced by `name`.
pub fn with_database(base: &str, name: &str) -> String {
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let (head, query) = match base.find('?') {
        Some(q) => (&base[..q], &base[q..]),
        None => (base, ""),
    };
    let path_start = head[scheme_end..]
        .find('/')
        .map_or(head.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &head[..path_start])
}

/// A migrated store at `url`.
pub fn open(url: &str) -> Store {
    let mut s = Store::open(url).unwrap_or_else(|e| panic!("open {url}: {e}"));
    s.migrate().expect("migrate");
    s
}

/// A migrated in-memory SQLite store.
pub fn sqlite_memory() -> Store {
    open("sqlite::memory:")
}

/// A store as an implementation under test for the lockstep harness of
/// `authproof-verification` (the store crate itself cannot depend on it:
/// verification is what checks the store). Only the store's public API.
pub struct StoreUnderTest<'s>(pub &'s mut Store);

impl authproof_verification::Implementation for StoreUnderTest<'_> {
    type Error = authproof_store::Error;

    fn apply(
        &mut self,
        policy: &authproof_engine::Policy,
        command: &authproof_engine::Command,
    ) -> Result<authproof_engine::CommandResult, Self::Error> {
        self.0.apply(policy, command)
    }

    fn snapshot(&mut self) -> Result<authproof_engine::Snapshot, Self::Error> {
        self.0.export()
    }
}
