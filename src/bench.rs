//! `heimdell bench`: figures for BENCHMARKS.md that a load generator cannot see from outside.
//!
//! - `context-pack` and `turn`: in-process timings of building a context pack and of a whole
//!   Copilot turn with the built-in planner (everything but a remote model), against the
//!   database in DATABASE_URL (seed it with `seed-demo --contacts 100000` first).
//! - `chat-load`: a second process that plays N chat users against a running server over HTTP,
//!   each sending one message every few seconds, and reports errors and latency percentiles.
//! - `rate` ([`rate`]): GET requests offered to a running server at a fixed rate (open loop),
//!   latency counted from when each request was due.
//! - `sms` ([`sms`]): approved texts delivered by the outbox worker to a fake Twilio, and signed
//!   inbound SMS webhooks against the real server.
//! - `sign-in-flood` and `soak` ([`soak`]): failed sign-ins from many clients, and the whole
//!   benchmark mix for minutes, against a running server whose memory is read from `/metrics`.

pub mod rate;
pub mod sms;
pub mod soak;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use heimdell_agent::actions::Caller;
use heimdell_agent::context::{self, PackInput};
use heimdell_agent::copilot::ChatRequest;
use heimdell_agent::model::{
    ChatModel, EntityKind, EntityRef, Message, ModelError, ModelReply, ModelRequest, ToolSpec,
};
use heimdell_tools::db::begin_tenant;
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::Config;

/// Latency percentiles of a run.
pub struct Summary {
    pub count: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub fn summarise(mut samples: Vec<Duration>, errors: usize) -> Summary {
    samples.sort();
    let pick = |q: f64| -> f64 {
        if samples.is_empty() {
            return 0.0;
        }
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    Summary {
        count: samples.len(),
        errors,
        p50_ms: pick(0.50),
        p95_ms: pick(0.95),
        p99_ms: pick(0.99),
        max_ms: pick(1.0),
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} errors={} p50={:.2} ms p95={:.2} ms p99={:.2} ms max={:.2} ms",
            self.count, self.errors, self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms
        )
    }
}

/// The first demo tenant's first rep, and some contacts and deals to focus on.
async fn subjects(pool: &PgPool) -> anyhow::Result<(Caller, Vec<Uuid>, Vec<String>)> {
    let tenant: Option<Uuid> = sqlx::query_scalar("SELECT tenant_by_name('Acme Demo')")
        .fetch_one(pool)
        .await?;
    let Some(tenant) = tenant else {
        bail!("no demo tenant: run `heimdell seed-demo --contacts 100000` first")
    };
    let mut tx = begin_tenant(pool, tenant).await?;
    let rep: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE role = 'rep' ORDER BY email LIMIT 1")
            .fetch_one(&mut *tx)
            .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(&mut *tx)
        .await?;
    if total < 100_000 {
        eprintln!("note: the tenant has {total} contacts; the targets are stated for 100,000");
    }
    let contacts: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM contacts WHERE NOT anonymised ORDER BY random() LIMIT 200",
    )
    .fetch_all(&mut *tx)
    .await?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT first_name || ' ' || last_name FROM contacts WHERE owner_id IS NOT NULL AND email NOT LIKE '%@bench.%' ORDER BY random() LIMIT 50",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        Caller {
            tenant_id: tenant,
            user_id: rep,
        },
        contacts,
        names,
    ))
}

pub async fn context_pack(
    config: &Config,
    pool: PgPool,
    iterations: usize,
) -> anyhow::Result<Summary> {
    let state = crate::app::state(config, pool.clone())?;
    let (caller, contacts, _) = subjects(&pool).await?;
    let pending = state
        .pipeline
        .list(caller, Some(heimdell_agent::ActionStatus::Pending), 10)
        .await?;
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let focus = EntityRef {
            kind: EntityKind::Contact,
            id: contacts[i % contacts.len()],
        };
        let started = Instant::now();
        let mut tx = begin_tenant(&pool, caller.tenant_id).await?;
        let pack = context::build(
            &mut tx,
            PackInput {
                user_name: "Bench Rep",
                role: "rep",
                tenant_name: "Acme Demo",
                now: chrono::Utc::now(),
                tz: chrono_tz::America::New_York,
                focus: Some(focus),
                pending: &pending,
                budget_tokens: 1500,
            },
        )
        .await?;
        tx.commit().await?;
        std::hint::black_box(pack);
        samples.push(started.elapsed());
    }
    Ok(summarise(samples, 0))
}

