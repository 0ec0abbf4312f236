//! # authproof-store
//!
//! Real stores for authproof: the state of SPEC §2 in SQLite (embedded,
//! the default) or PostgreSQL, and every command of SPEC §8 persisted in
//! one transaction. The store does not implement the commands: per
//! command it reads the slice of records the command needs (with row
//! locks), runs the engine's own `State::apply` on that slice, and writes
//! the result's `changes` as INSERT / UPDATE / DELETE, each checked to
//! affect exactly the rows the change names (docs/STORES.md).
//!
//! - [`Store::open`] picks the backend by URL: `sqlite:PATH` (or
//!   `sqlite::memory:`), `postgres://…` / `postgresql://…`.
//! - [`Store::migrate`] creates or upgrades the schema (`schema_version`,
//!   ordered migrations in [`schema`]).
//! - [`Store::import`] / [`Store::export`] load and write a snapshot; the
//!   export of an import is byte-identical to the engine's `to_snapshot()`,
//!   also after any commands (records keep an insertion sequence).
//! - [`Store::apply`] runs one command: read the slice, engine, write.
//!
//! docs/STORES.md describes the isolation level and the row locks of each
//! command. No raw token is ever stored or printed: only SHA-256 hashes.
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

mod commands;
mod conn;
mod db;
mod error;
pub mod import;
mod records;
pub mod schema;
mod slice;
mod write;

use std::fmt;

use authproof_engine::{Command, CommandResult, Policy, Snapshot, State, Timestamp};

pub use conn::{printable, redact, ConnectFailure, Url, CONNECT_TIMEOUT};
use db::{PgTx, SqliteTx, Tx};
use error::{Driver, Repr};
pub use error::{Error, ErrorKind};

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// A connection to a store.
pub struct Store {
    backend: Backend,
    journal: bool,
    /// An engine fault run inside every command (`faults` builds only).
    fault: Option<authproof_engine::Fault>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .field("journal", &self.journal)
            .finish()
    }
}

/// How many times a transaction is re-run after a retryable error
/// (deadlock, serialization failure, a concurrently taken unique key).
const RETRIES: usize = 50;

