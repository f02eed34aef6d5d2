//! The OpenAI-compatible provider against a fake chat-completions server on loopback: what it
//! sends (exactly), what it makes of replies, and how it fails (retries, timeouts, refused
//! connections) — plus the strict-mode schema conversion on the real tool catalog.

mod fake_openai;

use std::time::{Duration, Instant};

use chrono::Utc;
use fake_openai::{FakeOpenAi, Reply, text_reply, tool_reply};
use heimdell_agent::model::openai::{OpenAiConfig, OpenAiModel, strict_schema};
use heimdell_agent::model::{
    ChatModel, Message, ModelError, ModelReply, ModelRequest, ToolCall, ToolSpec, TurnFacts, Usage,
};
use serde_json::{Value, json};
use uuid::Uuid;

const KEY: &str = "sk-test-0123456789abcdefSECRET";

fn config(base_url: &str) -> OpenAiConfig {
    let mut cfg = OpenAiConfig::new(base_url, "gpt-test").with_api_key(KEY);
    cfg.initial_backoff = Duration::from_millis(10);
    cfg.timeout = Duration::from_secs(5);
    cfg
}

fn model(cfg: OpenAiConfig) -> OpenAiModel {
    OpenAiModel::new(cfg).expect("model")
}

fn catalog_tool(name: &str) -> ToolSpec {
    let registry = heimdell_tools::catalog::standard();
    let t = registry.get(name).expect("tool in catalog");
    ToolSpec {
        name: t.name().to_string(),
        description: t.description().to_string(),
        parameters: t.schema().clone(),
    }
}

fn facts() -> TurnFacts {
    TurnFacts {
        now: Utc::now(),
        tz: chrono_tz::Europe::Berlin,
        user_id: Uuid::nil(),
        user_name: "Rita Rep".into(),
        role: "rep".into(),
        focus: None,
    }
}

fn request(messages: Vec<Message>, tools: Vec<ToolSpec>) -> ModelRequest {
    ModelRequest {
        messages,
        tools,
        facts: facts(),
    }
}

fn simple_request() -> ModelRequest {
    request(
        vec![Message::User {
            content: "What is on my plate?".into(),
        }],
        vec![catalog_tool("create_task"), catalog_tool("move_deal_stage")],
    )
}

// ---------------------------------------------------------------------------------------------
// What goes out, what comes back

