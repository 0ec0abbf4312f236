//! Writing the engine's `changes` as SQL.
//!
//! No silent writes (I7) makes a command's `changes` its complete write
//! set, so persisting a command is translating each [`Change`] into one
//! statement: `create` → INSERT of the record as the engine holds it after
//! the command, `update` → one UPDATE of one column, `delete` → DELETE.
//!
//! Every statement must affect exactly the rows the change names (one).
//! An UPDATE matches the record by its key *and* the change's `from` value,
//! so a row that is gone or differs from what the engine decided on
//! matches nothing; any other count aborts the transaction with
//! [`ErrorKind::RowCount`](crate::ErrorKind::RowCount). That is the bug class "an UPDATE that matched
//! 0 rows and reported success", made impossible to pass silently.

use authproof_engine::{Change, RecordRef, State, Timestamp};
use serde_json::Value;

use crate::{
    db::{Tx, Val},
    error::{Error, ErrorKind, Repr},
    records::*,
};

/// The type of a column a change can update, to bind its JSON value.
#[derive(Clone, Copy)]
enum Col {
    Bool,
    Text,
    Id,
    OptId,
    Ts,
    OptTs,
}

/// A record's table and the SQL condition (parameters `?1`, `?2`) and
/// values that select it by key.
fn locate(record: &RecordRef) -> (&'static str, &'static str, Vec<Val>) {
    match record {
        RecordRef::Tenant { id } => ("tenants", "id = ?1", vec![id.as_str().into()]),
        RecordRef::User { id } => ("users", "id = ?1", vec![id.as_str().into()]),
        RecordRef::Membership { user, tenant } => (
            "memberships",
            "user_id = ?1 AND tenant_id = ?2",
            vec![user.as_str().into(), tenant.as_str().into()],
        ),
        RecordRef::ApiKey { id } => ("api_keys", "id = ?1", vec![id.as_str().into()]),
        RecordRef::Session { id } => ("sessions", "id = ?1", vec![id.as_str().into()]),
        RecordRef::Resource { tenant, id } => (
            "resources",
            "tenant_id = ?1 AND id = ?2",
            vec![tenant.as_str().into(), id.as_str().into()],
        ),
    }
}

/// The column a record's field is stored in, and its type. Keys, token
/// hashes and capabilities are not updatable.
fn column(record: &RecordRef, field: &str) -> Option<(&'static str, Col)> {
    Some(match (record, field) {
        (RecordRef::Tenant { .. }, "suspended") => ("suspended", Col::Bool),
        (RecordRef::User { .. }, "banned") => ("banned", Col::Bool),
        (RecordRef::Membership { .. }, "role") => ("role", Col::Text),
        (RecordRef::Membership { .. }, "since") => ("since", Col::Ts),
        (RecordRef::ApiKey { .. }, "owner") => ("owner", Col::Id),
        (RecordRef::ApiKey { .. }, "tenant") => ("tenant_id", Col::OptId),
        (RecordRef::ApiKey { .. }, "name") => ("name", Col::Text),
        (RecordRef::ApiKey { .. }, "enabled") => ("enabled", Col::Bool),
        (RecordRef::ApiKey { .. }, "created_at") => ("created_at", Col::Ts),
        (RecordRef::ApiKey { .. }, "expires_at") => ("expires_at", Col::OptTs),
        (RecordRef::ApiKey { .. }, "revoked_at") => ("revoked_at", Col::OptTs),
        (RecordRef::ApiKey { .. }, "deleted_at") => ("deleted_at", Col::OptTs),
        (RecordRef::Session { .. }, "tenant") => ("tenant_id", Col::OptId),
        (RecordRef::Session { .. }, "created_at") => ("created_at", Col::Ts),
        (RecordRef::Session { .. }, "expires_at") => ("expires_at", Col::Ts),
        (RecordRef::Session { .. }, "revoked_at") => ("revoked_at", Col::OptTs),
        (RecordRef::Resource { .. }, "owner") => ("owner", Col::Id),
        (RecordRef::Resource { .. }, "created_at") => ("created_at", Col::Ts),
        _ => return None,
    })
}

