//! `autoscaled simulate`: replays a traffic trace through the app's config on a simulated clock.
//!
//! This module is the command only: its arguments, choosing the app, reading the file, mapping the
//! config onto the simulator's inputs and printing. The replay itself (the trace, the dyno model,
//! the very decision rules `run` uses, the figures and their rendering) is the crate
//! `autoscaled-simulate`.
//!
//! ```text
//! autoscaled simulate --trace traffic.csv --capacity 20 --service-time 100ms --boot 30s
//! autoscaled simulate --trace traffic.csv --capacity 20 --compare tuned.toml --svg replay.svg
//! autoscaled simulate --config worker.toml --jobs-trace jobs.csv --job-time 2s
//! ```
//!
//! A worker with `[apps.queue]` is replayed in queue mode: the trace's rows are jobs arriving,
//! worked off by dynos that run `concurrency` jobs of `--job-time` each (crate
//! `autoscaled-simulate`, `simulate_queue`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use policy::Thresholds;
use simulate::{
    Comparison, JobModel, Model, QueueApp, QueueComparison, ServiceModel, SimulatedApp, Trace,
    TraceError, TrafficModel, rfc3339,
};

use crate::Failure;
use crate::cli::SimulateArgs;
use crate::config::{AppSettings, Config, ConfigError, config_path};

/// The probe limits of the interface's defaults, for an app without a probe: its slow minutes are
/// counted against what a default probe would call slow.
const DEFAULT_THRESHOLDS: Thresholds = Thresholds {
    timeout: Duration::from_secs(10),
    slow: Duration::from_secs(5),
    fast: Duration::from_secs(1),
};

/// The simulator's view of `app`, and the dyno model whose latencies its probe's limits classify.
fn inputs_for(
    app: &AppSettings,
    capacity: f64,
    service_time: Duration,
    boot: Duration,
    service: ServiceModel,
) -> (SimulatedApp, Model) {
    let simulated = SimulatedApp {
        name: app.name.clone(),
        process: app.process.clone(),
        policy: app.policy(),
        schedule: app.schedule.clone(),
        probe_every: app.probe.as_ref().map(|p| p.interval),
        dyno_size: app.dyno_size.to_string(),
        price_per_hour: app.price_per_hour,
    };
    let model = Model {
        capacity,
        service_time,
        boot,
        thresholds: app
            .probe
            .as_ref()
            .map_or(DEFAULT_THRESHOLDS, |p| p.thresholds()),
        traffic: TrafficModel::new(service, app.traffic.map_or(1, |t| t.concurrency)),
        outage: None,
    };
    (simulated, model)
}

/// The queue mode's view of a worker with `[apps.queue]`, and its dynos' model.
fn queue_inputs_for(
    app: &AppSettings,
    job_time: Duration,
    boot: Duration,
) -> Option<(QueueApp, JobModel)> {
    let queue = app.queue.as_ref()?;
    let simulated = QueueApp {
        name: app.name.clone(),
        process: app.process.clone(),
        reads: queue.source(),
        policy: app.policy(),
        queue: queue.policy(),
        schedule: app.schedule.clone(),
        dyno_size: app.dyno_size.to_string(),
        price_per_hour: app.price_per_hour,
    };
    let model = JobModel {
        job_time,
        concurrency: queue.concurrency,
        boot,
    };
    Some((simulated, model))
}

/// Queue mode's job time without `--job-time`, as the interface says.
const DEFAULT_JOB_TIME: Duration = Duration::from_secs(1);

