//! BullMQ through its own client (npm bullmq).

use std::time::Duration;

use autoscaled_queues::{Backend, Options};
use chrono::Utc;

use crate::support::{TestRedis, bullmq, bullmq_with, queue, read, window};

#[tokio::test]
async fn bullmq_queues_from_empty_to_100_000_jobs() {
    let redis = TestRedis::new();
    let reader = redis.reader(Backend::Bullmq, &["default", "low"]).await;

    let reading = read(&reader, Utc::now()).await;
    let empty = queue(&reading, "default");
    assert_eq!(
        (
            empty.depth,
            empty.latency,
            empty.busy,
            empty.due,
            empty.paused
        ),
        (0, Some(Duration::ZERO), Some(0), Some(0), false)
    );

    let first = window(|| bullmq(&redis, &["default", "add", "1"]));
    let now = first.after + chrono::Duration::seconds(90);
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(default.depth, 1);
    first.assert_age(default.latency, now);

    bullmq(&redis, &["default", "add", "99999"]);
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(default.depth, 100_000);
    first.assert_age(default.latency, now);

    // Delayed: one due a second after it was added (long before `now`), one an hour after.
    bullmq(&redis, &["low", "delay", "1000"]);
    bullmq(&redis, &["low", "delay", "3600000"]);
    let reading = read(&reader, now).await;
    let low = queue(&reading, "low");
    assert_eq!((low.depth, low.due), (0, Some(1)));

    // A worker takes the oldest job: it is busy, no longer ready.
    bullmq(&redis, &["default", "take"]);
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!((default.depth, default.busy), (99_999, Some(1)));

    // A prioritized job is ready too; a paused queue's jobs stay counted and it says so.
    bullmq(&redis, &["low", "prioritized"]);
    bullmq(&redis, &["low", "pause"]);
    let reading = read(&reader, now).await;
    let low = queue(&reading, "low");
    assert_eq!((low.depth, low.paused), (1, true));
    assert_eq!(
        low.latency, None,
        "a prioritized job's age needs a walk: unknown"
    );
}

#[tokio::test]
async fn bullmq_needs_its_queues_named() {
    let redis = TestRedis::new();
    let error = autoscaled_queues::Reader::connect(Backend::Bullmq, &redis.reader_url(), vec![])
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "bullmq keeps no list of its queues: name the queues to read in `queues`"
    );
}

#[tokio::test]
async fn bullmq_under_the_apps_own_prefix() {
    let redis = TestRedis::new();
    let prefixed = [("PREFIX", "myapp")];
    let first = window(|| bullmq_with(&redis, &prefixed, &["default", "add", "3"]));
    bullmq_with(&redis, &prefixed, &["default", "take"]);
    // After the take: a worker would promote it once due.
    bullmq_with(&redis, &prefixed, &["default", "delay", "1000"]);
    let now = first.after + chrono::Duration::seconds(90);

    let reader = redis
        .reader_with(
            Backend::Bullmq,
            &["default"],
            Options::default().with_prefix("myapp"),
        )
        .await;
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(
        (default.depth, default.busy, default.due),
        (2, Some(1), Some(1))
    );
    first.assert_age(default.latency, now);

    // The default prefix finds nothing there.
    let unprefixed = redis.reader(Backend::Bullmq, &["default"]).await;
    assert_eq!(queue(&read(&unprefixed, now).await, "default").depth, 0);
}
