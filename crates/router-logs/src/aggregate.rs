//! Per-app traffic figures from router lines, in fixed memory.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::health::{self, HealthFigures, HealthRing};
use crate::{At, Batch, Error, ErrorCode};

/// How far ahead of the `now` given to [`Aggregator::ingest`] a request may seem to arrive and still
/// be counted (at `now`): Heroku's clock and ours disagree by a little. Further ahead is a broken
/// timestamp and the line is dropped ([`Ingested::too_new`]).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(10);

/// Error codes and requests a minute are over this span, whatever the stable window.
const MINUTE: i64 = 60;
/// The longest stable window accepted, so that the ring stays small (600 buckets, 206 KiB).
const MAX_WINDOW: u64 = 600;

/// Service-time histogram bins. Values below 4 ms have a bin each; above, each power of two is cut
/// into 4 equal bins up to 2^16 ms (65.5 s), so a bin is at most a quarter of its lower bound wide and
/// its midpoint within 12.5% of any value in it. That is as fine as a scaling decision on p95 needs
/// (Heroku's own figures are whole milliseconds and its timeout is 30 s) in 60 `u32`s per second:
/// a second's figures are 352 bytes, a 60 s ring 21 KiB, however many requests. A sketch
/// (t-digest, DDSketch) would be finer but larger or costlier to merge; a reservoir of samples
/// would grow with the rate or lose the tail.
const SUB_BINS: u64 = 4;
const TOP_EXPONENT: u32 = 15;
const BINS: usize = (4 + (TOP_EXPONENT as u64 - 1) * SUB_BINS) as usize;

/// The histogram bin of a service time in milliseconds; times past the top go in the top bin.
fn bin(ms: u64) -> usize {
    if ms < 4 {
        return ms as usize;
    }
    let exponent = ms.ilog2().min(TOP_EXPONENT);
    if exponent == TOP_EXPONENT && ms >= 1 << (TOP_EXPONENT + 1) {
        return BINS - 1;
    }
    let sub = (ms >> (exponent - 2)) & (SUB_BINS - 1);
    (4 + u64::from(exponent - 2) * SUB_BINS + sub) as usize
}

/// The midpoint of a bin, in milliseconds (exact for the bins below 4 ms).
fn bin_mid(index: usize) -> f64 {
    if index < 4 {
        return index as f64;
    }
    let exponent = (index as u64 - 4) / SUB_BINS + 2;
    let sub = (index as u64 - 4) % SUB_BINS;
    let width = 1u64 << (exponent - 2);
    ((4 + sub) * width) as f64 + (width as f64 - 1.0) / 2.0
}

/// What one second of arrivals adds up to.
#[derive(Debug, Clone)]
struct Bucket {
    /// The Unix second this bucket holds; a bucket whose second is not in a window is ignored.
    second: i64,
    requests: u64,
    /// Requests with a `service=` time, and the sum of those times in milliseconds.
    served: u64,
    service_ms: u64,
    histogram: [u32; BINS],
    errors: ErrorCounts,
    /// Requests the app itself answered with a 5xx (no router error code). This and
    /// `maintenance` are `u32`s so that the two share the 8 bytes `maintenance` alone took.
    server_errors: u32,
    maintenance: u32,
    /// Failed requests (router errors but H27, the app's 5xx) left out of the figures of load:
    /// `requests`, `served`, `service_ms` and the histogram. A crashing app's 30 s H12s and fast
    /// 503s are not requests its dynos served.
    left_out: u32,
    /// The dynos the second's requests reached, as a set of [`dyno_slot`]s.
    dynos: u128,
}

/// A dyno's slot in a bucket's set of 128: `web.N` is slot N − 1 up to `web.128`, so the usual
/// formations count exactly; any other name (past 128, or a generation without numbers) lands
/// on a slot by its hash, where two may share one and the count reads a little low.
fn dyno_slot(name: &str) -> u32 {
    let numbered = name
        .rsplit_once('.')
        .and_then(|(_, number)| number.parse::<u32>().ok())
        .filter(|n| (1..=128).contains(n));
    numbered.map_or_else(
        || {
            let mut hasher = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(name, &mut hasher);
            (std::hash::Hasher::finish(&hasher) % 128) as u32
        },
        |n| n - 1,
    )
}