#[tokio::test]
async fn plain_text_reply_and_the_exact_request() {
    let fake =
        FakeOpenAi::start([Reply::ok(text_reply("You have two tasks today.", 321, 12))]).await;
    let m = model(config(&fake.base_url));
    assert_eq!(m.name(), "gpt-test");

    let search_args = r#"{"query":"Jane"}"#;
    let req = request(
        vec![
            Message::System {
                content: "You are Heimdell.".into(),
            },
            Message::User {
                content: "Find Jane".into(),
            },
            Message::Assistant {
                content: None,
                tool_calls: vec![ToolCall {
                    id: "call_1".into(),
                    name: "search".into(),
                    arguments: search_args.into(),
                }],
            },
            Message::Tool {
                tool_call_id: "call_1".into(),
                content: r#"[{"type":"contact"}]"#.into(),
            },
            Message::Assistant {
                content: Some("Found Jane Doe.".into()),
                tool_calls: vec![],
            },
            Message::User {
                content: "What is on my plate?".into(),
            },
        ],
        vec![catalog_tool("create_task"), catalog_tool("move_deal_stage")],
    );

    let reply = m.complete(&req).await.expect("reply");
    assert_eq!(
        reply,
        ModelReply {
            content: Some("You have two tasks today.".into()),
            tool_calls: vec![],
            usage: Usage {
                prompt_tokens: 321,
                cached_prompt_tokens: 0,
                completion_tokens: 12
            },
        }
    );

    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = &sent.body;
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["temperature"], json!(0.0));
    // Bounded: a small model that loses its way must not ramble for minutes.
    assert_eq!(body["max_tokens"], json!(1024));
    assert_eq!(body["tool_choice"], "auto");
    assert!(body.get("stream").is_none_or(|s| s == false), "{body}");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You are Heimdell."},
            {"role": "user", "content": "Find Jane"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": search_args}}
            ]},
            {"role": "tool", "content": "[{\"type\":\"contact\"}]", "tool_call_id": "call_1"},
            {"role": "assistant", "content": "Found Jane Doe."},
            {"role": "user", "content": "What is on my plate?"}
        ])
    );

    let tools = body["tools"].as_array().expect("tools");
    assert_eq!(tools.len(), 2);
    for (sent_tool, spec) in tools.iter().zip(&req.tools) {
        assert_eq!(
            sent_tool,
            &json!({
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": strict_schema(&spec.parameters),
                    "strict": true
                }
            })
        );
    }
    // Spot checks on what strict conversion did to create_task's parameters.
    let params = &tools[0]["function"]["parameters"];
    assert_eq!(params["additionalProperties"], false);
    let required: Vec<&str> = params["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let props: Vec<&str> = params["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(required, props);
    assert!(required.contains(&"due_at") && required.contains(&"title"));
    assert_eq!(
        params["properties"]["due_at"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(params["properties"]["due_at"]["format"], "date-time");
    assert_eq!(params["properties"]["title"]["type"], "string");
    assert!(params["properties"]["title"].get("minLength").is_none());
    assert!(params["properties"]["due_at"].get("default").is_none());
}

#[tokio::test]
async fn tool_call_reply_becomes_tool_calls() {
    let args = r#"{"title":"Call Jane about pricing","due_at":"2026-11-21T10:00:00+01:00","notes":null,"owner_id":null,"contact_id":null,"company_id":null,"deal_id":null}"#;
    let fake = FakeOpenAi::start([Reply::ok(tool_reply(&[
        ("call_abc", "create_task", args),
        ("call_def", "move_deal_stage", r#"{"deal_id":"0199a3b0-0000-7000-8000-000000000001","stage":"Won","reason_code":null,"note":null,"expected_version":null}"#),
    ]))])
    .await;
    let reply = model(config(&fake.base_url))
        .complete(&simple_request())
        .await
        .expect("reply");
    assert_eq!(reply.content, None);
    assert_eq!(
        reply.usage,
        Usage {
            prompt_tokens: 120,
            cached_prompt_tokens: 0,
            completion_tokens: 30
        }
    );
    assert_eq!(reply.tool_calls.len(), 2);
    assert_eq!(
        reply.tool_calls[0],
        ToolCall {
            id: "call_abc".into(),
            name: "create_task".into(),
            arguments: args.into()
        }
    );
    assert_eq!(reply.tool_calls[1].id, "call_def");
    assert_eq!(reply.tool_calls[1].name, "move_deal_stage");
    // The arguments the model wrote fit the tool's own schema as they are.
    let registry = heimdell_tools::catalog::standard();
    for call in &reply.tool_calls {
        let parsed: Value = serde_json::from_str(&call.arguments).unwrap();
        registry
            .get(&call.name)
            .unwrap()
            .validate(&parsed)
            .expect("valid for the tool");
    }
}

#[tokio::test]
async fn malformed_arguments_are_passed_on_as_written() {
    let broken = "{\"title\": ";
    let fake =
        FakeOpenAi::start([Reply::ok(tool_reply(&[("call_1", "create_task", broken)]))]).await;
    let reply = model(config(&fake.base_url))
        .complete(&simple_request())
        .await
        .expect("no error");
    assert_eq!(
        reply.tool_calls,
        vec![ToolCall {
            id: "call_1".into(),
            name: "create_task".into(),
            arguments: broken.into()
        }]
    );
}

#[tokio::test]
async fn unknown_tool_names_are_passed_on() {
    let fake = FakeOpenAi::start([Reply::ok(tool_reply(&[(
        "call_9",
        "drop_database",
        r#"{"really":true}"#,
    )]))])
    .await;
    let reply = model(config(&fake.base_url))
        .complete(&simple_request())
        .await
        .expect("no error");
    assert_eq!(
        reply.tool_calls,
        vec![ToolCall {
            id: "call_9".into(),
            name: "drop_database".into(),
            arguments: r#"{"really":true}"#.into()
        }]
    );
}

#[tokio::test]
async fn lenient_about_what_local_servers_leave_out() {
    // No id/object/created/usage, a tool call without id or type, arguments as an object.
    let fake = FakeOpenAi::start([Reply::ok(json!({
        "model": "llama3.1",
        "choices": [{"message": {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "create_task", "arguments": {"title": "Call Jane"}}}
        ]}, "finish_reason": "eos"}]
    }))])
    .await;
    let reply = model(config(&fake.base_url))
        .complete(&simple_request())
        .await
        .expect("reply");
    assert_eq!(reply.content, None);
    assert_eq!(reply.usage, Usage::default());
    assert_eq!(
        reply.tool_calls,
        vec![ToolCall {
            id: "call_0".into(),
            name: "create_task".into(),
            arguments: r#"{"title":"Call Jane"}"#.into()
        }]
    );
}

