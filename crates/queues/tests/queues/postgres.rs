//! The PostgreSQL backends on their own schemas (`schemas/`), rows written as each library writes
//! them, read as a role allowed only `SELECT`, in a database whose time zone is not UTC (the naive
//! `timestamp` columns hold UTC whatever the session's zone).

use std::time::Duration;

use autoscaled_queues::{Backend, DEPTH_CAP, Error, Options, Reader, Reading};
use chrono::{DateTime, Utc};
use secret::Secret;
use sqlx::{Connection, Executor, PgConnection};

use crate::support::queue;

/// The reading's clock: every row's time is set from it, so nothing depends on today's date.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T14:20:00Z")
        .unwrap()
        .to_utc()
}

/// The role `scripts/postgres` makes for the readers: it may log in, nothing more until granted.
const READER: &str = "autoscaled_reader";

struct Schema {
    backend: Backend,
    /// Statements making the library's tables, in order.
    files: &'static [&'static str],
    /// Inserts `$3` jobs of queue `$1` at time `$2` (text, UTC) of kind `$4`: `ready` (to run
    /// now), `scheduled` (to run at `$2`) or `running`. Returns the new jobs' ids where a test
    /// needs them (Que's advisory locks).
    insert: &'static str,
    /// Pauses queue `$1`, where the backend can.
    pause: Option<&'static str>,
    /// Whether a scheduled job whose time has come waits for a promotion (Solid Queue's
    /// dispatcher, River's scheduler, Oban's stager) and is counted as due; elsewhere it is ready.
    due_separate: bool,
}

/// A database of the test's own with the backend's schema, its URL for the read-only role.
struct Database {
    db: testkit::PostgresDb,
}

impl Database {
    async fn new(schema: &Schema) -> Self {
        let db = testkit::PostgresDb::create();
        let mut admin = PgConnection::connect(db.url())
            .await
            .expect("connect as the test role");
        for file in schema.files {
            // River's migrator fills its schema placeholder (empty: the search path's schema).
            let file = file.replace("/* TEMPLATE: schema */", "");
            admin
                .execute(sqlx::raw_sql(&file))
                .await
                .unwrap_or_else(|error| panic!("{}: {error}", schema.backend));
        }
        let name = db.url().rsplit('/').next().unwrap().to_owned();
        admin
            .execute(sqlx::raw_sql(&format!(
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER};
                 ALTER DATABASE {name} SET timezone TO 'America/New_York';"
            )))
            .await
            .expect("grant");
        Self { db }
    }

    async fn admin(&self) -> PgConnection {
        PgConnection::connect(self.db.url())
            .await
            .expect("connect as the test role")
    }

    fn reader_url(&self) -> Secret {
        let mut url = url::Url::parse(self.db.url()).unwrap();
        url.set_username(READER).unwrap();
        url.set_password(Some(READER)).unwrap();
        Secret::new(String::from(url))
    }

    async fn reader(&self, backend: Backend, queues: &[&str]) -> Reader {
        Reader::connect(
            backend,
            &self.reader_url(),
            queues.iter().map(|q| q.to_string()).collect(),
        )
        .await
        .unwrap_or_else(|error| panic!("connect {backend}: {error:?}"))
    }

    async fn insert(
        &self,
        schema: &Schema,
        queue: &str,
        at: DateTime<Utc>,
        count: i32,
        kind: &str,
    ) -> Vec<i64> {
        let mut admin = self.admin().await;
        sqlx::query_scalar::<_, i64>(schema.insert)
            .bind(queue)
            .bind(at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())
            .bind(count)
            .bind(kind)
            .fetch_all(&mut admin)
            .await
            .unwrap_or_else(|error| panic!("insert into {}: {error}", schema.backend))
    }
}

async fn read(reader: &Reader) -> Reading {
    crate::support::read(reader, now()).await
}

