//! The one error shape every endpoint returns:
//! `{"error":{"code","message","details":[{"field","message"}]}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use heimdell_agent::ActionError;
use heimdell_tools::{FieldError, ToolError};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_arguments`, `policy_denied`.
    pub code: &'static str,
    pub message: String,
    pub details: Vec<FieldError>,
    /// Sent as `Retry-After` (whole seconds, rounded up) with 429 and 503 answers.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// Tells the client when to try again.
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Sign in or send an API token (Authorization: Bearer …).",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No {what} with that id."),
        )
    }

    pub fn invalid(details: Vec<FieldError>) -> Self {
        let message = details
            .iter()
            .map(|d| {
                if d.field.is_empty() {
                    d.message.clone()
                } else {
                    format!("{}: {}", d.field, d.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_arguments",
            message,
            details,
            retry_after: None,
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side; it has been logged.",
        )
    }
}

impl ApiError {
    /// The documented body: `{"error":{"code","message","details"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({ "error": { "code": self.code, "message": self.message, "details": self.details } })
    }

    /// `Retry-After` in whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
            .map(|wait| (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self.retry_after_secs();
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<ToolError> for ApiError {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::InvalidArguments(d) => ApiError::invalid(d),
            ToolError::UnknownTool(name) => ApiError::invalid(vec![FieldError::new(
                "tool",
                format!("there is no tool named `{name}`"),
            )]),
            ToolError::NotFound { entity, .. } => ApiError::not_found(entity),
            ToolError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            ToolError::Database(e) => ApiError::internal(e),
        }
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::Tool(t) => t.into(),
            ActionError::Denied { reason } => {
                ApiError::new(StatusCode::FORBIDDEN, "policy_denied", reason)
            }
            ActionError::NotFound(_) => ApiError::not_found("action"),
            ActionError::NotPending { status } => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("This action is already {status}."),
            ),
            ActionError::Expired => ApiError::new(
                StatusCode::CONFLICT,
                "action_expired",
                "This action expired before it was approved.",
            ),
            ActionError::UnknownUser => ApiError::unauthorized(),
            ActionError::Database(e) => ApiError::internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(e)
    }
}
