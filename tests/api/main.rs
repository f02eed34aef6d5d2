//! Integration tests: the whole server against a real Postgres, one fresh database per test.

mod auth;
mod errors;
mod harness;
mod pipeline;
mod policy;
mod records;
mod seed;
mod tenancy;
mod tools;