/// Counts the prompt tokens of every request a model is sent (o200k_base, the tokenizer of
/// OpenAI's current models), as the wire request lays them out: each message's text, then
/// each offered tool's name, description and schema.
pub struct TokenCounting {
    inner: Arc<dyn ChatModel>,
    bpe: tiktoken_rs::CoreBPE,
    /// (tokens before the history: system + tools + CONTEXT + the user's words; all tokens;
    /// tools offered) per request.
    pub seen: std::sync::Mutex<Vec<(usize, usize, usize)>>,
}

impl TokenCounting {
    pub fn new(inner: Arc<dyn ChatModel>) -> anyhow::Result<Self> {
        Ok(TokenCounting {
            inner,
            bpe: tiktoken_rs::o200k_base()?,
            seen: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn tokens(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }

    /// Tokens of the tool schemas as sent.
    pub fn tool_tokens(&self, tools: &[ToolSpec]) -> usize {
        tools
            .iter()
            .map(|t| {
                self.tokens(&t.name)
                    + self.tokens(&t.description)
                    + self.tokens(&t.parameters.to_string())
            })
            .sum()
    }

    fn message_tokens(&self, m: &Message) -> usize {
        // A few tokens of framing per message, as chat templates add.
        4 + match m {
            Message::System { content } | Message::User { content } => self.tokens(content),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                self.tokens(content.as_deref().unwrap_or_default())
                    + tool_calls
                        .iter()
                        .map(|c| self.tokens(&c.name) + self.tokens(&c.arguments))
                        .sum::<usize>()
            }
            Message::Tool { content, .. } => self.tokens(content),
        }
    }
}

impl ChatModel for TokenCounting {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn complete<'a>(
        &'a self,
        req: &'a ModelRequest,
    ) -> futures_util::future::BoxFuture<'a, Result<ModelReply, ModelError>> {
        let tools = self.tool_tokens(&req.tools);
        let all: usize = req
            .messages
            .iter()
            .map(|m| self.message_tokens(m))
            .sum::<usize>()
            + tools;
        // Before the history: the system prompt, the tools, and the last two messages of a
        // first step (CONTEXT and the user's words).
        let first_step = matches!(req.messages.last(), Some(Message::User { .. }));
        if first_step {
            let n = req.messages.len();
            let before: usize = self.message_tokens(&req.messages[0])
                + req.messages[n.saturating_sub(2)..]
                    .iter()
                    .map(|m| self.message_tokens(m))
                    .sum::<usize>()
                + tools;
            if let Ok(mut seen) = self.seen.lock() {
                seen.push((before, all, req.tools.len()));
            }
        }
        self.inner.complete(req)
    }
}

