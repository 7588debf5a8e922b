//! The model of dynos under load, and the replay of a trace through it.
//!
//! Time is kept as nanoseconds from the trace's first row. The replay is event-driven: it jumps from
//! one decision instant (a probe, a schedule change) to the next, and integrates the figures over the
//! stretches between, split where the load (a new row), the serving dynos (a boot completing) or the
//! day changes. Every figure is exact for the model, not sampled.

use std::time::Duration;

use super::formation::Formation;
use super::timeline::{RowDynos, Scale};
use super::trace::Trace;
use chrono::{DateTime, TimeDelta, Utc};
use policy::{Action, Class, Decider, Event, RouterHealth, Thresholds, Traffic};

/// What a dyno can do and how long it takes to start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model {
    /// Requests a second one dyno serves.
    pub capacity: f64,
    /// A request's time on an idle dyno.
    pub service_time: Duration,
    /// From a dyno's start to its first request.
    pub boot: Duration,
    /// The probe's limits: they classify the modelled latencies, and `slow` also defines the slow
    /// minutes.
    pub thresholds: Thresholds,
    /// What the router's logs would say, for an app with traffic rules.
    pub traffic: TrafficModel,
    /// When the app fails every request (a fast 503) and every probe: a bad deploy, say
    /// (`simulate --outage`).
    pub outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// How the replay derives the router's figures (`service=` times, errors) for the traffic rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrafficModel {
    /// Which service time the router reports.
    pub service: ServiceModel,
    /// Requests one dyno serves at once (the traffic rules' `concurrency`); used by the Erlang C
    /// models.
    pub concurrency: u32,
    /// From a request's completion to the aggregator holding its router line: the drain's
    /// delivery delay. The figures' windows end this long before each reading, too.
    pub delay: Duration,
    /// How often the drain's figures reach the decider.
    pub every: Duration,
}

impl TrafficModel {
    /// The model of docs/simulate.md: per-dyno M/M/c, the drain's [`DRAIN_DELAY`](policy::DRAIN_DELAY)
    /// (the delay the daemon reads its windows at), figures every 2 s.
    pub fn new(service: ServiceModel, concurrency: u32) -> TrafficModel {
        TrafficModel {
            service,
            concurrency: concurrency.max(1),
            delay: policy::DRAIN_DELAY,
            every: Duration::from_secs(2),
        }
    }
}

/// The router-reported service time of a request while `n` dynos keep up with `λ` requests a
/// second; in each, ρ = λ / (n × capacity) < 1. Beyond (ρ ≥ 1, or a backlog left from then), every
/// model is the same: the dynos serve at their full rate, the excess queues, and a request whose
/// wait reaches the router's 30 s is logged as H12 (see `History`); with no dyno, as H10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceModel {
    /// The probe's latency, `service time / (1 − ρ)`: the whole fleet as one single-server queue
    /// (the contract read literally).
    Probe,
    /// Each dyno an M/M/c queue with c = `concurrency` slots, the router spreading requests at
    /// random (Heroku's router does not pool them): `S (1 + C(c, a) / (c − a))`, a = c ρ, with
    /// C the Erlang C probability of waiting.
    #[default]
    PerDyno,
    /// The fleet as one M/M/(n c) queue, as if the router held requests until a slot is free.
    Pooled,
    /// Only the busy slots: `service time` whatever the load (no queueing counted).
    BusySlots,
}

