//! The history behind the charts: samples at probe resolution and the markers drawn over them.
//!
//! [`HistoryStore`] is the interface a [`Board`](crate::Board) keeps each app's history behind;
//! [`Ring`] is the in-memory one it uses by default, bounded by [`HISTORY_SPAN`] and [`HISTORY_CAP`].
//! [`chart`] and [`dyno_hours`] read any store.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use probe::Class;
use serde::Serialize;

/// How far back the charts reach.
pub const HISTORY_SPAN: TimeDelta = TimeDelta::hours(24);
/// The most samples one app keeps, whatever its probe interval: a probe a second plus the ticks
/// between them for a day fits, so the span, not the cap, is what normally trims.
pub const HISTORY_CAP: usize = 100_000;
/// The most markers (scale events, outages, recoveries) one app keeps.
const MARKER_CAP: usize = 1_000;

/// One moment of an app's history: the probe taken then, if any, and the quantities after the
/// decision task handled it, and the drain's traffic figures then. Kept small (32 bytes) because a
/// day holds thousands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When, in milliseconds since the Unix epoch (the daemon's clock).
    pub at_ms: i64,
    /// Latency in milliseconds of the clock's time, and the probe's class.
    pub probe: Option<(f32, Class)>,
    /// The quantity Heroku last reported; `None` until first read.
    pub actual: Option<u16>,
    /// The schedule's quantity.
    pub baseline: u16,
    /// The quantity autoscaled wants.
    pub target: u16,
    /// Requests a minute and requests in flight from the app's drain, if it has drain data.
    pub traffic: Traffic,
}

/// Requests a minute and requests in flight at a [`Sample`], from the app's log drain; or none,
/// for an app without drain data. Two `f32`s (none is NaN inside), so a sample stays 32 bytes.
#[derive(Debug, Clone, Copy)]
pub struct Traffic {
    per_minute: f32,
    in_flight: f32,
}

impl Traffic {
    /// No drain data.
    pub const NONE: Traffic = Traffic {
        per_minute: f32::NAN,
        in_flight: f32::NAN,
    };

    /// `per_minute` requests over the last minute and `in_flight` requests in flight on average.
    #[must_use]
    pub fn new(per_minute: f32, in_flight: f32) -> Traffic {
        if per_minute.is_nan() || in_flight.is_nan() {
            return Traffic::NONE;
        }
        Traffic {
            per_minute,
            in_flight,
        }
    }

    /// Requests a minute and in flight, if there was drain data.
    #[must_use]
    pub fn get(self) -> Option<(f32, f32)> {
        (!self.per_minute.is_nan()).then_some((self.per_minute, self.in_flight))
    }
}

impl PartialEq for Traffic {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic::NONE
    }
}

/// Something the charts mark: a change of target, an outage alert or a recovery alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marker {
    /// Milliseconds since the Unix epoch, in the clock's time.
    pub t: i64,
    /// What it marks.
    pub kind: MarkerKind,
    /// The target before.
    pub from: u32,
    /// The target after.
    pub to: u32,
    /// Why, as the decision logic said it.
    pub reason: String,
}

/// What a [`Marker`] marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MarkerKind {
    /// A change of target.
    Scale,
    /// An outage alert.
    Outage,
    /// A recovery alert.
    Recovery,
}

/// Where one app's history is kept. The [`Board`](crate::Board) calls it under its lock, so an
/// implementation needs no locking of its own, and must not block for long.
pub trait HistoryStore: Send + fmt::Debug {
    /// Appends a sample (samples come in time order), trimming what the store no longer keeps.
    fn push(&mut self, sample: Sample);
    /// Adds a marker.
    fn mark(&mut self, marker: Marker);
    /// Calls `visit` with every sample at or after `from_ms`, oldest first.
    fn samples_since(&self, from_ms: i64, visit: &mut dyn FnMut(&Sample));
    /// The markers at or after `from_ms`, oldest first.
    fn markers_since(&self, from_ms: i64) -> Vec<Marker>;
    /// The memory this store holds, in bytes (for `autoscaled_history_bytes`).
    fn bytes(&self) -> usize;
}

/// The in-memory history: the samples of the last [`HISTORY_SPAN`], at most [`HISTORY_CAP`] of
/// them, and at most 1,000 markers.
#[derive(Debug, Default)]
pub struct Ring {
    samples: VecDeque<Sample>,
    markers: VecDeque<Marker>,
}

impl HistoryStore for Ring {
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

    fn samples_since(&self, from_ms: i64, visit: &mut dyn FnMut(&Sample)) {
        let first = self.samples.partition_point(|s| s.at_ms < from_ms);
        self.samples.range(first..).for_each(visit);
    }