pub async fn turns(config: &Config, pool: PgPool, iterations: usize) -> anyhow::Result<Summary> {
    let counting = Arc::new(TokenCounting::new(Arc::new(
        heimdell_agent::model::planner::Planner::new(),
    ))?);
    let state = crate::app::state_with_model(config, pool.clone(), counting.clone())?;
    let whole_catalogue = counting.tool_tokens(&state.copilot.tool_specs());
    let mut core: Vec<ToolSpec> = state
        .copilot
        .tool_specs()
        .into_iter()
        .filter(|t| heimdell_agent::copilot::offer::CORE.contains(&t.name.as_str()))
        .collect();
    core.push(heimdell_agent::copilot::offer::find_tools_spec());
    let core_tokens = counting.tool_tokens(&core);
    let (caller, contacts, names) = subjects(&pool).await?;
    let mut samples = Vec::with_capacity(iterations);
    let mut by_kind: [Vec<Duration>; 5] = Default::default();
    let mut tokens_by_kind: [Vec<usize>; 5] = Default::default();
    let mut seen_before = 0usize;
    let mut errors = 0;
    for i in 0..iterations {
        let name = &names[i % names.len()];
        let (message, context) = match i % 5 {
            0 => ("what should I do today?".to_string(), None),
            1 => (format!("find {name}"), None),
            2 => (format!("create a task to call {name} tomorrow at 10"), None),
            3 => (
                "who is this?".to_string(),
                Some(EntityRef {
                    kind: EntityKind::Contact,
                    id: contacts[i % contacts.len()],
                }),
            ),
            _ => ("show my tasks".to_string(), None),
        };
        let started = Instant::now();
        match state
            .copilot
            .turn(
                caller,
                ChatRequest {
                    thread_id: None,
                    message,
                    context,
                },
            )
            .await
        {
            Ok(r) => {
                std::hint::black_box(r);
            }
            Err(e) => {
                errors += 1;
                if errors <= 3 {
                    eprintln!("turn error: {e}");
                }
            }
        }
        samples.push(started.elapsed());
        by_kind[i % 5].push(started.elapsed());
        let first = counting.seen.lock().ok().and_then(|s| {
            let first = s.get(seen_before).map(|(b, _, _)| *b);
            seen_before = s.len();
            first
        });
        if let Some(t) = first {
            tokens_by_kind[i % 5].push(t);
        }
    }
    for (label, tokens) in [
        "focus",
        "find",
        "create task",
        "who is this (focus)",
        "my tasks",
    ]
    .iter()
    .zip(by_kind)
    .zip(tokens_by_kind)
    {
        let (label, s) = label;
        eprintln!(
            "  {label}: {}; prompt tokens before history: max {}",
            summarise(s, 0),
            tokens.iter().max().unwrap_or(&0)
        );
    }
    let mut before: Vec<usize> = counting
        .seen
        .lock()
        .map(|s| s.iter().map(|(b, _, _)| *b).collect())
        .unwrap_or_default();
    before.sort_unstable();
    let offered: Vec<usize> = counting
        .seen
        .lock()
        .map(|s| s.iter().map(|(_, _, t)| *t).collect())
        .unwrap_or_default();
    if let (Some(min), Some(max)) = (before.first(), before.last()) {
        println!(
            "prompt tokens before history (o200k_base), first step of each turn: min {min}, median {}, max {max}; tools offered {}–{} of {} (the core's schemas with find_tools: {core_tokens} tokens; all tool schemas: {whole_catalogue} tokens)",
            before[before.len() / 2],
            offered.iter().min().unwrap_or(&0),
            offered.iter().max().unwrap_or(&0),
            state.copilot.tool_specs().len(),
        );
    }
    Ok(summarise(samples, errors))
}

/// Plays `users` chat users against `url`, each sending a message every `every`, for `duration`.
/// `token` may list several API tokens separated by commas; users take them in turn.
pub async fn chat_load(
    url: &str,
    token: &str,
    users: usize,
    every: Duration,
    duration: Duration,
) -> anyhow::Result<Summary> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(users)
        .timeout(Duration::from_secs(30))
        .build()?;
    let chat = format!("{}/api/v1/chat", url.trim_end_matches('/'));
    let messages = [
        "what should I do today?",
        "show my tasks",
        "what's pending my approval?",
        "find Smith",
        "show my team's focus",
    ];
    let results = Arc::new(tokio::sync::Mutex::new((Vec::new(), 0usize)));
    let deadline = Instant::now() + duration;
    let tokens: Vec<String> = token
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.is_empty() {
        bail!("give at least one API token");
    }
    let mut handles = Vec::new();
    for u in 0..users {
        let (client, chat, token, results) = (
            client.clone(),
            chat.clone(),
            tokens[u % tokens.len()].clone(),
            results.clone(),
        );
        handles.push(tokio::spawn(async move {
            // Spread the users' first messages over the interval, as real users would be.
            tokio::time::sleep(every.mul_f64(u as f64 / users as f64)).await;
            let mut tick = tokio::time::interval(every);
            let mut n = u;
            while Instant::now() < deadline {
                tick.tick().await;
                let body = serde_json::json!({ "message": messages[n % messages.len()] });
                n += 1;
                let started = Instant::now();
                let ok = match client
                    .post(&chat)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success(),
                    Err(_) => false,
                };
                let took = started.elapsed();
                let mut r = results.lock().await;
                if ok { r.0.push(took) } else { r.1 += 1 }
            }
        }));
    }
    for h in handles {
        h.await.context("a load task failed")?;
    }
    let (samples, errors) = std::mem::take(&mut *results.lock().await);
    Ok(summarise(samples, errors))
}
