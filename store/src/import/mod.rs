//! Importing a foreign auth database into an authproof snapshot
//! (docs/IMPORT.md): better-auth through its built-in mapping
//! ([`Mapping::better_auth`], `mappings/better-auth.toml`), any other schema
//! through a mapping file of the same form.
//!
//! The database is opened read-only (SQLite `SQLITE_OPEN_READ_ONLY` and
//! `query_only`; PostgreSQL one `REPEATABLE READ READ ONLY` transaction).
//! Token columns are turned into SHA-256 hashes as each row is read: no
//! raw token is kept, written, logged or put in an error. Every record
//! that is skipped, merged or changed on the way is listed in the
//! [`Summary`] with its reason; nothing is dropped silently.
//!
//! Rounding of times to SPEC §1 whole seconds (docs/IMPORT.md §3): times
//! at which something *stops* (expiry, revocation, deletion) are floored,
//! times at which something *starts* (creation, membership since) are
//! ceiled, so that authproof never treats a credential or membership as
//! live at a (floored) request time at which the source system did not.

pub mod mapping;
mod source;
pub mod values;

use std::collections::{HashMap, HashSet};

use authproof_engine::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    Id, Snapshot, State, Timestamp, TokenHash,
};
use serde::Serialize;

pub use mapping::{Collection, Mapping};
use source::{Source, Value};
use values::{ceil_secs, floor_secs};

use crate::error::{Error, Repr};
use crate::{printable, redact};

/// Import options.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The snapshot's `taken_at`, and the time at which a ban with an end
    /// (`ban_expires`) is judged.
    pub at: Timestamp,
}

/// An imported snapshot and what happened on the way.
#[derive(Debug)]
pub struct Imported {
    pub snapshot: Snapshot,
    pub summary: Summary,
}

/// The import summary (`--summary FILE`, and on stderr).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The mapping's `name`.
    pub mapping: String,
    /// The source URL, credentials masked.
    pub source: String,
    pub backend: &'static str,
    pub taken_at: Timestamp,
    /// Per collection, in SPEC §2 order.
    pub counts: Counts,
    /// Every record skipped, merged, changed or worth a note, in
    /// collection order and then record order.
    pub notes: Vec<Note>,
}

/// Counts of every collection.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub tenants: Count,
    pub users: Count,
    pub memberships: Count,
    pub api_keys: Count,
    pub sessions: Count,
    pub resources: Count,
}

impl Counts {
    fn get(&mut self, c: &str) -> &mut Count {
        match c {
            "tenants" => &mut self.tenants,
            "users" => &mut self.users,
            "memberships" => &mut self.memberships,
            "api_keys" => &mut self.api_keys,
            "sessions" => &mut self.sessions,
            _ => &mut self.resources,
        }
    }

    /// `(collection, count)` in SPEC §2 order.
    pub fn all(&self) -> [(&'static str, &Count); 6] {
        [
            ("tenants", &self.tenants),
            ("users", &self.users),
            ("memberships", &self.memberships),
            ("api_keys", &self.api_keys),
            ("sessions", &self.sessions),
            ("resources", &self.resources),
        ]
    }
}

/// One collection's counts: `read = imported + skipped + merged`;
/// `changed` and `noted` count imported records with a note.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Count {
    pub read: u64,
    pub imported: u64,
    pub skipped: u64,
    pub merged: u64,
    pub changed: u64,
    pub noted: u64,
    /// Whether the mapping has this collection at all.
    pub mapped: bool,
}

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Not imported.
    Skipped,
    /// Folded into another record (a duplicate membership).
    Merged,
    /// Imported with a field different from the source's (documented).
    Changed,
    /// Imported as is; something worth knowing.
    Noted,
}

/// One record's note.
#[derive(Clone, Debug, Serialize)]
pub struct Note {
    pub collection: &'static str,
    /// The record's key (its id, or the mapping's `key` column).
    pub record: String,
    pub action: Action,
    /// A stable code (docs/IMPORT.md §4 lists them).
    pub reason: &'static str,
    pub detail: String,
}

