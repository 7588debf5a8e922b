//! What only PostgreSQL does: TLS modes, servers that do not answer, a fleet racing for leases.

use std::time::{Duration, Instant};

use autoscaled_store::{Access, Error, ProcessKey, Store};
use futures_util::future::join_all;
use sqlx::{Connection, PgConnection};

use crate::Db;

#[tokio::test]
async fn an_unreachable_server_fails_fast_without_showing_the_password() {
    let port = testkit::closed_port();
    let url = format!("postgres://autoscaled:Sup3r-s3cret@127.0.0.1:{port}/autoscaled");
    let started = Instant::now();
    let error = Store::open(&url, Access::Daemon)
        .await
        .expect_err("no server");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, Error::Open { .. }), "{error:?}");
    let shown = format!("{error} {error:?}");
    assert!(
        error.to_string().starts_with(&format!(
            "cannot open the database postgres://autoscaled:[redacted]@127.0.0.1:{port}/autoscaled: "
        )),
        "{error}"
    );
    assert!(!shown.contains("Sup3r-s3cret"), "{shown}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_showing_it() {
    let db = Db::postgres();
    let url = db
        .url()
        .replace("autoscaled:autoscaled@", "autoscaled:Wr0ng-pw@");
    let error = Store::open(&url, Access::Daemon)
        .await
        .expect_err("refused");
    let shown = format!("{error} {error:?}");
    assert!(matches!(error, Error::Open { .. }), "{error:?}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains("Wr0ng-pw"), "{shown}");
}

#[tokio::test]
async fn debug_shows_no_password() {
    let db = Db::postgres();
    let store = db.open(Access::Daemon).await;
    let shown = format!("{store:?}");
    assert!(shown.contains("autoscaled:[redacted]@"), "{shown}");
    assert!(!shown.contains("autoscaled:autoscaled@"), "{shown}");
}

/// Debian's server offers TLS with a self-signed ("snakeoil") certificate, as Heroku's is not
/// signed by a public CA: the default (`prefer`) and `require` must encrypt without verifying it,
/// and `disable` must still connect in plain text. `verify-full` must refuse that certificate.
#[tokio::test]
async fn tls_modes_encrypt_without_verifying_unless_asked() {
    let db = Db::postgres();
    db.open(Access::Daemon).await.close().await;
    for mode in [
        "",
        "?sslmode=prefer",
        "?sslmode=require",
        "?sslmode=disable",
    ] {
        let store = Store::open(&format!("{}{mode}", db.url()), Access::Daemon)
            .await
            .unwrap_or_else(|error| panic!("sslmode {mode:?}: {error}"));
        store
            .app_states()
            .await
            .expect("a query over that connection");
        store.close().await;
    }
    let error = Store::open(&format!("{}?sslmode=verify-full", db.url()), Access::Daemon)
        .await
        .expect_err("a self-signed certificate is not verified");
    assert!(matches!(error, Error::Open { .. }), "{error:?}");
}

/// A server that drops the daemon's connections (a restart, a failover) makes a call fail at most:
/// the pool opens new ones and the next call works.
#[tokio::test]
async fn calls_recover_after_the_server_drops_the_connections() {
    let db = Db::postgres();
    let store = db.open(Access::Daemon).await;
    store.heartbeat("a").await.expect("heartbeat");
    let mut other = PgConnection::connect(db.url()).await.expect("connect");
    let dropped: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut other)
    .await
    .expect("terminate");
    assert!(
        dropped.contains(&true),
        "the store had no connection to drop"
    );
    let first = store.live_instances(Duration::from_secs(600)).await;
    assert!(matches!(first, Ok(_) | Err(Error::Query(_))), "{first:?}");
    assert_eq!(
        store
            .live_instances(Duration::from_secs(600))
            .await
            .expect("reconnected")
            .len(),
        1
    );
}

#[tokio::test]
async fn read_only_needs_a_schema_the_daemon_made() {
    let db = Db::postgres();
    let error = Store::open(db.url(), Access::ReadOnly)
        .await
        .expect_err("no schema");
    assert!(
        matches!(
            error,
            Error::NotMigrated {
                found: 0,
                needed: 4,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn instances_sharing_a_database_migrate_once_and_one_wins_each_lease() {
    let db = Db::postgres();
    // A fleet starting at once: the migration lock lets one create the schema, the others find it.
    let opened = join_all((0..4).map(|_| Store::open(db.url(), Access::Daemon))).await;
    let stores: Vec<Store> = opened
        .into_iter()
        .map(|opened| opened.expect("open"))
        .collect();

    let key = ProcessKey::new("shop", "web");
    for round in 0..5 {
        let attempts = stores.iter().enumerate().map(|(i, store)| {
            let key = key.clone();
            async move {
                store
                    .try_acquire(
                        &key,
                        &format!("instance-{round}-{i}"),
                        Duration::from_secs(600),
                    )
                    .await
                    .expect("acquire")
            }
        });
        let won: Vec<_> = join_all(attempts).await.into_iter().flatten().collect();
        assert_eq!(won.len(), 1, "round {round}: {won:?}");
        assert_eq!(won[0].generation, round + 1);
        stores[0].release(&won[0].holder).await.expect("release");
    }
}
