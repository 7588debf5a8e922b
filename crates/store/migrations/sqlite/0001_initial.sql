-- Times are INTEGER microseconds since the Unix epoch, UTC: SQLite has no time type, and integers
-- compare and index exactly. Counts are INTEGER (64-bit), decoded into u32/u64 with range checks.

-- The schema marker: its presence says "this is autoscaled's database"; its one row, the version, is written by the runner.
CREATE TABLE autoscaled_schema (version INTEGER NOT NULL);

CREATE TABLE autoscaled_app_state (
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    target INTEGER NOT NULL,
    reason TEXT NOT NULL,
    baseline INTEGER NOT NULL,
    actual INTEGER,
    outage_since INTEGER,
    decider TEXT NOT NULL,
    alerts TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (app, process)
);

CREATE TABLE autoscaled_decisions (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    from_count INTEGER NOT NULL,
    to_count INTEGER NOT NULL,
    reason TEXT NOT NULL
);
-- "The last N for an app", and pruning by age.
CREATE INDEX autoscaled_decisions_app_at ON autoscaled_decisions (app, at);
CREATE INDEX autoscaled_decisions_at ON autoscaled_decisions (at);

-- Keyed by (app, minute, process): a range read of one app walks the primary key in order.
CREATE TABLE autoscaled_history (
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    minute INTEGER NOT NULL,
    latency_p50_ms REAL,
    latency_p95_ms REAL,
    latency_max_ms REAL,
    probes INTEGER NOT NULL,
    probes_down INTEGER NOT NULL,
    probes_slow INTEGER NOT NULL,
    actual INTEGER,
    target INTEGER NOT NULL,
    baseline INTEGER NOT NULL,
    requests INTEGER,
    in_flight REAL,
    PRIMARY KEY (app, minute, process)
) WITHOUT ROWID;
CREATE INDEX autoscaled_history_minute ON autoscaled_history (minute);

-- Leases and instances matter to a fleet sharing PostgreSQL; SQLite has the same tables so that one
-- daemon runs the same code on either.
CREATE TABLE autoscaled_leases (
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (app, process)
);
CREATE INDEX autoscaled_leases_holder ON autoscaled_leases (holder);

CREATE TABLE autoscaled_instances (
    instance_id TEXT PRIMARY KEY,
    last_seen INTEGER NOT NULL
);
