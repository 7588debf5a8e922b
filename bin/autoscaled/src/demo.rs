//! `autoscaled demo`: a whole simulated day in under a minute, no account, no network.
//!
//! It starts the fake Platform API and its simulated app ([`heroku_fake::app`]) on loopback, then runs
//! the real daemon ([`crate::daemon::serve`]) against them on a fast [`Clock`]. The app's response time
//! grows with its load per dyno, and its traffic follows a day's curve with a slow spell, a burst and a
//! bad deploy. Its router logs feed the daemon's drain, so the log shows every kind of decision:
//! schedule changes, scaling out and in on the traffic, fail-safe, recovery, and the alerts that
//! would be sent. Its worker process type is scaled on a job queue (see [`worker`]), woken from
//! zero in the morning, filled by the burst and back to zero at night.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, NaiveTime, TimeDelta, Timelike, Utc};
use heroku_fake::FakeHeroku;
use heroku_fake::app::{AppConfig, FakeApp};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::Failure;
use crate::clock::Clock;
use crate::config::{Config, QueueUrl};
use crate::daemon::{self, Options};

const APP: &str = "demo-app";
const PROCESS: &str = "web";
const TOKEN: &str = "demo-token-not-a-real-key";
const MAX: u32 = 10;
/// The demo's drain password: the app posts its router logs to the demo's own `POST /drain/demo-app`.
const DRAIN_PASSWORD: &str = "demo-drain-password";
/// The simulated day starts today at `start` (UTC): by default 06:00, just before the morning
/// rise.
pub(crate) fn epoch(start: NaiveTime) -> DateTime<Utc> {
    Utc::now().date_naive().and_time(start).and_utc()
}

fn demo_config(heroku: &str, app: SocketAddr, listen: SocketAddr) -> anyhow::Result<Config> {
    // The probe reads the app's own time (`Server-Timing`): `slow` and `fast` 5x and 2x its 100 ms,
    // as for a real app; the timeout stays wide, as it is a real round trip (1 ms is 1.8 s at 1800x).
    let tree = json!({
        "heroku": { "api_key": TOKEN, "api_url": heroku },
        "apps": [{
            "name": APP, "process": PROCESS, "min": 1, "max": MAX,
            "schedule": [
                { "cron": "0 7 * * *", "quantity": 3 },
                { "cron": "0 22 * * *", "quantity": 2 },
                { "cron": "0 3 * * *", "quantity": 1 },
            ],
            "probe": {
                "url": format!("http://{app}/"), "interval": "1m", "timeout": "55s",
                "slow": "500ms", "fast": "200ms", "failures": 2, "calm": "10m",
            },
            "traffic": { "concurrency": 1 },
        }, {
            "name": APP, "process": worker::PROCESS, "min": 0, "max": worker::MAX,
            // Read in-process (`worker::DemoQueue`): the variable is never read.
            "queue": {
                "backend": "sidekiq", "url_env": "DEMO_WORKER_REDIS_URL",
                "latency": "30s", "concurrency": worker::CONCURRENCY,
            },
        }],
        "alerts": { "alert_every": "30m" },
        "http": { "listen": listen.to_string(), "drain_password": DRAIN_PASSWORD },
    });
    Ok(Config::from_tree(&tree)?)
}

pub(crate) fn run(clock: Clock, listen: SocketAddr) -> Result<(), Failure> {
    let runtime = crate::runtime()?;
    runtime
        .block_on(demo(clock, listen))
        .map_err(Failure::Fatal)
}

