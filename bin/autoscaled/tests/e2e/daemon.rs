//! `autoscaled run` against the fake Heroku, a controllable app, SMTP and Twilio (Prism).

use std::time::{Duration, Instant};

use heroku_fake::{FakeHeroku, FaultOptions};
use testkit::{Prism, closed_port};

use super::harness::{
    Alerts, AppConfig, AppServer, BIN, Daemon, MAIL_TO, Mode, ProbeConfig, SECOND, SMS_TO,
    SMTP_PASSWORD, SMTP_USER, heroku, mail_server, patches, probing, write_config,
};

/// Waits until the fake holds `quantity` and returns when that was seen.
async fn quantity(
    daemon: &Daemon,
    fake: &FakeHeroku,
    app: &str,
    quantity: u32,
    within: Duration,
) -> Instant {
    let what = format!("{app} at {quantity} dynos");
    daemon
        .wait_until(&what, within, || {
            (fake.quantity(app, "web") == Some(quantity)).then(Instant::now)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_is_applied_at_start_and_a_manual_change_is_corrected() {
    let fake = heroku("e2e-base", 1).await;
    let mut app = AppConfig::new("e2e-base");
    app.max = 5;
    app.schedule = vec![("* * * * *", 2)];
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &Alerts::default()));

    quantity(&daemon, &fake, "e2e-base", 2, 10 * SECOND).await;
    let patch = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.path, "/apps/e2e-base/formation/web");
    assert_eq!(patch.body, Some(serde_json::json!({ "quantity": 2 })));
    assert_eq!(
        patch.header("authorization"),
        Some("[redacted]"),
        "the fake checked the bearer token"
    );
    let needles = [
        "scale",
        "app=e2e-base",
        "process=web",
        "from=1",
        "to=2",
        "reason=schedule: baseline 2",
    ];
    daemon.wait_for_line(&needles, SECOND).await;
    daemon
        .wait_for_line(&["formation updated", "from=1 to=2"], SECOND)
        .await;

    // Someone scales by hand; the next reconcile (every second here) sets it back.
    fake.set_formation("e2e-base", "web", 5);
    let changed = Instant::now();
    let corrected = quantity(&daemon, &fake, "e2e-base", 2, 5 * SECOND).await;
    assert!(
        corrected - changed < 3 * SECOND,
        "corrected after {:?}",
        corrected - changed
    );
    assert_eq!(patches(&fake, "e2e-base"), [2, 2]);
    daemon
        .wait_for_line(
            &[
                "app=e2e-base",
                "process=web",
                "from=5",
                "to=2",
                "reason=\"changed outside autoscaled",
            ],
            SECOND,
        )
        .await;

    // SIGTERM: exit 0 within the 5 s the interface promises (`stop` fails the test otherwise).
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished.took < Duration::from_secs(5),
        "{:?}",
        finished.took
    );
    assert!(
        finished.stdout.contains("signal=\"SIGTERM\""),
        "{}",
        finished.stdout
    );
    assert!(finished.stdout.contains("stopped"), "{}", finished.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_goes_to_max_with_email_and_sms_then_recovers_one_step_per_calm() {
    let mail = mail_server();
    let prism = Prism::shared().await;
    let server = AppServer::start().await;
    let fake = heroku("e2e-outage", 2).await;
    let mut app = AppConfig::new("e2e-outage");
    app.max = 4;
    app.schedule = vec![("* * * * *", 2)];
    app.probe = Some(ProbeConfig::quick(server.url()));
    let alerts = Alerts {
        smtp_port: Some(mail.port),
        twilio_url: Some(prism.origin()),
    };
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &alerts));
    probing(&daemon, &server).await;
    assert_eq!(
        patches(&fake, "e2e-outage"),
        Vec::<u64>::new(),
        "already at the baseline"
    );

    server.set(Mode::Unavailable);
    let down = Instant::now();
    let at_max = quantity(&daemon, &fake, "e2e-outage", 4, 5 * SECOND).await;
    // Two probes 300 ms apart, then one call: well within two seconds on any machine.
    assert!(
        at_max - down < 2 * SECOND,
        "fail-safe took {:?}",
        at_max - down
    );
    let second_down = server
        .hits()
        .iter()
        .filter(|h| h.mode == Mode::Unavailable)
        .nth(1)
        .unwrap()
        .at;
    assert!(
        second_down < at_max,
        "the call followed the second failed probe"
    );
    assert!(server.hits().iter().all(|h| h.path == "/"));
    daemon
        .wait_for_line(
            &[
                "scale",
                "app=e2e-outage",
                "process=web",
                "from=2",
                "to=4",
                "reason=down: ",
            ],
            SECOND,
        )
        .await;

    let outage = daemon
        .wait_until("the outage email", 10 * SECOND, || {
            mail.mails()
                .into_iter()
                .find(|m| m.subject.contains("down"))
        })
        .await;
    assert_eq!(outage.envelope_to, [MAIL_TO]);
    assert!(
        outage.subject.contains("e2e-outage web") && outage.subject.contains("2 → 4"),
        "{}",
        outage.subject
    );
    assert!(
        mail.logins()
            .contains(&(SMTP_USER.to_owned(), SMTP_PASSWORD.to_owned()))
    );
    // Prism answers 2xx only to a request that Twilio's contract allows; the daemon logs "alert
    // sent" only on a 2xx.
    daemon
        .wait_for_line(
            &[
                "alert sent",
                "channel=\"sms\"",
                SMS_TO,
                "app=e2e-outage",
                "kind=outage",
            ],
            10 * SECOND,
        )
        .await;

    server.set(Mode::Fast);
    let up = Instant::now();
    let first_step = quantity(&daemon, &fake, "e2e-outage", 3, 10 * SECOND).await;
    let second_step = quantity(&daemon, &fake, "e2e-outage", 2, 10 * SECOND).await;
    // calm is 2 s: the first step waits for 2 s without a down probe (the last one came at most a
    // probe interval before the switch), the second for 2 s more of fast probes.
    assert!(
        first_step - up >= Duration::from_millis(1700),
        "first step after {:?}",
        first_step - up
    );
    assert!(
        second_step - first_step >= Duration::from_millis(1900),
        "second step {:?} later",
        second_step - first_step
    );
    assert_eq!(
        patches(&fake, "e2e-outage"),
        [4, 3, 2],
        "back to the baseline one dyno at a time, and no further"
    );
    daemon
        .wait_for_line(&["scale", "from=4", "to=3", "reason=calm: "], SECOND)
        .await;

    let recovery = daemon
        .wait_until("the recovery email", 10 * SECOND, || {
            mail.mails()
                .into_iter()
                .find(|m| m.subject.contains("up again"))
        })
        .await;
    assert!(
        recovery.subject.contains("e2e-outage web"),
        "{}",
        recovery.subject
    );
    daemon
        .wait_for_line(
            &["alert sent", "channel=\"sms\"", "kind=recovery"],
            10 * SECOND,
        )
        .await;
    for mail in mail.mails() {
        super::harness::assert_no_secret("an alert email", &mail.raw);
    }

    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_probes_step_out_once_per_cooldown_up_to_max() {
    let server = AppServer::start().await;
    let fake = heroku("e2e-slow", 1).await;
    let mut app = AppConfig::new("e2e-slow");
    app.probe = Some(ProbeConfig::quick(server.url()));
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &Alerts::default()));
    probing(&daemon, &server).await;

    server.set(Mode::Slow);
    let first = quantity(&daemon, &fake, "e2e-slow", 2, 5 * SECOND).await;
    let second = quantity(&daemon, &fake, "e2e-slow", 3, 5 * SECOND).await;
    assert!(
        second - first >= Duration::from_millis(900),
        "stepped again after {:?}; cooldown is 1 s",
        second - first
    );
    daemon
        .wait_for_line(
            &[
                "scale",
                "app=e2e-slow",
                "process=web",
                "from=1",
                "to=2",
                "reason=slow: ",
            ],
            SECOND,
        )
        .await;
    // max is 3: still slow, but no further call.
    let slow_hits = server.hits().len();
    daemon
        .wait_until("three more slow probes", 5 * SECOND, || {
            (server.hits().len() >= slow_hits + 3).then_some(())
        })
        .await;
    assert_eq!(patches(&fake, "e2e-slow"), [2, 3]);
    assert!(
        !daemon.stdout().contains("alert:"),
        "a slow spell alerts nobody:\n{}",
        daemon.stdout()
    );

    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heroku_503s_and_a_429_with_retry_after_are_survived() {
    let server = AppServer::start().await;
    let fake = heroku("e2e-retry", 1).await;
    let mut app = AppConfig::new("e2e-retry");
    app.probe = Some(ProbeConfig::quick(server.url()));
    // No reconcile during the test: every fault lands on the scale call.
    app.reconcile = "1h";
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &Alerts::default()));
    probing(&daemon, &server).await;

    server.set(Mode::Unavailable);
    // The first down probe reads maintenance mode at once (the start read it first); the faults
    // wait for the scale call.
    daemon
        .wait_until("the maintenance read", 5 * SECOND, || {
            let reads = fake.requests();
            let reads = reads.iter().filter(|r| r.path == "/apps/e2e-retry");
            (reads.count() >= 2).then_some(())
        })
        .await;
    fake.fail_next(2, 503, FaultOptions::default());
    daemon
        .wait_until("two failed PATCHes", 5 * SECOND, || {
            (patches(&fake, "e2e-retry").len() >= 2).then_some(())
        })
        .await;
    // The client waits at least 500 ms before its third try: time enough to arm the 429.
    fake.fail_next(
        1,
        429,
        FaultOptions {
            retry_after: Some(1),
            ..FaultOptions::default()
        },
    );
    let limited = daemon
        .wait_until("the PATCH answered 429", 5 * SECOND, || {
            (patches(&fake, "e2e-retry").len() >= 3).then(Instant::now)
        })
        .await;
    let landed = quantity(&daemon, &fake, "e2e-retry", 3, 10 * SECOND).await;
    assert!(
        landed - limited >= Duration::from_millis(900),
        "Retry-After: 1 honoured, yet retried after {:?}",
        landed - limited
    );
    assert_eq!(
        patches(&fake, "e2e-retry"),
        [3, 3, 3, 3],
        "two 503s, one 429, then success"
    );
    daemon
        .wait_for_line(&["formation updated", "app=e2e-retry", "to=3"], SECOND)
        .await;
    assert!(
        !daemon.stdout().contains("scale call failed"),
        "{}",
        daemon.stdout()
    );

    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_keeps_time_while_the_smtp_server_is_down() {
    let server = AppServer::start().await;
    let fake = heroku("e2e-nosmtp", 1).await;
    let mut app = AppConfig::new("e2e-nosmtp");
    app.probe = Some(ProbeConfig::quick(server.url()));
    let alerts = Alerts {
        smtp_port: Some(closed_port()),
        twilio_url: None,
    };
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &alerts));
    probing(&daemon, &server).await;

    server.set(Mode::Refusing);
    let down = Instant::now();
    let at_max = quantity(&daemon, &fake, "e2e-nosmtp", 3, 5 * SECOND).await;
    assert!(
        at_max - down < 2 * SECOND,
        "fail-safe took {:?} with the mail server down",
        at_max - down
    );
    daemon
        .wait_for_line(&["scale", "from=1", "to=3", "reason=down: "], SECOND)
        .await;
    // The email is tried, retried and given up on, while the scale has long landed.
    daemon
        .wait_for_line(&["alert send failed", "channel=\"email\""], 10 * SECOND)
        .await;

    // Stopping while the email is still being retried takes no longer.
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line_with_the_decision_fields() {
    let server = AppServer::start().await;
    server.set(Mode::Unavailable);
    let fake = heroku("e2e-json", 1).await;
    let mut app = AppConfig::new("e2e-json");
    app.probe = Some(ProbeConfig::quick(server.url()));
    let config = write_config(&fake.url(), &[app], &Alerts::default());
    let daemon = Daemon::spawn(
        BIN,
        &[
            "--config",
            config.to_str().unwrap(),
            "--log-format",
            "json",
            "run",
        ],
    );
    quantity(&daemon, &fake, "e2e-json", 3, 10 * SECOND).await;
    daemon
        .wait_for_line(&["\"message\":\"scale\""], SECOND)
        .await;

    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    let lines: Vec<serde_json::Value> = finished
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string()),
        "{}",
        finished.stdout
    );
    let scale = lines.iter().find(|l| l["message"] == "scale").unwrap();
    assert_eq!(scale["app"], "e2e-json");
    assert_eq!(scale["process"], "web");
    assert_eq!(scale["from"], 1);
    assert_eq!(scale["to"], 3);
    assert!(
        scale["reason"].as_str().unwrap().starts_with("down: "),
        "{scale}"
    );
    assert!(lines.iter().any(|l| l["message"] == "stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_probes_change_nothing_while_the_app_is_in_maintenance() {
    let server = AppServer::start().await;
    server.set(Mode::Unavailable);
    let fake = heroku("e2e-maint", 1).await;
    fake.set_maintenance("e2e-maint", true);
    let mut app = AppConfig::new("e2e-maint");
    app.probe = Some(ProbeConfig::quick(server.url()));
    let daemon = Daemon::run(BIN, &write_config(&fake.url(), &[app], &Alerts::default()));
    daemon
        .wait_for_line(
            &["app=e2e-maint", "ignored: the app is in maintenance mode"],
            10 * SECOND,
        )
        .await;
    let seen = server.hits().len();
    daemon
        .wait_until("ten more failing probes", 5 * SECOND, || {
            (server.hits().len() >= seen + 10).then_some(())
        })
        .await;
    assert_eq!(patches(&fake, "e2e-maint"), Vec::<u64>::new());
    let stdout = daemon.stdout();
    assert_eq!(stdout.matches("ignored").count(), 1, "said once:\n{stdout}");
    assert!(!stdout.contains("alert:"), "no alert:\n{stdout}");

    // Maintenance ends (read at the next reconcile): the same failures now trigger the fail-safe.
    fake.set_maintenance("e2e-maint", false);
    quantity(&daemon, &fake, "e2e-maint", 3, 5 * SECOND).await;
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_decides_and_logs_but_never_changes_a_formation() {
    let fake = heroku("e2e-dry", 1).await;
    let mut app = AppConfig::new("e2e-dry");
    app.schedule = vec![("* * * * *", 2)];
    let config = write_config(&fake.url(), &[app], &Alerts::default());
    let daemon = Daemon::spawn(
        BIN,
        &["--config", config.to_str().unwrap(), "run", "--dry-run"],
    );
    daemon
        .wait_for_line(
            &[
                "dry run: formation left unchanged",
                "app=e2e-dry",
                "from=1",
                "to=2",
            ],
            10 * SECOND,
        )
        .await;
    // Two reconciles (every second) read the formation and still change nothing.
    daemon
        .wait_until("two reconciles", 5 * SECOND, || {
            let reads = fake.requests().iter().filter(|r| r.method == "GET").count();
            (reads >= 4).then_some(())
        })
        .await;
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
    assert_eq!(fake.quantity("e2e-dry", "web"), Some(1));
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

/// Heroku's API down at start (its incidents and an app's outage come together): the app is
/// probed and its outage alerted all the same, saying that nothing could be scaled, and the
/// scale to `max` follows as soon as the API answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_herokus_api_unreachable_at_start_an_outage_is_alerted_and_scaled_once_it_answers() {
    let server = AppServer::start().await;
    server.set(Mode::Unavailable);
    let mail = mail_server();
    // Nothing listens here until the fake starts on it.
    let heroku_addr = std::net::SocketAddr::from(([127, 0, 0, 1], closed_port()));
    let mut app = AppConfig::new("e2e-blind");
    let probe = ProbeConfig::quick(server.url());
    // The promise: the alert within failures × interval + 5 s of the start.
    let alert_within = Duration::from_millis(300) * probe.failures + 5 * SECOND;
    app.probe = Some(probe);
    let alerts = Alerts {
        smtp_port: Some(mail.port),
        twilio_url: None,
    };
    let config = write_config(&format!("http://{heroku_addr}"), &[app], &alerts);
    let started = Instant::now();
    let daemon = Daemon::run(BIN, &config);

    let outage = daemon
        .wait_until("the outage email", alert_within, || {
            mail.mails()
                .into_iter()
                .find(|m| m.subject.contains("e2e-blind web: down"))
        })
        .await;
    let alerted_after = started.elapsed();
    assert!(
        outage
            .subject
            .ends_with("; Heroku's API cannot be reached, so it could not scale to 3"),
        "{}",
        outage.subject
    );
    daemon
        .wait_for_line(&["WARN", "Heroku's API has not answered yet"], SECOND)
        .await;

    let fake = FakeHeroku::builder(super::harness::API_KEY)
        .bind(heroku_addr)
        .start()
        .await
        .unwrap();
    fake.set_formation("e2e-blind", "web", 1);
    let answering = Instant::now();
    let at_max = quantity(&daemon, &fake, "e2e-blind", 3, 5 * SECOND).await;
    assert_eq!(patches(&fake, "e2e-blind"), [3], "straight to max");
    daemon
        .wait_for_line(&["Heroku answered: scaling goes on", "actual=1"], SECOND)
        .await;
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    eprintln!(
        "outage alert {alerted_after:?} after the start (at most {alert_within:?}); at max {:?} after the API answered",
        at_max - answering
    );
}

/// Started blind, a formation Heroku then reports above the baseline is taken as any start takes
/// it: stepped in one dyno per calm, never cut to the baseline at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_start_steps_a_formation_above_the_baseline_in_once_heroku_answers() {
    let server = AppServer::start().await;
    let heroku_addr = std::net::SocketAddr::from(([127, 0, 0, 1], closed_port()));
    let mut app = AppConfig::new("e2e-blind-high");
    app.max = 5;
    app.probe = Some(ProbeConfig::quick(server.url()));
    let config = write_config(&format!("http://{heroku_addr}"), &[app], &Alerts::default());
    let daemon = Daemon::run(BIN, &config);
    daemon
        .wait_for_line(&["Heroku's API has not answered yet"], 10 * SECOND)
        .await;

    let fake = FakeHeroku::builder(super::harness::API_KEY)
        .bind(heroku_addr)
        .start()
        .await
        .unwrap();
    fake.set_formation("e2e-blind-high", "web", 4);
    daemon
        .wait_for_line(
            &["Heroku answered: scaling goes on", "actual=4", "target=4"],
            10 * SECOND,
        )
        .await;
    quantity(&daemon, &fake, "e2e-blind-high", 3, 15 * SECOND).await;
    quantity(&daemon, &fake, "e2e-blind-high", 2, 15 * SECOND).await;
    assert_eq!(
        patches(&fake, "e2e-blind-high")[..2],
        [3, 2],
        "one dyno per calm, never cut to the baseline"
    );
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}
