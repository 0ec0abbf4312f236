//! Decisions (SPEC §7) and their reasons (SPEC §6).
//!
//! A denial carries exactly one [`Reason`]: the first step of the decision
//! procedure that failed. Collapsing reasons (F01) is what makes a rotated
//! key indistinguishable from a wrong one, so the enum is closed and every
//! variant has its own status.

use std::{
    fmt,
    hash::{Hash, Hasher},
};

use serde::{
    ser::{SerializeSeq, SerializeStruct},
    Deserialize, Serialize, Serializer,
};

use compact_str::CompactString;
use smallvec::SmallVec;

use crate::{CredentialKind, Explain, Id, Timestamp};

/// Why a request was denied, in decision-procedure order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    UnknownAction,
    NoCredential,
    AmbiguousCredential,
    MalformedCredential,
    ApiKeyNotFound,
    ApiKeyDeleted,
    ApiKeyRevoked,
    ApiKeyDisabled,
    ApiKeyExpired,
    SessionNotFound,
    SessionRevoked,
    SessionExpired,
    UserBanned,
    CredentialNotAllowed,
    ApiKeyUnbound,
    CrossTenant,
    TenantRequired,
    NotAMember,
    TenantSuspended,
    InsufficientRole,
    MissingCapability,
    ResourceNotFound,
    NotResourceOwner,
}

impl Reason {
    /// Every reason, in decision-procedure order.
    pub const ALL: [Reason; 23] = [
        Reason::UnknownAction,
        Reason::NoCredential,
        Reason::AmbiguousCredential,
        Reason::MalformedCredential,
        Reason::ApiKeyNotFound,
        Reason::ApiKeyDeleted,
        Reason::ApiKeyRevoked,
        Reason::ApiKeyDisabled,
        Reason::ApiKeyExpired,
        Reason::SessionNotFound,
        Reason::SessionRevoked,
        Reason::SessionExpired,
        Reason::UserBanned,
        Reason::CredentialNotAllowed,
        Reason::ApiKeyUnbound,
        Reason::CrossTenant,
        Reason::TenantRequired,
        Reason::NotAMember,
        Reason::TenantSuspended,
        Reason::InsufficientRole,
        Reason::MissingCapability,
        Reason::ResourceNotFound,
        Reason::NotResourceOwner,
    ];

    /// The HTTP status of the SPEC §6 table.
    pub fn status(self) -> u16 {
        use Reason::*;
        match self {
            NoCredential | MalformedCredential | AmbiguousCredential | SessionNotFound
            | SessionRevoked | SessionExpired | ApiKeyNotFound | ApiKeyDeleted | ApiKeyRevoked
            | ApiKeyDisabled | ApiKeyExpired => 401,
            ResourceNotFound => 404,
            UserBanned | CredentialNotAllowed | ApiKeyUnbound | CrossTenant | TenantRequired
            | NotAMember | TenantSuspended | InsufficientRole | MissingCapability
            | NotResourceOwner | UnknownAction => 403,
        }
    }

    /// The snake_case code, as in JSON.
    pub fn code(self) -> &'static str {
        use Reason::*;
        match self {
            UnknownAction => "unknown_action",
            NoCredential => "no_credential",
            AmbiguousCredential => "ambiguous_credential",
            MalformedCredential => "malformed_credential",
            ApiKeyNotFound => "api_key_not_found",
            ApiKeyDeleted => "api_key_deleted",
            ApiKeyRevoked => "api_key_revoked",
            ApiKeyDisabled => "api_key_disabled",
            ApiKeyExpired => "api_key_expired",
            SessionNotFound => "session_not_found",
            SessionRevoked => "session_revoked",
            SessionExpired => "session_expired",
            UserBanned => "user_banned",
            CredentialNotAllowed => "credential_not_allowed",
            ApiKeyUnbound => "api_key_unbound",
            CrossTenant => "cross_tenant",
            TenantRequired => "tenant_required",
            NotAMember => "not_a_member",
            TenantSuspended => "tenant_suspended",
            InsufficientRole => "insufficient_role",
            MissingCapability => "missing_capability",
            ResourceNotFound => "resource_not_found",
            NotResourceOwner => "not_resource_owner",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// `allow` or `deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
}

/// The credential a decision identified.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CredentialRef {
    pub kind: CredentialKind,
    pub id: Id,
}

/// A state transition a decision asks for; `decide` reports it, the
/// `authenticate` command applies it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Sliding refresh: the session's new expiry.
    ExtendSession { session: Id, expires_at: Timestamp },
}

