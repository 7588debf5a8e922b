//! The daemon's behaviour, in process on tokio's paused clock: [`serve`] against the fake Heroku
//! and an app server that both answer in this test's runtime, with no socket between them.
//!
//! Nothing waits in real time: when every task idles, tokio moves the clock to the next timer, so
//! an hour of probes and calm windows runs in milliseconds, and a verdict such as "at max within
//! two probes" reads the virtual clock, which no load on the machine can stretch. The configs use
//! the defaults' own scale (probes every 10 s, a 10-minute calm) rather than the black-box tests'
//! sub-second ones. Real sockets would break this: a loopback answer still in flight is invisible
//! to the runtime, which would move the clock past a timeout meanwhile; hence the in-process
//! transports (`heroku_fake::InProcess`, `probe::Client::in_process`). The state database is a
//! real SQLite file, which answers from a thread of its own: the store's feature `paused-clock`
//! holds the clock while it does. What stays random in the daemon (the probes' first jitter, say)
//! moves events by whole ticks, so the verdicts are bounds that hold for every draw.
//!
//! What only a process shows (exit codes, signals, the log format, secrets in its output, several
//! processes on one database, the browser, real SMTP and Twilio) stays in `tests/e2e`.

mod actuator;
mod heroku;
mod probes;
mod restart;
mod traffic;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use heroku_fake::FakeHeroku;
use testkit::{AppServer, Capturing, Logs};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Options, Reach, serve};
use crate::Failure;
use crate::clock::Clock;
use crate::config::Config;

const API_KEY: &str = testkit::config::API_KEY;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
/// The probes' interval in [`probed_app`].
const PROBE: Duration = Duration::from_secs(10);
/// The probes' calm in [`probed_app`].
const CALM: Duration = Duration::from_secs(600);

/// A fixed start, so that no verdict depends on today's date (a Monday, 12:00 UTC).
fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The `[[apps]]` table of a web app `name`, 1 to `max` dynos, probed in process every 10 s (3 s
/// timeout, slow from 1 s, fast under 300 ms, 2 failures, 10-minute calm), reconciled every
/// minute, stepped out at most every 3 minutes; `extra` lines are appended to the table.
pub(super) fn probed_app(name: &str, max: u32, extra: &str) -> String {
    format!(
        "[[apps]]\nname = \"{name}\"\nmin = 1\nmax = {max}\nscale_out_cooldown = \"3m\"\nreconcile = \"1m\"\n{extra}\n\
         [apps.probe]\nurl = \"http://{name}.in-process/\"\ninterval = \"10s\"\ntimeout = \"3s\"\n\
         slow = \"1s\"\nfast = \"300ms\"\nfailures = 2\ncalm = \"10m\"\n"
    )
}

/// The drains' password, set when an app reads its traffic.
const DRAIN_PASSWORD: &str = "drain-s3cret-in-process";

/// A config of `apps` (`[[apps]]` tables) and `state_url`, alerts only logged; the drains are on
/// when an app reads its traffic (fed by the test, with no listener).
fn config(apps: &str, state_url: &str) -> Config {
    let http = if apps.contains("[apps.traffic]") {
        format!("[http]\ndrain_password = \"{DRAIN_PASSWORD}\"\n")
    } else {
        String::new()
    };
    let text = format!(
        "[heroku]\napi_key = \"{API_KEY}\"\n# Never dialled: the transport answers in process.\n\
         api_url = \"http://heroku.in-process\"\n\n{http}\n{apps}\n\
         [state]\nurl = \"{state_url}\"\nlease = \"1h\"\nlease_round = \"20m\"\n"
    );
    let path = testkit::config::write_file("toml", &text);
    Config::load_with_env(&path, std::iter::empty())
        .unwrap_or_else(|e| panic!("the test's config is valid: {e}\n{text}"))
}

/// One run of the daemon, on the test's runtime.
pub(super) struct Daemon {
    logs: Logs,
    /// Where its lines start in `logs` (a world's runs log one after the other).
    first_line: usize,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), Failure>>>,
    /// The router-log drains, which the status listener would feed.
    pub(super) drains: status::Drains,
    /// What the status page would show.
    pub(super) board: status::Board,
    /// Its clock: the fixed [`epoch`] at start, then the paused clock's time.
    pub(super) clock: Clock,
}

/// What a test sets up around the daemon: the fake Heroku and the probed app, both in process.
pub(super) struct World {
    pub(super) fake: FakeHeroku,
    pub(super) app: AppServer,
    /// Whether the fake answers at all; while false, every call fails as an unreachable API does.
    pub(super) reachable: Arc<std::sync::atomic::AtomicBool>,
    /// The state database's folder: a SQLite file of this world's, kept across restarts.
    state: tempfile::TempDir,
    _capturing: Capturing,
    logs: Logs,
}

