//! The actuator against the fake Heroku: what it calls, when, and what waits for what.

use std::time::{Duration, Instant};

use heroku_fake::FakeHeroku;

use super::harness::{
    API_KEY, Alerts, AppConfig, AppServer, BIN, Daemon, Mode, ProbeConfig, patches, write_config,
};

const SECOND: Duration = Duration::from_secs(1);

/// A fresh fake Heroku holding `app`'s web formation at `quantity`.
async fn heroku(app: &str, quantity: u32) -> FakeHeroku {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(app, "web", quantity);
    fake
}

/// Waits until the daemon has started the app and the app server has answered a few probes.
async fn probing(daemon: &Daemon, app: &AppServer) {
    daemon.wait_for_line(&["started"], 10 * SECOND).await;
    let seen = app.hits().len();
    daemon
        .wait_until("two more probes", 5 * SECOND, || {
            (app.hits().len() >= seen + 2).then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_safe_interrupts_a_slow_reconcile_read() {
    let server = AppServer::start().await;
    let fake = heroku("e2e-slowread", 1).await;
    let mut app = AppConfig::new("e2e-slowread");
    app.probe = Some(ProbeConfig::quick(server.url()));
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &Alerts::default()));
    probing(&daemon, &server).await;

    // The next call Heroku gets (a reconcile read, every second here) hangs for 15 s.
    let before = fake.requests().len();
    fake.delay_next(1, 15 * SECOND);
    daemon
        .wait_until("a read held by the fake", 5 * SECOND, || {
            (fake.requests().len() > before).then_some(())
        })
        .await;
    assert_eq!(fake.requests()[before].method, "GET");

    server.set(Mode::Unavailable);
    let down = Instant::now();
    let at_max = daemon
        .wait_until("the fail-safe at Heroku", 5 * SECOND, || {
            (fake.quantity("e2e-slowread", "web") == Some(3)).then(Instant::now)
        })
        .await;
    assert!(
        at_max - down < 2 * SECOND,
        "the fail-safe waited {:?} behind a read",
        at_max - down
    );
    assert_eq!(patches(&fake, "e2e-slowread"), [3]);
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_quantity_than_asked_is_not_asked_again_at_once() {
    let server = AppServer::start().await;
    let fake = heroku("e2e-capped", 1).await;
    // Heroku answers 200 with at most 2 dynos, whatever is asked.
    fake.set_quantity_limit("e2e-capped", Some(2));
    let mut app = AppConfig::new("e2e-capped");
    app.probe = Some(ProbeConfig::quick(server.url()));
    app.reconcile = "1h";
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &Alerts::default()));
    probing(&daemon, &server).await;

    server.set(Mode::Unavailable);
    daemon
        .wait_until("the PATCH to max", 5 * SECOND, || {
            (!patches(&fake, "e2e-capped").is_empty()).then_some(())
        })
        .await;
    // The same answer would come again: no call for the retry delay (30 s), not one a millisecond.
    tokio::time::sleep(2 * SECOND).await;
    let sent = patches(&fake, "e2e-capped");
    assert!(sent == [3], "{} PATCHes in 2 s: {sent:?}", sent.len());
    daemon
        .wait_for_line(
            &["app=e2e-capped", "asked=3", "got=2", "Heroku set another quantity"],
            SECOND,
        )
        .await;
    daemon
        .wait_for_line(&["alert:", "app=e2e-capped", "kind=scaling failed"], SECOND)
        .await;
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_in_maintenance_at_start_is_never_failed_over_by_its_first_probe() {
    let server = AppServer::start().await;
    server.set(Mode::Unavailable);
    let fake = heroku("e2e-maintstart", 1).await;
    fake.set_maintenance("e2e-maintstart", true);
    let mut app = AppConfig::new("e2e-maintstart");
    let mut probe = ProbeConfig::quick(server.url());
    // One down probe trips the fail-safe, and probes come every 20 ms: the first may come at once.
    probe.failures = 1;
    probe.interval = "20ms";
    probe.timeout = "15ms";
    probe.slow = "10ms";
    probe.fast = "5ms";
    app.probe = Some(probe);
    app.reconcile = "1h";
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &Alerts::default()));
    daemon
        .wait_for_line(&["app=e2e-maintstart", "started"], 10 * SECOND)
        .await;
    let seen = server.hits().len();
    daemon
        .wait_until("ten more failing probes", 5 * SECOND, || {
            (server.hits().len() >= seen + 10).then_some(())
        })
        .await;
    assert_eq!(patches(&fake, "e2e-maintstart"), Vec::<u64>::new());
    let stdout = daemon.stdout();
    assert!(!stdout.contains("alert:"), "no alert:\n{stdout}");
    assert!(!stdout.contains("reason=down"), "no fail-safe:\n{stdout}");
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}
