//! The declarative mapping file (`mappings/*.toml`, docs/IMPORT.md §5): per
//! snapshot collection one SQL query and which of its result columns feeds
//! which SPEC §2 field, with the encodings of tokens, capabilities and
//! times.

use serde::Deserialize;

use crate::error::{Error, Repr};

/// The mapping format this build reads (`format = 1`).
pub const FORMAT: u32 = 1;

/// The mapping for better-auth 1.7 (core, organization, api-key, admin).
pub const BETTER_AUTH_TOML: &str = include_str!("../../../mappings/better-auth.toml");

/// A parsed, checked mapping.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Must be [`FORMAT`].
    pub format: u32,
    /// Named in the summary.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub tenants: Option<Collection>,
    pub users: Option<Collection>,
    pub memberships: Option<Collection>,
    pub api_keys: Option<Collection>,
    pub sessions: Option<Collection>,
    pub resources: Option<Collection>,
}

/// How a token column holds the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenEncoding {
    /// The token itself (better-auth `session.token`): hashed at once.
    Raw,
    /// 64 hex digits of its SHA-256 (either case).
    Sha256Hex,
    /// base64url of its SHA-256, padded or not (better-auth `apikey.key`).
    Sha256Base64url,
    /// standard base64 of its SHA-256, padded or not.
    Sha256Base64,
    /// the 32 bytes of its SHA-256 (a BLOB / BYTEA column).
    Sha256Bytes,
}

/// What to do with a token value that does not decode as its encoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenFallback {
    /// Skip the record and report it (the default).
    #[default]
    Skip,
    /// Take the value as the raw token and hash it, and report it
    /// (better-auth's `disableKeyHashing` keeps keys raw).
    Raw,
}

/// How a capabilities column lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapabilitiesFormat {
    /// A JSON array of strings.
    JsonArray,
    /// A JSON object `{resource: [action, …]}` (better-auth permissions):
    /// one capability `resource:action` per pair.
    PermissionsObject,
    /// Comma-separated.
    Comma,
    /// Separated by whitespace (OAuth `scope`).
    Space,
}

/// What an integer time column counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum IntegerTimes {
    #[serde(rename = "unix-s")]
    UnixSeconds,
    #[serde(rename = "unix-ms")]
    UnixMillis,
}

/// One collection: the query and, per field, the result column (by name)
/// that feeds it. Which fields a collection has: [`fields`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    /// The SQL query (both backends), or the per-backend ones.
    pub query: Option<String>,
    pub query_sqlite: Option<String>,
    pub query_postgres: Option<String>,
    /// Integer time columns count seconds or milliseconds; required as
    /// soon as a time column holds an integer.
    pub integer_times: Option<IntegerTimes>,
    /// A column naming the row in messages (default: the `id` column).
    pub key: Option<String>,

    pub id: Option<String>,
    pub user: Option<String>,
    pub owner: Option<String>,
    pub tenant: Option<String>,
    /// The `tenant` column holds JSON (decoded until it is not a string
    /// any more); the tenant is this member of the object.
    pub tenant_json: Option<String>,
    pub role: Option<String>,
    pub since: Option<String>,
    pub suspended: Option<String>,
    pub banned: Option<String>,
    /// The ban ends at this time (NULL: never).
    pub ban_expires: Option<String>,
    pub token: Option<String>,
    pub token_encoding: Option<TokenEncoding>,
    #[serde(default)]
    pub token_fallback: TokenFallback,
    pub prefix: Option<String>,
    pub capabilities: Option<String>,
    pub capabilities_format: Option<CapabilitiesFormat>,
    pub enabled: Option<String>,
    pub name: Option<String>,
    pub created_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub deleted_at: Option<String>,
}

/// The snapshot collections, in SPEC §2 order.
pub const COLLECTIONS: [&str; 6] = [
    "tenants",
    "users",
    "memberships",
    "api_keys",
    "sessions",
    "resources",
];

/// `(required, optional)` fields of a collection.
pub fn fields(collection: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match collection {
        "tenants" => (&["id"], &["suspended"]),
        "users" => (&["id"], &["banned", "ban_expires"]),
        "memberships" => (&["user", "tenant", "role"], &["since", "key"]),
        "api_keys" => (
            &["id", "owner", "token", "token_encoding", "created_at"],
            &[
                "tenant",
                "tenant_json",
                "prefix",
                "capabilities",
                "capabilities_format",
                "enabled",
                "name",
                "expires_at",
                "revoked_at",
                "deleted_at",
                "key",
            ],
        ),
        "sessions" => (
            &[
                "id",
                "user",
                "token",
                "token_encoding",
                "created_at",
                "expires_at",
            ],
            &["tenant", "tenant_json", "revoked_at", "key"],
        ),
        "resources" => (&["tenant", "id", "owner"], &["created_at", "key"]),
        _ => (&[], &[]),
    }
}

