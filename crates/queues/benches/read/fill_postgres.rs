//! Fills a fresh PostgreSQL database with each backend's schema and 20,000,000 jobs.

use std::process::Command;

use autoscaled_queues::Backend;

use crate::fill::Target;

pub(crate) fn fill(backend: Backend, _server: &str, queues: &[String], jobs: usize) -> Target {
    let db = testkit::PostgresDb::create();
    let (schema, insert): (String, &str) = match backend {
        Backend::GoodJob => (
            include_str!("../../schemas/good_job/good_job.sql").to_owned(),
            "INSERT INTO good_jobs (queue_name, priority, serialized_params, scheduled_at, created_at,
               updated_at, active_job_id, job_class, executions_count)
             SELECT :'queue', 0, '{}', t, t, t, gen_random_uuid(), 'MailJob', 0
             FROM generate_series(1, :jobs) n, LATERAL (SELECT (now() AT TIME ZONE 'UTC') - interval '1 hour' + n * interval '1 ms' AS t) x",
        ),
        Backend::SolidQueue => (
            include_str!("../../schemas/solid_queue/solid_queue.sql").to_owned(),
            "WITH jobs AS (
               INSERT INTO solid_queue_jobs (queue_name, class_name, arguments, priority, scheduled_at,
                 created_at, updated_at)
               SELECT :'queue', 'MailJob', '{}', 0, t, t, t
               FROM generate_series(1, :jobs) n, LATERAL (SELECT (now() AT TIME ZONE 'UTC') - interval '1 hour' + n * interval '1 ms' AS t) x
               RETURNING id, created_at)
             INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
             SELECT id, :'queue', 0, created_at FROM jobs",
        ),
        Backend::Que => (
            [
                include_str!("../../schemas/que/1/up.sql"),
                include_str!("../../schemas/que/2/up.sql"),
                include_str!("../../schemas/que/3/up.sql"),
                include_str!("../../schemas/que/4/up.sql"),
                include_str!("../../schemas/que/5/up.sql"),
                include_str!("../../schemas/que/6/up.sql"),
                include_str!("../../schemas/que/7/up.sql"),
                // Que's insert trigger notifies a locker per job: none listens here.
                "ALTER TABLE que_jobs DISABLE TRIGGER que_job_notify;",
            ]
            .join("\n"),
            "INSERT INTO que_jobs (queue, priority, run_at, job_class, args, kwargs, data, job_schema_version)
             SELECT :'queue', 100, now() - interval '1 hour' + n * interval '1 ms', 'MailJob', '[]', '{}', '{}', 2
             FROM generate_series(1, :jobs) n",
        ),
        Backend::DelayedJob => (
            include_str!("../../schemas/delayed_job/delayed_job.sql").to_owned(),
            "INSERT INTO delayed_jobs (priority, attempts, handler, run_at, queue, created_at, updated_at)
             SELECT 0, 0, '--- !ruby/object:MailJob {}', t, :'queue', t, t
             FROM generate_series(1, :jobs) n, LATERAL (SELECT (now() AT TIME ZONE 'UTC') - interval '1 hour' + n * interval '1 ms' AS t) x",
        ),
        Backend::River => (
            [
                include_str!("../../schemas/river/001_create_river_migration.up.sql"),
                include_str!("../../schemas/river/002_initial_schema.up.sql"),
                include_str!("../../schemas/river/003_river_job_tags_non_null.up.sql"),
                include_str!("../../schemas/river/004_pending_and_more.up.sql"),
                include_str!("../../schemas/river/005_migration_unique_client.up.sql"),
                include_str!("../../schemas/river/006_bulk_unique.up.sql"),
                include_str!("../../schemas/river/007_notification_outbox_sqlite_jsonb_and_sql_cleanup.up.sql"),
            ]
            .join("\n")
            .replace("/* TEMPLATE: schema */", ""),
            "INSERT INTO river_job (args, kind, max_attempts, priority, queue, scheduled_at, state, created_at)
             SELECT '{}', 'mail', 25, 1, :'queue', t, 'available', t
             FROM generate_series(1, :jobs) n, LATERAL (SELECT now() - interval '1 hour' + n * interval '1 ms' AS t) x",
        ),
        Backend::Oban => (
            include_str!("../../schemas/oban/oban.sql").to_owned(),
            "INSERT INTO oban_jobs (state, queue, worker, args, scheduled_at, inserted_at)
             SELECT 'available', :'queue', 'MyApp.Mailer', '{}', t, t
             FROM generate_series(1, :jobs) n, LATERAL (SELECT (now() AT TIME ZONE 'UTC') - interval '1 hour' + n * interval '1 ms' AS t) x",
        ),
        other => panic!("{other} is not a PostgreSQL backend"),
    };
    // Indexes are built after the rows go in, as a restore would: inserting 20,000,000 rows into
    // GoodJob's 26 indexes one by one would take the bench's whole time. The copied migrations
    // (Que, River) make theirs as they go.
    let copied_migrations = matches!(backend, Backend::Que | Backend::River);
    let (indexes, tables): (Vec<&str>, Vec<&str>) =
        schema.split_inclusive(";\n").partition(|statement| {
            let statement = statement.trim_start();
            !copied_migrations
                && (statement.starts_with("CREATE INDEX")
                    || statement.starts_with("CREATE UNIQUE INDEX"))
        });
    psql(db.url(), &[], &tables.concat());
    for queue in queues {
        psql(
            db.url(),
            &[("queue", queue.as_str()), ("jobs", &jobs.to_string())],
            insert,
        );
    }
    psql(db.url(), &[], &indexes.concat());
    // As autovacuum would soon: statistics for the planner, the visibility map for index-only scans.
    psql(db.url(), &[], "VACUUM ANALYZE");
    Target {
        url: db.url().to_owned(),
        _keep: Box::new(db),
    }
}

/// What crates/queues/README.md advises an app with a big `delayed_jobs` table to add: the ready
/// jobs of a queue in the workers' order, and the running ones.
pub(crate) fn add_advised_delayed_job_indexes(url: &str) {
    psql(
        url,
        &[],
        "CREATE INDEX delayed_jobs_queue_ready ON delayed_jobs (queue, priority, run_at)
           WHERE failed_at IS NULL AND locked_at IS NULL;
         CREATE INDEX delayed_jobs_queue_locked ON delayed_jobs (queue)
           WHERE locked_at IS NOT NULL AND failed_at IS NULL;
         ANALYZE delayed_jobs;",
    );
}

fn psql(url: &str, variables: &[(&str, &str)], sql: &str) {
    let mut command = Command::new("psql");
    command.args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]);
    for (name, value) in variables {
        command.arg("-v").arg(format!("{name}={value}"));
    }
    let output = command
        .arg("-f")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(sql.as_bytes())?;
            child.wait_with_output()
        })
        .expect("psql (scripts/postgres installs it)");
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