#[tokio::test]
async fn no_key_sends_no_authorization_header() {
    let fake = FakeOpenAi::start([Reply::ok(text_reply("hi", 1, 1))]).await;
    let mut cfg = config(&fake.base_url);
    cfg.api_key = None;
    model(cfg).complete(&simple_request()).await.expect("reply");
    assert_eq!(fake.requests()[0].authorization, None);
}

#[tokio::test]
async fn nulls_for_left_out_arguments_are_dropped_where_the_tool_refuses_null() {
    // A tool whose optional `limit` does not accept null (a `#[serde(default)] u32`): strict
    // mode makes the model send `"limit": null`, which the provider turns back into "absent".
    let tool = ToolSpec {
        name: "list_things".into(),
        description: "Lists things.".into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "query": {"type": ["string", "null"]},
                "limit": {"type": "integer", "minimum": 1, "default": 20}
            },
            "additionalProperties": false
        }),
    };
    let fake = FakeOpenAi::start([Reply::ok(tool_reply(&[(
        "call_1",
        "list_things",
        r#"{"query":null,"limit":null}"#,
    )]))])
    .await;
    let req = request(
        vec![Message::User {
            content: "list".into(),
        }],
        vec![tool],
    );
    let reply = model(config(&fake.base_url))
        .complete(&req)
        .await
        .expect("reply");
    let args: Value = serde_json::from_str(&reply.tool_calls[0].arguments).unwrap();
    assert_eq!(args, json!({"query": null}));
    // What the model was shown: both required, both nullable.
    let sent = &fake.requests()[0].body["tools"][0]["function"];
    assert_eq!(sent["strict"], true);
    let mut required: Vec<&str> = sent["parameters"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort();
    assert_eq!(required, ["limit", "query"]);
    assert_eq!(
        sent["parameters"]["properties"]["limit"]["type"],
        json!(["integer", "null"])
    );
}

#[tokio::test]
async fn a_schema_strict_mode_cannot_express_goes_out_non_strict() {
    let map_tool = ToolSpec {
        name: "map_columns".into(),
        description: "Maps CSV columns to fields.".into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "mapping": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "required": ["mapping"]
        }),
    };
    let fake = FakeOpenAi::start([Reply::ok(text_reply("ok", 1, 1))]).await;
    let req = request(
        vec![Message::User {
            content: "map".into(),
        }],
        vec![map_tool.clone()],
    );
    model(config(&fake.base_url))
        .complete(&req)
        .await
        .expect("reply");
    let sent = &fake.requests()[0].body["tools"][0]["function"];
    assert_eq!(sent["strict"], false);
    assert_eq!(sent["parameters"], map_tool.parameters);
}

// ---------------------------------------------------------------------------------------------
// Failures

