//! What a restart keeps beside the decision state: the alerts' log (`alert_every` holds across
//! it), with real mail. (The charts' history across a restart is tested in process, in
//! `src/daemon/tests/restart.rs`.)
//!
//! A module of its own, named to sort early: libtest starts tests in name order, and this one
//! waits for a scale call's 30 s retry, so it should start early in the run rather than end it.

use std::time::Duration;

use heroku_fake::FakeHeroku;
use testkit::config::{temp_sqlite_url, write_config_with_state};

use super::harness::{API_KEY, Alerts, AppConfig, BIN, Daemon, mail_server};

const SECOND: Duration = Duration::from_secs(1);

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
