//! Rolling statistics over a time window of probe results.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::down::HumanDuration;
use crate::{Class, ProbeResult};

/// Statistics over the probe results of the last `window`, for logs, alerts and charts.
///
/// Holds at most `max_samples` results (the oldest go first), so its memory is bounded whatever the
/// rate of [`record`](Self::record); size it as `window / interval` plus a little.
#[derive(Debug, Clone)]
pub struct RollingStats {
    window: Duration,
    max_samples: usize,
    samples: VecDeque<Sample>,
}

/// 24 bytes: a daemon keeps a hundred of these per app.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    /// Microseconds, saturating at 71 minutes (far past any probe's timeout).
    latency_us: u32,
    down: bool,
}

/// A summary of the results within the window; see [`RollingStats::summary`].
///
/// Latency figures cover the probes that were up (not [`Class::Down`]): a refused connection's
/// microseconds would otherwise pull the median down exactly when the app is failing. Down probes
/// show in `down` and `down_share`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Probes in the window.
    pub count: usize,
    /// Of which were down.
    pub down: usize,
    /// Median latency of the up probes (nearest rank), if any.
    pub p50: Option<Duration>,
    /// 95th percentile latency of the up probes (nearest rank), if any.
    pub p95: Option<Duration>,
    /// Highest latency of the up probes, if any.
    pub max: Option<Duration>,
    /// `down / count`, between 0 and 1; 0 when there are no probes.
    pub down_share: f64,
}

impl RollingStats {
    /// Empty statistics over the last `window`, keeping at most `max_samples` results (at least one).
    #[must_use]
    pub fn new(window: Duration, max_samples: usize) -> Self {
        let max_samples = max_samples.max(1);
        Self {
            window,
            max_samples,
            samples: VecDeque::with_capacity(max_samples.min(1024)),
        }
    }

    /// Adds one result, dropping those that fell out of the window or over the cap.
    pub fn record(&mut self, result: &ProbeResult) {
        // Room is made before the push, so the buffer never outgrows `max_samples`.
        while self.samples.len() >= self.max_samples {
            self.samples.pop_front();
        }
        self.samples.push_back(Sample {
            at: result.at,
            latency_us: u32::try_from(result.latency.as_micros()).unwrap_or(u32::MAX),
            down: result.class == Class::Down,
        });
        while self
            .samples
            .front()
            .is_some_and(|oldest| !self.in_window(oldest.at, result.at))
        {
            self.samples.pop_front();
        }
    }

    /// Summarises the results probed within `window` before `now`.
    #[must_use]
    pub fn summary(&self, now: Instant) -> Summary {
        let mut count = 0;
        let mut up = Vec::with_capacity(self.samples.len());
        for sample in self.samples.iter().filter(|s| self.in_window(s.at, now)) {
            count += 1;
            if !sample.down {
                up.push(Duration::from_micros(u64::from(sample.latency_us)));
            }
        }
        up.sort_unstable();
        let down = count - up.len();
        Summary {
            count,
            down,
            p50: percentile(&up, 50),
            p95: percentile(&up, 95),
            max: up.last().copied(),
            down_share: if count == 0 {
                0.0
            } else {
                // Counts are far below 2^52, so the conversion is exact.
                down as f64 / count as f64
            },
        }
    }

    fn in_window(&self, at: Instant, now: Instant) -> bool {
        at <= now && now.duration_since(at) < self.window
    }
}

