//! Decisions (SPEC §7) and their reasons (SPEC §6).
//!
//! A denial carries exactly one [`Reason`]: the first step of the decision
//! procedure that failed. Collapsing reasons (F01) is what makes a rotated
//! key indistinguishable from a wrong one, so the enum is closed and every
//! variant has its own status.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{CredentialKind, Id, Timestamp};

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub decision: Verdict,
    pub reason: Option<Reason>,
    pub status: u16,
    pub action: String,
    pub user: Option<Id>,
    pub credential: Option<CredentialRef>,
    pub tenant: Option<Id>,
    pub scope: Vec<Id>,
    pub effects: Vec<Effect>,
    pub explain: Vec<String>,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allow(&self) -> bool {
        self.decision == Verdict::Allow
    }
}

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
