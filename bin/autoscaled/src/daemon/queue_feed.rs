//! Reads one worker's job queues every `poll` and hands each reading to its decision task.
//!
//! The datastore is the app's own (its Redis or PostgreSQL), read with [`queues::Reader`] over one
//! connection, made at the first poll and again after a failure or when the URL changes (an
//! `url_env` variable is read at every poll, so Heroku's credential rotations are followed). A
//! datastore that fails or hangs (each read is cut at [`queues::READ_TIMEOUT`]) sends nothing:
//! the decider then holds the worker's dynos as they are. The failure is logged once when it
//! starts, alerted once when it has lasted [`UNREADABLE_ALERT_AFTER`], and its end is logged, and
//! alerted when its start was.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use notify::{Alert, AlertKind};
use policy::{Event, QueueFigures, QueueReading};
use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::alerts::Alerter;
use crate::clock::Clock;
use crate::config::{AppSettings, QueueSettings, QueueUrl};

/// How long a worker's queues may stay unreadable before people are told: long enough that a
/// datastore's failover or restart (a minute or two on Heroku) wakes nobody.
pub(super) const UNREADABLE_ALERT_AFTER: Duration = Duration::from_secs(5 * 60);

/// The name under which Sidekiq's scheduled and retrying jobs already due are shown: they sit in
/// one set for every queue, so which queue they will join is not known.
const DUE_SHARED: &str = "(due: scheduled and retries)";

/// What one worker's feed needs, and nothing more.
#[derive(Debug)]
pub(super) struct QueueFeed {
    pub(super) settings: Arc<AppSettings>,
    pub(super) clock: Clock,
    pub(super) alerter: Alerter,
    pub(super) events: mpsc::Sender<Event>,
    pub(super) shutdown: CancellationToken,
}

/// The connection kept between polls, and the URL it was made with.
struct Connected {
    url: secret::Secret,
    reader: queues::Reader,
}

/// A streak of failed reads.
#[derive(Debug)]
struct Failing {
    since: DateTime<Utc>,
    alerted: bool,
}

impl QueueFeed {
    /// Polls until shutdown, or until the decision task is gone. A worker without `[apps.queue]`
    /// returns at once.
    pub(super) async fn run(self) {
        let Some(queue) = self.settings.queue.clone() else {
            return;
        };
        let mut every = interval(self.clock.real_duration(queue.poll));
        // A poll that took long is not made up for with a burst of them.
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut connected: Option<Connected> = None;
        let mut failing: Option<Failing> = None;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            let read = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                read = self.read(&queue, &mut connected) => read,
            };
            let now = self.clock.now();
            match read {
                Ok(reading) => {
                    if let Some(ended) = failing.take() {
                        self.recovered(&ended, now);
                    }
                    match self.events.try_send(Event::Queue(Box::new(reading))) {
                        // The decision task is behind: the next poll carries newer figures.
                        Err(mpsc::error::TrySendError::Full(_)) | Ok(()) => {}
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
                Err(problem) => self.failed(&problem, now, &mut failing),
            }
        }
    }

    /// One reading of every configured queue, connecting first when needed.
    async fn read(
        &self,
        queue: &QueueSettings,
        connected: &mut Option<Connected>,
    ) -> Result<QueueReading, String> {
        let url = match &queue.url {
            QueueUrl::Simulated(model) => return model(self.clock.now()),
            url => url.resolve()?,
        };
        if connected
            .as_ref()
            .is_none_or(|c| c.url.expose() != url.expose())
        {
            *connected = None;
            // The depth a poll counts need not pass what the largest formation runs at once.
            let cap = u64::from(self.settings.max).saturating_mul(u64::from(queue.concurrency));
            let reader = queue
                .connect(&url)
                .await
                .map_err(|e| describe(&e, &url))?
                .with_depth_cap(cap);
            *connected = Some(Connected { url, reader });
        }
        let Some(Connected { reader, url }) = connected.as_ref() else {
            return Err("no connection".to_owned());
        };
        match reader.read(self.clock.now()).await {
            Ok(reading) => Ok(policy_reading(reading, self.clock.now())),
            Err(e) => {
                let problem = describe(&e, url);
                // The connection may be what failed: made again at the next poll.
                *connected = None;
                Err(problem)
            }
        }
    }

    fn failed(&self, problem: &str, now: DateTime<Utc>, failing: &mut Option<Failing>) {
        let (app, process) = (&self.settings.name, &self.settings.process);
        let streak = failing.get_or_insert_with(|| {
            warn!(app = %app, process = %process, error = %problem,
                "cannot read the job queues: the worker's dynos stay as they are until they can be read; alerting if it lasts 5 minutes");
            Failing {
                since: now,
                alerted: false,
            }
        });
        debug!(app = %app, process = %process, error = %problem, "job queues still unreadable");
        let lasted = (now - streak.since).to_std().unwrap_or_default();
        if !streak.alerted && lasted >= UNREADABLE_ALERT_AFTER {
            streak.alerted = true;
            let minutes = lasted.as_secs() / 60;
            let what = format!(
                "the job queues cannot be read for {minutes} minutes ({problem}); the dynos stay as they are"
            );
            self.alerter.send(Alert::new(
                AlertKind::QueueUnreadable,
                app,
                process,
                what,
                now,
                self.settings.timezone,
            ));
        }
    }

    fn recovered(&self, ended: &Failing, now: DateTime<Utc>) {
        let (app, process) = (&self.settings.name, &self.settings.process);
        let lasted = humantime::format_duration(Duration::from_secs(
            (now - ended.since).to_std().unwrap_or_default().as_secs(),
        ));
        info!(app = %app, process = %process, lasted = %lasted, "the job queues are read again");
        if ended.alerted {
            let what = format!("the job queues are read again, after {lasted}");
            self.alerter.send(Alert::new(
                AlertKind::QueueReadable,
                app,
                process,
                what,
                now,
                self.settings.timezone,
            ));
        }
    }
}

/// An error with its causes, on one line: the queues crate's messages name the backend, the queue
/// and what was expected, and never the URL; a driver's cause might quote it, so it is taken out.
pub(crate) fn describe(error: &queues::Error, url: &secret::Secret) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if url.expose().is_empty() {
        text
    } else {
        text.replace(url.expose(), secret::REDACTED)
    }
}

/// The datastore's reading in the decider's words.
fn policy_reading(reading: queues::Reading, at: DateTime<Utc>) -> QueueReading {
    let mut queues: Vec<QueueFigures> = reading
        .queues
        .into_iter()
        .map(|q| QueueFigures {
            name: q.name,
            depth: q.depth,
            latency: q.latency,
            busy: q.busy,
            due: q.due.unwrap_or(0),
        })
        .collect();
    if let Some(due) = reading.due_shared.filter(|&due| due > 0) {
        // Ready in all but name; its busy jobs are the queues' own, so none of its own.
        queues.push(QueueFigures {
            name: DUE_SHARED.to_owned(),
            depth: 0,
            latency: None,
            busy: Some(0),
            due,
        });
    }
    QueueReading { at, queues }
}

#[cfg(test)]
mod tests;
