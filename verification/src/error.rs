//! The one error type of the verification crate.
//!
//! A verification run fails for three reasons only: its input is not a valid
//! trace (a snapshot that fails integrity, commands that go back in time),
//! the implementation under test could not run a command at all (a store's
//! database went away — not a wrong answer, which is a violation), or the
//! generator produced something it should not have. The implementation's own
//! error stays reachable through [`std::error::Error::source`].

use authproof_engine::FieldError;

/// Why a verification run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The trace is not valid input; `path` is its JSON path
    /// (`$.steps[3].at`).
    #[error("{path}: {message}")]
    InvalidTrace { path: String, message: String },
    /// The implementation under test failed to run a step (or to export its
    /// state); `step` is `None` for the initial snapshot.
    #[error("the implementation failed on {}", at(*.step))]
    Implementation {
        step: Option<usize>,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// proptest could not draw a case.
    #[error("case generation failed: {0}")]
    Generation(String),
    /// A generated case is not valid input: a generator bug.
    #[error("generated case is not valid input; this is a generator bug")]
    InvalidGeneratedCase(#[source] Box<Error>),
}

fn at(step: Option<usize>) -> String {
    step.map_or("the initial snapshot".into(), |i| format!("step {i}"))
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Error {
        Error::InvalidTrace {
            path: e.path,
            message: e.message,
        }
    }
}

impl Error {
    /// The implementation's failure at `step`.
    pub fn implementation(
        step: Option<usize>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Implementation {
            step,
            source: Box::new(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn sources_are_chained() {
        let inner = FieldError::new("$.at", "earlier than the previous command");
        let e = Error::implementation(Some(2), inner);
        assert_eq!(e.to_string(), "the implementation failed on step 2");
        assert_eq!(
            e.source().unwrap().to_string(),
            FieldError::new("$.at", "earlier than the previous command").to_string()
        );
        let g = Error::InvalidGeneratedCase(Box::new(Error::from(FieldError::new("$", "x"))));
        assert_eq!(g.source().unwrap().to_string(), "$: x");
    }
}
