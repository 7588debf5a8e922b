//! Probes of testkit's `AppServer` in process (`Client::in_process`), on tokio's paused clock: no
//! socket, so virtual time moves only when the app sleeps, and latencies and timeouts are exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use autoscaled_probe::{Class, Client, DownReason, IDLE_CONNECTION, ProbeConfig, Prober};
use futures_util::StreamExt;
use testkit::{AppServer, Mode, SLOW_RESPONSE};
use tokio::time::Instant;

use super::server::thresholds;

/// A prober of `app` in process, every `interval`, and how many connections it has opened.
fn prober(app: &AppServer, timeout_ms: u64, interval: Duration) -> (Prober, Arc<AtomicUsize>) {
    let connects = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connects);
    let connect = app.connector();
    let client = Client::in_process(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        connect()
    });
    let config = ProbeConfig {
        url: app.url().parse().unwrap(),
        interval,
        // Slow from 120 ms, fast below 50 ms, as the daemon's e2e configs.
        thresholds: thresholds(timeout_ms, 120, 50),
        headers: vec![],
    };
    (Prober::with_client(config, client).unwrap(), connects)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(start_paused = true)]
async fn a_fast_answer_takes_no_virtual_time() {
    let app = AppServer::in_process();
    let (prober, _) = prober(&app, 250, secs(30));
    let result = prober.probe().await.unwrap();
    assert_eq!(result.class, Class::Fast, "{result:?}");
    assert_eq!(result.status, Some(200));
    assert_eq!(result.latency, Duration::ZERO);
    let hits = app.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].mode, hits[0].path.as_str()), (Mode::Fast, "/"));
    assert_eq!(hits[0].tokio_at, result.at);
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_takes_exactly_the_apps_time() {
    let app = AppServer::in_process();
    app.set(Mode::Slow);
    let (prober, _) = prober(&app, 250, secs(30));
    let result = prober.probe().await.unwrap();
    assert_eq!(result.class, Class::Slow, "{result:?}");
    // The timer wheel counts whole milliseconds: the sleep may end up to one later.
    let over = result.latency.checked_sub(SLOW_RESPONSE);
    assert!(
        over.is_some_and(|over| over <= Duration::from_millis(1)),
        "{:?} for a {SLOW_RESPONSE:?} answer",
        result.latency
    );
}

#[tokio::test(start_paused = true)]
async fn an_answer_slower_than_the_timeout_is_down_at_exactly_the_timeout() {
    let app = AppServer::in_process();
    app.set(Mode::Slow);
    let timeout = Duration::from_millis(100);
    assert!(timeout < SLOW_RESPONSE);
    let (prober, _) = prober(&app, 100, secs(30));
    let started = Instant::now();
    let result = prober.probe().await.unwrap();
    assert_eq!(result.class, Class::Down, "{result:?}");
    assert_eq!(result.reason, Some(DownReason::TimedOut(timeout)));
    assert_eq!(result.latency, timeout);
    assert_eq!(
        started.elapsed(),
        timeout,
        "the probe returns at its timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn a_503_is_down() {
    let app = AppServer::in_process();
    app.set(Mode::Unavailable);
    let (prober, _) = prober(&app, 250, secs(30));
    let result = prober.probe().await.unwrap();
    assert_eq!(result.class, Class::Down, "{result:?}");
    assert_eq!(result.reason, Some(DownReason::Status(503)));
    assert_eq!(result.describe(), "HTTP 503");
}

#[tokio::test(start_paused = true)]
async fn a_refusing_app_is_down_with_connection_refused() {
    let app = AppServer::in_process();
    app.set(Mode::Refusing);
    let (prober, connects) = prober(&app, 250, secs(30));
    let result = prober.probe().await.unwrap();
    assert_eq!(result.class, Class::Down, "{result:?}");
    assert_eq!(result.reason, Some(DownReason::Refused));
    assert_eq!(result.describe(), "connection refused");
    assert_eq!(connects.load(Ordering::SeqCst), 1);
    assert!(app.hits().is_empty(), "no request reached the app");
    // Back up: the next probe connects again and is answered.
    app.set(Mode::Fast);
    assert_eq!(prober.probe().await.unwrap().class, Class::Fast);
    // Gone: refused, as on loopback.
    drop(app);
    let result = prober.probe().await.unwrap();
    assert_eq!(result.reason, Some(DownReason::Refused), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn a_keep_alive_app_is_probed_on_one_connection() {
    let app = AppServer::in_process_keep_alive();
    let (prober, connects) = prober(&app, 250, secs(30));
    for _ in 0..5 {
        assert_eq!(prober.probe().await.unwrap().class, Class::Fast);
        tokio::time::sleep(secs(30)).await;
    }
    assert_eq!(app.hits().len(), 5);
    assert_eq!(connects.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_kept_connection_to_an_app_turned_refusing_is_hung_up_and_refused() {
    let app = AppServer::in_process_keep_alive();
    let (prober, connects) = prober(&app, 250, secs(30));
    assert_eq!(prober.probe().await.unwrap().class, Class::Fast);
    app.set(Mode::Refusing);
    let result = prober.probe().await.unwrap();
    assert_eq!(result.reason, Some(DownReason::Refused), "{result:?}");
    // The kept connection carried the request, was hung up, and a new one was refused.
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    assert_eq!(app.hits().len(), 2);
    assert_eq!(app.hits()[1].mode, Mode::Refusing);
}

#[tokio::test(start_paused = true)]
async fn an_app_that_closes_each_connection_gets_a_new_one_a_probe() {
    let app = AppServer::in_process();
    let (prober, connects) = prober(&app, 250, secs(30));
    for _ in 0..3 {
        assert_eq!(prober.probe().await.unwrap().class, Class::Fast);
        tokio::time::sleep(secs(30)).await;
    }
    assert_eq!(connects.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn every_interval_probes_once_an_interval_in_virtual_time() {
    let app = AppServer::in_process_keep_alive();
    app.set(Mode::Slow);
    let interval = secs(60);
    let (prober, connects) = prober(&app, 250, interval);
    let results: Vec<_> = prober.every_interval().take(10).collect().await;
    let starts: Vec<Instant> = results
        .iter()
        .map(|result| {
            let result = result.as_ref().unwrap();
            assert_eq!(result.class, Class::Slow, "{result:?}");
            result.at
        })
        .collect();
    for pair in starts.windows(2) {
        assert_eq!(pair[1] - pair[0], interval);
    }
    let hits = app.hits();
    assert_eq!(hits.len(), 10);
    for (hit, start) in hits.iter().zip(&starts) {
        assert_eq!(
            hit.tokio_at, *start,
            "the request is sent when the probe starts"
        );
    }
    // A minute apart, above IDLE_CONNECTION: a connection a probe, though the app keeps them.
    assert!(interval > IDLE_CONNECTION);
    assert_eq!(connects.load(Ordering::SeqCst), 10);
}
