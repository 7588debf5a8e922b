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

/// Every time column holds an integer of microseconds since the epoch: files written by earlier
/// builds read the same, and this build writes what they read.
#[tokio::test]
async fn times_are_kept_as_integer_microseconds() {
    use autoscaled_store::{NewOverride, OverrideAction, ProcessKey};
    let (dir, url) = temp();
    let path = dir.path().join("autoscaled.db");
    let at = chrono::DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("a time");
    let micros = at.timestamp_micros();
    let store = Store::open(&url, Access::Daemon).await.expect("open");
    store.save_app_state(&state(2, at)).await.expect("state");
    store
        .add_override(&NewOverride {
            key: ProcessKey::new("shop", "web"),
            action: OverrideAction::Pause,
            from: at,
            until: Some(at),
            reason: "deploy".into(),
            by: "ops".into(),
            created_at: at,
        })
        .await
        .expect("override");
    store.close().await;
    // Written by this build, read raw: integers, to the microsecond.
    let mut connection = SqliteConnectOptions::from_str(&url)
        .expect("options")
        .read_only(true)
        .connect()
        .await
        .expect("connect");
    let kept: Vec<(String, i64)> = sqlx::query_as(
        "SELECT typeof(outage_since), outage_since FROM autoscaled_app_state
         UNION ALL SELECT typeof(updated_at), updated_at FROM autoscaled_app_state
         UNION ALL SELECT typeof(from_at), from_at FROM autoscaled_overrides
         UNION ALL SELECT typeof(until_at), until_at FROM autoscaled_overrides
         UNION ALL SELECT typeof(created_at), created_at FROM autoscaled_overrides",
    )
    .fetch_all(&mut connection)
    .await
    .expect("read raw");
    connection.close().await.expect("close");
    assert_eq!(kept, vec![("integer".to_owned(), micros); 5]);
    // Written raw as an earlier build did, read by this one.
    sqlite(
        &path,
        &format!(
            "INSERT INTO autoscaled_history (app, process, minute, probes, probes_down,
                 probes_slow, target, baseline)
             VALUES ('shop', 'web', {minute}, 3, 0, 0, 2, 1);
             INSERT INTO autoscaled_decisions (at, app, process, from_count, to_count, reason, kind)
             VALUES ({micros}, 'shop', 'web', 1, 2, 'slow', 'scale');",
            minute = micros - micros.rem_euclid(60_000_000),
        ),
    )
    .await;
    let store = Store::open(&url, Access::ReadOnly).await.expect("reopen");
    let decisions = store.decisions("shop", 10).await.expect("decisions");
    assert_eq!(decisions.iter().map(|d| d.at).collect::<Vec<_>>(), [at]);
    let minute = at - chrono::TimeDelta::microseconds(micros.rem_euclid(60_000_000));
    let hour = chrono::TimeDelta::hours(1);
    let history = store.history("shop", at - hour, at + hour).await;
    let minutes: Vec<_> = history
        .expect("history")
        .iter()
        .map(|row| row.minute)
        .collect();
    assert_eq!(minutes, [minute]);
    let saved = store.app_state(&ProcessKey::new("shop", "web")).await;
    assert_eq!(saved.expect("read").expect("saved"), state(2, at));
    store.close().await;
}

