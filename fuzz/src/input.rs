//! Building well-formed inputs from fuzzer bytes.
//!
//! Random bytes almost never make a snapshot that passes integrity, or a
//! request that presents a token the snapshot knows. So, like Cedar's
//! generators that build valid entities, these functions read choices from
//! an [`Unstructured`] and build inputs that are valid by construction:
//! ids come from small pools (so references resolve and collisions are
//! frequent), every token is generated here first and the snapshot stores
//! its SHA-256 (so requests can present it, verbatim or mangled), tokens are
//! drawn from an alphabet rich in `/ + = %` (the characters of F03), and
//! times cluster around one instant with the boundary offsets (`-1s`, `0`,
//! `+1s`) where off-by-one bugs live.
//!
//! The same bytes always build the same input: the fuzz targets and
//! `fuzz-to-trace` call the same functions, so any finding becomes a trace.

use std::collections::BTreeMap;

use arbitrary::{Result, Unstructured};
use authproof_engine::snapshot::{ApiKey, Membership, Resource, Session, Snapshot, Tenant, User};
use authproof_engine::{
    default_actions, Command, CredentialKind, Duration, EmptyCapabilities, Headers, Id, Multiple,
    Op, Policy, Request, TenantRule, Timestamp, Token, TokenHash, Unbound,
};
use authproof_verification::Trace;
use serde_json::{json, Value};

/// 2026-05-28T12:00:00Z, the instant every generated time is near.
pub const T0: i64 = 1_779_969_600;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// Tenants every generated snapshot holds, plus one commands may create.
pub const TENANTS: [&str; 3] = ["acme", "globex", "initech"];
const NEW_TENANTS: [&str; 1] = ["umbrella"];
/// Users every generated snapshot holds, plus one commands may create.
pub const USERS: [&str; 4] = ["alice", "bob", "carol", "mallory"];
const NEW_USERS: [&str; 1] = ["dave"];
const ROLES: [&str; 3] = ["owner", "admin", "member"];
const KEY_IDS: [&str; 5] = ["key_1", "key_2", "key_3", "key_4", "key_5"];
const SESSION_IDS: [&str; 5] = ["ses_1", "ses_2", "ses_3", "ses_4", "ses_5"];
const RESOURCES: [&str; 2] = ["conv_1", "default"];
const CAPABILITIES: [&str; 2] = ["supervisor", "billing"];
const KEY_NAMES: [&str; 2] = ["ci", "backup"];
/// The default policy's actions and one it does not define.
pub const ACTIONS: [&str; 9] = [
    "session.read",
    "token.mint",
    "workspace.read",
    "workspace.create",
    "member.remove",
    "api_key.create",
    "supervisor.connect",
    "conversation.resume",
    "audit.read",
];
/// Offsets from [`T0`] (seconds): the boundaries and a few spans.
const OFFSETS: [i64; 13] = [
    -90 * DAY,
    -30 * DAY,
    -2 * DAY,
    -DAY,
    -HOUR,
    -1,
    0,
    0,
    1,
    HOUR,
    DAY,
    2 * DAY,
    30 * DAY,
];
/// Lifetimes of generated sessions (seconds).
const LIFETIMES: [i64; 6] = [0, 1, HOUR, DAY, 30 * DAY, 31 * DAY];
/// Steps between two commands (seconds).
const STEPS: [i64; 8] = [0, 0, 1, 60, HOUR, DAY, 29 * DAY, 31 * DAY];
/// Token characters: valid (SPEC §1), with `/ + = %` and other characters a
/// percent-encoder would touch well represented.
const TOKEN_CHARS: &[u8] =
    b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789/+=%/+=%-_.~!*";
/// Characters a token may not have.
const BAD_CHARS: &[u8] = b" \",;\\\t";

/// The longest command sequence `differential` builds.
pub const MAX_STEPS: usize = 12;

fn id(s: &str) -> Id {
    Id::new(s).expect("pool ids are valid")
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs).expect("generated times are in range")
}

fn dur(secs: i64) -> Duration {
    Duration::from_secs(secs).expect("generated durations are in range")
}

