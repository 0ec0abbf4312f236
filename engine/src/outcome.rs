//! What a command returns (SPEC §8): `ok` with the changes it made, a
//! rejection with one precise reason, or, for `authenticate`, a decision.
//!
//! "No silent writes" (I7) is a property of this type's use: `Ok` always
//! carries at least one [`Change`], and a rejection leaves the state as it was.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Decision, Id};

/// Why a command was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    DuplicateId,
    DuplicateToken,
    InvalidToken,
    UnknownTenant,
    UnknownUser,
    AlreadyMember,
    NotAMember,
    UserBanned,
    ApiKeyNotFound,
    ApiKeyDeleted,
    ApiKeyRevoked,
    ImmutableField,
    SessionNotFound,
    SessionRevoked,
    SessionExpired,
    TenantSuspended,
    ResourceNotFound,
    NoChange,
}

impl Rejection {
    /// Every rejection reason.
    pub const ALL: [Rejection; 18] = [
        Rejection::DuplicateId,
        Rejection::DuplicateToken,
        Rejection::InvalidToken,
        Rejection::UnknownTenant,
        Rejection::UnknownUser,
        Rejection::AlreadyMember,
        Rejection::NotAMember,
        Rejection::UserBanned,
        Rejection::ApiKeyNotFound,
        Rejection::ApiKeyDeleted,
        Rejection::ApiKeyRevoked,
        Rejection::ImmutableField,
        Rejection::SessionNotFound,
        Rejection::SessionRevoked,
        Rejection::SessionExpired,
        Rejection::TenantSuspended,
        Rejection::ResourceNotFound,
        Rejection::NoChange,
    ];

    /// The snake_case code, as in JSON.
    pub fn code(self) -> &'static str {
        use Rejection::*;
        match self {
            DuplicateId => "duplicate_id",
            DuplicateToken => "duplicate_token",
            InvalidToken => "invalid_token",
            UnknownTenant => "unknown_tenant",
            UnknownUser => "unknown_user",
            AlreadyMember => "already_member",
            NotAMember => "not_a_member",
            UserBanned => "user_banned",
            ApiKeyNotFound => "api_key_not_found",
            ApiKeyDeleted => "api_key_deleted",
            ApiKeyRevoked => "api_key_revoked",
            ImmutableField => "immutable_field",
            SessionNotFound => "session_not_found",
            SessionRevoked => "session_revoked",
            SessionExpired => "session_expired",
            TenantSuspended => "tenant_suspended",
            ResourceNotFound => "resource_not_found",
            NoChange => "no_change",
        }
    }

    /// The rejections each op can return, in the order its checks run
    /// (SPEC §8 table). `authenticate` never rejects.
    pub fn of_op(op: &str) -> &'static [Rejection] {
        use Rejection::*;
        match op {
            "create_tenant" | "create_user" => &[DuplicateId],
            "suspend_tenant" | "reinstate_tenant" => &[UnknownTenant, NoChange],
            "ban_user" | "unban_user" => &[UnknownUser, NoChange],
            "add_member" => &[UnknownUser, UnknownTenant, AlreadyMember],
            "remove_member" => &[NotAMember],
            "set_role" => &[NotAMember, NoChange],
            "mint_api_key" => &[
                DuplicateId,
                DuplicateToken,
                InvalidToken,
                NotAMember,
                UserBanned,
            ],
            "update_api_key" => &[
                ApiKeyNotFound,
                ApiKeyDeleted,
                ApiKeyRevoked,
                ImmutableField,
                NoChange,
            ],
            "revoke_api_key" => &[ApiKeyNotFound, ApiKeyDeleted, ApiKeyRevoked],
            "delete_api_key" => &[ApiKeyNotFound, ApiKeyDeleted],
            "login" => &[
                DuplicateId,
                DuplicateToken,
                InvalidToken,
                UnknownUser,
                UserBanned,
                NotAMember,
            ],
            "logout" => &[SessionNotFound, SessionRevoked, SessionExpired],
            "switch_tenant" => &[
                SessionNotFound,
                SessionRevoked,
                SessionExpired,
                NotAMember,
                TenantSuspended,
                NoChange,
            ],
            "create_resource" => &[DuplicateId, UnknownTenant, NotAMember],
            "delete_resource" => &[ResourceNotFound],
            _ => &[],
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Which record a change touched.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum RecordRef {
    Tenant { id: Id },
    User { id: Id },
    Membership { user: Id, tenant: Id },
    ApiKey { id: Id },
    Session { id: Id },
    Resource { tenant: Id, id: Id },
}

/// One change a command made.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A record was created.
    Create {
        #[serde(flatten)]
        record: RecordRef,
    },
    /// One field of a record changed from `from` to `to`.
    Update {
        #[serde(flatten)]
        record: RecordRef,
        field: String,
        from: Value,
        to: Value,
    },
    /// A record was removed.
    Delete {
        #[serde(flatten)]
        record: RecordRef,
    },
}

/// The result of one command. Serializes as a SPEC §8 result line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CommandResult {
    Ok {
        op: OpName,
        changes: Vec<Change>,
    },
    Rejected {
        op: OpName,
        reason: Rejection,
        explain: String,
    },
    Decision {
        op: OpName,
        decision: Box<Decision>,
    },
}

/// A result's op name: inline (every name fits in 24 bytes), so a result
/// allocates nothing for it; the explorer builds two results a transition.
pub type OpName = compact_str::CompactString;

impl CommandResult {
    /// The op this result answers.
    pub fn op(&self) -> &str {
        match self {
            CommandResult::Ok { op, .. }
            | CommandResult::Rejected { op, .. }
            | CommandResult::Decision { op, .. } => op,
        }
    }

    /// The rejection reason, if rejected.
    pub fn rejection(&self) -> Option<Rejection> {
        match self {
            CommandResult::Rejected { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// The decision, for `authenticate`.
    pub fn decision(&self) -> Option<&Decision> {
        match self {
            CommandResult::Decision { decision, .. } => Some(decision),
            _ => None,
        }
    }
}
