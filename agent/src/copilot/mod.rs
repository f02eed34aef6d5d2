//! The Copilot's turn: resolve the user → build the context pack → call the model with the
//! system prompt and tool schemas → run read tools and feed results back (bounded steps) →
//! turn write tools into proposed actions → check the answer → store the thread.

pub mod offer;
mod runtime_tools;
pub mod store;
pub mod usage;

use std::sync::Arc;

use chrono::Utc;
use heimdell_tools::db::begin_tenant;
use heimdell_tools::{FieldError, ToolError};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::actions::{ActionError, ActionView, Caller, Pipeline, ProposeOutcome, ProposeRequest};
use crate::context::{self, PackInput};
use crate::fence::fence_json;
use crate::grounding::{self, Citation, Finding, Sources};
use crate::member::Member;
use crate::model::{
    ChatModel, EntityKind, EntityRef, Message, ModelError, ModelRequest, ToolCall, ToolSpec,
    TurnFacts,
};
use crate::prompt::Prompts;
use runtime_tools::Decision;

/// How the runtime's request to repair an ungrounded reply starts (models that cannot rewrite,
/// like the built-in planner, recognise it and answer with nothing, so the runtime keeps the
/// grounded part of the first answer).
pub const GROUNDING_CHECK_PREFIX: &str = "[Heimdell grounding check]";

/// Limits of a turn.
#[derive(Debug, Clone)]
pub struct CopilotConfig {
    /// Model calls per turn before the runtime stops and answers with what it has.
    pub max_steps: usize,
    /// Requests per user per month; None for no limit.
    pub monthly_request_limit: Option<i64>,
    /// Prices per model and the monthly cost limits.
    pub cost: usage::CostConfig,
    /// Earlier messages of the thread sent along.
    pub history_messages: i64,
    /// Token budget for the focus record in the context pack.
    pub context_budget_tokens: usize,
}

impl Default for CopilotConfig {
    fn default() -> Self {
        CopilotConfig {
            max_steps: 8,
            monthly_request_limit: None,
            cost: usage::CostConfig::default(),
            history_messages: 20,
            context_budget_tokens: 1500,
        }
    }
}

/// A user's chat message.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub thread_id: Option<Uuid>,
    pub message: String,
    /// The record the chat is opened on.
    pub context: Option<EntityRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatResponse {
    pub thread_id: Uuid,
    pub reply: Reply,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    /// The answer, with citation markers.
    pub text: String,
    pub citations: Vec<Citation>,
    /// Proposed (or decided) actions of this turn, as the actions API shows them.
    pub actions: Vec<ActionView>,
    /// What the runtime had to correct or could not verify, in words.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("no such thread")]
    ThreadNotFound,
    #[error("the monthly limit of {limit} Copilot requests is reached")]
    UsageLimit { limit: i64 },
    #[error("this month's Copilot budget of ${} is spent", usage::usd(*.limit_micro_cents))]
    CostLimit {
        scope: usage::CostScope,
        limit_micro_cents: i64,
        spent_micro_cents: i64,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error("prompt error: {0}")]
    Prompt(#[from] crate::prompt::PromptError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<ToolError> for ChatError {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::InvalidArguments(d) => ChatError::Invalid(d),
            ToolError::NotFound { entity, .. } => ChatError::Invalid(vec![FieldError::new(
                "context",
                format!("no such {entity}"),
            )]),
            other => ChatError::Action(ActionError::Tool(other)),
        }
    }
}

/// The Copilot: the pipeline, a model, the prompts.
#[derive(Clone)]
pub struct Copilot {
    pipeline: Pipeline,
    model: Arc<dyn ChatModel>,
    prompts: Arc<Prompts>,
    config: CopilotConfig,
}

/// What one turn gathered while it ran.
struct TurnState {
    sources: Sources,
    /// The numbered proposals the user was last shown in this thread (number → id).
    listing: std::collections::BTreeMap<usize, Uuid>,
    actions: Vec<ActionView>,
    /// Proposals decided in this turn: the user's message allows one per number it names, or
    /// one for "approve it".
    decided: Vec<Uuid>,
    warnings: Vec<String>,
    prompt_tokens: u64,
    completion_tokens: u64,
}

impl Copilot {
    pub fn new(
        pipeline: Pipeline,
        model: Arc<dyn ChatModel>,
        prompts: Arc<Prompts>,
        config: CopilotConfig,
    ) -> Self {
        Copilot {
            pipeline,
            model,
            prompts,
            config,
        }
    }

