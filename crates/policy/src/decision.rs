//! The decision rules: state + event + time → actions. No I/O, no clock of its own.
//!
//! [`Decider`] holds one app's process type: the baseline from its schedule, the target, and just
//! enough probe history to apply the rules of the interface (fail-safe to `max` on `failures` down
//! probes, waiting at most one boot for dynos the traffic rules just started, step out on slow
//! probes at most once per cooldown, step in by one per `calm` of fast probes, baseline rises at
//! once and falls unless the app was recently in trouble). It returns what should be done as
//! [`Action`]s; the runtime carries them out, the simulator replays them on a model, and the
//! tests check them directly.
//!
//! Like a reconciler, it is level-triggered: every event, a schedule tick included, re-evaluates the
//! baseline from the time it is given, so a restart or a missed tick never leaves a stale target. What
//! it has seen is a [`DeciderState`], plain data that survives a restart ([`Decider::state`],
//! [`Decider::restore`]).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schedule::Schedule;
use serde::{Deserialize, Serialize};

use crate::Class;
use crate::traffic::{InStop, Traffic, TrafficFigures, TrafficPolicy, TrafficState};

/// After an app is started from zero dynos, down probes are not trouble for this long: Heroku takes
/// 20–60 s to boot a dyno, and a fail-safe to `max` for a planned start would wake people for nothing.
pub(crate) const BOOT_GRACE: Duration = Duration::from_secs(60);

/// The limits and rhythms the rules work with; the runtime builds it from the app's config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// The fewest dynos, whatever the schedule says.
    pub min: u32,
    /// The most dynos; the fail-safe's target.
    pub max: u32,
    /// Dynos added by one step out on slow probes.
    pub step: u32,
    /// Consecutive down (or slow) probes that count as trouble.
    pub failures: u32,
    /// The least time between two steps out.
    pub scale_out_cooldown: Duration,
    /// How long every probe must be fast before a step in, and down-free before a recovery.
    pub calm: Duration,
    /// The traffic rules, when the app's router logs are read; `None`: the probe rules alone.
    pub traffic: Option<TrafficPolicy>,
}

/// What the decider is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Time passed: re-evaluate the schedule.
    Tick,
    /// A probe answered (or did not); `detail` says how, for logs and alerts ("HTTP 503").
    Probe {
        /// What the probe says, by [`Thresholds::classify`](crate::Thresholds::classify).
        class: Class,
        /// How it answered, in words.
        detail: String,
    },
    /// Whether the app is in maintenance mode, as read from the app's info.
    Maintenance(bool),
    /// What the router's logs say about the app's traffic (ignored without
    /// [`Policy::traffic`]). Boxed: the figures are three times the size of any other event, and
    /// every slot of a channel of events (a daemon has one an app) would pay for them.
    Traffic(Box<Traffic>),
}

/// What the decider wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Set the process type's quantity.
    Scale {
        /// The target before.
        from: u32,
        /// The new target.
        to: u32,
        /// Why, for the log line.
        reason: Reason,
    },
    /// Tell people.
    Alert(Notice),
    /// Worth a log line, nothing more (said once per stretch, not per probe).
    Note(String),
}

/// An alert the decider raises; the runtime turns it into email and SMS.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// An outage or a recovery.
    pub kind: NoticeKind,
    /// What happened, in words ("HTTP 503", "up again: …").
    pub detail: String,
    /// The target before the decision that raised it.
    pub from: u32,
    /// The target after it (the same as `from` when nothing was scaled).
    pub to: u32,
}

/// The alerts the decision rules raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// `failures` down probes in a row: the app is down.
    Outage,
    /// No down probe for `calm` after an outage.
    Recovery,
}

/// Why the target changed; printed as the `reason=` of the decision's log line.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The schedule's baseline moved (or the process starts).
    Schedule {
        /// The baseline now.
        baseline: u32,
    },
    /// The fail-safe: `streak` down probes in a row, the last one `detail`.
    Down {
        /// The last down probe, in words.
        detail: String,
        /// How many in a row.
        streak: u32,
    },
    /// A step out: `streak` slow probes in a row, the last one `detail`.
    Slow {
        /// The last slow probe, in words.
        detail: String,
        /// How many in a row.
        streak: u32,
    },
    /// A step in: every probe fast for `calm`.
    Calm {
        /// The policy's calm.
        calm: Duration,
    },
    /// The traffic rules: the demand its figures ask for (out at once, in after the
    /// stabilisation window).
    Traffic(TrafficFigures),
    /// A step out: a burst of router errors H10/H12/H13, trouble like slow probes.
    RouterErrors {
        /// H10/H12/H13 errors in the last minute.
        errors: u32,
        /// The policy's threshold.
        threshold: u32,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Schedule { baseline } => write!(f, "schedule: baseline {baseline}"),
            Reason::Down { detail, streak } => {
                write!(f, "down: {detail} ({streak} in a row), fail-safe to max")
            }
            Reason::Slow { detail, streak } => write!(f, "slow: {detail} ({streak} in a row)"),
            Reason::Calm { calm } => write!(
                f,
                "calm: every probe fast for {}",
                humantime::format_duration(*calm)
            ),
            Reason::Traffic(figures) => figures.fmt(f),
            Reason::RouterErrors { errors, threshold } => write!(
                f,
                "router errors: {errors} H10/H12/H13 in the last minute (trouble from {threshold})"
            ),
        }
    }
}

/// One app's process type: its rules and what it has seen.
#[derive(Debug, Clone)]
pub struct Decider {
    policy: Policy,
    schedule: Schedule,
    state: DeciderState,
}

/// What a [`Decider`] has seen, apart from its rules: plain data, so a runtime can store it
/// (serde) and [`Decider::restore`] after a restart exactly where it left off. Opaque on purpose:
/// only the decider reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeciderState {
    baseline: u32,
    target: u32,
    down_streak: u32,
    slow_streak: u32,
    last_class: Option<Class>,
    last_scale_out: Option<DateTime<Utc>>,
    /// The last slow or down probe.
    last_trouble: Option<DateTime<Utc>>,
    last_down: Option<DateTime<Utc>>,
    /// Since when every probe has been fast and the target has not moved.
    calm_since: DateTime<Utc>,
    /// When the target last rose from zero, for [`BOOT_GRACE`].
    started_from_zero: Option<DateTime<Utc>>,
    /// When the current outage began (after `failures` down probes).
    outage_since: Option<DateTime<Utc>>,
    maintenance: bool,
    /// Whether the "down probes ignored" note was given for the current stretch.
    ignoring_noted: bool,
    /// What the traffic rules remember; empty without them (and in states stored before them).
    #[serde(default)]
    traffic: TrafficState,
}

/// A summary of the decider's state, for logs and the status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// The schedule's quantity now, within `[min, max]`.
    pub baseline: u32,
    /// The quantity the process type should have.
    pub target: u32,
    /// When the open outage began, if one is open.
    pub outage_since: Option<DateTime<Utc>>,
    /// Whether the app was last seen in maintenance mode.
    pub maintenance: bool,
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or(Duration::ZERO)
}

impl Decider {
    /// Starts at `now` with nothing stored: the target is the schedule's baseline, or `observed` (the
    /// quantity the process type has now, clamped to `max`) when that is higher.
    ///
    /// A quantity above the baseline was most likely set for load (by an earlier run that scaled
    /// out, or by a person), so it is brought down by the step-in rule, one dyno per `calm` of fast
    /// probes, never cut at once. Below the baseline, the baseline applies at once. Pass `None` when
    /// the quantity is unknown, or when nothing probes the app: without fast probes no step in ever
    /// comes, so only the schedule can be trusted.
    pub fn new(
        policy: Policy,
        schedule: Schedule,
        now: DateTime<Utc>,
        observed: Option<u32>,
    ) -> Decider {
        let baseline = schedule.baseline_at(now).clamp(policy.min, policy.max);
        let target = observed.map_or(baseline, |q| q.clamp(baseline, policy.max));
        let state = DeciderState {
            baseline,
            target,
            down_streak: 0,
            slow_streak: 0,
            last_class: None,
            last_scale_out: None,
            last_trouble: None,
            last_down: None,
            calm_since: now,
            started_from_zero: None,
            outage_since: None,
            maintenance: false,
            ignoring_noted: false,
            traffic: TrafficState::default(),
        };
        Decider {
            policy,
            schedule,
            state,
        }
    }

    /// Picks up where [`state`](Self::state) left off, or starts afresh like [`new`](Self::new)
    /// with `observed` when nothing was stored.
    ///
    /// A stored target wins over `observed`: it is what autoscaled decided, and a running process
    /// corrects a formation changed outside it the same way. The stored quantities are clamped into
    /// the policy's `[min, max]`, in case the config changed meanwhile. Nothing is re-evaluated
    /// here (a constructor returns no actions): the next [`handle`](Self::handle), a
    /// [`Event::Tick`] at least, catches up with the schedule and the time gone by.
    pub fn restore(
        policy: Policy,
        schedule: Schedule,
        state: Option<DeciderState>,
        observed: Option<u32>,
        now: DateTime<Utc>,
    ) -> Decider {
        let Some(mut state) = state else {
            return Decider::new(policy, schedule, now, observed);
        };
        state.baseline = state.baseline.clamp(policy.min, policy.max);
        state.target = state.target.clamp(policy.min, policy.max);
        Decider {
            policy,
            schedule,
            state,
        }
    }

    /// What the decider has seen, to store and [`restore`](Self::restore) after a restart.
    pub fn state(&self) -> DeciderState {
        self.state.clone()
    }

    /// The quantity the process type should have now.
    pub fn target(&self) -> u32 {
        self.state.target
    }