/// A change's JSON value as the column's SQL value.
fn bind(v: &Value, col: Col, what: &dyn Fn() -> String) -> Result<Val, Error> {
    let bad = || Repr::UnknownChange(format!("{}: value of the wrong type", what()));
    let ts = |v: &Value| -> Result<Timestamp, Error> {
        serde_json::from_value(v.clone()).map_err(|_| bad().into())
    };
    Ok(match (col, v) {
        (Col::Bool, Value::Bool(b)) => Val::Bool(*b),
        (Col::Text | Col::Id | Col::OptId, Value::String(s)) => Val::Text(Some(s.clone())),
        (Col::OptId, Value::Null) => Val::Text(None),
        (Col::OptTs, Value::Null) => Val::Int(None),
        (Col::Ts | Col::OptTs, v @ Value::String(_)) => t(ts(v)?),
        _ => return Err(bad().into()),
    })
}

/// Writes `changes`; `after` is the engine's state after the command (a
/// created record is inserted as the engine holds it).
pub(crate) fn changes(tx: &mut dyn Tx, after: &State, changes: &[Change]) -> Result<(), Error> {
    for c in changes {
        change(tx, after, c)?;
    }
    Ok(())
}

/// Writes one change (see the module documentation).
pub(crate) fn change(tx: &mut dyn Tx, after: &State, c: &Change) -> Result<(), Error> {
    let describe = || serde_json::to_string(c).expect("changes serialize");
    match c {
        Change::Create { record } => create(tx, after, record).map_err(|e| match e.kind() {
            ErrorKind::UnknownChange => Repr::UnknownChange(format!(
                "{}: the engine's state has no such record",
                describe()
            ))
            .into(),
            _ => e,
        }),
        Change::Update {
            record,
            field,
            from,
            to,
        } => {
            let (table, key, mut params) = locate(record);
            let Some((col, ty)) = column(record, field) else {
                return Err(Repr::UnknownChange(format!(
                    "{}: no column for this field",
                    describe()
                ))
                .into());
            };
            params.push(bind(to, ty, &describe)?);
            params.push(bind(from, ty, &describe)?);
            let (to_n, from_n) = (params.len() - 1, params.len());
            let sql = format!(
                "UPDATE {table} SET {col} = ?{to_n} WHERE {key} AND {col} {{is}} ?{from_n}"
            );
            expect_one(tx.exec(&sql, &params)?, describe)
        }
        Change::Delete { record } => {
            let (table, key, params) = locate(record);
            if !matches!(
                record,
                RecordRef::Membership { .. } | RecordRef::Resource { .. }
            ) {
                return Err(Repr::UnknownChange(format!(
                    "{}: this record kind is never deleted",
                    describe()
                ))
                .into());
            }
            let sql = format!("DELETE FROM {table} WHERE {key}");
            expect_one(tx.exec(&sql, &params)?, describe)
        }
    }
}

fn expect_one(found: u64, describe: impl Fn() -> String) -> Result<(), Error> {
    if found == 1 {
        Ok(())
    } else {
        Err(Repr::RowCount {
            write: describe(),
            expected: 1,
            found,
        }
        .into())
    }
}

/// Inserts the record `r` names, as `after` holds it.
fn create(tx: &mut dyn Tx, after: &State, r: &RecordRef) -> Result<(), Error> {
    let missing = || Repr::UnknownChange(String::new());
    match r {
        RecordRef::Tenant { id } => insert_tenant(
            tx,
            after.tenants().find(|x| x.id == *id).ok_or_else(missing)?,
        ),
        RecordRef::User { id } => {
            insert_user(tx, after.users().find(|x| x.id == *id).ok_or_else(missing)?)
        }
        RecordRef::Membership { user, tenant } => insert_membership(
            tx,
            after
                .memberships()
                .find(|x| x.user == *user && x.tenant == *tenant)
                .ok_or_else(missing)?,
        ),
        RecordRef::ApiKey { id } => insert_key(
            tx,
            after.api_keys().find(|x| x.id == *id).ok_or_else(missing)?,
        ),
        RecordRef::Session { id } => insert_session(
            tx,
            after.sessions().find(|x| x.id == *id).ok_or_else(missing)?,
        ),
        RecordRef::Resource { tenant, id } => insert_resource(
            tx,
            after
                .resources()
                .find(|x| x.tenant == *tenant && x.id == *id)
                .ok_or_else(missing)?,
        ),
    }
}

