//! `autoscaled demo`: a whole simulated day in under a minute, no account, no network.
//!
//! It starts the fake Platform API and a simulated app on loopback, then runs the real daemon
//! ([`crate::daemon::serve`]) against them on a fast [`Clock`]. The app's response time grows with its
//! load per dyno, and its traffic follows a day's curve with a slow spell, a burst and a bad deploy,
//! so the log shows every kind of decision: schedule changes, step-out, fail-safe, recovery, step-in,
//! and the alerts that would be sent.

use std::f64::consts::PI;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveTime, TimeDelta, Timelike, Utc};
use heroku_fake::FakeHeroku;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::Failure;
use crate::clock::Clock;
use crate::config::Config;
use crate::daemon::{self, Options};

const APP: &str = "demo-app";
const PROCESS: &str = "web";
const TOKEN: &str = "demo-token-not-a-real-key";
/// Requests a second one simulated dyno serves.
const CAPACITY: f64 = 10.0;
/// The app's response time with no queueing.
const SERVICE_TIME: Duration = Duration::from_secs(3);
const MAX: u32 = 10;
/// The demo's drain password: its feeder posts router logs to its own `POST /drain/demo-app`.
const DRAIN_PASSWORD: &str = "demo-drain-password";
/// The router logs stand for this many requests for each request a second of the probe's model,
/// so a dyno serves tens of requests a second, as a real one does.
const ROUTED_PER_MODELLED: f64 = 4.0;
/// A request's service time with no queueing, in the router logs.
const ROUTED_SERVICE: Duration = Duration::from_millis(60);
/// How often the feeder posts a drain body, in simulated time (Logplex posts about every second;
/// fewer, larger bodies keep the demo's one thread free for the daemon).
const DRAIN_EVERY: Duration = Duration::from_secs(5);

/// The simulated day starts at 06:00 UTC today, just before the morning rise.
pub(crate) fn epoch() -> DateTime<Utc> {
    let six = NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default();
    Utc::now().date_naive().and_time(six).and_utc()
}

/// Requests a second at `t`: a day's curve, a slow spell mid-morning, a burst mid-afternoon.
fn traffic(t: DateTime<Utc>) -> f64 {
    let hour = f64::from(t.hour()) + f64::from(t.minute()) / 60.0;
    let day = if (6.0..22.0).contains(&hour) {
        (PI * (hour - 6.0) / 16.0).sin()
    } else {
        0.0
    };
    let mut rps = 4.0 + 20.0 * day;
    if (10.0..11.0).contains(&hour) {
        rps += 9.0;
    }
    if (15.0..15.5).contains(&hour) {
        rps *= 3.5;
    }
    rps
}

/// A bad deploy: every request fails for a quarter of an hour.
fn broken(t: DateTime<Utc>) -> bool {
    let minutes = t.hour() * 60 + t.minute();
    (18 * 60 + 30..18 * 60 + 45).contains(&minutes)
}

/// What a request to the simulated app gets at `t` with `dynos` running.
fn response_time(t: DateTime<Utc>, dynos: u32) -> Option<Duration> {
    let utilisation = traffic(t) / (f64::from(dynos) * CAPACITY);
    // At or near saturation the queue grows without bound: the request never completes in time.
    (dynos > 0 && utilisation < 0.98).then(|| SERVICE_TIME.div_f64(1.0 - utilisation))
}

#[derive(Debug)]
struct SimulatedApp {
    fake: Arc<FakeHeroku>,
    clock: Clock,
}

async fn handle(State(app): State<Arc<SimulatedApp>>) -> (StatusCode, &'static str) {
    let now = app.clock.now();
    if broken(now) {
        return (StatusCode::SERVICE_UNAVAILABLE, "bad deploy\n");
    }
    let dynos = app.fake.quantity(APP, PROCESS).unwrap_or(0);
    match response_time(now, dynos) {
        Some(latency) => {
            tokio::time::sleep(app.clock.real_duration(latency)).await;
            (StatusCode::OK, "ok\n")
        }
        None => {
            // Overloaded: hold the request well past any probe timeout.
            tokio::time::sleep(app.clock.real_duration(Duration::from_secs(300))).await;
            (StatusCode::SERVICE_UNAVAILABLE, "overloaded\n")
        }
    }
}