impl ServiceModel {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ServiceModel::Probe => "probe",
            ServiceModel::PerDyno => "per-dyno",
            ServiceModel::Pooled => "pooled",
            ServiceModel::BusySlots => "busy-slots",
        }
    }

    /// The model named `name` on the command line.
    pub fn from_name(name: &str) -> Option<ServiceModel> {
        [
            ServiceModel::Probe,
            ServiceModel::PerDyno,
            ServiceModel::Pooled,
            ServiceModel::BusySlots,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

/// The router's timeout: a request unanswered this long is logged as H12.
const ROUTER_TIMEOUT: f64 = 30.0;
/// How long the app of an outage takes to answer 503.
const FAIL_FAST: f64 = 0.003;
/// The window the router lines' health is read over: the policy's default.
const HEALTH_WINDOW: i64 = policy::TrafficPolicy::DEFAULT_DOWN_WINDOW.as_secs() as i64;

/// The Erlang C probability that a request waits, for `c` servers offered `a` erlangs (a < c).
fn erlang_c(c: u32, a: f64) -> f64 {
    // Σ_{k<c} a^k/k!, and a^c/c!, by running terms (no factorial overflow up to large c).
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let last = term * f64::from(c) / (f64::from(c) - a);
    last / (sum + last)
}

impl Model {
    /// The probe latency with `serving` dynos under `load` requests a second, `service time / (1 − ρ)`;
    /// `None` when no answer comes (no dyno serves, or the queue grows without bound).
    pub fn latency(&self, load: f64, serving: u32) -> Option<Duration> {
        if serving == 0 {
            return None;
        }
        let rho = load / (f64::from(serving) * self.capacity);
        if rho >= 1.0 {
            return None;
        }
        Duration::try_from_secs_f64(self.service_time.as_secs_f64() / (1.0 - rho)).ok()
    }

    /// The router-reported mean service time in seconds while the serving dynos keep up with the
    /// load (ρ < 1) and no backlog is left; [`History::add`] models the rest.
    fn service(&self, load: f64, serving: u32) -> f64 {
        if serving == 0 || load >= f64::from(serving) * self.capacity {
            return ROUTER_TIMEOUT;
        }
        let base = self.service_time.as_secs_f64();
        let rho = load / (f64::from(serving) * self.capacity);
        let c = self.traffic.concurrency;
        let waiting = |servers: u32| {
            let a = f64::from(servers) * rho;
            erlang_c(servers, a) / (f64::from(servers) - a)
        };
        let seconds = match self.traffic.service {
            ServiceModel::Probe => base / (1.0 - rho),
            ServiceModel::BusySlots => base,
            ServiceModel::PerDyno => base * (1.0 + waiting(c)),
            ServiceModel::Pooled => base * (1.0 + waiting(c.saturating_mul(serving))),
        };
        seconds.min(ROUTER_TIMEOUT)
    }

    fn overloaded(&self, load: f64, serving: u32) -> bool {
        load > f64::from(serving) * self.capacity
    }

    fn slow(&self, load: f64, serving: u32) -> bool {
        self.latency(load, serving)
            .is_none_or(|latency| latency >= self.thresholds.slow)
    }

    fn probe(&self, load: f64, serving: u32) -> Event {
        match self.latency(load, serving) {
            None => Event::Probe {
                class: Class::Down,
                detail: format!("no answer: {load:.1} requests/s on {serving} serving dynos"),
            },
            Some(latency) => Event::Probe {
                class: self.thresholds.classify(200, latency),
                detail: format!("200 in {} ms", latency.as_millis()),
            },
        }
    }
}

/// Who sets the formation during a replay.
#[derive(Debug)]
pub(super) enum Driver {
    /// The decision logic, told of the schedule's changes (`ticks`, in order) and, when `probe_every`
    /// is set, of a probe every so often from the first row.
    Decider {
        decider: Box<Decider>,
        ticks: Vec<DateTime<Utc>>,
        probe_every: Option<Duration>,
        /// Whether the router's figures reach the decider ([`Model::traffic`]).
        traffic: bool,
    },
    /// A fixed formation.
    Static(u32),
}

/// The figures of one replay over a stretch of time, in nanoseconds and counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    pub(super) span: i64,
    pub(super) dyno_nanos: i128,
    pub(super) overloaded: i64,
    pub(super) slow: i64,
    pub(super) scale_calls: u32,
}

/// What a replay gives: the whole window, each stretch between `cuts` (days, say), and the
/// replay row by row for drawing it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Outcome {
    pub(super) total: Tally,
    pub(super) parts: Vec<Tally>,
    pub(super) rows: Vec<RowDynos>,
    pub(super) scales: Vec<Scale>,
}