impl Bucket {
    fn empty(second: i64) -> Self {
        Self {
            second,
            requests: 0,
            served: 0,
            service_ms: 0,
            histogram: [0; BINS],
            errors: ErrorCounts::default(),
            server_errors: 0,
            maintenance: 0,
            left_out: 0,
            dynos: 0,
        }
    }
}

/// One app's traffic, from its router lines, over the last minute or so.
///
/// Every request is counted in the second it arrived, `timestamp - connect - service` (the router
/// logs a request when it completes, so a 30 s H12 arrived 30 s before its line). Seconds live in a
/// fixed ring covering the longest span asked about (the stable window, and at least a minute for
/// requests a minute and error codes), each a count, a sum and a small histogram: memory is fixed
/// at construction (24 KiB with the default windows, the 3 KiB of [`health`](Self::health)'s
/// ring included) whatever the rate.
///
/// ```
/// use std::time::Duration;
/// use autoscaled_router_logs::Aggregator;
/// let app = Aggregator::with_windows(Duration::from_secs(120), Duration::from_secs(10))?;
/// assert_eq!(app.windows(), (Duration::from_secs(120), Duration::from_secs(10)));
/// # Ok::<(), autoscaled_router_logs::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Aggregator {
    stable: i64,
    panic: i64,
    ring: Vec<Bucket>,
    newest: Option<DateTime<Utc>>,
    /// The lines by the time they were logged, for [`Aggregator::health`].
    health: HealthRing,
    /// The Heroku app whose drain this is, when known: lines for another app's host are left out
    /// of [`Aggregator::health`].
    app: Option<String>,
}

/// What [`Aggregator::ingest`] did with a batch's lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Lines counted.
    pub accepted: usize,
    /// Lines dropped because their request arrived before the ring's oldest second (or before data
    /// already held for the same slot, when `now` went back): too late to count anywhere.
    pub too_old: usize,
    /// Lines dropped because their request seems to arrive more than [`MAX_CLOCK_SKEW`] after `now`.
    pub too_new: usize,
}

/// Figures over one window ending at the `now` given to [`Aggregator::figures`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowFigures {
    /// The window's length.
    pub window: Duration,
    /// Requests that arrived in the window, failed ones left out (see `left_out`).
    pub requests: u64,
    /// Requests that arrived in the window and failed (router errors but H27, the app's own
    /// 5xx): left out of `requests`, the service times and `in_flight`, for errors are not load.
    pub left_out: u64,
    /// `requests / window`.
    pub arrivals_per_sec: f64,
    /// Mean `service=` time of the window's requests that have one; `None` if none has.
    pub mean_service: Option<Duration>,
    /// 95th percentile `service=` time, nearest rank, within 12.5% (histogram bins); `None` if none.
    pub p95_service: Option<Duration>,
    /// Mean requests in flight at the dynos, by Little's law: arrival rate times mean service time,
    /// computed as the sum of service times over the window length (requests with no `service=`,
    /// such as H14 or H80, never held a dyno and add nothing).
    pub in_flight: f64,
    /// The distinct dynos the window's requests reached (`dyno=`): the count `in_flight` was
    /// measured at, which lags a scale out while its dynos boot. Exact up to `web.128`.
    pub dynos: u32,
}

/// Router error codes counted over a minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// H10, app crashed.
    pub h10: u64,
    /// H12, request timeout.
    pub h12: u64,
    /// H13, connection closed without response.
    pub h13: u64,
    /// H27, client request interrupted: the client's doing, kept apart so it does not read as the
    /// app failing.
    pub h27: u64,
    /// Any other code but H80 (which is [`TrafficFigures::maintenance`]): H14, H18, ...
    pub other: u64,
}

