//! When and how long to wait before trying a failed call again.

use std::time::Duration;

use backon::ExponentialBuilder;

use crate::Error;

/// How failed calls are retried: transport failures, 429 and 5xx only, with exponential backoff and
/// jitter, honouring `Retry-After`, until `max_attempts` calls were made or waiting longer would pass
/// `max_elapsed` since the first call.
///
/// Every call the client makes sets absolute values (a quantity, a size), so repeating one is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Calls made at most, the first included (1 disables retries).
    pub max_attempts: u32,
    /// The backoff before the first retry; it doubles at each further retry.
    pub initial_backoff: Duration,
    /// The backoff never grows beyond this (a `Retry-After` may ask for longer).
    pub max_backoff: Duration,
    /// No retry starts later than this after the first call.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 500 ms doubling up to 10 s, within 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// The wait when a 429 says nothing and the budget reads 0: Heroku refills about 75 tokens a
/// minute, so this lets five come back rather than spending retries on an empty pool.
pub(crate) const RATE_LIMIT_REFILL_WAIT: Duration = Duration::from_secs(4);

impl RetryPolicy {
    /// The computed waits between calls, as a `backon` builder: exponential from `initial_backoff`,
    /// doubling, capped at `max_backoff`, one fewer than `max_attempts`. Each wait keeps half of its
    /// step and draws the other half at random, so clients spread out yet never retry at once:
    /// backon's jitter adds a random part up to the delay it is given, so it is given half the step.
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff / 2)
            .with_max_delay(self.max_backoff / 2)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
    }
}

/// How long to wait after `error` instead of the computed `backoff`: a `Retry-After` the server
/// sent wins when it asks for longer; a 429 that says nothing when `rate_limit_remaining` (the
/// last `RateLimit-Remaining` seen) reads 0 waits for the pool to refill.
pub(crate) fn wait_before_retry(
    backoff: Duration,
    error: &Error,
    rate_limit_remaining: Option<u32>,
) -> Duration {
    match (error.retry_after(), error) {
        (Some(asked), _) => asked.max(backoff),
        (None, Error::RateLimited(_)) if rate_limit_remaining == Some(0) => {
            backoff.max(RATE_LIMIT_REFILL_WAIT)
        }
        _ => backoff,
    }
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;

    use super::*;
    use crate::ApiError;

    fn error(status: u16, retry_after: Option<u64>) -> Error {
        Error::from_status(ApiError {
            status,
            id: String::new(),
            message: String::new(),
            request_id: None,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_cap() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            let waits: Vec<u128> = policy.backoff().build().map(|d| d.as_millis()).collect();
            assert_eq!(waits.len(), 3, "{waits:?}");
            for (wait, (low, high)) in waits.iter().zip([(250, 500), (500, 1000), (1000, 2000)]) {
                assert!((low..high).contains(wait), "{waits:?}");
            }
            let capped = RetryPolicy {
                max_attempts: 40,
                ..policy
            };
            let late = capped.backoff().build().last().unwrap().as_millis();
            assert!((5000..10_000).contains(&late), "{late}");
        }
        assert_eq!(RetryPolicy::never().backoff().build().next(), None);
    }

    #[test]
    fn retry_after_and_an_empty_budget_stretch_the_wait() {
        let backoff = Duration::from_millis(250);
        let wait = |e: &Error, remaining| wait_before_retry(backoff, e, remaining);
        assert_eq!(wait(&error(429, Some(7)), Some(0)), Duration::from_secs(7));
        assert_eq!(wait(&error(503, Some(2)), None), Duration::from_secs(2));
        assert_eq!(wait(&error(429, None), Some(0)), RATE_LIMIT_REFILL_WAIT);
        assert_eq!(
            wait(&error(429, None), Some(12)),
            Duration::from_millis(250)
        );
        assert_eq!(wait(&error(500, None), Some(0)), Duration::from_millis(250));
        // A Retry-After shorter than the backoff does not shorten it.
        assert_eq!(
            wait_before_retry(Duration::from_secs(2), &error(503, Some(1)), None),
            Duration::from_secs(2)
        );
    }
}
