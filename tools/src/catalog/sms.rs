//! Texting: `draft_sms` (read: what a text would say), `send_sms` (contact: approved sends go
//! to the durable outbox), `create_sms_template` and `list_sms_templates`.
//!
//! A text is a body or a template; either may use `{first_name}`-style fields filled from the
//! contact's record. A field Heimdell does not know, or one the record has no value for, is an
//! error naming it: a text never goes out with a blank where a name should be.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::{Check, Targets, add_activity, checked, local_time};
use crate::domain::{Name, Text};
use crate::error::ToolError;
use crate::outreach::render::{self, FIELDS, MAX_BODY};
use crate::outreach::{
    self, Recipient, SendPlan, TwilioSettings, plan_sms, reason_text, recipient, require_settings,
    user_contact,
};
use crate::registry::{Channel, Ctx, Facts, Inspection, Tool, ToolKind};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsArgs {
    /// The contact to text.
    pub contact_id: Uuid,
    /// The text; may use fields such as {first_name} or {company}. Give this or template_id.
    #[serde(default)]
    #[schemars(length(min = 1, max = 1600))]
    pub body: Option<String>,
    /// An SMS template (see list_sms_templates) to fill in instead of a body.
    #[serde(default)]
    pub template_id: Option<Uuid>,
}

/// Where the text comes from.
pub enum Source {
    Body(Text),
    Template(Uuid),
}

pub struct SmsInput {
    contact_id: Uuid,
    source: Source,
}

impl Source {
    fn field(&self) -> &'static str {
        match self {
            Source::Body(_) => "body",
            Source::Template(_) => "template_id",
        }
    }
}

fn parse_sms(a: SmsArgs) -> Result<SmsInput, ToolError> {
    let mut c = Check::default();
    let source = match (a.body.as_deref(), a.template_id) {
        (Some(_), Some(_)) => {
            c.push("template_id", "give a body or a template_id, not both");
            None
        }
        (None, None) => {
            c.push("body", "give the text to send, or a template_id");
            None
        }
        (Some(b), None) => {
            c.text("body", b, MAX_BODY)
                .and_then(|t| match render::fields_used(t.as_str()) {
                    Ok(_) => Some(Source::Body(t)),
                    Err(m) => {
                        c.push("body", m);
                        None
                    }
                })
        }
        (None, Some(id)) => Some(Source::Template(id)),
    };
    c.finish()?;
    Ok(SmsInput {
        contact_id: a.contact_id,
        source: checked(source),
    })
}

/// A text worked out for one contact.
struct Composed {
    r: Recipient,
    /// The filled-in text, or why it cannot be filled in (a message for the source field).
    body: Result<String, String>,
}

async fn template_body(conn: &mut PgConnection, id: Uuid) -> Result<String, ToolError> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM sms_templates WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    body.ok_or_else(|| ToolError::field("template_id", "no SMS template with that id"))
}

async fn compose(conn: &mut PgConnection, ctx: &Ctx, i: &SmsInput) -> Result<Composed, ToolError> {
    let r = recipient(conn, i.contact_id).await?;
    let text = match &i.source {
        Source::Body(t) => t.as_str().to_string(),
        Source::Template(id) => template_body(conn, *id).await?,
    };
    let (sender, _) = user_contact(conn, ctx.actor.user_id).await?;
    let body = render::render(&text, &r.values(Some(&sender)));
    Ok(Composed { r, body })
}

fn excerpt(s: &str) -> String {
    let mut e: String = s.chars().take(160).collect();
    if s.chars().count() > 160 {
        e.push('…');
    }
    e
}

