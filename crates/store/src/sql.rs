//! The statements both backends run as written: placeholders are `$1`, `$2`, ... (SQLite reads
//! `$NNN` as the NNN-th value, as PostgreSQL does), times are bound in the backend's own type
//! (microseconds in SQLite, `timestamptz` in PostgreSQL). What the dialects do differently stays
//! in each backend: the statements on the clock leases run on and the fenced write's row lock (its
//! `ClockSql`), the migration lock.

/// The columns of a state upsert: `INSERT INTO ... (columns)`, then the values, then
/// [`STATE_UPSERT`].
pub(crate) const STATE_INSERT: &str = "INSERT INTO autoscaled_app_state
    (app, process, target, reason, baseline, actual, outage_since, decider, alerts, updated_at)";

/// The end of a state upsert: a state saved again replaces the row.
pub(crate) const STATE_UPSERT: &str = "ON CONFLICT (app, process) DO UPDATE SET
    target = excluded.target, reason = excluded.reason, baseline = excluded.baseline,
    actual = excluded.actual, outage_since = excluded.outage_since,
    decider = excluded.decider, alerts = excluded.alerts, updated_at = excluded.updated_at";

/// The state's ten values, in [`STATE_INSERT`]'s order.
pub(crate) const STATE_VALUES: &str = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10";

/// Reads states: then a `WHERE` or an `ORDER BY`.
pub(crate) const STATE_SELECT: &str = "SELECT app, process, target, reason, baseline, actual,
    outage_since, decider, alerts, updated_at FROM autoscaled_app_state";

/// Appends a decision: at, app, process, from, to, reason, kind.
pub(crate) const DECISION_INSERT: &str = "INSERT INTO autoscaled_decisions
    (at, app, process, from_count, to_count, reason, kind) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// The last `$2` decisions of app `$1`, newest first. `id` breaks ties between decisions of the
/// same microsecond: the later insert is newer.
pub(crate) const DECISIONS_SELECT: &str =
    "SELECT at, app, process, from_count, to_count, reason, kind FROM autoscaled_decisions
     WHERE app = $1 ORDER BY at DESC, id DESC LIMIT $2";

/// Writes a minute of history, replacing a row already written for it.
pub(crate) const HISTORY_UPSERT: &str = "INSERT INTO autoscaled_history
        (app, process, minute, latency_p50_ms, latency_p95_ms, latency_max_ms, probes,
         probes_down, probes_slow, actual, target, baseline, requests, in_flight, queue_ready,
         queue_busy, queue_latency_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
    ON CONFLICT (app, minute, process) DO UPDATE SET
        latency_p50_ms = excluded.latency_p50_ms, latency_p95_ms = excluded.latency_p95_ms,
        latency_max_ms = excluded.latency_max_ms, probes = excluded.probes,
        probes_down = excluded.probes_down, probes_slow = excluded.probes_slow,
        actual = excluded.actual, target = excluded.target, baseline = excluded.baseline,
        requests = excluded.requests, in_flight = excluded.in_flight,
        queue_ready = excluded.queue_ready, queue_busy = excluded.queue_busy,
        queue_latency_ms = excluded.queue_latency_ms";

/// App `$1`'s history for the minutes in `[$2, $3)`.
pub(crate) const HISTORY_SELECT: &str =
    "SELECT app, process, minute, latency_p50_ms, latency_p95_ms, latency_max_ms, probes,
            probes_down, probes_slow, actual, target, baseline, requests, in_flight, queue_ready,
            queue_busy, queue_latency_ms
     FROM autoscaled_history WHERE app = $1 AND minute >= $2 AND minute < $3
     ORDER BY minute, process";

/// What [`Store::prune`](crate::Store::prune) deletes from before `$1`, in one transaction:
/// decisions, history, instances, overrides, in [`Pruned`](crate::Pruned)'s order.
pub(crate) const PRUNE: [&str; 4] = [
    "DELETE FROM autoscaled_decisions WHERE at < $1",
    "DELETE FROM autoscaled_history WHERE minute < $1",
    "DELETE FROM autoscaled_instances WHERE last_seen < $1",
    "DELETE FROM autoscaled_overrides WHERE coalesce(ended_at, until_at) < $1",
];

/// Reads overrides: then a `WHERE`.
pub(crate) const OVERRIDE_SELECT: &str =
    "SELECT id, kind, app, process, from_at, until_at, quantity, min_count, max_count,
            reason, created_by, created_at, ended_at FROM autoscaled_overrides";

/// Records an override and returns its id.
pub(crate) const OVERRIDE_INSERT: &str = "INSERT INTO autoscaled_overrides
        (kind, app, process, from_at, until_at, quantity, min_count, max_count, reason,
         created_by, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    RETURNING id";

/// After [`OVERRIDE_SELECT`]: those not ended by `$1`, oldest-created first.
pub(crate) const OVERRIDES_CURRENT: &str =
    "WHERE (ended_at IS NULL OR ended_at > $1) AND (until_at IS NULL OR until_at > $1)
     ORDER BY created_at, id";

/// Ends override `$1` at `$2`, unless it had ended by then.
pub(crate) const OVERRIDE_END: &str = "UPDATE autoscaled_overrides SET ended_at = $2
    WHERE id = $1 AND ended_at IS NULL AND (until_at IS NULL OR until_at > $2)";

/// Forgets instance `$1`'s heartbeat.
pub(crate) const INSTANCE_DELETE: &str = "DELETE FROM autoscaled_instances WHERE instance_id = $1";

/// The schema version a migration leaves: the marker table's one row, replaced by `$1`.
pub(crate) const SCHEMA_VERSION_CLEAR: &str = "DELETE FROM autoscaled_schema";
/// See [`SCHEMA_VERSION_CLEAR`].
pub(crate) const SCHEMA_VERSION_SET: &str = "INSERT INTO autoscaled_schema (version) VALUES ($1)";
/// The schema version, once the marker table is known to be there.
pub(crate) const SCHEMA_VERSION: &str = "SELECT max(version) FROM autoscaled_schema";
