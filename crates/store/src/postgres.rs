//! The PostgreSQL backend: shared by a fleet, lease times on the server's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};

use crate::convert::{big_count, count, count_opt, to_i64};
use crate::model::{Instance, minute_of};
use crate::store::{STATE_INSERT, STATE_UPSERT};
use crate::target::Shown;
use crate::{
    Access, AppState, Decision, DecisionKind, Error, Fence, HistoryRow, Lease, NewOverride,
    Override, OverrideAction, ProcessKey, Pruned,
};

/// The schema, one migration per version, applied in order.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_initial.sql"),
    include_str!("../migrations/postgres/0002_decision_kind.sql"),
    include_str!("../migrations/postgres/0003_overrides.sql"),
];

/// Instances of a fleet starting together migrate one at a time: a transaction-scoped advisory
/// lock under this key (any constant of ours; "autoscaled" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x6175_746f_7363_616c;

/// How long opening may take before the server counts as unreachable: a refused connection fails
/// at once, this bounds a host that drops packets.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Heroku's smallest plans allow 20 connections for the whole fleet; the daemon's queries are few
/// and short.
const MAX_CONNECTIONS: u32 = 3;

/// Opens the server at `options`: for the daemon, creates or migrates the schema; read-only,
/// checks that it is there and current.
pub(crate) async fn open(
    options: PgConnectOptions,
    access: Access,
    shown: &Shown,
) -> Result<PgPool, Error> {
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
        Access::Daemon => migrate(&mut connection, shown).await,
        Access::ReadOnly | Access::Edit => match version(&mut connection, shown).await? {
            found if found > latest() => Err(too_new(found, shown)),
            found if found < latest() => Err(Error::NotMigrated {
                url: shown.url.clone(),
                found,
                needed: latest(),
            }),
            _ => Ok(()),
        },
    };
    let _ = connection.close().await;
    checked?;
    Ok(PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(CONNECT_TIMEOUT)
        // Idle connections go back to the fleet's shared allowance.
        .idle_timeout(Duration::from_secs(60))
        .connect_lazy_with(options))
}

fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

fn too_new(found: i64, shown: &Shown) -> Error {
    Error::TooNew {
        url: shown.url.clone(),
        found,
        supported: latest(),
    }
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
    let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM autoscaled_schema")
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
    let failed = |version: i64| {
        move |error: sqlx::Error| Error::Migrate {
            url: shown.url.clone(),
            version,
            reason: shown.scrub(error),
        }
    };
    let mut transaction = connection.begin().await.map_err(failed(latest()))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *transaction)
        .await
        .map_err(failed(latest()))?;
    let found = version(&mut transaction, shown).await?;
    if found > latest() {
        return Err(too_new(found, shown));
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        sqlx::raw_sql(sql)
            .execute(&mut *transaction)
            .await
            .map_err(failed(version))?;
        sqlx::query("DELETE FROM autoscaled_schema")
            .execute(&mut *transaction)
            .await
            .map_err(failed(version))?;
        sqlx::query("INSERT INTO autoscaled_schema (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *transaction)
            .await
            .map_err(failed(version))?;
    }
    transaction.commit().await.map_err(failed(latest()))
}

/// `sql` with the state's ten values bound as `$1` to `$10`.
fn bind_state<'q>(
    sql: &'q str,
    state: &'q AppState,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(&state.key.app)
        .bind(&state.key.process)
        .bind(i64::from(state.target))
        .bind(&state.reason)
        .bind(i64::from(state.baseline))
        .bind(state.actual.map(i64::from))
        .bind(state.outage_since)
        .bind(&state.decider)
        .bind(&state.alerts)
        .bind(state.updated_at)
}

pub(crate) async fn save_app_state(pool: &PgPool, state: &AppState) -> Result<(), Error> {
    let sql =
        format!("{STATE_INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) {STATE_UPSERT}");
    bind_state(&sql, state).execute(pool).await?;
    Ok(())
}

