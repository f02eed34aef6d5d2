//! A fake OpenAI-compatible server on loopback for provider tests.
//!
//! It speaks the real wire format (`POST /v1/chat/completions`, chat-completion JSON), answers
//! from a per-test script of replies (status, body, optional delay, optional `Retry-After`),
//! and records every request it gets (path, `Authorization` header, JSON body) so a test can
//! assert exactly what the client sent. A request beyond the script gets a 500 that says so.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Option<Duration>,
    pub retry_after: Option<String>,
    /// A streamed answer: each event's data after its pause (then `[DONE]`).
    pub events: Option<Vec<(Duration, String)>>,
}

impl Reply {
    /// 200 with a chat-completion body.
    pub fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            delay: None,
            retry_after: None,
            events: None,
        }
    }

    /// 200 with `text/event-stream`: each `chat.completion.chunk` after its pause, then
    /// `data: [DONE]`, as OpenAI streams.
    pub fn stream(chunks: Vec<(Duration, Value)>) -> Reply {
        let mut events: Vec<(Duration, String)> = chunks
            .into_iter()
            .map(|(pause, chunk)| (pause, chunk.to_string()))
            .collect();
        events.push((Duration::ZERO, "[DONE]".to_string()));
        Reply {
            status: 200,
            body: String::new(),
            delay: None,
            retry_after: None,
            events: Some(events),
        }
    }

    /// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
    pub fn error(status: u16, kind: &str, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
        )
    }

    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    pub fn retry_after(mut self, value: &str) -> Reply {
        self.retry_after = Some(value.to_string());
        self
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<String>,
    /// The body as JSON (`Value::String` with the raw text if it was not JSON).
    pub body: Value,
    /// The body exactly as it arrived (field order included: prefix caches see these bytes).
    pub raw: String,
}

struct Shared {
    script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

pub struct FakeOpenAi {
    /// What to give the client as its base URL: `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeOpenAi {
    /// Binds 127.0.0.1 on a free port and serves `script`.
    pub async fn start(script: impl IntoIterator<Item = Reply>) -> FakeOpenAi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        FakeOpenAi::serve(listener, script)
    }

    /// Serves `script` on a listener the caller bound. The listener is already accepting when
    /// this returns (the kernel queues connections), so no waiting is needed.
    pub fn serve(
        listener: tokio::net::TcpListener,
        script: impl IntoIterator<Item = Reply>,
    ) -> FakeOpenAi {
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into_iter().collect()),
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .fallback(elsewhere)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake server");
        });
        FakeOpenAi {
            base_url: format!("http://{addr}/v1"),
            shared,
            server,
        }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Scripted replies not yet used.
    pub fn remaining(&self) -> usize {
        self.shared.script.lock().unwrap().len()
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn record(shared: &Shared, path: &str, headers: &HeaderMap, body: &Bytes) {
    let raw = String::from_utf8_lossy(body).into_owned();
    let body = serde_json::from_str(&raw).unwrap_or(Value::String(raw.clone()));
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    shared.seen.lock().unwrap().push(Seen {
        path: path.to_string(),
        authorization,
        body,
        raw,
    });
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    record(&shared, "/v1/chat/completions", &headers, &body);
    let next = shared.script.lock().unwrap().pop_front();
    let Some(reply) = next else {
        return Reply::error(500, "server_error", "the fake's script is exhausted").into_response();
    };
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    reply.into_response()
}

async fn elsewhere(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, uri.path(), &headers, &body);
    Reply::error(404, "invalid_request_error", "unknown path").into_response()
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        if let Some(events) = self.events {
            let body = futures_util::stream::unfold(events.into_iter(), |mut rest| async move {
                let (pause, data) = rest.next()?;
                tokio::time::sleep(pause).await;
                Some((
                    Ok::<_, std::convert::Infallible>(format!("data: {data}\n\n")),
                    rest,
                ))
            });
            let mut resp = axum::body::Body::from_stream(body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            return resp;
        }
        let status = StatusCode::from_u16(self.status).expect("status");
        let mut resp = (status, self.body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(v) = self.retry_after {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&v).expect("header"),
            );
        }
        resp
    }
}

/// The chunks of a streamed text answer, one per piece, then one with the usage.
pub fn text_chunks(pieces: &[&str], pause: Duration) -> Vec<(Duration, Value)> {
    let mut out: Vec<(Duration, Value)> = pieces
        .iter()
        .map(|p| {
            (
                pause,
                json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1,
                       "model": "fake-model",
                       "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]}),
            )
        })
        .collect();
    out.push((
        Duration::ZERO,
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ));
    out.push((
        Duration::ZERO,
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
               "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": pieces.len()}}),
    ));
    out
}

/// A complete `chat.completion` object as OpenAI sends it, around `message`.
pub fn completion(message: Value, finish_reason: &str, prompt: u32, completion: u32) -> Value {
    json!({
        "id": "chatcmpl-fake123",
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": "gpt-test-2026-01-01",
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake"
    })
}

/// A reply that is only text.
pub fn text_reply(content: &str, prompt: u32, completion_tokens: u32) -> Value {
    completion(
        json!({"role": "assistant", "content": content, "refusal": null, "annotations": []}),
        "stop",
        prompt,
        completion_tokens,
    )
}

/// A reply calling tools: `(id, name, raw arguments text)`.
pub fn tool_reply(calls: &[(&str, &str, &str)]) -> Value {
    let tool_calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| {
            json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
        })
        .collect();
    completion(
        json!({
            "role": "assistant",
            "content": null,
            "refusal": null,
            "tool_calls": tool_calls,
            "annotations": []
        }),
        "tool_calls",
        120,
        30,
    )
}

/// A reply that is only text, `cached` of whose `prompt` tokens the server says it served from
/// its prompt cache (`usage.prompt_tokens_details.cached_tokens`).
pub fn text_reply_cached(content: &str, prompt: u32, cached: u32, completion_tokens: u32) -> Value {
    let mut v = text_reply(content, prompt, completion_tokens);
    v["usage"]["prompt_tokens_details"]["cached_tokens"] = json!(cached);
    v
}
