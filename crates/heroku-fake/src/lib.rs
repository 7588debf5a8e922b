//! An in-memory fake of the Heroku Platform API for tests and demos, checking requests against the
//! official schema.
//!
//! [`FakeHeroku`] serves the app and formation endpoints of the Platform API v3 on loopback, the way
//! Heroku does: it checks the `Authorization` and `Accept` headers, answers errors in Heroku's shape
//! (`{"id","message","url"}`), puts `Request-Id` and `RateLimit-Remaining` on every response, pages
//! formation lists with `Range`/`Next-Range`, and refuses with `422 invalid_params` any request body
//! that the official JSON schema (vendored in `schema/`) does not allow. Its state lives in memory and
//! can be read and changed while it runs; every request is recorded, and faults (an error status, a
//! delay, a dropped connection) can be injected for the next calls.
//!
//! [`app::FakeApp`] is an app behind the fake: it answers on loopback as an app with the
//! fake's formation would at a simulated time of day, and posts its router logs to a drain.
//!
//! Start with [`FakeHeroku::start`] (or [`FakeHeroku::builder`]), then point a client at
//! [`FakeHeroku::url`], or give it [`FakeHeroku::in_process`] as its
//! [`Transport`](heroku_api::Transport): the same router answers in the same process, no socket,
//! so that a test on tokio's paused clock sees time move only by timers.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), autoscaled_heroku_fake::Error> {
//! use autoscaled_heroku_fake::FakeHeroku;
//!
//! let heroku = FakeHeroku::start("my-token").await?;
//! heroku.set_formation("my-app", "web", 2);
//! assert_eq!(heroku.quantity("my-app", "web"), Some(2));
//! println!("serving {}", heroku.url());
//! # Ok(())
//! # }
//! ```

pub mod app;
mod error;
mod fault;
mod in_process;
mod recorded;
mod schema;
mod server;
mod shared;
mod state;

pub use error::Error;
pub use fault::{FaultOptions, PREBOOT_REFUSAL};
pub use in_process::InProcess;
pub use recorded::RecordedRequest;
use shared::Shared;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::state::State;

/// What the fake answers with `RateLimit-Remaining` before any call, like a fresh Heroku account.
pub const DEFAULT_RATE_LIMIT: u32 = 4500;
/// How many request tokens come back per minute, as on Heroku.
pub const DEFAULT_REFILL_PER_MINUTE: u32 = 75;
/// Formations per page of a list when the request's `Range` asks for no smaller page (Heroku's default).
pub const DEFAULT_PAGE_SIZE: usize = 200;

/// Options for starting a [`FakeHeroku`]; from [`FakeHeroku::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    token: String,
    addr: SocketAddr,
    page_size: usize,
    rate_limit: u32,
    refill_per_minute: u32,
}

impl Builder {
    /// Listens on `addr` instead of `127.0.0.1:0` (a free loopback port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The most formations one page of a list holds (at least 1; default [`DEFAULT_PAGE_SIZE`]).
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// The request tokens available at start, and the most the budget refills to
    /// (default [`DEFAULT_RATE_LIMIT`]). Each call takes one; none left answers `429 rate_limit`.
    pub fn rate_limit(mut self, tokens: u32) -> Self {
        self.rate_limit = tokens;
        self
    }

    /// Tokens given back per minute (default [`DEFAULT_REFILL_PER_MINUTE`]; 0 never refills).
    pub fn refill_per_minute(mut self, tokens: u32) -> Self {
        self.refill_per_minute = tokens;
        self
    }

    /// Binds the socket and starts serving on the current tokio runtime.
    pub async fn start(self) -> Result<FakeHeroku, Error> {
        schema::ready()?;
        let listener = TcpListener::bind(self.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: self.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: self.addr,
            source,
        })?;
        let shared = Arc::new(Shared {
            token: self.token,
            page_size: self.page_size,
            state: Mutex::new(State::new(self.rate_limit, self.refill_per_minute)),
            recorded: Notify::new(),
        });
        let router = server::router(Arc::clone(&shared));
        let server = tokio::spawn(server::serve(listener, router.clone()));
        Ok(FakeHeroku {
            shared,
            router,
            addr,
            server,
        })
    }
}

/// A running fake Heroku Platform API; it stops serving when dropped.
///
/// App names given to the setters are created on first use; requests may name an app by name or id.
#[derive(Debug)]
pub struct FakeHeroku {
    shared: Arc<Shared>,
    /// What answers each request, over loopback or [`in_process`](Self::in_process).
    router: Router,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for FakeHeroku {
    fn drop(&mut self) {
        // Aborting the accept loop drops its connection tasks with it.
        self.server.abort();
    }
}

impl FakeHeroku {
    /// Starts a fake that accepts `Bearer <token>`, on a free port of 127.0.0.1, with default options.
    pub async fn start(token: &str) -> Result<Self, Error> {
        Self::builder(token).start().await
    }

    /// Options for a fake that accepts `Bearer <token>`.
    pub fn builder(token: &str) -> Builder {
        Builder {
            token: token.to_owned(),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            page_size: DEFAULT_PAGE_SIZE,
            rate_limit: DEFAULT_RATE_LIMIT,
            refill_per_minute: DEFAULT_REFILL_PER_MINUTE,
        }
    }