#[tokio::test]
async fn rate_limited_once_then_answered() {
    let fake = FakeOpenAi::start([
        Reply::error(429, "rate_limit_exceeded", "Rate limit reached").retry_after("0"),
        Reply::ok(text_reply("done", 5, 1)),
    ])
    .await;
    let reply = model(config(&fake.base_url))
        .complete(&simple_request())
        .await
        .expect("reply");
    assert_eq!(reply.content.as_deref(), Some("done"));
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.requests()[0].body, fake.requests()[1].body);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = FakeOpenAi::start([
        Reply::error(429, "rate_limit_exceeded", "slow down").retry_after("1"),
        Reply::ok(text_reply("done", 5, 1)),
    ])
    .await;
    let started = Instant::now();
    model(config(&fake.base_url))
        .complete(&simple_request())
        .await
        .expect("reply");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn rate_limited_throughout_is_rate_limited() {
    let busy = || Reply::error(429, "rate_limit_exceeded", "Rate limit reached").retry_after("0");
    let fake = FakeOpenAi::start([busy(), busy(), busy()]).await;
    let mut cfg = config(&fake.base_url);
    cfg.max_retries = 2;
    let err = model(cfg).complete(&simple_request()).await.unwrap_err();
    assert!(matches!(err, ModelError::RateLimited), "{err:?}");
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let oops = || Reply::error(500, "server_error", "The server had an error");
    let fake = FakeOpenAi::start([
        oops(),
        oops(),
        oops(),
        Reply::ok(text_reply("too late", 1, 1)),
    ])
    .await;
    let mut cfg = config(&fake.base_url);
    cfg.max_retries = 2;
    let err = model(cfg).complete(&simple_request()).await.unwrap_err();
    assert_eq!(fake.requests().len(), 3, "one attempt and two retries");
    assert_eq!(fake.remaining(), 1);
    let ModelError::BadResponse(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(msg.contains("HTTP 500"), "{msg}");
    assert!(msg.contains("127.0.0.1"), "{msg}");
}

#[tokio::test]
async fn client_errors_are_not_retried_and_never_show_the_key() {
    // OpenAI's 401 repeats (part of) the key it was given.
    let fake = FakeOpenAi::start([Reply::error(
        401,
        "invalid_request_error",
        &format!("Incorrect API key provided: {KEY}. You can find your API key at …"),
    )])
    .await;
    let err = model(config(&fake.base_url))
        .complete(&simple_request())
        .await
        .unwrap_err();
    assert_eq!(fake.requests().len(), 1);
    let ModelError::BadResponse(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(msg.contains("401"), "{msg}");
    assert!(
        !msg.contains(KEY) && !format!("{err:?}").contains(KEY),
        "{msg}"
    );
    assert!(!msg.contains("0123456789ab"), "{msg}");
}

#[tokio::test]
async fn a_slow_answer_times_out_promptly() {
    let fake =
        FakeOpenAi::start([Reply::ok(text_reply("late", 1, 1)).delayed(Duration::from_secs(2))])
            .await;
    let mut cfg = config(&fake.base_url);
    cfg.timeout = Duration::from_millis(200);
    let started = Instant::now();
    let err = model(cfg).complete(&simple_request()).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, ModelError::Timeout), "{err:?}");
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    assert_eq!(fake.requests().len(), 1, "a timeout is not retried");
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(&format!("http://127.0.0.1:{port}/v1"));
    cfg.max_retries = 1;
    let err = model(cfg).complete(&simple_request()).await.unwrap_err();
    let ModelError::Unreachable(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(msg.contains("unreachable"), "{msg}");
    for text in [msg.clone(), err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(KEY), "{text}");
    }
}

#[tokio::test]
async fn bad_configuration_is_refused_up_front() {
    assert!(OpenAiModel::new(OpenAiConfig::new("not a url", "m")).is_err());
    assert!(OpenAiModel::new(OpenAiConfig::new("ftp://example.com/v1", "m")).is_err());
    assert!(OpenAiModel::new(OpenAiConfig::new("http://127.0.0.1:1/v1", " ")).is_err());
    let err =
        OpenAiModel::new(OpenAiConfig::new("http://127.0.0.1:1/v1", "m").with_api_key("sk-a\nb"))
            .unwrap_err();
    assert!(!err.to_string().contains("sk-a"), "{err}");
}