#[tokio::test]
async fn an_editor_migrates_a_first_version_file_without_claiming_it() {
    let (dir, url) = temp();
    let path = dir.path().join("autoscaled.db");
    sqlite(
        &path,
        &format!(
            "{}
             INSERT INTO autoscaled_schema (version) VALUES (1);",
            include_str!("../../migrations/sqlite/0001_initial.sql")
        ),
    )
    .await;
    // Overrides came with version 3: the editor migrates the file to record one.
    let editor = Store::open(&url, Access::Edit).await.expect("migrated");
    let pause = editor
        .add_override(&autoscaled_store::NewOverride {
            key: autoscaled_store::ProcessKey::new("shop", "web"),
            action: autoscaled_store::OverrideAction::Pause,
            from: chrono::DateTime::UNIX_EPOCH,
            until: None,
            reason: "deploy".into(),
            by: "ada".into(),
            created_at: chrono::DateTime::UNIX_EPOCH,
        })
        .await
        .expect("add a pause");
    assert!(
        !beside(dir.path()).contains(&"autoscaled.db.lock".to_owned()),
        "{:?}",
        beside(dir.path())
    );
    let daemon = Store::open(&url, Access::Daemon)
        .await
        .expect("the daemon opens beside the editor");
    assert_eq!(
        daemon
            .current_overrides(chrono::DateTime::UNIX_EPOCH)
            .await
            .expect("read"),
        vec![pause]
    );
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
                supported: 4,
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
        queue_ready: None,
        queue_busy: None,
        queue_latency_ms: None,
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

fn state(target: u32, at: chrono::DateTime<chrono::Utc>) -> autoscaled_store::AppState {
    autoscaled_store::AppState {
        key: autoscaled_store::ProcessKey::new("shop", "web"),
        target,
        reason: "down: HTTP 503".into(),
        baseline: 1,
        actual: Some(1),
        outage_since: Some(at),
        decider: "{}".into(),
        alerts: "{\"sent\":[]}".into(),
        updated_at: at,
    }
}

/// Files beside the database, by name.
fn beside(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// A truncated `-shm` killed the daemon with SIGBUS: WAL maps its index. The daemon's file now
/// has a rollback journal and maps nothing another process could truncate, and readers still
/// read beside it.
#[tokio::test]
async fn the_daemon_maps_no_file_of_its_database_and_readers_still_read() {
    let (dir, url) = temp();
    let path = dir.path().join("autoscaled.db");
    let daemon = Store::open(&url, Access::Daemon).await.expect("open");
    let now = chrono::Utc::now();
    daemon.save_app_state(&state(3, now)).await.expect("save");
    assert_eq!(beside(dir.path()), ["autoscaled.db", "autoscaled.db.lock"]);
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    let dir_text = dir.path().to_string_lossy().into_owned();
    assert!(
        !maps.lines().any(|line| line.contains(&dir_text)),
        "a file of the database is mapped:\n{maps}"
    );

    // What the issue did: `truncate -s 0 autoscaled.db-shm` (it creates the file when missing).
    let shm = dir.path().join("autoscaled.db-shm");
    std::fs::File::create(&shm).expect("truncate");
    daemon.save_app_state(&state(4, now)).await.expect("save");
    let reader = Store::open(&url, Access::ReadOnly).await.expect("reader");
    let key = autoscaled_store::ProcessKey::new("shop", "web");
    let read = reader.app_state(&key).await.expect("read").expect("saved");
    assert_eq!(read.target, 4);
    // A reader holding the file for its read does not stop the daemon's writes.
    daemon.save_app_state(&state(5, now)).await.expect("save");
    let read = reader.app_state(&key).await.expect("read").expect("saved");
    assert_eq!(read.target, 5);
    assert!(path.exists());
    daemon.close().await;
}

/// `rm autoscaled.db*` under a running daemon: the file comes back whole from the copy the daemon
/// has open, and the path is claimed again, so a second daemon is still refused.
#[tokio::test]
async fn a_file_deleted_under_the_daemon_is_put_back_whole_and_claimed_again() {
    let (dir, url) = temp();
    let daemon = Store::open(&url, Access::Daemon).await.expect("open");
    let now = chrono::Utc::now();
    let key = autoscaled_store::ProcessKey::new("shop", "web");
    daemon.save_app_state(&state(3, now)).await.expect("save");
    daemon
        .record_decision(&autoscaled_store::Decision {
            at: now,
            key: key.clone(),
            kind: DecisionKind::Scale,
            from: 1,
            to: 3,
            reason: "down: HTTP 503".into(),
        })
        .await
        .expect("decision");
    let long = std::time::Duration::from_secs(600);
    let lease = daemon.try_acquire(&key, "me", long).await.expect("lease");
    assert_eq!(lease.map(|lease| lease.generation), Some(1));
    assert!(
        !daemon.restore_file_if_gone().await.expect("check"),
        "nothing to do yet"
    );

    for name in beside(dir.path()) {
        std::fs::remove_file(dir.path().join(name)).expect("rm");
    }
    // A write to the deleted file fails (SQLite refuses to write a file unlinked under it).
    assert!(daemon.save_app_state(&state(4, now)).await.is_err());
    assert!(daemon.restore_file_if_gone().await.expect("restore"));
    assert!(!daemon.restore_file_if_gone().await.expect("check"), "once");
    assert_eq!(beside(dir.path()), ["autoscaled.db", "autoscaled.db.lock"]);
    assert!(matches!(
        Store::open(&url, Access::Daemon).await,
        Err(Error::Locked { .. })
    ));

    daemon.save_app_state(&state(4, now)).await.expect("save");
    let renewed = daemon.renew("me", long).await.expect("renew");
    assert_eq!(
        renewed,
        std::slice::from_ref(&key),
        "the lease came back with the file"
    );
    daemon.close().await;
    drop(daemon);

    let next = Store::open(&url, Access::Daemon).await.expect("reopen");
    let read = next.app_state(&key).await.expect("read").expect("saved");
    assert_eq!((read.target, read.outage_since.is_some()), (4, true));
    assert_eq!(next.decisions("shop", 10).await.expect("read").len(), 1);
    let taken = next.try_acquire(&key, "next", long).await.expect("lease");
    assert_eq!(
        taken.map(|lease| lease.generation),
        Some(2),
        "generations go on"
    );
}

/// Through the writer, as the daemon runs: the file deleted, the next write puts it back.
#[tokio::test]
async fn the_persister_puts_a_deleted_file_back_before_writing() {
    use autoscaled_store::{Persister, WriterOptions};
    let (dir, url) = temp();
    let store = Store::open(&url, Access::Daemon).await.expect("open");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (persister, task) = Persister::spawn(store, WriterOptions::default(), async {
        let _ = stop_rx.await;
    });
    let now = chrono::Utc::now();
    let key = autoscaled_store::ProcessKey::new("shop", "web");
    persister.save_state(state(3, now));
    persister.settled(std::time::Duration::from_secs(10)).await;
    for name in beside(dir.path()) {
        std::fs::remove_file(dir.path().join(name)).expect("rm");
    }
    persister.save_state(state(6, now));
    persister.settled(std::time::Duration::from_secs(10)).await;
    let reader = Store::open(&url, Access::ReadOnly).await.expect("reader");
    let read = reader.app_state(&key).await.expect("read").expect("saved");
    assert_eq!(read.target, 6);
    let _ = stop_tx.send(());
    task.await.expect("writer");
}

/// A file an earlier build left in WAL mode (its log not yet checkpointed) is taken over whole and
/// turned to a rollback journal: nothing of it stays mapped.
#[tokio::test]
async fn a_file_left_in_wal_mode_keeps_its_rows_and_leaves_wal() {
    let (earlier, earlier_url) = temp();
    let daemon = Store::open(&earlier_url, Access::Daemon)
        .await
        .expect("open");
    daemon.close().await;
    drop(daemon);
    // As the earlier build wrote: WAL, and a row still in the log when the process died.
    let mut connection = SqliteConnectOptions::from_str(&earlier_url)
        .expect("options")
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .connect()
        .await
        .expect("connect");
    sqlx::query("PRAGMA wal_autocheckpoint = 0")
        .execute(&mut connection)
        .await
        .expect("no checkpoint");
    sqlx::query(
        "INSERT INTO autoscaled_decisions (at, app, process, from_count, to_count, reason, kind)
         VALUES (1700000000000000, 'shop', 'web', 1, 2, 'slow', 'scale')",
    )
    .execute(&mut connection)
    .await
    .expect("insert");
    // What a killed process leaves: the file and its log, copied while the log holds the row.
    let (dir, url) = temp();
    for name in ["autoscaled.db", "autoscaled.db-wal"] {
        std::fs::copy(earlier.path().join(name), dir.path().join(name)).expect("copy");
    }
    connection.close().await.expect("close");

    let daemon = Store::open(&url, Access::Daemon).await.expect("reopen");
    assert_eq!(daemon.decisions("shop", 10).await.expect("read").len(), 1);
    daemon
        .save_app_state(&state(3, chrono::Utc::now()))
        .await
        .expect("save");
    let logged = |name: &str| {
        std::fs::metadata(dir.path().join(name)).is_ok_and(|metadata| metadata.len() > 0)
    };
    assert!(!logged("autoscaled.db-wal"), "the log was checkpointed");
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    let dir_text = dir.path().to_string_lossy().into_owned();
    assert!(
        !maps.lines().any(|line| line.contains(&dir_text)),
        "a file of the database is still mapped:\n{maps}"
    );
    daemon.close().await;
}
