//! The snapshot integrity rules of SPEC §2, read a second time: given a
//! [`Snapshot`], the first record that breaks a rule, or nothing.
//!
//! *Why a second reading.* The engine checks integrity once, while it builds
//! its indexes (`State::from_snapshot`); the rest of the model assumes a
//! snapshot that passed. Without an independent judge, an engine that stopped
//! refusing a dangling reference or a reused token hash would be invisible to
//! every checker, because every generator draws valid snapshots only. The
//! verification crate feeds invalid snapshots to both and requires the same
//! verdict, the same JSON path and the same message
//! (`authproof_verification::integrity`).
//!
//! *How it is written.* From the SPEC's table of rules, not from the engine's
//! code: no indexes, no hash maps, no entry API. Each record is compared with
//! the records before it by a linear scan (`position`), and each rule of the
//! SPEC's table is one `if`, in the table's order. The scans make this
//! quadratic in the size of a collection; the checkers feed it a few records
//! (generated universes, fuzz inputs of a few kilobytes), never a production
//! snapshot. Rejected: sharing the engine's checks through a public helper
//! (then a mutant in it would be judged by itself), and sorting the
//! collections to find duplicates in `n log n` (the first violation is the
//! first in *input* order, which sorting loses and would have to rebuild).
//!
//! Token hashes are never printed: a refusal names records by JSON path and
//! the rule, as the engine must (SPEC §1.1), so comparing the two messages
//! also checks that neither echoes a value.

use std::fmt;

use authproof_engine::{Id, Snapshot, TokenHash};

/// A SPEC §2 integrity rule, in the words of its message's `(rule: …)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Two tenants, users, keys or sessions with one id.
    UniqueIds,
    /// Two memberships of one user in one tenant.
    UniqueMemberships,
    /// Two resources of one tenant with one id.
    UniqueResources,
    /// A user or tenant reference to no record.
    ReferencesResolve,
    /// A session that expires before it is created.
    SessionCreatedBeforeExpiry,
    /// One token hash on two credentials (keys and sessions together).
    UniqueTokenHashes,
}

impl Rule {
    /// Every rule, in the order of SPEC §2's list.
    pub const ALL: [Rule; 6] = [
        Rule::UniqueIds,
        Rule::UniqueMemberships,
        Rule::UniqueResources,
        Rule::ReferencesResolve,
        Rule::SessionCreatedBeforeExpiry,
        Rule::UniqueTokenHashes,
    ];

    /// The rule as the message names it, after `rule: `.
    pub fn text(self) -> &'static str {
        match self {
            Rule::UniqueIds => "unique ids per collection",
            Rule::UniqueMemberships => "unique (user, tenant) memberships",
            Rule::UniqueResources => "unique (tenant, id) resources",
            Rule::ReferencesResolve => "every reference resolves",
            Rule::SessionCreatedBeforeExpiry => "created_at <= expires_at",
            Rule::UniqueTokenHashes => "token_sha256 unique across keys and sessions",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// Why a snapshot is refused: the first violation in SPEC §2's order.
///
/// `path` and `message` are what the engine's error must carry
/// (`Error::path()`, `Error::message()`); neither holds a value read from
/// the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub rule: Rule,
    /// The JSON path of the offending record or field (`$.sessions[1].user`).
    pub path: String,
    /// What is wrong, ending in `(rule: …)`.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The record a reference names: a user or a tenant.
#[derive(Clone, Copy)]
enum Kind {
    User,
    Tenant,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Tenant => "tenant",
        }
    }
}

fn duplicate_id(collection: &str, what: &str, i: usize, earlier: usize) -> Refusal {
    Refusal {
        rule: Rule::UniqueIds,
        path: format!("$.{collection}[{i}].id"),
        message: format!(
            "duplicate {what} id: the same as $.{collection}[{earlier}].id (rule: {})",
            Rule::UniqueIds
        ),
    }
}

fn dangling(path: String, kind: Kind) -> Refusal {
    Refusal {
        rule: Rule::ReferencesResolve,
        path,
        message: format!(
            "dangling reference: no {} has this id (rule: {})",
            kind.word(),
            Rule::ReferencesResolve
        ),
    }
}

