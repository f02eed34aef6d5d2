//! Chat models with tool calling: one trait, several providers chosen by configuration.
//!
//! A turn calls [`ChatModel::complete`] repeatedly: each call sees the whole conversation so far
//! (the thread's history, the user's message, and this turn's tool calls and results) and
//! answers with either tool calls or a final reply. Providers are stateless between calls.
//!
//! Replies cite the records they talk about with inline markers `[[contact:<uuid>]]` (also
//! `company`, `deal`, `task`, `action`); the runtime checks every cited id against what this
//! turn actually read, and the panel turns markers into links.

pub mod openai;
pub mod planner;
pub mod scripted;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// One message of a conversation, in the shape chat-completion APIs use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System {
        content: String,
    },
    User {
        content: String,
    },
    Assistant {
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

/// A tool call as the model wrote it. `arguments` is the raw JSON text: models do write
/// malformed JSON, and the runtime answers that with an error message the model can fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments.
    pub parameters: Value,
}

/// What kind of record an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Contact,
    Company,
    Deal,
    Task,
    Action,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Contact => "contact",
            EntityKind::Company => "company",
            EntityKind::Deal => "deal",
            EntityKind::Task => "task",
            EntityKind::Action => "action",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        match s {
            "contact" => Some(EntityKind::Contact),
            "company" => Some(EntityKind::Company),
            "deal" => Some(EntityKind::Deal),
            "task" => Some(EntityKind::Task),
            "action" => Some(EntityKind::Action),
            _ => None,
        }
    }
}

/// A reference to one record; in a reply, a citation (see [`EntityRef::marker`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct EntityRef {
    #[serde(rename = "type")]
    pub kind: EntityKind,
    pub id: Uuid,
}

impl EntityRef {
    /// Its citation marker in a reply, `[[deal:<uuid>]]` (read back by
    /// [`crate::grounding::citations`]).
    pub fn marker(self) -> String {
        format!("[[{}:{}]]", self.kind.as_str(), self.id)
    }
}

/// Facts about the turn that the runtime also writes into the system prompt. Remote models read
/// the prompt; the built-in planner reads these directly.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnFacts {
    pub now: DateTime<Utc>,
    /// The user's time zone: "tomorrow at 10" is in it.
    pub tz: chrono_tz::Tz,
    pub user_id: Uuid,
    pub user_name: String,
    /// `admin`, `manager` or `rep`.
    pub role: String,
    /// The record the chat was opened on, if any.
    pub focus: Option<EntityRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub facts: TurnFacts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    /// Of `prompt_tokens`, those the provider served from its prompt cache (billed at a lower
    /// rate); 0 when it does not say.
    pub cached_prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// A model's answer to one call: tool calls to run, or a final reply (or both).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelReply {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model server could not be reached (connection refused, DNS, TLS).
    #[error("{0}")]
    Unreachable(String),
    /// The model server kept answering 429 after our retries.
    #[error("the model service is rate limiting us")]
    RateLimited,
    /// The model server did not answer in time.
    #[error("the model service did not answer in time")]
    Timeout,
    /// The model server answered something we cannot use.
    #[error("{0}")]
    BadResponse(String),
    /// A scripted model ran out of scripted replies.
    #[error("the script has no more replies")]
    ScriptExhausted,
}

/// A chat model with tool calling.
pub trait ChatModel: Send + Sync {
    /// The model's name, recorded on every assistant message.
    fn name(&self) -> &str;

    fn complete<'a>(
        &'a self,
        req: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>>;

    /// The same answer, its text handed to `on_text` piece by piece as it is produced (tool
    /// calls are assembled whole before anything runs). A model that cannot stream hands over
    /// the whole text of a final answer at once.
    fn stream<'a>(
        &'a self,
        req: &'a ModelRequest,
        on_text: &'a (dyn Fn(&str) + Send + Sync),
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>> {
        Box::pin(async move {
            let reply = self.complete(req).await?;
            if reply.tool_calls.is_empty()
                && let Some(text) = reply.content.as_deref().filter(|t| !t.is_empty())
            {
                on_text(text);
            }
            Ok(reply)
        })
    }
}
