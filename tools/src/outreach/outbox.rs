//! The durable outbox: approved texts and calls are written to `outbox_jobs` in the approval's
//! transaction (see `send_sms` and `start_call`); this worker delivers them.
//!
//! One pass ([`Worker::run_once`]) claims due jobs across tenants through the narrow
//! `outbox_claim` SECURITY DEFINER function (`FOR UPDATE SKIP LOCKED`, so any number of workers
//! may run), then handles each job inside its own tenant's transaction:
//!
//! 1. re-check what may have changed since approval (a STOP, do-not-call, anonymisation, quiet
//!    hours, the daily cap and the sending number's per-minute limit): a blocked job is
//!    canceled, a held-back one is rescheduled with its reason;
//! 2. mark it `sending` and commit, so a worker that dies mid-request leaves a trace;
//! 3. call Twilio through the [`Gateway`] with the job's idempotency key;
//! 4. record the outcome: done (with the provider's SID), retried later with exponential
//!    backoff (transient failures), or dead-lettered for admins (permanent refusals, too many
//!    attempts, or an outcome nobody can know).
//!
//! A job whose lease ran out while `claimed` was never sent and is simply claimed again. One
//! that ran out while `sending` may or may not have reached Twilio; rather than risk texting
//! someone twice, it is dead-lettered as `uncertain` for a person to check.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use secrecy::SecretString;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    OUTBOX_CHANNEL, TOKEN_PURPOSE, TwilioSettings, quiet, recipient_for_send,
    refresh_call_activity, refresh_message_activity, settings, webhook,
};
use crate::crypto::{SecretKey, secret_aad};
use crate::db::begin_tenant;
use crate::error::ToolError;
use crate::registry::Channel;

/// The tenant's Twilio credentials, opened for one request.
pub struct Account {
    pub tenant_id: Uuid,
    pub account_sid: String,
    pub auth_token: SecretString,
}

/// One SMS to hand to the provider.
#[derive(Debug, Clone)]
pub struct OutboundSms<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    /// Our `sms-status` webhook, when the server knows its public URL.
    pub status_callback: Option<String>,
    pub idempotency_key: &'a str,
}

/// One bridged call: the provider rings `to` (the rep) from `from`, then fetches `voice_url`.
#[derive(Debug, Clone)]
pub struct OutboundCall<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub voice_url: String,
    pub status_callback: Option<String>,
    pub idempotency_key: &'a str,
}

/// What the provider created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub sid: String,
    pub status: String,
}

/// Why a request to the provider failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Worth trying again later (5xx, 429, timeouts, refused connections).
    #[error("{0}")]
    Transient(String),
    /// Refused; trying again fails the same way.
    #[error("{0}")]
    Permanent(String),
    /// The provider may have acted on it (e.g. it answered success with an unreadable body).
    #[error("{0}")]
    Uncertain(String),
}

/// The provider behind the outbox (`heimdell-adapters` implements it for Twilio).
pub trait Gateway: Send + Sync + 'static {
    fn send_sms<'a>(
        &'a self,
        account: &'a Account,
        sms: OutboundSms<'a>,
    ) -> BoxFuture<'a, Result<Sent, GatewayError>>;

    fn start_call<'a>(
        &'a self,
        account: &'a Account,
        call: OutboundCall<'a>,
    ) -> BoxFuture<'a, Result<Sent, GatewayError>>;
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A record the job names could not be read (e.g. its contact is gone).
    #[error("outbox job: {0}")]
    Record(#[from] ToolError),
}

