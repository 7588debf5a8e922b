//! `autoscaled simulate`: replays a traffic trace through the app's config on a simulated clock.
//!
//! The trace ([`trace`]) gives requests per fixed interval; the model ([`model`]) turns load and
//! serving dynos into probe latencies and overload; the decisions come from the very
//! [`Decider`](crate::decision::Decider) that `run` uses, told of each schedule change and each probe
//! at its simulated instant. The same trace is replayed three times — autoscaled, the schedule alone,
//! and a static formation at `max` — and a clairvoyant scaler (the fewest dynos that keep each row
//! from being slow) is
//! computed beside them, so a user sees what the probe rules buy before trusting them.
//!
//! ```text
//! autoscaled simulate --trace traffic.csv --capacity 20 --service-time 100ms --boot 30s
//! ```

mod model;
mod report;
mod trace;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use probe::Thresholds;

use crate::Failure;
use crate::cli::SimulateArgs;
use crate::config::{AppSettings, Config, config_path};
use crate::decision::{Decider, Policy};
use model::{Driver, Model, Tally};
use report::{Day, Figures, Report};
use trace::Trace;

/// The probe limits of the interface's defaults, for an app without a probe: its slow minutes are
/// counted against what a default probe would call slow.
const DEFAULT_THRESHOLDS: Thresholds = Thresholds {
    timeout: Duration::from_secs(10),
    slow: Duration::from_secs(5),
    fast: Duration::from_secs(1),
};

/// The dyno model for `app`: its probe's limits classify the modelled latencies.
fn model_for(app: &AppSettings, capacity: f64, service_time: Duration, boot: Duration) -> Model {
    let thresholds = app
        .probe
        .as_ref()
        .map_or(DEFAULT_THRESHOLDS, |p| Thresholds {
            timeout: p.timeout,
            slow: p.slow,
            fast: p.fast,
        });
    Model {
        capacity,
        service_time,
        boot,
        thresholds,
    }
}

/// `run`'s config requires an API key; a replay never calls Heroku, so any value will do.
const UNUSED_API_KEY: &str = "simulate-never-calls-heroku";

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SimulateError {
    /// The trace file could not be read.
    #[error("cannot read trace {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The trace is malformed at a line.
    #[error("trace {path}, line {line}: {message}")]
    Trace {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// No row of the trace falls in the window asked for.
    #[error("trace {path} has no rows from {from} to {to} (it covers {first} to {last})")]
    EmptyWindow {
        path: PathBuf,
        from: String,
        to: String,
        first: String,
        last: String,
    },
    /// `--app` names no configured app.
    #[error("--app {wanted}: no such app in the config (apps: {available})")]
    NoSuchApp { wanted: String, available: String },
    /// The config has several apps and `--app` did not pick one.
    #[error(
        "the config has several apps; choose one with --app NAME or --app NAME:PROCESS ({available})"
    )]
    WhichApp { available: String },
    /// An argument is out of its range.
    #[error("{0}")]
    Argument(String),
}

impl From<SimulateError> for Failure {
    fn from(error: SimulateError) -> Self {
        Failure::Invalid(error.into())
    }
}

/// Runs `autoscaled simulate`.
pub(crate) fn run(config: &Option<PathBuf>, args: SimulateArgs) -> Result<(), Failure> {
    check_arguments(&args)?;
    let env = std::env::vars().chain([("HEROKU_API_KEY".to_owned(), UNUSED_API_KEY.to_owned())]);
    let config = Config::load_with_env(&config_path(config.clone()), env)?;
    let app = choose_app(&config.apps, args.app.as_deref())?;
    let trace = read_trace(&args.trace)?;
    let window = trace
        .window(args.from, args.to)
        .ok_or_else(|| SimulateError::EmptyWindow {
            path: args.trace.clone(),
            from: args
                .from
                .map_or_else(|| "its start".into(), report::rfc3339),
            to: args.to.map_or_else(|| "its end".into(), report::rfc3339),
            first: report::rfc3339(trace.start),
            last: report::rfc3339(trace.end()),
        })?;
    let model = model_for(app, args.capacity, args.service_time, args.boot);
    let report = simulate(app, &window, &model, args.daily);
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| Failure::Fatal(e.into()))?;
        println!("{json}");
    } else {
        print!("{}", report::render(&report, app, &model));
    }
    Ok(())
}

