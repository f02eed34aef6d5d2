//! `log_activity`: notes, calls, meetings, emails and texts on the timeline.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::{Check, Ref, Targets, add_activity, check_refs, checked, name_of};
use crate::domain::{Name, Text};
use crate::error::ToolError;
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActivityKind {
    Note,
    Call,
    Meeting,
    Email,
    Sms,
}

impl ActivityKind {
    fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Note => "note",
            ActivityKind::Call => "call",
            ActivityKind::Meeting => "meeting",
            ActivityKind::Email => "email",
            ActivityKind::Sms => "sms",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogActivityArgs {
    /// note, call, meeting, email or sms.
    pub kind: ActivityKind,
    /// What happened, e.g. "She wants pricing for 50 seats".
    #[schemars(length(min = 1, max = 10000))]
    pub body: String,
    /// A short headline.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub subject: Option<String>,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    #[serde(default)]
    pub deal_id: Option<Uuid>,
    /// When it happened (default: now).
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

pub struct NewActivity {
    kind: ActivityKind,
    body: Text,
    subject: Option<Name>,
    targets: Targets,
    occurred_at: Option<DateTime<Utc>>,
}

pub struct LogActivity;

impl Tool for LogActivity {
    type Args = LogActivityArgs;
    type Input = NewActivity;
    const NAME: &'static str = "log_activity";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str = "Log a note, call, meeting, email or text on the timeline of a contact, company and/or deal (at least one).";

    fn parse(_ctx: &Ctx, a: LogActivityArgs) -> Result<NewActivity, ToolError> {
        let mut c = Check::default();
        let body = c.text("body", &a.body, 10000);
        let subject = c.opt_name("subject", a.subject.as_deref(), 200);
        if a.contact_id.is_none() && a.company_id.is_none() && a.deal_id.is_none() {
            c.push(
                "contact_id",
                "give a contact_id, company_id or deal_id to file the activity under",
            );
        }
        c.finish()?;
        Ok(NewActivity {
            kind: a.kind,
            body: checked(body),
            subject,
            targets: Targets {
                contact_id: a.contact_id,
                company_id: a.company_id,
                deal_id: a.deal_id,
            },
            occurred_at: a.occurred_at,
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        _ctx: &Ctx,
        n: &NewActivity,
    ) -> Result<Inspection, ToolError> {
        refs(conn, &n.targets).await?;
        let on = match (
            n.targets.contact_id,
            n.targets.deal_id,
            n.targets.company_id,
        ) {
            (Some(id), _, _) => name_of(conn, Ref::Contact, id).await?,
            (None, Some(id), _) => format!("deal “{}”", name_of(conn, Ref::Deal, id).await?),
            (None, None, Some(id)) => name_of(conn, Ref::Company, id).await?,
            (None, None, None) => String::new(),
        };
        let excerpt: String = n.body.as_str().chars().take(80).collect();
        Ok(Inspection {
            facts: Facts::default(),
            preview: format!("Log a {} with {on}: “{excerpt}”", n.kind.as_str()),
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, n: NewActivity) -> Result<Value, ToolError> {
        refs(conn, &n.targets).await?;
        let at = n.occurred_at.unwrap_or(ctx.now);
        let subject = n.subject.as_ref().map(Name::as_str);
        let id = add_activity(
            conn,
            ctx,
            n.kind.as_str(),
            subject,
            Some(n.body.as_str()),
            n.targets,
            at,
        )
        .await?;
        Ok(json!({ "activity_id": id, "kind": n.kind.as_str(), "occurred_at": at }))
    }
}

async fn refs(conn: &mut PgConnection, t: &Targets) -> Result<(), ToolError> {
    check_refs(
        conn,
        &[
            ("contact_id", Ref::Contact, t.contact_id),
            ("company_id", Ref::Company, t.company_id),
            ("deal_id", Ref::Deal, t.deal_id),
        ],
    )
    .await
}
