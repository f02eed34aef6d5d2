//! `connect_twilio`: an admin connects the workspace's Twilio account (admin-only by policy).
//! The auth token arrives here already sealed by the actions pipeline (it is one of the tool's
//! secret fields), so it is stored encrypted and never appears in a preview, a result, the
//! stored action or the audit log.

use chrono::NaiveTime;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::common::Check;
use crate::crypto;
use crate::error::ToolError;
use crate::outreach::valid_e164;
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectTwilioArgs {
    /// The Twilio account SID (`AC…`).
    #[schemars(length(min = 2, max = 64))]
    pub account_sid: String,
    /// The account's auth token. Stored encrypted; never shown again.
    #[schemars(length(min = 1, max = 2000))]
    pub auth_token: String,
    /// The workspace's Twilio numbers in E.164 (`+15551234567`), to text and call from.
    #[schemars(length(min = 1, max = 50))]
    pub numbers: Vec<String>,
    /// Record calls (off by default); recorded calls start with a consent notice.
    #[serde(default)]
    pub recording_enabled: Option<bool>,
    /// What the consent notice says before a recorded call.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub consent_notice: Option<String>,
    /// When quiet hours start in the contact's time zone, `HH:MM` (default 21:00).
    #[serde(default)]
    pub quiet_hours_start: Option<String>,
    /// When quiet hours end, `HH:MM` (default 08:00).
    #[serde(default)]
    pub quiet_hours_end: Option<String>,
    /// Most texts the workspace sends a day (default 2000).
    #[serde(default)]
    #[schemars(range(max = 1000000))]
    pub daily_cap: Option<u32>,
    /// Most texts one number sends a minute (default 60).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100000))]
    pub per_number_per_minute: Option<u32>,
}

pub struct NewAccount {
    account_sid: String,
    auth_token_sealed: String,
    numbers: Vec<String>,
    recording_enabled: Option<bool>,
    consent_notice: Option<String>,
    quiet_start: Option<NaiveTime>,
    quiet_end: Option<NaiveTime>,
    daily_cap: Option<i32>,
    per_number_per_minute: Option<i32>,
}

fn hhmm(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| format!("`{s}` is not a time of day as HH:MM, e.g. 21:00"))
}

/// `AC…1234`: enough to recognise the account.
fn masked(sid: &str) -> String {
    let tail: String = sid
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{}…{tail}", sid.chars().take(2).collect::<String>())
}

pub struct ConnectTwilio;

