//! The store's integration tests, one binary: SQLite always, PostgreSQL
//! when `AUTHPROOF_PG_URL` is set (`scripts/with-postgres`), failing without
//! it unless `AUTHPROOF_SKIP_PG=1`; the better-auth import needs Node unless
//! `AUTHPROOF_SKIP_NODE=1`.

mod basics;
mod common;
mod concurrency;
mod conformance;
mod connect;
mod import_better_auth;
mod import_mappings;
mod row_count;
mod slices;
