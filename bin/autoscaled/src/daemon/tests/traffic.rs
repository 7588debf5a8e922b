//! Router lines through the daemon, fed to its drains as the status listener would: traffic
//! scales the app out, requests that fail are the fail-safe within the 10 s promise, a minority
//! of failures is no outage, a recovery comes after `calm`, H80 is maintenance mode. On the paused
//! clock, the promise is measured exactly. (The listener's HTTP side, its password and its limits,
//! and the alerts' delivery by email and SMS, are in `tests/e2e`.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use router_logs::{At, ErrorCode, RouterLine, frame, router_line};
use testkit::Mode;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Daemon, MINUTE, SECOND, World, once, wait_until};

const APP: &str = "failing-app";
const HOST: &str = "failing-app.herokuapp.com";
/// The product's promise: the fail-safe within 10 s of the first failing line.
const PROMISE: Duration = Duration::from_secs(10);

/// `APP`: baseline 1, `max` 6, `[apps.traffic] concurrency = 2`, its probe every 5 s (which
/// keeps answering: a health check is no escape), `calm`.
fn app(calm: &str) -> String {
    format!(
        "[[apps]]\nname = \"{APP}\"\nmin = 1\nmax = 6\nreconcile = \"1m\"\n\
         schedule = [{{ cron = \"0 0 1 1 *\", quantity = 1 }}]\n\n\
         [apps.traffic]\nconcurrency = 2\n\n\
         [apps.probe]\nurl = \"http://{APP}.in-process/\"\ninterval = \"5s\"\ntimeout = \"4s\"\n\
         slow = \"3s\"\nfast = \"2s\"\nfailures = 2\ncalm = \"{calm}\"\n"
    )
}

/// How one request ends, as Heroku's router logs it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ends {
    /// Served in 50 ms.
    Ok,
    /// The app's own fast 503 (a bad deploy): `at=info ... status=503 service=3ms`.
    App503,
    /// The app's own 500, from one bad endpoint.
    App500,
    /// H13, connection closed without response.
    H13,
    /// H10, app crashed: `dyno=`, `connect=` and `service=` empty, as Heroku writes them.
    H10,
    /// H80, the router's maintenance page.
    H80,
}

fn line(ends: Ends) -> RouterLine<'static> {
    let served = RouterLine {
        at: At::Info,
        code: None,
        method: Some("GET"),
        path: Some("/checkout"),
        host: Some(HOST),
        dyno: Some("web.1"),
        connect: Some(Duration::from_millis(1)),
        service: Some(Duration::from_millis(50)),
        status: Some(200),
        bytes: Some(2048),
    };
    let failed = RouterLine {
        at: At::Error,
        status: Some(503),
        bytes: Some(0),
        ..served
    };
    match ends {
        Ends::Ok => served,
        Ends::App503 => RouterLine {
            status: Some(503),
            service: Some(Duration::from_millis(3)),
            bytes: Some(0),
            ..served
        },
        Ends::App500 => RouterLine {
            status: Some(500),
            ..served
        },
        Ends::H13 => RouterLine {
            code: Some(ErrorCode::H13),
            service: Some(Duration::from_millis(1500)),
            ..failed
        },
        Ends::H10 => RouterLine {
            code: Some(ErrorCode::H10),
            dyno: None,
            connect: None,
            service: None,
            bytes: None,
            ..failed
        },
        Ends::H80 => RouterLine {
            at: At::Info,
            code: Some(ErrorCode::H80),
            path: Some("/"),
            dyno: None,
            connect: None,
            service: None,
            bytes: None,
            ..failed
        },
    }
}

/// One Logplex body: the lines of `how.len()` requests that ended over the half second before
/// `now`, the i-th ending as `how[i]`.
fn body(now: DateTime<Utc>, how: &[Ends]) -> Vec<u8> {
    let n = how.len().max(1) as i64;
    let lines: Vec<String> = how
        .iter()
        .enumerate()
        .map(|(i, &ends)| {
            let at = now - TimeDelta::milliseconds(500 - 500 * i as i64 / n);
            router_line(at, &line(ends))
        })
        .collect();
    if how.contains(&Ends::H10) {
        assert!(
            lines
                .iter()
                .any(|l| l.contains("dyno= connect= service= status=503")),
            "Heroku's H10 line as it writes it: empty `dyno=`, `connect=`, `service=`"
        );
    }
    frame(&lines)
}

static FRAMES: AtomicU64 = AtomicU64::new(0);

/// Feeds the daemon's drain a body of `per_body` requests every half second, each ending as
/// `pattern` says for its index (an endless cycle of it), until dropped.
struct Feeder {
    task: JoinHandle<()>,
    /// When the first line of the first body was logged, on the paused clock.
    first: Instant,
}

