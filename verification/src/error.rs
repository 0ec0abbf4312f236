//! The one error type of the verification crate.
//!
//! A verification run fails for three reasons only: its input is not a valid
//! trace (a snapshot that fails integrity, commands that go back in time),
//! the implementation under test could not run a command at all (a store's
//! database went away — not a wrong answer, which is a violation), or the
//! generator produced something it should not have. The implementation's own
//! error stays reachable through [`std::error::Error::source`].
//!
//! Opaque, as the engine's [`authproof_engine::Error`]: callers print it
//! (with its `source()` chain) and ask only [`Error::input`], whether the
//! trace itself was refused (the CLI names the trace file then). A public
//! enum would make each new failure a breaking change. A conform target's
//! own failure ([`conform::TargetError`](crate::conform::TargetError)) stays
//! a separate type: it is the implementation's error, the `source()` of an
//! [`Error`], not a way a verification run ends.

use std::error::Error as StdError;

/// Why a verification run could not complete.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<ErrorKind>);

#[derive(Debug, thiserror::Error)]
enum ErrorKind {
    /// The trace is not valid input: the engine's error, its path in the
    /// trace (`$.steps[3].at`).
    #[error(transparent)]
    InvalidTrace(authproof_engine::Error),
    /// The implementation under test failed to run a step (or to export its
    /// state); `step` is `None` for the initial snapshot.
    #[error("the implementation failed on {}", at(*.step))]
    Implementation {
        step: Option<usize>,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// proptest could not draw a case.
    #[cfg(feature = "proptest")]
    #[error("case generation failed: {0}")]
    Generation(String),
    /// A generated case is not valid input: a generator bug.
    #[cfg(feature = "proptest")]
    #[error("generated case is not valid input; this is a generator bug")]
    InvalidGeneratedCase(#[source] Error),
}

fn at(step: Option<usize>) -> String {
    step.map_or("the initial snapshot".into(), |i| format!("step {i}"))
}

/// A trace that is not valid input.
impl From<authproof_engine::Error> for Error {
    fn from(e: authproof_engine::Error) -> Error {
        Error::new(ErrorKind::InvalidTrace(e))
    }
}

impl Error {
    fn new(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }

    /// The implementation's failure at `step` (`None`: on the initial
    /// snapshot); `source` is its own error, chained.
    pub fn implementation(
        step: Option<usize>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Error {
        Error::new(ErrorKind::Implementation {
            step,
            source: Box::new(source),
        })
    }

    /// proptest could not draw a case.
    #[cfg(feature = "proptest")]
    pub(crate) fn generation(message: impl std::fmt::Display) -> Error {
        Error::new(ErrorKind::Generation(message.to_string()))
    }

    /// A generated case that `e` refused: a generator bug.
    #[cfg(feature = "proptest")]
    pub(crate) fn invalid_generated_case(e: Error) -> Error {
        Error::new(ErrorKind::InvalidGeneratedCase(e))
    }

    /// Why the trace is not valid input, when that is the error: the
    /// engine's error, with the JSON path in the trace (`$.steps[3].at`) and
    /// no file (the caller knows it: [`authproof_engine::Error::in_file`]).
    pub fn input(&self) -> Option<&authproof_engine::Error> {
        match &*self.0 {
            ErrorKind::InvalidTrace(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_chained() {
        let inner = authproof_engine::Error::at_path("$.at", "earlier than the previous command");
        let e = Error::implementation(Some(2), inner.clone());
        assert_eq!(e.to_string(), "the implementation failed on step 2");
        assert_eq!(e.source().unwrap().to_string(), inner.to_string());
        assert!(e.input().is_none());
    }

    #[cfg(feature = "proptest")]
    #[test]
    fn a_generator_bug_chains_the_invalid_case() {
        let g =
            Error::invalid_generated_case(Error::from(authproof_engine::Error::at_path("$", "x")));
        assert_eq!(
            g.to_string(),
            "generated case is not valid input; this is a generator bug"
        );
        assert_eq!(g.source().unwrap().to_string(), "$: x");
        assert!(g.input().is_none());
    }

    #[test]
    fn an_invalid_trace_is_the_engine_error() {
        let e = Error::from(authproof_engine::Error::at_path(
            "$.steps[1].at",
            "too early",
        ));
        assert_eq!(e.to_string(), "$.steps[1].at: too early");
        assert_eq!(e.input().and_then(|i| i.path()), Some("$.steps[1].at"));
        // Transparent: the engine error ends the chain, it is not repeated.
        assert!(e.source().is_none());
        let e = Error::implementation(None, std::io::Error::other("gone"));
        assert_eq!(
            e.to_string(),
            "the implementation failed on the initial snapshot"
        );
        assert_eq!(e.source().unwrap().to_string(), "gone");
    }
}
