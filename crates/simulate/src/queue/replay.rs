//! The replay of jobs through worker dynos: a fluid first-in-first-out queue, integrated exactly
//! between decisions, split where an arrival row, a boot, a minute, an empty queue or the oldest
//! job's arrival row ends.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use policy::{Action, Decider, Event, QueueFigures, QueueReading};

use super::{HIREFIRE_EVERY, JUDOSCALE_CALM, JUDOSCALE_EVERY, JUDOSCALE_UPSCALE_EVERY, JobModel};
use crate::formation::Formation;
use crate::{RowDynos, Scale, Trace};

const NANOS: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * NANOS;
/// Less than this many jobs waiting is an empty queue (the fluid's rounding).
const EMPTY: f64 = 1e-9;

/// Who sets the formation.
#[derive(Debug)]
pub(super) enum Scaler {
    /// The decision rules, read every `every`, told of the schedule's changes (`ticks`).
    Decider {
        decider: Box<Decider>,
        every: Duration,
        ticks: Vec<DateTime<Utc>>,
    },
    /// The Judoscale-style rule.
    Judoscale {
        dynos: u32,
        min: u32,
        max: u32,
        /// Over this, one dyno more; under half of it for [`JUDOSCALE_CALM`], one fewer.
        target: Duration,
        last_up: Option<i64>,
        calm_since: i64,
    },
    /// The HireFire-style rule.
    HireFire {
        dynos: u32,
        min: u32,
        max: u32,
        /// Jobs (waiting and busy) a dyno is for.
        ratio: f64,
    },
}

impl Scaler {
    pub(super) fn judoscale(dynos: u32, min: u32, max: u32, target: Duration) -> Scaler {
        Scaler::Judoscale {
            dynos,
            min,
            max,
            target,
            last_up: None,
            calm_since: 0,
        }
    }

    pub(super) fn hirefire(dynos: u32, min: u32, max: u32, ratio: f64) -> Scaler {
        Scaler::HireFire {
            dynos,
            min,
            max,
            ratio,
        }
    }

    fn start(&self) -> u32 {
        match self {
            Scaler::Decider { decider, .. } => decider.target(),
            Scaler::Judoscale { dynos, .. } | Scaler::HireFire { dynos, .. } => *dynos,
        }
    }

    fn every(&self) -> Duration {
        match self {
            Scaler::Decider { every, .. } => *every,
            Scaler::Judoscale { .. } => JUDOSCALE_EVERY,
            Scaler::HireFire { .. } => HIREFIRE_EVERY,
        }
    }

    /// The formation it wants after reading `seen` at `at` (nanoseconds into the trace), and why.
    fn read(&mut self, seen: &Seen, at: i64, now: DateTime<Utc>) -> Option<(u32, String)> {
        match self {
            Scaler::Decider { decider, .. } => {
                let reading = QueueReading {
                    at: now,
                    queues: vec![QueueFigures {
                        name: "default".into(),
                        depth: seen.ready,
                        latency: Some(seen.oldest),
                        busy: Some(seen.busy),
                        due: 0,
                    }],
                };
                scale_of(&decider.handle(Event::Queue(Box::new(reading)), now))
            }
            Scaler::Judoscale { .. } | Scaler::HireFire { .. } => {
                self.read_comparison(seen, at).map(|to| (to, String::new()))
            }
        }
    }

