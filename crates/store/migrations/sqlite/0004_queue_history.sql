-- A worker's job queue at each minute of its history (the last reading of the minute): jobs
-- ready (due ones included), running, and the age of the oldest ready job. NULL for a process
-- type not scaled on a queue, or a figure its job library does not store.
ALTER TABLE autoscaled_history ADD COLUMN queue_ready INTEGER;
ALTER TABLE autoscaled_history ADD COLUMN queue_busy INTEGER;
ALTER TABLE autoscaled_history ADD COLUMN queue_latency_ms REAL;
