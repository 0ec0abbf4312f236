//! Injectable faults: the bug classes of INCIDENTS.md (F01–F16), re-created
//! in the engine so the verification harness can prove it catches each one.
//!
//! Faults exist only in builds with the `faults` cargo feature, which is off
//! by default. Without it [`State::fault`](crate::State) is a constant `false`
//! and every fault branch is compiled out: a normal build carries none of
//! them. With it, a fault is switched on per state at run time
//! ([`State::inject`](crate::State::inject)), never through global state.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One incident class of INCIDENTS.md, as an injectable fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Fault {
    /// Not-found, revoked, deleted and missing-capability collapse into one reason.
    F01,
    /// The session cookie is validated as if it were an `Authorization: Bearer` header.
    F02,
    /// The extracted token is percent-encoded again before lookup.
    F03,
    /// The API-key header is ignored; only `Authorization: Bearer` is read.
    F04,
    /// An API-key request acts in the owner's newest tenant, not the key's.
    F05,
    /// An update carrying `tenant`/`owner`/metadata is accepted.
    F06,
    /// An API-key allow lists every tenant of the owner as its scope.
    F07,
    /// The sliding refresh extends a session without checking it is live.
    F08,
    /// Membership is checked only at mint/login: a removed member keeps access.
    F09,
    /// A resource is looked up by id alone, in any tenant.
    F10,
    /// An update of a missing record reports success and changes nothing.
    F11,
    /// A legacy unbound key acts in its owner's newest tenant despite `unbound = "deny"`.
    F12,
    /// A credential whose expiry equals the request time is still accepted.
    F13,
    /// The explanation prints the raw token.
    F14,
    /// `update enabled=true` on a revoked key makes it work again.
    F15,
    /// Banning a user leaves the user's sessions usable after unban.
    F16,
}

impl Fault {
    /// Every fault, in catalogue order.
    pub const ALL: [Fault; 16] = [
        Fault::F01,
        Fault::F02,
        Fault::F03,
        Fault::F04,
        Fault::F05,
        Fault::F06,
        Fault::F07,
        Fault::F08,
        Fault::F09,
        Fault::F10,
        Fault::F11,
        Fault::F12,
        Fault::F13,
        Fault::F14,
        Fault::F15,
        Fault::F16,
    ];

    /// The incident's short name, as in INCIDENTS.md.
    pub fn name(self) -> &'static str {
        match self {
            Fault::F01 => "collapsed-reasons",
            Fault::F02 => "cookie-as-bearer",
            Fault::F03 => "reencoded-token",
            Fault::F04 => "key-header-ignored",
            Fault::F05 => "key-tenant-ignored",
            Fault::F06 => "mutable-key-metadata",
            Fault::F07 => "unscoped-token",
            Fault::F08 => "sliding-revives",
            Fault::F09 => "stale-membership",
            Fault::F10 => "global-resource-key",
            Fault::F11 => "silent-noop-write",
            Fault::F12 => "legacy-key-misroute",
            Fault::F13 => "expiry-off-by-one",
            Fault::F14 => "secret-in-explain",
            Fault::F15 => "revived-key",
            Fault::F16 => "banned-session-survives",
        }
    }

    /// Parses `F03` (any case) or `F03-reencoded-token`.
    pub fn parse(s: &str) -> Option<Fault> {
        let id = s.split('-').next()?.to_ascii_uppercase();
        Fault::ALL.into_iter().find(|f| format!("{f:?}") == id)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}-{}", self.name())
    }
}

/// Percent-encodes every byte outside the URL-unreserved set: what a
/// "normalizing" middleware does to a token before lookup (F03).
pub(crate) fn percent_encode(token: &str) -> String {
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
