//! What the router's logs say about an app's traffic, and the limits the traffic rules work with.
//!
//! The policy crate does not read router logs itself (that is `autoscaled-router-logs`, and the
//! binary maps its figures onto [`Traffic`]); it only decides from the figures, the way
//! [`Decider`](crate::Decider) decides from a probe's [`Class`](crate::Class).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One observation of an app's traffic, as the router's log drain gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// The time of the newest router line it covers: how fresh the data is.
    pub at: DateTime<Utc>,
    /// Requests the router logged in the last minute.
    pub requests_per_minute: u64,
    /// Arrivals a second over the stable window (60 s).
    pub arrivals_per_sec: f64,
    /// The mean router-reported `service=` time over the stable window; `None` without requests.
    pub mean_service: Option<Duration>,
    /// Requests in flight over the stable window: arrivals a second × mean service time (Little's
    /// law).
    pub in_flight: f64,
    /// Requests in flight over the panic window (6 s), the same way.
    pub panic_in_flight: f64,
    /// Router errors H10 (app crashed), H12 (request timeout) and H13 (connection closed without
    /// response) in the last minute.
    pub trouble_errors_last_minute: u32,
    /// Whether the router answered with H80 (maintenance mode) lately.
    pub maintenance: bool,
}

/// The traffic rules' limits; `None` in [`Policy::traffic`](crate::Policy::traffic) when the app's
/// traffic is not read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrafficPolicy {
    /// Requests one dyno serves at once (Puma workers × threads, say); at least 1.
    pub concurrency: u32,
    /// The share of `concurrency` to aim for, in (0, 1].
    pub utilisation: f64,
    /// A lower demand moves the target in only once it stayed lower this long: the target follows
    /// the largest demand within this window (like Kubernetes' HPA scale-down stabilisation).
    pub stabilisation: Duration,
    /// Panic when the panic window's demand is at least this many times the target (Knative: 2).
    pub panic_threshold: f64,
    /// Panic mode lasts this long after its last trigger; while panicking, nothing scales in.
    pub panic_hold: Duration,
    /// With no router line this long, the data is stale and the probe rules alone act.
    pub stale_after: Duration,
    /// This many H10/H12/H13 errors in the last minute are trouble, like `failures` slow probes.
    pub trouble_errors: u32,
}

impl TrafficPolicy {
    /// The project's default `utilisation`, chosen on real traffic (docs/simulate.md).
    pub const DEFAULT_UTILISATION: f64 = 0.8;
    /// The default stabilisation window.
    pub const DEFAULT_STABILISATION: Duration = Duration::from_secs(300);
    /// H10/H12/H13 errors in the last minute that count as trouble.
    pub const DEFAULT_TROUBLE_ERRORS: u32 = 10;

    /// The rules for `concurrency` and `utilisation`, every other limit at its default.
    pub fn new(concurrency: u32, utilisation: f64) -> TrafficPolicy {
        TrafficPolicy {
            concurrency,
            utilisation,
            stabilisation: TrafficPolicy::DEFAULT_STABILISATION,
            panic_threshold: 2.0,
            panic_hold: Duration::from_secs(60),
            stale_after: Duration::from_secs(120),
            trouble_errors: TrafficPolicy::DEFAULT_TROUBLE_ERRORS,
        }
    }

    /// Requests in flight one dyno is meant to carry: `concurrency × utilisation`.
    pub fn per_dyno(&self) -> f64 {
        f64::from(self.concurrency.max(1)) * self.utilisation
    }

    /// Dynos for `in_flight` requests: `in_flight / (concurrency × utilisation)`, rounded up (a
    /// hair of floating-point noise above a whole number does not add a dyno).
    pub fn dynos_for(&self, in_flight: f64) -> u32 {
        let exact = in_flight / self.per_dyno();
        if !exact.is_finite() || exact <= 0.0 {
            return 0;
        }
        let needed = (exact - 1e-9).ceil();
        if needed >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            needed as u32
        }
    }
}

