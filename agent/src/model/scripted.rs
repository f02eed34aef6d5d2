//! A model that replays a fixed list of replies, in order, for tests and evals — including
//! adversarial ones (a call for an opted-out contact, another tenant's id, an invented fact).
//! It records every request it was sent, so tests can check exactly what the model saw.

use std::sync::Mutex;

use futures_util::future::BoxFuture;

use super::{ChatModel, ModelError, ModelReply, ModelRequest, ToolCall, Usage};

pub struct ScriptedModel {
    replies: Mutex<std::collections::VecDeque<ModelReply>>,
    seen: Mutex<Vec<ModelRequest>>,
}

impl ScriptedModel {
    pub fn new(replies: impl IntoIterator<Item = ModelReply>) -> Self {
        ScriptedModel {
            replies: Mutex::new(replies.into_iter().collect()),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// A reply that is only text.
    pub fn say(text: &str) -> ModelReply {
        ModelReply {
            content: Some(text.to_string()),
            tool_calls: Vec::new(),
            usage: Usage::default(),
        }
    }

    /// A reply that calls one tool with the given raw JSON arguments.
    pub fn call(name: &str, arguments: &str) -> ModelReply {
        ModelReply {
            content: None,
            tool_calls: vec![ToolCall {
                id: format!("call_{name}"),
                name: name.to_string(),
                arguments: arguments.to_string(),
            }],
            usage: Usage::default(),
        }
    }

    /// Queues more replies (tests script a turn once the ids it needs exist).
    pub fn push(&self, reply: ModelReply) {
        if let Ok(mut r) = self.replies.lock() {
            r.push_back(reply);
        }
    }

    /// Every request sent so far.
    pub fn requests(&self) -> Vec<ModelRequest> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// How many scripted replies are left.
    pub fn remaining(&self) -> usize {
        self.replies.lock().map(|r| r.len()).unwrap_or(0)
    }
}

impl ChatModel for ScriptedModel {
    fn name(&self) -> &str {
        "scripted"
    }

    fn complete<'a>(
        &'a self,
        req: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>> {
        Box::pin(async move {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(req.clone());
            }
            self.replies
                .lock()
                .ok()
                .and_then(|mut r| r.pop_front())
                .ok_or(ModelError::ScriptExhausted)
        })
    }
}
