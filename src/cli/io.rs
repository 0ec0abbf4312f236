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
    io::{IsTerminal, Read, Write},
    path::{Path, PathBuf},
};

use authproof_engine::{load, load::InputError, Policy, State};

/// The default input size limit: 1 GiB.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 1 << 30;

/// The environment variable that overrides [`DEFAULT_MAX_INPUT_BYTES`]:
/// a number of bytes, optionally with a `K`, `M` or `G` suffix (powers of
/// 1024; `KiB`, `MiB`, `GiB` too).
pub const MAX_INPUT_ENV: &str = "AUTHPROOF_MAX_INPUT_BYTES";

/// The name `-` (stdin) is given in messages.
pub const STDIN_NAME: &str = "(stdin)";

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

impl From<InputError> for CliError {
    fn from(e: InputError) -> Self {
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

fn io_error(path: &Path, error: std::io::Error) -> CliError {
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

/// Writes `bytes` to `path` through an [`Output`]: the file is replaced
/// whole or not at all. Commands that do work before writing should call
/// [`Output::create`] before the work instead.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    Output::create(path)?.finish(bytes)
}

/// The name stdout is given in messages (and the `file` of a
/// [`CliError::Io`] for a failed write to stdout).
pub const STDOUT_NAME: &str = "stdout";

/// A failed write to stdout as a [`CliError`]. A closed pipe
/// (`authproof … | head -1`) becomes the error [`CliError::is_closed_stdout`]
/// recognizes: `main` exits 141 without a message (SPEC §10.1).
pub fn stdout_error(error: std::io::Error) -> CliError {
    CliError::Io {
        file: STDOUT_NAME.into(),
        error,
    }
}

/// Writes all of `text` to stdout and flushes it; use it instead of
/// `print!`, which panics when stdout is a closed pipe.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

impl CliError {
    /// True for a write to stdout that failed because its reader went away
    /// (`EPIPE`): not an error worth a message (SPEC §10.1).
    pub fn is_closed_stdout(&self) -> bool {
        matches!(self, CliError::Io { file, error }
            if file == STDOUT_NAME && error.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// An output file, validated before any work starts and replaced whole
/// only when the work succeeded.
///
/// [`Output::create`] resolves the destination and creates a temporary
/// file beside it (same directory, so the final rename is atomic): a path
/// in a missing or unwritable directory, or a directory, is an error
/// *before* the command reads or decides anything. Write with
/// [`std::io::Write`], then [`Output::commit`] renames the temporary file
/// onto the destination. Dropped without a commit (an error, a violation
/// that stops the run), the temporary file is removed and an existing
/// destination is left as it was.
///
/// An existing destination that is not a regular file (`/dev/null`,
/// `/dev/stdout`, a FIFO) is written in place; a symbolic link to a regular
/// file is followed (the file it names is replaced, the link kept); an
/// existing file's permissions are kept.
pub struct Output {
    /// The file that is replaced on commit, or written in place.
    dest: PathBuf,
    /// The name for messages (as the user gave it, escaped).
    shown: String,
    /// The temporary file, until commit (`None`: writing in place).
    tmp: Option<PathBuf>,
    file: std::io::BufWriter<File>,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("dest", &self.dest)
            .field("tmp", &self.tmp)
            .finish_non_exhaustive()
    }
}

impl Output {
    /// Checks that `path` can be written and opens the temporary file that
    /// will replace it (SPEC §10.3). Call it before any work.
    pub fn create(path: &Path) -> Result<Output, CliError> {
        let shown = name(path);
        let err = |error: std::io::Error| CliError::Io {
            file: shown.clone(),
            error,
        };
        if path.as_os_str().is_empty() {
            return Err(err(invalid("an empty path is not a file name")));
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                return Err(err(invalid("is a directory; give a file name")));
            }
            Ok(meta) if !meta.is_file() => {
                // A device or a FIFO: write to it as it is.
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(err)?;
                return Ok(Output {
                    dest: path.to_path_buf(),
                    shown,
                    tmp: None,
                    file: std::io::BufWriter::new(file),
                });
            }
            _ => {}
        }
        let existing = std::fs::metadata(path).ok();
        // Replace the file a symbolic link names, not the link.
        let dest = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() && existing.is_some() => {
                std::fs::canonicalize(path).map_err(err)?
            }
            _ => path.to_path_buf(),
        };
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = dest
            .file_name()
            .ok_or_else(|| err(invalid("is not a file name")))?
            .to_string_lossy()
            .into_owned();
        let (tmp, file) = temp_file(&dir, &base).map_err(|e| {
            // Name the directory's problem with the file the user gave.
            err(std::io::Error::new(
                e.kind(),
                format!("cannot create a file there: {e}"),
            ))
        })?;
        if let Some(meta) = existing {
            let _ = std::fs::set_permissions(&tmp, meta.permissions());
        }
        Ok(Output {
            dest,
            shown,
            tmp: Some(tmp),
            file: std::io::BufWriter::new(file),
        })
    }

    /// The destination's name for messages (escaped).
    pub fn name(&self) -> &str {
        &self.shown
    }

    /// A write error on this output as a [`CliError`] naming it.
    pub fn error(&self, error: std::io::Error) -> CliError {
        CliError::Io {
            file: self.shown.clone(),
            error,
        }
    }

    /// Flushes the data and renames the temporary file onto the
    /// destination.
    pub fn commit(mut self) -> Result<(), CliError> {
        self.file.flush().map_err(|e| self.error(e))?;
        if let Some(tmp) = &self.tmp {
            self.file.get_ref().sync_all().map_err(|e| self.error(e))?;
            std::fs::rename(tmp, &self.dest).map_err(|e| self.error(e))?;
            self.tmp = None;
        }
        Ok(())
    }

    /// Writes `bytes`, then [`commit`](Output::commit)s.
    pub fn finish(mut self, bytes: &[u8]) -> Result<(), CliError> {
        self.file.write_all(bytes).map_err(|e| self.error(e))?;
        self.commit()
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// A directory that output files go to (`--traces DIR`), validated before
/// any work starts but made only when the first file is written, so a run
/// that writes nothing leaves nothing behind.
///
/// [`OutputDir::prepare`] checks that `dir` is a directory that accepts a
/// new file or, when missing, that its nearest existing ancestor is a
/// directory that does; [`OutputDir::file`] makes the directory (and its
/// parents) and returns an [`Output`] in it.
#[derive(Debug, Clone)]
pub struct OutputDir {
    path: PathBuf,
}

impl OutputDir {
    /// Checks that files can be created in `dir` (SPEC §10.3). Call it
    /// before any work.
    pub fn prepare(dir: &Path) -> Result<OutputDir, CliError> {
        let err = |error: std::io::Error| io_error(dir, error);
        if dir.as_os_str().is_empty() {
            return Err(err(invalid("an empty path is not a directory name")));
        }
        // The directory, or the nearest ancestor that exists.
        let existing = dir
            .ancestors()
            .map(|a| {
                if a.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    a
                }
            })
            .find(|a| std::fs::symlink_metadata(a).is_ok())
            .unwrap_or(Path::new("."));
        match std::fs::metadata(existing) {
            Ok(m) if m.is_dir() => {}
            Ok(_) if existing == dir => return Err(err(invalid("is not a directory"))),
            Ok(_) => {
                return Err(err(invalid(&format!(
                    "{} is not a directory",
                    name(existing)
                ))))
            }
            Err(e) => return Err(err(e)),
        }
        let (probe, file) = temp_file(existing, "probe").map_err(|e| {
            err(std::io::Error::new(
                e.kind(),
                format!("cannot create a file there: {e}"),
            ))
        })?;
        drop(file);
        let _ = std::fs::remove_file(probe);
        Ok(OutputDir {
            path: dir.to_path_buf(),
        })
    }

    /// The directory as given.
    #[allow(dead_code)] // for the commands that print a trace's path
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An [`Output`] for `file_name` in this directory, which is made
    /// (with its parents) if missing.
    pub fn file(&self, file_name: &str) -> Result<Output, CliError> {
        std::fs::create_dir_all(&self.path).map_err(|e| io_error(&self.path, e))?;
        Output::create(&self.path.join(file_name))
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string())
}

/// A new file `.<base>.<pid>-<n>.authproof-tmp` in `dir`, never an
/// existing one.
fn temp_file(dir: &Path, base: &str) -> std::io::Result<(PathBuf, File)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{base}.{}-{n}.authproof-tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
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
