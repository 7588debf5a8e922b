//! What the router's logs say about an app's traffic, and the limits the traffic rules work with.
//!
//! The policy crate does not read router logs itself (that is `autoscaled-router-logs`, and the
//! binary maps its figures onto [`Traffic`]); it only decides from the figures, the way
//! [`Decider`](crate::Decider) decides from a probe's [`Class`](crate::Class).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// How long a router line takes from its request's completion to the aggregator, as the traffic
/// rules assume: Heroku writes the line when the request completes, and a log drain delivers it
/// within seconds. The figures are read for windows that end this long before the reading (the
/// daemon and `simulate` alike), so their newest seconds have had their lines; what a window still
/// misses at its end is the requests being served then, which [`Traffic::panic_arrivals`] counts
/// back. Read up to the reading instead, a 6 s panic window would hold a second of lines.
pub const DRAIN_DELAY: Duration = Duration::from_secs(5);

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
    /// Arrivals a second over the panic window (6 s).
    pub panic_arrivals_per_sec: f64,
    /// The panic window's length.
    pub panic_window: Duration,
    /// Router errors H10 (app crashed), H12 (request timeout) and H13 (connection closed without
    /// response) in the last minute.
    pub trouble_errors_last_minute: u32,
    /// Requests of the last minute the app itself answered with a 5xx status: a bad deploy's
    /// errors come back fast and would teach the unqueued estimate a service time the app does
    /// not have.
    pub server_errors_last_minute: u32,
    /// Requests of the stable window that failed (router errors but H27, the app's own 5xx): left
    /// out of the arrivals, service time and in-flight figures above, for errors are not load.
    pub left_out: u64,
    /// Whether the router answered with H80 (maintenance mode) lately.
    pub maintenance: bool,
    /// The dynos the router handed requests to within the stable window (its lines' `dyno=`): the
    /// count the in-flight figures were measured at, which lags the target while new dynos boot.
    /// 0 when unknown: the in-flight term then counts in flight linearly.
    pub dynos: u32,
    /// The same within the panic window.
    pub panic_dynos: u32,
}

impl Traffic {
    /// Arrivals a second over the panic window, the requests still in flight at its end counted.
    /// The aggregator counts a request once its router line comes, when it completes, so at the
    /// window's end those that arrived within the last mean service time are still being served
    /// and missing: arrivals × mean of them (Little's law). The count is the rate × (window −
    /// mean), so the rate is the count / (window − mean). At 100 ms in a 6 s window the count is
    /// 1.7% short, enough for a dyno at ρ 1.01 to read as one that keeps up; once a queue grows,
    /// its waits make it shorter still. A mean past half the window (a queue of seconds) at most
    /// doubles the count: by then the saturation is plain anyway.
    pub fn panic_arrivals(&self) -> f64 {
        let window = self.panic_window.as_secs_f64();
        if self.panic_arrivals_per_sec <= 0.0 || window <= 0.0 {
            return self.panic_arrivals_per_sec;
        }
        let mean = self.panic_in_flight / self.panic_arrivals_per_sec;
        self.panic_arrivals_per_sec * window / (window - mean.clamp(0.0, window / 2.0))
    }
}

#[cfg(test)]
impl Traffic {
    /// Steady traffic for the tests: `arrivals` a second in both windows, each served in `mean`
    /// seconds, no errors, the dynos reached unknown.
    pub(crate) fn steady(at: DateTime<Utc>, arrivals: f64, mean: f64) -> Traffic {
        Traffic {
            at,
            requests_per_minute: (arrivals * 60.0).round() as u64,
            arrivals_per_sec: arrivals,
            mean_service: Some(Duration::from_secs_f64(mean)),
            in_flight: arrivals * mean,
            panic_in_flight: arrivals * mean,
            panic_arrivals_per_sec: arrivals,
            panic_window: Duration::from_secs(6),
            trouble_errors_last_minute: 0,
            server_errors_last_minute: 0,
            left_out: 0,
            maintenance: false,
            dynos: 0,
            panic_dynos: 0,
        }
    }
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
    /// The router lines' health is read over the lines logged this long before each reading.
    pub down_window: Duration,
    /// ...and says anything only with at least this many requests in it.
    pub down_min_requests: u64,
    /// ...and calls the app down when at least this share of them failed in a way that means
    /// down (the app's 5xx; H10, H12, H13, H18, H19, H20), as `failures` down probes do.
    pub down_share: f64,
}

