//! Parsing and aggregating drain bodies on one core: lines a second, and the time to ingest one
//! 1,000-line body (`parse_body` then `Aggregator::ingest`), p50 and p99. Then the time to compute
//! the figures. Times are wall-clock, so on a shared machine the p99 includes being preempted: the
//! load average is printed with them.
//!
//! `cargo bench -p autoscaled-router-logs --bench ingest` (env: `BODIES`, default 3000, one body of
//! 1,000 router lines a second of simulated time, so ~1,000 requests a second for one app).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench that cannot set up has nothing to measure: it stops there, saying why"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use autoscaled_router_logs::{
    Aggregator, At, ErrorCode, RouterLine, frame, parse_body, router_line,
};
use chrono::{DateTime, TimeDelta, Utc};

const LINES: usize = 1_000;
const WARM_UP: usize = 100;

fn main() {
    let bodies: usize = std::env::var("BODIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let start = DateTime::parse_from_rfc3339("2024-03-01T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{e}"));
    // A minute of distinct bodies, one second apart, reused in turn: building them is not measured.
    let samples: Vec<Vec<u8>> = (0..60)
        .map(|i| body(start + TimeDelta::seconds(i), i as u64))
        .collect();
    let bytes: usize = samples.iter().map(Vec::len).sum::<usize>() / samples.len();

    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load_before = load_before
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let mut app = Aggregator::new();
    let mut times = Vec::with_capacity(bodies);
    let mut accepted = 0;
    let mut total = Duration::ZERO;
    for i in 0..WARM_UP + bodies {
        let sample = &samples[i % samples.len()];
        // Each body is the next second. Time cannot go round the same minute in one aggregator (its
        // ring would hold the later seconds and refuse the earlier), so each pass gets a fresh one,
        // outside the timing.
        if i % samples.len() == 0 {
            app = Aggregator::new();
        }
        let now = start + TimeDelta::seconds((i % samples.len()) as i64 + 1);
        let began = Instant::now();
        let batch = parse_body(black_box(sample)).unwrap_or_else(|e| panic!("{e}"));
        let ingested = app.ingest(&batch, now);
        let took = began.elapsed();
        if i >= WARM_UP {
            times.push(took);
            total += took;
            accepted += ingested.accepted;
        }
    }
    assert_eq!(accepted, bodies * LINES, "every line counted");
    times.sort();
    let lines = (bodies * LINES) as f64;

    // Figures of one pass over the minute, for a sanity check of what was measured.
    let figures_at = start + TimeDelta::seconds(samples.len() as i64);
    let mut app = Aggregator::new();
    for (i, sample) in samples.iter().enumerate() {
        let batch = parse_body(sample).unwrap_or_else(|e| panic!("{e}"));
        app.ingest(&batch, start + TimeDelta::seconds(i as i64 + 1));
    }
    let mut figure_times: Vec<Duration> = (0..1001)
        .map(|_| {
            let began = Instant::now();
            black_box(app.figures(black_box(figures_at)));
            began.elapsed()
        })
        .collect();
    figure_times.sort();
    let figures = app.figures(figures_at);

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "load average before and after: {load_before} / {load}, {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "bodies: {bodies} of {LINES} router lines ({bytes} bytes each), one core, after {WARM_UP} warm-up"
    );
    println!(
        "throughput: {:.0} lines/s parsed and aggregated ({:.2} µs a line)",
        lines / total.as_secs_f64(),
        1e6 * total.as_secs_f64() / lines
    );
    println!(
        "one {LINES}-line body: p50 {:?}, p99 {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[times.len() - 1]
    );
    println!(
        "figures(now): median {:?}",
        figure_times[figure_times.len() / 2]
    );
    println!(
        "figures: stable {:.0} req/s, mean {:?}, p95 {:?}, in flight {:.1}; panic {:.0} req/s; errors {:?}",
        figures.stable.arrivals_per_sec,
        figures.stable.mean_service,
        figures.stable.p95_service,
        figures.stable.in_flight,
        figures.panic.arrivals_per_sec,
        figures.errors_last_minute
    );
}

/// 1,000 router lines logged over the second before `end`: 2% H12, the rest served in 5 to ~500 ms,
/// paths and request ids varied as on a real app (a fixed LCG: no `rand` for a bench).
fn body(end: DateTime<Utc>, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let paths: Vec<String> = (0..LINES)
        .map(|_| format!("/items/{}?page={}", next() % 10_000, next() % 9))
        .collect();
    let messages: Vec<String> = (0..LINES)
        .map(|i| {
            let logged = end - TimeDelta::microseconds((next() % 1_000_000) as i64);
            let h12 = next() % 50 == 0;
            let service = if h12 { 30_000 } else { 5 + next() % 100 * next() % 500 };
            let line = RouterLine {
                at: if h12 { At::Error } else { At::Info },
                code: h12.then_some(ErrorCode::H12),
                method: Some(if i % 5 == 0 { "POST" } else { "GET" }),
                path: Some(&paths[i]),
                host: Some("myapp.herokuapp.com"),
                dyno: Some("web.3"),
                connect: Some(Duration::from_millis(next() % 2)),
                service: Some(Duration::from_millis(service)),
                status: Some(if h12 { 503 } else { 200 }),
                bytes: Some(next() % 20_000),
            };
            // The fields Heroku adds that the parser skips, so the bench reads real-sized lines.
            format!(
                "{} request_id={:08x}-6a83-4c12-8fe2-c4d6e1a3c9e2 fwd=\"204.204.204.{}\" protocol=https",
                router_line(logged, &line),
                next(),
                next() % 256
            )
        })
        .collect();
    frame(&messages)
}
