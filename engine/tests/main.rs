//! The engine's integration tests, one binary: `common` builds states,
//! requests and commands; each module tests one concern.

mod commands;
mod common;
mod edge_writes;
mod explain;
mod extraction;
mod incidents;
mod loading;
mod no_echo;
mod policy_values;
mod reasons;
mod signed;
mod sliding;
mod strict_json;