impl TrafficPolicy {
    /// The project's default `utilisation`, chosen on real traffic (docs/simulate.md).
    pub const DEFAULT_UTILISATION: f64 = 0.8;
    /// The default stabilisation window, chosen on the three traces of docs/simulate.md: 4
    /// minutes costs less than 3, 5, 6 or 10 on each.
    pub const DEFAULT_STABILISATION: Duration = Duration::from_secs(240);
    /// H10/H12/H13 errors in the last minute that count as trouble.
    pub const DEFAULT_TROUBLE_ERRORS: u32 = 10;
    /// The lines' health window: 10 s, so that the fail-safe comes within 10 s of the first
    /// failing line (two 2 s readings after the minimum is reached) and a probe 30 s apart is
    /// no longer the first to know. Why these defaults: README, *How it decides*.
    pub const DEFAULT_DOWN_WINDOW: Duration = Duration::from_secs(10);
    /// The fewest requests in the window the lines' health speaks on: 1 a second. Fewer are
    /// noise (one user retrying a broken page), and the probe rules cover a quiet app.
    pub const DEFAULT_DOWN_MIN_REQUESTS: u64 = 10;
    /// The share failing that is down: 90%. A partial failure (one bad endpoint, a few 500s) is
    /// far below it; an app that is down fails every request, and 10% room keeps it down while
    /// a few static or cached answers still get through.
    pub const DEFAULT_DOWN_SHARE: f64 = 0.9;
    /// Requests in flight one dyno may hold, its own queue included, as a multiple of
    /// `concurrency`: the demand is never below `in_flight / (concurrency × QUEUE_FACTOR)`, so a
    /// real queue scales out even when the unqueued estimate is too low (an app grown slower for
    /// good, until the estimate ages out). Why 3: Heroku's `service=` includes the dyno's queue,
    /// so in flight is the number in an M/M/2 system, L = 2ρ / (1 − ρ²); L = 2 × 3 = 6 gives
    /// 6ρ² + 2ρ − 6 = 0, ρ = 0.85. Whatever the estimate says, no dyno stays much above ρ 0.85.
    pub const QUEUE_FACTOR: f64 = 3.0;
    /// The traffic rules scale out only once the busy slots are more than this share above what
    /// the target carries at `utilisation`, and then to the demand at `utilisation`: a deadband
    /// (Kubernetes' HPA has a 10% one, both ways) so a load at the edge between two counts neither
    /// flaps nor holds one more dyno for a whole stabilisation window on every flicker.
    /// At the default `utilisation`, 0.8 × 1.075 = 0.86. Chosen on the three traces of
    /// docs/simulate.md together: the largest share that overloads none of them longer (0.05 and
    /// 0.0625 save less on each; 0.08 overloads the World Cup longer, HPA's 0.1 Wikipedia's steps).
    pub const OUT_TOLERANCE: f64 = 0.075;
    /// After the in-flight term scaled out from a count the busy slots alone were content with,
    /// the target returns to that count only once the busy slots fell this share below what they
    /// were then: the queue seen there is evidence the estimate is too low for this load.
    pub const QUEUED_OUT_MARGIN: f64 = 0.1;
    /// ...and only within this long of that scale out: the queue seen then is evidence about the
    /// app as it was. Without a limit, a backlog that a step in the load left on booting dynos
    /// (read as a queue at their count) pinned the Wikipedia replay at 400 requests/s a dyno,
    /// `concurrency` 80, at 8 dynos for 24 days where 3 to 5 carried the load. Half an hour
    /// still keeps an app at the edge of one dyno from flapping every stabilisation window (the
    /// memory's purpose): it may retry the lower count twice an hour.
    pub const QUEUED_OUT_MEMORY: Duration = Duration::from_secs(30 * 60);
    /// A scale in goes no lower than the dynos that carry the median of each minute's busiest
    /// busy slots over this window at full `concurrency` (ρ 1, no headroom): a fall in the load
    /// is trusted once it has lasted half of it. Traffic that falls at once often comes back at
    /// once (an upstream outage, a client's retry storm, a log collection gap): in the Wikipedia
    /// replay, four hours at 43–72% of their neighbours, each followed by a return of 1.5–2.6× in
    /// one step, overloaded the app for 36–42 s as the dynos let go during the dip booted. The
    /// median lets a burst's end go at once (a burst is a minority of the window), and on a slow
    /// decline the floor is the load of about an hour ago at ρ 1, below what `utilisation` already
    /// holds unless the load fell by a fifth within the hour. Two hours is the shortest window that
    /// holds through an hour-long dip; 3 hours costs the World Cup replays about 2% more (at 1,000
    /// requests/s a dyno, 24 June – 7 July, more than the probe rules).
    pub const USUAL_WINDOW: Duration = Duration::from_secs(2 * 3600);
    /// The unqueued service time is the lowest mean seen within this window, so an app that became
    /// slower for good is estimated right again within a day.
    pub const SERVICE_WINDOW: Duration = Duration::from_secs(24 * 3600);
    /// A minute counts toward the unqueued estimate only with this many requests in it: a few
    /// cheap requests at night would bias it low.
    pub const ESTIMATE_MIN_REQUESTS: u64 = 20;
    /// Nor with this share of its requests or more answered 5xx by the app itself.
    pub const ESTIMATE_MAX_SERVER_ERRORS: f64 = 0.05;

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
            down_window: TrafficPolicy::DEFAULT_DOWN_WINDOW,
            down_min_requests: TrafficPolicy::DEFAULT_DOWN_MIN_REQUESTS,
            down_share: TrafficPolicy::DEFAULT_DOWN_SHARE,
        }
    }

    /// The requests in flight predicted at `m` dynos from `busy` busy slots and `in_flight`
    /// requests in flight measured at `n`: the queueing seen (in flight / busy) scaled by
    /// (1 − ρ at n) / (1 − ρ at m), ρ = busy / (dynos × concurrency). Exact for one slot a dyno
    /// (M/M/1), an overestimate for more (M/M/2's queue grows as 1 / (1 − ρ²)), which is the safe
    /// side for a scale in; infinite when `m` dynos could not carry the busy slots.
    pub fn in_flight_at(&self, busy: f64, in_flight: f64, n: u32, m: u32) -> f64 {
        let slots = f64::from(self.concurrency.max(1));
        if busy <= 0.0 || n == 0 {
            return in_flight;
        }
        if m == 0 {
            return f64::INFINITY;
        }
        let rho_n = (busy / (f64::from(n) * slots)).min(1.0);
        let rho_m = busy / (f64::from(m) * slots);
        if rho_m >= 1.0 {
            return f64::INFINITY;
        }
        let queueing = (in_flight / busy).max(1.0);
        busy * (queueing * (1.0 - rho_n) / (1.0 - rho_m)).max(1.0)
    }

    /// Whether `busy` busy slots and `in_flight` requests in flight, measured at `serving` dynos,
    /// call for more than `dynos`: busy slots beyond `dynos × concurrency × utilisation × (1 +
    /// OUT_TOLERANCE)`, or the in-flight term ([`queue_dynos`](Self::queue_dynos)) above `dynos`.
    pub fn beyond(&self, busy: f64, in_flight: f64, serving: u32, dynos: u32) -> bool {
        self.tolerant().dynos_at(busy, in_flight, serving) > dynos
    }

    /// These rules at `utilisation × (1 + OUT_TOLERANCE)`: where a scale out begins.
    pub fn tolerant(&self) -> TrafficPolicy {
        TrafficPolicy {
            utilisation: self.utilisation * (1.0 + TrafficPolicy::OUT_TOLERANCE),
            ..*self
        }
    }

    /// Dynos for `busy` busy slots and `in_flight` requests in flight measured at `serving` dynos:
    /// the more of the busy term and the in-flight term ([`queue_dynos`](Self::queue_dynos)).
    pub fn dynos_at(&self, busy: f64, in_flight: f64, serving: u32) -> u32 {
        self.dynos_for(busy, 0.0)
            .max(self.queue_dynos(busy, in_flight, serving))
    }

    /// The in-flight term: the fewest dynos at which the requests in flight, predicted from
    /// those measured at `serving` dynos ([`in_flight_at`](Self::in_flight_at)), are at most
    /// `concurrency × QUEUE_FACTOR` a dyno. A queue shrinks much faster than the dynos grow (one
    /// dyno at ρ 0.98 holds 50 in flight, two hold 2), so counting in flight linearly sent an app
    /// one burst away from saturation to `max`. With `serving` or `busy` unknown (0), linearly.
    pub fn queue_dynos(&self, busy: f64, in_flight: f64, serving: u32) -> u32 {
        let linear = self.dynos_for(0.0, in_flight);
        if serving == 0 || busy <= 0.0 {
            return linear;
        }
        // The prediction falls as m grows and the room grows with m, so a binary search finds the
        // fewest m that holds (whatever the figures, a few dozen steps); never more than the
        // linear count, which assumes the queue does not shrink at all.
        let holds = |m: u32| {
            // Infinite where m dynos cannot carry the busy slots at all.
            let predicted = self.in_flight_at(busy, in_flight, serving, m);
            predicted.is_finite() && self.dynos_for(0.0, predicted) <= m
        };
        let (mut low, mut high) = (1, linear.max(1));
        while low < high {
            let mid = low + (high - low) / 2;
            if holds(mid) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        low.min(linear)
    }

    /// Dynos for `busy` busy slots with every slot busy (ρ 1): the fewest that carry them at all.
    pub fn dynos_at_full_use(&self, busy: f64) -> u32 {
        TrafficPolicy {
            utilisation: 1.0,
            ..*self
        }
        .dynos_for(busy, 0.0)
    }

    /// Requests in flight one dyno is meant to carry: `concurrency × utilisation`.
    pub fn per_dyno(&self) -> f64 {
        f64::from(self.concurrency.max(1)) * self.utilisation
    }

    /// Dynos for `busy` busy slots and `in_flight` requests in flight (queues included): the more
    /// of `busy / (concurrency × utilisation)` and `in_flight / (concurrency × QUEUE_FACTOR)`,
    /// rounded up (a hair of floating-point noise above a whole number does not add a dyno).
    pub fn dynos_for(&self, busy: f64, in_flight: f64) -> u32 {
        let slots = f64::from(self.concurrency.max(1));
        let exact = (busy / self.per_dyno()).max(in_flight / (slots * TrafficPolicy::QUEUE_FACTOR));
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

/// Why a scale in stops above the demand it would follow: one dyno fewer would ask for more again
/// (hysteresis).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InStop {
    /// The dynos the last 6 s of arrivals ask for (busy slots from the panic window's arrivals ×
    /// the unqueued estimate): the stable window lags a step in the load by up to a minute.
    pub fresh: u32,
    /// The requests in flight predicted at one dyno fewer than the new target
    /// ([`TrafficPolicy::in_flight_at`]).
    pub predicted: f64,
    /// When the in-flight term last scaled out from the new target's count at about this load:
    /// that count and the busy slots then.
    pub queued_out: Option<(u32, f64)>,
    /// When the usual load holds the new target: the dynos that carry the median busy slots of
    /// [`TrafficPolicy::USUAL_WINDOW`] at full use.
    pub usual: Option<u32>,
}

/// The traffic figures behind a decision, for its `reason=`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficReason {
    /// Requests in the last minute.
    pub requests_per_minute: u64,
    /// Failed requests left out of the figures ([`Traffic::left_out`]).
    pub left_out: u64,
    /// The mean service time over the stable window.
    pub mean_service: Option<Duration>,
    /// The app's own service time, unqueued: the lowest qualifying mean within the service window;
    /// `None` before one was seen.
    pub unqueued: Option<Duration>,
    /// Requests in flight, stable window (or panic window when `panic`).
    pub in_flight: f64,
    /// The dynos `in_flight` was measured at ([`Traffic::dynos`]); 0 when unknown.
    pub dynos: u32,
    /// Busy slots: `in_flight` × unqueued / mean over the stable window; when `panic`, the panic
    /// window's arrivals × unqueued.
    pub busy: f64,
    /// The policy's concurrency.
    pub concurrency: u32,
    /// The policy's utilisation.
    pub utilisation: f64,
    /// The dynos those figures ask for.
    pub demand: u32,
    /// The largest demand within the stabilisation window, when it holds the target above
    /// `demand`.
    pub held: Option<(u32, Duration)>,
    /// When a scale in stops above the held demand: why it goes no lower.
    pub stop: Option<InStop>,
    /// Whether the panic window's figures decided (a sudden jump).
    pub panic: bool,
}

