//! Scaling on the schedule and the probes: the baseline and its correction, the fail-safe and its
//! alerts, the step out on slow probes, maintenance mode, a dry run.

use testkit::{Mode, SLOW_RESPONSE};
use tokio::time::Instant;

use super::{CALM, MINUTE, PROBE, SECOND, World, once, probed_app, wait_until};

/// Thresholds either side of the app server's slow answer ([`SLOW_RESPONSE`], 170 ms): exact on
/// the paused clock, where a fast answer takes no time at all.
const SLOW_THRESHOLDS: &str =
    "interval = \"10s\"\ntimeout = \"250ms\"\nslow = \"120ms\"\nfast = \"80ms\"";

#[tokio::test(start_paused = true)]
async fn the_baseline_is_applied_at_start_and_a_manual_change_is_corrected() {
    let world = World::new("base", 1).await;
    let apps = "[[apps]]\nname = \"base\"\nmin = 1\nmax = 5\nreconcile = \"1m\"\n\
                schedule = [{ cron = \"* * * * *\", quantity = 2 }]\n";
    let daemon = world.start(apps).await;

    world.quantity("base", 2, 10 * SECOND).await;
    let patch = world
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.path, "/apps/base/formation/web");
    assert_eq!(patch.body, Some(serde_json::json!({ "quantity": 2 })));
    assert_eq!(
        patch.header("authorization"),
        Some("[redacted]"),
        "the fake checked the bearer token"
    );
    let needles = [
        "scale",
        "app=base",
        "process=web",
        "from=1",
        "to=2",
        "reason=schedule: baseline 2",
    ];
    daemon.line(&needles, SECOND).await;
    daemon
        .line(&["formation updated", "from=1", "to=2"], SECOND)
        .await;

    // Someone scales by hand; the next reconcile (every minute) sets it back.
    world.fake.set_formation("base", "web", 5);
    let changed = Instant::now();
    let corrected = world.quantity("base", 2, 2 * MINUTE).await;
    assert!(
        corrected - changed <= MINUTE + SECOND,
        "corrected after {:?}, the reconcile is every minute",
        corrected - changed
    );
    assert_eq!(world.patches("base"), [2, 2]);
    daemon
        .line(
            &[
                "app=base",
                "process=web",
                "from=5",
                "to=2",
                "reason=\"changed outside autoscaled",
            ],
            SECOND,
        )
        .await;
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_outage_goes_to_max_with_an_alert_then_recovers_one_step_per_calm() {
    let world = World::new("outage", 2).await;
    let apps = probed_app(
        "outage",
        4,
        "schedule = [{ cron = \"* * * * *\", quantity = 2 }]",
    );
    let daemon = world.start(&apps).await;
    wait_until("two probes", MINUTE, || (world.probes() >= 2).then_some(())).await;
    assert_eq!(
        world.patches("outage"),
        Vec::<u64>::new(),
        "at the baseline"
    );

    world.app.set(Mode::Unavailable);
    let down = Instant::now();
    let (at_max, down_probes) = wait_until("the fail-over", MINUTE, || {
        (world.fake.quantity("outage", "web") == Some(4)).then(|| {
            let failed = world
                .app
                .hits()
                .iter()
                .filter(|h| h.mode == Mode::Unavailable)
                .count();
            (Instant::now(), failed)
        })
    })
    .await;
    // Two failures, a probe interval apart: within two intervals of the switch.
    assert!(
        at_max - down <= 2 * PROBE,
        "fail-safe took {:?}",
        at_max - down
    );
    assert_eq!(down_probes, 2, "the call followed the second failed probe");
    daemon
        .line(
            &[
                "scale",
                "app=outage",
                "process=web",
                "from=2",
                "to=4",
                "reason=down: ",
            ],
            SECOND,
        )
        .await;
    let alert = daemon.line(&["alert: ", "kind=outage"], SECOND).await;
    assert!(
        alert.contains("outage web: down") && alert.contains("2 → 4"),
        "{alert}"
    );

    world.app.set(Mode::Fast);
    let up = Instant::now();
    let first_step = world.quantity("outage", 3, CALM + MINUTE).await;
    let second_step = world.quantity("outage", 2, CALM + MINUTE).await;
    // The first step waits for a calm without a down probe (the last one came at most a probe
    // interval before the switch), the second for a calm more of fast probes.
    assert!(
        first_step - up >= CALM - PROBE && first_step - up <= CALM + 2 * PROBE,
        "first step after {:?}",
        first_step - up
    );
    assert!(
        second_step - first_step >= CALM && second_step - first_step <= CALM + 2 * PROBE,
        "second step {:?} later",
        second_step - first_step
    );
    daemon
        .line(&["scale", "from=4", "to=3", "reason=calm: "], SECOND)
        .await;
    let recovery = daemon.line(&["alert: ", "kind=recovery"], SECOND).await;
    assert!(recovery.contains("outage web: up again"), "{recovery}");

    // At the baseline, nothing more: an hour of fast probes later, still the same three calls.
    tokio::time::sleep(60 * MINUTE).await;
    assert_eq!(
        world.patches("outage"),
        [4, 3, 2],
        "back to the baseline one dyno at a time, and no further"
    );
    once(&daemon.logs(), "kind=outage", "one outage alert");
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slow_probes_step_out_once_per_cooldown_up_to_max() {
    let world = World::new("slow", 1).await;
    let apps = probed_app("slow", 3, "").replace(
        "interval = \"10s\"\ntimeout = \"3s\"\nslow = \"1s\"\nfast = \"300ms\"",
        SLOW_THRESHOLDS,
    );
    let daemon = world.start(&apps).await;
    wait_until("two probes", MINUTE, || (world.probes() >= 2).then_some(())).await;

    world.app.set(Mode::Slow);
    let first = world.quantity("slow", 2, MINUTE).await;
    let second = world.quantity("slow", 3, 5 * MINUTE).await;
    assert!(
        second - first >= 3 * MINUTE && second - first <= 3 * MINUTE + 2 * PROBE,
        "stepped again after {:?}; the cooldown is 3 minutes",
        second - first
    );
    let step = daemon
        .line(
            &["scale", "app=slow", "process=web", "from=1", "to=2"],
            SECOND,
        )
        .await;
    assert!(
        step.contains("reason=slow: ") && step.contains("170 ms"),
        "the reason gives the probe's latency, {SLOW_RESPONSE:?} exactly: {step}"
    );
    // max is 3: still slow for an hour, and no further call, nor any alert.
    tokio::time::sleep(60 * MINUTE).await;
    assert_eq!(world.patches("slow"), [2, 3]);
    assert!(
        !daemon.logs().contains("alert:"),
        "a slow spell alerts nobody:\n{}",
        daemon.logs()
    );
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn down_probes_change_nothing_while_the_app_is_in_maintenance() {
    let world = World::new("maint", 1).await;
    world.app.set(Mode::Unavailable);
    world.fake.set_maintenance("maint", true);
    let daemon = world.start(&probed_app("maint", 3, "")).await;
    daemon
        .line(
            &["app=maint", "ignored: the app is in maintenance mode"],
            MINUTE,
        )
        .await;
    let seen = world.probes();
    wait_until("ten more failing probes", 11 * PROBE, || {
        (world.probes() >= seen + 10).then_some(())
    })
    .await;
    assert_eq!(world.patches("maint"), Vec::<u64>::new());
    let logs = daemon.logs();
    once(&logs, "ignored", "said once");
    assert!(!logs.contains("alert:"), "no alert:\n{logs}");

    // Maintenance ends (read at the next reconcile): the same failures now trigger the fail-safe.
    world.fake.set_maintenance("maint", false);
    let ended = Instant::now();
    let at_max = world.quantity("maint", 3, 3 * MINUTE).await;
    assert!(
        at_max - ended <= MINUTE + 2 * PROBE,
        "at max {:?} after maintenance ended",
        at_max - ended
    );
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_decides_and_logs_but_never_changes_a_formation() {
    let world = World::new("dry", 1).await;
    let apps = "[[apps]]\nname = \"dry\"\nmin = 1\nmax = 3\nreconcile = \"1m\"\n\
                schedule = [{ cron = \"* * * * *\", quantity = 2 }]\n";
    let daemon = world.start_with(apps, true).await;
    daemon
        .line(
            &[
                "dry run: formation left unchanged",
                "app=dry",
                "from=1",
                "to=2",
            ],
            MINUTE,
        )
        .await;
    // Two reconciles read the formation again and still change nothing.
    tokio::time::sleep(2 * MINUTE + SECOND).await;
    let requests = world.fake.requests();
    assert!(
        requests.iter().filter(|r| r.method == "GET").count() >= 4,
        "{requests:?}"
    );
    assert!(requests.iter().all(|r| r.method == "GET"), "{requests:?}");
    assert_eq!(world.fake.quantity("dry", "web"), Some(1));
    daemon.stop().await;
}
