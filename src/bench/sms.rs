//! `heimdell bench sms`: the texting figures for BENCHMARKS.md, measured in-process against
//! the database in DATABASE_URL and a fake Twilio on 127.0.0.1 that answers `Messages.json`
//! the way Twilio does (it only counts what it receives).
//!
//! 1. **Delivery**: N texts to N distinct contacts are proposed and approved through the
//!    actions pipeline (not timed), then the outbox worker (the same one `heimdell serve` runs,
//!    with its default settings) is timed until every job is done. The fake must have received
//!    exactly N requests, with N distinct idempotency keys.
//! 2. **Inbound webhooks**: the real HTTP server is started on 127.0.0.1:0, and signed inbound
//!    SMS webhooks are sent open-loop at a fixed rate; each one's latency is measured at the
//!    client, and the messages recorded in the database are counted afterwards.
//!
//! Everything happens in a tenant named "Bench SMS" (created on first use, with its own
//! contacts); nothing of the demo tenants is touched. Its Twilio connection is made again on
//! every run with a bench key, so `HEIMDELL_SECRET_KEY` is not needed.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use heimdell_agent::actions::{Caller, ProposeOutcome, ProposeRequest};
use heimdell_tools::crypto::SecretKey;
use heimdell_tools::db::begin_tenant;
use heimdell_tools::domain::{Country, Role};
use heimdell_tools::outreach::valid_e164;
use heimdell_tools::tenancy::{self, NewMember, NewTenant};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Summary, summarise};
use crate::config::Config;

const TENANT: &str = "Bench SMS";
const SID: &str = "ACbench00000000000000000000000000";
const TOKEN: &str = "bench-auth-token-0000000000000000";
const FROM: &str = "+14155552000";

/// What the delivery run measured.
pub struct Delivery {
    pub approved: usize,
    pub delivered: i64,
    pub requests: usize,
    pub distinct_keys: usize,
    pub elapsed: Duration,
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "{} approved texts to distinct contacts: {} delivered in {:.2} s ({:.0}/s); fake Twilio received {} requests with {} distinct idempotency keys",
            self.approved,
            self.delivered,
            secs,
            self.delivered as f64 / secs.max(f64::EPSILON),
            self.requests,
            self.distinct_keys
        )
    }
}

/// What the inbound webhook run measured.
pub struct Inbound {
    pub rate: f64,
    pub sent: usize,
    pub recorded: i64,
    pub latency: Summary,
}

impl std::fmt::Display for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} signed inbound SMS webhooks at {:.0}/s: {} recorded; latency {}",
            self.sent, self.rate, self.recorded, self.latency
        )
    }
}