/// Replays `trace` through `model` with `driver` setting the formation. `cuts` are offsets (strictly
/// increasing, inside the trace) where a new part of the outcome starts.
pub(super) fn replay(trace: &Trace, model: &Model, driver: Driver, cuts: &[i64]) -> Outcome {
    let end = trace.len_nanos();
    let mut replay = Replay {
        trace,
        model,
        formation: Formation::new(i64::try_from(model.boot.as_nanos()).unwrap_or(i64::MAX)),
        now: 0,
        cuts,
        part: 0,
        parts: vec![Tally::default(); cuts.len() + 1],
        history: None,
        rows: vec![RowDynos::UNSEEN; trace.counts.len()],
        scales: Vec::new(),
    };
    match driver {
        Driver::Static(quantity) => {
            replay.formation.start_with(quantity);
            replay.advance(end);
        }
        Driver::Decider {
            mut decider,
            ticks,
            probe_every,
            traffic,
        } => {
            replay.formation.start_with(decider.target());
            let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
            let traffic_step = Some(nanos(model.traffic.every)).filter(|&s| traffic && s > 0);
            let delay = nanos(model.traffic.delay);
            if traffic_step.is_some() {
                replay.history = Some(History::new(
                    model.traffic.delay,
                    model.capacity,
                    model.service_time,
                ));
            }
            let mut next_traffic = traffic_step.map(|_| 0i64);
            let ticks = ticks
                .into_iter()
                .filter_map(|t| (t - trace.start).num_nanoseconds());
            let probe_step = probe_every
                .and_then(|d| i64::try_from(d.as_nanos()).ok())
                .filter(|&s| s > 0);
            let mut next_tick = ticks.into_iter().peekable();
            let mut next_probe = probe_step.map(|_| 0i64);
            loop {
                let tick_at = next_tick.peek().copied().filter(|&t| t < end);
                let probe_at = next_probe.filter(|&t| t < end);
                let traffic_at = next_traffic.filter(|&t| t < end);
                let Some(at) = [tick_at, probe_at, traffic_at].into_iter().flatten().min() else {
                    break;
                };
                replay.advance(at);
                let now = trace.start + TimeDelta::nanoseconds(at);
                if tick_at == Some(at) {
                    next_tick.next();
                    let actions = decider.handle(Event::Tick, now);
                    replay.act(&actions);
                }
                if probe_at == Some(at) {
                    next_probe = probe_step.and_then(|s| at.checked_add(s));
                    let event = if replay.failing(at) {
                        Event::Probe {
                            class: Class::Down,
                            detail: "HTTP 503".into(),
                        }
                    } else {
                        model.probe(
                            trace.load(replay.row()),
                            replay.formation.serving(replay.now).0,
                        )
                    };
                    let actions = decider.handle(event, now);
                    replay.act(&actions);
                }
                if traffic_at == Some(at) {
                    next_traffic = traffic_step.and_then(|s| at.checked_add(s));
                    if let Some(history) = replay.history.as_ref().filter(|_| at > delay) {
                        // The lines' health first, as the daemon hands it over.
                        let health = history.health(at, trace.start);
                        let actions = decider.handle(Event::RouterHealth(Box::new(health)), now);
                        replay.act(&actions);
                        let Some(history) = replay.history.as_ref() else {
                            continue;
                        };
                        let traffic = history.traffic(at, trace.start);
                        let actions = decider.handle(Event::Traffic(Box::new(traffic)), now);
                        replay.act(&actions);
                    }
                }
            }
            replay.advance(end);
        }
    }
    let mut total = Tally::default();
    for part in &replay.parts {
        total.span += part.span;
        total.dyno_nanos += part.dyno_nanos;
        total.overloaded += part.overloaded;
        total.slow += part.slow;
        total.scale_calls += part.scale_calls;
    }
    Outcome {
        total,
        parts: replay.parts,
        rows: replay.rows,
        scales: replay.scales,
    }
}

struct Replay<'a> {
    trace: &'a Trace,
    model: &'a Model,
    formation: Formation,
    now: i64,
    cuts: &'a [i64],
    part: usize,
    parts: Vec<Tally>,
    /// What the router logged, when the traffic rules read it.
    history: Option<History>,
    /// Each row's dynos and trouble, as the picture draws them.
    rows: Vec<RowDynos>,
    /// Every formation change.
    scales: Vec<Scale>,
}

const NANOS: i64 = 1_000_000_000;