impl ErrorCounts {
    fn count(&mut self, code: ErrorCode) {
        let counter = match code {
            ErrorCode::H10 => &mut self.h10,
            ErrorCode::H12 => &mut self.h12,
            ErrorCode::H13 => &mut self.h13,
            ErrorCode::H27 => &mut self.h27,
            _ => &mut self.other,
        };
        *counter = counter.saturating_add(1);
    }

    fn add(&mut self, other: &Self) {
        self.h10 = self.h10.saturating_add(other.h10);
        self.h12 = self.h12.saturating_add(other.h12);
        self.h13 = self.h13.saturating_add(other.h13);
        self.h27 = self.h27.saturating_add(other.h27);
        self.other = self.other.saturating_add(other.other);
    }

    /// All codes counted, H27 included.
    #[must_use]
    pub fn total(&self) -> u64 {
        [self.h10, self.h12, self.h13, self.h27, self.other]
            .into_iter()
            .fold(0, u64::saturating_add)
    }
}

/// An app's traffic at one instant; see [`Aggregator::figures`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrafficFigures {
    /// The stable window (default 60 s): what to scale on.
    pub stable: WindowFigures,
    /// The panic window (default 6 s): what to react to a burst on.
    pub panic: WindowFigures,
    /// Requests that arrived in the last 60 s.
    pub requests_last_minute: u64,
    /// Error codes of the requests that arrived in the last 60 s.
    pub errors_last_minute: ErrorCounts,
    /// Requests that arrived in the last 60 s and that the app itself answered with a 5xx status
    /// (a bad deploy's fast 503s, say; router errors are in `errors_last_minute`).
    pub server_errors_last_minute: u64,
    /// Whether an H80 (maintenance mode) request arrived in the last 60 s: the router, not the
    /// dynos, answers, so the figures say nothing about the app.
    pub maintenance: bool,
    /// The newest router line's timestamp (at most the `now` it was ingested at), if any: the
    /// figures are stale when this is old, e.g. over 2 minutes.
    pub newest: Option<DateTime<Utc>>,
}

impl Default for Aggregator {
    /// A 60 s stable window and a 6 s panic window.
    fn default() -> Self {
        Self::new()
    }
}

impl Aggregator {
    /// A 60 s stable window and a 6 s panic window.
    #[must_use]
    pub fn new() -> Self {
        Self::build(60, 6)
    }

    /// Other windows: whole seconds, `1 s <= panic <= stable <= 600 s`.
    pub fn with_windows(stable: Duration, panic: Duration) -> Result<Self, Error> {
        let whole = |d: Duration| (d.subsec_nanos() == 0).then_some(d.as_secs());
        match (whole(stable), whole(panic)) {
            (Some(s), Some(p)) if 1 <= p && p <= s && s <= MAX_WINDOW => {
                // Bounded by MAX_WINDOW above, so these fit.
                Ok(Self::build(s as i64, p as i64))
            }
            _ => Err(Error::Windows { stable, panic }),
        }
    }

    fn build(stable: i64, panic: i64) -> Self {
        let len = stable.max(MINUTE);
        Self {
            stable,
            panic,
            ring: (0..len).map(|_| Bucket::empty(i64::MIN)).collect(),
            newest: None,
            health: HealthRing::new(),
            app: None,
        }
    }

    /// The default windows, for the drain of Heroku app `app`: lines for another app's host
    /// (`other.herokuapp.com`) are left out of [`health`](Self::health).
    #[must_use]
    pub fn for_app(app: &str) -> Self {
        Self {
            app: Some(app.to_ascii_lowercase()),
            ..Self::new()
        }
    }

    /// Whether the requests of the last `window` (whole seconds, 1 to
    /// [`MAX_HEALTH_WINDOW`](crate::MAX_HEALTH_WINDOW)) up to `now` failed, by the time the router
    /// logged their lines: the requests and those that failed in a way that means the app is down.
    #[must_use]
    pub fn health(&self, now: DateTime<Utc>, window: Duration) -> HealthFigures {
        self.health.figures(now, window)
    }

    /// The stable and panic windows.
    #[must_use]
    pub fn windows(&self) -> (Duration, Duration) {
        (secs(self.stable), secs(self.panic))
    }