/// Every backend the same way: empty, one job, 100,000, a scheduled job not due and one due, a
/// running job, a paused queue.
async fn from_empty_to_100_000_jobs(schema: &Schema) {
    let backend = schema.backend;
    let db = Database::new(schema).await;
    let reader = db.reader(backend, &["default", "mailers"]).await;
    let due_none = if schema.due_separate { Some(0) } else { None };

    let reading = read(&reader).await;
    for name in ["default", "mailers"] {
        let empty = queue(&reading, name);
        assert_eq!(
            (
                empty.depth,
                empty.latency,
                empty.busy,
                empty.due,
                empty.paused
            ),
            (0, Some(Duration::ZERO), Some(0), due_none, false),
            "{backend} {name}"
        );
    }

    db.insert(
        schema,
        "default",
        now() - chrono::Duration::seconds(90),
        1,
        "ready",
    )
    .await;
    let reading = read(&reader).await;
    let default = queue(&reading, "default");
    assert_eq!((default.depth, default.depth_exact), (1, true), "{backend}");
    assert_eq!(default.latency, Some(Duration::from_secs(90)), "{backend}");

    db.insert(
        schema,
        "default",
        now() - chrono::Duration::seconds(30),
        99_999,
        "ready",
    )
    .await;
    let reading = read(&reader).await;
    let default = queue(&reading, "default");
    assert_eq!(
        (default.depth, default.depth_exact),
        (DEPTH_CAP, false),
        "{backend}: counting stops at the cap"
    );
    assert_eq!(
        default.latency,
        Some(Duration::from_secs(90)),
        "{backend}: the oldest is still first"
    );
    // With a cap above them, every job is counted.
    let counting = db
        .reader(backend, &["default"])
        .await
        .with_depth_cap(200_000);
    let default = read(&counting).await.queues.remove(0);
    assert_eq!(
        (default.depth, default.depth_exact),
        (100_000, true),
        "{backend}"
    );
    assert_eq!(queue(&reading, "mailers").depth, 0, "{backend}");

    db.insert(
        schema,
        "mailers",
        now() + chrono::Duration::hours(1),
        1,
        "scheduled",
    )
    .await;
    db.insert(
        schema,
        "mailers",
        now() - chrono::Duration::seconds(60),
        1,
        "scheduled",
    )
    .await;
    let reading = read(&reader).await;
    let mailers = queue(&reading, "mailers");
    if schema.due_separate {
        assert_eq!((mailers.depth, mailers.due), (0, Some(1)), "{backend}");
    } else {
        assert_eq!(
            (mailers.depth, mailers.due),
            (1, None),
            "{backend}: a due job is ready"
        );
        assert_eq!(mailers.latency, Some(Duration::from_secs(60)), "{backend}");
    }

    let running = db
        .insert(
            schema,
            "mailers",
            now() - chrono::Duration::seconds(10),
            1,
            "running",
        )
        .await;
    // Que's running jobs are those whose id a worker holds an advisory lock on.
    let mut worker = db.admin().await;
    if backend == Backend::Que {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(running[0])
            .execute(&mut worker)
            .await
            .unwrap();
    }
    let reading = read(&reader).await;
    assert_eq!(queue(&reading, "mailers").busy, Some(1), "{backend}");
    assert_eq!(queue(&reading, "default").busy, Some(0), "{backend}");
    if !schema.due_separate {
        assert_eq!(
            queue(&reading, "mailers").depth,
            1,
            "{backend}: a running job is not ready"
        );
    }
    drop(worker);

    if let Some(pause) = schema.pause {
        let mut admin = db.admin().await;
        sqlx::query(pause)
            .bind("mailers")
            .execute(&mut admin)
            .await
            .unwrap();
        let reading = read(&reader).await;
        assert!(queue(&reading, "mailers").paused, "{backend}");
        assert!(!queue(&reading, "default").paused, "{backend}");
    }
}

const GOOD_JOB: Schema = Schema {
    backend: Backend::GoodJob,
    files: &[include_str!("../../schemas/good_job/good_job.sql")],
    // GoodJob::Job.enqueue: scheduled_at is the job's time (now when not scheduled); perform
    // sets performed_at and, with the lock_type column, locked_by_id/locked_at.
    insert:
        "INSERT INTO good_jobs (queue_name, priority, serialized_params, scheduled_at, created_at,
               updated_at, active_job_id, job_class, executions_count, performed_at, locked_by_id,
               locked_at, lock_type)
             SELECT $1, 0, '{\"job_class\":\"MailJob\",\"arguments\":[]}', t.at, t.at, t.at,
               gen_random_uuid(), 'MailJob', 0,
               CASE WHEN $4 = 'running' THEN t.at END,
               CASE WHEN $4 = 'running' THEN gen_random_uuid() END,
               CASE WHEN $4 = 'running' THEN t.at END,
               CASE WHEN $4 = 'running' THEN 1 END
             FROM generate_series(1, $3), (SELECT $2::timestamptz AT TIME ZONE 'UTC' AS at) t
             RETURNING 0::bigint",
    pause: None,
    due_separate: false,
};