impl World {
    /// A fake Heroku holding `app`'s web formation at `quantity`, and the app answering fast.
    pub(super) async fn new(app: &str, quantity: u32) -> World {
        let (logs, capturing) = Logs::capture();
        let fake = FakeHeroku::start(API_KEY).await.unwrap();
        fake.set_formation(app, "web", quantity);
        World {
            fake,
            app: AppServer::in_process(),
            reachable: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            state: tempfile::tempdir().unwrap(),
            _capturing: capturing,
            logs,
        }
    }

    /// How the daemon reaches this world: Heroku and the app, both in process.
    fn reach(&self) -> Reach {
        let transport = Switch {
            fake: self.fake.in_process(),
            reachable: Arc::clone(&self.reachable),
        };
        let heroku = heroku_api::Client::builder(API_KEY.into())
            .base_url("http://heroku.in-process")
            .transport(Arc::new(transport))
            .build()
            .unwrap();
        let probes = probe::Client::in_process(self.app.connector());
        Reach { heroku, probes }
    }

    /// The state database's URL: a SQLite file of this world's.
    pub(super) fn state_url(&self) -> String {
        format!("sqlite://{}", self.state.path().join("state.db").display())
    }

    /// Starts `serve` with `apps`; a second start finds what the first one saved.
    pub(super) async fn start(&self, apps: &str) -> Daemon {
        self.start_with(apps, false).await
    }

    /// Starts `serve` with `apps`, and `dry_run`.
    pub(super) async fn start_with(&self, apps: &str, dry_run: bool) -> Daemon {
        let config = config(apps, &self.state_url());
        let store = super::open_store(&config.state)
            .await
            .unwrap_or_else(|e| panic!("the state database opens: {e:?}"));
        let shutdown = CancellationToken::new();
        let clock = Clock::fast(epoch(), 1);
        let options = Options { dry_run, clock };
        let drains = super::drains(&config.http, &config.apps);
        let board = status::Board::default();
        let task = tokio::spawn(serve(
            config,
            self.reach(),
            options,
            (board.clone(), drains.clone()),
            store,
            shutdown.clone(),
        ));
        Daemon {
            logs: self.logs.clone(),
            first_line: self.logs.text().len(),
            shutdown,
            task: Some(task),
            drains,
            board,
            clock,
        }
    }

    /// The quantities of every PATCH the fake received for `app`'s web formation, in order.
    pub(super) fn patches(&self, app: &str) -> Vec<u64> {
        let path = format!("/apps/{app}/formation/web");
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path == path)
            .filter_map(|r| r.body.as_ref().and_then(|b| b["quantity"].as_u64()))
            .collect()
    }

    /// Waits (on the paused clock) until the fake holds `app` at `quantity`, at most `within`;
    /// returns when.
    pub(super) async fn quantity(&self, app: &str, quantity: u32, within: Duration) -> Instant {
        let what = format!("{app} at {quantity} dynos");
        wait_until(&what, within, || {
            (self.fake.quantity(app, "web") == Some(quantity)).then(Instant::now)
        })
        .await
    }

    /// What every run logged so far.
    pub(super) fn logs(&self) -> String {
        self.logs.text()
    }

    /// How many probes the app has answered.
    pub(super) fn probes(&self) -> usize {
        self.app.hits().len()
    }
}

impl Daemon {
    /// What this run logged so far.
    pub(super) fn logs(&self) -> String {
        let text = self.logs.text();
        text.get(self.first_line..).unwrap_or_default().to_owned()
    }

    /// Waits (on the paused clock) for a logged line holding every one of `needles`, at most
    /// `within`; returns the line.
    pub(super) async fn line(&self, needles: &[&str], within: Duration) -> String {
        let what = format!("a line with {needles:?}");
        wait_until(&what, within, || {
            self.logs()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_owned)
        })
        .await
    }

    /// Stops it as SIGTERM would, and checks that it stopped cleanly.
    pub(super) async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                other => panic!("the daemon stopped with {other:?}:\n{}", self.logs()),
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Fails the test unless `logs` hold `needle` exactly once; `what` says what that means.
pub(super) fn once(logs: &str, needle: &str, what: &str) {
    let count = logs.matches(needle).count();
    assert_eq!(count, 1, "{what}: {needle:?} {count} times in\n{logs}");
}

/// Polls `check` every 100 ms of the paused clock until it returns something, failing the test
/// after `within` with what was logged.
pub(super) async fn wait_until<T>(
    what: &str,
    within: Duration,
    check: impl FnMut() -> Option<T>,
) -> T {
    testkit::poll_until(
        what,
        within,
        Duration::from_millis(100),
        check,
        Logs::current,
    )
    .await
}

/// The fake, answering in process, or failing every call as an API that cannot be reached.
#[derive(Debug)]
struct Switch {
    fake: heroku_fake::InProcess,
    reachable: Arc<std::sync::atomic::AtomicBool>,
}

impl heroku_api::Transport for Switch {
    fn send(&self, request: http::Request<Vec<u8>>) -> heroku_api::TransportFuture<'_> {
        if self.reachable.load(std::sync::atomic::Ordering::SeqCst) {
            self.fake.send(request)
        } else {
            let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
            Box::pin(async move { Err(heroku_api::TransportError::unanswered(refused)) })
        }
    }
}
