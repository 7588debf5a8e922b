//! What the daemon knows right now, per app: shared by its tasks, read by the status page.
//!
//! The app tasks write here as they go (a probe result, a decision, the quantity Heroku reported);
//! readers take a consistent copy with [`Board::snapshot`], the charts' data with [`Board::charts`]
//! and the counters behind `/metrics` with [`Board::metrics`]. Everything is bounded, so a process
//! that runs for weeks holds the same memory as one that runs for minutes: the history behind the
//! charts keeps [`HISTORY_SPAN`] of samples at probe resolution, and never more than
//! [`HISTORY_CAP`] of them whatever the probe interval.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use probe::Class;
use serde::Serialize;
use tokio::time::Instant;

use policy::{Notice, NoticeKind};

/// How many decisions each app keeps for the status page.
const RECENT_DECISIONS: usize = 50;
/// How far back the charts reach.
pub(crate) const HISTORY_SPAN: TimeDelta = TimeDelta::hours(24);
/// The most samples one app keeps, whatever its probe interval: a probe a second plus the ticks
/// between them for a day fits, so the span, not the cap, is what normally trims.
pub(crate) const HISTORY_CAP: usize = 100_000;
/// The most markers (scale events, outages, recoveries) one app keeps.
const MARKER_CAP: usize = 1_000;
/// Upper bounds, in seconds, of the probe latency histogram's buckets (`+Inf` is implied).
pub(crate) const LATENCY_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 30.0, 60.0, 120.0,
];

/// The live state of every app, cheap to clone and share between tasks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Board {
    apps: Arc<Mutex<Vec<Entry>>>,
}

/// Everything kept for one app.
#[derive(Debug)]
struct Entry {
    status: AppStatus,
    history: History,
    counters: Counters,
    /// The probe recorded since the last sample, if any, as the next sample will hold it.
    pending_probe: Option<(f32, Class)>,
    /// When the decision task last finished handling an event, in real (monotonic) time.
    last_beat: Option<Instant>,
}

/// One app's process type as the daemon sees it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AppStatus {
    pub(crate) app: String,
    pub(crate) process: String,
    pub(crate) baseline: u32,
    pub(crate) target: u32,
    /// The quantity Heroku last reported (or accepted); `None` until first read.
    pub(crate) actual: Option<u32>,
    pub(crate) last_probe: Option<ProbeView>,
    pub(crate) next_change: Option<ChangeView>,
    pub(crate) outage_since: Option<DateTime<Utc>>,
    pub(crate) maintenance: bool,
    pub(crate) decisions: VecDeque<DecisionView>,
}

/// A probe result, as shown.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProbeView {
    pub(crate) at: DateTime<Utc>,
    pub(crate) class: String,
    pub(crate) status: Option<u16>,
    #[serde(serialize_with = "millis")]
    pub(crate) latency: Duration,
    pub(crate) detail: String,
}

/// A change of target, as shown.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DecisionView {
    pub(crate) at: DateTime<Utc>,
    pub(crate) from: u32,
    pub(crate) to: u32,
    pub(crate) reason: String,
}

/// The next change of baseline.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChangeView {
    pub(crate) at: DateTime<Utc>,
    pub(crate) quantity: u32,
}

/// The counters behind `/metrics`, since start.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    /// Probe results by class: down, slow, normal, fast.
    pub(crate) probes: [u64; 4],
    /// Probe latencies (in the clock's time) per bucket of [`LATENCY_BUCKETS`], not cumulative; the
    /// last slot counts those above every bound.
    pub(crate) latency_buckets: [u64; LATENCY_BUCKETS.len() + 1],
    pub(crate) latency_sum: f64,
    pub(crate) scale_ok: u64,
    pub(crate) scale_failed: u64,
}

/// The probe classes in the order of [`Counters::probes`], with their names.
pub(crate) const CLASSES: [(Class, &str); 4] = [
    (Class::Down, "down"),
    (Class::Slow, "slow"),
    (Class::Normal, "normal"),
    (Class::Fast, "fast"),
];

fn class_slot(class: Class) -> usize {
    CLASSES.iter().position(|(c, _)| *c == class).unwrap_or(0)
}

/// One moment of an app's history: the probe taken then, if any, and the quantities after the
/// decision task handled it. Kept small (24 bytes) because a day holds thousands.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: i64,
    /// Latency in milliseconds of the clock's time, and the probe's class.
    probe: Option<(f32, Class)>,
    actual: Option<u16>,
    baseline: u16,
    target: u16,
}

/// Something the charts mark: a change of target, an outage alert or a recovery alert.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Marker {
    /// Milliseconds since the Unix epoch, in the clock's time.
    pub(crate) t: i64,
    pub(crate) kind: MarkerKind,
    pub(crate) from: u32,
    pub(crate) to: u32,
    pub(crate) reason: String,
}