const SOLID_QUEUE: Schema = Schema {
    backend: Backend::SolidQueue,
    files: &[include_str!("../../schemas/solid_queue/solid_queue.sql")],
    // SolidQueue::Job.enqueue: the job row, then a ready execution (due now) or a scheduled one;
    // a worker's claim replaces the ready execution by a claimed one.
    insert: "WITH t AS (SELECT $2::timestamptz AT TIME ZONE 'UTC' AS at),
             jobs AS (
               INSERT INTO solid_queue_jobs (queue_name, class_name, arguments, priority,
                 active_job_id, scheduled_at, created_at, updated_at)
               SELECT $1, 'MailJob', '{\"arguments\":[]}', 0, gen_random_uuid()::text, t.at, t.at, t.at
               FROM generate_series(1, $3), t
               RETURNING id, scheduled_at),
             ready AS (
               INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
               SELECT id, $1, 0, scheduled_at FROM jobs WHERE $4 = 'ready'),
             scheduled AS (
               INSERT INTO solid_queue_scheduled_executions (job_id, queue_name, priority,
                 scheduled_at, created_at)
               SELECT id, $1, 0, scheduled_at, scheduled_at FROM jobs WHERE $4 = 'scheduled'),
             claimed AS (
               INSERT INTO solid_queue_claimed_executions (job_id, process_id, created_at)
               SELECT id, 1, scheduled_at FROM jobs WHERE $4 = 'running')
             SELECT id FROM jobs",
    pause: Some(
        "INSERT INTO solid_queue_pauses (queue_name, created_at) VALUES ($1, now() AT TIME ZONE 'UTC')",
    ),
    due_separate: true,
};

const QUE: Schema = Schema {
    backend: Backend::Que,
    files: &[
        include_str!("../../schemas/que/1/up.sql"),
        include_str!("../../schemas/que/2/up.sql"),
        include_str!("../../schemas/que/3/up.sql"),
        include_str!("../../schemas/que/4/up.sql"),
        include_str!("../../schemas/que/5/up.sql"),
        include_str!("../../schemas/que/6/up.sql"),
        include_str!("../../schemas/que/7/up.sql"),
    ],
    // Que::Job.enqueue (lib/que/job.rb SQL[:insert_job]); run_at is the job's time.
    insert: "INSERT INTO que_jobs (queue, priority, run_at, job_class, args, kwargs, data,
               job_schema_version)
             SELECT $1, 100, $2::timestamptz, 'MailJob', '[]', '{}', '{}', 2
             FROM generate_series(1, $3)
             RETURNING id",
    pause: None,
    due_separate: false,
};

const DELAYED_JOB: Schema = Schema {
    backend: Backend::DelayedJob,
    files: &[include_str!("../../schemas/delayed_job/delayed_job.sql")],
    // Delayed::Job.enqueue: run_at is the job's time; a worker's reserve sets locked_at and
    // locked_by.
    insert: "INSERT INTO delayed_jobs (priority, attempts, handler, run_at, queue, created_at,
               updated_at, locked_at, locked_by)
             SELECT 0, 0, E'--- !ruby/object:MailJob {}\\n', t.at, $1, t.at, t.at,
               CASE WHEN $4 = 'running' THEN t.at END,
               CASE WHEN $4 = 'running' THEN 'host:worker.1 pid:7' END
             FROM generate_series(1, $3), (SELECT $2::timestamptz AT TIME ZONE 'UTC' AS at) t
             RETURNING id",
    pause: None,
    due_separate: false,
};