    /// What the comparison rules want after reading `seen` at `at`.
    fn read_comparison(&mut self, seen: &Seen, at: i64) -> Option<u32> {
        match self {
            Scaler::Decider { .. } => None,
            Scaler::Judoscale {
                dynos,
                min,
                max,
                target,
                last_up,
                calm_since,
            } => {
                let before = *dynos;
                let waiting = seen.ready > 0;
                if *dynos == 0 && (waiting || seen.busy > 0) {
                    *dynos = 1;
                    *last_up = Some(at);
                    *calm_since = at;
                } else if waiting && seen.oldest > *target {
                    *calm_since = at;
                    if last_up.is_none_or(|t| at - t >= nanos(JUDOSCALE_UPSCALE_EVERY)) {
                        *dynos += 1;
                        *last_up = Some(at);
                    }
                } else if waiting && seen.oldest >= *target / 2 {
                    *calm_since = at;
                } else if at - *calm_since >= nanos(JUDOSCALE_CALM) && *dynos > 0 {
                    *dynos -= 1;
                    *calm_since = at;
                }
                *dynos = (*dynos).clamp(*min, *max);
                (*dynos != before).then_some(*dynos)
            }
            Scaler::HireFire {
                dynos,
                min,
                max,
                ratio,
            } => {
                let jobs = seen.ready.saturating_add(seen.busy) as f64;
                // Clamped into `[min, max]`, so the cast is exact.
                let wanted = (jobs / *ratio)
                    .ceil()
                    .clamp(f64::from(*min), f64::from(*max)) as u32;
                (wanted != std::mem::replace(dynos, wanted)).then_some(wanted)
            }
        }
    }

    /// A schedule change at `now`, for the decision rules.
    fn tick(&mut self, now: DateTime<Utc>) -> Option<(u32, String)> {
        match self {
            Scaler::Decider { decider, .. } => scale_of(&decider.handle(Event::Tick, now)),
            _ => None,
        }
    }
}

/// The last formation the actions set, and why.
fn scale_of(actions: &[Action]) -> Option<(u32, String)> {
    actions.iter().rev().find_map(|a| match a {
        Action::Scale { to, reason, .. } => Some((*to, reason.to_string())),
        _ => None,
    })
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn seconds(nanos: i64) -> f64 {
    nanos as f64 / NANOS as f64
}

/// What a poll of the datastore shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Seen {
    /// Jobs waiting, a started one counted whole.
    pub(super) ready: u64,
    /// The oldest waiting job's age.
    pub(super) oldest: Duration,
    /// Jobs running, a started one counted whole.
    pub(super) busy: u64,
}

/// What a replay gives: its totals, and row by row what the picture and the days need.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Outcome {
    pub(super) span: i64,
    pub(super) dyno_nanos: i128,
    /// Minutes (from the trace's start) in which the oldest job was older than the target.
    pub(super) late_minutes: u64,
    /// The oldest job's greatest age, in seconds.
    pub(super) worst: f64,
    pub(super) scale_calls: u32,
    /// Each row's dynos, its lateness as `overloaded`.
    pub(super) rows: Vec<RowDynos>,
    /// Each row's dynos running, integrated over it (dyno-nanoseconds).
    pub(super) row_dyno_nanos: Vec<i128>,
    /// Each row's oldest job's greatest age, in seconds.
    pub(super) row_worst: Vec<f64>,
    /// The late minutes, each counted in the row its start falls in.
    pub(super) row_late_minutes: Vec<u64>,
    /// Every formation change.
    pub(super) scales: Vec<Scale>,
}

struct Fluid<'a> {
    trace: &'a Trace,
    model: &'a JobModel,
    /// The jobs that arrived before each row: `prefix[k]` for row k, one more for the end.
    prefix: Vec<f64>,
    target: f64,
    now: i64,
    /// Jobs waiting.
    queued: f64,
    formation: Formation,
    outcome: Outcome,
    /// The minute being watched, and whether it was late.
    minute: (i64, bool),
}

