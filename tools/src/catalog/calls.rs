//! Calling: `start_call` (contact: click-to-call as a bridge, where Twilio rings the rep's own
//! phone first and then connects the contact) and `set_call_disposition` (the rep's note of how
//! it went).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::{Check, Targets, add_activity, local_time};
use crate::domain::Text;
use crate::error::ToolError;
use crate::outreach::{
    self, Recipient, TwilioSettings, reason_text, recipient, refresh_call_activity,
    require_settings, user_contact, valid_e164,
};
use crate::registry::{Channel, Ctx, Facts, Inspection, Tool, ToolKind};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartCallArgs {
    /// The contact to call.
    pub contact_id: Uuid,
}

pub struct StartCall;

/// The contact, the settings and the rep's own number for a bridged call.
struct Bridge {
    r: Recipient,
    s: TwilioSettings,
    rep_number: String,
}

async fn bridge(conn: &mut PgConnection, ctx: &Ctx, contact_id: Uuid) -> Result<Bridge, ToolError> {
    let r = recipient(conn, contact_id).await?;
    let s = require_settings(conn).await?;
    let (_, phone) = user_contact(conn, ctx.actor.user_id).await?;
    let rep_number = phone
        .as_deref()
        .and_then(valid_e164)
        .map(|p| p.as_str().to_string())
        .ok_or_else(|| {
            ToolError::Conflict(
                "Your profile has no phone number in E.164 form (a plus sign, the country code, then the number): Heimdell rings your own phone first and then connects the contact. Ask an admin to add it.".into(),
            )
        })?;
    Ok(Bridge { r, s, rep_number })
}

impl Tool for StartCall {
    type Args = StartCallArgs;
    type Input = Uuid;
    const NAME: &'static str = "start_call";
    const KIND: ToolKind = ToolKind::Contact;
    const DESCRIPTION: &'static str = "Call a contact (after approval): Heimdell rings your own phone first, then connects the contact. Refused for do-not-call or anonymised contacts, contacts without a valid number, and during the contact's quiet hours.";

    fn parse(_ctx: &Ctx, a: StartCallArgs) -> Result<Uuid, ToolError> {
        Ok(a.contact_id)
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        contact_id: &Uuid,
    ) -> Result<Inspection, ToolError> {
        let b = bridge(conn, ctx, *contact_id).await?;
        let tz = b.r.tz(b.s.tenant_tz);
        let facts = b.r.facts(Channel::Call, ctx, Some((b.s.quiet, tz)));
        let mut preview = format!(
            "Call {} at {}: Heimdell rings your phone ({}) first, then connects them",
            b.r.name(),
            b.r.phone.as_deref().unwrap_or("no number"),
            b.rep_number
        );
        if b.s.recording_enabled {
            preview.push_str("; the call is recorded after a consent notice");
        }
        Ok(Inspection { facts, preview })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, contact_id: Uuid) -> Result<Value, ToolError> {
        let action_id = ctx.action_id.ok_or_else(|| {
            ToolError::Conflict("a call is placed only as an approved action".into())
        })?;
        let b = bridge(conn, ctx, contact_id).await?;
        if let Some(why) = b.r.blocked(Channel::Call) {
            return Err(ToolError::Conflict(format!(
                "Not called: {}.",
                reason_text(why)
            )));
        }
        let tz = b.r.tz(b.s.tenant_tz);
        if let Some(until) = b.s.quiet.next_allowed(ctx.now, tz) {
            return Err(ToolError::Conflict(format!(
                "Not called: it is quiet hours for {} until {}.",
                b.r.name(),
                local_time(ctx, until)
            )));
        }
        let contact_number =
            b.r.number()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
        let from = b.s.sender_for(b.r.id).to_string();
        let activity_id = add_activity(
            conn,
            ctx,
            "call",
            Some(&format!("Call with {} — queued", b.r.name())),
            None,
            Targets {
                contact_id: Some(b.r.id),
                ..Targets::default()
            },
            ctx.now,
        )
        .await?;
        let (call_id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO calls (tenant_id, contact_id, user_id, activity_id, action_id, from_number,
                 rep_number, contact_number, status, recording, created_at, updated_at)
             VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $9) RETURNING id",
        )
        .bind(b.r.id)
        .bind(ctx.actor.user_id)
        .bind(activity_id)
        .bind(action_id)
        .bind(&from)
        .bind(&b.rep_number)
        .bind(&contact_number)
        .bind(b.s.recording_enabled)
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO outbox_jobs (tenant_id, kind, idempotency_key, action_id, call_id, not_before,
                 created_at, updated_at)
             VALUES (app_tenant(), 'call', $1, $2, $3, $4, $4, $4)",
        )
        .bind(format!("call:{action_id}"))
        .bind(action_id)
        .bind(call_id)
        .bind(ctx.now)
        .execute(&mut *conn)
        .await?;
        outreach::notify_outbox(conn).await?;
        Ok(json!({
            "call_id": call_id,
            "activity_id": activity_id,
            "contact_id": b.r.id,
            "status": "queued",
            "rep_number": b.rep_number,
            "recording": b.s.recording_enabled,
            "note": format!(
                "Heimdell will ring your phone ({}) in a moment; when you answer, it connects {}.",
                b.rep_number,
                b.r.name()
            ),
        }))
    }
}

