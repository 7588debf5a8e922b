-- The tables Solid Queue 1.5 reads jobs from, as its queue_schema.rb (beside this file) creates
-- them on PostgreSQL: Rails' `t.datetime` is `timestamp(6) without time zone` holding UTC,
-- `t.string` is `character varying`. The blocked, failed, processes, recurring and semaphores
-- tables are left out (not read); the foreign keys to solid_queue_jobs are kept.
CREATE TABLE solid_queue_jobs (
  id bigserial PRIMARY KEY,
  queue_name character varying NOT NULL,
  class_name character varying NOT NULL,
  arguments text,
  priority integer DEFAULT 0 NOT NULL,
  active_job_id character varying,
  scheduled_at timestamp(6) without time zone,
  finished_at timestamp(6) without time zone,
  concurrency_key character varying,
  created_at timestamp(6) without time zone NOT NULL,
  updated_at timestamp(6) without time zone NOT NULL
);
CREATE INDEX index_solid_queue_jobs_on_active_job_id ON solid_queue_jobs (active_job_id);
CREATE INDEX index_solid_queue_jobs_on_class_name ON solid_queue_jobs (class_name);
CREATE INDEX index_solid_queue_jobs_on_finished_at ON solid_queue_jobs (finished_at);
CREATE INDEX index_solid_queue_jobs_for_filtering ON solid_queue_jobs (queue_name, finished_at);
CREATE INDEX index_solid_queue_jobs_for_alerting ON solid_queue_jobs (scheduled_at, finished_at);

CREATE TABLE solid_queue_claimed_executions (
  id bigserial PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES solid_queue_jobs (id) ON DELETE CASCADE,
  process_id bigint,
  created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_claimed_executions_on_job_id ON solid_queue_claimed_executions (job_id);
CREATE INDEX index_solid_queue_claimed_executions_on_process_id_and_job_id ON solid_queue_claimed_executions (process_id, job_id);

CREATE TABLE solid_queue_pauses (
  id bigserial PRIMARY KEY,
  queue_name character varying NOT NULL,
  created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_pauses_on_queue_name ON solid_queue_pauses (queue_name);

CREATE TABLE solid_queue_ready_executions (
  id bigserial PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES solid_queue_jobs (id) ON DELETE CASCADE,
  queue_name character varying NOT NULL,
  priority integer DEFAULT 0 NOT NULL,
  created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_ready_executions_on_job_id ON solid_queue_ready_executions (job_id);
CREATE INDEX index_solid_queue_poll_all ON solid_queue_ready_executions (priority, job_id);
CREATE INDEX index_solid_queue_poll_by_queue ON solid_queue_ready_executions (queue_name, priority, job_id);

CREATE TABLE solid_queue_scheduled_executions (
  id bigserial PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES solid_queue_jobs (id) ON DELETE CASCADE,
  queue_name character varying NOT NULL,
  priority integer DEFAULT 0 NOT NULL,
  scheduled_at timestamp(6) without time zone NOT NULL,
  created_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_solid_queue_scheduled_executions_on_job_id ON solid_queue_scheduled_executions (job_id);
CREATE INDEX index_solid_queue_dispatch_all ON solid_queue_scheduled_executions (scheduled_at, priority, job_id);
