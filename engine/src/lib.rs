//! # authproof-engine
//!
//! A deterministic decision engine for multi-tenant authentication and
//! authorization. Given a state [`State`] (tenants, users, memberships, API
//! keys, sessions, tenant-scoped resources), a [`Policy`] and a [`Request`],
//! [`State::decide`] returns allow or deny with exactly one precise
//! [`Reason`]; [`State::apply`] runs the state transitions of a [`Command`]
//! (mint, revoke, login, sliding refresh, remove member, …).
//!
//! The engine is pure: no I/O, no clock, no randomness, no global state.
//! Every request and command carries its own time, so an incident can be
//! replayed at its own time against a snapshot taken later, and the same
//! inputs always produce byte-identical output.
//!
//! The contract is the repository's `docs/SPEC.md` (formats, decision
//! procedure, commands, invariants, CLI).
//!
//! Everything the engine refuses — a file in [`load`], an [`Id`], a
//! [`Timestamp`], a [`Duration`], a [`CookieSecret`], a [`Policy`] value —
//! is one [`Error`]: where (file, line, JSON path or TOML key) and what was
//! expected, never the input value itself.
//!
//! ```
//! use authproof_engine::{load, Policy, Reason};
//!
//! let snapshot = br#"{
//!   "tenants": [{"id": "acme"}],
//!   "users": [{"id": "alice"}],
//!   "memberships": [{"user": "alice", "tenant": "acme", "role": "owner"}],
//!   "sessions": [{"id": "ses_1", "user": "alice", "tenant": "acme",
//!     "token_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
//!     "created_at": "2026-05-01T00:00:00Z", "expires_at": "2026-05-31T00:00:00Z"}]
//! }"#;
//! let state = load::snapshot(snapshot, "snapshot.json")?;
//! let policy = Policy::default();
//!
//! let request = load::request(br#"{"at": "2026-05-28T12:00:00Z", "action": "workspace.read",
//!   "headers": {"cookie": "better-auth.session_token=abc"}}"#, "request.json")?;
//! let decision = state.decide(&policy, &request);
//! assert!(decision.is_allow());
//!
//! let late = load::request(br#"{"at": "2026-05-31T00:00:00Z", "action": "workspace.read",
//!   "headers": {"cookie": "better-auth.session_token=abc"}}"#, "request.json")?;
//! assert_eq!(state.decide(&policy, &late).reason, Some(Reason::SessionExpired));
//! # Ok::<(), authproof_engine::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

mod apply;
mod command;
pub mod credential;
mod decide;
mod decision;
mod error;
mod explain;
pub mod fault;
mod id;
pub mod load;
mod outcome;
mod policy;
mod presented;
mod request;
pub mod signed;
pub mod snapshot;
mod state;
mod time;
mod token;

pub use command::{Command, Op};
/// The type of [`Decision::action`], re-exported so a caller names it without
/// depending on `compact_str` itself.
pub use compact_str::CompactString;
pub use decision::{CredentialRef, Decision, Effect, Effects, Reason, Scope, Verdict};
pub use error::Error;
pub use explain::Explain;
pub use fault::Fault;
pub use id::{Id, MAX_ID_BYTES};
pub use outcome::{Change, CommandResult, OpName, RecordRef, Rejection};
pub use policy::{
    default_actions, is_http_token, ActionRule, ApiKeyPolicy, Candidate, CookieFormat,
    CredentialKind, CredentialsPolicy, EmptyCapabilities, Multiple, Policy, SessionPolicy,
    TenantRule, Unbound, DEFAULT_POLICY_TOML,
};
pub use presented::{Presented, Via};
pub use request::{Headers, Request};
pub use signed::CookieSecret;
pub use smallvec;
pub use snapshot::Snapshot;
pub use state::State;
pub use time::{Duration, Timestamp, MAX_DURATION_SECS};
pub use token::{is_valid_token, Token, TokenHash};