#[cfg(test)]
mod tests {
    use authproof_engine::{Id, Snapshot};
    use serde_json::json;

    use super::*;
    use crate::{db::SqliteTx, schema};

    fn db() -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        for m in schema::MIGRATIONS {
            c.execute_batch(&schema::sqlite(m)).unwrap();
        }
        c.execute_batch(
            "INSERT INTO tenants (id, suspended) VALUES ('acme', 0);
             INSERT INTO users (id, banned) VALUES ('alice', 0);",
        )
        .unwrap();
        c
    }

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    fn run(c: &mut rusqlite::Connection, ch: &Change) -> Result<(), Error> {
        let tx = c.transaction().unwrap();
        change(&mut SqliteTx(&tx), &State::default(), ch)
    }

    #[test]
    fn an_update_of_a_missing_row_is_an_error() {
        let mut c = db();
        let ch = Change::Update {
            record: RecordRef::Tenant { id: id("gone") },
            field: "suspended".into(),
            from: json!(false),
            to: json!(true),
        };
        let e = run(&mut c, &ch).unwrap_err();
        assert!(
            matches!(
                e.repr(),
                Repr::RowCount {
                    expected: 1,
                    found: 0,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("\"gone\""), "{e}");
    }

    #[test]
    fn an_update_from_a_value_the_row_does_not_hold_is_an_error() {
        let mut c = db();
        let ch = Change::Update {
            record: RecordRef::Tenant { id: id("acme") },
            field: "suspended".into(),
            from: json!(true),
            to: json!(false),
        };
        let e = run(&mut c, &ch).unwrap_err();
        assert!(matches!(e.repr(), Repr::RowCount { found: 0, .. }), "{e}");
        // The matching `from` writes.
        let ch = Change::Update {
            record: RecordRef::Tenant { id: id("acme") },
            field: "suspended".into(),
            from: json!(false),
            to: json!(true),
        };
        run(&mut c, &ch).unwrap();
    }

    #[test]
    fn a_delete_of_a_missing_row_is_an_error() {
        let mut c = db();
        let ch = Change::Delete {
            record: RecordRef::Membership {
                user: id("alice"),
                tenant: id("acme"),
            },
        };
        let e = run(&mut c, &ch).unwrap_err();
        assert!(matches!(e.repr(), Repr::RowCount { found: 0, .. }), "{e}");
    }

    #[test]
    fn changes_without_sql_are_errors() {
        let mut c = db();
        for ch in [
            Change::Update {
                record: RecordRef::ApiKey { id: id("k") },
                field: "token_sha256".into(),
                from: json!(null),
                to: json!("x"),
            },
            Change::Update {
                record: RecordRef::User { id: id("alice") },
                field: "banned".into(),
                from: json!("no"),
                to: json!(true),
            },
            Change::Delete {
                record: RecordRef::User { id: id("alice") },
            },
            Change::Create {
                record: RecordRef::Tenant { id: id("t2") },
            },
        ] {
            let e = run(&mut c, &ch).unwrap_err();
            assert!(matches!(e.repr(), Repr::UnknownChange(_)), "{e}");
        }
    }

    #[test]
    fn a_create_inserts_the_record_as_the_state_holds_it() {
        let mut c = db();
        let state = State::from_snapshot(
            serde_json::from_value::<Snapshot>(
                json!({"tenants": [{"id": "t2", "suspended": true}]}),
            )
            .unwrap(),
        )
        .unwrap();
        let tx = c.transaction().unwrap();
        let ch = Change::Create {
            record: RecordRef::Tenant { id: id("t2") },
        };
        change(&mut SqliteTx(&tx), &state, &ch).unwrap();
        let suspended: bool = tx
            .query_row("SELECT suspended FROM tenants WHERE id = 't2'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(suspended);
    }
}
