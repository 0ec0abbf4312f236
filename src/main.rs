//! `authproof`: decide, apply and verify multi-tenant authentication.
//!
//! Exit codes (SPEC §10): 0 success / all allowed / held, 2 a denial, a
//! rejection or a violation, 1 an input or usage error.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

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
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
