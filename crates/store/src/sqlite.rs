//! The SQLite backend: one daemon per file, a lock file beside it, times in microseconds.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteQueryResult, SqliteSynchronous,
};
use sqlx::{Connection, Sqlite};

use crate::backend::{Access, Backend, Clock, ClockSql, QueryOf};
use crate::convert::{from_micros, micros, ttl_micros};
use crate::error::Error;
use crate::schema::Migrations;
use crate::sql::SCHEMA_VERSION;
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
    /// The pool's: the file must exist (see [`open`]).
    options: SqliteConnectOptions,
    shown: Shown,
    /// The device and inode of the file the pool has open.
    file: Mutex<Option<(u64, u64)>>,
    /// A connection kept open on that file for the copy a restore makes: after the file is
    /// deleted, only a connection opened before holds the data (its inode lives on while open),
    /// and the pool may have closed or replaced its own. Locked while the file is put back: the
    /// writer and the fleet coordinator both look, and one copy is made.
    anchor: tokio::sync::Mutex<SqliteConnection>,
}

impl SqliteDb {
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
        let mut anchor = kept.anchor.lock().await;
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
            .execute(&mut *anchor)
            .await
            .map_err(|error| failed(kept.shown.scrub(error)))?;
        // Moved in whole: a reader never sees a half-written file at the path.
        std::fs::rename(&restoring, &kept.path)
            .map_err(|error| failed(format!("cannot move the copy into place: {error}")))?;
        *kept.file.lock().unwrap_or_else(PoisonError::into_inner) = file_id(&kept.path);
        let moved_anchor = SqliteConnection::connect_with(&kept.options)
            .await
            .map_err(|error| failed(kept.shown.scrub(error)))?;
        let old_anchor = std::mem::replace(&mut *anchor, moved_anchor);
        let reopened = pool_for(kept.options.clone());
        let old = {
            let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(lock) = lock {
                current.lock = Some(lock);
            }
            std::mem::replace(&mut current.pool, reopened)
        };
        // Its connections still have the old inode open: closed once the calls on them end.
        tokio::spawn(async move {
            old.close().await;
            let _ = old_anchor.close().await;
        });
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
    if let Err(error) = checked {
        // Closing a connection that worked is a formality; what matters is the error.
        let _ = connection.close().await;
        return Err(error);
    }

    let (kept, options) = match access {
        Access::Daemon => {
            // The file exists now. A connection the pool opens later must not create it again:
            // deleted under the daemon, an empty file in its place would take the writes, and a
            // restore could copy that instead of the data. Such a write fails instead, and is
            // made again once the file is back.
            let options = options.create_if_missing(false);
            let kept = Kept {
                path: path.to_owned(),
                options: options.clone(),
                shown: shown.clone(),
                file: Mutex::new(file_id(path)),
                anchor: tokio::sync::Mutex::new(connection),
            };
            (Some(kept), options)
        }
        Access::ReadOnly | Access::Edit => {
            let _ = connection.close().await;
            (None, options)
        }
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

/// Leases and heartbeats: one daemon per SQLite file, so "the database's clock" is this machine's,
/// read here. Times are integer columns of microseconds since the epoch.
impl Backend for SqliteDb {
    type Db = Sqlite;
    type Time = i64;

    const CLOCK_SQL: ClockSql = ClockSql {
        acquire:
            "INSERT INTO autoscaled_leases AS lease (app, process, holder, expires_at, generation)
             VALUES ($1, $2, $3, $5, 1)
             ON CONFLICT (app, process) DO UPDATE SET
                 holder = excluded.holder,
                 expires_at = excluded.expires_at,
                 generation = CASE WHEN lease.holder = excluded.holder AND lease.expires_at > $4
                                   THEN lease.generation ELSE lease.generation + 1 END
             WHERE lease.holder = excluded.holder OR lease.expires_at <= $4
             RETURNING holder, expires_at, generation",
        renew: "UPDATE autoscaled_leases SET expires_at = $3
             WHERE holder = $1 AND expires_at > $2
             RETURNING app, process",
        release: "UPDATE autoscaled_leases SET expires_at = $2 WHERE holder = $1 AND expires_at > $2",
        release_one: "UPDATE autoscaled_leases SET expires_at = $4
             WHERE app = $1 AND process = $2 AND holder = $3 AND expires_at > $4",
        running: "SELECT app, process, holder, expires_at, generation FROM autoscaled_leases
             WHERE expires_at > $1 ORDER BY app, process",
        heartbeat: "INSERT INTO autoscaled_instances (instance_id, last_seen) VALUES ($1, $2)
             ON CONFLICT (instance_id) DO UPDATE SET last_seen = excluded.last_seen",
        live: "SELECT instance_id, last_seen FROM autoscaled_instances WHERE last_seen > $1
             ORDER BY instance_id",
        // No row lock: one daemon writes the file, and SQLite serialises its writes anyway.
        // `AND true` before `ON CONFLICT`: SQLite's parser needs it after an INSERT ... SELECT.
        fenced: "WHERE EXISTS (SELECT 1 FROM autoscaled_leases
                           WHERE app = $1 AND process = $2 AND holder = $11 AND generation = $12)
               AND true",
    };

    fn time(at: DateTime<Utc>) -> i64 {
        micros(at)
    }

    fn read_time(stored: i64, column: &str) -> Result<DateTime<Utc>, Error> {
        from_micros(stored, column)
    }

    /// This machine's clock, read now and bound as times.
    fn bind_clock<'q>(query: QueryOf<'q, Self>, clock: Clock) -> QueryOf<'q, Self> {
        let now = micros(Utc::now());
        match clock {
            Clock::Now => query.bind(now),
            Clock::Until(ttl) => query.bind(now).bind(now.saturating_add(ttl_micros(ttl))),
            Clock::Since(within) => query.bind(now.saturating_sub(ttl_micros(within))),
        }
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    /// The pool as it stands: a call in flight keeps the one it took while the file is put back.
    fn pool(&self) -> SqlitePool {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pool
            .clone()
    }
}