pub(crate) async fn save_app_state_fenced(
    pool: &PgPool,
    state: &AppState,
    fence: &Fence,
) -> Result<bool, Error> {
    // FOR SHARE: a take-over committing while this runs is waited for and seen (the row is
    // re-read under the lock), so a stale write cannot slip in between the check and the upsert.
    let sql = format!(
        "{STATE_INSERT} SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
         WHERE EXISTS (SELECT 1 FROM autoscaled_leases
                       WHERE app = $1 AND process = $2 AND holder = $11 AND generation = $12
                       FOR SHARE)
         {STATE_UPSERT}"
    );
    let written = bind_state(&sql, state)
        .bind(&fence.holder)
        .bind(to_i64(fence.generation))
        .execute(pool)
        .await?
        .rows_affected();
    Ok(written > 0)
}

const APP_STATE_COLUMNS: &str = "SELECT app, process, target, reason, baseline, actual, outage_since, decider, alerts, updated_at FROM autoscaled_app_state";

fn key(row: &PgRow) -> Result<ProcessKey, Error> {
    Ok(ProcessKey::new(
        row.try_get::<String, _>("app")?,
        row.try_get::<String, _>("process")?,
    ))
}

fn app_state(row: &PgRow) -> Result<AppState, Error> {
    Ok(AppState {
        key: key(row)?,
        target: count(row.try_get("target")?, "target")?,
        reason: row.try_get("reason")?,
        baseline: count(row.try_get("baseline")?, "baseline")?,
        actual: count_opt(row.try_get("actual")?, "actual")?,
        outage_since: row.try_get("outage_since")?,
        decider: row.try_get("decider")?,
        alerts: row.try_get("alerts")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) async fn load_app_state(
    pool: &PgPool,
    key: &ProcessKey,
) -> Result<Option<AppState>, Error> {
    sqlx::query(&format!(
        "{APP_STATE_COLUMNS} WHERE app = $1 AND process = $2"
    ))
    .bind(&key.app)
    .bind(&key.process)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(app_state)
    .transpose()
}

pub(crate) async fn load_app_states(pool: &PgPool) -> Result<Vec<AppState>, Error> {
    sqlx::query(&format!("{APP_STATE_COLUMNS} ORDER BY app, process"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(app_state)
        .collect()
}

pub(crate) async fn record_decision(pool: &PgPool, decision: &Decision) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO autoscaled_decisions (at, app, process, from_count, to_count, reason, kind)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(decision.at)
    .bind(&decision.key.app)
    .bind(&decision.key.process)
    .bind(i64::from(decision.from))
    .bind(i64::from(decision.to))
    .bind(&decision.reason)
    .bind(decision.kind.as_str())
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn decisions(
    pool: &PgPool,
    app: &str,
    limit: u32,
) -> Result<Vec<Decision>, Error> {
    // `id` breaks ties between decisions of the same microsecond: the later insert is newer.
    sqlx::query(
        "SELECT at, app, process, from_count, to_count, reason, kind FROM autoscaled_decisions
         WHERE app = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(app)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok(Decision {
            at: row.try_get("at")?,
            key: key(row)?,
            from: count(row.try_get("from_count")?, "from_count")?,
            to: count(row.try_get("to_count")?, "to_count")?,
            reason: row.try_get("reason")?,
            kind: DecisionKind::parse(row.try_get("kind")?)?,
        })
    })
    .collect()
}

pub(crate) async fn write_history(pool: &PgPool, rows: &[HistoryRow]) -> Result<(), Error> {
    // One transaction for the batch: one commit (one WAL flush) rather than one per row.
    let mut transaction = pool.begin().await?;
    for row in rows {
        sqlx::query(
            "INSERT INTO autoscaled_history
                 (app, process, minute, latency_p50_ms, latency_p95_ms, latency_max_ms, probes,
                  probes_down, probes_slow, actual, target, baseline, requests, in_flight)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (app, minute, process) DO UPDATE SET
                 latency_p50_ms = excluded.latency_p50_ms, latency_p95_ms = excluded.latency_p95_ms,
                 latency_max_ms = excluded.latency_max_ms, probes = excluded.probes,
                 probes_down = excluded.probes_down, probes_slow = excluded.probes_slow,
                 actual = excluded.actual, target = excluded.target, baseline = excluded.baseline,
                 requests = excluded.requests, in_flight = excluded.in_flight",
        )
        .bind(&row.key.app)
        .bind(&row.key.process)
        .bind(minute_of(row.minute))
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
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await?;
    Ok(())
}

pub(crate) async fn history(
    pool: &PgPool,
    app: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<HistoryRow>, Error> {
    sqlx::query(
        "SELECT app, process, minute, latency_p50_ms, latency_p95_ms, latency_max_ms, probes,
                probes_down, probes_slow, actual, target, baseline, requests, in_flight
         FROM autoscaled_history WHERE app = $1 AND minute >= $2 AND minute < $3
         ORDER BY minute, process",
    )
    .bind(app)
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok(HistoryRow {
            key: key(row)?,
            minute: row.try_get("minute")?,
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
        })
    })
    .collect()
}

pub(crate) async fn prune(pool: &PgPool, older_than: DateTime<Utc>) -> Result<Pruned, Error> {
    let mut transaction = pool.begin().await?;
    let deleted = |sql: &'static str| sqlx::query(sql).bind(older_than);
    let decisions = deleted("DELETE FROM autoscaled_decisions WHERE at < $1")
        .execute(&mut *transaction)
        .await?
        .rows_affected();
    let history = deleted("DELETE FROM autoscaled_history WHERE minute < $1")
        .execute(&mut *transaction)
        .await?
        .rows_affected();
    let instances = deleted("DELETE FROM autoscaled_instances WHERE last_seen < $1")
        .execute(&mut *transaction)
        .await?
        .rows_affected();
    let overrides =
        deleted("DELETE FROM autoscaled_overrides WHERE coalesce(ended_at, until_at) < $1")
            .execute(&mut *transaction)
            .await?
            .rows_affected();
    transaction.commit().await?;
    Ok(Pruned {
        decisions,
        history,
        instances,
        overrides,
    })
}

// Overrides and pauses.

const OVERRIDE_COLUMNS: &str =
    "SELECT id, kind, app, process, from_at, until_at, quantity, min_count, max_count,
            reason, created_by, created_at, ended_at FROM autoscaled_overrides";

fn stored_override(row: &PgRow) -> Result<Override, Error> {
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
            from: row.try_get("from_at")?,
            until: row.try_get("until_at")?,
            reason: row.try_get("reason")?,
            by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
        },
        ended_at: row.try_get("ended_at")?,
    })
}

