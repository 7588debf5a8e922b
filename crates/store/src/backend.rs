//! What a backend is: how a process uses the store ([`Access`]) and the one trait both databases
//! implement ([`Backend`]). Its provided methods are the store's queries, written once over
//! `sqlx`'s generic [`Database`]; a backend supplies only what its dialect does differently: how a
//! time is stored, the clock leases run on, the fenced write's row lock, and its pool.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use crate::convert::{big_count, count, count_opt, to_i64};
use crate::error::Error;
use crate::model::{
    AppState, Decision, DecisionKind, Fence, HistoryRow, Instance, Lease, NewOverride, Override,
    OverrideAction, ProcessKey, Pruned, minute_of,
};
use crate::sql::{
    DECISION_INSERT, DECISIONS_SELECT, HISTORY_SELECT, HISTORY_UPSERT, INSTANCE_DELETE,
    OVERRIDE_END, OVERRIDE_INSERT, OVERRIDE_SELECT, OVERRIDES_CURRENT, PRUNE, STATE_INSERT,
    STATE_SELECT, STATE_UPSERT, STATE_VALUES,
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

/// The statements that read the database's clock (leases and heartbeats), and the fenced state
/// write, in one dialect. Each takes its own values first (`$1`, ...), then what
/// [`Backend::bind_clock`] binds for the [`Clock`] named in its doc.
pub(crate) struct ClockSql {
    /// Takes or extends lease `$1`/`$2` for holder `$3`, returning `holder, expires_at,
    /// generation`, or no row while another holder's runs. [`Clock::Until`] the TTL.
    pub(crate) acquire: &'static str,
    /// Extends holder `$1`'s running leases, returning their `app, process`. [`Clock::Until`].
    pub(crate) renew: &'static str,
    /// Lets holder `$1`'s leases lapse. [`Clock::Now`].
    pub(crate) release: &'static str,
    /// Lets holder `$3`'s lease `$1`/`$2` lapse. [`Clock::Now`].
    pub(crate) release_one: &'static str,
    /// The running leases: `app, process, holder, expires_at, generation`. [`Clock::Now`].
    pub(crate) running: &'static str,
    /// Records instance `$1` alive. [`Clock::Now`].
    pub(crate) heartbeat: &'static str,
    /// `instance_id, last_seen` of those seen since. [`Clock::Since`] the window.
    pub(crate) live: &'static str,
    /// Between the state's values and [`STATE_UPSERT`]: `WHERE EXISTS` a lease of
    /// `$1`/`$2` with holder `$11` and generation `$12`. No clock.
    pub(crate) fenced: &'static str,
}

/// Which times on the database's clock a [`ClockSql`] statement reads.
#[derive(Clone, Copy)]
pub(crate) enum Clock {
    /// Now.
    Now,
    /// Now, and a lease's TTL from now.
    Until(Duration),
    /// A window's start: this long before now.
    Since(Duration),
}

/// A row of backend `B`'s database.
type RowOf<B> = <<B as Backend>::Db as Database>::Row;

/// A statement of backend `B`'s database, with values bound.
pub(crate) type QueryOf<'q, B> =
    Query<'q, <B as Backend>::Db, <<B as Backend>::Db as Database>::Arguments<'q>>;

/// One database: what its dialect does differently (the required items), and every
/// [`Store`](crate::Store) call written once on top (the provided methods, each the `Store` method
/// of the same name, whose docs say what it does).
///
/// The `where` clause says which Rust types the shared queries bind and read; SQLite and
/// PostgreSQL both take them all, and an implementation is checked against it once.
pub(crate) trait Backend: Sync
where
    for<'c> &'c mut <Self::Db as Database>::Connection: Executor<'c, Database = Self::Db>,
    for<'q> <Self::Db as Database>::Arguments<'q>: IntoArguments<'q, Self::Db>,
    for<'s> &'s str: ColumnIndex<RowOf<Self>> + Encode<'s, Self::Db> + Type<Self::Db>,
    for<'v> String: Encode<'v, Self::Db> + Decode<'v, Self::Db> + Type<Self::Db>,
    for<'v> i64: Encode<'v, Self::Db> + Decode<'v, Self::Db> + Type<Self::Db>,
    for<'v> f64: Encode<'v, Self::Db> + Decode<'v, Self::Db> + Type<Self::Db>,
    // Each driver encodes `None` itself: no blanket `Encode` for `Option`.
    for<'v> Option<i64>: Encode<'v, Self::Db>,
    for<'v> Option<f64>: Encode<'v, Self::Db>,
    for<'v> Option<Self::Time>: Encode<'v, Self::Db>,
{
    /// The `sqlx` database.
    type Db: Database;

    /// How a time is kept in a column.
    type Time: for<'v> Encode<'v, Self::Db>
        + for<'v> Decode<'v, Self::Db>
        + Type<Self::Db>
        + Send
        + Sync
        + 'static;

    /// The statements on this dialect's clock.
    const CLOCK_SQL: ClockSql;

    /// `at` as a column keeps it.
    fn time(at: DateTime<Utc>) -> Self::Time;

    /// A time `column` kept, or [`Error::Corrupt`] naming it.
    fn read_time(stored: Self::Time, column: &str) -> Result<DateTime<Utc>, Error>;

    /// Binds what a [`ClockSql`] statement reads of `clock`, after its own values.
    fn bind_clock<'q>(query: QueryOf<'q, Self>, clock: Clock) -> QueryOf<'q, Self>;

    /// How many rows a statement wrote or deleted.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;

    /// The pool as it stands (a clone shares its connections).
    fn pool(&self) -> Pool<Self::Db>;

    async fn close(&self) {
        self.pool().close().await;
    }

    async fn save_app_state(&self, state: &AppState) -> Result<(), Error> {
        let sql = format!("{STATE_INSERT} VALUES ({STATE_VALUES}) {STATE_UPSERT}");
        Self::bind_state(&sql, state).execute(&self.pool()).await?;
        Ok(())
    }

    async fn save_app_state_fenced(&self, state: &AppState, fence: &Fence) -> Result<bool, Error> {
        let sql = format!(
            "{STATE_INSERT} SELECT {STATE_VALUES} {} {STATE_UPSERT}",
            Self::CLOCK_SQL.fenced
        );
        let done = Self::bind_state(&sql, state)
            .bind(fence.holder.as_str())
            .bind(to_i64(fence.generation))
            .execute(&self.pool())
            .await?;
        Ok(Self::rows_affected(&done) > 0)
    }

    async fn app_state(&self, key: &ProcessKey) -> Result<Option<AppState>, Error> {
        sqlx::query(&format!("{STATE_SELECT} WHERE app = $1 AND process = $2"))
            .bind(key.app.as_str())
            .bind(key.process.as_str())
            .fetch_optional(&self.pool())
            .await?
            .as_ref()
            .map(Self::read_app_state)
            .transpose()
    }

    async fn app_states(&self) -> Result<Vec<AppState>, Error> {
        sqlx::query(&format!("{STATE_SELECT} ORDER BY app, process"))
            .fetch_all(&self.pool())
            .await?
            .iter()
            .map(Self::read_app_state)
            .collect()
    }

    async fn record_decision(&self, decision: &Decision) -> Result<(), Error> {
        sqlx::query(DECISION_INSERT)
            .bind(Self::time(decision.at))
            .bind(decision.key.app.as_str())
            .bind(decision.key.process.as_str())
            .bind(i64::from(decision.from))
            .bind(i64::from(decision.to))
            .bind(decision.reason.as_str())
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
            .map(Self::read_decision)
            .collect()
    }

    /// `rows` is not empty.
    async fn write_history(&self, rows: &[HistoryRow]) -> Result<(), Error> {
        // One transaction for the batch: one commit (one journal or WAL flush) rather than one per
        // row.
        let mut transaction = self.pool().begin().await?;
        for row in rows {
            sqlx::query(HISTORY_UPSERT)
                .bind(row.key.app.as_str())
                .bind(row.key.process.as_str())
                .bind(Self::time(minute_of(row.minute)))
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
            .bind(Self::time(since))
            .bind(Self::time(until))
            .fetch_all(&self.pool())
            .await?
            .iter()
            .map(Self::read_history_row)
            .collect()
    }

    async fn prune(&self, older_than: DateTime<Utc>) -> Result<Pruned, Error> {
        let mut transaction = self.pool().begin().await?;
        let mut deleted = [0; PRUNE.len()];
        for (sql, deleted) in PRUNE.iter().zip(&mut deleted) {
            let done = sqlx::query(sql)
                .bind(Self::time(older_than))
                .execute(&mut *transaction)
                .await?;
            *deleted = Self::rows_affected(&done);
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
        let query = sqlx::query(Self::CLOCK_SQL.acquire)
            .bind(key.app.as_str())
            .bind(key.process.as_str())
            .bind(holder);
        Self::bind_clock(query, Clock::Until(ttl))
            .fetch_optional(&self.pool())
            .await?
            .map(|row| Self::read_lease(&row, key.clone()))
            .transpose()
    }

    async fn renew(&self, holder: &str, ttl: Duration) -> Result<Vec<ProcessKey>, Error> {
        let query = sqlx::query(Self::CLOCK_SQL.renew).bind(holder);
        let rows = Self::bind_clock(query, Clock::Until(ttl))
            .fetch_all(&self.pool())
            .await?;
        let mut keys = rows
            .iter()
            .map(Self::read_key)
            .collect::<Result<Vec<_>, Error>>()?;
        keys.sort();
        Ok(keys)
    }

    async fn release(&self, holder: &str) -> Result<(), Error> {
        // The row stays, lapsed: deleting it would restart its generation at 1 and break fencing.
        let query = sqlx::query(Self::CLOCK_SQL.release).bind(holder);
        Self::bind_clock(query, Clock::Now)
            .execute(&self.pool())
            .await?;
        Ok(())
    }

    async fn release_one(&self, key: &ProcessKey, holder: &str) -> Result<(), Error> {
        let query = sqlx::query(Self::CLOCK_SQL.release_one)
            .bind(key.app.as_str())
            .bind(key.process.as_str())
            .bind(holder);
        Self::bind_clock(query, Clock::Now)
            .execute(&self.pool())
            .await?;
        Ok(())
    }

    async fn leases(&self) -> Result<Vec<Lease>, Error> {
        Self::bind_clock(sqlx::query(Self::CLOCK_SQL.running), Clock::Now)
            .fetch_all(&self.pool())
            .await?
            .iter()
            .map(|row| Self::read_lease(row, Self::read_key(row)?))
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
        let query = sqlx::query(Self::CLOCK_SQL.heartbeat).bind(instance_id);
        Self::bind_clock(query, Clock::Now)
            .execute(&self.pool())
            .await?;
        Ok(())
    }

    async fn live_instances(&self, within: Duration) -> Result<Vec<Instance>, Error> {
        Self::bind_clock(sqlx::query(Self::CLOCK_SQL.live), Clock::Since(within))
            .fetch_all(&self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(Instance {
                    instance_id: row.try_get("instance_id")?,
                    last_seen: Self::read_time(row.try_get("last_seen")?, "last_seen")?,
                })
            })
            .collect()
    }

    async fn add_override(&self, new: &NewOverride) -> Result<Override, Error> {
        let [quantity, min, max] = new.action.counts();
        let row = sqlx::query(OVERRIDE_INSERT)
            .bind(new.action.kind())
            .bind(new.key.app.as_str())
            .bind(new.key.process.as_str())
            .bind(Self::time(new.from))
            .bind(new.until.map(Self::time))
            .bind(quantity)
            .bind(min)
            .bind(max)
            .bind(new.reason.as_str())
            .bind(new.by.as_str())
            .bind(Self::time(new.created_at))
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
            .bind(Self::time(now))
            .fetch_all(&self.pool())
            .await?
            .iter()
            .map(Self::read_override)
            .collect()
    }

    async fn find_override(&self, id: i64) -> Result<Option<Override>, Error> {
        sqlx::query(&format!("{OVERRIDE_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool())
            .await?
            .as_ref()
            .map(Self::read_override)
            .transpose()
    }

    async fn end_override(&self, id: i64, at: DateTime<Utc>) -> Result<Option<Override>, Error> {
        let done = sqlx::query(OVERRIDE_END)
            .bind(id)
            .bind(Self::time(at))
            .execute(&self.pool())
            .await?;
        if Self::rows_affected(&done) == 0 {
            return Ok(None);
        }
        self.find_override(id).await
    }

    // Rows read back, the same for both dialects but for the time columns.

    /// An optional time `column` kept.
    fn read_time_opt(row: &RowOf<Self>, column: &str) -> Result<Option<DateTime<Utc>>, Error> {
        row.try_get::<Option<Self::Time>, _>(column)?
            .map(|at| Self::read_time(at, column))
            .transpose()
    }

    /// A time `column` kept.
    fn read_time_at(row: &RowOf<Self>, column: &str) -> Result<DateTime<Utc>, Error> {
        Self::read_time(row.try_get(column)?, column)
    }

    fn read_key(row: &RowOf<Self>) -> Result<ProcessKey, Error> {
        Ok(ProcessKey::new(
            row.try_get::<String, _>("app")?,
            row.try_get::<String, _>("process")?,
        ))
    }

    fn read_app_state(row: &RowOf<Self>) -> Result<AppState, Error> {
        Ok(AppState {
            key: Self::read_key(row)?,
            target: count(row.try_get("target")?, "target")?,
            reason: row.try_get("reason")?,
            baseline: count(row.try_get("baseline")?, "baseline")?,
            actual: count_opt(row.try_get("actual")?, "actual")?,
            outage_since: Self::read_time_opt(row, "outage_since")?,
            decider: row.try_get("decider")?,
            alerts: row.try_get("alerts")?,
            updated_at: Self::read_time_at(row, "updated_at")?,
        })
    }

    fn read_decision(row: &RowOf<Self>) -> Result<Decision, Error> {
        Ok(Decision {
            at: Self::read_time_at(row, "at")?,
            key: Self::read_key(row)?,
            from: count(row.try_get("from_count")?, "from_count")?,
            to: count(row.try_get("to_count")?, "to_count")?,
            reason: row.try_get("reason")?,
            kind: DecisionKind::parse(&row.try_get::<String, _>("kind")?)?,
        })
    }

    fn read_history_row(row: &RowOf<Self>) -> Result<HistoryRow, Error> {
        let big_count_opt = |column: &str| -> Result<Option<u64>, Error> {
            row.try_get::<Option<i64>, _>(column)?
                .map(|value| big_count(value, column))
                .transpose()
        };
        Ok(HistoryRow {
            key: Self::read_key(row)?,
            minute: Self::read_time_at(row, "minute")?,
            latency_p50_ms: row.try_get("latency_p50_ms")?,
            latency_p95_ms: row.try_get("latency_p95_ms")?,
            latency_max_ms: row.try_get("latency_max_ms")?,
            probes: count(row.try_get("probes")?, "probes")?,
            probes_down: count(row.try_get("probes_down")?, "probes_down")?,
            probes_slow: count(row.try_get("probes_slow")?, "probes_slow")?,
            actual: count_opt(row.try_get("actual")?, "actual")?,
            target: count(row.try_get("target")?, "target")?,
            baseline: count(row.try_get("baseline")?, "baseline")?,
            requests: big_count_opt("requests")?,
            in_flight: row.try_get("in_flight")?,
            queue_ready: big_count_opt("queue_ready")?,
            queue_busy: big_count_opt("queue_busy")?,
            queue_latency_ms: row.try_get("queue_latency_ms")?,
        })
    }

    fn read_override(row: &RowOf<Self>) -> Result<Override, Error> {
        Ok(Override {
            id: row.try_get("id")?,
            spec: NewOverride {
                key: Self::read_key(row)?,
                action: OverrideAction::parse(
                    &row.try_get::<String, _>("kind")?,
                    [
                        row.try_get("quantity")?,
                        row.try_get("min_count")?,
                        row.try_get("max_count")?,
                    ],
                )?,
                from: Self::read_time_at(row, "from_at")?,
                until: Self::read_time_opt(row, "until_at")?,
                reason: row.try_get("reason")?,
                by: row.try_get("created_by")?,
                created_at: Self::read_time_at(row, "created_at")?,
            },
            ended_at: Self::read_time_opt(row, "ended_at")?,
        })
    }

    fn read_lease(row: &RowOf<Self>, key: ProcessKey) -> Result<Lease, Error> {
        Ok(Lease {
            key,
            holder: row.try_get("holder")?,
            expires_at: Self::read_time_at(row, "expires_at")?,
            generation: big_count(row.try_get("generation")?, "generation")?,
        })
    }

    /// `sql` with the state's ten values bound as `$1` to `$10`.
    fn bind_state<'q>(sql: &'q str, state: &'q AppState) -> QueryOf<'q, Self> {
        sqlx::query(sql)
            .bind(state.key.app.as_str())
            .bind(state.key.process.as_str())
            .bind(i64::from(state.target))
            .bind(state.reason.as_str())
            .bind(i64::from(state.baseline))
            .bind(state.actual.map(i64::from))
            .bind(state.outage_since.map(Self::time))
            .bind(state.decider.as_str())
            .bind(state.alerts.as_str())
            .bind(Self::time(state.updated_at))
    }
}
