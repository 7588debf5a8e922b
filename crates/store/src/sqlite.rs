//! The SQLite backend: one daemon per file, a lock file beside it, times in microseconds.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, Sqlite};

use crate::backend::{Access, Backend};
use crate::convert::{big_count, count, count_opt, from_micros, micros, to_i64, ttl_micros};
use crate::error::Error;
use crate::model::{
    AppState, Decision, DecisionKind, Fence, HistoryRow, Instance, Lease, NewOverride, Override,
    OverrideAction, ProcessKey, Pruned, minute_of,
};
use crate::schema::Migrations;
use crate::sql::{
    DECISION_INSERT, DECISIONS_SELECT, HISTORY_SELECT, HISTORY_UPSERT, INSTANCE_DELETE,
    OVERRIDE_END, OVERRIDE_INSERT, OVERRIDE_SELECT, OVERRIDES_CURRENT, PRUNE, SCHEMA_VERSION,
    STATE_INSERT, STATE_SELECT, STATE_UPSERT, STATE_VALUES,
};
use crate::target::Shown;

/// The schema, one migration per version, applied in order.
const MIGRATIONS: Migrations = Migrations(&[
    include_str!("../migrations/sqlite/0001_initial.sql"),
    include_str!("../migrations/sqlite/0002_decision_kind.sql"),
    include_str!("../migrations/sqlite/0003_overrides.sql"),
    include_str!("../migrations/sqlite/0004_queue_history.sql"),
]);

/// SQLite's result code for "file is not a database".
const SQLITE_NOTADB: &str = "26";

/// A connection waits this long for another's lock: the daemon's write for the moment a status
/// read holds the file, a read for the moment a write commits.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite side of a [`Store`](crate::Store): the pool, and for a daemon's file what it takes
/// to notice the file deleted or replaced under it and to put it back.
pub(crate) struct SqliteDb {
    current: Mutex<Current>,
    /// The daemon's file, `None` for read-only and in-memory opens (nothing to keep).
    kept: Option<Kept>,
}

struct Current {
    pool: SqlitePool,
    /// Held, never read: the daemon's claim on the file, released when dropped.
    lock: Option<Claim>,
}

/// The `flock` on `PATH.lock`, unlocked by hand when dropped rather than only closed: a child
/// process forked meanwhile (by a hook, a test's `psql`) holds a copy of the descriptor until
/// it execs, and with it the lock, so a store closed and opened again could find its own file
/// still claimed.
struct Claim(File);

impl Claim {
    fn file(&self) -> &File {
        &self.0
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Called by path, as `try_lock` below. An error leaves the close to release it.
        let _ = fs4::FileExt::unlock(&self.0);
    }
}

struct Kept {
    path: PathBuf,
    options: SqliteConnectOptions,
    shown: Shown,
    /// The device and inode of the file the pool has open.
    file: Mutex<Option<(u64, u64)>>,
    /// Held while the file is put back: the writer and the fleet coordinator both look, and one
    /// copy is made.
    restoring: tokio::sync::Mutex<()>,
}

impl SqliteDb {
    /// The pool as it stands (a clone shares its connections): a call in flight keeps the one it
    /// took while the file is put back.
    fn pool(&self) -> SqlitePool {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pool
            .clone()
    }

    /// Whether this daemon holds the file's lock.
    pub(crate) fn is_locked(&self) -> bool {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .lock
            .is_some()
    }

