//! Integration tests: the whole server against a real Postgres, one fresh database per test.

mod auth;
mod browser;
mod copilot;
mod errors;
mod harness;
mod pipeline;
mod policy;
mod records;
mod seed;
mod snapshot;
mod tenancy;
mod tools;
