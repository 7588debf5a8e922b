//! `autoscaled run` as a process, against the fake Heroku, a controllable app, SMTP and Twilio
//! (Prism): the alerts' delivery, the log format and SIGTERM. How the daemon scales (the
//! schedule, the fail-safe, the step out and in, maintenance, Heroku's refusals) is tested in
//! process on a controlled clock, in `src/daemon/tests`.

use std::time::{Duration, Instant};

use heroku_fake::FakeHeroku;
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

/// An outage's alerts go out by email over SMTP with AUTH and by SMS through Twilio's contract
/// (Prism), with no secret in them. When the fail-safe comes and how the app steps back in is
/// tested in process, on a controlled clock (`daemon::tests::probes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_goes_to_max_with_email_and_sms() {
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
    quantity(&daemon, &fake, "e2e-outage", 4, 10 * SECOND).await;
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

    for mail in mail.mails() {
        super::harness::assert_no_secret("an alert email", &mail.raw);
    }

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

    // SIGTERM: exit 0 within the 5 s the interface promises (`stop` fails the test otherwise).
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished.took < Duration::from_secs(5),
        "{:?}",
        finished.took
    );
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
    assert!(
        lines.iter().any(|l| l["signal"] == "SIGTERM"),
        "{}",
        finished.stdout
    );
}