    /// Counts a batch's router lines, as of `now` (the caller's clock). A request arriving after
    /// `now` by up to [`MAX_CLOCK_SKEW`] is counted at `now`; further, or before the ring's span, it is
    /// dropped and counted in the result.
    pub fn ingest(&mut self, batch: &Batch<'_>, now: DateTime<Utc>) -> Ingested {
        let now_ms = now.timestamp_millis();
        let skew_ms = MAX_CLOCK_SKEW.as_millis() as i64;
        let oldest = now_ms.div_euclid(1000) - self.ring.len() as i64;
        let mut result = Ingested::default();
        for entry in &batch.lines {
            let line = &entry.line;
            let logged_ms = entry.timestamp.timestamp_millis();
            if logged_ms <= now_ms.saturating_add(skew_ms)
                && !self
                    .app
                    .as_deref()
                    .is_some_and(|app| health::foreign(app, line.host))
            {
                self.health.count(entry.timestamp.min(now), now, line);
            }
            let busy = ms(line.connect).saturating_add(ms(line.service));
            let mut arrival_ms = entry
                .timestamp
                .timestamp_millis()
                .saturating_sub(i64::try_from(busy).unwrap_or(i64::MAX));
            if arrival_ms > now_ms {
                if arrival_ms - now_ms > skew_ms {
                    result.too_new += 1;
                    continue;
                }
                arrival_ms = now_ms;
            }
            let second = arrival_ms.div_euclid(1000);
            let slot = second.rem_euclid(self.ring.len() as i64) as usize;
            let bucket = &mut self.ring[slot];
            if second <= oldest || bucket.second > second {
                result.too_old += 1;
                continue;
            }
            if bucket.second < second {
                *bucket = Bucket::empty(second);
            }
            let failed = health::failed(line);
            if failed {
                bucket.left_out = bucket.left_out.saturating_add(1);
            } else {
                bucket.requests += 1;
                if let Some(dyno) = line.dyno {
                    bucket.dynos |= 1 << dyno_slot(dyno);
                }
            }
            if let Some(service) = line.service.filter(|_| !failed) {
                let service = ms(Some(service));
                bucket.served += 1;
                bucket.service_ms = bucket.service_ms.saturating_add(service);
                let count = &mut bucket.histogram[bin(service)];
                *count = count.saturating_add(1);
            }
            match line.code {
                Some(ErrorCode::H80) => bucket.maintenance = bucket.maintenance.saturating_add(1),
                Some(code) => bucket.errors.count(code),
                // An error line without a code still failed: count it with the others.
                None if line.at == At::Error => bucket.errors.other += 1,
                None if line.status.is_some_and(|status| status >= 500) => {
                    bucket.server_errors = bucket.server_errors.saturating_add(1);
                }
                None => {}
            }
            let logged = entry.timestamp.min(now);
            self.newest = Some(self.newest.map_or(logged, |newest| newest.max(logged)));
            result.accepted += 1;
        }
        result
    }

    /// The figures for the windows ending at `now`: each window is its last whole seconds up to
    /// and including the second `now` is in.
    #[must_use]
    pub fn figures(&self, now: DateTime<Utc>) -> TrafficFigures {
        let now_second = now.timestamp();
        let in_last = |span: i64| {
            self.ring
                .iter()
                .filter(move |b| b.second <= now_second && b.second > now_second - span)
        };
        let mut errors = ErrorCounts::default();
        let (mut requests_last_minute, mut server_errors_last_minute) = (0, 0);
        let mut maintenance = false;
        for bucket in in_last(MINUTE) {
            errors.add(&bucket.errors);
            requests_last_minute += bucket.requests + u64::from(bucket.left_out);
            server_errors_last_minute += u64::from(bucket.server_errors);
            maintenance |= bucket.maintenance > 0;
        }
        TrafficFigures {
            stable: window(self.stable, in_last(self.stable)),
            panic: window(self.panic, in_last(self.panic)),
            requests_last_minute,
            errors_last_minute: errors,
            server_errors_last_minute,
            maintenance,
            newest: self.newest,
        }
    }
}