/// The router's log as the drain delivers it. Heroku's router writes a request's line when the
/// request completes, and the drain delivers it `delay` later; the `router-logs` aggregator files
/// it under the second the request arrived (the line's time less its `service=`). So the figures
/// at t hold a request that arrived at x and was served in s only once x + s + `delay` ≤ t: during
/// an overload the 30 s timeouts of the requests that arrived after t − 30 s − `delay` are not in
/// them yet. Kept as the stretches the replay integrates, not second by second, so a read is exact
/// to the nanosecond and costs a pass over the few dozen stretches of the last minute.
///
/// When more arrives than the serving dynos handle (or a backlog is left from that), the dynos
/// keep serving at their full rate and the excess waits, first come first served (a fluid queue):
/// the backlog starts from the requests the steady queue held waiting, grows at arrivals −
/// throughput, each request waits backlog / throughput on top of its own time, and one whose
/// wait reaches the router's 30 s is logged as H12 then (the dyno still serves it: Heroku does
/// not cancel a timed-out request, so it stays in the backlog). The backlog is one queue the
/// serving dynos share; Heroku's router gives each dyno its own, so a dyno started during an
/// overload takes none of the old dynos' backlog, and those drain slower than modelled here.
#[derive(Debug)]
pub(super) struct History {
    /// From a request's completion to the aggregator holding its line, in nanoseconds.
    delay: i64,
    /// Requests a second one dyno serves.
    capacity: f64,
    /// A request's time on an idle dyno, in seconds.
    base: f64,
    /// Requests waiting beyond what the serving dynos handle, at the end of the last stretch.
    backlog: f64,
    /// Requests waiting in the dynos' steady queues (arrivals × (service − the idle dyno's)),
    /// while they keep up: where a backlog starts when they stop keeping up.
    queued: f64,
    /// The stretches of the last few minutes, oldest first, contiguous.
    stretches: std::collections::VecDeque<Stretch>,
}

/// Requests arriving evenly from `from` to `to` (nanoseconds), `load` a second, routed to
/// `serving` dynos; one arriving at x is logged after `service + slope × (x − from)` seconds (a
/// growing or shrinking backlog ahead of it), as unanswered (H10/H12) when `unanswered`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stretch {
    from: i64,
    to: i64,
    load: f64,
    service: f64,
    slope: f64,
    unanswered: bool,
    /// Answered 503 by the app of an outage.
    failed: bool,
    serving: u32,
}

impl Stretch {
    /// The service time, in seconds, of a request arriving at `at`.
    fn service_at(&self, at: i64) -> f64 {
        self.service + self.slope * (at - self.from) as f64 / NANOS as f64
    }
}

/// The sums over a window of arrival seconds, as the aggregator keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Sums {
    /// Requests whose lines were delivered.
    pub(super) requests: f64,
    /// Their service times added up, in seconds.
    pub(super) service: f64,
    /// Those of them unanswered (H10/H12).
    pub(super) unanswered: f64,
    /// Those of them the app of an outage answered 503.
    pub(super) failed: f64,
    /// The service times of the others (the load), added up.
    pub(super) served: f64,
    /// The most dynos serving while they arrived: the dynos the router reached (the serving ones
    /// are the oldest, so every count up to the most was reached).
    pub(super) dynos: u32,
    /// The window's length in seconds (shorter at the trace's start).
    pub(super) seconds: f64,
}

