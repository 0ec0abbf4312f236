//! The two backends behind one small interface, [`Tx`]: a transaction that
//! runs SQL with positional parameters and returns rows of [`Val`]s.
//!
//! Every statement is written once, against [`Tx`], in a SQL subset both
//! dialects accept. The SQL text uses `?1`, `?2`, … for parameters, two
//! markers for row locks, `{update}` and `{share}`, and `{is}` for
//! NULL-safe equality: PostgreSQL gets `$1`, `FOR UPDATE`, `FOR SHARE` and
//! `IS NOT DISTINCT FROM`; SQLite, whose write transactions are serialized
//! as a whole (`BEGIN IMMEDIATE`), drops the lock markers and gets `IS`.

use std::fmt;

use postgres::types::{ToSql, Type};

use crate::conn::{printable, ConnectFailure};

/// One SQL value, as bound or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    /// BIGINT: timestamps (Unix seconds) and counters.
    Int(Option<i64>),
    /// TEXT: ids, roles, names, hashes, JSON.
    Text(Option<String>),
    /// BOOLEAN in PostgreSQL, INTEGER 0/1 in SQLite.
    Bool(bool),
    /// A NULL read back from SQLite, whose type is not known.
    Null,
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Val {
        Val::Int(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(Some(v.to_string()))
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(Some(v))
    }
}
impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Val {
        Val::Text(v.map(str::to_string))
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Bool(v)
    }
}

/// A row read back.
#[derive(Clone, Debug)]
pub(crate) struct Row(pub Vec<Val>);

impl Row {
    pub fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match &self.0[i] {
            Val::Int(v) => Ok(*v),
            Val::Null => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected an integer, found {other:?}"
            ))),
        }
    }

    pub fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match &self.0[i] {
            Val::Text(v) => Ok(v.clone()),
            Val::Null => Ok(None),
            _ => Err(StoreError::Corrupt(format!("column {i}: expected text"))),
        }
    }

    pub fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match &self.0[i] {
            Val::Bool(b) => Ok(*b),
            Val::Int(Some(v)) => Ok(*v != 0),
            _ => Err(StoreError::Corrupt(format!(
                "column {i}: expected a boolean"
            ))),
        }
    }
}

/// What can go wrong in a store. Messages never hold a token (the stores
/// only ever see token hashes) nor a credential of a connection string
/// (URLs are [`redact`](crate::redact)ed), and text from outside — URLs,
/// server and driver messages — is [`printable`](crate::printable).
#[derive(Debug)]
pub enum StoreError {
    /// The URL is neither `sqlite:PATH` nor a valid `postgres://…`.
    Url {
        /// The URL, redacted.
        url: String,
        why: String,
    },
    /// The database could not be reached or opened.
    Connect {
        /// The URL, redacted.
        url: String,
        failure: ConnectFailure,
        /// Where it tried, and the server's or the system's words.
        detail: String,
    },
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    /// `import` into a database that already holds records.
    NotEmpty,
    /// The database's schema is newer than this build knows.
    SchemaTooNew {
        found: i64,
        known: i64,
    },
    /// The snapshot to import breaks SPEC §2 integrity.
    Integrity(authproof_engine::Error),
    /// A row that cannot be a record (a value out of range, bad JSON).
    Corrupt(String),
    /// A write of the engine's `changes` affected a different number of
    /// rows than the change says (a row gone or different from the one the
    /// transaction read and locked). The transaction is rolled back and the
    /// error reported, never retried: it means something else writes the
    /// database behind the store's back.
    RowCount {
        /// The change (as its JSON) or the insert that was written.
        write: String,
        expected: u64,
        found: u64,
    },
    /// A change the store has no SQL for (a field without a column, a
    /// created record the engine's state does not hold): a bug, reported.
    UnknownChange(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Url { url, why } => write!(f, "database URL {url}: {why}"),
            StoreError::Connect {
                url,
                failure,
                detail,
            } => write!(f, "cannot connect to {url}: {failure}: {detail}"),
            StoreError::Sqlite(e) => write!(f, "sqlite: {}", printable(&e.to_string())),
            StoreError::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(
                    f,
                    "postgres: {} ({})",
                    printable(db.message()),
                    db.code().code()
                ),
                None => write!(f, "postgres: {}", printable(&e.to_string())),
            },
            StoreError::NotEmpty => {
                f.write_str("the database already holds a snapshot; pass --replace to overwrite it")
            }
            StoreError::SchemaTooNew { found, known } => write!(
                f,
                "the database schema is version {found}, newer than this build's {known}"
            ),
            StoreError::Integrity(e) => write!(f, "snapshot integrity: {e}"),
            StoreError::Corrupt(m) => write!(f, "corrupt row: {}", printable(m)),
            StoreError::RowCount {
                write,
                expected,
                found,
            } => write!(
                f,
                "write affected {found} rows instead of {expected}, rolled back: {write}"
            ),
            StoreError::UnknownChange(m) => write!(f, "cannot write change: {m}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Sqlite(e) => Some(e),
            StoreError::Postgres(e) => Some(e),
            StoreError::Integrity(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Postgres(e)
    }
}

impl StoreError {
    /// Errors after which re-running the whole transaction is correct and
    /// may succeed: PostgreSQL serialization failures, deadlocks, a unique
    /// key taken by a concurrent transaction (the re-run then rejects with
    /// `duplicate_id`), and SQLite's busy database.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            StoreError::Postgres(e) => e
                .code()
                .is_some_and(|c| matches!(c.code(), "40001" | "40P01" | "23505")),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DatabaseBusy
            }
            _ => false,
        }
    }
}

