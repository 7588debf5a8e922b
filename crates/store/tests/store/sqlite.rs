//! What only SQLite files do: one daemon per file, and files that are not ours.

use std::path::Path;
use std::str::FromStr;

use autoscaled_store::{Access, Error, Store};
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

    // Once the first daemon is gone, another may start.
    daemon.close().await;
    drop(daemon);
    Store::open(&url, Access::Daemon)
        .await
        .expect("open after the first closed");
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
                supported: 1,
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
