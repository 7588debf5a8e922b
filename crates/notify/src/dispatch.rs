use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{Alert, AlertKind, EmailConfig, Error, HeldBack, Mailer, SmsConfig, Twilio};

/// How many alerts may wait for the dispatcher. Alerts are rare; a full queue means the
/// dispatcher is stuck, and the caller must not be.
const QUEUE: usize = 1024;

/// How long a send waits out a local fault (no descriptor, memory or port left on this machine)
/// before it is given up: the fault is ours, and the alert it would lose is the one that matters.
const LOCAL_FAULT_PATIENCE: Duration = Duration::from_secs(600);
/// The pause after a local fault before the tries start again.
const LOCAL_FAULT_PAUSE: Duration = Duration::from_secs(5);

/// How a failed send is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRetry {
    /// Tries in all, the first included (at least 1).
    pub attempts: u32,
    /// Wait before the second try; it doubles for each further try.
    pub first_delay: Duration,
    /// The longest wait between two tries.
    pub max_delay: Duration,
}

impl Default for SendRetry {
    /// 3 tries, waiting about 1 s then 2 s (at most 4 s).
    fn default() -> Self {
        Self {
            attempts: 3,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
        }
    }
}

impl SendRetry {
    /// The waits between tries, as a `backon` builder: doubled each time, capped, and jittered into
    /// their upper half so that sends failing together do not retry together (backon's jitter adds
    /// a random part up to the delay it is given, so it is given half the step).
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.first_delay / 2)
            .with_max_delay(self.max_delay / 2)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.attempts.max(1) as usize - 1)
    }
}

/// The notifier's settings.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Email, if alerts go by email.
    pub email: Option<EmailConfig>,
    /// SMS, if alerts go by SMS.
    pub sms: Option<SmsConfig>,
    /// The same kind of alert for the same app and process goes out at most once in this long
    /// (measured on the alerts' own `at` times).
    pub alert_every: Duration,
    /// How failed sends are retried.
    pub retry: SendRetry,
    /// The longest one try of one send may take.
    pub send_timeout: Duration,
    /// On shutdown, how long sends already under way may still take.
    pub shutdown_grace: Duration,
}

impl Default for NotifyConfig {
    /// No channel, `alert_every` 30 min, default retries, 10 s per try, 3 s of grace.
    fn default() -> Self {
        Self {
            email: None,
            sms: None,
            alert_every: Duration::from_secs(30 * 60),
            retry: SendRetry::default(),
            send_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(3),
        }
    }
}

/// Counters since start, as [`Notifier::stats`] reads them. Counts are per recipient: an alert
/// to two phones that both get it counts 2 in `sms_sent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Emails the SMTP server accepted.
    pub email_sent: u64,
    /// Emails given up on after the retries.
    pub email_failed: u64,
    /// SMS Twilio accepted.
    pub sms_sent: u64,
    /// SMS given up on after the retries.
    pub sms_failed: u64,
    /// Alerts not sent because the same one went out less than `alert_every` before.
    pub held_back: u64,
    /// Alerts lost because the queue was full or the notifier had stopped.
    pub dropped: u64,
    /// Sends that failed for a fault of this machine (no descriptor, memory or local port), and
    /// were tried again without using up their tries.
    pub local_faults: u64,
}

#[derive(Debug, Default)]
struct Counters {
    email_sent: AtomicU64,
    email_failed: AtomicU64,
    sms_sent: AtomicU64,
    sms_failed: AtomicU64,
    held_back: AtomicU64,
    dropped: AtomicU64,
    local_faults: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A handle to the alert dispatcher: cheap to clone, and [`Notifier::notify`] never waits.
#[derive(Debug, Clone)]
pub struct Notifier {
    queue: mpsc::Sender<(Alert, Option<HeldBack>)>,
    counters: Arc<Counters>,
    /// Shared with no task: admission happens in [`Notifier::notify`], so what
    /// [`Notifier::sent_log`] reads includes every alert handed over so far.
    dedup: Arc<Mutex<Dedup>>,
}

/// Which alerts of one app's process type went out when, and what was held back since: the
/// de-duplication state, to store across a restart so that `alert_every` holds through it
/// ([`Notifier::sent_log`], [`Notifier::restore_sent_log`]). Plain data (serde).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentLog {
    /// One entry per kind sent.
    pub sent: Vec<Sent>,
}

