//! The PostgreSQL backend: shared by a fleet, lease times on the server's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgQueryResult};
use sqlx::{Connection, Postgres};

use crate::backend::{Access, Backend, Clock, ClockSql, QueryOf};
use crate::error::Error;
use crate::schema::Migrations;
use crate::sql::SCHEMA_VERSION;
use crate::target::Shown;

/// The schema, one migration per version, applied in order.
const MIGRATIONS: Migrations = Migrations(&[
    include_str!("../migrations/postgres/0001_initial.sql"),
    include_str!("../migrations/postgres/0002_decision_kind.sql"),
    include_str!("../migrations/postgres/0003_overrides.sql"),
    include_str!("../migrations/postgres/0004_queue_history.sql"),
]);

/// Instances of a fleet starting together migrate one at a time: a transaction-scoped advisory
/// lock under this key (any constant of ours; "autoscaled" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x6175_746f_7363_616c;

/// How long opening may take before the server counts as unreachable: a refused connection fails
/// at once, this bounds a host that drops packets.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Heroku's smallest plans allow 20 connections for the whole fleet; the daemon's queries are few
/// and short.
const MAX_CONNECTIONS: u32 = 3;

/// The PostgreSQL side of a [`Store`](crate::Store): its pool (a clone shares it).
#[derive(Clone)]
pub(crate) struct PostgresDb {
    pool: PgPool,
}

/// Opens the server at `options`: for the daemon or an editor, creates or migrates the schema
/// (under the migration lock, so beside running daemons too); read-only, checks that it is there
/// and current.
pub(crate) async fn open(
    options: PgConnectOptions,
    access: Access,
    shown: &Shown,
) -> Result<PostgresDb, Error> {
    // A reader's sessions refuse writes, as a read-only SQLite file does.
    let options = match access {
        Access::Daemon | Access::Edit => options,
        Access::ReadOnly => options.options([("default_transaction_read_only", "on")]),
    };
    let unreachable = |reason: String| Error::Open {
        url: shown.url.clone(),
        reason,
    };
    // One connection of its own rather than the pool's first: the pool retries a failed connect
    // until its timeout and then reports only that it timed out; this reports why.
    let mut connection =
        tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|error| unreachable(shown.scrub(error)))?;
    let checked = match access {
        Access::Daemon | Access::Edit => migrate(&mut connection, shown).await,
        Access::ReadOnly => {
            let found = version(&mut connection, shown).await?;
            MIGRATIONS.check_current(found, shown)
        }
    };
    let _ = connection.close().await;
    checked?;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(CONNECT_TIMEOUT)
        // Idle connections go back to the fleet's shared allowance.
        .idle_timeout(Duration::from_secs(60))
        .connect_lazy_with(options);
    Ok(PostgresDb { pool })
}

/// The schema version: 0 without our marker table. Other tables are fine: a PostgreSQL database
/// may be shared, which is why ours are prefixed.
async fn version(connection: &mut PgConnection, shown: &Shown) -> Result<i64, Error> {
    let failed = |error: sqlx::Error| Error::Open {
        url: shown.url.clone(),
        reason: shown.scrub(error),
    };
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('autoscaled_schema') IS NOT NULL")
        .fetch_one(&mut *connection)
        .await
        .map_err(failed)?;
    if !exists {
        return Ok(0);
    }
    let version: Option<i64> = sqlx::query_scalar(SCHEMA_VERSION)
        .fetch_one(&mut *connection)
        .await
        .map_err(failed)?;
    version.ok_or_else(|| Error::NotOurs {
        url: shown.url.clone(),
        reason: "its autoscaled_schema table holds no version".into(),
    })
}

/// Brings the schema to the latest version in one transaction (PostgreSQL's DDL is
/// transactional): all of it or none.
async fn migrate(connection: &mut PgConnection, shown: &Shown) -> Result<(), Error> {
    let failed = |error| MIGRATIONS.failed(MIGRATIONS.latest(), error, shown);
    let mut transaction = connection.begin().await.map_err(failed)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *transaction)
        .await
        .map_err(failed)?;
    let found = version(&mut transaction, shown).await?;
    MIGRATIONS
        .apply::<Postgres>(&mut transaction, found, shown)
        .await?;
    transaction.commit().await.map_err(failed)
}

/// Leases and heartbeats: every time is the server's `clock_timestamp()` (the time of the
/// statement's execution, not of its transaction's start as `now()` would be), so the instances'
/// clocks never meet. Times are `timestamptz` columns, bound and read as such.
impl Backend for PostgresDb {
    type Db = Postgres;
    type Time = DateTime<Utc>;

    const CLOCK_SQL: ClockSql = ClockSql {
        // The row is locked by the upsert, so two instances racing for a lapsed lease are
        // serialised: the second sees the first's unexpired lease and gets no row back.
        acquire:
            "INSERT INTO autoscaled_leases AS lease (app, process, holder, expires_at, generation)
             VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4), 1)
             ON CONFLICT (app, process) DO UPDATE SET
                 holder = excluded.holder,
                 expires_at = excluded.expires_at,
                 generation = CASE WHEN lease.holder = excluded.holder
                                        AND lease.expires_at > clock_timestamp()
                                   THEN lease.generation ELSE lease.generation + 1 END
             WHERE lease.holder = excluded.holder OR lease.expires_at <= clock_timestamp()
             RETURNING holder, expires_at, generation",
        renew: "UPDATE autoscaled_leases
             SET expires_at = clock_timestamp() + make_interval(secs => $2)
             WHERE holder = $1 AND expires_at > clock_timestamp()
             RETURNING app, process",
        release: "UPDATE autoscaled_leases SET expires_at = clock_timestamp()
             WHERE holder = $1 AND expires_at > clock_timestamp()",
        release_one: "UPDATE autoscaled_leases SET expires_at = clock_timestamp()
             WHERE app = $1 AND process = $2 AND holder = $3 AND expires_at > clock_timestamp()",
        running: "SELECT app, process, holder, expires_at, generation FROM autoscaled_leases
             WHERE expires_at > clock_timestamp() ORDER BY app, process",
        heartbeat: "INSERT INTO autoscaled_instances (instance_id, last_seen)
             VALUES ($1, clock_timestamp())
             ON CONFLICT (instance_id) DO UPDATE SET last_seen = excluded.last_seen",
        live: "SELECT instance_id, last_seen FROM autoscaled_instances
             WHERE last_seen > clock_timestamp() - make_interval(secs => $1)
             ORDER BY instance_id",
        // FOR SHARE: a take-over committing while this runs is waited for and seen (the row is
        // re-read under the lock), so a stale write cannot slip in between the check and the
        // upsert.
        fenced: "WHERE EXISTS (SELECT 1 FROM autoscaled_leases
                           WHERE app = $1 AND process = $2 AND holder = $11 AND generation = $12
                           FOR SHARE)",
    };

    fn time(at: DateTime<Utc>) -> DateTime<Utc> {
        at
    }

    fn read_time(stored: DateTime<Utc>, _column: &str) -> Result<DateTime<Utc>, Error> {
        Ok(stored)
    }

    /// The server reads its own clock: only a duration is bound, in seconds.
    fn bind_clock<'q>(query: QueryOf<'q, Self>, clock: Clock) -> QueryOf<'q, Self> {
        match clock {
            Clock::Now => query,
            Clock::Until(ttl) => query.bind(ttl.as_secs_f64()),
            Clock::Since(within) => query.bind(within.as_secs_f64()),
        }
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn pool(&self) -> PgPool {
        self.pool.clone()
    }
}
