//! Reaching contacts by SMS and phone: the tenant's Twilio settings, the contact as a
//! recipient (and the consent facts the policies decide on), consent history, quiet hours,
//! text rendering, the durable outbox that delivers approved sends, and what inbound webhooks
//! change.
//!
//! Nothing here talks HTTP: the outbox worker reaches Twilio through the [`outbox::Gateway`]
//! trait, which `heimdell-adapters` implements.

pub mod consent;
pub mod inbound;
pub mod outbox;
pub mod quiet;
pub mod render;

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Country, Phone};
use crate::error::ToolError;
use crate::registry::{Channel, Ctx, Facts};
use quiet::QuietHours;

/// What a Twilio auth token is sealed for (the associated data, with the tenant id).
pub const TOKEN_PURPOSE: &str = "connect_twilio.auth_token";

/// The notice played before a recorded call when the tenant gives none.
pub const DEFAULT_CONSENT_NOTICE: &str =
    "This call may be recorded for quality and training purposes.";

/// The Postgres channel the outbox is woken on when a job is written.
pub const OUTBOX_CHANNEL: &str = "heimdell_outbox";

/// Twilio's webhooks. The server's routes, the callback URLs the outbox gives Twilio and the
/// URLs the admin page shows are all made here, so they cannot drift apart (a callback to a
/// path nobody serves, or a signature checked over a different URL).
pub mod webhook {
    use uuid::Uuid;

    /// Inbound texts.
    pub const SMS: &str = "sms";
    /// Delivery progress of a text we sent.
    pub const SMS_STATUS: &str = "sms-status";
    /// The bridge's TwiML when the rep answers.
    pub const VOICE: &str = "voice";
    /// Progress of a call we started.
    pub const CALL_STATUS: &str = "call-status";

    /// The route a hook is served on (axum path syntax).
    pub fn route(hook: &str) -> String {
        format!("/webhooks/twilio/{{tenant_id}}/{hook}")
    }

    /// A tenant's URL for a hook under the server's public base URL.
    pub fn url(public_base: &str, tenant_id: Uuid, hook: &str) -> String {
        format!("{public_base}/webhooks/twilio/{tenant_id}/{hook}")
    }
}

/// A tenant's connected Twilio account and its sending rules.
#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    /// `sealed:v1:…`; open with [`crate::crypto::SecretKey::open`] and
    /// [`crate::crypto::secret_aad`]`(tenant, TOKEN_PURPOSE)`.
    pub auth_token_sealed: String,
    pub numbers: Vec<String>,
    pub recording_enabled: bool,
    pub consent_notice: Option<String>,
    pub quiet: QuietHours,
    pub daily_cap: i32,
    pub per_number_per_minute: i32,
    /// The tenant's time zone: contacts without one are reached by it, and the daily cap
    /// counts its days.
    pub tenant_tz: Tz,
}

impl TwilioSettings {
    /// The number a contact is texted and called from: always the same one for the same
    /// contact, so replies come back to a thread they know.
    pub fn sender_for(&self, contact_id: Uuid) -> &str {
        let n = self.numbers.len().max(1);
        let i = (contact_id.as_u128() % n as u128) as usize;
        self.numbers.get(i).map(String::as_str).unwrap_or("")
    }

    /// The notice to play before a recorded call.
    pub fn notice(&self) -> &str {
        self.consent_notice
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(DEFAULT_CONSENT_NOTICE)
    }
}

type SettingsRow = (
    String,
    String,
    Vec<String>,
    bool,
    Option<String>,
    NaiveTime,
    NaiveTime,
    i32,
    i32,
    String,
);

