//! A chat model behind an OpenAI-compatible chat-completions API: OpenAI itself, Azure OpenAI's
//! v1 endpoint, and local servers that speak the same wire format (Ollama, vLLM, llama.cpp
//! server, LM Studio). Built on async-openai; base URL, key and model come from configuration.
//!
//! What this provider owns:
//! - **Strict tools.** Every tool goes out as a `function` tool with `strict: true` and its
//!   parameters rewritten by [`strict_schema`] into the subset of JSON Schema that OpenAI's
//!   strict mode accepts. A schema strict mode cannot express (a free-form map, an untyped
//!   value) goes out unchanged with `strict: false` instead of being silently narrowed.
//!   Because strict mode makes optional properties required-but-nullable, the model answers
//!   `null` for an argument it means to leave out; where the tool's own schema does not accept
//!   `null` there, the provider drops that key again, so the runtime sees arguments in the
//!   tool's own shape.
//! - **Tool calls as written.** Arguments are passed on as the model's raw text: malformed JSON
//!   and unknown tool names reach the runtime, which reports them back to the model.
//! - **Transport.** A timeout per HTTP attempt, retries with exponential backoff (and jitter) on
//!   429, 5xx and connection failures, `Retry-After`/`retry-after-ms` honoured up to
//!   [`RETRY_AFTER_CAP`]. Timeouts are not retried: the user is already waiting.
//! - **Errors a person can read.** [`ModelError`] messages name the service's host and what
//!   went wrong; they never contain the API key (server-supplied text is scrubbed of it too).

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestToolMessage,
    ChatCompletionRequestToolMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionTool, ChatCompletionToolChoiceOption,
    ChatCompletionTools, FunctionCall, FunctionObject, ToolChoiceOptions,
};
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ChatModel, Message, ModelError, ModelReply, ModelRequest, ToolCall, ToolSpec, Usage};

/// The longest wait a server's `Retry-After` can ask of us before the next attempt.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(20);
/// The longest computed backoff between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// The longest the connect phase of one attempt may take (the total is `timeout`).
const CONNECT_TIMEOUT_CAP: Duration = Duration::from_secs(10);
/// How much of a server's error text we repeat.
const SERVER_MESSAGE_MAX: usize = 300;

/// How to reach an OpenAI-compatible chat-completions API.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The API root, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`;
    /// `/chat/completions` is appended.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …`; `None` (or empty) sends no Authorization header,
    /// which is what most local servers expect. Never logged, never in `Debug` or errors.
    pub api_key: Option<SecretString>,
    /// The model name sent with every request, and [`ChatModel::name`].
    pub model: String,
    /// Limit for one HTTP attempt, from connecting until the whole body is read.
    pub timeout: Duration,
    /// Further attempts after the first one fails with 429, 5xx or a connection failure.
    pub max_retries: u32,
    /// Wait before the first retry; doubles for each further one (capped, with jitter).
    pub initial_backoff: Duration,
    /// Sampling temperature; `Some(0.0)` by default for repeatable tool use. `None` leaves it
    /// out, for models that accept only their default (OpenAI's reasoning models).
    pub temperature: Option<f32>,
    /// The most tokens one answer may take (`max_tokens`), 1,024 by default: a small model that
    /// loses its way otherwise rambles for minutes. `None` leaves it to the server.
    pub max_tokens: Option<u32>,
}

impl OpenAiConfig {
    /// A configuration with the defaults: no key, 120 s timeout, 3 retries from 500 ms,
    /// temperature 0.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiConfig {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            timeout: Duration::from_secs(120),
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_tokens: Some(1024),
            temperature: Some(0.0),
        }
    }

    /// The same configuration with an API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("temperature", &self.temperature)
            .finish()
    }
}

/// A [`ChatModel`] speaking the OpenAI chat-completions wire format.
pub struct OpenAiModel {
    client: Client<OpenAIConfig>,
    model: String,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    /// `host[:port]` of the service, for messages.
    host: String,
    /// Kept only to scrub it out of anything a server says back.
    api_key: Option<SecretString>,
    timeout: Duration,
    max_retries: u32,
    /// For streamed answers, which the async-openai client does not carry: the same HTTP
    /// client, the chat-completions URL, and the retry policy.
    http: reqwest::Client,
    completions_url: String,
    policy: Arc<RetryPolicy>,
}