async fn start_app(fake: Arc<FakeHeroku>, clock: Clock) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the simulated app")?;
    let addr = listener.local_addr()?;
    let router = axum::Router::new()
        .route("/", axum::routing::get(handle))
        .with_state(Arc::new(SimulatedApp { fake, clock }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

fn demo_config(
    heroku_url: &str,
    app_addr: SocketAddr,
    listen: SocketAddr,
) -> Result<Config, Failure> {
    let tree = json!({
        "heroku": { "api_key": TOKEN, "api_url": heroku_url },
        "apps": [{
            "name": APP,
            "process": PROCESS,
            "min": 1,
            "max": MAX,
            "schedule": [
                { "cron": "0 7 * * *", "quantity": 3 },
                { "cron": "0 22 * * *", "quantity": 2 },
                { "cron": "0 3 * * *", "quantity": 1 },
            ],
            "probe": {
                "url": format!("http://{app_addr}/"),
                // Wide thresholds: at 1800x, tokio's 1 ms timer tick is about 2 s of simulated time.
                "interval": "1m",
                "timeout": "55s",
                "slow": "25s",
                "fast": "10s",
                "failures": 2,
                "calm": "10m",
            },
        }],
        "alerts": { "alert_every": "30m" },
        "http": { "listen": listen.to_string(), "drain_password": DRAIN_PASSWORD },
    });
    Ok(Config::from_tree(&tree)?)
}

pub(crate) fn run(clock: Clock, listen: SocketAddr) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Fatal(e.into()))?;
    runtime
        .block_on(demo(clock, listen))
        .map_err(Failure::Fatal)
}

async fn demo(clock: Clock, listen: SocketAddr) -> anyhow::Result<()> {
    let fake = Arc::new(
        FakeHeroku::start(TOKEN)
            .await
            .context("cannot start the fake Heroku API")?,
    );
    fake.set_formation(APP, PROCESS, 1);
    // The feeder needs the status listener's port before the daemon binds it.
    let listen = if listen.port() == 0 {
        std::net::TcpListener::bind(listen)
            .and_then(|l| l.local_addr())
            .context("cannot pick a port for the status page")?
    } else {
        listen
    };
    let app_addr = start_app(fake.clone(), clock).await?;
    let config = demo_config(&fake.url(), app_addr, listen).map_err(|f| match f {
        Failure::Invalid(e) | Failure::Fatal(e) => e,
    })?;
    let client = daemon::heroku_client(&config).map_err(|f| match f {
        Failure::Invalid(e) | Failure::Fatal(e) => e,
    })?;
    info!(
        target: "demo",
        "a simulated day of {APP}: fake Heroku at {}, the app at http://{app_addr}/; 3 dynos from 07:00, 2 from 22:00, 1 from 03:00; a slow spell at 10:00, a burst at 15:00, a bad deploy at 18:30",
        fake.url()
    );

    let shutdown = CancellationToken::new();
    let start = clock.now();
    let end = start + TimeDelta::days(1);
    let narrator = tokio::spawn(narrate(fake.clone(), clock, end, shutdown.clone()));
    tokio::spawn(feed_drain(fake.clone(), clock, listen, shutdown.clone()));
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
        client,
        options,
        status::Board::default(),
        store,
        shutdown.clone(),
    )
    .await
    .map_err(|f| match f {
        Failure::Invalid(e) | Failure::Fatal(e) => e,
    })?;
    let dyno_hours = narrator.await.unwrap_or(0.0);
    let hours = (clock.now().min(end) - start).num_seconds() as f64 / 3600.0;
    let calls = fake
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    info!(
        target: "demo",
        "done: {dyno_hours:.1} dyno-hours against {:.1} at {MAX} dynos all day; {calls} scale calls",
        hours * f64::from(MAX)
    );
    Ok(())
}

