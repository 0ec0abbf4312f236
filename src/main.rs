//! `authproof`: decide, apply and verify multi-tenant authentication.
//!
//! Exit codes (SPEC §10): 0 success / all allowed / held, 2 a denial, a
//! rejection or a violation, 1 an input or usage error, 141 stdout closed
//! by its reader before the output was written.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Exit code when stdout is a pipe whose reader closed it early.
const CLOSED_STDOUT_EXIT: u8 = 141;

/// mimalloc instead of the system allocator: snapshots and search states
/// are many small records, and glibc's malloc/free was 40 % of `explore`'s
/// profile (docs/PERFORMANCE.md, "Allocator"). The library crates do not
/// choose an allocator: a service embedding the engine keeps its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Usage errors exit 1 (SPEC §10: 2 means a denial, rejection or
    // violation); clap alone would exit 2. Help and version exit 0.
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    match cli::run(args) {
        Ok(code) => code.into(),
        // The reader of stdout went away (`authproof … | head -1`): stop
        // quietly, with the code a shell gives a process killed by SIGPIPE
        // (128 + 13). Not 0: the output was not all delivered (SPEC §10.1).
        Err(e) if e.is_closed_stdout() => ExitCode::from(CLOSED_STDOUT_EXIT),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
