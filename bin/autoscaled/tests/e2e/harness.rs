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