/// The fake Twilio: counts `Messages.json` requests and their idempotency keys.
pub(crate) struct Sink {
    pub(crate) base_url: String,
    pub(crate) requests: Arc<AtomicUsize>,
    keys: Arc<Mutex<HashSet<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

#[derive(Clone)]
struct SinkState {
    requests: Arc<AtomicUsize>,
    keys: Arc<Mutex<HashSet<String>>>,
}

async fn messages(State(s): State<SinkState>, headers: HeaderMap) -> (StatusCode, String) {
    s.requests.fetch_add(1, Ordering::SeqCst);
    if let Some(key) = headers
        .get(heimdell_adapters::twilio::IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        && let Ok(mut keys) = s.keys.lock()
    {
        keys.insert(key.to_string());
    }
    // Like Twilio's, every SID is new, across runs too.
    let sid = format!("SM{}", Uuid::new_v4().simple());
    let body = json!({"sid": sid, "status": "queued", "num_segments": "1"});
    (StatusCode::CREATED, body.to_string())
}

async fn sink() -> anyhow::Result<Sink> {
    sink_on("127.0.0.1:0").await
}

/// A fake Twilio `Messages.json` on `addr` (e.g. a port a server under test was told about).
pub(crate) async fn sink_on(addr: &str) -> anyhow::Result<Sink> {
    let state = SinkState {
        requests: Arc::new(AtomicUsize::new(0)),
        keys: Arc::new(Mutex::new(HashSet::new())),
    };
    let app = Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", post(messages))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("the fake Twilio cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Sink {
        base_url: format!("http://{addr}"),
        requests: state.requests,
        keys: state.keys,
        stop: Some(stop),
    })
}

/// The bench contact number `i`: distinct, valid E.164 numbers in San Francisco.
fn number(i: usize) -> String {
    format!("+1415{}{:04}", 200 + i / 10_000, i % 10_000)
}

/// The bench tenant, its admin, and `n` contacts with distinct numbers (created when missing;
/// consent reset; leftover jobs of earlier runs canceled).
async fn tenant(pool: &PgPool, n: usize) -> anyhow::Result<(Uuid, Uuid, Vec<(Uuid, String)>)> {
    let found: Option<Uuid> = sqlx::query_scalar("SELECT tenant_by_name($1)")
        .bind(TENANT)
        .fetch_one(pool)
        .await?;
    let tenant_id = match found {
        Some(id) => id,
        None => {
            let id = Uuid::now_v7();
            let mut tx = begin_tenant(pool, id).await?;
            tenancy::create_tenant(
                &mut tx,
                &NewTenant {
                    id,
                    name: TENANT,
                    country: Country::parse("US").map_err(anyhow::Error::msg)?,
                    timezone: chrono_tz::UTC,
                },
            )
            .await?;
            tenancy::add_member(
                &mut tx,
                &NewMember {
                    email: "admin@bench-sms.test",
                    name: "Bench Admin",
                    role: Role::Admin,
                    timezone: chrono_tz::UTC,
                    phone: None,
                    password_hash: None,
                },
            )
            .await?;
            tx.commit().await?;
            id
        }
    };
    let mut tx = begin_tenant(pool, tenant_id).await?;
    let admin: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE role = 'admin' ORDER BY created_at LIMIT 1")
            .fetch_one(&mut *tx)
            .await
            .context("the bench tenant has no admin")?;
    let have: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM contacts WHERE email LIKE 'bench-%@bench-sms.test'",
    )
    .fetch_one(&mut *tx)
    .await?;
    let have = usize::try_from(have).unwrap_or(0);
    if have < n {
        let mut emails = Vec::new();
        let mut phones = Vec::new();
        for i in have..n {
            let phone = number(i);
            if valid_e164(&phone).is_none() {
                bail!("bench number {phone} is not a valid E.164 number");
            }
            emails.push(format!("bench-{i:06}@bench-sms.test"));
            phones.push(phone);
        }
        sqlx::query(
            "INSERT INTO contacts (tenant_id, first_name, last_name, email, phone, owner_id, timezone)
             SELECT app_tenant(), 'Bench', 'Contact ' || e.email, e.email, e.phone, $3, 'UTC'
             FROM unnest($1::text[], $2::text[]) AS e(email, phone)",
        )
        .bind(&emails)
        .bind(&phones)
        .bind(admin)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE contacts SET sms_opt_out = false, do_not_call = false
         WHERE email LIKE 'bench-%@bench-sms.test' AND (sms_opt_out OR do_not_call)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE outbox_jobs SET status = 'canceled', reason = 'bench_reset', done_at = now()
         WHERE status IN ('pending', 'claimed', 'sending')",
    )
    .execute(&mut *tx)
    .await?;
    let contacts: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, phone FROM contacts WHERE email LIKE 'bench-%@bench-sms.test' ORDER BY email LIMIT $1",
    )
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((tenant_id, admin, contacts))
}

/// The config the bench runs with: the fake Twilio, and a key of its own when none is set.
fn bench_config(config: &Config, twilio: &str) -> Config {
    let mut c = config.clone();
    c.twilio_base_url = twilio.to_string();
    if c.secret_key.is_none() {
        c.secret_key = Some(SecretKey::generate());
    }
    c.public_url = None;
    c
}

/// Connects the bench tenant's Twilio (again) through the pipeline, as its admin.
async fn connect(state: &heimdell_adapters::http::ApiState, caller: Caller) -> anyhow::Result<()> {
    let req = ProposeRequest {
        tool: "connect_twilio".into(),
        args: json!({
            "account_sid": SID,
            "auth_token": TOKEN,
            "numbers": [FROM],
            "quiet_hours_start": "00:00",
            "quiet_hours_end": "00:00",
            "daily_cap": 1_000_000,
            "per_number_per_minute": 100_000,
        }),
        approve: true,
        idempotency_key: None,
        source: "api",
    };
    match state.pipeline.propose(caller, req).await? {
        ProposeOutcome::Executed { .. } => Ok(()),
        other => bail!("connect_twilio did not run at once: {other:?}"),
    }
}

