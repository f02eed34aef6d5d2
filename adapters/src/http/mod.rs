//! The REST API. [`router`] builds the whole application; handlers live in one module per area.

mod actions;
pub mod auth;
mod chat;
mod edge;
pub mod error;
mod extract;
pub mod limits;
mod observe;
pub mod password;
pub mod rate;
mod records;
pub mod server;
mod session;
mod state;
mod twilio;
mod usage;

use axum::Router;
use axum::routing::{get, post};
use heimdell_tools::outreach::webhook;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;

pub use error::ApiError;
pub use limits::HttpLimits;
pub use state::ApiState;

/// Largest request body accepted (JSON tool calls are small).
const MAX_BODY: usize = 1024 * 1024;

pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route(
            "/session",
            post(session::sign_in)
                .get(session::whoami)
                .delete(session::sign_out),
        )
        .route("/tools", get(actions::list_tools))
        .route(
            "/actions",
            post(actions::propose).get(actions::list_actions),
        )
        .route("/actions/{id}", get(actions::get_action))
        .route("/actions/{id}/approve", post(actions::approve))
        .route("/actions/{id}/reject", post(actions::reject))
        .route("/contacts", get(records::list_contacts))
        .route("/contacts/{id}", get(records::get_contact))
        .route("/companies", get(records::list_companies))
        .route("/companies/{id}", get(records::get_company))
        .route("/deals", get(records::list_deals))
        .route("/deals/{id}", get(records::get_deal))
        .route("/tasks", get(records::list_tasks))
        .route("/tasks/{id}", get(records::get_task))
        .route("/chat", post(chat::chat))
        .route("/chat/stream", post(chat::chat_stream))
        .route("/threads", get(chat::threads))
        .route("/threads/{id}", get(chat::thread))
        .route("/usage", get(usage::usage))
        .route(
            "/integrations/twilio",
            post(twilio::connect).get(twilio::show),
        )
        .route("/integrations/twilio/inbound", get(twilio::unmatched))
        .route("/integrations/twilio/outbox", get(twilio::outbox_jobs));
    // Twilio's webhooks: authenticated by their signature, not by a user. Full paths, not a
    // nested router: the signature covers the URL exactly as Twilio requested it.
    let webhooks = Router::new()
        .route(&webhook::route(webhook::SMS), post(twilio::inbound_sms))
        .route(
            &webhook::route(webhook::SMS_STATUS),
            post(twilio::sms_status),
        )
        .route(&webhook::route(webhook::VOICE), post(twilio::voice))
        .route(
            &webhook::route(webhook::CALL_STATUS),
            post(twilio::call_status),
        );
    Router::new()
        .route("/health", get(observe::health))
        .route("/metrics", get(observe::metrics))
        .nest("/api/v1", api)
        .merge(webhooks)
        .merge(crate::web::routes())
        .fallback(observe::not_found)
        .method_not_allowed_fallback(observe::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::record,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge::guard,
        ))
        .layer(CatchPanicLayer::custom(observe::panic_response))
        .with_state(state)
}

/// What the separate metrics listener (`HEIMDELL_METRICS_ADDR`) serves: `/metrics` and
/// `/health`, to whoever can reach that address.
pub fn metrics_router(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(observe::health))
        .route("/metrics", get(observe::metrics_unguarded))
        .fallback(observe::not_found)
        .with_state(state)
}
