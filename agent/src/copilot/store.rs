//! Threads, messages and usage counters in Postgres (tenant-scoped like everything else).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

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

fn month_of(now: DateTime<Utc>) -> NaiveDate {
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

pub async fn add_tokens(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
    prompt: u64,
    completion: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE usage_counters SET prompt_tokens = prompt_tokens + $3, completion_tokens = completion_tokens + $4
         WHERE user_id = $1 AND month = $2",
    )
    .bind(user_id)
    .bind(month_of(now))
    .bind(prompt as i64)
    .bind(completion as i64)
    .execute(conn)
    .await?;
    Ok(())
}
