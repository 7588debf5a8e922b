//! The daemon's persistent state, in SQLite (one daemon, the default) or PostgreSQL (a fleet).
//!
//! Start with [`Store::open`]: a URL (`sqlite://PATH`, `postgres://...`) and an [`Access`]. The
//! daemon opens with [`Access::Daemon`], which creates or migrates the schema and, for SQLite,
//! refuses a second daemon on the same file; `autoscaled status` opens with [`Access::ReadOnly`],
//! which works while the daemon runs; `autoscaled override` and `pause` with [`Access::Edit`],
//! which writes beside a running daemon and creates or migrates the schema if no daemon has. Then:
//!
//! - [`AppState`] per process type: [`Store::save_app_state`], [`Store::app_state`],
//!   [`Store::app_states`];
//! - [`Decision`]s, appended: [`Store::record_decision`], [`Store::decisions`];
//! - [`HistoryRow`]s, one per minute: [`Store::write_history`] (a batch, in one transaction),
//!   [`Store::history`], and [`Store::prune`] with [`RETENTION`];
//! - [`Lease`]s for a fleet sharing PostgreSQL: [`Store::try_acquire`], [`Store::renew`],
//!   [`Store::release`], [`Store::release_one`], [`Store::leases`], with [`Store::heartbeat`], [`Store::leave`] and
//!   [`Store::live_instances`]; states written under a lease's [`Fence`]
//!   ([`Store::save_app_state_fenced`]);
//! - [`Override`]s and pauses people record: [`Store::add_override`],
//!   [`Store::current_overrides`], [`Store::find_override`], [`Store::end_override`]; a command
//!   writes them beside a running daemon with [`Access::Edit`];
//! - the [`Fleet`] coordinator, one per instance, which uses them to give each process type to
//!   exactly one live instance (its docs say how, and the limits).
//!
//! Times are kept to the microsecond, history minutes to the minute.
//!
//! Errors are one [`Error`]; none shows a password. After a successful open, a failing database
//! only makes calls fail: log, and try again later.
//!
//! Inside, SQLite and PostgreSQL run one set of queries: the provided methods of a crate-private
//! `Backend` trait, written once over `sqlx`'s generic `Database` (its `where` clause names the
//! Rust types they bind and read). Each backend implements the trait with only what its dialect
//! does differently: how a time is kept (SQLite: integer microseconds since the epoch;
//! PostgreSQL: `timestamptz`), the lease and heartbeat statements on its clock (this machine's,
//! bound as values; the server's `clock_timestamp()`), the fenced write's row lock, and its pool;
//! opening, migrating and SQLite's file claim and restore stay in the backend's module. Generic
//! functions over one trait were preferred to row structs decoded with `sqlx::FromRow` (one
//! struct per table, with a type parameter for the time columns, and still a per-dialect step to
//! convert them) and to `sqlx::Any` (which decodes no times).
//!
//! ```no_run
//! use autoscaled_store::{Access, ProcessKey, Store};
//!
//! # async fn demo() -> Result<(), autoscaled_store::Error> {
//! let store = Store::open("sqlite://autoscaled.db", Access::Daemon).await?;
//! if let Some(state) = store.app_state(&ProcessKey::new("my-app", "web")).await? {
//!     println!("web: {} dynos, {}", state.target, state.reason);
//! }
//! # Ok(())
//! # }
//! ```

mod backend;
mod convert;
mod error;
mod fleet;
mod model;
mod persist;
mod postgres;
mod report;
mod schema;
mod sql;
mod sqlite;
mod store;
mod target;

pub use backend::Access;
pub use error::Error;
pub use fleet::{Fleet, FleetOptions, Grant, Tenants};
pub use model::{
    AppState, Decision, DecisionKind, Fence, HistoryRow, Instance, Lease, NewOverride, Override,
    OverrideAction, ProcessKey, Pruned,
};
pub use persist::{Backlog, MinuteFigures, Persister, WriterOptions};
pub use report::{AppReport, DecisionReport, StatusReport};
pub use store::Store;
pub use target::MEMORY_URL;

/// How long decisions and history are kept: pass `now - RETENTION` to [`Store::prune`].
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// The URL used when neither `DATABASE_URL` nor the config names one.
pub const DEFAULT_URL: &str = "sqlite://autoscaled.db";

/// `url` fit to print: its password (in the user info or a `password=` parameter) as `[redacted]`.
/// Works on any text, even one that is not a URL.
pub fn redact_url(url: &str) -> String {
    target::Shown::new(url).url
}

/// Checks that `url` names a database this crate opens, without opening it: `Ok` or
/// [`Error::Url`] saying why not (the URL redacted).
pub fn check_url(url: &str) -> Result<(), Error> {
    let shown = target::Shown::new(url);
    target::parse(url, &shown).map(|_| ())
}
