//! Probing one URL over HTTP, once or every interval.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

use rand::Rng;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::down::HumanDuration;
use crate::{Class, DownReason, Error, Thresholds};

/// The `User-Agent` every probe sends unless a configured header replaces it.
pub const USER_AGENT: &str = concat!("autoscaled-probe/", env!("CARGO_PKG_VERSION"));

/// How long a connection to an app may stay idle between probes before the client drops it: below
/// the 55 s after which Heroku's router closes an idle client connection (90 s on Router 2.0), so
/// a probe is never sent on a connection the router is closing, which would read as a down probe.
/// Probes more often than this reuse their connection: no TCP or TLS set-up a probe.
pub const IDLE_CONNECTION: Duration = Duration::from_secs(50);

/// What to probe and how often.
#[derive(Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The `http` or `https` URL to GET.
    pub url: Url,
    /// Time between the starts of two probes; above `thresholds.timeout`.
    pub interval: Duration,
    /// How to classify each probe.
    pub thresholds: Thresholds,
    /// Extra request headers (e.g. `Host`, `Authorization`), sent after and over the defaults.
    pub headers: Vec<(String, String)>,
}

// A URL may carry a password or a token in its query and a header may be a credential: Debug shows
// neither.
impl fmt::Debug for ProbeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), secret::REDACTED))
            .collect();
        f.debug_struct("ProbeConfig")
            .field("url", &secret::RedactedUrl(&self.url))
            .field("interval", &self.interval)
            .field("thresholds", &self.thresholds)
            .field("headers", &headers)
            .finish()
    }
}

impl ProbeConfig {
    /// Whether a [`Prober`] accepts this config: the same checks [`Prober::new`] and
    /// [`Prober::with_client`] make, so that a program can refuse a config before it runs.
    ///
    /// # Errors
    /// When the config is invalid (see [`Error`]).
    pub fn check(&self) -> Result<(), Error> {
        self.checked_headers().map(|_| ())
    }

    /// The request headers, once every setting is checked.
    fn checked_headers(&self) -> Result<HeaderMap, Error> {
        match self.url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(Error::Scheme {
                    scheme: other.to_owned(),
                });
            }
        }
        if self.url.host().is_none() {
            return Err(Error::NoHost);
        }
        let Thresholds {
            timeout,
            slow,
            fast,
        } = self.thresholds;
        if timeout.is_zero() || timeout >= self.interval {
            return Err(Error::Timeout {
                timeout,
                interval: self.interval,
            });
        }
        if fast >= slow {
            return Err(Error::FastNotBelowSlow { fast, slow });
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        for (name, value) in &self.headers {
            let header_name = HeaderName::try_from(name.as_str())
                .map_err(|_| Error::HeaderName { name: name.clone() })?;
            let mut header_value = HeaderValue::try_from(value.as_str())
                .map_err(|_| Error::HeaderValue { name: name.clone() })?;
            header_value.set_sensitive(true);
            headers.insert(header_name, header_value);
        }
        Ok(headers)
    }
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// What the probe says about the app.
    pub class: Class,
    /// The HTTP status, when response headers arrived (even if the body then failed).
    pub status: Option<u16>,
    /// From sending the request to the end of the body, or to the failure, on a monotonic clock.
    pub latency: Duration,
    /// Why the probe is down; `None` unless `class` is [`Class::Down`].
    pub reason: Option<DownReason>,
    /// When the probe started.
    pub at: Instant,
}

impl ProbeResult {
    /// The result of a request answered with `status` after `latency`, classified by `thresholds`.
    /// For simulations and tests; [`Prober::probe`] builds its own.
    #[must_use]
    pub fn answered(thresholds: &Thresholds, status: u16, latency: Duration, at: Instant) -> Self {
        let class = thresholds.classify(status, latency);
        let reason = (class == Class::Down).then(|| {
            if (200..=399).contains(&status) {
                DownReason::TimedOut(thresholds.timeout)
            } else {
                DownReason::Status(status)
            }
        });
        Self {
            class,
            status: Some(status),
            latency,
            reason,
            at,
        }
    }

    /// The result of a request that got no whole answer within `thresholds.timeout`.
    #[must_use]
    pub fn timed_out(thresholds: &Thresholds, at: Instant) -> Self {
        Self {
            class: Class::Down,
            status: None,
            latency: thresholds.timeout,
            reason: Some(DownReason::TimedOut(thresholds.timeout)),
            at,
        }
    }