const RIVER: Schema = Schema {
    backend: Backend::River,
    files: &[
        include_str!("../../schemas/river/001_create_river_migration.up.sql"),
        include_str!("../../schemas/river/002_initial_schema.up.sql"),
        include_str!("../../schemas/river/003_river_job_tags_non_null.up.sql"),
        include_str!("../../schemas/river/004_pending_and_more.up.sql"),
        include_str!("../../schemas/river/005_migration_unique_client.up.sql"),
        include_str!("../../schemas/river/006_bulk_unique.up.sql"),
        include_str!(
            "../../schemas/river/007_notification_outbox_sqlite_jsonb_and_sql_cleanup.up.sql"
        ),
    ],
    // River's JobInsertFastMany: state `available` when due, `scheduled` when later; a producer
    // marks a fetched job `running` with attempt and attempted_at.
    insert: "INSERT INTO river_job (args, kind, max_attempts, priority, queue, scheduled_at, state,
               created_at, attempt, attempted_at)
             SELECT '{}', 'mail', 25, 1, $1, $2::timestamptz,
               (CASE $4 WHEN 'ready' THEN 'available' WHEN 'scheduled' THEN 'scheduled'
                 ELSE 'running' END)::river_job_state,
               $2::timestamptz,
               CASE WHEN $4 = 'running' THEN 1 ELSE 0 END,
               CASE WHEN $4 = 'running' THEN $2::timestamptz END
             FROM generate_series(1, $3)
             RETURNING id",
    pause: Some(
        "INSERT INTO river_queue (name, created_at, metadata, paused_at, updated_at)
         VALUES ($1, now(), '{}', now(), now())
         ON CONFLICT (name) DO UPDATE SET paused_at = now()",
    ),
    due_separate: true,
};

const OBAN: Schema = Schema {
    backend: Backend::Oban,
    files: &[include_str!("../../schemas/oban/oban.sql")],
    // Oban.insert: `available` when due, `scheduled` when later (scheduled_at naive UTC); a
    // producer marks fetched jobs `executing` with attempt and attempted_at.
    insert: "INSERT INTO oban_jobs (state, queue, worker, args, scheduled_at, inserted_at, attempt,
               attempted_at, attempted_by)
             SELECT (CASE $4 WHEN 'ready' THEN 'available' WHEN 'scheduled' THEN 'scheduled'
                 ELSE 'executing' END)::oban_job_state,
               $1, 'MyApp.Mailer', '{}', t.at, t.at,
               CASE WHEN $4 = 'running' THEN 1 ELSE 0 END,
               CASE WHEN $4 = 'running' THEN t.at END,
               CASE WHEN $4 = 'running' THEN ARRAY['worker.1'] END
             FROM generate_series(1, $3), (SELECT $2::timestamptz AT TIME ZONE 'UTC' AS at) t
             RETURNING id",
    pause: None,
    due_separate: true,
};

#[tokio::test]
async fn good_job_from_empty_to_100_000_jobs() {
    from_empty_to_100_000_jobs(&GOOD_JOB).await;
}

#[tokio::test]
async fn solid_queue_from_empty_to_100_000_jobs() {
    from_empty_to_100_000_jobs(&SOLID_QUEUE).await;
}

#[tokio::test]
async fn que_from_empty_to_100_000_jobs() {
    from_empty_to_100_000_jobs(&QUE).await;
}

#[tokio::test]
async fn delayed_job_from_empty_to_100_000_jobs() {
    from_empty_to_100_000_jobs(&DELAYED_JOB).await;
}

#[tokio::test]
async fn river_from_empty_to_100_000_jobs() {
    from_empty_to_100_000_jobs(&RIVER).await;
}

#[tokio::test]
async fn oban_from_empty_to_100_000_jobs() {
    from_empty_to_100_000_jobs(&OBAN).await;
}