/// Reads the database `url` through `mapping`.
pub fn run(url: &str, mapping: &Mapping, opts: &Options) -> Result<Imported, Error> {
    let mut src = Source::open(url)?;
    let backend = src.backend();
    let mut im = Importer {
        src: &mut src,
        mapping,
        at_us: i128::from(opts.at.unix()) * 1_000_000,
        summary: Summary {
            mapping: mapping.name.clone(),
            source: redact(url),
            backend,
            taken_at: opts.at,
            counts: Counts::default(),
            notes: Vec::new(),
        },
        snapshot: Snapshot {
            taken_at: Some(opts.at),
            ..Snapshot::default()
        },
        tokens: HashSet::new(),
    };
    im.tenants()?;
    im.users()?;
    im.memberships()?;
    im.api_keys()?;
    im.sessions()?;
    im.resources()?;
    let Importer {
        summary, snapshot, ..
    } = im;
    src.close();
    State::from_snapshot(snapshot.clone()).map_err(Repr::ImportIntegrity)?;
    Ok(Imported { snapshot, summary })
}

struct Importer<'a> {
    src: &'a mut Source,
    mapping: &'a Mapping,
    at_us: i128,
    summary: Summary,
    snapshot: Snapshot,
    tokens: HashSet<TokenHash>,
}

/// The columns a collection's query must return, by field name.
struct Cols {
    names: Vec<String>,
    fields: Vec<&'static str>,
}

impl Cols {
    fn new(c: &Collection) -> Cols {
        let mut names = Vec::new();
        let mut fields = Vec::new();
        macro_rules! col {
            ($($f:ident),*) => {$(
                if let Some(n) = &c.$f {
                    fields.push(stringify!($f));
                    names.push(n.clone());
                }
            )*};
        }
        col!(
            key,
            id,
            user,
            owner,
            tenant,
            role,
            since,
            suspended,
            banned,
            ban_expires,
            token,
            prefix,
            capabilities,
            enabled,
            name,
            created_at,
            expires_at,
            revoked_at,
            deleted_at
        );
        Cols { names, fields }
    }

    fn idx(&self, field: &str) -> Option<usize> {
        self.fields.iter().position(|f| *f == field)
    }
}

/// One row, read: the cells by field, and how to name the row.
struct Row<'r> {
    collection: &'static str,
    cells: &'r [Value],
    cols: &'r Cols,
    c: &'r Collection,
    key: String,
}

impl Row<'_> {
    fn cell(&self, field: &str) -> &Value {
        self.cols
            .idx(field)
            .map_or(&Value::Null, |i| &self.cells[i])
    }

    fn err(&self, field: &str, why: String) -> Error {
        Repr::Column {
            collection: self.collection,
            column: self
                .cols
                .idx(field)
                .map_or(field.to_string(), |i| self.cols.names[i].clone()),
            row: Some(self.key.clone()),
            why,
        }
        .into()
    }

    fn text(&self, field: &str) -> Result<Option<String>, Error> {
        values::text(self.cell(field)).map_err(|w| self.err(field, w))
    }

    fn boolean(&self, field: &str) -> Result<Option<bool>, Error> {
        values::boolean(self.cell(field)).map_err(|w| self.err(field, w))
    }

    fn micros(&self, field: &str) -> Result<Option<i64>, Error> {
        values::micros(self.cell(field), self.c.integer_times).map_err(|w| self.err(field, w))
    }

    /// A time at which something stops: floored.
    fn end(&self, field: &str) -> Result<Option<Timestamp>, Error> {
        self.micros(field)?
            .map(|us| self.ts(field, floor_secs(us)))
            .transpose()
    }

    /// A time at which something starts: ceiled.
    fn start(&self, field: &str) -> Result<Option<Timestamp>, Error> {
        self.micros(field)?
            .map(|us| self.ts(field, ceil_secs(us)))
            .transpose()
    }

    fn ts(&self, field: &str, secs: i64) -> Result<Timestamp, Error> {
        Timestamp::from_unix(secs)
            .ok_or_else(|| self.err(field, "a time outside the years 0000–9999".into()))
    }
}

