//! Threads, messages and usage counters in Postgres (tenant-scoped like everything else).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::usage::Spend;
use crate::model::{EntityKind, EntityRef};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ThreadRow {
    pub id: Uuid,
    pub title: String,
    pub context_type: Option<String>,
    pub context_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ThreadRow {
    pub fn focus(&self) -> Option<EntityRef> {
        let kind = EntityKind::parse(self.context_type.as_deref()?)?;
        Some(EntityRef {
            kind,
            id: self.context_id?,
        })
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub role: String,
    #[sqlx(rename = "content")]
    pub text: String,
    pub citations: Value,
    #[serde(skip)]
    pub action_ids: Vec<Uuid>,
    pub warnings: Value,
    pub model: Option<String>,
    pub prompt_version: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn create_thread(
    conn: &mut PgConnection,
    user_id: Uuid,
    title: &str,
    focus: Option<EntityRef>,
) -> Result<ThreadRow, sqlx::Error> {
    sqlx::query_as::<_, ThreadRow>(
        "INSERT INTO threads (tenant_id, user_id, title, context_type, context_id) VALUES (app_tenant(), $1, $2, $3, $4)
         RETURNING id, title, context_type, context_id, created_at, updated_at",
    )
    .bind(user_id)
    .bind(title)
    .bind(focus.map(|f| f.kind.as_str()))
    .bind(focus.map(|f| f.id))
    .fetch_one(conn)
    .await
}

/// A thread of this user (threads are private to the person who chats).
pub async fn thread(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<ThreadRow>, sqlx::Error> {
    sqlx::query_as::<_, ThreadRow>(
        "SELECT id, title, context_type, context_id, created_at, updated_at FROM threads WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

pub async fn threads(
    conn: &mut PgConnection,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<ThreadRow>, sqlx::Error> {
    sqlx::query_as::<_, ThreadRow>(
        "SELECT id, title, context_type, context_id, created_at, updated_at FROM threads WHERE user_id = $1
         ORDER BY updated_at DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The thread's last `limit` messages, oldest first.
pub async fn messages(
    conn: &mut PgConnection,
    thread_id: Uuid,
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    let mut rows = sqlx::query_as::<_, MessageRow>(
        "SELECT id, role, content, citations, action_ids, warnings, model, prompt_version, created_at
         FROM chat_messages WHERE thread_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(thread_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.reverse();
    Ok(rows)
}

/// An assistant or user message to store.
pub struct NewMessage<'a> {
    pub role: &'a str,
    pub text: &'a str,
    pub citations: Value,
    pub action_ids: Vec<Uuid>,
    pub warnings: Value,
    pub model: Option<&'a str>,
    pub prompt_version: Option<&'a str>,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
}

pub async fn add_message(
    conn: &mut PgConnection,
    thread_id: Uuid,
    m: NewMessage<'_>,
) -> Result<Uuid, sqlx::Error> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO chat_messages (tenant_id, thread_id, role, content, citations, action_ids, warnings, model,
             prompt_version, prompt_tokens, completion_tokens)
         VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(thread_id)
    .bind(m.role)
    .bind(m.text)
    .bind(m.citations)
    .bind(m.action_ids)
    .bind(m.warnings)
    .bind(m.model)
    .bind(m.prompt_version)
    .bind(m.prompt_tokens)
    .bind(m.completion_tokens)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("UPDATE threads SET updated_at = now() WHERE id = $1")
        .bind(thread_id)
        .execute(conn)
        .await?;
    Ok(id)
}

/// The first day of `now`'s month (UTC): the key usage is counted under.
pub fn month_of(now: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or_default()
}

/// Counts one request for this user and month and returns the month's total so far.
pub async fn count_request(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let n: i32 = sqlx::query_scalar(
        "INSERT INTO usage_counters (tenant_id, user_id, month, requests) VALUES (app_tenant(), $1, $2, 1)
         ON CONFLICT (tenant_id, user_id, month) DO UPDATE SET requests = usage_counters.requests + 1
         RETURNING requests",
    )
    .bind(user_id)
    .bind(month_of(now))
    .fetch_one(conn)
    .await?;
    Ok(i64::from(n))
}

/// Adds one model call's tokens and estimated cost to this user's month (right after the call,
/// so a turn that fails later still counts what was spent).
pub async fn add_usage(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
    spend: &Spend<'_>,
) -> Result<(), sqlx::Error> {
    let big = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO usage_counters AS u (tenant_id, user_id, month, prompt_tokens, cached_prompt_tokens,
             completion_tokens, cost_micro_cents, unpriced_tokens, unpriced_models)
         VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7,
             CASE WHEN $8::text IS NULL THEN '{}'::text[] ELSE ARRAY[$8::text] END)
         ON CONFLICT (tenant_id, user_id, month) DO UPDATE SET
             prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
             cached_prompt_tokens = u.cached_prompt_tokens + EXCLUDED.cached_prompt_tokens,
             completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens,
             cost_micro_cents = u.cost_micro_cents + EXCLUDED.cost_micro_cents,
             unpriced_tokens = u.unpriced_tokens + EXCLUDED.unpriced_tokens,
             unpriced_models = CASE WHEN $8::text IS NULL OR $8::text = ANY (u.unpriced_models)
                 THEN u.unpriced_models ELSE u.unpriced_models || $8::text END",
    )
    .bind(user_id)
    .bind(month_of(now))
    .bind(big(spend.prompt_tokens))
    .bind(big(spend.cached_prompt_tokens))
    .bind(big(spend.completion_tokens))
    .bind(spend.cost_micro_cents)
    .bind(big(spend.unpriced_tokens()))
    .bind(spend.unpriced_model)
    .execute(conn)
    .await?;
    Ok(())
}

/// This month's estimated cost so far, in micro-cents: the user's and the whole tenant's.
pub async fn month_costs(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(sum(cost_micro_cents) FILTER (WHERE user_id = $1), 0)::bigint,
                coalesce(sum(cost_micro_cents), 0)::bigint
         FROM usage_counters WHERE tenant_id = app_tenant() AND month = $2",
    )
    .bind(user_id)
    .bind(month_of(now))
    .fetch_one(conn)
    .await
}

/// A month's counters (one member's, or a sum).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageCounts {
    pub requests: i64,
    pub prompt_tokens: i64,
    /// Of `prompt_tokens`, those served from the provider's prompt cache.
    pub cached_prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Estimated cost in micro-cents (1e-8 US dollar).
    pub cost_micro_cents: i64,
    /// Tokens of models with no configured price (not in the cost).
    pub unpriced_tokens: i64,
    /// Those models.
    pub unpriced_models: Vec<String>,
}

impl UsageCounts {
    /// Adds `other` in (models without a price: each named once).
    pub fn add(&mut self, other: &UsageCounts) {
        self.requests += other.requests;
        self.prompt_tokens += other.prompt_tokens;
        self.cached_prompt_tokens += other.cached_prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cost_micro_cents += other.cost_micro_cents;
        self.unpriced_tokens += other.unpriced_tokens;
        for m in &other.unpriced_models {
            if !self.unpriced_models.contains(m) {
                self.unpriced_models.push(m.clone());
            }
        }
        self.unpriced_models.sort();
    }
}

/// One member's counters for a month.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberUsage {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: String,
    #[sqlx(flatten)]
    pub counts: UsageCounts,
}

/// The month's counters of the tenant's members who used the Copilot (of `user_id` only, when
/// given), the most expensive first.
pub async fn usage(
    conn: &mut PgConnection,
    month: NaiveDate,
    user_id: Option<Uuid>,
) -> Result<Vec<MemberUsage>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.user_id, u.name, u.email, u.role, c.requests::bigint AS requests, c.prompt_tokens,
                c.cached_prompt_tokens, c.completion_tokens, c.cost_micro_cents, c.unpriced_tokens,
                c.unpriced_models
         FROM usage_counters c JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.user_id
         WHERE c.tenant_id = app_tenant() AND c.month = $1 AND ($2::uuid IS NULL OR c.user_id = $2)
         ORDER BY c.cost_micro_cents DESC, c.requests DESC, u.name, c.user_id",
    )
    .bind(month)
    .bind(user_id)
    .fetch_all(conn)
    .await
}
