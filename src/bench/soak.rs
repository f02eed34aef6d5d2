//! Load against a running server from a second process, watching its memory through `/metrics`
//! (`heimdell_process_resident_memory_bytes`; a loopback client, or `--metrics-token`).
//!
//! - `sign-in-flood`: failed sign-ins from many clients at once (each for a different unknown
//!   email, so every one costs a password check unless a limit refuses it first), while an
//!   authenticated read is offered at a steady rate beside them. Reports the answers by
//!   status, the read's latency, and the server's memory before, at its peak and after.
//! - `soak`: the benchmark mix (contact search, `create_task` proposed and approved, chat turns,
//!   texts proposed and approved and delivered to a fake Twilio this process runs, signed
//!   inbound texts) offered at fixed rates for N minutes, printing per minute the server's
//!   memory and each kind's count, errors and p95. Exits non-zero on any error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::Client;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::sms::sink_on;
use super::summarise;

/// Where the server is and how to reach its metrics.
pub struct Target {
    pub url: String,
    pub metrics_token: Option<String>,
    client: Client,
}

impl Target {
    pub fn new(url: &str, metrics_token: Option<String>) -> anyhow::Result<Self> {
        Ok(Target {
            url: url.trim_end_matches('/').to_string(),
            metrics_token,
            client: Client::builder()
                .pool_max_idle_per_host(256)
                .timeout(Duration::from_secs(30))
                .build()?,
        })
    }