impl Store {
    /// Connects to the database `url` names (see [`Url`]). Does not create
    /// or check the schema: call [`Store::migrate`]. A failure says why
    /// ([`ErrorKind::Connect`], [`ConnectFailure`]) without a credential.
    pub fn open(url: &str) -> Result<Store, Error> {
        let backend = match Url::parse(url)? {
            Url::Sqlite(path) => {
                let conn = conn::open_sqlite(&path)?;
                conn.busy_timeout(std::time::Duration::from_secs(30)).db()?;
                conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")
                    .db()?;
                Backend::Sqlite(conn)
            }
            Url::Postgres(u) => Backend::Postgres(Box::new(conn::connect_postgres(&u)?)),
        };
        Ok(Store {
            backend,
            journal: false,
            fault: None,
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Records every committed command's result in the `journal` table, in
    /// commit order of conflicting commands (for audits and for the
    /// concurrency tests). Off by default.
    pub fn set_journal(&mut self, on: bool) {
        self.journal = on;
    }

    /// Switches an engine fault (docs/INCIDENTS.md) on in the engine state
    /// each command builds, for `authproof conform` against a faulty store.
    #[cfg(feature = "faults")]
    pub fn inject(&mut self, fault: Option<authproof_engine::Fault>) {
        self.fault = fault;
    }

    /// Creates the schema or applies the migrations it lacks; returns the
    /// schema version. Refuses a database newer than this build.
    pub fn migrate(&mut self) -> Result<i64, Error> {
        let pg = matches!(self.backend, Backend::Postgres(_));
        self.batch(schema::BOOTSTRAP)?;
        let current = self.schema_version()?.unwrap_or(0);
        if current > schema::SCHEMA_VERSION {
            return Err(Repr::SchemaTooNew {
                found: current,
                known: schema::SCHEMA_VERSION,
            }
            .into());
        }
        for (i, m) in schema::MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version <= current {
                continue;
            }
            let ddl = if pg {
                schema::postgres(m)
            } else {
                schema::sqlite(m)
            };
            match &mut self.backend {
                Backend::Sqlite(c) => {
                    let tx = c
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .db()?;
                    tx.execute_batch(&ddl).db()?;
                    tx.execute(
                        "INSERT INTO schema_version (version) VALUES (?1)",
                        [version],
                    )
                    .db()?;
                    tx.commit().db()?;
                }
                Backend::Postgres(c) => {
                    let mut tx = c.transaction().db()?;
                    tx.batch_execute(&ddl).db()?;
                    tx.execute(
                        "INSERT INTO schema_version (version) VALUES ($1)",
                        &[&version],
                    )
                    .db()?;
                    tx.commit().db()?;
                }
            }
        }
        Ok(schema::SCHEMA_VERSION)
    }

    /// The highest applied migration, or `None` before the first.
    pub fn schema_version(&mut self) -> Result<Option<i64>, Error> {
        self.batch(schema::BOOTSTRAP)?;
        self.transact(|tx| {
            let r = tx.query_opt("SELECT MAX(version) FROM schema_version", &[])?;
            Ok((r.map(|r| r.int(0)).transpose()?.flatten(), false))
        })
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        match &mut self.backend {
            Backend::Sqlite(c) => c.execute_batch(sql).db()?,
            Backend::Postgres(c) => c.batch_execute(sql).db()?,
        }
        Ok(())
    }

    /// Runs `f` in one transaction: SQLite `BEGIN IMMEDIATE` (writers are
    /// serialized), PostgreSQL READ COMMITTED with the row locks the SQL
    /// takes. `f` returns its value and whether to commit. A retryable
    /// error re-runs the whole transaction.
    fn transact<T>(
        &mut self,
        mut f: impl FnMut(&mut dyn Tx) -> Result<(T, bool), Error>,
    ) -> Result<T, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r: Result<T, Error> = match &mut self.backend {
                Backend::Sqlite(c) => (|| {
                    let tx = c
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .db()?;
                    let (v, commit) = f(&mut SqliteTx(&tx))?;
                    if commit {
                        tx.commit().db()?;
                    } else {
                        tx.rollback().db()?;
                    }
                    Ok(v)
                })(),
                Backend::Postgres(c) => (|| {
                    let mut tx = c
                        .build_transaction()
                        .isolation_level(postgres::IsolationLevel::ReadCommitted)
                        .start()
                        .db()?;
                    let (v, commit) = f(&mut PgTx(&mut tx))?;
                    if commit {
                        tx.commit().db()?;
                    } else {
                        tx.rollback().db()?;
                    }
                    Ok(v)
                })(),
            };
            match r {
                Err(e) if e.retryable() && attempt < RETRIES => {
                    std::thread::sleep(std::time::Duration::from_millis(attempt as u64));
                    continue;
                }
                r => return r,
            }
        }
    }

