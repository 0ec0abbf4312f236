//! Reading input files and reporting their errors.

use std::{fmt, path::Path};

use authproof_engine::{load, load::InputError, Policy, State};

/// An error that ends the run with exit code 1.
#[derive(Debug)]
pub enum CliError {
    /// A file could not be read or written.
    Io { file: String, error: std::io::Error },
    /// A file's contents are not valid input.
    Input(InputError),
    /// Anything else worth a message (bad arguments, …).
    Other(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Io { file, error } => write!(f, "{file}: {error}"),
            CliError::Input(e) => write!(f, "{e}"),
            CliError::Other(m) => f.write_str(m),
        }
    }
}

impl From<InputError> for CliError {
    fn from(e: InputError) -> Self {
        CliError::Input(e)
    }
}

/// The file name as the user wrote it, for messages.
pub fn name(path: &Path) -> String {
    path.display().to_string()
}

pub fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|error| CliError::Io {
        file: name(path),
        error,
    })
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|error| CliError::Io {
        file: name(path),
        error,
    })
}

/// The policy at `path`, or the default policy.
pub fn policy(path: Option<&Path>) -> Result<Policy, CliError> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let bytes = read(path)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        CliError::Input(InputError {
            file: name(path),
            line: None,
            path: "(file)".into(),
            message: "not UTF-8 text".into(),
        })
    })?;
    Ok(load::policy(&text, &name(path))?)
}

/// The snapshot at `path`, integrity-checked.
pub fn snapshot(path: &Path) -> Result<State, CliError> {
    Ok(load::snapshot(&read(path)?, &name(path))?)
}

/// One JSON line: compact serde_json, then a newline.
pub fn json_line(v: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string(v).expect("output types serialize");
    s.push('\n');
    s
}