    /// For a daemon's file: when the file at its path is no longer the one open (deleted, or
    /// replaced), writes the open copy (its inode lives on while open) back to the path, and
    /// reopens the pool on it; logged once. Returns whether it did. Another daemon that claimed
    /// the path meanwhile keeps it: [`Error::Locked`].
    pub(crate) async fn restore_if_gone(&self) -> Result<bool, Error> {
        let Some(kept) = &self.kept else {
            return Ok(false);
        };
        let moved =
            || file_id(&kept.path) != *kept.file.lock().unwrap_or_else(PoisonError::into_inner);
        if !moved() {
            return Ok(false);
        }
        let _restoring = kept.restoring.lock().await;
        // Another caller may have put it back while this one waited.
        if !moved() {
            return Ok(false);
        }
        // `rm autoscaled.db*` takes the lock file too: claimed again before anything is written,
        // so a second daemon started meanwhile and this one never share the path. A lock file
        // still in place is the one held (`flock` would refuse this process a second claim).
        let held = {
            let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            current
                .lock
                .as_ref()
                .and_then(|claim| claim.file().metadata().ok())
                .map(|metadata| (metadata.dev(), metadata.ino()))
        };
        let lock = if held.is_some() && file_id(&lock_path(&kept.path)) == held {
            None
        } else {
            Some(lock(&kept.path, &kept.shown)?)
        };
        let pool = self.pool();
        let mut restoring = kept.path.as_os_str().to_owned();
        restoring.push(".restoring");
        let restoring = PathBuf::from(restoring);
        let failed = |reason: String| Error::Open {
            url: kept.shown.url.clone(),
            reason,
        };
        match std::fs::remove_file(&restoring) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(failed(format!(
                    "cannot remove {}: {error}",
                    restoring.display()
                )));
            }
        }
        let target = restoring
            .to_str()
            .ok_or_else(|| failed(format!("{} is not UTF-8", restoring.display())))?;
        // A complete, consistent copy from the connection's open file: states, decisions, history,
        // leases with their generations.
        sqlx::query("VACUUM INTO ?1")
            .bind(target)
            .execute(&pool)
            .await
            .map_err(|error| failed(kept.shown.scrub(error)))?;
        // Moved in whole: a reader never sees a half-written file at the path.
        std::fs::rename(&restoring, &kept.path)
            .map_err(|error| failed(format!("cannot move the copy into place: {error}")))?;
        *kept.file.lock().unwrap_or_else(PoisonError::into_inner) = file_id(&kept.path);
        let reopened = pool_for(kept.options.clone());
        let old = {
            let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(lock) = lock {
                current.lock = Some(lock);
            }
            std::mem::replace(&mut current.pool, reopened)
        };
        // Its connections still have the old inode open: closed once the calls on them end.
        tokio::spawn(async move { old.close().await });
        tracing::warn!(url = %kept.shown.url,
            "the database file was deleted or replaced under the daemon: recreated from the copy it had open");
        Ok(true)
    }
}

/// The device and inode of the file at `path`, `None` when there is none.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path)
        .ok()
        .map(|metadata| (metadata.dev(), metadata.ino()))
}

/// Two connections: the daemon's writes are serialised by SQLite anyway; the second lets a read
/// proceed alongside one.
fn pool_for(options: SqliteConnectOptions) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(2)
        .acquire_timeout(BUSY_TIMEOUT)
        .connect_lazy_with(options)
}

/// Opens `path`: for the daemon, takes the lock and creates or migrates the schema; for an editor,
/// creates or migrates the schema if it must, without the lock; read-only, checks that the schema
/// is there and current.
pub(crate) async fn open(path: &Path, access: Access, shown: &Shown) -> Result<SqliteDb, Error> {
    let lock = match access {
        Access::Daemon => Some(lock(path, shown)?),
        Access::ReadOnly | Access::Edit => None,
    };
    let options = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(BUSY_TIMEOUT);
    let options = match access {
        // A rollback journal, not WAL: WAL maps its index (PATH-shm) into the process's memory,
        // and another process truncating that file kills the daemon with SIGBUS (issue 28). WAL
        // under `locking_mode=EXCLUSIVE` keeps the index in the heap instead, but then no other
        // process may read the file, and `autoscaled status` reads it beside the daemon. A
        // rollback journal maps nothing (`mmap_size=0`: pages are read, not mapped either), and a
        // status read holds a shared lock only while it reads, which a write waits out (the busy
        // timeout). Writes are small and few (a state per decision, history once a minute), so
        // FULL, durable through a power cut in this mode, costs little.
        // A page cache of 512 KiB a connection, not SQLite's 2 MiB: the daemon appends a row an
        // app a minute and reads back little, and a cache that fills as the file grows is memory
        // growing for a quarter of an hour at 1,000 apps (the operating system caches the file
        // anyway).
        Access::Daemon => options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Delete)
            .synchronous(SqliteSynchronous::Full)
            .pragma("mmap_size", "0")
            .pragma("cache_size", "-512"),
        // An editor may be first (an override recorded before the daemon ever ran): it creates the
        // file as the daemon would, with SQLite's default rollback journal. Beside a running
        // daemon its few short writes take the file's lock for a moment, waiting at most the busy
        // timeout for the daemon's, which are short too.
        Access::Edit => options.create_if_missing(true),
        Access::ReadOnly => {
            if !path.exists() {
                return Err(Error::Open {
                    url: shown.url.clone(),
                    reason: format!(
                        "no database at {} (the daemon creates it at start)",
                        path.display()
                    ),
                });
            }
            options.read_only(true)
        }
    };

    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .map_err(|error| open_error(error, shown))?;
    let checked = match access {
        Access::Daemon => match migrate(&mut connection, shown).await {
            Ok(()) => lapse_dead_leases(&mut connection, shown).await,
            failed => failed,
        },
        // Most often the schema is current: then the editor only reads, and writes nothing.
        Access::Edit => match version(&mut connection, shown).await? {
            found if found == MIGRATIONS.latest() => Ok(()),
            _ => migrate(&mut connection, shown).await,
        },
        Access::ReadOnly => {
            let found = version(&mut connection, shown).await?;
            MIGRATIONS.check_current(found, shown)
        }
    };
    // Closing a connection that worked is a formality; what matters is `checked`.
    let _ = connection.close().await;
    checked?;

    let kept = match access {
        Access::Daemon => Some(Kept {
            path: path.to_owned(),
            options: options.clone(),
            shown: shown.clone(),
            file: Mutex::new(file_id(path)),
            restoring: tokio::sync::Mutex::new(()),
        }),
        Access::ReadOnly | Access::Edit => None,
    };
    Ok(SqliteDb {
        current: Mutex::new(Current {
            pool: pool_for(options),
            lock,
        }),
        kept,
    })
}

