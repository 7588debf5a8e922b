//! The actuator against the fake Heroku: what it calls, when, and what waits for what.

use std::time::Duration;

use heroku_fake::RecordedRequest;
use testkit::Mode;
use tokio::time::Instant;

use super::{MINUTE, PROBE, SECOND, World, once, probed_app, wait_until};

/// The reconcile of the budget's test.
const RECONCILE: Duration = Duration::from_secs(5);
/// How long the actuator waits before it asks again for a quantity Heroku did not give.
const SCALE_RETRY: Duration = Duration::from_secs(30);

/// The reads of `app` in `requests`: (formation reads, app-info reads).
fn reads(requests: &[RecordedRequest], app: &str) -> (usize, usize) {
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

#[tokio::test(start_paused = true)]
async fn a_fail_safe_interrupts_a_slow_reconcile_read() {
    let world = World::new("slowread", 1).await;
    let daemon = world.start(&probed_app("slowread", 3, "")).await;
    wait_until("two probes", MINUTE, || (world.probes() >= 2).then_some(())).await;

    // The next call Heroku gets (a reconcile read, every minute) hangs for 15 s.
    let before = world.fake.requests().len();
    world.fake.delay_next(1, 15 * SECOND);
    wait_until("a read held by the fake", 2 * MINUTE, || {
        (world.fake.requests().len() > before).then_some(())
    })
    .await;
    assert_eq!(world.fake.requests()[before].method, "GET");

    world.app.set(Mode::Unavailable);
    let down = Instant::now();
    let at_max = world.quantity("slowread", 3, MINUTE).await;
    assert!(
        at_max - down <= 2 * PROBE,
        "the fail-safe waited {:?} behind a read",
        at_max - down
    );
    assert_eq!(world.patches("slowread"), [3]);
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn another_quantity_than_asked_is_asked_again_only_after_the_retry_delay() {
    let world = World::new("capped", 1).await;
    // Heroku answers 200 with at most 2 dynos, whatever is asked.
    world.fake.set_quantity_limit("capped", Some(2));
    let apps = probed_app("capped", 3, "").replace("reconcile = \"1m\"", "reconcile = \"1h\"");
    let daemon = world.start(&apps).await;
    wait_until("two probes", MINUTE, || (world.probes() >= 2).then_some(())).await;

    world.app.set(Mode::Unavailable);
    let first = wait_until("the PATCH to max", MINUTE, || {
        (!world.patches("capped").is_empty()).then(Instant::now)
    })
    .await;
    daemon
        .line(
            &[
                "app=capped",
                "asked=3",
                "got=2",
                "Heroku set another quantity",
            ],
            SECOND,
        )
        .await;
    daemon
        .line(&["alert:", "app=capped", "kind=scaling failed"], SECOND)
        .await;
    // Every down probe is a decision that wants max again; the same answer would come again, so
    // no call goes out before the retry delay.
    let second = wait_until("the PATCH asked again", 2 * MINUTE, || {
        (world.patches("capped").len() >= 2).then(Instant::now)
    })
    .await;
    assert!(
        second - first >= SCALE_RETRY,
        "asked again {:?} after Heroku's answer, within the retry delay",
        second - first
    );
    assert!(
        second - first <= SCALE_RETRY + PROBE,
        "asked again only {:?} after Heroku's answer",
        second - first
    );
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_app_in_maintenance_at_start_is_never_failed_over_by_its_first_probe() {
    let world = World::new("maintstart", 1).await;
    world.app.set(Mode::Unavailable);
    world.fake.set_maintenance("maintstart", true);
    // One down probe trips the fail-safe, and the first probe may come at once.
    let apps = probed_app("maintstart", 3, "")
        .replace("failures = 2", "failures = 1")
        .replace("reconcile = \"1m\"", "reconcile = \"1h\"");
    let daemon = world.start(&apps).await;
    wait_until("ten failing probes", 11 * PROBE, || {
        (world.probes() >= 10).then_some(())
    })
    .await;
    assert_eq!(world.patches("maintstart"), Vec::<u64>::new());
    let logs = daemon.logs();
    assert!(!logs.contains("alert:"), "no alert:\n{logs}");
    assert!(!logs.contains("reason=down"), "no fail-safe:\n{logs}");
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_healthy_probed_app_reads_once_per_reconcile_and_maintenance_when_probes_fail() {
    let world = World::new("reads", 1).await;
    let daemon = world.start(&probed_app("reads", 3, "")).await;
    wait_until("two probes", MINUTE, || (world.probes() >= 2).then_some(())).await;

    world.fake.clear_requests();
    // Six reconciles (a minute apart), and every call Heroku saw meanwhile.
    let healthy = wait_until("six reconciles", 7 * MINUTE, || {
        let requests = world.fake.requests();
        (reads(&requests, "reads").0 >= 6).then_some(requests)
    })
    .await;
    let (formation, info) = reads(&healthy, "reads");
    assert_eq!(info, 0, "no app-info read while every probe is fine");
    assert_eq!(
        healthy.len(),
        formation,
        "one call a reconcile: {healthy:?}"
    );

    // A down probe reads maintenance mode at once, before the second one trips the fail-safe...
    world.fake.set_maintenance("reads", true);
    world.fake.clear_requests();
    world.app.set(Mode::Unavailable);
    daemon
        .line(
            &["app=reads", "ignored: the app is in maintenance mode"],
            MINUTE,
        )
        .await;
    assert_eq!(world.patches("reads"), Vec::<u64>::new());
    // ...and at every reconcile while the app is in maintenance.
    world.app.set(Mode::Fast);
    world.fake.clear_requests();
    let (formation, info) = wait_until("three reconciles in maintenance", 4 * MINUTE, || {
        let (formation, info) = reads(&world.fake.requests(), "reads");
        (formation >= 3).then_some((formation, info))
    })
    .await;
    assert!(
        info + 1 >= formation,
        "{formation} formation reads, {info} app-info reads"
    );
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn reads_slow_down_as_the_budget_falls_and_scale_calls_never_wait() {
    let world = World::new("budget", 1).await;
    // Reconciled every 5 s: the budget (given back at 75 tokens a minute, by the fake as by
    // Heroku, and in the client's reckoning) moves little between reads.
    let apps = probed_app("budget", 3, "").replace("reconcile = \"1m\"", "reconcile = \"5s\"");
    let daemon = world.start(&apps).await;
    wait_until("two probes", MINUTE, || (world.probes() >= 2).then_some(())).await;

    // At full budget, a read every reconcile.
    world.fake.clear_requests();
    tokio::time::sleep(RECONCILE * 6).await;
    let full = reads(&world.fake.requests(), "budget").0;
    // Six reconciles' ticks, or seven when the window starts on one.
    assert!(
        (6..=7).contains(&full),
        "{full} reads in 6 reconciles at full budget"
    );
    // 300 of 4,500 tokens left (6.7%): reads every 4 reconciles.
    world.fake.set_rate_limit_remaining(300);
    daemon
        .line(&["app=budget", "Heroku API budget: reads paced"], MINUTE)
        .await;
    world.fake.clear_requests();
    tokio::time::sleep(RECONCILE * 8).await;
    let paced = reads(&world.fake.requests(), "budget").0;
    assert!(
        (1..=2).contains(&paced),
        "{paced} reads in 8 reconciles at 300 tokens left"
    );

    // 10 left (0.2%), and refilled at 75 a minute: under 2% for a minute, reads pause...
    world.fake.set_rate_limit_remaining(10);
    daemon.line(&["app=budget", "reads paused"], MINUTE).await;
    world.fake.clear_requests();
    tokio::time::sleep(RECONCILE * 2).await;
    assert_eq!(
        reads(&world.fake.requests(), "budget").0,
        0,
        "no read with the budget nearly spent"
    );
    // ...and the fail-safe's call goes out at once all the same.
    world.app.set(Mode::Unavailable);
    let down = Instant::now();
    let at_max = world.quantity("budget", 3, MINUTE).await;
    assert!(
        at_max - down <= 2 * PROBE,
        "fail-safe took {:?}",
        at_max - down
    );
    daemon.stop().await;
}

/// A process type removed under a running daemon (a deploy whose Procfile dropped it): every
/// reconcile that finds it gone says so.
#[tokio::test(start_paused = true)]
async fn a_process_type_gone_is_warned_about_at_each_reconcile() {
    let world = World::new("gone", 1).await;
    let apps = "[[apps]]\nname = \"gone\"\nmin = 1\nmax = 3\nreconcile = \"1m\"\n";
    let daemon = world.start(apps).await;
    daemon.line(&["app=gone", "started"], MINUTE).await;
    world.fake.remove_formation("gone", "web");
    let warnings = || {
        daemon
            .logs()
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("the process type is gone"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let gone_at = Instant::now();
    wait_until("a warning at two reconciles", 3 * MINUTE, || {
        (warnings().len() >= 2).then_some(())
    })
    .await;
    assert!(
        gone_at.elapsed() <= 2 * MINUTE + SECOND,
        "{:?}",
        gone_at.elapsed()
    );
    let line = &warnings()[0];
    assert!(
        line.contains("gone") && line.contains("web") && line.contains("404"),
        "{line}"
    );
    daemon.stop().await;
}

/// A release phase runs when an override asks for more dynos: the scale is refused, retried after
/// the retry delay, and goes through once the phase is over; logged once, never alerted.
#[tokio::test(start_paused = true)]
async fn a_preboot_refusal_is_retried_logged_once_and_not_alerted() {
    let world = World::new("preboot", 1).await;
    let apps = "[[apps]]\nname = \"preboot\"\nmin = 1\nmax = 3\nreconcile = \"1m\"\n";
    let daemon = world.start(apps).await;
    daemon.line(&["app=preboot", "started"], MINUTE).await;

    world.fake.set_preboot("preboot", true);
    // What `autoscaled override add preboot --for 1h --quantity 2` writes, on the daemon's file.
    let editor = store::Store::open(&world.state_url(), store::Access::Edit)
        .await
        .unwrap();
    let now = daemon.clock.now();
    editor
        .add_override(&store::NewOverride {
            key: store::ProcessKey::new("preboot", "web"),
            action: store::OverrideAction::Set {
                quantity: Some(2),
                min: None,
                max: None,
            },
            from: now,
            until: Some(now + chrono::TimeDelta::hours(1)),
            reason: "launch".into(),
            by: "ada".into(),
            created_at: now,
        })
        .await
        .unwrap();
    // Read within a lease round (20 minutes here).
    daemon
        .line(
            &["refuses formation changes during a release phase"],
            21 * MINUTE,
        )
        .await;
    let refused = Instant::now();
    world.fake.set_preboot("preboot", false);
    let scaled = world.quantity("preboot", 2, MINUTE).await;
    assert!(
        scaled - refused >= SCALE_RETRY - SECOND && scaled - refused <= SCALE_RETRY + SECOND,
        "retried {:?} after the refusal",
        scaled - refused
    );
    daemon
        .line(&["release phase or preboot over"], SECOND)
        .await;
    let logs = daemon.logs();
    once(&logs, "refuses formation changes", "logged once");
    assert!(!logs.contains("scale call failed"), "{logs}");
    assert!(!logs.contains("alert:"), "no alert: {logs}");
    daemon.stop().await;
}
