//! The history behind the charts: the store's per-minute [`HistoryRow`]s gathered into the
//! intervals of a [`Span`], and the markers drawn over them.
//!
//! Nothing here keeps history: the [`Board`](crate::Board) counts the minute under way, hands each
//! finished minute to the store, and the charts read the rows back, so they survive a restart and
//! the memory they take does not grow with the uptime.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use store::HistoryRow;

/// How far back the charts reach by default: the last day.
pub const HISTORY_SPAN: TimeDelta = TimeDelta::hours(24);

/// The windows the charts offer: the last day or the last week, each in intervals wide enough to
/// stay under 300 points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Span {
    /// The last 24 hours in 5-minute intervals (288).
    #[default]
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days in 1-hour intervals (168), as long as the store keeps history.
    #[serde(rename = "7d")]
    Week,
}

impl Span {
    /// `24h` or `7d`, as `/api/history?span=` takes them; `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Span> {
        match text {
            "24h" => Some(Span::Day),
            "7d" => Some(Span::Week),
            _ => None,
        }
    }

    /// How far back the window reaches.
    #[must_use]
    pub fn length(self) -> TimeDelta {
        match self {
            Span::Day => HISTORY_SPAN,
            Span::Week => store::RETENTION,
        }
    }

    /// How wide one interval is.
    #[must_use]
    pub fn bucket(self) -> TimeDelta {
        match self {
            Span::Day => TimeDelta::minutes(5),
            Span::Week => TimeDelta::hours(1),
        }
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

/// One interval of a chart, gathered from the minutes in it.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// The interval's start, in milliseconds since the Unix epoch (clock time).
    pub t: i64,
    /// Median latency of the probes that answered, in milliseconds: the median of the minutes'
    /// medians.
    pub p50: Option<f64>,
    /// 95th percentile latency of the probes that answered, in milliseconds: the highest of the
    /// minutes' 95th percentiles, so a bad minute is never averaged away.
    pub p95: Option<f64>,
    /// Probes in the interval.
    pub probes: u32,
    /// Of which were down.
    pub down: u32,
    /// The actual quantity at the interval's last minute.
    pub actual: Option<u32>,
    /// The baseline at the interval's last minute.
    pub baseline: u32,
    /// The target at the interval's last minute.
    pub target: u32,
    /// Requests a minute from the app's drain, averaged over the interval's minutes that have
    /// drain data; `None` without any.
    pub requests_per_minute: Option<f64>,
    /// Requests in flight from the app's drain (the stable window's, by Little's law), averaged
    /// likewise.
    pub in_flight: Option<f64>,
    /// A worker's jobs ready, the most at any of the interval's minutes; `None` without a queue.
    pub queue_ready: Option<u64>,
    /// Its oldest ready job's age in milliseconds, the most at any of the interval's minutes.
    pub queue_latency: Option<f64>,
    /// Its jobs running, the most at any of the interval's minutes.
    pub queue_busy: Option<u64>,
}

/// The data behind one app's charts.
#[derive(Debug, Clone, Serialize)]
pub struct AppChart {
    /// The app's name.
    pub app: String,
    /// Its process type.
    pub process: String,
    /// Only the intervals that have minutes, oldest first.
    pub buckets: Vec<Bucket>,
    /// The markers in the window, oldest first.
    pub markers: Vec<Marker>,
}

/// `rows` (one process type's, oldest first) in intervals `width` wide, aligned on multiples of
/// `width` since the Unix epoch so an interval keeps its bounds from one request to the next.
pub(crate) fn buckets(rows: &[HistoryRow], width: TimeDelta) -> Vec<Bucket> {
    let width = width.num_milliseconds().max(1);
    let start = |r: &HistoryRow| r.minute.timestamp_millis().div_euclid(width) * width;
    rows.chunk_by(|a, b| start(a) == start(b))
        .map(|minutes| bucket(start(&minutes[0]), minutes))
        .collect()
}

