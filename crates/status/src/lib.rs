//! The status page of autoscaled: the live [`Board`] of every app, its 24-hour history, the
//! Prometheus metrics, and the HTTP server for the page, its JSON and `/metrics`.
//!
//! Start with [`Board`]: the daemon's tasks write to it as they go (a probe, a decision, the
//! quantity Heroku reported, the end of each minute), and it keeps only what is needed now. [`start`] serves
//! it (see [`server`] for the endpoints), given [`Sources`]: the board, an [`AppInfo`] per app, a
//! [`Clock`] and the [`Readings`] the daemon counts elsewhere (alerts, Heroku's rate limit). The
//! crate is handed all it shows and knows nothing of the daemon, the config or Heroku. The page
//! adds and ends overrides and pauses through [`Edits`]: the daemon's [`Rules`] (the CLI's own
//! checks) judge each request before it reaches the store.
//!
//! The history behind the charts lives in the daemon's store (the `autoscaled-store` crate): the
//! daemon writes one row per app and minute there and hands the board a copy
//! ([`Board::record_minute`]); the charts read the rows back ([`Board::keep_history`]), over the
//! last day or week ([`Span`]).
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use autoscaled_status::{AppInfo, Board, Drains, Limits, NoReadings, RealClock, Sources};
//!
//! # async fn demo(schedule: schedule::Schedule) -> Result<(), autoscaled_status::Error> {
//! let board = Board::default();
//! let index = board.add("my-app", "web", 2);
//! board.update(index, |s| s.actual = Some(2));
//! let sources = Sources {
//!     board: board.clone(),
//!     apps: vec![AppInfo {
//!         name: "my-app".into(),
//!         process: "web".into(),
//!         min: 1,
//!         max: 4,
//!         schedule,
//!         price_per_hour: 0.035,
//!     }],
//!     clock: Arc::new(RealClock),
//!     readings: Arc::new(NoReadings),
//!     drains: Drains::off(),
//!     edits: None,
//! };
//! let listen = "127.0.0.1:9797".parse().expect("an address");
//! let limits = Limits::default(); // 5 s for a head, 30 s idle, 1,024 connections, …
//! let (addr, task) = autoscaled_status::start(listen, None, sources, limits, std::future::pending()).await?;
//! println!("status page: http://{addr}/");
//! # let _ = task;
//! # Ok(())
//! # }
//! ```

mod board;
pub mod drain;
mod edits;
mod history;
mod metrics;
pub mod server;
#[cfg(test)]
mod test_minutes;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use board::{
    AlertView, AppStatus, Board, ChangeView, DecisionView, ProbeView, QueueLine, QueueView,
};
pub use drain::Drains;
pub use edits::{Edits, OverrideRequest, PAGE_USER, PauseRequest, Rules};
pub use history::{AppChart, Bucket, HISTORY_SPAN, Marker, MarkerKind, Span};
pub use metrics::{LATENCY_BUCKETS, class_name};
pub use server::{Limits, Password, start};

/// Why the status server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address is taken or not ours.
    #[error("cannot listen on {addr} for the status page: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// One app's process type as the page shows it, besides what the [`Board`] holds.
#[derive(Debug, Clone)]
pub struct AppInfo {
    /// The Heroku app's name.
    pub name: String,
    /// The process type scaled.
    pub process: String,
    /// The fewest dynos autoscaled sets.
    pub min: u32,
    /// The most dynos autoscaled sets.
    pub max: u32,
    /// The schedule, in the app's time zone (which the page shows times in).
    pub schedule: schedule::Schedule,
    /// USD per dyno-hour, for today's cost.
    pub price_per_hour: f64,
}

/// The daemon's sense of time, which every time on the page and in the JSON is in.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant in the clock's time.
    fn now(&self) -> DateTime<Utc>;
    /// How many times faster than real time the clock runs: 1 for real time (the default), more
    /// under `autoscaled demo`.
    fn speed(&self) -> u32 {
        1
    }
}

/// Real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What `/metrics` reads from the daemon at each scrape, beyond the board.
pub trait Readings: Send + Sync + fmt::Debug + 'static {
    /// The alerts sent, failed and held back since start; `None` when no channel is configured.
    fn alerts(&self) -> Option<AlertCounts> {
        None
    }
    /// Heroku's `RateLimit-Remaining` at the last API call; `None` before the first.
    fn heroku_rate_limit_remaining(&self) -> Option<u32> {
        None
    }
}

/// Nothing to read: no alert channel, no Heroku client.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReadings;

impl Readings for NoReadings {}

/// Alerts since start, per recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertCounts {
    /// Emails the SMTP server accepted.
    pub email_sent: u64,
    /// Emails given up on after the retries.
    pub email_failed: u64,
    /// SMS Twilio accepted.
    pub sms_sent: u64,
    /// SMS given up on after the retries.
    pub sms_failed: u64,
    /// Alerts not sent because the same one went out less than `alert_every` before.
    pub held_back: u64,
    /// Alerts lost because the queue was full or the notifier had stopped.
    pub dropped: u64,
    /// Sends that failed for a fault of this machine (no descriptor, memory or local port) and
    /// were tried again.
    pub local_faults: u64,
}

/// Everything the server shows.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The live board.
    pub board: Board,
    /// The apps, in the board's order.
    pub apps: Vec<AppInfo>,
    /// The daemon's clock.
    pub clock: Arc<dyn Clock>,
    /// What the daemon counts outside the board.
    pub readings: Arc<dyn Readings>,
    /// The apps' log drains (`POST /drain/{app}`); [`Drains::off`] for none.
    pub drains: Drains,
    /// How the page adds and ends overrides and pauses (`POST /api/overrides`, …, behind the
    /// password); `None`: it only shows them.
    pub edits: Option<Edits>,
}
