-- Tables are prefixed autoscaled_ as a PostgreSQL database may be shared with other programs.
-- Counts are BIGINT: PostgreSQL has no unsigned types, and a u32 does not fit an INTEGER.

-- The schema marker: its presence says "this is autoscaled's schema"; its one row, the version, is written by the runner.
CREATE TABLE autoscaled_schema (version BIGINT NOT NULL);

CREATE TABLE autoscaled_app_state (
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    target BIGINT NOT NULL,
    reason TEXT NOT NULL,
    baseline BIGINT NOT NULL,
    actual BIGINT,
    outage_since TIMESTAMPTZ,
    decider TEXT NOT NULL,
    alerts TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (app, process)
);

CREATE TABLE autoscaled_decisions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    from_count BIGINT NOT NULL,
    to_count BIGINT NOT NULL,
    reason TEXT NOT NULL
);
-- "The last N for an app", and pruning by age.
CREATE INDEX autoscaled_decisions_app_at ON autoscaled_decisions (app, at);
CREATE INDEX autoscaled_decisions_at ON autoscaled_decisions (at);

-- Keyed by (app, minute, process): a range read of one app walks the primary key in order.
CREATE TABLE autoscaled_history (
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    minute TIMESTAMPTZ NOT NULL,
    latency_p50_ms DOUBLE PRECISION,
    latency_p95_ms DOUBLE PRECISION,
    latency_max_ms DOUBLE PRECISION,
    probes BIGINT NOT NULL,
    probes_down BIGINT NOT NULL,
    probes_slow BIGINT NOT NULL,
    actual BIGINT,
    target BIGINT NOT NULL,
    baseline BIGINT NOT NULL,
    requests BIGINT,
    in_flight DOUBLE PRECISION,
    PRIMARY KEY (app, minute, process)
);
CREATE INDEX autoscaled_history_minute ON autoscaled_history (minute);

-- Lease times are on the server's clock (clock_timestamp()), never an instance's.
CREATE TABLE autoscaled_leases (
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    generation BIGINT NOT NULL,
    PRIMARY KEY (app, process)
);
CREATE INDEX autoscaled_leases_holder ON autoscaled_leases (holder);

CREATE TABLE autoscaled_instances (
    instance_id TEXT PRIMARY KEY,
    last_seen TIMESTAMPTZ NOT NULL
);