/// The `percent`th percentile of sorted values by the nearest-rank method: the smallest value with at
/// least `percent`% of the values at or below it; `None` when there are none.
///
/// The one percentile of the workspace: [`RollingStats`] and the status page's charts both use it.
///
/// ```
/// use autoscaled_probe::percentile;
///
/// let sorted = [100, 200, 300, 400];
/// assert_eq!(percentile(&sorted, 50), Some(200));
/// assert_eq!(percentile(&sorted, 95), Some(400));
/// assert_eq!(percentile::<u32>(&[], 50), None);
/// ```
#[must_use]
pub fn percentile<T: Copy>(sorted: &[T], percent: usize) -> Option<T> {
    let rank = (sorted.len() * percent).div_ceil(100);
    sorted.get(rank.saturating_sub(1)).copied()
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} probes", self.count)?;
        if let (Some(p50), Some(p95), Some(max)) = (self.p50, self.p95, self.max) {
            write!(
                f,
                ", p50 {}, p95 {}, max {}",
                HumanDuration(p50),
                HumanDuration(p95),
                HumanDuration(max)
            )?;
        }
        write!(f, ", {:.0}% down", self.down_share * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Thresholds;

    const T: Thresholds = Thresholds {
        timeout: Duration::from_secs(10),
        slow: Duration::from_secs(5),
        fast: Duration::from_secs(1),
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&values, 50), Some(ms(50)));
        assert_eq!(percentile(&values, 95), Some(ms(95)));
        assert_eq!(percentile(&values[..1], 95), Some(ms(1)));
        assert_eq!(percentile(&values[..3], 50), Some(ms(2)));
        assert_eq!(percentile::<Duration>(&[], 50), None);
    }

    #[test]
    fn the_buffer_never_grows_past_the_cap() {
        let start = Instant::now();
        let mut stats = RollingStats::new(Duration::from_secs(3600), 128);
        let capacity = stats.samples.capacity();
        for i in 0..1000u64 {
            let at = start + Duration::from_secs(i);
            stats.record(&ProbeResult::answered(&T, 200, ms(i), at));
        }
        assert_eq!(stats.samples.len(), 128);
        assert_eq!(
            stats.samples.capacity(),
            capacity,
            "no reallocation at the cap"
        );
        let summary = stats.summary(start + Duration::from_secs(999));
        assert_eq!((summary.count, summary.max), (128, Some(ms(999))));
    }

    #[test]
    fn summary_covers_the_window_and_leaves_down_probes_out_of_latency() {
        let start = Instant::now();
        let mut stats = RollingStats::new(Duration::from_secs(60), 1000);
        // An old result that the window must forget.
        stats.record(&ProbeResult::answered(&T, 200, ms(4000), start));
        for i in 1..=20u64 {
            let at = start + Duration::from_secs(30 + i);
            stats.record(&ProbeResult::answered(&T, 200, ms(i * 10), at));
        }
        stats.record(&ProbeResult::answered(
            &T,
            503,
            ms(1),
            start + Duration::from_secs(51),
        ));
        stats.record(&ProbeResult::timed_out(&T, start + Duration::from_secs(52)));
        stats.record(&ProbeResult::timed_out(&T, start + Duration::from_secs(53)));
        stats.record(&ProbeResult::answered(
            &T,
            200,
            ms(900),
            start + Duration::from_secs(54),
        ));

        let now = start + Duration::from_secs(61);
        let s = stats.summary(now);
        assert_eq!(
            s.count, 24,
            "the result at 0 s is more than 60 s before 61 s"
        );
        assert_eq!(s.down, 3);
        assert_eq!(s.p50, Some(ms(110)));
        assert_eq!(s.p95, Some(ms(200)));
        assert_eq!(s.max, Some(ms(900)));
        assert!((s.down_share - 3.0 / 24.0).abs() < 1e-12);
        assert_eq!(
            s.to_string(),
            "24 probes, p50 110 ms, p95 200 ms, max 900 ms, 12% down"
        );

        let later = stats.summary(start + Duration::from_secs(200));
        assert_eq!(later.count, 0);
        assert_eq!((later.p50, later.max, later.down_share), (None, None, 0.0));
        assert_eq!(later.to_string(), "0 probes, 0% down");
    }

    #[test]
    fn memory_is_bounded_by_the_cap_and_the_window() {
        let start = Instant::now();
        let mut stats = RollingStats::new(Duration::from_secs(10), 100);
        for i in 0..10_000u64 {
            stats.record(&ProbeResult::answered(&T, 200, ms(i % 7), start + ms(i)));
        }
        assert_eq!(stats.samples.len(), 100, "capped");
        assert_eq!(stats.summary(start + ms(9_999)).count, 100);

        let mut sparse = RollingStats::new(Duration::from_secs(10), 100);
        for i in 0..50u64 {
            sparse.record(&ProbeResult::answered(
                &T,
                200,
                ms(1),
                start + Duration::from_secs(i),
            ));
        }
        assert_eq!(sparse.samples.len(), 10, "only the last 10 s are kept");
    }
}
