//! Stored proposed actions: how they are written, read, locked and shown.

use chrono::{DateTime, Utc};
use heimdell_policies::ApproverRole;
use heimdell_tools::domain::Role;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use std::fmt;
use uuid::Uuid;

use super::audit::{self, Entry, Event};
use crate::member::Member;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionStatus {
    Pending,
    Executed,
    Rejected,
    Expired,
    Failed,
}

impl ActionStatus {
    pub fn parse(s: &str) -> Option<ActionStatus> {
        match s {
            "pending" => Some(ActionStatus::Pending),
            "executed" => Some(ActionStatus::Executed),
            "rejected" => Some(ActionStatus::Rejected),
            "expired" => Some(ActionStatus::Expired),
            "failed" => Some(ActionStatus::Failed),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Executed => "executed",
            ActionStatus::Rejected => "rejected",
            ActionStatus::Expired => "expired",
            ActionStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for ActionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A proposed action as callers see it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionView {
    pub id: Uuid,
    pub tool: String,
    /// The arguments; sealed secrets are shown as `[encrypted]`.
    #[serde(serialize_with = "redacted_args")]
    pub args: Value,
    pub status: ActionStatus,
    /// `self` (the requester may approve), `manager` or `admin`.
    pub approver_role: ApproverRole,
    /// One sentence describing the change.
    pub preview: String,
    pub requester_id: Uuid,
    pub requester_name: String,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<Uuid>,
    /// The rejection note, if any.
    pub reason: Option<String>,
    pub result: Option<Value>,
    /// Whether the viewer's role lets them approve it (the decision is re-checked on approve).
    pub can_approve: bool,
}

fn redacted_args<S: serde::Serializer>(args: &Value, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&heimdell_tools::crypto::redacted(args), s)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tool: String,
    args: Value,
    status: String,
    approver_role: String,
    preview: String,
    requester_id: Uuid,
    requester_name: String,
    source: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    decided_by: Option<Uuid>,
    decision_reason: Option<String>,
    result: Option<Value>,
}

impl From<Row> for ActionView {
    fn from(r: Row) -> Self {
        ActionView {
            id: r.id,
            tool: r.tool,
            args: r.args,
            status: ActionStatus::parse(&r.status).unwrap_or(ActionStatus::Failed),
            approver_role: ApproverRole::parse(&r.approver_role).unwrap_or(ApproverRole::Admin),
            preview: r.preview,
            requester_id: r.requester_id,
            requester_name: r.requester_name,
            source: r.source,
            created_at: r.created_at,
            expires_at: r.expires_at,
            decided_at: r.decided_at,
            decided_by: r.decided_by,
            reason: r.decision_reason,
            result: r.result,
            can_approve: false,
        }
    }
}

impl ActionView {
    /// Fills `can_approve` for this viewer.
    pub fn with_viewer(mut self, viewer: &Member) -> Self {
        self.can_approve = self.status == ActionStatus::Pending && may_decide(&self, viewer);
        self
    }
}

/// Whether the viewer's role reaches the action's approver tier (a display hint and the gate
/// for rejecting; approving re-runs the full policy check).
pub fn may_decide(a: &ActionView, viewer: &Member) -> bool {
    match a.approver_role {
        ApproverRole::SelfApprove => a.requester_id == viewer.user_id || viewer.role != Role::Rep,
        ApproverRole::Manager => viewer.role != Role::Rep,
        ApproverRole::Admin => viewer.role == Role::Admin,
    }
}

/// Reps see their own actions; managers and admins see the tenant's.
pub fn visible_to(a: &ActionView, viewer: &Member) -> bool {
    viewer.role != Role::Rep || a.requester_id == viewer.user_id
}

macro_rules! action_select {
    () => {
        "SELECT a.id, a.tool, a.args, a.status, a.approver_role, a.preview, a.requester_id,
            u.name AS requester_name, a.source, a.created_at, a.expires_at, a.decided_at, a.decided_by,
            a.decision_reason, a.result
         FROM proposed_actions a JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.requester_id"
    };
}

pub struct NewAction<'a> {
    pub tool: &'a str,
    pub args: &'a Value,
    pub requester_id: Uuid,
    pub approver_role: ApproverRole,
    pub preview: &'a str,
    pub idempotency_key: &'a str,
    pub source: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut PgConnection, n: NewAction<'_>) -> Result<Uuid, sqlx::Error> {
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO proposed_actions (tenant_id, tool, args, status, requester_id, approver_role, preview,
             idempotency_key, source, created_at, expires_at)
         VALUES (app_tenant(), $1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(n.tool)
    .bind(n.args)
    .bind(n.requester_id)
    .bind(n.approver_role.as_str())
    .bind(n.preview)
    .bind(n.idempotency_key)
    .bind(n.source)
    .bind(n.created_at)
    .bind(n.expires_at)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<ActionView>, sqlx::Error> {
    let row = sqlx::query_as::<_, Row>(concat!(action_select!(), " WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(ActionView::from))
}

/// Several actions by id, in no particular order; ids that do not exist are left out.
pub async fn get_many(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<ActionView>, sqlx::Error> {
    let rows = sqlx::query_as::<_, Row>(concat!(action_select!(), " WHERE a.id = ANY($1)"))
        .bind(ids)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(ActionView::from).collect())
}

/// Reads and row-locks an action: whoever holds the lock decides it; others wait, then see
/// the decision.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<ActionView>, sqlx::Error> {
    let row = sqlx::query_as::<_, Row>(concat!(
        action_select!(),
        " WHERE a.id = $1 FOR UPDATE OF a"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ActionView::from))
}

pub async fn by_idempotency_key(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<ActionView>, sqlx::Error> {
    let row = sqlx::query_as::<_, Row>(concat!(action_select!(), " WHERE a.idempotency_key = $1"))
        .bind(key)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(ActionView::from))
}

pub async fn mark_executed(
    conn: &mut PgConnection,
    id: Uuid,
    by: Uuid,
    args: &Value,
    preview: &str,
    result: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE proposed_actions SET status = 'executed', decided_at = now(), decided_by = $2, args = $3,
             preview = $4, result = $5 WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(by)
    .bind(args)
    .bind(preview)
    .bind(result)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_rejected(
    conn: &mut PgConnection,
    id: Uuid,
    by: Uuid,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE proposed_actions SET status = 'rejected', decided_at = now(), decided_by = $2, decision_reason = $3
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(by)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes one overdue action and audits it.
pub async fn expire_one(conn: &mut PgConnection, a: &ActionView) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE proposed_actions SET status = 'expired', decided_at = now() WHERE id = $1 AND status = 'pending'")
        .bind(a.id)
        .execute(&mut *conn)
        .await?;
    let mut e = Entry::new(Event::Expired, &a.tool);
    e.action_id = Some(a.id);
    e.args = Some(&a.args);
    e.requester_id = Some(a.requester_id);
    e.decision = Some("expired");
    audit::write(conn, e).await
}

/// Closes every overdue pending action of the tenant, auditing each, in one statement.
pub async fn expire_due(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "WITH expired AS (
             UPDATE proposed_actions SET status = 'expired', decided_at = now()
             WHERE status = 'pending' AND expires_at <= now()
             RETURNING id, tool, args, requester_id)
         INSERT INTO audit_log (tenant_id, event, action_id, tool, args, requester_id, decision)
         SELECT app_tenant(), 'expired', id, tool, args, requester_id, 'expired' FROM expired",
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

pub async fn list(
    conn: &mut PgConnection,
    viewer: &Member,
    status: Option<ActionStatus>,
    limit: i64,
) -> Result<Vec<ActionView>, sqlx::Error> {
    let own_only = viewer.role == Role::Rep;
    let rows = sqlx::query_as::<_, Row>(concat!(
        action_select!(),
        " WHERE ($1::text IS NULL OR a.status = $1) AND (NOT $2 OR a.requester_id = $3)
          ORDER BY a.created_at DESC LIMIT $4"
    ))
    .bind(status.map(|s| s.as_str()))
    .bind(own_only)
    .bind(viewer.user_id)
    .bind(limit.clamp(1, 200))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ActionView::from(r).with_viewer(viewer))
        .collect())
}
