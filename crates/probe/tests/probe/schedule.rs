//! `Prober::spawn` against a real server: offset, interval, channel and shutdown.

use std::sync::Arc;
use std::time::Duration;

use autoscaled_probe::{Class, ProbeConfig, Prober};
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

use super::server::{answer, serve, thresholds};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn every_200ms(addr: std::net::SocketAddr) -> Prober {
    Prober::new(ProbeConfig {
        url: format!("http://{addr}/").parse().unwrap(),
        interval: ms(200),
        thresholds: thresholds(150, 100, 50),
        headers: vec![],
    })
    .unwrap()
}

#[tokio::test]
async fn spawned_probes_come_every_interval_after_an_offset_and_stop_on_cancel() {
    let addr = answer(200, Duration::ZERO, "").await;
    let (tx, mut rx) = mpsc::channel(8);
    let shutdown = CancellationToken::new();
    let spawned = Instant::now();
    let task = every_200ms(addr).spawn(tx, shutdown.clone());

    let mut starts = Vec::new();
    for _ in 0..4 {
        let result = timeout(ms(1000), rx.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(result.class, Class::Fast, "{result:?}");
        starts.push(result.at);
    }
    // The exact offset and period are checked on a paused clock by the unit tests; here real
    // probes against a real server must come at about the interval, and a loaded 2-core machine
    // (a parallel test run, a build beside it) may wake the task a scheduler slice or two late.
    // What must fail: a first probe that waits much longer than one interval, another period, or
    // probes bunched together.
    let offset = starts[0] - spawned;
    assert!(offset < ms(200 + 250), "first probe after {offset:?}");
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= ms(100) && gap < ms(400), "gap {gap:?}");
    }
    let span = starts[3] - starts[0];
    assert!(
        span >= ms(3 * 195) && span < ms(3 * 200 + 300),
        "3 periods in {span:?}"
    );

    shutdown.cancel();
    let cancelled = Instant::now();
    timeout(ms(500), task)
        .await
        .expect("stops promptly")
        .unwrap();
    assert!(cancelled.elapsed() < ms(500));
}

#[tokio::test]
async fn cancel_abandons_a_probe_in_flight() {
    let accepted = Arc::new(Notify::new());
    let signal = Arc::clone(&accepted);
    let addr = serve(move |stream, _head| {
        signal.notify_one();
        async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(stream);
        }
    })
    .await;
    let (tx, mut rx) = mpsc::channel(8);
    let shutdown = CancellationToken::new();
    let task = every_200ms(addr).spawn(tx, shutdown.clone());

    timeout(ms(1000), accepted.notified()).await.unwrap();
    shutdown.cancel();
    timeout(ms(50), task)
        .await
        .expect("stops promptly")
        .unwrap();
    assert!(
        rx.recv().await.is_none(),
        "nothing sent, and the sender is gone"
    );
}

#[tokio::test]
async fn dropping_the_receiver_ends_the_task() {
    let addr = answer(200, Duration::ZERO, "").await;
    let (tx, rx) = mpsc::channel(8);
    let task = every_200ms(addr).spawn(tx, CancellationToken::new());
    drop(rx);
    timeout(ms(50), task).await.expect("ends promptly").unwrap();
}