async fn demo(clock: Clock, listen: SocketAddr) -> anyhow::Result<()> {
    let fake = FakeHeroku::start(TOKEN).await;
    let fake = Arc::new(fake.context("cannot start the fake Heroku API")?);
    fake.set_formation(APP, PROCESS, 1);
    // The feeder needs the status listener's port before the daemon binds it.
    let listen = if listen.port() == 0 {
        std::net::TcpListener::bind(listen)
            .and_then(|l| l.local_addr())
            .context("cannot pick a port for the status page")?
    } else {
        listen
    };
    let app = FakeApp::new(
        fake.clone(),
        AppConfig::day(APP, PROCESS),
        move || clock.now(),
        status::Clock::speed(&clock),
    );
    let app_addr = app.start().await?;
    let mut config = demo_config(&fake.url(), app_addr, listen)?;
    fake.set_formation(APP, worker::PROCESS, 0);
    let queue = Arc::new(worker::DemoQueue::new(fake.clone(), app.clone(), APP));
    for settings in &mut config.apps {
        if let Some(settings) = settings.queue.as_mut() {
            let queue = queue.clone();
            settings.url = QueueUrl::Simulated(Arc::new(move |now| Ok(queue.read(now))));
        }
    }
    let reach = daemon::Reach::network(&config).map_err(fatal)?;
    let drains = daemon::drains(&config.http, &config.apps);
    info!(target: "demo", "a simulated day of {APP}: fake Heroku at {}, the app at http://{app_addr}/; 3 dynos from 07:00, 2 from 22:00, 1 from 03:00; a slow spell at 10:00, a burst at 15:00, a bad deploy at 18:30; its worker (0 to {max} dynos) on a job queue that fills at the burst", fake.url(), max = worker::MAX);

    let shutdown = CancellationToken::new();
    let start = clock.now();
    let end = start + TimeDelta::days(1);
    let narrator = tokio::spawn(narrate(app.clone(), queue, clock, end, shutdown.clone()));
    let drain = format!("http://{listen}/drain/{APP}");
    let feeder = app.feed_drain(drain, DRAIN_PASSWORD.to_owned());
    tokio::spawn(shutdown.clone().run_until_cancelled_owned(feeder));
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = tokio::time::sleep(clock.real_duration(Duration::from_secs(24 * 3600))) => {}
        }
        stop.cancel();
    });
    let options = Options {
        dry_run: false,
        clock,
    };
    // State in memory: the demo writes no file.
    let store = store::Store::open(store::MEMORY_URL, store::Access::Daemon).await?;
    daemon::serve(
        config,
        reach,
        options,
        (status::Board::default(), drains),
        store,
        shutdown.clone(),
    )
    .await
    .map_err(fatal)?;
    let (dyno_hours, worker_hours) = narrator.await.unwrap_or_default();
    let hours = (clock.now().min(end) - start).num_seconds() as f64 / 3600.0;
    let calls = fake
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    let all_day = hours * f64::from(MAX);
    let worker_all_day = hours * f64::from(worker::MAX);
    info!(target: "demo", "done: {dyno_hours:.1} dyno-hours against {all_day:.1} at {MAX} dynos all day, the worker {worker_hours:.1} against {worker_all_day:.1}; {calls} scale calls");
    Ok(())
}

/// The error of a failure: the demo's are all fatal.
fn fatal(failure: Failure) -> anyhow::Error {
    match failure {
        Failure::Invalid(e) | Failure::Fatal(e) => e,
    }
}

/// Prints the traffic, the queue and the dynos every simulated hour, and integrates the web's and
/// the worker's dyno-hours as it goes.
async fn narrate(
    app: Arc<FakeApp>,
    queue: Arc<worker::DemoQueue>,
    clock: Clock,
    end: DateTime<Utc>,
    shutdown: CancellationToken,
) -> (f64, f64) {
    let step = Duration::from_secs(60);
    let (mut dyno_hours, mut worker_hours) = (0.0, 0.0);
    let mut last_hour = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return (dyno_hours, worker_hours),
            _ = tokio::time::sleep(clock.real_duration(step)) => {}
        }
        let now = clock.now();
        if now > end {
            return (dyno_hours, worker_hours);
        }
        let dynos = app.dynos();
        let workers = queue.dynos();
        dyno_hours += f64::from(dynos) * step.as_secs_f64() / 3600.0;
        worker_hours += f64::from(workers) * step.as_secs_f64() / 3600.0;
        if last_hour != Some(now.hour()) {
            last_hour = Some(now.hour());
            let state = app.config().health(now, dynos);
            info!(target: "demo", "{:02}:00 traffic {:.0} req/s, {dynos} dynos, {state}; worker {workers} dynos, {} jobs waiting", now.hour(), app.config().traffic(now), queue.waiting());
        }
    }
}

#[cfg(test)]
mod tests;
mod worker;
