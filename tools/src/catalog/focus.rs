//! `daily_focus`: what deserves attention today, each item with the reason it is on the list.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::{local_time, today};
use super::tasks::Scope;
use crate::domain::Currency;
use crate::error::ToolError;
use crate::records::{self, TaskFilter};
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DailyFocusArgs {
    /// `me` (default) for my list, `team` for everyone's (managers and admins).
    #[serde(default)]
    pub scope: Option<Scope>,
    /// A deal counts as stale after this many days without activity (default 14).
    #[serde(default)]
    #[schemars(range(min = 1, max = 365))]
    pub stale_days: Option<u32>,
}

pub struct FocusQuery {
    scope: Scope,
    stale_days: i64,
}

/// One thing to look at, and why.
#[derive(Debug, Serialize)]
pub struct FocusItem {
    /// task_overdue, task_due_today, deal_stale, deal_closing_this_month, deal_close_date_passed.
    pub kind: &'static str,
    pub entity_type: &'static str,
    pub id: Uuid,
    pub title: String,
    /// The reason it is on the list, in words.
    pub why: String,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub expected_close: Option<NaiveDate>,
    pub value: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OpenDeal {
    id: Uuid,
    name: String,
    owner_id: Option<Uuid>,
    owner_name: Option<String>,
    value_minor: i64,
    currency: String,
    expected_close: Option<NaiveDate>,
    last_touch: DateTime<Utc>,
    stage_name: String,
}

pub struct DailyFocus;

impl Tool for DailyFocus {
    type Args = DailyFocusArgs;
    type Input = FocusQuery;
    const NAME: &'static str = "daily_focus";
    const KIND: ToolKind = ToolKind::Read;
    const DESCRIPTION: &'static str = "Today's focus list: overdue and due-today tasks, deals with no activity for N days, and deals expected to close this month, each with why it is listed.";

    fn parse(_ctx: &Ctx, a: DailyFocusArgs) -> Result<FocusQuery, ToolError> {
        Ok(FocusQuery {
            scope: a.scope.unwrap_or_default(),
            stale_days: i64::from(a.stale_days.unwrap_or(14)),
        })
    }

    async fn inspect(
        _conn: &mut PgConnection,
        _ctx: &Ctx,
        q: &FocusQuery,
    ) -> Result<Inspection, ToolError> {
        let whose = if q.scope == Scope::Team {
            "the team's"
        } else {
            "my"
        };
        Ok(Inspection {
            facts: Facts {
                team_scope: q.scope == Scope::Team,
                ..Facts::default()
            },
            preview: format!("Show {whose} focus list for today"),
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, q: FocusQuery) -> Result<Value, ToolError> {
        let (start, end, date) = today(ctx);
        let owner = (q.scope == Scope::Me).then_some(ctx.actor.user_id);
        let mut items = Vec::new();

        let overdue = TaskFilter {
            owner_id: owner,
            open_only: true,
            due_before: Some(start),
            limit: 100,
            ..Default::default()
        };
        for t in records::find_tasks(conn, &overdue).await? {
            let due = t.due_at.unwrap_or(start);
            let days = (start - due).num_days() + 1;
            items.push(FocusItem {
                kind: "task_overdue",
                entity_type: "task",
                id: t.id,
                why: format!(
                    "Overdue: was due {} ({} day{} ago)",
                    local_time(ctx, due),
                    days,
                    if days == 1 { "" } else { "s" }
                ),
                title: t.title,
                owner_id: t.owner_id,
                owner_name: t.owner_name,
                due_at: t.due_at,
                expected_close: None,
                value: None,
            });
        }
        let due_today = TaskFilter {
            owner_id: owner,
            open_only: true,
            due_from: Some(start),
            due_before: Some(end),
            limit: 100,
            ..Default::default()
        };
        for t in records::find_tasks(conn, &due_today).await? {
            let due = t.due_at.unwrap_or(start);
            items.push(FocusItem {
                kind: "task_due_today",
                entity_type: "task",
                id: t.id,
                why: format!(
                    "Due today at {}",
                    due.with_timezone(&ctx.tz).format("%H:%M")
                ),
                title: t.title,
                owner_id: t.owner_id,
                owner_name: t.owner_name,
                due_at: t.due_at,
                expected_close: None,
                value: None,
            });
        }

        let month_start = date.with_day(1).unwrap_or(date);
        let next_month = if month_start.month() == 12 {
            NaiveDate::from_ymd_opt(month_start.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(month_start.year(), month_start.month() + 1, 1)
        }
        .unwrap_or(date);
        let stale_before = ctx.now - Duration::days(q.stale_days);
        let deals = sqlx::query_as::<_, OpenDeal>(
            "SELECT d.id, d.name, d.owner_id, u.name AS owner_name, d.value_minor, d.currency, d.expected_close,
                    coalesce(d.last_activity_at, d.created_at) AS last_touch, s.name AS stage_name
             FROM deals d JOIN stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
             LEFT JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.owner_id
             WHERE NOT s.is_won AND NOT s.is_lost AND ($1::uuid IS NULL OR d.owner_id = $1)
               AND (coalesce(d.last_activity_at, d.created_at) < $2 OR d.expected_close < $3)
             ORDER BY d.expected_close NULLS LAST, d.id LIMIT 200",
        )
        .bind(owner)
        .bind(stale_before)
        .bind(next_month)
        .fetch_all(&mut *conn)
        .await?;
        for d in deals {
            let value = Some(Currency::format_amount(d.value_minor, &d.currency));
            let mut push = |kind: &'static str, why: String| {
                items.push(FocusItem {
                    kind,
                    entity_type: "deal",
                    id: d.id,
                    title: d.name.clone(),
                    why,
                    owner_id: d.owner_id,
                    owner_name: d.owner_name.clone(),
                    due_at: None,
                    expected_close: d.expected_close,
                    value: value.clone(),
                });
            };
            if let Some(close) = d.expected_close {
                if close < date {
                    push(
                        "deal_close_date_passed",
                        format!(
                            "Expected to close on {}, still open in {}",
                            close.format("%-d %b"),
                            d.stage_name
                        ),
                    );
                } else if close >= month_start && close < next_month {
                    push(
                        "deal_closing_this_month",
                        format!(
                            "Expected to close on {} ({})",
                            close.format("%a %-d %b"),
                            d.stage_name
                        ),
                    );
                }
            }
            if d.last_touch < stale_before {
                let days = (ctx.now - d.last_touch).num_days();
                push(
                    "deal_stale",
                    format!(
                        "No activity for {days} days (last {})",
                        local_time(ctx, d.last_touch)
                    ),
                );
            }
        }
        Ok(json!({
            "scope": q.scope,
            "date": date,
            "timezone": ctx.tz.name(),
            "count": items.len(),
            "items": items,
        }))
    }
}
