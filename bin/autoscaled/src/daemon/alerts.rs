//! Turns the daemon's notices into alerts: logged always, sent when channels are configured.

use chrono::{DateTime, Utc};
use notify::{Alert, Notifier, ProbeFigures, Progress};
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

    /// An outage or a recovery, from the decision logic; `progress` says how far its scaling had
    /// got ([`scale_progress`]).
    pub(crate) fn decision(
        &self,
        app: &AppSettings,
        notice: Notice,
        at: DateTime<Utc>,
        figures: &probe::Summary,
        progress: Progress,
    ) {
        self.send(decision_alert(app, &notice, at, figures, progress));
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
        let rejected = error.is_credentials_rejected();
        let alert = Alert::scale_failed(
            &app.name,
            &app.process,
            to,
            error,
            rejected,
            at,
            app.timezone,
        );
        self.send(alert.scaled(from, to, Progress::Asked));
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
        let alert = Alert::scale_capped(&app.name, &app.process, to, got, at, app.timezone);
        self.send(alert.scaled(from, to, Progress::Asked));
    }

    /// Heroku refused the API key: nothing can be scaled until someone replaces it.
    pub(crate) fn credentials_rejected(
        &self,
        app: &AppSettings,
        error: &heroku_api::Error,
        at: DateTime<Utc>,
    ) {
        let (name, process) = (&app.name, &app.process);
        self.send(Alert::credentials_rejected(
            name,
            process,
            error,
            at,
            app.timezone,
        ));
    }

    /// Logs `alert`, and hands it to the notifier when channels are configured.
    pub(super) fn send(&self, alert: Alert) {
        warn!(app = %alert.app, process = %alert.process, kind = %alert.kind, "alert: {}", alert.subject());
        if let Some(notifier) = &self.notifier {
            notifier.notify(alert);
        }
    }
}

/// How far a scale to `to` has got as an alert about it is written, from what Heroku last said:
/// done once it reported the quantity (`actual`), not possible while its API gives no answer
/// (`reachable`, the client's latest attempt), else asked. The decision is made before the call
/// goes out, and an alert must not claim what has not happened: a failed call gets its own alert.
pub(crate) fn scale_progress(reachable: Option<bool>, actual: Option<u32>, to: u32) -> Progress {
    if actual == Some(to) {
        Progress::Done
    } else if reachable == Some(false) {
        Progress::Unreachable
    } else {
        Progress::Asked
    }
}

/// The alert for an outage or a recovery.
fn decision_alert(
    app: &AppSettings,
    notice: &Notice,
    at: DateTime<Utc>,
    figures: &probe::Summary,
    progress: Progress,
) -> Alert {
    let (name, process, tz) = (&app.name, &app.process, app.timezone);
    let alert = match notice.kind {
        NoticeKind::Recovery | NoticeKind::QueueDrained => {
            Alert::recovery(name, process, &notice.detail, at, tz)
        }
        // Its detail says what is wrong ("job queue stuck: ..."): the worker is not down.
        NoticeKind::QueueStuck => Alert::new(
            notify::AlertKind::Outage,
            name,
            process,
            notice.detail.clone(),
            at,
            tz,
        ),
        // An outage, or a kind this version does not know yet: trouble worth telling.
        _ => Alert::outage(name, process, &notice.detail, at, tz),
    };
    let changed = (notice.from != notice.to).then_some(notice.from);
    alert
        .scaled(changed, notice.to, progress)
        .with_probe(ProbeFigures {
            p50: figures.p50,
            p95: figures.p95,
            share_down: figures.down_share,
            count: u32::try_from(figures.count).unwrap_or(u32::MAX),
        })
}

#[cfg(test)]
mod tests;