/// Lets every lease in the file lapse: this daemon holds the file's lock, so any lease still
/// running is a dead daemon's (killed before it released them), and its apps are this one's at
/// once rather than when those leases run out.
async fn lapse_dead_leases(connection: &mut SqliteConnection, shown: &Shown) -> Result<(), Error> {
    sqlx::query("UPDATE autoscaled_leases SET expires_at = ?1 WHERE expires_at > ?1")
        .bind(micros(Utc::now()))
        .execute(connection)
        .await
        .map_err(|error| open_error(error, shown))?;
    Ok(())
}

/// Opens a fresh database in memory, migrated: one connection, kept for the pool's whole life, so
/// every query sees the same database (each connection to `:memory:` would get its own).
pub(crate) async fn open_memory(shown: &Shown) -> Result<SqliteDb, Error> {
    let options = SqliteConnectOptions::new().in_memory(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(BUSY_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|error| open_error(error, shown))?;
    let mut connection = pool
        .acquire()
        .await
        .map_err(|error| open_error(error, shown))?;
    migrate(&mut connection, shown).await?;
    drop(connection);
    Ok(SqliteDb {
        current: Mutex::new(Current { pool, lock: None }),
        kept: None,
    })
}

/// Claims the database for this daemon: an exclusive `flock` on `PATH.lock`, held while the store
/// lives.
///
/// Not on the database file itself: SQLite locks it with POSIX `fcntl` locks, which the kernel
/// drops for the whole process as soon as *any* descriptor of that file is closed, so a descriptor
/// of our own on it would, when closed, silently release SQLite's locks (SQLite's "How To Corrupt
/// An SQLite Database File", 2.2). A separate file has no such interplay, and `flock` (unlike
/// `fcntl`) also refuses a second open within the same process. The lock file is left in place on
/// exit: deleting it would race with a daemon that has just opened it.
fn lock(path: &Path, shown: &Shown) -> Result<Claim, Error> {
    let lock_path = lock_path(path);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|error| Error::Open {
            url: shown.url.clone(),
            reason: format!(
                "cannot create its lock file {}: {error}",
                lock_path.display()
            ),
        })?;
    // Called by path: from Rust 1.89 std's own `File::try_lock` would shadow the trait's method.
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(Claim(file)),
        Err(fs4::TryLockError::WouldBlock) => Err(Error::Locked {
            path: path.to_owned(),
        }),
        Err(fs4::TryLockError::Error(error)) => Err(Error::Open {
            url: shown.url.clone(),
            reason: format!("cannot lock {}: {error}", lock_path.display()),
        }),
    }
}