pub(super) fn replay(
    trace: &Trace,
    model: &JobModel,
    target: Duration,
    mut scaler: Scaler,
) -> Outcome {
    let mut prefix = Vec::with_capacity(trace.counts.len() + 1);
    let mut sum = 0.0;
    prefix.push(sum);
    for &count in &trace.counts {
        sum += count as f64;
        prefix.push(sum);
    }
    let mut fluid = Fluid {
        trace,
        model,
        prefix,
        target: target.as_secs_f64(),
        now: 0,
        queued: 0.0,
        formation: Formation::new(nanos(model.boot)),
        outcome: Outcome {
            rows: vec![RowDynos::UNSEEN; trace.counts.len()],
            row_dyno_nanos: vec![0; trace.counts.len()],
            row_worst: vec![0.0; trace.counts.len()],
            row_late_minutes: vec![0; trace.counts.len()],
            ..Outcome::default()
        },
        minute: (0, false),
    };
    fluid.formation.start_with(scaler.start());
    let end = trace.len_nanos();
    let step = nanos(scaler.every()).max(1);
    let mut ticks = match &scaler {
        Scaler::Decider { ticks, .. } => ticks
            .iter()
            .filter_map(|&t| (t - trace.start).num_nanoseconds())
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    }
    .into_iter()
    .peekable();
    let mut next_poll = 0i64;
    loop {
        let tick_at = ticks.peek().copied().filter(|&t| t < end);
        let poll_at = Some(next_poll).filter(|&t| t < end);
        let Some(at) = [tick_at, poll_at].into_iter().flatten().min() else {
            break;
        };
        fluid.advance(at);
        let now = trace.start + TimeDelta::nanoseconds(at);
        if tick_at == Some(at) {
            ticks.next();
            if let Some((to, reason)) = scaler.tick(now) {
                fluid.scale(to, reason);
            }
        }
        if poll_at == Some(at) {
            next_poll = at.saturating_add(step);
            let seen = fluid.seen();
            if let Some((to, reason)) = scaler.read(&seen, at, now) {
                fluid.scale(to, reason);
            }
        }
    }
    fluid.advance(end);
    fluid.close_minute();
    fluid.outcome
}