/// SPEC §2's integrity rules on `snapshot`: `Ok` when every rule holds, else
/// the first violation.
///
/// "First" is SPEC §2's order: the collections in snapshot order (tenants,
/// users, memberships, api_keys, sessions, resources), the records of a
/// collection in array order, and each record's rules in the order of the
/// SPEC's table. A record is only ever compared with the records *before* it
/// (duplicates and token hashes: the later record is the offender, the
/// earlier one is named), and references resolve against whole collections
/// (tenants and users come first and are checked whole before anything
/// refers to them).
pub fn check(snapshot: &Snapshot) -> Result<(), Refusal> {
    let s = snapshot;
    let user_exists = |id: &Id| s.users.iter().any(|u| u.id == *id);
    let tenant_exists = |id: &Id| s.tenants.iter().any(|t| t.id == *id);

    // Tenants, then users: unique ids.
    for (i, t) in s.tenants.iter().enumerate() {
        if let Some(j) = s.tenants[..i].iter().position(|e| e.id == t.id) {
            return Err(duplicate_id("tenants", "tenant", i, j));
        }
    }
    for (i, u) in s.users.iter().enumerate() {
        if let Some(j) = s.users[..i].iter().position(|e| e.id == u.id) {
            return Err(duplicate_id("users", "user", i, j));
        }
    }

    // Memberships: the user resolves, the tenant resolves, the pair is new.
    for (i, m) in s.memberships.iter().enumerate() {
        if !user_exists(&m.user) {
            return Err(dangling(format!("$.memberships[{i}].user"), Kind::User));
        }
        if !tenant_exists(&m.tenant) {
            return Err(dangling(format!("$.memberships[{i}].tenant"), Kind::Tenant));
        }
        let earlier = s.memberships[..i]
            .iter()
            .position(|e| e.user == m.user && e.tenant == m.tenant);
        if let Some(j) = earlier {
            return Err(Refusal {
                rule: Rule::UniqueMemberships,
                path: format!("$.memberships[{i}]"),
                message: format!(
                    "duplicate membership: the same user and tenant as $.memberships[{j}] (rule: {})",
                    Rule::UniqueMemberships
                ),
            });
        }
    }

    // The credential that already holds a token hash: keys first, then
    // sessions, each in array order, only the first `keys_before` keys and
    // `sessions_before` sessions (the records checked before this one).
    let holder = |h: TokenHash, keys_before: usize, sessions_before: usize| -> Option<String> {
        if let Some(j) = s.api_keys[..keys_before]
            .iter()
            .position(|k| k.token_sha256 == h)
        {
            return Some(format!("$.api_keys[{j}]"));
        }
        s.sessions[..sessions_before]
            .iter()
            .position(|x| x.token_sha256 == h)
            .map(|j| format!("$.sessions[{j}]"))
    };
    let token_reused = |path: String, other: String| Refusal {
        rule: Rule::UniqueTokenHashes,
        path,
        message: format!(
            "token_sha256 is already used by {other} (rule: {})",
            Rule::UniqueTokenHashes
        ),
    };

    // API keys: unique id, the owner resolves, a bound tenant resolves, the
    // token hash is new.
    for (i, k) in s.api_keys.iter().enumerate() {
        if let Some(j) = s.api_keys[..i].iter().position(|e| e.id == k.id) {
            return Err(duplicate_id("api_keys", "api key", i, j));
        }
        if !user_exists(&k.owner) {
            return Err(dangling(format!("$.api_keys[{i}].owner"), Kind::User));
        }
        if let Some(t) = &k.tenant {
            if !tenant_exists(t) {
                return Err(dangling(format!("$.api_keys[{i}].tenant"), Kind::Tenant));
            }
        }
        if let Some(other) = holder(k.token_sha256, i, 0) {
            return Err(token_reused(format!("$.api_keys[{i}].token_sha256"), other));
        }
    }

    // Sessions: unique id, the user resolves, an active tenant resolves,
    // created no later than it expires, the token hash is new (against
    // every key and the earlier sessions).
    for (i, x) in s.sessions.iter().enumerate() {
        if let Some(j) = s.sessions[..i].iter().position(|e| e.id == x.id) {
            return Err(duplicate_id("sessions", "session", i, j));
        }
        if !user_exists(&x.user) {
            return Err(dangling(format!("$.sessions[{i}].user"), Kind::User));
        }
        if let Some(t) = &x.tenant {
            if !tenant_exists(t) {
                return Err(dangling(format!("$.sessions[{i}].tenant"), Kind::Tenant));
            }
        }
        if x.expires_at < x.created_at {
            return Err(Refusal {
                rule: Rule::SessionCreatedBeforeExpiry,
                path: format!("$.sessions[{i}].expires_at"),
                message: format!(
                    "the session expires before it is created (rule: {})",
                    Rule::SessionCreatedBeforeExpiry
                ),
            });
        }
        if let Some(other) = holder(x.token_sha256, s.api_keys.len(), i) {
            return Err(token_reused(format!("$.sessions[{i}].token_sha256"), other));
        }
    }

    // Resources: the tenant resolves, the owner resolves, the pair is new.
    for (i, r) in s.resources.iter().enumerate() {
        if !tenant_exists(&r.tenant) {
            return Err(dangling(format!("$.resources[{i}].tenant"), Kind::Tenant));
        }
        if !user_exists(&r.owner) {
            return Err(dangling(format!("$.resources[{i}].owner"), Kind::User));
        }
        let earlier = s.resources[..i]
            .iter()
            .position(|e| e.tenant == r.tenant && e.id == r.id);
        if let Some(j) = earlier {
            return Err(Refusal {
                rule: Rule::UniqueResources,
                path: format!("$.resources[{i}]"),
                message: format!(
                    "duplicate resource: the same tenant and id as $.resources[{j}] (rule: {})",
                    Rule::UniqueResources
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! One snapshot per rule, written by hand from SPEC §2's examples; the
    //! agreement with the engine on generated snapshots is in
    //! `authproof-verification` (its `integrity` module and the gate).

    use super::*;
    use authproof_engine::snapshot::{ApiKey, Membership, Resource, Session, Tenant, User};
    use authproof_engine::Timestamp;

    fn id(s: &str) -> Id {
        Id::new(s).expect("an id")
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix(1_779_969_600 + secs).expect("in range")
    }

    fn key(k: &str, owner: &str, tenant: Option<&str>, token: &str) -> ApiKey {
        ApiKey {
            id: id(k),
            owner: id(owner),
            tenant: tenant.map(id),
            token_sha256: TokenHash::of(token),
            prefix: Default::default(),
            capabilities: Vec::new(),
            enabled: true,
            name: Default::default(),
            created_at: at(0),
            expires_at: None,
            revoked_at: None,
            deleted_at: None,
        }
    }

    fn session(x: &str, user: &str, token: &str, created: i64, expires: i64) -> Session {
        Session {
            id: id(x),
            user: id(user),
            tenant: None,
            token_sha256: TokenHash::of(token),
            created_at: at(created),
            expires_at: at(expires),
            revoked_at: None,
        }
    }

    /// Two tenants, two users, one membership each, a key and a session.
    fn base() -> Snapshot {
        Snapshot {
            taken_at: None,
            tenants: ["acme", "globex"]
                .map(|t| Tenant {
                    id: id(t),
                    suspended: false,
                })
                .to_vec(),
            users: ["alice", "bob"]
                .map(|u| User {
                    id: id(u),
                    banned: false,
                })
                .to_vec(),
            memberships: [("alice", "acme"), ("bob", "globex")]
                .map(|(u, t)| Membership {
                    user: id(u),
                    tenant: id(t),
                    role: "member".into(),
                    since: at(0),
                })
                .to_vec(),
            api_keys: vec![key("key_1", "alice", Some("acme"), "tok_a")],
            sessions: vec![session("ses_1", "bob", "tok_b", 0, 0)],
            resources: vec![Resource {
                tenant: id("acme"),
                id: id("conv"),
                owner: id("alice"),
                created_at: at(0),
            }],
        }
    }

    fn refused(s: &Snapshot) -> (Rule, String, String) {
        let r = check(s).expect_err("refused");
        (r.rule, r.path, r.message)
    }

    #[test]
    fn the_base_passes_with_a_session_created_as_it_expires() {
        assert_eq!(check(&base()), Ok(()));
        assert_eq!(check(&Snapshot::default()), Ok(()));
    }

    #[test]
    fn each_rule_names_the_record_and_the_earlier_one() {
        let mut s = base();
        s.users.push(User {
            id: id("alice"),
            banned: true,
        });
        assert_eq!(
            refused(&s),
            (
                Rule::UniqueIds,
                "$.users[2].id".into(),
                "duplicate user id: the same as $.users[0].id (rule: unique ids per collection)"
                    .into()
            )
        );

        let mut s = base();
        s.memberships.push(s.memberships[1].clone());
        assert_eq!(refused(&s).0, Rule::UniqueMemberships);
        assert_eq!(refused(&s).1, "$.memberships[2]");
        assert!(refused(&s).2.contains("as $.memberships[1] (rule"));

        let mut s = base();
        s.sessions.push(session("ses_2", "alice", "tok_a", 0, 1));
        assert_eq!(
            refused(&s),
            (
                Rule::UniqueTokenHashes,
                "$.sessions[1].token_sha256".into(),
                "token_sha256 is already used by $.api_keys[0] (rule: token_sha256 unique across keys and sessions)".into()
            )
        );

        let mut s = base();
        s.sessions[0].created_at = at(1);
        assert_eq!(
            refused(&s),
            (
                Rule::SessionCreatedBeforeExpiry,
                "$.sessions[0].expires_at".into(),
                "the session expires before it is created (rule: created_at <= expires_at)".into()
            )
        );

        let mut s = base();
        s.resources.push(s.resources[0].clone());
        s.resources[1].owner = id("bob");
        assert_eq!(refused(&s).0, Rule::UniqueResources);
        assert_eq!(refused(&s).1, "$.resources[1]");
    }

    #[test]
    fn the_first_violation_in_spec_order_wins() {
        // A key's owner and tenant both dangle: the owner (field order).
        let mut s = base();
        s.api_keys[0].owner = id("mallory");
        s.api_keys[0].tenant = Some(id("umbrella"));
        assert_eq!(refused(&s).1, "$.api_keys[0].owner");
        // A duplicate key id is reported before the record's other faults.
        s.api_keys.insert(0, key("key_1", "alice", None, "tok_c"));
        assert_eq!(refused(&s).1, "$.api_keys[1].id");
        // A resource's tenant before its owner.
        let mut s = base();
        s.resources[0].tenant = id("umbrella");
        s.resources[0].owner = id("mallory");
        assert_eq!(refused(&s).1, "$.resources[0].tenant");
        // The session time rule before its token hash.
        let mut s = base();
        s.sessions[0].token_sha256 = TokenHash::of("tok_a");
        s.sessions[0].expires_at = at(-1);
        assert_eq!(refused(&s).0, Rule::SessionCreatedBeforeExpiry);
        // An earlier collection before a later one, whatever the index.
        let mut s = base();
        s.resources[0].owner = id("mallory");
        s.memberships[1].tenant = id("umbrella");
        assert_eq!(refused(&s).1, "$.memberships[1].tenant");
        // A key's token reused by a later key names the earlier key.
        let mut s = base();
        s.api_keys.push(key("key_2", "bob", None, "tok_a"));
        assert_eq!(refused(&s).1, "$.api_keys[1].token_sha256");
        // A session's token reused by a later session names the session.
        let mut s = base();
        s.sessions.push(session("ses_2", "bob", "tok_b", 0, 5));
        assert!(refused(&s).2.contains("already used by $.sessions[0] "));
        // A legacy key and a session without a tenant refer to no tenant.
        let mut s = base();
        s.api_keys[0].tenant = None;
        s.tenants.clear();
        s.memberships.clear();
        s.resources.clear();
        assert_eq!(check(&s), Ok(()));
    }
}
