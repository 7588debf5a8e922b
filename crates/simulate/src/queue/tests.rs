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
fn a_steady_load_runs_the_dynos_it_fills_and_is_never_late_where_both_comparison_rules_let_a_queue_build()
 {
    // 10 jobs a second of 2 s: 20 slots, 2 dynos, for an hour.
    let report = simulate_queue(&app(0, 10), &minutes(vec![600; 60]), &model(), false);
    assert_eq!(report.clairvoyant_dyno_hours, 2.0);
    assert_eq!(report.autoscaled.dyno_hours, 2.0);
    assert_eq!(report.autoscaled.late_minutes, 0);
    assert_eq!(report.autoscaled.worst_latency_seconds, 0.0);
    assert_eq!(report.jobs, 36_000);
    // Judoscale-style drops a dyno after 10 minutes under 15 s and adds it back only once the
    // oldest job is over 30 s; HireFire-style wants a dyno per 150 jobs (10 × 30 s / 2 s), so
    // runs one until the queue holds about the target's worth. Both are late, for more dynos.
    for (rule, figures) in [
        ("Judoscale-style", report.judoscale),
        ("HireFire-style", report.hirefire),
    ] {
        assert!(figures.late_minutes > 0, "{rule}: {figures:?}");
        assert!(figures.dyno_hours > 2.0, "{rule}: {figures:?}");
    }
}

#[test]
fn the_hirefire_style_ratio_is_the_jobs_a_dyno_works_off_within_the_target() {
    let ratio = |job_time, latency| {
        hirefire_ratio(
            &JobModel {
                job_time,
                concurrency: 10,
                boot: Duration::from_secs(30),
            },
            latency,
        )
    };
    let s = Duration::from_secs;
    assert_eq!(ratio(s(2), s(30)), 150.0);
    assert_eq!(ratio(Duration::from_millis(500), s(30)), 600.0);
    // A job longer than the target: still at least a job a dyno.
    assert_eq!(ratio(s(600), s(30)), 1.0);
}

#[test]
fn a_quiet_worker_goes_to_zero_and_the_next_jobs_wake_it() {
    // A job a second for 10 minutes, nothing for 30, then a job a second again.
    let mut counts = vec![60; 10];
    counts.extend([0; 30]);
    counts.extend([60; 20]);
    let report = simulate_queue(&app(0, 10), &minutes(counts), &model(), false);
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
    let report = simulate_queue(&app(1, 1), &minutes(vec![600; 10]), &model(), false);
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
fn on_the_world_cups_burst_the_rules_are_late_a_tenth_as_often_as_both_comparison_rules() {
    let trace = Trace::parse(include_str!("../../../../traces/worldcup98-1998-05-12.csv")).unwrap();
    let report = simulate_queue(&app(0, 600), &trace, &model(), false);
    let (auto, judoscale, hirefire) = (report.autoscaled, report.judoscale, report.hirefire);
    // The burst, ~30x within minutes with a 30 s boot, costs every rule late minutes; over the
    // 16 days of docs/simulate.md the rules keep the target in 99.9% of minutes.
    assert!(auto.kept_percent >= 98.5, "{report:#?}");
    assert!(
        auto.late_minutes * 10 < hirefire.late_minutes
            && auto.late_minutes * 10 < judoscale.late_minutes,
        "{report:#?}"
    );
    // Both comparison rules run their dynos saturated with the queue as the buffer: fewer
    // dyno-hours (docs/simulate.md says so, with the figures), for the target missed in more
    // than a sixth of the day's minutes.
    assert!(
        judoscale.kept_percent < 90.0 && hirefire.kept_percent < 90.0,
        "{report:#?}"
    );
    assert!(
        auto.dyno_hours > report.clairvoyant_dyno_hours
            && judoscale.dyno_hours > report.clairvoyant_dyno_hours,
        "{report:#?}"
    );
    let text = report.render(&app(0, 600), &model());
    for row in [
        "autoscaled",
        "Judoscale-style",
        "HireFire-style",
        "clairvoyant",
    ] {
        assert!(text.contains(&format!("  {row} ")), "{text}");
    }
    assert!(
        text.contains("+1 over 30s at most every 3m, -1 after 10m under 15s")
            && text.contains("dynos = (ready + busy) / 150"),
        "{text}"
    );
    // The interface's keys.
    let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    for key in [
        "app",
        "process",
        "minutes",
        "dyno_hours",
        "cost",
        "late_minutes",
        "scale_calls",
        "clairvoyant_dyno_hours",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    for rule in ["judoscale", "hirefire"] {
        for key in ["dyno_hours", "late_minutes"] {
            assert!(json[rule].get(key).is_some(), "{rule}.{key} in {json}");
        }
    }
}

#[test]
fn by_day_the_figures_add_up_to_the_whole_and_the_picture_draws_every_way() {
    // Two days: quiet, then a day with a tenfold hour at noon.
    let mut counts = vec![300; 1440];
    counts.extend((0..1440).map(|m| if (720..780).contains(&m) { 3000 } else { 300 }));
    let report = simulate_queue(&app(0, 100), &minutes(counts), &model(), true);
    let days = report.days.as_ref().unwrap();
    // The trace starts at noon: three local days, the first and last half ones.
    assert_eq!(
        days.iter().map(|d| d.date.as_str()).collect::<Vec<_>>(),
        ["2026-11-27", "2026-11-28", "2026-11-29"]
    );
    let total = |of: fn(&QueueDay) -> &JobFigures| {
        (
            days.iter().map(|d| of(d).dyno_hours).sum::<f64>(),
            days.iter().map(|d| of(d).late_minutes).sum::<u64>(),
            days.iter().map(|d| of(d).scale_calls).sum::<u32>(),
        )
    };
    for (whole, (hours, late, calls)) in [
        (report.autoscaled, total(|d| &d.autoscaled)),
        (report.judoscale, total(|d| &d.judoscale)),
        (report.hirefire, total(|d| &d.hirefire)),
    ] {
        assert!(
            (hours - whole.dyno_hours).abs() < 0.05,
            "{hours} of {whole:?}"
        );
        assert_eq!((late, calls), (whole.late_minutes, whole.scale_calls));
    }
    assert_eq!(days.iter().map(|d| d.jobs).sum::<u64>(), report.jobs);
    let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert_eq!(
        json["days"][1]["judoscale"]["late_minutes"],
        days[1].judoscale.late_minutes
    );
    assert!(
        report
            .render(&app(0, 100), &model())
            .contains("  2026-11-28 ")
    );

    let svg = crate::draw_queue(&report);
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
    for series in [
        "load",
        "capacity",
        "age",
        "target",
        "autoscaled",
        "clairvoyant",
        "judoscale",
        "hirefire",
    ] {
        assert!(
            svg.contains(&format!(r#"data-series="{series}""#)),
            "{series}"
        );
    }
    // The busy hour's scale out is marked, and the late minutes shaded.
    assert!(svg.contains(r#"<polygon class="up""#));
    assert_eq!(
        report.autoscaled.late_minutes > 0,
        svg.contains(r#"<rect class="overloaded""#)
    );
}
