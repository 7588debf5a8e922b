//! Random schedules checked against a brute-force oracle: the baseline at every minute of the
//! window (firings and daylight-saving gaps fall on whole minutes), from `baseline_at`, which
//! shares nothing with the walk behind `changes`, `next_change_after` and `dyno_hours` but the
//! per-rule firing search.

use autoscaled_schedule::{Change, Schedule};
use chrono::TimeDelta;
use chrono_tz::{America::New_York, Europe::Berlin, Tz, UTC};

use crate::common::t;

/// A small deterministic generator (64-bit LCG), so a failure names a reproducible case.
struct Lcg(u64);

impl Lcg {
    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        &from[((self.0 >> 33) % from.len() as u64) as usize]
    }
}

const MINUTES: &[&str] = &["0", "30", "*/15", "0,45", "*/20", "5-10"];
const HOURS: &[&str] = &["*", "2", "7", "22", "1-3", "*/6", "9-17", "2,14"];
const DAYS: &[&str] = &["*", "*", "*", "13", "1-7", "*/2"];
const MONTHS: &[&str] = &["*", "*", "*", "NOV", "3,10"];
const WEEKDAYS: &[&str] = &["*", "*", "MON-FRI", "SAT,SUN", "0", "FRI"];
const ZONES: &[Tz] = &[UTC, New_York, Berlin];
/// Days of the New York and Berlin daylight-saving changes, and an ordinary Friday.
const WINDOWS: &[&str] = &[
    "2026-03-08T00:00:00Z",
    "2026-03-29T00:00:00Z",
    "2026-10-25T00:00:00Z",
    "2026-11-01T00:00:00Z",
    "2026-11-27T00:00:00Z",
];

#[test]
fn the_walk_matches_the_baseline_minute_by_minute() {
    let mut rng = Lcg(20_261_127);
    for case in 0..30 {
        let count = *rng.pick(&[1usize, 2, 3, 4, 5]);
        let rules: Vec<(String, u32)> = (0..count)
            .map(|_| {
                let cron = format!(
                    "{} {} {} {} {}",
                    rng.pick(MINUTES),
                    rng.pick(HOURS),
                    rng.pick(DAYS),
                    rng.pick(MONTHS),
                    rng.pick(WEEKDAYS)
                );
                (cron, *rng.pick(&[0u32, 1, 2, 3, 4]))
            })
            .collect();
        let zone = *rng.pick(ZONES);
        let window: &&str = rng.pick(WINDOWS);
        let from = t(window);
        let to = from + TimeDelta::days(1);
        let fallback = *rng.pick(&[0u32, 1, 2]);
        let schedule = Schedule::parse(
            rules.iter().map(|(cron, q)| (cron.as_str(), *q)),
            zone,
            fallback,
        )
        .unwrap();
        let label = format!("case {case}: {rules:?} in {zone}, fallback {fallback}, from {from}");

        let mut expected = Vec::new();
        let mut dyno_minutes = 0u64;
        let mut previous = schedule.baseline_at(from);
        let mut minute = from;
        while minute < to {
            dyno_minutes += u64::from(schedule.baseline_at(minute));
            minute += TimeDelta::minutes(1);
            let value = schedule.baseline_at(minute);
            if value != previous {
                expected.push(Change {
                    at: minute,
                    quantity: value,
                });
                previous = value;
            }
        }
        assert_eq!(schedule.changes(from, to), expected, "{label}");
        if let Some(first) = expected.first() {
            assert_eq!(schedule.next_change_after(from), Some(*first), "{label}");
        }
        let hours = schedule.dyno_hours(from, to);
        assert!(
            (hours - dyno_minutes as f64 / 60.0).abs() < 1e-9,
            "{label}: {hours}"
        );
    }
}