fn pick<'a>(u: &mut Unstructured<'_>, pool: &[&'a str]) -> Result<&'a str> {
    u.choose(pool).copied()
}

/// An offset from [`T0`]: mostly a boundary from [`OFFSETS`], sometimes any
/// few minutes around it.
fn offset(u: &mut Unstructured<'_>) -> Result<i64> {
    if u.ratio(1, 8)? {
        u.int_in_range(-300..=300)
    } else {
        u.choose(&OFFSETS).copied()
    }
}

/// A time near [`T0`].
fn near(u: &mut Unstructured<'_>) -> Result<Timestamp> {
    Ok(ts(T0 + offset(u)?))
}

/// A time at or before [`T0`] most of the time (records that already exist),
/// sometimes after it (records that do not exist yet at `at`).
fn past(u: &mut Unstructured<'_>) -> Result<Timestamp> {
    let o = offset(u)?;
    Ok(ts(if u.ratio(1, 6)? { T0 + o } else { T0 - o.abs() }))
}

fn token_body(u: &mut Unstructured<'_>, min: usize, max: usize) -> Result<String> {
    let len = u.int_in_range(min..=max)?;
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(*u.choose(TOKEN_CHARS)? as char);
    }
    Ok(s)
}

/// A policy: the default, with each knob sometimes moved.
pub fn policy(u: &mut Unstructured<'_>) -> Result<Policy> {
    let mut p = Policy::default();
    if u.ratio(1, 3)? {
        p.session.sliding = !u.ratio(1, 4)?;
        p.session.ttl = dur(*u.choose(&[HOUR, DAY, 30 * DAY])?);
        p.session.refresh_after = dur(*u.choose(&[0, HOUR, DAY])?);
        p.session.absolute_max = u.choose(&[None, Some(2 * DAY), Some(45 * DAY)])?.map(dur);
    }
    if u.ratio(1, 4)? {
        p.session.bearer = u.arbitrary()?;
        p.api_key.bearer = u.arbitrary()?;
    }
    if u.ratio(1, 5)? {
        let mut cookies = p.session.cookies.clone();
        let n = cookies.len();
        cookies.swap(u.choose_index(n)?, u.choose_index(n)?);
        if u.ratio(1, 3)? {
            cookies.truncate(u.int_in_range(1..=n)?);
        }
        p.session.cookies = cookies;
    }
    if u.ratio(1, 6)? {
        p.api_key.header = "x-auth-key".into();
    }
    if u.ratio(1, 5)? {
        p.api_key.prefixes = match u.int_in_range(0..=2)? {
            0 => vec!["sk_test_".into(), "sk_live_".into()],
            1 => vec!["sk_".into()],
            _ => vec!["sk_live_".into(), "pk_".into()],
        };
    }
    if u.ratio(1, 3)? {
        p.api_key.unbound = Unbound::OldestMembership;
    }
    if u.ratio(1, 4)? {
        p.api_key.empty_capabilities = EmptyCapabilities::None;
    }
    if u.ratio(1, 5)? {
        p.credentials.multiple = Multiple::Deny;
    }
    if u.ratio(1, 5)? {
        let mut actions = default_actions();
        for rule in actions.values_mut() {
            if u.ratio(1, 4)? {
                rule.tenant = *u.choose(&[TenantRule::Required, TenantRule::Optional])?;
                rule.resource = u.ratio(1, 4)?;
                rule.owner_only = u.ratio(1, 4)?;
            }
            if u.ratio(1, 6)? {
                rule.credentials = match u.int_in_range(0..=2)? {
                    0 => vec![CredentialKind::Session],
                    1 => vec![CredentialKind::ApiKey],
                    _ => vec![CredentialKind::ApiKey, CredentialKind::Session],
                };
            }
            if u.ratio(1, 6)? {
                rule.roles = vec![pick(u, &ROLES)?.into()];
            }
            if u.ratio(1, 6)? {
                rule.capability = pick(u, &CAPABILITIES)?.into();
            }
        }
        p.actions = actions;
    }
    Ok(p)
}

/// A policy, a snapshot valid by construction, and the raw tokens behind
/// the snapshot's hashes plus spare tokens commands may mint or log in with.
#[derive(Clone, Debug)]
pub struct World {
    pub policy: Policy,
    pub snapshot: Snapshot,
    /// Tokens of API keys (each starts with a policy prefix when there is
    /// one): those of the snapshot's keys first, then spare ones.
    pub key_tokens: Vec<String>,
    /// Session tokens: those of the snapshot's sessions first, then spare.
    pub session_tokens: Vec<String>,
}

