//! What the daemon knows right now, per app: written by its tasks, read by the status page.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use probe::Class;
use prometheus_client::metrics::gauge::Gauge;
use serde::Serialize;
use tokio::time::Instant;

use crate::drain::Drains;
use crate::history::{self, AppChart, HistoryStore, Marker, MarkerKind, Ring, Sample, Traffic};
use crate::metrics::{AppLabels, Families};

/// How many decisions each app keeps for the status page.
const RECENT_DECISIONS: usize = 50;

/// The live state of every app, cheap to clone and share between tasks.
///
/// The app tasks write here as they go (a probe result, a decision, the quantity Heroku reported);
/// readers take a consistent copy with [`Board::snapshot`] and the charts' data with
/// [`Board::charts`]; the Prometheus families behind `/metrics` are updated as it is written.
/// Everything is bounded, so a process that runs for weeks holds the same memory as one that runs
/// for minutes (see [`Ring`]).
#[derive(Debug, Clone, Default)]
pub struct Board {
    apps: Arc<Mutex<Vec<Entry>>>,
    families: Families,
    history_bytes: Gauge,
    /// Where each sample takes the app's traffic figures; off until the server attaches them.
    drains: Arc<Mutex<Drains>>,
}

/// Everything kept for one app.
#[derive(Debug)]
struct Entry {
    status: AppStatus,
    labels: AppLabels,
    history: Box<dyn HistoryStore>,
    /// The probe recorded since the last sample, if any, as the next sample will hold it.
    pending_probe: Option<(f32, Class)>,
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

fn small(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

impl Board {
    /// Adds an app, with its history in memory, and returns its index for the writers below.
    pub fn add(&self, app: &str, process: &str, baseline: u32) -> usize {
        self.add_with_history(app, process, baseline, Box::new(Ring::default()))
    }

    /// Adds an app whose history is kept in `history`, and returns its index.
    pub fn add_with_history(
        &self,
        app: &str,
        process: &str,
        baseline: u32,
        history: Box<dyn HistoryStore>,
    ) -> usize {
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
        };
        let labels = Families::labels(app, process);
        self.families.add(&labels);
        self.families.status(&labels, &status);
        let mut apps = self.lock();
        apps.push(Entry {
            status,
            labels,
            history,
            pending_probe: None,
            last_beat: None,
        });
        apps.len() - 1
    }

    /// Changes one app's status in place.
    pub fn update(&self, index: usize, change: impl FnOnce(&mut AppStatus)) {
        if let Some(entry) = self.lock().get_mut(index) {
            change(&mut entry.status);
            self.families.status(&entry.labels, &entry.status);
        }
    }

    /// Records a decision, keeping the most recent ones, and marks it on the charts.
    pub fn record_decision(&self, index: usize, decision: DecisionView) {
        if let Some(entry) = self.lock().get_mut(index) {
            entry.history.mark(Marker {
                t: decision.at.timestamp_millis(),
                kind: MarkerKind::Scale,
                from: decision.from,
                to: decision.to,
                reason: decision.reason.clone(),
            });
            let decisions = &mut entry.status.decisions;
            if decisions.len() == RECENT_DECISIONS {
                decisions.pop_front();
            }
            decisions.push_back(decision);
        }
    }

    /// Marks an outage or recovery alert on the charts.
    pub fn record_alert(&self, index: usize, alert: AlertView) {
        if let Some(entry) = self.lock().get_mut(index) {
            entry.history.mark(Marker {
                t: alert.at.timestamp_millis(),
                kind: if alert.recovery {
                    MarkerKind::Recovery
                } else {
                    MarkerKind::Outage
                },
                from: alert.from,
                to: alert.to,
                reason: alert.detail,
            });
        }
    }

    /// Records a probe result: the last probe shown, the metrics, and the next sample.
    pub fn record_probe(&self, index: usize, class: Class, view: ProbeView) {
        if let Some(entry) = self.lock().get_mut(index) {
            let seconds = view.latency.as_secs_f64();
            self.families.probe(&entry.labels, class, seconds);
            entry.pending_probe = Some(((seconds * 1000.0) as f32, class));
            entry.status.last_probe = Some(view);
        }
    }

    /// Counts a scale call that Heroku accepted (`ok`) or that failed after the client's retries.
    pub fn count_scale_call(&self, index: usize, ok: bool) {
        if let Some(entry) = self.lock().get(index) {
            self.families.scale_call(&entry.labels, ok);
        }
    }

    /// Takes a sample of the app's state at `at` for the charts (with the probe recorded since the
    /// last sample, if any), and notes that the decision task is alive.
    pub fn record_sample(&self, index: usize, at: DateTime<Utc>) {
        let drains = self
            .drains
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if let Some(entry) = self.lock().get_mut(index) {
            let status = &entry.status;
            // Only the app's drain lock is taken under the board's (never the other way round).
            let traffic = drains
                .figures(&status.app, &status.process, at)
                .map_or(Traffic::NONE, |f| {
                    Traffic::new(f.requests_last_minute as f32, f.stable.in_flight as f32)
                });
            let sample = Sample {
                at_ms: at.timestamp_millis(),
                probe: entry.pending_probe.take(),
                actual: status.actual.map(small),
                baseline: small(status.baseline),
                target: small(status.target),
                traffic,
            };
            entry.history.push(sample);
            entry.last_beat = Some(Instant::now());
        }
    }

    /// Has each sample from now on take the app's traffic figures (requests a minute, in flight)
    /// from `drains`; [`server::router`](crate::server::router) does this with its sources' drains.
    pub fn attach_drains(&self, drains: Drains) {
        *self
            .drains
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = drains;
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

    /// The memory the histories hold, in bytes, summed over every app.
    #[must_use]
    pub fn history_bytes(&self) -> usize {
        self.lock().iter().map(|e| e.history.bytes()).sum()
    }

    /// Dyno-hours the app ran at its actual quantity between `from` and `to`, as far as the history
    /// covers that window; also returns the instant the history's coverage starts (at or after
    /// `from`), or `None` when it has no sample before `to`.
    #[must_use]
    pub fn actual_dyno_hours(
        &self,
        index: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, f64)> {
        let apps = self.lock();
        history::dyno_hours(apps.get(index)?.history.as_ref(), from, to)
    }

    /// Each app's history over `[now - HISTORY_SPAN, now]` in intervals of `bucket` (aligned on
    /// multiples of `bucket` since the Unix epoch).
    #[must_use]
    pub fn charts(&self, now: DateTime<Utc>, bucket: Duration) -> Vec<AppChart> {
        self.lock()
            .iter()
            .map(|entry| {
                let (buckets, markers) = history::chart(entry.history.as_ref(), now, bucket);
                AppChart {
                    app: entry.status.app.clone(),
                    process: entry.status.process.clone(),
                    buckets,
                    markers,
                }
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

    #[test]
    fn history_stays_bounded_through_the_board() {
        let board = Board::default();
        let i = board.add("my-app", "web", 2);
        for n in 0..(30 * 3600 / 5) {
            let at = t0() + TimeDelta::seconds(5 * n);
            board.record_probe(i, Class::Fast, probe(at, Class::Fast, 120));
            board.record_sample(i, at);
        }
        let bytes = board.history_bytes();
        // 32-byte samples (24 before the drain's traffic figures) in a VecDeque that doubles.
        assert!(bytes <= 1_100_000, "{bytes} bytes");
        let charts = board.charts(t0() + TimeDelta::hours(30), Duration::from_secs(300));
        assert_eq!(
            charts[0].buckets.len(),
            24 * 12,
            "24 hours of 5-minute intervals"
        );
    }

    #[test]
    fn charts_bucket_latencies_and_quantities() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        board.update(i, |s| s.actual = Some(1));
        // Bucket 1: ten answered probes of 100..=1000 ms and one down probe.
        for n in 0..10u64 {
            let at = t0() + TimeDelta::seconds(n as i64 * 10);
            board.record_probe(i, Class::Fast, probe(at, Class::Fast, 100 * (n + 1)));
            board.record_sample(i, at);
        }
        board.record_probe(
            i,
            Class::Down,
            probe(t0() + TimeDelta::seconds(100), Class::Down, 10_000),
        );
        board.record_sample(i, t0() + TimeDelta::seconds(100));
        // Bucket 2, after a decision: only ticks.
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
        board.record_sample(i, t0() + TimeDelta::minutes(5));
        board.record_sample(i, t0() + TimeDelta::minutes(6));

        let now = t0() + TimeDelta::minutes(10);
        let charts = board.charts(now, Duration::from_secs(300));
        let buckets = &charts[0].buckets;
        assert_eq!(buckets.len(), 2, "{buckets:?}");
        assert_eq!((buckets[0].probes, buckets[0].down), (11, 1));
        assert_eq!(buckets[0].p50, Some(500.0));
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

        // A day later the same samples have left the window.
        let later = board.charts(now + TimeDelta::hours(25), Duration::from_secs(300));
        assert!(later[0].buckets.is_empty() && later[0].markers.is_empty());
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

    #[test]
    fn dyno_hours_follow_the_actual_quantity() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        board.update(i, |s| s.actual = Some(2));
        board.record_sample(i, t0() + TimeDelta::hours(1));
        board.update(i, |s| s.actual = Some(4));
        board.record_sample(i, t0() + TimeDelta::hours(2));
        let (covered, hours) = board
            .actual_dyno_hours(i, t0(), t0() + TimeDelta::hours(3))
            .unwrap();
        assert_eq!(covered, t0() + TimeDelta::hours(1));
        assert!((hours - 6.0).abs() < 1e-9, "{hours}");
        let (_, part) = board
            .actual_dyno_hours(i, t0() + TimeDelta::minutes(90), t0() + TimeDelta::hours(3))
            .unwrap();
        assert!((part - 5.0).abs() < 1e-9, "{part}");
        assert!(
            board
                .actual_dyno_hours(i, t0(), t0() + TimeDelta::minutes(30))
                .is_none()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn beats_say_how_long_ago_the_decision_task_acted() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        assert_eq!(board.beats()[0].2, None);
        board.record_sample(i, t0());
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(board.beats()[0].2, Some(Duration::from_secs(7)));
    }
}