/// The last alert of one kind that went out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sent {
    /// Its kind.
    pub kind: AlertKind,
    /// Its time (the alert's own `at`).
    pub at: DateTime<Utc>,
    /// Alerts of that kind held back since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<HeldBack>,
}

impl Notifier {
    /// Checks `config` and starts the dispatcher task on the current tokio runtime.
    ///
    /// The task stops when `shutdown` is cancelled (or every handle is dropped): it sends what is
    /// already queued, gives sends under way up to `shutdown_grace`, then abandons the rest. Await
    /// the returned handle to know it has stopped.
    pub fn spawn(
        config: NotifyConfig,
        shutdown: CancellationToken,
    ) -> Result<(Self, JoinHandle<()>), Error> {
        let mut channels = Vec::new();
        if let Some(email) = &config.email {
            let mailer = Arc::new(Mailer::new(email, config.send_timeout)?);
            channels.extend(
                email
                    .to
                    .iter()
                    .map(|to| Channel::Email(Arc::clone(&mailer), to.clone())),
            );
        }
        if let Some(sms) = &config.sms {
            sms.check()?;
            let twilio = Arc::new(Twilio::new(sms, config.send_timeout)?);
            channels.extend(
                sms.to
                    .iter()
                    .map(|to| Channel::Sms(Arc::clone(&twilio), to.clone())),
            );
        }
        let (queue, alerts) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let dedup = Arc::new(Mutex::new(Dedup::new(config.alert_every)));
        let dispatcher = Dispatcher {
            channels,
            retry: config.retry,
            send_timeout: config.send_timeout,
            counters: Arc::clone(&counters),
            in_flight: JoinSet::new(),
        };
        let task = tokio::spawn(dispatcher.run(alerts, shutdown, config.shutdown_grace));
        Ok((
            Self {
                queue,
                counters,
                dedup,
            },
            task,
        ))
    }

    fn dedup(&self) -> MutexGuard<'_, Dedup> {
        self.dedup
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What went out for `app`'s `process`, and when: to store, and give back to
    /// [`restore_sent_log`](Self::restore_sent_log) after a restart.
    pub fn sent_log(&self, app: &str, process: &str) -> SentLog {
        let dedup = self.dedup();
        let mut sent: Vec<Sent> = dedup
            .last
            .iter()
            .filter(|((_, a, p), _)| a == app && p == process)
            .map(|((kind, _, _), window)| Sent {
                kind: *kind,
                at: window.sent_at,
                held: window.held,
            })
            .collect();
        sent.sort_by_key(|s| (s.at, s.kind.to_string()));
        SentLog { sent }
    }

    /// Takes back what [`sent_log`](Self::sent_log) gave for `app`'s `process` before a restart,
    /// so the same alert is not sent again within `alert_every`. Call it before that process type
    /// raises any alert; it replaces what is known of it.
    pub fn restore_sent_log(&self, app: &str, process: &str, log: &SentLog) {
        let mut dedup = self.dedup();
        dedup.last.retain(|(_, a, p), _| a != app || p != process);
        for sent in &log.sent {
            dedup.last.insert(
                (sent.kind, app.to_owned(), process.to_owned()),
                Window {
                    sent_at: sent.at,
                    held: sent.held,
                },
            );
        }
    }

    /// Queues `alert` for every channel and recipient and returns at once, unless the same one
    /// went out less than `alert_every` before (then it is held back, logged and counted). If the
    /// queue is full or the dispatcher has stopped, the alert is dropped, logged and counted.
    pub fn notify(&self, alert: Alert) {
        let Some(held) = self.dedup().admit(&alert) else {
            bump(&self.counters.held_back);
            info!(app = %alert.app, process = %alert.process, kind = %alert.kind, what = %alert.what,
                "alert held back: the same one went out less than alert_every ago");
            return;
        };
        let reason = match self.queue.try_send((alert, held)) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full((a, _))) => ("alert queue full", a),
            Err(mpsc::error::TrySendError::Closed((a, _))) => ("notifier stopped", a),
        };
        bump(&self.counters.dropped);
        let (why, a) = reason;
        error!(app = %a.app, process = %a.process, kind = %a.kind, what = %a.what, "{why}: alert dropped");
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            email_sent: c.email_sent.load(Ordering::Relaxed),
            email_failed: c.email_failed.load(Ordering::Relaxed),
            sms_sent: c.sms_sent.load(Ordering::Relaxed),
            sms_failed: c.sms_failed.load(Ordering::Relaxed),
            held_back: c.held_back.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            local_faults: c.local_faults.load(Ordering::Relaxed),
        }
    }
}

