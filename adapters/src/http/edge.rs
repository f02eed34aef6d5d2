//! The outermost layer of every answer: request bodies get a deadline, and whatever layer
//! answered an error — a body-size limit, an extractor's rejection, a webhook's form parser —
//! the client gets the documented shape `{"error":{"code","message","details"}}`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::error::ApiError;
use super::extract::too_large;
use super::state::ApiState;

/// At most this much of a non-JSON error body is read to reuse its words.
const ERROR_TEXT_LIMIT: usize = 16 * 1024;

pub async fn guard(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let expired = Arc::new(AtomicBool::new(false));
    let req = req.map(|body| {
        Body::new(DeadlineBody {
            inner: body,
            limit: state.limits.body_timeout,
            sleep: None,
            expired: expired.clone(),
        })
    });
    let response = next.run(req).await;
    if expired.load(Ordering::Relaxed) {
        let mut r = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "The request's body did not arrive within {} seconds.",
                state.limits.body_timeout.as_secs()
            ),
        )
        .into_response();
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    in_error_shape(response).await
}

/// An error answer that is not already JSON becomes one, keeping its status, its words and the
/// headers that tell the client what to do next.
async fn in_error_shape(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, ERROR_TEXT_LIMIT)
        .await
        .map(|b: Bytes| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::BAD_REQUEST => ApiError::new(status, "bad_request", message),
        StatusCode::NOT_FOUND => ApiError::new(status, "not_found", message),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(status, "method_not_allowed", message),
        StatusCode::REQUEST_TIMEOUT => ApiError::new(status, "request_timeout", message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(status, "unsupported_media_type", message)
        }
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::new(status, "malformed_body", message),
        StatusCode::TOO_MANY_REQUESTS => ApiError::new(status, "rate_limited", message),
        s if s.is_server_error() => ApiError::internal(message),
        _ => ApiError::new(status, "bad_request", message),
    };
    let mut out = error.into_response();
    *out.status_mut() = status;
    for name in [header::RETRY_AFTER, header::ALLOW, header::CONNECTION] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// A request body that fails once its deadline passes (and says so through `expired`), so a
/// client that trickles its body cannot hold a connection and a handler forever. The clock
/// starts when the handler first reads the body, not while it waits for a database
/// connection with the client's bytes held back by flow control.
struct DeadlineBody {
    inner: Body,
    limit: std::time::Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

#[derive(Debug)]
struct BodyDeadline;

impl std::fmt::Display for BodyDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyDeadline {}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let limit = self.limit;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + limit)));
        let expired_now = sleep.as_mut().poll(cx).is_ready();
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if expired_now {
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(Box::new(BodyDeadline))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
