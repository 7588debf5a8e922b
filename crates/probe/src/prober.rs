//! Probing one URL over HTTP, once or every interval.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use futures_util::stream::{self, Stream, StreamExt};
use http::header::{self, HeaderName, HeaderValue};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use url::{Position, Url};

use crate::down::HumanDuration;
use crate::http::{Answer, Client, Connection, Failure, Progress, Target, exchange, server_timing};
use crate::{Class, DownReason, Error, LocalFault, Thresholds};

/// The `User-Agent` every probe sends unless a configured header replaces it.
pub const USER_AGENT: &str = concat!("autoscaled-probe/", env!("CARGO_PKG_VERSION"));

/// How long a connection to an app may stay idle between probes before the prober drops it: below
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
        self.request().map(|_| ())
    }

    /// The request's bytes, once every setting is checked: `GET`, the URL's path and query, and
    /// the headers: `Host`, `User-Agent`, `Accept`, `Authorization` from the URL's user and
    /// password, then the configured ones, each replacing a default of its name.
    fn request(&self) -> Result<Box<[u8]>, Error> {
        match self.url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(Error::Scheme {
                    scheme: other.to_owned(),
                });
            }
        }
        let Some(host) = self.url.host_str() else {
            return Err(Error::NoHost);
        };
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
        let host = match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let mut headers = vec![
            (
                header::HOST,
                HeaderValue::try_from(host).map_err(|_| Error::NoHost)?,
            ),
            (header::USER_AGENT, HeaderValue::from_static(USER_AGENT)),
            (header::ACCEPT, HeaderValue::from_static("*/*")),
        ];
        if !self.url.username().is_empty() || self.url.password().is_some() {
            let mut credentials: Vec<u8> =
                percent_encoding::percent_decode_str(self.url.username()).collect();
            credentials.push(b':');
            credentials.extend(percent_encoding::percent_decode_str(
                self.url.password().unwrap_or_default(),
            ));
            let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
            let value = HeaderValue::try_from(format!("Basic {basic}")).map_err(|_| {
                Error::HeaderValue {
                    name: header::AUTHORIZATION.to_string(),
                }
            })?;
            headers.push((header::AUTHORIZATION, value));
        }
        for (name, value) in &self.headers {
            let header_name = HeaderName::try_from(name.as_str())
                .map_err(|_| Error::HeaderName { name: name.clone() })?;
            let header_value = HeaderValue::try_from(value.as_str())
                .map_err(|_| Error::HeaderValue { name: name.clone() })?;
            headers.retain(|(existing, _)| *existing != header_name);
            headers.push((header_name, header_value));
        }
        let path = &self.url[Position::BeforePath..Position::AfterQuery];
        let mut request = format!("GET {path} HTTP/1.1\r\n").into_bytes();
        for (name, value) in headers {
            request.extend_from_slice(name.as_str().as_bytes());
            request.extend_from_slice(b": ");
            request.extend_from_slice(value.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
        Ok(request.into_boxed_slice())
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
/// read to its end and discarded as it arrives, so a huge body costs time (it counts against the
/// timeout, as a slow app would) but no memory. The whole exchange, connecting included, is bounded
/// by `thresholds.timeout`. Redirects are answers, not followed; no proxy is used (a proxy would be
/// measured, not the app). Between probes the prober keeps its connection when the interval is
/// below [`IDLE_CONNECTION`], and nothing else: the HTTP client is this crate's own (see
/// [`Client`]).
pub struct Prober {
    client: Client,
    config: ProbeConfig,
    target: Target,
    /// The request, rendered once.
    request: Box<[u8]>,
    /// The connection kept between probes, and since when it is idle.
    idle: Mutex<Option<(Connection, Instant)>>,
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

/// The least a [server-timed](Prober::server_timed) prober waits for an answer, in real time.
pub const SERVER_TIMED_WAIT: Duration = Duration::from_secs(1);

impl Prober {
    /// A prober with its own [`Client`].
    ///
    /// # Errors
    /// When the config is invalid or TLS cannot be set up (see [`Error`]).
    pub fn new(config: ProbeConfig) -> Result<Self, Error> {
        Self::with_client(config, Client::new()?)
    }

    /// A prober sharing `client` (its TLS settings and root certificates) with others: the way to
    /// run many probers in one process.
    ///
    /// # Errors
    /// When the config is invalid (see [`Error`]).
    pub fn with_client(config: ProbeConfig, client: Client) -> Result<Self, Error> {
        let request = config.request()?;
        let target = Target::of(&config.url)?;
        Ok(Self {
            client,
            config,
            target,
            request,
            idle: Mutex::new(None),
            server_timed: false,
        })
    }

    /// This prober, taking an answer's latency from its `Server-Timing` header (the first `dur=`,
    /// in milliseconds: the app's own time, without the network) when it sends one, and measuring
    /// it otherwise. For a simulated app on a sped-up clock (the demo), where a loopback round trip
    /// multiplied by the clock's speed would drown the app's modelled time; a real app is always
    /// measured. An answer is awaited for at least [`SERVER_TIMED_WAIT`]: at the demo's speed the
    /// timeout is a few real milliseconds, which a busy machine's stall would turn into an outage.
    #[must_use]
    pub fn server_timed(self) -> Self {
        Self {
            server_timed: true,
            ..self
        }
    }

    /// Probes once and classifies the outcome: a failure of the request is a [`Class::Down`] result
    /// with its [`DownReason`].
    ///
    /// # Errors
    /// A [`LocalFault`] when the probe could not be made for a fault of this machine (no file
    /// descriptor, memory or local port left): that says nothing about the app, so it is no
    /// result at all, and above all not a down one.
    pub async fn probe(&self) -> Result<ProbeResult, LocalFault> {
        let thresholds = self.config.thresholds;
        let at = Instant::now();
        let mut progress = Progress::default();
        // A server-timed app tells its own time in its answer, and that decides whether it was
        // too slow; the wait for the answer itself only has to outlast a stall of this machine.
        let wait = if self.server_timed {
            thresholds.timeout.max(SERVER_TIMED_WAIT)
        } else {
            thresholds.timeout
        };
        let outcome = tokio::time::timeout(wait, self.fetch(&mut progress)).await;
        let latency = at.elapsed();
        let failure = match outcome {
            Ok(Ok(answer)) => {
                let told = answer.server_timing.as_deref().and_then(server_timing);
                return Ok(ProbeResult::answered(
                    &thresholds,
                    answer.status,
                    told.unwrap_or(latency),
                    at,
                ));
            }
            Ok(Err(failure)) => failure,
            Err(_elapsed) => {
                return Ok(ProbeResult {
                    class: Class::Down,
                    status: progress.status,
                    latency,
                    reason: Some(DownReason::TimedOut(thresholds.timeout)),
                    at,
                });
            }
        };
        if let Some(fault) = LocalFault::of(&failure) {
            tracing::debug!(error = ?failure, %fault, "probe not made: a local fault");
            return Err(fault);
        }
        let reason = down_reason(&failure, &thresholds);
        if reason == DownReason::Failed {
            // Unexpected failures are worth their detail: an io error, which holds no URL.
            tracing::debug!(error = ?failure, "probe failed");
        }
        Ok(ProbeResult {
            class: Class::Down,
            status: progress.status,
            latency,
            reason: Some(reason),
            at,
        })
    }

    /// Sends the request, on the kept connection if there is one, and reads the answer to its end.
    async fn fetch(&self, progress: &mut Progress) -> Result<Answer, Failure> {
        let kept = self.take_idle();
        let reused = kept.is_some();
        let mut stream = match kept {
            Some(stream) => stream,
            None => self.connect().await?,
        };
        let mut outcome = exchange(&mut stream, &self.request, self.server_timed, progress).await;
        if reused && !progress.answered && matches!(outcome, Err(Failure::Closed | Failure::Io(_)))
        {
            // The server closed the kept connection while it was idle, which is no news about the
            // app: a GET is safe to send again, on a new connection.
            *progress = Progress::default();
            stream = self.connect().await?;
            outcome = exchange(&mut stream, &self.request, self.server_timed, progress).await;
        }
        let answer = outcome?;
        if answer.reusable && self.config.interval < IDLE_CONNECTION {
            *self.idle.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((stream, Instant::now()));
        }
        Ok(answer)
    }

    /// A new connection. Boxed: connecting (the TLS handshake's state above all) needs a few KB
    /// that would otherwise sit in every prober's future between probes, for a step taken about
    /// once a connection.
    async fn connect(&self) -> Result<Connection, Failure> {
        Box::pin(self.target.connect(&self.client)).await
    }

    /// The kept connection, unless it has been idle too long or is not quiet.
    fn take_idle(&self) -> Option<Connection> {
        let (mut stream, since) = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        (since.elapsed() < IDLE_CONNECTION && crate::http::is_quiet(&mut stream)).then_some(stream)
    }

    /// A probe every interval, as a stream to poll beside other work in one task: the daemon's
    /// decision task does, as a task and a channel of the prober's own would cost about 5 KB an
    /// app. Timing as [`spawn`](Self::spawn) says. A probe in flight lives in the stream, so a
    /// `select!` that another branch wins does not abandon it; dropping the stream does.
    ///
    /// Call it within a tokio runtime: the first probe's time is set when it is called.
    pub fn every_interval(self) -> impl Stream<Item = Result<ProbeResult, LocalFault>> + Send {
        let interval = self.config.interval;
        every(
            interval,
            start_offset(interval),
            self,
            |prober| async move {
                let result = prober.probe().await;
                (result, prober)
            },
        )
    }

    /// Probes every interval and sends each result (or [`LocalFault`]) on `tx`, until `shutdown` is
    /// cancelled or the receiver is dropped.
    ///
    /// The first probe comes after a random offset below the interval, so that many probers started
    /// together do not fire in step. One probe at most is in flight: one that outlasts the interval
    /// delays the next, which then starts at once, and the schedule shifts (never a burst). Cancelling
    /// `shutdown` stops the task at once, abandoning a probe in flight.
    pub fn spawn(
        self,
        tx: mpsc::Sender<Result<ProbeResult, LocalFault>>,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(forward(self.every_interval(), tx, shutdown))
    }
}

/// A random delay below `interval` (which is not zero) before the first probe.
fn start_offset(interval: Duration) -> Duration {
    rand::rng().random_range(Duration::ZERO..interval)
}

/// The schedule behind [`Prober::every_interval`], apart from HTTP so that its timing is testable
/// on a paused clock: `probe` takes `state` and hands it back with its result.
fn every<T, S, F, Fut>(
    interval: Duration,
    offset: Duration,
    state: S,
    probe: F,
) -> impl Stream<Item = T>
where
    F: FnMut(S) -> Fut,
    Fut: Future<Output = (T, S)>,
{
    let mut ticks = tokio::time::interval_at(Instant::now() + offset, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    stream::unfold(
        (ticks, state, probe),
        |(mut ticks, state, mut probe)| async move {
            ticks.tick().await;
            let (result, state) = probe(state).await;
            Some((result, (ticks, state, probe)))
        },
    )
}

/// The loop behind [`Prober::spawn`].
async fn forward<T>(
    results: impl Stream<Item = T>,
    tx: mpsc::Sender<T>,
    shutdown: CancellationToken,
) {
    let mut results = std::pin::pin!(results);
    loop {
        let result = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = tx.closed() => return,
            Some(result) = results.next() => result,
        };
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            sent = tx.send(result) => if sent.is_err() { return },
        }
    }
}

/// Names a failed exchange's cause, in the words of an alert.
fn down_reason(failure: &Failure, thresholds: &Thresholds) -> DownReason {
    let reset = |error: &io::Error| {
        matches!(
            error.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
        )
    };
    match failure {
        Failure::Dns(_) => DownReason::Dns,
        Failure::Connect(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            DownReason::Refused
        }
        Failure::Connect(error) | Failure::Handshake(error) | Failure::Io(error)
            if reset(error) =>
        {
            DownReason::Reset
        }
        Failure::Connect(error) if error.kind() == io::ErrorKind::TimedOut => {
            DownReason::TimedOut(thresholds.timeout)
        }
        Failure::Connect(_) => DownReason::Connect,
        Failure::Handshake(_) => DownReason::Tls,
        Failure::Io(error) if error.kind() == io::ErrorKind::UnexpectedEof => DownReason::Closed,
        Failure::Io(_) => DownReason::Failed,
        Failure::Closed => DownReason::Closed,
        Failure::Protocol => DownReason::Protocol,
    }
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

    /// Runs `every` through `forward` (30 s interval, 7 s offset) with probes lasting `durations` in turn, and returns
    /// each probe's (start, end) relative to the start of the loop.
    async fn probe_spans(durations: &[u64]) -> Vec<(Duration, Duration)> {
        let origin = Instant::now();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = mpsc::channel(16);
        let shutdown = CancellationToken::new();
        let recorded = Arc::clone(&spans);
        let durations = durations.to_vec();
        let mut next = 0;
        let probes = every(secs(30), secs(7), (), move |()| {
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
                (ProbeResult::answered(&T, 200, lasts, at), ())
            }
        });
        let task = tokio::spawn(forward(probes, tx, shutdown.clone()));
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
        let probes = every(secs(30), Duration::ZERO, (), |()| async {
            tokio::time::sleep(secs(3600)).await;
            (ProbeResult::timed_out(&T, Instant::now()), ())
        });
        let task = tokio::spawn(forward(probes, tx, shutdown.clone()));
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
        let probes = every(secs(30), Duration::ZERO, (), |()| async {
            (ProbeResult::answered(&T, 200, secs(0), Instant::now()), ())
        });
        let task = tokio::spawn(forward(probes, tx, shutdown.clone()));
        // The first result fills the channel; the second waits to be sent.
        tokio::time::sleep(secs(45)).await;
        shutdown.cancel();
        tokio::time::timeout(secs(1), task).await.unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_in_flight_outlives_the_selects_that_other_branches_win() {
        // Each probe takes 10 s; a branch wins every second meanwhile, as the decision task's
        // other events do. Were the probe abandoned with the losing branch, none would finish.
        let probes = every(secs(30), Duration::ZERO, 0_u32, |done| async move {
            tokio::time::sleep(secs(10)).await;
            (
                ProbeResult::answered(&T, 200, secs(10), Instant::now()),
                done + 1,
            )
        });
        let mut probes = std::pin::pin!(probes);
        let origin = Instant::now();
        let mut other_events = 0;
        let result = loop {
            tokio::select! {
                Some(result) = probes.next() => break result,
                () = tokio::time::sleep(secs(1)) => other_events += 1,
            }
        };
        assert!(other_events >= 9, "{other_events}");
        assert_eq!(result.at - origin, secs(10), "one probe, finished on time");
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
