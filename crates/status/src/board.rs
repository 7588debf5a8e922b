//! What the daemon knows right now, per app: written by its tasks, read by the status page.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use probe::Class;
use prometheus_client::metrics::gauge::Gauge;
use serde::Serialize;
use store::{DecisionKind, HistoryRow, ProcessKey, Store};
use tokio::time::Instant;

use crate::history::{self, AppChart, Marker, MarkerKind, Span};
use crate::metrics::{AppLabels, Families, Quantities};

/// How many decisions each app keeps for the status page.
const RECENT_DECISIONS: usize = 20;
/// How many outage and recovery alerts each app keeps for the charts' markers.
const RECENT_ALERTS: usize = 20;
/// How many finished minutes each app keeps until the store surely has them: the store writes
/// history in batches, a minute of the clock's time apart.
const RECENT_MINUTES: usize = 5;
/// The most scale decisions read back from the store for one chart.
const MARKERS: u32 = 1_000;

/// The live state of every app, cheap to clone and share between tasks.
///
/// The app tasks write here as they go (a probe result, a decision, the quantity Heroku reported)
/// and never read it back to decide anything: it is what they show, not how they talk;
/// readers take a consistent copy with [`Board::snapshot`] and the charts' data with
/// [`Board::charts`]; the Prometheus families behind `/metrics` are updated as it is written.
///
/// The board keeps only what is needed now: per app its status, the last few finished minutes
/// ([`Board::record_minute`]; the daemon writes them to its store), decisions and alerts. The
/// charts read the history back from the store given to [`Board::keep_history`], so a process
/// that runs for weeks holds the same memory as one that runs for minutes, and the charts survive
/// a restart.
#[derive(Debug, Clone, Default)]
pub struct Board {
    apps: Arc<Mutex<Vec<Entry>>>,
    families: Families,
    history_bytes: Gauge,
    /// Where finished minutes go and the charts read from; unset, the charts show the last few
    /// minutes only.
    kept: Arc<OnceLock<Kept>>,
}

/// The store behind the history.
#[derive(Debug)]
struct Kept {
    /// What the charts read.
    store: Store,
}

/// Everything kept for one app.
#[derive(Debug)]
struct Entry {
    status: AppStatus,
    labels: AppLabels,
    key: ProcessKey,
    /// The last finished minutes, oldest first.
    recent: VecDeque<HistoryRow>,
    /// The last outage and recovery alerts, oldest first.
    alerts: VecDeque<Marker>,
    /// When the decision task last finished handling an event, in real (monotonic) time.
    last_beat: Option<Instant>,
}

/// One app's process type as the daemon sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AppStatus {
    /// The app's name.
    pub app: String,
    /// Its process type.
    pub process: String,
    /// The schedule's quantity now.
    pub baseline: u32,
    /// The quantity autoscaled wants.
    pub target: u32,
    /// The quantity Heroku last reported (or accepted); `None` until first read.
    pub actual: Option<u32>,
    /// The last probe, if the app is probed.
    pub last_probe: Option<ProbeView>,
    /// The next change of baseline.
    pub next_change: Option<ChangeView>,
    /// When the current outage began, if the fail-safe is engaged.
    pub outage_since: Option<DateTime<Utc>>,
    /// Whether the app is in maintenance mode.
    pub maintenance: bool,
    /// The instance of the fleet that decides and scales it, when known.
    pub holder: Option<String>,
    /// Whether another instance holds it: this one's figures for it are then stale, and its
    /// decision task idle on purpose.
    pub elsewhere: bool,
    /// The most recent changes of target, oldest first.
    pub decisions: VecDeque<DecisionView>,
    /// The last reading of a worker's job queues; `None` for a process type not scaled on one,
    /// or until its datastore was first read.
    pub queue: Option<QueueView>,
}

impl AppStatus {
    fn quantities(&self) -> Quantities {
        Quantities {
            baseline: self.baseline,
            target: self.target,
            actual: self.actual,
            outage: self.outage_since.is_some(),
        }
    }
}