#[tokio::test]
async fn debug_never_prints_the_key() {
    let cfg = OpenAiConfig::new("http://127.0.0.1:1/v1", "gpt-test").with_api_key(KEY);
    assert!(!format!("{cfg:?}").contains(KEY));
    let m = OpenAiModel::new(cfg).unwrap();
    let shown = format!("{m:?}");
    assert!(!shown.contains(KEY) && !shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("gpt-test"), "{shown}");
}

// ---------------------------------------------------------------------------------------------
// Strict schemas

/// Walks every subschema of a strict-form schema and checks strict mode's rules.
fn check_strict(schema: &Value, path: &str) {
    let Some(o) = schema.as_object() else { return };
    for banned in [
        "oneOf",
        "allOf",
        "not",
        "default",
        "minLength",
        "maxLength",
        "$schema",
        "const",
        "uniqueItems",
        "examples",
    ] {
        assert!(
            !o.contains_key(banned),
            "{path} still has {banned}: {schema}"
        );
    }
    if let Some(f) = o.get("format").and_then(Value::as_str) {
        assert!(
            [
                "date-time",
                "date",
                "time",
                "duration",
                "email",
                "hostname",
                "ipv4",
                "ipv6",
                "uuid"
            ]
            .contains(&f),
            "{path} has format {f}"
        );
    }
    if let Some(props) = o.get("properties").and_then(Value::as_object) {
        assert_eq!(o["additionalProperties"], false, "{path}");
        let required: Vec<&str> = o["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let names: Vec<&str> = props.keys().map(String::as_str).collect();
        assert_eq!(required, names, "{path}: every property is required");
        for (k, v) in props {
            check_strict(v, &format!("{path}.{k}"));
        }
    }
    if let Some(items) = o.get("items") {
        check_strict(items, &format!("{path}[]"));
    }
    if let Some(any) = o.get("anyOf").and_then(Value::as_array) {
        for (i, b) in any.iter().enumerate() {
            check_strict(b, &format!("{path}|{i}"));
        }
    }
}

fn nullable(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) if t == "null" => return true,
        Some(Value::Array(ts)) if ts.iter().any(|t| t == "null") => {
            return schema
                .get("enum")
                .is_none_or(|e| e.as_array().unwrap().contains(&Value::Null));
        }
        _ => {}
    }
    schema
        .get("anyOf")
        .and_then(Value::as_array)
        .is_some_and(|b| b.iter().any(nullable))
}

#[test]
fn strict_schema_of_create_task() {
    let original = catalog_tool("create_task").parameters;
    let strict = strict_schema(&original);
    check_strict(&strict, "create_task");
    let was_required: Vec<&str> = original["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(was_required, ["title"]);
    for (name, prop) in strict["properties"].as_object().unwrap() {
        assert_eq!(nullable(prop), name != "title", "{name}: {prop}");
    }
    assert_eq!(
        strict["properties"]["owner_id"],
        json!({
            "type": ["string", "null"],
            "format": "uuid",
            "description": "Who should do it (default: the requester)."
        })
    );
    assert_eq!(
        strict["properties"]["title"],
        json!({"type": "string", "description": "What to do, e.g. \"Call Jane about pricing\"."})
    );
}

#[test]
fn strict_schema_of_move_deal_stage() {
    let original = catalog_tool("move_deal_stage").parameters;
    let strict = strict_schema(&original);
    check_strict(&strict, "move_deal_stage");
    let props = strict["properties"].as_object().unwrap();
    let mut names: Vec<&str> = props.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "deal_id",
            "expected_version",
            "note",
            "reason_code",
            "stage"
        ]
    );
    assert!(!nullable(&props["deal_id"]) && !nullable(&props["stage"]));
    assert!(nullable(&props["note"]) && nullable(&props["reason_code"]));
    // int32 is not a strict-mode format; the type stays.
    assert_eq!(
        props["expected_version"]["type"],
        json!(["integer", "null"])
    );
    assert!(props["expected_version"].get("format").is_none());
}

