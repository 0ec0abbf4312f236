//! One command, one transaction (the caller opens it): read the slice of
//! records the command needs with its row locks ([`Slice::read`]), let the
//! engine's `State::apply` run SPEC §8 on that slice, and write the
//! result's `changes` ([`write`]). There is one implementation of the
//! commands — the engine's — so checks, their order, rejections,
//! explanations and changes cannot drift between the engine and a store.
//!
//! docs/STORES.md gives the isolation and locking of each command and why.

use authproof_engine::{Change, Command, CommandResult, Effect, Policy, RecordRef, State};

use crate::{db::Tx, error::Repr, slice::Slice, write, Error};

/// What a command's transaction does at its end.
pub(crate) struct Done {
    pub result: CommandResult,
    /// Commit (`ok`, a decision) or roll back (a rejection: it wrote
    /// nothing anyway).
    pub commit: bool,
}

/// Runs one command inside `tx`.
pub(crate) fn apply(
    tx: &mut dyn Tx,
    policy: &Policy,
    cmd: &Command,
    fault: Option<authproof_engine::Fault>,
) -> Result<Done, Error> {
    let slice = Slice::read(tx, policy, cmd)?;
    let mut state = State::from_snapshot(slice.snapshot())
        .map_err(|e| Repr::Corrupt(format!("the rows read for {}: {e}", cmd.op.name())))?;
    #[cfg(feature = "faults")]
    state.inject(fault);
    #[cfg(not(feature = "faults"))]
    let _ = fault;
    let result = state.apply(policy, cmd);
    match &result {
        CommandResult::Ok { changes, .. } => write::changes(tx, &state, changes)?,
        CommandResult::Decision { decision, .. } => {
            // A decision's only write is its sliding refresh: an update of
            // the session's expiry from the value read to the new one.
            for Effect::ExtendSession {
                session,
                expires_at,
            } in &decision.effects
            {
                let from = slice
                    .find_session(session)
                    .ok_or_else(|| {
                        Repr::UnknownChange(format!(
                            "refresh of session {session:?}, which the rows read do not hold"
                        ))
                    })?
                    .expires_at;
                let change = Change::Update {
                    record: RecordRef::Session {
                        id: session.clone(),
                    },
                    field: "expires_at".into(),
                    from: serde_json::to_value(from).expect("timestamps serialize"),
                    to: serde_json::to_value(expires_at).expect("timestamps serialize"),
                };
                write::change(tx, &state, &change)?;
            }
        }
        CommandResult::Rejected { .. } => {}
    }
    let commit = !matches!(result, CommandResult::Rejected { .. });
    Ok(Done { result, commit })
}