impl Tool for ConnectTwilio {
    type Args = ConnectTwilioArgs;
    type Input = NewAccount;
    const NAME: &'static str = "connect_twilio";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str = "Connect (or reconnect) the workspace's Twilio account for texting and calling: account SID, auth token (stored encrypted) and sending numbers, optionally call recording, quiet hours and sending limits. Admins only.";
    const SECRET_FIELDS: &'static [&'static str] = &["auth_token"];

    fn parse(_ctx: &Ctx, a: ConnectTwilioArgs) -> Result<NewAccount, ToolError> {
        let mut c = Check::default();
        let sid = a.account_sid.trim().to_string();
        if !(2..=64).contains(&sid.len()) || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            c.push(
                "account_sid",
                "must be Twilio's account SID (AC followed by letters and digits)",
            );
        }
        if !crypto::is_sealed(&a.auth_token) {
            c.push(
                "auth_token",
                "was not encrypted by the server before storing; the server needs HEIMDELL_SECRET_KEY",
            );
        }
        let mut numbers: Vec<String> = Vec::new();
        for (i, n) in a.numbers.iter().enumerate() {
            match valid_e164(n) {
                Some(p) => {
                    if !numbers.iter().any(|x| x == p.as_str()) {
                        numbers.push(p.as_str().to_string());
                    }
                }
                None => c.push(
                    &format!("numbers.{i}"),
                    format!("`{n}` is not a phone number in E.164 form, e.g. +15551234567"),
                ),
            }
        }
        if a.numbers.is_empty() {
            c.push("numbers", "give at least one Twilio number");
        }
        let notice = c.opt_text("consent_notice", a.consent_notice.as_deref(), 500);
        let quiet_start = c.opt("quiet_hours_start", a.quiet_hours_start.as_deref(), hhmm);
        let quiet_end = c.opt("quiet_hours_end", a.quiet_hours_end.as_deref(), hhmm);
        let daily_cap = a.daily_cap.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        let rate = a
            .per_number_per_minute
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        if rate == Some(0) {
            c.push("per_number_per_minute", "must be at least 1");
        }
        c.finish()?;
        Ok(NewAccount {
            account_sid: sid,
            auth_token_sealed: a.auth_token,
            numbers,
            recording_enabled: a.recording_enabled,
            consent_notice: notice.map(|t| t.into_string()),
            quiet_start,
            quiet_end,
            daily_cap,
            per_number_per_minute: rate,
        })
    }

    async fn inspect(
        _conn: &mut PgConnection,
        _ctx: &Ctx,
        n: &NewAccount,
    ) -> Result<Inspection, ToolError> {
        let mut preview = format!(
            "Connect Twilio account {} with number{} {}",
            masked(&n.account_sid),
            if n.numbers.len() == 1 { "" } else { "s" },
            n.numbers.join(", ")
        );
        match n.recording_enabled {
            Some(true) => preview.push_str("; calls recorded after a consent notice"),
            Some(false) => preview.push_str("; calls not recorded"),
            None => {}
        }
        Ok(Inspection {
            facts: Facts::default(),
            preview,
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, n: NewAccount) -> Result<Value, ToolError> {
        let row: (bool, NaiveTime, NaiveTime, i32, i32, Option<String>) = sqlx::query_as(
            "INSERT INTO twilio_accounts AS a (tenant_id, account_sid, auth_token_sealed, numbers,
                 recording_enabled, consent_notice, quiet_start, quiet_end, daily_cap,
                 per_number_per_minute, connected_by, connected_at, updated_at)
             VALUES (app_tenant(), $1, $2, $3, coalesce($4, false), $5, coalesce($6, '21:00'),
                 coalesce($7, '08:00'), coalesce($8, 2000), coalesce($9, 60), $10, $11, $11)
             ON CONFLICT (tenant_id) DO UPDATE SET
                 account_sid = EXCLUDED.account_sid,
                 auth_token_sealed = EXCLUDED.auth_token_sealed,
                 numbers = EXCLUDED.numbers,
                 recording_enabled = coalesce($4, a.recording_enabled),
                 consent_notice = coalesce($5, a.consent_notice),
                 quiet_start = coalesce($6, a.quiet_start),
                 quiet_end = coalesce($7, a.quiet_end),
                 daily_cap = coalesce($8, a.daily_cap),
                 per_number_per_minute = coalesce($9, a.per_number_per_minute),
                 connected_by = EXCLUDED.connected_by,
                 updated_at = EXCLUDED.updated_at
             RETURNING recording_enabled, quiet_start, quiet_end, daily_cap, per_number_per_minute,
                 consent_notice",
        )
        .bind(&n.account_sid)
        .bind(&n.auth_token_sealed)
        .bind(&n.numbers)
        .bind(n.recording_enabled)
        .bind(n.consent_notice.as_deref())
        .bind(n.quiet_start)
        .bind(n.quiet_end)
        .bind(n.daily_cap)
        .bind(n.per_number_per_minute)
        .bind(ctx.actor.user_id)
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
        let (recording, start, end, cap, rate, notice) = row;
        Ok(json!({
            "connected": true,
            "account_sid": n.account_sid,
            "numbers": n.numbers,
            "recording_enabled": recording,
            "consent_notice": notice,
            "quiet_hours": {"start": start.format("%H:%M").to_string(), "end": end.format("%H:%M").to_string()},
            "daily_cap": cap,
            "per_number_per_minute": rate,
        }))
    }
}