mod stream;

impl fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiModel")
            .field("model", &self.model)
            .field("host", &self.host)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl OpenAiModel {
    /// Checks the configuration and builds the HTTP client. Nothing is sent yet.
    pub fn new(cfg: OpenAiConfig) -> Result<Self, ModelError> {
        let base_url = cfg.base_url.trim().trim_end_matches('/').to_string();
        // The URL itself stays out of these messages: it may carry credentials.
        let bad_url = || {
            ModelError::Unreachable(
                "the configured model service URL is not a valid http:// or https:// URL".into(),
            )
        };
        let url = reqwest::Url::parse(&base_url).map_err(|_| bad_url())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad_url());
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => unreachable!("checked above"),
        };
        if cfg.model.trim().is_empty() {
            return Err(ModelError::BadResponse(
                "no model name is configured for the model service".into(),
            ));
        }

        let api_key = cfg.api_key.filter(|k| !k.expose_secret().trim().is_empty());
        if let Some(key) = &api_key {
            let header = format!("Bearer {}", key.expose_secret());
            if reqwest::header::HeaderValue::from_str(&header).is_err() {
                return Err(ModelError::Unreachable(
                    "the configured model API key contains characters that cannot be sent \
                     in an HTTP header"
                        .into(),
                ));
            }
        }

        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(CONNECT_TIMEOUT_CAP))
            .user_agent(concat!("heimdell/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ModelError::Unreachable(format!(
                    "cannot set up an HTTP client for the model service at {host}: {}",
                    innermost(&e)
                ))
            })?;

        // Everything explicit: OpenAIConfig::new() would otherwise pick up OPENAI_API_KEY,
        // OPENAI_BASE_URL, OPENAI_ORG_ID and OPENAI_PROJECT_ID from the environment.
        let completions_url = format!("{base_url}/chat/completions");
        let config = OpenAIConfig::new()
            .with_api_base(base_url)
            .with_api_key(
                api_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_string())
                    .unwrap_or_default(),
            )
            .with_org_id("")
            .with_project_id("");
        let transport = Transport {
            http: http.clone(),
            policy: Arc::new(RetryPolicy {
                max_retries: cfg.max_retries,
                initial_backoff: cfg.initial_backoff,
                send_authorization: api_key.is_some(),
                host: host.clone(),
            }),
        };
        let policy = transport.policy.clone();
        let client = Client::build(http.clone(), config).with_http_service(transport);

        Ok(OpenAiModel {
            http,
            completions_url,
            policy,
            client,
            model: cfg.model,
            temperature: cfg.temperature,
            max_tokens: cfg.max_tokens,
            host,
            api_key,
            timeout: cfg.timeout,
            max_retries: cfg.max_retries,
        })
    }

    /// The chat-completions request for `req`, exactly as it is sent.
    fn request_body(&self, req: &ModelRequest) -> WireRequest {
        let messages = req.messages.iter().map(wire_message).collect();
        let tools: Vec<ChatCompletionTools> = req.tools.iter().map(wire_tool).collect();
        let has_tools = !tools.is_empty();
        WireRequest {
            model: self.model.clone(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            tools: has_tools.then_some(tools),
            tool_choice: has_tools.then_some(ChatCompletionToolChoiceOption::Mode(
                ToolChoiceOptions::Auto,
            )),
            messages,
            stream: None,
            stream_options: None,
        }
    }

    /// `text` without the API key, nor a long piece of it a server may have echoed back.
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        if let Some(key) = &self.api_key {
            let key = key.expose_secret();
            out = out.replace(key, "[redacted]");
            if key.len() >= 16 {
                let pieces = [key.get(..12), key.get(key.len() - 12..)];
                for piece in pieces.into_iter().flatten() {
                    out = out.replace(piece, "[redacted]");
                }
            }
        }
        out
    }

    fn map_error(&self, err: OpenAIError) -> ModelError {
        let host = &self.host;
        match err {
            OpenAIError::Boxed(boxed) => match boxed.downcast::<Failure>() {
                Ok(failure) => self.map_failure(*failure),
                Err(other) => ModelError::BadResponse(self.scrub(&format!(
                    "the model service at {host} could not be used: {other}"
                ))),
            },
            OpenAIError::Reqwest(e) => self.map_failure(Failure::from_reqwest(&e)),
            OpenAIError::JSONDeserialize(e, _) => {
                tracing::warn!(host = %host, error = %e, "model service reply is not a chat completion");
                ModelError::BadResponse(format!(
                    "the model service at {host} answered something that is not a chat completion"
                ))
            }
            OpenAIError::ApiError(api) => self.map_failure(Failure::Status {
                status: api.status_code.as_u16(),
                kind: api.api_error.r#type.clone(),
                message: api.api_error.message.clone(),
            }),
            other => ModelError::BadResponse(self.scrub(&format!(
                "the request to the model service at {host} failed: {other}"
            ))),
        }
    }

    fn map_failure(&self, failure: Failure) -> ModelError {
        let host = &self.host;
        match failure {
            Failure::Timeout => ModelError::Timeout,
            Failure::Connect(detail) => ModelError::Unreachable(self.scrub(&format!(
                "the model service at {host} is unreachable ({detail})"
            ))),
            Failure::Transport(detail) => ModelError::Unreachable(self.scrub(&format!(
                "the connection to the model service at {host} broke off ({detail})"
            ))),
            Failure::Status {
                status,
                kind,
                message,
            } => {
                let reason = reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                let said = if message.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", message.trim())
                };
                match status {
                    429 if kind.as_deref() == Some("insufficient_quota") => {
                        ModelError::BadResponse(self.scrub(&format!(
                            "the model service at {host} refused: the account's quota is used up{said}"
                        )))
                    }
                    429 => ModelError::RateLimited,
                    401 | 403 => ModelError::BadResponse(self.scrub(&format!(
                        "the model service at {host} refused our credentials (HTTP {status} {reason}){said}"
                    ))),
                    502..=504 => ModelError::Unreachable(self.scrub(&format!(
                        "the model service at {host} is unavailable (HTTP {status} {reason}){said}"
                    ))),
                    _ => ModelError::BadResponse(self.scrub(&format!(
                        "the model service at {host} answered HTTP {status} {reason}{said}"
                    ))),
                }
            }
        }
    }

    fn parse_reply(
        &self,
        resp: WireResponse,
        tools: &[ToolSpec],
    ) -> Result<ModelReply, ModelError> {
        let host = &self.host;
        if let Some(err) = resp.error.filter(|e| !e.is_null()) {
            let message = server_message(&err.to_string());
            return Err(ModelError::BadResponse(self.scrub(&format!(
                "the model service at {host} answered with an error: {message}"
            ))));
        }
        let usage = resp
            .usage
            .map(|u| Usage {
                prompt_tokens: u.prompt_tokens,
                // OpenAI's `prompt_tokens_details.cached_tokens`; servers that leave it out (or
                // send null) cached nothing we can bill lower. Never more than the prompt.
                cached_prompt_tokens: u
                    .prompt_tokens_details
                    .and_then(|d| d.cached_tokens)
                    .unwrap_or(0)
                    .min(u.prompt_tokens),
                completion_tokens: u.completion_tokens,
            })
            .unwrap_or_default();
        let Some(choice) = resp.choices.into_iter().next() else {
            return Err(ModelError::BadResponse(format!(
                "the model service at {host} answered without any choices"
            )));
        };
        let message = choice.message.unwrap_or_default();
        let tool_calls: Vec<ToolCall> = message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter_map(|(i, call)| {
                let function = call.function?;
                let arguments = match function.arguments {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s,
                    // Some servers send the arguments as a JSON object rather than as text.
                    Some(other) => other.to_string(),
                };
                let arguments = match tools.iter().find(|t| t.name == function.name) {
                    Some(tool) => restore_omitted(&tool.parameters, arguments),
                    None => arguments,
                };
                Some(ToolCall {
                    id: call
                        .id
                        .filter(|id| !id.is_empty())
                        .unwrap_or_else(|| format!("call_{i}")),
                    name: function.name,
                    arguments,
                })
            })
            .collect();
        // Postgres text cannot hold U+0000; whatever a model emits is stored without it.
        let content = text_of(message.content)
            .or(message.refusal)
            .map(|c| c.replace('\0', ""))
            .filter(|c| !c.trim().is_empty() || tool_calls.is_empty());
        Ok(ModelReply {
            content,
            tool_calls,
            usage,
        })
    }
}