/// What a [`Marker`] marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MarkerKind {
    Scale,
    Outage,
    Recovery,
}

/// Samples and markers over the last [`HISTORY_SPAN`], bounded by count as well.
#[derive(Debug, Default)]
struct History {
    samples: VecDeque<Sample>,
    markers: VecDeque<Marker>,
}

impl History {
    fn push(&mut self, sample: Sample) {
        let oldest = sample.at_ms - HISTORY_SPAN.num_milliseconds();
        while self.samples.front().is_some_and(|s| s.at_ms < oldest)
            || self.samples.len() >= HISTORY_CAP
        {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        while self.markers.front().is_some_and(|m| m.t < oldest) {
            self.markers.pop_front();
        }
    }

    fn mark(&mut self, marker: Marker) {
        if self.markers.len() >= MARKER_CAP {
            self.markers.pop_front();
        }
        self.markers.push_back(marker);
    }

    /// The heap this history holds, in bytes.
    fn bytes(&self) -> usize {
        self.samples.capacity() * size_of::<Sample>()
            + self.markers.capacity() * size_of::<Marker>()
            + self
                .markers
                .iter()
                .map(|m| m.reason.capacity())
                .sum::<usize>()
    }
}

/// One interval of a chart.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Bucket {
    /// The interval's start, in milliseconds since the Unix epoch (clock time).
    pub(crate) t: i64,
    /// Median and 95th percentile latency of the probes that answered, in milliseconds.
    pub(crate) p50: Option<f64>,
    pub(crate) p95: Option<f64>,
    pub(crate) probes: u32,
    pub(crate) down: u32,
    /// The quantities at the interval's last sample.
    pub(crate) actual: Option<u32>,
    pub(crate) baseline: u32,
    pub(crate) target: u32,
}

