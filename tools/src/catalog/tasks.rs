//! `list_tasks`, `create_task`, `complete_task`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::{
    Check, Ref, Targets, add_activity, check_refs, checked, foreign, local_time, name_of, owner_of,
    today,
};
use crate::domain::{Name, Text};
use crate::error::ToolError;
use crate::records::{self, TaskFilter};
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

/// Whose data a list covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The requester's own.
    #[default]
    Me,
    /// Everyone's in the workspace (managers and admins).
    Team,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    #[default]
    Open,
    Done,
    All,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Due {
    /// Due before today.
    Overdue,
    /// Due today.
    Today,
    /// Due after today.
    Upcoming,
    #[default]
    Any,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTasksArgs {
    /// `me` (default) or `team`.
    #[serde(default)]
    pub scope: Option<Scope>,
    /// `open` (default), `done` or `all`.
    #[serde(default)]
    pub status: Option<TaskStatus>,
    /// `overdue`, `today`, `upcoming` or `any` (default), in the requester's time zone.
    #[serde(default)]
    pub due: Option<Due>,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    #[serde(default)]
    pub deal_id: Option<Uuid>,
    /// At most this many (default 50).
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

pub struct TaskQuery {
    scope: Scope,
    status: TaskStatus,
    due: Due,
    contact_id: Option<Uuid>,
    company_id: Option<Uuid>,
    deal_id: Option<Uuid>,
    limit: i64,
}

pub struct ListTasks;

impl Tool for ListTasks {
    type Args = ListTasksArgs;
    type Input = TaskQuery;
    const NAME: &'static str = "list_tasks";
    const KIND: ToolKind = ToolKind::Read;
    const DESCRIPTION: &'static str = "List tasks: mine or the team's, open or done, overdue/today/upcoming, optionally for one contact, company or deal.";

    fn parse(_ctx: &Ctx, a: ListTasksArgs) -> Result<TaskQuery, ToolError> {
        Ok(TaskQuery {
            scope: a.scope.unwrap_or_default(),
            status: a.status.unwrap_or_default(),
            due: a.due.unwrap_or_default(),
            contact_id: a.contact_id,
            company_id: a.company_id,
            deal_id: a.deal_id,
            limit: i64::from(a.limit.unwrap_or(50)),
        })
    }

    async fn inspect(
        _conn: &mut PgConnection,
        _ctx: &Ctx,
        q: &TaskQuery,
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
            preview: format!("List {whose} tasks"),
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, q: TaskQuery) -> Result<Value, ToolError> {
        let (start, end, _) = today(ctx);
        let (due_from, due_before) = match q.due {
            Due::Overdue => (None, Some(start)),
            Due::Today => (Some(start), Some(end)),
            Due::Upcoming => (Some(end), None),
            Due::Any => (None, None),
        };
        let filter = TaskFilter {
            owner_id: (q.scope == Scope::Me).then_some(ctx.actor.user_id),
            open_only: q.status == TaskStatus::Open,
            due_before,
            due_from,
            contact_id: q.contact_id,
            company_id: q.company_id,
            deal_id: q.deal_id,
            limit: q.limit,
        };
        let mut tasks = records::find_tasks(conn, &filter).await?;
        if q.status == TaskStatus::Done {
            tasks.retain(|t| t.status == "done");
        }
        Ok(json!({ "tasks": tasks }))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskArgs {
    /// What to do, e.g. "Call Jane about pricing".
    #[schemars(length(min = 1, max = 300))]
    pub title: String,
    /// When it is due, as an RFC 3339 date-time with offset.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schemars(length(max = 5000))]
    pub notes: Option<String>,
    /// Who should do it (default: the requester).
    #[serde(default)]
    pub owner_id: Option<Uuid>,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    #[serde(default)]
    pub deal_id: Option<Uuid>,
}

pub struct NewTask {
    title: Name,
    due_at: Option<DateTime<Utc>>,
    notes: Option<Text>,
    owner_id: Uuid,
    targets: Targets,
}

pub struct CreateTask;

impl CreateTask {
    async fn refs(conn: &mut PgConnection, n: &NewTask) -> Result<(), ToolError> {
        check_refs(
            conn,
            &[
                ("owner_id", Ref::User, Some(n.owner_id)),
                ("contact_id", Ref::Contact, n.targets.contact_id),
                ("company_id", Ref::Company, n.targets.company_id),
                ("deal_id", Ref::Deal, n.targets.deal_id),
            ],
        )
        .await
    }
}

impl Tool for CreateTask {
    type Args = CreateTaskArgs;
    type Input = NewTask;
    const NAME: &'static str = "create_task";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str = "Create a task (a to-do) with an optional due time, for the requester or a teammate, optionally about a contact, company or deal.";

    fn parse(ctx: &Ctx, a: CreateTaskArgs) -> Result<NewTask, ToolError> {
        let mut c = Check::default();
        let title = c.name("title", &a.title, 300);
        let notes = c.opt_text("notes", a.notes.as_deref(), 5000);
        c.finish()?;
        Ok(NewTask {
            title: checked(title),
            due_at: a.due_at,
            notes,
            owner_id: a.owner_id.unwrap_or(ctx.actor.user_id),
            targets: Targets {
                contact_id: a.contact_id,
                company_id: a.company_id,
                deal_id: a.deal_id,
            },
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        n: &NewTask,
    ) -> Result<Inspection, ToolError> {
        Self::refs(conn, n).await?;
        let mut preview = format!("Create task “{}”", n.title);
        if let Some(due) = n.due_at {
            preview.push_str(&format!(" due {}", local_time(ctx, due)));
        }
        if let Some(id) = n.targets.contact_id {
            preview.push_str(&format!(
                " about {}",
                name_of(conn, Ref::Contact, id).await?
            ));
        } else if let Some(id) = n.targets.deal_id {
            preview.push_str(&format!(
                " about deal “{}”",
                name_of(conn, Ref::Deal, id).await?
            ));
        } else if let Some(id) = n.targets.company_id {
            preview.push_str(&format!(
                " about {}",
                name_of(conn, Ref::Company, id).await?
            ));
        }
        if n.owner_id != ctx.actor.user_id {
            preview.push_str(&format!(
                ", assigned to {}",
                name_of(conn, Ref::User, n.owner_id).await?
            ));
        }
        Ok(Inspection {
            facts: Facts {
                foreign_owned: foreign(Some(n.owner_id), ctx),
                ..Facts::default()
            },
            preview,
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, n: NewTask) -> Result<Value, ToolError> {
        Self::refs(conn, &n).await?;
        let (id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO tasks (tenant_id, title, notes, due_at, owner_id, contact_id, company_id, deal_id,
                 created_by, created_at, updated_at)
             VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(n.title.as_str())
        .bind(n.notes.as_ref().map(Text::as_str))
        .bind(n.due_at)
        .bind(n.owner_id)
        .bind(n.targets.contact_id)
        .bind(n.targets.company_id)
        .bind(n.targets.deal_id)
        .bind(ctx.actor.user_id)
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(json!({ "task": records::get_task(conn, id).await? }))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteTaskArgs {
    /// The task to mark done.
    pub task_id: Uuid,
}

pub struct CompleteTask;

impl Tool for CompleteTask {
    type Args = CompleteTaskArgs;
    type Input = Uuid;
    const NAME: &'static str = "complete_task";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str = "Mark a task done.";

    fn parse(_ctx: &Ctx, a: CompleteTaskArgs) -> Result<Uuid, ToolError> {
        Ok(a.task_id)
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        id: &Uuid,
    ) -> Result<Inspection, ToolError> {
        let task = records::get_task(conn, *id).await?;
        if task.status == "done" {
            return Err(ToolError::Conflict(format!(
                "task “{}” is already done",
                task.title
            )));
        }
        Ok(Inspection {
            facts: Facts {
                foreign_owned: foreign(task.owner_id, ctx),
                ..Facts::default()
            },
            preview: format!("Mark task “{}” done", task.title),
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, id: Uuid) -> Result<Value, ToolError> {
        owner_of(conn, Ref::Task, id).await?;
        let done: Option<(String,)> = sqlx::query_as(
            "UPDATE tasks SET status = 'done', completed_at = $2, updated_at = $2, version = version + 1
             WHERE id = $1 AND status = 'open' RETURNING title",
        )
        .bind(id)
        .bind(ctx.now)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((title,)) = done else {
            return Err(ToolError::Conflict("the task is already done".into()));
        };
        record_done(conn, ctx, id).await?;
        let task = records::get_task(conn, id).await?;
        let targets = Targets {
            contact_id: task.contact_id,
            company_id: task.company_id,
            deal_id: task.deal_id,
        };
        add_activity(
            conn,
            ctx,
            "system",
            Some(&format!("Task done: {title}")),
            None,
            targets,
            ctx.now,
        )
        .await?;
        Ok(json!({ "task": task }))
    }
}

async fn record_done(conn: &mut PgConnection, ctx: &Ctx, id: Uuid) -> Result<(), ToolError> {
    super::common::record_change(
        conn,
        ctx,
        "task",
        id,
        "status",
        json!("open"),
        json!("done"),
        None,
        None,
    )
    .await
}