#[test]
fn strict_schema_of_every_catalog_tool() {
    let registry = heimdell_tools::catalog::standard();
    for t in registry.iter() {
        let original = t.schema();
        let strict = strict_schema(original);
        check_strict(&strict, t.name());
        assert_eq!(strict["type"], "object", "{}", t.name());
        let was_required: Vec<&str> = original
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        for (name, prop) in strict["properties"].as_object().unwrap() {
            if !was_required.contains(&name.as_str()) {
                assert!(
                    nullable(prop),
                    "{}.{name} should be nullable: {prop}",
                    t.name()
                );
            }
        }
        // Idempotent: a strict schema is its own strict form.
        assert_eq!(strict_schema(&strict), strict, "{}", t.name());
    }
}

#[test]
fn strict_schema_of_list_tasks_flattens_one_of() {
    // `scope` is `Option<Scope>` where Scope is a oneOf of consts.
    let strict = strict_schema(&catalog_tool("list_tasks").parameters);
    check_strict(&strict, "list_tasks");
    let scope = &strict["properties"]["scope"];
    let branches = scope["anyOf"].as_array().unwrap();
    assert_eq!(branches.len(), 3, "{scope}");
    assert_eq!(branches[0]["enum"], json!(["me"]));
    assert_eq!(branches[1]["enum"], json!(["team"]));
    assert_eq!(branches[2], json!({"type": "null"}));
}

#[test]
fn strict_schema_rules_on_a_synthetic_schema() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "kind": {"$ref": "#/$defs/Kind"},
            "stage": {"$ref": "#/$defs/Kind", "description": "The stage."},
            "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "colour": {"type": "string", "enum": ["red", "green"], "description": "A colour."},
            "count": {"type": "integer", "format": "uint32", "minimum": 0, "default": 3},
            "address": {
                "type": "object",
                "properties": {"street": {"type": "string", "minLength": 1}, "zip": {"type": "string"}},
                "required": ["street"]
            },
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "uniqueItems": true}
        },
        "required": ["id"],
        "$defs": {"Kind": {"type": "string", "enum": ["a", "b"]}}
    });
    let s = strict_schema(&schema);
    check_strict(&s, "synthetic");
    assert!(s.get("$schema").is_none());
    let p = &s["properties"];
    assert_eq!(p["id"], json!({"type": "string", "format": "uuid"}));
    assert_eq!(
        p["kind"],
        json!({"anyOf": [{"$ref": "#/$defs/Kind"}, {"type": "null"}]})
    );
    // A $ref with siblings is inlined.
    assert_eq!(
        p["stage"],
        json!({"description": "The stage.", "anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]})
    );
    assert_eq!(
        p["choice"],
        json!({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]})
    );
    assert_eq!(
        p["colour"],
        json!({"description": "A colour.", "anyOf": [{"type": "string", "enum": ["red", "green"]}, {"type": "null"}]})
    );
    assert_eq!(
        p["count"],
        json!({"type": ["integer", "null"], "minimum": 0})
    );
    assert_eq!(
        p["address"],
        json!({"anyOf": [
            {
                "type": "object",
                "properties": {"street": {"type": "string"}, "zip": {"type": ["string", "null"]}},
                "required": ["street", "zip"],
                "additionalProperties": false
            },
            {"type": "null"}
        ]})
    );
    assert_eq!(
        p["tags"],
        json!({"type": ["array", "null"], "items": {"type": "string"}})
    );
    assert_eq!(
        s["$defs"]["Kind"],
        json!({"type": "string", "enum": ["a", "b"]})
    );
}

#[test]
fn strict_schema_of_no_parameters_is_the_empty_object() {
    let empty =
        json!({"type": "object", "properties": {}, "required": [], "additionalProperties": false});
    assert_eq!(strict_schema(&json!({})), empty);
    assert_eq!(strict_schema(&Value::Null), empty);
    assert_eq!(strict_schema(&json!({"type": "object"})), empty);
}