/// A record's key for notes and messages: printable, at most 200 chars.
fn show(s: &str) -> String {
    let p = printable(s);
    if p.chars().count() > 200 {
        p.chars().take(200).chain(std::iter::once('…')).collect()
    } else {
        p
    }
}

/// A reason code and its detail.
type Why = (&'static str, String);

/// Notes grouped by (collection, action, reason).
type Groups<'n> = Vec<((&'static str, Action, &'static str), Vec<&'n Note>)>;

/// Outcome of converting one row.
enum Conv<T> {
    Ok(T),
    Skip(&'static str, String),
}

impl Importer<'_> {
    fn note(
        &mut self,
        collection: &'static str,
        record: &str,
        action: Action,
        reason: &'static str,
        detail: String,
    ) {
        let count = self.summary.counts.get(collection);
        match action {
            Action::Skipped => count.skipped += 1,
            Action::Merged => count.merged += 1,
            Action::Changed => count.changed += 1,
            Action::Noted => count.noted += 1,
        }
        self.summary.notes.push(Note {
            collection,
            record: show(record),
            action,
            reason,
            detail,
        });
    }

    /// Reads every row of `collection` and converts it with `conv`, which
    /// sees the row and returns a record (with its sort key and notes) or
    /// a skip. Records come back sorted by their key: the order of the
    /// database does not matter.
    fn read<T>(
        &mut self,
        collection: &'static str,
        mut conv: impl FnMut(&Row) -> Result<Conv<T>, Error>,
        sort_key: impl Fn(&T) -> String,
    ) -> Result<Vec<(String, T)>, Error> {
        let Some(c) = self.mapping.collection(collection) else {
            return Ok(Vec::new());
        };
        self.summary.counts.get(collection).mapped = true;
        let backend = self.src.backend();
        let sql = c.query_for(backend).unwrap_or_default().to_string();
        let cols = Cols::new(c);
        let names: Vec<&str> = cols.names.iter().map(String::as_str).collect();
        let key_field = if c.key.is_some() {
            "key"
        } else if c.id.is_some() {
            "id"
        } else {
            ""
        };
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        let mut n = 0u64;
        self.src.each(collection, &sql, &names, |cells| {
            n += 1;
            let mut row = Row {
                collection,
                cells,
                cols: &cols,
                c,
                key: format!("#{n}"),
            };
            if !key_field.is_empty() {
                if let Ok(Some(k)) = values::text(row.cell(key_field)) {
                    row.key = show(&k);
                }
            }
            match conv(&row)? {
                Conv::Ok(t) => out.push((row.key.clone(), t)),
                Conv::Skip(reason, detail) => skipped.push((row.key.clone(), reason, detail)),
            }
            Ok(())
        })?;
        self.summary.counts.get(collection).read = n;
        for (k, reason, detail) in skipped {
            self.note(collection, &k, Action::Skipped, reason, detail);
        }
        out.sort_by_cached_key(|(k, t)| (sort_key(t), k.clone()));
        Ok(out)
    }

    fn id_of(row: &Row, field: &str) -> Result<Result<Id, (&'static str, String)>, Error> {
        Ok(match row.text(field)? {
            None => Err(("null_field", format!("`{field}` is NULL"))),
            Some(s) => Id::new(s).map_err(|e| ("invalid_id", format!("`{field}`: {e}"))),
        })
    }

