//! Password checks with bounded cost. Argon2 takes tens of milliseconds of CPU and ~19 MiB per
//! check, so an endless stream of failed sign-ins must neither queue without end nor grow the
//! heap: at most one check per core runs at once, each in a memory area allocated when the
//! server starts and reused; a check that cannot start within a short deadline is refused as
//! busy (the caller answers 429 with `Retry-After`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use heimdell_tools::identity::{Argon2Memory, hash_password, verify_password_in};
use tokio::sync::Semaphore;

/// Bounded argon2 work; cloning is cheap and clones share the bound.
#[derive(Clone)]
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
    /// One memory area per permit: a holder of a permit always finds one here.
    memories: Arc<Mutex<Vec<Argon2Memory>>>,
    /// How long a check may wait for a free slot before it is refused.
    queue_deadline: Duration,
    /// An argon2 hash of nothing in particular: unknown emails and members without a password
    /// are checked against it, so every failed sign-in takes as long.
    dummy_hash: Arc<String>,
}

/// No slot came free within the deadline: too many sign-ins at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl PasswordChecker {
    /// `slots` checks at once (at least one), each waiting at most `queue_deadline` to start.
    pub fn new(slots: usize, queue_deadline: Duration) -> Self {
        let slots = slots.max(1);
        PasswordChecker {
            permits: Arc::new(Semaphore::new(slots)),
            memories: Arc::new(Mutex::new(
                (0..slots).map(|_| Argon2Memory::new()).collect(),
            )),
            queue_deadline,
            dummy_hash: Arc::new(hash_password("no account has this password")),
        }
    }

    /// The default number of slots: one per core, at most four (each holds ~19 MiB for good).
    pub fn default_slots() -> usize {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(4)
    }

    /// A slot for one check, waited for at most the queue deadline.
    pub async fn slot(&self) -> Result<Slot, Busy> {
        let permit =
            tokio::time::timeout(self.queue_deadline, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| Busy)?
                .map_err(|_| Busy)?;
        Ok(Slot {
            permit,
            checker: self.clone(),
        })
    }

    /// Whether `password` matches `stored`; `None` checks against the dummy hash (same time,
    /// never a match).
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Busy> {
        Ok(self.slot().await?.verify(password, stored).await)
    }

    /// The time a caller refused as [`Busy`] should wait before trying again.
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// The right to run one password check now.
pub struct Slot {
    permit: tokio::sync::OwnedSemaphorePermit,
    checker: PasswordChecker,
}

impl Slot {
    /// Whether `password` matches `stored`; `None` checks against the dummy hash (same time,
    /// never a match). Runs on the blocking pool, in one of the reserved memory areas.
    pub async fn verify(self, password: String, stored: Option<String>) -> bool {
        let Slot { permit, checker } = self;
        let checked = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut memory = checker
                .memories
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .unwrap_or_default();
            let ok = match &stored {
                Some(hash) => verify_password_in(&mut memory, &password, hash),
                None => {
                    verify_password_in(&mut memory, &password, &checker.dummy_hash);
                    false
                }
            };
            checker
                .memories
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(memory);
            ok
        })
        .await;
        // A panic inside argon2 is a bug, not a match.
        checked.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checks_match_and_a_full_queue_is_refused() {
        let checker = PasswordChecker::new(1, Duration::from_millis(1));
        let stored = hash_password("right");
        assert_eq!(
            checker.verify("right".into(), Some(stored.clone())).await,
            Ok(true)
        );
        assert_eq!(checker.verify("right".into(), None).await, Ok(false));
        // Hold the only slot: the next check cannot start within its 1 ms and is refused.
        let held = checker.permits.clone().acquire_owned().await.unwrap();
        assert_eq!(
            checker.verify("right".into(), Some(stored.clone())).await,
            Err(Busy)
        );
        drop(held);
        assert_eq!(
            checker.verify("wrong".into(), Some(stored)).await,
            Ok(false)
        );
        // Every memory area is back for the next holder.
        assert_eq!(checker.memories.lock().unwrap().len(), 1);
    }
}