/// One recipient on one channel: every one is sent to, and retried, on its own.
#[derive(Debug, Clone)]
enum Channel {
    Email(Arc<Mailer>, String),
    Sms(Arc<Twilio>, String),
}

impl Channel {
    fn name(&self) -> &'static str {
        match self {
            Self::Email(..) => "email",
            Self::Sms(..) => "sms",
        }
    }

    fn recipient(&self) -> &str {
        match self {
            Self::Email(_, to) | Self::Sms(_, to) => to,
        }
    }

    async fn send(&self, message: &Rendered) -> Result<(), Error> {
        match self {
            Self::Email(mailer, to) => mailer.send(to, &message.subject, &message.body).await,
            Self::Sms(twilio, to) => twilio.send(to, &message.sms).await.map(drop),
        }
    }

    fn counters<'a>(&self, c: &'a Counters) -> (&'a AtomicU64, &'a AtomicU64) {
        match self {
            Self::Email(..) => (&c.email_sent, &c.email_failed),
            Self::Sms(..) => (&c.sms_sent, &c.sms_failed),
        }
    }
}

/// An alert rendered once for every channel.
#[derive(Debug)]
struct Rendered {
    subject: String,
    body: String,
    sms: String,
}

#[derive(Debug)]
struct Dispatcher {
    channels: Vec<Channel>,
    retry: SendRetry,
    send_timeout: Duration,
    counters: Arc<Counters>,
    in_flight: JoinSet<()>,
}

impl Dispatcher {
    async fn run(
        mut self,
        mut alerts: mpsc::Receiver<(Alert, Option<HeldBack>)>,
        shutdown: CancellationToken,
        grace: Duration,
    ) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => log_panic(done),
                alert = alerts.recv() => match alert {
                    Some((alert, held)) => self.dispatch(alert, held),
                    None => break,
                },
            }
        }
        // Alerts queued before the shutdown still go out: the last one may be the reason for it.
        alerts.close();
        while let Ok((alert, held)) = alerts.try_recv() {
            self.dispatch(alert, held);
        }
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => {
                    warn!(abandoned = self.in_flight.len(), "shutdown: alert sends still under way after {grace:?} were abandoned");
                    self.in_flight.shutdown().await;
                    break;
                }
                done = self.in_flight.join_next() => match done {
                    Some(done) => log_panic(done),
                    None => break,
                },
            }
        }
    }

    fn dispatch(&mut self, alert: Alert, held: Option<HeldBack>) {
        if self.channels.is_empty() {
            warn!(app = %alert.app, process = %alert.process, kind = %alert.kind, what = %alert.what,
                "alert not sent: no email or SMS configured");
            return;
        }
        let message = Arc::new(Rendered {
            subject: alert.subject(),
            body: alert.email_body(held),
            sms: alert.sms_text(held),
        });
        for channel in &self.channels {
            let delivery = Delivery {
                channel: channel.clone(),
                message: Arc::clone(&message),
                app: alert.app.clone(),
                kind: alert.kind,
                retry: self.retry,
                send_timeout: self.send_timeout,
                counters: Arc::clone(&self.counters),
            };
            self.in_flight.spawn(delivery.run());
        }
    }
}

/// A delivery task that panicked lost its alert: say so rather than let it vanish.
fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        error!("an alert delivery task panicked; that alert was not delivered on that channel");
    }
}

#[derive(Debug)]
struct Delivery {
    channel: Channel,
    message: Arc<Rendered>,
    app: String,
    kind: AlertKind,
    retry: SendRetry,
    send_timeout: Duration,
    counters: Arc<Counters>,
}

impl Delivery {
    async fn run(self) {
        let (sent, failed) = self.channel.counters(&self.counters);
        let (channel, to) = (self.channel.name(), self.channel.recipient());
        let started = tokio::time::Instant::now();
        let mut local_faults = 0_u32;
        let (attempt, result) = loop {
            match self.try_all().await {
                (_, Err(err))
                    if err.is_local_fault() && started.elapsed() < LOCAL_FAULT_PATIENCE =>
                {
                    bump(&self.counters.local_faults);
                    if local_faults == 0 {
                        warn!(channel, to, app = %self.app, kind = %self.kind, error = %err,
                            "alert not sent: a local fault (this machine has no descriptor, memory or port to spare), not the channel's; trying again until it passes");
                    }
                    local_faults += 1;
                    tokio::time::sleep(LOCAL_FAULT_PAUSE).await;
                }
                done => break done,
            }
        };
        match result {
            Ok(()) => {
                bump(sent);
                info!(channel, to, app = %self.app, kind = %self.kind, attempt, local_faults, "alert sent");
            }
            Err(err) => {
                bump(failed);
                error!(channel, to, app = %self.app, kind = %self.kind, attempts = attempt, error = %err,
                    "alert not delivered; giving up");
            }
        }
    }

