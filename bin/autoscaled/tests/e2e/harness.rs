//! What the end-to-end tests put around the built binary beyond the workspace's testkit (which
//! holds the parts the daemon bench shares: the app server, config files, the binary as a child
//! process): the binary's path, the SMTP server logged into as the configs say, and what the fake
//! Heroku saw.

use heroku_fake::FakeHeroku;
pub(crate) use testkit::config::{
    API_KEY, Alerts, AppConfig, MAIL_TO, ProbeConfig, SMS_TO, SMTP_PASSWORD, SMTP_USER,
    assert_no_secret, write_config, write_file,
};
pub(crate) use testkit::{AppServer, Daemon, Mode};
use testkit::{MailServer, SmtpOptions};

/// The unit of the tests' bounded waits.
pub(crate) const SECOND: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a daemon may take to start its apps: a second or less on an idle machine, several on
/// one loaded by builds beside the tests. Only a wait, never a verdict on speed.
pub(crate) const START: std::time::Duration = std::time::Duration::from_secs(30);

/// Taken by the tests that load the machine most (three daemons and a database at once) and by the
/// demo's, whose sped-up clock turns a starved second into minutes of late probes: on two cores,
/// none of them runs beside another.
pub(crate) static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The binary under test, built by cargo alongside this test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_autoscaled");

/// An SMTP server on 127.0.0.1 that requires AUTH PLAIN as [`SMTP_USER`] / [`SMTP_PASSWORD`] and
/// accepts every mail.
pub(crate) fn mail_server() -> MailServer {
    MailServer::start(SmtpOptions::default().with_auth(SMTP_USER, SMTP_PASSWORD))
}

/// The quantities of every PATCH the fake received for `app`'s web formation, in order.
pub(crate) fn patches(fake: &FakeHeroku, app: &str) -> Vec<u64> {
    let path = format!("/apps/{app}/formation/web");
    fake.requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .map(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["quantity"].as_u64())
                .unwrap()
        })
        .collect()
}

/// A fresh fake Heroku holding `app`'s web formation at `quantity`.
pub(crate) async fn heroku(app: &str, quantity: u32) -> FakeHeroku {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(app, "web", quantity);
    fake
}

/// Waits until the daemon has started the app and the app server has answered a few probes.
pub(crate) async fn probing(daemon: &Daemon, app: &AppServer) {
    daemon.wait_for_line(&["started"], START).await;
    let seen = app.hits().len();
    daemon
        .wait_until("two more probes", 5 * SECOND, || {
            (app.hits().len() >= seen + 2).then_some(())
        })
        .await;
}