    /// The server's resident memory, from its `/metrics`.
    pub async fn rss(&self) -> anyhow::Result<u64> {
        let mut req = self.client.get(format!("{}/metrics", self.url));
        if let Some(t) = &self.metrics_token {
            req = req.bearer_auth(t);
        }
        let text = req
            .send()
            .await?
            .error_for_status()
            .context("GET /metrics (run from the server's host, or pass --metrics-token)")?
            .text()
            .await?;
        text.lines()
            .find(|l| l.starts_with("heimdell_process_resident_memory_bytes"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
            .context("the server's /metrics has no heimdell_process_resident_memory_bytes")
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Offers `GET path` with `token` at `rate` a second until `stop`; latencies and failures.
async fn steady_reads(
    target: Arc<Target>,
    token: String,
    path: String,
    rate: f64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> (Vec<Duration>, usize) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut set = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let (target, token, path) = (target.clone(), token.clone(), path.clone());
        set.spawn(async move {
            let started = Instant::now();
            let ok = target
                .client
                .get(format!("{}{path}", target.url))
                .bearer_auth(token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            (ok, started.elapsed())
        });
    }
    let (mut samples, mut errors) = (Vec::new(), 0);
    while let Some(r) = set.join_next().await {
        match r {
            Ok((true, took)) => samples.push(took),
            _ => errors += 1,
        }
    }
    (samples, errors)
}

/// `heimdell bench sign-in-flood`.
pub async fn sign_in_flood(
    target: Target,
    token: String,
    attempts: usize,
    clients: usize,
) -> anyhow::Result<()> {
    if attempts == 0 || clients == 0 {
        bail!("--attempts and --clients must be at least 1");
    }
    let target = Arc::new(target);
    let before = target.rss().await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let reads = tokio::spawn(steady_reads(
        target.clone(),
        token,
        "/api/v1/contacts?limit=10".into(),
        20.0,
        stopped,
    ));
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let watcher = {
        let (target, peak) = (target.clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                if let Ok(rss) = target.rss().await {
                    peak.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let run = uuid::Uuid::now_v7().simple().to_string();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (target, next, run) = (target.clone(), next.clone(), run.clone());
        set.spawn(async move {
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= attempts {
                    break;
                }
                let status = target
                    .client
                    .post(format!("{}/api/v1/session", target.url))
                    .json(&json!({"email": format!("flood-{run}-{i}@example.test"), "password": "guess"}))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                *statuses.entry(status).or_default() += 1;
            }
            statuses
        });
    }
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    while let Some(r) = set.join_next().await {
        for (k, v) in r? {
            *statuses.entry(k).or_default() += v;
        }
    }
    let flood = started.elapsed();
    // The reads go on for at least 5 s, so a flood refused in a moment still has a sample.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(flood)).await;
    let _ = stop.send(true);
    let (samples, errors) = reads.await?;
    watcher.abort();
    // Memory a moment after the flood: what the allocator kept.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = target.rss().await?;
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed).max(after);
    println!(
        "{attempts} failed sign-ins from {clients} clients in {:.1} s; answers by status: {}",
        flood.as_secs_f64(),
        statuses
            .iter()
            .map(|(s, n)| format!("{s}×{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "server memory: {:.1} MiB before, {:.1} MiB at peak, {:.1} MiB after",
        mib(before),
        mib(peak),
        mib(after)
    );
    println!(
        "GET /api/v1/contacts?limit=10 at 20/s meanwhile (at least 5 s): {}",
        summarise(samples, errors)
    );
    if statuses.contains_key(&0) || statuses.keys().any(|s| *s >= 500) {
        bail!("some sign-ins got no answer or a 5xx");
    }
    Ok(())
}

/// What `soak` offers, per second.
pub struct SoakOptions {
    pub minutes: f64,
    pub rep_token: String,
    pub admin_token: String,
    /// Where this process runs the fake Twilio the server was pointed at
    /// (`HEIMDELL_TWILIO_BASE_URL`).
    pub twilio_addr: String,
    pub search_rate: f64,
    pub task_rate: f64,
    pub chat_rate: f64,
    pub text_rate: f64,
    pub inbound_rate: f64,
}

const SID: &str = "ACsoak000000000000000000000000000";
const TWILIO_TOKEN: &str = "soak-auth-token-00000000000000000";
const FROM: &str = "+14155552001";
const CONTACT_PHONE: &str = "+14155552999";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Search,
    Task,
    Chat,
    Text,
    Inbound,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Search => "search",
            Kind::Task => "create_task",
            Kind::Chat => "chat",
            Kind::Text => "send_sms",
            Kind::Inbound => "inbound_sms",
        }
    }
}

async fn post_json(client: &Client, url: &str, token: &str, body: Value) -> anyhow::Result<Value> {
    let r = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {url}: {status} {v}");
    }
    Ok(v)
}

/// What texting needs: a contact who agreed to texts, and the tenant (for the webhook URL).
struct Texting {
    contact: String,
    tenant: String,
}

/// Connects the admin's tenant to the fake Twilio and makes a contact who agreed to texts.
async fn texting_setup(target: &Target, admin: &str) -> anyhow::Result<Texting> {
    let c = &target.client;
    let url = |p: &str| format!("{}{p}", target.url);
    post_json(
        c,
        &url("/api/v1/integrations/twilio"),
        admin,
        json!({"account_sid": SID, "auth_token": TWILIO_TOKEN, "numbers": [FROM],
               "quiet_hours_start": "00:00", "quiet_hours_end": "00:00",
               "daily_cap": 1_000_000, "per_number_per_minute": 100_000}),
    )
    .await
    .context("connecting Twilio (the server needs HEIMDELL_SECRET_KEY and HEIMDELL_PUBLIC_URL)")?;
    let search = post_json(
        c,
        &url("/api/v1/actions"),
        admin,
        json!({"tool": "search", "args": {"query": CONTACT_PHONE}}),
    )
    .await?;
    let existing = search["result"]["results"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["type"] == "contact"))
        .and_then(|x| x["id"].as_str())
        .map(String::from);
    let id = match existing {
        Some(id) => id,
        None => {
            let made = post_json(
                c,
                &url("/api/v1/actions"),
                admin,
                json!({"tool": "create_contact", "approve": true,
                       "args": {"first_name": "Soak", "last_name": "Contact", "phone": CONTACT_PHONE}}),
            )
            .await?;
            made["result"]["contact"]["id"]
                .as_str()
                .context("create_contact answered no id")?
                .to_string()
        }
    };
    post_json(
        c,
        &url("/api/v1/actions"),
        admin,
        json!({"tool": "record_consent", "approve": true,
               "args": {"contact_id": id, "channel": "sms", "status": "granted", "source": "soak"}}),
    )
    .await?;
    Ok(Texting {
        contact: id,
        tenant: whose_tenant(target, admin).await?,
    })
}

/// One request of `kind`; whether it worked.
async fn one(
    target: &Target,
    opts: &SoakOptions,
    texting: &Texting,
    kind: Kind,
    i: usize,
) -> anyhow::Result<()> {
    const FRAGMENTS: [&str; 8] = ["smi", "john", "ann", "lee", "mar", "son", "kim", "dav"];
    let c = &target.client;
    let url = |p: &str| format!("{}{p}", target.url);
    match kind {
        Kind::Search => {
            let r = c
                .get(url(&format!(
                    "/api/v1/contacts?q={}&limit=25",
                    FRAGMENTS[i % FRAGMENTS.len()]
                )))
                .bearer_auth(&opts.rep_token)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("search: {}", r.status());
            }
        }
        Kind::Task => {
            post_json(
                c,
                &url("/api/v1/actions"),
                &opts.rep_token,
                json!({"tool": "create_task", "approve": true, "args": {"title": format!("Soak task {i}")}}),
            )
            .await?;
        }
        Kind::Chat => {
            let message = [
                "what should I do today?",
                "find jane",
                "what's pending my approval?",
            ][i % 3];
            post_json(
                c,
                &url("/api/v1/chat"),
                &opts.rep_token,
                json!({"message": message}),
            )
            .await?;
        }
        Kind::Text => {
            post_json(
                c,
                &url("/api/v1/actions"),
                &opts.admin_token,
                json!({"tool": "send_sms", "approve": true,
                       "args": {"contact_id": texting.contact, "body": format!("Soak text {i}")}}),
            )
            .await?;
        }
        Kind::Inbound => {
            let hook = url(&format!("/webhooks/twilio/{}/sms", texting.tenant));
            let sid = format!("SMsoak{}{i:08}", std::process::id());
            let text = format!("Soak reply {i}");
            let params = [
                ("MessageSid", sid.as_str()),
                ("AccountSid", SID),
                ("From", CONTACT_PHONE),
                ("To", FROM),
                ("Body", text.as_str()),
            ];
            let owned: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let signature =
                heimdell_adapters::twilio::expected_signature(TWILIO_TOKEN, &hook, &owned);
            let r = c
                .post(&hook)
                .header(heimdell_adapters::twilio::SIGNATURE_HEADER, signature)
                .form(&params)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("inbound: {}", r.status());
            }
        }
    }
    Ok(())
}

