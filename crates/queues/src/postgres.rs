//! The PostgreSQL backends: GoodJob, Solid Queue, Que, Delayed::Job, River and Oban, read from
//! their own tables by their own indexes.
//!
//! A poll is one statement for every queue (a row per queue of `unnest($1)`), in a read-only
//! transaction under a statement timeout. Counting stops at the reader's cap ([`crate::DEPTH_CAP`] by default) rows, so a poll costs the
//! same however many jobs wait. Times are read as `extract(epoch from column)`, which gives the
//! same answer for `timestamptz` and for Rails' and Ecto's `timestamp without time zone` holding
//! UTC; and the session's time zone is UTC, so that comparing such a column with the poll's time
//! (a `timestamptz`) reads it as UTC too, whatever the server's default.
//!
//! Latency is the age of the job the workers take next (the backends' own order: priority first,
//! then time), which is the oldest ready job wherever jobs share one priority; finding the oldest
//! across priorities would need a walk over every ready row.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secret::Secret;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::reading::{QueueReading, READ_TIMEOUT, Reading};
use crate::{Backend, Error};

/// One connection to the app's database, shared by every queue read from it.
#[derive(Debug, Clone)]
pub(crate) struct PostgresQueues {
    pool: PgPool,
    /// Delayed::Job's table where Active Record's `table_name_prefix` renames it, quoted.
    delayed_job_table: Option<String>,
}

