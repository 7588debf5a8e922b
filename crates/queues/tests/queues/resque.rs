//! Resque, written as lib/resque/data_store.rb writes (no client in the registries here).

use autoscaled_queues::{Backend, Options};
use chrono::Utc;

use crate::support::{TestRedis, queue, read, repeat};

#[tokio::test]
async fn resque_depth_and_busy_workers() {
    let redis = TestRedis::new();
    let reader = redis.reader(Backend::Resque, &["default", "mailers"]).await;
    let reading = read(&reader, Utc::now()).await;
    let empty = queue(&reading, "default");
    assert_eq!((empty.depth, empty.latency, empty.busy), (0, None, Some(0)));

    // Resque.push: SADD resque:queues NAME; RPUSH resque:queue:NAME {class, args}.
    let mut admin = redis.admin();
    let job = r#"{"class":"Archive","args":[1]}"#;
    redis::pipe()
        .cmd("SADD")
        .arg("resque:queues")
        .arg("default")
        .ignore()
        .cmd("RPUSH")
        .arg("resque:queue:default")
        .arg(job)
        .ignore()
        .query::<()>(&mut admin)
        .unwrap();
    let reading = read(&reader, Utc::now()).await;
    assert_eq!(queue(&reading, "default").depth, 1);
    assert_eq!(
        queue(&reading, "default").latency,
        None,
        "Resque stores no time"
    );

    repeat(&mut admin, 99_999, &["RPUSH", "resque:queue:default", job]);
    assert_eq!(
        queue(&read(&reader, Utc::now()).await, "default").depth,
        100_000
    );

    // Workers: SADD resque:workers ID; while working, SET resque:worker:ID {queue, run_at, payload}.
    redis::pipe()
        .cmd("SADD").arg("resque:workers").arg("host:1:mailers").arg("host:2:default").ignore()
        .cmd("SET").arg("resque:worker:host:1:mailers")
        .arg(r#"{"queue":"mailers","run_at":"2026/12/07 14:20:00 UTC","payload":{"class":"Mail","args":[]}}"#)
        .ignore()
        .query::<()>(&mut admin)
        .unwrap();
    let reading = read(&reader, Utc::now()).await;
    assert_eq!(queue(&reading, "mailers").busy, Some(1));
    assert_eq!(
        queue(&reading, "default").busy,
        Some(0),
        "an idle worker is not busy"
    );

    let every = redis.reader(Backend::Resque, &[]).await;
    let names: Vec<String> = read(&every, Utc::now())
        .await
        .queues
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(names, ["default"]);
}

/// `Resque.redis.namespace = "resque:myapp"`: every key under that namespace instead.
#[tokio::test]
async fn resque_under_its_own_namespace() {
    let redis = TestRedis::new();
    let mut admin = redis.admin();
    let job = r#"{"class":"Archive","args":[1]}"#;
    redis::pipe()
        .cmd("SADD").arg("resque:myapp:queues").arg("default").ignore()
        .cmd("RPUSH").arg("resque:myapp:queue:default").arg(job).arg(job).ignore()
        .cmd("SADD").arg("resque:myapp:workers").arg("host:1:default").ignore()
        .cmd("SET").arg("resque:myapp:worker:host:1:default")
        .arg(r#"{"queue":"default","run_at":"2026/12/07 14:20:00 UTC","payload":{"class":"Archive","args":[2]}}"#)
        .ignore()
        .query::<()>(&mut admin)
        .unwrap();

    let reader = redis
        .reader_with(
            Backend::Resque,
            &[],
            Options::default().with_prefix("resque:myapp"),
        )
        .await;
    let reading = read(&reader, Utc::now()).await;
    let names: Vec<&str> = reading.queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["default"]);
    let default = queue(&reading, "default");
    assert_eq!((default.depth, default.busy), (2, Some(1)));

    let unprefixed = redis.reader(Backend::Resque, &["default"]).await;
    assert_eq!(
        queue(&read(&unprefixed, Utc::now()).await, "default").depth,
        0
    );
}
