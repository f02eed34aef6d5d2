//! What Twilio's webhooks change, once their signature has been checked (that happens in
//! `heimdell-adapters`). Each function runs inside the caller's tenant transaction and is
//! idempotent: Twilio retries deliveries, and a repeated one changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::consent::{self, ConsentChange, ConsentChannel, ConsentStatus};
use super::render::MAX_BODY;
use super::{refresh_call_activity, refresh_message_activity, settings};
use crate::catalog::common::{Targets, insert_activity};
use crate::registry::Channel;

/// An inbound SMS that is only a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Keyword {
    /// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT.
    OptOut,
    /// START, UNSTOP.
    OptIn,
    /// HELP, INFO.
    Help,
}

impl Keyword {
    /// The keyword an inbound SMS body is, following Twilio's rules for its default opt-out
    /// handling: the whole message must be the single word, in any case, optionally surrounded
    /// by whitespace or punctuation ("stop", " Stop. ", "STOP!"). "Stop please" or "please
    /// stop" are ordinary messages.
    ///
    /// Twilio also treats YES as an opt-in; Heimdell does not, since "yes" is an everyday
    /// answer and an opt-in must be deliberate (a contact Twilio re-subscribes on YES is then
    /// merely still opted out here, the safe side).
    pub fn of_body(body: &str) -> Option<Keyword> {
        let word = body.trim_matches(|c: char| !c.is_alphanumeric());
        if word.is_empty() || word.len() > 16 || !word.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        match word.to_ascii_uppercase().as_str() {
            "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Keyword::OptOut),
            "START" | "UNSTOP" => Some(Keyword::OptIn),
            "HELP" | "INFO" => Some(Keyword::Help),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::OptOut => "opt_out",
            Keyword::OptIn => "opt_in",
            Keyword::Help => "help",
        }
    }
}

/// The most of an inbound text that is stored: what Twilio can deliver (10 segments of 160
/// characters). A longer body can only be forged or garbled on the way.
pub const MAX_INBOUND_BODY: usize = MAX_BODY;

/// `body` cut to its first [`MAX_INBOUND_BODY`] characters, and whether it was cut.
pub fn capped_body(body: &str) -> (&str, bool) {
    match body.char_indices().nth(MAX_INBOUND_BODY) {
        Some((end, _)) => (&body[..end], true),
        None => (body, false),
    }
}

/// An SMS sent to one of our numbers.
#[derive(Debug, Clone)]
pub struct IncomingSms<'a> {
    pub message_sid: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    pub keyword: Option<Keyword>,
}

/// What an inbound SMS did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// This MessageSid was handled before: nothing changed.
    Duplicate,
    /// From a known number: on these contacts' timelines (and their consent, for a keyword).
    Matched {
        message_id: Uuid,
        contacts: Vec<Uuid>,
    },
    /// From a number no contact has: kept for the tenant's admins.
    Unmatched { message_id: Uuid },
}

