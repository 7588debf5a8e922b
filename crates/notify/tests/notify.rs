//! Integration tests against real servers on loopback: SMTP (mailin), Twilio's contract served by
//! Stoplight Prism, and a raw HTTP server answering Twilio's error bodies. One binary, to keep
//! link time down; the modules live in `tests/notify/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test's helpers fail the test that calls them, with their message and line"
)]

extern crate autoscaled_notify as notify;

#[path = "notify/dispatch.rs"]
mod dispatch;
#[path = "notify/email.rs"]
mod email;
#[path = "notify/sms.rs"]
mod sms;
#[path = "notify/support.rs"]
mod support;

use std::time::Duration;

use notify::{EmailConfig, NotifyConfig, SendRetry, SmsConfig, SmsSender};
use secret::Secret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Settings that keep tests quick: short retry waits, generous timeouts and grace.
fn quick(email: Option<EmailConfig>, sms: Option<SmsConfig>) -> NotifyConfig {
    NotifyConfig {
        email,
        sms,
        alert_every: Duration::from_secs(30 * 60),
        retry: SendRetry {
            attempts: 3,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        },
        send_timeout: Duration::from_secs(10),
        shutdown_grace: Duration::from_secs(20),
    }
}

fn email_config(port: u16, userinfo: &str, to: &[&str]) -> EmailConfig {
    EmailConfig {
        smtp_url: Secret::new(format!("smtp://{userinfo}127.0.0.1:{port}")),
        from: "autoscaled <alerts@example.com>".into(),
        to: to.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn sms_config(api_url: url::Url, sender: SmsSender, to: &[&str]) -> SmsConfig {
    SmsConfig {
        account_sid: support::ACCOUNT_SID.into(),
        auth_token: Secret::new(support::TWILIO_TOKEN),
        sender,
        to: to.iter().map(|s| (*s).to_owned()).collect(),
        api_url,
    }
}

fn from_number() -> SmsSender {
    SmsSender::From("+15005550006".into())
}

/// Stops the notifier and waits for it: whatever was queued has then been sent or given up on.
async fn finish(shutdown: &CancellationToken, task: JoinHandle<()>) {
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the notifier did not stop within 60 s")
        .expect("the notifier task panicked");
}
