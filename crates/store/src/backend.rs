//! What a backend is: how a process uses the store ([`Access`]) and what every backend does
//! ([`Backend`]). SQLite and PostgreSQL each implement [`Backend`]; [`Store`](crate::Store) holds
//! one of them and passes its calls on.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::model::{
    AppState, Decision, Fence, HistoryRow, Instance, Lease, NewOverride, Override, ProcessKey,
    Pruned,
};

/// How a process uses the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The daemon: creates and migrates the schema, writes. With SQLite, one daemon per file.
    Daemon,
    /// A reader such as `autoscaled status`: never migrates, never takes the daemon's lock, so it
    /// works while the daemon runs. Its writes fail (SQLite opens the file read-only).
    ReadOnly,
    /// A command that records overrides and pauses (`autoscaled override add`, `pause`): it never
    /// takes the daemon's lock, so it works beside a running daemon, even on the SQLite file that
    /// daemon holds (a write waits at most the busy timeout for the daemon's). Like the daemon it
    /// creates the database and its schema, or migrates it, when no daemon has yet: PostgreSQL
    /// under the daemons' migration lock, SQLite in a transaction that holds the file's write
    /// lock.
    Edit,
}

/// One database's SQL: each method is the [`Store`](crate::Store) method of the same name (its
/// docs say what it does), on this backend's pool.
pub(crate) trait Backend {
    async fn close(&self);
    async fn save_app_state(&self, state: &AppState) -> Result<(), Error>;
    async fn save_app_state_fenced(&self, state: &AppState, fence: &Fence) -> Result<bool, Error>;
    async fn app_state(&self, key: &ProcessKey) -> Result<Option<AppState>, Error>;
    async fn app_states(&self) -> Result<Vec<AppState>, Error>;
    async fn record_decision(&self, decision: &Decision) -> Result<(), Error>;
    async fn decisions(&self, app: &str, limit: u32) -> Result<Vec<Decision>, Error>;
    /// `rows` is not empty.
    async fn write_history(&self, rows: &[HistoryRow]) -> Result<(), Error>;
    async fn history(
        &self,
        app: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<HistoryRow>, Error>;
    async fn prune(&self, older_than: DateTime<Utc>) -> Result<Pruned, Error>;
    async fn try_acquire(
        &self,
        key: &ProcessKey,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, Error>;
    async fn renew(&self, holder: &str, ttl: Duration) -> Result<Vec<ProcessKey>, Error>;
    async fn release(&self, holder: &str) -> Result<(), Error>;
    async fn release_one(&self, key: &ProcessKey, holder: &str) -> Result<(), Error>;
    async fn leases(&self) -> Result<Vec<Lease>, Error>;
    async fn leave(&self, instance_id: &str) -> Result<(), Error>;
    async fn heartbeat(&self, instance_id: &str) -> Result<(), Error>;
    async fn live_instances(&self, within: Duration) -> Result<Vec<Instance>, Error>;
    async fn add_override(&self, new: &NewOverride) -> Result<Override, Error>;
    async fn current_overrides(&self, now: DateTime<Utc>) -> Result<Vec<Override>, Error>;
    async fn find_override(&self, id: i64) -> Result<Option<Override>, Error>;
    async fn end_override(&self, id: i64, at: DateTime<Utc>) -> Result<Option<Override>, Error>;
}
