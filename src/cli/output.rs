//! Writing outputs: files replaced whole or not at all, checked before the
//! work that fills them, and stdout that exits quietly when its reader is
//! gone (docs/SPEC.md §10.1).
//!
//! An [`Output`] is a temporary file next to its destination, renamed over
//! it on success: a failed run never leaves half a snapshot or report, and
//! a bad path fails before minutes of work rather than after. Rejected:
//! writing in place (a crash leaves a truncated file) and checking
//! writability with `access(2)` (it answers for another moment than the
//! write).

use std::{
    fmt,
    fs::File,
    io::Write,
    path::{Path, PathBuf},
};

use super::io::{io_error, name, CliError};

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
