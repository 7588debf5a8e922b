//! How often a program may read when the account's request budget runs low.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Heroku's request tokens per account: at most this many, and the budget a fresh account has.
pub const ACCOUNT_RATE_LIMIT: u32 = 4500;
/// Tokens Heroku gives back per minute.
pub const REFILL_PER_MINUTE: u32 = 75;

/// How often periodic reads may run now; from [`ReadBudget::pace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPace {
    /// Every this long: the program's own interval, stretched as the budget falls.
    Every(Duration),
    /// Not at all: the budget is nearly spent, and what is left is kept for calls that change
    /// something.
    Paused,
}

/// The account's request budget as the client last saw it (`RateLimit-Remaining`), and how far
/// periodic reads should be spread out because of it.
///
/// The account is shared (with people, other tools, other processes), so the budget is read from
/// Heroku's answers, never counted locally. Between answers it is estimated to refill at
/// [`REFILL_PER_MINUTE`], so a pause ends by itself even when no call is made. The
/// [`Client`](crate::Client) updates it from every response; it never delays a call itself:
/// whoever reads periodically asks [`pace`](Self::pace), and calls that change something ignore it.
///
/// | estimated remaining | reads every |
/// | --- | --- |
/// | unknown, or ≥ 50% of the limit | the interval (×1) |
/// | 25–50% | ×1.5 |
/// | 10–25% | ×2 |
/// | 2–10% | ×4 |
/// | < 2% | paused |
#[derive(Debug)]
pub struct ReadBudget {
    limit: u32,
    refill_per_minute: u32,
    seen: Mutex<Option<(u32, Instant)>>,
}

impl Default for ReadBudget {
    fn default() -> Self {
        Self::new(ACCOUNT_RATE_LIMIT, REFILL_PER_MINUTE)
    }
}

impl ReadBudget {
    /// A budget of at most `limit` tokens refilled at `refill_per_minute`, nothing seen yet.
    pub fn new(limit: u32, refill_per_minute: u32) -> Self {
        Self {
            limit: limit.max(1),
            refill_per_minute,
            seen: Mutex::new(None),
        }
    }

    /// Records a `RateLimit-Remaining` read at `at`.
    pub fn record(&self, remaining: u32, at: Instant) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some((remaining, at));
    }

    /// The tokens estimated left at `now`: the last reading plus the refill since, at most the
    /// limit; `None` before any reading.
    pub fn estimate(&self, now: Instant) -> Option<u32> {
        let (remaining, at) = (*self.seen.lock().unwrap_or_else(|e| e.into_inner()))?;
        let minutes = now.saturating_duration_since(at).as_secs_f64() / 60.0;
        let refilled = (minutes * f64::from(self.refill_per_minute)).floor();
        // Saturating float-to-int: a refill beyond u32 is the limit anyway.
        Some(remaining.saturating_add(refilled as u32).min(self.limit))
    }

    /// How often reads due every `interval` should run at `now`.
    pub fn pace(&self, interval: Duration, now: Instant) -> ReadPace {
        let Some(left) = self.estimate(now) else {
            return ReadPace::Every(interval);
        };
        let share = f64::from(left) / f64::from(self.limit);
        let factor = if share >= 0.5 {
            1.0
        } else if share >= 0.25 {
            1.5
        } else if share >= 0.10 {
            2.0
        } else if share >= 0.02 {
            4.0
        } else {
            return ReadPace::Paused;
        };
        ReadPace::Every(interval.mul_f64(factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn reads_keep_their_interval_until_a_reading_says_otherwise() {
        let budget = ReadBudget::default();
        let now = Instant::now();
        assert_eq!(budget.estimate(now), None);
        assert_eq!(
            budget.pace(FIVE_MINUTES, now),
            ReadPace::Every(FIVE_MINUTES)
        );
        budget.record(2250, now);
        assert_eq!(
            budget.pace(FIVE_MINUTES, now),
            ReadPace::Every(FIVE_MINUTES)
        );
    }

    #[test]
    fn reads_spread_out_as_the_budget_falls_and_pause_near_empty() {
        let budget = ReadBudget::default();
        let now = Instant::now();
        let pace = |remaining| {
            budget.record(remaining, now);
            budget.pace(FIVE_MINUTES, now)
        };
        let every = |secs| ReadPace::Every(Duration::from_secs(secs));
        assert_eq!(pace(4500), every(300));
        assert_eq!(pace(2249), every(450));
        assert_eq!(pace(1125), every(450));
        assert_eq!(pace(1124), every(600));
        assert_eq!(pace(450), every(600));
        assert_eq!(pace(449), every(1200));
        assert_eq!(pace(90), every(1200));
        assert_eq!(pace(89), ReadPace::Paused);
        assert_eq!(pace(0), ReadPace::Paused);
    }

    #[test]
    fn the_estimate_refills_with_time_so_a_pause_ends_by_itself() {
        let budget = ReadBudget::new(4500, 75);
        let start = Instant::now();
        budget.record(0, start);
        assert_eq!(budget.pace(FIVE_MINUTES, start), ReadPace::Paused);
        // 75 a minute: 90 tokens (2%) after 72 s.
        let later = start + Duration::from_secs(71);
        assert_eq!(budget.estimate(later), Some(88));
        assert_eq!(budget.pace(FIVE_MINUTES, later), ReadPace::Paused);
        let later = start + Duration::from_secs(72);
        assert_eq!(budget.estimate(later), Some(90));
        assert_eq!(
            budget.pace(FIVE_MINUTES, later),
            ReadPace::Every(4 * FIVE_MINUTES)
        );
        // Never beyond the limit, and a newer reading wins over the estimate.
        assert_eq!(
            budget.estimate(start + Duration::from_secs(24 * 3600)),
            Some(4500)
        );
        budget.record(100, later);
        assert_eq!(budget.estimate(later), Some(100));
    }
}