/// How the worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs claimed per pass.
    pub batch: i32,
    /// Jobs handled at once.
    pub concurrency: usize,
    /// How long a claim holds before another worker may take the job; longer than a request.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs (it is also woken by NOTIFY).
    pub poll_interval: Duration,
    /// Attempts before a transiently failing job is dead-lettered.
    pub max_attempts: i32,
    /// First retry delay; doubled each attempt, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// `HEIMDELL_PUBLIC_URL`: status callbacks and the voice webhook are built on it.
    pub public_url: Option<String>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch: 64,
            concurrency: 16,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            max_attempts: 6,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
            public_url: None,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub claimed: usize,
    pub sent: usize,
    /// Put back for a later attempt after a transient failure.
    pub retried: usize,
    /// Held back by quiet hours, the daily cap or the rate limit.
    pub deferred: usize,
    /// Not sent because consent changed (STOP, do not call, anonymised).
    pub canceled: usize,
    pub dead: usize,
}

impl Report {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Sent => self.sent += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::Deferred => self.deferred += 1,
            Outcome::Canceled => self.canceled += 1,
            Outcome::Dead => self.dead += 1,
            Outcome::Skipped => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retried,
    Deferred,
    Canceled,
    Dead,
    Skipped,
}

/// Delivers outbox jobs; cheap to clone.
#[derive(Clone)]
pub struct Worker {
    pool: PgPool,
    gateway: Arc<dyn Gateway>,
    key: Option<Arc<SecretKey>>,
    config: Arc<WorkerConfig>,
}

struct Claim {
    tenant_id: Uuid,
    job_id: Uuid,
    token: Uuid,
    interrupted: bool,
}

#[derive(sqlx::FromRow)]
struct Job {
    kind: String,
    idempotency_key: String,
    message_id: Option<Uuid>,
    call_id: Option<Uuid>,
    status: String,
    attempts: i32,
    claim_token: Option<Uuid>,
}

impl Job {
    /// What the job sends: (message id, call id).
    fn subject(&self) -> (Option<Uuid>, Option<Uuid>) {
        (self.message_id, self.call_id)
    }
}

/// The job's subject after the checks, ready to hand to the gateway.
enum Ready {
    Sms {
        message_id: Uuid,
        from: String,
        to: String,
        body: String,
    },
    Call {
        call_id: Uuid,
        from: String,
        rep: String,
    },
}

impl Worker {
    pub fn new(
        pool: PgPool,
        gateway: Arc<dyn Gateway>,
        key: Option<SecretKey>,
        config: WorkerConfig,
    ) -> Worker {
        Worker {
            pool,
            gateway,
            key: key.map(Arc::new),
            config: Arc::new(config),
        }
    }

