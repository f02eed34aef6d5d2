//! Integration tests: the whole server against a real Postgres, one fresh database per test.

mod auth;
mod browser;
mod contact_search;
mod copilot;
mod delivery_recheck;
mod errors;
mod evals;
#[path = "../../agent/tests/fake_openai/mod.rs"]
mod fake_openai;
#[path = "../../adapters/tests/fake_twilio/mod.rs"]
mod fake_twilio;
mod hardening;
mod harness;
mod hostile;
mod outreach;
mod pipeline;
mod policy;
mod records;
mod seed;
mod snapshot;
mod tenancy;
mod tools;
mod twilio;
mod usage;
