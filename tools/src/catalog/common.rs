//! Helpers shared by the tools: collecting every bad field at once, checking references, and
//! recording who changed what.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use crate::domain::{Name, Text};
use crate::error::{FieldError, ToolError};
use crate::registry::Ctx;

/// Collects field errors so a caller learns about every bad argument in one round trip.
#[derive(Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    /// Parses a required value; records the error under `field`.
    pub fn req<T>(
        &mut self,
        field: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value) {
            Ok(v) => Some(v),
            Err(m) => {
                self.errors.push(FieldError::new(field, m));
                None
            }
        }
    }

    /// Parses an optional value.
    pub fn opt<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        value.and_then(|v| self.req(field, v, parse))
    }

    pub fn text(&mut self, field: &str, value: &str, max: usize) -> Option<Text> {
        self.req(field, value, |s| Text::parse(s, max))
    }

    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<Text> {
        self.opt(field, value, |s| Text::parse(s, max))
    }

    /// A name or one-line label (see [`Name`]).
    pub fn name(&mut self, field: &str, value: &str, max: usize) -> Option<Name> {
        self.req(field, value, |s| Name::parse(s, max))
    }

    pub fn opt_name(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<Name> {
        self.opt(field, value, |s| Name::parse(s, max))
    }

    /// Whether nothing was recorded so far.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Ok if nothing was recorded; the values parsed along the way are then all `Some`.
    pub fn finish(self) -> Result<(), ToolError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ToolError::InvalidArguments(self.errors))
        }
    }
}

/// Unwraps a value that `Check::finish` has vouched for.
pub fn checked<T>(v: Option<T>) -> T {
    v.expect("Check::finish returned Ok, so every required value parsed")
}

/// Which table a reference points into.
#[derive(Clone, Copy)]
pub enum Ref {
    Contact,
    Company,
    Deal,
    Task,
    User,
}

impl Ref {
    fn table(self) -> &'static str {
        match self {
            Ref::Contact => "contacts",
            Ref::Company => "companies",
            Ref::Deal => "deals",
            Ref::Task => "tasks",
            Ref::User => "users",
        }
    }

    pub fn entity(self) -> &'static str {
        match self {
            Ref::Contact => "contact",
            Ref::Company => "company",
            Ref::Deal => "deal",
            Ref::Task => "task",
            Ref::User => "user",
        }
    }
}

/// The owner of a record (None if unowned), or NotFound if it does not exist in this tenant.
pub async fn owner_of(
    conn: &mut PgConnection,
    what: Ref,
    id: Uuid,
) -> Result<Option<Uuid>, ToolError> {
    let sql = match what {
        Ref::User => "SELECT id AS owner_id FROM users WHERE id = $1".to_string(),
        other => format!("SELECT owner_id FROM {} WHERE id = $1", other.table()),
    };
    let row: Option<(Option<Uuid>,)> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|(o,)| o).ok_or(ToolError::NotFound {
        entity: what.entity(),
        id: id.to_string(),
    })
}

