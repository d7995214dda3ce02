//! Health of every connection: `/ok` and `/info`, re-checked every 10 s while up and with a
//! growing delay (1 s, 2 s, 4 s ... 30 s) while down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orrery_api::desktop::Health;

use crate::Target;

/// How often a healthy connection is checked.
const UP_EVERY: Duration = Duration::from_secs(10);
/// The longest wait between checks of a connection that is down.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The delay before the next check after `failures` failed checks in a row.
pub fn backoff(failures: u32) -> Duration {
    if failures == 0 {
        return UP_EVERY;
    }
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(5)).min(MAX_BACKOFF)
}

#[derive(Default)]
struct Entry {
    health: Health,
    due: Option<Instant>,
    checking: bool,
}

/// The last check of every connection.
#[derive(Default)]
pub struct HealthBook {
    entries: Mutex<HashMap<String, Entry>>,
}

impl HealthBook {
    /// An empty book.
    pub fn new() -> Arc<HealthBook> {
        Arc::new(HealthBook::default())
    }

    /// The last check of a connection.
    pub fn get(&self, id: &str) -> Health {
        self.entries
            .lock()
            .ok()
            .and_then(|e| e.get(id).map(|e| e.health.clone()))
            .unwrap_or_default()
    }

    /// Forgets a connection (removed, or its URL changed).
    pub fn forget(&self, id: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(id);
        }
    }

    /// Checks a connection now and records the result.
    pub async fn check_now(&self, id: &str, target: &Target) {
        let previous = self.get(id);
        let health = crate::remote::check(target, previous.failures).await;
        if let Ok(mut e) = self.entries.lock() {
            let entry = e.entry(id.to_string()).or_default();
            entry.due = Some(Instant::now() + backoff(health.failures));
            entry.health = health;
            entry.checking = false;
        }
    }

    /// Marks a due connection as being checked; false when it is not due.
    fn claim(&self, id: &str, now: Instant) -> bool {
        let Ok(mut e) = self.entries.lock() else { return false };
        let entry = e.entry(id.to_string()).or_default();
        if entry.checking || entry.due.is_some_and(|d| d > now) {
            return false;
        }
        entry.checking = true;
        true
    }
}

/// Checks every connection when it is due, for as long as the app runs. `targets` lists them
/// (a connection without a URL yet, the local runtime while it starts, is skipped).
pub async fn watch<F>(book: Arc<HealthBook>, targets: F)
where
    F: Fn() -> Vec<(String, Option<Target>)> + Send + 'static,
{
    loop {
        let now = Instant::now();
        for (id, target) in targets() {
            let Some(target) = target else { continue };
            if book.claim(&id, now) {
                let book = Arc::clone(&book);
                tauri::async_runtime::spawn(async move { book.check_now(&id, &target).await });
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), UP_EVERY);
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(6), Duration::from_secs(30));
        assert_eq!(backoff(60), Duration::from_secs(30));
    }
}
