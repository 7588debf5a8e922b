//! The router lines' health through the running daemon as a process (issue 24): real drain posts
//! of requests that fail, a fake Heroku, a probe every 5 s that keeps answering (a health check is
//! no escape), and the alerts by email and SMS.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use heroku_fake::FakeHeroku;
use router_logs::{At, RouterLine, frame, router_line};
use testkit::{Prism, closed_port};

use super::harness::{
    API_KEY, AppServer, BIN, Daemon, MAIL_TO, SMS_TO, SMTP_PASSWORD, SMTP_USER, assert_no_secret,
    mail_server, patches, write_file,
};
use super::traffic::{listening, post};

const SECOND: Duration = Duration::from_secs(1);
const APP: &str = "failing-app";
const HOST: &str = "failing-app.herokuapp.com";
const DRAIN_PASSWORD: &str = "drain-s3cret-for-health-tests";
/// Bounded waits for what the promise does not cover (mail delivery, a loaded machine).
const GENEROUS: Duration = Duration::from_secs(60);

/// A daemon for `APP` (baseline 1, `max` 6, `[apps.traffic] concurrency = 2`), its drain on
/// `port`, its probe every 5 s at `probe` with limits no loaded machine reaches, and alerts by
/// email to `smtp_port` and SMS through `twilio`.
fn start(fake: &FakeHeroku, port: u16, probe: &str, smtp_port: u16, twilio: &str) -> Daemon {
    let toml = format!(
        "[heroku]\napi_key = \"{API_KEY}\"\napi_url = \"{heroku}\"\n\n\
         [state]\nurl = \"{state}\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\ndrain_password = \"{DRAIN_PASSWORD}\"\n\n\
         [alerts]\nalert_every = \"30m\"\n\
         [alerts.email]\nsmtp_url = \"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{smtp_port}\"\n\
         from = \"autoscaled <alerts@example.com>\"\nto = [\"{MAIL_TO}\"]\n\
         [alerts.sms]\naccount_sid = \"{sid}\"\nauth_token = \"{token}\"\nfrom = \"+15005550006\"\n\
         to = [\"{SMS_TO}\"]\napi_url = \"{twilio}\"\n\n\
         [[apps]]\nname = \"{APP}\"\nmin = 1\nmax = 6\nreconcile = \"1m\"\n\
         schedule = [{{ cron = \"0 0 1 1 *\", quantity = 1 }}]\n\n\
         [apps.traffic]\nconcurrency = 2\n\n\
         [apps.probe]\nurl = \"{probe}\"\ninterval = \"5s\"\ntimeout = \"4s\"\nslow = \"3s\"\n\
         fast = \"2s\"\nfailures = 2\ncalm = \"10m\"\n",
        heroku = fake.url(),
        state = testkit::config::temp_sqlite_url(),
        sid = testkit::config::ACCOUNT_SID,
        token = testkit::config::TWILIO_TOKEN,
    );
    Daemon::run(BIN, &write_file("toml", &toml))
}

/// A request the app answered with its own fast 503 (a bad deploy), as Heroku's router logs it.
fn failing() -> RouterLine<'static> {
    RouterLine {
        at: At::Info,
        code: None,
        method: Some("GET"),
        path: Some("/checkout"),
        host: Some(HOST),
        dyno: Some("web.1"),
        connect: Some(Duration::from_millis(1)),
        service: Some(Duration::from_millis(3)),
        status: Some(503),
        bytes: Some(0),
    }
}

/// One Logplex body: the lines of `count` failing requests that ended over the half second
/// before `now`.
fn body(now: DateTime<Utc>, count: i64) -> Vec<u8> {
    let lines: Vec<String> = (0..count)
        .map(|i| {
            router_line(
                now - TimeDelta::milliseconds(500 - 500 * i / count),
                &failing(),
            )
        })
        .collect();
    frame(&lines)
}

/// A daemon whose app already is at its baseline, probed at least once, its drain listening;
/// then 503s posted to the drain every half second (20 requests a second) until the fail-safe:
/// one PATCH to `max`, its reason saying what the router saw, and one outage alert, by email (the
/// email says it too) and SMS. How fast, and every other rule of the lines' health, is tested in
/// process on a controlled clock (`src/daemon/tests/traffic.rs`); this test prints the time taken
/// on the real path (the listener, the decision task, the actuator).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_posts_of_failing_requests_are_the_fail_safe_with_one_alert_by_email_and_sms() {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(APP, "web", 1);
    let server = AppServer::start().await;
    let mail = mail_server();
    // One Prism for the binary: Node's start-up costs seconds of CPU, paid once.
    let prism = Prism::shared().await;
    let port = closed_port();
    let daemon = start(&fake, port, &server.url(), mail.port, &prism.origin());
    listening(&daemon, port).await;
    daemon
        .wait_until("the first probe", GENEROUS, || {
            (!server.hits().is_empty()).then_some(())
        })
        .await;

    let first = Instant::now();
    let feeder = tokio::spawn(async move {
        loop {
            let status = post(port, APP, Some(DRAIN_PASSWORD), body(Utc::now(), 10)).await;
            assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
            tokio::time::sleep(SECOND / 2).await;
        }
    });
    daemon
        .wait_until("the PATCH to max", GENEROUS, || {
            patches(&fake, APP).contains(&6).then_some(())
        })
        .await;
    println!(
        "the fail-safe to max {:?} after the first post (promise: 10 s after the first failing line)",
        first.elapsed()
    );
    let line = daemon
        .wait_for_line(&["scale", "to=6", "reason=router lines: "], GENEROUS)
        .await;
    assert!(line.contains("503 on 100% of"), "{line}");
    daemon
        .wait_for_line(
            &["alert sent", "channel=\"sms\"", SMS_TO, "kind=outage"],
            GENEROUS,
        )
        .await;
    let outage = daemon
        .wait_until("the outage email", GENEROUS, || {
            mail.mails()
                .into_iter()
                .find(|m| m.subject.contains("down"))
        })
        .await;
    assert_eq!(outage.envelope_to, [MAIL_TO]);
    assert!(
        outage.raw.contains("503"),
        "the email says what the router saw: {}",
        outage.raw
    );
    feeder.abort();
    assert_eq!(patches(&fake, APP), [6], "one scale call, straight to max");
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{}", finished.stderr);
    let outages = finished
        .stdout
        .lines()
        .filter(|l| l.contains("alert sent") && l.contains("kind=outage"))
        .count();
    assert_eq!(
        outages, 2,
        "one outage alert, by email and SMS:\n{}",
        finished.stdout
    );
    assert_eq!(mail.mails().len(), 1);
    assert!(!finished.stdout.contains(DRAIN_PASSWORD));
    assert_no_secret("stdout", &finished.stdout);
}
