//! A simulated app behind the fake Heroku: it answers requests as an app with the fake's formation
//! would at a (possibly sped-up) time of day, and posts its router logs to a drain as Logplex would.
//!
//! Its response time grows with its load per dyno (`service_time / (1 - ρ)`: one request at a time a
//! dyno, requests spread over the dynos); at or near saturation requests are held well past any
//! probe timeout, and while the traffic's [`TrafficShape::broken`] says so every request fails with a
//! 503. Each answer says its modelled time in a `Server-Timing` header, in real time (divided by the
//! speed), which a sped-up prober reads instead of a loopback round trip times the speed. Its router
//! lines follow the same model. [`TrafficShape::day`] is a day's curve with a slow spell at 10:00, a
//! burst at 15:00 and a bad deploy at 18:30.

use std::f64::consts::PI;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Timelike, Utc};

use crate::{Error, FakeHeroku};

/// When the app is busy and when it is broken.
#[derive(Debug, Clone, Copy)]
pub struct TrafficShape {
    /// Requests a second at an instant.
    pub rps: fn(DateTime<Utc>) -> f64,
    /// Whether every request fails at an instant (a bad deploy).
    pub broken: fn(DateTime<Utc>) -> bool,
}

impl TrafficShape {
    /// A day's curve from 06:00 to 22:00 UTC over a floor of 4 requests a second, a slow spell from
    /// 10:00 to 11:00, a burst from 15:00 to 15:30 and a bad deploy from 18:30 to 18:45.
    pub fn day() -> TrafficShape {
        TrafficShape {
            rps: day_traffic,
            broken: day_broken,
        }
    }
}

fn day_traffic(t: DateTime<Utc>) -> f64 {
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

fn day_broken(t: DateTime<Utc>) -> bool {
    let minutes = t.hour() * 60 + t.minute();
    (18 * 60 + 30..18 * 60 + 45).contains(&minutes)
}

/// The shape of a [`FakeApp`].
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The app's name in the fake, whose formation sets its dynos.
    pub app: String,
    /// The process type that serves it.
    pub process: String,
    /// Requests a second one dyno serves.
    pub capacity: f64,
    /// A request's response time with no queueing, in its answers and its router lines.
    pub service_time: Duration,
    /// Its traffic.
    pub traffic: TrafficShape,
    /// The router logs stand for this many requests for each request a second of [`TrafficShape::rps`],
    /// so a dyno serves tens of requests a second, as a real one does.
    pub routed_per_modelled: f64,
    /// How often [`FakeApp::feed_drain`] posts a body, in the app's time.
    pub drain_every: Duration,
}

impl AppConfig {
    /// `app`'s `process` on [`TrafficShape::day`]: 10 requests a second a dyno, one at a time (100 ms
    /// each with no queueing), one routed request for each modelled one, a drain body every 5 s.
    /// One for one: at the demo's 1800x clock every routed request a simulated second is 1,800
    /// router lines a real second to write and parse, on the same two cores as the daemon.
    pub fn day(app: &str, process: &str) -> AppConfig {
        AppConfig {
            app: app.to_owned(),
            process: process.to_owned(),
            capacity: 10.0,
            service_time: Duration::from_millis(100),
            traffic: TrafficShape::day(),
            routed_per_modelled: 1.0,
            drain_every: Duration::from_secs(5),
        }
    }

    /// Requests a second at `t`.
    pub fn traffic(&self, t: DateTime<Utc>) -> f64 {
        (self.traffic.rps)(t)
    }

    /// Whether every request fails at `t`.
    pub fn broken(&self, t: DateTime<Utc>) -> bool {
        (self.traffic.broken)(t)
    }

    /// What a request gets at `t` with `dynos` running: its response time, or `None` when the app
    /// is saturated and the request never completes in time.
    pub fn response_time(&self, t: DateTime<Utc>, dynos: u32) -> Option<Duration> {
        let utilisation = self.traffic(t) / (f64::from(dynos) * self.capacity);
        // At or near saturation the queue grows without bound.
        (dynos > 0 && utilisation < 0.98).then(|| self.service_time.div_f64(1.0 - utilisation))
    }

    /// How the app fares at `t` with `dynos` running, in words: `failing (bad deploy)`,
    /// `responses in 180 ms` or `overloaded`.
    pub fn health(&self, t: DateTime<Utc>, dynos: u32) -> String {
        if self.broken(t) {
            return "failing (bad deploy)".to_owned();
        }
        match self.response_time(t, dynos) {
            Some(latency) => format!("responses in {} ms", latency.as_millis()),
            None => "overloaded".to_owned(),
        }
    }

