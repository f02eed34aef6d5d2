//! Health, metrics, and the responses for routes that do not exist.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::extract::ClientAddr;
use super::state::ApiState;

/// `GET /health`: 200 when the database answers, 503 otherwise.
pub async fn health(State(state): State<ApiState>) -> Response {
    match sqlx::query("SELECT 1").execute(&state.pool).await {
        Ok(_) => axum::Json(json!({ "status": "ok", "database": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "status": "degraded", "database": "unreachable" })),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text format, for a bearer token equal to `HEIMDELL_METRICS_TOKEN`
/// or, without one configured, for clients on the loopback interface only.
pub async fn metrics(
    State(state): State<ApiState>,
    ClientAddr(peer): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let allowed = match &state.limits.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, sent)| {
                scheme.eq_ignore_ascii_case("bearer")
                    && bool::from(
                        sent.trim()
                            .as_bytes()
                            .ct_eq(token.expose_secret().as_bytes()),
                    )
            }),
        None => peer.is_loopback(),
    };
    if !allowed {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Metrics need the bearer token in HEIMDELL_METRICS_TOKEN (or a loopback client when none is set).",
        )
        .into_response();
    }
    metrics_unguarded(State(state)).await
}

/// The metrics themselves, with this process's resident memory.
pub async fn metrics_unguarded(State(state): State<ApiState>) -> Response {
    if let Some(rss) = resident_bytes() {
        metrics::with_local_recorder(state.metrics.as_ref(), || {
            metrics::gauge!("heimdell_process_resident_memory_bytes").set(rss as f64);
        });
    }
    let body = state.metrics.handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// This process's resident set size, from `/proc/self/status` (Linux).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Counts every request by route and status and records its latency.
pub async fn record(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let seconds = started.elapsed().as_secs_f64();
    metrics::with_local_recorder(state.metrics.as_ref(), || {
        let labels = [("route", route), ("method", method), ("status", status)];
        metrics::counter!("heimdell_http_requests_total", &labels).increment(1);
        metrics::histogram!("heimdell_http_request_duration_seconds", &labels[..2]).record(seconds);
    });
    response
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint.")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This endpoint does not take that method.",
    )
}

/// A panic is a bug; the caller gets the usual error shape, never a dropped connection.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}
