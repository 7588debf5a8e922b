//! What Heroku's API does to scaling: refusals retried as the client's policy and `Retry-After`
//! say, and an API that does not answer at start.

use std::sync::atomic::Ordering;
use std::time::Duration;

use heroku_fake::FaultOptions;
use testkit::Mode;
use tokio::time::Instant;

use super::{CALM, MINUTE, PROBE, SECOND, World, probed_app, wait_until};

#[tokio::test(start_paused = true)]
async fn heroku_503s_and_a_429_with_retry_after_are_survived() {
    let world = World::new("retry", 1).await;
    // No reconcile during the test: every fault lands on the scale call.
    let apps = probed_app("retry", 3, "").replace("reconcile = \"1m\"", "reconcile = \"1h\"");
    let daemon = world.start(&apps).await;
    wait_until("two probes", MINUTE, || (world.probes() >= 2).then_some(())).await;

    world.app.set(Mode::Unavailable);
    // The first down probe reads maintenance mode (the start read it first); the faults wait for
    // the scale call.
    wait_until("the maintenance read", MINUTE, || {
        let requests = world.fake.requests();
        let reads = requests.iter().filter(|r| r.path == "/apps/retry");
        (reads.count() >= 2).then_some(())
    })
    .await;
    world.fake.fail_next(2, 503, FaultOptions::default());
    wait_until("two failed PATCHes", MINUTE, || {
        (world.patches("retry").len() >= 2).then_some(())
    })
    .await;
    // The client waits at least 500 ms before its third try, and this wait polls every 100 ms:
    // the 429 is armed before it.
    world.fake.fail_next(
        1,
        429,
        FaultOptions {
            retry_after: Some(1),
            ..FaultOptions::default()
        },
    );
    let limited = wait_until("the PATCH answered 429", MINUTE, || {
        (world.patches("retry").len() >= 3).then(Instant::now)
    })
    .await;
    let landed = world.quantity("retry", 3, MINUTE).await;
    assert!(
        landed - limited >= SECOND - Duration::from_millis(100),
        "Retry-After: 1 honoured, yet retried after {:?}",
        landed - limited
    );
    assert_eq!(
        world.patches("retry"),
        [3, 3, 3, 3],
        "two 503s, one 429, then success"
    );
    daemon
        .line(&["formation updated", "app=retry", "to=3"], SECOND)
        .await;
    assert!(
        !daemon.logs().contains("scale call failed"),
        "{}",
        daemon.logs()
    );
    daemon.stop().await;
}

/// Heroku's API down at start (its incidents and an app's outage come together): the app is
/// probed and its outage alerted all the same, saying that nothing could be scaled, and the
/// scale to `max` follows as soon as the API answers.
#[tokio::test(start_paused = true)]
async fn with_herokus_api_unreachable_at_start_an_outage_is_alerted_and_scaled_once_it_answers() {
    let world = World::new("blind", 1).await;
    world.app.set(Mode::Unavailable);
    world.reachable.store(false, Ordering::SeqCst);
    let daemon = world.start(&probed_app("blind", 3, "")).await;

    // The promise: the alert within failures × interval + 5 s of the start.
    let alert = daemon
        .line(&["alert: ", "blind web: down"], 2 * PROBE + 5 * SECOND)
        .await;
    assert!(
        alert.contains("; Heroku's API cannot be reached, so it could not scale to 3"),
        "{alert}"
    );
    daemon
        .line(&["WARN", "Heroku's API has not answered yet"], SECOND)
        .await;
    assert_eq!(world.patches("blind"), Vec::<u64>::new());

    world.reachable.store(true, Ordering::SeqCst);
    let answering = Instant::now();
    let at_max = world.quantity("blind", 3, 2 * MINUTE).await;
    assert_eq!(world.patches("blind"), [3], "straight to max");
    daemon
        .line(&["Heroku answered: scaling goes on", "actual=1"], SECOND)
        .await;
    assert!(
        at_max - answering <= MINUTE,
        "at max {:?} after the API answered",
        at_max - answering
    );
    daemon.stop().await;
}

/// Started blind, a formation Heroku then reports above the baseline is taken as any start takes
/// it: stepped in one dyno per calm, never cut to the baseline at once.
#[tokio::test(start_paused = true)]
async fn a_blind_start_steps_a_formation_above_the_baseline_in_once_heroku_answers() {
    let world = World::new("blind-high", 4).await;
    world.reachable.store(false, Ordering::SeqCst);
    let daemon = world.start(&probed_app("blind-high", 5, "")).await;
    daemon
        .line(&["Heroku's API has not answered yet"], MINUTE)
        .await;

    world.reachable.store(true, Ordering::SeqCst);
    daemon
        .line(
            &["Heroku answered: scaling goes on", "actual=4", "target=4"],
            2 * MINUTE,
        )
        .await;
    let first = world.quantity("blind-high", 3, CALM + MINUTE).await;
    let second = world.quantity("blind-high", 2, CALM + MINUTE).await;
    assert!(
        second - first >= CALM,
        "one dyno per calm, the second step {:?} after the first",
        second - first
    );
    assert_eq!(
        world.patches("blind-high")[..2],
        [3, 2],
        "one dyno per calm, never cut to the baseline"
    );
    daemon.stop().await;
}
