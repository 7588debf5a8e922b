-- Outage and recovery alerts join the decisions' log, so the charts mark them after a restart.
-- Rows written before are scale decisions.
ALTER TABLE autoscaled_decisions ADD COLUMN kind TEXT NOT NULL DEFAULT 'scale';
