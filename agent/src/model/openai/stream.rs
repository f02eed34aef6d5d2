//! Streamed answers (`"stream": true`): server-sent events read as they arrive. The timeout
//! applies to silence between chunks, not to the whole answer, so a slow model that keeps
//! talking is never cut off. Text is handed on as it comes; tool calls arrive in fragments
//! (`delta.tool_calls[].index`, then name and argument pieces) and are assembled whole, then
//! read exactly like a whole answer (`parse_reply`), so nothing runs on half a call.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{Failure, OpenAiModel, error_kind, retry_after, server_message};
use crate::model::{ModelError, ModelReply, ModelRequest};

/// A streamed request may run this long in all; silence is limited by the model's timeout.
const WHOLE_STREAM_CAP: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// What the chunks of one answer add up to.
#[derive(Default)]
struct Assembled {
    content: String,
    /// By the index the server gives each call: (id, name, argument text).
    calls: BTreeMap<u64, (String, String, String)>,
    usage: Option<Value>,
    finished: bool,
}

impl Assembled {
    /// Takes one event's JSON; returns the text it adds.
    fn take(&mut self, chunk: &Value) -> Result<String, String> {
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(server_message(&err.to_string()));
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(u.clone());
        }
        let mut added = String::new();
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return Ok(added);
        };
        let delta = choice.get("delta").cloned().unwrap_or(Value::Null);
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            // Postgres text cannot hold U+0000; whatever a model emits is kept without it.
            let text = text.replace('\0', "");
            self.content.push_str(&text);
            added = text;
        }
        for (k, call) in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(k as u64);
            let entry = self.calls.entry(index).or_default();
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                entry.0 = id.to_string();
            }
            let function = call.get("function").cloned().unwrap_or(Value::Null);
            if let Some(name) = function.get("name").and_then(Value::as_str) {
                entry.1.push_str(name);
            }
            match function.get("arguments") {
                Some(Value::String(piece)) => entry.2.push_str(piece),
                Some(Value::Null) | None => {}
                // Some servers send the arguments whole, as an object.
                Some(other) => entry.2 = other.to_string(),
            }
        }
        if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
            self.finished = true;
        }
        Ok(added)
    }

    /// The whole answer in the shape of a non-streamed one.
    fn into_response(self) -> Value {
        let tool_calls: Vec<Value> = self
            .calls
            .into_values()
            .map(|(id, name, arguments)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
            })
            .collect();
        let mut message = json!({"role": "assistant", "content": self.content});
        if !tool_calls.is_empty() {
            message["tool_calls"] = json!(tool_calls);
        }
        json!({"choices": [{"message": message}], "usage": self.usage})
    }
}

impl OpenAiModel {
    pub(super) async fn stream_reply(
        &self,
        req: &ModelRequest,
        on_text: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<ModelReply, ModelError> {
        let mut body = self.request_body(req);
        body.stream = Some(true);
        body.stream_options = Some(json!({"include_usage": true}));
        let mut resp = self.open_stream(&body).await?;
        let mut assembled = Assembled::default();
        let mut buf: Vec<u8> = Vec::new();
        'read: loop {
            let chunk = match tokio::time::timeout(self.timeout, resp.chunk()).await {
                Err(_) => return Err(ModelError::Timeout),
                Ok(Err(e)) => return Err(self.map_failure(Failure::from_reqwest(&e))),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(bytes))) => bytes,
            };
            buf.extend_from_slice(&chunk);
            while let Some(end) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\r', '\n']);
                let Some(data) = line.strip_prefix("data:") else {
                    continue; // comments, event names, blank separators
                };
                let data = data.trim();
                if data == "[DONE]" {
                    break 'read;
                }
                let event: Value = serde_json::from_str(data).map_err(|_| {
                    ModelError::BadResponse(format!(
                        "the model service at {} streamed something that is not a chat completion chunk",
                        self.host
                    ))
                })?;
                match assembled.take(&event) {
                    Ok(text) if !text.is_empty() => on_text(&text),
                    Ok(_) => {}
                    Err(message) => {
                        return Err(ModelError::BadResponse(self.scrub(&format!(
                            "the model service at {} answered with an error: {message}",
                            self.host
                        ))));
                    }
                }
            }
        }
        if assembled.content.is_empty() && assembled.calls.is_empty() && !assembled.finished {
            return Err(ModelError::BadResponse(format!(
                "the model service at {} ended its stream without an answer",
                self.host
            )));
        }
        let whole: super::WireResponse = serde_json::from_value(assembled.into_response())
            .map_err(|e| ModelError::BadResponse(format!("an unreadable streamed answer: {e}")))?;
        self.parse_reply(whole, &req.tools)
    }

    /// Sends the streamed request, retrying refusals and failures to connect as a whole request
    /// would be retried; returns the response once it is streaming.
    async fn open_stream(
        &self,
        body: &super::WireRequest,
    ) -> Result<reqwest::Response, ModelError> {
        let mut attempt = 0u32;
        loop {
            let mut request = self
                .http
                .post(&self.completions_url)
                .timeout(WHOLE_STREAM_CAP)
                .header(reqwest::header::ACCEPT, "text/event-stream")
                .json(body);
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key.expose_secret());
            }
            let sent = tokio::time::timeout(self.timeout, request.send()).await;
            let (failure, wait) = match sent {
                Err(_) => (Failure::Timeout, None),
                Ok(Ok(resp)) if resp.status().is_success() => return Ok(resp),
                Ok(Ok(resp)) => {
                    let status = resp.status().as_u16();
                    let wait = retry_after(resp.headers());
                    let text = resp.text().await.unwrap_or_default();
                    (
                        Failure::Status {
                            status,
                            kind: error_kind(&text),
                            message: server_message(&text),
                        },
                        wait,
                    )
                }
                Ok(Err(e)) => (Failure::from_reqwest(&e), None),
            };
            if !failure.retryable() || attempt >= self.policy.max_retries {
                return Err(self.map_failure(failure));
            }
            let wait = wait.unwrap_or_else(|| self.policy.backoff(attempt));
            attempt += 1;
            tracing::warn!(
                host = %self.host,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "model service stream failed to start; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_in_fragments_are_assembled_whole() {
        let mut a = Assembled::default();
        let chunks = [
            json!({"choices": [{"delta": {"role": "assistant", "content": "Let me "}}]}),
            json!({"choices": [{"delta": {"content": "look."}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "search", "arguments": ""}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"query\":"}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "get_contact", "arguments": "{}"}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": " \"Jane\"}"}}]}}]}),
            json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 90, "completion_tokens": 12}}),
        ];
        let mut text = String::new();
        for c in &chunks {
            text.push_str(&a.take(c).unwrap());
        }
        assert_eq!(text, "Let me look.");
        assert!(a.finished);
        let whole = a.into_response();
        let calls = whole["choices"][0]["message"]["tool_calls"]
            .as_array()
            .unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["function"]["name"], "search");
        assert_eq!(calls[0]["function"]["arguments"], "{\"query\": \"Jane\"}");
        assert_eq!(calls[1]["id"], "call_b");
        assert_eq!(whole["usage"]["prompt_tokens"], 90);
    }

    #[test]
    fn an_error_event_is_an_error() {
        let mut a = Assembled::default();
        assert!(
            a.take(&json!({"error": {"message": "overloaded"}}))
                .unwrap_err()
                .contains("overloaded")
        );
    }
}
