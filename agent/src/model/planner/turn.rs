//! One turn, rebuilt from the messages on every call (the planner keeps no state): the request,
//! this turn's tool calls with their results, and the thread before it.
//!
//! Flows are written as straight-line code that "calls" tools through [`Turn::call`]: when the
//! call was already made this turn, its result is returned; otherwise the flow halts and the
//! planner answers with that tool call. The next `complete` replays the flow from the top, now
//! with the result. Identical calls are never repeated, so nothing is retried blindly.

use serde_json::Value;

use super::dates::Clock;
use super::reply;
use crate::grounding::citations;
use crate::model::{EntityKind, EntityRef, Message, ModelRequest, ToolCall, TurnFacts};

/// Why a flow stopped before its final answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Halt {
    /// Tool calls to make (name, arguments).
    Call(Vec<(String, Value)>),
    /// A final text: a question, a refusal, or a report of what went wrong.
    Say(String),
}

/// A tool call of this turn and what it returned.
#[derive(Debug, Clone)]
struct Step {
    name: String,
    args: Value,
    result: Option<Value>,
}

/// What "it" points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Referent {
    One(EntityRef),
    Several(Vec<EntityRef>),
    Nothing,
}

pub struct Turn<'a> {
    pub facts: &'a TurnFacts,
    pub clock: Clock,
    /// The user's message this turn answers.
    pub request: String,
    /// Messages before it.
    history: &'a [Message],
    steps: Vec<Step>,
    /// Tools on offer (empty: assume all).
    tools: Vec<&'a str>,
    /// A record the user picked from the planner's last list ("the second one").
    pub pinned: Option<EntityRef>,
}