    /// One short line for logs and alerts: the reason when down ("HTTP 503", "timed out after 10 s",
    /// "connection refused"), else the status and latency ("200 in 830 ms").
    #[must_use]
    pub fn describe(&self) -> String {
        match (self.reason, self.status) {
            (Some(reason), _) => reason.to_string(),
            (None, Some(status)) => format!("{status} in {}", HumanDuration(self.latency)),
            (None, None) => format!("no answer after {}", HumanDuration(self.latency)),
        }
    }
}

/// Probes one URL: [`probe`](Self::probe) once, or [`spawn`](Self::spawn) a task that probes every
/// interval.
///
/// Each probe is a GET whose latency runs from sending the request to the end of the body. The body is
/// read to its end and discarded chunk by chunk as it arrives, so a huge body costs time (it counts
/// against the timeout, as a slow app would) but no memory. The whole exchange is bounded by
/// `thresholds.timeout`.
pub struct Prober {
    client: reqwest::Client,
    config: ProbeConfig,
    headers: HeaderMap,
    /// Whether the app's `Server-Timing` replaces the measured latency ([`Prober::server_timed`]).
    server_timed: bool,
}

impl fmt::Debug for Prober {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prober")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Prober {
    /// The client settings a probe needs: redirects not followed (a 3xx is an answer), no proxy from
    /// the environment (a proxy would be measured, not the app), TLS certificates verified, and a
    /// connection kept between probes for at most [`IDLE_CONNECTION`]. Add to it (e.g. a DNS
    /// resolver or a root certificate), build it, and pass it to
    /// [`with_client`](Self::with_client).
    pub fn client_builder() -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(USER_AGENT)
            .pool_idle_timeout(IDLE_CONNECTION)
    }

    /// A prober with its own client.
    ///
    /// # Errors
    /// When the config is invalid (see [`Error`]) or the client cannot be built.
    pub fn new(config: ProbeConfig) -> Result<Self, Error> {
        let client = Self::client_builder().build().map_err(Error::Client)?;
        Self::with_client(config, client)
    }

    /// A prober sharing `client` (cheap to clone; its connection pool is shared) with others: the way to
    /// run many probers in one process. Build the client from [`client_builder`](Self::client_builder):
    /// a client that follows redirects would report a redirect's target instead of the app.
    ///
    /// # Errors
    /// When the config is invalid (see [`Error`]).
    pub fn with_client(config: ProbeConfig, client: reqwest::Client) -> Result<Self, Error> {
        let headers = config.checked_headers()?;
        Ok(Self {
            client,
            config,
            headers,
            server_timed: false,
        })
    }

    /// This prober, taking an answer's latency from its `Server-Timing` header (the first `dur=`,
    /// in milliseconds: the app's own time, without the network) when it sends one, and measuring
    /// it otherwise. For a simulated app on a sped-up clock (the demo), where a loopback round trip
    /// multiplied by the clock's speed would drown the app's modelled time; a real app is always
    /// measured.
    #[must_use]
    pub fn server_timed(self) -> Self {
        Self {
            server_timed: true,
            ..self
        }
    }

    /// Probes once and classifies the outcome. Never fails: a failure is a [`Class::Down`] result
    /// with its [`DownReason`].
    pub async fn probe(&self) -> ProbeResult {
        let thresholds = self.config.thresholds;
        let at = Instant::now();
        let mut status = None;
        let outcome = tokio::time::timeout(thresholds.timeout, self.fetch(&mut status)).await;
        let latency = at.elapsed();
        match outcome {
            Ok(Ok((status, told))) => {
                ProbeResult::answered(&thresholds, status, told.unwrap_or(latency), at)
            }
            Ok(Err(error)) => {
                let reason = down_reason(&error, self.config.url.scheme() == "https", &thresholds);
                if reason == DownReason::Failed {
                    // Unexpected failures are worth their detail; the URL may hold a credential.
                    tracing::debug!(error = %error.without_url(), "probe failed");
                }
                ProbeResult {
                    class: Class::Down,
                    status,
                    latency,
                    reason: Some(reason),
                    at,
                }
            }
            Err(_elapsed) => ProbeResult {
                class: Class::Down,
                status,
                latency,
                reason: Some(DownReason::TimedOut(thresholds.timeout)),
                at,
            },
        }
    }

    /// Sends the request and reads the body to its end without keeping it. `status` is set as soon as
    /// the headers arrive, so a body that fails or stalls still reports it.
    /// With [`server_timed`](Self::server_timed), also the latency the answer's `Server-Timing`
    /// gives.
    async fn fetch(
        &self,
        status: &mut Option<u16>,
    ) -> Result<(u16, Option<Duration>), reqwest::Error> {
        let mut response = self
            .client
            .get(self.config.url.clone())
            .headers(self.headers.clone())
            .send()
            .await?;
        let code = response.status().as_u16();
        *status = Some(code);
        let told = if self.server_timed {
            response
                .headers()
                .get("server-timing")
                .and_then(|v| v.to_str().ok())
                .and_then(server_timing)
        } else {
            None
        };
        while response.chunk().await?.is_some() {}
        Ok((code, told))
    }

    /// Probes every interval and sends each result on `tx`, until `shutdown` is cancelled or the
    /// receiver is dropped.
    ///
    /// The first probe comes after a random offset below the interval, so that many probers started
    /// together do not fire in step. One probe at most is in flight: one that outlasts the interval
    /// delays the next, which then starts at once, and the schedule shifts (never a burst). Cancelling
    /// `shutdown` stops the task at once, abandoning a probe in flight.
    pub fn spawn(
        self,
        tx: mpsc::Sender<ProbeResult>,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        let interval = self.config.interval;
        let offset = start_offset(interval);
        tokio::spawn(async move {
            run_every(interval, offset, || self.probe(), tx, shutdown).await;
        })
    }
}

