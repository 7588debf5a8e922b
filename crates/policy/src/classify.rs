//! The one classification rule: from a probe's status and latency to a [`Class`].
//!
//! The runtime's prober (`autoscaled-probe` re-exports these types) and the simulator both call
//! [`Thresholds::classify`], so a measured latency and a modelled one are judged alike.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The latency limits of one probe; see [`Thresholds::classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A probe not complete (body included) after this long is down.
    pub timeout: Duration,
    /// A probe answered in this long or longer is slow.
    pub slow: Duration,
    /// A probe answered in less than this is fast.
    pub fast: Duration,
}

/// What one probe says about the app. Stored in [`DeciderState`](crate::DeciderState), hence serde.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// No usable answer: no connection, a timeout, or a status outside 200–399.
    Down,
    /// Answered, in `slow` or longer.
    Slow,
    /// Answered, in at least `fast` but less than `slow`.
    Normal,
    /// Answered in less than `fast`.
    Fast,
}

impl Thresholds {
    /// Classifies an answered request from its status and its latency to the end of the body.
    ///
    /// A status outside 200–399 or a latency of `timeout` or more is [`Class::Down`]; otherwise
    /// `latency >= slow` is [`Class::Slow`], `latency < fast` is [`Class::Fast`], and anything between is
    /// [`Class::Normal`]. Pure, so modelled latencies (as in the simulator, `autoscaled-simulate`) go through the same rule
    /// as the ones the runtime measures.
    #[must_use]
    pub fn classify(&self, status: u16, latency: Duration) -> Class {
        if !(200..=399).contains(&status) || latency >= self.timeout {
            Class::Down
        } else if latency >= self.slow {
            Class::Slow
        } else if latency < self.fast {
            Class::Fast
        } else {
            Class::Normal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        timeout: Duration::from_secs(10),
        slow: Duration::from_secs(5),
        fast: Duration::from_secs(1),
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn boundaries_fall_on_the_documented_side() {
        assert_eq!(T.classify(200, ms(0)), Class::Fast);
        assert_eq!(T.classify(200, ms(999)), Class::Fast);
        assert_eq!(
            T.classify(200, ms(1000)),
            Class::Normal,
            "exactly fast is normal"
        );
        assert_eq!(T.classify(200, ms(4999)), Class::Normal);
        assert_eq!(
            T.classify(200, ms(5000)),
            Class::Slow,
            "exactly slow is slow"
        );
        assert_eq!(
            T.classify(200, Duration::from_nanos(9_999_999_999)),
            Class::Slow
        );
        assert_eq!(
            T.classify(200, ms(10_000)),
            Class::Down,
            "exactly timeout is down"
        );
        assert_eq!(T.classify(200, ms(60_000)), Class::Down);
    }

    #[test]
    fn statuses_outside_200_to_399_are_down_however_fast() {
        for status in [0, 100, 101, 199, 400, 404, 429, 500, 503, 599, 999] {
            assert_eq!(T.classify(status, ms(1)), Class::Down, "{status}");
        }
        for status in [200, 204, 299, 301, 304, 399] {
            assert_eq!(T.classify(status, ms(1)), Class::Fast, "{status}");
        }
    }
}
