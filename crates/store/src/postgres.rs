//! The PostgreSQL backend: shared by a fleet, lease times on the server's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, Row};

use crate::backend::{Access, Backend};
use crate::convert::{big_count, count, count_opt, to_i64};
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

fn decision(row: &PgRow) -> Result<Decision, Error> {
    Ok(Decision {
        at: row.try_get("at")?,
        key: key(row)?,
        from: count(row.try_get("from_count")?, "from_count")?,
        to: count(row.try_get("to_count")?, "to_count")?,
        reason: row.try_get("reason")?,
        kind: DecisionKind::parse(row.try_get("kind")?)?,
    })
}

fn history_row(row: &PgRow) -> Result<HistoryRow, Error> {
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

fn lease(row: &PgRow, key: ProcessKey) -> Result<Lease, Error> {
    Ok(Lease {
        key,
        holder: row.try_get("holder")?,
        expires_at: row.try_get("expires_at")?,
        generation: big_count(row.try_get("generation")?, "generation")?,
    })
}

fn instance(row: &PgRow) -> Result<Instance, Error> {
    Ok(Instance {
        instance_id: row.try_get("instance_id")?,
        last_seen: row.try_get("last_seen")?,
    })
}

/// Leases and heartbeats: every time is the server's `clock_timestamp()` (the time of the
/// statement's execution, not of its transaction's start as `now()` would be), so the instances'
/// clocks never meet.
impl Backend for PostgresDb {
    async fn close(&self) {
        self.pool.close().await;
    }

    async fn save_app_state(&self, state: &AppState) -> Result<(), Error> {
        let sql = format!("{STATE_INSERT} VALUES ({STATE_VALUES}) {STATE_UPSERT}");
        bind_state(&sql, state).execute(&self.pool).await?;
        Ok(())
    }

    async fn save_app_state_fenced(&self, state: &AppState, fence: &Fence) -> Result<bool, Error> {
        // FOR SHARE: a take-over committing while this runs is waited for and seen (the row is
        // re-read under the lock), so a stale write cannot slip in between the check and the
        // upsert.
        let sql = format!(
            "{STATE_INSERT} SELECT {STATE_VALUES}
             WHERE EXISTS (SELECT 1 FROM autoscaled_leases
                           WHERE app = $1 AND process = $2 AND holder = $11 AND generation = $12
                           FOR SHARE)
             {STATE_UPSERT}"
        );
        let written = bind_state(&sql, state)
            .bind(&fence.holder)
            .bind(to_i64(fence.generation))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(written > 0)
    }

    async fn app_state(&self, key: &ProcessKey) -> Result<Option<AppState>, Error> {
        sqlx::query(&format!("{STATE_SELECT} WHERE app = $1 AND process = $2"))
            .bind(&key.app)
            .bind(&key.process)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(app_state)
            .transpose()
    }

    async fn app_states(&self) -> Result<Vec<AppState>, Error> {
        sqlx::query(&format!("{STATE_SELECT} ORDER BY app, process"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(app_state)
            .collect()
    }

    async fn record_decision(&self, decision: &Decision) -> Result<(), Error> {
        sqlx::query(DECISION_INSERT)
            .bind(decision.at)
            .bind(&decision.key.app)
            .bind(&decision.key.process)
            .bind(i64::from(decision.from))
            .bind(i64::from(decision.to))
            .bind(&decision.reason)
            .bind(decision.kind.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn decisions(&self, app: &str, limit: u32) -> Result<Vec<Decision>, Error> {
        sqlx::query(DECISIONS_SELECT)
            .bind(app)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decision)
            .collect()
    }

    async fn write_history(&self, rows: &[HistoryRow]) -> Result<(), Error> {
        // One transaction for the batch: one commit (one WAL flush) rather than one per row.
        let mut transaction = self.pool.begin().await?;
        for row in rows {
            sqlx::query(HISTORY_UPSERT)
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
            .bind(since)
            .bind(until)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(history_row)
            .collect()
    }

    async fn prune(&self, older_than: DateTime<Utc>) -> Result<Pruned, Error> {
        let mut transaction = self.pool.begin().await?;
        let mut deleted = [0; PRUNE.len()];
        for (sql, deleted) in PRUNE.iter().zip(&mut deleted) {
            *deleted = sqlx::query(sql)
                .bind(older_than)
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
        // The row is locked by the upsert, so two instances racing for a lapsed lease are
        // serialised: the second sees the first's unexpired lease and gets no row back.
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
        .fetch_optional(&self.pool)
        .await?
        .map(|row| lease(&row, key.clone()))
        .transpose()
    }

    async fn renew(&self, holder: &str, ttl: Duration) -> Result<Vec<ProcessKey>, Error> {
        let rows = sqlx::query(
            "UPDATE autoscaled_leases
             SET expires_at = clock_timestamp() + make_interval(secs => $2)
             WHERE holder = $1 AND expires_at > clock_timestamp()
             RETURNING app, process",
        )
        .bind(holder)
        .bind(ttl.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let mut keys = rows.iter().map(key).collect::<Result<Vec<_>, Error>>()?;
        keys.sort();
        Ok(keys)
    }

    async fn release(&self, holder: &str) -> Result<(), Error> {
        // The row stays, lapsed: deleting it would restart its generation at 1 and break fencing.
        sqlx::query(
            "UPDATE autoscaled_leases SET expires_at = clock_timestamp()
             WHERE holder = $1 AND expires_at > clock_timestamp()",
        )
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn release_one(&self, key: &ProcessKey, holder: &str) -> Result<(), Error> {
        sqlx::query(
            "UPDATE autoscaled_leases SET expires_at = clock_timestamp()
             WHERE app = $1 AND process = $2 AND holder = $3 AND expires_at > clock_timestamp()",
        )
        .bind(&key.app)
        .bind(&key.process)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn leases(&self) -> Result<Vec<Lease>, Error> {
        sqlx::query(
            "SELECT app, process, holder, expires_at, generation FROM autoscaled_leases
             WHERE expires_at > clock_timestamp() ORDER BY app, process",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| lease(row, key(row)?))
        .collect()
    }

    async fn leave(&self, instance_id: &str) -> Result<(), Error> {
        sqlx::query(INSTANCE_DELETE)
            .bind(instance_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn heartbeat(&self, instance_id: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO autoscaled_instances (instance_id, last_seen)
             VALUES ($1, clock_timestamp())
             ON CONFLICT (instance_id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(instance_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn live_instances(&self, within: Duration) -> Result<Vec<Instance>, Error> {
        sqlx::query(
            "SELECT instance_id, last_seen FROM autoscaled_instances
             WHERE last_seen > clock_timestamp() - make_interval(secs => $1)
             ORDER BY instance_id",
        )
        .bind(within.as_secs_f64())
        .fetch_all(&self.pool)
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
            .bind(new.from)
            .bind(new.until)
            .bind(quantity)
            .bind(min)
            .bind(max)
            .bind(&new.reason)
            .bind(&new.by)
            .bind(new.created_at)
            .fetch_one(&self.pool)
            .await?;
        Ok(Override {
            id: row.try_get("id")?,
            spec: new.clone(),
            ended_at: None,
        })
    }

    async fn current_overrides(&self, now: DateTime<Utc>) -> Result<Vec<Override>, Error> {
        sqlx::query(&format!("{OVERRIDE_SELECT} {OVERRIDES_CURRENT}"))
            .bind(now)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(stored_override)
            .collect()
    }

    async fn find_override(&self, id: i64) -> Result<Option<Override>, Error> {
        sqlx::query(&format!("{OVERRIDE_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(stored_override)
            .transpose()
    }

    async fn end_override(&self, id: i64, at: DateTime<Utc>) -> Result<Option<Override>, Error> {
        let ended = sqlx::query(OVERRIDE_END)
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if ended == 0 {
            return Ok(None);
        }
        self.find_override(id).await
    }
}
