//! The one error type of the store crate, [`Error`]: a store's database
//! (URL, connection, driver, schema, rows, writes) and the importer's
//! foreign database (mapping, source, query, columns).
//!
//! Opaque (a struct, its representation private, as the engine's error):
//! callers print it and branch on [`Error::kind`] (a `#[non_exhaustive]`
//! classification) and [`Error::connect_failure`], never on a driver's type.
//! The SQLite and PostgreSQL errors are reachable only through
//! [`source`](std::error::Error::source), so a driver upgrade is not a
//! change of this crate's API. The importer's errors are kinds of the same
//! type, not a second one: an import opens its source through the store's
//! own URL and connection code, and the CLI reports both the same way.
//!
//! Every message is complete on its own (the CLI prints it alone, without
//! the chain): it never holds a token (the stores only ever see token
//! hashes), a credential of a connection string (URLs are
//! [`redact`](crate::redact)ed) or a cell's value, and text from outside —
//! URLs, server and driver messages — is [`printable`](crate::printable)d
//! in it. The raw cause (a driver's error, the engine's integrity error)
//! is still chained through `source()`, for callers that inspect it.

use std::fmt;

use crate::conn::{printable, ConnectFailure};

/// What can go wrong in a store or an import.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Repr>);

/// What went wrong, for callers that branch on it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The URL is neither `sqlite:PATH` nor a valid `postgres://…`.
    Url,
    /// The database could not be reached or opened
    /// ([`Error::connect_failure`] says why).
    Connect,
    /// The database reported an error (the driver's error is the
    /// [`source`](std::error::Error::source)).
    Database,
    /// `import` into a database that already holds records.
    NotEmpty,
    /// The database's schema is newer than this build knows.
    SchemaTooNew,
    /// The snapshot to import (or, from an import, the snapshot read: an
    /// importer bug) breaks SPEC §2 integrity; the engine's error is the
    /// `source()`.
    Integrity,
    /// A row that cannot be a record (a value out of range, bad JSON).
    Corrupt,
    /// A write of the engine's `changes` affected a different number of
    /// rows than the change says (a row gone or different from the one the
    /// transaction read and locked). The transaction is rolled back and the
    /// error reported, never retried: it means something else writes the
    /// database behind the store's back.
    RowCount,
    /// A change the store has no SQL for (a field without a column, a
    /// created record the engine's state does not hold): a bug, reported.
    UnknownChange,
    /// An import's mapping file is not valid.
    Mapping,
    /// An import's source database cannot be opened read-only.
    Source,
    /// An import's query of a collection failed (a missing table, a
    /// syntax error).
    Query,
    /// A cell an import's mapping cannot read as its field (the wrong
    /// type, a time that does not parse): the mapping does not fit the
    /// schema.
    Column,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Repr {
    #[error("database URL {url}: {why}")]
    Url {
        /// The URL, redacted.
        url: String,
        why: String,
    },
    #[error("cannot connect to {url}: {failure}: {detail}")]
    Connect {
        /// The URL, redacted.
        url: String,
        failure: ConnectFailure,
        /// Where it tried, and the server's or the system's words.
        detail: String,
    },
    #[error("sqlite: {}", printable(&.0.to_string()))]
    Sqlite(#[source] rusqlite::Error),
    #[error("postgres: {}", Postgres(.0))]
    Postgres(#[source] postgres::Error),
    #[error("the database already holds a snapshot; pass --replace to overwrite it")]
    NotEmpty,
    #[error("the database schema is version {found}, newer than this build's {known}")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("snapshot integrity: {0}")]
    Integrity(#[source] authproof_engine::Error),
    #[error("corrupt row: {}", printable(.0))]
    Corrupt(String),
    #[error("write affected {found} rows instead of {expected}, rolled back: {write}")]
    RowCount {
        /// The change (as its JSON) or the insert that was written.
        write: String,
        expected: u64,
        found: u64,
    },
    #[error("cannot write change: {0}")]
    UnknownChange(String),
    #[error("mapping {origin}{}: {why}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Mapping {
        origin: String,
        why: String,
        line: Option<usize>,
    },
    #[error("{0}")]
    Source(String),
    #[error("[{collection}] the query failed: {why}")]
    Query {
        collection: &'static str,
        why: String,
    },
    /// Names the mapping's collection, the column and the row's key,
    /// never the cell's value.
    #[error(
        "[{collection}] column `{}`{}: {why}",
        printable(column),
        row.as_ref().map(|r| format!(", row {r}")).unwrap_or_default()
    )]
    Column {
        collection: &'static str,
        column: String,
        row: Option<String>,
        why: String,
    },
    #[error("the imported snapshot breaks integrity (a bug): {0}")]
    ImportIntegrity(#[source] authproof_engine::Error),
}

/// A PostgreSQL error's message: the server's words and its SQLSTATE, or
/// the driver's, printable.
struct Postgres<'a>(&'a postgres::Error);

