//! The decider: state + event + time → actions. No I/O, no clock of its own.
//!
//! [`Decider`] holds one app's process type: the baseline from its schedule, the target, and what
//! each signal's recommender remembers ([`crate::recommend`]). [`Decider::handle`] gives an event
//! to the recommender of its signal and combines what comes back: the target within `[min, max]`
//! and never below the baseline, the fail-safe to `max` when the app is down (waiting at most one
//! boot for dynos the traffic rules just started), a step out on trouble at most once per
//! cooldown, a step in by one per `calm` of fast probes when no traffic is read, and the outage
//! and recovery alerts. It returns what should be done as [`Action`]s; the runtime carries them
//! out, the simulator replays them on a model, and the tests check them directly.
//!
//! Like a reconciler, it is level-triggered: every event, a schedule tick included, re-evaluates the
//! baseline from the time it is given, so a restart or a missed tick never leaves a stale target. What
//! it has seen is a [`DeciderState`], plain data that survives a restart ([`Decider::state`],
//! [`Decider::restore`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use schedule::Schedule;
use serde::{Deserialize, Serialize};

use crate::classify::Class;
use crate::event::{Action, Event, Notice, NoticeKind, Reason};
use crate::health::RouterHealth;
use crate::policy::Policy;
use crate::queue::{QueuePolicy, QueueReading};
use crate::recommend::probe::{self, ProbeState};
use crate::recommend::queue::{self as job_queue, QueueState};
use crate::recommend::router_health::{self, RouterHealthState};
use crate::recommend::traffic::{self, TrafficState};
use crate::recommend::{
    Ask, Down, Health, Recommendation, elapsed, router_errors, schedule as baseline,
};
use crate::traffic::Traffic;

mod overrides;
mod stored;
#[cfg(test)]
mod tests;

/// After an app is started from zero dynos, down probes are not trouble for this long: Heroku takes
/// 20–60 s to boot a dyno, and a fail-safe to `max` for a planned start would wake people for nothing.
pub(crate) const BOOT_GRACE: Duration = Duration::from_secs(60);

/// One app's process type: its rules and what it has seen.
#[derive(Debug, Clone)]
pub struct Decider {
    /// The policy in force: the configured one, with the bounds of the overrides running.
    policy: Policy,
    schedule: Schedule,
    state: DeciderState,
    /// The job-queue rules, for a worker scaled on its queues ([`Decider::with_queue`]).
    queue: Option<QueuePolicy>,
    obeying: overrides::Obeying,
}

/// What a [`Decider`] has seen, apart from its rules: plain data, so a runtime can store it
/// (serde) and [`Decider::restore`] after a restart exactly where it left off. Opaque on purpose:
/// only the decider reads it. Stored in the layout of `stored::Stored`, which every earlier
/// version wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "stored::Stored", into = "stored::Stored")]
pub struct DeciderState {
    baseline: u32,
    target: u32,
    last_scale_out: Option<DateTime<Utc>>,
    /// The last trouble: a slow or down probe, a burst of router errors.
    last_trouble: Option<DateTime<Utc>>,
    /// Since when every probe has been fast and the target has not moved.
    calm_since: DateTime<Utc>,
    /// When the target last rose from zero, for [`BOOT_GRACE`].
    started_from_zero: Option<DateTime<Utc>>,
    /// When the current outage began (after `failures` down probes).
    outage_since: Option<DateTime<Utc>>,
    /// Whether the app's info says maintenance mode.
    maintenance: bool,
    fail_safe: FailSafe,
    probe: ProbeState,
    /// What the traffic rules remember; empty without them.
    traffic: TrafficState,
    /// What the job-queue rules remember; empty without them.
    queue: QueueState,
    /// What the router lines' health rule remembers; empty without the traffic rules.
    router_health: RouterHealthState,
}