/// The tenant's Twilio settings, if it connected an account.
pub async fn settings(conn: &mut PgConnection) -> Result<Option<TwilioSettings>, sqlx::Error> {
    let row: Option<SettingsRow> = sqlx::query_as(
        "SELECT a.account_sid, a.auth_token_sealed, a.numbers, a.recording_enabled, a.consent_notice,
                a.quiet_start, a.quiet_end, a.daily_cap, a.per_number_per_minute, t.timezone
         FROM twilio_accounts a JOIN tenants t ON t.id = a.tenant_id",
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(
        |(sid, token, numbers, recording, notice, start, end, cap, rate, tz)| TwilioSettings {
            account_sid: sid,
            auth_token_sealed: token,
            numbers,
            recording_enabled: recording,
            consent_notice: notice,
            quiet: QuietHours { start, end },
            daily_cap: cap,
            per_number_per_minute: rate,
            tenant_tz: tz.parse().unwrap_or(chrono_tz::UTC),
        },
    ))
}

/// The settings, or the error a caller can act on when Twilio is not connected.
pub async fn require_settings(conn: &mut PgConnection) -> Result<TwilioSettings, ToolError> {
    settings(conn).await?.ok_or_else(|| {
        ToolError::Conflict(
            "Twilio is not connected for this workspace; an admin can connect it (connect_twilio)."
                .into(),
        )
    })
}

/// A contact as someone to text or call: the contact's read model (the same one `get_contact`
/// shows), with the questions outreach asks of it.
#[derive(Debug, Clone)]
pub struct Recipient(pub crate::records::ContactRecord);

impl std::ops::Deref for Recipient {
    type Target = crate::records::ContactRecord;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// Loads a contact of this tenant as a recipient.
pub async fn recipient(conn: &mut PgConnection, contact_id: Uuid) -> Result<Recipient, ToolError> {
    crate::records::get_contact(conn, contact_id)
        .await
        .map(Recipient)
}

/// Loads a recipient for a send that is about to happen, holding a share lock on the contact
/// until the transaction ends: a STOP (or any consent change) being recorded at the same moment
/// either lands first and is seen here, or waits until this send has been decided.
pub async fn recipient_for_send(
    conn: &mut PgConnection,
    contact_id: Uuid,
) -> Result<Recipient, ToolError> {
    sqlx::query("SELECT 1 FROM contacts WHERE id = $1 FOR SHARE")
        .bind(contact_id)
        .execute(&mut *conn)
        .await?;
    recipient(conn, contact_id).await
}

/// `+` and digits that the numbering plan accepts as a real number, in E.164 already.
pub fn valid_e164(number: &str) -> Option<Phone> {
    let n = number.trim();
    if !n.starts_with('+') {
        return None;
    }
    // With a leading `+` the default country is never used.
    let any = Country::parse("US").ok()?;
    Phone::parse(n, any).ok().filter(|p| p.as_str() == n)
}

impl Recipient {
    pub fn name(&self) -> String {
        let n = format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string();
        if n.is_empty() {
            "this contact".to_string()
        } else {
            n
        }
    }

    /// Their number, if it is a valid E.164 number.
    pub fn number(&self) -> Option<Phone> {
        self.phone.as_deref().and_then(valid_e164)
    }

    /// Their time zone, or the tenant's.
    pub fn tz(&self, tenant_tz: Tz) -> Tz {
        self.timezone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(tenant_tz)
    }

    /// Values for `{field}`s in a text to them, sent by `sender_name`.
    pub fn values(&self, sender_name: Option<&str>) -> render::Values {
        let mut v = render::Values::default();
        v.set("first_name", Some(&self.first_name));
        v.set("last_name", Some(&self.last_name));
        let full = format!("{} {}", self.first_name, self.last_name);
        v.set("full_name", Some(full.trim()));
        v.set("company", self.company_name.as_deref());
        v.set("title", self.title.as_deref());
        v.set("email", self.email.as_deref());
        v.set("phone", self.phone.as_deref());
        v.set("owner_name", self.owner_name.as_deref());
        v.set("sender_name", sender_name);
        v
    }

