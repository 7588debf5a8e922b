use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;

use crate::model::Instance;
use crate::sqlite::SqliteDb;
use crate::target::{self, Shown, Target};
use crate::{
    AppState, Decision, Error, Fence, HistoryRow, Lease, NewOverride, Override, ProcessKey, Pruned,
};
use crate::{postgres, sqlite};

/// How a process uses the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The daemon: creates and migrates the schema, writes. With SQLite, one daemon per file.
    Daemon,
    /// A reader such as `autoscaled status`: never migrates, never takes the daemon's lock, so it
    /// works while the daemon runs. Its writes fail (SQLite opens the file read-only).
    ReadOnly,
    /// A command that records overrides and pauses (`autoscaled override add`, `pause`): like
    /// [`Access::ReadOnly`] it never migrates and never takes the daemon's lock, so it works beside
    /// a running daemon, even on the SQLite file that daemon holds (WAL: a write waits at most the
    /// busy timeout for the daemon's); unlike it, it may write.
    Edit,
}

/// The daemon's persistent state: app state, decisions, per-minute history, fleet leases.
///
/// Cloning is cheap and shares the connections (and the SQLite claim, held until the last clone
/// drops): the writer task, the fleet coordinator and the status page each hold one. Every call is
/// one short query or one transaction. A call that fails returns the error and leaves nothing
/// half-written; the store keeps working and reconnects on a later call, so a
/// caller logs the error and tries again later.
#[derive(Clone)]
pub struct Store {
    db: Db,
    /// The URL, password redacted: all that `Debug` shows.
    url: String,
}

/// One pool per backend, each with its own SQL: `sqlx::Any` would share one code path but neither
/// translates placeholders (`?1` against `$1`) nor decodes times, and the two differ where it
/// matters anyway: time types, the clock leases run on, the migration lock.
#[derive(Clone)]
enum Db {
    /// Shared by the clones, with the daemon's claim on the file (held until the last drops).
    Sqlite(Arc<SqliteDb>),
    Postgres(PgPool),
}

/// The upsert of a state, the same SQL on both backends: `INSERT INTO ... (columns)`, then the
/// rows in the backend's placeholders, then this.
pub(crate) const STATE_INSERT: &str = "INSERT INTO autoscaled_app_state
    (app, process, target, reason, baseline, actual, outage_since, decider, alerts, updated_at)";
pub(crate) const STATE_UPSERT: &str = "ON CONFLICT (app, process) DO UPDATE SET
    target = excluded.target, reason = excluded.reason, baseline = excluded.baseline,
    actual = excluded.actual, outage_since = excluded.outage_since,
    decider = excluded.decider, alerts = excluded.alerts, updated_at = excluded.updated_at";

/// Dispatches `$call` to the backend's function of that name, passing the pool first.
macro_rules! on_backend {
    ($store:expr, $call:ident($($arg:expr),*)) => {
        match &$store.db {
            Db::Sqlite(db) => sqlite::$call(&db.pool(), $($arg),*).await,
            Db::Postgres(pool) => postgres::$call(pool, $($arg),*).await,
        }
    };
}

impl Store {
    /// Opens the database at `url`: `postgres://...` or `postgresql://...` for PostgreSQL,
    /// `sqlite://PATH` for an SQLite file.
    ///
    /// For [`Access::Daemon`] this creates the schema or migrates it to this build's version (in
    /// one transaction), and for SQLite claims the file (a lock on `PATH.lock`): a second daemon
    /// gets [`Error::Locked`]. [`Access::ReadOnly`] only checks that the schema is there and
    /// current. Fails when the database cannot be reached or written ([`Error::Open`]), is not
    /// ours ([`Error::NotOurs`]) or was migrated by a newer build ([`Error::TooNew`]).
    pub async fn open(url: &str, access: Access) -> Result<Self, Error> {
        let shown = Shown::new(url);
        let db = match target::parse(url, &shown)? {
            Target::Sqlite(path) => {
                Db::Sqlite(Arc::new(sqlite::open(&path, access, &shown).await?))
            }
            Target::SqliteMemory => Db::Sqlite(Arc::new(sqlite::open_memory(&shown).await?)),
            Target::Postgres(options) => {
                Db::Postgres(postgres::open(*options, access, &shown).await?)
            }
        };
        Ok(Self { db, url: shown.url })
    }

    /// For a daemon's SQLite file: when the file at its path is no longer the one open (deleted
    /// or replaced by another process), writes the open copy back to the path, whole (states,
    /// decisions, history, leases), claims it again and reopens it; returns whether it did.
    /// Cheap when nothing happened (one `stat`): call it before writing. Nothing to do for
    /// PostgreSQL, read-only or in-memory stores. Fails with [`Error::Locked`] when another
    /// daemon claimed the path meanwhile.
    pub async fn restore_file_if_gone(&self) -> Result<bool, Error> {
        match &self.db {
            Db::Sqlite(db) => db.restore_if_gone().await,
            Db::Postgres(_) => Ok(false),
        }
    }

    /// The URL it was opened with, password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is an SQLite database (file or memory), which one daemon holds alone.
    pub fn is_sqlite(&self) -> bool {
        matches!(self.db, Db::Sqlite(_))
    }

    /// Closes the connections, waiting for queries under way. Dropping the store closes them too,
    /// in the background; closing first ends every query before the process exits.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(db) => db.pool().close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// Saves one process type's state, replacing what was saved for it.
    pub async fn save_app_state(&self, state: &AppState) -> Result<(), Error> {
        on_backend!(self, save_app_state(state))
    }