fn check_arguments(args: &SimulateArgs) -> Result<(), SimulateError> {
    if !(args.capacity.is_finite() && args.capacity > 0.0) {
        return Err(SimulateError::Argument(format!(
            "--capacity {}: expected the requests a second one dyno serves, above 0",
            args.capacity
        )));
    }
    if args.service_time.is_zero() {
        return Err(SimulateError::Argument(
            "--service-time 0s: expected a time above 0, e.g. 100ms".into(),
        ));
    }
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        return Err(SimulateError::Argument(format!(
            "--from {} is not before --to {}",
            report::rfc3339(from),
            report::rfc3339(to)
        )));
    }
    Ok(())
}

fn choose_app<'a>(
    apps: &'a [AppSettings],
    wanted: Option<&str>,
) -> Result<&'a AppSettings, SimulateError> {
    let available = || {
        apps.iter()
            .map(|a| format!("{}:{}", a.name, a.process))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let matching: Vec<&AppSettings> = match wanted {
        None => apps.iter().collect(),
        Some(wanted) => {
            let (name, process) = wanted
                .split_once(':')
                .map_or((wanted, None), |(n, p)| (n, Some(p)));
            apps.iter()
                .filter(|a| a.name == name && process.is_none_or(|p| a.process == p))
                .collect()
        }
    };
    match (matching.as_slice(), wanted) {
        ([app], _) => Ok(app),
        ([], Some(wanted)) => Err(SimulateError::NoSuchApp {
            wanted: wanted.to_owned(),
            available: available(),
        }),
        _ => Err(SimulateError::WhichApp {
            available: available(),
        }),
    }
}

fn read_trace(path: &Path) -> Result<Trace, SimulateError> {
    let text = std::fs::read_to_string(path).map_err(|source| SimulateError::Read {
        path: path.to_owned(),
        source,
    })?;
    Trace::parse(&text).map_err(|p| SimulateError::Trace {
        path: path.to_owned(),
        line: p.line,
        message: p.message,
    })
}

/// Replays `trace` three ways and sums up, by day too when `daily`.
fn simulate(app: &AppSettings, trace: &Trace, model: &Model, daily: bool) -> Report {
    let cuts = if daily {
        local_midnights(trace, app.timezone)
    } else {
        Vec::new()
    };
    let ticks = app
        .schedule
        .changes(trace.start, trace.end())
        .into_iter()
        .map(|c| c.at)
        .collect::<Vec<_>>();
    let decider = |probes: bool| Driver::Decider {
        decider: Box::new(Decider::new(
            Policy::for_app(app),
            app.schedule.clone(),
            trace.start,
        )),
        ticks: ticks.clone(),
        probe_every: app.probe.as_ref().filter(|_| probes).map(|p| p.interval),
    };
    let autoscaled = model::replay(trace, model, decider(true), &cuts);
    let schedule_only = model::replay(trace, model, decider(false), &cuts);
    let static_max = model::replay(trace, model, Driver::Static(app.max), &cuts);
    let clairvoyant = model::clairvoyant(trace, model, app.min, app.max, &cuts);
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
                    date: start.with_timezone(&app.timezone).date_naive().to_string(),
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
        from: report::rfc3339(trace.start),
        to: report::rfc3339(trace.end()),
        requests,
        peak_requests_per_second: report::round(peak, 2),
        autoscaled: figures(&autoscaled.total),
        schedule_only: figures(&schedule_only.total),
        static_max: figures(&static_max.total),
        clairvoyant_dyno_hours: report::dyno_hours(clairvoyant.iter().sum()),
        days,
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