async fn whose_tenant(target: &Target, token: &str) -> anyhow::Result<String> {
    let v: Value = target
        .client
        .get(format!("{}/api/v1/session", target.url))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    v["tenant"]["id"]
        .as_str()
        .map(String::from)
        .context("no tenant in /api/v1/session")
}

/// `heimdell bench soak`.
pub async fn soak(target: Target, opts: SoakOptions) -> anyhow::Result<()> {
    if opts.minutes.is_nan() || opts.minutes <= 0.0 {
        bail!("--minutes must be positive");
    }
    let sink = sink_on(&opts.twilio_addr).await?;
    let target = Arc::new(target);
    let texting = Arc::new(texting_setup(&target, &opts.admin_token).await?);
    let opts = Arc::new(opts);
    let (tx, mut rx) = mpsc::unbounded_channel::<(Kind, Duration, bool)>();
    let end = Instant::now() + Duration::from_secs_f64(opts.minutes * 60.0);
    let mut offered = tokio::task::JoinSet::new();
    for (kind, rate) in [
        (Kind::Search, opts.search_rate),
        (Kind::Task, opts.task_rate),
        (Kind::Chat, opts.chat_rate),
        (Kind::Text, opts.text_rate),
        (Kind::Inbound, opts.inbound_rate),
    ] {
        if rate <= 0.0 {
            continue;
        }
        let (target, opts, texting, tx) =
            (target.clone(), opts.clone(), texting.clone(), tx.clone());
        offered.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            let mut i = 0usize;
            let mut inflight = tokio::task::JoinSet::new();
            while Instant::now() < end {
                tick.tick().await;
                let (target, opts, texting, tx) =
                    (target.clone(), opts.clone(), texting.clone(), tx.clone());
                inflight.spawn(async move {
                    let started = Instant::now();
                    let result = one(&target, &opts, &texting, kind, i).await;
                    if let Err(e) = &result {
                        eprintln!("{}: {e:#}", kind.name());
                    }
                    let _ = tx.send((kind, started.elapsed(), result.is_ok()));
                });
                i += 1;
                while inflight.try_join_next().is_some() {}
            }
            while inflight.join_next().await.is_some() {}
        });
    }
    drop(tx);
    println!(
        "minute  rss_mib  {}",
        [
            Kind::Search,
            Kind::Task,
            Kind::Chat,
            Kind::Text,
            Kind::Inbound
        ]
        .map(|k| format!("{:>30}", format!("{} n/err/p95 ms", k.name())))
        .join(" ")
    );
    let mut minute = 1usize;
    let mut window: BTreeMap<Kind, (Vec<Duration>, usize)> = BTreeMap::new();
    let mut total_errors = 0usize;
    let mut total = 0usize;
    let mut rss_seen = Vec::new();
    let started = Instant::now();
    let report = |window: &mut BTreeMap<Kind, (Vec<Duration>, usize)>, minute: &str, rss: u64| {
        let cells: Vec<String> = [
            Kind::Search,
            Kind::Task,
            Kind::Chat,
            Kind::Text,
            Kind::Inbound,
        ]
        .iter()
        .map(|k| {
            let (samples, errors) = window.remove(k).unwrap_or_default();
            let s = summarise(samples, errors);
            format!(
                "{:>30}",
                format!("{}/{}/{:.1}", s.count, s.errors, s.p95_ms)
            )
        })
        .collect();
        println!("{minute:>6}  {:>7.1}  {}", mib(rss), cells.join(" "));
    };
    loop {
        let deadline = started + Duration::from_secs(60 * minute as u64);
        let got = tokio::time::timeout_at(deadline.into(), rx.recv()).await;
        match got {
            Ok(Some((kind, took, ok))) => {
                total += 1;
                let w = window.entry(kind).or_default();
                if ok {
                    w.0.push(took);
                } else {
                    w.1 += 1;
                    total_errors += 1;
                }
            }
            Ok(None) => {
                // What was still in flight when the last minute ended.
                let rss = target.rss().await?;
                rss_seen.push(rss);
                if !window.is_empty() {
                    report(&mut window, "tail", rss);
                }
                break;
            }
            Err(_) => {
                let rss = target.rss().await?;
                rss_seen.push(rss);
                report(&mut window, &minute.to_string(), rss);
                minute += 1;
            }
        }
    }
    while offered.join_next().await.is_some() {}
    let delivered = sink.requests.load(std::sync::atomic::Ordering::SeqCst);
    println!(
        "{total} requests, {total_errors} errors; fake Twilio received {delivered} texts; server memory {:.1} MiB after the first minute, {:.1} MiB at the end (max {:.1})",
        mib(rss_seen.first().copied().unwrap_or_default()),
        mib(rss_seen.last().copied().unwrap_or_default()),
        mib(rss_seen.iter().copied().max().unwrap_or_default()),
    );
    if total_errors > 0 {
        bail!("{total_errors} requests failed");
    }
    Ok(())
}
