#![allow(clippy::unwrap_used, reason = "a test fails at its first surprise")]

//! The feed on tokio's paused clock (the daemon's `Clock` reads tokio's time): a datastore that
//! fails for minutes takes no wall time to test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use policy::QueueFigures;
use testkit::Logs;

use super::*;
use crate::config::Config;

/// A worker polled every 10 s whose datastore fails while `failing` is set.
fn worker(failing: Arc<AtomicBool>) -> Arc<AppSettings> {
    let tree = serde_json::json!({
        "heroku": { "api_key": "key" },
        "apps": [{
            "name": "shop", "process": "worker", "min": 0, "max": 4,
            "queue": { "backend": "sidekiq", "url_env": "UNUSED", "concurrency": 5 },
        }],
    });
    let mut config = Config::from_tree(&tree).unwrap();
    let mut settings = config.apps.remove(0);
    let Some(queue) = settings.queue.as_mut() else {
        panic!("no queue")
    };
    queue.url = QueueUrl::Simulated(Arc::new(move |at| {
        if failing.load(Ordering::SeqCst) {
            return Err("the sidekiq datastore did not answer within 5s".to_owned());
        }
        Ok(QueueReading {
            at,
            queues: vec![QueueFigures {
                name: "default".into(),
                depth: 3,
                latency: Some(Duration::from_secs(2)),
                busy: Some(1),
                due: 0,
            }],
        })
    }));
    Arc::new(settings)
}

/// The worker's feed, running: what it sends, its stop, its task.
fn start(
    failing: &Arc<AtomicBool>,
) -> (
    mpsc::Receiver<Event>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let (events, received) = mpsc::channel(16);
    let shutdown = CancellationToken::new();
    let feed = QueueFeed {
        settings: worker(failing.clone()),
        clock: Clock::real(),
        alerter: Alerter::new(None),
        events,
        shutdown: shutdown.clone(),
    };
    (received, shutdown, tokio::spawn(feed.run()))
}

#[tokio::test(start_paused = true)]
async fn a_failing_datastore_sends_nothing_logs_once_and_alerts_after_five_minutes() {
    Logs::install();
    let (logs, _capturing) = Logs::capture();
    let failing = Arc::new(AtomicBool::new(true));
    let (mut received, shutdown, task) = start(&failing);

    // Four and a half minutes of failed polls: nothing reaches the decider (the dynos stay), one
    // warning, no alert yet.
    tokio::time::sleep(Duration::from_secs(270)).await;
    assert!(received.try_recv().is_err(), "a failed read sends nothing");
    assert_eq!(logs.lines_with("cannot read the job queues").len(), 1);
    assert!(logs.lines_with("job queue unreadable").is_empty());

    // Past five minutes: one alert, and still one after five more.
    tokio::time::sleep(Duration::from_secs(40)).await;
    let alerts = logs.lines_with("alert: [autoscaled] shop worker");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains("job queue unreadable"), "{alerts:?}");
    assert!(
        alerts[0].contains("cannot be read for 5 minutes"),
        "{alerts:?}"
    );
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(logs.lines_with("alert: [autoscaled] shop worker").len(), 1);
    assert_eq!(logs.lines_with("cannot read the job queues").len(), 1);

    // Read again: the reading goes to the decider, the end is logged and alerted.
    failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let Ok(Event::Queue(reading)) = received.try_recv() else {
        panic!("no reading after the datastore came back")
    };
    assert_eq!(reading.queues[0].depth, 3);
    let recovered = logs.lines_with("job queue read again");
    assert_eq!(recovered.len(), 1, "{}", logs.text());
    assert_eq!(
        logs.lines_with("the job queues are read again").len(),
        2,
        "the log and the alert's subject"
    );
    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_short_failure_is_logged_but_never_alerted() {
    Logs::install();
    let (logs, _capturing) = Logs::capture();
    let failing = Arc::new(AtomicBool::new(true));
    let (mut received, shutdown, task) = start(&failing);
    // A datastore's failover: two minutes.
    tokio::time::sleep(Duration::from_secs(120)).await;
    failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(received.try_recv().is_ok());
    assert!(logs.lines_with("alert:").is_empty(), "{}", logs.text());
    assert_eq!(logs.lines_with("the job queues are read again").len(), 1);
    shutdown.cancel();
    task.await.unwrap();
}