    /// One round of tries by the retry policy: the tries made, and how the last ended.
    async fn try_all(&self) -> (u32, Result<(), Error>) {
        let (channel, to) = (self.channel.name(), self.channel.recipient());
        // The tries made so far, counted as each starts.
        let attempt = AtomicU32::new(0);
        let result = (|| async {
            attempt.fetch_add(1, Ordering::Relaxed);
            match tokio::time::timeout(self.send_timeout, self.channel.send(&self.message)).await {
                Ok(result) => result,
                Err(_) => Err(Error::Timeout(self.send_timeout)),
            }
        })
        .retry(self.retry.backoff())
        .when(Error::is_transient)
        .notify(|err, wait| {
            let attempt = attempt.load(Ordering::Relaxed);
            warn!(channel, to, app = %self.app, kind = %self.kind, attempt, error = %err,
                "alert send failed; retrying in {wait:?}");
        })
        .await;
        (attempt.into_inner(), result)
    }
}

/// Which alerts go out: per kind, app and process, one per `alert_every`, counting the rest.
#[derive(Debug)]
struct Dedup {
    every: Duration,
    last: HashMap<(AlertKind, String, String), Window>,
}

#[derive(Debug)]
struct Window {
    sent_at: DateTime<Utc>,
    held: Option<HeldBack>,
}

impl Dedup {
    fn new(every: Duration) -> Self {
        Self {
            every,
            last: HashMap::new(),
        }
    }

    /// `None` to hold `alert` back; otherwise it goes out, with what was held back since the
    /// last one. Time is the alerts' own `at`, so a simulated clock works as well as the real
    /// one; an alert dated before the last one sent (the wall clock stepped back) goes out,
    /// since a duplicate is better than a missed outage.
    fn admit(&mut self, alert: &Alert) -> Option<Option<HeldBack>> {
        let key = (alert.kind, alert.app.clone(), alert.process.clone());
        if let Some(w) = self.last.get_mut(&key) {
            let within = alert
                .at
                .signed_duration_since(w.sent_at)
                .to_std()
                .is_ok_and(|elapsed| elapsed < self.every);
            if within {
                let held = w.held.get_or_insert(HeldBack {
                    count: 0,
                    since: alert.at,
                });
                held.count += 1;
                return None;
            }
        }
        let previous = self.last.insert(
            key,
            Window {
                sent_at: alert.at,
                held: None,
            },
        );
        // An outage and its recovery are one story: once one goes out, the other is news again, so
        // an app that recovers and fails anew within the window never leaves people believing
        // the recovery.
        if let Some(other) = opposite(alert.kind) {
            self.last
                .remove(&(other, alert.app.clone(), alert.process.clone()));
        }
        Some(previous.and_then(|w| w.held))
    }
}