/// River's `Schema` and Oban's `prefix`: the library's tables in a schema of their own (`jobs`),
/// made as the library makes them there (River's migrator fills its `/* TEMPLATE: schema */`
/// placeholders with `jobs.`; Oban's migrations qualify every name with the prefix, which the
/// search path does here for the translated file), beside an empty copy in `public`.
async fn read_under_a_schema(schema: &Schema) {
    let backend = schema.backend;
    let db = Database::new(schema).await;
    let mut admin = db.admin().await;
    admin
        .execute("CREATE SCHEMA jobs; SET search_path TO jobs")
        .await
        .unwrap();
    for file in schema.files {
        let file = file.replace("/* TEMPLATE: schema */", "jobs.");
        admin
            .execute(sqlx::raw_sql(&file))
            .await
            .unwrap_or_else(|error| panic!("{backend} in jobs: {error}"));
    }
    admin
        .execute(sqlx::raw_sql(&format!(
            "GRANT USAGE ON SCHEMA jobs TO {READER};
             GRANT SELECT ON ALL TABLES IN SCHEMA jobs TO {READER};"
        )))
        .await
        .expect("grant");
    for (at, count, kind) in [(-60, 2, "ready"), (-30, 1, "running")] {
        sqlx::query(schema.insert)
            .bind("default")
            .bind(
                (now() + chrono::Duration::seconds(at))
                    .format("%Y-%m-%d %H:%M:%S%.6f+00")
                    .to_string(),
            )
            .bind(count)
            .bind(kind)
            .execute(&mut admin)
            .await
            .unwrap_or_else(|error| panic!("insert into jobs: {error}"));
    }

    let reader = Reader::connect_with(
        backend,
        &db.reader_url(),
        vec!["default".to_owned()],
        Options::default().with_prefix("jobs"),
    )
    .await
    .unwrap();
    let default = read(&reader).await.queues.remove(0);
    assert_eq!(
        (default.depth, default.latency, default.busy),
        (2, Some(Duration::from_secs(60)), Some(1)),
        "{backend}"
    );
    let unprefixed = db.reader(backend, &["default"]).await;
    assert_eq!(read(&unprefixed).await.queues[0].depth, 0, "{backend}");

    // The schema is taken as written, quoted: another case is another schema.
    let other = Reader::connect_with(
        backend,
        &db.reader_url(),
        vec!["default".to_owned()],
        Options::default().with_prefix("Jobs"),
    )
    .await
    .unwrap();
    let error = other.read(now()).await.unwrap_err();
    assert!(matches!(error, Error::Schema { .. }), "{error:?}");
}

#[tokio::test]
async fn river_in_its_own_schema() {
    read_under_a_schema(&RIVER).await;
}

#[tokio::test]
async fn oban_in_its_own_prefix() {
    read_under_a_schema(&OBAN).await;
}

/// Delayed::Job's default queue is also the jobs without one (NULL); workers take the first by
/// (priority, run_at), a failed job is neither ready nor running. The figures are the same once
/// the app adds the indexes the README advises (the planner then reads through them).
#[tokio::test]
async fn delayed_job_default_queue_order_and_the_advised_indexes() {
    let db = Database::new(&DELAYED_JOB).await;
    let mut admin = db.admin().await;
    // (queue, priority, run_at seconds before now, locked, failed)
    let jobs: [(Option<&str>, i32, i64, bool, bool); 7] = [
        (None, 0, 300, false, false),
        (Some("default"), 0, 200, false, false),
        // Taken first by the workers though younger: a lower number is a higher priority.
        (Some("default"), -5, 100, false, false),
        (None, 0, 900, false, true),
        (None, 0, 800, true, false),
        (Some("mailers"), 0, 50, true, false),
        (Some("mailers"), 0, -60, false, false),
    ];
    for (queue, priority, ago, locked, failed) in jobs {
        let at = (now() - chrono::Duration::seconds(ago))
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string();
        sqlx::query(
            "INSERT INTO delayed_jobs (priority, attempts, handler, run_at, queue, created_at,
               updated_at, locked_at, locked_by, failed_at)
             VALUES ($1, 0, E'--- !ruby/object:MailJob {}\\n', $2::timestamp, $3, $2::timestamp,
               $2::timestamp, CASE WHEN $4 THEN $2::timestamp END,
               CASE WHEN $4 THEN 'host:worker.1 pid:7' END, CASE WHEN $5 THEN $2::timestamp END)",
        )
        .bind(priority)
        .bind(at)
        .bind(queue)
        .bind(locked)
        .bind(failed)
        .execute(&mut admin)
        .await
        .unwrap();
    }
    let figures = |reading: Reading| {
        reading
            .queues
            .into_iter()
            .map(|q| (q.name, q.depth, q.latency, q.busy))
            .collect::<Vec<_>>()
    };
    let expected = vec![
        (
            "default".to_owned(),
            3,
            Some(Duration::from_secs(100)),
            Some(1),
        ),
        ("mailers".to_owned(), 0, Some(Duration::ZERO), Some(1)),
    ];
    let reader = db
        .reader(Backend::DelayedJob, &["default", "mailers"])
        .await;
    assert_eq!(figures(read(&reader).await), expected);

    admin
        .execute(
            "CREATE INDEX delayed_jobs_queue_ready ON delayed_jobs (queue, priority, run_at)
               WHERE failed_at IS NULL AND locked_at IS NULL;
             CREATE INDEX delayed_jobs_queue_locked ON delayed_jobs (queue)
               WHERE locked_at IS NOT NULL AND failed_at IS NULL;
             ANALYZE delayed_jobs",
        )
        .await
        .unwrap();
    assert_eq!(figures(read(&reader).await), expected);
}