    /// Claims due jobs once and handles them; returns what happened.
    pub async fn run_once(&self) -> Result<Report, OutboxError> {
        let lease = i32::try_from(self.config.lease.as_secs()).unwrap_or(i32::MAX);
        let rows: Vec<(Uuid, Uuid, Uuid, bool)> = sqlx::query_as(
            "SELECT tenant_id, job_id, claim_token, interrupted FROM outbox_claim($1, $2)",
        )
        .bind(self.config.batch)
        .bind(lease)
        .fetch_all(&self.pool)
        .await?;
        let mut report = Report {
            claimed: rows.len(),
            ..Report::default()
        };
        let claims = rows
            .into_iter()
            .map(|(tenant_id, job_id, token, interrupted)| Claim {
                tenant_id,
                job_id,
                token,
                interrupted,
            });
        let outcomes: Vec<Result<Outcome, OutboxError>> = futures_util::stream::iter(claims)
            .map(|c| async move {
                let result = self.handle(&c).await;
                if let Err(e) = &result {
                    tracing::error!(job = %c.job_id, tenant = %c.tenant_id, error = %e, "outbox job failed");
                }
                result
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        // A job whose handling failed on the database keeps its claim and is taken again when
        // the lease runs out.
        for o in outcomes.into_iter().flatten() {
            report.add(o);
        }
        Ok(report)
    }

    /// Passes until nothing due is left; the total of what they did.
    pub async fn drain(&self) -> Result<Report, OutboxError> {
        let mut total = Report::default();
        loop {
            let r = self.run_once().await?;
            total.claimed += r.claimed;
            total.sent += r.sent;
            total.retried += r.retried;
            total.deferred += r.deferred;
            total.canceled += r.canceled;
            total.dead += r.dead;
            if r.claimed == 0 {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown` resolves: a pass whenever woken by NOTIFY on the outbox channel
    /// or every `poll_interval`. A pass in progress is finished before stopping.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut listener = match sqlx::postgres::PgListener::connect_with(&self.pool).await {
            Ok(mut l) => match l.listen(OUTBOX_CHANNEL).await {
                Ok(()) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: LISTEN failed; polling only");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "outbox: no listener connection; polling only");
                None
            }
        };
        loop {
            let busy = match self.run_once().await {
                Ok(r) => r.claimed > 0,
                Err(e) => {
                    tracing::error!(error = %e, "outbox pass failed");
                    false
                }
            };
            if busy {
                // More may be due; look again at once (unless asked to stop).
                if futures_util::poll!(shutdown.as_mut()).is_ready() {
                    return;
                }
                continue;
            }
            let wait = tokio::time::sleep(self.config.poll_interval);
            tokio::select! {
                _ = &mut shutdown => return,
                _ = wait => {}
                n = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await.map(|_| ()),
                        None => std::future::pending().await,
                    }
                } => {
                    if let Err(e) = n {
                        tracing::warn!(error = %e, "outbox: listener failed; polling only");
                        listener = None;
                    }
                }
            }
        }
    }

    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let exp = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let delay = self
            .config
            .backoff_base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.config.backoff_max);
        chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::seconds(600))
    }

    fn url(&self, tenant_id: Uuid, path: &str) -> Option<String> {
        self.config
            .public_url
            .as_deref()
            .map(|base| webhook::url(base, tenant_id, path))
    }

    async fn handle(&self, c: &Claim) -> Result<Outcome, OutboxError> {
        let mut tx = begin_tenant(&self.pool, c.tenant_id).await?;
        let job: Option<Job> = sqlx::query_as(
            "SELECT kind, idempotency_key, message_id, call_id, status, attempts, claim_token
             FROM outbox_jobs WHERE id = $1 FOR UPDATE",
        )
        .bind(c.job_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(job) = job else {
            return Ok(Outcome::Skipped);
        };
        if job.claim_token != Some(c.token) || !matches!(job.status.as_str(), "claimed" | "sending")
        {
            return Ok(Outcome::Skipped);
        }
        let now = Utc::now();
        if c.interrupted {
            let why = "delivery uncertain: the worker stopped while the request to Twilio was in flight; check Twilio's log before sending again";
            finish(&mut tx, c.job_id, "dead", Some("uncertain"), Some(why), now).await?;
            mark_subject(&mut tx, job.subject(), "uncertain", None, Some(why)).await?;
            tx.commit().await?;
            return Ok(Outcome::Dead);
        }
        let Some(s) = settings(&mut tx).await? else {
            let why = "Twilio is no longer connected for this workspace";
            finish(
                &mut tx,
                c.job_id,
                "dead",
                Some("not_connected"),
                Some(why),
                now,
            )
            .await?;
            mark_subject(&mut tx, job.subject(), "failed", None, Some(why)).await?;
            tx.commit().await?;
            return Ok(Outcome::Dead);
        };
        let ready = match self.check(&mut tx, c, &job, &s, now).await? {
            Ok(ready) => ready,
            Err(outcome) => {
                tx.commit().await?;
                return Ok(outcome);
            }
        };
        let token = match self.key.as_ref().map(|k| {
            k.open(
                &s.auth_token_sealed,
                &secret_aad(c.tenant_id, TOKEN_PURPOSE),
            )
        }) {
            Some(Ok(t)) => t,
            other => {
                let why = match other {
                    None => "the server has no HEIMDELL_SECRET_KEY to open the Twilio auth token",
                    _ => {
                        "the Twilio auth token does not open with this server's HEIMDELL_SECRET_KEY"
                    }
                };
                drop(tx);
                let attempts = job.attempts + 1;
                return self
                    .failed(c, &job, GatewayError::Transient(why.into()), attempts)
                    .await;
            }
        };

        // Mark it in flight and commit before calling out.
        sqlx::query(
            "UPDATE outbox_jobs SET status = 'sending', attempts = attempts + 1,
                 locked_until = clock_timestamp() + make_interval(secs => $2), updated_at = $3
             WHERE id = $1",
        )
        .bind(c.job_id)
        .bind(self.config.lease.as_secs_f64())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        match &ready {
            Ready::Sms { message_id, .. } => {
                sqlx::query("UPDATE messages SET status = 'sending', sent_at = $2, updated_at = $2 WHERE id = $1")
                    .bind(message_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            Ready::Call { call_id, .. } => {
                sqlx::query("UPDATE calls SET updated_at = $2 WHERE id = $1")
                    .bind(call_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        let attempts = job.attempts + 1;

        let account = Account {
            tenant_id: c.tenant_id,
            account_sid: s.account_sid.clone(),
            auth_token: token,
        };
        let result = match &ready {
            Ready::Sms { from, to, body, .. } => {
                self.gateway
                    .send_sms(
                        &account,
                        OutboundSms {
                            from,
                            to,
                            body,
                            status_callback: self.url(c.tenant_id, webhook::SMS_STATUS),
                            idempotency_key: &job.idempotency_key,
                        },
                    )
                    .await
            }
            Ready::Call { call_id, from, rep } => match self.url(c.tenant_id, webhook::VOICE) {
                None => Err(GatewayError::Permanent(
                    "HEIMDELL_PUBLIC_URL is not set, so Twilio could not fetch the call's instructions".into(),
                )),
                Some(voice) => {
                    self.gateway
                        .start_call(
                            &account,
                            OutboundCall {
                                from,
                                to: rep,
                                voice_url: format!("{voice}?call={call_id}"),
                                status_callback: self.url(c.tenant_id, webhook::CALL_STATUS),
                                idempotency_key: &job.idempotency_key,
                            },
                        )
                        .await
                }
            },
        };
        // The request is made; recording its outcome is retried a few times, since a job left
        // `sending` can only end as `uncertain`.
        let mut tries = 0;
        loop {
            let recorded = match &result {
                Ok(sent) => self.succeeded(c, &job, sent).await,
                Err(e) => self.failed(c, &job, e.clone(), attempts).await,
            };
            match recorded {
                Err(e) if tries < 3 => {
                    tries += 1;
                    tracing::warn!(job = %c.job_id, error = %e, "outbox: recording the outcome failed; trying again");
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
                other => return other,
            }
        }
    }

    /// The checks before sending; `Err(outcome)` when the job was rescheduled or stopped (the
    /// caller commits).
    async fn check(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        job: &Job,
        s: &TwilioSettings,
        now: DateTime<Utc>,
    ) -> Result<Result<Ready, Outcome>, OutboxError> {
        match (job.kind.as_str(), job.message_id, job.call_id) {
            ("sms", Some(message_id), _) => {
                let (contact_id, from, to, body): (Option<Uuid>, String, String, String) =
                    sqlx::query_as(
                        "SELECT contact_id, from_number, to_number, body FROM messages WHERE id = $1",
                    )
                    .bind(message_id)
                    .fetch_one(&mut *tx)
                    .await?;
                // A text whose contact is gone (deleted since approval) has nobody whose
                // consent could be checked: it is not sent.
                let r = match contact_id {
                    Some(id) => Ok(recipient_for_send(tx, id).await?),
                    None => Err("no_contact"),
                };
                if let Some(why) = r
                    .as_ref()
                    .map_or_else(|w| Some(*w), |r| r.blocked_at(Channel::Sms, &to))
                {
                    finish(tx, c.job_id, "canceled", Some(why), None, now).await?;
                    mark_subject(tx, job.subject(), "blocked", None, None).await?;
                    return Ok(Err(Outcome::Canceled));
                }
                let tz = r.as_ref().map_or(s.tenant_tz, |r| r.tz(s.tenant_tz));
                if let Some(at) = s.quiet.next_allowed(now, tz) {
                    defer(tx, c.job_id, message_id, at, "quiet_hours", now).await?;
                    return Ok(Err(Outcome::Deferred));
                }
                // The per-number limit counts texts sent or in flight in the last minute; one
                // worker at a time per sending number, so two never take the last slot.
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('heimdell.sms.' || app_tenant()::text || $1, 0))")
                    .bind(&from)
                    .execute(&mut *tx)
                    .await?;
                let (last_minute, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
                    "SELECT count(*), min(sent_at) FROM messages
                     WHERE direction = 'outbound' AND from_number = $1 AND sent_at IS NOT NULL
                       AND sent_at > $2 - interval '1 minute'
                       AND status NOT IN ('pending', 'blocked', 'canceled')",
                )
                .bind(&from)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                if last_minute >= i64::from(s.per_number_per_minute) {
                    let at = oldest.map_or(now, |o| o + chrono::Duration::minutes(1))
                        + chrono::Duration::milliseconds(50);
                    defer(tx, c.job_id, message_id, at.max(now), "rate_limit", now).await?;
                    return Ok(Err(Outcome::Deferred));
                }
                // The daily cap: take a slot of today's counter (the row lock makes the count
                // exact across workers); give it back if the cap is reached.
                let day = now.with_timezone(&s.tenant_tz).date_naive();
                let sent: i32 = sqlx::query_scalar(
                    "INSERT INTO sms_daily_counts (tenant_id, day, sent) VALUES (app_tenant(), $1, 1)
                     ON CONFLICT (tenant_id, day) DO UPDATE SET sent = sms_daily_counts.sent + 1
                     RETURNING sent",
                )
                .bind(day)
                .fetch_one(&mut *tx)
                .await?;
                if sent > s.daily_cap {
                    sqlx::query("UPDATE sms_daily_counts SET sent = sent - 1 WHERE day = $1")
                        .bind(day)
                        .execute(&mut *tx)
                        .await?;
                    let at = quiet::next_local_midnight(now, s.tenant_tz);
                    defer(tx, c.job_id, message_id, at, "daily_cap", now).await?;
                    return Ok(Err(Outcome::Deferred));
                }
                sqlx::query("UPDATE outbox_jobs SET counted_day = $2 WHERE id = $1")
                    .bind(c.job_id)
                    .bind(day)
                    .execute(&mut *tx)
                    .await?;
                Ok(Ok(Ready::Sms {
                    message_id,
                    from,
                    to,
                    body,
                }))
            }
            ("call", _, Some(call_id)) => {
                let (contact_id, number, from, rep): (Uuid, String, String, String) =
                    sqlx::query_as(
                        "SELECT contact_id, contact_number, from_number, rep_number FROM calls WHERE id = $1",
                    )
                    .bind(call_id)
                    .fetch_one(&mut *tx)
                    .await?;
                let r = recipient_for_send(tx, contact_id).await?;
                let quiet_now = s.quiet.next_allowed(now, r.tz(s.tenant_tz)).is_some();
                let why = r
                    .blocked_at(Channel::Call, &number)
                    .or(quiet_now.then_some("quiet_hours"));
                if let Some(why) = why {
                    // Calls are never put off: one that can no longer be placed now is dropped.
                    finish(tx, c.job_id, "canceled", Some(why), None, now).await?;
                    mark_subject(tx, job.subject(), "canceled", None, None).await?;
                    return Ok(Err(Outcome::Canceled));
                }
                Ok(Ok(Ready::Call { call_id, from, rep }))
            }
            _ => {
                let why = "the job names no message or call";
                finish(tx, c.job_id, "dead", Some("invalid"), Some(why), now).await?;
                Ok(Err(Outcome::Dead))
            }
        }
    }

    async fn succeeded(&self, c: &Claim, job: &Job, sent: &Sent) -> Result<Outcome, OutboxError> {
        let mut tx = begin_tenant(&self.pool, c.tenant_id).await?;
        let now = Utc::now();
        // Recorded whatever the job's state now: this worker made the request and knows.
        finish(&mut tx, c.job_id, "done", None, None, now).await?;
        mark_subject(&mut tx, job.subject(), &sent.status, Some(&sent.sid), None).await?;
        tx.commit().await?;
        Ok(Outcome::Sent)
    }

    async fn failed(
        &self,
        c: &Claim,
        job: &Job,
        e: GatewayError,
        attempts: i32,
    ) -> Result<Outcome, OutboxError> {
        let mut tx = begin_tenant(&self.pool, c.tenant_id).await?;
        let now = Utc::now();
        let message = e.to_string();
        if !matches!(e, GatewayError::Uncertain(_)) {
            // Not sent: the text no longer counts towards the daily cap.
            sqlx::query(
                "WITH j AS (UPDATE outbox_jobs o SET counted_day = NULL
                            FROM outbox_jobs old WHERE o.id = $1 AND old.id = o.id
                              AND old.tenant_id = o.tenant_id AND old.counted_day IS NOT NULL
                            RETURNING old.counted_day AS day)
                 UPDATE sms_daily_counts c SET sent = greatest(c.sent - 1, 0) FROM j WHERE c.day = j.day",
            )
            .bind(c.job_id)
            .execute(&mut *tx)
            .await?;
        }
        let outcome = match e {
            GatewayError::Transient(_) if attempts < self.config.max_attempts => {
                let at = now + self.backoff(attempts);
                sqlx::query(
                    "UPDATE outbox_jobs SET status = 'pending', not_before = $2, last_error = $3,
                         attempts = greatest(attempts, $5), claim_token = NULL, locked_until = NULL,
                         updated_at = $4 WHERE id = $1",
                )
                .bind(c.job_id)
                .bind(at)
                .bind(&message)
                .bind(now)
                .bind(attempts)
                .execute(&mut *tx)
                .await?;
                if let Some(m) = job.message_id {
                    sqlx::query(
                        "UPDATE messages SET status = 'pending', sent_at = NULL, send_after = $2,
                             error_message = $3, updated_at = $4 WHERE id = $1",
                    )
                    .bind(m)
                    .bind(at)
                    .bind(&message)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Outcome::Retried
            }
            GatewayError::Uncertain(_) => {
                finish(
                    &mut tx,
                    c.job_id,
                    "dead",
                    Some("uncertain"),
                    Some(&message),
                    now,
                )
                .await?;
                mark_subject(&mut tx, job.subject(), "uncertain", None, Some(&message)).await?;
                Outcome::Dead
            }
            GatewayError::Transient(_) | GatewayError::Permanent(_) => {
                let reason = if matches!(e, GatewayError::Permanent(_)) {
                    "refused"
                } else {
                    "gave_up"
                };
                finish(&mut tx, c.job_id, "dead", Some(reason), Some(&message), now).await?;
                mark_subject(&mut tx, job.subject(), "failed", None, Some(&message)).await?;
                Outcome::Dead
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Closes a job: `done`, `dead` or `canceled`.
async fn finish(
    tx: &mut PgConnection,
    job_id: Uuid,
    status: &str,
    reason: Option<&str>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox_jobs SET status = $2, reason = coalesce($3, reason), last_error = coalesce($4, last_error),
             claim_token = NULL, locked_until = NULL, done_at = $5, updated_at = $5 WHERE id = $1",
    )
    .bind(job_id)
    .bind(status)
    .bind(reason)
    .bind(error)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Puts an SMS job back until `at`, with the reason it waits.
async fn defer(
    tx: &mut PgConnection,
    job_id: Uuid,
    message_id: Uuid,
    at: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox_jobs SET status = 'pending', not_before = $2, reason = $3, claim_token = NULL,
             locked_until = NULL, updated_at = $4 WHERE id = $1",
    )
    .bind(job_id)
    .bind(at)
    .bind(reason)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE messages SET queued_reason = $2, send_after = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(message_id)
    .bind(reason)
    .bind(at)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records a status (and the provider's SID) on the job's message or call and its timeline
/// entry.
/// Cancels a contact's texts (or calls) still waiting in the outbox, because they withdrew
/// consent for that channel: they no longer show as scheduled, and stop counting towards the
/// day's cap. A worker that already holds one of them checks consent again before sending.
pub async fn cancel_waiting(
    conn: &mut PgConnection,
    contact_id: Uuid,
    channel: Channel,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let jobs: Vec<(Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "UPDATE outbox_jobs j SET status = 'canceled', reason = $3, done_at = $4, updated_at = $4,
             claim_token = NULL, locked_until = NULL
         WHERE j.status IN ('pending', 'claimed')
           AND ((j.kind = 'sms' AND $2 = 'sms' AND EXISTS (SELECT 1 FROM messages m
                     WHERE m.tenant_id = j.tenant_id AND m.id = j.message_id AND m.contact_id = $1))
             OR (j.kind = 'call' AND $2 = 'call' AND EXISTS (SELECT 1 FROM calls k
                     WHERE k.tenant_id = j.tenant_id AND k.id = j.call_id AND k.contact_id = $1)))
         RETURNING j.message_id, j.call_id",
    )
    .bind(contact_id)
    .bind(match channel {
        Channel::Sms => "sms",
        Channel::Call => "call",
    })
    .bind(reason)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    for subject in &jobs {
        mark_subject(conn, *subject, "blocked", None, None).await?;
    }
    Ok(jobs.len())
}

/// Sets the status of a job's subject (its message, or its call) and refreshes its timeline
/// entry. `subject` is (message id, call id); one of them is set.
async fn mark_subject(
    tx: &mut PgConnection,
    (message_id, call_id): (Option<Uuid>, Option<Uuid>),
    status: &str,
    sid: Option<&str>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    if let Some(m) = message_id {
        let entry = json!([{"status": status, "at": now}]);
        sqlx::query(
            "UPDATE messages SET status = $2, provider_sid = coalesce($3, provider_sid),
                 error_message = coalesce($4, error_message),
                 sent_at = CASE WHEN $2 IN ('blocked', 'canceled', 'failed') AND $3::text IS NULL THEN NULL ELSE sent_at END,
                 status_history = status_history || $5, updated_at = $6
             WHERE id = $1",
        )
        .bind(m)
        .bind(status)
        .bind(sid)
        .bind(error)
        .bind(entry)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        refresh_message_activity(tx, m).await?;
    }
    if let Some(k) = call_id {
        let call_status = match status {
            "blocked" => "canceled",
            s => s,
        };
        sqlx::query(
            "UPDATE calls SET status = $2, provider_sid = coalesce($3, provider_sid),
                 error_message = coalesce($4, error_message), updated_at = $5 WHERE id = $1",
        )
        .bind(k)
        .bind(call_status)
        .bind(sid)
        .bind(error)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        refresh_call_activity(tx, k).await?;
    }
    Ok(())
}

/// Outbox jobs for admins: dead letters by default, newest first.
pub async fn list(
    conn: &mut PgConnection,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT jsonb_build_object('id', j.id, 'kind', j.kind, 'status', j.status,
                    'attempts', j.attempts, 'not_before', j.not_before, 'reason', j.reason,
                    'last_error', j.last_error, 'action_id', j.action_id, 'message_id', j.message_id,
                    'call_id', j.call_id, 'contact_id', coalesce(m.contact_id, k.contact_id),
                    'to', coalesce(m.to_number, k.contact_number), 'created_at', j.created_at,
                    'updated_at', j.updated_at)
         FROM outbox_jobs j
         LEFT JOIN messages m ON m.tenant_id = j.tenant_id AND m.id = j.message_id
         LEFT JOIN calls k ON k.tenant_id = j.tenant_id AND k.id = j.call_id
         WHERE ($1::text IS NULL OR j.status = $1)
         ORDER BY j.updated_at DESC LIMIT $2",
    )
    .bind(status)
    .bind(limit.clamp(1, 500))
    .fetch_all(conn)
    .await
}