/// The data behind one app's charts.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AppChart {
    pub(crate) app: String,
    pub(crate) process: String,
    /// Only the intervals that have samples, oldest first.
    pub(crate) buckets: Vec<Bucket>,
    pub(crate) markers: Vec<Marker>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn small(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[f32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted
        .get(rank.min(sorted.len()) - 1)
        .map(|v| f64::from(*v))
}

impl Board {
    /// Adds an app and returns its index for the writers below.
    pub(crate) fn add(&self, app: &str, process: &str, baseline: u32) -> usize {
        let mut apps = self.lock();
        apps.push(Entry {
            status: AppStatus {
                app: app.to_owned(),
                process: process.to_owned(),
                baseline,
                target: baseline,
                actual: None,
                last_probe: None,
                next_change: None,
                outage_since: None,
                maintenance: false,
                decisions: VecDeque::with_capacity(RECENT_DECISIONS),
            },
            history: History::default(),
            counters: Counters::default(),
            pending_probe: None,
            last_beat: None,
        });
        apps.len() - 1
    }

    /// Changes one app's status in place.
    pub(crate) fn update(&self, index: usize, change: impl FnOnce(&mut AppStatus)) {
        if let Some(entry) = self.lock().get_mut(index) {
            change(&mut entry.status);
        }
    }

    /// Records a decision, keeping the most recent ones, and marks it on the charts.
    pub(crate) fn record_decision(&self, index: usize, decision: DecisionView) {
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
    pub(crate) fn record_notice(&self, index: usize, at: DateTime<Utc>, notice: &Notice) {
        let kind = match notice.kind {
            NoticeKind::Outage => MarkerKind::Outage,
            NoticeKind::Recovery => MarkerKind::Recovery,
        };
        if let Some(entry) = self.lock().get_mut(index) {
            let marker = Marker {
                t: at.timestamp_millis(),
                kind,
                from: notice.from,
                to: notice.to,
                reason: notice.detail.clone(),
            };
            entry.history.mark(marker);
        }
    }

    /// Records a probe result: the last probe shown, the counters, and the next sample.
    pub(crate) fn record_probe(&self, index: usize, class: Class, view: ProbeView) {
        if let Some(entry) = self.lock().get_mut(index) {
            let counters = &mut entry.counters;
            counters.probes[class_slot(class)] += 1;
            let seconds = view.latency.as_secs_f64();
            let slot = LATENCY_BUCKETS
                .iter()
                .position(|bound| seconds <= *bound)
                .unwrap_or(LATENCY_BUCKETS.len());
            counters.latency_buckets[slot] += 1;
            counters.latency_sum += seconds;
            entry.pending_probe = Some(((seconds * 1000.0) as f32, class));
            entry.status.last_probe = Some(view);
        }
    }

    /// Counts a scale call that Heroku accepted (`ok`) or that failed after the client's retries.
    pub(crate) fn count_scale_call(&self, index: usize, ok: bool) {
        if let Some(entry) = self.lock().get_mut(index) {
            if ok {
                entry.counters.scale_ok += 1;
            } else {
                entry.counters.scale_failed += 1;
            }
        }
    }

    /// Takes a sample of the app's state at `at` for the charts (with the probe recorded since the
    /// last sample, if any), and notes that the decision task is alive.
    pub(crate) fn record_sample(&self, index: usize, at: DateTime<Utc>) {
        if let Some(entry) = self.lock().get_mut(index) {
            let status = &entry.status;
            let sample = Sample {
                at_ms: at.timestamp_millis(),
                probe: entry.pending_probe.take(),
                actual: status.actual.map(small),
                baseline: small(status.baseline),
                target: small(status.target),
            };
            entry.history.push(sample);
            entry.last_beat = Some(Instant::now());
        }
    }

    /// A copy of every app's status.
    pub(crate) fn snapshot(&self) -> Vec<AppStatus> {
        self.lock().iter().map(|e| e.status.clone()).collect()
    }

    /// Every app's status with its counters.
    pub(crate) fn metrics(&self) -> Vec<(AppStatus, Counters)> {
        self.lock()
            .iter()
            .map(|e| (e.status.clone(), e.counters.clone()))
            .collect()
    }

    /// Per app, how long ago (in real time) its decision task last handled an event; `None` when it
    /// has not started.
    pub(crate) fn beats(&self) -> Vec<(String, String, Option<Duration>)> {
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

    /// The heap the histories hold, in bytes, summed over every app.
    pub(crate) fn history_bytes(&self) -> usize {
        self.lock().iter().map(|e| e.history.bytes()).sum()
    }

    /// Dyno-hours the app ran at its actual quantity between `from` and `to`, as far as the history
    /// covers that window; also returns the instant the history's coverage starts (at or after `from`),
    /// or `None` when it has no sample before `to`.
    pub(crate) fn actual_dyno_hours(
        &self,
        index: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, f64)> {
        let apps = self.lock();
        let samples = &apps.get(index)?.history.samples;
        let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
        let mut covered_from: Option<i64> = None;
        let mut dyno_ms = 0.0;
        let mut iter = samples.iter().peekable();
        while let Some(sample) = iter.next() {
            let end = iter.peek().map_or(to_ms, |next| next.at_ms).min(to_ms);
            let start = sample.at_ms.max(from_ms);
            if end <= start {
                continue;
            }
            // Before Heroku's quantity is known, the target is the best estimate of what ran.
            let quantity = sample.actual.unwrap_or(sample.target);
            covered_from = Some(covered_from.map_or(start, |c| c.min(start)));
            dyno_ms += f64::from(quantity) * (end - start) as f64;
        }
        let covered = DateTime::from_timestamp_millis(covered_from?)?;
        Some((covered, dyno_ms / 3_600_000.0))
    }

    /// Each app's history over `[now - HISTORY_SPAN, now]` in intervals of `bucket` (aligned on
    /// multiples of `bucket` since the Unix epoch).
    pub(crate) fn charts(&self, now: DateTime<Utc>, bucket: Duration) -> Vec<AppChart> {
        let width = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX).max(1);
        let start = now.timestamp_millis() - HISTORY_SPAN.num_milliseconds();
        self.lock()
            .iter()
            .map(|entry| {
                let mut buckets: Vec<Bucket> = Vec::new();
                let mut latencies: Vec<f32> = Vec::new();
                for sample in entry.history.samples.iter().filter(|s| s.at_ms >= start) {
                    // Aligned on the epoch, so an interval keeps its bounds from one request to the next.
                    let t = sample.at_ms.div_euclid(width) * width;
                    if buckets.last().is_none_or(|b| b.t != t) {
                        close(&mut buckets, &mut latencies);
                        buckets.push(Bucket {
                            t,
                            p50: None,
                            p95: None,
                            probes: 0,
                            down: 0,
                            actual: None,
                            baseline: 0,
                            target: 0,
                        });
                    }
                    if let Some(b) = buckets.last_mut() {
                        b.actual = sample.actual.map(u32::from);
                        b.baseline = u32::from(sample.baseline);
                        b.target = u32::from(sample.target);
                        if let Some((latency, class)) = sample.probe {
                            b.probes += 1;
                            if class == Class::Down {
                                b.down += 1;
                            } else {
                                latencies.push(latency);
                            }
                        }
                    }
                }
                close(&mut buckets, &mut latencies);
                AppChart {
                    app: entry.status.app.clone(),
                    process: entry.status.process.clone(),
                    buckets,
                    markers: entry
                        .history
                        .markers
                        .iter()
                        .filter(|m| m.t >= start)
                        .cloned()
                        .collect(),
                }
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        // A writer that panicked mid-update leaves plain data behind, still worth showing.
        self.apps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Fills in the last bucket's percentiles from the latencies gathered for it.
fn close(buckets: &mut [Bucket], latencies: &mut Vec<f32>) {
    if let Some(b) = buckets.last_mut() {
        latencies.sort_by(f32::total_cmp);
        b.p50 = percentile(latencies, 0.50);
        b.p95 = percentile(latencies, 0.95);
    }
    latencies.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn probe(at: DateTime<Utc>, class: Class, millis: u64) -> ProbeView {
        let name = CLASSES.iter().find(|(c, _)| *c == class).unwrap().1;
        ProbeView {
            at,
            class: name.into(),
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
    fn a_sample_is_small() {
        assert!(size_of::<Sample>() <= 24, "{} bytes", size_of::<Sample>());
    }

    #[test]
    fn history_holds_24_hours_whatever_the_run_length() {
        // 30 hours of a probe every 5 s plus a tick a minute, with a decision every 10 minutes.
        let board = Board::default();
        let i = board.add("my-app", "web", 2);
        let step = TimeDelta::seconds(5);
        let samples = 30 * 3600 / 5;
        for n in 0..samples {
            let at = t0() + step * n;
            board.record_probe(i, Class::Fast, probe(at, Class::Fast, 120));
            board.record_sample(i, at);
            if n % 12 == 0 {
                board.record_sample(i, at);
            }
            if n % 120 == 0 {
                board.record_decision(
                    i,
                    DecisionView {
                        at,
                        from: 2,
                        to: 3,
                        reason: "slow".into(),
                    },
                );
            }
        }
        let apps = board.lock();
        let history = &apps[i].history;
        let span = history.samples.back().unwrap().at_ms - history.samples.front().unwrap().at_ms;
        assert!(span <= HISTORY_SPAN.num_milliseconds(), "span {span} ms");
        assert!(
            span >= HISTORY_SPAN.num_milliseconds() - 5_000,
            "span {span} ms"
        );
        let per_day = 24 * 3600 / 5 + 24 * 60;
        assert!(
            history.samples.len() <= per_day + 1,
            "{} samples",
            history.samples.len()
        );
        assert!(
            history.markers.len() <= 24 * 6 + 1,
            "{} markers",
            history.markers.len()
        );
        let bytes = history.bytes();
        println!(
            "history after 30 h at 5 s: {} samples, {} markers, {bytes} bytes",
            history.samples.len(),
            history.markers.len()
        );
        assert!(bytes < 1_000_000, "{bytes} bytes");
    }

    #[test]
    fn the_cap_bounds_history_even_at_a_tiny_interval() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        for n in 0..(HISTORY_CAP as i64 + 5_000) {
            board.record_sample(i, t0() + TimeDelta::milliseconds(100 * n));
        }
        let apps = board.lock();
        assert_eq!(apps[i].history.samples.len(), HISTORY_CAP);
        let bytes = apps[i].history.bytes();
        println!("history at the cap: {HISTORY_CAP} samples, {bytes} bytes");
        assert!(
            bytes <= 2 * HISTORY_CAP * size_of::<Sample>() + 64 * 1024,
            "{bytes} bytes"
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
        assert_eq!(charts[0].markers.len(), 1);
        assert_eq!(charts[0].markers[0].kind, MarkerKind::Scale);

        // A day later the same samples have left the window.
        let later = board.charts(now + TimeDelta::hours(25), Duration::from_secs(300));
        assert!(later[0].buckets.is_empty() && later[0].markers.is_empty());
    }

    #[test]
    fn counters_sort_latencies_into_buckets() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        board.record_probe(i, Class::Fast, probe(t0(), Class::Fast, 40));
        board.record_probe(i, Class::Slow, probe(t0(), Class::Slow, 7_000));
        board.record_probe(i, Class::Down, probe(t0(), Class::Down, 500_000));
        board.count_scale_call(i, true);
        board.count_scale_call(i, false);
        board.count_scale_call(i, true);
        let (_, counters) = board.metrics().remove(0);
        assert_eq!(counters.probes, [1, 1, 0, 1]);
        assert_eq!(counters.latency_buckets[0], 1, "40 ms <= 0.05 s");
        assert_eq!(counters.latency_buckets[7], 1, "7 s <= 10 s");
        assert_eq!(
            counters.latency_buckets[LATENCY_BUCKETS.len()],
            1,
            "500 s is above every bound"
        );
        assert!((counters.latency_sum - 507.04).abs() < 1e-9);
        assert_eq!((counters.scale_ok, counters.scale_failed), (2, 1));
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