impl fmt::Display for Postgres<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_db_error() {
            Some(db) => write!(f, "{} ({})", printable(db.message()), db.code().code()),
            None => f.write_str(&printable(&self.0.to_string())),
        }
    }
}

impl From<Repr> for Error {
    fn from(repr: Repr) -> Error {
        Error(Box::new(repr))
    }
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        match &*self.0 {
            Repr::Url { .. } => ErrorKind::Url,
            Repr::Connect { .. } => ErrorKind::Connect,
            Repr::Sqlite(_) | Repr::Postgres(_) => ErrorKind::Database,
            Repr::NotEmpty => ErrorKind::NotEmpty,
            Repr::SchemaTooNew { .. } => ErrorKind::SchemaTooNew,
            Repr::Integrity(_) | Repr::ImportIntegrity(_) => ErrorKind::Integrity,
            Repr::Corrupt(_) => ErrorKind::Corrupt,
            Repr::RowCount { .. } => ErrorKind::RowCount,
            Repr::UnknownChange(_) => ErrorKind::UnknownChange,
            Repr::Mapping { .. } => ErrorKind::Mapping,
            Repr::Source(_) => ErrorKind::Source,
            Repr::Query { .. } => ErrorKind::Query,
            Repr::Column { .. } => ErrorKind::Column,
        }
    }

    /// Why a connection could not be made, for [`ErrorKind::Connect`].
    pub fn connect_failure(&self) -> Option<ConnectFailure> {
        match &*self.0 {
            Repr::Connect { failure, .. } => Some(*failure),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn repr(&self) -> &Repr {
        &self.0
    }

    /// Errors after which re-running the whole transaction is correct and
    /// may succeed: PostgreSQL serialization failures, deadlocks, a unique
    /// key taken by a concurrent transaction (the re-run then rejects with
    /// `duplicate_id`), and SQLite's busy database.
    pub(crate) fn retryable(&self) -> bool {
        match &*self.0 {
            Repr::Postgres(e) => e
                .code()
                .is_some_and(|c| matches!(c.code(), "40001" | "40P01" | "23505")),
            Repr::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DatabaseBusy
            }
            _ => false,
        }
    }
}

/// A driver's result as the store's: the driver's error, opaque, as the
/// `source()` of an [`ErrorKind::Database`] error. A crate-private trait
/// rather than `From` impls, which would make the drivers' error types part
/// of this crate's API.
pub(crate) trait Driver<T> {
    fn db(self) -> Result<T, Error>;
}

impl<T> Driver<T> for Result<T, rusqlite::Error> {
    fn db(self) -> Result<T, Error> {
        self.map_err(|e| Repr::Sqlite(e).into())
    }
}

impl<T> Driver<T> for Result<T, postgres::Error> {
    fn db(self) -> Result<T, Error> {
        self.map_err(|e| Repr::Postgres(e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn driver_errors_are_chained_and_printable() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let e = c
            .execute("SELECT * FROM \"no\u{1b}table\"", [])
            .db()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Database);
        let msg = e.to_string();
        assert!(msg.starts_with("sqlite: "), "{msg}");
        assert!(!msg.contains('\u{1b}'), "printable: {msg:?}");
        let source = e.source().expect("the driver's error is chained");
        assert!(source.downcast_ref::<rusqlite::Error>().is_some());
    }

    #[test]
    fn integrity_chains_the_engine_error() {
        let cause = authproof_engine::Error::at_path("$.tenants[1].id", "duplicate tenant id");
        let e = Error::from(Repr::Integrity(cause.clone()));
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert_eq!(
            e.to_string(),
            "snapshot integrity: $.tenants[1].id: duplicate tenant id"
        );
        assert_eq!(e.source().unwrap().to_string(), cause.to_string());
        let e = Error::from(Repr::ImportIntegrity(cause));
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert!(e.source().is_some());
    }

    #[test]
    fn import_messages() {
        let e = Error::from(Repr::Mapping {
            origin: "m.toml".into(),
            why: "bad".into(),
            line: Some(3),
        });
        assert_eq!(e.to_string(), "mapping m.toml:3: bad");
        let e = Error::from(Repr::Mapping {
            origin: "m.toml".into(),
            why: "bad".into(),
            line: None,
        });
        assert_eq!(e.to_string(), "mapping m.toml: bad");
        let e = Error::from(Repr::Column {
            collection: "users",
            column: "a\u{7}".into(),
            row: Some("u1".into()),
            why: "not a time".into(),
        });
        assert_eq!(
            e.to_string(),
            "[users] column `a\\u{7}`, row u1: not a time"
        );
        let e = Error::from(Repr::Column {
            collection: "users",
            column: "a".into(),
            row: None,
            why: "missing".into(),
        });
        assert_eq!(e.to_string(), "[users] column `a`: missing");
        assert!(e.source().is_none());
    }
}
