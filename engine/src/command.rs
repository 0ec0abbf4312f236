//! Commands: the state transitions of SPEC §8, as data.
//!
//! One JSON object per command, `{"at": ..., "op": ..., fields}`. Unknown
//! fields are an input error, with one deliberate exception: `update_api_key`
//! keeps every field it does not own (`tenant`, `owner`, `metadata`, …) so
//! the engine can *reject* the update with `immutable_field` (F06) instead of
//! the parser quietly dropping it.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::{Error, Headers, Id, OpName, Request, Timestamp, Token};

/// A command with its time. Serializes as one flat object, `at` and `op`
/// first, then the op's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub at: Timestamp,
    pub op: Op,
}

/// What a command does. Field names are the JSON field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Externally tagged on purpose: serde buffers internally tagged enums, which
// loses the path of an error inside a variant. `Command` adds the `op` tag.
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    CreateTenant {
        tenant: Id,
    },
    SuspendTenant {
        tenant: Id,
    },
    ReinstateTenant {
        tenant: Id,
    },
    CreateUser {
        user: Id,
    },
    BanUser {
        user: Id,
    },
    UnbanUser {
        user: Id,
    },
    AddMember {
        user: Id,
        tenant: Id,
        role: String,
    },
    RemoveMember {
        user: Id,
        tenant: Id,
    },
    SetRole {
        user: Id,
        tenant: Id,
        role: String,
    },
    MintApiKey {
        key: Id,
        owner: Id,
        tenant: Id,
        token: Token,
        #[serde(default)]
        capabilities: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    UpdateApiKey {
        key: Id,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
        /// `Some(None)` clears the expiry; `None` leaves it alone.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        expires_at: Option<Option<Timestamp>>,
        /// Fields the update may not touch, with their values as given.
        #[serde(flatten, skip_deserializing)]
        immutable: BTreeMap<String, Value>,
    },
    RevokeApiKey {
        key: Id,
    },
    DeleteApiKey {
        key: Id,
    },
    Login {
        session: Id,
        user: Id,
        token: Token,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant: Option<Id>,
    },
    Logout {
        session: Id,
    },
    SwitchTenant {
        session: Id,
        tenant: Id,
    },
    CreateResource {
        tenant: Id,
        resource: Id,
        owner: Id,
    },
    DeleteResource {
        tenant: Id,
        resource: Id,
    },
    Authenticate {
        action: String,
        #[serde(default, skip_serializing_if = "Headers::is_empty")]
        headers: Headers,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant: Option<Id>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource: Option<Id>,
    },
}

/// Distinguishes a field given as `null` (`Some(None)`) from an absent one.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Timestamp>>, D::Error> {
    Option::<Timestamp>::deserialize(d).map(Some)
}

/// The fields `update_api_key` may carry besides the ones it may change.
const UPDATE_OWN_FIELDS: [&str; 4] = ["key", "name", "enabled", "expires_at"];

/// [`Op::name`] and [`Op::op_name`] from one list of the variants.
macro_rules! op_names {
    ($($variant:ident => $name:literal,)*) => {
        impl Op {
            /// The `op` string.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Op::$variant { .. } => $name,)*
                }
            }

            /// The `op` string as a result holds it: each built at compile
            /// time and copied here (`OpName::const_new` run at run time
            /// copies a name a byte at a time; a result is built on every
            /// command).
            pub fn op_name(&self) -> OpName {
                match self {
                    $(Op::$variant { .. } => const { OpName::const_new($name) },)*
                }
            }
        }
    };
}

op_names! {
    CreateTenant => "create_tenant",
    SuspendTenant => "suspend_tenant",
    ReinstateTenant => "reinstate_tenant",
    CreateUser => "create_user",
    BanUser => "ban_user",
    UnbanUser => "unban_user",
    AddMember => "add_member",
    RemoveMember => "remove_member",
    SetRole => "set_role",
    MintApiKey => "mint_api_key",
    UpdateApiKey => "update_api_key",
    RevokeApiKey => "revoke_api_key",
    DeleteApiKey => "delete_api_key",
    Login => "login",
    Logout => "logout",
    SwitchTenant => "switch_tenant",
    CreateResource => "create_resource",
    DeleteResource => "delete_resource",
    Authenticate => "authenticate",
}

impl Op {
    /// Every op name, in SPEC §8 order.
    pub const NAMES: [&'static str; 19] = [
        "create_tenant",
        "suspend_tenant",
        "reinstate_tenant",
        "create_user",
        "ban_user",
        "unban_user",
        "add_member",
        "remove_member",
        "set_role",
        "mint_api_key",
        "update_api_key",
        "revoke_api_key",
        "delete_api_key",
        "login",
        "logout",
        "switch_tenant",
        "create_resource",
        "delete_resource",
        "authenticate",
    ];
}

impl Command {
    /// The request an `authenticate` command carries.
    pub fn request(&self) -> Option<Request> {
        match &self.op {
            Op::Authenticate {
                action,
                headers,
                tenant,
                resource,
            } => Some(Request {
                at: self.at,
                action: action.clone(),
                headers: headers.clone(),
                tenant: tenant.clone(),
                resource: resource.clone(),
            }),
            _ => None,
        }
    }

