//! Recorded requests: real traffic (SPEC §4 lines) replayed under both
//! policies against a snapshot, each at its own `at`.
//!
//! A census answers "what *could* change"; recorded requests answer "what
//! *did* clients send that would now be decided otherwise", including
//! channels and tenants the census does not enumerate (a malformed header,
//! two credentials at once, a resource). They are decided with the real
//! headers through [`State::decide`], so extraction is exercised too.
//! Rejected: deciding them against the census time instead of their own
//! `at` — a recorded request is evidence of one moment, and expiry moves.

use authproof_engine::{
    credential::{extract, Extraction},
    Decision, Policy, Request, State,
};

use crate::tally::{CaseTally, Example, SourceKind};

/// The channel a request presents its credential on, as extraction under
/// `policy` reads it (`none` when it presents none).
fn request_channel(policy: &Policy, req: &Request) -> String {
    match extract(policy, &req.headers) {
        Extraction::Token { channel, .. } | Extraction::Malformed(channel, _) => {
            channel.describe(policy)
        }
        Extraction::Ambiguous(n) => format!("{n} credentials"),
        Extraction::None => "none".into(),
    }
}

pub(crate) fn request_example(
    old: &Decision,
    new: &Decision,
    policy: &Policy,
    req: &Request,
    source: SourceKind,
    origin: String,
) -> Example {
    Example {
        credential: new.credential.clone().or_else(|| old.credential.clone()),
        action: req.action.clone(),
        tenant: req.tenant.clone(),
        channel: request_channel(policy, req),
        user: new.user.clone().or_else(|| old.user.clone()),
        at: req.at,
        source,
        origin,
    }
}

/// Recorded requests decided against `state` under both policies.
pub fn requests(
    state: &State,
    old: &Policy,
    new: &Policy,
    reqs: &[Request],
    origin: &str,
) -> CaseTally {
    let mut tally = CaseTally::new();
    for (i, req) in reqs.iter().enumerate() {
        let (o, n) = (state.decide(old, req), state.decide(new, req));
        tally.record(SourceKind::Requests, &o, &n, || {
            request_example(
                &o,
                &n,
                old,
                req,
                SourceKind::Requests,
                format!("{origin}#{}", i + 1),
            )
        });
    }
    tally
}