impl World {
    /// Every known token.
    fn tokens(&self) -> impl Iterator<Item = &String> {
        self.key_tokens.iter().chain(&self.session_tokens)
    }

    fn taken(&self, t: &str) -> bool {
        self.tokens().any(|k| k == t)
    }

    /// A new API-key token (with a policy prefix), unique in this world.
    fn new_key_token(&mut self, u: &mut Unstructured<'_>) -> Result<String> {
        let prefix = match self.policy.api_key.prefixes.as_slice() {
            [] => "sk_live_".to_string(),
            ps => u.choose(ps)?.clone(),
        };
        let body = token_body(u, 4, 12)?;
        let t = self.unique(format!("{prefix}{body}"));
        self.key_tokens.push(t.clone());
        Ok(t)
    }

    /// A new session token, unique in this world, never with a key prefix.
    fn new_session_token(&mut self, u: &mut Unstructured<'_>) -> Result<String> {
        let mut t = token_body(u, 8, 20)?;
        if self.policy.api_key_prefix(&t).is_some() {
            t.insert(0, 'S');
        }
        let t = self.unique(t);
        self.session_tokens.push(t.clone());
        Ok(t)
    }

    fn unique(&self, mut t: String) -> String {
        let mut n = 0;
        while self.taken(&t) {
            t.push(char::from(b'0' + (n % 10) as u8));
            n += 1;
        }
        t
    }
}

/// A world: policy, snapshot (all of [`TENANTS`] and [`USERS`], random
/// flags, memberships, up to 3 keys, sessions and resources) and tokens.
pub fn world(u: &mut Unstructured<'_>) -> Result<World> {
    let policy = policy(u)?;
    let mut w = World {
        policy,
        snapshot: Snapshot::default(),
        key_tokens: Vec::new(),
        session_tokens: Vec::new(),
    };
    let mut s = Snapshot {
        taken_at: if u.ratio(1, 2)? { Some(ts(T0)) } else { None },
        ..Snapshot::default()
    };
    for t in TENANTS {
        s.tenants.push(Tenant {
            id: id(t),
            suspended: u.ratio(1, 6)?,
        });
    }
    for name in USERS {
        s.users.push(User {
            id: id(name),
            banned: u.ratio(1, 8)?,
        });
    }
    for user in USERS {
        for tenant in TENANTS {
            if u.ratio(1, 2)? {
                s.memberships.push(Membership {
                    user: id(user),
                    tenant: id(tenant),
                    role: pick(u, &ROLES)?.into(),
                    since: past(u)?,
                });
            }
        }
    }
    for key in KEY_IDS.iter().take(u.int_in_range(0..=3)?) {
        let token = w.new_key_token(u)?;
        let prefix = w.policy.api_key_prefix(&token).unwrap_or("").to_string();
        let mut capabilities = Vec::new();
        for c in CAPABILITIES {
            if u.ratio(1, 2)? {
                capabilities.push(c.into());
            }
        }
        let created_at = past(u)?;
        s.api_keys.push(ApiKey {
            id: id(key),
            owner: id(pick(u, &USERS)?),
            tenant: if u.ratio(1, 5)? {
                None
            } else {
                Some(id(pick(u, &TENANTS)?))
            },
            token_sha256: TokenHash::of(&token),
            prefix: prefix.into(),
            capabilities,
            enabled: !u.ratio(1, 6)?,
            name: pick(u, &KEY_NAMES)?.into(),
            created_at,
            expires_at: if u.ratio(1, 4)? { Some(near(u)?) } else { None },
            revoked_at: if u.ratio(1, 5)? { Some(near(u)?) } else { None },
            deleted_at: if u.ratio(1, 6)? { Some(near(u)?) } else { None },
        });
    }
    for ses in SESSION_IDS.iter().take(u.int_in_range(0..=3)?) {
        let token = w.new_session_token(u)?;
        let created_at = past(u)?;
        let life = *u.choose(&LIFETIMES)?;
        s.sessions.push(Session {
            id: id(ses),
            user: id(pick(u, &USERS)?),
            tenant: if u.ratio(1, 3)? {
                None
            } else {
                Some(id(pick(u, &TENANTS)?))
            },
            token_sha256: TokenHash::of(&token),
            created_at,
            expires_at: ts(created_at.unix() + life),
            revoked_at: if u.ratio(1, 6)? { Some(near(u)?) } else { None },
        });
    }
    for _ in 0..u.int_in_range(0..=3)? {
        let tenant = id(pick(u, &TENANTS)?);
        let rid = id(pick(u, &RESOURCES)?);
        if s.resources
            .iter()
            .any(|r| r.tenant == tenant && r.id == rid)
        {
            continue;
        }
        s.resources.push(Resource {
            tenant,
            id: rid,
            owner: id(pick(u, &USERS)?),
            created_at: past(u)?,
        });
    }
    w.snapshot = s;
    // Spare tokens, for mint_api_key and login.
    for _ in 0..2 {
        w.new_key_token(u)?;
        w.new_session_token(u)?;
    }
    Ok(w)
}