/// How a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Connected,
    LeftVoicemail,
    NoAnswer,
    Busy,
    WrongNumber,
    NotInterested,
    CallbackRequested,
    MeetingBooked,
    Other,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Connected => "connected",
            Disposition::LeftVoicemail => "left_voicemail",
            Disposition::NoAnswer => "no_answer",
            Disposition::Busy => "busy",
            Disposition::WrongNumber => "wrong_number",
            Disposition::NotInterested => "not_interested",
            Disposition::CallbackRequested => "callback_requested",
            Disposition::MeetingBooked => "meeting_booked",
            Disposition::Other => "other",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCallDispositionArgs {
    /// The call (from start_call's result or the contact's timeline).
    pub call_id: Uuid,
    /// connected, left_voicemail, no_answer, busy, wrong_number, not_interested,
    /// callback_requested, meeting_booked or other.
    pub disposition: Disposition,
    /// A few words on how it went.
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub note: Option<String>,
}

pub struct CallOutcome {
    call_id: Uuid,
    disposition: Disposition,
    note: Option<Text>,
}

pub struct SetCallDisposition;

async fn call_of(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<(Uuid, String, chrono::DateTime<chrono::Utc>), ToolError> {
    sqlx::query_as(
        "SELECT k.user_id, trim(c.first_name || ' ' || c.last_name), k.created_at
         FROM calls k JOIN contacts c ON c.tenant_id = k.tenant_id AND c.id = k.contact_id
         WHERE k.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(ToolError::NotFound {
        entity: "call",
        id: id.to_string(),
    })
}

impl Tool for SetCallDisposition {
    type Args = SetCallDispositionArgs;
    type Input = CallOutcome;
    const NAME: &'static str = "set_call_disposition";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str =
        "Record how a call went (e.g. left_voicemail, meeting_booked), with an optional note.";

    fn parse(_ctx: &Ctx, a: SetCallDispositionArgs) -> Result<CallOutcome, ToolError> {
        let mut c = Check::default();
        let note = c.opt_text("note", a.note.as_deref(), 2000);
        c.finish()?;
        Ok(CallOutcome {
            call_id: a.call_id,
            disposition: a.disposition,
            note,
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        o: &CallOutcome,
    ) -> Result<Inspection, ToolError> {
        let (caller, name, at) = call_of(conn, o.call_id).await?;
        Ok(Inspection {
            facts: Facts {
                foreign_owned: caller != ctx.actor.user_id,
                ..Facts::default()
            },
            preview: format!(
                "Record the outcome of the call with {name} ({}): {}",
                local_time(ctx, at),
                o.disposition.as_str().replace('_', " ")
            ),
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, o: CallOutcome) -> Result<Value, ToolError> {
        call_of(conn, o.call_id).await?;
        sqlx::query(
            "UPDATE calls SET disposition = $2, disposition_note = $3, disposition_by = $4,
                 disposition_at = $5, updated_at = $5 WHERE id = $1",
        )
        .bind(o.call_id)
        .bind(o.disposition.as_str())
        .bind(o.note.as_ref().map(Text::as_str))
        .bind(ctx.actor.user_id)
        .bind(ctx.now)
        .execute(&mut *conn)
        .await?;
        refresh_call_activity(conn, o.call_id).await?;
        Ok(json!({
            "call_id": o.call_id,
            "disposition": o.disposition.as_str(),
            "note": o.note.as_ref().map(Text::as_str),
        }))
    }
}