    /// The policy facts of reaching them on `channel` at `now`.
    pub fn facts(&self, channel: Channel, ctx: &Ctx, quiet: Option<(QuietHours, Tz)>) -> Facts {
        Facts {
            foreign_owned: self.owner_id.is_some_and(|o| o != ctx.actor.user_id),
            channel: Some(channel),
            sms_opt_out: self.sms_opt_out,
            do_not_call: self.do_not_call,
            anonymised: self.anonymised,
            no_valid_phone: self.number().is_none(),
            quiet_hours: quiet.is_some_and(|(q, tz)| q.next_allowed(ctx.now, tz).is_some()),
            ..Facts::default()
        }
    }

    /// Why nothing may be sent to them on `channel`, if anything forbids it (the policies say
    /// the same; this is the words for places without a policy decision, like the worker).
    pub fn blocked(&self, channel: Channel) -> Option<&'static str> {
        if self.anonymised {
            Some("anonymised")
        } else if channel == Channel::Sms && self.sms_opt_out {
            Some("opted_out")
        } else if channel == Channel::Call && self.do_not_call {
            Some("do_not_call")
        } else if self.number().is_none() {
            Some("no_valid_phone")
        } else {
            None
        }
    }

    /// Why a text or call approved for `number` may not reach them now: [`Self::blocked`], or
    /// their number changed since (it was corrected, or reported wrong), so the saved one may
    /// be somebody else's.
    pub fn blocked_at(&self, channel: Channel, number: &str) -> Option<&'static str> {
        self.blocked(channel).or_else(|| {
            (self.number().as_ref().map(Phone::as_str) != Some(number)).then_some("number_changed")
        })
    }
}

/// A user's display name and phone (the rep a bridged call rings first).
pub async fn user_contact(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<(String, Option<String>), ToolError> {
    sqlx::query_as("SELECT name, phone FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or(ToolError::NotFound {
            entity: "user",
            id: user_id.to_string(),
        })
}

/// When an SMS approved at `now` may go, and why it waits (`quiet_hours`, `daily_cap`,
/// `rate_limit`). The outbox worker checks the same limits again when it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPlan {
    pub not_before: DateTime<Utc>,
    pub reason: Option<&'static str>,
}

/// Plans an SMS from `from` to a contact in `tz`.
pub async fn plan_sms(
    conn: &mut PgConnection,
    s: &TwilioSettings,
    from: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<SendPlan, sqlx::Error> {
    let mut plan = SendPlan {
        not_before: now,
        reason: None,
    };
    // The tenant's day: texts already handed to Twilio today plus those waiting to go today
    // count towards the cap.
    let day = now.with_timezone(&s.tenant_tz).date_naive();
    let day_end = quiet::next_local_midnight(now, s.tenant_tz);
    let (sent_today, waiting_today): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(sum(sent), 0)::int8 FROM sms_daily_counts WHERE day = $1),
                (SELECT count(*) FROM outbox_jobs WHERE status = 'pending' AND kind = 'sms'
                   AND not_before < $2)",
    )
    .bind(day)
    .bind(day_end)
    .fetch_one(&mut *conn)
    .await?;
    if sent_today + waiting_today >= i64::from(s.daily_cap) {
        plan = SendPlan {
            not_before: day_end,
            reason: Some("daily_cap"),
        };
    }
    if let Some(at) = s.quiet.next_allowed(plan.not_before, tz) {
        plan = SendPlan {
            not_before: at,
            reason: plan.reason.or(Some("quiet_hours")),
        };
    }
    if plan.reason.is_none() {
        // Texts from this number in the last minute plus those already waiting to go now.
        let busy: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM messages WHERE direction = 'outbound' AND from_number = $1
                       AND sent_at IS NOT NULL AND sent_at > $2 - interval '1 minute')
                  + (SELECT count(*) FROM messages WHERE direction = 'outbound' AND from_number = $1
                       AND status = 'pending' AND send_after <= $2)",
        )
        .bind(from)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        if busy >= i64::from(s.per_number_per_minute) {
            plan.reason = Some("rate_limit");
        }
    }
    Ok(plan)
}