    /// Reads a command from a JSON value. The error names the offending
    /// field as a JSON path relative to the command (`$.tenant`).
    pub fn from_value(value: Value) -> Result<Command, Error> {
        let Value::Object(mut obj) = value else {
            return Err(Error::at_path("$", "expected a command object"));
        };
        let at = match obj.remove("at") {
            None => return Err(Error::at_path("$", "missing field `at`")),
            Some(v) => Timestamp::deserialize(v).map_err(|e| Error::at_serde_path("at", e))?,
        };
        let name = match obj.remove("op") {
            None => return Err(Error::at_path("$", "missing field `op`")),
            Some(Value::String(name)) => name,
            Some(_) => return Err(Error::at_path("$.op", "expected an op name string")),
        };
        let Some(&name) = Op::NAMES.iter().find(|n| **n == name) else {
            return Err(Error::at_path(
                "$.op",
                // The name is not echoed: like any value, it might be a
                // misplaced secret.
                format_args!("unknown op; expected one of {}", Op::NAMES.join(", ")),
            ));
        };
        let immutable: BTreeMap<String, Value> = if name == "update_api_key" {
            let extra: Vec<String> = obj
                .keys()
                .filter(|k| !UPDATE_OWN_FIELDS.contains(&k.as_str()))
                .cloned()
                .collect();
            extra
                .into_iter()
                .filter_map(|k| obj.remove(&k).map(|v| (k, v)))
                .collect()
        } else {
            BTreeMap::new()
        };
        let tagged = Value::Object(
            [(name.to_string(), Value::Object(obj))]
                .into_iter()
                .collect(),
        );
        let mut op: Op = serde_path_to_error::deserialize(tagged).map_err(|e| {
            // Drop the variant name serde reports as the first path segment.
            let path = e.path().to_string();
            let inner = path.strip_prefix(name).unwrap_or(&path);
            Error::at_serde_path(inner.trim_start_matches('.'), e.inner())
        })?;
        if let Op::UpdateApiKey {
            immutable: slot, ..
        } = &mut op
        {
            *slot = immutable;
        }
        Ok(Command { at, op })
    }
}

impl Serialize for Command {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let Value::Object(tagged) = serde_json::to_value(&self.op).map_err(S::Error::custom)?
        else {
            return Err(S::Error::custom("an op serializes as an object"));
        };
        let fields = tagged.into_iter().next().and_then(|(_, v)| match v {
            Value::Object(m) => Some(m),
            _ => None,
        });
        let fields = fields.unwrap_or_default();
        let mut m = s.serialize_map(Some(fields.len() + 2))?;
        m.serialize_entry("at", &self.at)?;
        m.serialize_entry("op", self.op.name())?;
        for (k, v) in &fields {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through the strict reader: a repeated key is an error here too,
        // never "last wins" (docs/INPUTS.md).
        use serde::de::DeserializeSeed;
        let mut track = crate::load::strict::Track::default();
        let v = crate::load::strict::Value(&mut track).deserialize(d)?;
        Command::from_value(v).map_err(serde::de::Error::custom)
    }
}

/// `a.b[0]` → `$.a.b[0]`; `.` (serde_path_to_error's root) → `$`.
pub(crate) fn json_path(p: &str) -> String {
    if p.is_empty() || p == "." {
        "$".into()
    } else if p.starts_with('[') {
        format!("${p}")
    } else {
        format!("$.{p}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Command, Error> {
        Command::from_value(v)
    }

    #[test]
    fn parses_and_round_trips() {
        let v = json!({"at": "2026-05-28T12:00:00Z", "op": "mint_api_key", "key": "k",
                       "owner": "alice", "tenant": "acme", "token": "sk_live_a/+=",
                       "capabilities": ["supervisor"]});
        let c = parse(v.clone()).unwrap();
        assert_eq!(c.op.name(), "mint_api_key");
        assert_eq!(serde_json::to_value(&c).unwrap(), v);
    }

    #[test]
    fn unknown_field_is_an_input_error() {
        let e = parse(json!({"at": "2026-05-28T12:00:00Z", "op": "create_tenant",
                             "tenant": "a", "color": "red"}))
        .unwrap_err();
        assert!(e.message().contains("color"), "{e}");
    }

    #[test]
    fn update_keeps_foreign_fields_for_rejection() {
        let v = json!({"at": "2026-05-28T12:00:00Z", "op": "update_api_key", "key": "k",
                       "expires_at": null, "tenant": "other", "metadata": {"a": [1]}});
        let c = parse(v.clone()).unwrap();
        let Op::UpdateApiKey {
            expires_at,
            immutable,
            ..
        } = &c.op
        else {
            panic!("wrong op")
        };
        assert_eq!(*expires_at, Some(None));
        assert_eq!(immutable.len(), 2);
        assert_eq!(serde_json::to_value(&c).unwrap(), v);
    }

    #[test]
    fn deserialize_refuses_repeated_keys() {
        let e = serde_json::from_str::<Command>(
            r#"{"at":"2026-05-28T12:00:00Z","op":"create_tenant","tenant":"a","tenant":"b"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("duplicate"), "{e}");
    }

    #[test]
    fn bad_fields_name_their_path() {
        let e = parse(json!({"at": "yesterday", "op": "create_user", "user": "u"})).unwrap_err();
        assert_eq!(e.path(), Some("$.at"));
        let e = parse(json!({"at": "2026-05-28T12:00:00Z", "op": "create_user", "user": ""}))
            .unwrap_err();
        assert_eq!(e.path(), Some("$.user"));
        let e = parse(json!({"at": "2026-05-28T12:00:00Z", "op": "fly"})).unwrap_err();
        assert_eq!(e.path(), Some("$.op"));
        assert!(
            e.message().contains("unknown op") && !e.message().contains("fly"),
            "{e}"
        );
    }
}
