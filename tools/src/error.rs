//! The error every tool returns. Variants say whether the caller (often the model) can fix it.

use serde::Serialize;

/// One bad argument: which field, and why, in words a person (or a model) can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path of the argument, e.g. `email` or `items.0.title`; empty for the whole object.
    pub field: String,
    /// Why it was refused.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool's schema or its domain rules. Fixable by the caller.
    #[error("invalid arguments: {}", summary(.0))]
    InvalidArguments(Vec<FieldError>),
    /// No tool has this name.
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    /// The record does not exist in this tenant (records of other tenants look the same).
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// The record changed since the caller read it (optimistic locking) or the state forbids it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A database failure the caller cannot fix.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| {
            if e.field.is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.field, e.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ToolError {
    /// Shorthand for a single bad field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ToolError::InvalidArguments(vec![FieldError::new(field, message)])
    }

    /// Whether a model could correct its call from the message alone.
    pub fn is_fixable_by_caller(&self) -> bool {
        !matches!(self, ToolError::Database(_))
    }
}