impl fmt::Display for TrafficReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mean = self.mean_service.map_or_else(
            || "no requests".to_owned(),
            |m| format!("{}ms", m.as_millis()),
        );
        let unqueued = self
            .unqueued
            .map_or_else(|| "none yet".to_owned(), |m| format!("{}ms", m.as_millis()));
        let measured_at = match self.dynos {
            0 => String::new(),
            1 => " on 1 dyno".to_owned(),
            n => format!(" on {n} dynos"),
        };
        let terms = format!(
            "max({:.1} busy / ({} × {}), {:.1} in flight{measured_at} / ({} × {})) → {}",
            self.busy,
            self.concurrency,
            self.utilisation,
            self.in_flight,
            self.concurrency,
            TrafficPolicy::QUEUE_FACTOR,
            self.demand
        );
        let left_out = match self.left_out {
            0 => String::new(),
            n => format!(" ({n} failed, left out)"),
        };
        if self.panic {
            write!(
                f,
                "traffic: panic: {} req/min{left_out}, the last 6 s: {terms}",
                self.requests_per_minute
            )?;
        } else {
            write!(
                f,
                "traffic: {} req/min{left_out}, mean {mean}, unqueued {unqueued}, {terms}",
                self.requests_per_minute
            )?;
        }
        if let Some((held, window)) = self.held {
            write!(
                f,
                ", held at {held}, the largest within {}",
                humantime::format_duration(window)
            )?;
        }
        if let Some(stop) = self.stop {
            write!(
                f,
                "; in no further: the last 6 s ask {}, one dyno fewer would hold {:.1} in flight",
                stop.fresh, stop.predicted
            )?;
            if let Some((from, busy)) = stop.queued_out {
                write!(f, ", the queue sent it out from {from} at {busy:.1} busy")?;
            }
            if let Some(usual) = stop.usual {
                write!(
                    f,
                    ", the usual load (the median of {}) needs {usual} at full use",
                    humantime::format_duration(TrafficPolicy::USUAL_WINDOW)
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demand_rounds_up_but_not_on_noise() {
        let p = TrafficPolicy::new(2, 0.8);
        assert_eq!(p.dynos_for(0.0, 0.0), 0);
        assert_eq!(p.dynos_for(0.1, 0.1), 1);
        assert_eq!(p.dynos_for(3.2, 3.2), 2);
        assert_eq!(p.dynos_for(3.2 + 1e-12, 3.2), 2);
        assert_eq!(p.dynos_for(3.3, 3.3), 3);
        assert_eq!(p.dynos_for(f64::NAN, f64::NAN), 0);
    }

    #[test]
    fn the_panic_arrivals_count_those_still_in_flight_at_the_windows_end() {
        let at = Utc::now();
        // 59 a second counted at 100 ms: 60 a second arrived, 0.1 s × 60 not completed yet.
        let counted = Traffic {
            panic_arrivals_per_sec: 59.0,
            panic_in_flight: 5.9,
            ..Traffic::steady(at, 60.0, 0.1)
        };
        assert!((counted.panic_arrivals() - 60.0).abs() < 1e-9);
        // A mean of 5 s in a 6 s window: at most twice the count.
        let backlog = Traffic {
            panic_arrivals_per_sec: 10.0,
            panic_in_flight: 50.0,
            ..Traffic::steady(at, 60.0, 0.1)
        };
        assert!((backlog.panic_arrivals() - 20.0).abs() < 1e-9);
        let quiet = Traffic {
            panic_arrivals_per_sec: 0.0,
            panic_in_flight: 0.0,
            ..Traffic::steady(at, 0.0, 0.1)
        };
        assert_eq!(quiet.panic_arrivals(), 0.0);
    }

    #[test]
    fn a_queue_scales_out_whatever_the_busy_slots() {
        let p = TrafficPolicy::new(2, 0.8);
        assert_eq!(p.dynos_for(1.0, 12.0), 2, "12 / (2 × 3)");
        assert_eq!(p.dynos_for(1.0, 12.1), 3);
        assert_eq!(p.dynos_for(4.0, 6.0), 3, "busy slots win: 4 / 1.6");
    }

    #[test]
    fn the_queue_term_predicts_the_queue_at_the_new_count() {
        let p = TrafficPolicy::new(2, 0.8);
        // One dyno at ρ 0.98 holds 49.5 in flight; two would hold about 2.
        assert_eq!(p.queue_dynos(1.96, 49.5, 1), 2);
        assert_eq!(
            p.queue_dynos(1.96, 49.5, 0),
            9,
            "dynos unknown: 49.5 / (2 × 3)"
        );
        assert_eq!(p.queue_dynos(0.0, 49.5, 1), 9, "busy unknown: linearly");
        // Measured at 2 dynos already (ρ 0.49 by the estimate), the same queue says the estimate
        // is too low: the queue is the evidence, and only 6 hold it.
        assert_eq!(p.queue_dynos(1.96, 49.5, 2), 6);
        // Overloaded (timeouts): the dynos that carry the busy slots below ρ 1, then the room.
        assert_eq!(p.queue_dynos(7.0, 1050.0, 3), 4);
        assert_eq!(p.queue_dynos(0.0, 0.0, 3), 0);
    }

    proptest::proptest! {
        /// Whatever the figures (a drain is outside input): a count within the linear one, found
        /// in a few steps, that holds the predicted queue.
        #[test]
        fn the_queue_term_is_bounded_and_holds(
            busy in 0.0..1e12f64,
            in_flight in 0.0..1e15f64,
            serving in 0u32..1000,
            concurrency in 1u32..100,
        ) {
            let p = TrafficPolicy::new(concurrency, 0.8);
            let linear = p.dynos_for(0.0, in_flight);
            let m = p.queue_dynos(busy, in_flight, serving);
            proptest::prop_assert!(m <= linear);
            if serving > 0 && busy > 0.0 && m > 0 && m < linear {
                let predicted = p.in_flight_at(busy, in_flight, serving, m);
                proptest::prop_assert!(predicted.is_finite());
                proptest::prop_assert!(p.dynos_for(0.0, predicted) <= m);
            }
        }
    }

    #[test]
    fn a_reason_shows_its_figures() {
        let figures = TrafficReason {
            requests_per_minute: 1520,
            left_out: 0,
            mean_service: Some(Duration::from_millis(180)),
            unqueued: Some(Duration::from_millis(120)),
            in_flight: 4.56,
            dynos: 0,
            busy: 3.04,
            concurrency: 2,
            utilisation: 0.8,
            demand: 2,
            held: None,
            stop: None,
            panic: false,
        };
        assert_eq!(
            figures.to_string(),
            "traffic: 1520 req/min, mean 180ms, unqueued 120ms, \
             max(3.0 busy / (2 × 0.8), 4.6 in flight / (2 × 3)) → 2"
        );
        let panic = TrafficReason {
            in_flight: 49.5,
            dynos: 1,
            busy: 1.97,
            panic: true,
            ..figures
        };
        assert_eq!(
            panic.to_string(),
            "traffic: panic: 1520 req/min, the last 6 s: \
             max(2.0 busy / (2 × 0.8), 49.5 in flight on 1 dyno / (2 × 3)) → 2"
        );
    }
}