/// `run`'s config requires an API key; a replay never calls Heroku, so any value will do.
const UNUSED_API_KEY: &str = "simulate-never-calls-heroku";

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SimulateError {
    /// The trace file could not be read.
    #[error("cannot read trace {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The trace is malformed at a line, or has no row in the window asked for.
    #[error("trace {path}, {problem}")]
    Trace { path: PathBuf, problem: TraceError },
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
    /// The `--compare` config is not a valid config.
    #[error("--compare {path}: {problem}")]
    Compare {
        path: PathBuf,
        problem: Box<ConfigError>,
    },
    /// The `--compare` config has no app to replay.
    #[error("--compare {path}: {problem}")]
    CompareApp {
        path: PathBuf,
        problem: Box<SimulateError>,
    },
    /// The picture cannot be written where `--svg` says.
    #[error("--svg {path}: cannot write the picture there")]
    Svg {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<SimulateError> for Failure {
    fn from(error: SimulateError) -> Self {
        Failure::Invalid(error.into())
    }
}

/// Runs `autoscaled simulate`.
pub(crate) fn run(config: &Option<PathBuf>, args: SimulateArgs) -> Result<(), Failure> {
    let config = Config::load_with_env(&config_path(config.clone()), config_env())?;
    let app = choose_app(&config.apps, args.app.as_deref())?;
    if app.queue.is_some() {
        return run_queue(app, &args);
    }
    check_arguments(&args)?;
    let Some(trace_path) = &args.trace else {
        return Err(SimulateError::Argument(
            "--trace is required: the traffic trace (CSV: timestamp_utc,requests)".into(),
        )
        .into());
    };
    let capacity = args.capacity.unwrap_or_default();
    let other = match &args.compare {
        Some(path) => Some(load_compared(path, args.app.as_deref(), config_env())?),
        None => None,
    };
    let picture = Picture::reserve(args.svg.as_deref())?;
    let window = read_window(trace_path, Trace::parse, &args)?;
    let replay = |app: &AppSettings| {
        let (mut simulated, model) = inputs_for(
            app,
            capacity,
            args.service_time,
            args.boot,
            args.traffic_model,
        );
        if let (Some(window), Some(traffic)) =
            (args.stabilisation, simulated.policy.traffic.as_mut())
        {
            traffic.stabilisation = window;
        }
        let model = Model {
            outage: args.outage,
            ..model
        };
        let report = simulate::simulate(&simulated, &window, &model, args.daily);
        (simulated, model, report)
    };
    let (simulated, model, mut report) = replay(app);
    if let (Some(path), Some(other)) = (&args.compare, &other) {
        report.compare = Some(Box::new(Comparison {
            config: path.display().to_string(),
            report: replay(other).2,
        }));
    }
    if let Some(picture) = picture {
        picture.write(&simulate::draw(&report))?;
    }
    print_report(
        args.json,
        || report.to_json(),
        || report.render(&simulated, &model),
    )
}

/// Queue mode: the worker `app` (with `[apps.queue]`) on the trace read as jobs arriving.
fn run_queue(app: &AppSettings, args: &SimulateArgs) -> Result<(), Failure> {
    check_queue_arguments(args)?;
    let job_time = args.job_time.unwrap_or(DEFAULT_JOB_TIME);
    let Some(trace_path) = args.jobs_trace.as_ref().or(args.trace.as_ref()) else {
        return Err(SimulateError::Argument(
            "--jobs-trace is required: the jobs arriving (CSV: timestamp_utc,jobs)".into(),
        )
        .into());
    };
    let other = match &args.compare {
        Some(path) => {
            let other = load_compared(path, args.app.as_deref(), config_env())?;
            if other.queue.is_none() {
                return Err(SimulateError::Argument(format!(
                    "--compare {}: its app {}:{} has no [apps.queue] to replay the jobs through",
                    path.display(),
                    other.name,
                    other.process
                ))
                .into());
            }
            Some(other)
        }
        None => None,
    };
    let picture = Picture::reserve(args.svg.as_deref())?;
    let window = read_window(trace_path, Trace::parse_jobs, args)?;
    let replay = |app: &AppSettings| {
        queue_inputs_for(app, job_time, args.boot).map(|(simulated, model)| {
            let report = simulate::simulate_queue(&simulated, &window, &model, args.daily);
            (simulated, model, report)
        })
    };
    let Some((simulated, model, mut report)) = replay(app) else {
        return Ok(());
    };
    if let (Some(path), Some((_, _, theirs))) = (&args.compare, other.as_ref().and_then(replay)) {
        report.compare = Some(Box::new(QueueComparison {
            config: path.display().to_string(),
            report: theirs,
        }));
    }
    if let Some(picture) = picture {
        picture.write(&simulate::draw_queue(&report))?;
    }
    print_report(
        args.json,
        || report.to_json(),
        || report.render(&simulated, &model),
    )
}

/// What queue mode takes: a job time above 0, and none of the web replay's own arguments.
fn check_queue_arguments(args: &SimulateArgs) -> Result<(), SimulateError> {
    if args.job_time.is_some_and(|t| t.is_zero()) {
        return Err(SimulateError::Argument(
            "--job-time 0s: expected a time above 0, e.g. 2s".into(),
        ));
    }
    let web_only = [
        ("--capacity", args.capacity.is_some()),
        ("--stabilisation", args.stabilisation.is_some()),
        ("--outage", args.outage.is_some()),
    ];
    if let Some((flag, _)) = web_only.iter().find(|(_, given)| *given) {
        return Err(SimulateError::Argument(format!(
            "{flag} replays web traffic; a worker with [apps.queue] is replayed in queue mode (--jobs-trace, --job-time)"
        )));
    }
    check_window(args)
}

/// The second config of `--compare` and its app: the one `--app` names, or its only one.
fn load_compared(
    path: &Path,
    wanted: Option<&str>,
    env: impl Iterator<Item = (String, String)>,
) -> Result<AppSettings, SimulateError> {
    let config = Config::load_with_env(path, env).map_err(|problem| SimulateError::Compare {
        path: path.to_owned(),
        problem: Box::new(problem),
    })?;
    let app = choose_app(&config.apps, wanted).map_err(|problem| SimulateError::CompareApp {
        path: path.to_owned(),
        problem: Box::new(problem),
    })?;
    Ok(app.clone())
}

/// What `run`'s config would read from the environment, with an API key of no use: a replay never
/// calls Heroku, so it must not need one.
fn config_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars().chain([("HEROKU_API_KEY".to_owned(), UNUSED_API_KEY.to_owned())])
}

/// The trace at `path`, read with `parse`, cut to the window of `--from` and `--to`.
fn read_window(
    path: &Path,
    parse: fn(&str) -> Result<Trace, TraceError>,
    args: &SimulateArgs,
) -> Result<Trace, SimulateError> {
    read_trace(path, parse)?
        .window(args.from, args.to)
        .map_err(|problem| SimulateError::Trace {
            path: path.to_owned(),
            problem,
        })
}

/// Prints the report: its JSON with `--json`, its table otherwise.
fn print_report(
    json: bool,
    to_json: impl FnOnce() -> Result<String, serde_json::Error>,
    render: impl FnOnce() -> String,
) -> Result<(), Failure> {
    if json {
        let json = to_json().map_err(|e| Failure::Fatal(e.into()))?;
        println!("{json}");
    } else {
        print!("{}", render());
    }
    Ok(())
}

/// Where `--svg` writes the picture: a temporary file made before the replay, so that a path it
/// cannot write fails at once, and beside the target, so that the rename is atomic: a reader
/// never sees half a picture, and a failure leaves none.
#[derive(Debug)]
struct Picture<'a> {
    path: &'a Path,
    file: tempfile::NamedTempFile,
}