impl Collection {
    /// Which fields are set (`token_fallback` and `integer_times` are
    /// modifiers valid anywhere they make sense).
    fn set_fields(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        macro_rules! f {
            ($($name:ident),*) => {$( if self.$name.is_some() { v.push(stringify!($name)); } )*};
        }
        f!(
            key,
            id,
            user,
            owner,
            tenant,
            tenant_json,
            role,
            since,
            suspended,
            banned,
            ban_expires,
            token,
            token_encoding,
            prefix,
            capabilities,
            capabilities_format,
            enabled,
            name,
            created_at,
            expires_at,
            revoked_at,
            deleted_at
        );
        v
    }

    /// The query for a backend (`"sqlite"` / `"postgres"`).
    pub fn query_for(&self, backend: &str) -> Option<&str> {
        let specific = match backend {
            "sqlite" => self.query_sqlite.as_deref(),
            _ => self.query_postgres.as_deref(),
        };
        specific.or(self.query.as_deref())
    }
}

impl Mapping {
    /// Parses and checks a mapping file's text. `origin` names it in
    /// messages.
    pub fn parse(text: &str, origin: &str) -> Result<Mapping, Error> {
        let m: Mapping = toml::from_str(text).map_err(|e| Repr::Mapping {
            origin: origin.to_string(),
            why: crate::printable(e.message()),
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        })?;
        m.check(origin)?;
        Ok(m)
    }

    /// The built-in better-auth mapping.
    pub fn better_auth() -> Mapping {
        Mapping::parse(BETTER_AUTH_TOML, "mappings/better-auth.toml")
            .expect("the built-in better-auth mapping is valid (tested)")
    }

    /// The collection named `name`.
    pub fn collection(&self, name: &str) -> Option<&Collection> {
        match name {
            "tenants" => self.tenants.as_ref(),
            "users" => self.users.as_ref(),
            "memberships" => self.memberships.as_ref(),
            "api_keys" => self.api_keys.as_ref(),
            "sessions" => self.sessions.as_ref(),
            "resources" => self.resources.as_ref(),
            _ => None,
        }
    }

    fn check(&self, origin: &str) -> Result<(), Error> {
        let bad = |why: String| Repr::Mapping {
            origin: origin.to_string(),
            why,
            line: None,
        };
        if self.format != FORMAT {
            return Err(bad(format!(
                "format = {} is not known to this build (it reads format = {FORMAT})",
                self.format
            ))
            .into());
        }
        for name in COLLECTIONS {
            let Some(c) = self.collection(name) else {
                continue;
            };
            if c.query.is_none() && (c.query_sqlite.is_none() || c.query_postgres.is_none()) {
                return Err(bad(format!(
                    "[{name}]: needs `query` (or both `query_sqlite` and `query_postgres`)"
                ))
                .into());
            }
            let (required, optional) = fields(name);
            for f in required {
                if !c.set_fields().contains(f) {
                    return Err(bad(format!("[{name}]: `{f}` is required")).into());
                }
            }
            for f in c.set_fields() {
                if !required.contains(&f) && !optional.contains(&f) {
                    return Err(bad(format!("[{name}]: `{f}` is not a field of {name}")).into());
                }
            }
            if c.tenant_json.is_some() && c.tenant.is_none() {
                return Err(bad(format!(
                    "[{name}]: `tenant_json` needs `tenant` (the JSON column)"
                ))
                .into());
            }
            if c.capabilities.is_some() != c.capabilities_format.is_some() {
                return Err(bad(format!(
                    "[{name}]: `capabilities` and `capabilities_format` go together"
                ))
                .into());
            }
            if c.token_fallback == TokenFallback::Raw
                && c.token_encoding == Some(TokenEncoding::Raw)
            {
                return Err(bad(format!(
                    "[{name}]: `token_fallback = \"raw\"` with `token_encoding = \"raw\"` means nothing"
                )).into());
            }
        }
        if self.users.is_none() {
            return Err(bad(
                "[users] is required (every other collection references users)".into(),
            )
            .into());
        }
        Ok(())
    }
}
