//! Reading input files and reporting their errors.
//!
//! Every input goes through [`read`]: a size limit (1 GiB by default,
//! `AUTHPROOF_MAX_INPUT_BYTES` to change it), regular files, pipes and
//! stdin (`-`) only — a device such as `/dev/zero` never ends and is refused
//! before anything is read. File names in messages are escaped: a control
//! character in a name never reaches the terminal raw (docs/INPUTS.md).

use std::{
    fmt,
    fs::File,
    io::{IsTerminal, Read},
    path::Path,
};

use authproof_engine::{load, Policy, State};

pub use super::output::{print, stdout_error, write, Output, OutputDir};

/// The default input size limit: 1 GiB.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 1 << 30;

/// The environment variable that overrides [`DEFAULT_MAX_INPUT_BYTES`]:
/// a number of bytes, optionally with a `K`, `M` or `G` suffix (powers of
/// 1024; `KiB`, `MiB`, `GiB` too).
pub const MAX_INPUT_ENV: &str = "AUTHPROOF_MAX_INPUT_BYTES";

/// The name `-` (stdin) is given in messages.
pub const STDIN_NAME: &str = "(stdin)";

/// An error that ends the run with exit code 1.
///
/// The binary's own error, the end of every chain: the libraries' errors
/// (one per crate, opaque, causes chained) become one of these, worded for
/// the command line and printed once as `error: …`. A plain enum: nothing
/// outside the binary sees it, and `main` only asks
/// [`is_closed_stdout`](CliError::is_closed_stdout).
#[derive(Debug)]
pub enum CliError {
    /// A file could not be read or written.
    Io { file: String, error: std::io::Error },
    /// A file's contents are not valid input (the engine's error names
    /// the file).
    Input(authproof_engine::Error),
    /// Anything else worth a message (bad arguments, …).
    Other(String),
}

impl fmt::Display for CliError {
    /// Control characters are escaped, whoever built the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            CliError::Io { file, error } => format!("{file}: {error}"),
            CliError::Input(e) => e.to_string(),
            CliError::Other(m) => m.clone(),
        };
        f.write_str(&escape_controls(&text))
    }
}

impl From<authproof_engine::Error> for CliError {
    fn from(e: authproof_engine::Error) -> Self {
        CliError::Input(e)
    }
}

/// `s` with every control character (C0, DEL, C1) and every bidirectional
/// override escaped as `\u{…}`, so that no escape sequence in a file name
/// or a JSON key reaches the terminal raw. Other text is unchanged.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    // `\n` is not escaped: messages may span lines on purpose; a name is
    // escaped by [`name`] itself.
    (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The file name as the user wrote it, for messages, with control
/// characters escaped (`-` is stdin).
pub fn name(path: &Path) -> String {
    if is_stdin(path) {
        return STDIN_NAME.to_string();
    }
    let s = path.display().to_string();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || needs_escape(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The input size limit: [`MAX_INPUT_ENV`] or [`DEFAULT_MAX_INPUT_BYTES`].
pub fn max_input_bytes() -> Result<u64, CliError> {
    let Some(v) = std::env::var_os(MAX_INPUT_ENV) else {
        return Ok(DEFAULT_MAX_INPUT_BYTES);
    };
    v.to_str()
        .and_then(parse_size)
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            CliError::Other(format!(
                "{MAX_INPUT_ENV}: expected a number of bytes of at least 1, optionally with a K, M or G suffix (powers of 1024)"
            ))
        })
}

/// `1048576`, `512K`, `64M`, `2G`, `2GiB` → bytes.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match s[digits.len()..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

pub(super) fn io_error(path: &Path, error: std::io::Error) -> CliError {
    CliError::Io {
        file: name(path),
        error,
    }
}

fn too_large(path: &Path, limit: u64) -> CliError {
    io_error(
        path,
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than the input limit of {limit} bytes (set {MAX_INPUT_ENV} to raise it)"
            ),
        ),
    )
}