impl History {
    /// An empty log of dynos that serve `capacity` requests a second, each in `base` on an idle
    /// dyno, whose lines reach the aggregator `delay` after their requests complete.
    pub(super) fn new(delay: Duration, capacity: f64, base: Duration) -> History {
        History {
            delay: i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX),
            capacity,
            base: base.as_secs_f64(),
            backlog: 0.0,
            queued: 0.0,
            stretches: std::collections::VecDeque::new(),
        }
    }

    /// Logs `load` requests a second from `from` to `to` (nanoseconds) reaching `serving` dynos,
    /// each served in `steady` seconds while the dynos keep up and no backlog is left
    /// ([`Model::service`]), and as the backlog says otherwise.
    pub(super) fn add(&mut self, from: i64, to: i64, load: f64, serving: u32, steady: f64) {
        let throughput = f64::from(serving) * self.capacity;
        let base = self.base;
        let mut at = from;
        while at < to {
            if serving == 0 || throughput <= 0.0 {
                // No dyno to queue at: the router answers H10 after its timeout.
                self.backlog = 0.0;
                self.queued = 0.0;
                self.push(Stretch {
                    from: at,
                    to,
                    load,
                    service: ROUTER_TIMEOUT,
                    slope: 0.0,
                    unanswered: true,
                    failed: false,
                    serving,
                });
                break;
            }
            let excess = load - throughput;
            if self.backlog <= 0.0 {
                if excess < 0.0 {
                    // The dynos keep up: the steady queue, and what it holds in waiting.
                    self.backlog = 0.0;
                    self.queued = (load * (steady - base)).max(0.0);
                    self.push(Stretch {
                        from: at,
                        to,
                        load,
                        service: steady,
                        slope: 0.0,
                        unanswered: false,
                        failed: false,
                        serving,
                    });
                    break;
                }
                // Saturated from here: the steady queue's waiting requests are the backlog's start,
                // so the service times go on from where they were.
                self.backlog = self.queued;
            }
            // Each request waits backlog / throughput for the requests ahead, on top of its own
            // time: the idle dyno's while saturated, the steady queue's once the dynos keep up
            // and the backlog drains. The wait grows (or shrinks) by excess / throughput a second.
            let own = if excess < 0.0 { steady } else { base };
            let wait = self.backlog / throughput;
            let slope = excess / throughput;
            let patience = ROUTER_TIMEOUT - own;
            let timed_out = wait >= patience;
            // This piece ends at `to`, where the backlog empties, or where the wait crosses the
            // router's timeout, whichever comes first.
            let mut seconds = (to - at) as f64 / NANOS as f64;
            if slope < 0.0 {
                seconds = seconds.min(wait / -slope);
                if timed_out {
                    seconds = seconds.min((wait - patience) / -slope);
                }
            } else if slope > 0.0 && !timed_out {
                seconds = seconds.min((patience - wait) / slope);
            }
            let until = to.min(at + ((seconds * NANOS as f64).ceil() as i64).max(1));
            let elapsed = (until - at) as f64 / NANOS as f64;
            self.push(Stretch {
                from: at,
                to: until,
                load,
                service: if timed_out {
                    ROUTER_TIMEOUT
                } else {
                    own + wait
                },
                slope: if timed_out { 0.0 } else { slope },
                unanswered: timed_out,
                failed: false,
                serving,
            });
            self.backlog = (self.backlog + excess * elapsed).max(0.0);
            if self.backlog <= 0.0 {
                self.queued = 0.0;
            }
            at = until;
        }
        // Keep 5 minutes: more than the windows, the delay and the router's timeout need.
        while self
            .stretches
            .front()
            .is_some_and(|s| s.to < to - 300 * NANOS)
        {
            self.stretches.pop_front();
        }
    }

    /// Logs `load` requests a second from `from` to `to` that the app of an outage answers 503
    /// at once: no queue builds, and none is left.
    pub(super) fn add_failing(&mut self, from: i64, to: i64, load: f64, serving: u32) {
        self.backlog = 0.0;
        self.queued = 0.0;
        self.push(Stretch {
            from,
            to,
            load,
            service: FAIL_FAST,
            slope: 0.0,
            unanswered: false,
            failed: true,
            serving,
        });
    }

    fn push(&mut self, stretch: Stretch) {
        match self.stretches.back_mut() {
            // Two decisions apart under the same steady load are one stretch.
            Some(last)
                if last.to == stretch.from
                    && stretch.slope == 0.0
                    && Stretch {
                        from: last.from,
                        to: last.to,
                        ..stretch
                    } == *last =>
            {
                last.to = stretch.to;
            }
            _ => self.stretches.push_back(stretch),
        }
    }

    /// What the aggregator holds at `now` (nanoseconds) for the `len` whole arrival seconds that
    /// ended by `now − delay`: the requests among them whose lines were delivered by `now`.
    pub(super) fn sums(&self, now: i64, len: i64) -> Sums {
        self.sums_up_to(now, now - self.delay, len)
    }

    /// The same for the `len` whole seconds that ended by `end`.
    fn sums_up_to(&self, now: i64, end: i64, len: i64) -> Sums {
        let last = end.div_euclid(NANOS); // exclusive
        let first = (last - len).max(0);
        let (window_from, window_to) = (first * NANOS, last * NANOS);
        let mut sums = Sums {
            seconds: ((last - first).max(1)) as f64,
            ..Sums::default()
        };
        let secs = |nanos: i64| nanos as f64 / NANOS as f64;
        for stretch in self.stretches.iter().rev() {
            if stretch.to <= window_from {
                break;
            }
            // Delivered by now: x + service(x) + delay ≤ now, with service(x) linear in x and its
            // slope above −1 (a backlog drains no faster than time passes).
            let slack = secs(now - self.delay - stretch.from) - stretch.service;
            let delivered =
                stretch.from + (slack / (1.0 + stretch.slope) * NANOS as f64).floor() as i64;
            let from = stretch.from.max(window_from);
            let to = stretch.to.min(window_to).min(delivered);
            if to <= from || stretch.load <= 0.0 {
                continue;
            }
            let requests = stretch.load * secs(to - from);
            let service = requests * (stretch.service_at(from) + stretch.service_at(to)) / 2.0;
            sums.requests += requests;
            sums.service += service;
            if stretch.unanswered {
                sums.unanswered += requests;
            } else if stretch.failed {
                sums.failed += requests;
            } else {
                sums.served += service;
            }
            sums.dynos = sums.dynos.max(stretch.serving);
        }
        sums
    }

    /// What the router-logs aggregator would give at `now` (nanoseconds from the trace's start):
    /// a stable window of 60 s and a panic window of 6 s, both ending `delay` before `now`.
    pub(super) fn traffic(&self, now: i64, start: DateTime<Utc>) -> Traffic {
        let stable = self.sums(now, 60);
        let panic = self.sums(now, 6);
        // Failed requests are left out of the load, as the aggregator leaves them out.
        let answered = |sums: &Sums| sums.requests - sums.unanswered - sums.failed;
        let per_minute = |n: f64| (n * 60.0 / stable.seconds).round();
        Traffic {
            at: start + TimeDelta::nanoseconds(now - self.delay),
            requests_per_minute: per_minute(stable.requests) as u64,
            arrivals_per_sec: answered(&stable) / stable.seconds,
            mean_service: (answered(&stable) > 0.0)
                .then(|| Duration::try_from_secs_f64(stable.served / answered(&stable)).ok())
                .flatten(),
            in_flight: stable.served / stable.seconds,
            panic_in_flight: panic.served / panic.seconds,
            panic_arrivals_per_sec: answered(&panic) / panic.seconds,
            panic_window: Duration::from_secs_f64(panic.seconds),
            trouble_errors_last_minute: per_minute(stable.unanswered) as u32,
            // Only the app of an outage answers with its own errors.
            server_errors_last_minute: per_minute(stable.failed) as u32,
            left_out: (stable.unanswered + stable.failed).round() as u64,
            maintenance: false,
            dynos: stable.dynos,
            panic_dynos: panic.dynos,
        }
    }

    /// What the router lines' health would be at `now`: the lines of the requests of the last
    /// [`HEALTH_WINDOW`] delivered by then (by arrival, as the model logs them: an outage's 503s
    /// are logged as they arrive, an H12 30 s later and then too late for the window).
    pub(super) fn health(&self, now: i64, start: DateTime<Utc>) -> RouterHealth {
        let sums = self.sums_up_to(now, now, HEALTH_WINDOW);
        let mut failing: Vec<(String, u64)> = [("503", sums.failed), ("H12", sums.unanswered)]
            .into_iter()
            .map(|(label, n)| (label.to_owned(), n.round() as u64))
            .filter(|&(_, n)| n > 0)
            .collect();
        failing.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        RouterHealth {
            at: start + TimeDelta::nanoseconds(now),
            window: Duration::from_secs(HEALTH_WINDOW.unsigned_abs()),
            requests: sums.requests.round() as u64,
            failing,
        }
    }
}

