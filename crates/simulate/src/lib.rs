//! The simulator of autoscaled: replays a traffic trace through the decision rules on a simulated
//! clock.
//!
//! The trace ([`Trace`]) gives requests per fixed interval; the model ([`Model`]) turns load and
//! serving dynos into probe latencies and overload; the decisions come from the very
//! [`Decider`] the runtime uses (crate `autoscaled-policy`), told of each schedule
//! change and each probe at its simulated instant. The same trace is replayed three times —
//! autoscaled, the schedule alone, and a static formation at `max` — and a clairvoyant scaler (the
//! fewest dynos that keep each row from being slow) is computed beside them, so a user sees what the
//! rules buy before trusting them.
//!
//! Start with [`simulate`]: it takes a [`SimulatedApp`], a [`Trace`] and a [`Model`] and gives the
//! [`Report`]; [`Report::render`] and [`Report::to_json`] print it, and [`draw`] pictures it row by
//! row (its [`Timeline`]) as one SVG. [`Report::compare`] holds the same trace replayed through a
//! second config. A worker scaled on its job queue is replayed by [`simulate_queue`] (the queue
//! mode: jobs arriving, a Judoscale-style and a HireFire-style rule beside the rules), and
//! [`draw_queue`] pictures it. Like the rules it replays, it does no I/O and reads no clock:
//! `autoscaled simulate` reads the files, prints and writes the picture.

mod app;
mod formation;
mod model;
mod picture;
mod queue;
mod report;
mod timeline;
mod trace;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

pub use app::{SimulatedApp, rfc3339};
use model::{Driver, Tally};
pub use model::{Model, ServiceModel, TrafficModel};
pub use picture::{draw, draw_queue};
use policy::Decider;
pub use queue::{
    HIREFIRE_EVERY, JUDOSCALE_CALM, JUDOSCALE_EVERY, JUDOSCALE_UPSCALE_EVERY, JobFigures, JobModel,
    QueueApp, QueueComparison, QueueDay, QueueReport, QueueTimeline, hirefire_ratio,
    simulate_queue,
};
pub use report::{Comparison, Day, Figures, Report};
pub use timeline::{RowDynos, Scale, Timeline};
pub use trace::{HEADER, JOBS_HEADER, Trace, TraceError};

/// Replays `trace` three ways on `model` and sums up, by day (in the schedule's time zone) too
/// when `daily`.
pub fn simulate(app: &SimulatedApp, trace: &Trace, model: &Model, daily: bool) -> Report {
    let timezone = app.schedule.timezone();
    let cuts = if daily {
        local_midnights(trace, timezone)
    } else {
        Vec::new()
    };
    let ticks = app
        .schedule
        .changes(trace.start, trace.end())
        .into_iter()
        .map(|c| c.at)
        .collect::<Vec<_>>();
    // A replay starts from the formation the schedule wants, as if autoscaled had run before it.
    let decider = |probes: bool| Driver::Decider {
        decider: Box::new(Decider::new(
            app.policy,
            app.schedule.clone(),
            trace.start,
            None,
        )),
        ticks: ticks.clone(),
        probe_every: app.probe_every.filter(|_| probes),
        traffic: probes && app.policy.traffic.is_some(),
    };
    let autoscaled = model::replay(trace, model, decider(true), &cuts);
    let schedule_only = model::replay(trace, model, decider(false), &cuts);
    let static_max = model::replay(trace, model, Driver::Static(app.policy.max), &cuts);
    let clairvoyant = model::clairvoyant(trace, model, app.policy.min, app.policy.max, &cuts);
    let timeline = Timeline {
        start: trace.start,
        step: trace.step,
        timezone,
        capacity: model.capacity,
        load: (0..trace.counts.len()).map(|row| trace.load(row)).collect(),
        autoscaled: autoscaled.rows,
        schedule_only: schedule_only.rows,
        clairvoyant: model::clairvoyant_dynos(trace, model, app.policy.min, app.policy.max),
        scales: autoscaled.scales,
    };
    let figures = |tally: &Tally| Figures::new(tally, app.price_per_hour);
    let days = daily.then(|| {
        let starts = std::iter::once(trace.start).chain(
            cuts.iter()
                .map(|&c| trace.start + TimeDelta::nanoseconds(c)),
        );
        starts
            .enumerate()
            .map(|(i, start)| {
                let (requests, peak) = rows_in(trace, &cuts, i);
                Day {
                    date: start.with_timezone(&timezone).date_naive().to_string(),
                    requests,
                    peak_requests_per_second: report::round(peak, 2),
                    autoscaled: figures(&autoscaled.parts[i]),
                    schedule_only: figures(&schedule_only.parts[i]),
                    static_max: figures(&static_max.parts[i]),
                    clairvoyant_dyno_hours: report::dyno_hours(clairvoyant[i]),
                }
            })
            .collect()
    });
    let (requests, peak) = rows_in(trace, &[], 0);
    Report {
        app: app.name.clone(),
        process: app.process.clone(),
        from: rfc3339(trace.start),
        to: rfc3339(trace.end()),
        requests,
        peak_requests_per_second: report::round(peak, 2),
        autoscaled: figures(&autoscaled.total),
        schedule_only: figures(&schedule_only.total),
        static_max: figures(&static_max.total),
        clairvoyant_dyno_hours: report::dyno_hours(clairvoyant.iter().sum()),
        days,
        compare: None,
        timeline,
    }
}

/// The requests and peak load of the rows that start in part `part` of `cuts`.
fn rows_in(trace: &Trace, cuts: &[i64], part: usize) -> (u64, f64) {
    let from = part
        .checked_sub(1)
        .and_then(|i| cuts.get(i))
        .copied()
        .unwrap_or(0);
    let to = cuts.get(part).copied().unwrap_or(i64::MAX);
    let mut requests = 0u64;
    let mut peak = 0f64;
    for (row, &count) in trace.counts.iter().enumerate() {
        let at = i64::try_from(row)
            .unwrap_or(i64::MAX)
            .saturating_mul(trace.step);
        if (from..to).contains(&at) {
            requests = requests.saturating_add(count);
            peak = peak.max(trace.load(row));
        }
    }
    (requests, peak)
}

/// The offsets of the local midnights strictly inside the trace, where days begin in `tz`.
fn local_midnights(trace: &Trace, tz: Tz) -> Vec<i64> {
    let end = trace.len_nanos();
    let mut cuts = Vec::new();
    let mut date = trace.start.with_timezone(&tz).date_naive();
    while let Some(next) = date.succ_opt() {
        date = next;
        let Some(midnight) = day_start(tz, date) else {
            continue;
        };
        match (midnight - trace.start).num_nanoseconds() {
            Some(offset) if offset > 0 && offset < end => cuts.push(offset),
            Some(offset) if offset <= 0 => {}
            _ => break,
        }
    }
    cuts
}

/// The first instant of `date` in `tz` (midnight, or the end of a gap that swallows it).
fn day_start(tz: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    (0..24).find_map(|hour| {
        let local = date.and_hms_opt(hour, 0, 0)?;
        tz.from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests;
