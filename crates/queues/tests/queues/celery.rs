//! Celery through its own client on its Redis broker (PyPI celery, kombu).

use std::time::Duration;

use autoscaled_queues::{Backend, Options};
use chrono::Utc;

use crate::support::{TestRedis, python, python_with, queue, read, repeat, window};

#[tokio::test]
async fn celery_queues_from_empty_to_100_000_messages() {
    let redis = TestRedis::new();
    let reader = redis.reader(Backend::Celery, &["default", "stamped"]).await;

    let reading = read(&reader, Utc::now()).await;
    let empty = queue(&reading, "default");
    assert_eq!(
        (empty.depth, empty.latency, empty.busy, empty.due),
        (0, Some(Duration::ZERO), None, None)
    );

    // Celery's messages carry no publish time: depth only.
    python(&redis, "celery_enqueue.py", &["default", "1"]);
    let reading = read(&reader, Utc::now()).await;
    let default = queue(&reading, "default");
    assert_eq!((default.depth, default.latency), (1, None));

    // With the app's publish-time header, the age of the oldest.
    let first = window(|| {
        python(
            &redis,
            "celery_enqueue.py",
            &["stamped", "1", "published_at"],
        )
    });
    let now = first.after + chrono::Duration::seconds(90);
    let reading = read(&reader, now).await;
    let stamped = queue(&reading, "stamped");
    assert_eq!(stamped.depth, 1);
    first.assert_age(stamped.latency, now);

    // 99,999 newer copies of the client's own message pushed in front (kombu LPUSHes).
    let mut admin = redis.admin();
    let message: String = redis::cmd("LINDEX")
        .arg("stamped")
        .arg(0)
        .query(&mut admin)
        .unwrap();
    repeat(&mut admin, 99_999, &["LPUSH", "stamped", &message]);
    let reading = read(&reader, now).await;
    let stamped = queue(&reading, "stamped");
    assert_eq!(stamped.depth, 100_000);
    first.assert_age(stamped.latency, now);

    // A message with a priority goes to its own list (`NAME\x06\x169`): counted too.
    python(
        &redis,
        "celery_enqueue.py",
        &["default", "1", "priority", "9"],
    );
    assert_eq!(queue(&read(&reader, now).await, "default").depth, 2);

    // Without `queues`: Celery's default queue.
    let every = redis.reader(Backend::Celery, &[]).await;
    let names: Vec<String> = read(&every, now)
        .await
        .queues
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(names, ["celery"]);
}

#[tokio::test]
async fn celery_under_kombus_global_keyprefix() {
    let redis = TestRedis::new();
    let prefixed = [("PREFIX", "myapp:")];
    let first = window(|| {
        python_with(
            &redis,
            &prefixed,
            "celery_enqueue.py",
            &["default", "2", "published_at"],
        )
    });
    python_with(
        &redis,
        &prefixed,
        "celery_enqueue.py",
        &["default", "1", "priority", "9", "published_at"],
    );
    let now = first.after + chrono::Duration::seconds(90);

    let reader = redis
        .reader_with(
            Backend::Celery,
            &["default"],
            Options::default().with_prefix("myapp:"),
        )
        .await;
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(default.depth, 3, "both lists, the priority one's too");
    first.assert_age(default.latency, now);

    let unprefixed = redis.reader(Backend::Celery, &["default"]).await;
    assert_eq!(queue(&read(&unprefixed, now).await, "default").depth, 0);
}