impl PostgresQueues {
    /// `prefix` was checked by [`Backend::check_prefix`] to be a plain identifier. River's
    /// `Schema` and Oban's `prefix` become the session's search path, so that the statements
    /// below name their tables unqualified; Delayed::Job's table prefix names its table, quoted.
    pub(crate) async fn connect(
        backend: Backend,
        url: &Secret,
        prefix: Option<&str>,
    ) -> Result<Self, Error> {
        let (schema, delayed_job_table) = match (backend, prefix) {
            (Backend::DelayedJob, Some(prefix)) => {
                (None, Some(format!("\"{prefix}delayed_jobs\"")))
            }
            (_, schema) => (schema, None),
        };
        let url = url.expose();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::Url {
                backend,
                problem: "expected a postgres:// or postgresql:// URL: this backend keeps its \
                          jobs in PostgreSQL"
                    .to_owned(),
            });
        }
        let statement_timeout = READ_TIMEOUT.as_millis().to_string();
        // Quoted, so that the name is taken as written (case kept); pg_catalog, where pg_locks
        // and the functions used live, is searched first whatever the path says.
        let search_path = schema.map(|schema| format!("\"{schema}\""));
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|_| Error::Url {
                backend,
                problem: "expected postgres://[user[:password]@]host[:port]/database[?sslmode=…]"
                    .to_owned(),
            })?
            .application_name("autoscaled-queues")
            .options([
                ("default_transaction_read_only", "on"),
                ("statement_timeout", statement_timeout.as_str()),
                // sqlx asks for UTC too; said here because the comparisons above rely on it.
                ("TimeZone", "UTC"),
            ]);
        if let Some(search_path) = &search_path {
            options = options.options([("search_path", search_path.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(READ_TIMEOUT)
            .idle_timeout(None)
            .connect_with(options)
            .await
            .map_err(|source| Error::Postgres { backend, source })?;
        Ok(Self {
            pool,
            delayed_job_table,
        })
    }

    pub(crate) async fn read(
        &self,
        backend: Backend,
        queues: &[String],
        now: DateTime<Utc>,
        depth_cap: u64,
    ) -> Result<Reading, Error> {
        let (sql, expected) = statement(backend)?;
        let renamed;
        let sql = match &self.delayed_job_table {
            // The statement names no other relation with these letters.
            Some(table) => {
                renamed = sql.replace("delayed_jobs", table);
                renamed.as_str()
            }
            None => sql,
        };
        let listed;
        let queues = if queues.is_empty() {
            listed = self.list_queues(backend).await?;
            &listed
        } else {
            queues
        };
        let rows = sqlx::query(sql)
            .bind(queues)
            .bind(now)
            .bind(i64::try_from(depth_cap).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|source| classify(backend, queues, expected, source))?;
        let mut readings = Vec::with_capacity(rows.len());
        for row in rows {
            let figures = (|| {
                Ok::<_, sqlx::Error>((
                    row.try_get::<String, _>("name")?,
                    row.try_get::<i64, _>("depth")?,
                    row.try_get::<Option<f64>, _>("oldest")?,
                    row.try_get::<Option<i64>, _>("busy")?,
                    row.try_get::<Option<i64>, _>("due")?,
                    row.try_get::<bool, _>("paused")?,
                ))
            })();
            let (name, depth, oldest, busy, due, paused) =
                figures.map_err(|source| classify(backend, queues, expected, source))?;
            let depth = u64::try_from(depth).unwrap_or(0);
            let latency = match oldest {
                None => Duration::ZERO,
                Some(oldest) => {
                    let age = now.timestamp_micros() as f64 / 1e6 - oldest;
                    Duration::try_from_secs_f64(age).unwrap_or(Duration::ZERO)
                }
            };
            readings.push(QueueReading {
                name,
                depth,
                depth_exact: depth < depth_cap,
                latency: Some(latency),
                busy: busy.map(|busy| u64::try_from(busy).unwrap_or(0)),
                due: due.map(|due| u64::try_from(due).unwrap_or(0)),
                paused,
            });
        }
        Ok(Reading {
            queues: readings,
            due_shared: None,
        })
    }

    /// River's own list of queues (`river_queue`); the other backends keep none.
    async fn list_queues(&self, backend: Backend) -> Result<Vec<String>, Error> {
        if backend != Backend::River {
            return Err(Error::QueuesRequired { backend });
        }
        sqlx::query_scalar("SELECT name FROM river_queue ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(|source| classify(backend, &[], "River's table river_queue(name)", source))
    }
}

/// A missing table or column, a type or enum value another version does not have: the backend's
/// schema is not what this reader knows, which the error says in those words.
fn classify(
    backend: Backend,
    queues: &[String],
    expected: &'static str,
    source: sqlx::Error,
) -> Error {
    let schema = match &source {
        sqlx::Error::Database(error) => matches!(
            error.code().as_deref(),
            // undefined_table, undefined_column, undefined_function, undefined_object,
            // invalid_text_representation (an enum value this version lacks)
            Some("42P01" | "42703" | "42883" | "42704" | "22P02")
        )
        .then(|| error.message().to_owned()),
        sqlx::Error::ColumnNotFound(column) => Some(format!("no column {column}")),
        sqlx::Error::ColumnDecode { index, .. } => Some(format!("column {index} has another type")),
        _ => None,
    };
    match schema {
        Some(detail) => Error::Schema {
            backend,
            queues: if queues.is_empty() {
                "(all)".to_owned()
            } else {
                queues.join(", ")
            },
            detail,
            expected,
            source,
        },
        None => Error::Postgres { backend, source },
    }
}

/// The statement reading every queue, and the schema it expects (for the error when it is not
/// there). Parameters: `$1` the queue names, `$2` now, `$3` the depth cap. Columns: `name`,
/// `depth`, `oldest` (epoch seconds of the next job, NULL when none is ready), `busy`, `due`,
/// `paused`.
fn statement(backend: Backend) -> Result<(&'static str, &'static str), Error> {
    Ok(match backend {
        // app/models/good_job/job.rb: `queued` is performed_at and finished_at NULL and
        // scheduled_at <= now (scheduled_at is always set since 4.0); a running job is
        // performed and unfinished, and holds its process in locked_by_id (indexed where set).
        // Due jobs are ready by that definition: `due` is not a separate figure.
        Backend::GoodJob => (
            "SELECT q.name,
               (SELECT count(*) FROM (SELECT 1 FROM good_jobs j
                  WHERE j.queue_name = q.name AND j.finished_at IS NULL
                    AND j.performed_at IS NULL AND j.scheduled_at <= $2 LIMIT $3) d) AS depth,
               (SELECT extract(epoch FROM j.scheduled_at)::float8 FROM good_jobs j
                  WHERE j.queue_name = q.name AND j.finished_at IS NULL
                    AND j.performed_at IS NULL AND j.scheduled_at <= $2
                  ORDER BY j.scheduled_at LIMIT 1) AS oldest,
               (SELECT count(*) FROM good_jobs j
                  WHERE j.locked_by_id IS NOT NULL AND j.queue_name = q.name
                    AND j.finished_at IS NULL AND j.performed_at IS NOT NULL) AS busy,
               NULL::bigint AS due,
               false AS paused
             FROM unnest($1::text[]) AS q(name)",
            "GoodJob 4's table good_jobs(queue_name, scheduled_at, performed_at, finished_at, \
             locked_by_id)",
        ),
        // lib/generators/solid_queue/install/templates/db/queue_schema.rb: ready executions are
        // taken by (queue_name, priority, job_id); the dispatcher moves scheduled executions whose
        // time has come into ready ones; claimed executions are running; a paused queue has a
        // row in solid_queue_pauses.
        Backend::SolidQueue => (
            "SELECT q.name,
               (SELECT count(*) FROM (SELECT 1 FROM solid_queue_ready_executions r
                  WHERE r.queue_name = q.name LIMIT $3) d) AS depth,
               (SELECT extract(epoch FROM coalesce(j.scheduled_at, j.created_at))::float8
                  FROM (SELECT r.job_id FROM solid_queue_ready_executions r
                        WHERE r.queue_name = q.name ORDER BY r.priority, r.job_id LIMIT 1) n
                  JOIN solid_queue_jobs j ON j.id = n.job_id) AS oldest,
               (SELECT count(*) FROM solid_queue_claimed_executions c
                  JOIN solid_queue_jobs j ON j.id = c.job_id WHERE j.queue_name = q.name) AS busy,
               (SELECT count(*) FROM (SELECT 1 FROM solid_queue_scheduled_executions s
                  WHERE s.queue_name = q.name AND s.scheduled_at <= $2 LIMIT $3) d) AS due,
               EXISTS (SELECT 1 FROM solid_queue_pauses p WHERE p.queue_name = q.name) AS paused
             FROM unnest($1::text[]) AS q(name)",
            "Solid Queue 1's tables solid_queue_ready_executions, solid_queue_scheduled_executions, \
             solid_queue_claimed_executions, solid_queue_jobs, solid_queue_pauses",
        ),
        // lib/que/poller.rb and migrations/: a job is ready while unfinished, unexpired and due
        // (index que_poll_idx on job_schema_version, queue, priority, run_at, id); a running job
        // holds the advisory lock pg_try_advisory_lock(id), which pg_locks shows split into
        // classid (high 32 bits) and objid (low), objsubid 1. Due jobs are ready.
        Backend::Que => (
            "WITH locked AS MATERIALIZED (
               SELECT (l.classid::bigint << 32) | l.objid::bigint AS id FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.objsubid = 1)
             SELECT q.name,
               (SELECT count(*) FROM (SELECT 1 FROM que_jobs j
                  WHERE j.job_schema_version = 2 AND j.queue = q.name AND j.finished_at IS NULL
                    AND j.expired_at IS NULL AND j.run_at <= $2
                    AND j.id NOT IN (SELECT id FROM locked) LIMIT $3) d) AS depth,
               (SELECT extract(epoch FROM j.run_at)::float8 FROM que_jobs j
                  WHERE j.job_schema_version = 2 AND j.queue = q.name AND j.finished_at IS NULL
                    AND j.expired_at IS NULL AND j.run_at <= $2
                    AND j.id NOT IN (SELECT id FROM locked)
                  ORDER BY j.priority, j.run_at, j.id LIMIT 1) AS oldest,
               (SELECT count(*) FROM que_jobs j
                  WHERE j.id IN (SELECT id FROM locked) AND j.queue = q.name) AS busy,
               NULL::bigint AS due,
               false AS paused
             FROM unnest($1::text[]) AS q(name)",
            "Que 2's table que_jobs(job_schema_version, queue, priority, run_at, finished_at, \
             expired_at)",
        ),
        // delayed_job_active_record's migration and Delayed::Backend::ActiveRecord's
        // ready_to_run: a job is ready when due, unlocked and not failed, and workers take the
        // first by (priority, run_at); a locked one runs. A NULL queue is the default queue.
        // Its only index is (priority, run_at): each queue's ready jobs are found by walking it
        // in the workers' order, filtered by queue, stopping at the cap, so the first row is
        // the next job. An app's index led by `queue` (see the README) turns that walk into a
        // probe; `queue = name` is written plainly so that the planner can use one (`default`,
        // which also means NULL, has a branch of its own). Locked jobs are counted in one pass
        // for every queue: over the table here, over a partial index where the app has one.
        Backend::DelayedJob => (
            "WITH busy AS MATERIALIZED (
               SELECT coalesce(j.queue, 'default') AS name, count(*) AS n FROM delayed_jobs j
               WHERE j.locked_at IS NOT NULL AND j.failed_at IS NULL GROUP BY 1)
             SELECT q.name, r.depth, r.oldest,
               coalesce((SELECT b.n FROM busy b WHERE b.name = q.name), 0) AS busy,
               NULL::bigint AS due,
               false AS paused
             FROM unnest($1::text[]) WITH ORDINALITY AS q(name, position)
             CROSS JOIN LATERAL (
               SELECT count(*) AS depth,
                 (array_agg(extract(epoch FROM n.run_at)::float8
                    ORDER BY n.priority, n.run_at))[1] AS oldest
               FROM (
                 (SELECT j.priority, j.run_at FROM delayed_jobs j
                  WHERE q.name <> 'default' AND j.queue = q.name
                    AND j.failed_at IS NULL AND j.locked_at IS NULL AND j.run_at <= $2
                  ORDER BY j.priority, j.run_at LIMIT $3)
                 UNION ALL
                 (SELECT j.priority, j.run_at FROM delayed_jobs j
                  WHERE q.name = 'default' AND (j.queue = 'default' OR j.queue IS NULL)
                    AND j.failed_at IS NULL AND j.locked_at IS NULL AND j.run_at <= $2
                  ORDER BY j.priority, j.run_at LIMIT $3)
               ) n) r
             ORDER BY q.position",
            "Delayed::Job's table delayed_jobs(queue, priority, run_at, locked_at, failed_at)",
        ),
        // riverdriver migrations 002 and 004: river_job by (state, queue, priority,
        // scheduled_at, id); `available` jobs are taken, `running` ones run, `scheduled` and
        // `retryable` ones wait for the scheduler to make them available; river_queue.paused_at.
        Backend::River => (
            "SELECT q.name,
               (SELECT count(*) FROM (SELECT 1 FROM river_job j
                  WHERE j.state = 'available' AND j.queue = q.name AND j.scheduled_at <= $2
                  LIMIT $3) d) AS depth,
               (SELECT extract(epoch FROM j.scheduled_at)::float8 FROM river_job j
                  WHERE j.state = 'available' AND j.queue = q.name AND j.scheduled_at <= $2
                  ORDER BY j.priority, j.scheduled_at, j.id LIMIT 1) AS oldest,
               (SELECT count(*) FROM river_job j
                  WHERE j.state = 'running' AND j.queue = q.name) AS busy,
               (SELECT count(*) FROM (SELECT 1 FROM river_job j
                  WHERE j.state IN ('scheduled', 'retryable') AND j.queue = q.name
                    AND j.scheduled_at <= $2 LIMIT $3) d) AS due,
               EXISTS (SELECT 1 FROM river_queue r
                  WHERE r.name = q.name AND r.paused_at IS NOT NULL) AS paused
             FROM unnest($1::text[]) AS q(name)",
            "River's tables river_job(state, queue, priority, scheduled_at) and \
             river_queue(name, paused_at)",
        ),
        // lib/oban/migrations/postgres/v08+: oban_jobs by (state, queue, priority,
        // scheduled_at, id); `available` jobs are taken, `executing` ones run, `scheduled` and
        // `retryable` ones wait for the stager. scheduled_at is a naive UTC timestamp.
        Backend::Oban => (
            "SELECT q.name,
               (SELECT count(*) FROM (SELECT 1 FROM oban_jobs j
                  WHERE j.state = 'available' AND j.queue = q.name LIMIT $3) d) AS depth,
               (SELECT extract(epoch FROM j.scheduled_at)::float8 FROM oban_jobs j
                  WHERE j.state = 'available' AND j.queue = q.name
                  ORDER BY j.priority, j.scheduled_at, j.id LIMIT 1) AS oldest,
               (SELECT count(*) FROM oban_jobs j
                  WHERE j.state = 'executing' AND j.queue = q.name) AS busy,
               (SELECT count(*) FROM (SELECT 1 FROM oban_jobs j
                  WHERE j.state IN ('scheduled', 'retryable') AND j.queue = q.name
                    AND j.scheduled_at <= $2 LIMIT $3) d) AS due,
               false AS paused
             FROM unnest($1::text[]) AS q(name)",
            "Oban's table oban_jobs(state, queue, priority, scheduled_at) in the prefix read \
             (public unless `prefix` says otherwise)",
        ),
        _ => {
            return Err(Error::Url {
                backend,
                problem: "expected a redis:// or rediss:// URL: this backend keeps its jobs in \
                          Redis"
                    .to_owned(),
            });
        }
    })
}