impl ChatModel for OpenAiModel {
    fn name(&self) -> &str {
        &self.model
    }

    fn complete<'a>(
        &'a self,
        req: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>> {
        Box::pin(async move {
            let body = self.request_body(req);
            let resp: WireResponse = self
                .client
                .chat()
                .create_byot(body)
                .await
                .map_err(|e| self.map_error(e))?;
            self.parse_reply(resp, &req.tools)
        })
    }

    fn stream<'a>(
        &'a self,
        req: &'a ModelRequest,
        on_text: &'a (dyn Fn(&str) + Send + Sync),
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>> {
        Box::pin(self.stream_reply(req, on_text))
    }
}

// ---------------------------------------------------------------------------------------------
// Request conversion

/// A chat-completions request with its fields in cache-friendly order: what is the same for
/// every turn (model, sampling, tool schemas) before what grows (the messages), so the
/// serialized body of any two turns shares a long prefix.
#[derive(Debug, serde::Serialize)]
struct WireRequest {
    model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<ChatCompletionTools>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ChatCompletionToolChoiceOption>,
    messages: Vec<ChatCompletionRequestMessage>,
    /// Last, so a streamed request shares its whole prefix with a whole one.
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Value>,
}

fn wire_message(m: &Message) -> ChatCompletionRequestMessage {
    match m {
        Message::System { content } => {
            ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
                content: ChatCompletionRequestSystemMessageContent::Text(content.clone()),
                name: None,
            })
        }
        Message::User { content } => {
            ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
                content: ChatCompletionRequestUserMessageContent::Text(content.clone()),
                name: None,
            })
        }
        Message::Assistant {
            content,
            tool_calls,
        } => {
            let calls: Vec<ChatCompletionMessageToolCalls> = tool_calls
                .iter()
                .map(|c| {
                    ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                        id: c.id.clone(),
                        function: FunctionCall {
                            name: c.name.clone(),
                            arguments: c.arguments.clone(),
                        },
                    })
                })
                .collect();
            // Always some content, empty beside tool calls: OpenAI accepts either, but chat
            // templates of local servers (llama-cpp-python's chatml-function-calling) read
            // `message.content` and fail with a 500 when it is missing.
            let content = Some(content.clone().unwrap_or_default());
            ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                content: content.map(ChatCompletionRequestAssistantMessageContent::Text),
                tool_calls: (!calls.is_empty()).then_some(calls),
                ..Default::default()
            })
        }
        Message::Tool {
            tool_call_id,
            content,
        } => ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
            content: ChatCompletionRequestToolMessageContent::Text(content.clone()),
            tool_call_id: tool_call_id.clone(),
        }),
    }
}

