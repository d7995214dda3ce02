//! Retry policies (LangGraph's `RetryPolicy`).

use std::time::Duration;

/// When and how often a failed node is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Seconds before the first retry.
    pub initial_interval: f64,
    /// Multiplier per retry.
    pub backoff_factor: f64,
    /// Upper bound of the wait, seconds.
    pub max_interval: f64,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Adds up to one second of random wait.
    pub jitter: bool,
    /// Error classes to retry; `None` = LangGraph's default rule.
    pub retry_on: Option<Vec<String>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_interval: 0.5,
            backoff_factor: 2.0,
            max_interval: 128.0,
            max_attempts: 3,
            jitter: true,
            retry_on: None,
        }
    }
}

/// Error classes LangGraph's `default_retry_on` never retries.
const NOT_RETRIED: [&str; 13] = [
    "ValueError",
    "TypeError",
    "ArithmeticError",
    "ImportError",
    "LookupError",
    "NameError",
    "SyntaxError",
    "RuntimeError",
    "ReferenceError",
    "StopIteration",
    "StopAsyncIteration",
    "OSError",
    "KeyError",
];

impl RetryPolicy {
    /// Whether an error of class `kind` is retried.
    pub fn retries(&self, kind: &str) -> bool {
        match &self.retry_on {
            Some(kinds) => kinds.iter().any(|k| k == kind),
            None => {
                kind == "ConnectionError"
                    || kind == "HTTPStatusError5xx"
                    || !NOT_RETRIED.contains(&kind)
                        && !matches!(
                            kind,
                            "IndexError"
                                | "ZeroDivisionError"
                                | "PanicError"
                                | "GraphInterrupt"
                                | "ParentCommand"
                        )
            }
        }
    }

    /// The wait before retry number `attempt` (1-based).
    pub fn interval(&self, attempt: u32) -> Duration {
        let exp = self.backoff_factor.powi(attempt.saturating_sub(1) as i32);
        let mut secs = (self.initial_interval * exp).min(self.max_interval);
        if self.jitter {
            secs += f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
        }
        if secs.is_finite() && secs >= 0.0 {
            Duration::from_secs_f64(secs.min(3600.0))
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rule_skips_programming_errors() {
        let p = RetryPolicy::default();
        assert!(p.retries("ConnectionError"));
        assert!(p.retries("TimeoutError"));
        assert!(!p.retries("ValueError"));
        assert!(!p.retries("KeyError"));
    }

    #[test]
    fn backoff_is_capped() {
        let p = RetryPolicy { jitter: false, max_interval: 3.0, ..Default::default() };
        assert_eq!(p.interval(1), Duration::from_millis(500));
        assert_eq!(p.interval(2), Duration::from_secs(1));
        assert_eq!(p.interval(5), Duration::from_secs(3));
    }
}