/// What the user is told about when an approved text goes.
fn plan_note(ctx: &Ctx, r: &Recipient, s: &TwilioSettings, from: &str, plan: &SendPlan) -> String {
    let tz = r.tz(s.tenant_tz);
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz)
            .format("%a %-d %b %Y %H:%M")
            .to_string()
    };
    let yours = local_time(ctx, plan.not_before);
    match plan.reason {
        Some("quiet_hours") => format!(
            "It is quiet hours for {} ({} {}, quiet {}); the text will be sent at {} their time ({} yours).",
            r.name(),
            ctx.now.with_timezone(&tz).format("%H:%M"),
            tz.name(),
            s.quiet.describe(),
            local(plan.not_before),
            yours
        ),
        Some("daily_cap") => format!(
            "The workspace's daily limit of {} texts is reached; the text will be sent at {} ({} their time).",
            s.daily_cap,
            yours,
            local(plan.not_before)
        ),
        Some("rate_limit") => format!(
            "The number {from} has reached its limit of {} texts a minute; the text is queued and goes out as soon as the limit allows.",
            s.per_number_per_minute
        ),
        _ => "The text is queued and will be sent in a moment.".to_string(),
    }
}

pub struct DraftSms;

impl Tool for DraftSms {
    type Args = SmsArgs;
    type Input = SmsInput;
    const NAME: &'static str = "draft_sms";
    const KIND: ToolKind = ToolKind::Read;
    const DESCRIPTION: &'static str = "Draft a text to a contact without sending it: the filled-in text, its length in SMS segments, and whether and when it could be sent (opt-outs, quiet hours, limits).";

    fn parse(_ctx: &Ctx, a: SmsArgs) -> Result<SmsInput, ToolError> {
        parse_sms(a)
    }