fn wire_tool(t: &ToolSpec) -> ChatCompletionTools {
    let (parameters, strict) = match strict_form(&t.parameters) {
        Some(strict) => (strict, true),
        None => (t.parameters.clone(), false),
    };
    ChatCompletionTools::Function(ChatCompletionTool {
        function: FunctionObject {
            name: t.name.clone(),
            description: (!t.description.is_empty()).then(|| t.description.clone()),
            parameters: Some(parameters),
            strict: Some(strict),
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Strict schemas

/// Keywords OpenAI's strict mode accepts; everything else is dropped from what the model sees
/// (the runtime still validates arguments against the tool's full schema).
const STRICT_KEYWORDS: &[&str] = &[
    "type",
    "description",
    "title",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "anyOf",
    "$ref",
    "$defs",
    "definitions",
    // strings
    "pattern",
    "format",
    // numbers
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    // arrays
    "minItems",
    "maxItems",
];

/// String formats strict mode accepts.
const STRICT_FORMATS: &[&str] = &[
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// Rewrites a tool's JSON schema into the form OpenAI's strict mode accepts.
///
/// Recursively: every object gets `additionalProperties: false` and `required` listing all of
/// its properties; a property that was optional becomes nullable (`"type": [T, "null"]`, or
/// `anyOf: [<schema>, {"type": "null"}]` for `$ref`, `enum` and untyped schemas, or one more
/// `{"type": "null"}` branch for an existing `anyOf`); `oneOf` becomes `anyOf` (an `anyOf`
/// nested directly in another is flattened into it); `const` becomes a one-value `enum`;
/// `allOf` is merged into its parent; a `$ref` with sibling keywords is inlined.
/// Keywords outside strict mode's subset are dropped (`default`, `minLength`, `maxLength`,
/// `examples`, `$schema`, `uniqueItems`, `not`, …), and so are `format`s it does not know
/// (`int32`, `uint`, `double`, …); `date-time`, `date`, `time`, `duration`, `email`,
/// `hostname`, `ipv4`, `ipv6` and `uuid` stay, as do `pattern`, numeric bounds and
/// `minItems`/`maxItems`.
pub fn strict_schema(schema: &Value) -> Value {
    convert_root(schema).0
}

/// The strict form of `schema`, or `None` if strict mode cannot express it faithfully (a map
/// with free keys, an untyped value): such a tool is sent with `strict: false` and its own
/// schema rather than narrowed.
fn strict_form(schema: &Value) -> Option<Value> {
    let (out, issues) = convert_root(schema);
    let root_is_object = out.get("type") == Some(&json!("object"));
    (issues.is_empty() && root_is_object).then_some(out)
}

fn convert_root(schema: &Value) -> (Value, Vec<String>) {
    // No parameters at all is the empty object.
    if schema.as_object().is_none_or(|o| o.is_empty()) {
        let empty = json!({"type": "object", "properties": {}, "required": [], "additionalProperties": false});
        return (empty, Vec::new());
    }
    let mut issues = Vec::new();
    let out = convert(schema, schema, 0, &mut issues);
    (out, issues)
}

const MAX_DEPTH: usize = 64;

fn convert(node: &Value, root: &Value, depth: usize, issues: &mut Vec<String>) -> Value {
    let Some(src) = node.as_object() else {
        if node == &Value::Bool(true) {
            issues.push("a schema accepts any value".into());
        }
        return node.clone();
    };
    if depth > MAX_DEPTH {
        issues.push("the schema nests too deeply".into());
        return node.clone();
    }
    let mut map = src.clone();

    // A `$ref` must stand alone in strict mode: inline it when it has siblings.
    if let Some(Value::String(r)) = map.get("$ref").cloned()
        && map.len() > 1
    {
        match resolve_ref(root, &r) {
            Some(Value::Object(target)) => {
                map.remove("$ref");
                let mut merged = target.clone();
                for (k, v) in map {
                    merged.insert(k, v);
                }
                return convert(&Value::Object(merged), root, depth + 1, issues);
            }
            _ => issues.push(format!("cannot resolve {r}")),
        }
    }

    // A single-entry `allOf` (what generators emit to attach a description to a `$ref`).
    if let Some(Value::Array(all)) = map.remove("allOf") {
        for entry in all {
            let entry = match entry {
                Value::Object(o) if o.len() == 1 && o.contains_key("$ref") => {
                    match o
                        .get("$ref")
                        .and_then(Value::as_str)
                        .and_then(|r| resolve_ref(root, r))
                    {
                        Some(Value::Object(t)) => t.clone(),
                        _ => o,
                    }
                }
                Value::Object(o) => o,
                _ => continue,
            };
            for (k, v) in entry {
                match (k.as_str(), map.get_mut(&k)) {
                    ("properties", Some(Value::Object(mine))) => {
                        if let Value::Object(theirs) = v {
                            mine.extend(theirs);
                        }
                    }
                    ("required", Some(Value::Array(mine))) => {
                        if let Value::Array(theirs) = v {
                            mine.extend(theirs);
                        }
                    }
                    (_, Some(_)) => {}
                    (_, None) => {
                        map.insert(k, v);
                    }
                }
            }
        }
    }

    // `oneOf` → `anyOf`.
    if let Some(Value::Array(one)) = map.remove("oneOf") {
        match map.get_mut("anyOf") {
            Some(Value::Array(any)) => any.extend(one),
            _ => {
                map.insert("anyOf".into(), Value::Array(one));
            }
        }
    }

    // `const` as a one-value `enum`: the same constraint, and the keyword every strict-mode
    // implementation knows.
    if let Some(c) = map.remove("const")
        && !map.contains_key("enum")
    {
        map.insert("enum".into(), Value::Array(vec![c]));
    }

    let mut out = Map::new();
    for (key, value) in map {
        if !STRICT_KEYWORDS.contains(&key.as_str()) {
            continue;
        }
        let value = match key.as_str() {
            "format" => match value.as_str() {
                Some(f) if STRICT_FORMATS.contains(&f) => value,
                _ => continue,
            },
            "items" => match value {
                Value::Array(_) => {
                    issues.push("an array has positional item schemas".into());
                    value
                }
                other => convert(&other, root, depth + 1, issues),
            },
            "anyOf" => match value {
                Value::Array(branches) => {
                    let mut flat = Vec::new();
                    for branch in &branches {
                        flatten_any_of(convert(branch, root, depth + 1, issues), &mut flat);
                    }
                    Value::Array(flat)
                }
                other => other,
            },
            "$defs" | "definitions" => match value {
                Value::Object(defs) => Value::Object(
                    defs.iter()
                        .map(|(k, v)| (k.clone(), convert(v, root, depth + 1, issues)))
                        .collect(),
                ),
                other => other,
            },
            // `properties`, `required` and `additionalProperties` are rebuilt below.
            _ => value,
        };
        out.insert(key, value);
    }

    let is_object = match out.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        _ => out.contains_key("properties"),
    };
    if is_object {
        match out.get("additionalProperties") {
            None | Some(Value::Bool(false)) => {}
            Some(_) if !out.contains_key("properties") => {
                issues.push("an object takes free-form keys".into())
            }
            Some(_) => issues.push("an object takes extra keys beside its properties".into()),
        }
        let was_required: Vec<String> = out
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let props = match out.remove("properties") {
            Some(Value::Object(props)) => props,
            _ => Map::new(),
        };
        let mut converted = Map::new();
        for (name, prop) in props {
            let mut strict = convert(&prop, root, depth + 1, issues);
            if !was_required.contains(&name) {
                strict = make_nullable(strict);
            }
            converted.insert(name, strict);
        }
        let required: Vec<Value> = converted.keys().cloned().map(Value::String).collect();
        out.insert("properties".into(), Value::Object(converted));
        out.insert("required".into(), Value::Array(required));
        out.insert("additionalProperties".into(), Value::Bool(false));
        if !out.contains_key("type") {
            out.insert("type".into(), json!("object"));
        }
    } else {
        out.remove("properties");
        out.remove("required");
        out.remove("additionalProperties");
        let typed = ["type", "anyOf", "enum", "const", "$ref"]
            .iter()
            .any(|k| out.contains_key(*k));
        if !typed {
            issues.push("a schema accepts any value".into());
        }
    }
    Value::Object(out)
}

/// A branch that is itself only an `anyOf` (plus words) contributes its branches directly.
fn flatten_any_of(branch: Value, into: &mut Vec<Value>) {
    let nested = branch.as_object().is_some_and(|o| {
        matches!(o.get("anyOf"), Some(Value::Array(_)))
            && o.keys()
                .all(|k| matches!(k.as_str(), "anyOf" | "description" | "title"))
    });
    if !nested {
        into.push(branch);
        return;
    }
    if let Value::Object(mut o) = branch
        && let Some(Value::Array(inner)) = o.remove("anyOf")
    {
        into.extend(inner);
    }
}

fn resolve_ref<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let path = r.strip_prefix('#')?;
    if path.is_empty() {
        return Some(root);
    }
    root.pointer(path)
}

fn accepts_null(schema: &Value) -> bool {
    let Some(o) = schema.as_object() else {
        return schema == &Value::Bool(true);
    };
    if let Some(Value::Array(branches)) = o.get("anyOf").or_else(|| o.get("oneOf")) {
        return branches.iter().any(accepts_null);
    }
    if let Some(c) = o.get("const") {
        return c.is_null();
    }
    let type_ok = match o.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "null"),
        Some(_) => false,
        None => !o.contains_key("$ref"),
    };
    let enum_ok = match o.get("enum") {
        Some(Value::Array(values)) => values.iter().any(Value::is_null),
        _ => true,
    };
    type_ok && enum_ok
}

fn make_nullable(schema: Value) -> Value {
    if accepts_null(&schema) {
        return schema;
    }
    let Value::Object(mut o) = schema else {
        return schema;
    };
    if let Some(Value::Array(branches)) = o.get_mut("anyOf") {
        branches.push(json!({"type": "null"}));
        return Value::Object(o);
    }
    // `[T, "null"]` for scalars and arrays; objects, `$ref`s and enums get an `anyOf`.
    let is_object = match o.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        _ => false,
    };
    let simple = !is_object && !["$ref", "enum"].iter().any(|k| o.contains_key(*k));
    match o.get_mut("type") {
        Some(Value::String(t)) if simple => {
            let t = std::mem::take(t);
            o.insert("type".into(), json!([t, "null"]));
            Value::Object(o)
        }
        Some(Value::Array(ts)) if simple => {
            ts.push(json!("null"));
            Value::Object(o)
        }
        _ => {
            // Wrap; the words about the property stay on the outside.
            let mut outer = Map::new();
            for k in ["description", "title"] {
                if let Some(v) = o.remove(k) {
                    outer.insert(k.into(), v);
                }
            }
            outer.insert("anyOf".into(), json!([Value::Object(o), {"type": "null"}]));
            Value::Object(outer)
        }
    }
}

