//! Tests of the planner, all pure: no database, no network. Tool results are fed back as the
//! runtime would, as JSON text in tool messages.

mod dates;
mod flows;
mod phrasings;

use chrono::{DateTime, Utc};
use futures_util::FutureExt as _;
use serde_json::Value;
use uuid::Uuid;

use super::Planner;
use crate::model::{ChatModel, EntityRef, Message, ModelReply, ModelRequest, ToolCall, TurnFacts};

/// Saturday 21 November 2026, 15:00 in Oslo.
pub fn now() -> DateTime<Utc> {
    "2026-11-21T14:00:00Z".parse().unwrap_or_default()
}

pub fn facts(tz: chrono_tz::Tz) -> TurnFacts {
    TurnFacts {
        now: now(),
        tz,
        user_id: Uuid::from_u128(7),
        user_name: "Ola Nordmann".into(),
        role: "rep".into(),
        focus: None,
    }
}

/// A conversation: earlier messages, the user's request, and this turn's steps so far.
pub struct Chat {
    pub history: Vec<Message>,
    pub user: String,
    pub steps: Vec<Message>,
    pub facts: TurnFacts,
    pub tools: Vec<crate::model::ToolSpec>,
}

impl Chat {
    pub fn new(user: &str) -> Chat {
        Chat {
            history: Vec::new(),
            user: user.to_string(),
            steps: Vec::new(),
            facts: facts(chrono_tz::Europe::Oslo),
            tools: Vec::new(),
        }
    }

    pub fn after(mut self, user: &str, assistant: &str) -> Chat {
        self.history.push(Message::User {
            content: user.into(),
        });
        self.history.push(Message::Assistant {
            content: Some(assistant.into()),
            tool_calls: Vec::new(),
        });
        self
    }

    pub fn focus(mut self, r: EntityRef) -> Chat {
        self.facts.focus = Some(r);
        self
    }

    pub fn request(&self) -> ModelRequest {
        let mut messages = vec![Message::System {
            content: "You are Heimdell.".into(),
        }];
        messages.extend(self.history.iter().cloned());
        messages.push(Message::User {
            content: self.user.clone(),
        });
        messages.extend(self.steps.iter().cloned());
        ModelRequest {
            messages,
            tools: self.tools.clone(),
            facts: self.facts.clone(),
        }
    }

    /// One `complete` call through the `ChatModel` trait.
    pub fn next(&self) -> ModelReply {
        let req = self.request();
        let out = Planner.complete(&req).now_or_never();
        match out {
            Some(Ok(reply)) => reply,
            other => panic!("the planner did not answer at once: {other:?}"),
        }
    }

    /// Takes the planner's tool calls and answers each with `result`.
    pub fn answer(&mut self, reply: &ModelReply, results: &[Value]) {
        assert_eq!(reply.tool_calls.len(), results.len(), "{reply:?}");
        self.steps.push(Message::Assistant {
            content: None,
            tool_calls: reply.tool_calls.clone(),
        });
        for (call, result) in reply.tool_calls.iter().zip(results) {
            self.steps.push(Message::Tool {
                tool_call_id: call.id.clone(),
                content: result.to_string(),
            });
        }
    }
}

/// The only tool call of a reply, with its arguments parsed.
pub fn only_call(reply: &ModelReply) -> (String, Value) {
    assert_eq!(
        reply.tool_calls.len(),
        1,
        "expected one tool call, got {reply:?}"
    );
    let ToolCall {
        name, arguments, ..
    } = &reply.tool_calls[0];
    let args: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    assert!(
        args.is_object(),
        "arguments must be a JSON object: {arguments}"
    );
    assert!(
        !arguments.contains("null"),
        "optional fields are omitted, not null: {arguments}"
    );
    (name.clone(), args)
}

/// The final text of a reply, asserting it calls no tool.
pub fn final_text(reply: &ModelReply) -> String {
    assert!(
        reply.tool_calls.is_empty(),
        "expected a final text, got {reply:?}"
    );
    reply.content.clone().unwrap_or_default()
}

/// A search result row, title fenced as the runtime fences outside text.
pub fn hit(kind: &str, id: Uuid, title: &str, subtitle: &str) -> Value {
    serde_json::json!({"type": kind, "id": id, "title": format!("<data>{title}</data>"), "subtitle": subtitle, "score": 1.2})
}

pub fn results(rows: Vec<Value>) -> Value {
    serde_json::json!({"query": "q", "results": rows})
}

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x1000 + n)
}