    async fn inspect(
        conn: &mut PgConnection,
        _ctx: &Ctx,
        i: &SmsInput,
    ) -> Result<Inspection, ToolError> {
        let r = recipient(conn, i.contact_id).await?;
        Ok(Inspection {
            facts: Facts::default(),
            preview: format!("Draft a text to {}", r.name()),
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, i: SmsInput) -> Result<Value, ToolError> {
        let c = compose(conn, ctx, &i).await?;
        let body = c.body.map_err(|m| ToolError::field(i.source.field(), m))?;
        let (encoding, segments) = render::segments(&body);
        let settings = outreach::settings(conn).await?;
        let blocked = c.r.blocked(Channel::Sms).map(reason_text).or(settings
            .is_none()
            .then_some("Twilio is not connected for this workspace"));
        let mut out = json!({
            "contact_id": c.r.id,
            "contact_name": c.r.name(),
            "to": c.r.number().map(|p| p.as_str().to_string()),
            "body": body,
            "characters": body.chars().count(),
            "segments": segments,
            "encoding": encoding,
            "can_send": blocked.is_none(),
            "blocked_reason": blocked,
        });
        if let (Some(s), None) = (&settings, blocked) {
            let from = s.sender_for(c.r.id).to_string();
            let plan = plan_sms(conn, s, &from, c.r.tz(s.tenant_tz), ctx.now).await?;
            out["from"] = json!(from);
            out["send_at"] = json!(plan.not_before);
            out["wait_reason"] = json!(plan.reason);
            out["note"] = json!(plan_note(ctx, &c.r, s, &from, &plan));
        }
        Ok(out)
    }
}

pub struct SendSms;

impl Tool for SendSms {
    type Args = SmsArgs;
    type Input = SmsInput;
    const NAME: &'static str = "send_sms";
    const KIND: ToolKind = ToolKind::Contact;
    const DESCRIPTION: &'static str = "Text a contact (after approval). Refused for contacts who opted out, were anonymised or have no valid number; inside their quiet hours or over the sending limits the text waits and you are told until when.";

    fn parse(_ctx: &Ctx, a: SmsArgs) -> Result<SmsInput, ToolError> {
        parse_sms(a)
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        i: &SmsInput,
    ) -> Result<Inspection, ToolError> {
        let c = compose(conn, ctx, i).await?;
        let s = require_settings(conn).await?;
        let facts = c.r.facts(Channel::Sms, ctx, None);
        let number = c.r.phone.clone().unwrap_or_else(|| "no number".to_string());
        if c.r.blocked(Channel::Sms).is_some() {
            // The policies refuse it with their reason; no need to fail on the text first.
            let shown = c.body.unwrap_or_else(|_| "…".into());
            return Ok(Inspection {
                facts,
                preview: format!("Text {} ({number}): “{}”", c.r.name(), excerpt(&shown)),
            });
        }
        let body = c.body.map_err(|m| ToolError::field(i.source.field(), m))?;
        let from = s.sender_for(c.r.id).to_string();
        let plan = plan_sms(conn, &s, &from, c.r.tz(s.tenant_tz), ctx.now).await?;
        let mut preview = format!("Text {} at {number}: “{}”", c.r.name(), excerpt(&body));
        if plan.reason.is_some() {
            preview.push_str(" — ");
            preview.push_str(&plan_note(ctx, &c.r, &s, &from, &plan));
        }
        Ok(Inspection { facts, preview })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, i: SmsInput) -> Result<Value, ToolError> {
        let action_id = ctx.action_id.ok_or_else(|| {
            ToolError::Conflict("a text is sent only as an approved action".into())
        })?;
        let c = compose(conn, ctx, &i).await?;
        let s = require_settings(conn).await?;
        if let Some(why) = c.r.blocked(Channel::Sms) {
            return Err(ToolError::Conflict(format!(
                "Not sent: {}.",
                reason_text(why)
            )));
        }
        let body = c.body.map_err(|m| ToolError::field(i.source.field(), m))?;
        let to =
            c.r.number()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
        let from = s.sender_for(c.r.id).to_string();
        let plan = plan_sms(conn, &s, &from, c.r.tz(s.tenant_tz), ctx.now).await?;
        let status = if plan.reason.is_some() {
            "scheduled"
        } else {
            "queued"
        };
        let activity_id = add_activity(
            conn,
            ctx,
            "sms",
            Some(&format!("Text to {} — {status}", c.r.name())),
            Some(&body),
            Targets {
                contact_id: Some(c.r.id),
                ..Targets::default()
            },
            ctx.now,
        )
        .await?;
        let (message_id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO messages (tenant_id, direction, contact_id, activity_id, action_id, requested_by,
                 from_number, to_number, body, status, queued_reason, send_after, created_at, updated_at)
             VALUES (app_tenant(), 'outbound', $1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $10)
             RETURNING id",
        )
        .bind(c.r.id)
        .bind(activity_id)
        .bind(action_id)
        .bind(ctx.actor.user_id)
        .bind(&from)
        .bind(&to)
        .bind(&body)
        .bind(plan.reason)
        .bind(plan.not_before)
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
        let (job_id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO outbox_jobs (tenant_id, kind, idempotency_key, action_id, message_id,
                 not_before, reason, created_at, updated_at)
             VALUES (app_tenant(), 'sms', $1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(format!("sms:{action_id}"))
        .bind(action_id)
        .bind(message_id)
        .bind(plan.not_before)
        .bind(plan.reason)
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
        outreach::notify_outbox(conn).await?;
        let (encoding, segments) = render::segments(&body);
        Ok(json!({
            "message_id": message_id,
            "activity_id": activity_id,
            "outbox_job_id": job_id,
            "contact_id": c.r.id,
            "to": to,
            "from": from,
            "body": body,
            "segments": segments,
            "encoding": encoding,
            "status": status,
            "send_at": plan.not_before,
            "wait_reason": plan.reason,
            "note": plan_note(ctx, &c.r, &s, &from, &plan),
        }))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSmsTemplateArgs {
    /// A short name, unique in the workspace, e.g. "Running late".
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// The text, with fields such as {first_name}, {company} or {sender_name}.
    #[schemars(length(min = 1, max = 1600))]
    pub body: String,
}

pub struct NewTemplate {
    name: Name,
    body: Text,
    fields: Vec<&'static str>,
}

pub struct CreateSmsTemplate;

async fn name_taken(conn: &mut PgConnection, name: &str) -> Result<bool, ToolError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sms_templates WHERE lower(name) = lower($1))",
    )
    .bind(name)
    .fetch_one(conn)
    .await?)
}

impl Tool for CreateSmsTemplate {
    type Args = CreateSmsTemplateArgs;
    type Input = NewTemplate;
    const NAME: &'static str = "create_sms_template";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str = "Create a reusable SMS template. Its text may use {first_name}, {last_name}, {full_name}, {company}, {title}, {email}, {phone}, {owner_name} and {sender_name}.";

    fn parse(_ctx: &Ctx, a: CreateSmsTemplateArgs) -> Result<NewTemplate, ToolError> {
        let mut c = Check::default();
        let name = c.name("name", &a.name, 100);
        let body = c.text("body", &a.body, MAX_BODY);
        let fields = body
            .as_ref()
            .and_then(|b| match render::fields_used(b.as_str()) {
                Ok(f) => Some(f),
                Err(m) => {
                    c.push("body", m);
                    None
                }
            });
        c.finish()?;
        Ok(NewTemplate {
            name: checked(name),
            body: checked(body),
            fields: checked(fields),
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        _ctx: &Ctx,
        n: &NewTemplate,
    ) -> Result<Inspection, ToolError> {
        if name_taken(conn, n.name.as_str()).await? {
            return Err(ToolError::field(
                "name",
                "another SMS template already has this name",
            ));
        }
        Ok(Inspection {
            facts: Facts::default(),
            preview: format!(
                "Create SMS template “{}”: “{}”",
                n.name,
                excerpt(n.body.as_str())
            ),
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, n: NewTemplate) -> Result<Value, ToolError> {
        if name_taken(conn, n.name.as_str()).await? {
            return Err(ToolError::field(
                "name",
                "another SMS template already has this name",
            ));
        }
        let (id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO sms_templates (tenant_id, name, body, created_by, action_id, created_at)
             VALUES (app_tenant(), $1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(n.name.as_str())
        .bind(n.body.as_str())
        .bind(ctx.actor.user_id)
        .bind(ctx.action_id)
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(json!({
            "template": {"id": id, "name": n.name.as_str(), "body": n.body.as_str(), "fields": n.fields}
        }))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSmsTemplatesArgs {}

pub struct ListSmsTemplates;

impl Tool for ListSmsTemplates {
    type Args = ListSmsTemplatesArgs;
    type Input = ();
    const NAME: &'static str = "list_sms_templates";
    const KIND: ToolKind = ToolKind::Read;
    const DESCRIPTION: &'static str =
        "List the workspace's SMS templates and the fields a text may use.";

    fn parse(_ctx: &Ctx, _a: ListSmsTemplatesArgs) -> Result<(), ToolError> {
        Ok(())
    }

    async fn inspect(
        _conn: &mut PgConnection,
        _ctx: &Ctx,
        _i: &(),
    ) -> Result<Inspection, ToolError> {
        Ok(Inspection {
            facts: Facts::default(),
            preview: "List SMS templates".into(),
        })
    }

    async fn run(conn: &mut PgConnection, _ctx: &Ctx, _i: ()) -> Result<Value, ToolError> {
        let rows: Vec<(Uuid, String, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT id, name, body, created_at FROM sms_templates ORDER BY lower(name) LIMIT 500",
        )
        .fetch_all(conn)
        .await?;
        let templates: Vec<Value> = rows
            .into_iter()
            .map(|(id, name, body, created_at)| {
                let fields = render::fields_used(&body).unwrap_or_default();
                json!({"id": id, "name": name, "body": body, "fields": fields, "created_at": created_at})
            })
            .collect();
        Ok(json!({ "templates": templates, "fields": FIELDS }))
    }
}