/// One reading of a worker's job queues, as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueView {
    /// When the datastore was read (clock time).
    pub at: DateTime<Utc>,
    /// Jobs ready to run in every queue, due scheduled and retrying jobs included.
    pub ready: u64,
    /// The age of the oldest ready job of any queue, in milliseconds; `None` where the backend
    /// stores no enqueue time.
    #[serde(serialize_with = "optional_millis")]
    pub latency: Option<Duration>,
    /// Jobs running now; `None` where a queue's backend does not record them.
    pub busy: Option<u64>,
    /// Each queue's own figures.
    pub queues: Vec<QueueLine>,
}

/// One queue's figures at a reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueLine {
    /// The queue's name, as the job library calls it.
    pub name: String,
    /// Jobs ready to run.
    pub depth: u64,
    /// The age of its oldest ready job, in milliseconds, where known.
    #[serde(serialize_with = "optional_millis")]
    pub latency: Option<Duration>,
    /// Jobs running now, where known.
    pub busy: Option<u64>,
    /// Scheduled or retrying jobs already due.
    pub due: u64,
}

/// A probe result, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeView {
    /// When it was taken (clock time).
    pub at: DateTime<Utc>,
    /// Its class's name: down, slow, normal or fast (see [`class_name`](crate::class_name)).
    pub class: String,
    /// The HTTP status, if the app answered.
    pub status: Option<u16>,
    /// Time to the whole response, in the clock's time (shown in milliseconds).
    #[serde(serialize_with = "millis")]
    pub latency: Duration,
    /// A human description, e.g. "HTTP 200 in 83 ms".
    pub detail: String,
}

/// A change of target, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    /// When (clock time).
    pub at: DateTime<Utc>,
    /// The target before.
    pub from: u32,
    /// The target after.
    pub to: u32,
    /// Why, as the decision logic said it.
    pub reason: String,
}

/// An outage or recovery alert, as marked on the charts.
#[derive(Debug, Clone)]
pub struct AlertView {
    /// When (clock time).
    pub at: DateTime<Utc>,
    /// Whether the app went down or came back.
    pub recovery: bool,
    /// The target before the alert's decision.
    pub from: u32,
    /// The target after it.
    pub to: u32,
    /// What happened, as the alert says it.
    pub detail: String,
}

/// A change of baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeView {
    /// When it takes effect.
    pub at: DateTime<Utc>,
    /// The baseline from then on.
    pub quantity: u32,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn optional_millis<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => millis(d, s),
        None => s.serialize_none(),
    }
}

/// A marker on the charts, whether it comes from the store or the board.
fn marker(kind: MarkerKind, at: DateTime<Utc>, from: u32, to: u32, reason: String) -> Marker {
    Marker {
        t: at.timestamp_millis(),
        kind,
        from,
        to,
        reason,
    }
}

/// Keeps at most `cap` items, dropping the oldest.
fn push_bounded<T>(items: &mut VecDeque<T>, item: T, cap: usize) {
    if items.len() >= cap {
        items.pop_front();
    }
    items.push_back(item);
}

impl Board {
    /// Adds an app and returns its index for the writers below.
    pub fn add(&self, app: &str, process: &str, baseline: u32) -> usize {
        let status = AppStatus {
            app: app.to_owned(),
            process: process.to_owned(),
            baseline,
            target: baseline,
            actual: None,
            last_probe: None,
            next_change: None,
            outage_since: None,
            maintenance: false,
            holder: None,
            elsewhere: false,
            decisions: VecDeque::with_capacity(RECENT_DECISIONS),
            queue: None,
        };
        let labels = Families::labels(app, process);
        self.families.add(&labels);
        self.families.quantities(&labels, status.quantities());
        let mut apps = self.lock();
        apps.push(Entry {
            status,
            labels,
            key: ProcessKey::new(app, process),
            recent: VecDeque::with_capacity(RECENT_MINUTES),
            alerts: VecDeque::new(),
            last_beat: None,
        });
        apps.len() - 1
    }

    /// Reads the charts from `store` from now on, where the decision tasks' writer puts each
    /// finished minute. A second call changes nothing.
    pub fn keep_history(&self, store: Store) {
        let _ = self.kept.set(Kept { store });
    }

