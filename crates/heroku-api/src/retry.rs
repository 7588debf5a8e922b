//! When and how long to wait before trying a failed call again.

use std::time::Duration;

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

/// The backoff before retry number `retry` (1 for the first), with `jitter` in `[0, 1)`: half of
/// the exponential step is kept, half is random, so clients spread out yet never retry at once.
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32, jitter: f64) -> Duration {
    let doublings = retry.saturating_sub(1).min(31);
    let step = policy
        .initial_backoff
        .saturating_mul(1 << doublings)
        .min(policy.max_backoff);
    step / 2 + step.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

/// How long to wait after `error` before retry number `retry`; `rate_limit_remaining` is the last
/// `RateLimit-Remaining` seen.
pub(crate) fn wait_before_retry(
    policy: &RetryPolicy,
    error: &Error,
    retry: u32,
    jitter: f64,
    rate_limit_remaining: Option<u32>,
) -> Duration {
    let backoff = backoff(policy, retry, jitter);
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
        let ms = |retry, jitter| backoff(&policy, retry, jitter).as_millis();
        assert_eq!((ms(1, 0.0), ms(1, 0.999_999)), (250, 499));
        assert_eq!((ms(2, 0.0), ms(3, 0.0), ms(4, 0.0)), (500, 1000, 2000));
        assert_eq!((ms(6, 0.0), ms(6, 1.0)), (5000, 10_000));
        assert_eq!(ms(40, 0.5), 7500);
    }

    #[test]
    fn retry_after_and_an_empty_budget_stretch_the_wait() {
        let policy = RetryPolicy::default();
        let wait = |e: &Error, remaining| wait_before_retry(&policy, e, 1, 0.0, remaining);
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
            wait_before_retry(&policy, &error(503, Some(1)), 4, 0.0, None),
            Duration::from_secs(2)
        );
    }
}