/// The outcome of one request. Field order is output order (SPEC §7).
///
/// `explain` is rendered from notes and from the other fields only when
/// asked for ([`Decision::explain_lines`], serialization, `Debug`,
/// equality): see [`Explain`]. Two decisions are equal when every field is
/// and they render the same lines.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub decision: Verdict,
    pub reason: Option<Reason>,
    pub status: u16,
    /// Inline up to 24 bytes: an early deny allocates nothing.
    pub action: CompactString,
    pub user: Option<Id>,
    pub credential: Option<CredentialRef>,
    pub tenant: Option<Id>,
    pub scope: Scope,
    pub effects: Effects,
    pub explain: Explain,
}

/// The tenants an allow may act in (SPEC §6.3), in id order: inline for
/// the usual one (an API key's bound tenant; a session's user in one
/// tenant), so an allow allocates nothing for it. A `Vec` converts with
/// `.into()`; it serializes, compares and prints as a list.
pub type Scope = SmallVec<[Id; 1]>;

/// The state changes a decision asks for (SPEC §6.4): none or one sliding
/// refresh, inline.
pub type Effects = SmallVec<[Effect; 1]>;

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allow(&self) -> bool {
        self.decision == Verdict::Allow
    }

    /// The lines of `explain`, as the JSON output has them.
    pub fn explain_lines(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(8);
        let _ = self.explain.for_each_line(self, |l| {
            out.push(l.to_string());
            Ok::<(), ()>(())
        });
        out
    }

    /// Renders `explain` into text now, so that changing the other fields
    /// afterwards (as a fault or an adapter does) leaves its words as the
    /// engine wrote them.
    pub fn freeze_explain(&mut self) {
        self.explain = Explain::from(self.explain_lines());
    }

    /// Equal fields and the same recorded explanation (its notes and text):
    /// then the two serialize to the same bytes. Stricter than `==`, which
    /// also takes different notes that happen to render the same lines, and
    /// cheap: nothing is rendered. With [`Decision::hash_recorded`] it keys
    /// a memo table by decision (explore keeps each distinct result's line
    /// so).
    pub fn same_recorded(&self, other: &Decision) -> bool {
        self.same_fields(other) && self.explain.same_notes(&other.explain)
    }

    /// Every field but `explain` equal.
    fn same_fields(&self, other: &Decision) -> bool {
        self.decision == other.decision
            && self.reason == other.reason
            && self.status == other.status
            && self.action == other.action
            && self.user == other.user
            && self.credential == other.credential
            && self.tenant == other.tenant
            && self.scope == other.scope
            && self.effects == other.effects
    }

    /// Hashes what [`Decision::same_recorded`] compares: two decisions it
    /// finds the same hash the same.
    pub fn hash_recorded<H: Hasher>(&self, h: &mut H) {
        // Destructured without `..`: a new field must be hashed here.
        let Decision {
            decision,
            reason,
            status,
            action,
            user,
            credential,
            tenant,
            scope,
            effects,
            explain,
        } = self;
        (decision, reason, status, action).hash(h);
        (user, credential, tenant, scope, effects).hash(h);
        explain.hash_notes(h);
    }
}

/// The `explain` field of a decision's JSON: its lines, rendered one at a
/// time into one buffer.
struct Lines<'a>(&'a Decision);

impl Serialize for Lines<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        self.0
            .explain
            .for_each_line(self.0, |l| seq.serialize_element(l))?;
        seq.end()
    }
}

impl fmt::Debug for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let _ = self.0.explain.for_each_line(self.0, |l| {
            list.entry(&l);
            Ok::<(), ()>(())
        });
        list.finish()
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Decision", 10)?;
        st.serialize_field("decision", &self.decision)?;
        st.serialize_field("reason", &self.reason)?;
        st.serialize_field("status", &self.status)?;
        st.serialize_field("action", &self.action)?;
        st.serialize_field("user", &self.user)?;
        st.serialize_field("credential", &self.credential)?;
        st.serialize_field("tenant", &self.tenant)?;
        st.serialize_field("scope", &self.scope)?;
        st.serialize_field("effects", &self.effects)?;
        st.serialize_field("explain", &Lines(self))?;
        st.end()
    }
}

impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decision")
            .field("decision", &self.decision)
            .field("reason", &self.reason)
            .field("status", &self.status)
            .field("action", &self.action)
            .field("user", &self.user)
            .field("credential", &self.credential)
            .field("tenant", &self.tenant)
            .field("scope", &self.scope)
            .field("effects", &self.effects)
            .field("explain", &Lines(self))
            .finish()
    }
}

impl PartialEq for Decision {
    fn eq(&self, other: &Decision) -> bool {
        self.same_fields(other)
            && (self.explain.same_notes(&other.explain)
                || self.explain_lines() == other.explain_lines())
    }
}

impl Eq for Decision {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_serde() {
        for r in Reason::ALL {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.code())
            );
        }
    }

    #[test]
    fn statuses() {
        let count = |s| Reason::ALL.iter().filter(|r| r.status() == s).count();
        assert_eq!(count(401), 11);
        assert_eq!(count(404), 1);
        assert_eq!(count(403), 11);
    }
}
