-- Overrides and pauses people record with `autoscaled override add` / `pause` (or the page): one
-- row each, never rewritten but for `ended_at` (set when removed or resumed before `until`).
-- kind 'override' sets some of quantity/min/max; kind 'pause' sets none. `until_at` is NULL only
-- for a pause that lasts until resumed.
CREATE TABLE autoscaled_overrides (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    from_at TIMESTAMPTZ NOT NULL,
    until_at TIMESTAMPTZ,
    quantity BIGINT,
    min_count BIGINT,
    max_count BIGINT,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ
);
-- Every lease round reads those not ended.
CREATE INDEX autoscaled_overrides_open ON autoscaled_overrides (ended_at, until_at);
