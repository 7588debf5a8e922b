//! The command line: `run` (the default), `check`, `plan`, `demo`, `simulate`, `status`, and
//! `override`, `pause` and `resume`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps Heroku apps at the right number of dynos: a crontab schedule sets the baseline by time of
/// day, an HTTP probe scales out when the app is slow or down and back in once it is fast again, and
/// every outage, recovery and failed scale call is sent by email and SMS.
///
/// The config file is `--config PATH`, else `$AUTOSCALED_CONFIG`, else `./autoscaled.toml`. Any key can
/// also be set as `AUTOSCALED__SECTION__KEY` (e.g. `AUTOSCALED__APPS__0__MAX=5`); `HEROKU_API_KEY`,
/// `HEROKU_API_URL`, `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and `TWILIO_API_URL` win over the file.
///
/// The daemon keeps its state (targets, open outages, decisions, history) in `DATABASE_URL`, else
/// `[state] url`, else `sqlite://autoscaled.db`; `autoscaled status` shows it.
///
/// Exit status: 0 done (or stopped by SIGTERM/SIGINT), 1 fatal at start (credentials rejected, app not
/// found, state database unreachable or held by another instance), 2 bad config or arguments.
#[derive(Debug, Parser)]
#[command(name = "autoscaled", version, propagate_version = true)]
pub(crate) struct Cli {
    /// The config file (default: $AUTOSCALED_CONFIG, else ./autoscaled.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,

    /// How log lines are written to stdout; filter them with RUST_LOG (e.g. RUST_LOG=debug).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// `key=value` text, one event a line.
    Text,
    /// One JSON object a line.
    Json,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run until SIGTERM or SIGINT (the default): keep every configured app at its target.
    Run(RunArgs),
    /// Validate the config and print what it would do; --online also checks the API key and apps.
    Check(CheckArgs),
    /// Print each app's schedule: the baseline now, the coming changes, dyno-hours and cost.
    Plan(PlanArgs),
    /// Run the whole daemon against a simulated Heroku and app on loopback, on a fast clock.
    Demo(DemoArgs),
    /// Replay a traffic trace through the config's rules on a model of dynos: cost and overload.
    Simulate(SimulateArgs),
    /// Show each app's saved state from the database: baseline, target, actual, open outage, last
    /// decisions, and which instance holds it; then the overrides and pauses running or coming.
    ///
    /// Reads the state database (`DATABASE_URL`, else `[state] url`, else sqlite://autoscaled.db)
    /// without changing it, so it works while the daemon runs. Exit status: 0 shown; 1 the database
    /// cannot be read (unreachable, missing, not migrated); 2 bad config or arguments.
    Status(StatusArgs),
    /// Record, list or remove an override: for a window, a baseline (--quantity) and/or bounds
    /// (--min, --max) that replace the config's for one app and process type.
    ///
    /// Written to the state database beside a running daemon (an SQLite file it holds included);
    /// whichever instance holds the app obeys it within 2 s. Exit status: 0 done; 1 the database
    /// cannot be written; 2 bad arguments, one message per problem, nothing written.
    #[command(subcommand)]
    Override(OverrideCommand),
    /// Stop every scale call (the fail-safe included) for an app until --until, for --for, or
    /// until `autoscaled resume`. Probes still run and outages are still alerted.
    Pause(PauseArgs),
    /// End the app's running and coming pauses now.
    Resume(ResumeArgs),
}

/// `autoscaled override ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum OverrideCommand {
    /// Record an override.
    Add(OverrideAddArgs),
    /// List the overrides and pauses running or coming.
    List(OverrideListArgs),
    /// End an override or pause now, by id.
    Remove(OverrideRemoveArgs),
}