/// `PATH.lock`, the daemon's claim on `PATH`.
fn lock_path(path: &Path) -> PathBuf {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    PathBuf::from(lock_path)
}

/// An error at open, told apart: a file that is not SQLite is not ours; the rest is "cannot open".
fn open_error(error: sqlx::Error, shown: &Shown) -> Error {
    if let sqlx::Error::Database(database) = &error
        && database.code().as_deref() == Some(SQLITE_NOTADB)
    {
        return Error::NotOurs {
            url: shown.url.clone(),
            reason: "the file is not an SQLite database".into(),
        };
    }
    Error::Open {
        url: shown.url.clone(),
        reason: shown.scrub(error),
    }
}

/// The schema version: 0 for an empty database, an error for another program's.
async fn version(connection: &mut SqliteConnection, shown: &Shown) -> Result<i64, Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(|error| open_error(error, shown))?;
    if !tables.iter().any(|table| table == "autoscaled_schema") {
        if tables.is_empty() {
            return Ok(0);
        }
        return Err(Error::NotOurs {
            url: shown.url.clone(),
            reason: format!(
                "an SQLite database of another program (tables {}), without autoscaled's schema",
                tables.join(", ")
            ),
        });
    }
    let version: Option<i64> = sqlx::query_scalar(SCHEMA_VERSION)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| open_error(error, shown))?;
    version.ok_or_else(|| Error::NotOurs {
        url: shown.url.clone(),
        reason: "its autoscaled_schema table holds no version".into(),
    })
}

/// Brings the schema to the latest version in one transaction: all of it or none. `IMMEDIATE`
/// takes the file's write lock before the version is read, so an editor and a daemon migrating at
/// once take turns (the second waits the busy timeout, then finds the schema made) rather than
/// both reading the old version and one failing when it comes to write.
async fn migrate(connection: &mut SqliteConnection, shown: &Shown) -> Result<(), Error> {
    let mut transaction = connection
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|error| open_error(error, shown))?;
    let found = version(&mut transaction, shown).await?;
    MIGRATIONS
        .apply::<Sqlite>(&mut transaction, found, shown)
        .await?;
    transaction
        .commit()
        .await
        .map_err(|error| MIGRATIONS.failed(MIGRATIONS.latest(), error, shown))
}

/// `sql` with the state's ten values bound as `$1` to `$10`.
fn bind_state<'q>(
    sql: &'q str,
    state: &'q AppState,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    sqlx::query(sql)
        .bind(&state.key.app)
        .bind(&state.key.process)
        .bind(i64::from(state.target))
        .bind(&state.reason)
        .bind(i64::from(state.baseline))
        .bind(state.actual.map(i64::from))
        .bind(state.outage_since.map(micros))
        .bind(&state.decider)
        .bind(&state.alerts)
        .bind(micros(state.updated_at))
}

fn key(row: &SqliteRow) -> Result<ProcessKey, Error> {
    Ok(ProcessKey::new(
        row.try_get::<String, _>("app")?,
        row.try_get::<String, _>("process")?,
    ))
}

