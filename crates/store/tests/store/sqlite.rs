//! What only SQLite files do: one daemon per file, and files that are not ours.

use std::path::Path;
use std::str::FromStr;

use autoscaled_store::{Access, DecisionKind, Error, Store};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

fn temp() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("autoscaled.db").display());
    (dir, url)
}

/// Runs `sql` on the SQLite file at `path`, creating it, as another program would.
async fn sqlite(path: &Path, sql: &str) {
    let mut connection = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .expect("options")
        .create_if_missing(true)
        .connect()
        .await
        .expect("connect");
    sqlx::raw_sql(sql)
        .execute(&mut connection)
        .await
        .expect("run SQL");
    connection.close().await.expect("close");
}

#[tokio::test]
async fn a_first_version_file_is_migrated_and_its_decisions_are_scales() {
    let (dir, url) = temp();
    let path = dir.path().join("autoscaled.db");
    // A file as the first release left it: the first schema, version 1, one decision.
    sqlite(
        &path,
        &format!(
            "{}
             INSERT INTO autoscaled_schema (version) VALUES (1);
             INSERT INTO autoscaled_decisions (at, app, process, from_count, to_count, reason)
             VALUES (1700000000000000, 'shop', 'web', 1, 2, 'slow');",
            include_str!("../../migrations/sqlite/0001_initial.sql")
        ),
    )
    .await;
    let store = Store::open(&url, Access::Daemon).await.expect("migrated");
    let decisions = store.decisions("shop", 10).await.expect("read");
    assert_eq!(
        decisions
            .iter()
            .map(|d| (d.kind, d.from, d.to))
            .collect::<Vec<_>>(),
        [(DecisionKind::Scale, 1, 2)]
    );
    store.close().await;
}

