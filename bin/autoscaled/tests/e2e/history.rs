//! What a restart keeps beside the decision state: the charts' history (the minutes one run wrote
//! are served by the next one's `/api/history`) and the alerts' log (`alert_every` holds across
//! it).
//!
//! A module of its own, named to sort early: libtest starts tests in name order, and these wait
//! for the wall clock's next minute (up to a minute) and for a scale call's 30 s retry, so they
//! should start early in the run rather than end it.

use std::time::Duration;

use chrono::Timelike as _;
use heroku_fake::FakeHeroku;
use testkit::config::{temp_sqlite_url, write_config_with_state};

use super::harness::{
    API_KEY, Alerts, AppConfig, AppServer, BIN, Daemon, ProbeConfig, START, mail_server,
};

const SECOND: Duration = Duration::from_secs(1);

/// `/api/history`, over 24 hours and over 7 days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_history_serves_the_minutes_written_before_a_restart() {
    const APP: &str = "e2e-history";
    let server = AppServer::start().await;
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(APP, "web", 1);
    let mut app = AppConfig::new(APP);
    app.probe = Some(ProbeConfig::quick(server.url()));
    let config =
        write_config_with_state(&fake.url(), &[app], &Alerts::default(), &temp_sqlite_url());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += "\n[http]\nlisten = \"127.0.0.1:0\"\n";
    std::fs::write(&config, text).unwrap();

    // A minute is written once it is over: run into the next minute, then stop.
    let first = Daemon::run(BIN, &config);
    first.wait_for_line(&["started"], START).await;
    let began = chrono::Utc::now();
    let next_minute = began + chrono::TimeDelta::seconds(61 - i64::from(began.second()));
    let seen = server.hits().len();
    first
        .wait_until("probes in the next minute", 90 * SECOND, || {
            (chrono::Utc::now() > next_minute && server.hits().len() >= seen + 5).then_some(())
        })
        .await;
    let finished = first.stop().await;
    assert!(finished.status.success(), "{finished:?}");

    let second = Daemon::run(BIN, &config);
    let url = super::status_page::page_url(&second).await;
    for (span, bucket) in [("24h", 300), ("7d", 3600)] {
        let history = super::status_page::json(&format!("{url}api/history?span={span}")).await;
        assert_eq!(history["span"], span, "{history}");
        assert_eq!(history["bucket_seconds"], bucket, "{history}");
        let buckets = history["apps"][0]["buckets"].as_array().unwrap();
        let before: Vec<_> = buckets
            .iter()
            .filter(|b| b["t"].as_i64().unwrap() <= began.timestamp_millis())
            .collect();
        assert!(
            before.iter().any(|b| b["probes"].as_u64().unwrap() > 0
                && b["p50"].is_number()
                && b["actual"] == 1),
            "the minute before the restart, in {span}: {history}"
        );
    }
    let finished = second.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

/// `alert_every` holds through a restart: an alert sent just before it is held back when the new
/// process meets the same trouble, and goes out again once `alert_every` has passed. The trouble:
/// Heroku caps the formation at 4 while the schedule asks for 5, so every scale call (at start,
/// then every 30 s) ends in a "Heroku set 4 instead" alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_every_holds_through_a_restart_and_then_lets_the_alert_go_again() {
    const APP: &str = "e2e-alert-every";
    const CAPPED: &str = "Heroku set 4 instead";
    let mail = mail_server();
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(APP, "web", 1);
    fake.set_quantity_limit(APP, Some(4));
    let mut app = AppConfig::new(APP);
    app.max = 5;
    app.schedule = vec![("* * * * *", 5)];
    let alerts = Alerts {
        smtp_port: Some(mail.port),
        twilio_url: None,
    };
    let config = write_config_with_state(&fake.url(), &[app], &alerts, &temp_sqlite_url());
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("alert_every = \"30m\""), "{text}");
    std::fs::write(
        &config,
        text.replace("alert_every = \"30m\"", "alert_every = \"25s\""),
    )
    .unwrap();
    let capped_mails = || {
        mail.mails()
            .iter()
            .filter(|m| m.body.contains(CAPPED) || m.subject.contains(CAPPED))
            .count()
    };

    let first = Daemon::run(BIN, &config);
    first
        .wait_until("the first capped alert", 20 * SECOND, || {
            (capped_mails() == 1).then_some(())
        })
        .await;
    let sent_at = std::time::Instant::now();
    let finished = first.stop().await;
    assert!(finished.status.success(), "{finished:?}");

    let second = Daemon::run(BIN, &config);
    second
        .wait_for_line(&["Heroku set another quantity than asked"], 20 * SECOND)
        .await;
    second.wait_for_line(&["alert held back"], 5 * SECOND).await;
    assert!(
        sent_at.elapsed() < 25 * SECOND,
        "the machine is too slow for this test's alert_every"
    );
    assert_eq!(
        capped_mails(),
        1,
        "held back within alert_every of the first"
    );
    // The actuator asks again 30 s after a capped answer: past alert_every, so it goes out.
    second
        .wait_until("the capped alert again", 60 * SECOND, || {
            (capped_mails() == 2).then_some(())
        })
        .await;
    assert!(sent_at.elapsed() >= 25 * SECOND);
    let finished = second.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}