/// An optional time SQLite kept.
fn time_opt(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>, Error> {
    row.try_get::<Option<i64>, _>(column)?
        .map(|at| from_micros(at, column))
        .transpose()
}

/// A time SQLite kept.
fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, Error> {
    from_micros(row.try_get(column)?, column)
}

fn app_state(row: &SqliteRow) -> Result<AppState, Error> {
    Ok(AppState {
        key: key(row)?,
        target: count(row.try_get("target")?, "target")?,
        reason: row.try_get("reason")?,
        baseline: count(row.try_get("baseline")?, "baseline")?,
        actual: count_opt(row.try_get("actual")?, "actual")?,
        outage_since: time_opt(row, "outage_since")?,
        decider: row.try_get("decider")?,
        alerts: row.try_get("alerts")?,
        updated_at: time(row, "updated_at")?,
    })
}

fn decision(row: &SqliteRow) -> Result<Decision, Error> {
    Ok(Decision {
        at: time(row, "at")?,
        key: key(row)?,
        from: count(row.try_get("from_count")?, "from_count")?,
        to: count(row.try_get("to_count")?, "to_count")?,
        reason: row.try_get("reason")?,
        kind: DecisionKind::parse(row.try_get("kind")?)?,
    })
}

fn history_row(row: &SqliteRow) -> Result<HistoryRow, Error> {
    Ok(HistoryRow {
        key: key(row)?,
        minute: time(row, "minute")?,
        latency_p50_ms: row.try_get("latency_p50_ms")?,
        latency_p95_ms: row.try_get("latency_p95_ms")?,
        latency_max_ms: row.try_get("latency_max_ms")?,
        probes: count(row.try_get("probes")?, "probes")?,
        probes_down: count(row.try_get("probes_down")?, "probes_down")?,
        probes_slow: count(row.try_get("probes_slow")?, "probes_slow")?,
        actual: count_opt(row.try_get("actual")?, "actual")?,
        target: count(row.try_get("target")?, "target")?,
        baseline: count(row.try_get("baseline")?, "baseline")?,
        requests: row
            .try_get::<Option<i64>, _>("requests")?
            .map(|requests| big_count(requests, "requests"))
            .transpose()?,
        in_flight: row.try_get("in_flight")?,
        queue_ready: row
            .try_get::<Option<i64>, _>("queue_ready")?
            .map(|jobs| big_count(jobs, "queue_ready"))
            .transpose()?,
        queue_busy: row
            .try_get::<Option<i64>, _>("queue_busy")?
            .map(|jobs| big_count(jobs, "queue_busy"))
            .transpose()?,
        queue_latency_ms: row.try_get("queue_latency_ms")?,
    })
}

fn stored_override(row: &SqliteRow) -> Result<Override, Error> {
    Ok(Override {
        id: row.try_get("id")?,
        spec: NewOverride {
            key: key(row)?,
            action: OverrideAction::parse(
                row.try_get("kind")?,
                [
                    row.try_get("quantity")?,
                    row.try_get("min_count")?,
                    row.try_get("max_count")?,
                ],
            )?,
            from: time(row, "from_at")?,
            until: time_opt(row, "until_at")?,
            reason: row.try_get("reason")?,
            by: row.try_get("created_by")?,
            created_at: time(row, "created_at")?,
        },
        ended_at: time_opt(row, "ended_at")?,
    })
}

fn lease(row: &SqliteRow, key: ProcessKey) -> Result<Lease, Error> {
    Ok(Lease {
        key,
        holder: row.try_get("holder")?,
        expires_at: time(row, "expires_at")?,
        generation: big_count(row.try_get("generation")?, "generation")?,
    })
}

fn instance(row: &SqliteRow) -> Result<Instance, Error> {
    Ok(Instance {
        instance_id: row.try_get("instance_id")?,
        last_seen: time(row, "last_seen")?,
    })
}

/// Leases and heartbeats: one daemon per SQLite file, so "the database's clock" is this machine's,
/// read here.
impl Backend for SqliteDb {
    async fn close(&self) {
        self.pool().close().await;
    }

    async fn save_app_state(&self, state: &AppState) -> Result<(), Error> {
        let sql = format!("{STATE_INSERT} VALUES ({STATE_VALUES}) {STATE_UPSERT}");
        bind_state(&sql, state).execute(&self.pool()).await?;
        Ok(())
    }

    async fn save_app_state_fenced(&self, state: &AppState, fence: &Fence) -> Result<bool, Error> {
        // `WHERE true` before `ON CONFLICT`: SQLite's parser needs it after an INSERT ... SELECT.
        let sql = format!(
            "{STATE_INSERT} SELECT {STATE_VALUES}
             WHERE EXISTS (SELECT 1 FROM autoscaled_leases
                           WHERE app = $1 AND process = $2 AND holder = $11 AND generation = $12)
               AND true
             {STATE_UPSERT}"
        );
        let written = bind_state(&sql, state)
            .bind(&fence.holder)
            .bind(to_i64(fence.generation))
            .execute(&self.pool())
            .await?
            .rows_affected();
        Ok(written > 0)
    }

    async fn app_state(&self, key: &ProcessKey) -> Result<Option<AppState>, Error> {
        sqlx::query(&format!("{STATE_SELECT} WHERE app = $1 AND process = $2"))
            .bind(&key.app)
            .bind(&key.process)
            .fetch_optional(&self.pool())
            .await?
            .as_ref()
            .map(app_state)
            .transpose()
    }

    async fn app_states(&self) -> Result<Vec<AppState>, Error> {
        sqlx::query(&format!("{STATE_SELECT} ORDER BY app, process"))
            .fetch_all(&self.pool())
            .await?
            .iter()
            .map(app_state)
            .collect()
    }

    async fn record_decision(&self, decision: &Decision) -> Result<(), Error> {
        sqlx::query(DECISION_INSERT)
            .bind(micros(decision.at))
            .bind(&decision.key.app)
            .bind(&decision.key.process)
            .bind(i64::from(decision.from))
            .bind(i64::from(decision.to))
            .bind(&decision.reason)
            .bind(decision.kind.as_str())
            .execute(&self.pool())
            .await?;
        Ok(())
    }

    async fn decisions(&self, app: &str, limit: u32) -> Result<Vec<Decision>, Error> {
        sqlx::query(DECISIONS_SELECT)
            .bind(app)
            .bind(i64::from(limit))
            .fetch_all(&self.pool())
            .await?
            .iter()
            .map(decision)
            .collect()
    }

    async fn write_history(&self, rows: &[HistoryRow]) -> Result<(), Error> {
        // One transaction for the batch: one journal and its fsyncs rather than one per row.
        let mut transaction = self.pool().begin().await?;
        for row in rows {
            sqlx::query(HISTORY_UPSERT)
                .bind(&row.key.app)
                .bind(&row.key.process)
                .bind(micros(minute_of(row.minute)))
                .bind(row.latency_p50_ms)
                .bind(row.latency_p95_ms)
                .bind(row.latency_max_ms)
                .bind(i64::from(row.probes))
                .bind(i64::from(row.probes_down))
                .bind(i64::from(row.probes_slow))
                .bind(row.actual.map(i64::from))
                .bind(i64::from(row.target))
                .bind(i64::from(row.baseline))
                .bind(row.requests.map(to_i64))
                .bind(row.in_flight)
                .bind(row.queue_ready.map(to_i64))
                .bind(row.queue_busy.map(to_i64))
                .bind(row.queue_latency_ms)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn history(
        &self,
        app: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<HistoryRow>, Error> {
        sqlx::query(HISTORY_SELECT)
            .bind(app)
            .bind(micros(since))
            .bind(micros(until))
            .fetch_all(&self.pool())
            .await?
            .iter()
            .map(history_row)
            .collect()
    }

    async fn prune(&self, older_than: DateTime<Utc>) -> Result<Pruned, Error> {
        let mut transaction = self.pool().begin().await?;
        let mut deleted = [0; PRUNE.len()];
        for (sql, deleted) in PRUNE.iter().zip(&mut deleted) {
            *deleted = sqlx::query(sql)
                .bind(micros(older_than))
                .execute(&mut *transaction)
                .await?
                .rows_affected();
        }
        transaction.commit().await?;
        let [decisions, history, instances, overrides] = deleted;
        Ok(Pruned {
            decisions,
            history,
            instances,
            overrides,
        })
    }

    async fn try_acquire(
        &self,
        key: &ProcessKey,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, Error> {
        let now = micros(Utc::now());
        sqlx::query(
            "INSERT INTO autoscaled_leases AS lease (app, process, holder, expires_at, generation)
             VALUES ($1, $2, $3, $5, 1)
             ON CONFLICT (app, process) DO UPDATE SET
                 holder = excluded.holder,
                 expires_at = excluded.expires_at,
                 generation = CASE WHEN lease.holder = excluded.holder AND lease.expires_at > $4
                                   THEN lease.generation ELSE lease.generation + 1 END
             WHERE lease.holder = excluded.holder OR lease.expires_at <= $4
             RETURNING holder, expires_at, generation",
        )
        .bind(&key.app)
        .bind(&key.process)
        .bind(holder)
        .bind(now)
        .bind(now.saturating_add(ttl_micros(ttl)))
        .fetch_optional(&self.pool())
        .await?
        .map(|row| lease(&row, key.clone()))
        .transpose()
    }

    async fn renew(&self, holder: &str, ttl: Duration) -> Result<Vec<ProcessKey>, Error> {
        let now = micros(Utc::now());
        let rows = sqlx::query(
            "UPDATE autoscaled_leases SET expires_at = $3
             WHERE holder = $1 AND expires_at > $2
             RETURNING app, process",
        )
        .bind(holder)
        .bind(now)
        .bind(now.saturating_add(ttl_micros(ttl)))
        .fetch_all(&self.pool())
        .await?;
        let mut keys = rows.iter().map(key).collect::<Result<Vec<_>, Error>>()?;
        keys.sort();
        Ok(keys)
    }

    async fn release(&self, holder: &str) -> Result<(), Error> {
        // The row stays, lapsed: deleting it would restart its generation at 1 and break fencing.
        sqlx::query(
            "UPDATE autoscaled_leases SET expires_at = $2 WHERE holder = $1 AND expires_at > $2",
        )
        .bind(holder)
        .bind(micros(Utc::now()))
        .execute(&self.pool())
        .await?;
        Ok(())
    }

    async fn release_one(&self, key: &ProcessKey, holder: &str) -> Result<(), Error> {
        sqlx::query(
            "UPDATE autoscaled_leases SET expires_at = $4
             WHERE app = $1 AND process = $2 AND holder = $3 AND expires_at > $4",
        )
        .bind(&key.app)
        .bind(&key.process)
        .bind(holder)
        .bind(micros(Utc::now()))
        .execute(&self.pool())
        .await?;
        Ok(())
    }

    async fn leases(&self) -> Result<Vec<Lease>, Error> {
        sqlx::query(
            "SELECT app, process, holder, expires_at, generation FROM autoscaled_leases
             WHERE expires_at > $1 ORDER BY app, process",
        )
        .bind(micros(Utc::now()))
        .fetch_all(&self.pool())
        .await?
        .iter()
        .map(|row| lease(row, key(row)?))
        .collect()
    }

    async fn leave(&self, instance_id: &str) -> Result<(), Error> {
        sqlx::query(INSTANCE_DELETE)
            .bind(instance_id)
            .execute(&self.pool())
            .await?;
        Ok(())
    }

    async fn heartbeat(&self, instance_id: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO autoscaled_instances (instance_id, last_seen) VALUES ($1, $2)
             ON CONFLICT (instance_id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(instance_id)
        .bind(micros(Utc::now()))
        .execute(&self.pool())
        .await?;
        Ok(())
    }

    async fn live_instances(&self, within: Duration) -> Result<Vec<Instance>, Error> {
        sqlx::query(
            "SELECT instance_id, last_seen FROM autoscaled_instances WHERE last_seen > $1
             ORDER BY instance_id",
        )
        .bind(micros(Utc::now()).saturating_sub(ttl_micros(within)))
        .fetch_all(&self.pool())
        .await?
        .iter()
        .map(instance)
        .collect()
    }

    async fn add_override(&self, new: &NewOverride) -> Result<Override, Error> {
        let [quantity, min, max] = new.action.counts();
        let row = sqlx::query(OVERRIDE_INSERT)
            .bind(new.action.kind())
            .bind(&new.key.app)
            .bind(&new.key.process)
            .bind(micros(new.from))
            .bind(new.until.map(micros))
            .bind(quantity)
            .bind(min)
            .bind(max)
            .bind(&new.reason)
            .bind(&new.by)
            .bind(micros(new.created_at))
            .fetch_one(&self.pool())
            .await?;
        Ok(Override {
            id: row.try_get("id")?,
            spec: new.clone(),
            ended_at: None,
        })
    }

    async fn current_overrides(&self, now: DateTime<Utc>) -> Result<Vec<Override>, Error> {
        sqlx::query(&format!("{OVERRIDE_SELECT} {OVERRIDES_CURRENT}"))
            .bind(micros(now))
            .fetch_all(&self.pool())
            .await?
            .iter()
            .map(stored_override)
            .collect()
    }

    async fn find_override(&self, id: i64) -> Result<Option<Override>, Error> {
        sqlx::query(&format!("{OVERRIDE_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool())
            .await?
            .as_ref()
            .map(stored_override)
            .transpose()
    }

    async fn end_override(&self, id: i64, at: DateTime<Utc>) -> Result<Option<Override>, Error> {
        let ended = sqlx::query(OVERRIDE_END)
            .bind(id)
            .bind(micros(at))
            .execute(&self.pool())
            .await?
            .rows_affected();
        if ended == 0 {
            return Ok(None);
        }
        self.find_override(id).await
    }
}
