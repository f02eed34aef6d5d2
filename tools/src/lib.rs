//! Heimdell's CRM capabilities as typed tools.
//!
//! Every change to the CRM is one of these tools; the model, the REST API and the panel's buttons
//! all call them through the same registry. This crate knows nothing of models, chat or policy:
//! it validates arguments, inspects what a call would touch (for the policy layer), renders a
//! preview sentence, and runs the call inside a tenant-scoped transaction it is handed.
//!
//! - [`domain`]: newtypes that cannot hold invalid values (emails, E.164 phones, currencies, ...).
//! - [`db`]: tenant-scoped transactions; row-level security does the isolation.
//! - [`registry`]: tool trait, JSON schemas, argument validation, the name → tool map.
//! - [`catalog`]: the tools themselves, one module per area.
//! - [`records`]: read models shared by tools and the REST list/get endpoints.
//! - [`identity`]: passwords and API tokens (hashing, generation).
//! - [`crypto`]: tenant secrets sealed at rest (XChaCha20-Poly1305).
//! - [`outreach`]: texting and calling: Twilio settings, consent, quiet hours, rendering, the
//!   durable outbox and what inbound webhooks change.
//! - [`tenancy`]: provisioning a workspace: tenant, default pipeline, members, API tokens.

pub mod catalog;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod identity;
pub mod outreach;
pub mod records;
pub mod registry;
pub mod tenancy;

pub use error::{FieldError, ToolError};
pub use registry::{Actor, Channel, Ctx, Facts, Inspection, Registry, ToolKind};
