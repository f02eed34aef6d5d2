//! `heimdell bench rate`: GET requests offered to a running server at a fixed rate (open loop).
//!
//! A closed-loop generator such as wrk sends the next request only when an answer comes back, so
//! its latency is set by how many connections it keeps (latency = connections / throughput) and
//! a stalled server simply receives fewer requests. Here request `i` is due at `start + i / rate`
//! whatever the server does, and its latency counts from when it was due, not from when a
//! connection was free to send it: a server that falls behind shows its queue in the
//! percentiles instead of hiding it ("coordinated omission"). That is the measurement behind
//! "sustains N requests/s with p95 under T".

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::{Summary, summarise};

/// What a fixed-rate run offered and what came back.
pub struct RateReport {
    /// Requests a second that were due.
    pub offered: f64,
    /// Answers a second, over the time from the first due request to the last answer.
    pub achieved: f64,
    /// Latencies from each request's due time to its whole answer; non-2xx answers and
    /// transport failures are errors.
    pub summary: Summary,
}

impl std::fmt::Display for RateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "offered {:.0}/s, achieved {:.0}/s; {}",
            self.offered, self.achieved, self.summary
        )
    }
}

/// Offers `rate` GETs a second for `duration`, rotating through `paths` under `url`, with at most
/// `connections` requests in flight, each with `token` as its bearer token.
pub async fn get_at_rate(
    url: &str,
    token: &str,
    paths: &[String],
    rate: f64,
    duration: Duration,
    connections: usize,
) -> anyhow::Result<RateReport> {
    if paths.is_empty() {
        bail!("give at least one --path");
    }
    if !(rate.is_finite() && rate > 0.0) {
        bail!("--rate must be a positive number of requests a second");
    }
    if connections == 0 {
        bail!("--connections must be at least 1");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = url.trim_end_matches('/');
    let urls: Arc<Vec<String>> = Arc::new(paths.iter().map(|p| format!("{base}{p}")).collect());
    let total = (rate * duration.as_secs_f64()).floor() as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let next = Arc::new(AtomicU64::new(0));
    let start = tokio::time::Instant::now();
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (client, urls, next, token) = (
            client.clone(),
            urls.clone(),
            next.clone(),
            token.to_string(),
        );
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0usize;
            let mut last_answer = start;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let due = start + interval.mul_f64(i as f64);
                tokio::time::sleep_until(due).await;
                let url = &urls[(i % urls.len() as u64) as usize];
                let ok = match client.get(url).bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    Ok(_) | Err(_) => false,
                };
                last_answer = tokio::time::Instant::now();
                if ok {
                    samples.push(last_answer - due);
                } else {
                    errors += 1;
                }
            }
            (samples, errors, last_answer)
        }));
    }
    let mut samples = Vec::with_capacity(total as usize);
    let mut errors = 0;
    let mut end = start;
    for w in workers {
        let (s, e, last) = w.await.context("a load task failed")?;
        samples.extend(s);
        errors += e;
        end = end.max(last);
    }
    let elapsed = (end - start).as_secs_f64().max(f64::EPSILON);
    let answered = samples.len() + errors;
    Ok(RateReport {
        offered: rate,
        achieved: answered as f64 / elapsed,
        summary: summarise(samples, errors),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;

    /// A server on 127.0.0.1:0 answering `/slow` after 50 ms and `/broken` with a 500.
    async fn server() -> String {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    "ok"
                }),
            )
            .route(
                "/broken",
                get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_server_that_falls_behind_shows_its_queue_in_the_latencies() {
        let url = server().await;
        // 40 requests due over one second, one connection, 50 ms each: the last answer comes
        // about 2 s after start while it was due at 1 s. A closed loop would report 50 ms for
        // every request; counted from the due time the tail is the queue.
        let r = get_at_rate(
            &url,
            "t",
            &["/slow".to_string()],
            40.0,
            Duration::from_secs(1),
            1,
        )
        .await
        .unwrap();
        assert_eq!(r.summary.count, 40);
        assert_eq!(r.summary.errors, 0);
        assert!(r.summary.p50_ms >= 50.0, "{r}");
        assert!(r.summary.max_ms >= 800.0, "{r}");
        assert!(r.achieved < 25.0, "{r}");
    }

    #[tokio::test]
    async fn failed_answers_are_errors_not_latencies() {
        let url = server().await;
        let paths = ["/slow".to_string(), "/broken".to_string()];
        let r = get_at_rate(&url, "t", &paths, 20.0, Duration::from_millis(500), 4)
            .await
            .unwrap();
        assert_eq!(r.summary.count, 5);
        assert_eq!(r.summary.errors, 5);
    }

    #[tokio::test]
    async fn refuses_a_run_that_could_not_measure_anything() {
        let paths = vec!["/health".to_string()];
        let d = Duration::from_secs(1);
        for (paths, rate, conns) in [
            (Vec::new(), 10.0, 1),
            (paths.clone(), 0.0, 1),
            (paths.clone(), f64::NAN, 1),
            (paths, 10.0, 0),
        ] {
            assert!(
                get_at_rate("http://127.0.0.1:9", "t", &paths, rate, d, conns)
                    .await
                    .is_err()
            );
        }
    }
}