/// Checks that optional references exist in this tenant, reporting each missing one by field.
/// A user reference (an owner or assignee) must also be an active member: a deactivated one
/// reads exactly like a missing one, so nothing new is handed to someone who can no longer
/// sign in to see it.
pub async fn check_refs(
    conn: &mut PgConnection,
    refs: &[(&str, Ref, Option<Uuid>)],
) -> Result<(), ToolError> {
    let mut errors = Vec::new();
    for (field, what, id) in refs {
        if let Some(id) = id {
            let only_active = match what {
                Ref::User => " AND active",
                _ => "",
            };
            let sql = format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE id = $1{only_active})",
                what.table()
            );
            let (exists,): (bool,) = sqlx::query_as(AssertSqlSafe(sql))
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
            if !exists {
                errors.push(FieldError::new(
                    *field,
                    // The id is not repeated: for another workspace's id, the answer must not differ
                    // from a made-up one's in anything but the field.
                    format!("no {} with that id", what.entity()),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ToolError::InvalidArguments(errors))
    }
}

/// True when a record with this owner belongs to someone other than the actor.
pub fn foreign(owner: Option<Uuid>, ctx: &Ctx) -> bool {
    owner.is_some_and(|o| o != ctx.actor.user_id)
}

/// A display name for a record, for previews.
pub async fn name_of(conn: &mut PgConnection, what: Ref, id: Uuid) -> Result<String, ToolError> {
    let sql = match what {
        Ref::Contact => "SELECT trim(first_name || ' ' || last_name) FROM contacts WHERE id = $1",
        Ref::Company => "SELECT name FROM companies WHERE id = $1",
        Ref::Deal => "SELECT name FROM deals WHERE id = $1",
        Ref::Task => "SELECT title FROM tasks WHERE id = $1",
        Ref::User => "SELECT name FROM users WHERE id = $1",
    };
    let row: Option<(String,)> = sqlx::query_as(sql).bind(id).fetch_optional(conn).await?;
    row.map(|(n,)| n).ok_or(ToolError::NotFound {
        entity: what.entity(),
        id: id.to_string(),
    })
}

/// Appends one field change to the (append-only) field history, made by `changed_by` at `at`
/// (as part of approved action `action_id`, if any). The one place field history is inserted:
/// the tools reach it through [`record_change`], which supplies the acting
/// user, action and clock.
#[allow(clippy::too_many_arguments)]
pub async fn insert_field_change(
    conn: &mut PgConnection,
    changed_by: Uuid,
    action_id: Option<Uuid>,
    at: DateTime<Utc>,
    entity_type: &str,
    entity_id: Uuid,
    field: &str,
    old: serde_json::Value,
    new: serde_json::Value,
    reason_code: Option<&str>,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO field_history (tenant_id, entity_type, entity_id, field, old_value, new_value,
             changed_by, reason_code, note, action_id, changed_at)
         VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(entity_type)
    .bind(entity_id)
    .bind(field)
    .bind(old)
    .bind(new)
    .bind(changed_by)
    .bind(reason_code)
    .bind(note)
    .bind(action_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where an activity is filed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Targets {
    pub contact_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    pub deal_id: Option<Uuid>,
}

/// Adds an activity to the timeline and, unless it is a `system` entry, marks the deals it
/// concerns as active: the deal it is filed on, and the open deals of the contact it is filed
/// on (`last_activity_at` only moves forward). The one place activities are inserted: the
/// tools reach it through [`add_activity`], which supplies the acting user and
/// action; an inbound webhook has neither (`actor_id` and `action_id` None). `now` is when it
/// is recorded, `occurred_at` when it happened.
#[allow(clippy::too_many_arguments)]
pub async fn insert_activity(
    conn: &mut PgConnection,
    actor_id: Option<Uuid>,
    action_id: Option<Uuid>,
    kind: &str,
    subject: Option<&str>,
    body: Option<&str>,
    targets: Targets,
    occurred_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Uuid, sqlx::Error> {
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO activities (tenant_id, kind, subject, body, contact_id, company_id, deal_id,
             actor_id, action_id, occurred_at, created_at)
         VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(kind)
    .bind(subject)
    .bind(body)
    .bind(targets.contact_id)
    .bind(targets.company_id)
    .bind(targets.deal_id)
    .bind(actor_id)
    .bind(action_id)
    .bind(occurred_at)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    if kind != "system" {
        sqlx::query(
            "UPDATE deals SET last_activity_at = greatest(coalesce(last_activity_at, $3), $3)
             WHERE id = $1 OR ($2::uuid IS NOT NULL AND contact_id = $2 AND closed_at IS NULL)",
        )
        .bind(targets.deal_id)
        .bind(targets.contact_id)
        .bind(occurred_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

/// Appends one field change to the (append-only) field history, as the actor, as part of this
/// call's action, now (see [`insert_field_change`]).
#[allow(clippy::too_many_arguments)]
pub async fn record_change(
    conn: &mut PgConnection,
    ctx: &Ctx,
    entity_type: &str,
    entity_id: Uuid,
    field: &str,
    old: Value,
    new: Value,
    reason_code: Option<&str>,
    note: Option<&str>,
) -> Result<(), ToolError> {
    insert_field_change(
        conn,
        ctx.actor.user_id,
        ctx.action_id,
        ctx.now,
        entity_type,
        entity_id,
        field,
        old,
        new,
        reason_code,
        note,
    )
    .await?;
    Ok(())
}

/// Adds an activity to the timeline, by the actor, as part of this call's action, and marks
/// the deals it concerns as active (see [`insert_activity`]).
pub async fn add_activity(
    conn: &mut PgConnection,
    ctx: &Ctx,
    kind: &str,
    subject: Option<&str>,
    body: Option<&str>,
    targets: Targets,
    occurred_at: DateTime<Utc>,
) -> Result<Uuid, ToolError> {
    Ok(insert_activity(
        conn,
        Some(ctx.actor.user_id),
        ctx.action_id,
        kind,
        subject,
        body,
        targets,
        occurred_at,
        ctx.now,
    )
    .await?)
}

/// Formats a moment in the actor's time zone for previews: `Fri 21 Nov 2026 10:00`.
pub fn local_time(ctx: &Ctx, at: DateTime<Utc>) -> String {
    at.with_timezone(&ctx.tz)
        .format("%a %-d %b %Y %H:%M")
        .to_string()
}

/// Start of the actor's local day `date`, in UTC (a zone that skips midnight: the first
/// instant after the gap).
pub fn local_midnight(ctx: &Ctx, date: chrono::NaiveDate) -> DateTime<Utc> {
    crate::outreach::quiet::at_local(ctx.tz, date, chrono::NaiveTime::MIN)
}

/// The actor's today as [start, end) in UTC, plus the local date.
pub fn today(ctx: &Ctx) -> (DateTime<Utc>, DateTime<Utc>, chrono::NaiveDate) {
    let date = ctx.now.with_timezone(&ctx.tz).date_naive();
    let start = local_midnight(ctx, date);
    let end = local_midnight(ctx, date.succ_opt().unwrap_or(date));
    (start, end, date)
}