impl Replay<'_> {
    /// Whether the app of an outage fails every request at `at` (nanoseconds from the start).
    fn failing(&self, at: i64) -> bool {
        self.outage()
            .is_some_and(|(from, to)| (from..to).contains(&at))
    }

    /// The outage, in nanoseconds from the trace's start.
    fn outage(&self) -> Option<(i64, i64)> {
        let (from, to) = self.model.outage?;
        let offset = |t: DateTime<Utc>| (t - self.trace.start).num_nanoseconds();
        Some((offset(from)?, offset(to)?))
    }

    fn row(&self) -> usize {
        usize::try_from(self.now / self.trace.step).unwrap_or(usize::MAX)
    }

    /// Integrates the figures from `now` to `to`.
    fn advance(&mut self, to: i64) {
        while self.now < to {
            let (serving, next_ready) = self.formation.serving(self.now);
            let row = self.row();
            let mut until =
                to.min((self.now / self.trace.step + 1).saturating_mul(self.trace.step));
            if let Some(ready) = next_ready {
                until = until.min(ready);
            }
            if let Some((from, to)) = self.outage() {
                for edge in [from, to] {
                    if edge > self.now {
                        until = until.min(edge);
                    }
                }
            }
            self.find_part();
            if let Some(&cut) = self.cuts.get(self.part) {
                until = until.min(cut);
            }
            let span = until - self.now;
            let running = self.formation.running();
            let load = self.trace.load(row);
            let tally = &mut self.parts[self.part];
            tally.span += span;
            tally.dyno_nanos += i128::from(span) * i128::from(running);
            let overloaded = self.model.overloaded(load, serving);
            let slow = self.model.slow(load, serving);
            if overloaded {
                tally.overloaded += span;
            }
            if slow {
                tally.slow += span;
            }
            if let Some(seen) = self.rows.get_mut(row) {
                seen.add(running, serving, overloaded, slow);
            }
            let failing = self.failing(self.now);
            if let Some(history) = self.history.as_mut() {
                if failing {
                    history.add_failing(self.now, until, load, serving);
                } else {
                    let steady = self.model.service(load, serving);
                    history.add(self.now, until, load, serving, steady);
                }
            }
            self.now = until;
        }
    }

    /// Moves `part` to the one that holds `now`.
    fn find_part(&mut self) {
        while self.cuts.get(self.part).is_some_and(|&cut| cut <= self.now) {
            self.part += 1;
        }
    }

    fn act(&mut self, actions: &[Action]) {
        for action in actions {
            if let Action::Scale { to, reason, .. } = action {
                let scale = self.formation.scale(self.now, *to, reason.to_string());
                self.scales.push(scale);
                self.find_part();
                self.parts[self.part].scale_calls += 1;
            }
        }
    }
}