impl Fluid<'_> {
    fn row(&self) -> usize {
        usize::try_from(self.now / self.trace.step).unwrap_or(usize::MAX)
    }

    /// Arrivals a second in the row of `now`.
    fn arrivals(&self) -> f64 {
        self.trace.load(self.row())
    }

    /// Jobs started a second by `serving` dynos whose slots are all busy.
    fn throughput(&self, serving: u32) -> f64 {
        f64::from(serving) * f64::from(self.model.concurrency) / self.model.job_time.as_secs_f64()
    }

    /// The jobs started by now: those arrived less those waiting.
    fn started(&self) -> f64 {
        let row = self.row();
        let from = i64::try_from(row).unwrap_or(i64::MAX) * self.trace.step;
        let arrived = self.prefix.get(row).copied().unwrap_or(0.0)
            + self.arrivals() * seconds(self.now - from);
        (arrived - self.queued).max(0.0)
    }

    /// The row the oldest waiting job arrived in, and its arrival instant (nanoseconds).
    fn head(&self) -> Option<(usize, i64)> {
        if self.queued <= EMPTY {
            return None;
        }
        let started = self.started();
        let row = self
            .prefix
            .partition_point(|&p| p <= started)
            .checked_sub(1)?;
        let count = self.trace.counts.get(row).copied()? as f64;
        if count <= 0.0 {
            return None;
        }
        let from = i64::try_from(row).unwrap_or(i64::MAX) * self.trace.step;
        let into = (started - self.prefix[row]) / count * self.trace.step as f64;
        Some((row, from + into as i64))
    }

    /// The oldest waiting job's age now, in seconds.
    fn oldest(&self) -> f64 {
        self.head()
            .map_or(0.0, |(_, arrived)| seconds(self.now - arrived).max(0.0))
    }

    fn seen(&self) -> Seen {
        let (serving, _) = self.formation.serving(self.now);
        let slots = f64::from(serving) * f64::from(self.model.concurrency);
        let saturated = self.queued > EMPTY || self.arrivals() > self.throughput(serving);
        let busy = if saturated {
            slots
        } else {
            self.arrivals() * self.model.job_time.as_secs_f64()
        };
        let whole = |x: f64| (x - 1e-9).max(0.0).ceil() as u64;
        Seen {
            ready: whole(self.queued),
            oldest: Duration::try_from_secs_f64(self.oldest()).unwrap_or(Duration::MAX),
            busy: whole(busy),
        }
    }

    fn scale(&mut self, to: u32, reason: String) {
        let running = self.formation.running();
        if to == running {
            return;
        }
        self.outcome.scale_calls += 1;
        let scale = self.formation.scale(self.now, to, reason);
        self.outcome.scales.push(scale);
    }

    /// Notes the oldest job's age `age` (seconds) in the minute being watched.
    fn watch(&mut self, age: f64) {
        let minute = self.now / MINUTE;
        if minute != self.minute.0 {
            self.close_minute();
            self.minute = (minute, false);
        }
        if age > self.target {
            self.minute.1 = true;
        }
        self.outcome.worst = self.outcome.worst.max(age);
    }

    fn close_minute(&mut self) {
        if std::mem::take(&mut self.minute.1) {
            self.outcome.late_minutes += 1;
            let row = usize::try_from(self.minute.0.saturating_mul(MINUTE) / self.trace.step)
                .unwrap_or(usize::MAX);
            if let Some(late) = self.outcome.row_late_minutes.get_mut(row) {
                *late += 1;
            }
        }
    }

    /// Integrates from `now` to `to`.
    fn advance(&mut self, to: i64) {
        while self.now < to {
            let (serving, next_ready) = self.formation.serving(self.now);
            let row = self.row();
            let row_end = (self.now / self.trace.step + 1).saturating_mul(self.trace.step);
            let minute_end = (self.now / MINUTE + 1).saturating_mul(MINUTE);
            let mut until = to.min(row_end).min(minute_end);
            if let Some(ready) = next_ready {
                until = until.min(ready);
            }
            let lambda = self.trace.load(row);
            let mu = self.throughput(serving);
            let saturated = self.queued > EMPTY || lambda > mu;
            if saturated && mu > 0.0 {
                if lambda < mu {
                    // The queue empties.
                    let empty =
                        self.now + ((self.queued / (mu - lambda)) * NANOS as f64).ceil() as i64;
                    until = until.min(empty.max(self.now + 1));
                }
                if let Some((head_row, _)) = self.head() {
                    // The oldest job's arrival row ends: its age grows at another rate.
                    let next = self.prefix[head_row + 1] - self.started();
                    let crossing = self.now + ((next / mu) * NANOS as f64).ceil() as i64;
                    until = until.min(crossing.max(self.now + 1));
                }
            }
            let age = self.oldest();
            self.watch(age);
            let span = until - self.now;
            let dt = seconds(span);
            let dyno_nanos = i128::from(span) * i128::from(self.formation.running());
            self.outcome.span += span;
            self.outcome.dyno_nanos += dyno_nanos;
            if let Some(nanos) = self.outcome.row_dyno_nanos.get_mut(row) {
                *nanos += dyno_nanos;
            }
            if saturated {
                self.queued = (self.queued + (lambda - mu) * dt).max(0.0);
                if self.queued <= EMPTY {
                    self.queued = 0.0;
                }
            }
            self.now = until;
            // The age at the piece's end, in the piece's minute.
            let end_age = self.oldest();
            let minute = self.minute.0;
            if end_age > self.target && (self.now - 1) / MINUTE == minute {
                self.minute.1 = true;
            }
            self.outcome.worst = self.outcome.worst.max(end_age);
            let late = age > self.target || end_age > self.target;
            let running = self.formation.running();
            if let Some(dynos) = self.outcome.rows.get_mut(row) {
                dynos.add(running, serving, late, false);
            }
            if let Some(worst) = self.outcome.row_worst.get_mut(row) {
                *worst = worst.max(age).max(end_age);
            }
        }
    }
}

/// The clairvoyant's dynos for each row: the fewest within `[min, max]` whose slots hold the
/// row's jobs (arrivals × job time / concurrency, rounded up).
pub(super) fn clairvoyant_dynos(trace: &Trace, model: &JobModel, min: u32, max: u32) -> Vec<u32> {
    let per_dyno = f64::from(model.concurrency.max(1)) / model.job_time.as_secs_f64();
    (0..trace.counts.len())
        .map(|row| {
            let needed = (trace.load(row) / per_dyno - 1e-9).max(0.0).ceil();
            // Clamped into `[min, max]`, so the cast is exact.
            needed.clamp(f64::from(min), f64::from(max)) as u32
        })
        .collect()
}
