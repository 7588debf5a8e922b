use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::{Access, Backend};
use crate::error::Error;
use crate::model::{
    AppState, Decision, Fence, HistoryRow, Instance, Lease, NewOverride, Override, ProcessKey,
    Pruned,
};
use crate::postgres::{self, PostgresDb};
use crate::sqlite::{self, SqliteDb};
use crate::target::{self, Shown, Target};

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

/// `each!(self, db => db.call(..))`: the same [`Backend`] call on whichever database `self`
/// opened, [`held`] on tokio's paused clock when the feature asks.
macro_rules! each {
    ($store:expr, $db:ident => $call:expr) => {
        held(async {
            match &$store.db {
                Db::Sqlite($db) => $call.await,
                Db::Postgres($db) => $call.await,
            }
        })
        .await
    };
}

/// One of the two [`Backend`]s, which each [`Store`] method calls through [`each!`]: a trait with
/// native `async fn`s cannot be called through `dyn` without boxing every future.
///
/// Both run the same queries, the trait's provided methods; `sqlx::Any` would have shared one
/// code path too but decodes no times, and the dialects differ in the few places the trait asks
/// each to fill: time types, the clock leases run on, the fenced write's row lock.
#[derive(Clone)]
enum Db {
    /// Shared by the clones, with the daemon's claim on the file (held until the last drops).
    Sqlite(Arc<SqliteDb>),
    /// A clone shares the pool.
    Postgres(PostgresDb),
}

impl Store {
    /// Opens the database at `url`: `postgres://...` or `postgresql://...` for PostgreSQL,
    /// `sqlite://PATH` for an SQLite file.
    ///
    /// For [`Access::Daemon`] this creates the schema or migrates it to this build's version (in
    /// one transaction), and for SQLite claims the file (a lock on `PATH.lock`): a second daemon
    /// gets [`Error::Locked`]. [`Access::Edit`] creates or migrates the schema too, without that
    /// claim. [`Access::ReadOnly`] only checks that the schema is there and current. Fails when
    /// the database cannot be reached or written ([`Error::Open`]), is not ours
    /// ([`Error::NotOurs`]) or was migrated by a newer build ([`Error::TooNew`]).
    pub async fn open(url: &str, access: Access) -> Result<Self, Error> {
        held(async {
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
        })
        .await
    }

    /// For a daemon's SQLite file: when the file at its path is no longer the one open (deleted
    /// or replaced by another process), writes the open copy back to the path, whole (states,
    /// decisions, history, leases), claims it again and reopens it; returns whether it did.
    /// Cheap when nothing happened (one `stat`): call it before writing. Nothing to do for
    /// PostgreSQL, read-only or in-memory stores. Fails with [`Error::Locked`] when another
    /// daemon claimed the path meanwhile.
    pub async fn restore_file_if_gone(&self) -> Result<bool, Error> {
        held(async {
            match &self.db {
                Db::Sqlite(db) => db.restore_if_gone().await,
                Db::Postgres(_) => Ok(false),
            }
        })
        .await
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
        each!(self, db => db.close())
    }

    /// Saves one process type's state, replacing what was saved for it.
    pub async fn save_app_state(&self, state: &AppState) -> Result<(), Error> {
        each!(self, db => db.save_app_state(state))
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
        each!(self, db => db.save_app_state_fenced(state, fence))
    }

    /// The saved state of one process type, if any.
    pub async fn app_state(&self, key: &ProcessKey) -> Result<Option<AppState>, Error> {
        each!(self, db => db.app_state(key))
    }

    /// Every saved state, by app then process type.
    pub async fn app_states(&self) -> Result<Vec<AppState>, Error> {
        each!(self, db => db.app_states())
    }

    /// Appends a decision to the log.
    pub async fn record_decision(&self, decision: &Decision) -> Result<(), Error> {
        each!(self, db => db.record_decision(decision))
    }

    /// The last `limit` decisions for `app`, newest first.
    pub async fn decisions(&self, app: &str, limit: u32) -> Result<Vec<Decision>, Error> {
        each!(self, db => db.decisions(app, limit))
    }