/// One interval from its minutes (at least one).
fn bucket(t: i64, minutes: &[HistoryRow]) -> Bucket {
    let mut medians: Vec<f64> = minutes.iter().filter_map(|r| r.latency_p50_ms).collect();
    medians.sort_by(f64::total_cmp);
    let p95 = minutes
        .iter()
        .filter_map(|r| r.latency_p95_ms)
        .max_by(f64::total_cmp);
    let mean = |values: Vec<f64>, scale: f64| {
        (!values.is_empty()).then(|| {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            (mean * scale).round() / scale
        })
    };
    let last = minutes.last();
    Bucket {
        t,
        p50: (!medians.is_empty()).then(|| medians[(medians.len() - 1) / 2]),
        p95,
        probes: minutes.iter().map(|r| r.probes).sum(),
        down: minutes.iter().map(|r| r.probes_down).sum(),
        actual: last.and_then(|r| r.actual),
        baseline: last.map_or(0, |r| r.baseline),
        target: last.map_or(0, |r| r.target),
        requests_per_minute: mean(
            minutes
                .iter()
                .filter_map(|r| r.requests.map(|n| n as f64))
                .collect(),
            10.0,
        ),
        in_flight: mean(minutes.iter().filter_map(|r| r.in_flight).collect(), 100.0),
        // The most, not the mean: a queue that backed up for one minute of an hour shows.
        queue_ready: minutes.iter().filter_map(|r| r.queue_ready).max(),
        queue_latency: minutes
            .iter()
            .filter_map(|r| r.queue_latency_ms)
            .max_by(f64::total_cmp),
        queue_busy: minutes.iter().filter_map(|r| r.queue_busy).max(),
    }
}