/// What the fail-safe remembers of the dynos the traffic rules started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct FailSafe {
    /// The last time the traffic rules raised the target: the dynos they started boot for up to
    /// [`BOOT_GRACE`], and a down probe meanwhile is the load they answered, not news.
    last_out: Option<DateTime<Utc>>,
    /// When a fail-safe held back for those dynos fires all the same, whether or not they serve
    /// by then: [`BOOT_GRACE`] after the down streak reached `failures`.
    due: Option<DateTime<Utc>>,
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
        let baseline = baseline::baseline_at(&schedule, &policy, now);
        let target = observed.map_or(baseline, |q| q.clamp(baseline, policy.max));
        let state = DeciderState {
            baseline,
            target,
            last_scale_out: None,
            last_trouble: None,
            calm_since: now,
            started_from_zero: None,
            outage_since: None,
            maintenance: false,
            fail_safe: FailSafe::default(),
            probe: ProbeState::default(),
            traffic: TrafficState::default(),
            queue: QueueState::default(),
            router_health: RouterHealthState::default(),
        };
        Decider {
            obeying: overrides::Obeying::new(policy),
            policy,
            schedule,
            state,
            queue: None,
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
            obeying: overrides::Obeying::new(policy),
            policy,
            schedule,
            state,
            queue: None,
        }
    }

    /// Scales this process type on its job queues too: [`Event::Queue`] readings go to the
    /// job-queue rules (wake from zero, out on the oldest job's age, in after `calm`, never below
    /// the dynos the busy jobs occupy, a stuck-queue alert), within `[min, max]` and never below
    /// the baseline like every other rule.
    pub fn with_queue(mut self, queue: QueuePolicy) -> Decider {
        self.queue = Some(queue);
        self
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

    /// Whether a pause runs: no scale call at all, the fail-safe included, until it ends.
    pub fn paused(&self) -> bool {
        self.obeying.pause().is_some()
    }

    /// Takes in one event at `now` and returns what to do, in order.
    ///
    /// Top to bottom: traffic data gone stale is said first (maintenance read from H80 lines ends
    /// with it); the event goes to its signal's recommender, whose recommendation is combined
    /// (`apply`) with the fail-safe, the cooldown and `[min, max]`; then the schedule's baseline,
    /// the recovery alert and the step in after a calm of fast probes.
    pub fn handle(&mut self, event: Event, now: DateTime<Utc>) -> Vec<Action> {
        let mut actions = Vec::new();
        self.check_stale(now, &mut actions);
        let event = match event {
            Event::Overrides(list) => {
                self.obeying.set(list);
                Event::Tick
            }
            event => event,
        };
        self.obey_overrides(now, &mut actions);
        match event {
            Event::Tick => {}
            Event::Maintenance(on) => {
                let was = self.in_maintenance();
                self.state.maintenance = on;
                self.maintenance_changed(was, &mut actions);
            }
            Event::Probe { class, detail } => self.observe_probe(class, detail, now, &mut actions),
            Event::Traffic(seen) => {
                // The demand is weighed against the baseline of this instant.
                self.follow_schedule(now, &mut actions);
                self.observe_traffic(&seen, now, &mut actions);
            }
            Event::Queue(seen) => {
                self.follow_schedule(now, &mut actions);
                self.observe_queue(&seen, now, &mut actions);
            }
            Event::RouterHealth(seen) => {
                // Down is weighed against the baseline of this instant.
                self.follow_schedule(now, &mut actions);
                self.observe_router_health(&seen, now, &mut actions);
            }
            // Handed over above.
            Event::Overrides(_) => {}
        }
        self.follow_schedule(now, &mut actions);
        self.check_recovery(now, &mut actions);
        self.step_in_when_calm(now, &mut actions);
        actions
    }

    /// Works out which overrides run at `now`, says which started and ended, and applies them:
    /// the bounds, the baseline, and at a pause's end the target the rules had kept.
    fn obey_overrides(&mut self, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        let Some(change) = self.obeying.advance(now) else {
            return;
        };
        actions.extend(change.notes);
        self.policy = change.policy;
        self.follow_schedule(now, actions);
        self.obeying.settled();
        let target = self.state.target;
        let within = target
            .clamp(self.policy.min, self.policy.max)
            .max(self.state.baseline);
        if within == target {
            return;
        }
        // Into the bounds now; after a pause, to where the rules would have put it.
        let reason =
            self.obeying
                .bounds_reason(change.pause_ended, &self.policy, self.state.baseline);
        self.set_target(within, reason, now, actions);
    }

    /// Carries out one recommendation: its note, what it says of the calm, and its ask within
    /// `[min, max]` and never below the baseline.
    fn apply(
        &mut self,
        recommended: Recommendation,
        now: DateTime<Utc>,
        actions: &mut Vec<Action>,
    ) {
        actions.extend(recommended.note.map(Action::Note));
        match recommended.health {
            Health::Fine => {}
            Health::Unsettled => self.state.calm_since = now,
            Health::Trouble => {
                self.state.last_trouble = Some(now);
                self.state.calm_since = now;
            }
        }
        match recommended.ask {
            Ask::Hold => {}
            Ask::Dynos(to, reason) => self.set_target(to, reason, now, actions),
            Ask::StepOut(reason) => {
                let cooled = self
                    .state
                    .last_scale_out
                    .is_none_or(|t| elapsed(t, now) >= self.policy.scale_out_cooldown);
                if cooled && self.state.target < self.policy.max {
                    let to = self.state.target.saturating_add(self.policy.step);
                    self.set_target(to, reason, now, actions);
                    self.state.last_scale_out = Some(now);
                }
            }
            Ask::Down(down) => self.fail_safe(down, now, actions),
        }
    }

    fn set_target(
        &mut self,
        to: u32,
        reason: Reason,
        now: DateTime<Utc>,
        actions: &mut Vec<Action>,
    ) {
        if self.paused() {
            // A pause stops every change, the fail-safe's included.
            return;
        }
        // Whatever a recommender asks: within [min, max], and never below the baseline.
        let to = to
            .clamp(self.policy.min, self.policy.max)
            .max(self.state.baseline);
        if to == self.state.target {
            return;
        }
        if self.state.target == 0 {
            self.state.started_from_zero = Some(now);
        }
        if to > self.state.target && matches!(reason, Reason::Traffic(_)) {
            self.state.fail_safe.last_out = Some(now);
        }
        actions.push(Action::Scale {
            from: self.state.target,
            to,
            reason,
        });
        self.state.target = to;
        self.state.calm_since = now;
    }

    /// The app is down: to `max`, and an outage alert when none is open, unless the fail-safe
    /// waits for booting dynos.
    fn fail_safe(&mut self, down: Down, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        if self.fail_safe_waits(&down, now, actions) {
            return;
        }
        let Down { reason, detail, .. } = down;
        let from = self.state.target;
        self.set_target(self.policy.max, reason, now, actions);
        if self.state.outage_since.is_none() {
            self.state.outage_since = Some(now);
            let detail = match self.obeying.pause() {
                Some(pause) => {
                    format!("{detail}; autoscaled is paused ({pause}) and did not act")
                }
                None => detail,
            };
            actions.push(Action::Alert(Notice {
                kind: NoticeKind::Outage,
                detail,
                from,
                to: self.state.target,
            }));
        }
    }

    /// Whether the fail-safe, due now (`failures` down probes in a row), waits for the dynos the
    /// traffic rules started within [`BOOT_GRACE`]: the router's figures showed the load the probe
    /// now times out on, and the answer to it is booting. A fail-safe to `max` then would run every
    /// dyno until the stabilisation window lets them go, once per burst. It waits at most
    /// [`BOOT_GRACE`] from when it was first due, so an app that is down for another reason gets
    /// its fail-safe one boot later, not never.
    fn fail_safe_waits(
        &mut self,
        down: &Down,
        now: DateTime<Utc>,
        actions: &mut Vec<Action>,
    ) -> bool {
        let fail_safe = &mut self.state.fail_safe;
        if down.onset {
            fail_safe.due = Some(now + BOOT_GRACE);
        }
        let booting = fail_safe
            .last_out
            .is_some_and(|t| elapsed(t, now) < BOOT_GRACE);
        let waits = booting && fail_safe.due.is_some_and(|due| now < due);
        if waits {
            actions.push(Action::Note(format!(
                "{}: the fail-safe waits for the dynos the traffic rules started",
                down.seen
            )));
        }
        waits
    }

    /// In maintenance mode: by the app's info, or by H80 router lines while the traffic is fresh.
    fn in_maintenance(&self) -> bool {
        self.state.maintenance || self.state.traffic.router_maintenance()
    }

    /// Maintenance mode went on or off (`was` → [`in_maintenance`](Self::in_maintenance)).
    fn maintenance_changed(&mut self, was: bool, actions: &mut Vec<Action>) {
        let on = self.in_maintenance();
        if on == was {
            return;
        }
        self.state.probe.start_afresh();
        self.state.router_health.start_afresh();
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

    fn follow_schedule(&mut self, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        let context = baseline::Context {
            target: self.state.target,
            troubled: self.troubled_within_calm(now),
            held: self.traffic_held(now).max(self.queue_held()),
        };
        let baseline = &mut self.state.baseline;
        let moved = match self.obeying.quantity() {
            Some(quantity) => {
                let to = quantity.clamp(self.policy.min, self.policy.max);
                baseline::move_to(baseline, to, context)
            }
            None => baseline::recommend(baseline, &self.schedule, &self.policy, context, now),
        };
        let Some(mut moved) = moved else {
            return;
        };
        moved.ask = self.obeying.relabel(moved.ask);
        if moved.from == 0 || moved.to == 0 {
            // Down probes were ignored, or are about to be: start counting afresh.
            self.state.probe.start_afresh();
            self.state.router_health.start_afresh();
        }
        if moved.to == 0 && self.state.outage_since.take().is_some() {
            actions.push(Action::Note(
                "outage closed: the schedule turns the app off".into(),
            ));
        }
        self.apply(Recommendation::asking(moved.ask), now, actions);
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
        let calm = self.policy.calm;
        // While the lines speak (fresh, or they said down and have not gone stale since), both
        // signals must say up: a probe that answers does not close an outage the lines still
        // show, nor the reverse. Stale lines are forgotten: the probe rules alone.
        let lines = self.state.router_health.saw_down();
        let up = if self.traffic_fresh() || lines {
            self.state.router_health.up_for(calm, now) && self.state.probe.quiet_for(calm, now)
        } else {
            self.state.probe.up_for(calm, now)
        };
        if !up {
            return;
        }
        self.state.outage_since = None;
        let lasted = humantime::format_duration(Duration::from_secs(elapsed(since, now).as_secs()));
        let what = if lines {
            "requests succeed again and no probe was down"
        } else {
            "no down probe"
        };
        let detail = format!(
            "up again: {what} for {} (outage lasted {lasted})",
            humantime::format_duration(calm)
        );
        actions.push(Action::Alert(Notice {
            kind: NoticeKind::Recovery,
            detail,
            from: self.state.target,
            to: self.state.target,
        }));
    }

    /// Whether the traffic rules act: the app's traffic is read and its data is fresh.
    fn traffic_fresh(&self) -> bool {
        self.policy.traffic.is_some() && self.state.traffic.fresh()
    }

    /// The largest traffic demand within the stabilisation window while the data is fresh, else 0.
    fn traffic_held(&self, now: DateTime<Utc>) -> u32 {
        match self.policy.traffic {
            Some(traffic) if self.state.traffic.fresh() => {
                self.state.traffic.held(now, traffic.stabilisation)
            }
            _ => 0,
        }
    }

    /// One probe's answer, to the probe rules.
    fn observe_probe(
        &mut self,
        class: Class,
        detail: String,
        now: DateTime<Utc>,
        actions: &mut Vec<Action>,
    ) {
        let context = probe::Context {
            down_expected: self.down_is_expected(now),
            off: self.state.baseline == 0,
        };
        let state = &mut self.state.probe;
        let recommended = probe::recommend(state, &self.policy, class, detail, context, now);
        self.apply(recommended, now, actions);
    }

    /// Stale traffic data is said once, and ends the maintenance mode its H80 lines showed.
    fn check_stale(&mut self, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        let Some(policy) = self.policy.traffic else {
            return;
        };
        let was = self.in_maintenance();
        if let Some(note) = traffic::check_stale(&mut self.state.traffic, &policy, now) {
            self.state.router_health.start_afresh();
            actions.push(Action::Note(note));
            self.maintenance_changed(was, actions);
        }
    }

    /// One reading of the router's figures: H80 lines are maintenance mode, a burst of router
    /// errors is trouble, and the traffic rules recommend a target.
    fn observe_traffic(&mut self, seen: &Traffic, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        let Some(policy) = self.policy.traffic else {
            return;
        };
        let was = self.in_maintenance();
        let Some(note) = traffic::observe(&mut self.state.traffic, &policy, seen, now) else {
            // Old news: as if nothing came.
            return;
        };
        actions.extend(note.map(Action::Note));
        self.maintenance_changed(was, actions);
        if self.in_maintenance() {
            // The router answers H80 itself: its figures say nothing about the dynos.
            return;
        }
        if self.state.baseline > 0 {
            self.apply(router_errors::recommend(&policy, seen), now, actions);
        }
        let context = traffic::Context {
            target: self.state.target,
            baseline: self.state.baseline,
            max: self.policy.max,
            in_outage: self.state.outage_since.is_some(),
            may_step_in: !self.troubled_within_calm(now),
        };
        let recommended = traffic::recommend(&mut self.state.traffic, &policy, seen, context, now);
        self.apply(recommended, now, actions);
    }

    /// The most the job-queue rules' readings asked for within their calm window, else 0.
    fn queue_held(&self) -> u32 {
        if self.queue.is_some() {
            self.state.queue.held()
        } else {
            0
        }
    }

    /// One poll of the job queues: the job-queue rules recommend a target, then the stuck-queue
    /// alert is weighed at the target that leaves.
    fn observe_queue(
        &mut self,
        seen: &QueueReading,
        now: DateTime<Utc>,
        actions: &mut Vec<Action>,
    ) {
        let Some(policy) = self.queue else {
            return;
        };
        let context = job_queue::Context {
            target: self.state.target,
        };
        let recommended = job_queue::recommend(&mut self.state.queue, &policy, seen, context, now);
        self.apply(recommended, now, actions);
        let target = self.state.target;
        let at_max = target >= self.policy.max;
        let stuck =
            job_queue::check_stuck(&mut self.state.queue, &policy, seen, target, at_max, now);
        actions.extend(stuck.map(Action::Alert));
    }

    /// The router lines' health: nearly every request of the last seconds failing is down, as
    /// `failures` down probes are.
    fn observe_router_health(
        &mut self,
        seen: &RouterHealth,
        now: DateTime<Utc>,
        actions: &mut Vec<Action>,
    ) {
        let Some(policy) = self.policy.traffic else {
            return;
        };
        let context = router_health::Context {
            down_expected: self.down_is_expected(now),
        };
        let state = &mut self.state.router_health;
        let recommended = router_health::recommend(state, &policy, seen, context, now);
        self.apply(recommended, now, actions);
    }

    /// Without fresh traffic data, one dyno in per `calm` of fast probes, down to the baseline.
    fn step_in_when_calm(&mut self, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        // With fresh traffic data, the traffic rules move the target in.
        if self.state.outage_since.is_some()
            || self.traffic_fresh()
            || self.state.target <= self.state.baseline
            || !self.state.probe.last_fast()
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
