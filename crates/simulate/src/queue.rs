//! The queue mode: a trace read as jobs arriving, worked off by worker dynos, scaled by the
//! job-queue rules (the [`Decider`] with [`Decider::with_queue`], as `run` scales a worker) and,
//! on the same replay, by two rules of the hosted autoscalers and a clairvoyant.
//!
//! The model ([`JobModel`]): each row's jobs arrive evenly over it; a dyno runs `concurrency`
//! jobs at once, each for `job_time`, from `boot` after it was started; jobs wait in one queue,
//! first in first out, as a fluid (exact for the model, nothing sampled). Every `poll` the
//! rules read what a datastore would show: jobs ready, the oldest one's age, jobs busy.
//!
//! - **autoscaled**: the decision rules, every `poll` of `[apps.queue]`.
//! - **Judoscale-style**: the oldest job's age checked every 10 s; at or above a third of the
//!   target, one dyno more, at most every 3 minutes; under 1 s for 10 minutes, one fewer; at
//!   zero, the first job wakes one dyno.
//! - **HireFire-style**: every 60 s, dynos = (ready + busy jobs) / a ratio, the ratio being
//!   `concurrency` (the jobs one dyno runs).
//! - **clairvoyant**: each row, the fewest dynos whose slots hold its jobs (arrivals × job time /
//!   `concurrency`, rounded up), moved exactly at the rows' edges with no boot.

mod replay;
mod report;
#[cfg(test)]
mod tests;

use std::time::Duration;

use policy::{Decider, Policy, QueuePolicy};
use schedule::Schedule;

pub use report::{JobFigures, QueueReport};

use super::Trace;
use super::rfc3339;
use replay::{Scaler, replay};

/// What a worker dyno does with jobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobModel {
    /// A job's time on a free slot.
    pub job_time: Duration,
    /// Jobs one dyno runs at once.
    pub concurrency: u32,
    /// From a dyno's start to its first job.
    pub boot: Duration,
}

/// A worker process type scaled on its queue, as the replay sees it.
#[derive(Debug, Clone)]
pub struct QueueApp {
    /// The app's name, for the report.
    pub name: String,
    /// The process type, for the report.
    pub process: String,
    /// What its queue rules read in production (backend, queues, datastore), for the report.
    pub reads: String,
    /// The limits every rule keeps (`min`, `max`).
    pub policy: Policy,
    /// The job-queue rules' settings (`[apps.queue]`).
    pub queue: QueuePolicy,
    /// The baseline.
    pub schedule: Schedule,
    /// The dyno size's name, for the report's text.
    pub dyno_size: String,
    /// USD per dyno-hour.
    pub price_per_hour: f64,
}

/// How often the Judoscale-style rule reads the queue.
pub const JUDOSCALE_EVERY: Duration = Duration::from_secs(10);
/// The Judoscale-style rule adds a dyno at most this often.
pub const JUDOSCALE_UPSCALE_EVERY: Duration = Duration::from_secs(180);
/// The Judoscale-style rule removes a dyno after this long under its downscale threshold.
pub const JUDOSCALE_CALM: Duration = Duration::from_secs(600);
/// The Judoscale-style rule's downscale threshold: the oldest job younger than this is calm.
pub const JUDOSCALE_DOWN_BELOW: Duration = Duration::from_secs(1);
/// How often the HireFire-style rule reads the queue.
pub const HIREFIRE_EVERY: Duration = Duration::from_secs(60);

/// Replays `trace` as job arrivals through the job-queue rules, the two comparison rules and the
/// clairvoyant, on `model`.
pub fn simulate_queue(app: &QueueApp, trace: &Trace, model: &JobModel) -> QueueReport {
    let (min, max) = (app.policy.min, app.policy.max);
    let clairvoyant = replay::clairvoyant_dynos(trace, model, min, max);
    // Every way starts from the formation the first row needs, as if it had run before.
    let first = clairvoyant.first().copied().unwrap_or(min);
    let decider = Decider::new(app.policy, app.schedule.clone(), trace.start, Some(first))
        .with_queue(app.queue);
    let ticks = app
        .schedule
        .changes(trace.start, trace.end())
        .into_iter()
        .map(|c| c.at)
        .collect();
    let target = app.queue.latency;
    let autoscaled = replay(
        trace,
        model,
        target,
        Scaler::Decider {
            decider: Box::new(decider),
            every: app.queue.poll,
            ticks,
        },
    );
    let judoscale = replay(
        trace,
        model,
        target,
        Scaler::judoscale(first, min, max, target),
    );
    let hirefire = replay(
        trace,
        model,
        target,
        Scaler::hirefire(first, min, max, model.concurrency),
    );
    let clairvoyant_nanos: i128 = clairvoyant
        .iter()
        .map(|&n| i128::from(n) * i128::from(trace.step))
        .sum();
    let figures = |outcome: &replay::Outcome| JobFigures::new(outcome, app.price_per_hour);
    let jobs = trace.counts.iter().fold(0u64, |s, &c| s.saturating_add(c));
    let peak = (0..trace.counts.len())
        .map(|row| trace.load(row))
        .fold(0.0, f64::max);
    QueueReport {
        app: app.name.clone(),
        process: app.process.clone(),
        from: rfc3339(trace.start),
        to: rfc3339(trace.end()),
        jobs,
        peak_jobs_per_second: super::report::round(peak, 2),
        autoscaled: figures(&autoscaled),
        judoscale_style: figures(&judoscale),
        hirefire_style: figures(&hirefire),
        clairvoyant_dyno_hours: super::report::dyno_hours(clairvoyant_nanos),
    }
}
