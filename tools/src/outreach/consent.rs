//! Consent history: every grant or withdrawal is appended to `consent_events` (append-only for
//! the app role), and the latest event per contact and channel is mirrored onto the contact's
//! flag, which is what sends and policies read.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::catalog::common::insert_field_change;
use crate::domain::LawfulBasis;
use crate::registry::Channel;

/// What the consent is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsentChannel {
    // No doc comments on the variants: they would make the schema a `oneOf` of constants,
    // which OpenAI's strict mode refuses; the argument's own doc says what each means.
    Sms,
    Call,
    Email,
    Marketing,
}

impl ConsentChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentChannel::Sms => "sms",
            ConsentChannel::Call => "call",
            ConsentChannel::Email => "email",
            ConsentChannel::Marketing => "marketing",
        }
    }

    /// The channel whose latest event the contact column `column` mirrors.
    pub fn for_column(column: &str) -> Option<Self> {
        [Self::Sms, Self::Call, Self::Email, Self::Marketing]
            .into_iter()
            .find(|c| c.flag().0 == column)
    }

    /// What setting this channel's contact column to `value` says about consent.
    pub fn status_for(self, value: bool) -> ConsentStatus {
        if value == self.flag().1 {
            ConsentStatus::Granted
        } else {
            ConsentStatus::Withdrawn
        }
    }

    /// The contact column that mirrors the latest event, and its value for a grant.
    fn flag(self) -> (&'static str, bool) {
        match self {
            ConsentChannel::Sms => ("sms_opt_out", false),
            ConsentChannel::Call => ("do_not_call", false),
            ConsentChannel::Email => ("email_opt_out", false),
            ConsentChannel::Marketing => ("marketing_consent", true),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsentStatus {
    Granted,
    Withdrawn,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::Granted => "granted",
            ConsentStatus::Withdrawn => "withdrawn",
        }
    }
}

/// One consent event to record.
#[derive(Debug, Clone)]
pub struct ConsentChange<'a> {
    pub contact_id: Uuid,
    pub channel: ConsentChannel,
    pub status: ConsentStatus,
    /// Where it came from: `inbound_sms`, `phone call`, `web form`, …
    pub source: &'a str,
    pub lawful_basis: Option<LawfulBasis>,
    pub note: Option<&'a str>,
    /// The user who recorded it; None for the contact's own inbound STOP / START.
    pub recorded_by: Option<Uuid>,
    pub action_id: Option<Uuid>,
    /// The inbound message that carried it.
    pub message_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// What recording changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub event_id: Uuid,
    /// The contact's flag changed (false when it already said so, or a later event exists).
    pub flag_changed: bool,
}

/// Appends the event and, if it is the latest for this contact and channel, sets the contact's
/// flag; a user's change also goes to the field history.
pub async fn record(
    conn: &mut PgConnection,
    c: &ConsentChange<'_>,
) -> Result<Recorded, sqlx::Error> {
    let (event_id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO consent_events (tenant_id, contact_id, channel, status, source, lawful_basis, note,
             recorded_by, action_id, message_id, recorded_at)
         VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(c.contact_id)
    .bind(c.channel.as_str())
    .bind(c.status.as_str())
    .bind(c.source)
    .bind(c.lawful_basis.map(|b| b.as_str()))
    .bind(c.note)
    .bind(c.recorded_by)
    .bind(c.action_id)
    .bind(c.message_id)
    .bind(c.at)
    .fetch_one(&mut *conn)
    .await?;

    let (column, granted_value) = c.channel.flag();
    let value = if c.status == ConsentStatus::Granted {
        granted_value
    } else {
        !granted_value
    };
    // One static statement per column: the column never comes from input.
    let sql = match c.channel {
        ConsentChannel::Sms => UPDATE_SMS,
        ConsentChannel::Call => UPDATE_CALL,
        ConsentChannel::Email => UPDATE_EMAIL,
        ConsentChannel::Marketing => UPDATE_MARKETING,
    };
    let changed = sqlx::query(sql)
        .bind(c.contact_id)
        .bind(value)
        .bind(c.at)
        .bind(c.channel.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected()
        > 0;
    if changed && let Some(user) = c.recorded_by {
        insert_field_change(
            conn,
            user,
            c.action_id,
            c.at,
            "contact",
            c.contact_id,
            column,
            json!(!value),
            json!(value),
            Some(&format!("consent_{}", c.status.as_str())),
            c.note,
        )
        .await?;
    }
    // Whoever records a withdrawal (an inbound STOP, a rep, an edit), texts or calls still
    // waiting in the outbox for that channel are canceled with it. Erring towards not
    // contacting: a backdated withdrawal cancels them too.
    if c.status == ConsentStatus::Withdrawn {
        let waiting = match c.channel {
            ConsentChannel::Sms => Some((Channel::Sms, "opted_out")),
            ConsentChannel::Call => Some((Channel::Call, "do_not_call")),
            ConsentChannel::Email | ConsentChannel::Marketing => None,
        };
        if let Some((channel, reason)) = waiting {
            super::outbox::cancel_waiting(conn, c.contact_id, channel, reason, c.at).await?;
        }
    }
    Ok(Recorded {
        event_id,
        flag_changed: changed,
    })
}

macro_rules! consent_update {
    ($col:literal) => {
        concat!(
            "UPDATE contacts SET ",
            $col,
            " = $2, ",
            $col,
            "_at = CASE WHEN $2 THEN $3 END, version = version + 1, updated_at = $3
             WHERE id = $1 AND ",
            $col,
            " IS DISTINCT FROM $2
               AND NOT EXISTS (SELECT 1 FROM consent_events e WHERE e.contact_id = $1
                               AND e.channel = $4 AND e.recorded_at > $3)"
        )
    };
}

const UPDATE_SMS: &str = consent_update!("sms_opt_out");
const UPDATE_CALL: &str = consent_update!("do_not_call");
const UPDATE_EMAIL: &str = consent_update!("email_opt_out");
const UPDATE_MARKETING: &str = consent_update!("marketing_consent");

/// A contact's consent history, newest first.
pub async fn history(
    conn: &mut PgConnection,
    contact_id: Uuid,
    limit: i64,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT jsonb_build_object('id', id, 'channel', channel, 'status', status, 'source', source,
                    'lawful_basis', lawful_basis, 'note', note, 'recorded_by', recorded_by,
                    'recorded_at', recorded_at)
         FROM consent_events WHERE contact_id = $1 ORDER BY recorded_at DESC, id DESC LIMIT $2",
    )
    .bind(contact_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}