/// Reads one input: a regular file, a pipe or socket, or stdin for `-`,
/// refusing anything past [`max_input_bytes`] and devices that never end.
pub fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    let limit = max_input_bytes()?;
    if is_stdin(path) {
        let stdin = std::io::stdin();
        // A terminal or a pipe is read to its end; a device redirected to
        // stdin (`< /dev/zero`) is refused like a device given by name.
        if !stdin.is_terminal() {
            if let Some(meta) = stdin_metadata(&stdin) {
                check_kind(path, &meta)?;
            }
        }
        return read_limited(path, stdin.lock(), limit, 0);
    }
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    check_kind(path, &meta)?;
    if meta.is_file() && meta.len() > limit {
        return Err(too_large(path, limit));
    }
    let hint = if meta.is_file() { meta.len() } else { 0 };
    read_limited(path, file, limit, hint)
}

#[cfg(unix)]
fn stdin_metadata(stdin: &std::io::Stdin) -> Option<std::fs::Metadata> {
    let fd = std::os::fd::AsFd::as_fd(stdin).try_clone_to_owned().ok()?;
    File::from(fd).metadata().ok()
}

#[cfg(not(unix))]
fn stdin_metadata(_: &std::io::Stdin) -> Option<std::fs::Metadata> {
    None
}

/// Regular files and streams that end (pipes, sockets) are inputs;
/// directories and devices are not.
fn check_kind(path: &Path, meta: &std::fs::Metadata) -> Result<(), CliError> {
    let what = if meta.is_dir() {
        Some("a directory")
    } else if meta.is_file() {
        None
    } else {
        kind_of_special(meta)
    };
    match what {
        None => Ok(()),
        Some(what) => Err(io_error(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("is {what}, not a regular file or a pipe"),
            ),
        )),
    }
}

#[cfg(unix)]
fn kind_of_special(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() || t.is_socket() {
        None
    } else if t.is_char_device() {
        Some("a character device (one such as /dev/zero never ends)")
    } else if t.is_block_device() {
        Some("a block device")
    } else {
        Some("not a file")
    }
}

#[cfg(not(unix))]
fn kind_of_special(_: &std::fs::Metadata) -> Option<&'static str> {
    None
}

/// Reads to the end, but never more than `limit` bytes.
fn read_limited(path: &Path, r: impl Read, limit: u64, hint: u64) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::with_capacity(usize::try_from(hint.min(limit)).unwrap_or(0));
    r.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| io_error(path, e))?;
    if buf.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    Ok(buf)
}

/// The policy at `path`, or the default policy.
///
/// The secret that verifies signed session cookies (`cookie_format =
/// "signed"`, docs/SPEC.md §5) never lives in the policy: it is taken from
/// the environment — `AUTHPROOF_COOKIE_SECRET_FILE` (a file whose contents,
/// minus one trailing newline, are the secret; it wins) or
/// `AUTHPROOF_COOKIE_SECRET` — and attached to the loaded policy. It is
/// never printed; an error names its source, never its value.
pub fn policy(path: Option<&Path>) -> Result<Policy, CliError> {
    let policy = match path {
        None => Policy::default(),
        Some(path) => policy_file(path)?,
    };
    Ok(policy.with_cookie_secret(cookie_secret()?))
}

/// The environment variable naming a file that holds the cookie secret.
pub const SECRET_FILE_ENV: &str = "AUTHPROOF_COOKIE_SECRET_FILE";

fn cookie_secret() -> Result<Option<authproof_engine::signed::CookieSecret>, CliError> {
    use authproof_engine::signed::{cookie_secret, SECRET_ENV};
    let file = match std::env::var_os(SECRET_FILE_ENV) {
        Some(p) => Some((read(Path::new(&p))?, name(Path::new(&p)))),
        None => None,
    };
    let env = std::env::var_os(SECRET_ENV).map(|v| v.into_encoded_bytes());
    let source = match &file {
        Some((_, n)) => n.clone(),
        None => SECRET_ENV.to_string(),
    };
    cookie_secret(env.as_deref(), file.as_ref().map(|(b, _)| b.as_slice()))
        .map_err(|e| CliError::Other(format!("{source}: {e}")))
}

fn policy_file(path: &Path) -> Result<Policy, CliError> {
    let bytes = read(path)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        authproof_engine::Error::at_path("(file)", "not UTF-8 text").in_file(name(path), None)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("2K"), Some(2048));
        assert_eq!(parse_size("3MiB"), Some(3 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1T"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999999999999"), None);
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(name(Path::new("a\u{1b}[31mb")), "a\\u{1b}[31mb");
        assert_eq!(name(Path::new("-")), STDIN_NAME);
        assert_eq!(escape_controls("x\u{202e}y\u{7}"), "x\\u{202e}y\\u{7}");
    }
}
