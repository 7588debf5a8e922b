//! What the traffic rules remember between two readings: plain data inside
//! [`DeciderState`](crate::DeciderState), stored with it.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use crate::traffic::{Traffic, TrafficPolicy};

/// What the decider remembers of the traffic: plain data inside [`DeciderState`](crate::DeciderState).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TrafficState {
    /// The newest observation's `at`.
    pub(super) last_at: Option<DateTime<Utc>>,
    /// Whether the data is fresh (the traffic rules act), as last noted.
    pub(super) fresh: bool,
    /// The demands within the stabilisation window that may still become its largest: (when,
    /// dynos), oldest first, each larger than every later one (a sliding-window maximum).
    pub(super) recent: Vec<(DateTime<Utc>, u32)>,
    /// The last time the panic window jumped past the panic threshold or saw its dynos saturated.
    pub(super) last_panic: Option<DateTime<Utc>>,
    /// Whether the router lately answered with H80.
    pub(super) maintenance: bool,
    /// Whether "traffic ignored at baseline 0" was said for the current stretch.
    pub(super) off_noted: bool,
    /// The lowest qualifying mean service time of each hour within the service window: (the hour's
    /// start, its lowest mean), oldest first, at most 24 entries whatever the rate of observations.
    #[serde(default)]
    pub(super) fastest: Vec<(DateTime<Utc>, Duration)>,
    /// The last scale out the in-flight term made, when the busy slots alone did not ask for it:
    /// (when, the count it left, the busy slots then). No scale in returns to that count while
    /// the busy slots stay within [`TrafficPolicy::QUEUED_OUT_MARGIN`] of then (in thousandths,
    /// so the state stays `Eq`), for [`TrafficPolicy::QUEUED_OUT_MEMORY`].
    #[serde(default)]
    pub(super) queued_out: Option<(DateTime<Utc>, u32, u64)>,
    /// Each minute's busiest busy slots over [`TrafficPolicy::USUAL_WINDOW`], for the usual load.
    #[serde(default)]
    pub(super) busiest: MinuteMaxima,
}

/// The largest value of each minute over [`TrafficPolicy::USUAL_WINDOW`], oldest first: a fixed
/// bound (120 numbers) whatever the rate of observations, and compact in the stored state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct MinuteMaxima {
    /// The newest minute's start.
    newest: Option<DateTime<Utc>>,
    /// One value a minute in hundredths (so the state stays `Eq`), the newest last; a minute
    /// without an observation holds 0.
    per_minute: VecDeque<u32>,
}

impl MinuteMaxima {
    const MINUTES: usize = (TrafficPolicy::USUAL_WINDOW.as_secs() / 60) as usize;

    /// Counts `value` into the minute of `now`.
    pub(super) fn record(&mut self, now: DateTime<Utc>, value: f64) {
        let minute = now
            .duration_trunc(chrono::TimeDelta::minutes(1))
            .unwrap_or(now);
        let hundredths = (value * 100.0).round().clamp(0.0, f64::from(u32::MAX)) as u32;
        let skipped = self
            .newest
            .map_or(0, |newest| (minute - newest).num_minutes());
        if self.newest.is_some() && skipped <= 0 {
            // The same minute, or a clock stepped back: the newest minute takes it.
            if let Some(last) = self.per_minute.back_mut() {
                *last = (*last).max(hundredths);
                return;
            }
        }
        let quiet = usize::try_from(skipped - 1).unwrap_or(0).min(Self::MINUTES);
        self.per_minute.extend(std::iter::repeat_n(0, quiet));
        self.per_minute.push_back(hundredths);
        self.newest = Some(minute);
        let excess = self.per_minute.len().saturating_sub(Self::MINUTES);
        self.per_minute.drain(..excess);
    }

    /// The median of the minutes kept (the upper one of an even count), 0 when none.
    pub(super) fn median(&self) -> f64 {
        let mut minutes: Vec<u32> = self.per_minute.iter().copied().collect();
        if minutes.is_empty() {
            return 0.0;
        }
        let middle = minutes.len() / 2;
        // Read at every reading that may scale in: a selection, not a sort.
        let (_, median, _) = minutes.select_nth_unstable(middle);
        f64::from(*median) / 100.0
    }
}

impl TrafficState {
    /// Whether the data is fresh: the traffic rules act.
    pub(crate) fn fresh(&self) -> bool {
        self.fresh
    }

    /// Whether the router's lines lately said H80: the app is in maintenance mode.
    pub(crate) fn router_maintenance(&self) -> bool {
        self.maintenance
    }