    /// The base URL to give a client, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A transport for [`ClientBuilder::transport`](heroku_api::ClientBuilder::transport) that
    /// answers each request in this process, with the same router, checks, recorded requests,
    /// faults and state as over [`url`](Self::url), and no socket: on tokio's paused clock, time
    /// then moves only by the test's timers, the client's and the fake's (its delays and its rate
    /// budget's refill). It keeps working while this handle lives and after.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::sync::Arc;
    /// use autoscaled_heroku_fake::FakeHeroku;
    /// use heroku_api::Client;
    ///
    /// let heroku = FakeHeroku::start("my-token").await.unwrap();
    /// heroku.set_formation("my-app", "web", 2);
    /// let client = Client::builder(secret::Secret::new("my-token"))
    ///     .transport(Arc::new(heroku.in_process()))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.formation_info("my-app", "web").await.unwrap().quantity, 2);
    /// # }
    /// ```
    pub fn in_process(&self) -> InProcess {
        InProcess::new(self.router.clone())
    }

    /// Creates the app (no formations, not in maintenance) unless it exists; returns its id.
    pub fn add_app(&self, name: &str) -> String {
        self.shared.state().app_mut(name).id.clone()
    }

    /// Sets the quantity of one process type, creating the app and the process type as needed
    /// (new process types get size `standard-1X`).
    pub fn set_formation(&self, app: &str, process_type: &str, quantity: u32) {
        self.shared
            .state()
            .set_quantity(app, process_type, quantity);
    }

    /// Removes a process type from the app's formation, as a deploy whose Procfile no longer has
    /// it does: reads and updates of it are then answered 404. Nothing happens when it is absent.
    pub fn remove_formation(&self, app: &str, process_type: &str) {
        self.shared
            .state()
            .app_mut(app)
            .formations
            .retain(|f| f.process_type != process_type);
    }

    /// The quantity of a process type, or `None` when the app or process type does not exist.
    pub fn quantity(&self, app: &str, process_type: &str) -> Option<u32> {
        self.shared
            .state()
            .formation(app, process_type)
            .map(|f| f.quantity)
    }

    /// The dyno size of a process type, or `None` when the app or process type does not exist.
    pub fn dyno_size(&self, app: &str, process_type: &str) -> Option<String> {
        self.shared
            .state()
            .formation(app, process_type)
            .map(|f| f.size.clone())
    }

    /// Turns maintenance mode on or off, creating the app if needed.
    pub fn set_maintenance(&self, app: &str, on: bool) {
        self.shared.state().app_mut(app).maintenance = on;
    }

    /// Caps the quantity any update of the app's formations may set (`None` lifts the cap): a
    /// larger quantity is answered `200` with the cap instead, as Heroku may answer another
    /// quantity than asked (a plan's dyno limit, say). Creates the app if needed.
    pub fn set_quantity_limit(&self, app: &str, limit: Option<u32>) {
        self.shared.state().app_mut(app).quantity_limit = limit;
    }

    /// Puts the app in a release phase or preboot cutover (`false` ends it): while it lasts, every
    /// formation update is refused as Heroku refuses it, `422 invalid_params` with
    /// [`PREBOOT_REFUSAL`]; reads still answer. Creates the app if needed.
    pub fn set_preboot(&self, app: &str, on: bool) {
        self.shared.state().app_mut(app).preboot = on;
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.shared.state().requests.clear();
    }

    /// Waits until at least `n` requests have been recorded (since the last clear) and returns them,
    /// or fails after `timeout`.
    pub async fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.recorded.notified();
            tokio::pin!(notified);
            // Registered before looking, so a request recorded in between still wakes us.
            notified.as_mut().enable();
            let seen = {
                let state = self.shared.state();
                if state.requests.len() >= n {
                    return Ok(state.requests.clone());
                }
                state.requests.len()
            };
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(Error::WaitTimedOut { wanted: n, seen });
            }
        }
    }

    /// Answers the next `n` requests with `status` (before any other check), shaped by `options`,
    /// replacing any failure still pending (`n` = 0 cancels it). A status that is not a valid HTTP
    /// status is served as 500.
    pub fn fail_next(&self, n: u32, status: u16, options: FaultOptions) {
        self.shared.state().faults.fail = (n > 0).then_some((n, status, options));
    }

    /// Answers every request with `status` (before any other check), shaped by `options`, until
    /// `duration` has passed on tokio's clock (so a paused clock ends it too), as an API that
    /// refuses for a while does; replaces any such failure still running (`Duration::ZERO` cancels
    /// it). Takes precedence over [`fail_next`](Self::fail_next) while it lasts.
    pub fn fail_for(&self, duration: Duration, status: u16, options: FaultOptions) {
        let until = tokio::time::Instant::now() + duration;
        self.shared.state().faults.fail_until =
            (!duration.is_zero()).then_some((until, status, options));
    }

    /// Holds each of the next `n` requests for `delay` before handling it, replacing any delay still
    /// pending (`n` = 0 cancels it).
    pub fn delay_next(&self, n: u32, delay: Duration) {
        self.shared.state().faults.delay = (n > 0).then_some((n, delay));
    }

    /// Closes the connection of each of the next `n` requests without answering (after any delay,
    /// before any failure).
    pub fn drop_next(&self, n: u32) {
        self.shared.state().faults.drop = n;
    }

    /// Sets the request tokens left (what the next response's `RateLimit-Remaining` starts from).
    pub fn set_rate_limit_remaining(&self, tokens: u32) {
        self.shared.state().rate.set(tokens);
    }

    /// The request tokens left now (refill included).
    pub fn rate_limit_remaining(&self) -> u32 {
        self.shared.state().rate.remaining()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_hides_the_token_and_faults_can_be_cancelled() {
        let fake = FakeHeroku::start("tok-5ecr3t").await.unwrap();
        let shown = format!("{fake:?}");
        assert!(
            !shown.contains("5ecr3t") && shown.contains("[redacted]"),
            "{shown}"
        );

        fake.fail_next(0, 503, FaultOptions::default());
        fake.delay_next(0, Duration::from_secs(1));
        let mut state = fake.shared.state();
        assert_eq!(state.faults.take_fail(), None);
        assert_eq!(state.faults.take_delay(), None);
    }
}