/// A random delay below `interval` (which is not zero) before the first probe.
fn start_offset(interval: Duration) -> Duration {
    rand::rng().random_range(Duration::ZERO..interval)
}

/// The loop behind [`Prober::spawn`], apart from HTTP so that its timing is testable on a paused clock.
async fn run_every<F, Fut>(
    interval: Duration,
    offset: Duration,
    mut probe: F,
    tx: mpsc::Sender<ProbeResult>,
    shutdown: CancellationToken,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ProbeResult>,
{
    let mut ticks = tokio::time::interval_at(Instant::now() + offset, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = tx.closed() => return,
            _ = ticks.tick() => {}
        }
        let result = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            result = probe() => result,
        };
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            sent = tx.send(result) => if sent.is_err() { return },
        }
    }
}

/// Names a failed request's cause from its error chain.
/// The first `dur=` of a `Server-Timing` value (`app;desc="render";dur=123.4, db;dur=20`), in
/// milliseconds; `None` without one, or for a negative or unreadable one.
fn server_timing(value: &str) -> Option<Duration> {
    let millis = value
        .split([',', ';'])
        .find_map(|param| param.trim().strip_prefix("dur="))?;
    let millis: f64 = millis.trim().trim_matches('"').parse().ok()?;
    Duration::try_from_secs_f64(millis / 1000.0).ok()
}

fn down_reason(error: &reqwest::Error, https: bool, thresholds: &Thresholds) -> DownReason {
    if error.is_dns() {
        return DownReason::Dns;
    }
    let kinds = io_error_kinds(error);
    let any = |wanted: &[io::ErrorKind]| kinds.iter().any(|kind| wanted.contains(kind));
    if any(&[io::ErrorKind::ConnectionRefused]) {
        DownReason::Refused
    } else if any(&[
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::ConnectionAborted,
        io::ErrorKind::BrokenPipe,
    ]) {
        DownReason::Reset
    } else if error.is_timeout() {
        DownReason::TimedOut(thresholds.timeout)
    } else if error.is_connect() {
        // The TCP part of connecting fails with the errors above; after it, on https, only the
        // handshake is left, and rustls reports through io errors of these kinds.
        if https && any(&[io::ErrorKind::InvalidData, io::ErrorKind::UnexpectedEof]) {
            DownReason::Tls
        } else {
            DownReason::Connect
        }
    } else if any(&[io::ErrorKind::UnexpectedEof])
        || hyper_says(error, hyper::Error::is_incomplete_message)
    {
        DownReason::Closed
    } else if hyper_says(error, hyper::Error::is_parse) {
        DownReason::Protocol
    } else {
        DownReason::Failed
    }
}

