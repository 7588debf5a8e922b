-- The table delayed_jobs as delayed_job_active_record's migration template (migration.rb, beside
-- this file) creates it on PostgreSQL: Rails' `t.datetime` is `timestamp(6) without time zone`
-- holding UTC, `t.string` is `character varying`, `t.timestamps null: true`.
CREATE TABLE delayed_jobs (
  id bigserial PRIMARY KEY,
  priority integer DEFAULT 0 NOT NULL,
  attempts integer DEFAULT 0 NOT NULL,
  handler text NOT NULL,
  last_error text,
  run_at timestamp(6) without time zone,
  locked_at timestamp(6) without time zone,
  failed_at timestamp(6) without time zone,
  locked_by character varying,
  queue character varying,
  created_at timestamp(6) without time zone,
  updated_at timestamp(6) without time zone
);
CREATE INDEX delayed_jobs_priority ON delayed_jobs (priority, run_at);