    /// The router lines of the requests that completed in `(from, to]` with `dynos` running, framed
    /// as a Logplex drain body: arrivals spread evenly at the routed rate, 200s with service times
    /// growing with the load per dyno (`service_time / (1 - ρ)`, capped at the router's 30 s), H12
    /// timeouts when overloaded and 503s while broken. `seq` numbers the body, to vary the dynos
    /// and the spread.
    pub fn router_body(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        dynos: u32,
        seq: u64,
    ) -> Vec<u8> {
        use router_logs::{At, ErrorCode, RouterLine};
        let span = (to - from).as_seconds_f64().max(0.0);
        let rps = self.traffic(to) * self.routed_per_modelled;
        let n = (rps * span).round() as u64;
        let utilisation = self.traffic(to) / (f64::from(dynos.max(1)) * self.capacity);
        let overloaded = dynos == 0 || utilisation >= 0.98;
        let failing = self.broken(to);
        let service = if overloaded {
            Duration::from_secs(30)
        } else {
            self.service_time.div_f64(1.0 - utilisation)
        };
        let host = format!("{}.herokuapp.com", self.app);
        let lines: Vec<String> = (0..n)
            .map(|i| {
                let at = from
                    + TimeDelta::microseconds(((i as f64 + 0.5) * span * 1e6 / n as f64) as i64);
                let dyno = format!(
                    "{}.{}",
                    self.process,
                    (seq + i) % u64::from(dynos.max(1)) + 1
                );
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
                    host: Some(&host),
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
}

/// How many periods of router lines a drain feeder that fell behind still sends at once.
const CATCH_UP: u32 = 4;

/// An app whose dynos are the fake's formation, living in the time `now` gives, `speed` times
/// faster than real time.
pub struct FakeApp {
    fake: Arc<FakeHeroku>,
    config: AppConfig,
    now: Box<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    speed: u32,
}

impl fmt::Debug for FakeApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeApp")
            .field("config", &self.config)
            .field("speed", &self.speed)
            .finish_non_exhaustive()
    }
}

impl FakeApp {
    /// The app `config` describes, with the fake's formation as its dynos.
    pub fn new(
        fake: Arc<FakeHeroku>,
        config: AppConfig,
        now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static,
        speed: u32,
    ) -> Arc<FakeApp> {
        Arc::new(FakeApp {
            fake,
            config,
            now: Box::new(now),
            speed: speed.max(1),
        })
    }

    /// The app's current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.now)()
    }

    /// Its shape.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// Its dynos now: the fake's quantity for its process type (0 if there is none).
    pub fn dynos(&self) -> u32 {
        self.fake
            .quantity(&self.config.app, &self.config.process)
            .unwrap_or(0)
    }

    fn real(&self, duration: Duration) -> Duration {
        duration / self.speed
    }

    /// Serves the app at `GET /` on a free loopback port, and returns its address.
    pub async fn start(self: &Arc<Self>) -> Result<SocketAddr, Error> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let router = axum::Router::new()
            .route("/", axum::routing::get(handle))
            .with_state(self.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(addr)
    }

    /// Posts the app's router logs to the drain at `url` every `drain_every`, as a Logplex drain
    /// would (basic auth `autoscaled:password`), until the task is dropped. Refused bodies are logged
    /// at debug level and skipped.
    pub async fn feed_drain(self: Arc<Self>, url: String, password: String) {
        let client = reqwest::Client::new();
        let mut last = self.now();
        let mut seq = 0u64;
        // A cadence, not a sleep after each post: at the demo's speed a post takes seconds of the
        // app's time, and sleeping after it stretched each period well past `drain_every`.
        let mut cadence = tokio::time::interval(self.real(self.config.drain_every));
        cadence.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        cadence.tick().await;
        loop {
            cadence.tick().await;
            let now = self.now();
            let dynos = self.dynos();
            // Written off the runtime's thread, which a current-thread caller may be timing. Every
            // request since the last body is sent, but a feeder that fell far behind sends the
            // last `CATCH_UP` periods only, as Logplex drops what a slow drain cannot take: a
            // backlog would only make bigger bodies and fall further behind.
            let from = last.max(now - self.config.drain_every * CATCH_UP);
            let app = self.clone();
            let Ok(body) =
                tokio::task::spawn_blocking(move || app.config.router_body(from, now, dynos, seq))
                    .await
            else {
                return;
            };
            last = now;
            seq += 1;
            let sent = client
                .post(&url)
                .basic_auth("autoscaled", Some(&password))
                .header("content-type", "application/logplex-1")
                .header("logplex-frame-id", format!("demo-{seq:016x}"))
                .body(body)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status);
            if let Err(e) = sent {
                tracing::debug!(error = %e, "the drain refused a body");
            }
        }
    }
}

async fn handle(State(app): State<Arc<FakeApp>>) -> Response {
    let now = app.now();
    if app.config.broken(now) {
        return (StatusCode::SERVICE_UNAVAILABLE, "bad deploy\n").into_response();
    }
    match app.config.response_time(now, app.dynos()) {
        Some(latency) => {
            let real = app.real(latency);
            tokio::time::sleep(real).await;
            // The modelled time, exact: the timer's millisecond tick, times the speed, is seconds.
            let timing = format!("app;dur={:.6}", real.as_secs_f64() * 1e3);
            (StatusCode::OK, [("server-timing", timing)], "ok\n").into_response()
        }
        None => {
            // Overloaded: hold the request well past any probe timeout.
            tokio::time::sleep(app.real(Duration::from_secs(300))).await;
            (StatusCode::SERVICE_UNAVAILABLE, "overloaded\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests;