    /// Changes one app's status in place.
    pub fn update(&self, index: usize, change: impl FnOnce(&mut AppStatus)) {
        if let Some(entry) = self.lock().get_mut(index) {
            change(&mut entry.status);
            self.families
                .quantities(&entry.labels, entry.status.quantities());
        }
    }

    /// Records a decision, keeping the most recent ones (the store keeps them all).
    pub fn record_decision(&self, index: usize, decision: DecisionView) {
        if let Some(entry) = self.lock().get_mut(index) {
            push_bounded(&mut entry.status.decisions, decision, RECENT_DECISIONS);
        }
    }

    /// Marks an outage or recovery alert on the charts, keeping the most recent ones.
    pub fn record_alert(&self, index: usize, alert: AlertView) {
        if let Some(entry) = self.lock().get_mut(index) {
            let kind = if alert.recovery {
                MarkerKind::Recovery
            } else {
                MarkerKind::Outage
            };
            let marker = marker(kind, alert.at, alert.from, alert.to, alert.detail);
            push_bounded(&mut entry.alerts, marker, RECENT_ALERTS);
        }
    }

    /// Records a probe result: the last probe shown, and the metrics.
    pub fn record_probe(&self, index: usize, class: Class, view: ProbeView) {
        if let Some(entry) = self.lock().get_mut(index) {
            self.families
                .probe(&entry.labels, class, view.latency.as_secs_f64());
            entry.status.last_probe = Some(view);
        }
    }

    /// Keeps a finished minute for the charts until the store has it (the decision task hands
    /// the same row to the store's writer).
    pub fn record_minute(&self, index: usize, row: HistoryRow) {
        if let Some(entry) = self.lock().get_mut(index) {
            push_bounded(&mut entry.recent, row, RECENT_MINUTES);
        }
    }

    /// Records a reading of a worker's job queues: shown on the page and in `/api/status`, and
    /// the `autoscaled_queue_*` gauges.
    pub fn record_queue(&self, index: usize, view: QueueView) {
        if let Some(entry) = self.lock().get_mut(index) {
            self.families
                .queue(&entry.labels, view.ready, view.busy, view.latency);
            entry.status.queue = Some(view);
        }
    }

    /// Counts a probe of the app that could not be made, for a fault of this machine
    /// (`autoscaled_probe_local_faults_total`); it is no probe result, and shows nowhere else.
    pub fn count_local_fault(&self, index: usize) {
        if let Some(entry) = self.lock().get(index) {
            self.families.local_fault(&entry.labels);
        }
    }

    /// Counts a scale call that Heroku accepted (`ok`) or that failed after the client's retries.
    pub fn count_scale_call(&self, index: usize, ok: bool) {
        if let Some(entry) = self.lock().get(index) {
            self.families.scale_call(&entry.labels, ok);
        }
    }

    /// Notes that the app's decision task is alive: it just handled an event.
    pub fn beat(&self, index: usize) {
        if let Some(entry) = self.lock().get_mut(index) {
            entry.last_beat = Some(Instant::now());
        }
    }

    /// A copy of every app's status.
    #[must_use]
    pub fn snapshot(&self) -> Vec<AppStatus> {
        self.lock().iter().map(|e| e.status.clone()).collect()
    }

    /// Per app and process, how long ago (in real time) its decision task last handled an event;
    /// `None` when it has not started.
    #[must_use]
    pub fn beats(&self) -> Vec<(String, String, Option<Duration>)> {
        self.lock()
            .iter()
            .map(|e| {
                (
                    e.status.app.clone(),
                    e.status.process.clone(),
                    e.last_beat.map(|b| b.elapsed()),
                )
            })
            .collect()
    }

    /// The memory the history takes in the board, in bytes, summed over every app: the minutes
    /// under way, the recent minutes and alerts kept until the store has them.
    #[must_use]
    pub fn history_bytes(&self) -> usize {
        let row = |r: &HistoryRow| size_of::<HistoryRow>() + r.key.app.len() + r.key.process.len();
        self.lock()
            .iter()
            .map(|e| {
                e.recent.iter().map(row).sum::<usize>()
                    + e.alerts
                        .iter()
                        .map(|m| size_of::<Marker>() + m.reason.capacity())
                        .sum::<usize>()
            })
            .sum()
    }

