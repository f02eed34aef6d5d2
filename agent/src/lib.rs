//! Heimdell's agent runtime.
//!
//! Today this crate holds the **actions pipeline**, the single path every tool call takes,
//! whoever asks (REST, panel, chat): schema check → policy → read tools run at once; writes become
//! stored proposed actions that run exactly once when someone with the right role approves them.
//! Every step is written to the audit log. The model-facing turn loop builds on it.
//!
//! - [`actions`]: propose / approve / reject / list, and the audit trail.
//! - [`member`]: who is acting, loaded fresh from the database for every decision.

pub mod actions;
pub mod context;
pub mod copilot;
pub mod decisions;
pub mod fence;
pub mod grounding;
pub mod member;
pub mod model;
pub mod prompt;

pub use actions::{
    ActionError, ActionStatus, ActionView, Pipeline, ProposeOutcome, ProposeRequest,
};
pub use member::Member;