/// Active Record's `table_name_prefix = "app_"` renames Delayed::Job's table `app_delayed_jobs`
/// (delayed_job_active_record's `set_delayed_job_table_name`); its migration makes it so.
#[tokio::test]
async fn delayed_job_under_a_table_name_prefix() {
    let renamed = Schema {
        files: &[],
        ..DELAYED_JOB
    };
    let db = Database::new(&renamed).await;
    let mut admin = db.admin().await;
    let file = include_str!("../../schemas/delayed_job/delayed_job.sql")
        .replace("delayed_jobs", "app_delayed_jobs");
    admin.execute(sqlx::raw_sql(&file)).await.unwrap();
    admin
        .execute(sqlx::raw_sql(&format!(
            "GRANT SELECT ON app_delayed_jobs TO {READER}"
        )))
        .await
        .unwrap();
    for (at, count, kind) in [(-60, 2, "ready"), (-30, 1, "running")] {
        sqlx::query(
            &DELAYED_JOB
                .insert
                .replace("delayed_jobs", "app_delayed_jobs"),
        )
        .bind("default")
        .bind(
            (now() + chrono::Duration::seconds(at))
                .format("%Y-%m-%d %H:%M:%S%.6f+00")
                .to_string(),
        )
        .bind(count)
        .bind(kind)
        .execute(&mut admin)
        .await
        .unwrap();
    }
    let reader = Reader::connect_with(
        Backend::DelayedJob,
        &db.reader_url(),
        vec!["default".to_owned()],
        Options::default().with_prefix("app_"),
    )
    .await
    .unwrap();
    let default = read(&reader).await.queues.remove(0);
    assert_eq!(
        (default.depth, default.latency, default.busy),
        (2, Some(Duration::from_secs(60)), Some(1))
    );
    let unprefixed = db.reader(Backend::DelayedJob, &["default"]).await;
    let error = unprefixed.read(now()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("relation \"delayed_jobs\" does not exist"),
        "{error}"
    );
}

#[tokio::test]
async fn river_lists_its_queues() {
    let db = Database::new(&RIVER).await;
    let mut admin = db.admin().await;
    for name in ["mailers", "default"] {
        sqlx::query("INSERT INTO river_queue (name, created_at, metadata, updated_at) VALUES ($1, now(), '{}', now())")
            .bind(name)
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let reader = db.reader(Backend::River, &[]).await;
    let names: Vec<String> = read(&reader)
        .await
        .queues
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(names, ["default", "mailers"]);
}

#[tokio::test]
async fn a_missing_table_or_a_renamed_column_says_which() {
    // No schema at all: not this library's database.
    let db = Database::new(&Schema {
        files: &[],
        ..GOOD_JOB
    })
    .await;
    let reader = db.reader(Backend::GoodJob, &["default"]).await;
    let error = reader.read(now()).await.unwrap_err();
    assert!(matches!(error, Error::Schema { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "good_job queues default: the database does not have the backend's schema (relation \
         \"good_jobs\" does not exist); expected GoodJob 4's table good_jobs(queue_name, \
         scheduled_at, performed_at, finished_at, locked_by_id)"
    );

    // Another version's column name.
    let db = Database::new(&DELAYED_JOB).await;
    let mut admin = db.admin().await;
    admin
        .execute("ALTER TABLE delayed_jobs RENAME COLUMN run_at TO run_after")
        .await
        .unwrap();
    let reader = db
        .reader(Backend::DelayedJob, &["default", "mailers"])
        .await;
    let message = reader.read(now()).await.unwrap_err().to_string();
    assert!(
        message.starts_with(
            "delayed_job queues default, mailers: the database does not have the backend's schema \
             (column j.run_at does not exist)"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn the_reader_cannot_write() {
    let db = Database::new(&OBAN).await;
    let mut reader = PgConnection::connect(db.reader_url().expose())
        .await
        .unwrap();
    let refused = sqlx::query("DELETE FROM oban_jobs")
        .execute(&mut reader)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
}