/// Strict mode makes the model send `null` for arguments it leaves out. Where the tool's own
/// schema does not accept `null` for such an optional property, drop the key, so the arguments
/// are in the tool's own shape again. Anything that is not a JSON object is passed on as is.
fn restore_omitted(schema: &Value, arguments: String) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(&arguments) else {
        return arguments;
    };
    if strip_nulls(schema, schema, &mut value, 0) {
        value.to_string()
    } else {
        arguments
    }
}

fn strip_nulls(schema: &Value, root: &Value, value: &mut Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let Some(s) = schema.as_object() else {
        return false;
    };
    if let Some(Value::String(r)) = s.get("$ref") {
        return match resolve_ref(root, r) {
            Some(target) => strip_nulls(target, root, value, depth + 1),
            None => false,
        };
    }
    let mut changed = false;
    match value {
        Value::Object(fields) => {
            let Some(Value::Object(props)) = s.get("properties") else {
                return false;
            };
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            fields.retain(|k, v| {
                let drop = v.is_null()
                    && !required.contains(&k.as_str())
                    && props.get(k).is_some_and(|p| !accepts_null(p));
                changed |= drop;
                !drop
            });
            for (k, v) in fields.iter_mut() {
                if let Some(p) = props.get(k) {
                    changed |= strip_nulls(p, root, v, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.get("items") {
                for item in items {
                    changed |= strip_nulls(item_schema, root, item, depth + 1);
                }
            }
        }
        _ => {}
    }
    changed
}

// ---------------------------------------------------------------------------------------------
// Response parsing (lenient: local servers leave out fields OpenAI always sends)

#[derive(Debug, Deserialize)]
struct WireResponse {
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
}

#[derive(Debug, Default, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    #[serde(default)]
    prompt_tokens_details: Option<WirePromptDetails>,
}

#[derive(Debug, Deserialize)]
struct WirePromptDetails {
    #[serde(default)]
    cached_tokens: Option<u32>,
}

/// Message content as text: a string, or the text parts of an array of content parts.
fn text_of(content: Option<Value>) -> Option<String> {
    match content? {
        Value::String(s) => Some(s),
        Value::Array(parts) => {
            let text: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!text.is_empty()).then(|| text.concat())
        }
        _ => None,
    }
}

/// The human part of an error body: OpenAI's `{"error": {"message": …}}`, Ollama's
/// `{"error": "…"}`, a bare `{"message": …}`, or the text itself.
fn server_message(body: &str) -> String {
    let text = server_text(body);
    let mut out: String = text.chars().take(SERVER_MESSAGE_MAX).collect();
    if text.chars().count() > SERVER_MESSAGE_MAX {
        out.push('…');
    }
    out
}

fn server_text(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return body.trim().to_string();
    };
    let pick = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string),
            _ => None,
        }
    };
    v.get("error")
        .and_then(pick)
        .or_else(|| pick(&v))
        .unwrap_or_else(|| body.trim().to_string())
}