/// The alert that `kind` ends, if any.
fn opposite(kind: AlertKind) -> Option<AlertKind> {
    match kind {
        AlertKind::Outage => Some(AlertKind::Recovery),
        AlertKind::Recovery => Some(AlertKind::Outage),
        AlertKind::QueueUnreadable => Some(AlertKind::QueueReadable),
        AlertKind::QueueReadable => Some(AlertKind::QueueUnreadable),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;
    use chrono::TimeZone;

    use super::*;

    fn alert(kind: AlertKind, app: &str, minute: u32) -> Alert {
        Alert {
            kind,
            app: app.into(),
            process: "web".into(),
            what: "down".into(),
            scaling: None,
            probe: None,
            at: Utc.with_ymd_and_hms(2026, 11, 27, 3, minute, 0).unwrap(),
            timezone: chrono_tz::UTC,
        }
    }

    #[test]
    fn holds_back_within_the_window_and_reports_it_after() {
        let mut d = Dedup::new(Duration::from_secs(30 * 60));
        assert_eq!(d.admit(&alert(AlertKind::Outage, "a", 0)), Some(None));
        assert_eq!(d.admit(&alert(AlertKind::Outage, "a", 12)), None);
        assert_eq!(d.admit(&alert(AlertKind::Outage, "a", 29)), None);
        let held = d.admit(&alert(AlertKind::Outage, "a", 30));
        let since = Utc.with_ymd_and_hms(2026, 11, 27, 3, 12, 0).unwrap();
        assert_eq!(held, Some(Some(HeldBack { count: 2, since })));
        assert_eq!(d.admit(&alert(AlertKind::Outage, "a", 31)), None);
    }

    #[test]
    fn kinds_apps_and_processes_are_separate() {
        let mut d = Dedup::new(Duration::from_secs(30 * 60));
        assert!(d.admit(&alert(AlertKind::Outage, "a", 0)).is_some());
        assert!(d.admit(&alert(AlertKind::ScaleFailed, "a", 1)).is_some());
        assert!(d.admit(&alert(AlertKind::Outage, "b", 2)).is_some());
        let mut worker = alert(AlertKind::Outage, "a", 3);
        worker.process = "worker".into();
        assert!(d.admit(&worker).is_some());
        assert!(d.admit(&alert(AlertKind::Outage, "a", 4)).is_none());
    }

    #[test]
    fn a_new_outage_after_a_recovery_is_news_within_the_window() {
        let mut d = Dedup::new(Duration::from_secs(30 * 60));
        assert!(d.admit(&alert(AlertKind::Outage, "a", 0)).is_some());
        assert!(d.admit(&alert(AlertKind::Recovery, "a", 12)).is_some());
        assert!(
            d.admit(&alert(AlertKind::Outage, "a", 15)).is_some(),
            "the app is down again"
        );
        assert!(
            d.admit(&alert(AlertKind::Recovery, "a", 27)).is_some(),
            "and up again"
        );
        // Scale failures are repeats of one story until they stop.
        assert!(d.admit(&alert(AlertKind::ScaleFailed, "a", 28)).is_some());
        assert!(d.admit(&alert(AlertKind::ScaleFailed, "a", 29)).is_none());
    }

    #[tokio::test]
    async fn the_sent_log_survives_a_restart() {
        let config = NotifyConfig::default();
        let (before, _task) = Notifier::spawn(config.clone(), CancellationToken::new()).unwrap();
        before.notify(alert(AlertKind::Outage, "a", 0));
        before.notify(alert(AlertKind::Outage, "a", 5));
        let log = before.sent_log("a", "web");
        assert_eq!(log.sent.len(), 1);
        assert_eq!(log.sent[0].held.map(|h| h.count), Some(1));
        let json = serde_json::to_string(&log).unwrap();
        let restored: SentLog = serde_json::from_str(&json).unwrap();
        assert_eq!(restored, log);

        let (after, _task) = Notifier::spawn(config, CancellationToken::new()).unwrap();
        after.restore_sent_log("a", "web", &restored);
        after.notify(alert(AlertKind::Outage, "a", 10));
        assert_eq!(
            after.stats().held_back,
            1,
            "within alert_every of the one sent"
        );
        after.notify(alert(AlertKind::Outage, "b", 10));
        assert_eq!(after.stats().held_back, 1, "another app is another story");
    }

    #[test]
    fn a_clock_stepping_back_never_silences_an_alert() {
        let mut d = Dedup::new(Duration::from_secs(30 * 60));
        assert!(d.admit(&alert(AlertKind::Outage, "a", 30)).is_some());
        assert!(d.admit(&alert(AlertKind::Outage, "a", 10)).is_some());
    }

    #[test]
    fn retry_delays_double_are_capped_and_jittered() {
        let p = SendRetry::default();
        let many = SendRetry { attempts: 40, ..p };
        for _ in 0..100 {
            let waits: Vec<Duration> = p.backoff().build().collect();
            assert_eq!(waits.len(), 2, "{waits:?}");
            let (first, second) = (waits[0], waits[1]);
            assert!(
                first >= Duration::from_millis(500) && first <= Duration::from_secs(1),
                "{first:?}"
            );
            assert!(
                second >= Duration::from_secs(1) && second <= Duration::from_secs(2),
                "{second:?}"
            );
            let late = many.backoff().build().last().unwrap();
            assert!(
                late >= Duration::from_secs(2) && late <= Duration::from_secs(4),
                "{late:?}"
            );
        }
    }
}
