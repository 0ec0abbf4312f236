//! `authproof`: decide, apply and verify multi-tenant authentication.
//!
//! Exit codes (SPEC §10): 0 success / all allowed / held, 2 a denial, a
//! rejection or a violation, 1 an input or usage error.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