    fn tenants(&mut self) -> Result<(), Error> {
        let rows = self.read(
            "tenants",
            |r| {
                let id = match Self::id_of(r, "id")? {
                    Ok(id) => id,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let suspended = r.boolean("suspended")?.unwrap_or(false);
                Ok(Conv::Ok(Tenant { id, suspended }))
            },
            |t| t.id.as_str().to_string(),
        )?;
        let mut seen = HashSet::new();
        for (k, t) in rows {
            if !seen.insert(t.id.clone()) {
                self.note(
                    "tenants",
                    &k,
                    Action::Skipped,
                    "duplicate_id",
                    "a tenant with this id was imported already".into(),
                );
                continue;
            }
            self.snapshot.tenants.push(t);
        }
        self.summary.counts.tenants.imported = self.snapshot.tenants.len() as u64;
        Ok(())
    }

    fn users(&mut self) -> Result<(), Error> {
        let at_us = self.at_us;
        let rows = self.read(
            "users",
            |r| {
                let id = match Self::id_of(r, "id")? {
                    Ok(id) => id,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let banned = r.boolean("banned")?.unwrap_or(false);
                let ends = r.micros("ban_expires")?;
                Ok(Conv::Ok((User { id, banned }, ends)))
            },
            |(u, _)| u.id.as_str().to_string(),
        )?;
        let mut seen = HashSet::new();
        for (k, (mut u, ends)) in rows {
            if !seen.insert(u.id.clone()) {
                self.note(
                    "users",
                    &k,
                    Action::Skipped,
                    "duplicate_id",
                    "a user with this id was imported already".into(),
                );
                continue;
            }
            if let (true, Some(e)) = (u.banned, ends) {
                let when = time_text(e);
                if i128::from(e) < at_us {
                    u.banned = false;
                    self.note(
                        "users",
                        &k,
                        Action::Changed,
                        "ban_expired",
                        format!("banned until {when}, before taken_at: imported as not banned"),
                    );
                } else {
                    self.note("users", &k, Action::Noted, "ban_has_end", format!("banned until {when}; the snapshot has no ban end: banned at every time"));
                }
            }
            self.snapshot.users.push(u);
        }
        self.summary.counts.users.imported = self.snapshot.users.len() as u64;
        Ok(())
    }

    fn memberships(&mut self) -> Result<(), Error> {
        let users: HashSet<Id> = self.snapshot.users.iter().map(|u| u.id.clone()).collect();
        let tenants: HashSet<Id> = self.snapshot.tenants.iter().map(|t| t.id.clone()).collect();
        let rows = self.read(
            "memberships",
            |r| {
                let user = match Self::id_of(r, "user")? {
                    Ok(id) => id,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let tenant = match Self::id_of(r, "tenant")? {
                    Ok(id) => id,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let Some(role) = r.text("role")? else {
                    return Ok(Conv::Skip("null_field", "`role` is NULL".into()));
                };
                let since_us = r.micros("since")?;
                let since = r.start("since")?.unwrap_or(Timestamp::EPOCH);
                Ok(Conv::Ok((
                    Membership {
                        user,
                        tenant,
                        role: role.into(),
                        since,
                    },
                    since_us,
                )))
            },
            |(m, us)| {
                // (user, tenant), then the earliest row first, then the key.
                format!(
                    "{}\u{0}{}\u{0}{:020}",
                    m.user.as_str(),
                    m.tenant.as_str(),
                    us.map_or(0u128, |v| (i128::from(v) - i128::from(i64::MIN)) as u128
                        + 1)
                )
            },
        )?;
        let mut kept: HashMap<(Id, Id), (String, String)> = HashMap::new();
        for (k, (m, _)) in rows {
            if !users.contains(&m.user) {
                self.note(
                    "memberships",
                    &k,
                    Action::Skipped,
                    "unknown_user",
                    format!("user {} does not exist", show(m.user.as_str())),
                );
                continue;
            }
            if !tenants.contains(&m.tenant) {
                self.note(
                    "memberships",
                    &k,
                    Action::Skipped,
                    "unknown_tenant",
                    format!("tenant {} does not exist", show(m.tenant.as_str())),
                );
                continue;
            }
            let pair = (m.user.clone(), m.tenant.clone());
            if let Some((kept_key, kept_role)) = kept.get(&pair) {
                let conflict = if *kept_role == m.role {
                    String::new()
                } else {
                    format!("; ROLE CONFLICT: dropped role {:?}", show(&m.role))
                };
                self.note(
                    "memberships",
                    &k,
                    Action::Merged,
                    if conflict.is_empty() { "duplicate_membership" } else { "duplicate_membership_role_conflict" },
                    format!(
                        "duplicate of ({}, {}): kept the earliest row {kept_key} (role {:?}){conflict}",
                        show(m.user.as_str()),
                        show(m.tenant.as_str()),
                        show(kept_role)
                    ),
                );
                continue;
            }
            kept.insert(pair, (k.clone(), m.role.to_string()));
            self.snapshot.memberships.push(m);
        }
        self.summary.counts.memberships.imported = self.snapshot.memberships.len() as u64;
        Ok(())
    }

    /// The tenant a row names: the column, or a JSON member of it.
    /// Returns the tenant and an optional note about how it was read.
    fn tenant_of(r: &Row) -> Result<(Option<String>, Option<Why>), Error> {
        let Some(text) = r.text("tenant")? else {
            return Ok((None, None));
        };
        let Some(member) = &r.c.tenant_json else {
            return Ok((Some(text), None));
        };
        let Some((v, depth)) = values::json_deep(&text) else {
            return Ok((
                None,
                Some((
                    "tenant_json_invalid",
                    format!(
                        "column `{}` is not JSON: imported unbound",
                        r.c.tenant.as_deref().unwrap_or_default()
                    ),
                )),
            ));
        };
        let note = (depth > 1).then(|| {
            (
                "tenant_json_double_encoded",
                format!(
                    "`{}` was JSON-encoded {depth} times",
                    r.c.tenant.as_deref().unwrap_or_default()
                ),
            )
        });
        match v.get(member) {
            Some(serde_json::Value::String(t)) => Ok((Some(t.clone()), note)),
            None | Some(serde_json::Value::Null) => Ok((None, note)),
            Some(_) => Ok((
                None,
                Some((
                    "tenant_json_not_string",
                    format!("`{member}` is not a string: imported unbound"),
                )),
            )),
        }
    }

    fn token_of(r: &Row) -> Result<Result<(TokenHash, bool), Why>, Error> {
        let enc = r.c.token_encoding.expect("checked: required");
        let fallback = r.c.token_fallback == mapping::TokenFallback::Raw;
        Ok(match values::token(r.cell("token"), enc, fallback) {
            Ok(None) => Err(("null_field", "`token` is NULL".into())),
            Ok(Some(values::Token::Hash(h))) => Ok((h, false)),
            Ok(Some(values::Token::RawFallback(h))) => Ok((h, true)),
            Err(why) => Err(("bad_token", format!("token column: {why}"))),
        })
    }

    fn api_keys(&mut self) -> Result<(), Error> {
        struct K {
            key: ApiKey,
            owner: String,
            tenant: Option<String>,
            raw: bool,
            note: Option<(&'static str, String)>,
        }
        let rows = self.read(
            "api_keys",
            |r| {
                let id = match Self::id_of(r, "id")? {
                    Ok(id) => id,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let Some(owner) = r.text("owner")? else {
                    return Ok(Conv::Skip("null_field", "`owner` is NULL".into()));
                };
                let (tenant, note) = Self::tenant_of(r)?;
                let (token_sha256, raw) = match Self::token_of(r)? {
                    Ok(t) => t,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let capabilities = match r.c.capabilities_format {
                    Some(f) => values::capabilities(r.cell("capabilities"), f)
                        .map_err(|w| r.err("capabilities", w))?,
                    None => Vec::new(),
                };
                let Some(created_at) = r.start("created_at")? else {
                    return Ok(Conv::Skip("null_field", "`created_at` is NULL".into()));
                };
                let key = ApiKey {
                    id,
                    owner: Id::new("-").expect("valid"),
                    tenant: None,
                    token_sha256,
                    prefix: r.text("prefix")?.unwrap_or_default().into(),
                    capabilities: capabilities.into_iter().map(Into::into).collect(),
                    enabled: r.boolean("enabled")?.unwrap_or(true),
                    name: r.text("name")?.unwrap_or_default().into(),
                    created_at,
                    expires_at: r.end("expires_at")?,
                    revoked_at: r.end("revoked_at")?,
                    deleted_at: r.end("deleted_at")?,
                };
                Ok(Conv::Ok(K {
                    key,
                    owner,
                    tenant,
                    raw,
                    note,
                }))
            },
            |k| k.key.id.as_str().to_string(),
        )?;
        let users: HashSet<&str> = self.snapshot.users.iter().map(|u| u.id.as_str()).collect();
        let tenants: HashSet<&str> = self
            .snapshot
            .tenants
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(rows.len());
        let mut notes = Vec::new();
        for (k, mut x) in rows {
            if !seen.insert(x.key.id.clone()) {
                notes.push((
                    k,
                    Action::Skipped,
                    "duplicate_id",
                    "a key with this id was imported already".to_string(),
                ));
                continue;
            }
            if !users.contains(x.owner.as_str()) {
                if tenants.contains(x.owner.as_str()) {
                    notes.push((k, Action::Skipped, "organization_owned", format!("owner {} is an organization, not a user: authproof keys have an owning user", show(&x.owner))));
                } else {
                    notes.push((
                        k,
                        Action::Skipped,
                        "unknown_owner",
                        format!(
                            "owner {} is neither a user nor an organization",
                            show(&x.owner)
                        ),
                    ));
                }
                continue;
            }
            if !self.tokens.insert(x.key.token_sha256) {
                notes.push((
                    k,
                    Action::Skipped,
                    "duplicate_token",
                    format!(
                        "token sha256 {} is held by a record imported already",
                        x.key.token_sha256.short()
                    ),
                ));
                continue;
            }
            x.key.owner = Id::new(x.owner).expect("a user id");
            if let Some(t) = x.tenant {
                if tenants.contains(t.as_str()) {
                    x.key.tenant = Some(Id::new(t).expect("a tenant id"));
                } else {
                    notes.push((k.clone(), Action::Changed, "tenant_not_found", format!("bound to {}, which is not an organization: imported unbound (tenant null)", show(&t))));
                }
            }
            if let Some((reason, d)) = x.note {
                notes.push((k.clone(), Action::Noted, reason, d));
            }
            if x.raw {
                notes.push((k.clone(), Action::Noted, "raw_key_hashed", "the key column does not hold a SHA-256 in its encoding: taken as the raw key (better-auth disableKeyHashing) and hashed".into()));
            }
            out.push(x.key);
        }
        for (k, a, reason, d) in notes {
            self.note("api_keys", &k, a, reason, d);
        }
        self.summary.counts.api_keys.imported = out.len() as u64;
        self.snapshot.api_keys = out;
        Ok(())
    }

    fn sessions(&mut self) -> Result<(), Error> {
        struct S {
            s: Session,
            user: String,
            tenant: Option<String>,
            note: Option<(&'static str, String)>,
        }
        let rows = self.read(
            "sessions",
            |r| {
                let id = match Self::id_of(r, "id")? {
                    Ok(id) => id,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let Some(user) = r.text("user")? else {
                    return Ok(Conv::Skip("null_field", "`user` is NULL".into()));
                };
                let (tenant, note) = Self::tenant_of(r)?;
                let (token_sha256, _) = match Self::token_of(r)? {
                    Ok(t) => t,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let Some(created_at) = r.start("created_at")? else {
                    return Ok(Conv::Skip("null_field", "`created_at` is NULL".into()));
                };
                let Some(expires_at) = r.end("expires_at")? else {
                    return Ok(Conv::Skip("null_field", "`expires_at` is NULL".into()));
                };
                let s = Session {
                    id,
                    user: Id::new("-").expect("valid"),
                    tenant: None,
                    token_sha256,
                    created_at,
                    expires_at,
                    revoked_at: r.end("revoked_at")?,
                };
                Ok(Conv::Ok(S {
                    s,
                    user,
                    tenant,
                    note,
                }))
            },
            |s| s.s.id.as_str().to_string(),
        )?;
        let users: HashSet<&str> = self.snapshot.users.iter().map(|u| u.id.as_str()).collect();
        let tenants: HashSet<&str> = self
            .snapshot
            .tenants
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        let members: HashSet<(&str, &str)> = self
            .snapshot
            .memberships
            .iter()
            .map(|m| (m.user.as_str(), m.tenant.as_str()))
            .collect();
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(rows.len());
        let mut notes = Vec::new();
        for (k, mut x) in rows {
            if !seen.insert(x.s.id.clone()) {
                notes.push((
                    k,
                    Action::Skipped,
                    "duplicate_id",
                    "a session with this id was imported already".to_string(),
                ));
                continue;
            }
            if !users.contains(x.user.as_str()) {
                notes.push((
                    k,
                    Action::Skipped,
                    "unknown_user",
                    format!("user {} does not exist", show(&x.user)),
                ));
                continue;
            }
            if let Some(t) = x.tenant {
                if !tenants.contains(t.as_str()) {
                    notes.push((
                        k.clone(),
                        Action::Changed,
                        "tenant_not_found",
                        format!(
                            "active organization {} does not exist: imported with no active tenant",
                            show(&t)
                        ),
                    ));
                } else {
                    if !members.contains(&(x.user.as_str(), t.as_str())) {
                        notes.push((k.clone(), Action::Noted, "active_tenant_not_member", format!("active organization {} of which user {} is not a member (left it?): kept, authproof says not_a_member", show(&t), show(&x.user))));
                    }
                    x.s.tenant = Some(Id::new(t).expect("a tenant id"));
                }
            }
            x.s.user = Id::new(x.user).expect("a user id");
            if x.s.created_at > x.s.expires_at {
                notes.push((k.clone(), Action::Changed, "created_after_expiry", format!("created_at rounded up ({}) passes expires_at rounded down ({}): created_at set to expires_at (never live)", x.s.created_at, x.s.expires_at)));
                x.s.created_at = x.s.expires_at;
            }
            if !self.tokens.insert(x.s.token_sha256) {
                notes.push((
                    k,
                    Action::Skipped,
                    "duplicate_token",
                    format!(
                        "token sha256 {} is held by a record imported already",
                        x.s.token_sha256.short()
                    ),
                ));
                continue;
            }
            if let Some((reason, d)) = x.note {
                notes.push((k.clone(), Action::Noted, reason, d));
            }
            out.push(x.s);
        }
        for (k, a, reason, d) in notes {
            self.note("sessions", &k, a, reason, d);
        }
        self.summary.counts.sessions.imported = out.len() as u64;
        self.snapshot.sessions = out;
        Ok(())
    }

    fn resources(&mut self) -> Result<(), Error> {
        let rows = self.read(
            "resources",
            |r| {
                let tenant = match Self::id_of(r, "tenant")? {
                    Ok(id) => id,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let id = match Self::id_of(r, "id")? {
                    Ok(id) => id,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let owner = match Self::id_of(r, "owner")? {
                    Ok(id) => id,
                    Err((why, d)) => return Ok(Conv::Skip(why, d)),
                };
                let created_at = r.start("created_at")?.unwrap_or(Timestamp::EPOCH);
                Ok(Conv::Ok(Resource {
                    tenant,
                    id,
                    owner,
                    created_at,
                }))
            },
            |r| format!("{}\u{0}{}", r.tenant.as_str(), r.id.as_str()),
        )?;
        let users: HashSet<Id> = self.snapshot.users.iter().map(|u| u.id.clone()).collect();
        let tenants: HashSet<Id> = self.snapshot.tenants.iter().map(|t| t.id.clone()).collect();
        let mut seen = HashSet::new();
        for (k, r) in rows {
            if !tenants.contains(&r.tenant) {
                self.note(
                    "resources",
                    &k,
                    Action::Skipped,
                    "unknown_tenant",
                    format!("tenant {} does not exist", show(r.tenant.as_str())),
                );
            } else if !users.contains(&r.owner) {
                self.note(
                    "resources",
                    &k,
                    Action::Skipped,
                    "unknown_owner",
                    format!("owner {} does not exist", show(r.owner.as_str())),
                );
            } else if !seen.insert((r.tenant.clone(), r.id.clone())) {
                self.note(
                    "resources",
                    &k,
                    Action::Skipped,
                    "duplicate_id",
                    "a resource with this (tenant, id) was imported already".into(),
                );
            } else {
                self.snapshot.resources.push(r);
            }
        }
        self.summary.counts.resources.imported = self.snapshot.resources.len() as u64;
        Ok(())
    }
}

/// Microseconds as RFC 3339 with milliseconds, for notes.
fn time_text(us: i64) -> String {
    let secs = floor_secs(us);
    let ms = (us - secs * 1_000_000) / 1000;
    match Timestamp::from_unix(secs) {
        Some(t) => {
            let s = t.to_string();
            format!("{}.{ms:03}Z", s.trim_end_matches('Z'))
        }
        None => format!("{us} µs since 1970"),
    }
}

impl Summary {
    /// The summary for people: counts per collection, then every note
    /// grouped by reason (at most `per_reason` records each; all of them
    /// with `usize::MAX`).
    pub fn text(&self, per_reason: usize) -> String {
        use std::fmt::Write;
        let mut s = format!(
            "import summary: mapping {} from {} ({}), taken_at {}\n",
            self.mapping, self.source, self.backend, self.taken_at
        );
        let _ = writeln!(
            s,
            "  {:<12} {:>9} {:>9} {:>8} {:>7} {:>8} {:>6}",
            "collection", "read", "imported", "skipped", "merged", "changed", "noted"
        );
        for (name, c) in self.counts.all() {
            if !c.mapped {
                let _ = writeln!(s, "  {name:<12} (not mapped)");
                continue;
            }
            let _ = writeln!(
                s,
                "  {name:<12} {:>9} {:>9} {:>8} {:>7} {:>8} {:>6}",
                c.read, c.imported, c.skipped, c.merged, c.changed, c.noted
            );
        }
        let mut groups: Groups = Vec::new();
        for n in &self.notes {
            let k = (n.collection, n.action, n.reason);
            match groups.iter_mut().find(|(g, _)| *g == k) {
                Some((_, v)) => v.push(n),
                None => groups.push((k, vec![n])),
            }
        }
        for ((coll, action, reason), notes) in groups {
            let a = match action {
                Action::Skipped => "skipped",
                Action::Merged => "merged",
                Action::Changed => "changed",
                Action::Noted => "noted",
            };
            let _ = writeln!(s, "  {coll}: {} {a}: {reason}", notes.len());
            for n in notes.iter().take(per_reason) {
                let _ = writeln!(s, "    {}: {}", n.record, n.detail);
            }
            if notes.len() > per_reason {
                let _ = writeln!(
                    s,
                    "    … {} more (all of them in --summary FILE)",
                    notes.len() - per_reason
                );
            }
        }
        s
    }
}