// ---------------------------------------------------------------------------------------------
// Streaming

#[tokio::test]
async fn a_streamed_answer_arrives_in_pieces_and_adds_up_to_the_whole() {
    let fake = FakeOpenAi::start([Reply::stream(fake_openai::text_chunks(
        &["Jane ", "Cooper ", "is in ", "your CRM."],
        Duration::from_millis(5),
    ))])
    .await;
    let m = model(config(&fake.base_url));
    let pieces = std::sync::Mutex::new(Vec::<String>::new());
    let on_text = |t: &str| pieces.lock().unwrap().push(t.to_string());
    let reply = m.stream(&simple_request(), &on_text).await.unwrap();
    assert_eq!(
        *pieces.lock().unwrap(),
        vec!["Jane ", "Cooper ", "is in ", "your CRM."]
    );
    assert_eq!(
        reply.content.as_deref(),
        Some("Jane Cooper is in your CRM.")
    );
    assert!(reply.tool_calls.is_empty());
    assert_eq!(reply.usage.prompt_tokens, 100);
    assert_eq!(reply.usage.completion_tokens, 4);
    // Asked for as a stream, with usage; the rest of the request is what a whole one sends.
    let seen = &fake.requests()[0];
    assert_eq!(seen.body["stream"], true);
    assert_eq!(seen.body["stream_options"]["include_usage"], true);
    let messages_at = seen.raw.find("\"messages\"").unwrap();
    assert!(seen.raw[..messages_at].contains("\"model\":\"gpt-test\""));
    assert!(
        seen.raw.rfind("\"stream\"").unwrap() > messages_at,
        "stream comes last"
    );
}

#[tokio::test]
async fn streamed_tool_calls_are_assembled_before_anything_sees_them() {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let z = Duration::ZERO;
    let fake = FakeOpenAi::start([Reply::stream(vec![
        (z, chunk(json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "search", "arguments": ""}}]}), Value::Null)),
        (z, chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"query\": "}}]}), Value::Null)),
        (z, chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Jane\"}"}}]}), Value::Null)),
        (z, chunk(json!({}), json!("tool_calls"))),
    ])])
    .await;
    let m = model(config(&fake.base_url));
    let texts = std::sync::Mutex::new(0usize);
    let on_text = |_: &str| *texts.lock().unwrap() += 1;
    let req = request(
        vec![Message::User {
            content: "find jane".into(),
        }],
        vec![catalog_tool("search")],
    );
    let reply = m.stream(&req, &on_text).await.unwrap();
    assert_eq!(*texts.lock().unwrap(), 0, "no text was streamed");
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].id, "call_1");
    assert_eq!(reply.tool_calls[0].name, "search");
    let args: Value = serde_json::from_str(&reply.tool_calls[0].arguments).unwrap();
    assert_eq!(args["query"], "Jane");
}

#[tokio::test]
async fn the_timeout_limits_silence_between_chunks_not_the_whole_answer() {
    // Eight pieces 150 ms apart: 1.2 s in all, four times the 300 ms timeout, never silent
    // for longer than it.
    let pieces = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let fake = FakeOpenAi::start([
        Reply::stream(fake_openai::text_chunks(
            &pieces,
            Duration::from_millis(150),
        )),
        Reply::stream(fake_openai::text_chunks(
            &["slow"],
            Duration::from_millis(900),
        )),
    ])
    .await;
    let mut cfg = config(&fake.base_url);
    cfg.timeout = Duration::from_millis(300);
    let m = model(cfg);
    let on_text = |_: &str| {};
    let started = Instant::now();
    let reply = m.stream(&simple_request(), &on_text).await.unwrap();
    assert!(started.elapsed() > Duration::from_millis(900));
    assert_eq!(reply.content.as_deref(), Some("abcdefgh"));
    // 900 ms of silence is more than the 300 ms allowed.
    let err = m.stream(&simple_request(), &on_text).await.unwrap_err();
    assert!(matches!(err, ModelError::Timeout), "{err:?}");
}