    /// Adds a demand at `now` and forgets what is older than `window`; returns the largest within
    /// it.
    pub(super) fn record(&mut self, now: DateTime<Utc>, demand: u32, window: Duration) -> u32 {
        while self.recent.last().is_some_and(|&(_, d)| d <= demand) {
            self.recent.pop();
        }
        self.recent.push((now, demand));
        self.largest(now, window)
    }

    /// Notes `seen`'s mean service time at `now` when its minute had enough requests and `learn`
    /// (the app is healthy: fast errors of an app in trouble would set the estimate low for a
    /// day), forgets the hours older than [`TrafficPolicy::SERVICE_WINDOW`], and returns the
    /// unqueued estimate: the lowest mean kept, or `None` before one qualified.
    pub(super) fn unqueued(
        &mut self,
        seen: &Traffic,
        now: DateTime<Utc>,
        learn: bool,
    ) -> Option<Duration> {
        let hour = now
            .duration_trunc(chrono::TimeDelta::hours(1))
            .unwrap_or(now);
        let qualifies = learn && seen.requests_per_minute >= TrafficPolicy::ESTIMATE_MIN_REQUESTS;
        if let Some(mean) = seen.mean_service.filter(|m| qualifies && !m.is_zero()) {
            match self.fastest.last_mut() {
                // A clock stepped back adds to the newest hour rather than growing the list.
                Some((at, lowest)) if *at >= hour => *lowest = (*lowest).min(mean),
                _ => self.fastest.push((hour, mean)),
            }
        }
        let horizon = chrono::TimeDelta::from_std(TrafficPolicy::SERVICE_WINDOW)
            .unwrap_or(chrono::TimeDelta::MAX);
        self.fastest
            .retain(|&(at, _)| now.signed_duration_since(at) < horizon);
        self.fastest.iter().map(|&(_, m)| m).min()
    }

