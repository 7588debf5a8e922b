//! RQ through its own client (PyPI rq).

use std::time::Duration;

use autoscaled_queues::Backend;
use chrono::Utc;

use crate::support::{TestRedis, python, queue, read, window};

#[tokio::test]
async fn rq_queues_from_empty_to_100_000_jobs() {
    let redis = TestRedis::new();
    let reader = redis.reader(Backend::Rq, &["default", "low"]).await;

    let reading = read(&reader, Utc::now()).await;
    for name in ["default", "low"] {
        let empty = queue(&reading, name);
        assert_eq!(
            (empty.depth, empty.latency, empty.busy, empty.due),
            (0, Some(Duration::ZERO), Some(0), Some(0))
        );
    }

    let first = window(|| python(&redis, "rq_enqueue.py", &["default", "1"]));
    let now = first.after + chrono::Duration::seconds(90);
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(default.depth, 1);
    first.assert_age(default.latency, now);

    // 99 more through the client, then the list grown to 100,000 ids as RQ's RPUSH leaves it
    // (the client's ids repeated: only the list's length and its head are read).
    python(&redis, "rq_enqueue.py", &["default", "99"]);
    let mut admin = redis.admin();
    let ids: Vec<String> = redis::cmd("LRANGE")
        .arg("rq:queue:default")
        .arg(1)
        .arg(-1)
        .query(&mut admin)
        .unwrap();
    let mut pipe = redis::pipe();
    for id in ids.iter().cycle().take(100_000 - 100) {
        pipe.cmd("RPUSH").arg("rq:queue:default").arg(id).ignore();
    }
    pipe.query::<()>(&mut admin).unwrap();
    let reading = read(&reader, now).await;
    let default = queue(&reading, "default");
    assert_eq!(default.depth, 100_000);
    first.assert_age(default.latency, now);

    // Scheduled (rq:scheduled:NAME): one due a minute before `now`, one an hour after it.
    let due = (now - chrono::Duration::seconds(60))
        .timestamp()
        .to_string();
    let later = (now + chrono::Duration::hours(1)).timestamp().to_string();
    python(&redis, "rq_enqueue.py", &["low", "0", "at", &due]);
    python(&redis, "rq_enqueue.py", &["low", "0", "at", &later]);
    let reading = read(&reader, now).await;
    let low = queue(&reading, "low");
    assert_eq!((low.depth, low.due), (0, Some(1)));

    // Running jobs (rq:wip:NAME, `job_id:execution_id` scored by when their heartbeat expires):
    // one alive, one whose worker died (expired) is not busy.
    let alive = (now.timestamp() + 60).to_string();
    let dead = (now.timestamp() - 60).to_string();
    redis::pipe()
        .cmd("ZADD")
        .arg("rq:wip:default")
        .arg(&alive)
        .arg("job-a:exec-a")
        .ignore()
        .cmd("ZADD")
        .arg("rq:wip:default")
        .arg(&dead)
        .arg("job-b:exec-b")
        .ignore()
        .query::<()>(&mut admin)
        .unwrap();
    assert_eq!(queue(&read(&reader, now).await, "default").busy, Some(1));

    // Without `queues`: every queue in rq:queues.
    let every = redis.reader(Backend::Rq, &[]).await;
    let names: Vec<String> = read(&every, now)
        .await
        .queues
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(names, ["default", "low"]);
}

/// A job deleted while its id waits in the list: its age is unknown, not an error.
#[tokio::test]
async fn rq_job_deleted_while_queued() {
    let redis = TestRedis::new();
    python(&redis, "rq_enqueue.py", &["default", "1"]);
    let mut admin = redis.admin();
    let id: String = redis::cmd("LINDEX")
        .arg("rq:queue:default")
        .arg(0)
        .query(&mut admin)
        .unwrap();
    redis::cmd("DEL")
        .arg(format!("rq:job:{id}"))
        .query::<()>(&mut admin)
        .unwrap();
    let reader = redis.reader(Backend::Rq, &["default"]).await;
    let reading = read(&reader, Utc::now()).await;
    assert_eq!(
        (
            queue(&reading, "default").depth,
            queue(&reading, "default").latency
        ),
        (1, None)
    );
}
