//! The `heimdell` binary's library half: configuration, wiring and the commands, so the
//! integration tests can start the very same server the binary runs.
//!
//! - [`config`]: layered settings (`HEIMDELL_*` env vars over an optional TOML file).
//! - [`database`]: connecting as the owner (migrations) and as the app role (everything else).
//! - [`seed`]: the idempotent demo data behind `heimdell seed-demo`.
//! - [`app`]: building the HTTP application and serving it on a given listener.
//! - [`eval`]: `heimdell eval`: the eval suite on a database of its own.
//! - [`bench`]: the figures behind BENCHMARKS.md that need to run inside the process.

pub mod app;
pub mod bench;
pub mod config;
pub mod database;
pub mod eval;
pub mod seed;