/// A transaction of either backend.
pub(crate) trait Tx {
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError>;
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError>;

    fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// `?N` → `$N`, `{update}` → `FOR UPDATE`, `{share}` → `FOR SHARE`,
/// `{is}` → `IS NOT DISTINCT FROM`.
pub(crate) fn pg_sql(sql: &str) -> String {
    sql.replace('?', "$")
        .replace("{update}", "FOR UPDATE")
        .replace("{share}", "FOR SHARE")
        .replace("{is}", "IS NOT DISTINCT FROM")
}

/// SQLite keeps `?N`, has no row locks, and its `IS` is NULL-safe.
pub(crate) fn sqlite_sql(sql: &str) -> String {
    sql.replace("{update}", "")
        .replace("{share}", "")
        .replace("{is}", "IS")
}

pub(crate) struct SqliteTx<'a>(pub &'a rusqlite::Transaction<'a>);

fn sqlite_params(params: &[Val]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    params
        .iter()
        .map(|p| match p {
            Val::Int(Some(i)) => V::Integer(*i),
            Val::Text(Some(s)) => V::Text(s.clone()),
            Val::Bool(b) => V::Integer(i64::from(*b)),
            Val::Int(None) | Val::Text(None) | Val::Null => V::Null,
        })
        .collect()
}

impl Tx for SqliteTx<'_> {
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(&sqlite_sql(sql))?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(sqlite_params(params)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(Some(v)),
                    ValueRef::Text(t) => Val::Text(Some(
                        std::str::from_utf8(t)
                            .map_err(|_| StoreError::Corrupt("text column is not UTF-8".into()))?
                            .to_string(),
                    )),
                    ValueRef::Real(_) | ValueRef::Blob(_) => {
                        return Err(StoreError::Corrupt(format!(
                            "column {i}: unexpected real or blob"
                        )))
                    }
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let mut stmt = self.0.prepare_cached(&sqlite_sql(sql))?;
        Ok(stmt.execute(rusqlite::params_from_iter(sqlite_params(params)))? as u64)
    }
}

pub(crate) struct PgTx<'a, 'b>(pub &'a mut postgres::Transaction<'b>);

fn pg_params(params: &[Val]) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync> {
            match p {
                Val::Int(v) => Box::new(*v),
                Val::Text(v) => Box::new(v.clone()),
                Val::Bool(b) => Box::new(*b),
                Val::Null => Box::new(None::<String>),
            }
        })
        .collect()
}

impl Tx for PgTx<'_, '_> {
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.0.query(pg_sql(sql).as_str(), &refs)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, c) in r.columns().iter().enumerate() {
                let t = c.type_();
                row.push(if *t == Type::INT8 {
                    Val::Int(r.try_get(i)?)
                } else if *t == Type::INT4 {
                    Val::Int(r.try_get::<_, Option<i32>>(i)?.map(i64::from))
                } else if *t == Type::BOOL {
                    Val::Bool(r.try_get(i)?)
                } else {
                    Val::Text(r.try_get(i)?)
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        Ok(self.0.execute(pg_sql(sql).as_str(), &refs)?)
    }
}