fn error_kind(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let e = v.get("error")?;
    e.get("type")
        .or_else(|| e.get("code"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// Transport: async-openai's middleware hook, with our timeouts, retries and error classes

/// Why an HTTP exchange failed, as the transport saw it. Travels through async-openai inside
/// `OpenAIError::Boxed` and is turned into a [`ModelError`] by [`OpenAiModel`].
#[derive(Debug)]
enum Failure {
    Timeout,
    Connect(String),
    Transport(String),
    Status {
        status: u16,
        kind: Option<String>,
        message: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout => f.write_str("timed out"),
            Failure::Connect(d) => write!(f, "cannot connect: {d}"),
            Failure::Transport(d) => write!(f, "transport failure: {d}"),
            Failure::Status {
                status, message, ..
            } => write!(f, "HTTP {status}: {message}"),
        }
    }
}

impl std::error::Error for Failure {}

impl Failure {
    fn from_reqwest(e: &reqwest::Error) -> Failure {
        if e.is_connect() {
            Failure::Connect(connect_detail(e))
        } else if e.is_timeout() {
            Failure::Timeout
        } else {
            Failure::Transport(innermost(e))
        }
    }

    fn retryable(&self) -> bool {
        match self {
            Failure::Connect(_) => true,
            Failure::Status { status, kind, .. } => {
                (*status == 429 && kind.as_deref() != Some("insufficient_quota")) || *status >= 500
            }
            Failure::Timeout | Failure::Transport(_) => false,
        }
    }
}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn connect_detail(e: &reqwest::Error) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::TimedOut => "connecting timed out".into(),
                _ => io.to_string(),
            };
        }
        cur = err.source();
    }
    if e.is_timeout() {
        return "connecting timed out".into();
    }
    innermost(e)
}

struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    send_authorization: bool,
    host: String,
}

impl RetryPolicy {
    /// `initial × 2^attempt`, capped, then a random point in its upper half.
    fn backoff(&self, attempt: u32) -> Duration {
        let full = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(BACKOFF_CAP);
        let mut h = RandomState::new().build_hasher();
        h.write_u32(attempt);
        let fraction = (h.finish() % 1000) as u32;
        full / 2 + (full / 2) * fraction / 1000
    }
}

/// `Retry-After` in seconds (or `retry-after-ms`), capped; HTTP dates are ignored.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let ms = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|ms| ms / 1000.0);
    let secs = ms.or_else(|| {
        headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    })?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        secs.min(RETRY_AFTER_CAP.as_secs_f64()),
    ))
}

#[derive(Clone)]
struct Transport {
    http: reqwest::Client,
    policy: Arc<RetryPolicy>,
}

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let http = self.http.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            let mut attempt = 0u32;
            loop {
                let mut request = factory.build().await?;
                if !policy.send_authorization {
                    request.headers_mut().remove(reqwest::header::AUTHORIZATION);
                }
                let (failure, wait) = match http.execute(request).await {
                    Ok(resp) if resp.status().is_success() => return Ok(resp),
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let wait = retry_after(resp.headers());
                        let body = resp.text().await.unwrap_or_default();
                        let failure = Failure::Status {
                            status,
                            kind: error_kind(&body),
                            message: server_message(&body),
                        };
                        (failure, wait)
                    }
                    Err(e) => (Failure::from_reqwest(&e), None),
                };
                if !failure.retryable() || attempt >= policy.max_retries {
                    return Err(OpenAIError::Boxed(Box::new(failure)));
                }
                let wait = wait.unwrap_or_else(|| policy.backoff(attempt));
                attempt += 1;
                tracing::warn!(
                    host = %policy.host,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    failure = %failure_summary(&failure),
                    "model service call failed; retrying"
                );
                tokio::time::sleep(wait).await;
            }
        })
    }
}

/// A log line's worth: the status or the kind of failure, not the server's text.
fn failure_summary(f: &Failure) -> String {
    match f {
        Failure::Status { status, .. } => format!("HTTP {status}"),
        Failure::Connect(d) => format!("connect: {d}"),
        Failure::Timeout => "timeout".into(),
        Failure::Transport(d) => format!("transport: {d}"),
    }
}