    pub fn model_name(&self) -> &str {
        self.model.name()
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Every tool the model may be offered: the CRM tools and the runtime's own. Tools that
    /// take a secret (connect_twilio's auth token) are left out: a secret has no place in a chat
    /// transcript or a model's context; people use the panel or the REST API for those. A turn
    /// offers a part of these ([`offer::Offer`]).
    pub fn tool_specs(&self) -> Vec<ToolSpec> {
        let mut specs: Vec<ToolSpec> = self
            .pipeline
            .registry()
            .iter()
            .filter(|t| t.secret_fields().is_empty())
            .map(|t| ToolSpec {
                name: t.name().to_string(),
                description: t.description().to_string(),
                parameters: t.schema().clone(),
            })
            .collect();
        specs.extend(runtime_tools::specs());
        specs
    }

    /// Runs one turn.
    pub async fn turn(&self, caller: Caller, req: ChatRequest) -> Result<ChatResponse, ChatError> {
        self.turn_with(caller, req, None).await
    }

    /// Runs one turn, handing the model's text to `on_text` as it is produced. What was
    /// streamed is not yet checked: the response's text is the grounded one, which may differ.
    pub async fn turn_streaming(
        &self,
        caller: Caller,
        req: ChatRequest,
        on_text: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<ChatResponse, ChatError> {
        self.turn_with(caller, req, Some(on_text)).await
    }

    async fn turn_with(
        &self,
        caller: Caller,
        req: ChatRequest,
        on_text: Option<&(dyn Fn(&str) + Send + Sync)>,
    ) -> Result<ChatResponse, ChatError> {
        let message = req.message.trim().to_string();
        if message.is_empty() || message.chars().count() > 4000 {
            return Err(ChatError::Invalid(vec![FieldError::new(
                "message",
                "must be 1 to 4000 characters",
            )]));
        }
        let now = Utc::now();
        let pool = self.pipeline.pool();

        // Count the request first, in its own transaction, so failed turns count too.
        let mut tx = begin_tenant(pool, caller.tenant_id).await?;
        let used = store::count_request(&mut tx, caller.user_id, now).await?;
        if let Some(limit) = self.config.monthly_request_limit
            && used > limit
        {
            return Err(ChatError::UsageLimit { limit });
        }
        self.check_cost_limits(&mut tx, caller.user_id, now).await?;
        tx.commit().await?;

        // One transaction finds the member, the thread and the context: a request that fails
        // here (a context record that does not exist) leaves nothing behind, not even the thread.
        let pending = runtime_tools::pending(&self.pipeline, caller).await?;
        let mut tx = begin_tenant(pool, caller.tenant_id).await?;
        let me = Member::load(&mut tx, caller.user_id)
            .await?
            .ok_or(ActionError::UnknownUser)?;
        let (user_name, tenant_name): (String, String) =
            sqlx::query_as("SELECT u.name, t.name FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = $1")
                .bind(me.user_id)
                .fetch_one(&mut *tx)
                .await?;
        let thread = match req.thread_id {
            Some(id) => store::thread(&mut tx, me.user_id, id)
                .await?
                .ok_or(ChatError::ThreadNotFound)?,
            None => {
                let title: String = message.chars().take(80).collect();
                store::create_thread(&mut tx, me.user_id, &title, req.context).await?
            }
        };
        let focus = req.context.or_else(|| thread.focus());
        let history = store::messages(&mut tx, thread.id, self.config.history_messages).await?;
        let pack = context::build(
            &mut tx,
            PackInput {
                user_name: &user_name,
                role: me.role.as_str(),
                tenant_name: &tenant_name,
                now,
                tz: me.tz,
                focus,
                pending: &pending,
                budget_tokens: self.config.context_budget_tokens,
            },
        )
        .await?;
        tx.commit().await?;
        // Static first (the same bytes for everyone: prefix caches reuse it), then the
        // history, then this turn's CONTEXT right before the user's words.
        let context = self.prompts.context(&pack)?;
        let mut messages = vec![Message::System {
            content: self.prompts.system()?,
        }];
        let mut state = TurnState {
            listing: runtime_tools::last_listing(
                history
                    .iter()
                    .rev()
                    .filter(|m| m.role == "assistant")
                    .map(|m| m.text.as_str()),
            ),
            sources: pack.sources.clone(),
            actions: Vec::new(),
            decided: Vec::new(),
            warnings: Vec::new(),
            prompt_tokens: 0,
            completion_tokens: 0,
        };
        for m in &history {
            // Earlier answers were checked when they were given; their citations stay citable.
            if let Ok(cites) = serde_json::from_value::<Vec<Citation>>(m.citations.clone()) {
                for c in cites {
                    state.sources.add_entity(EntityRef {
                        kind: c.kind,
                        id: c.id,
                    });
                }
            }
            messages.push(if m.role == "user" {
                Message::User {
                    content: m.text.clone(),
                }
            } else {
                Message::Assistant {
                    content: Some(m.text.clone()),
                    tool_calls: Vec::new(),
                }
            });
        }
        messages.push(Message::System { content: context });
        messages.push(Message::User {
            content: message.clone(),
        });

        let facts = TurnFacts {
            now,
            tz: me.tz,
            user_id: me.user_id,
            user_name: user_name.clone(),
            role: me.role.as_str().to_string(),
            focus,
        };
        let mut offer =
            offer::Offer::new(&self.pipeline, caller, me.role, self.tool_specs(), &message);
        let mut request = ModelRequest {
            messages,
            tools: offer.specs(),
            facts,
        };
        let mut final_text = None;
        for _ in 0..self.config.max_steps {
            let reply = match on_text {
                Some(f) => self.model.stream(&request, f).await?,
                None => self.model.complete(&request).await?,
            };
            state.prompt_tokens += u64::from(reply.usage.prompt_tokens);
            state.completion_tokens += u64::from(reply.usage.completion_tokens);
            self.record_usage(caller, now, reply.usage).await?;
            if reply.tool_calls.is_empty() {
                final_text = Some(reply.content.unwrap_or_default());
                break;
            }
            request.messages.push(Message::Assistant {
                content: reply.content.clone(),
                tool_calls: reply.tool_calls.clone(),
            });
            for call in &reply.tool_calls {
                let result = if call.name == offer::FIND_TOOLS {
                    let args = serde_json::from_str(&call.arguments).unwrap_or(Value::Null);
                    offer.find(&args)
                } else {
                    self.run_call(caller, &message, call, &mut state).await?
                };
                request.messages.push(Message::Tool {
                    tool_call_id: call.id.clone(),
                    content: result.to_string(),
                });
            }
            request.tools = offer.specs();
        }
        let text = match final_text {
            Some(t) if !t.trim().is_empty() => t,
            Some(_) => "I have no answer to give from the data I could read.".to_string(),
            None => {
                state.warnings.push(format!(
                    "The Copilot stopped after {} steps without finishing.",
                    self.config.max_steps
                ));
                "I could not finish this in the steps I am allowed. Try asking for one thing at a time.".to_string()
            }
        };
        let text = self
            .grounded(caller, &mut request, text, &mut state)
            .await?;

        let (citations, _) = grounding::citations(&text);
        let mut tx = begin_tenant(pool, caller.tenant_id).await?;
        store::add_message(
            &mut tx,
            thread.id,
            store::NewMessage {
                role: "user",
                text: &message,
                citations: json!([]),
                action_ids: Vec::new(),
                warnings: json!([]),
                model: None,
                prompt_version: None,
                prompt_tokens: 0,
                completion_tokens: 0,
            },
        )
        .await?;
        store::add_message(
            &mut tx,
            thread.id,
            store::NewMessage {
                role: "assistant",
                text: &text,
                citations: json!(citations),
                action_ids: state.actions.iter().map(|a| a.id).collect(),
                warnings: json!(state.warnings),
                model: Some(self.model.name()),
                prompt_version: Some(self.prompts.system_version()),
                prompt_tokens: i32::try_from(state.prompt_tokens).unwrap_or(i32::MAX),
                completion_tokens: i32::try_from(state.completion_tokens).unwrap_or(i32::MAX),
            },
        )
        .await?;
        tx.commit().await?;

        Ok(ChatResponse {
            thread_id: thread.id,
            reply: Reply {
                text,
                citations,
                actions: state.actions,
                warnings: state.warnings,
            },
        })
    }

    /// Checks the reply; asks the model once to repair it; if still ungrounded, keeps only the
    /// grounded part and says what is unknown.
    async fn grounded(
        &self,
        caller: Caller,
        request: &mut ModelRequest,
        text: String,
        state: &mut TurnState,
    ) -> Result<String, ChatError> {
        // Nothing ran this turn: a reply that says something was done is not true.
        let nothing_ran = !state
            .actions
            .iter()
            .any(|a| a.status == crate::actions::ActionStatus::Executed);
        let check = |t: &str| {
            let mut f = grounding::check(t, &state.sources);
            if nothing_ran {
                f.extend(grounding::done_claims(t));
            }
            f
        };
        let findings = check(&text);
        if findings.is_empty() {
            return Ok(text);
        }
        let problems: Vec<String> = findings.iter().map(Finding::describe).collect();
        request.messages.push(Message::Assistant {
            content: Some(text.clone()),
            tool_calls: Vec::new(),
        });
        request.messages.push(Message::User {
            content: format!(
                "{GROUNDING_CHECK_PREFIX} Your reply {}. Rewrite it using only the data shown in this conversation, cite only ids you were shown, and say plainly what is not recorded.",
                problems.join("; ")
            ),
        });
        let repaired = match self.model.complete(request).await {
            Ok(r) => {
                // The repair is paid for like any call (in the turn's month: `facts.now`).
                state.prompt_tokens += u64::from(r.usage.prompt_tokens);
                state.completion_tokens += u64::from(r.usage.completion_tokens);
                self.record_usage(caller, request.facts.now, r.usage)
                    .await?;
                if r.tool_calls.is_empty() {
                    r.content.unwrap_or_default()
                } else {
                    String::new()
                }
            }
            Err(_) => String::new(),
        };
        if !repaired.trim().is_empty() && check(&repaired).is_empty() {
            state
                .warnings
                .push("The first answer was corrected by the grounding check.".into());
            return Ok(repaired);
        }
        let base = if repaired.trim().is_empty() {
            text
        } else {
            repaired
        };
        let remaining = check(&base);
        let cleaned = remove_ungrounded(&base, &remaining);
        for f in &remaining {
            state.warnings.push(format!("Left out: {}.", f.describe()));
        }
        let note = "Some of what I was about to say could not be verified in your CRM data, so I left it out; treat anything not shown above as unknown.";
        Ok(if cleaned.trim().is_empty() {
            note.to_string()
        } else {
            format!("{}\n\n{note}", cleaned.trim())
        })
    }

    async fn run_call(
        &self,
        caller: Caller,
        user_message: &str,
        call: &ToolCall,
        state: &mut TurnState,
    ) -> Result<Value, ChatError> {
        let args: Value = match serde_json::from_str(&call.arguments) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return Ok(tool_error(
                    "invalid_arguments",
                    "arguments must be a JSON object",
                    &[],
                ));
            }
            Err(e) => {
                return Ok(tool_error(
                    "invalid_json",
                    &format!("the arguments are not valid JSON: {e}"),
                    &[],
                ));
            }
        };
        let args = strip_nulls(args);
        match call.name.as_str() {
            runtime_tools::LIST_PENDING => {
                let items = runtime_tools::pending(&self.pipeline, caller).await?;
                for a in &items {
                    state.sources.add_entity(EntityRef {
                        kind: EntityKind::Action,
                        id: a.id,
                    });
                    state.sources.add_text(&a.preview);
                }
                Ok(runtime_tools::numbered(&items))
            }
            runtime_tools::DECIDE => self.decide(caller, user_message, &args, state).await,
            tool if self
                .pipeline
                .registry()
                .get(tool)
                .is_ok_and(|t| !t.secret_fields().is_empty()) =>
            {
                Ok(tool_error(
                    "not_allowed",
                    "This tool takes a secret and is not available in chat; an admin uses the panel or the REST API for it.",
                    &[],
                ))
            }
            tool => {
                let req = ProposeRequest {
                    tool: tool.to_string(),
                    args,
                    approve: false,
                    idempotency_key: None,
                    source: "chat",
                };
                match self.pipeline.propose(caller, req).await {
                    Ok(ProposeOutcome::Read { result }) => {
                        state.sources.add_json(&result);
                        Ok(fence_json(&result))
                    }
                    Ok(ProposeOutcome::Executed { id, result }) => {
                        state.sources.add_entity(EntityRef {
                            kind: EntityKind::Action,
                            id,
                        });
                        Ok(
                            json!({ "status": "executed", "action_id": id, "result": fence_json(&result) }),
                        )
                    }
                    Ok(ProposeOutcome::Pending(view)) => {
                        state.sources.add_entity(EntityRef {
                            kind: EntityKind::Action,
                            id: view.id,
                        });
                        state.sources.add_text(&view.preview);
                        let out = json!({ "status": "pending", "action_id": view.id, "preview": view.preview, "approver_role": view.approver_role });
                        state.actions.push(*view);
                        Ok(out)
                    }
                    Err(ActionError::Denied { reason }) => {
                        Ok(json!({ "status": "denied", "reason": reason }))
                    }
                    Err(ActionError::Tool(e)) => Ok(tool_error_from(&e)),
                    Err(ActionError::Database(e)) => Err(ChatError::Database(e)),
                    Err(other) => Ok(tool_error("failed", &other.to_string(), &[])),
                }
            }
        }
    }