/// The traffic figures behind a decision, for its `reason=`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficFigures {
    /// Requests in the last minute.
    pub requests_per_minute: u64,
    /// The mean service time over the stable window.
    pub mean_service: Option<Duration>,
    /// Requests in flight, stable window (or panic window when `panic`).
    pub in_flight: f64,
    /// The policy's concurrency.
    pub concurrency: u32,
    /// The policy's utilisation.
    pub utilisation: f64,
    /// The dynos those figures ask for.
    pub demand: u32,
    /// The largest demand within the stabilisation window, when it holds the target above
    /// `demand`.
    pub held: Option<(u32, Duration)>,
    /// Whether the panic window's figures decided (a sudden jump).
    pub panic: bool,
}

impl fmt::Display for TrafficFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mean = self.mean_service.map_or_else(
            || "no requests".to_owned(),
            |m| format!("{}ms", m.as_millis()),
        );
        let window = if self.panic { "panic: " } else { "" };
        write!(
            f,
            "traffic: {window}{} req/min, mean {mean}, {:.1} in flight / ({} × {}) → {}",
            self.requests_per_minute,
            self.in_flight,
            self.concurrency,
            self.utilisation,
            self.demand
        )?;
        if let Some((held, window)) = self.held {
            write!(
                f,
                ", held at {held}, the largest within {}",
                humantime::format_duration(window)
            )?;
        }
        Ok(())
    }
}

/// What the decider remembers of the traffic: plain data inside [`DeciderState`](crate::DeciderState).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TrafficState {
    /// The newest observation's `at`.
    pub(crate) last_at: Option<DateTime<Utc>>,
    /// Whether the data is fresh (the traffic rules act), as last noted.
    pub(crate) fresh: bool,
    /// The demands within the stabilisation window that may still become its largest: (when,
    /// dynos), oldest first, each larger than every later one (a sliding-window maximum).
    pub(crate) recent: Vec<(DateTime<Utc>, u32)>,
    /// The last time the panic window's demand reached the panic threshold.
    pub(crate) last_panic: Option<DateTime<Utc>>,
    /// Whether the router lately answered with H80.
    pub(crate) maintenance: bool,
    /// Whether "traffic ignored at baseline 0" was said for the current stretch.
    pub(crate) off_noted: bool,
}

impl TrafficState {
    /// Adds a demand at `now` and forgets what is older than `window`; returns the largest within
    /// it.
    pub(crate) fn record(&mut self, now: DateTime<Utc>, demand: u32, window: Duration) -> u32 {
        while self.recent.last().is_some_and(|&(_, d)| d <= demand) {
            self.recent.pop();
        }
        self.recent.push((now, demand));
        self.largest(now, window)
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
    pub(crate) fn largest(&mut self, now: DateTime<Utc>, window: Duration) -> u32 {
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

    #[test]
    fn demand_rounds_up_but_not_on_noise() {
        let p = TrafficPolicy::new(2, 0.8);
        assert_eq!(p.dynos_for(0.0), 0);
        assert_eq!(p.dynos_for(0.1), 1);
        assert_eq!(p.dynos_for(3.2), 2);
        assert_eq!(p.dynos_for(3.2 + 1e-12), 2);
        assert_eq!(p.dynos_for(3.3), 3);
        assert_eq!(p.dynos_for(f64::NAN), 0);
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
    fn a_reason_shows_its_figures() {
        let figures = TrafficFigures {
            requests_per_minute: 1520,
            mean_service: Some(Duration::from_millis(180)),
            in_flight: 4.56,
            concurrency: 2,
            utilisation: 0.8,
            demand: 3,
            held: None,
            panic: false,
        };
        assert_eq!(
            figures.to_string(),
            "traffic: 1520 req/min, mean 180ms, 4.6 in flight / (2 × 0.8) → 3"
        );
    }
}
