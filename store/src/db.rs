//! The two backends behind one small interface, [`Tx`]: a transaction that
//! runs SQL with positional parameters and returns rows of [`Val`]s.
//!
//! Every statement is written once, against [`Tx`], in a SQL subset both
//! dialects accept. The SQL text uses `?1`, `?2`, … for parameters, two
//! markers for row locks, `{update}` and `{share}`, and `{is}` for
//! NULL-safe equality: PostgreSQL gets `$1`, `FOR UPDATE`, `FOR SHARE` and
//! `IS NOT DISTINCT FROM`; SQLite, whose write transactions are serialized
//! as a whole (`BEGIN IMMEDIATE`), drops the lock markers and gets `IS`.

use postgres::types::{ToSql, Type};

use crate::error::{Driver, Error, Repr};

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
    pub fn int(&self, i: usize) -> Result<Option<i64>, Error> {
        match &self.0[i] {
            Val::Int(v) => Ok(*v),
            Val::Null => Ok(None),
            other => Err(Repr::Corrupt(format!(
                "column {i}: expected an integer, found {other:?}"
            ))
            .into()),
        }
    }

    pub fn text(&self, i: usize) -> Result<Option<String>, Error> {
        match &self.0[i] {
            Val::Text(v) => Ok(v.clone()),
            Val::Null => Ok(None),
            _ => Err(Repr::Corrupt(format!("column {i}: expected text")).into()),
        }
    }

    pub fn bool(&self, i: usize) -> Result<bool, Error> {
        match &self.0[i] {
            Val::Bool(b) => Ok(*b),
            Val::Int(Some(v)) => Ok(*v != 0),
            _ => Err(Repr::Corrupt(format!("column {i}: expected a boolean")).into()),
        }
    }
}

/// A transaction of either backend.
pub(crate) trait Tx {
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, Error>;
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, Error>;

    fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, Error> {
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
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, Error> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(&sqlite_sql(sql)).db()?;
        let n = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(sqlite_params(params)))
            .db()?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().db()? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i).db()? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(Some(v)),
                    ValueRef::Text(t) => Val::Text(Some(
                        std::str::from_utf8(t)
                            .map_err(|_| Repr::Corrupt("text column is not UTF-8".into()))?
                            .to_string(),
                    )),
                    ValueRef::Real(_) | ValueRef::Blob(_) => {
                        return Err(
                            Repr::Corrupt(format!("column {i}: unexpected real or blob")).into(),
                        )
                    }
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, Error> {
        let mut stmt = self.0.prepare_cached(&sqlite_sql(sql)).db()?;
        Ok(stmt
            .execute(rusqlite::params_from_iter(sqlite_params(params)))
            .db()? as u64)
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
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, Error> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.0.query(pg_sql(sql).as_str(), &refs).db()?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, c) in r.columns().iter().enumerate() {
                let t = c.type_();
                row.push(if *t == Type::INT8 {
                    Val::Int(r.try_get(i).db()?)
                } else if *t == Type::INT4 {
                    Val::Int(r.try_get::<_, Option<i32>>(i).db()?.map(i64::from))
                } else if *t == Type::BOOL {
                    Val::Bool(r.try_get(i).db()?)
                } else {
                    Val::Text(r.try_get(i).db()?)
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, Error> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.0.execute(pg_sql(sql).as_str(), &refs).db()
    }
}