/// `name` in a random ASCII case (header names match case-insensitively).
fn recase(u: &mut Unstructured<'_>, name: &str) -> Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 => name.to_ascii_uppercase(),
        1 => {
            let mut up = true;
            name.chars()
                .map(|c| {
                    let out = if up { c.to_ascii_uppercase() } else { c };
                    up = c == '-';
                    out
                })
                .collect()
        }
        _ => name.to_string(),
    })
}

/// Percent-encodes every byte outside the URL-unreserved set (what F03's
/// "normalizing" middleware does), so requests can present that form too.
fn percent_encode(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    for b in token.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A value to present: mostly a known token, sometimes a mangled or unknown one.
fn credential_value(u: &mut Unstructured<'_>, w: &World, want_key: bool) -> Result<String> {
    let own: &[String] = if want_key {
        &w.key_tokens
    } else {
        &w.session_tokens
    };
    let other: &[String] = if want_key {
        &w.session_tokens
    } else {
        &w.key_tokens
    };
    Ok(match u.int_in_range(0..=15)? {
        0..=8 if !own.is_empty() => u.choose(own)?.clone(),
        9 if !other.is_empty() => u.choose(other)?.clone(),
        10 if !own.is_empty() => percent_encode(u.choose(own)?),
        11 => String::new(),
        12 if !own.is_empty() => {
            // A known token with one invalid character spliced in.
            let mut t = u.choose(own)?.clone();
            let at = u.int_in_range(0..=t.len())?;
            t.insert(at, *u.choose(BAD_CHARS)? as char);
            t
        }
        13 => format!("unknown{}", token_body(u, 4, 8)?),
        _ if !own.is_empty() => u.choose(own)?.clone(),
        _ => format!("nosuch{}", token_body(u, 4, 8)?),
    })
}

/// Request headers presenting zero to three credentials, the way clients
/// send them (header case, extra cookies, quotes, Bearer spacing).
pub fn headers(u: &mut Unstructured<'_>, w: &World) -> Result<Headers> {
    let p = &w.policy;
    let mut pairs: Vec<(String, String)> = Vec::new();
    if u.ratio(1, 3)? {
        let name = if u.ratio(1, 8)? {
            "x-api-key"
        } else {
            p.api_key.header.as_str()
        };
        pairs.push((recase(u, name)?, credential_value(u, w, true)?));
    }
    if u.ratio(1, 2)? {
        let mut cookie_pairs: Vec<String> = Vec::new();
        if u.ratio(1, 3)? {
            cookie_pairs.push("theme=dark".into());
        }
        let names = [
            "__Secure-better-auth.session_token",
            "better-auth.session_token",
            "__Host-better-auth.session_token",
            "session_token",
        ];
        for _ in 0..u.int_in_range(1..=2)? {
            let name = pick(u, &names)?;
            let mut value = credential_value(u, w, false)?;
            if u.ratio(1, 6)? {
                value = format!("\"{value}\"");
            }
            cookie_pairs.push(if u.ratio(1, 12)? {
                name.to_string() // malformed pair: no '='
            } else {
                format!("{name}={value}")
            });
        }
        if u.ratio(1, 4)? {
            cookie_pairs.push("lang=en".into());
        }
        let sep = if u.ratio(1, 4)? { ";" } else { "; " };
        pairs.push((recase(u, "cookie")?, cookie_pairs.join(sep)));
    }
    if u.ratio(1, 3)? {
        let scheme = *u.choose(&["Bearer", "Bearer", "bearer", "BEARER", "Basic", "Token"])?;
        let spaces = " ".repeat(u.int_in_range(0..=2)?);
        let want_key = u.ratio(1, 2)?;
        let value = credential_value(u, w, want_key)?;
        let trailing = if u.ratio(1, 6)? { " " } else { "" };
        let v = if u.ratio(1, 12)? {
            scheme.to_string()
        } else {
            format!("{scheme} {spaces}{value}{trailing}")
        };
        pairs.push((recase(u, "authorization")?, v));
    }
    if u.ratio(1, 6)? {
        pairs.push(("x-request-id".into(), "req-42".into()));
    }
    // Names are distinct ignoring case by construction, unless the policy's
    // header is one of the others; drop such duplicates.
    let mut seen: Vec<String> = Vec::new();
    pairs.retain(|(n, _)| {
        let l = n.to_ascii_lowercase();
        let fresh = !seen.contains(&l);
        seen.push(l);
        fresh
    });
    Ok(Headers::new(pairs).expect("names are distinct ignoring case"))
}

fn maybe_id(u: &mut Unstructured<'_>, pool: &[&str], extra: &[&str]) -> Result<Option<Id>> {
    Ok(if u.ratio(1, 2)? {
        None
    } else if u.ratio(1, 10)? {
        Some(id(pick(u, extra)?))
    } else {
        Some(id(pick(u, pool)?))
    })
}

/// An `authenticate` op (the request fields of SPEC §4).
fn authenticate(u: &mut Unstructured<'_>, w: &World) -> Result<Op> {
    Ok(Op::Authenticate {
        action: pick(u, &ACTIONS)?.into(),
        headers: headers(u, w)?,
        tenant: maybe_id(u, &TENANTS, &["nowhere"])?,
        resource: if u.ratio(1, 3)? {
            Some(id(pick(u, &RESOURCES)?))
        } else {
            None
        },
    })
}

/// A request for the `decide` target.
pub fn request(u: &mut Unstructured<'_>, w: &World) -> Result<Request> {
    let at = near(u)?;
    let Op::Authenticate {
        action,
        headers,
        tenant,
        resource,
    } = authenticate(u, w)?
    else {
        unreachable!("authenticate builds an authenticate op")
    };
    Ok(Request {
        at,
        action,
        headers,
        tenant,
        resource,
    })
}

/// The `authenticate` command carrying `req`.
pub fn authenticate_command(req: &Request) -> Command {
    Command {
        at: req.at,
        op: Op::Authenticate {
            action: req.action.clone(),
            headers: req.headers.clone(),
            tenant: req.tenant.clone(),
            resource: req.resource.clone(),
        },
    }
}

fn tenant_any(u: &mut Unstructured<'_>) -> Result<Id> {
    Ok(id(if u.ratio(1, 8)? {
        pick(u, &NEW_TENANTS)?
    } else {
        pick(u, &TENANTS)?
    }))
}

fn user_any(u: &mut Unstructured<'_>) -> Result<Id> {
    Ok(id(if u.ratio(1, 8)? {
        pick(u, &NEW_USERS)?
    } else {
        pick(u, &USERS)?
    }))
}

/// A token for `mint_api_key` / `login`: mostly a spare one of the right
/// kind, sometimes one already used, of the wrong kind, or invalid.
fn command_token(u: &mut Unstructured<'_>, w: &World, key: bool) -> Result<Token> {
    let (own, other) = if key {
        (&w.key_tokens, &w.session_tokens)
    } else {
        (&w.session_tokens, &w.key_tokens)
    };
    let t = match u.int_in_range(0..=9)? {
        0..=6 => u.choose(own)?.clone(),
        7 => u.choose(other)?.clone(),
        8 => format!("{} x", u.choose(own)?),
        _ => String::new(),
    };
    Ok(Token::new(t))
}

/// One op over the world's pools.
fn op(u: &mut Unstructured<'_>, w: &World) -> Result<Op> {
    Ok(match u.int_in_range(0..=27)? {
        0 => Op::CreateTenant {
            tenant: tenant_any(u)?,
        },
        1 => Op::SuspendTenant {
            tenant: tenant_any(u)?,
        },
        2 => Op::ReinstateTenant {
            tenant: tenant_any(u)?,
        },
        3 => Op::CreateUser { user: user_any(u)? },
        4 => Op::BanUser { user: user_any(u)? },
        5 => Op::UnbanUser { user: user_any(u)? },
        6 => Op::AddMember {
            user: user_any(u)?,
            tenant: tenant_any(u)?,
            role: pick(u, &ROLES)?.into(),
        },
        7 => Op::RemoveMember {
            user: user_any(u)?,
            tenant: tenant_any(u)?,
        },
        8 => Op::SetRole {
            user: user_any(u)?,
            tenant: tenant_any(u)?,
            role: pick(u, &ROLES)?.into(),
        },
        9 | 10 => {
            let mut capabilities = Vec::new();
            for c in CAPABILITIES {
                if u.ratio(1, 2)? {
                    capabilities.push(c.to_string());
                }
            }
            Op::MintApiKey {
                key: id(pick(u, &KEY_IDS)?),
                owner: user_any(u)?,
                tenant: tenant_any(u)?,
                token: command_token(u, w, true)?,
                capabilities,
                expires_at: if u.ratio(1, 4)? { Some(near(u)?) } else { None },
                name: if u.ratio(1, 2)? {
                    Some(pick(u, &KEY_NAMES)?.into())
                } else {
                    None
                },
            }
        }
        11 => {
            let mut immutable: BTreeMap<String, Value> = BTreeMap::new();
            if u.ratio(1, 4)? {
                let (k, v) = match u.int_in_range(0..=3)? {
                    0 => ("tenant", json!(pick(u, &TENANTS)?)),
                    1 => ("owner", json!(pick(u, &USERS)?)),
                    2 => ("capabilities", json!([])),
                    _ => ("metadata", json!({"organizationId": pick(u, &TENANTS)?})),
                };
                immutable.insert(k.into(), v);
            }
            Op::UpdateApiKey {
                key: id(pick(u, &KEY_IDS)?),
                name: if u.ratio(1, 3)? {
                    Some(pick(u, &KEY_NAMES)?.into())
                } else {
                    None
                },
                enabled: if u.ratio(1, 2)? {
                    Some(u.arbitrary()?)
                } else {
                    None
                },
                expires_at: match u.int_in_range(0..=3)? {
                    0 => Some(None),
                    1 => Some(Some(near(u)?)),
                    _ => None,
                },
                immutable,
            }
        }
        12 => Op::RevokeApiKey {
            key: id(pick(u, &KEY_IDS)?),
        },
        13 => Op::DeleteApiKey {
            key: id(pick(u, &KEY_IDS)?),
        },
        14 | 15 => Op::Login {
            session: id(pick(u, &SESSION_IDS)?),
            user: user_any(u)?,
            token: command_token(u, w, false)?,
            tenant: if u.ratio(1, 2)? {
                Some(tenant_any(u)?)
            } else {
                None
            },
        },
        16 => Op::Logout {
            session: id(pick(u, &SESSION_IDS)?),
        },
        17 => Op::SwitchTenant {
            session: id(pick(u, &SESSION_IDS)?),
            tenant: tenant_any(u)?,
        },
        18 => Op::CreateResource {
            tenant: tenant_any(u)?,
            resource: id(pick(u, &RESOURCES)?),
            owner: user_any(u)?,
        },
        19 => Op::DeleteResource {
            tenant: tenant_any(u)?,
            resource: id(pick(u, &RESOURCES)?),
        },
        _ => authenticate(u, w)?,
    })
}

/// The `decide` input: a world and one request.
pub fn decide_case(data: &[u8]) -> Result<(World, Request)> {
    let mut u = Unstructured::new(data);
    let w = world(&mut u)?;
    let req = request(&mut u, &w)?;
    Ok((w, req))
}

/// The `differential` input: a world and 1..=[`MAX_STEPS`] commands with
/// non-decreasing `at`.
pub fn differential_trace(data: &[u8]) -> Result<Trace> {
    let mut u = Unstructured::new(data);
    let w = world(&mut u)?;
    let n = u.int_in_range(1..=MAX_STEPS)?;
    let mut at = T0 + offset(&mut u)?;
    let mut steps = Vec::with_capacity(n);
    for _ in 0..n {
        at += *u.choose(&STEPS)?;
        steps.push(Command {
            at: ts(at),
            op: op(&mut u, &w)?,
        });
        if u.is_empty() {
            break;
        }
    }
    Ok(Trace {
        policy: w.policy,
        snapshot: w.snapshot,
        steps,
    })
}

/// The `decide` input as a one-step trace.
pub fn decide_trace(data: &[u8]) -> Result<Trace> {
    let (w, req) = decide_case(data)?;
    Ok(Trace {
        policy: w.policy,
        snapshot: w.snapshot,
        steps: vec![authenticate_command(&req)],
    })
}