impl Feeder {
    async fn start(daemon: &Daemon, pattern: &'static [Ends], per_body: usize) -> Feeder {
        let (drains, clock) = (daemon.drains.clone(), daemon.clock);
        let first = Instant::now() - SECOND / 2;
        let task = tokio::spawn(async move {
            let mut sent = 0usize;
            loop {
                let how: Vec<Ends> = (0..per_body)
                    .map(|i| pattern[(sent + i) % pattern.len()])
                    .collect();
                sent += per_body;
                // Logplex's frame ids are unique; a repeated one is dropped as a duplicate.
                let id = format!("frame-{}", FRAMES.fetch_add(1, Ordering::Relaxed));
                let body = body(clock.now(), &how);
                let ingested = drains.ingest(APP, Some(&id), &body, clock.now());
                assert!(ingested.is_ok(), "the drain takes the body: {ingested:?}");
                tokio::time::sleep(SECOND / 2).await;
            }
        });
        Feeder { task, first }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The app already at its baseline and probed once.
async fn ready(calm: &str) -> (World, Daemon) {
    let world = World::new(APP, 1).await;
    let daemon = world.start(&app(calm)).await;
    wait_until("the first probe", MINUTE, || {
        (world.probes() > 0).then_some(())
    })
    .await;
    (world, daemon)
}

/// Feeds `pattern` (all failing) and checks the fail-safe: one PATCH to `max` within 10 s of the
/// first failing line, its reason saying what the router saw, and one outage alert.
async fn fail_safe_within_the_promise(pattern: &'static [Ends], seen: &str) {
    let (world, daemon) = ready("10m").await;
    let started = Instant::now();
    let feeder = Feeder::start(&daemon, pattern, 10).await;
    let at_max = world.quantity(APP, 6, MINUTE).await;
    let took = at_max - feeder.first;
    eprintln!("{seen}: the fail-safe to max {took:?} after the first failing line (promise: 10 s)");
    assert!(took < PROMISE, "{seen}: the fail-safe took {took:?}");
    let line = daemon
        .line(&["scale", "to=6", "reason=router lines: "], SECOND)
        .await;
    assert!(line.contains(&format!("{seen} on 100% of")), "{line}");
    let alert = daemon.line(&["alert: ", "kind=outage"], SECOND).await;
    assert!(
        alert.contains(seen),
        "the alert says what the router saw: {alert}"
    );

    // Failing lines go on for a minute more, and the probe keeps answering every 5 s.
    tokio::time::sleep(MINUTE).await;
    drop(feeder);
    assert_eq!(world.patches(APP), [6], "one scale call, straight to max");
    let every = (started.elapsed().as_secs_f64() / 5.0).ceil() as usize + 1;
    assert!(
        world.probes() <= every,
        "the probe is every 5 s: {} probes",
        world.probes()
    );
    once(&daemon.logs(), "kind=outage", "one outage alert");
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn every_request_failing_503_is_the_fail_safe_within_10_s_with_one_alert() {
    fail_safe_within_the_promise(&[Ends::App503], "503").await;
}

#[tokio::test(start_paused = true)]
async fn every_request_ending_in_h13_is_the_fail_safe_within_10_s() {
    fail_safe_within_the_promise(&[Ends::H13], "H13").await;
}

#[tokio::test(start_paused = true)]
async fn every_request_ending_in_h10_is_the_fail_safe_within_10_s() {
    fail_safe_within_the_promise(&[Ends::H10], "H10").await;
}

/// 19 served, 1 answered 500: 5% failing.
const FIVE_PERCENT: &[Ends] = &[
    Ends::App500,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
    Ends::Ok,
];

#[tokio::test(start_paused = true)]
async fn five_percent_failing_changes_nothing() {
    let (world, daemon) = ready("10m").await;
    let feeder = Feeder::start(&daemon, FIVE_PERCENT, 10).await;
    // The traffic data turns fresh, then many readings go by, far past the promise.
    daemon.line(&["traffic data fresh"], MINUTE).await;
    tokio::time::sleep(5 * MINUTE).await;
    drop(feeder);
    assert_eq!(world.patches(APP), Vec::<u64>::new());
    let logs = daemon.logs();
    assert!(!logs.contains("kind=outage"), "{logs}");
    assert!(!logs.contains("router lines"), "{logs}");
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn requests_that_succeed_again_for_calm_bring_one_recovery_alert() {
    let calm = Duration::from_secs(5);
    let (world, daemon) = ready("5s").await;
    let failing = Feeder::start(&daemon, &[Ends::App503], 10).await;
    world.quantity(APP, 6, MINUTE).await;
    daemon.line(&["alert: ", "kind=outage"], SECOND).await;
    // A probe that answers does not close the outage while the lines still fail: past calm.
    tokio::time::sleep(3 * calm).await;
    assert!(
        !daemon.logs().contains("kind=recovery"),
        "{}",
        daemon.logs()
    );
    drop(failing);
    let up = Instant::now();
    let succeeding = Feeder::start(&daemon, &[Ends::Ok], 10).await;
    let recovery = daemon.line(&["alert: ", "kind=recovery"], MINUTE).await;
    let after = up.elapsed();
    eprintln!("the recovery alert {after:?} after requests succeeded again (calm 5 s)");
    assert!(after >= calm, "not before calm: {after:?}");
    assert!(
        after <= calm + PROMISE,
        "within the promise after calm: {after:?}"
    );
    assert!(recovery.contains("up again"), "{recovery}");
    tokio::time::sleep(MINUTE).await;
    drop(succeeding);
    once(&daemon.logs(), "kind=recovery", "one recovery alert");
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_h80_flood_is_maintenance_not_down_and_down_probes_then_change_nothing() {
    let (world, daemon) = ready("10m").await;
    // Heroku's router answers every request with its maintenance page (H80): the app is shut on
    // purpose. Its own answers then turn to 503s, which the probe sees; nobody is to be woken, no
    // dyno started.
    let flood = Feeder::start(&daemon, &[Ends::H80], 50).await;
    daemon.line(&["traffic data fresh"], MINUTE).await;
    world.app.set(Mode::Unavailable);
    let seen = world.probes();
    wait_until("down probes while the H80 lines come", 2 * MINUTE, || {
        (world.probes() >= seen + 8).then_some(())
    })
    .await;
    tokio::time::sleep(PROMISE).await;
    drop(flood);
    assert_eq!(
        world.patches(APP),
        Vec::<u64>::new(),
        "no fail-safe in maintenance"
    );
    let logs = daemon.logs();
    assert!(
        logs.contains("maintenance"),
        "maintenance mode is logged:\n{logs}"
    );
    assert!(
        !logs.contains("kind=outage") && !logs.contains("fail-safe"),
        "{logs}"
    );
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_app_that_served_well_until_a_bad_deploy_goes_to_max_once_90_percent_fail() {
    let (world, daemon) = ready("10m").await;
    // A full window of requests served well: the failing ones must outweigh them first.
    let healthy = Feeder::start(&daemon, &[Ends::Ok], 10).await;
    daemon.line(&["traffic data fresh"], MINUTE).await;
    tokio::time::sleep(PROMISE + SECOND).await;
    drop(healthy);
    assert_eq!(world.patches(APP), Vec::<u64>::new());
    let failing = Feeder::start(&daemon, &[Ends::App503], 10).await;
    let at_max = world.quantity(APP, 6, MINUTE).await;
    let took = at_max - failing.first;
    eprintln!(
        "503 after a healthy window: the fail-safe to max {took:?} after the first failing line (promise: 10 s)"
    );
    drop(failing);
    // 90% of a 10 s window full of requests served well fail only after 9 s of failing lines:
    // never sooner (a minority of failures is no outage), and within the promise.
    assert!(
        took >= 8 * SECOND,
        "down before 90% of the window failed: {took:?}"
    );
    assert!(took < PROMISE, "the fail-safe took {took:?}");
    assert_eq!(world.patches(APP), [6]);
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn traffic_scales_the_app_out_with_its_figures_in_the_reason() {
    let (world, daemon) = ready("10m").await;

    // 38 requests a second for a minute, 200 ms each: 7.6 in flight, 7.6 / (2 × 0.8) → 5 dynos.
    let now = daemon.clock.now();
    let mut lines = Vec::new();
    for s in 0..60u32 {
        for r in 0..38u32 {
            let at = now - TimeDelta::seconds(i64::from(60 - s))
                + TimeDelta::milliseconds(i64::from(r * 1000 / 38));
            let served = RouterLine {
                service: Some(Duration::from_millis(200)),
                ..line(Ends::Ok)
            };
            lines.push(router_line(at + TimeDelta::milliseconds(200), &served));
        }
    }
    let ingested = daemon.drains.ingest(APP, Some("busy"), &frame(&lines), now);
    assert!(ingested.is_ok(), "{ingested:?}");

    world.quantity(APP, 5, 15 * SECOND).await;
    let line = daemon.line(&["scale", "to=5", "traffic:"], SECOND).await;
    assert!(
        line.contains("in flight"),
        "the reason shows its figures: {line}"
    );
    assert_eq!(
        world.patches(APP),
        vec![5],
        "one scale call, straight to the demand"
    );
    daemon.stop().await;
}
