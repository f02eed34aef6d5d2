//! A per-key token bucket: `per_minute` requests a minute with bursts of as many, kept in this
//! server's memory (each server limits what reaches it). Used for sign-ins per client address;
//! the per-email lockout lives in the database, so it holds across servers.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys kept before idle ones (full buckets, which say nothing) are forgotten.
const PRUNE_AT: usize = 10_000;

#[derive(Clone)]
pub struct RateLimiter<K> {
    per_minute: u32,
    buckets: Arc<Mutex<HashMap<K, Bucket>>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            buckets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes one request from `key`'s bucket at `now`; when it is empty, how long until it
    /// holds one again.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < capacity
            });
        }
        let b = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_second).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_until_it_refills() {
        let limiter = RateLimiter::new(6);
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(limiter.check(&"a", t0).is_ok());
        }
        let wait = limiter.check(&"a", t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(9) && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
        // Another key has its own bucket.
        assert!(limiter.check(&"b", t0).is_ok());
        // One token back after ten seconds (6 a minute), and only one.
        let later = t0 + Duration::from_secs(10);
        assert!(limiter.check(&"a", later).is_ok());
        assert!(limiter.check(&"a", later).is_err());
        // Off.
        let off = RateLimiter::new(0);
        for _ in 0..100 {
            assert!(off.check(&"a", t0).is_ok());
        }
    }
}
