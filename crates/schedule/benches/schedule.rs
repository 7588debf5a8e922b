//! Figures for the schedule: the baseline at an instant and the changes over seven days, for a
//! ten-rule schedule with a yearly rule in a daylight-saving zone. Prints medians.
//!
//! Run: `cargo bench -p autoscaled-schedule`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench that cannot set up has nothing to measure: it stops there, saying why"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use autoscaled_schedule::Schedule;
use chrono::{DateTime, TimeDelta, Utc};

const RUNS: usize = 2001;

fn ten_rules() -> Schedule {
    Schedule::parse(
        [
            ("0 7 * * MON-FRI", 4),
            ("30 9 * * MON-FRI", 5),
            ("0 12 * * *", 3),
            ("*/45 13-15 * * *", 4),
            ("0 18 * * 1-5", 3),
            ("0 22 * * *", 2),
            ("30 2 * * *", 1),
            ("0 9 * * SAT,SUN", 2),
            ("0 0 24 12 *", 1),
            ("0 0 1 1 *", 6),
        ],
        chrono_tz::America::New_York,
        1,
    )
    .unwrap_or_else(|errors| panic!("bench schedule does not parse: {errors:?}"))
}

/// The median wall time of `f`, over `RUNS` calls at instants spread over a year.
fn median(mut f: impl FnMut(DateTime<Utc>)) -> Duration {
    let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|i| {
            let at = start + TimeDelta::minutes(i as i64 * 263);
            let began = Instant::now();
            f(at);
            began.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn main() {
    let schedule = ten_rules();
    let baseline = median(|at| {
        black_box(schedule.baseline_at(black_box(at)));
    });
    let mut changes_seen = 0;
    let week = median(|at| {
        let changes = schedule.changes(black_box(at), at + TimeDelta::days(7));
        changes_seen = changes.len();
        black_box(changes);
    });
    let next = median(|at| {
        black_box(schedule.next_change_after(black_box(at)));
    });
    let hours = median(|at| {
        black_box(schedule.dyno_hours(black_box(at), at + TimeDelta::days(7)));
    });
    println!("ten rules incl. a yearly one, America/New_York, median of {RUNS} runs:");
    println!("  baseline_at             {baseline:>10.2?}");
    println!(
        "  changes over 7 days     {week:>10.2?}  ({changes_seen} changes in the last window)"
    );
    println!("  next_change_after       {next:>10.2?}");
    println!("  dyno_hours over 7 days  {hours:>10.2?}");
}