    /// The largest demand within `window` before `now` (0 when none), without forgetting.
    pub(crate) fn held(&self, now: DateTime<Utc>, window: Duration) -> u32 {
        let horizon = chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::MAX);
        self.recent
            .iter()
            .find(|&&(at, _)| now.signed_duration_since(at) < horizon)
            .map_or(0, |&(_, d)| d)
    }

    /// The largest demand within `window` before `now` (0 when none).
    fn largest(&mut self, now: DateTime<Utc>, window: Duration) -> u32 {
        let horizon = chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::MAX);
        let keep_from = self
            .recent
            .iter()
            .position(|&(at, _)| now.signed_duration_since(at) < horizon)
            .unwrap_or(self.recent.len());
        self.recent.drain(..keep_from);
        self.recent.first().map_or(0, |&(_, d)| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever the readings and however the clock moves (a restart, a clock stepped back,
        /// days without traffic): at most the window's minutes kept, and a median among them.
        #[test]
        fn minute_maxima_stay_bounded_whatever_the_readings(
            readings in proptest::collection::vec(
                (-600i64..100_000, proptest::prop_oneof![0.0..1e6f64, proptest::num::f64::ANY]),
                0..400,
            ),
        ) {
            let mut maxima = MinuteMaxima::default();
            for (seconds, value) in readings {
                maxima.record(t0() + chrono::TimeDelta::seconds(seconds), value);
                proptest::prop_assert!(maxima.per_minute.len() <= MinuteMaxima::MINUTES);
                let median = maxima.median();
                let largest = maxima.per_minute.iter().max().map_or(0.0, |&m| f64::from(m) / 100.0);
                proptest::prop_assert!(median.is_finite() && (0.0..=largest).contains(&median));
            }
        }
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn t0() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    /// A minute of `per_minute` requests at a mean of `mean_ms`.
    fn minute(per_minute: u64, mean_ms: u64) -> Traffic {
        Traffic::steady(t0(), per_minute as f64 / 60.0, MS(mean_ms).as_secs_f64())
    }

    #[test]
    fn the_estimate_is_the_lowest_mean_of_busy_enough_minutes() {
        let m = |n: i64| t0() + chrono::TimeDelta::minutes(n);
        let mut state = TrafficState::default();
        assert_eq!(
            state.unqueued(&minute(5, 40), m(0), true),
            None,
            "5 requests: too few"
        );
        assert_eq!(state.unqueued(&minute(600, 300), m(1), true), Some(MS(300)));
        assert_eq!(state.unqueued(&minute(600, 120), m(2), true), Some(MS(120)));
        assert_eq!(
            state.unqueued(&minute(900, 450), m(3), true),
            Some(MS(120)),
            "queueing"
        );
        assert_eq!(
            state.unqueued(&minute(19, 10), m(4), true),
            Some(MS(120)),
            "19: too few"
        );
        let mut none = minute(0, 0);
        none.mean_service = None;
        assert_eq!(state.unqueued(&none, m(5), true), Some(MS(120)));
        assert_eq!(state.fastest.len(), 1, "one bucket for the hour");
        assert_eq!(
            state.unqueued(&minute(600, 4), m(6), false),
            Some(MS(120)),
            "fast errors of an app in trouble teach nothing"
        );
    }

    #[test]
    fn hourly_buckets_age_out_so_a_slower_app_is_estimated_within_a_day() {
        let h = |n: i64| t0() + chrono::TimeDelta::minutes(n * 60 + 30);
        let mut state = TrafficState::default();
        assert_eq!(state.unqueued(&minute(600, 100), h(0), true), Some(MS(100)));
        // From the next hour on the app is slower for good: every request takes 250 ms at least.
        for hour in 1..24 {
            assert_eq!(
                state.unqueued(&minute(600, 250), h(hour), true),
                Some(MS(100))
            );
        }
        assert_eq!(state.fastest.len(), 24);
        assert_eq!(
            state.unqueued(&minute(600, 260), h(24), true),
            Some(MS(250)),
            "the 100 ms hour left the window"
        );
        assert_eq!(state.fastest.len(), 24, "never more than a day of hours");
        for hour in 25..200 {
            state.unqueued(&minute(600, 250), h(hour), true);
        }
        assert_eq!(state.fastest.len(), 24);
    }

    #[test]
    fn the_estimate_survives_a_serde_round_trip() {
        let mut state = TrafficState::default();
        state.unqueued(&minute(600, 120), t0(), true);
        state.unqueued(&minute(600, 90), t0() + chrono::TimeDelta::hours(1), true);
        let json = serde_json::to_string(&state).unwrap();
        let mut back: TrafficState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        let later = t0() + chrono::TimeDelta::hours(2);
        assert_eq!(back.unqueued(&minute(600, 200), later, true), Some(MS(90)));
        let old: TrafficState = serde_json::from_str(
            r#"{"last_at":null,"fresh":false,"recent":[],"last_panic":null,"maintenance":false,"off_noted":false}"#,
        )
        .unwrap();
        assert!(old.fastest.is_empty(), "a state stored before the estimate");
    }

    #[test]
    fn the_window_keeps_its_largest() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let s = |n: i64| t0 + chrono::TimeDelta::seconds(n);
        let w = Duration::from_secs(60);
        let mut state = TrafficState::default();
        assert_eq!(state.record(s(0), 3, w), 3);
        assert_eq!(state.record(s(10), 1, w), 3);
        assert_eq!(state.record(s(20), 2, w), 3);
        assert_eq!(state.record(s(60), 1, w), 2, "3 left the window");
        assert_eq!(state.record(s(81), 1, w), 1);
        assert_eq!(state.recent.len(), 1);
    }

    #[test]
    fn minute_maxima_keep_each_minutes_largest_for_the_usual_window_only() {
        let mut maxima = MinuteMaxima::default();
        assert_eq!(maxima.median(), 0.0, "nothing seen");
        // Three hours of readings every 2 s: 1.0 in even minutes, 3.0 in odd ones, each minute's
        // first reading 5.0 in the last hour.
        for second in (0..3 * 3600).step_by(2) {
            let minute = second / 60;
            let value = if second >= 2 * 3600 && second % 60 == 0 {
                5.0
            } else if minute % 2 == 0 {
                1.0
            } else {
                3.0
            };
            maxima.record(t0() + chrono::TimeDelta::seconds(second), value);
        }
        assert_eq!(maxima.per_minute.len(), MinuteMaxima::MINUTES, "bounded");
        // 60 minutes at 5.0 (each minute's largest) and 60 at 1.0 or 3.0: the upper median.
        assert_eq!(maxima.median(), 5.0);
        // Half an hour without readings counts as 30 quiet minutes.
        maxima.record(t0() + chrono::TimeDelta::minutes(3 * 60 + 30), 2.0);
        assert_eq!(maxima.per_minute.len(), MinuteMaxima::MINUTES);
        assert_eq!(maxima.per_minute.iter().filter(|&&m| m == 0).count(), 30);
        assert_eq!(maxima.median(), 5.0, "the busiest half is still at 5.0");
        // A clock stepped back adds to the newest minute.
        maxima.record(t0(), 7.0);
        assert_eq!(maxima.per_minute.back(), Some(&700));
        // Longer quiet than the window forgets everything before it.
        maxima.record(t0() + chrono::TimeDelta::hours(9), 4.0);
        assert_eq!(maxima.per_minute.iter().filter(|&&m| m != 0).count(), 1);
        assert_eq!(maxima.median(), 0.0);
    }
}