    /// One app's minutes in `[since, until)`, oldest first: the store's, then those it does not
    /// have yet. A store that cannot be read is logged at debug level (its writer reports it) and
    /// leaves the recent minutes only.
    async fn minutes(
        &self,
        index: usize,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<(ProcessKey, Vec<HistoryRow>)> {
        let (key, recent) = {
            let apps = self.lock();
            let entry = apps.get(index)?;
            (entry.key.clone(), entry.recent.clone())
        };
        let mut stored = Vec::new();
        if let Some(kept) = self.kept.get() {
            match kept.store.history(&key.app, since, until).await {
                Ok(rows) => stored = rows,
                Err(error) => {
                    tracing::debug!(app = %key.app, error = %error, "cannot read the history")
                }
            }
        }
        stored.retain(|r| r.key.process == key.process);
        let mut rows = history::joined(stored, &recent);
        rows.retain(|r| r.minute >= since && r.minute < until);
        Some((key, rows))
    }

    /// Dyno-hours the app ran at its actual quantity between `from` and `to`, as far as the history
    /// covers that window; also returns the instant the history's coverage starts (at or after
    /// `from`), or `None` when it has no minute before `to`.
    pub async fn actual_dyno_hours(
        &self,
        index: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, f64)> {
        let (_, rows) = self.minutes(index, from, to).await?;
        history::dyno_hours(&rows, from, to)
    }

    /// Each app's history over the `span` before `now`, in the span's intervals, and the markers
    /// in that window: the scale decisions and alerts from the store, and those it does not have
    /// yet.
    pub async fn charts(&self, now: DateTime<Utc>, span: Span) -> Vec<AppChart> {
        let since = now - span.length();
        let since_ms = since.timestamp_millis();
        let count = self.lock().len();
        let mut charts = Vec::with_capacity(count);
        for index in 0..count {
            let Some((key, rows)) = self.minutes(index, since, now + span.bucket()).await else {
                continue;
            };
            let mut markers = self.stored_decisions(&key).await;
            let (recent, alerts) = {
                let apps = self.lock();
                let Some(entry) = apps.get(index) else {
                    continue;
                };
                (entry.status.decisions.clone(), entry.alerts.clone())
            };
            let last = markers.last().map(|m| m.t);
            markers.extend(
                recent
                    .into_iter()
                    .filter(|d| last.is_none_or(|last| d.at.timestamp_millis() > last))
                    .map(|d| marker(MarkerKind::Scale, d.at, d.from, d.to, d.reason)),
            );
            markers.extend(
                alerts
                    .into_iter()
                    .filter(|a| last.is_none_or(|last| a.t > last)),
            );
            markers.retain(|m| m.t >= since_ms);
            markers.sort_by_key(|m| m.t);
            charts.push(AppChart {
                app: key.app,
                process: key.process,
                buckets: history::buckets(&rows, span.bucket()),
                markers,
            });
        }
        charts
    }

    /// The overrides and pauses running or coming at `now`, from the store the history is kept in
    /// (so any instance shows them, whichever holds the app); none without one, or when it cannot
    /// be read (logged at debug: the page still shows the rest).
    pub(crate) async fn overrides(&self, now: DateTime<Utc>) -> Vec<store::Override> {
        let Some(kept) = self.kept.get() else {
            return Vec::new();
        };
        kept.store
            .current_overrides(now)
            .await
            .unwrap_or_else(|error| {
                tracing::debug!(error = %error, "cannot read the overrides");
                Vec::new()
            })
    }

    /// The scale decisions and alerts the store has for `key`, oldest first.
    async fn stored_decisions(&self, key: &ProcessKey) -> Vec<Marker> {
        let Some(kept) = self.kept.get() else {
            return Vec::new();
        };
        let decisions = match kept.store.decisions(&key.app, MARKERS).await {
            Ok(decisions) => decisions,
            Err(error) => {
                tracing::debug!(app = %key.app, error = %error, "cannot read the decisions");
                return Vec::new();
            }
        };
        decisions
            .into_iter()
            .rev()
            .filter(|d| d.key.process == key.process)
            .map(|d| {
                let kind = match d.kind {
                    DecisionKind::Scale => MarkerKind::Scale,
                    DecisionKind::Outage => MarkerKind::Outage,
                    DecisionKind::Recovery => MarkerKind::Recovery,
                };
                marker(kind, d.at, d.from, d.to, d.reason)
            })
            .collect()
    }

    /// The Prometheus families behind `/metrics`, and the gauge of the history's size to refresh
    /// at each scrape.
    pub(crate) fn families(&self) -> (&Families, &Gauge) {
        (&self.families, &self.history_bytes)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        // A writer that panicked mid-update leaves plain data behind, still worth showing.
        self.apps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::NoReadings;
    use crate::metrics::render;
    use crate::test_minutes::Minutes;
    use store::{Access, Persister, WriterOptions};

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn probe(at: DateTime<Utc>, class: Class, millis: u64) -> ProbeView {
        ProbeView {
            at,
            class: crate::class_name(class).into(),
            status: Some(200),
            latency: Duration::from_millis(millis),
            detail: String::new(),
        }
    }

    #[test]
    fn keeps_a_bounded_number_of_decisions() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        for n in 0..(RECENT_DECISIONS as u32 + 10) {
            board.record_decision(
                i,
                DecisionView {
                    at: Utc::now(),
                    from: n,
                    to: n + 1,
                    reason: "test".into(),
                },
            );
        }
        let apps = board.snapshot();
        assert_eq!(apps[0].decisions.len(), RECENT_DECISIONS);
        assert_eq!(
            apps[0].decisions.back().map(|d| d.to),
            Some(RECENT_DECISIONS as u32 + 10)
        );
    }

    /// A board whose minutes go to an SQLite database in memory, written every 10 ms; the store
    /// to read it back, and the sender whose drop stops the writer. The writer prunes by the
    /// fixtures' clock (two days after [`t0`]), not the wall clock, so the rows it is given are
    /// kept whatever today's date.
    async fn kept() -> (Board, Store, Persister, tokio::sync::oneshot::Sender<()>) {
        let store = Store::open(store::MEMORY_URL, Access::Daemon)
            .await
            .unwrap();
        let options = WriterOptions {
            history_every: Duration::from_millis(10),
            now: std::sync::Arc::new(|| t0() + TimeDelta::days(2)),
            ..WriterOptions::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (writer, _) = Persister::spawn(store.clone(), options, async {
            let _ = stopped.await;
        });
        let board = Board::default();
        board.keep_history(store.clone());
        (board, store, writer, stop)
    }

    /// Waits until the store holds `minutes` rows of `app` in `[since, until)`.
    async fn written(
        store: &Store,
        app: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        minutes: usize,
    ) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let rows = store.history(app, since, until).await.unwrap();
            if rows.len() >= minutes {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {minutes} minutes written",
                rows.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn memory_stays_flat_and_the_charts_read_the_store() {
        let (board, store, writer, _stop) = kept().await;
        let i = board.add("my-app", "web", 2);
        board.update(i, |s| s.actual = Some(2));
        let mut minutes = Minutes::new(&board, i, &writer);
        let mut bytes_after_an_hour = 0;
        // 30 hours of a probe every 5 s.
        for n in 0..(30 * 3600 / 5) {
            let at = t0() + TimeDelta::seconds(5 * n);
            minutes.probe(Class::Fast, probe(at, Class::Fast, 120));
            minutes.close(at);
            board.beat(i);
            // The twelfth probe of a minute each time, so the minute's figures compare.
            if n == 3600 / 5 + 11 {
                bytes_after_an_hour = board.history_bytes();
            }
        }
        let bytes = board.history_bytes();
        assert!(bytes < 4_096, "{bytes} bytes");
        assert_eq!(
            bytes, bytes_after_an_hour,
            "as much after 30 hours as after one"
        );
        let end = t0() + TimeDelta::hours(30);
        written(
            &store,
            "my-app",
            end - TimeDelta::hours(24),
            end,
            24 * 60 - 1,
        )
        .await;
        let charts = board.charts(end, Span::Day).await;
        assert_eq!(
            charts[0].buckets.len(),
            24 * 12,
            "24 hours of 5-minute intervals"
        );
        let week = board.charts(end, Span::Week).await;
        assert_eq!(week[0].buckets.len(), 30, "30 hours of hours");
        assert!(
            week[0]
                .buckets
                .iter()
                .all(|b| b.probes > 0 && b.p50 == Some(120.0))
        );
    }

    #[tokio::test]
    async fn a_restarted_board_marks_the_stored_alerts_once() {
        let (board, store, _writer, _stop) = kept().await;
        let i = board.add("my-app", "web", 1);
        let stored = |minute: i64, kind: DecisionKind| store::Decision {
            at: t0() + TimeDelta::minutes(minute),
            key: ProcessKey::new("my-app", "web"),
            kind,
            from: 1,
            to: 5,
            reason: "no answer".into(),
        };
        // What the last process wrote before its restart; this board has none of it in memory.
        for (minute, kind) in [
            (1, DecisionKind::Outage),
            (1, DecisionKind::Scale),
            (9, DecisionKind::Recovery),
        ] {
            store.record_decision(&stored(minute, kind)).await.unwrap();
        }
        // An alert this process sent, not yet in the store, and one the store already has.
        for (minute, recovery) in [(9, true), (12, false)] {
            board.record_alert(
                i,
                AlertView {
                    at: t0() + TimeDelta::minutes(minute),
                    recovery,
                    from: 5,
                    to: 5,
                    detail: "again".into(),
                },
            );
        }
        let charts = board.charts(t0() + TimeDelta::minutes(20), Span::Day).await;
        let kinds: Vec<_> = charts[0].markers.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [
                MarkerKind::Outage,
                MarkerKind::Scale,
                MarkerKind::Recovery,
                MarkerKind::Outage
            ]
        );
    }

    #[tokio::test]
    async fn charts_bucket_latencies_and_quantities() {
        let (board, store, writer, _stop) = kept().await;
        let i = board.add("my-app", "web", 1);
        board.update(i, |s| s.actual = Some(1));
        let mut minutes = Minutes::new(&board, i, &writer);
        // Interval 1: ten answered probes of 100..=1000 ms, one a minute for the first two
        // minutes, and one down probe.
        for n in 0..10u64 {
            let at = t0() + TimeDelta::seconds(n as i64 * 10);
            minutes.probe(Class::Fast, probe(at, Class::Fast, 100 * (n + 1)));
        }
        minutes.probe(
            Class::Down,
            probe(t0() + TimeDelta::seconds(100), Class::Down, 10_000),
        );
        // Interval 2, after a decision: only ticks.
        minutes.close(t0() + TimeDelta::minutes(5));
        board.update(i, |s| {
            s.target = 3;
            s.actual = Some(3);
        });
        board.record_decision(
            i,
            DecisionView {
                at: t0() + TimeDelta::minutes(5),
                from: 1,
                to: 3,
                reason: "2 slow probes".into(),
            },
        );
        board.record_alert(
            i,
            AlertView {
                at: t0() + TimeDelta::minutes(6),
                recovery: true,
                from: 3,
                to: 3,
                detail: "up again".into(),
            },
        );
        minutes.close(t0() + TimeDelta::minutes(6));
        minutes.close(t0() + TimeDelta::minutes(7));
        written(&store, "my-app", t0(), t0() + TimeDelta::hours(1), 4).await;

        let now = t0() + TimeDelta::minutes(10);
        let charts = board.charts(now, Span::Day).await;
        let buckets = &charts[0].buckets;
        assert_eq!(buckets.len(), 2, "{buckets:?}");
        assert_eq!((buckets[0].probes, buckets[0].down), (11, 1));
        // Minute 0 held 100..=600 ms (median 300), minute 1 700..=1000 ms and a down probe.
        assert_eq!(buckets[0].p50, Some(300.0));
        assert_eq!(buckets[0].p95, Some(1000.0));
        assert_eq!(buckets[0].actual, Some(1));
        assert_eq!(buckets[1].p50, None);
        assert_eq!(
            (buckets[1].actual, buckets[1].target, buckets[1].baseline),
            (Some(3), 3, 1)
        );
        assert_eq!(buckets[1].t - buckets[0].t, 300_000);
        let kinds: Vec<_> = charts[0].markers.iter().map(|m| m.kind).collect();
        assert_eq!(kinds, [MarkerKind::Scale, MarkerKind::Recovery]);

        // A day later the same minutes have left the window; the week still shows them.
        let later = board.charts(now + TimeDelta::hours(25), Span::Day).await;
        assert!(later[0].buckets.is_empty() && later[0].markers.is_empty());
        let week = board.charts(now + TimeDelta::hours(25), Span::Week).await;
        assert_eq!(week[0].buckets.len(), 1);
        assert_eq!(week[0].buckets[0].probes, 11);

        // The cost reads the same minutes: 1 dyno for 5 minutes, then 3.
        let (covered, hours) = board
            .actual_dyno_hours(i, t0(), t0() + TimeDelta::minutes(15))
            .await
            .unwrap();
        assert_eq!(covered, t0());
        assert!((hours - (5.0 + 30.0) / 60.0).abs() < 1e-9, "{hours}");
    }

    #[tokio::test]
    async fn without_a_store_the_charts_show_the_last_minutes() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        let mut minutes = Minutes::unkept(&board, i);
        for minute in 0..20 {
            let at = t0() + TimeDelta::minutes(minute);
            minutes.probe(Class::Fast, probe(at, Class::Fast, 100));
        }
        let charts = board.charts(t0() + TimeDelta::minutes(20), Span::Day).await;
        let probes: u32 = charts[0].buckets.iter().map(|b| b.probes).sum();
        assert_eq!(probes, RECENT_MINUTES as u32);
    }

    #[test]
    fn metrics_sort_latencies_into_buckets() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        board.record_probe(i, Class::Fast, probe(t0(), Class::Fast, 40));
        board.record_probe(i, Class::Slow, probe(t0(), Class::Slow, 7_000));
        board.record_probe(i, Class::Down, probe(t0(), Class::Down, 500_000));
        board.count_scale_call(i, true);
        board.count_scale_call(i, false);
        board.count_scale_call(i, true);
        let (families, bytes) = board.families();
        let text = render(&families.registry(bytes.clone(), std::sync::Arc::new(NoReadings)));
        let labels = "app=\"my-app\",process=\"web\"";
        for line in [
            format!("autoscaled_probes_total{{{labels},class=\"down\"}} 1"),
            format!("autoscaled_probes_total{{{labels},class=\"slow\"}} 1"),
            format!("autoscaled_probes_total{{{labels},class=\"normal\"}} 0"),
            format!("autoscaled_probes_total{{{labels},class=\"fast\"}} 1"),
            // 40 ms <= 0.05 s; 7 s <= 10 s; 500 s is above every bound.
            format!("autoscaled_probe_duration_seconds_bucket{{{labels},le=\"0.05\"}} 1"),
            format!("autoscaled_probe_duration_seconds_bucket{{{labels},le=\"5\"}} 1"),
            format!("autoscaled_probe_duration_seconds_bucket{{{labels},le=\"10\"}} 2"),
            format!("autoscaled_probe_duration_seconds_bucket{{{labels},le=\"120\"}} 2"),
            format!("autoscaled_probe_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 3"),
            format!("autoscaled_probe_duration_seconds_sum{{{labels}}} 507.04"),
            format!("autoscaled_scale_calls_total{{{labels},outcome=\"ok\"}} 2"),
            format!("autoscaled_scale_calls_total{{{labels},outcome=\"failed\"}} 1"),
            format!("autoscaled_baseline_dynos{{{labels}}} 1"),
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} not in\n{text}");
        }
        assert!(
            !text.contains("autoscaled_actual_dynos"),
            "no actual before Heroku is read"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let board = Board::default();
        board.add("a\"b\\c\nd", "web", 1);
        let (families, bytes) = board.families();
        let text = render(&families.registry(bytes.clone(), std::sync::Arc::new(NoReadings)));
        assert!(
            text.contains("autoscaled_target_dynos{app=\"a\\\"b\\\\c\\nd\",process=\"web\"} 1\n"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn beats_say_how_long_ago_the_decision_task_acted() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        assert_eq!(board.beats()[0].2, None);
        board.beat(i);
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(board.beats()[0].2, Some(Duration::from_secs(7)));
    }
}
