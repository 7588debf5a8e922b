//! The replay row by row: what [`draw`](crate::draw) pictures, beside the report's totals.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// Each row of the window as the replays went through it.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// The first row's instant.
    pub start: DateTime<Utc>,
    /// The rows' spacing, in nanoseconds.
    pub step: i64,
    /// The app's time zone: the picture's clock reads in it, as the days of the report are cut.
    pub timezone: Tz,
    /// Requests a second one dyno serves.
    pub capacity: f64,
    /// Each row's load, in requests a second.
    pub load: Vec<f64>,
    /// Each row under the decision rules.
    pub autoscaled: Vec<RowDynos>,
    /// Each row under the schedule alone.
    pub schedule_only: Vec<RowDynos>,
    /// Each row's clairvoyant dynos.
    pub clairvoyant: Vec<u32>,
    /// Every formation change the decision rules made.
    pub scales: Vec<Scale>,
}

impl Timeline {
    /// The instant `nanos` after the first row's.
    pub fn instant(&self, nanos: i64) -> DateTime<Utc> {
        self.start + TimeDelta::nanoseconds(nanos)
    }

    /// The window's length in nanoseconds.
    pub fn len_nanos(&self) -> i64 {
        i64::try_from(self.load.len())
            .unwrap_or(i64::MAX)
            .saturating_mul(self.step)
    }
}

/// One row of one replay: a row is a minute, or whatever the trace's spacing is, and the formation
/// may change inside it, so it keeps the extremes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowDynos {
    /// The most dynos running (booting included) at any time in the row.
    pub running: u32,
    /// The fewest dynos serving at any time in the row: the capacity the load met.
    pub serving: u32,
    /// Whether more arrived than the serving dynos handle at some time in the row.
    pub overloaded: bool,
    /// Whether the probe latency reached `slow` at some time in the row.
    pub slow: bool,
}

impl RowDynos {
    /// A row the replay has not reached yet.
    pub(crate) const UNSEEN: RowDynos = RowDynos {
        running: 0,
        serving: u32::MAX,
        overloaded: false,
        slow: false,
    };

    /// Takes in a stretch of the row.
    pub(crate) fn add(&mut self, running: u32, serving: u32, overloaded: bool, slow: bool) {
        self.running = self.running.max(running);
        self.serving = self.serving.min(serving);
        self.overloaded |= overloaded;
        self.slow |= slow;
    }
}

/// A formation change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    /// When, in nanoseconds from the first row.
    pub at: i64,
    /// The dynos running before.
    pub from: u32,
    /// The dynos asked for.
    pub to: u32,
    /// Why, as the daemon logs it.
    pub reason: String,
}