impl<'a> Turn<'a> {
    pub fn new(req: &'a ModelRequest) -> Turn<'a> {
        let last_user = req
            .messages
            .iter()
            .rposition(|m| matches!(m, Message::User { .. }));
        let (history, request, current): (&[Message], String, &[Message]) = match last_user {
            Some(i) => {
                let text = match &req.messages[i] {
                    Message::User { content } => content.clone(),
                    _ => String::new(),
                };
                (&req.messages[..i], text, &req.messages[i + 1..])
            }
            None => (&[], String::new(), &[]),
        };
        let mut steps: Vec<(String, Step)> = Vec::new();
        for m in current {
            match m {
                Message::Assistant { tool_calls, .. } => {
                    for c in tool_calls {
                        let args = serde_json::from_str(&c.arguments).unwrap_or(Value::Null);
                        steps.push((
                            c.id.clone(),
                            Step {
                                name: c.name.clone(),
                                args,
                                result: None,
                            },
                        ));
                    }
                }
                Message::Tool {
                    tool_call_id,
                    content,
                } => {
                    if let Some((_, step)) =
                        steps.iter_mut().rev().find(|(id, _)| id == tool_call_id)
                    {
                        let value = serde_json::from_str(content)
                            .unwrap_or_else(|_| Value::String(content.clone()));
                        step.result = Some(value);
                    }
                }
                _ => {}
            }
        }
        Turn {
            facts: &req.facts,
            clock: Clock::new(req.facts.now, req.facts.tz),
            request,
            history,
            steps: steps.into_iter().map(|(_, s)| s).collect(),
            tools: req.tools.iter().map(|t| t.name.as_str()).collect(),
            pinned: None,
        }
    }

    /// How many tool calls this turn has made so far.
    pub fn calls_made(&self) -> usize {
        self.steps.len()
    }

    /// Whether a tool may be called: offered in the request (an empty list offers all), or one
    /// of the runtime's own approval tools, which it may leave out of the list.
    fn offered(&self, name: &str) -> bool {
        self.tools.is_empty()
            || self.tools.contains(&name)
            || matches!(name, "list_pending_actions" | "decide_action")
    }

    /// Whether this turn already asked `find_tools` for `capability`.
    fn asked_for(&self, capability: &str) -> bool {
        self.steps.iter().any(|s| {
            s.name == crate::copilot::offer::FIND_TOOLS
                && s.args.get("capability").and_then(Value::as_str) == Some(capability)
        })
    }

    fn result_of(&self, name: &str, args: &Value) -> Option<Value> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.name == name && s.args == *args)
            .map(|s| s.result.clone().unwrap_or(Value::Null))
    }

    /// The result of this call, or a halt that makes it.
    pub fn call(&self, name: &str, args: Value) -> Result<Value, Halt> {
        self.calls(vec![(name, args)])
            .map(|mut v| v.pop().unwrap_or(Value::Null))
    }

    /// The results of several independent calls; the missing ones are made together.
    pub fn calls(&self, list: Vec<(&str, Value)>) -> Result<Vec<Value>, Halt> {
        let mut results = Vec::new();
        let mut missing = Vec::new();
        for (name, args) in list {
            if !self.offered(name) {
                // Like any model: ask for the capability once, then give up if it is not open.
                return Err(match crate::copilot::offer::capability_of(name) {
                    Some(capability) if !self.asked_for(capability) => Halt::Call(vec![(
                        crate::copilot::offer::FIND_TOOLS.to_string(),
                        serde_json::json!({ "capability": capability }),
                    )]),
                    _ => Halt::Say(reply::tool_missing(name)),
                });
            }
            match self.result_of(name, &args) {
                Some(r) => results.push(r),
                None => missing.push((name.to_string(), args)),
            }
        }
        if missing.is_empty() {
            Ok(results)
        } else {
            Err(Halt::Call(missing))
        }
    }

    /// A read: its result, with errors and refusals turned into a final text.
    pub fn read(&self, name: &str, args: Value) -> Result<Value, Halt> {
        let r = self.call(name, args)?;
        if let Some(text) = reply::read_problem(name, &r) {
            return Err(Halt::Say(text));
        }
        Ok(r)
    }

    /// Tool calls as the model writes them, numbered after this turn's earlier calls.
    pub fn tool_calls(&self, calls: Vec<(String, Value)>) -> Vec<ToolCall> {
        calls
            .into_iter()
            .enumerate()
            .map(|(k, (name, args))| ToolCall {
                id: format!("call_{}", self.steps.len() + k + 1),
                name,
                arguments: args.to_string(),
            })
            .collect()
    }

    /// The previous exchange: the user's earlier message and the planner's final reply to it.
    pub fn previous_exchange(&self) -> Option<(&str, &str)> {
        let reply_at = self.history.iter().rposition(
            |m| matches!(m, Message::Assistant { content: Some(c), .. } if !c.trim().is_empty()),
        )?;
        let Message::Assistant {
            content: Some(reply),
            ..
        } = &self.history[reply_at]
        else {
            return None;
        };
        let asked = self.history[..reply_at]
            .iter()
            .rev()
            .find_map(|m| match m {
                Message::User { content } => Some(content.as_str()),
                _ => None,
            })?;
        Some((asked, reply.as_str()))
    }

    /// What "it" means for these kinds: the records cited by the most recent reply that cites
    /// any of them, or the record the chat is open on. With no kind implied (`kinds` holds
    /// several), the first record that reply cites.
    pub fn referent(&self, kinds: &[EntityKind]) -> Referent {
        for m in self.history.iter().rev() {
            let Message::Assistant {
                content: Some(text),
                ..
            } = m
            else {
                continue;
            };
            let cited: Vec<EntityRef> = citations(text)
                .0
                .into_iter()
                .filter(|r| kinds.contains(&r.kind))
                .collect();
            match cited.as_slice() {
                [] => continue,
                [one] => return Referent::One(*one),
                [first, ..] if kinds.len() > 1 => return Referent::One(*first),
                _ => return Referent::Several(cited),
            }
        }
        match self.facts.focus {
            Some(f) if kinds.contains(&f.kind) => Referent::One(f),
            _ => Referent::Nothing,
        }
    }

    /// Whether this record was seen in this turn's tool results (so a reply may cite it).
    pub fn seen(&self, r: &EntityRef) -> bool {
        let id = r.id.to_string();
        self.facts.focus == Some(*r)
            || self
                .steps
                .iter()
                .filter_map(|s| s.result.as_ref())
                .any(|v| v.to_string().contains(&id))
    }
}
