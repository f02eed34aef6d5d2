//! Who may propose and who may approve Heimdell tool calls.
//!
//! The rules are Cedar policies in `policies/*.cedar`, validated strictly against
//! `policies/heimdell.cedarschema` when the engine is built; every policy carries a
//! `@reason("…")` that is what a denied (or waiting) user reads.
//!
//! - [`model`]: roles, tool kinds, the facts about a call, and the decisions.
//! - [`engine`]: [`PolicyEngine`], which loads the files and answers `on_proposal`,
//!   `on_approval` and `can_approve`.
//! - [`error`]: [`PolicyError`], naming the file and carrying Cedar's message.
//! - `load` (private): reading, parsing and validating the files.

pub mod engine;
pub mod error;
mod load;
pub mod model;

pub use engine::PolicyEngine;
pub use error::PolicyError;
pub use model::{ApprovalRequirement, ApproverRole, CallFacts, Channel, Principal, Role, ToolKind};
