//! Turns the daemon's notices into alerts: logged always, sent when channels are configured.

use chrono::{DateTime, Utc};
use notify::{Alert, AlertKind, Notifier, ProbeFigures, Scaling};
use tracing::warn;

use crate::config::AppSettings;
use policy::{Notice, NoticeKind};

/// Hands alerts to the notifier without waiting: a slow mail server never delays a scale call.
#[derive(Debug, Clone)]
pub(crate) struct Alerter {
    notifier: Option<Notifier>,
}

impl Alerter {
    /// Sends through `notifier`, or only logs when no channel is configured.
    pub(crate) fn new(notifier: Option<Notifier>) -> Alerter {
        Alerter { notifier }
    }

    /// What the notifier has sent, failed and held back since start; `None` when alerts are only logged.
    pub(crate) fn stats(&self) -> Option<notify::Stats> {
        self.notifier.as_ref().map(Notifier::stats)
    }

    /// Which alerts of `app` went out when, as JSON to store (`{"sent":[]}` when only logging).
    pub(crate) fn sent_log(&self, app: &AppSettings) -> String {
        let log = self
            .notifier
            .as_ref()
            .map(|n| n.sent_log(&app.name, &app.process))
            .unwrap_or_default();
        serde_json::to_string(&log).unwrap_or_default()
    }

    /// Takes back a stored [`sent_log`](Self::sent_log), so `alert_every` holds across a restart.
    pub(crate) fn restore_sent_log(&self, app: &AppSettings, json: &str) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        match serde_json::from_str::<notify::SentLog>(json) {
            Ok(log) => notifier.restore_sent_log(&app.name, &app.process, &log),
            Err(e) => warn!(app = %app.name, process = %app.process, error = %e,
                "the stored alert log cannot be read; alerts may repeat once"),
        }
    }

    /// An outage or a recovery, from the decision logic.
    pub(crate) fn decision(
        &self,
        app: &AppSettings,
        notice: Notice,
        at: DateTime<Utc>,
        figures: &probe::Summary,
    ) {
        let kind = match notice.kind {
            NoticeKind::Outage => AlertKind::Outage,
            NoticeKind::Recovery => AlertKind::Recovery,
        };
        let what = match notice.kind {
            NoticeKind::Outage => format!("down ({})", notice.detail),
            NoticeKind::Recovery => notice.detail,
        };
        let scaling = (notice.from != notice.to).then_some(Scaling {
            from: notice.from,
            to: notice.to,
        });
        let probe = (figures.count > 0).then(|| ProbeFigures {
            p50: figures.p50,
            p95: figures.p95,
            share_down: figures.down_share,
            count: u32::try_from(figures.count).unwrap_or(u32::MAX),
        });
        self.send(app, kind, what, scaling, probe, at);
    }

    /// A scale call that still failed after the client's retries.
    pub(crate) fn scale_failed(
        &self,
        app: &AppSettings,
        from: Option<u32>,
        to: u32,
        error: &heroku_api::Error,
        at: DateTime<Utc>,
    ) {
        let kind = if error.is_credentials_rejected() {
            AlertKind::CredentialsRejected
        } else {
            AlertKind::ScaleFailed
        };
        let what = format!("could not set {} to {to}: {error}", app.process);
        let scaling = from.map(|from| Scaling { from, to });
        self.send(app, kind, what, scaling, None, at);
    }

    /// A scale call that Heroku answered with another quantity than asked (a plan's dyno limit,
    /// say): the process type is not at its target, which people must know during an outage.
    pub(crate) fn scale_capped(
        &self,
        app: &AppSettings,
        from: Option<u32>,
        to: u32,
        got: u32,
        at: DateTime<Utc>,
    ) {
        let what = format!(
            "could not set {} to {to}: Heroku set {got} instead",
            app.process
        );
        let scaling = from.map(|from| Scaling { from, to });
        self.send(app, AlertKind::ScaleFailed, what, scaling, None, at);
    }

    /// Heroku refused the API key: nothing can be scaled until someone replaces it.
    pub(crate) fn credentials_rejected(
        &self,
        app: &AppSettings,
        error: &heroku_api::Error,
        at: DateTime<Utc>,
    ) {
        let what = format!("Heroku rejected the API key: {error}");
        self.send(app, AlertKind::CredentialsRejected, what, None, None, at);
    }

    fn send(
        &self,
        app: &AppSettings,
        kind: AlertKind,
        what: String,
        scaling: Option<Scaling>,
        probe: Option<ProbeFigures>,
        at: DateTime<Utc>,
    ) {
        let alert = Alert {
            kind,
            app: app.name.clone(),
            process: app.process.clone(),
            what,
            scaling,
            probe,
            at,
            timezone: app.timezone,
        };
        warn!(app = %app.name, process = %app.process, kind = %kind, "alert: {}", alert.subject());
        if let Some(notifier) = &self.notifier {
            notifier.notify(alert);
        }
    }
}