/// Words for a wait reason.
pub fn reason_text(reason: &str) -> &'static str {
    match reason {
        "quiet_hours" => "it is quiet hours where the contact is",
        "daily_cap" => "the workspace's daily text limit is reached",
        "rate_limit" => "the sending number's per-minute limit is reached",
        "opted_out" => "the contact opted out of text messages",
        "do_not_call" => "the contact asked not to be called",
        "anonymised" => "the contact was anonymised",
        "no_valid_phone" => "the contact has no valid phone number",
        _ => "it is waiting its turn",
    }
}

/// Wakes outbox workers (delivered when the surrounding transaction commits).
pub async fn notify_outbox(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(OUTBOX_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// `2m 05s`, `45s`.
pub fn duration_text(seconds: i32) -> String {
    if seconds >= 60 {
        format!("{}m {:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds}s")
    }
}

/// Rewrites the timeline entry of an SMS to show its latest status ("Text to Jane — delivered").
pub async fn refresh_message_activity(
    conn: &mut PgConnection,
    message_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE activities a SET subject = CASE m.direction
                 WHEN 'outbound' THEN 'Text to ' ELSE 'Text from ' END
             || coalesce(nullif(trim(c.first_name || ' ' || c.last_name), ''),
                         CASE m.direction WHEN 'outbound' THEN m.to_number ELSE m.from_number END)
             || CASE WHEN m.direction = 'outbound' THEN ' — ' || replace(m.status, '_', ' ') ELSE '' END
         FROM messages m LEFT JOIN contacts c ON c.tenant_id = m.tenant_id AND c.id = m.contact_id
         WHERE m.id = $1 AND a.tenant_id = m.tenant_id AND a.id = m.activity_id",
    )
    .bind(message_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Rewrites the timeline entry of a call to show its status, duration and outcome
/// ("Call with Jane — completed, 2m 05s — left voicemail").
pub async fn refresh_call_activity(
    conn: &mut PgConnection,
    call_id: Uuid,
) -> Result<(), sqlx::Error> {
    type CallRow = (
        Option<Uuid>,
        String,
        String,
        Option<i32>,
        Option<String>,
        Option<String>,
    );
    let row: Option<CallRow> = sqlx::query_as(
        "SELECT k.activity_id, trim(c.first_name || ' ' || c.last_name), k.status,
                    k.duration_seconds, k.disposition, k.disposition_note
             FROM calls k JOIN contacts c ON c.tenant_id = k.tenant_id AND c.id = k.contact_id
             WHERE k.id = $1",
    )
    .bind(call_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((Some(activity_id), name, status, duration, disposition, note)) = row else {
        return Ok(());
    };
    let mut subject = format!("Call with {name} — {}", status.replace('-', " "));
    if let Some(d) = duration.filter(|d| *d > 0) {
        subject.push_str(&format!(", {}", duration_text(d)));
    }
    let mut body: Option<String> = None;
    if let Some(d) = &disposition {
        let words = d.replace('_', " ");
        subject.push_str(&format!(" — {words}"));
        body = Some(match note.as_deref() {
            Some(n) if !n.trim().is_empty() => format!("Outcome: {words}. {n}"),
            _ => format!("Outcome: {words}."),
        });
    }
    sqlx::query("UPDATE activities SET subject = $2, body = coalesce($3, body) WHERE id = $1")
        .bind(activity_id)
        .bind(subject)
        .bind(body)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_only() {
        assert!(valid_e164("+14155552671").is_some());
        assert!(valid_e164("+442079460958").is_some());
        assert!(valid_e164("4155552671").is_none());
        assert!(valid_e164("+1 415 555 2671").is_none());
        assert!(valid_e164("+1415").is_none());
        assert!(valid_e164("").is_none());
    }
}
