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
//! - **Judoscale-style**: the oldest job's age checked every 10 s; over the target, one dyno
//!   more, at most every 3 minutes; under half the target for 10 minutes, one fewer; at zero,
//!   the first job wakes one dyno.
//! - **HireFire-style**: every 60 s, dynos = (ready + busy jobs) / (`concurrency` × target / job
//!   time), rounded up: a dyno for the jobs it works off within the target.
//! - **clairvoyant**: each row, the fewest dynos whose slots hold its jobs (arrivals × job time /
//!   `concurrency`, rounded up), moved exactly at the rows' edges with no boot.

mod replay;
mod report;
mod setup;
#[cfg(test)]
mod tests;

use policy::Decider;

pub use report::{JobFigures, QueueComparison, QueueDay, QueueReport, QueueTimeline};
pub use setup::{
    HIREFIRE_EVERY, JUDOSCALE_CALM, JUDOSCALE_EVERY, JUDOSCALE_UPSCALE_EVERY, JobModel, QueueApp,
    hirefire_ratio,
};

use super::rfc3339;
use super::{Timeline, Trace};
use replay::{Scaler, replay};

/// Replays `trace` as job arrivals through the job-queue rules, the two comparison rules and the
/// clairvoyant, on `model`; by day (in the schedule's time zone) too when `daily`.
pub fn simulate_queue(app: &QueueApp, trace: &Trace, model: &JobModel, daily: bool) -> QueueReport {
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
        Scaler::hirefire(first, min, max, hirefire_ratio(model, target)),
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
    let days = daily.then(|| {
        days(
            app,
            trace,
            [&autoscaled, &judoscale, &hirefire],
            &clairvoyant,
        )
    });
    let running = |outcome: &replay::Outcome| outcome.rows.iter().map(|r| r.running).collect();
    let timeline = QueueTimeline {
        judoscale: running(&judoscale),
        hirefire: running(&hirefire),
        oldest: autoscaled.row_worst.clone(),
        target: target.as_secs_f64(),
        rows: Timeline {
            start: trace.start,
            step: trace.step,
            timezone: app.schedule.timezone(),
            capacity: f64::from(model.concurrency) / model.job_time.as_secs_f64(),
            load: (0..trace.counts.len()).map(|row| trace.load(row)).collect(),
            autoscaled: autoscaled.rows.clone(),
            schedule_only: Vec::new(),
            clairvoyant,
            scales: autoscaled.scales.clone(),
        },
    };
    QueueReport {
        app: app.name.clone(),
        process: app.process.clone(),
        from: rfc3339(trace.start),
        to: rfc3339(trace.end()),
        jobs,
        peak_jobs_per_second: super::report::round(peak, 2),
        autoscaled: figures(&autoscaled),
        judoscale: figures(&judoscale),
        hirefire: figures(&hirefire),
        clairvoyant_dyno_hours: super::report::dyno_hours(clairvoyant_nanos),
        days,
        compare: None,
        timeline,
    }
}

/// The report's figures day by day, cut at the schedule's local midnights: each row counts in
/// the day it starts in.
fn days(
    app: &QueueApp,
    trace: &Trace,
    [autoscaled, judoscale, hirefire]: [&replay::Outcome; 3],
    clairvoyant: &[u32],
) -> Vec<QueueDay> {
    let timezone = app.schedule.timezone();
    let mut cuts = super::local_midnights(trace, timezone);
    cuts.push(trace.len_nanos());
    let mut days = Vec::with_capacity(cuts.len());
    let mut row = 0usize;
    for cut in cuts {
        let from = row;
        while row < trace.counts.len()
            && i64::try_from(row)
                .unwrap_or(i64::MAX)
                .saturating_mul(trace.step)
                < cut
        {
            row += 1;
        }
        if row == from {
            continue;
        }
        let rows = from..row;
        let span = i64::try_from(rows.len())
            .unwrap_or(i64::MAX)
            .saturating_mul(trace.step);
        let (start, end) = (
            i64::try_from(from)
                .unwrap_or(i64::MAX)
                .saturating_mul(trace.step),
            cut,
        );
        let figures = |outcome: &replay::Outcome| {
            let calls = outcome
                .scales
                .iter()
                .filter(|s| (start..end).contains(&s.at))
                .count();
            JobFigures::of(
                span,
                outcome.row_dyno_nanos[rows.clone()].iter().sum(),
                outcome.row_late_minutes[rows.clone()].iter().sum(),
                outcome.row_worst[rows.clone()]
                    .iter()
                    .copied()
                    .fold(0.0, f64::max),
                u32::try_from(calls).unwrap_or(u32::MAX),
                app.price_per_hour,
            )
        };
        let clairvoyant_nanos: i128 = clairvoyant[rows.clone()]
            .iter()
            .map(|&n| i128::from(n) * i128::from(trace.step))
            .sum();
        days.push(QueueDay {
            date: (trace.start + chrono::TimeDelta::nanoseconds(start))
                .with_timezone(&timezone)
                .format("%Y-%m-%d")
                .to_string(),
            jobs: trace.counts[rows.clone()]
                .iter()
                .fold(0u64, |s, &c| s.saturating_add(c)),
            autoscaled: figures(autoscaled),
            judoscale: figures(judoscale),
            hirefire: figures(hirefire),
            clairvoyant_dyno_hours: super::report::dyno_hours(clairvoyant_nanos),
        });
    }
    days
}
