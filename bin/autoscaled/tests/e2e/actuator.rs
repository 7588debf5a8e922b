//! The actuator against the fake Heroku: what it calls, when, and what waits for what.

use std::time::Instant;

use heroku_fake::FakeHeroku;

use super::harness::{
    Alerts, AppConfig, AppServer, BIN, Daemon, Mode, ProbeConfig, SECOND, START, heroku, patches,
    probing, write_config,
};

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
    daemon
        .wait_for_line(
            &[
                "app=e2e-capped",
                "asked=3",
                "got=2",
                "Heroku set another quantity",
            ],
            5 * SECOND,
        )
        .await;
    daemon
        .wait_for_line(
            &["alert:", "app=e2e-capped", "kind=scaling failed"],
            5 * SECOND,
        )
        .await;
    // The same answer would come again: no call for the retry delay (30 s), not one a decision.
    // Every down probe is a decision that wants max again; ten of them (3 s at 300 ms) go by.
    let seen = server.hits().len();
    daemon
        .wait_until("ten more down probes", 30 * SECOND, || {
            (server.hits().len() >= seen + 10).then_some(())
        })
        .await;
    let sent = patches(&fake, "e2e-capped");
    assert!(sent == [3], "{} PATCHes: {sent:?}", sent.len());
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
        .wait_for_line(&["app=e2e-maintstart", "started"], START)
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

/// The reads of `app` in `requests`: (formation reads, app-info reads).
fn reads(requests: &[heroku_fake::RecordedRequest], app: &str) -> (usize, usize) {
    let gets = |path: String| {
        requests
            .iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .count()
    };
    (
        gets(format!("/apps/{app}/formation/web")),
        gets(format!("/apps/{app}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_probed_app_reads_once_per_reconcile_and_maintenance_when_probes_fail() {
    let server = AppServer::start().await;
    let fake = heroku("e2e-reads", 1).await;
    let mut app = AppConfig::new("e2e-reads");
    // Every probe must be fine while the reads are counted: a late one on a loaded machine would
    // be down and read maintenance mode. A second apart, 900 ms to answer.
    let mut probe = ProbeConfig::quick(server.url());
    (probe.interval, probe.timeout, probe.slow, probe.fast) = ("1s", "900ms", "800ms", "700ms");
    app.probe = Some(probe);
    app.reconcile = "500ms";
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &Alerts::default()));
    probing(&daemon, &server).await;

    fake.clear_requests();
    // Six reconciles (3 s at 500 ms), and every call Heroku saw meanwhile.
    let healthy = daemon
        .wait_until("six reconciles", 30 * SECOND, || {
            let requests = fake.requests();
            (reads(&requests, "e2e-reads").0 >= 6).then_some(requests)
        })
        .await;
    let (formation, info) = reads(&healthy, "e2e-reads");
    let per_reconcile = healthy.len() as f64 / formation as f64;
    println!(
        "healthy probed app: {} calls in {formation} reconciles = {per_reconcile:.2} per reconcile \
         = {:.1} per hour at the default reconcile of 5m",
        healthy.len(),
        per_reconcile * 12.0
    );
    assert_eq!(info, 0, "no app-info read while every probe is fine");
    assert!(per_reconcile <= 1.0, "{healthy:?}");

    // A down probe reads maintenance mode at once, before the second one trips the fail-safe...
    fake.set_maintenance("e2e-reads", true);
    fake.clear_requests();
    server.set(Mode::Unavailable);
    daemon
        .wait_for_line(
            &["app=e2e-reads", "ignored: the app is in maintenance mode"],
            5 * SECOND,
        )
        .await;
    assert_eq!(patches(&fake, "e2e-reads"), Vec::<u64>::new());
    // ...and at every reconcile while the app is in maintenance.
    server.set(Mode::Fast);
    fake.clear_requests();
    // Three reconciles; the last one's app-info read may still be on its way.
    let (formation, info) = daemon
        .wait_until("three reconciles in maintenance", 30 * SECOND, || {
            let (formation, info) = reads(&fake.requests(), "e2e-reads");
            (formation >= 3).then_some((formation, info))
        })
        .await;
    assert!(
        info + 1 >= formation,
        "{formation} formation reads, {info} app-info reads"
    );
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_slow_down_as_the_budget_falls_and_scale_calls_never_wait() {
    let server = AppServer::start().await;
    let fake = heroku("e2e-budget", 1).await;
    let mut app = AppConfig::new("e2e-budget");
    app.probe = Some(ProbeConfig::quick(server.url()));
    app.reconcile = "500ms";
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &Alerts::default()));
    probing(&daemon, &server).await;

    // At full budget, a read every reconcile: five of them (2.5 s at 500 ms).
    fake.clear_requests();
    daemon
        .wait_until("five reads at full budget", 30 * SECOND, || {
            (reads(&fake.requests(), "e2e-budget").0 >= 5).then_some(())
        })
        .await;
    // 300 of 4,500 tokens left (6.7%): reads every 4 reconciles.
    fake.set_rate_limit_remaining(300);
    daemon
        .wait_for_line(
            &["app=e2e-budget", "Heroku API budget: reads paced"],
            3 * SECOND,
        )
        .await;
    // An upper bound over a window: a loaded machine only makes it fewer.
    let low = window(&fake, 3).await;
    assert!(low <= 2, "{low} reads in 3 s at 300 tokens left");

    // 50 left (1.1%): reads pause...
    fake.set_rate_limit_remaining(50);
    daemon
        .wait_for_line(&["app=e2e-budget", "reads paused"], 5 * SECOND)
        .await;
    let paused = window(&fake, 2).await;
    assert_eq!(paused, 0, "no read with the budget nearly spent");
    // ...and the fail-safe's call goes out at once all the same.
    server.set(Mode::Unavailable);
    let down = Instant::now();
    let at_max = daemon
        .wait_until("the fail-safe at Heroku", 5 * SECOND, || {
            (fake.quantity("e2e-budget", "web") == Some(3)).then(Instant::now)
        })
        .await;
    assert!(
        at_max - down < 2 * SECOND,
        "fail-safe took {:?}",
        at_max - down
    );
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

/// The formation reads of e2e-budget over the next `seconds`.
async fn window(fake: &FakeHeroku, seconds: u32) -> usize {
    fake.clear_requests();
    // A counting window for an upper bound, not a wait for a condition.
    tokio::time::sleep(seconds * SECOND).await;
    reads(&fake.requests(), "e2e-budget").0
}

/// A process type removed under a running daemon (a deploy whose Procfile dropped it): every
/// reconcile that finds it gone says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_type_gone_is_warned_about_at_each_reconcile() {
    let fake = heroku("e2e-gone", 1).await;
    let daemon = Daemon::run(
        BIN,
        &write_config(
            &fake.url(),
            &[AppConfig::new("e2e-gone")],
            &Alerts::default(),
        ),
    );
    daemon.wait_for_line(&["started"], START).await;
    fake.remove_formation("e2e-gone", "web");
    let gone = |stdout: String| {
        stdout
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("the process type is gone"))
            .count()
    };
    // Reconciled every second: two reconciles, two warnings.
    daemon
        .wait_until("a warning at two reconciles", 10 * SECOND, || {
            (gone(daemon.stdout()) >= 2).then_some(())
        })
        .await;
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    let line = finished
        .stdout
        .lines()
        .find(|l| l.contains("the process type is gone"))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("e2e-gone") && line.contains("web") && line.contains("404"),
        "{line}"
    );
}