    /// Saves one process type's state only while `fence` still names the lease on it: the same
    /// holder and generation, lapsed or not, as long as no one took it since. Returns whether it
    /// was saved. A holder that was paused past its lease (a long GC-like stall, a frozen VM)
    /// thus never overwrites the state of the instance that took the app over.
    pub async fn save_app_state_fenced(
        &self,
        state: &AppState,
        fence: &Fence,
    ) -> Result<bool, Error> {
        on_backend!(self, save_app_state_fenced(state, fence))
    }

    /// The saved state of one process type, if any.
    pub async fn app_state(&self, key: &ProcessKey) -> Result<Option<AppState>, Error> {
        on_backend!(self, load_app_state(key))
    }

    /// Every saved state, by app then process type.
    pub async fn app_states(&self) -> Result<Vec<AppState>, Error> {
        on_backend!(self, load_app_states())
    }

    /// Appends a decision to the log.
    pub async fn record_decision(&self, decision: &Decision) -> Result<(), Error> {
        on_backend!(self, record_decision(decision))
    }

    /// The last `limit` decisions for `app`, newest first.
    pub async fn decisions(&self, app: &str, limit: u32) -> Result<Vec<Decision>, Error> {
        on_backend!(self, decisions(app, limit))
    }

    /// Writes minutes of history in one transaction. A row for a minute already written (same app,
    /// process type and minute) replaces it; a minute's seconds are dropped.
    pub async fn write_history(&self, rows: &[HistoryRow]) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        on_backend!(self, write_history(rows))
    }

    /// `app`'s history for the minutes in `[since, until)`, by minute then process type.
    pub async fn history(
        &self,
        app: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<HistoryRow>, Error> {
        on_backend!(self, history(app, since, until))
    }

    /// Deletes decisions and history minutes from before `older_than`, and fleet instances not seen
    /// since; call it with `now - RETENTION` now and then (hourly is plenty).
    pub async fn prune(&self, older_than: DateTime<Utc>) -> Result<Pruned, Error> {
        on_backend!(self, prune(older_than))
    }

    /// Takes the lease on `key` for `holder` until `ttl` from now, on the database's clock: when
    /// no one holds it, when its holder let it lapse, or when `holder` already holds it (which
    /// extends it). Returns the lease held, or `None` when another holder's lease is still running.
    ///
    /// The generation starts at 1 and rises by one each time the lease is taken after lapsing or
    /// from another holder; renewing or re-taking a running lease keeps it.
    pub async fn try_acquire(
        &self,
        key: &ProcessKey,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, Error> {
        on_backend!(self, try_acquire(key, holder, ttl))
    }

    /// Extends every lease `holder` still holds (not lapsed) to `ttl` from now, and returns their
    /// keys, sorted. A lease missing from the answer was lost: stop acting on it.
    pub async fn renew(&self, holder: &str, ttl: Duration) -> Result<Vec<ProcessKey>, Error> {
        on_backend!(self, renew(holder, ttl))
    }

    /// Lets `holder`'s leases lapse now, so others can take them at once (on shutdown). The rows
    /// stay, keeping their generations rising.
    pub async fn release(&self, holder: &str) -> Result<(), Error> {
        on_backend!(self, release(holder))
    }

    /// Lets `holder`'s lease on `key` lapse now, if it holds it, so another instance can take it
    /// at once (an app handed back to even out the fleet).
    pub async fn release_one(&self, key: &ProcessKey, holder: &str) -> Result<(), Error> {
        on_backend!(self, release_one(key, holder))
    }

    /// Every lease still running (not lapsed), on the database's clock, by key.
    pub async fn leases(&self) -> Result<Vec<Lease>, Error> {
        on_backend!(self, leases())
    }

    /// Forgets `instance_id`'s heartbeat, so the fleet stops counting it at once (on shutdown,
    /// after [`Store::release`]).
    pub async fn leave(&self, instance_id: &str) -> Result<(), Error> {
        on_backend!(self, leave(instance_id))
    }

    /// Records that `instance_id` is alive, now on the database's clock.
    pub async fn heartbeat(&self, instance_id: &str) -> Result<(), Error> {
        on_backend!(self, heartbeat(instance_id))
    }

    /// Records an override or a pause and returns it with its id. The caller validates it first
    /// (known app and process type, `until` after `from`, counts within bounds); this only stores.
    pub async fn add_override(&self, new: &NewOverride) -> Result<Override, Error> {
        on_backend!(self, add_override(new))
    }

    /// The overrides and pauses not ended by `now`: running or coming (`until` later than `now`,
    /// or none), and not removed; by creation, oldest first (a later one wins where they overlap).
    pub async fn current_overrides(&self, now: DateTime<Utc>) -> Result<Vec<Override>, Error> {
        on_backend!(self, current_overrides(now))
    }

    /// One override or pause by id, ended or not.
    pub async fn find_override(&self, id: i64) -> Result<Option<Override>, Error> {
        on_backend!(self, find_override(id))
    }

    /// Ends override or pause `id` at `at` (removed, or resumed), if it had not ended by then;
    /// returns it as ended, or `None` when there is no such id or it had already ended.
    pub async fn end_override(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<Override>, Error> {
        on_backend!(self, end_override(id, at))
    }

    /// The instances whose last heartbeat is less than `within` old, by id.
    pub async fn live_instances(&self, within: Duration) -> Result<Vec<Instance>, Error> {
        on_backend!(self, live_instances(within))
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand: the pools' connect options hold the password.
        f.debug_struct("Store")
            .field("url", &self.url)
            .field(
                "daemon_lock",
                &matches!(&self.db, Db::Sqlite(db) if db.is_locked()),
            )
            .finish_non_exhaustive()
    }
}
