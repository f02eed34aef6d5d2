//! `/api/v1/tools` and `/api/v1/actions`: the REST face of the actions pipeline.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use heimdell_agent::{ActionStatus, ProposeOutcome, ProposeRequest};
use heimdell_policies::ApprovalRequirement;
use heimdell_tools::FieldError;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::AuthUser;
use super::error::ApiError;
use super::extract::{Body, Path, Query, optional_body};
use super::state::ApiState;

/// The tools this user may call, with their schemas and whether calls wait for approval.
pub async fn list_tools(State(state): State<ApiState>, user: AuthUser) -> Json {
    let pipeline = &state.pipeline;
    let tools: Vec<Value> = pipeline
        .registry()
        .iter()
        .filter_map(|t| {
            let approval =
                match pipeline.everyday_requirement(user.tenant_id, user.user_id, user.role, t) {
                    ApprovalRequirement::Forbidden { .. } => return None,
                    ApprovalRequirement::Skip => "none".to_string(),
                    ApprovalRequirement::NeedsApproval { approver, .. } => {
                        approver.as_str().to_string()
                    }
                };
            Some(json!({
                "name": t.name(),
                "description": t.description(),
                "kind": t.kind(),
                "approval": approval,
                "schema": t.schema(),
            }))
        })
        .collect();
    axum::Json(json!({ "tools": tools }))
}

type Json = axum::Json<Value>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeBody {
    tool: String,
    #[serde(default = "empty_object")]
    args: Value,
    #[serde(default)]
    approve: bool,
}

fn empty_object() -> Value {
    json!({})
}

pub async fn propose(
    State(state): State<ApiState>,
    user: AuthUser,
    headers: HeaderMap,
    Body(body): Body<ProposeBody>,
) -> Result<Response, ApiError> {
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().unwrap_or_default().trim();
            if k.is_empty() || k.len() > 200 {
                return Err(ApiError::invalid(vec![FieldError::new(
                    "Idempotency-Key",
                    "must be 1 to 200 visible characters",
                )]));
            }
            Some(k.to_string())
        }
    };
    let req = ProposeRequest {
        tool: body.tool,
        args: body.args,
        approve: body.approve,
        idempotency_key,
        source: "api",
    };
    Ok(match state.pipeline.propose(user.caller(), req).await? {
        ProposeOutcome::Read { result } => (
            StatusCode::OK,
            axum::Json(json!({ "status": "executed", "result": result })),
        )
            .into_response(),
        ProposeOutcome::Executed { id, result } => (
            StatusCode::OK,
            axum::Json(json!({ "id": id, "status": "executed", "result": result })),
        )
            .into_response(),
        ProposeOutcome::Pending(view) => {
            let code = if view.status == ActionStatus::Pending {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (code, axum::Json(json!(view))).into_response()
        }
    })
}

#[derive(Deserialize)]
pub struct ListActions {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn list_actions(
    State(state): State<ApiState>,
    user: AuthUser,
    Query(q): Query<ListActions>,
) -> Result<Json, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(s) => Some(ActionStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(vec![FieldError::new(
                "status",
                "must be pending, executed, rejected, expired, failed or all",
            )])
        })?),
    };
    let items = state
        .pipeline
        .list(user.caller(), status, q.limit.unwrap_or(50))
        .await?;
    Ok(axum::Json(json!({ "items": items })))
}

pub async fn get_action(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json, ApiError> {
    Ok(axum::Json(json!(
        state.pipeline.get(user.caller(), id).await?
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    args: Option<Value>,
}

pub async fn approve(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> Result<Json, ApiError> {
    let edited = optional_body::<ApproveBody>(&body)?.and_then(|b| b.args);
    let view = state.pipeline.approve(user.caller(), id, edited).await?;
    Ok(axum::Json(
        json!({ "id": view.id, "status": view.status, "result": view.result, "action": view }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: Option<String>,
}

pub async fn reject(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> Result<Json, ApiError> {
    let reason = optional_body::<RejectBody>(&body)?.and_then(|b| b.reason);
    if reason.as_ref().is_some_and(|r| r.chars().count() > 2000) {
        return Err(ApiError::invalid(vec![FieldError::new(
            "reason",
            "must be at most 2000 characters",
        )]));
    }
    let view = state.pipeline.reject(user.caller(), id, reason).await?;
    Ok(axum::Json(json!(view)))
}
