//! What a restart keeps, on a SQLite file: the decision state (a restart during an outage neither
//! cuts the app to its baseline nor alerts again) and the charts' history. (A kill -9, PostgreSQL,
//! and what `status` and the page read of it are process-level, in `tests/e2e/state.rs`.)

use testkit::Mode;

use super::{CALM, MINUTE, PROBE, SECOND, World, once, probed_app, wait_until};

#[tokio::test(start_paused = true)]
async fn a_restart_during_an_outage_keeps_max_and_alerts_once() {
    let world = World::new("restart", 3).await;
    let apps = probed_app(
        "restart",
        5,
        "schedule = [{ cron = \"* * * * *\", quantity = 3 }]",
    );
    let first = world.start(&apps).await;
    wait_until("two probes", MINUTE, || (world.probes() >= 2).then_some(())).await;
    world.app.set(Mode::Unavailable);
    world.quantity("restart", 5, MINUTE).await;
    first.line(&["alert: ", "kind=outage"], SECOND).await;
    // Its last state is written before it stops.
    first.stop().await;
    let before_restart = world.patches("restart").len();

    let second = world.start(&apps).await;
    second
        .line(&["restored the saved state", "target=5"], MINUTE)
        .await;
    // Enough failed probes for an outage to be declared anew, and several reconciles.
    let seen = world.probes();
    wait_until("ten probes after the restart", 11 * PROBE, || {
        (world.probes() >= seen + 10).then_some(())
    })
    .await;
    assert_eq!(world.fake.quantity("restart", "web"), Some(5));
    assert!(
        world.patches("restart")[before_restart..].is_empty(),
        "no formation update after the restart: {:?}",
        world.patches("restart")
    );
    let logs = world.logs();
    once(&logs, "kind=outage", "no second outage alert");

    world.app.set(Mode::Fast);
    second
        .line(&["alert: ", "kind=recovery"], CALM + MINUTE)
        .await;
    world.quantity("restart", 3, 2 * CALM + 2 * MINUTE).await;
    assert_eq!(
        world.patches("restart")[before_restart..],
        [4, 3],
        "one dyno per calm"
    );
    once(&world.logs(), "kind=recovery", "one recovery alert");
    second.stop().await;
}

/// The minutes one run wrote are what the next run's charts (`/api/history`) show, over 24 hours
/// and over 7 days.
#[tokio::test(start_paused = true)]
async fn the_charts_show_the_minutes_written_before_a_restart() {
    let world = World::new("history", 1).await;
    let apps = probed_app("history", 3, "");
    let first = world.start(&apps).await;
    let began = first.clock.now();
    // A minute is written once it is over: run into the fourth, then stop (the first and the
    // last are partly probed).
    tokio::time::sleep(3 * MINUTE).await;
    assert!(world.probes() >= 3 * 6, "probed every 10 s");
    first.stop().await;

    let second = world.start(&apps).await;
    second.line(&["app=history", "started"], MINUTE).await;
    // Before the second run closes a minute of its own.
    for span in [status::Span::Day, status::Span::Week] {
        let charts = second.board.charts(second.clock.now(), span).await;
        let buckets = &charts[0].buckets;
        assert!(
            buckets.iter().any(|b| b.t <= began.timestamp_millis()
                && b.probes >= 2 * 6
                && b.p50.is_some()
                && b.actual == Some(1)),
            "the minutes before the restart, in {span:?}: {buckets:?}"
        );
    }
    second.stop().await;
}
