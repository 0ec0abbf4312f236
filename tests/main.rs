//! The CLI's integration tests, one binary (a test binary per file cost a
//! link of the whole workspace each): every module runs the built
//! `authproof` (`env!("CARGO_BIN_EXE_authproof")`) or the libraries
//! behind it. `cli_common` is the one helper that runs the CLI.

mod cli_apply;
mod cli_bounds;
mod cli_common;
mod cli_decide;
mod cli_diff;
mod cli_errors;
mod cli_outputs;
mod cli_reports;
mod cli_secret;
mod cli_store;
mod cli_test;
mod conform;
mod docs;
mod examples;
mod explain_corpus;
mod false_alarms;
mod regressions;
mod state_machine;
mod verification;