    /// The state in brief.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            baseline: self.state.baseline,
            target: self.state.target,
            outage_since: self.state.outage_since,
            maintenance: self.in_maintenance(),
        }
    }

    /// In maintenance mode: by the app's info, or by H80 router lines while the traffic is fresh.
    fn in_maintenance(&self) -> bool {
        self.state.maintenance || self.state.traffic.maintenance
    }

    /// Maintenance mode went on or off (`was` → [`in_maintenance`](Self::in_maintenance)).
    fn maintenance_changed(&mut self, was: bool, actions: &mut Vec<Action>) {
        let on = self.in_maintenance();
        if on == was {
            return;
        }
        self.state.down_streak = 0;
        self.state.ignoring_noted = false;
        // Maintenance mode shuts the app on purpose and down probes stop counting, so an open
        // outage could never be seen to end: it would hold `max` and block every baseline fall for
        // the whole window. Closed here, like a schedule fall to 0 closes it, without a recovery
        // alert (nothing recovered; people put the app in maintenance themselves), so the normal
        // rules apply.
        if on && self.state.outage_since.take().is_some() {
            actions.push(Action::Note(
                "outage closed: the app is in maintenance mode".into(),
            ));
        }
    }

    /// Takes in one event at `now` and returns what to do, in order.
    pub fn handle(&mut self, event: Event, now: DateTime<Utc>) -> Vec<Action> {
        let mut actions = Vec::new();
        self.check_stale(now, &mut actions);
        match event {
            Event::Tick => {}
            Event::Maintenance(on) => {
                let was = self.in_maintenance();
                self.state.maintenance = on;
                self.maintenance_changed(was, &mut actions);
            }
            Event::Probe { class, detail } => self.observe(class, detail, now, &mut actions),
            Event::Traffic(traffic) => {
                // The demand is weighed against the baseline of this instant.
                self.follow_schedule(now, &mut actions);
                self.observe_traffic(&traffic, now, &mut actions);
            }
        }
        self.follow_schedule(now, &mut actions);
        self.check_recovery(now, &mut actions);
        self.step_in(now, &mut actions);
        actions
    }

    fn set_target(
        &mut self,
        to: u32,
        reason: Reason,
        now: DateTime<Utc>,
        actions: &mut Vec<Action>,
    ) {
        let to = to.clamp(self.policy.min, self.policy.max);
        if to == self.state.target {
            return;
        }
        if self.state.target == 0 {
            self.state.started_from_zero = Some(now);
        }
        if to > self.state.target && matches!(reason, Reason::Traffic(_)) {
            self.state.traffic.last_out = Some(now);
        }
        actions.push(Action::Scale {
            from: self.state.target,
            to,
            reason,
        });
        self.state.target = to;
        self.state.calm_since = now;
    }

    /// Whether the fail-safe, due now (`failures` down probes in a row), waits for the dynos the
    /// traffic rules started within [`BOOT_GRACE`]: the router's figures showed the load the probe
    /// now times out on, and the answer to it is booting. A fail-safe to `max` then would run every
    /// dyno until the stabilisation window lets them go, once per burst. It waits at most
    /// [`BOOT_GRACE`] from when it was first due, so an app that is down for another reason gets
    /// its fail-safe one boot later, not never.
    fn fail_safe_waits(
        &mut self,
        now: DateTime<Utc>,
        detail: &str,
        actions: &mut Vec<Action>,
    ) -> bool {
        let traffic = &mut self.state.traffic;
        if self.state.down_streak == self.policy.failures {
            traffic.fail_safe_due = Some(now + BOOT_GRACE);
        }
        let booting = traffic
            .last_out
            .is_some_and(|t| elapsed(t, now) < BOOT_GRACE);
        let waits = booting && traffic.fail_safe_due.is_some_and(|due| now < due);
        if waits {
            actions.push(Action::Note(format!(
                "down probe ({detail}, {} in a row): the fail-safe waits for the dynos the traffic rules started",
                self.state.down_streak
            )));
        }
        waits
    }

    /// Why down probes mean nothing right now, if they don't.
    fn down_is_expected(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if self.state.baseline == 0 {
            Some("the schedule keeps the app off (baseline 0)")
        } else if self.in_maintenance() {
            Some("the app is in maintenance mode")
        } else if self
            .state
            .started_from_zero
            .is_some_and(|t| elapsed(t, now) < BOOT_GRACE)
        {
            Some("its dynos are booting from zero")
        } else {
            None
        }
    }

    fn observe(
        &mut self,
        class: Class,
        detail: String,
        now: DateTime<Utc>,
        actions: &mut Vec<Action>,
    ) {
        self.state.last_class = Some(class);
        match class {
            Class::Down => {
                if let Some(why) = self.down_is_expected(now) {
                    self.state.down_streak = 0;
                    // Not trouble, but not a fast answer either: a step in needs a whole calm of
                    // fast probes, counted from here.
                    self.state.calm_since = now;
                    if !self.state.ignoring_noted {
                        self.state.ignoring_noted = true;
                        actions.push(Action::Note(format!(
                            "down probe ({detail}) ignored: {why}"
                        )));
                    }
                    return;
                }
                self.state.down_streak += 1;
                self.state.slow_streak = 0;
                self.state.last_down = Some(now);
                self.state.last_trouble = Some(now);
                self.state.calm_since = now;
                if self.state.down_streak < self.policy.failures {
                    return;
                }
                if self.fail_safe_waits(now, &detail, actions) {
                    return;
                }
                let from = self.state.target;
                let reason = Reason::Down {
                    detail: detail.clone(),
                    streak: self.state.down_streak,
                };
                self.set_target(self.policy.max, reason, now, actions);
                if self.state.outage_since.is_none() {
                    self.state.outage_since = Some(now);
                    actions.push(Action::Alert(Notice {
                        kind: NoticeKind::Outage,
                        detail,
                        from,
                        to: self.state.target,
                    }));
                }
            }
            Class::Slow => {
                self.state.down_streak = 0;
                if self.state.baseline == 0 {
                    // The app is meant to be off: whatever answers slowly, a step out would start
                    // dynos nobody wants.
                    self.state.slow_streak = 0;
                    if !self.state.ignoring_noted {
                        self.state.ignoring_noted = true;
                        actions.push(Action::Note(format!(
                            "slow probe ({detail}) ignored: the schedule keeps the app off (baseline 0)"
                        )));
                    }
                    return;
                }
                self.state.ignoring_noted = false;
                self.state.slow_streak += 1;
                self.state.last_trouble = Some(now);
                self.state.calm_since = now;
                let cooled = self
                    .state
                    .last_scale_out
                    .is_none_or(|t| elapsed(t, now) >= self.policy.scale_out_cooldown);
                if self.state.slow_streak >= self.policy.failures
                    && cooled
                    && self.state.target < self.policy.max
                {
                    let to = self.state.target.saturating_add(self.policy.step);
                    let reason = Reason::Slow {
                        detail,
                        streak: self.state.slow_streak,
                    };
                    self.set_target(to, reason, now, actions);
                    self.state.last_scale_out = Some(now);
                }
            }
            Class::Normal => {
                self.state.ignoring_noted = false;
                self.state.down_streak = 0;
                self.state.slow_streak = 0;
                self.state.calm_since = now;
            }
            Class::Fast => {
                self.state.ignoring_noted = false;
                self.state.down_streak = 0;
                self.state.slow_streak = 0;
            }
        }
    }

    fn follow_schedule(&mut self, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        let old = self.state.baseline;
        let new = self
            .schedule
            .baseline_at(now)
            .clamp(self.policy.min, self.policy.max);
        if new == old {
            return;
        }
        self.state.baseline = new;
        if old == 0 || new == 0 {
            // Down probes were ignored, or are about to be: start counting afresh.
            self.state.down_streak = 0;
            self.state.ignoring_noted = false;
        }
        let reason = Reason::Schedule { baseline: new };
        if new == 0 {
            // The app is meant to be off: down probes no longer count, so neither an outage nor a
            // recent slow spell could ever be waited out. Off means off, at once.
            if self.state.outage_since.take().is_some() {
                actions.push(Action::Note(
                    "outage closed: the schedule turns the app off".into(),
                ));
            }
            self.set_target(0, reason, now, actions);
        } else if new > old {
            if self.state.target < new {
                self.set_target(new, reason, now, actions);
            }
        } else if self.state.target == old && !self.troubled_within_calm(now) {
            // With fresh traffic data, not below what the traffic asks for.
            let held = self.traffic_held(now);
            if held > new && held < self.state.target {
                self.set_target(held, reason, now, actions);
            } else if held <= new {
                self.set_target(new, reason, now, actions);
            }
        }
    }

    /// An open outage counts as trouble however long ago its last down probe was: it closes only
    /// once a probe answers.
    fn troubled_within_calm(&self, now: DateTime<Utc>) -> bool {
        self.state.outage_since.is_some()
            || self
                .state
                .last_trouble
                .is_some_and(|t| elapsed(t, now) < self.policy.calm)
    }

    fn check_recovery(&mut self, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        let Some(since) = self.state.outage_since else {
            return;
        };
        let quiet = self
            .state
            .last_down
            .is_none_or(|t| elapsed(t, now) >= self.policy.calm);
        if quiet && self.state.last_class.is_some_and(|c| c != Class::Down) {
            self.state.outage_since = None;
            let lasted =
                humantime::format_duration(Duration::from_secs(elapsed(since, now).as_secs()));
            let detail = format!(
                "up again: no down probe for {} (outage lasted {lasted})",
                humantime::format_duration(self.policy.calm)
            );
            actions.push(Action::Alert(Notice {
                kind: NoticeKind::Recovery,
                detail,
                from: self.state.target,
                to: self.state.target,
            }));
        }
    }

    /// Whether the traffic rules act: the app's traffic is read and its data is fresh.
    fn traffic_fresh(&self) -> bool {
        self.policy.traffic.is_some() && self.state.traffic.fresh
    }

    /// The largest traffic demand within the stabilisation window while the data is fresh, else 0.
    fn traffic_held(&self, now: DateTime<Utc>) -> u32 {
        match self.policy.traffic {
            Some(traffic) if self.state.traffic.fresh => {
                self.state.traffic.held(now, traffic.stabilisation)
            }
            _ => 0,
        }
    }

    /// The data goes stale when no router line came for `stale_after`: said once, and the probe
    /// rules alone act until it is fresh again.
    fn check_stale(&mut self, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        let Some(traffic) = self.policy.traffic else {
            return;
        };
        let state = &self.state.traffic;
        if !state.fresh
            || state
                .last_at
                .is_some_and(|at| elapsed(at, now) < traffic.stale_after)
        {
            return;
        }
        let was = self.in_maintenance();
        let state = &mut self.state.traffic;
        state.fresh = false;
        state.recent.clear();
        state.queued_out = None;
        state.last_panic = None;
        state.maintenance = false;
        actions.push(Action::Note(format!(
            "traffic data stale: no router line for {}; the probe rules alone act",
            humantime::format_duration(traffic.stale_after)
        )));
        self.maintenance_changed(was, actions);
    }

    fn observe_traffic(&mut self, seen: &Traffic, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        let Some(policy) = self.policy.traffic else {
            return;
        };
        if elapsed(seen.at, now) >= policy.stale_after {
            // Old news: as if nothing came.
            return;
        }
        let state = &mut self.state.traffic;
        if state.last_at.is_none_or(|at| seen.at > at) {
            state.last_at = Some(seen.at);
        }
        if !state.fresh {
            state.fresh = true;
            actions.push(Action::Note(format!(
                "traffic data fresh: the traffic rules act ({} req/min)",
                seen.requests_per_minute
            )));
        }
        let was = self.in_maintenance();
        self.state.traffic.maintenance = seen.maintenance;
        self.maintenance_changed(was, actions);
        if self.in_maintenance() {
            // The router answers H80 itself: its figures say nothing about the dynos.
            return;
        }
        // Heroku's service= includes the dyno's own queue, so in flight counts queued requests
        // too: busy slots are in flight × the app's own (unqueued) time over the mean now.
        // An app in an outage, throwing router errors or answering with its own 5xx (a bad
        // deploy, before probes trip the fail-safe) answers fast with errors, not with its own
        // service time.
        let learn = self.state.outage_since.is_none()
            && seen.trouble_errors_last_minute < policy.trouble_errors
            && f64::from(seen.server_errors_last_minute)
                < TrafficPolicy::ESTIMATE_MAX_SERVER_ERRORS * seen.requests_per_minute as f64;
        let unqueued = self.state.traffic.unqueued(seen, now, learn);
        let share = match (unqueued, seen.mean_service) {
            (Some(own), Some(mean)) if !mean.is_zero() => {
                (own.as_secs_f64() / mean.as_secs_f64()).min(1.0)
            }
            _ => 1.0,
        };
        let busy = seen.in_flight * share;
        let demand = policy.dynos_at(busy, seen.in_flight, seen.dynos);
        // The 6 s window's mean is too noisy for the share: its busy slots are its arrivals (those
        // still in flight at its end counted) × the estimate (none without one), and its in flight
        // counts through the in-flight term.
        let fresh_busy = unqueued.map_or(0.0, |own| seen.panic_arrivals() * own.as_secs_f64());
        let panic_queue = policy.queue_dynos(fresh_busy, seen.panic_in_flight, seen.panic_dynos);
        let panic_demand = panic_queue.max(policy.dynos_for(fresh_busy, 0.0));
        if self.state.baseline == 0 {
            // The app is meant to be off: the schedule wins over whatever traffic reaches it.
            if demand.max(panic_demand) > 0 && !self.state.traffic.off_noted {
                self.state.traffic.off_noted = true;
                actions.push(Action::Note(format!(
                    "traffic ({} req/min) ignored: the schedule keeps the app off (baseline 0)",
                    seen.requests_per_minute
                )));
            }
            return;
        }
        self.state.traffic.off_noted = false;

        if seen.trouble_errors_last_minute >= policy.trouble_errors {
            self.state.last_trouble = Some(now);
            self.state.calm_since = now;
            let cooled = self
                .state
                .last_scale_out
                .is_none_or(|t| elapsed(t, now) >= self.policy.scale_out_cooldown);
            if cooled && self.state.target < self.policy.max {
                let to = self.state.target.saturating_add(self.policy.step);
                let reason = Reason::RouterErrors {
                    errors: seen.trouble_errors_last_minute,
                    threshold: policy.trouble_errors,
                };
                self.set_target(to, reason, now, actions);
                self.state.last_scale_out = Some(now);
            }
        }

        let held = self.state.traffic.record(now, demand, policy.stabilisation);
        self.state.traffic.busiest.record(now, busy);
        let target = self.state.target;
        // Panic on a jump: the last 6 s ask for `panic_threshold` times the target, the busy
        // slots past the scale-out tolerance (else a load at the edge of one dyno panics from 1
        // to 2 and holds it); or on saturation: the dynos that answered cannot carry the last
        // 6 s of arrivals at all, so requests queue toward the router's timeout (the arrivals
        // counted with those still in flight at the window's end: a line comes when its request
        // completes, so at ρ just past 1 the count alone reads as dynos that keep up).
        let jump = panic_queue.max(policy.tolerant().dynos_for(fresh_busy, 0.0));
        let saturated = seen.panic_dynos > 0
            && fresh_busy >= f64::from(seen.panic_dynos.saturating_mul(policy.concurrency))
            && panic_demand > target;
        // Saturated dynos' queue is a backlog that grows while they serve at their full rate, not
        // the queue of a dyno that keeps up, which more dynos shrink at once: until the new dynos
        // boot it only grows, and the arrivals it holds are not counted yet. So the panic asks at
        // least for the dynos that hold the requests now in flight at `QUEUE_FACTOR` a slot (the
        // in-flight term counted linearly), as if the queue stayed.
        let panic_demand = if saturated {
            panic_demand.max(policy.dynos_for(0.0, seen.panic_in_flight))
        } else {
            panic_demand
        };
        if target > 0
            && (saturated || f64::from(jump) >= policy.panic_threshold * f64::from(target))
        {
            self.state.traffic.last_panic = Some(now);
        }
        let panicking = self
            .state
            .traffic
            .last_panic
            .is_some_and(|t| elapsed(t, now) < policy.panic_hold);
        let figures = |panic: bool, stop: Option<InStop>| TrafficFigures {
            requests_per_minute: seen.requests_per_minute,
            mean_service: seen.mean_service,
            unqueued,
            in_flight: if panic {
                seen.panic_in_flight
            } else {
                seen.in_flight
            },
            dynos: if panic { seen.panic_dynos } else { seen.dynos },
            busy: if panic { fresh_busy } else { busy },
            concurrency: policy.concurrency,
            utilisation: policy.utilisation,
            demand: if panic { panic_demand } else { demand },
            held: (!panic && held > demand).then_some((held, policy.stabilisation)),
            stop,
            panic,
        };
        let wanted = held.max(self.state.baseline).min(self.policy.max);
        if panicking && panic_demand > wanted.max(target) {
            self.set_target(
                panic_demand,
                Reason::Traffic(figures(true, None)),
                now,
                actions,
            );
            return;
        }
        if wanted > target {
            // Out at once, once the load is beyond the tolerance (or the baseline rose, or the
            // last 6 s panic: the deadband is for a load at the edge, not for a jump).
            if self.state.baseline > target
                || panicking
                || policy.beyond(busy, seen.in_flight, seen.dynos, target)
            {
                self.set_target(wanted, Reason::Traffic(figures(false, None)), now, actions);
                // Remember when the queue, not the busy slots, asked for it, and at which count
                // the queue was seen: the dynos that answered, not the target when some of its
                // dynos still boot (else each step of an escalation moves it up to the last).
                let queued_at = match seen.dynos {
                    0 => target,
                    answered => answered.min(target),
                };
                self.state.traffic.queued_out = (policy.dynos_for(busy, 0.0) <= queued_at)
                    .then_some((now, queued_at, (busy * 1000.0).round() as u64));
            }
            return;
        }
        // In only when not panicking, not in an outage and not troubled lately...
        if wanted == target
            || panicking
            || self.state.outage_since.is_some()
            || self.troubled_within_calm(now)
        {
            return;
        }
        // ...and not to a count that would ask for more again at once (hysteresis): not below
        // what the last 6 s of arrivals ask for (the stable window lags a rise by up to a minute),
        // nor where the queue predicted there would bring the in-flight term above it.
        let fresh = policy.dynos_for(fresh_busy, 0.0);
        let settles = |m: u32| {
            let predicted = policy.in_flight_at(busy, seen.in_flight, target, m);
            policy.dynos_for(busy, predicted) <= m
        };
        // Nor below what carries the usual load at full use: a sudden fall is trusted once it
        // lasted half of the usual window, for the load may come back as suddenly.
        let usual = policy.dynos_at_full_use(self.state.traffic.busiest.median());
        let mut to = wanted.max(fresh).max(usual);
        // Nor back to a count the queue sent it out from, while the load is about the same.
        let queued_out = self
            .state
            .traffic
            .queued_out
            .filter(|&(at, _, _)| elapsed(at, now) < TrafficPolicy::QUEUED_OUT_MEMORY)
            .map(|(_, from, then)| (from, then as f64 / 1000.0))
            .filter(|&(_, then)| busy >= then * (1.0 - TrafficPolicy::QUEUED_OUT_MARGIN));
        if let Some((from, _)) = queued_out {
            to = to.max(from.saturating_add(1));
        }
        while to < target && !settles(to) {
            to += 1;
        }
        if to >= target {
            return;
        }
        let stop = (to > wanted).then(|| InStop {
            fresh,
            predicted: policy.in_flight_at(busy, seen.in_flight, target, to - 1),
            queued_out: queued_out.filter(|&(from, _)| from.saturating_add(1) == to),
            usual: (usual == to).then_some(usual),
        });
        if self
            .state
            .traffic
            .queued_out
            .is_some_and(|(_, from, _)| to <= from)
        {
            self.state.traffic.queued_out = None;
        }
        self.set_target(to, Reason::Traffic(figures(false, stop)), now, actions);
    }

    fn step_in(&mut self, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        // With fresh traffic data, the traffic rules move the target in.
        if self.state.outage_since.is_some()
            || self.traffic_fresh()
            || self.state.target <= self.state.baseline
            || self.state.last_class != Some(Class::Fast)
        {
            return;
        }
        if elapsed(self.state.calm_since, now) >= self.policy.calm {
            let reason = Reason::Calm {
                calm: self.policy.calm,
            };
            self.set_target(self.state.target - 1, reason, now, actions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use schedule::Rule;

    const SEC: Duration = Duration::from_secs(1);

    fn policy() -> Policy {
        Policy {
            min: 1,
            max: 5,
            step: 1,
            failures: 2,
            scale_out_cooldown: Duration::from_secs(120),
            calm: Duration::from_secs(600),
            traffic: None,
        }
    }

    /// The seed schedule: 3 from 07:00, 2 from 22:00, 1 from 03:00 UTC.
    fn seed_schedule(min: u32) -> Schedule {
        let rules = [("0 7 * * *", 3), ("0 22 * * *", 2), ("0 3 * * *", 1)]
            .into_iter()
            .map(|(cron, q)| Rule::new(cron, q).unwrap())
            .collect();
        Schedule::new(rules, chrono_tz::UTC, min)
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, m, s).unwrap()
    }

    fn probe(class: Class) -> Event {
        Event::Probe {
            class,
            detail: format!("{class:?}"),
        }
    }

    fn scales(actions: &[Action]) -> Vec<(u32, u32)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Scale { from, to, .. } => Some((*from, *to)),
                _ => None,
            })
            .collect()
    }

    /// The reason of the first scale action, as logged.
    fn first_reason(actions: &[Action]) -> String {
        actions
            .iter()
            .find_map(|a| match a {
                Action::Scale { reason, .. } => Some(reason.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no scale: {actions:?}"))
    }

    fn alerts(actions: &[Action]) -> Vec<NoticeKind> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Alert(n) => Some(n.kind),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn starts_at_the_baseline() {
        assert_eq!(
            Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None).target(),
            3
        );
        assert_eq!(
            Decider::new(policy(), seed_schedule(1), at(23, 0, 0), None).target(),
            2
        );
        assert_eq!(
            Decider::new(policy(), seed_schedule(1), at(4, 0, 0), None).target(),
            1
        );
    }

    #[test]
    fn down_probes_fail_safe_to_max_at_once_and_alert_once() {
        let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
        assert!(
            d.handle(probe(Class::Down), at(12, 0, 30)).is_empty(),
            "one down probe is not enough"
        );
        let actions = d.handle(probe(Class::Down), at(12, 1, 0));
        assert_eq!(scales(&actions), [(3, 5)]);
        assert_eq!(alerts(&actions), [NoticeKind::Outage]);
        let again = d.handle(probe(Class::Down), at(12, 1, 30));
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn slow_probes_step_out_once_per_cooldown() {
        let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
        let mut all = Vec::new();
        for i in 0..10 {
            all.extend(d.handle(probe(Class::Slow), at(12, 0, 0) + 30 * SEC * (i + 1)));
        }
        // Slow from 12:00:30; steps at 12:01:00 (2nd slow) and 12:03:00 (cooldown over).
        assert_eq!(scales(&all), [(3, 4), (4, 5)]);
        assert!(alerts(&all).is_empty());
    }

    #[test]
    fn steps_in_one_per_calm_down_to_the_baseline_after_recovery() {
        let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
        d.handle(probe(Class::Down), at(12, 0, 30));
        d.handle(probe(Class::Down), at(12, 1, 0));
        assert_eq!(d.target(), 5);
        let mut all = Vec::new();
        let mut t = at(12, 1, 0);
        for _ in 0..(60 * 2) {
            t += 30 * SEC;
            all.extend(d.handle(probe(Class::Fast), t));
        }
        assert_eq!(scales(&all), [(5, 4), (4, 3)]);
        assert_eq!(alerts(&all), [NoticeKind::Recovery]);
        // Recovery 10 minutes after the last down probe, at 12:11:00; no step in during the outage,
        // so the first step waits for it and then for a further calm of fast probes.
        let when = |wanted: (u32, u32)| {
            let mut t = at(12, 1, 0);
            let mut d2 = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
            d2.handle(probe(Class::Down), at(12, 0, 30));
            d2.handle(probe(Class::Down), at(12, 1, 0));
            loop {
                t += 30 * SEC;
                if scales(&d2.handle(probe(Class::Fast), t)).contains(&wanted) {
                    return t;
                }
            }
        };
        assert_eq!(when((5, 4)), at(12, 11, 0));
        assert_eq!(when((4, 3)), at(12, 21, 0));
    }

    #[test]
    fn a_normal_probe_is_neither_calm_nor_trouble() {
        let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
        d.handle(probe(Class::Slow), at(12, 0, 30));
        d.handle(probe(Class::Slow), at(12, 1, 0));
        assert_eq!(d.target(), 4);
        let mut t = at(12, 1, 0);
        for _ in 0..60 {
            t += 30 * SEC;
            assert!(scales(&d.handle(probe(Class::Normal), t)).is_empty());
        }
    }

    #[test]
    fn baseline_rises_at_once_and_falls_at_once_when_calm() {
        let mut d = Decider::new(policy(), seed_schedule(1), at(6, 59, 0), None);
        assert_eq!(d.target(), 1);
        assert_eq!(scales(&d.handle(Event::Tick, at(7, 0, 0))), [(1, 3)]);
        assert_eq!(scales(&d.handle(Event::Tick, at(22, 0, 0))), [(3, 2)]);
    }

    #[test]
    fn baseline_falls_by_step_in_when_recently_slow() {
        let mut d = Decider::new(policy(), seed_schedule(1), at(21, 50, 0), None);
        d.handle(probe(Class::Slow), at(21, 55, 0));
        assert!(
            scales(&d.handle(Event::Tick, at(22, 0, 0))).is_empty(),
            "slow 5 minutes ago"
        );
        assert_eq!(d.snapshot().baseline, 2);
        d.handle(probe(Class::Fast), at(22, 4, 0));
        assert_eq!(
            scales(&d.handle(probe(Class::Fast), at(22, 5, 0))),
            [(3, 2)],
            "a calm after the slow probe"
        );
    }

    #[test]
    fn no_fail_safe_while_meant_to_be_off_or_in_maintenance() {
        let schedule = Schedule::new(
            vec![
                Rule::new("0 7 * * *", 2).unwrap(),
                Rule::new("0 22 * * *", 0).unwrap(),
            ],
            chrono_tz::UTC,
            0,
        );
        let policy = Policy { min: 0, ..policy() };
        let mut d = Decider::new(policy, schedule, at(23, 0, 0), None);
        assert_eq!(d.target(), 0);
        let first = d.handle(probe(Class::Down), at(23, 0, 30));
        assert!(matches!(first.as_slice(), [Action::Note(_)]), "{first:?}");
        for i in 1..10 {
            assert!(
                d.handle(probe(Class::Down), at(23, 0, 30) + 30 * SEC * i)
                    .is_empty()
            );
        }
        // 07:00 starts the app; dynos boot for up to a minute without tripping the fail-safe.
        assert_eq!(scales(&d.handle(Event::Tick, at(7, 0, 0))), [(0, 2)]);
        d.handle(probe(Class::Down), at(7, 0, 20));
        assert!(scales(&d.handle(probe(Class::Down), at(7, 0, 50))).is_empty());
        d.handle(probe(Class::Fast), at(7, 1, 20));

        d.handle(Event::Maintenance(true), at(8, 0, 0));
        for i in 0..5 {
            assert!(scales(&d.handle(probe(Class::Down), at(8, 0, 0) + 30 * SEC * i)).is_empty());
        }
        d.handle(Event::Maintenance(false), at(9, 0, 0));
        d.handle(probe(Class::Down), at(9, 0, 30));
        assert_eq!(scales(&d.handle(probe(Class::Down), at(9, 1, 0))), [(2, 5)]);
    }

    #[test]
    fn starts_from_an_observed_quantity_above_the_baseline_and_steps_it_in() {
        let start = at(12, 0, 0);
        let started = |observed| Decider::new(policy(), seed_schedule(1), start, observed).target();
        assert_eq!(
            started(Some(1)),
            3,
            "below the baseline: the baseline at once"
        );
        assert_eq!(started(Some(0)), 3);
        assert_eq!(started(Some(9)), 5, "never above max");
        assert_eq!(started(None), 3);

        let mut d = Decider::new(policy(), seed_schedule(1), start, Some(5));
        assert_eq!(d.target(), 5, "not cut at once");
        assert!(d.handle(Event::Tick, start).is_empty());
        let mut steps = Vec::new();
        let mut t = start;
        for _ in 0..60 {
            t += 30 * SEC;
            for step in scales(&d.handle(probe(Class::Fast), t)) {
                steps.push((step, t));
            }
        }
        assert_eq!(
            steps,
            [((5, 4), at(12, 10, 0)), ((4, 3), at(12, 20, 0))],
            "one per calm of fast probes, down to the baseline"
        );
    }

    #[test]
    fn entering_maintenance_closes_an_open_outage() {
        // max 3, the evening's baseline: the outage leaves the target at the baseline, so only the
        // open outage could hold back the 22:00 fall.
        let policy = Policy { max: 3, ..policy() };
        let mut d = Decider::new(policy, seed_schedule(1), at(21, 0, 0), None);
        d.handle(probe(Class::Down), at(21, 0, 30));
        let tripped = d.handle(probe(Class::Down), at(21, 1, 0));
        assert_eq!(alerts(&tripped), [NoticeKind::Outage]);

        let mut after = d.handle(Event::Maintenance(true), at(21, 5, 0));
        assert_eq!(d.snapshot().outage_since, None, "{after:?}");
        assert!(
            after
                .iter()
                .any(|a| matches!(a, Action::Note(n) if n.contains("maintenance"))),
            "{after:?}"
        );
        let mut t = at(21, 5, 0);
        while t < at(23, 0, 0) {
            t += 30 * SEC;
            after.extend(d.handle(probe(Class::Down), t));
        }
        assert_eq!(
            scales(&after),
            [(3, 2)],
            "the 22:00 fall applies as without an outage"
        );
        after.extend(d.handle(Event::Maintenance(false), t));
        for _ in 0..60 {
            t += 30 * SEC;
            after.extend(d.handle(probe(Class::Fast), t));
        }
        assert!(
            alerts(&after).is_empty(),
            "no recovery to announce: {after:?}"
        );
    }

    #[test]
    fn ignored_down_probes_restart_the_calm() {
        // Stepped out to 4 at 12:01; then maintenance with down probes until 12:30.
        let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
        d.handle(probe(Class::Slow), at(12, 0, 30));
        d.handle(probe(Class::Slow), at(12, 1, 0));
        assert_eq!(d.target(), 4);
        d.handle(Event::Maintenance(true), at(12, 2, 0));
        let mut t = at(12, 2, 0);
        while t < at(12, 30, 0) {
            t += 30 * SEC;
            d.handle(probe(Class::Down), t);
        }
        d.handle(Event::Maintenance(false), t);
        let mut steps = Vec::new();
        for _ in 0..40 {
            t += 30 * SEC;
            if !scales(&d.handle(probe(Class::Fast), t)).is_empty() {
                steps.push(t);
            }
        }
        assert_eq!(
            steps,
            [at(12, 40, 0)],
            "a calm of fast probes after the last down one"
        );
    }

    #[test]
    fn slow_probes_do_not_start_an_app_meant_to_be_off() {
        let schedule = Schedule::new(
            vec![
                Rule::new("0 7 * * *", 2).unwrap(),
                Rule::new("0 22 * * *", 0).unwrap(),
            ],
            chrono_tz::UTC,
            0,
        );
        let policy = Policy { min: 0, ..policy() };
        let mut d = Decider::new(policy, schedule, at(23, 0, 0), None);
        let mut all = Vec::new();
        for i in 1..10 {
            all.extend(d.handle(probe(Class::Slow), at(23, 0, 0) + 30 * SEC * i));
        }
        assert!(scales(&all).is_empty(), "{all:?}");
        assert_eq!(d.target(), 0);
        assert!(
            matches!(all.as_slice(), [Action::Note(n)] if n.contains("baseline 0")),
            "said once: {all:?}"
        );
    }

    fn traffic_policy() -> Policy {
        Policy {
            max: 10,
            traffic: Some(TrafficPolicy::new(2, 0.8)),
            ..policy()
        }
    }

    /// [`traffic_policy`] for dynos that serve one request at a time.
    fn one_slot_policy() -> Policy {
        Policy {
            traffic: Some(TrafficPolicy::new(1, 0.8)),
            ..traffic_policy()
        }
    }

    /// A scale step a decider took: from and to, when, and its reason.
    type Step = ((u32, u32), DateTime<Utc>, String);

    /// The scale steps `d` takes fed `seen(at, target)` every `every` after `from` until `until`:
    /// data a second old, for the target `d` has then.
    fn fed_steps(
        d: &mut Decider,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        every: Duration,
        mut seen: impl FnMut(DateTime<Utc>, u32) -> Event,
    ) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut t = from;
        while t < until {
            t += every;
            let event = seen(t - SEC, d.target());
            for action in d.handle(event, t) {
                if let Action::Scale { from, to, reason } = action {
                    steps.push(((from, to), t, reason.to_string()));
                }
            }
        }
        steps
    }

    /// The scale steps `d` takes, each with its time, fed `in_flight` requests in flight (data a
    /// second old) every `every` after `from` until `until`.
    fn traffic_steps(
        d: &mut Decider,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        every: Duration,
        in_flight: f64,
    ) -> Vec<((u32, u32), DateTime<Utc>)> {
        fed_steps(d, from, until, every, |at, _| traffic(at, in_flight))
            .into_iter()
            .map(|(step, t, _)| (step, t))
            .collect()
    }

    #[test]
    fn an_event_stays_small_for_the_channels_that_carry_it() {
        // A daemon keeps a channel of events an app, whose blocks hold 32 of them.
        let (event, traffic) = (size_of::<Event>(), size_of::<Traffic>());
        assert!(
            event <= 32,
            "an event takes {event} bytes, the traffic figures {traffic}"
        );
    }

    /// Traffic seen at `at` (a second before `now` in the tests), `in_flight` requests in flight in
    /// both windows, 100 ms mean service.
    fn traffic(at: DateTime<Utc>, in_flight: f64) -> Event {
        Event::Traffic(Box::new(Traffic {
            // Exactly `in_flight`, whatever arrivals × mean rounds to.
            in_flight,
            panic_in_flight: in_flight,
            ..Traffic::steady(at, in_flight * 10.0, 0.1)
        }))
    }

    fn seen(at: DateTime<Utc>, change: impl FnOnce(&mut Traffic)) -> Event {
        let Event::Traffic(mut t) = traffic(at, 1.0) else {
            unreachable!()
        };
        change(&mut t);
        Event::Traffic(t)
    }

    /// What the router reports for an app whose dynos serve one request at a time in 100 ms,
    /// queueing the rest (M/M/1, like the demo's app), with `arrivals` requests a second spread
    /// over `dynos`.
    fn one_slot_dynos(at: DateTime<Utc>, arrivals: f64, dynos: u32) -> Event {
        one_slot_dynos_at(at, arrivals, dynos, 0.1)
    }

    /// The same, each request taking `service` seconds on an idle dyno.
    fn one_slot_dynos_at(at: DateTime<Utc>, arrivals: f64, dynos: u32, service: f64) -> Event {
        let rho = arrivals * service / f64::from(dynos);
        // Overloaded, requests wait for the router's 30 s timeout.
        let mean = if rho < 1.0 {
            service / (1.0 - rho)
        } else {
            30.0
        };
        Event::Traffic(Box::new(Traffic::steady(at, arrivals, mean)))
    }

    #[test]
    fn steady_traffic_at_the_boundary_does_not_flap() {
        // The demo's flap: 15.6 requests a second at 100 ms on one-slot dynos are 1.56 busy
        // slots, 2 dynos at 0.8; but at 2 dynos each is at ρ 0.78 and holds 3.5 in flight, so the
        // in-flight term asks for 3; at 3 the busy slots ask for 2 again once the window passed.
        let mut d = Decider::new(one_slot_policy(), seed_schedule(1), at(4, 0, 0), Some(2));
        // The same load without a queue first (as if spread over many dynos), so the unqueued
        // estimate is the app's own 100 ms.
        d.handle(one_slot_dynos(at(4, 0, 0), 15.6, 1000), at(4, 0, 1));
        assert_eq!(d.target(), 2);
        let steps = fed_steps(&mut d, at(4, 0, 1), at(5, 0, 0), 2 * SEC, |at, target| {
            one_slot_dynos(at, 15.6, target)
        });
        assert_eq!(steps.len(), 1, "one step out, then steady: {steps:#?}");
        assert_eq!(steps[0].0, (2, 3), "{steps:#?}");
        assert_eq!(d.target(), 3);
    }

    #[test]
    fn no_scale_in_back_to_where_the_queue_sent_it_out_from() {
        // The app became twice as slow (200 ms) while the estimate still says 100 ms: the busy
        // slots ask for 1 dyno, the queue at 2 for 3; at 3 the queue asks for only 2 again.
        let mut d = Decider::new(one_slot_policy(), seed_schedule(1), at(4, 0, 0), Some(2));
        d.handle(one_slot_dynos_at(at(4, 0, 0), 8.0, 1000, 0.1), at(4, 0, 1));
        let steps = fed_steps(&mut d, at(4, 0, 1), at(5, 0, 0), 2 * SEC, |at, target| {
            one_slot_dynos_at(at, 8.0, target, 0.2)
        });
        // Out at once; back in only once the memory of the queue is half an hour old, and out
        // again at once: two scale calls an hour, not two every stabilisation window.
        let moves: Vec<(u32, u32)> = steps.iter().map(|&(step, ..)| step).collect();
        assert_eq!(moves, [(2, 3), (3, 2), (2, 3)], "{steps:#?}");
        let (out_at, in_at) = (steps[0].1, steps[1].1);
        assert!(
            in_at - out_at >= chrono::TimeDelta::minutes(30),
            "in at {in_at}, out at {out_at}"
        );
        // Once the load falls by more than the margin, it steps in: to 2, and to 1, where the
        // queue asks for 2 once more; it stays at 2 and tries 1 again half an hour later.
        let later: Vec<(u32, u32)> =
            fed_steps(&mut d, at(5, 0, 0), at(6, 0, 0), 2 * SEC, |at, target| {
                one_slot_dynos_at(at, 4.0, target, 0.2)
            })
            .into_iter()
            .map(|(step, ..)| step)
            .collect();
        assert_eq!(later, [(3, 2), (2, 1), (1, 2), (2, 1), (1, 2)], "{later:?}");
    }

    #[test]
    fn a_scale_in_stops_where_the_last_seconds_ask_for_more() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), Some(6));
        d.handle(traffic(at(4, 0, 0), 9.6), at(4, 0, 1));
        // The stable window says 1.6 in flight (1 dyno) while the last 6 s already carry 4.8
        // requests a second more: 6.4 busy slots, 4 dynos.
        let in_steps = fed_steps(&mut d, at(4, 0, 1), at(4, 10, 0), 2 * SEC, |at, _| {
            seen(at, |s| {
                s.in_flight = 1.6;
                s.requests_per_minute = 960;
                s.arrivals_per_sec = 16.0;
                // 64 a second at 100 ms, as counted: those of the last 0.1 s are in flight.
                s.panic_in_flight = 6.4 * 5.9 / 6.0;
                s.panic_arrivals_per_sec = 64.0 * 5.9 / 6.0;
            })
        });
        assert_eq!(in_steps.len(), 1, "{in_steps:#?}");
        assert_eq!(in_steps[0].0, (6, 4));
        assert!(
            in_steps[0].2.ends_with(
                "; in no further: the last 6 s ask 4, one dyno fewer would hold 1.9 in flight"
            ),
            "{}",
            in_steps[0].2
        );
    }

    #[test]
    fn a_load_within_the_tolerance_does_not_scale_out() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
        // 3 dynos carry 3 × 2 × 0.8 = 4.8 busy slots; 5.0 is past that, but within 1.075 × 4.8 = 5.16.
        let within = traffic_steps(&mut d, at(12, 0, 0), at(12, 10, 0), 2 * SEC, 5.0);
        assert!(within.is_empty(), "{within:?}");
        let beyond = d.handle(traffic(at(12, 10, 1), 5.2), at(12, 10, 2));
        assert_eq!(
            scales(&beyond),
            [(3, 4)],
            "to the demand at 0.8: 5.2 / 1.6 → 4"
        );
    }

    #[test]
    fn traffic_scales_out_at_once_and_says_why() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
        let first = d.handle(traffic(at(12, 0, 0), 1.0), at(12, 0, 1));
        assert!(
            matches!(first.as_slice(), [Action::Note(n)] if n.contains("fresh")),
            "{first:?}"
        );
        assert_eq!(d.target(), 3, "the baseline wins over a demand of 1");
        let actions = d.handle(traffic(at(12, 0, 1), 6.5), at(12, 0, 2));
        assert_eq!(scales(&actions), [(3, 5)]);
        let reason = first_reason(&actions);
        assert_eq!(
            reason,
            "traffic: 3900 req/min, mean 100ms, unqueued 100ms, \
             max(6.5 busy / (2 × 0.8), 6.5 in flight / (2 × 3)) → 5"
        );
    }

    #[test]
    fn busy_slots_leave_the_dynos_own_queue_out() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
        assert_eq!(d.target(), 1);
        // Twice the in flight at twice the mean: the same arrivals queueing, 2 busy slots of 4.
        let queued = seen(at(4, 0, 2), |t| {
            t.in_flight = 4.0;
            t.mean_service = Some(Duration::from_millis(200));
        });
        let actions = d.handle(queued, at(4, 0, 3));
        assert_eq!(scales(&actions), [(1, 2)], "2 / 1.6, not 4 / 1.6");
        let reason = first_reason(&actions);
        assert!(reason.contains("unqueued 100ms, max(2.0 busy"), "{reason}");
    }

    #[test]
    fn an_apps_own_fast_errors_do_not_teach_the_unqueued_estimate() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
        // A bad deploy: every request a 503 in 4 ms, before any probe has tripped the fail-safe.
        let failing = seen(at(4, 0, 2), |t| {
            t.in_flight = 0.04;
            t.mean_service = Some(Duration::from_millis(4));
            t.server_errors_last_minute = u32::try_from(t.requests_per_minute).unwrap();
        });
        d.handle(failing, at(4, 0, 3));
        // Fixed: the same queueing as `busy_slots_leave_the_dynos_own_queue_out` still counts 2
        // busy slots of 4 in flight, against the 100 ms learnt before; had the 4 ms been learnt,
        // it would be 0.08 busy and the in-flight term alone would act.
        let queued = seen(at(4, 0, 4), |t| {
            t.in_flight = 4.0;
            t.mean_service = Some(Duration::from_millis(200));
        });
        let actions = d.handle(queued, at(4, 0, 5));
        let reason = first_reason(&actions);
        assert!(reason.contains("unqueued 100ms, max(2.0 busy"), "{reason}");
    }

    #[test]
    fn the_queue_term_scales_out_when_every_request_got_slower() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
        // From now on every request takes 600 ms, not 100: the estimate (100 ms) is too low for a
        // day and counts 6 busy slots of 36 in flight, but 36 in flight need 36 / (2 × 3) dynos.
        let slower = |at| {
            seen(at, |t| {
                t.in_flight = 36.0;
                t.mean_service = Some(Duration::from_millis(600));
            })
        };
        let actions = d.handle(slower(at(4, 0, 2)), at(4, 0, 3));
        assert_eq!(scales(&actions), [(1, 6)], "{actions:?}");
        let reason = first_reason(&actions);
        assert!(
            reason.ends_with("max(6.0 busy / (2 × 0.8), 36.0 in flight / (2 × 3)) → 6"),
            "{reason}"
        );
    }

    #[test]
    fn traffic_scales_in_only_after_the_stabilisation_window() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
        d.handle(traffic(at(12, 0, 0), 9.0), at(12, 0, 1));
        assert_eq!(d.target(), 6);
        let steps = traffic_steps(&mut d, at(12, 0, 1), at(12, 10, 0), 5 * SEC, 3.0);
        assert_eq!(
            steps,
            [((6, 3), at(12, 4, 1))],
            "to the largest demand of the last 4 minutes (2), not below the baseline (3)"
        );
    }

    #[test]
    fn a_sudden_fall_is_trusted_once_it_lasted_half_the_usual_window() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        // Two hours at 7.5 busy slots: 5 dynos at 0.8 of their 2 slots.
        let before = traffic_steps(&mut d, at(4, 0, 0), at(6, 0, 0), 2 * SEC, 7.5);
        assert_eq!(before, [((1, 5), at(4, 0, 2))]);
        // Half the load at once: 3 dynos at 0.8, but the usual load still needs 4 at full use
        // until the lower minutes are most of the last two hours.
        let steps = fed_steps(&mut d, at(6, 0, 0), at(7, 30, 0), 2 * SEC, |at, _| {
            traffic(at, 4.0)
        });
        let moves: Vec<(u32, u32)> = steps.iter().map(|&(step, ..)| step).collect();
        assert_eq!(moves, [(5, 4), (4, 3)], "{steps:#?}");
        assert_eq!(steps[0].1, at(6, 4, 0), "after the stabilisation window");
        assert!(
            steps[0]
                .2
                .ends_with("the usual load (the median of 2h) needs 4 at full use"),
            "{}",
            steps[0].2
        );
        assert!(
            (at(7, 0, 0)..at(7, 2, 0)).contains(&steps[1].1),
            "once the fall lasted an hour: {}",
            steps[1].1
        );
    }

    /// One dyno at ρ 0.98 (two slots, 100 ms): M/M/2 holds 2ρ / (1 − ρ²) = 49.5 in flight, a
    /// mean of 2.526 s. The last 6 s as the aggregator counts them: a request once it completed,
    /// so those that arrived in their last 2.526 s are missing (11.35 of 19.6 a second counted).
    fn saturated_one_dyno(at: DateTime<Utc>) -> Event {
        seen(at, |t| {
            t.arrivals_per_sec = 19.6;
            t.panic_arrivals_per_sec = 19.6 * (6.0 - 2.526) / 6.0;
            t.in_flight = 49.5;
            t.panic_in_flight = 19.6 * (6.0 - 2.526) / 6.0 * 2.526;
            t.mean_service = Some(Duration::from_millis(2526));
            t.dynos = 1;
            t.panic_dynos = 1;
        })
    }

    #[test]
    fn a_saturated_dynos_queue_asks_for_the_dynos_that_clear_it_not_one_per_six_in_flight() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
        // 49.5 / (2 × 3) would be 9 dynos; at 2, ρ is 0.49 and the queue is gone (1.3 in flight).
        let actions = d.handle(saturated_one_dyno(at(4, 0, 2)), at(4, 0, 3));
        assert_eq!(scales(&actions), [(1, 2)], "{actions:?}");
        let reason = first_reason(&actions);
        assert!(
            reason.ends_with("max(2.0 busy / (2 × 0.8), 49.5 in flight on 1 dyno / (2 × 3)) → 2"),
            "{reason}"
        );
        // The second dyno boots for a while: the router still hands everything to one, and the
        // queue grows. It asks for nothing more: the queue is measured at 1 dyno, not at 2.
        let steps = fed_steps(&mut d, at(4, 0, 3), at(4, 0, 30), 2 * SEC, |at, _| {
            saturated_one_dyno(at)
        });
        assert_eq!(steps, [], "no more dynos while the second one boots");
    }

    #[test]
    fn a_saturated_fleet_panics_though_the_jump_is_less_than_twice_the_target() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 6.0), at(4, 0, 1));
        assert_eq!(d.target(), 4);
        // A step to 70 requests a second: 7 busy slots, 5 dynos at 0.8. The three dynos that
        // answer (one of the four still boots) cannot carry 7, so requests wait toward the
        // router's 30 s timeout; the minute's figures lag. 5 is less than twice 4: no jump, but
        // the fleet is saturated. The queue is young (a 300 ms mean): of the last 6 s, the
        // requests of the last 300 ms are still in flight, not counted yet.
        let step = seen(at(4, 0, 2), |t| {
            t.panic_arrivals_per_sec = 70.0 * 5.7 / 6.0;
            t.panic_in_flight = 70.0 * 5.7 / 6.0 * 0.3;
            t.panic_dynos = 3;
            t.dynos = 3;
        });
        let actions = d.handle(step, at(4, 0, 3));
        assert_eq!(scales(&actions), [(4, 5)], "{actions:?}");
    }

    #[test]
    fn saturation_counts_the_arrivals_still_in_flight_and_asks_for_the_queue_it_holds() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 2.0), at(4, 0, 1));
        assert_eq!(d.target(), 2);
        // Two dynos (4 slots, 40 a second) take 41: the queue grows. Of the last 6 s the
        // aggregator has the requests that completed, 39 a second at a 350 ms mean: 3.9 busy
        // slots, as if the dynos kept up. Those of the last 350 ms are still in flight: 39 × 6 /
        // 5.65 = 41.4 a second, 4.14 busy slots, saturated.
        let queue = seen(at(4, 0, 2), |t| {
            t.arrivals_per_sec = 20.0;
            t.in_flight = 2.0;
            t.panic_arrivals_per_sec = 39.0;
            t.panic_in_flight = 39.0 * 0.35;
            t.dynos = 2;
            t.panic_dynos = 2;
        });
        let actions = d.handle(queue, at(4, 0, 3));
        assert_eq!(scales(&actions), [(2, 3)], "{actions:?}");
        assert!(first_reason(&actions).contains("panic"), "{actions:?}");

        // Saturated for seconds: 60 requests in flight on the two, a backlog the busy slots from
        // the few completed requests do not show: the dynos that hold it at 2 × 3 a slot, 10.
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 2.0), at(4, 0, 1));
        let backlog = seen(at(4, 0, 2), |t| {
            t.arrivals_per_sec = 20.0;
            t.in_flight = 2.0;
            t.panic_arrivals_per_sec = 24.0;
            t.panic_in_flight = 60.0;
            t.dynos = 2;
            t.panic_dynos = 2;
        });
        let actions = d.handle(backlog, at(4, 0, 3));
        assert_eq!(scales(&actions), [(2, 10)], "{actions:?}");
    }

    #[test]
    fn a_panic_scales_out_though_the_stable_window_asks_as_much_within_the_tolerance() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
        assert_eq!(d.target(), 1);
        // The minute asks for 2 dynos (1.65 busy slots) but within the 7.5% tolerance of one
        // (1.72); the last 6 s ask for 2 past it (1.9): a jump to twice the target.
        let rise = seen(at(4, 0, 2), |t| {
            t.arrivals_per_sec = 16.5;
            t.in_flight = 1.65;
            t.panic_arrivals_per_sec = 19.0;
            t.panic_in_flight = 1.9;
            t.dynos = 1;
            t.panic_dynos = 1;
        });
        let actions = d.handle(rise, at(4, 0, 3));
        assert_eq!(scales(&actions), [(1, 2)], "{actions:?}");
    }

    #[test]
    fn a_sudden_jump_panics_and_holds_the_target() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
        assert_eq!(d.target(), 1);
        // The 6 s window sees 24 in flight before the minute's average (2) moves much; it counts
        // through the in-flight term only: 24 / (2 × 3).
        let jump = seen(at(4, 0, 2), |t| {
            t.in_flight = 2.0;
            t.panic_in_flight = 24.0;
        });
        let actions = d.handle(jump, at(4, 0, 3));
        assert_eq!(scales(&actions), [(1, 4)]);
        assert!(first_reason(&actions).contains("panic"));
        // Quiet again: no step in while panicking (60 s), then the stabilisation window.
        let steps = traffic_steps(&mut d, at(4, 0, 3), at(4, 10, 0), 5 * SEC, 0.5);
        assert_eq!(
            steps,
            [((4, 2), at(4, 1, 3)), ((2, 1), at(4, 4, 3))],
            "a minute of panic, then the largest stable demand of the window (2 at the jump)"
        );
    }

    #[test]
    fn h80_lines_are_maintenance_mode_while_seen() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
        d.handle(traffic(at(12, 0, 0), 1.0), at(12, 0, 1));
        let h80 = |at| seen(at, |t| t.maintenance = true);
        d.handle(h80(at(12, 0, 1)), at(12, 0, 2));
        assert!(d.snapshot().maintenance);
        for i in 0..5 {
            let t = at(12, 1, 0) + 30 * SEC * i;
            d.handle(h80(t), t);
            assert!(
                scales(&d.handle(probe(Class::Down), t)).is_empty(),
                "no fail-safe"
            );
        }
        d.handle(traffic(at(12, 5, 0), 1.0), at(12, 5, 0));
        assert!(!d.snapshot().maintenance, "H80 no longer seen");
        d.handle(probe(Class::Down), at(12, 5, 30));
        assert_eq!(
            scales(&d.handle(probe(Class::Down), at(12, 6, 0))),
            [(3, 10)]
        );
    }

    #[test]
    fn a_burst_of_router_errors_steps_out_like_slow_probes() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
        d.handle(traffic(at(12, 0, 0), 1.0), at(12, 0, 1));
        let errors = |at, n| seen(at, |t| t.trouble_errors_last_minute = n);
        assert!(scales(&d.handle(errors(at(12, 0, 5), 9), at(12, 0, 6))).is_empty());
        let actions = d.handle(errors(at(12, 0, 10), 10), at(12, 0, 11));
        assert_eq!(scales(&actions), [(3, 4)]);
        let reason = first_reason(&actions);
        assert!(
            reason.starts_with("router errors: 10 H10/H12/H13"),
            "{reason}"
        );
        assert!(
            scales(&d.handle(errors(at(12, 1, 0), 30), at(12, 1, 1))).is_empty(),
            "once per cooldown"
        );
        assert_eq!(
            scales(&d.handle(errors(at(12, 2, 10), 30), at(12, 2, 11))),
            [(4, 5)]
        );
        // No step in within calm of the last burst, whatever the demand.
        let steps = traffic_steps(&mut d, at(12, 2, 11), at(12, 20, 0), 10 * SEC, 1.0);
        assert_eq!(steps, [((5, 3), at(12, 12, 11))]);
    }

    #[test]
    fn stale_traffic_leaves_the_probe_rules_alone_and_says_so_once() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
        d.handle(traffic(at(12, 0, 0), 9.0), at(12, 0, 1));
        assert_eq!(d.target(), 6);
        // Fast probes do not step in while the traffic is fresh...
        let mut notes = Vec::new();
        let mut steps = Vec::new();
        let mut t = at(12, 0, 1);
        while t < at(12, 30, 0) {
            t += 30 * SEC;
            for action in d.handle(probe(Class::Fast), t) {
                match action {
                    Action::Note(n) => notes.push((n, t)),
                    Action::Scale { from, to, .. } => steps.push(((from, to), t)),
                    Action::Alert(_) => {}
                }
            }
        }
        // ...which it stops being 2 minutes after its last line; then one step per calm of fast
        // probes, counted from the last change of the target.
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].0.contains("stale") && notes[0].1 == at(12, 2, 1),
            "{notes:?}"
        );
        assert_eq!(
            steps,
            [
                ((6, 5), at(12, 10, 1)),
                ((5, 4), at(12, 20, 1)),
                ((4, 3), at(12, 30, 1))
            ]
        );
        // Fresh again: said once, and the traffic rules act.
        let back = d.handle(traffic(at(12, 30, 0), 1.0), at(12, 30, 1));
        assert!(
            matches!(back.first(), Some(Action::Note(n)) if n.contains("fresh")),
            "{back:?}"
        );
        assert!(
            d.handle(traffic(at(12, 30, 1), 1.0), at(12, 30, 2))
                .is_empty()
        );
        // Data that is itself 2 minutes old is no news.
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
        assert!(
            d.handle(traffic(at(11, 58, 0), 9.0), at(12, 0, 0))
                .is_empty()
        );
    }

    #[test]
    fn traffic_never_starts_an_app_the_schedule_keeps_off() {
        let schedule = Schedule::new(
            vec![
                Rule::new("0 7 * * *", 2).unwrap(),
                Rule::new("0 22 * * *", 0).unwrap(),
            ],
            chrono_tz::UTC,
            0,
        );
        let policy = Policy {
            min: 0,
            ..traffic_policy()
        };
        let mut d = Decider::new(policy, schedule, at(23, 0, 0), None);
        let mut all = Vec::new();
        for i in 1..10 {
            let t = at(23, 0, 0) + 5 * SEC * i;
            all.extend(d.handle(traffic(t, 9.0), t));
        }
        assert!(scales(&all).is_empty(), "{all:?}");
        assert!(
            all.iter()
                .filter(|a| matches!(a, Action::Note(n) if n.contains("baseline 0")))
                .count()
                == 1,
            "said once: {all:?}"
        );
        // At 07:00 the schedule starts it, and the traffic takes it from there.
        assert_eq!(
            scales(&d.handle(traffic(at(7, 0, 0), 9.0), at(7, 0, 0))),
            [(0, 2), (2, 6)]
        );
    }

    #[test]
    fn the_fail_safe_still_sends_the_app_to_max_with_traffic_on() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
        d.handle(traffic(at(12, 0, 0), 1.0), at(12, 0, 1));
        d.handle(probe(Class::Down), at(12, 0, 30));
        let tripped = d.handle(probe(Class::Down), at(12, 1, 0));
        assert_eq!(scales(&tripped), [(3, 10)]);
        assert_eq!(alerts(&tripped), [NoticeKind::Outage]);
        // The traffic asks for less, but no step in during the outage, nor within calm after it.
        let mut t = at(12, 1, 0);
        let mut steps = Vec::new();
        while t < at(12, 30, 0) {
            t += 10 * SEC;
            let mut actions = d.handle(traffic(t - SEC, 1.0), t);
            if t.timestamp() % 30 == 0 {
                actions.extend(d.handle(probe(Class::Fast), t));
            }
            for action in actions {
                match action {
                    Action::Scale { from, to, .. } => steps.push(((from, to), t)),
                    Action::Alert(n) => steps.push(((n.from, n.to), t)),
                    Action::Note(_) => {}
                }
            }
        }
        assert_eq!(
            steps,
            [((10, 10), at(12, 11, 0)), ((10, 3), at(12, 11, 10))],
            "the recovery alert at 12:11, then the traffic's target"
        );
    }

    #[test]
    fn the_fail_safe_waits_one_boot_for_the_dynos_the_traffic_rules_started() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
        let out = d.handle(saturated_one_dyno(at(4, 0, 2)), at(4, 0, 3));
        assert_eq!(scales(&out), [(1, 2)], "{out:?}");
        // The probe times out on the load the traffic rules answered; their dyno boots.
        d.handle(probe(Class::Down), at(4, 0, 10));
        let waits = d.handle(probe(Class::Down), at(4, 0, 40));
        assert_eq!(scales(&waits), [], "{waits:?}");
        assert_eq!(alerts(&waits), [], "{waits:?}");
        assert!(
            waits
                .iter()
                .any(|a| matches!(a, Action::Note(n) if n.contains("the fail-safe waits"))),
            "{waits:?}"
        );
        // Still down once that dyno had its boot: the fail-safe.
        let tripped = d.handle(probe(Class::Down), at(4, 1, 10));
        assert_eq!(scales(&tripped), [(2, 10)], "{tripped:?}");
        assert_eq!(alerts(&tripped), [NoticeKind::Outage]);
    }

    #[test]
    fn the_fail_safe_waits_at_most_one_boot_however_often_the_traffic_rules_scale_out() {
        let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
        d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
        d.handle(saturated_one_dyno(at(4, 0, 2)), at(4, 0, 3));
        d.handle(probe(Class::Down), at(4, 0, 10));
        // Due at 4:00:40, held back until 4:01:40 at the latest.
        d.handle(probe(Class::Down), at(4, 0, 40));
        // The two dynos saturate in turn: the traffic rules start more at 4:01:20. 60 a second
        // on 4 slots (40 a second) at a 1 s mean; those of the last second are not counted yet.
        let saturated_two = seen(at(4, 1, 19), |t| {
            t.arrivals_per_sec = 60.0;
            t.panic_arrivals_per_sec = 50.0;
            t.in_flight = 60.0;
            t.panic_in_flight = 50.0;
            t.mean_service = Some(Duration::from_secs(1));
            t.dynos = 2;
            t.panic_dynos = 2;
        });
        let more = d.handle(saturated_two, at(4, 1, 20));
        assert_eq!(scales(&more).len(), 1, "{more:?}");
        assert!(d.target() > 2 && d.target() < 10, "{more:?}");
        let waits = d.handle(probe(Class::Down), at(4, 1, 30));
        assert_eq!(scales(&waits), [], "{waits:?}");
        let tripped = d.handle(probe(Class::Down), at(4, 1, 40));
        assert_eq!(alerts(&tripped), [NoticeKind::Outage], "{tripped:?}");
        assert_eq!(d.target(), 10);
    }

    #[test]
    fn reasons_read_well_in_a_log_line() {
        let reason = Reason::Down {
            detail: "HTTP 503".into(),
            streak: 2,
        };
        assert_eq!(
            reason.to_string(),
            "down: HTTP 503 (2 in a row), fail-safe to max"
        );
        assert_eq!(
            Reason::Calm {
                calm: Duration::from_secs(600)
            }
            .to_string(),
            "calm: every probe fast for 10m"
        );
    }

    fn arb_class() -> impl Strategy<Value = Class> {
        prop_oneof![
            Just(Class::Down),
            Just(Class::Slow),
            Just(Class::Normal),
            Just(Class::Fast)
        ]
    }

    /// Traffic seen `lag` seconds before the event's instant (up to 3 minutes: stale too). The
    /// instant is not known here, so `at` is filled in by [`timed`].
    fn arb_traffic() -> impl Strategy<Value = (u64, Traffic)> {
        (
            0u64..180,
            0.0f64..20.0,
            0.0f64..40.0,
            prop_oneof![4 => Just(0u32), 1 => 0u32..30],
            prop_oneof![5 => Just(false), 1 => Just(true)],
            50u64..400,
        )
            .prop_map(
                |(lag, in_flight, panic_in_flight, errors, maintenance, mean)| {
                    // Means that vary move the unqueued estimate, which a restart must keep.
                    let mean = Duration::from_millis(mean);
                    let arrivals = in_flight / mean.as_secs_f64();
                    let traffic = Traffic {
                        in_flight,
                        panic_in_flight,
                        panic_arrivals_per_sec: panic_in_flight / mean.as_secs_f64(),
                        trouble_errors_last_minute: errors,
                        server_errors_last_minute: errors,
                        maintenance,
                        ..Traffic::steady(at(0, 0, 0), arrivals, mean.as_secs_f64())
                    };
                    (lag, traffic)
                },
            )
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            4 => arb_class().prop_map(probe),
            1 => Just(Event::Tick),
            1 => any::<bool>().prop_map(Event::Maintenance),
            3 => arb_traffic().prop_map(|(lag, mut t)| {
                // Encoded as the lag in seconds; `timed` sets the real instant.
                t.at = at(0, 0, 0) - SEC * lag as u32;
                Event::Traffic(Box::new(t))
            }),
        ]
    }

    /// `event` at `now`: a traffic observation's `at` becomes `now` minus its lag.
    fn timed(event: Event, now: DateTime<Utc>) -> Event {
        match event {
            Event::Traffic(mut t) => {
                t.at = now - (at(0, 0, 0) - t.at);
                Event::Traffic(t)
            }
            other => other,
        }
    }

    fn arb_policy() -> impl Strategy<Value = Policy> {
        (
            (0u32..3, 0u32..5, 1u32..3, 1u32..4, 0u64..300, 1u64..900),
            proptest::option::of((1u32..8, 1u32..=10, 1u64..600)),
        )
            .prop_map(
                |((min, span, step, failures, cool, calm), traffic)| Policy {
                    min,
                    max: (min + span).max(1),
                    step,
                    failures,
                    scale_out_cooldown: Duration::from_secs(cool),
                    calm: Duration::from_secs(calm),
                    traffic: traffic.map(|(concurrency, tenths, window)| TrafficPolicy {
                        stabilisation: Duration::from_secs(window),
                        ..TrafficPolicy::new(concurrency, f64::from(tenths) / 10.0)
                    }),
                },
            )
    }

    fn arb_schedule(policy: Policy) -> impl Strategy<Value = Schedule> {
        let quantity = policy.min..=policy.max;
        proptest::collection::vec((0u32..24, quantity), 0..4).prop_map(move |rules| {
            let rules = rules
                .into_iter()
                .map(|(hour, q)| Rule::new(&format!("0 {hour} * * *"), q).unwrap())
                .collect();
            Schedule::new(rules, chrono_tz::UTC, policy.min)
        })
    }

    fn arb_run() -> impl Strategy<Value = (Policy, Schedule, Vec<(u64, Event)>)> {
        arb_policy().prop_flat_map(|policy| {
            (
                Just(policy),
                arb_schedule(policy),
                proptest::collection::vec((1u64..600, arb_event()), 1..200),
            )
        })
    }

    proptest! {
        #[test]
        fn the_target_never_leaves_min_max_and_moves_only_by_scale_actions((policy, schedule, events) in arb_run()) {
            let mut t = at(0, 0, 0);
            let mut d = Decider::new(policy, schedule, t, None);
            for (gap, event) in events {
                t += SEC * gap as u32;
                let event = timed(event, t);
                let before = d.target();
                let mut expected = before;
                for action in d.handle(event, t) {
                    if let Action::Scale { from, to, .. } = action {
                        prop_assert_eq!(from, expected);
                        prop_assert_ne!(from, to);
                        expected = to;
                    }
                }
                prop_assert_eq!(d.target(), expected);
                prop_assert!(policy.min <= d.target() && d.target() <= policy.max);
                prop_assert!(d.target() >= d.snapshot().baseline);
            }
        }

        #[test]
        fn failures_down_probes_give_max_at_once((policy, schedule, events) in arb_run(), hour in 0u32..24) {
            let mut t = at(0, 0, 0);
            let mut d = Decider::new(policy, schedule, t, None);
            for (gap, event) in events {
                t += SEC * gap as u32;
                let event = timed(event, t);
                d.handle(event, t);
            }
            d.handle(Event::Maintenance(false), t);
            // And no H80 line seen lately: the traffic data goes stale after 2 minutes.
            t += Duration::from_secs(120);
            t += Duration::from_secs(3600 * u64::from(hour));
            d.handle(Event::Tick, t);
            // A start from zero at that tick is given its boot grace first.
            t += BOOT_GRACE;
            d.handle(Event::Tick, t);
            let before = d.snapshot().baseline;
            for _ in 0..policy.failures {
                t += SEC;
                d.handle(probe(Class::Down), t);
            }
            // Unless the schedule turned the app off meanwhile (a rule may fire within those seconds).
            if before > 0 && d.snapshot().baseline > 0 {
                prop_assert_eq!(d.target(), policy.max);
            }
        }

        #[test]
        fn no_step_in_during_an_outage((policy, schedule, events) in arb_run()) {
            let mut t = at(0, 0, 0);
            let mut d = Decider::new(policy, schedule, t, None);
            for (gap, event) in events {
                t += SEC * gap as u32;
                let event = timed(event, t);
                let in_outage = d.snapshot().outage_since.is_some();
                let before = d.target();
                d.handle(event, t);
                // An outage ends with a recovery, a schedule fall to 0 or maintenance mode; until
                // then, the target only holds or rises.
                let still_in_outage = d.snapshot().outage_since.is_some();
                if in_outage && still_in_outage {
                    prop_assert!(d.target() >= before, "stepped in from {} to {} during an outage", before, d.target());
                }
            }
        }

        #[test]
        fn the_same_tick_twice_changes_nothing((policy, schedule, events) in arb_run()) {
            let mut t = at(0, 0, 0);
            let mut d = Decider::new(policy, schedule, t, None);
            for (gap, event) in events {
                t += SEC * gap as u32;
                let event = timed(event, t);
                d.handle(event, t);
                let again = d.handle(Event::Tick, t);
                prop_assert!(scales(&again).is_empty(), "a repeated tick scaled: {:?}", again);
            }
        }

        #[test]
        fn a_restored_decider_acts_exactly_like_one_that_never_stopped(
            (policy, schedule, events) in arb_run(),
            restart_before in 0usize..200,
        ) {
            let mut t = at(0, 0, 0);
            let mut running = Decider::new(policy, schedule.clone(), t, None);
            let mut restored: Option<Decider> = None;
            for (i, (gap, event)) in events.into_iter().enumerate() {
                t += SEC * gap as u32;
                let event = timed(event, t);
                if i == restart_before {
                    // As a store would keep it: serialised, read back by a new process.
                    let stored = serde_json::to_string(&running.state()).unwrap();
                    let state: DeciderState = serde_json::from_str(&stored).unwrap();
                    let observed = Some(running.target());
                    restored = Some(Decider::restore(policy, schedule.clone(), Some(state), observed, t));
                }
                let expected = running.handle(event.clone(), t);
                if let Some(r) = restored.as_mut() {
                    prop_assert_eq!(r.handle(event, t), expected);
                    prop_assert_eq!(r.state(), running.state());
                }
            }
        }

        #[test]
        fn a_restart_lands_where_an_uninterrupted_run_is(
            (policy, schedule, ticks) in arb_run(),
            restart_after in 0usize..200,
            fast in any::<bool>(),
        ) {
            // With the app healthy (every probe fast, or no probe at all), the target is a function of the
            // schedule and the time alone: a process started at any instant agrees with one that ran all along.
            let mut t = at(0, 0, 0);
            let mut running = Decider::new(policy, schedule.clone(), t, None);
            let mut restarted: Option<Decider> = None;
            for (i, (gap, _)) in ticks.iter().enumerate() {
                t += SEC * (*gap as u32) * 60;
                let event = if fast { probe(Class::Fast) } else { Event::Tick };
                running.handle(event.clone(), t);
                if i == restart_after {
                    restarted = Some(Decider::new(policy, schedule.clone(), t, None));
                }
                if let Some(r) = restarted.as_mut() {
                    r.handle(event, t);
                    prop_assert_eq!(r.target(), running.target());
                }
            }
        }
    }
}