/// Sums the buckets of a window of `span` seconds into its figures.
fn window<'a>(span: i64, buckets: impl Iterator<Item = &'a Bucket>) -> WindowFigures {
    let mut requests = 0u64;
    let mut left_out = 0u64;
    let mut served = 0u64;
    let mut service_ms = 0u64;
    let mut histogram = [0u64; BINS];
    let mut dynos = 0u128;
    for bucket in buckets {
        requests += bucket.requests;
        left_out += u64::from(bucket.left_out);
        dynos |= bucket.dynos;
        served += bucket.served;
        service_ms = service_ms.saturating_add(bucket.service_ms);
        for (total, &count) in histogram.iter_mut().zip(&bucket.histogram) {
            *total += u64::from(count);
        }
    }
    let seconds = span as f64;
    let mean_service =
        (served > 0).then(|| Duration::from_secs_f64(service_ms as f64 / served as f64 / 1000.0));
    WindowFigures {
        window: secs(span),
        requests,
        left_out,
        arrivals_per_sec: requests as f64 / seconds,
        mean_service,
        p95_service: p95(&histogram, served),
        in_flight: service_ms as f64 / 1000.0 / seconds,
        dynos: dynos.count_ones(),
    }
}

/// The nearest-rank 95th percentile of `n` values binned in `histogram`, as its bin's midpoint.
fn p95(histogram: &[u64; BINS], n: u64) -> Option<Duration> {
    if n == 0 {
        return None;
    }
    let rank = (n * 95).div_ceil(100);
    let mut seen = 0;
    let index = histogram.iter().position(|&count| {
        seen += count;
        seen >= rank
    })?;
    Some(Duration::from_secs_f64(bin_mid(index) / 1000.0))
}

fn ms(duration: Option<Duration>) -> u64 {
    duration.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn secs(seconds: i64) -> Duration {
    Duration::from_secs(seconds.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_every_value_in_order_within_an_eighth() {
        let mut last = 0;
        for ms in 0..70_000u64 {
            let index = bin(ms);
            assert!(index >= last && index < BINS, "{ms} ms in bin {index}");
            last = index;
            if ms < 65_536 {
                let mid = bin_mid(index);
                assert!(
                    (mid - ms as f64).abs() <= 0.125 * ms as f64 + 0.5,
                    "{ms} ms: mid {mid}"
                );
            }
        }
        assert_eq!(bin(u64::MAX), BINS - 1);
        assert_eq!([bin(0), bin(3), bin(4), bin(5), bin(8)], [0, 3, 4, 5, 8]);
    }

    #[test]
    fn memory_is_what_the_docs_say() {
        assert_eq!(std::mem::size_of::<Bucket>(), 352);
        assert_eq!(Aggregator::new().ring.len(), 60);
        let longest = Aggregator::with_windows(Duration::from_secs(600), Duration::from_secs(6));
        assert_eq!(longest.map(|a| a.ring.len()), Ok(600));
    }

    #[test]
    fn dynos_have_a_slot_each_up_to_web_128() {
        let slots: std::collections::HashSet<u32> =
            (1..=128).map(|n| dyno_slot(&format!("web.{n}"))).collect();
        assert_eq!(slots.len(), 128);
        assert_eq!(dyno_slot("web.1"), 0);
        assert_eq!(dyno_slot("worker.3"), 2);
        for name in ["web.129", "web.0", "web", "web-5d8f7c9b4-x2k9q", ""] {
            assert!(dyno_slot(name) < 128, "{name}");
        }
    }

    #[test]
    fn p95_is_nearest_rank() {
        let mut histogram = [0u64; BINS];
        histogram[bin(1)] = 95;
        histogram[bin(3)] = 5;
        assert_eq!(p95(&histogram, 100), Some(Duration::from_millis(1)));
        histogram[bin(1)] = 94;
        histogram[bin(3)] = 6;
        assert_eq!(p95(&histogram, 100), Some(Duration::from_millis(3)));
        assert_eq!(p95(&[0; BINS], 0), None);
    }
}
