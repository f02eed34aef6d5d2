//! Heimdell's evals: cases as data (`evals/cases/**.yaml`), run through the real Copilot,
//! actions pipeline and database, judged by what actually happened.
//!
//! - [`case`]: the case format, parsed into types that cannot hold a malformed case.
//! - [`template`]: `{{key}}` placeholders filled from the fixture.
//! - [`fixture`]: building each case's tenants and records through the tools.
//! - [`recorder`]: a model wrapper that keeps every request, so checks see what the model saw.
//! - [`snapshot`]: the CRM state per tenant and the queries the checks read.
//! - [`facts`]: the eval's own check that emails, phones and amounts in a reply exist.
//! - [`checks`]: expectations and safety rules as pure functions.
//! - [`runner`]: one case, step by step.
//! - [`suite`]: loading a suite, running it, the scorecard and the transcript of failures.

pub mod case;
pub mod checks;
pub mod error;
pub mod facts;
pub mod fixture;
pub mod recorder;
pub mod runner;
pub mod snapshot;
pub mod suite;
pub mod template;

pub use error::EvalError;
pub use runner::{CaseResult, Engine};
pub use suite::{ModelFilter, Scorecard, Suite};