/// The router lines of the requests that completed in `(from, to]`, as Heroku would log them:
/// arrivals spread evenly at the routed rate, 200s with service times growing with the load per
/// dyno (`ROUTED_SERVICE / (1 - ρ)`, capped at the router's 30 s), H12 timeouts when overloaded
/// and 503s while the deploy is broken.
fn router_body(from: DateTime<Utc>, to: DateTime<Utc>, dynos: u32, seq: u64) -> Vec<u8> {
    use router_logs::{At, ErrorCode, RouterLine};
    let span = (to - from).as_seconds_f64().max(0.0);
    let rps = traffic(to) * ROUTED_PER_MODELLED;
    let n = (rps * span).round() as u64;
    let utilisation = traffic(to) / (f64::from(dynos.max(1)) * CAPACITY);
    let overloaded = dynos == 0 || utilisation >= 0.98;
    let failing = broken(to);
    let service = if overloaded {
        Duration::from_secs(30)
    } else {
        ROUTED_SERVICE.div_f64(1.0 - utilisation)
    };
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let at =
                from + TimeDelta::microseconds(((i as f64 + 0.5) * span * 1e6 / n as f64) as i64);
            let dyno = format!("web.{}", (seq + i) % u64::from(dynos.max(1)) + 1);
            let (code, status, service) = if failing {
                (None, 503, Duration::from_millis(4))
            } else if overloaded {
                (Some(ErrorCode::H12), 503, service)
            } else {
                // A little spread around the mean, as real requests have.
                let jitter = 0.6 + 0.8 * (((seq + i) * 7919 % 100) as f64 / 100.0);
                (None, 200, service.mul_f64(jitter))
            };
            let line = RouterLine {
                at: if code.is_some() { At::Error } else { At::Info },
                code,
                method: Some("GET"),
                path: Some("/"),
                host: Some("demo-app.herokuapp.com"),
                dyno: Some(&dyno),
                connect: Some(Duration::from_millis(1)),
                service: Some(service),
                status: Some(status),
                bytes: Some(if status == 200 { 5_120 } else { 0 }),
            };
            router_logs::router_line(at, &line)
        })
        .collect();
    router_logs::frame(&lines)
}

/// Posts the simulated app's router logs to the demo's own drain every [`DRAIN_EVERY`], as a
/// Logplex drain would, so the status page shows its requests a minute and in flight.
async fn feed_drain(
    fake: Arc<FakeHeroku>,
    clock: Clock,
    listen: SocketAddr,
    shutdown: CancellationToken,
) {
    let client = reqwest::Client::new();
    let url = format!("http://{listen}/drain/{APP}");
    let mut last = clock.now();
    let mut seq = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(clock.real_duration(DRAIN_EVERY)) => {}
        }
        let now = clock.now();
        let dynos = fake.quantity(APP, PROCESS).unwrap_or(0);
        // Written off the runtime's one thread, which the daemon's probes time.
        let from = last;
        let Ok(body) =
            tokio::task::spawn_blocking(move || router_body(from, now, dynos, seq)).await
        else {
            return;
        };
        last = now;
        seq += 1;
        let sent = client
            .post(&url)
            .basic_auth("autoscaled", Some(DRAIN_PASSWORD))
            .header("content-type", "application/logplex-1")
            .header("logplex-frame-id", format!("demo-{seq:016x}"))
            .body(body)
            .send()
            .await;
        if let Err(e) = sent
            .map_err(anyhow::Error::from)
            .and_then(|r| r.error_for_status().map(drop).map_err(anyhow::Error::from))
        {
            tracing::debug!(target: "demo", error = %e, "the drain refused a body");
        }
    }
}

/// Prints the traffic and dynos every simulated hour, and integrates dyno-hours as it goes.
async fn narrate(
    fake: Arc<FakeHeroku>,
    clock: Clock,
    end: DateTime<Utc>,
    shutdown: CancellationToken,
) -> f64 {
    let step = Duration::from_secs(60);
    let mut dyno_hours = 0.0;
    let mut last_hour = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return dyno_hours,
            _ = tokio::time::sleep(clock.real_duration(step)) => {}
        }
        let now = clock.now();
        if now > end {
            return dyno_hours;
        }
        let dynos = fake.quantity(APP, PROCESS).unwrap_or(0);
        dyno_hours += f64::from(dynos) * step.as_secs_f64() / 3600.0;
        if last_hour != Some(now.hour()) {
            last_hour = Some(now.hour());
            let state = if broken(now) {
                "failing (bad deploy)".to_owned()
            } else {
                match response_time(now, dynos) {
                    Some(latency) => format!("responses in {:.1} s", latency.as_secs_f64()),
                    None => "overloaded".to_owned(),
                }
            };
            info!(target: "demo", "{:02}:00 traffic {:.0} req/s, {dynos} dynos, {state}", now.hour(), traffic(now));
        }
    }
}

#[cfg(test)]
mod tests;