pub(crate) async fn add_override(pool: &PgPool, new: &NewOverride) -> Result<Override, Error> {
    let [quantity, min, max] = new.action.counts();
    let row = sqlx::query(
        "INSERT INTO autoscaled_overrides
             (kind, app, process, from_at, until_at, quantity, min_count, max_count, reason,
              created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING id",
    )
    .bind(new.action.kind())
    .bind(&new.key.app)
    .bind(&new.key.process)
    .bind(new.from)
    .bind(new.until)
    .bind(quantity)
    .bind(min)
    .bind(max)
    .bind(&new.reason)
    .bind(&new.by)
    .bind(new.created_at)
    .fetch_one(pool)
    .await?;
    Ok(Override {
        id: row.try_get("id")?,
        spec: new.clone(),
        ended_at: None,
    })
}

pub(crate) async fn current_overrides(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<Vec<Override>, Error> {
    sqlx::query(&format!(
        "{OVERRIDE_COLUMNS}
         WHERE (ended_at IS NULL OR ended_at > $1) AND (until_at IS NULL OR until_at > $1)
         ORDER BY created_at, id"
    ))
    .bind(now)
    .fetch_all(pool)
    .await?
    .iter()
    .map(stored_override)
    .collect()
}

pub(crate) async fn find_override(pool: &PgPool, id: i64) -> Result<Option<Override>, Error> {
    sqlx::query(&format!("{OVERRIDE_COLUMNS} WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(stored_override)
        .transpose()
}

pub(crate) async fn end_override(
    pool: &PgPool,
    id: i64,
    at: DateTime<Utc>,
) -> Result<Option<Override>, Error> {
    let ended = sqlx::query(
        "UPDATE autoscaled_overrides SET ended_at = $2
         WHERE id = $1 AND ended_at IS NULL AND (until_at IS NULL OR until_at > $2)",
    )
    .bind(id)
    .bind(at)
    .execute(pool)
    .await?
    .rows_affected();
    if ended == 0 {
        return Ok(None);
    }
    find_override(pool, id).await
}

// Leases: every time is the server's `clock_timestamp()` (the time of the statement's execution,
// not of its transaction's start as `now()` would be), so the instances' clocks never meet.

fn lease(row: &PgRow, key: ProcessKey) -> Result<Lease, Error> {
    Ok(Lease {
        key,
        holder: row.try_get("holder")?,
        expires_at: row.try_get("expires_at")?,
        generation: big_count(row.try_get("generation")?, "generation")?,
    })
}

pub(crate) async fn try_acquire(
    pool: &PgPool,
    key: &ProcessKey,
    holder: &str,
    ttl: Duration,
) -> Result<Option<Lease>, Error> {
    // The row is locked by the upsert, so two instances racing for a lapsed lease are serialised:
    // the second sees the first's unexpired lease and gets no row back.
    sqlx::query(
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
    )
    .bind(&key.app)
    .bind(&key.process)
    .bind(holder)
    .bind(ttl.as_secs_f64())
    .fetch_optional(pool)
    .await?
    .map(|row| lease(&row, key.clone()))
    .transpose()
}

pub(crate) async fn renew(
    pool: &PgPool,
    holder: &str,
    ttl: Duration,
) -> Result<Vec<ProcessKey>, Error> {
    let rows = sqlx::query(
        "UPDATE autoscaled_leases SET expires_at = clock_timestamp() + make_interval(secs => $2)
         WHERE holder = $1 AND expires_at > clock_timestamp()
         RETURNING app, process",
    )
    .bind(holder)
    .bind(ttl.as_secs_f64())
    .fetch_all(pool)
    .await?;
    let mut keys = rows.iter().map(key).collect::<Result<Vec<_>, Error>>()?;
    keys.sort();
    Ok(keys)
}

pub(crate) async fn release(pool: &PgPool, holder: &str) -> Result<(), Error> {
    // The row stays, lapsed: deleting it would restart its generation at 1 and break fencing.
    sqlx::query(
        "UPDATE autoscaled_leases SET expires_at = clock_timestamp()
         WHERE holder = $1 AND expires_at > clock_timestamp()",
    )
    .bind(holder)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn release_one(
    pool: &PgPool,
    key: &ProcessKey,
    holder: &str,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE autoscaled_leases SET expires_at = clock_timestamp()
         WHERE app = $1 AND process = $2 AND holder = $3 AND expires_at > clock_timestamp()",
    )
    .bind(&key.app)
    .bind(&key.process)
    .bind(holder)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn leases(pool: &PgPool) -> Result<Vec<Lease>, Error> {
    sqlx::query(
        "SELECT app, process, holder, expires_at, generation FROM autoscaled_leases
         WHERE expires_at > clock_timestamp() ORDER BY app, process",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| lease(row, key(row)?))
    .collect()
}

pub(crate) async fn leave(pool: &PgPool, instance_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM autoscaled_instances WHERE instance_id = $1")
        .bind(instance_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn heartbeat(pool: &PgPool, instance_id: &str) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO autoscaled_instances (instance_id, last_seen) VALUES ($1, clock_timestamp())
         ON CONFLICT (instance_id) DO UPDATE SET last_seen = excluded.last_seen",
    )
    .bind(instance_id)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn live_instances(
    pool: &PgPool,
    within: Duration,
) -> Result<Vec<Instance>, Error> {
    sqlx::query(
        "SELECT instance_id, last_seen FROM autoscaled_instances
         WHERE last_seen > clock_timestamp() - make_interval(secs => $1)
         ORDER BY instance_id",
    )
    .bind(within.as_secs_f64())
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok(Instance {
            instance_id: row.try_get("instance_id")?,
            last_seen: row.try_get("last_seen")?,
        })
    })
    .collect()
}