/// The dynos a clairvoyant scaler runs: for each row, the fewest within `[min, max]` whose probe
/// would answer within `slow` (ρ ≤ 1 − service time / slow), started and stopped exactly when the
/// row begins and ends; in dyno-nanoseconds per part, as [`replay`] cuts them. It is the floor any
/// rule that keeps the app from being slow pays.
pub(super) fn clairvoyant(
    trace: &Trace,
    model: &Model,
    min: u32,
    max: u32,
    cuts: &[i64],
) -> Vec<i128> {
    let mut parts = vec![0i128; cuts.len() + 1];
    let mut part = 0;
    let mut now = 0i64;
    for needed in clairvoyant_dynos(trace, model, min, max) {
        let needed = i128::from(needed);
        let row_end = now.saturating_add(trace.step);
        while now < row_end {
            while cuts.get(part).is_some_and(|&cut| cut <= now) {
                part += 1;
            }
            let until = cuts.get(part).map_or(row_end, |&cut| cut.min(row_end));
            parts[part] += needed * i128::from(until - now);
            now = until;
        }
    }
    parts
}

/// The clairvoyant's dynos for each row of `trace`: the fewest within `[min, max]` whose probe
/// would answer within `slow`.
pub(super) fn clairvoyant_dynos(trace: &Trace, model: &Model, min: u32, max: u32) -> Vec<u32> {
    let utilisation = 1.0 - model.service_time.as_secs_f64() / model.thresholds.slow.as_secs_f64();
    (0..trace.counts.len())
        .map(|row| {
            if utilisation > 0.0 {
                let fewest = (trace.load(row) / (utilisation * model.capacity)).ceil();
                // Clamped into `[min, max]`, so the cast is exact.
                fewest.clamp(f64::from(min), f64::from(max)) as u32
            } else {
                max
            }
        })
        .collect()
}