/// Claims a webhook delivery key; false when it was handled before.
async fn first_delivery(
    conn: &mut PgConnection,
    kind: &str,
    key: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO webhook_deliveries (tenant_id, kind, key) VALUES (app_tenant(), $1, $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(kind)
    .bind(key)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Records an inbound SMS: on the timeline of every contact with that number (anonymised ones
/// excepted), which also marks their open deals as active, or kept unmatched for admins. STOP-like keywords opt those contacts out of SMS at
/// once (recording it cancels their texts still waiting in the outbox); START-like ones opt them back
/// in; both are kept as consent history. HELP is logged. A body longer than Twilio can deliver is
/// kept cut to [`MAX_INBOUND_BODY`] characters, marked `body_truncated` (and said so on the
/// timeline).
pub async fn receive_sms(
    conn: &mut PgConnection,
    sms: &IncomingSms<'_>,
    now: DateTime<Utc>,
) -> Result<Received, sqlx::Error> {
    if !first_delivery(conn, "sms", sms.message_sid).await? {
        return Ok(Received::Duplicate);
    }
    let contacts: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, trim(first_name || ' ' || last_name) FROM contacts
         WHERE phone = $1 AND NOT anonymised ORDER BY updated_at DESC",
    )
    .bind(sms.from)
    .fetch_all(&mut *conn)
    .await?;
    let (body, truncated) = capped_body(sms.body);
    let (message_id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO messages (tenant_id, direction, contact_id, from_number, to_number, body, keyword,
             status, provider_sid, status_history, created_at, updated_at, body_truncated)
         VALUES (app_tenant(), 'inbound', $1, $2, $3, $4, $5, 'received', $6, $7, $8, $8, $9)
         RETURNING id",
    )
    .bind(contacts.first().map(|(id, _)| *id))
    .bind(sms.from)
    .bind(sms.to)
    .bind(body)
    .bind(sms.keyword.map(Keyword::as_str))
    .bind(sms.message_sid)
    .bind(json!([{"status": "received", "at": now}]))
    .bind(now)
    .bind(truncated)
    .fetch_one(&mut *conn)
    .await?;
    if contacts.is_empty() {
        return Ok(Received::Unmatched { message_id });
    }
    let subject_suffix = match sms.keyword {
        Some(Keyword::OptOut) => " — opted out of texts".to_string(),
        Some(Keyword::OptIn) => " — opted back in to texts".to_string(),
        Some(Keyword::Help) => " — asked for help".to_string(),
        None if truncated => format!(" — cut to its first {MAX_INBOUND_BODY} characters"),
        None => String::new(),
    };
    for (i, (contact_id, name)) in contacts.iter().enumerate() {
        let shown = if name.is_empty() { sms.from } else { name };
        let subject = format!("Text from {shown}{subject_suffix}");
        let targets = Targets {
            contact_id: Some(*contact_id),
            ..Targets::default()
        };
        // The contact's own act: no user, no action; it marks their open deals as active.
        let activity_id = insert_activity(
            conn,
            None,
            None,
            "sms",
            Some(&subject),
            Some(body),
            targets,
            now,
            now,
        )
        .await?;
        if i == 0 {
            sqlx::query("UPDATE messages SET activity_id = $2 WHERE id = $1")
                .bind(message_id)
                .bind(activity_id)
                .execute(&mut *conn)
                .await?;
        }
        let status = match sms.keyword {
            Some(Keyword::OptOut) => ConsentStatus::Withdrawn,
            Some(Keyword::OptIn) => ConsentStatus::Granted,
            _ => continue,
        };
        consent::record(
            conn,
            &ConsentChange {
                contact_id: *contact_id,
                channel: ConsentChannel::Sms,
                status,
                source: "inbound_sms",
                lawful_basis: None,
                note: Some(body.trim()),
                recorded_by: None,
                action_id: None,
                message_id: Some(message_id),
                at: now,
            },
        )
        .await?;
    }
    Ok(Received::Matched {
        message_id,
        contacts: contacts.into_iter().map(|(id, _)| id).collect(),
    })
}

/// What a status callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusUpdate {
    Duplicate,
    /// No message or call of ours has that SID.
    Unknown,
    /// Kept in the history, but older than what is already known (callbacks arrive out of
    /// order).
    Stale,
    Applied,
}

/// How far along a message status is; a callback never moves a message backwards.
fn message_rank(status: &str) -> u8 {
    match status {
        "pending" | "accepted" | "scheduled" | "queued" => 1,
        "sending" => 2,
        "sent" => 3,
        "delivered"
        | "undelivered"
        | "failed"
        | "read"
        | "partially_delivered"
        | "canceled"
        | "uncertain"
        | "blocked" => 4,
        _ => 0,
    }
}

/// Applies an SMS status callback (`MessageStatus` for `MessageSid`).
pub async fn sms_status(
    conn: &mut PgConnection,
    message_sid: &str,
    status: &str,
    error_code: Option<u32>,
    now: DateTime<Utc>,
) -> Result<StatusUpdate, sqlx::Error> {
    if !first_delivery(conn, "sms-status", &format!("{message_sid}:{status}")).await? {
        return Ok(StatusUpdate::Duplicate);
    }
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, status FROM messages WHERE provider_sid = $1 AND direction = 'outbound' FOR UPDATE",
    )
    .bind(message_sid)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, current)) = row else {
        return Ok(StatusUpdate::Unknown);
    };
    let entry = json!([{"status": status, "at": now, "error_code": error_code}]);
    let forward = message_rank(status) > message_rank(&current)
        || (message_rank(status) == message_rank(&current) && message_rank(status) < 4);
    let failure = matches!(status, "failed" | "undelivered");
    sqlx::query(
        "UPDATE messages SET status_history = status_history || $2,
             status = CASE WHEN $3 THEN $4 ELSE status END,
             error_code = CASE WHEN $3 AND $5 THEN $6 ELSE error_code END,
             updated_at = $7
         WHERE id = $1",
    )
    .bind(id)
    .bind(entry)
    .bind(forward)
    .bind(status)
    .bind(failure)
    .bind(error_code.and_then(|c| i32::try_from(c).ok()))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if !forward {
        return Ok(StatusUpdate::Stale);
    }
    refresh_message_activity(conn, id).await?;
    Ok(StatusUpdate::Applied)
}