impl<'a> Picture<'a> {
    /// The temporary file for `path`, when `--svg` gives one.
    fn reserve(path: Option<&'a Path>) -> Result<Option<Picture<'a>>, SimulateError> {
        path.map(|path| {
            Ok(Picture {
                path,
                file: temporary_beside(path)?,
            })
        })
        .transpose()
    }

    /// Writes `svg` and renames it onto the target.
    fn write(mut self, svg: &str) -> Result<(), SimulateError> {
        let failed = |source| SimulateError::Svg {
            path: self.path.to_owned(),
            source,
        };
        self.file.write_all(svg.as_bytes()).map_err(failed)?;
        self.file.persist(self.path).map_err(|e| failed(e.error))?;
        Ok(())
    }
}

/// An empty file in `target`'s folder, deleted when dropped unless persisted to `target`.
fn temporary_beside(target: &Path) -> Result<tempfile::NamedTempFile, SimulateError> {
    let folder = match target.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .map_or_else(|| "picture".into(), |n| n.to_string_lossy().into_owned());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // A picture for docs and web servers to read, not the private 0600 of a temporary file.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    builder
        .tempfile_in(folder)
        .map_err(|source| SimulateError::Svg {
            path: target.to_owned(),
            source,
        })
}

fn check_arguments(args: &SimulateArgs) -> Result<(), SimulateError> {
    let Some(capacity) = args.capacity else {
        return Err(SimulateError::Argument(
            "--capacity is required: the requests a second one dyno serves, e.g. 20".into(),
        ));
    };
    if !(capacity.is_finite() && capacity > 0.0) {
        return Err(SimulateError::Argument(format!(
            "--capacity {capacity}: expected the requests a second one dyno serves, above 0"
        )));
    }
    if args.job_time.is_some() {
        return Err(SimulateError::Argument(
            "--job-time is for a worker with [apps.queue] (queue mode); this app is replayed as web traffic (--capacity)".into(),
        ));
    }
    if args.jobs_trace.is_some() {
        return Err(SimulateError::Argument(
            "--jobs-trace is for a worker with [apps.queue] (queue mode); this app is replayed as web traffic (--trace)".into(),
        ));
    }
    if args.service_time.is_zero() {
        return Err(SimulateError::Argument(
            "--service-time 0s: expected a time above 0, e.g. 100ms".into(),
        ));
    }
    check_window(args)
}

fn check_window(args: &SimulateArgs) -> Result<(), SimulateError> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        return Err(SimulateError::Argument(format!(
            "--from {} is not before --to {}",
            rfc3339(from),
            rfc3339(to)
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

/// Reads the trace at `path` with `parse` ([`Trace::parse`] for requests, [`Trace::parse_jobs`]
/// for jobs).
fn read_trace(
    path: &Path,
    parse: fn(&str) -> Result<Trace, TraceError>,
) -> Result<Trace, SimulateError> {
    let text = std::fs::read_to_string(path).map_err(|source| SimulateError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|problem| SimulateError::Trace {
        path: path.to_owned(),
        problem,
    })
}

#[cfg(test)]
mod tests;