    fn markers_since(&self, from_ms: i64) -> Vec<Marker> {
        self.markers
            .iter()
            .filter(|m| m.t >= from_ms)
            .cloned()
            .collect()
    }

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
pub struct Bucket {
    /// The interval's start, in milliseconds since the Unix epoch (clock time).
    pub t: i64,
    /// Median latency of the probes that answered, in milliseconds.
    pub p50: Option<f64>,
    /// 95th percentile latency of the probes that answered, in milliseconds.
    pub p95: Option<f64>,
    /// Probes in the interval.
    pub probes: u32,
    /// Of which were down.
    pub down: u32,
    /// The actual quantity at the interval's last sample.
    pub actual: Option<u32>,
    /// The baseline at the interval's last sample.
    pub baseline: u32,
    /// The target at the interval's last sample.
    pub target: u32,
    /// Requests a minute from the app's drain, averaged over the interval's samples that have
    /// drain data; `None` without any.
    pub requests_per_minute: Option<f64>,
    /// Requests in flight from the app's drain (the stable window's, by Little's law), averaged
    /// likewise.
    pub in_flight: Option<f64>,
}

/// The data behind one app's charts.
#[derive(Debug, Clone, Serialize)]
pub struct AppChart {
    /// The app's name.
    pub app: String,
    /// Its process type.
    pub process: String,
    /// Only the intervals that have samples, oldest first.
    pub buckets: Vec<Bucket>,
    /// The markers in the window, oldest first.
    pub markers: Vec<Marker>,
}

/// The intervals of `store` over `[now - HISTORY_SPAN, now]`, `bucket` wide (aligned on multiples of
/// `bucket` since the Unix epoch, so an interval keeps its bounds from one request to the next),
/// and the markers in that window.
pub(crate) fn chart(
    store: &dyn HistoryStore,
    now: DateTime<Utc>,
    bucket: Duration,
) -> (Vec<Bucket>, Vec<Marker>) {
    let width = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX).max(1);
    let start = now.timestamp_millis() - HISTORY_SPAN.num_milliseconds();
    let mut buckets: Vec<Bucket> = Vec::new();
    let mut latencies: Vec<f32> = Vec::new();
    let mut traffic = TrafficSum::default();
    store.samples_since(start, &mut |sample| {
        let t = sample.at_ms.div_euclid(width) * width;
        if buckets.last().is_none_or(|b| b.t != t) {
            close(&mut buckets, &mut latencies, &mut traffic);
            buckets.push(Bucket {
                t,
                p50: None,
                p95: None,
                probes: 0,
                down: 0,
                actual: None,
                baseline: 0,
                target: 0,
                requests_per_minute: None,
                in_flight: None,
            });
        }
        if let Some((per_minute, in_flight)) = sample.traffic.get() {
            traffic.samples += 1;
            traffic.per_minute += f64::from(per_minute);
            traffic.in_flight += f64::from(in_flight);
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
    });
    close(&mut buckets, &mut latencies, &mut traffic);
    (buckets, store.markers_since(start))
}

/// The drain figures of one interval's samples, summed for their means.
#[derive(Default)]
struct TrafficSum {
    samples: u32,
    per_minute: f64,
    in_flight: f64,
}

/// Fills in the last bucket's percentiles from the latencies gathered for it, and its traffic
/// means.
fn close(buckets: &mut [Bucket], latencies: &mut Vec<f32>, traffic: &mut TrafficSum) {
    if let Some(b) = buckets.last_mut() {
        latencies.sort_by(f32::total_cmp);
        b.p50 = probe::percentile(latencies, 50).map(f64::from);
        b.p95 = probe::percentile(latencies, 95).map(f64::from);
        if traffic.samples > 0 {
            let n = f64::from(traffic.samples);
            b.requests_per_minute = Some(((traffic.per_minute / n) * 10.0).round() / 10.0);
            b.in_flight = Some(((traffic.in_flight / n) * 100.0).round() / 100.0);
        }
    }
    latencies.clear();
    *traffic = TrafficSum::default();
}

/// Dyno-hours run at the actual quantity between `from` and `to`, as far as `store` covers that
/// window; also returns the instant the coverage starts (at or after `from`), or `None` when it has
/// no sample before `to`. Before Heroku's quantity is known, the target is taken as what ran.
pub(crate) fn dyno_hours(
    store: &dyn HistoryStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<(DateTime<Utc>, f64)> {
    let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
    let mut covered_from: Option<i64> = None;
    let mut dyno_ms = 0.0;
    // Each sample holds until the next one; the last, until `to`.
    let mut previous: Option<Sample> = None;
    let mut add = |sample: &Sample, end: i64| {
        let end = end.min(to_ms);
        let start = sample.at_ms.max(from_ms);
        if end > start {
            let quantity = sample.actual.unwrap_or(sample.target);
            covered_from = Some(covered_from.map_or(start, |c| c.min(start)));
            dyno_ms += f64::from(quantity) * (end - start) as f64;
        }
    };
    // The sample before `from` covers its start, so every sample is visited.
    store.samples_since(i64::MIN, &mut |sample| {
        if let Some(prev) = previous.replace(*sample) {
            add(&prev, sample.at_ms);
        }
    });
    if let Some(last) = previous {
        add(&last, to_ms);
    }
    let covered = DateTime::from_timestamp_millis(covered_from?)?;
    Some((covered, dyno_ms / 3_600_000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: i64) -> Sample {
        Sample {
            at_ms,
            probe: Some((120.0, Class::Fast)),
            actual: Some(2),
            baseline: 2,
            target: 2,
            traffic: Traffic::NONE,
        }
    }

    #[test]
    fn a_sample_is_small() {
        // 24 bytes before the drain's traffic figures (two f32s) were added.
        assert!(size_of::<Sample>() <= 32, "{} bytes", size_of::<Sample>());
    }

    #[test]
    fn buckets_average_the_traffic_of_samples_that_have_it() {
        let mut ring = Ring::default();
        ring.push(sample(0));
        for (at, per_minute, in_flight) in [(1_000, 600.0, 1.0), (2_000, 1200.0, 2.0)] {
            ring.push(Sample {
                traffic: Traffic::new(per_minute, in_flight),
                ..sample(at)
            });
        }
        ring.push(sample(400_000));
        let now = DateTime::from_timestamp_millis(600_000).unwrap();
        let (buckets, _) = chart(&ring, now, Duration::from_secs(300));
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].requests_per_minute, Some(900.0));
        assert_eq!(buckets[0].in_flight, Some(1.5));
        assert_eq!(
            (buckets[1].requests_per_minute, buckets[1].in_flight),
            (None, None)
        );
        assert_eq!(Traffic::NONE.get(), None);
        assert_eq!(Traffic::new(f32::NAN, 1.0), Traffic::NONE);
    }

    #[test]
    fn history_holds_24_hours_whatever_the_run_length() {
        // 30 hours of a probe every 5 s plus a tick a minute, with a decision every 10 minutes.
        let mut ring = Ring::default();
        let step = 5_000;
        for n in 0..(30 * 3600 / 5) {
            let at = n * step;
            ring.push(sample(at));
            if n % 12 == 0 {
                ring.push(Sample {
                    probe: None,
                    ..sample(at)
                });
            }
            if n % 120 == 0 {
                ring.mark(Marker {
                    t: at,
                    kind: MarkerKind::Scale,
                    from: 2,
                    to: 3,
                    reason: "slow".into(),
                });
            }
        }
        let span = ring.samples.back().unwrap().at_ms - ring.samples.front().unwrap().at_ms;
        assert!(span <= HISTORY_SPAN.num_milliseconds(), "span {span} ms");
        assert!(
            span >= HISTORY_SPAN.num_milliseconds() - 5_000,
            "span {span} ms"
        );
        let per_day = 24 * 3600 / 5 + 24 * 60;
        assert!(
            ring.samples.len() <= per_day + 1,
            "{} samples",
            ring.samples.len()
        );
        assert!(
            ring.markers.len() <= 24 * 6 + 1,
            "{} markers",
            ring.markers.len()
        );
        let bytes = ring.bytes();
        println!(
            "history after 30 h at 5 s: {} samples, {} markers, {bytes} bytes",
            ring.samples.len(),
            ring.markers.len()
        );
        // 19,720 samples of 32 bytes in a VecDeque that doubles: 1 MiB (it was under 1,000,000
        // with 24-byte samples, before the drain's traffic figures).
        assert!(bytes <= 1_100_000, "{bytes} bytes");
    }

    #[test]
    fn the_cap_bounds_history_even_at_a_tiny_interval() {
        let mut ring = Ring::default();
        for n in 0..(HISTORY_CAP as i64 + 5_000) {
            ring.push(sample(100 * n));
        }
        assert_eq!(ring.samples.len(), HISTORY_CAP);
        let bytes = ring.bytes();
        println!("history at the cap: {HISTORY_CAP} samples, {bytes} bytes");
        assert!(
            bytes <= 2 * HISTORY_CAP * size_of::<Sample>() + 64 * 1024,
            "{bytes} bytes"
        );
    }

    #[test]
    fn samples_since_starts_at_the_first_sample_in_the_window() {
        let mut ring = Ring::default();
        for at in [0, 10, 20, 30] {
            ring.push(sample(at));
        }
        let mut seen = Vec::new();
        ring.samples_since(15, &mut |s| seen.push(s.at_ms));
        assert_eq!(seen, [20, 30]);
    }
}
