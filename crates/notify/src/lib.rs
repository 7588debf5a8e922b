//! Alerts by email (SMTP) and SMS (Twilio), de-duplicated and retried, never blocking the caller.
//!
//! When the app goes down at 3 a.m., the alert is the product: it must reach people, say plainly
//! what happened and what autoscaled did, not repeat itself every minute, and never hold up a
//! scale-out. Start with [`Notifier::spawn`], which checks a [`NotifyConfig`] and starts a
//! dispatcher task; [`Notifier::notify`] hands it an [`Alert`] and returns at once. Each channel
//! and recipient is then sent to on its own, retried with backoff ([`SendRetry`]), and counted
//! ([`Notifier::stats`]). The same [`AlertKind`] for the same app and process goes out at most once
//! per `alert_every`; the next one says how many were held back. An outage and a recovery end each
//! other's window: a new outage after a recovery is news, not a repeat.
//!
//! The `check_*` functions let a config loader refuse a bad address, phone number, SID or SMTP
//! URL with a message that names it. Secrets (the SMTP URL, the Twilio auth token) are
//! [`secret::Secret`]s and appear in no message, log line or error.
//!
//! ```
//! # use autoscaled_notify as notify;
//! use std::time::Duration;
//! use chrono::Utc;
//! use notify::{Alert, AlertKind, NotifyConfig, Notifier, Progress, Scaling};
//! use tokio_util::sync::CancellationToken;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let shutdown = CancellationToken::new();
//! // With `email` and `sms` set, alerts go out; with neither, they are only logged.
//! let config = NotifyConfig { alert_every: Duration::from_secs(30 * 60), ..NotifyConfig::default() };
//! let (notifier, task) = Notifier::spawn(config, shutdown.clone())?;
//! notifier.notify(Alert {
//!     kind: AlertKind::Outage,
//!     app: "my-app".into(),
//!     process: "web".into(),
//!     what: "down (HTTP 503)".into(),
//!     scaling: Some(Scaling { from: 1, to: 3, progress: Progress::Asked }),
//!     probe: None,
//!     at: Utc::now(),
//!     timezone: chrono_tz::Europe::Paris,
//! });
//! shutdown.cancel();
//! task.await.unwrap();
//! # Ok::<(), notify::Error>(())
//! # }).unwrap();
//! ```

mod alert;
mod check;
mod config;
mod dispatch;
mod email;
mod error;
mod gsm;
mod sms;

pub use alert::{Alert, AlertKind, HeldBack, ProbeFigures, Progress, Scaling};
pub use check::{
    check_account_sid, check_email_address, check_messaging_service_sid, check_phone_number,
    check_smtp_url,
};
pub use config::{DEFAULT_TWILIO_API_URL, FieldProblem};
pub use dispatch::{Notifier, NotifyConfig, SendRetry, Sent, SentLog, Stats};
pub use email::{EmailConfig, Mailer};
pub use error::Error;
pub use sms::{SmsConfig, SmsSender, Twilio};
