//! `POST /api/v1/chat` (and its streaming form), `GET /api/v1/threads[/{id}]`.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use heimdell_agent::copilot::usage::{CostScope, usd};
use heimdell_agent::copilot::{ChatError, ChatRequest, store};
use heimdell_agent::model::{EntityKind, EntityRef};
use heimdell_tools::FieldError;
use heimdell_tools::db::begin_tenant;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::AuthUser;
use super::error::ApiError;
use super::extract::{Body, Path};
use super::state::ApiState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    #[serde(default)]
    thread_id: Option<Uuid>,
    message: String,
    #[serde(default)]
    context: Option<ChatContext>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatContext {
    #[serde(default)]
    contact_id: Option<Uuid>,
    #[serde(default)]
    company_id: Option<Uuid>,
    #[serde(default)]
    deal_id: Option<Uuid>,
}

impl ChatBody {
    fn into_request(self) -> Result<ChatRequest, ApiError> {
        let context = match self.context {
            None => None,
            Some(c) => {
                let given: Vec<EntityRef> = [
                    c.contact_id.map(|id| EntityRef {
                        kind: EntityKind::Contact,
                        id,
                    }),
                    c.company_id.map(|id| EntityRef {
                        kind: EntityKind::Company,
                        id,
                    }),
                    c.deal_id.map(|id| EntityRef {
                        kind: EntityKind::Deal,
                        id,
                    }),
                ]
                .into_iter()
                .flatten()
                .collect();
                if given.len() > 1 {
                    return Err(ApiError::invalid(vec![FieldError::new(
                        "context",
                        "give one of contact_id, company_id or deal_id",
                    )]));
                }
                given.into_iter().next()
            }
        };
        Ok(ChatRequest {
            thread_id: self.thread_id,
            message: self.message,
            context,
        })
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Invalid(d) => ApiError::invalid(d),
            ChatError::ThreadNotFound => ApiError::not_found("thread"),
            ChatError::UsageLimit { limit } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "usage_limit",
                format!(
                    "You have used this month's {limit} Copilot requests. Ask an admin to raise the limit."
                ),
            ),
            ChatError::CostLimit {
                scope,
                limit_micro_cents,
                spent_micro_cents,
            } => {
                let (code, whose) = match scope {
                    CostScope::Member => ("cost_limit", "your"),
                    CostScope::Tenant => ("tenant_cost_limit", "your team's"),
                };
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    code,
                    format!(
                        "This month's Copilot budget of ${} for {whose} usage is spent (${} so far). Ask an admin to raise the limit.",
                        usd(limit_micro_cents),
                        usd(spent_micro_cents)
                    ),
                )
            }
            ChatError::Model(m) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "model_unavailable",
                format!(
                    "The Copilot's model could not answer: {m}. Nothing was changed; try again shortly."
                ),
            ),
            ChatError::Action(a) => a.into(),
            ChatError::Prompt(p) => ApiError::internal(p),
            ChatError::Database(d) => ApiError::internal(d),
        }
    }
}

pub async fn chat(
    State(state): State<ApiState>,
    user: AuthUser,
    Body(body): Body<ChatBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let req = body.into_request()?;
    let response = state.copilot.turn(user.caller(), req).await?;
    Ok(axum::Json(json!(response)))
}

/// The same turn, streamed as server-sent events: `delta` events carry the model's text as it
/// arrives, then `done` the whole checked response (with `"corrected": true` when the grounding
/// check changed what had been streamed), or `error`.
pub async fn chat_stream(
    State(state): State<ApiState>,
    user: AuthUser,
    Body(body): Body<ChatBody>,
) -> Result<Response, ApiError> {
    let req = body.into_request()?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let copilot = state.copilot.clone();
    let caller = user.caller();
    // The turn runs to its end even if the client goes away: it is stored either way.
    tokio::spawn(async move {
        let streamed = std::sync::Mutex::new(String::new());
        let on_text = |text: &str| {
            if let Ok(mut s) = streamed.lock() {
                s.push_str(text);
            }
            let _ = tx.send(
                Event::default()
                    .event("delta")
                    .data(json!({ "text": text }).to_string()),
            );
        };
        let event = match copilot.turn_streaming(caller, req, &on_text).await {
            Ok(response) => {
                let shown = streamed.lock().map(|s| s.clone()).unwrap_or_default();
                let mut done = json!(response);
                done["corrected"] = json!(!shown.is_empty() && shown != response.reply.text);
                Event::default().event("done").data(done.to_string())
            }
            Err(e) => {
                let api: ApiError = e.into();
                Event::default().event("error").data(api.body().to_string())
            }
        };
        let _ = tx.send(event);
    });
    let stream = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

pub async fn threads(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<axum::Json<Value>, ApiError> {
    let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
    let items = store::threads(&mut tx, user.user_id, 100).await?;
    tx.commit().await?;
    Ok(axum::Json(json!({ "items": items })))
}

pub async fn thread(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Value>, ApiError> {
    let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
    let Some(thread) = store::thread(&mut tx, user.user_id, id).await? else {
        return Err(ApiError::not_found("thread"));
    };
    let messages = store::messages(&mut tx, id, 500).await?;
    tx.commit().await?;
    // Every card's current status, so it shows what happened since; one read for the thread.
    let ids: Vec<Uuid> = messages.iter().flat_map(|m| m.action_ids.clone()).collect();
    let views: std::collections::HashMap<Uuid, _> = state
        .copilot
        .pipeline()
        .get_many(user.caller(), &ids)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let actions: Vec<_> = m.action_ids.iter().filter_map(|a| views.get(a)).collect();
        let mut v = json!(m);
        v["actions"] = json!(actions);
        out.push(v);
    }
    Ok(axum::Json(
        json!({ "id": thread.id, "title": thread.title, "context_type": thread.context_type,
        "context_id": thread.context_id, "created_at": thread.created_at, "updated_at": thread.updated_at, "messages": out }),
    ))
}