    async fn decide(
        &self,
        caller: Caller,
        user_message: &str,
        args: &Value,
        state: &mut TurnState,
    ) -> Result<Value, ChatError> {
        let wanted = match args.get("decision").and_then(Value::as_str) {
            Some("approve") => Decision::Approve,
            Some("reject") => Decision::Reject,
            _ => {
                return Ok(tool_error(
                    "invalid_arguments",
                    "decision must be approve or reject",
                    &[],
                ));
            }
        };
        if runtime_tools::decision_in(user_message) != Some(wanted) {
            state.warnings.push("The Copilot tried to decide an approval the user did not ask for; nothing was decided.".into());
            return Ok(tool_error(
                "not_allowed",
                "Only the user decides approvals, by saying so in their own message (e.g. \"approve 2\"). Nothing was decided.",
                &[],
            ));
        }
        if runtime_tools::asks_for_all(user_message) {
            state
                .warnings
                .push("Proposals are decided one at a time; nothing was decided.".into());
            return Ok(tool_error(
                "not_allowed",
                "Proposals are decided one at a time, each by its number (\"approve 2\"). Nothing was decided.",
                &[],
            ));
        }
        let items = runtime_tools::pending(&self.pipeline, caller).await?;
        let id = match runtime_tools::target(args, &items, &state.listing) {
            Ok(id) => id,
            Err(m) => return Ok(tool_error("invalid_arguments", &m, &[])),
        };
        // The user's words decide which proposals: when they name numbers (as last shown to
        // them), the model may only decide one of those.
        let named = runtime_tools::numbers_in(user_message);
        let allowed: Vec<Uuid> = named
            .iter()
            .filter_map(|n| runtime_tools::numbered_id(*n, &state.listing, &items))
            .collect();
        if !named.is_empty() && !allowed.contains(&id) {
            state.warnings.push("The Copilot tried to decide a different proposal than the one the user named; nothing was decided.".into());
            return Ok(tool_error(
                "not_allowed",
                &format!(
                    "The user asked about proposal number {}, not this one. Nothing was decided.",
                    named
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &[],
            ));
        }
        let allowed_decisions = named.len().max(1);
        if state.decided.contains(&id) || state.decided.len() >= allowed_decisions {
            state.warnings.push("The Copilot tried to decide more proposals than the user named; nothing more was decided.".into());
            return Ok(tool_error(
                "not_allowed",
                "The user's message decides one proposal for each number it names (or one for \"approve it\"), and those are done. Nothing more was decided.",
                &[],
            ));
        }
        state.decided.push(id);
        let outcome = match wanted {
            Decision::Approve => self.pipeline.approve(caller, id, None).await,
            Decision::Reject => self.pipeline.reject(caller, id, None).await,
        };
        match outcome {
            Ok(view) => {
                state.sources.add_entity(EntityRef {
                    kind: EntityKind::Action,
                    id: view.id,
                });
                state.sources.add_text(&view.preview);
                if let Some(r) = &view.result {
                    state.sources.add_json(r);
                }
                let out = json!({ "status": view.status, "action_id": view.id, "preview": view.preview, "result": view.result.as_ref().map(fence_json) });
                state.actions.push(view);
                Ok(out)
            }
            Err(ActionError::Denied { reason }) => {
                Ok(json!({ "status": "denied", "reason": reason }))
            }
            Err(ActionError::Database(e)) => Err(ChatError::Database(e)),
            Err(other) => Ok(tool_error("failed", &other.to_string(), &[])),
        }
    }
}

fn tool_error(code: &str, message: &str, details: &[FieldError]) -> Value {
    json!({ "error": { "code": code, "message": message, "details": details } })
}

fn tool_error_from(e: &ToolError) -> Value {
    match e {
        ToolError::InvalidArguments(d) => tool_error("invalid_arguments", &e.to_string(), d),
        ToolError::UnknownTool(name) => tool_error(
            "unknown_tool",
            &format!("there is no tool named `{name}`"),
            &[],
        ),
        ToolError::NotFound { entity, .. } => {
            tool_error("not_found", &format!("no {entity} with that id"), &[])
        }
        ToolError::Conflict(m) => tool_error("conflict", m, &[]),
        ToolError::Database(_) => tool_error("failed", "the database could not answer", &[]),
    }
}

/// Drops null-valued top-level arguments: strict-mode models send null for "not given".
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// Removes sentences that carry an ungrounded fact and citations of unknown ids.
fn remove_ungrounded(text: &str, findings: &[Finding]) -> String {
    let mut out = text.to_string();
    for f in findings {
        if let Finding::UnknownCitation { marker } = f {
            out = out.replace(marker.as_str(), "");
        }
    }
    let facts: Vec<&str> = findings
        .iter()
        .filter_map(|f| match f {
            Finding::UngroundedFact { fact } => Some(fact.as_str()),
            Finding::UnbackedClaim { claim } => Some(claim.as_str()),
            Finding::UnknownCitation { .. } => None,
        })
        .collect();
    if facts.is_empty() {
        return out;
    }
    let mut kept = Vec::new();
    for line in out.lines() {
        let good: String = sentences(line)
            .into_iter()
            .filter(|s| {
                !facts
                    .iter()
                    .any(|f| mentions(&grounding::strip_markers(s), f))
            })
            .collect();
        kept.push(good);
    }
    kept.join("\n")
}

/// A line's sentences, each with its end: a `.`, `!` or `?` ends one only when a space or the
/// end of the line follows, so `jane.cooper@acme.example` and `12,500.00` stay whole.
fn sentences(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|(_, next)| next.is_whitespace())
        {
            let end = i + c.len_utf8();
            out.push(&line[start..end]);
            start = end;
        }
    }
    if start < line.len() {
        out.push(&line[start..]);
    }
    out
}

