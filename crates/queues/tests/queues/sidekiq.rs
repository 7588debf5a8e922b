//! Sidekiq 6 through its own client, Sidekiq 8's millisecond timestamps as it writes them.

use std::time::Duration;

use autoscaled_queues::{Backend, Options};
use chrono::{DateTime, Utc};

use crate::support::{TestRedis, queue, read, repeat, sidekiq, window};

#[tokio::test]
async fn sidekiq_6_queues_from_empty_to_100_000_jobs() {
    let redis = TestRedis::new();
    let reader = redis
        .reader(Backend::Sidekiq, &["default", "mailers"])
        .await;

    // Nothing enqueued yet: empty queues, nothing due, nobody busy.
    let reading = read(&reader, Utc::now()).await;
    for name in ["default", "mailers"] {
        let empty = queue(&reading, name);
        assert_eq!(
            (empty.depth, empty.latency, empty.busy),
            (0, Some(Duration::ZERO), Some(0))
        );
    }
    assert_eq!(reading.due_shared, Some(0));

    // One job.
    let first = window(|| sidekiq(&redis, &["default", "1"]));
    let now = first.after + chrono::Duration::seconds(90);
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(default.depth, 1);
    first.assert_age(default.latency, now);
    assert_eq!(queue(&reading, "mailers").depth, 0);

    // 99,999 more: the oldest is still the first.
    sidekiq(&redis, &["default", "99999"]);
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(default.depth, 100_000);
    first.assert_age(default.latency, now);

    // A job scheduled an hour ahead is not due; one whose time has passed (left in `schedule`, as
    // when the scheduler has not polled yet) is; and a retry due, as Sidekiq's retry set holds it.
    let in_an_hour = (Utc::now() + chrono::Duration::hours(1))
        .timestamp()
        .to_string();
    sidekiq(&redis, &["default", "1", "at", &in_an_hour]);
    let past = (Utc::now() - chrono::Duration::seconds(60))
        .timestamp()
        .to_string();
    sidekiq(&redis, &["mailers", "1", "at", &past]);
    let reading = read(&reader, now).await;
    assert_eq!(reading.due_shared, Some(1));
    assert_eq!(
        queue(&reading, "mailers").depth,
        0,
        "a scheduled job is not ready"
    );

    // A running job, recorded as a Sidekiq 6 process does (launcher.rb, processor.rb).
    let mut admin = redis.admin();
    let identity = "worker.1:7:0123456789ab";
    redis::pipe()
        .cmd("SADD").arg("processes").arg(identity).ignore()
        .cmd("HSET").arg(format!("{identity}:work")).arg("abc")
        .arg(r#"{"queue":"mailers","payload":{"class":"HardWorker","args":[1],"queue":"mailers"},"run_at":1765117200}"#)
        .ignore()
        .query::<()>(&mut admin)
        .unwrap();
    let reading = read(&reader, now).await;
    assert_eq!(queue(&reading, "mailers").busy, Some(1));
    assert_eq!(queue(&reading, "default").busy, Some(0));

    // Without `queues`, every queue Sidekiq lists.
    let every = redis.reader(Backend::Sidekiq, &[]).await;
    let names: Vec<String> = read(&every, now)
        .await
        .queues
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(
        names,
        ["default"],
        "only the queue jobs were pushed to now is listed"
    );
}

/// Sidekiq 8 writes `enqueued_at` and `created_at` as integer epoch milliseconds
/// (lib/sidekiq/client.rb `now_in_millis`); before it, float seconds.
#[tokio::test]
async fn sidekiq_8_millisecond_timestamps() {
    let redis = TestRedis::new();
    let mut admin = redis.admin();
    let enqueued = DateTime::from_timestamp_millis(1_796_654_000_123).unwrap();
    let job = format!(
        r#"{{"retry":true,"queue":"default","class":"HardWorker","args":[1],"jid":"5a1f2e3d4c5b6a7980a1b2c3","created_at":{0},"enqueued_at":{0}}}"#,
        enqueued.timestamp_millis()
    );
    let reader = redis.reader(Backend::Sidekiq, &["default"]).await;
    redis::cmd("SADD")
        .arg("queues")
        .arg("default")
        .query::<()>(&mut admin)
        .unwrap();
    redis::cmd("LPUSH")
        .arg("queue:default")
        .arg(&job)
        .query::<()>(&mut admin)
        .unwrap();

    let now = enqueued + chrono::Duration::milliseconds(42_500);
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(default.depth, 1);
    assert_eq!(default.latency, Some(Duration::from_millis(42_500)));

    // 99,999 newer jobs pushed in front: the oldest stays at the tail.
    let newer = job.replace(
        &enqueued.timestamp_millis().to_string(),
        &(enqueued.timestamp_millis() + 5_000).to_string(),
    );
    repeat(&mut admin, 99_999, &["LPUSH", "queue:default", &newer]);
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(default.depth, 100_000);
    assert_eq!(default.latency, Some(Duration::from_millis(42_500)));

    // A job enqueued after `now` (a clock ahead of ours) is zero old, not negative.
    let reading = read(&reader, enqueued - chrono::Duration::seconds(1)).await;
    assert_eq!(queue(&reading, "default").latency, Some(Duration::ZERO));
}

/// A redis-namespace namespace (`config.redis = { namespace: "myapp" }`, Sidekiq 6) only puts
/// `myapp:` before every key Sidekiq names: the client's own jobs, moved under it with `RENAME`,
/// are what a namespaced client writes.
#[tokio::test]
async fn sidekiq_under_a_redis_namespace() {
    let redis = TestRedis::new();
    let first = window(|| sidekiq(&redis, &["default", "2"]));
    let past = (Utc::now() - chrono::Duration::seconds(60))
        .timestamp()
        .to_string();
    sidekiq(&redis, &["mailers", "1", "at", &past]);
    let mut admin = redis.admin();
    let identity = "worker.1:7:0123456789ab";
    redis::pipe()
        .cmd("RENAME").arg("queue:default").arg("myapp:queue:default").ignore()
        .cmd("RENAME").arg("queues").arg("myapp:queues").ignore()
        .cmd("RENAME").arg("schedule").arg("myapp:schedule").ignore()
        .cmd("SADD").arg("myapp:processes").arg(identity).ignore()
        .cmd("HSET").arg(format!("myapp:{identity}:work")).arg("abc")
        .arg(r#"{"queue":"default","payload":{"class":"HardWorker","args":[1],"queue":"default"},"run_at":1765117200}"#)
        .ignore()
        .query::<()>(&mut admin)
        .unwrap();
    let now = first.after + chrono::Duration::seconds(90);

    let reader = redis
        .reader_with(
            Backend::Sidekiq,
            &[],
            Options::default().with_prefix("myapp"),
        )
        .await;
    let reading = read(&reader, now).await;
    let names: Vec<&str> = reading.queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["default"], "the namespaced `queues` set");
    let default = queue(&reading, "default");
    assert_eq!((default.depth, default.busy), (2, Some(1)));
    first.assert_age(default.latency, now);
    assert_eq!(reading.due_shared, Some(1));

    let unprefixed = redis.reader(Backend::Sidekiq, &["default"]).await;
    let reading = read(&unprefixed, now).await;
    assert_eq!(
        (queue(&reading, "default").depth, reading.due_shared),
        (0, Some(0))
    );
}