/// Delivery: `n` approved texts to distinct contacts, timed from the first claim to the last
/// job done.
pub async fn delivery(config: &Config, pool: PgPool, n: usize) -> anyhow::Result<Delivery> {
    let sink = sink().await?;
    let config = bench_config(config, &sink.base_url);
    let (tenant_id, admin, contacts) = tenant(&pool, n).await?;
    let state = crate::app::state(&config, pool.clone())?;
    let caller = Caller {
        tenant_id,
        user_id: admin,
    };
    connect(&state, caller).await?;

    // Propose and approve (not timed), 16 at a time.
    eprintln!("approving {n} texts…");
    let mut actions = Vec::with_capacity(n);
    let mut set = tokio::task::JoinSet::new();
    let mut queue = contacts.iter().map(|(id, _)| *id);
    let spawn = |set: &mut tokio::task::JoinSet<anyhow::Result<Uuid>>, contact: Uuid| {
        let pipeline = state.pipeline.clone();
        set.spawn(async move {
            let req = ProposeRequest {
                tool: "send_sms".into(),
                args: json!({"contact_id": contact, "body": "Hi {first_name}, this is the Heimdell SMS benchmark."}),
                approve: true,
                idempotency_key: None,
                source: "api",
            };
            match pipeline.propose(caller, req).await? {
                ProposeOutcome::Executed { id, .. } => Ok(id),
                other => bail!("send_sms did not run at once: {other:?}"),
            }
        });
    };
    for contact in queue.by_ref().take(16) {
        spawn(&mut set, contact);
    }
    while let Some(done) = set.join_next().await {
        actions.push(done.context("an approval task failed")??);
        if let Some(contact) = queue.next() {
            spawn(&mut set, contact);
        }
    }

    let worker = crate::app::worker(&config, pool.clone());
    eprintln!("delivering…");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let mut delivered: i64 = 0;
    while Instant::now() < deadline {
        worker.drain().await?;
        let mut tx = begin_tenant(&pool, tenant_id).await?;
        delivered = sqlx::query_scalar(
            "SELECT count(*) FROM outbox_jobs WHERE action_id = ANY($1) AND status = 'done'",
        )
        .bind(&actions)
        .fetch_one(&mut *tx)
        .await?;
        // Jobs still open after a drain wait for a time (the per-number rate limit, a retry):
        // sleep until the earliest of them comes due rather than polling.
        let (open, due_in): (i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), extract(epoch FROM min(greatest(not_before, coalesce(locked_until, not_before))) - now())::float8
             FROM outbox_jobs WHERE action_id = ANY($1) AND status IN ('pending', 'claimed', 'sending')",
        )
        .bind(&actions)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if open == 0 {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let due_in = Duration::from_secs_f64(due_in.unwrap_or(0.0).max(0.001));
        tokio::time::sleep(due_in.min(left)).await;
    }
    let elapsed = started.elapsed();
    let distinct_keys = sink.keys.lock().map(|k| k.len()).unwrap_or(0);
    Ok(Delivery {
        approved: actions.len(),
        delivered,
        requests: sink.requests.load(Ordering::SeqCst),
        distinct_keys,
        elapsed,
    })
}

/// Inbound webhooks: signed inbound texts from the bench contacts at `rate` a second for
/// `seconds`, against the real server; latency per request at the client.
pub async fn inbound(
    config: &Config,
    pool: PgPool,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<Inbound> {
    if rate <= 0.0 || seconds <= 0.0 {
        bail!("--webhook-rate and --webhook-seconds must be positive");
    }
    let total = (rate * seconds).round() as usize;
    let sink = sink().await?;
    let mut config = bench_config(config, &sink.base_url);
    let (tenant_id, admin, contacts) = tenant(&pool, 1000).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    config.public_url = Some(base.clone());
    let state = crate::app::state(&config, pool.clone())?;
    connect(
        &state,
        Caller {
            tenant_id,
            user_id: admin,
        },
    )
    .await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::app::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = Arc::new(format!("{base}/webhooks/twilio/{tenant_id}/sms"));
    let run = Uuid::now_v7().simple().to_string();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut set = tokio::task::JoinSet::new();
    eprintln!("sending {total} webhooks at {rate}/s…");
    for i in 0..total {
        tick.tick().await;
        let (client, url) = (client.clone(), url.clone());
        let sid = format!("SMbench{run}{i:08}");
        let from = contacts[i % contacts.len()].1.clone();
        set.spawn(async move {
            let body_text = format!("Bench reply {i}");
            let params = [
                ("MessageSid", sid.as_str()),
                ("AccountSid", SID),
                ("From", from.as_str()),
                ("To", FROM),
                ("Body", body_text.as_str()),
            ];
            let owned: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let signature = heimdell_adapters::twilio::expected_signature(TOKEN, &url, &owned);
            let started = Instant::now();
            let ok = match client
                .post(url.as_str())
                .header(heimdell_adapters::twilio::SIGNATURE_HEADER, signature)
                .form(&params)
                .send()
                .await
            {
                Ok(r) => r.status().is_success(),
                Err(_) => false,
            };
            (ok, started.elapsed())
        });
    }
    let mut samples = Vec::with_capacity(total);
    let mut errors = 0;
    while let Some(r) = set.join_next().await {
        match r {
            Ok((true, took)) => samples.push(took),
            _ => errors += 1,
        }
    }
    let _ = stop.send(());
    let _ = server.await;
    let mut tx = begin_tenant(&pool, tenant_id).await?;
    let recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE provider_sid LIKE $1")
            .bind(format!("SMbench{run}%"))
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    drop(sink);
    Ok(Inbound {
        rate,
        sent: total,
        recorded,
        latency: summarise(samples, errors),
    })
}
