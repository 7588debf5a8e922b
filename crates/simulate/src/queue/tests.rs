//! The queue mode's tests: the fluid queue's figures on traces small enough to reason about, and
//! the rules' goals on the World Cup's 12 May 1998 (its ~30× burst).

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use policy::{Policy, QueuePolicy};
use schedule::Schedule;

use super::*;

fn app(min: u32, max: u32) -> QueueApp {
    QueueApp {
        name: "worker-replay".into(),
        process: "worker".into(),
        reads: "sidekiq: default from $REDIS_URL".into(),
        policy: Policy {
            min,
            max,
            step: 1,
            failures: 2,
            scale_out_cooldown: Duration::from_secs(120),
            calm: Duration::from_secs(600),
            traffic: None,
        },
        queue: QueuePolicy::new(Duration::from_secs(30), 10),
        schedule: Schedule::new(Vec::new(), chrono_tz::UTC, min),
        dyno_size: "Standard-1X".to_owned(),
        price_per_hour: 0.035,
    }
}

/// Two-second jobs, ten at once a dyno, a 30 s boot: five jobs a second a dyno.
fn model() -> JobModel {
    JobModel {
        job_time: Duration::from_secs(2),
        concurrency: 10,
        boot: Duration::from_secs(30),
    }
}

/// A trace of one row a minute from noon.
fn minutes(counts: Vec<u64>) -> Trace {
    Trace {
        start: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap(),
        step: TimeDelta::minutes(1).num_nanoseconds().unwrap(),
        counts,
    }
}

#[test]
fn a_steady_load_runs_the_dynos_it_fills_and_is_never_late() {
    // 10 jobs a second of 2 s: 20 slots, 2 dynos, for an hour.
    let report = simulate_queue(&app(0, 10), &minutes(vec![600; 60]), &model());
    assert_eq!(report.clairvoyant_dyno_hours, 2.0);
    assert_eq!(report.autoscaled.dyno_hours, 2.0);
    assert_eq!(report.autoscaled.late_minutes, 0);
    assert_eq!(report.autoscaled.worst_latency_seconds, 0.0);
    assert_eq!(report.hirefire_style.dyno_hours, 2.0);
    assert_eq!(report.jobs, 36_000);
}

#[test]
fn a_quiet_worker_goes_to_zero_and_the_next_jobs_wake_it() {
    // A job a second for 10 minutes, nothing for 30, then a job a second again.
    let mut counts = vec![60; 10];
    counts.extend([0; 30]);
    counts.extend([60; 20]);
    let report = simulate_queue(&app(0, 10), &minutes(counts), &model());
    // A dyno while there are jobs (30 of the 60 minutes) and the calm window after them, a
    // second one for the first job's breach after the wake: under a dyno all the hour.
    let hours = report.autoscaled.dyno_hours;
    assert!((0.5..1.0).contains(&hours), "{hours} dyno-hours");
    // Woken within a poll, serving a boot later: the first job waited no more than both.
    let worst = report.autoscaled.worst_latency_seconds;
    assert!(worst > 30.0 && worst <= 40.0, "{worst} s");
    assert!(report.autoscaled.late_minutes <= 1);
}

#[test]
fn without_enough_dynos_the_queue_grows_and_every_minute_is_late() {
    // Twice what `max` dynos run: the oldest job's age grows by half of every second.
    let report = simulate_queue(&app(1, 1), &minutes(vec![600; 10]), &model());
    assert!(
        report.autoscaled.late_minutes >= 8,
        "{:?}",
        report.autoscaled
    );
    let worst = report.autoscaled.worst_latency_seconds;
    assert!(
        (290.0..=301.0).contains(&worst),
        "{worst} s after 600 s at half the rate"
    );
}

#[test]
fn on_the_world_cups_burst_the_rules_are_late_less_often_than_both_others_for_fewer_dyno_hours_than_hirefire_style()
 {
    let trace = Trace::parse(include_str!("../../../../traces/worldcup98-1998-05-12.csv")).unwrap();
    let report = simulate_queue(&app(0, 600), &trace, &model());
    let (auto, judoscale, hirefire) = (
        report.autoscaled,
        report.judoscale_style,
        report.hirefire_style,
    );
    // The burst, ~30x within minutes with a 30 s boot, costs every rule late minutes; over the
    // 16 days of docs/simulate.md the rules keep the target in 99.9% of minutes.
    assert!(auto.kept_percent >= 98.5, "{report:#?}");
    assert!(
        auto.late_minutes < hirefire.late_minutes && auto.late_minutes < judoscale.late_minutes,
        "{report:#?}"
    );
    assert!(auto.dyno_hours < hirefire.dyno_hours, "{report:#?}");
    let text = report.render(&app(0, 600), &model());
    for row in [
        "autoscaled",
        "Judoscale-style",
        "HireFire-style",
        "clairvoyant",
    ] {
        assert!(text.contains(&format!("  {row} ")), "{text}");
    }
    let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    for key in [
        "dyno_hours",
        "late_minutes",
        "judoscale_style",
        "hirefire_style",
        "clairvoyant_dyno_hours",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
}