    /// Whether the database holds no record and no `taken_at`.
    pub fn is_empty(&mut self) -> Result<bool, Error> {
        self.transact(|tx| {
            for table in schema::TABLES {
                if tx
                    .query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])?
                    .is_some()
                {
                    return Ok((false, false));
                }
            }
            Ok((true, false))
        })
    }

    /// Loads `snapshot` (integrity-checked as the engine does) in one
    /// transaction. A database that already holds records is refused with
    /// [`ErrorKind::NotEmpty`] unless `replace`, which deletes them first.
    pub fn import(&mut self, snapshot: &Snapshot, replace: bool) -> Result<(), Error> {
        State::from_snapshot(snapshot.clone()).map_err(Repr::Integrity)?;
        self.transact(|tx| {
            let mut empty = true;
            for table in schema::TABLES {
                if tx
                    .query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])?
                    .is_some()
                {
                    empty = false;
                }
            }
            if !empty {
                if !replace {
                    return Err(Repr::NotEmpty.into());
                }
                for table in schema::TABLES.iter().rev() {
                    tx.exec(&format!("DELETE FROM {table}"), &[])?;
                }
            }
            if let Some(t) = snapshot.taken_at {
                tx.exec(
                    "INSERT INTO meta (name, int_value) VALUES ('taken_at', ?1)",
                    &[t.unix().into()],
                )?;
            }
            for x in &snapshot.tenants {
                records::insert_tenant(tx, x)?;
            }
            for x in &snapshot.users {
                records::insert_user(tx, x)?;
            }
            for x in &snapshot.memberships {
                records::insert_membership(tx, x)?;
            }
            for x in &snapshot.api_keys {
                records::insert_key(tx, x)?;
            }
            for x in &snapshot.sessions {
                records::insert_session(tx, x)?;
            }
            for x in &snapshot.resources {
                records::insert_resource(tx, x)?;
            }
            Ok(((), true))
        })
    }

    /// The snapshot the database holds, records in insertion order.
    pub fn export(&mut self) -> Result<Snapshot, Error> {
        use records::*;
        self.transact(|tx| {
            let taken_at = tx
                .query_opt("SELECT int_value FROM meta WHERE name = 'taken_at'", &[])?
                .map(|r| opt_ts(r.int(0)?, "meta.taken_at"))
                .transpose()?
                .flatten();
            let mut s = Snapshot {
                taken_at,
                ..Snapshot::default()
            };
            let q = |tx: &mut dyn Tx, cols: &str, table: &str| {
                tx.query(&format!("SELECT {cols} FROM {table} ORDER BY seq"), &[])
            };
            for r in q(tx, TENANT_COLS, "tenants")? {
                s.tenants.push(tenant_row(&r)?);
            }
            for r in q(tx, USER_COLS, "users")? {
                s.users.push(user_row(&r)?);
            }
            for r in q(tx, MEMBERSHIP_COLS, "memberships")? {
                s.memberships.push(membership_row(&r)?);
            }
            for r in q(tx, KEY_COLS, "api_keys")? {
                s.api_keys.push(key_row(&r)?);
            }
            for r in q(tx, SESSION_COLS, "sessions")? {
                s.sessions.push(session_row(&r)?);
            }
            for r in q(tx, RESOURCE_COLS, "resources")? {
                s.resources.push(resource_row(&r)?);
            }
            Ok((s, false))
        })
    }

    /// Applies one command in one transaction under `policy`. A rejection
    /// rolls back (it wrote nothing anyway); `ok` and decisions commit.
    pub fn apply(&mut self, policy: &Policy, cmd: &Command) -> Result<CommandResult, Error> {
        let journal = self.journal;
        let fault = self.fault;
        self.transact(|tx| {
            let done = commands::apply(tx, policy, cmd, fault)?;
            if journal && done.commit {
                tx.exec(
                    "INSERT INTO journal (at, op, result) VALUES (?1, ?2, ?3)",
                    &[
                        cmd.at.unix().into(),
                        cmd.op.name().into(),
                        serde_json::to_string(&done.result)
                            .expect("results serialize")
                            .into(),
                    ],
                )?;
            }
            Ok((done.result, done.commit))
        })
    }

    /// The journal, `(seq, at, op, result JSON)` in sequence order.
    pub fn journal(&mut self) -> Result<Vec<JournalEntry>, Error> {
        self.transact(|tx| {
            let rows = tx.query("SELECT seq, at, op, result FROM journal ORDER BY seq", &[])?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let result = r.text(3)?.unwrap_or_default();
                out.push(JournalEntry {
                    seq: r.int(0)?.unwrap_or_default(),
                    at: records::ts(r.int(1)?, "journal.at")?,
                    op: r.text(2)?.unwrap_or_default(),
                    result: serde_json::from_str(&result)
                        .map_err(|e| Repr::Corrupt(format!("journal.result: {e}")))?,
                });
            }
            Ok((out, false))
        })
    }
}

/// One committed command, from the journal.
#[derive(Clone, Debug)]
pub struct JournalEntry {
    /// Sequence number, drawn while the command held its row locks.
    pub seq: i64,
    pub at: Timestamp,
    pub op: String,
    pub result: CommandResult,
}