#[tokio::test]
async fn a_second_daemon_is_refused_while_readers_work() {
    let (dir, url) = temp();
    let daemon = Store::open(&url, Access::Daemon).await.expect("open");
    let second = Store::open(&url, Access::Daemon).await;
    let path = dir.path().join("autoscaled.db");
    match second {
        Err(error @ Error::Locked { .. }) => assert_eq!(
            error.to_string(),
            format!("another autoscaled holds {}", path.display())
        ),
        other => panic!("a second daemon opened the file: {other:?}"),
    }
    let reader = Store::open(&url, Access::ReadOnly)
        .await
        .expect("read-only open");
    assert_eq!(reader.app_states().await.expect("read"), vec![]);

    // Once the first daemon is gone, another may start; the leases the first left running (as a
    // `kill -9` leaves them) lapse at once: the lock proves their holder dead.
    let web = autoscaled_store::ProcessKey::new("shop", "web");
    let long = std::time::Duration::from_secs(600);
    let first = daemon
        .try_acquire(&web, "first", long)
        .await
        .expect("acquire");
    assert!(first.is_some());
    daemon.close().await;
    drop(daemon);
    let next = Store::open(&url, Access::Daemon)
        .await
        .expect("open after the first closed");
    assert_eq!(next.leases().await.expect("leases"), vec![]);
    let taken = next.try_acquire(&web, "next", long).await.expect("acquire");
    assert_eq!(taken.map(|lease| lease.generation), Some(2));
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
    let (dir, url) = temp();
    let path = dir.path().join("autoscaled.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &garbage).expect("write");
    for access in [Access::Daemon, Access::ReadOnly] {
        let error = Store::open(&url, access)
            .await
            .expect_err("garbage refused");
        assert!(
            matches!(error, Error::NotOurs { .. }),
            "{access:?}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("{url} is not an autoscaled database: the file is not an SQLite database")
        );
    }
    assert_eq!(std::fs::read(&path).expect("read"), garbage);
}

#[tokio::test]
async fn another_programs_sqlite_file_is_refused() {
    let (dir, url) = temp();
    let path = dir.path().join("autoscaled.db");
    sqlite(
        &path,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE orders (id INTEGER)",
    )
    .await;
    for access in [Access::Daemon, Access::ReadOnly] {
        let error = Store::open(&url, access)
            .await
            .expect_err("foreign file refused");
        assert!(
            matches!(error, Error::NotOurs { .. }),
            "{access:?}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("another program (tables orders, users)"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_schema_from_a_newer_autoscaled_is_left_alone() {
    let (dir, url) = temp();
    Store::open(&url, Access::Daemon)
        .await
        .expect("create")
        .close()
        .await;
    sqlite(
        &dir.path().join("autoscaled.db"),
        "UPDATE autoscaled_schema SET version = 99",
    )
    .await;
    let error = Store::open(&url, Access::Daemon)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            error,
            Error::TooNew {
                found: 99,
                supported: 3,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unwritable_path_is_a_clear_error() {
    // Tests run as root, whom permission bits do not stop: a path under a regular file, and one in
    // /proc, cannot be created by anyone.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("write");
    for path in [file.join("autoscaled.db"), "/proc/autoscaled.db".into()] {
        let url = format!("sqlite://{}", path.display());
        let error = Store::open(&url, Access::Daemon)
            .await
            .expect_err("refused");
        assert!(matches!(error, Error::Open { .. }), "{error:?}");
        let shown = error.to_string();
        assert!(
            shown.starts_with(&format!(
                "cannot open the database {url}: cannot create its lock file {}.lock: ",
                path.display()
            )),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn read_only_needs_a_database_the_daemon_made() {
    let (_dir, url) = temp();
    let error = Store::open(&url, Access::ReadOnly)
        .await
        .expect_err("no file");
    assert!(
        error
            .to_string()
            .contains("(the daemon creates it at start)"),
        "{error}"
    );
}

#[tokio::test]
async fn memory_is_one_database_for_every_query_and_writes_no_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let before = std::env::current_dir().expect("cwd");
    let store = Store::open(autoscaled_store::MEMORY_URL, Access::Daemon)
        .await
        .expect("open");
    let state = autoscaled_store::AppState {
        key: autoscaled_store::ProcessKey::new("app", "web"),
        target: 3,
        reason: "test".into(),
        baseline: 1,
        actual: Some(3),
        outage_since: None,
        decider: "{}".into(),
        alerts: "{}".into(),
        updated_at: chrono::Utc::now(),
    };
    // Concurrent queries: a pool of more than one connection would see two databases.
    let (saved, read) = tokio::join!(store.save_app_state(&state), store.app_states());
    saved.expect("save");
    read.expect("read");
    assert_eq!(store.app_states().await.expect("read").len(), 1);
    assert!(store.is_sqlite());
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    assert_eq!(std::env::current_dir().expect("cwd"), before);
    store.close().await;
}

#[tokio::test]
async fn the_persister_writes_states_decisions_and_history_off_the_callers_path() {
    use autoscaled_store::{Decision, HistoryRow, Persister, ProcessKey, WriterOptions};
    let (_dir, url) = temp();
    let store = Store::open(&url, Access::Daemon).await.expect("open");
    let options = WriterOptions {
        history_every: std::time::Duration::from_millis(50),
        ..WriterOptions::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (persister, task) = Persister::spawn(store, options, async {
        let _ = stop_rx.await;
    });
    let key = ProcessKey::new("app", "web");
    let now = chrono::Utc::now();
    for target in [2, 3, 4] {
        persister.save_state(autoscaled_store::AppState {
            key: key.clone(),
            target,
            reason: "test".into(),
            baseline: 1,
            actual: None,
            outage_since: None,
            decider: "{}".into(),
            alerts: "{}".into(),
            updated_at: now,
        });
    }
    persister.record_decision(Decision {
        at: now,
        key: key.clone(),
        kind: DecisionKind::Scale,
        from: 1,
        to: 4,
        reason: "down".into(),
    });
    persister.write_history(HistoryRow {
        key: key.clone(),
        minute: now,
        latency_p50_ms: None,
        latency_p95_ms: None,
        latency_max_ms: None,
        probes: 0,
        probes_down: 0,
        probes_slow: 0,
        actual: None,
        target: 4,
        baseline: 1,
        requests: None,
        in_flight: None,
    });
    let _ = stop_tx.send(());
    task.await.expect("writer");
    let store = Store::open(&url, Access::ReadOnly).await.expect("reopen");
    let state = store.app_state(&key).await.expect("read").expect("saved");
    assert_eq!(state.target, 4, "the latest state wins");
    assert_eq!(store.decisions("app", 10).await.expect("read").len(), 1);
    let hour = chrono::TimeDelta::hours(1);
    let history = store.history("app", now - hour, now + hour).await;
    assert_eq!(history.expect("read").len(), 1);
}
