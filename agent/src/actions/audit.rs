//! The audit trail: one append-only row per pipeline step. The app role can insert and read
//! these rows but never change or delete them (see the grants in the migrations).

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// A pipeline step worth recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    ExecutedRead,
    Proposed,
    Denied,
    Approved,
    Executed,
    Rejected,
    Expired,
    Failed,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::ExecutedRead => "executed_read",
            Event::Proposed => "proposed",
            Event::Denied => "denied",
            Event::Approved => "approved",
            Event::Executed => "executed",
            Event::Rejected => "rejected",
            Event::Expired => "expired",
            Event::Failed => "failed",
        }
    }
}

/// One audit row. Fields left `None` are simply not known at that step.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub event: Event,
    /// Who took this step.
    pub actor_id: Option<Uuid>,
    pub action_id: Option<Uuid>,
    pub tool: &'a str,
    pub args: Option<&'a Value>,
    pub requester_id: Option<Uuid>,
    pub approver_id: Option<Uuid>,
    /// The policy decision in short form, e.g. `needs_approval:manager`.
    pub decision: Option<&'a str>,
    /// Why, in words: the policy's reason, a rejection note, an error.
    pub reason: Option<&'a str>,
    pub result: Option<&'a Value>,
}

impl<'a> Entry<'a> {
    pub fn new(event: Event, tool: &'a str) -> Self {
        Entry {
            event,
            actor_id: None,
            action_id: None,
            tool,
            args: None,
            requester_id: None,
            approver_id: None,
            decision: None,
            reason: None,
            result: None,
        }
    }
}

pub async fn write(conn: &mut PgConnection, e: Entry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, event, actor_id, action_id, tool, args, requester_id, approver_id,
             decision, reason, result)
         VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(e.event.as_str())
    .bind(e.actor_id)
    .bind(e.action_id)
    .bind(e.tool)
    .bind(e.args)
    .bind(e.requester_id)
    .bind(e.approver_id)
    .bind(e.decision)
    .bind(e.reason)
    .bind(e.result)
    .execute(conn)
    .await?;
    Ok(())
}