fn call_rank(status: &str) -> u8 {
    match status {
        "pending" | "queued" => 1,
        "initiated" => 2,
        "ringing" => 3,
        "in-progress" => 4,
        "completed" | "busy" | "failed" | "no-answer" | "canceled" => 5,
        _ => 0,
    }
}

/// Applies a call status callback. `SequenceNumber` orders them when given; otherwise a call
/// never moves backwards.
pub async fn call_status(
    conn: &mut PgConnection,
    call_sid: &str,
    status: &str,
    duration_seconds: Option<u32>,
    sequence: Option<u32>,
    now: DateTime<Utc>,
) -> Result<StatusUpdate, sqlx::Error> {
    let key = format!(
        "{call_sid}:{status}:{}",
        sequence.map(|s| s.to_string()).unwrap_or_default()
    );
    if !first_delivery(conn, "call-status", &key).await? {
        return Ok(StatusUpdate::Duplicate);
    }
    let row: Option<(Uuid, String, Option<i32>)> = sqlx::query_as(
        "SELECT id, status, last_sequence FROM calls WHERE provider_sid = $1 FOR UPDATE",
    )
    .bind(call_sid)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, current, last_seq)) = row else {
        return Ok(StatusUpdate::Unknown);
    };
    let seq = sequence.and_then(|s| i32::try_from(s).ok());
    let forward = match (seq, last_seq) {
        (Some(new), Some(old)) => new > old,
        _ => call_rank(status) > call_rank(&current),
    };
    if !forward {
        return Ok(StatusUpdate::Stale);
    }
    sqlx::query(
        "UPDATE calls SET status = $2, last_sequence = coalesce($3, last_sequence),
             duration_seconds = coalesce($4, duration_seconds), updated_at = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(seq)
    .bind(duration_seconds.and_then(|d| i32::try_from(d).ok()))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    refresh_call_activity(conn, id).await?;
    Ok(StatusUpdate::Applied)
}

/// What to tell Twilio when the rep answers a bridged call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceAnswer {
    /// Connect the contact, showing `caller_id`; with `notice`, say it first and record.
    Bridge {
        contact_number: String,
        caller_id: String,
        record: bool,
        notice: Option<String>,
    },
    /// The call may not go ahead (after all): say this and hang up.
    Refuse(String),
}

/// The bridge for one of our calls. Consent is checked again: a contact who asked not to be
/// called since the call was approved is not connected.
pub async fn voice(
    conn: &mut PgConnection,
    call_id: Uuid,
) -> Result<VoiceAnswer, crate::error::ToolError> {
    let row: Option<(Uuid, String, String, bool)> = sqlx::query_as(
        "SELECT contact_id, contact_number, from_number, recording FROM calls WHERE id = $1",
    )
    .bind(call_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((contact_id, number, caller_id, recording)) = row else {
        return Ok(VoiceAnswer::Refuse(
            "Sorry, this call cannot be connected. Goodbye.".into(),
        ));
    };
    let r = super::recipient_for_send(conn, contact_id).await?;
    if r.blocked_at(Channel::Call, &number).is_some() {
        return Ok(VoiceAnswer::Refuse(
            "This contact can no longer be called, so the call will not be connected. Goodbye."
                .into(),
        ));
    }
    let s = settings(conn).await?;
    let record = recording && s.as_ref().is_some_and(|s| s.recording_enabled);
    Ok(VoiceAnswer::Bridge {
        contact_number: number,
        caller_id,
        record,
        notice: record.then(|| {
            s.as_ref()
                .map(|s| s.notice().to_string())
                .unwrap_or_default()
        }),
    })
}

/// Inbound texts from numbers no contact has, newest first, for admins.
pub async fn unmatched(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT jsonb_build_object('id', id, 'from', from_number, 'to', to_number, 'body', body,
                    'body_truncated', body_truncated, 'keyword', keyword,
                    'message_sid', provider_sid, 'received_at', created_at)
         FROM messages WHERE direction = 'inbound' AND contact_id IS NULL
         ORDER BY created_at DESC LIMIT $1",
    )
    .bind(limit.clamp(1, 500))
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_bodies_are_capped_at_what_twilio_can_deliver() {
        assert_eq!(capped_body("See you at 3"), ("See you at 3", false));
        assert_eq!(capped_body(""), ("", false));
        let exact = "a".repeat(MAX_INBOUND_BODY);
        assert_eq!(capped_body(&exact), (exact.as_str(), false));
        // Characters, not bytes: a cut never splits one.
        let long = "é".repeat(5_000);
        let (kept, truncated) = capped_body(&long);
        assert!(truncated);
        assert_eq!(kept.chars().count(), MAX_INBOUND_BODY);
        assert_eq!(kept, "é".repeat(MAX_INBOUND_BODY));
    }
}