    /// Writes minutes of history in one transaction. A row for a minute already written (same app,
    /// process type and minute) replaces it; a minute's seconds are dropped.
    pub async fn write_history(&self, rows: &[HistoryRow]) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        each!(self, db => db.write_history(rows))
    }

    /// `app`'s history for the minutes in `[since, until)`, by minute then process type.
    pub async fn history(
        &self,
        app: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<HistoryRow>, Error> {
        each!(self, db => db.history(app, since, until))
    }

    /// Deletes decisions and history minutes from before `older_than`, and fleet instances not seen
    /// since; call it with `now - RETENTION` now and then (hourly is plenty).
    pub async fn prune(&self, older_than: DateTime<Utc>) -> Result<Pruned, Error> {
        each!(self, db => db.prune(older_than))
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
        each!(self, db => db.try_acquire(key, holder, ttl))
    }

    /// Extends every lease `holder` still holds (not lapsed) to `ttl` from now, and returns their
    /// keys, sorted. A lease missing from the answer was lost: stop acting on it.
    pub async fn renew(&self, holder: &str, ttl: Duration) -> Result<Vec<ProcessKey>, Error> {
        each!(self, db => db.renew(holder, ttl))
    }

    /// Lets `holder`'s leases lapse now, so others can take them at once (on shutdown). The rows
    /// stay, keeping their generations rising.
    pub async fn release(&self, holder: &str) -> Result<(), Error> {
        each!(self, db => db.release(holder))
    }

    /// Lets `holder`'s lease on `key` lapse now, if it holds it, so another instance can take it
    /// at once (an app handed back to even out the fleet).
    pub async fn release_one(&self, key: &ProcessKey, holder: &str) -> Result<(), Error> {
        each!(self, db => db.release_one(key, holder))
    }

    /// Every lease still running (not lapsed), on the database's clock, by key.
    pub async fn leases(&self) -> Result<Vec<Lease>, Error> {
        each!(self, db => db.leases())
    }

    /// Forgets `instance_id`'s heartbeat, so the fleet stops counting it at once (on shutdown,
    /// after [`Store::release`]).
    pub async fn leave(&self, instance_id: &str) -> Result<(), Error> {
        each!(self, db => db.leave(instance_id))
    }

    /// Records that `instance_id` is alive, now on the database's clock.
    pub async fn heartbeat(&self, instance_id: &str) -> Result<(), Error> {
        each!(self, db => db.heartbeat(instance_id))
    }

    /// Records an override or a pause and returns it with its id. The caller validates it first
    /// (known app and process type, `until` after `from`, counts within bounds); this only stores.
    pub async fn add_override(&self, new: &NewOverride) -> Result<Override, Error> {
        each!(self, db => db.add_override(new))
    }

    /// The overrides and pauses not ended by `now`: running or coming (`until` later than `now`,
    /// or none), and not removed; by creation, oldest first (a later one wins where they overlap).
    pub async fn current_overrides(&self, now: DateTime<Utc>) -> Result<Vec<Override>, Error> {
        each!(self, db => db.current_overrides(now))
    }

    /// One override or pause by id, ended or not.
    pub async fn find_override(&self, id: i64) -> Result<Option<Override>, Error> {
        each!(self, db => db.find_override(id))
    }

    /// Ends override or pause `id` at `at` (removed, or resumed), if it had not ended by then;
    /// returns it as ended, or `None` when there is no such id or it had already ended.
    pub async fn end_override(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<Override>, Error> {
        each!(self, db => db.end_override(id, at))
    }

    /// The instances whose last heartbeat is less than `within` old, by id.
    pub async fn live_instances(&self, within: Duration) -> Result<Vec<Instance>, Error> {
        each!(self, db => db.live_instances(within))
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

/// Runs a database call so that tokio's paused clock waits for it, with the feature
/// `paused-clock` (for tests that run a daemon on that clock; off in the binary).
///
/// The database answers from threads the runtime cannot see (sqlx's SQLite worker, a PostgreSQL
/// server's socket): while a call waits on them, a paused runtime that has nothing else to run
/// moves its clock to the next timer, and so past the call's own timeout, although no time passed
/// for the database. Tokio holds the paused clock while a blocking task runs; one is kept running
/// for the length of the call.
#[cfg(feature = "paused-clock")]
async fn held<T>(call: impl Future<Output = T>) -> T {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let holder = tokio::task::spawn_blocking(move || {
        // Returns once `done` is dropped.
        let _ = wait.recv();
    });
    let answer = call.await;
    drop(done);
    let _ = holder.await;
    answer
}

/// Without the feature `paused-clock`: the call itself.
#[cfg(not(feature = "paused-clock"))]
async fn held<T>(call: impl Future<Output = T>) -> T {
    call.await
}