/// Whether a sentence states a fact: as written, or for a number, the same digits however
/// they are spaced ("+1 212 555 0177" states "12125550177").
fn mentions(sentence: &str, fact: &str) -> bool {
    // Claims are found with straight apostrophes ("I've sent" for "I’ve sent").
    if sentence.contains(fact) || sentence.replace('’', "'").contains(fact) {
        return true;
    }
    let digits = |t: &str| t.chars().filter(char::is_ascii_digit).collect::<String>();
    let fact_digits = digits(fact);
    fact_digits.len() >= 7
        && fact_digits.len() * 2 >= fact.chars().filter(|c| !c.is_whitespace()).count()
        && digits(sentence).contains(&fact_digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ungrounded_sentences_and_citations_are_removed() {
        let id = Uuid::now_v7();
        let text =
            format!("Jane is at Acme [[contact:{id}]]. Her mobile is +1 212 555 0199. Ask her.");
        let findings = vec![
            Finding::UnknownCitation {
                marker: format!("[[contact:{id}]]"),
            },
            Finding::UngroundedFact {
                fact: "212555 0199".into(),
            },
            Finding::UngroundedFact { fact: "+1".into() },
        ];
        let kept = remove_ungrounded(
            "Mail jane.cooper@acme.example today. Ring +1 212 555 0177. Worth USD 125,000.00. Bye.",
            &[
                Finding::UngroundedFact {
                    fact: "jane.cooper@acme.example".into(),
                },
                Finding::UngroundedFact {
                    fact: "12125550177".into(),
                },
                Finding::UngroundedFact {
                    fact: "USD 125,000.00".into(),
                },
            ],
        );
        assert_eq!(kept.trim(), "Bye.", "{kept}");
        let claimed = "Done - I’ve sent it. Anything else?";
        let kept = remove_ungrounded(claimed, &grounding::done_claims(claimed));
        assert_eq!(kept.trim(), "Anything else?", "{kept}");
        let out = remove_ungrounded(&text, &findings);
        assert!(!out.contains(&id.to_string()));
        assert!(!out.contains("mobile"), "{out}");
        assert!(out.contains("Jane is at Acme") && out.contains("Ask her."));
        assert_eq!(strip_nulls(json!({"a": null, "b": 1})), json!({"b": 1}));
    }
}