/// Dyno-hours run at the actual quantity between `from` and `to`, as far as `rows` (one process
/// type's, oldest first) cover that window: each minute's quantity holds until the next row, the
/// last one until `to`. Also returns the instant the coverage starts (at or after `from`), or
/// `None` when no row comes before `to`. Before Heroku's quantity is known, the target is taken
/// as what ran.
pub(crate) fn dyno_hours(
    rows: &[HistoryRow],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<(DateTime<Utc>, f64)> {
    let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
    let mut covered_from: Option<i64> = None;
    let mut dyno_ms = 0.0;
    let ends = rows
        .iter()
        .skip(1)
        .map(|r| r.minute.timestamp_millis())
        .chain([to_ms]);
    for (row, end) in rows.iter().zip(ends) {
        let (start, end) = (row.minute.timestamp_millis().max(from_ms), end.min(to_ms));
        if end > start {
            let quantity = row.actual.unwrap_or(row.target);
            covered_from = Some(covered_from.map_or(start, |c| c.min(start)));
            dyno_ms += f64::from(quantity) * (end - start) as f64;
        }
    }
    let covered = DateTime::from_timestamp_millis(covered_from?)?;
    Some((covered, dyno_ms / 3_600_000.0))
}

/// `stored` (oldest first) followed by the rows of `recent` newer than its last: the minutes the
/// store has not written yet are only in memory.
pub(crate) fn joined(
    mut stored: Vec<HistoryRow>,
    recent: &VecDeque<HistoryRow>,
) -> Vec<HistoryRow> {
    let last = stored.last().map(|r| r.minute);
    stored.extend(
        recent
            .iter()
            .filter(|r| last.is_none_or(|last| r.minute > last))
            .cloned(),
    );
    stored
}

#[cfg(test)]
mod tests {
    use store::ProcessKey;

    use super::*;

    /// `minute` minutes after 2027-01-15T08:00:00Z, the start of an hour.
    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap()
    }

    fn row(minute: i64, p50: f64, p95: f64) -> HistoryRow {
        HistoryRow {
            key: ProcessKey::new("my-app", "web"),
            minute: at(minute),
            latency_p50_ms: Some(p50),
            latency_p95_ms: Some(p95),
            latency_max_ms: Some(p95),
            probes: 60,
            probes_down: 0,
            probes_slow: 0,
            actual: Some(2),
            target: 2,
            baseline: 2,
            requests: None,
            in_flight: None,
            queue_ready: None,
            queue_busy: None,
            queue_latency_ms: None,
        }
    }

    #[test]
    fn an_interval_takes_the_median_of_medians_and_the_worst_p95() {
        let mut rows: Vec<HistoryRow> = (0..5)
            .map(|m| row(m, 100.0 + m as f64, 200.0 + m as f64))
            .collect();
        rows[1].latency_p95_ms = Some(9_000.0);
        rows[2].probes_down = 3;
        rows[4].actual = Some(3);
        rows[4].requests = Some(600);
        rows[4].in_flight = Some(1.5);
        rows.push(HistoryRow {
            latency_p50_ms: None,
            latency_p95_ms: None,
            ..row(7, 0.0, 0.0)
        });
        let buckets = buckets(&rows, TimeDelta::minutes(5));
        assert_eq!(buckets.len(), 2, "{buckets:?}");
        assert_eq!(buckets[0].t, at(0).timestamp_millis());
        assert_eq!(
            (buckets[0].p50, buckets[0].p95),
            (Some(102.0), Some(9_000.0))
        );
        assert_eq!((buckets[0].probes, buckets[0].down), (300, 3));
        assert_eq!(buckets[0].actual, Some(3), "the last minute's quantity");
        assert_eq!(
            (buckets[0].requests_per_minute, buckets[0].in_flight),
            (Some(600.0), Some(1.5)),
            "the mean over the minutes with drain data"
        );
        assert_eq!(buckets[1].t, at(5).timestamp_millis());
        assert_eq!((buckets[1].p50, buckets[1].p95), (None, None));
        assert_eq!(buckets[1].requests_per_minute, None);
    }

    #[test]
    fn an_interval_shows_the_most_a_queue_held_not_the_mean() {
        let mut rows: Vec<HistoryRow> = (0..5).map(|m| row(m, 100.0, 200.0)).collect();
        for (row, (ready, latency)) in
            rows.iter_mut()
                .zip([(3, 900.0), (480, 41_000.0), (12, 2_000.0)])
        {
            row.queue_ready = Some(ready);
            row.queue_busy = Some(ready.min(40));
            row.queue_latency_ms = Some(latency);
        }
        let worker = buckets(&rows, TimeDelta::minutes(5));
        assert_eq!(worker[0].queue_ready, Some(480));
        assert_eq!(worker[0].queue_busy, Some(40));
        assert_eq!(worker[0].queue_latency, Some(41_000.0));
        let web = buckets(&[row(0, 100.0, 200.0)], TimeDelta::minutes(5));
        assert_eq!((web[0].queue_ready, web[0].queue_latency), (None, None));
    }

    #[test]
    fn a_week_is_gathered_in_hours() {
        let rows: Vec<HistoryRow> = (0..7 * 24 * 60)
            .step_by(5)
            .map(|m| row(m, 100.0, 200.0))
            .collect();
        let buckets = buckets(&rows, Span::Week.bucket());
        assert_eq!(buckets.len(), 7 * 24);
        assert_eq!(buckets[0].probes, 12 * 60);
        assert_eq!(Span::parse("7d"), Some(Span::Week));
        assert_eq!(Span::parse("24h"), Some(Span::Day));
        assert_eq!(Span::parse("1y"), None);
    }

    #[test]
    fn dyno_hours_follow_the_actual_quantity_of_each_minute() {
        let mut rows = vec![row(60, 0.0, 0.0), row(120, 0.0, 0.0)];
        rows[1].actual = Some(4);
        let (covered, hours) = dyno_hours(&rows, at(0), at(180)).unwrap();
        assert_eq!(covered, at(60));
        assert!((hours - 6.0).abs() < 1e-9, "{hours}");
        let (_, part) = dyno_hours(&rows, at(90), at(180)).unwrap();
        assert!((part - 5.0).abs() < 1e-9, "{part}");
        assert!(dyno_hours(&rows, at(0), at(30)).is_none());
    }

    #[test]
    fn recent_minutes_follow_the_stored_ones_once() {
        let stored = vec![row(0, 1.0, 1.0), row(1, 1.0, 1.0)];
        let recent: VecDeque<HistoryRow> = (1..4).map(|m| row(m, 2.0, 2.0)).collect();
        let minutes: Vec<_> = joined(stored, &recent)
            .iter()
            .map(|r| (r.minute, r.latency_p50_ms))
            .collect();
        assert_eq!(
            minutes,
            [
                (at(0), Some(1.0)),
                (at(1), Some(1.0)),
                (at(2), Some(2.0)),
                (at(3), Some(2.0))
            ]
        );
    }
}