/// The kinds of every `io::Error` in the chain. `io::Error::source` skips the error it wraps, so the
/// walk goes through `get_ref` to see nested io errors (as TLS errors are).
fn io_error_kinds(error: &reqwest::Error) -> Vec<io::ErrorKind> {
    let mut kinds = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = next {
        next = match current.downcast_ref::<io::Error>() {
            Some(io_error) => {
                kinds.push(io_error.kind());
                io_error
                    .get_ref()
                    .map(|inner| inner as &(dyn StdError + 'static))
            }
            None => current.source(),
        };
    }
    kinds
}

fn hyper_says(error: &reqwest::Error, test: fn(&hyper::Error) -> bool) -> bool {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = next {
        if current.downcast_ref::<hyper::Error>().is_some_and(test) {
            return true;
        }
        next = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    const T: Thresholds = Thresholds {
        timeout: Duration::from_secs(10),
        slow: Duration::from_secs(5),
        fast: Duration::from_secs(1),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Runs `run_every` (30 s interval, 7 s offset) with probes lasting `durations` in turn, and returns
    /// each probe's (start, end) relative to the start of the loop.
    async fn probe_spans(durations: &[u64]) -> Vec<(Duration, Duration)> {
        let origin = Instant::now();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = mpsc::channel(16);
        let shutdown = CancellationToken::new();
        let recorded = Arc::clone(&spans);
        let durations = durations.to_vec();
        let mut next = 0;
        let task = tokio::spawn(run_every(
            secs(30),
            secs(7),
            move || {
                let lasts = secs(durations[next % durations.len()]);
                next += 1;
                let recorded = Arc::clone(&recorded);
                async move {
                    let at = Instant::now();
                    tokio::time::sleep(lasts).await;
                    recorded
                        .lock()
                        .unwrap()
                        .push((at - origin, Instant::now() - origin));
                    ProbeResult::answered(&T, 200, lasts, at)
                }
            },
            tx,
            shutdown.clone(),
        ));
        for _ in 0..5 {
            rx.recv().await.unwrap();
        }
        shutdown.cancel();
        task.await.unwrap();
        spans.lock().unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn probes_start_after_the_offset_then_every_interval() {
        let starts: Vec<Duration> = probe_spans(&[1]).await.into_iter().map(|s| s.0).collect();
        assert_eq!(
            starts[..5],
            [secs(7), secs(37), secs(67), secs(97), secs(127)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_longer_than_the_interval_delays_the_next_without_a_burst() {
        // The second probe lasts 75 s, two and a half intervals.
        let spans = probe_spans(&[1, 75, 1, 1, 1]).await;
        let starts: Vec<Duration> = spans.iter().map(|s| s.0).collect();
        assert_eq!(
            starts[..5],
            [secs(7), secs(37), secs(112), secs(142), secs(172)]
        );
        for pair in spans.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "one probe in flight at a time: {spans:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_stops_a_probe_in_flight_at_once() {
        let (tx, mut rx) = mpsc::channel(1);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_every(
            secs(30),
            Duration::ZERO,
            || async {
                tokio::time::sleep(secs(3600)).await;
                ProbeResult::timed_out(&T, Instant::now())
            },
            tx,
            shutdown.clone(),
        ));
        tokio::time::sleep(secs(10)).await;
        let cancelled = Instant::now();
        shutdown.cancel();
        tokio::time::timeout(secs(1), task).await.unwrap().unwrap();
        assert_eq!(cancelled.elapsed(), Duration::ZERO);
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_channel_does_not_hold_up_cancellation() {
        let (tx, _rx) = mpsc::channel(1);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_every(
            secs(30),
            Duration::ZERO,
            || async { ProbeResult::answered(&T, 200, secs(0), Instant::now()) },
            tx,
            shutdown.clone(),
        ));
        // The first result fills the channel; the second waits to be sent.
        tokio::time::sleep(secs(45)).await;
        shutdown.cancel();
        tokio::time::timeout(secs(1), task).await.unwrap().unwrap();
    }

    #[test]
    fn start_offsets_spread_below_the_interval() {
        let interval = secs(30);
        let offsets: Vec<Duration> = (0..1000).map(|_| start_offset(interval)).collect();
        assert!(offsets.iter().all(|o| *o < interval));
        let min = offsets.iter().min().unwrap();
        let max = offsets.iter().max().unwrap();
        assert!(*max - *min > secs(20), "spread {min:?}..{max:?}");
    }
}