/// Who, why and the output, shared by the commands that record something.
#[derive(Debug, Clone, Args)]
pub(crate) struct Recorded {
    /// Why (shown in decisions, `status` and on the page); a pause needs one.
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,
    /// Who records it (default: $USER).
    #[arg(long, value_name = "NAME")]
    pub(crate) by: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// When an override or pause runs.
#[derive(Debug, Clone, Args)]
pub(crate) struct Window {
    /// When it starts, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub(crate) from: Option<DateTime<Utc>>,
    /// When it ends, RFC 3339.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant, conflicts_with = "for_")]
    pub(crate) until: Option<DateTime<Utc>>,
    /// How long it lasts from --from, e.g. 3h or 90m.
    #[arg(long = "for", id = "for_", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) for_: Option<std::time::Duration>,
}

/// `autoscaled override add`.
#[derive(Debug, Args)]
pub(crate) struct OverrideAddArgs {
    /// The app, as named in the config.
    pub(crate) app: String,
    /// The process type (default: the app's only one in the config).
    #[arg(long, value_name = "TYPE")]
    pub(crate) process: Option<String>,
    #[command(flatten)]
    pub(crate) window: Window,
    /// The baseline instead of the schedule's.
    #[arg(long, value_name = "N")]
    pub(crate) quantity: Option<u32>,
    /// The lowest dyno count instead of the config's `min`.
    #[arg(long, value_name = "N")]
    pub(crate) min: Option<u32>,
    /// The highest dyno count instead of the config's `max`.
    #[arg(long, value_name = "N")]
    pub(crate) max: Option<u32>,
    #[command(flatten)]
    pub(crate) recorded: Recorded,
}

/// `autoscaled override list`.
#[derive(Debug, Args)]
pub(crate) struct OverrideListArgs {
    /// Only this app's.
    pub(crate) app: Option<String>,
    /// Print one JSON object instead of text: {"overrides":[{"id","kind","app","process","from",
    /// "until","quantity","min","max","reason","by","created_at","active"}]}.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `autoscaled override remove`.
#[derive(Debug, Args)]
pub(crate) struct OverrideRemoveArgs {
    /// The id `override add` or `override list` printed.
    pub(crate) id: i64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `autoscaled pause`.
#[derive(Debug, Args)]
pub(crate) struct PauseArgs {
    /// The app, as named in the config.
    pub(crate) app: String,
    /// Only this process type (default: every one of the app's).
    #[arg(long, value_name = "TYPE")]
    pub(crate) process: Option<String>,
    #[command(flatten)]
    pub(crate) window: Window,
    #[command(flatten)]
    pub(crate) recorded: Recorded,
}

/// `autoscaled resume`.
#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// The app, as named in the config.
    pub(crate) app: String,
    /// Only this process type's pauses (default: all of the app's).
    #[arg(long, value_name = "TYPE")]
    pub(crate) process: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `autoscaled status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print one JSON object instead of text:
    /// {"apps":[{"app","process","baseline","target","actual","outage_since","reason","holder","decisions":[{"at","from","to","reason"}]}],
    /// "overrides":[{"id","kind","app","process","from","until","quantity","min","max","reason","by","created_at","active"}]}.
    #[arg(long)]
    pub(crate) json: bool,
    /// How many recent decisions to show per app.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub(crate) decisions: u32,
}

impl Default for Command {
    fn default() -> Self {
        Command::Run(RunArgs::default())
    }
}

/// `autoscaled run`.
#[derive(Debug, Default, Args)]
pub(crate) struct RunArgs {
    /// Decide, log and alert, but never change a formation.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `autoscaled check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Also check the API key, and that each app and process type exists on Heroku.
    #[arg(long)]
    pub(crate) online: bool,
}

/// `autoscaled plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The instant to plan from, in RFC 3339 (default: now), e.g. 2026-12-24T12:00:00Z.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub(crate) at: Option<DateTime<Utc>>,
    /// How many days ahead to list changes and count dyno-hours.
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub(crate) days: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `autoscaled demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many times faster than real time the simulated day runs.
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u32).range(60..=3600))]
    pub(crate) speed: u32,
    /// Where the status page is served (its URL is printed at start); port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9797")]
    pub(crate) listen: std::net::SocketAddr,
    /// The time of day (UTC, HH:MM) the simulated day starts at, today; it runs 24 hours from
    /// there.
    #[arg(long, value_name = "HH:MM", default_value = "06:00", value_parser = parse_time_of_day)]
    pub(crate) start: chrono::NaiveTime,
}

/// `HH:MM`, as `--start` takes it.
fn parse_time_of_day(text: &str) -> Result<chrono::NaiveTime, String> {
    chrono::NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| format!("{text:?} is not a time of day: expected HH:MM, such as 06:00"))
}

/// `autoscaled simulate`.
///
/// The trace is CSV with the header `timestamp_utc,requests` and one row per fixed interval (a
/// minute, say): the requests received in it. Timestamps are `YYYY-MM-DD HH:MM:SS` or RFC 3339, UTC.
/// For a worker with `[apps.queue]` (queue mode) the trace is `--jobs-trace`, CSV with the header
/// `timestamp_utc,jobs`: the jobs arriving in each row, each taking `--job-time`.
#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// The traffic trace (CSV: timestamp_utc,requests); in queue mode it is read as jobs arriving.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "jobs_trace",
        conflicts_with = "jobs_trace"
    )]
    pub(crate) trace: Option<PathBuf>,
    /// For a worker with `[apps.queue]` (queue mode): the jobs arriving (CSV:
    /// timestamp_utc,jobs, spread evenly over each row).
    #[arg(long, value_name = "FILE")]
    pub(crate) jobs_trace: Option<PathBuf>,
    /// Requests a second one dyno serves (required, except for a worker with `[apps.queue]`).
    #[arg(long, value_name = "RPS")]
    pub(crate) capacity: Option<f64>,
    /// For a worker with `[apps.queue]` (queue mode: the trace's rows are jobs arriving): a job's
    /// time on a free slot; each dyno runs the queue's `concurrency` at once [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) job_time: Option<std::time::Duration>,
    /// The app to replay, NAME or NAME:PROCESS (default: the only one in the config).
    #[arg(long, value_name = "NAME")]
    pub(crate) app: Option<String>,
    /// A request's time on an idle dyno.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub(crate) service_time: std::time::Duration,
    /// How long a started dyno takes before it serves.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) boot: std::time::Duration,
    /// Replay only rows at or after this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub(crate) from: Option<DateTime<Utc>>,
    /// Replay only rows before this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub(crate) to: Option<DateTime<Utc>>,
    /// Also give the figures day by day (in the app's time zone).
    #[arg(long)]
    pub(crate) daily: bool,
    /// For an app with `[apps.traffic]`: the router-reported service time the replay feeds the
    /// traffic rules: per-dyno (M/M/c, c = concurrency), pooled (M/M/(n c)), probe (the probe's
    /// service-time / (1 - rho)) or busy-slots (service-time, no queueing).
    #[arg(long, value_name = "MODEL", default_value = "per-dyno", value_parser = parse_service_model)]
    pub(crate) traffic_model: simulate::ServiceModel,
    /// For an app with `[apps.traffic]`: replay with this stabilisation window instead of the
    /// default (4m), to tune it.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) stabilisation: Option<std::time::Duration>,
    /// Model an outage: the app fails every request (a fast 503) and every probe from FROM to TO
    /// (RFC 3339 instants, `FROM..TO`), to see how soon the fail-safe comes with and without a
    /// drain.
    #[arg(long, value_name = "FROM..TO", value_parser = parse_outage)]
    pub(crate) outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also draw the replay as one self-contained SVG file: load and capacity, the dynos of each
    /// way of running the app, overloaded minutes, scale events.
    #[arg(long, value_name = "FILE")]
    pub(crate) svg: Option<PathBuf>,
    /// Replay the same trace through this second config too (the app --app names, or its only
    /// one): a second row of the table, a `compare` object in the JSON, a second dyno line.
    #[arg(long, value_name = "OTHER.toml")]
    pub(crate) compare: Option<PathBuf>,
}

/// Parses `--traffic-model`.
fn parse_service_model(text: &str) -> Result<simulate::ServiceModel, String> {
    simulate::ServiceModel::from_name(text)
        .ok_or_else(|| format!("\"{text}\": expected per-dyno, pooled, probe or busy-slots"))
}

/// Parses `--outage FROM..TO`.
fn parse_outage(text: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let (from, to) = text.split_once("..").ok_or_else(|| {
        format!("\"{text}\": expected FROM..TO, e.g. 1998-06-10T12:00:00Z..1998-06-10T12:10:00Z")
    })?;
    let (from, to) = (parse_instant(from.trim())?, parse_instant(to.trim())?);
    if from >= to {
        return Err(format!("\"{text}\": FROM must be before TO"));
    }
    Ok((from, to))
}

/// Parses an RFC 3339 instant for `--at`, `--from` and `--to`.
pub(crate) fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("\"{text}\" is not an RFC 3339 time such as 2026-12-24T12:00:00Z ({e})")
        })
}
