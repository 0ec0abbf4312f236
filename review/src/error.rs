//! The one error type of the review crate.
//!
//! A review only fails on its inputs: a snapshot that does not pass the
//! engine's integrity check, a census without a time, recorded requests
//! without a snapshot to decide them against. Reading and parsing files is
//! the caller's (the CLI names files and JSON paths); everything after the
//! inputs are accepted is infallible, so [`crate::run`] returns either a
//! whole report or one of these, never a partial report. A suite
//! ([`crate::suite::load`]) also fails when a file cannot be read or its
//! input is not valid; the suite's parser and builder return the engine's
//! [`authproof_engine::Error`] itself (file, line, TOML and JSON path).
//!
//! Opaque (a struct, its representation private, as the engine's error):
//! callers print it, or word it their own way from [`Error::kind`] (the CLI
//! names its flags), [`Error::origin`] and [`Error::input`]. The causes, the
//! engine's error and the I/O error, are chained through
//! [`source`](std::error::Error::source), never copied into the message.

/// Why a review, or the loading of a suite, could not run.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Repr>);

#[derive(Debug, thiserror::Error)]
enum Repr {
    #[error("{origin}: the snapshot fails the integrity check")]
    Integrity {
        origin: String,
        #[source]
        source: authproof_engine::Error,
    },
    #[error("{origin}: the snapshot has no taken_at and no census time was given")]
    NoCensusTime { origin: String },
    #[error("recorded requests need a snapshot to decide against")]
    RequestsWithoutSnapshot,
    /// The message is the file; the I/O error is chained (`file: error`).
    #[error("{file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Input(authproof_engine::Error),
}

/// What went wrong, for callers that word an error their own way.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A snapshot ([`Error::origin`]) fails the engine's integrity check
    /// (a dangling reference, a duplicate id, …); [`Error::input`] says
    /// where in it.
    Integrity,
    /// A snapshot ([`Error::origin`]) has no `taken_at` and no census time
    /// was given.
    NoCensusTime,
    /// Recorded requests were given without a snapshot.
    RequestsWithoutSnapshot,
    /// A suite file or directory ([`Error::origin`]) could not be read; the
    /// I/O error is the [`source`](std::error::Error::source).
    Read,
    /// A suite's input is not valid: [`Error::input`], with its file.
    Input,
}

impl Error {
    fn new(repr: Repr) -> Error {
        Error(Box::new(repr))
    }

    pub(crate) fn integrity(origin: String, source: authproof_engine::Error) -> Error {
        Error::new(Repr::Integrity { origin, source })
    }

    pub(crate) fn no_census_time(origin: String) -> Error {
        Error::new(Repr::NoCensusTime { origin })
    }

    pub(crate) fn requests_without_snapshot() -> Error {
        Error::new(Repr::RequestsWithoutSnapshot)
    }

    pub(crate) fn read(file: String, source: std::io::Error) -> Error {
        Error::new(Repr::Read { file, source })
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        match &*self.0 {
            Repr::Integrity { .. } => ErrorKind::Integrity,
            Repr::NoCensusTime { .. } => ErrorKind::NoCensusTime,
            Repr::RequestsWithoutSnapshot => ErrorKind::RequestsWithoutSnapshot,
            Repr::Read { .. } => ErrorKind::Read,
            Repr::Input(_) => ErrorKind::Input,
        }
    }

    /// The snapshot's name (integrity, census time) or the file that could
    /// not be read.
    pub fn origin(&self) -> Option<&str> {
        match &*self.0 {
            Repr::Integrity { origin, .. } | Repr::NoCensusTime { origin } => Some(origin),
            Repr::Read { file, .. } => Some(file),
            Repr::RequestsWithoutSnapshot | Repr::Input(_) => None,
        }
    }

    /// The engine's error about the input: for a snapshot that fails
    /// integrity, the record's path in it (no file: that is
    /// [`Error::origin`]); for a suite, the whole located error.
    pub fn input(&self) -> Option<&authproof_engine::Error> {
        match &*self.0 {
            Repr::Integrity { source, .. } => Some(source),
            Repr::Input(e) => Some(e),
            _ => None,
        }
    }
}

/// A suite's invalid input.
impl From<authproof_engine::Error> for Error {
    fn from(e: authproof_engine::Error) -> Error {
        Error::new(Repr::Input(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn sources_are_chained() {
        let cause = authproof_engine::Error::at_path("$.users[0].id", "duplicate user id");
        let e = Error::integrity("s.json".into(), cause.clone());
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert_eq!(
            e.to_string(),
            "s.json: the snapshot fails the integrity check"
        );
        assert_eq!(e.source().unwrap().to_string(), cause.to_string());
        assert_eq!(e.input(), Some(&cause));
        assert_eq!(e.origin(), Some("s.json"));

        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = Error::read("suite.toml".into(), io);
        assert_eq!(e.kind(), ErrorKind::Read);
        assert_eq!(e.source().unwrap().to_string(), "gone");
        assert_eq!(e.to_string(), "suite.toml");
        assert_eq!(e.origin(), Some("suite.toml"));

        // A suite's input error is the engine's, displayed as it is, not
        // repeated through `source()`.
        let e = Error::from(cause.clone().in_file("s.toml", Some(3)));
        assert_eq!(e.to_string(), "s.toml:3: $.users[0].id: duplicate user id");
        assert!(e.source().is_none());
        assert_eq!(e.kind(), ErrorKind::Input);
    }
}
