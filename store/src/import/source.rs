//! The foreign database, opened read-only: SQLite with
//! `SQLITE_OPEN_READ_ONLY` (and `query_only`), PostgreSQL in one
//! `REPEATABLE READ READ ONLY` transaction; every query of an import reads
//! one consistent state of the database (SQLite: one read transaction).

use std::time::SystemTime;

use postgres::types::Type;

use crate::error::{Driver, Error, Repr};
use crate::{conn, printable, Url};

/// One cell, as the importer reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
    /// A PostgreSQL timestamp, in microseconds since the Unix epoch (UTC).
    Micros(i64),
}

impl Value {
    /// What kind of value this is, for messages (never the value).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real number",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Bool(_) => "a boolean",
            Value::Micros(_) => "a timestamp",
        }
    }
}

/// An open foreign database.
pub enum Source {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.backend())
    }
}

impl Source {
    /// Opens `url` read-only. A SQLite file must exist.
    pub fn open(url: &str) -> Result<Source, Error> {
        match Url::parse(url)? {
            Url::Sqlite(path) => {
                use rusqlite::OpenFlags;
                if path == ":memory:" {
                    return Err(
                        Repr::Source("sqlite::memory: holds nothing to import".into()).into(),
                    );
                }
                if !std::path::Path::new(&path).is_file() {
                    return Err(Repr::Source(format!(
                        "sqlite:{}: no such database file",
                        printable(&path)
                    ))
                    .into());
                }
                let c = rusqlite::Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|e| {
                    Repr::Source(format!(
                        "sqlite:{}: cannot open read-only: {}",
                        printable(&path),
                        printable(&e.to_string())
                    ))
                })?;
                c.busy_timeout(std::time::Duration::from_secs(30))
                    .and_then(|_| c.execute_batch("PRAGMA query_only = 1; BEGIN DEFERRED;"))
                    .map_err(|e| Repr::Source(format!("sqlite: {}", printable(&e.to_string()))))?;
                Ok(Source::Sqlite(c))
            }
            Url::Postgres(u) => {
                let mut c = conn::connect_postgres(&u)?;
                c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .db()?;
                Ok(Source::Postgres(Box::new(c)))
            }
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Source::Sqlite(_) => "sqlite",
            Source::Postgres(_) => "postgres",
        }
    }

    /// Ends the read transaction (nothing was written: roll back).
    pub fn close(self) {
        match self {
            Source::Sqlite(c) => {
                let _ = c.execute_batch("ROLLBACK");
            }
            Source::Postgres(mut c) => {
                let _ = c.batch_execute("ROLLBACK");
            }
        }
    }

    /// Runs `sql` and calls `row` for every result row with the cells of
    /// `columns` (by name, in that order). A column the result lacks is an
    /// error naming it.
    pub fn each(
        &mut self,
        collection: &'static str,
        sql: &str,
        columns: &[&str],
        mut row: impl FnMut(&[Value]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let query_err = |e: String| Repr::Query {
            collection,
            why: printable(&e),
        };
        let missing = |have: Vec<String>, want: &str| Repr::Column {
            collection,
            column: want.to_string(),
            row: None,
            why: format!(
                "the query's result has no column `{}` (it has: {})",
                printable(want),
                printable(&have.join(", "))
            ),
        };
        let mut cells = vec![Value::Null; columns.len()];
        match self {
            Source::Sqlite(c) => {
                let mut stmt = c.prepare(sql).map_err(|e| query_err(e.to_string()))?;
                let names: Vec<String> =
                    stmt.column_names().iter().map(|s| s.to_string()).collect();
                let mut idx = Vec::with_capacity(columns.len());
                for want in columns {
                    match names.iter().position(|n| n == want) {
                        Some(i) => idx.push(i),
                        None => return Err(missing(names, want).into()),
                    }
                }
                let mut rows = stmt.query([]).map_err(|e| query_err(e.to_string()))?;
                while let Some(r) = rows.next().map_err(|e| query_err(e.to_string()))? {
                    for (cell, &i) in cells.iter_mut().zip(&idx) {
                        use rusqlite::types::ValueRef;
                        *cell = match r.get_ref(i).map_err(|e| query_err(e.to_string()))? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(v) => Value::Int(v),
                            ValueRef::Real(v) => Value::Real(v),
                            ValueRef::Text(t) => match std::str::from_utf8(t) {
                                Ok(s) => Value::Text(s.to_string()),
                                Err(_) => Value::Bytes(t.to_vec()),
                            },
                            ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                        };
                    }
                    row(&cells)?;
                }
                Ok(())
            }
            Source::Postgres(c) => {
                use postgres::fallible_iterator::FallibleIterator;
                let stmt = c.prepare(sql).map_err(|e| query_err(pg_message(&e)))?;
                let names: Vec<String> = stmt
                    .columns()
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect();
                let mut idx = Vec::with_capacity(columns.len());
                for want in columns {
                    match names.iter().position(|n| n == want) {
                        Some(i) => idx.push(i),
                        None => return Err(missing(names, want).into()),
                    }
                }
                let types: Vec<Type> = idx
                    .iter()
                    .map(|&i| stmt.columns()[i].type_().clone())
                    .collect();
                for (t, want) in types.iter().zip(columns) {
                    if !supported(t) {
                        return Err(Repr::Column {
                            collection,
                            column: want.to_string(),
                            row: None,
                            why: format!(
                                "PostgreSQL type {} is not read by the importer: cast it in the query (to text, bigint, boolean or timestamptz)",
                                t.name()
                            ),
                        }.into());
                    }
                }
                let mut rows = c
                    .query_raw(
                        &stmt,
                        std::iter::empty::<&(dyn postgres::types::ToSql + Sync)>(),
                    )
                    .map_err(|e| query_err(pg_message(&e)))?;
                while let Some(r) = rows.next().map_err(|e| query_err(pg_message(&e)))? {
                    for ((cell, &i), t) in cells.iter_mut().zip(&idx).zip(&types) {
                        *cell = pg_value(&r, i, t).map_err(|e| query_err(pg_message(&e)))?;
                    }
                    row(&cells)?;
                }
                Ok(())
            }
        }
    }
}

fn supported(t: &Type) -> bool {
    [
        Type::BOOL,
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::FLOAT4,
        Type::FLOAT8,
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::BYTEA,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMP,
        Type::UNKNOWN,
    ]
    .contains(t)
}

fn pg_value(r: &postgres::Row, i: usize, t: &Type) -> Result<Value, postgres::Error> {
    macro_rules! get {
        ($ty:ty, $wrap:expr) => {
            r.try_get::<_, Option<$ty>>(i)?.map_or(Value::Null, $wrap)
        };
    }
    Ok(match *t {
        Type::BOOL => get!(bool, Value::Bool),
        Type::INT2 => get!(i16, |v| Value::Int(v.into())),
        Type::INT4 => get!(i32, |v| Value::Int(v.into())),
        Type::INT8 => get!(i64, Value::Int),
        Type::FLOAT4 => get!(f32, |v| Value::Real(v.into())),
        Type::FLOAT8 => get!(f64, Value::Real),
        Type::BYTEA => get!(Vec<u8>, Value::Bytes),
        Type::TIMESTAMPTZ | Type::TIMESTAMP => get!(SystemTime, |v| Value::Micros(micros(v))),
        _ => get!(String, Value::Text),
    })
}

/// Microseconds since the epoch (negative before it).
fn micros(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}
