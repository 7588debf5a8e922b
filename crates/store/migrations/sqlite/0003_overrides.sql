-- Overrides and pauses people record with `autoscaled override add` / `pause` (or the page): one
-- row each, never rewritten but for `ended_at` (set when removed or resumed before `until`).
-- kind 'override' sets some of quantity/min/max; kind 'pause' sets none. `until` is NULL only for
-- a pause that lasts until resumed.
CREATE TABLE autoscaled_overrides (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    app TEXT NOT NULL,
    process TEXT NOT NULL,
    from_at INTEGER NOT NULL,
    until_at INTEGER,
    quantity INTEGER,
    min_count INTEGER,
    max_count INTEGER,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    ended_at INTEGER
);
-- Every lease round reads those not ended.
CREATE INDEX autoscaled_overrides_open ON autoscaled_overrides (ended_at, until_at);
