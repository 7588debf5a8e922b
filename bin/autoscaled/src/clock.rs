//! The daemon's sense of time: real time for `run`, a sped-up copy of it for `demo`.
//!
//! Every duration in the config is in the clock's time. Waiting uses tokio's monotonic timers, so a
//! wall-clock jump never fires a tick twice or skips one; the wall-clock instant that the schedule
//! needs is the start instant plus monotonic time elapsed (times the speed).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

/// Maps monotonic time to the instants the schedule and the decision logic see.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
    epoch: DateTime<Utc>,
    speed: u32,
}

impl Clock {
    /// Real time.
    pub(crate) fn real() -> Clock {
        Clock {
            origin: Instant::now(),
            epoch: Utc::now(),
            speed: 1,
        }
    }

    /// Time that starts at `epoch` and runs `speed` times faster than real time.
    pub(crate) fn fast(epoch: DateTime<Utc>, speed: u32) -> Clock {
        Clock {
            origin: Instant::now(),
            epoch,
            speed: speed.max(1),
        }
    }

    /// The current instant in this clock's time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let elapsed = self.origin.elapsed().saturating_mul(self.speed);
        self.epoch + TimeDelta::from_std(elapsed).unwrap_or(TimeDelta::MAX)
    }

    /// How long to wait in real time for `duration` of this clock's time to pass.
    pub(crate) fn real_duration(&self, duration: Duration) -> Duration {
        duration / self.speed
    }

    /// How long `real` real time is in this clock's time.
    pub(crate) fn scaled(&self, real: Duration) -> Duration {
        real.saturating_mul(self.speed)
    }

    /// Whether this clock runs faster than real time.
    pub(crate) fn is_fast(&self) -> bool {
        self.speed > 1
    }
}

/// The status page shows every time in this clock's.
impl status::Clock for Clock {
    fn now(&self) -> DateTime<Utc> {
        Clock::now(self)
    }

    fn speed(&self) -> u32 {
        self.speed
    }
}

#[cfg(test)]
mod tests;
