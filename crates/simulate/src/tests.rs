//! Replays of hand-made traces whose figures can be worked out on paper, and one real day.

use std::time::Duration;

use chrono::TimeZone;
use policy::Policy;
use schedule::Schedule;
use serde_json::{Value, json};

use super::model::{Driver, History};
use super::*;
use policy::Thresholds;

const SEC: Duration = Duration::from_secs(1);

/// An app as a config would give it: `min` 1, `max` 4 and the config's defaults unless `settings`
/// says otherwise (`min`, `max`, `timezone`, `schedule`, `probe`).
pub(crate) fn app(settings: Value) -> SimulatedApp {
    let count = |key: &str, default: u32| {
        settings[key]
            .as_u64()
            .map_or(default, |n| u32::try_from(n).unwrap())
    };
    let (min, max) = (count("min", 1), count("max", 4));
    let timezone: Tz = settings["timezone"]
        .as_str()
        .map_or(chrono_tz::UTC, |tz| tz.parse().unwrap());
    let rules = settings["schedule"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rule| {
            let quantity = u32::try_from(rule["quantity"].as_u64().unwrap()).unwrap();
            schedule::Rule::new(rule["cron"].as_str().unwrap(), quantity).unwrap()
        })
        .collect();
    SimulatedApp {
        name: "shop".into(),
        process: "web".into(),
        policy: Policy {
            min,
            max,
            step: 1,
            failures: 2,
            scale_out_cooldown: Duration::from_secs(120),
            calm: Duration::from_secs(600),
            traffic: None,
        },
        schedule: Schedule::new(rules, timezone, min),
        probe_every: settings.get("probe").map(|_| 30 * SEC),
        dyno_size: "Standard-1X".to_owned(),
        // Heroku's published price: $25 a month, prorated over 720 hours.
        price_per_hour: 25.0 / 720.0,
    }
}

/// A probe of the app at 500 ms slow, 200 ms fast.
pub(crate) fn probe() -> Value {
    json!({ "slow": "500ms", "fast": "200ms" })
}

/// The model at 100 ms service time; the probe's limits, or the interface's defaults (slow
/// minutes counted at 5 s) for an app without a probe.
pub(crate) fn model(app: &SimulatedApp, capacity: f64, boot: Duration) -> Model {
    let ms = Duration::from_millis;
    let (slow, fast) = if app.probe_every.is_some() {
        (ms(500), ms(200))
    } else {
        (ms(5000), ms(1000))
    };
    Model {
        capacity,
        service_time: ms(100),
        boot,
        thresholds: Thresholds {
            timeout: 10 * SEC,
            slow,
            fast,
        },
        traffic: TrafficModel::new(ServiceModel::PerDyno, 2),
        outage: None,
    }
}

/// One row a minute from 2026-11-27 00:00 UTC, each row's requests a minute.
pub(crate) fn minutes(per_minute: &[u64]) -> Trace {
    Trace {
        start: Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap(),
        step: 60_000_000_000,
        counts: per_minute.to_vec(),
    }
}

#[test]
fn latencies_follow_the_queue_and_no_dyno_or_a_full_queue_gives_no_answer() {
    let app = app(json!({ "probe": probe() }));
    let m = model(&app, 10.0, Duration::ZERO);
    assert_eq!(
        m.latency(5.0, 1),
        Some(Duration::from_millis(200)),
        "ρ = 0.5 doubles the service time"
    );
    assert_eq!(m.latency(0.0, 3), Some(Duration::from_millis(100)));
    assert_eq!(m.latency(10.0, 1), None, "ρ = 1");
    assert_eq!(m.latency(0.0, 0), None, "no dyno");
    assert_eq!(
        m.latency(9.999_999_999, 1),
        Some(Duration::from_secs_f64(0.1 / (1.0 - 0.999_999_999_9)))
    );
}

#[test]
fn a_static_formation_gives_its_dyno_hours_and_overloaded_minutes_exactly() {
    // 1 dyno serves 1 request/s. 50 minutes at 0.5/s, then 10 minutes at 3/s: two dynos at max
    // are overloaded (3 > 2) in exactly those 10 minutes, and give no answer then.
    let mut rows = vec![30; 50];
    rows.extend([180; 10]);
    let app = app(json!({ "min": 1, "max": 2, "probe": probe() }));
    let trace = minutes(&rows);
    let report = simulate(&app, &trace, &model(&app, 1.0, 30 * SEC), false);
    let max = report.static_max;
    assert_eq!(max.minutes, 60.0);
    assert_eq!(max.dyno_hours, 2.0);
    assert_eq!(max.cost, report::round(2.0 * app.price_per_hour, 2));
    assert_eq!(max.overloaded_minutes, 10.0);
    assert_eq!(
        max.slow_minutes, 10.0,
        "0.5/s on two dynos answers in 133 ms, 3/s not at all"
    );
    assert_eq!(max.scale_calls, 0);
    // Within slow (500 ms, ρ ≤ 0.8): 1 dyno for 0.5/s, 4 for 3/s, but never above max (2).
    assert_eq!(
        report.clairvoyant_dyno_hours,
        report::round((50.0 + 2.0 * 10.0) / 60.0, 2)
    );
    assert_eq!(report.requests, 50 * 30 + 10 * 180);
    assert_eq!(report.peak_requests_per_second, 3.0);
}

#[test]
fn a_started_dyno_serves_only_after_its_boot_but_is_billed_from_its_start() {
    // The schedule goes from 1 to 2 dynos at 00:10; 1.5 requests/s overloads one dyno until the
    // second has booted, 30 s later.
    let app = app(json!({
        "min": 1, "max": 2,
        "schedule": [{ "cron": "0 0 * * *", "quantity": 1 }, { "cron": "10 0 * * *", "quantity": 2 }],
    }));
    let trace = minutes(&[90; 20]);
    let report = simulate(&app, &trace, &model(&app, 1.0, 30 * SEC), false);
    let schedule = report.schedule_only;
    assert_eq!(schedule.overloaded_minutes, 10.5);
    assert_eq!(schedule.dyno_hours, 0.5, "10 minutes of 1 dyno and 10 of 2");
    assert_eq!(schedule.scale_calls, 1);
    let instant = simulate(&app, &trace, &model(&app, 1.0, Duration::ZERO), false);
    assert_eq!(instant.schedule_only.overloaded_minutes, 10.0);
    // Without a probe, autoscaled is the schedule alone.
    assert_eq!(report.autoscaled, report.schedule_only);
}

#[test]
fn a_scale_in_stops_the_newest_dynos_first_even_while_they_boot() {
    // 1 dyno; the schedule starts 2 more at 00:10 (they would serve from 00:11:30) and stops one at
    // 00:11: the one left is still booting, so 1.5 requests/s overload the old dyno until 00:11:30.
    let app = app(json!({
        "min": 1, "max": 3,
        "schedule": [
            { "cron": "0 0 * * *", "quantity": 1 },
            { "cron": "10 0 * * *", "quantity": 3 },
            { "cron": "11 0 * * *", "quantity": 2 },
        ],
    }));
    let trace = minutes(&[90; 20]);
    let schedule = simulate(&app, &trace, &model(&app, 1.0, 90 * SEC), false).schedule_only;
    assert_eq!(schedule.overloaded_minutes, 11.5);
    assert_eq!(schedule.scale_calls, 2);
    assert_eq!(
        schedule.dyno_hours,
        report::round((10.0 + 3.0 + 2.0 * 9.0) / 60.0, 2)
    );
}

#[test]
fn a_formation_of_billions_costs_no_memory() {
    let app = app(json!({}));
    let trace = minutes(&[60; 60]);
    let outcome = model::replay(
        &trace,
        &model(&app, 1.0, 30 * SEC),
        Driver::Static(u32::MAX),
        &[],
    );
    assert_eq!(
        outcome.total.dyno_nanos,
        i128::from(u32::MAX) * 3_600_000_000_000
    );
    assert_eq!(outcome.total.overloaded, 0);
}

#[test]
fn a_step_of_load_forces_the_fail_safe_after_two_down_probes() {
    // 5 minutes at 0.5/s on 1 dyno (200 ms, fast), then 3/s: no answer. Probes every 30 s from
    // 00:00; down at 00:05:00 and 00:05:30, so the fail-safe sets max (4) at 00:05:30, and the 3
    // new dynos serve from 00:06:00 (ρ = 0.75, 400 ms: normal, so no step in).
    let mut rows = vec![30; 5];
    rows.extend([180; 10]);
    let app = app(json!({ "min": 1, "max": 4, "probe": probe() }));
    let trace = minutes(&rows);
    let report = simulate(&app, &trace, &model(&app, 1.0, 30 * SEC), false);
    let auto = report.autoscaled;
    assert_eq!(auto.scale_calls, 1);
    assert_eq!(auto.overloaded_minutes, 1.0);
    assert_eq!(auto.slow_minutes, 1.0);
    assert_eq!(auto.dyno_hours, report::round((5.5 + 4.0 * 9.5) / 60.0, 2));
    // The schedule alone stays at 1 dyno, overloaded for all 10 minutes.
    assert_eq!(report.schedule_only.overloaded_minutes, 10.0);
    assert_eq!(report.schedule_only.scale_calls, 0);
    // A slower boot leaves the app overloaded for longer, billed the same.
    let slow_boot = simulate(&app, &trace, &model(&app, 1.0, 90 * SEC), false).autoscaled;
    assert_eq!(
        (slow_boot.overloaded_minutes, slow_boot.dyno_hours),
        (2.0, auto.dyno_hours)
    );
}

#[test]
fn slow_probes_step_out_and_fast_ones_step_back_in() {
    // 0.85/s on 1 dyno answers in 667 ms (slow at 500 ms): two slow probes (00:00, 00:00:30) step
    // out to 2 dynos, where it answers in 174 ms (fast). A calm (10 minutes) later, at 00:10:30,
    // the decider steps back in; slow again at 00:11:00 and 00:11:30, out again; in at 00:21:30,
    // out at 00:22:30.
    let app = app(json!({ "min": 1, "max": 4, "probe": probe() }));
    let trace = minutes(&[51; 30]);
    let report = simulate(&app, &trace, &model(&app, 1.0, Duration::ZERO), false);
    let auto = report.autoscaled;
    assert_eq!(auto.overloaded_minutes, 0.0);
    assert_eq!(auto.scale_calls, 5);
    assert_eq!(auto.slow_minutes, 2.5);
    assert_eq!(auto.dyno_hours, report::round((2.5 + 2.0 * 27.5) / 60.0, 2));
    assert_eq!(report.schedule_only.slow_minutes, 30.0);
}

#[test]
fn the_schedule_alone_is_read_in_the_apps_time_zone_and_split_by_local_day() {
    // 3 dynos 09:00–17:00 New York time (14:00–22:00 UTC in November), 1 otherwise; 48 hours from
    // 2026-11-27 00:00 UTC (19:00 the day before in New York), no traffic.
    let app = app(json!({
        "min": 1, "max": 3, "timezone": "America/New_York",
        "schedule": [{ "cron": "0 9 * * *", "quantity": 3 }, { "cron": "0 17 * * *", "quantity": 1 }],
        "probe": probe(),
    }));
    let trace = minutes(&[0; 48 * 60]);
    let report = simulate(&app, &trace, &model(&app, 1.0, 30 * SEC), true);
    let schedule = report.schedule_only;
    assert_eq!(schedule.dyno_hours, 14.0 + 24.0 + 16.0 + 24.0 + 2.0);
    assert_eq!(
        schedule.dyno_hours,
        app.schedule.dyno_hours(trace.start, trace.end())
    );
    assert_eq!(schedule.scale_calls, 4);
    assert_eq!(schedule.overloaded_minutes, 0.0);
    assert_eq!(report.autoscaled, schedule, "fast probes change nothing");
    let days = report.days.unwrap();
    let dates: Vec<&str> = days.iter().map(|d| d.date.as_str()).collect();
    assert_eq!(dates, ["2026-11-26", "2026-11-27", "2026-11-28"]);
    let hours: Vec<f64> = days
        .iter()
        .map(|d| d.schedule_only.minutes / 60.0)
        .collect();
    assert_eq!(hours, [5.0, 24.0, 19.0]);
    assert_eq!(days[1].schedule_only.dyno_hours, 8.0 * 3.0 + 16.0);
    assert_eq!(days[1].schedule_only.scale_calls, 2);
    assert_eq!(
        days.iter().map(|d| d.schedule_only.dyno_hours).sum::<f64>(),
        schedule.dyno_hours
    );
}

#[test]
fn a_day_of_world_cup_traffic_is_served_with_a_fraction_of_max() {
    // 12 May 1998: up to ~960 requests/s in a burst. 20 requests/s a dyno, max 10.
    let trace = Trace::parse(include_str!("../../../traces/worldcup98-1998-05-12.csv")).unwrap();
    let app = app(json!({ "min": 1, "max": 10, "probe": probe() }));
    let report = simulate(&app, &trace, &model(&app, 20.0, 30 * SEC), false);
    let (auto, max) = (report.autoscaled, report.static_max);
    assert_eq!(report.requests, 2_376_106);
    assert_eq!(max.dyno_hours, 240.0);
    assert!(auto.dyno_hours < max.dyno_hours / 2.0, "{auto:?}");
    assert!(
        auto.overloaded_minutes <= max.overloaded_minutes + 5.0,
        "{auto:?} against {max:?}"
    );
    assert!(
        auto.overloaded_minutes < report.schedule_only.overloaded_minutes,
        "{report:?}"
    );
    assert!(
        auto.dyno_hours >= report.clairvoyant_dyno_hours,
        "{report:?}"
    );
}

#[test]
fn the_json_has_the_keys_of_the_interface() {
    let app = app(json!({ "probe": probe() }));
    let report = simulate(
        &app,
        &minutes(&[30; 10]),
        &model(&app, 1.0, 30 * SEC),
        false,
    );
    let json: Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    let figures = [
        "minutes",
        "dyno_hours",
        "cost",
        "overloaded_minutes",
        "slow_minutes",
        "scale_calls",
    ];
    for key in ["app", "process"].iter().chain(&figures) {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    for part in ["schedule_only", "static_max"] {
        for key in figures {
            assert!(
                json[part].get(key).is_some(),
                "{part}.{key} missing from {json}"
            );
        }
    }
    assert_eq!(json["app"], "shop");
    assert_eq!(json["process"], "web");
    assert!(json.get("days").is_none());
    let text = report.render(&app, &model(&app, 1.0, 30 * SEC));
    assert!(text.contains("static at max (4)"), "{text}");
}

#[test]
fn the_drains_figures_hold_a_request_only_once_its_line_was_delivered() {
    const S: i64 = 1_000_000_000;
    // 10 requests/s served in 100 ms for a minute by one dyno that serves 20 a second, then
    // 40/s: the backlog grows by 20 a second, each request waits a second longer than the one a
    // second before it, and from 89.9 s on the wait reaches the router's 30 s (H12). Every line
    // reaches the aggregator 5 s after the request completes.
    let mut history = History::new(5 * SEC, 20.0, Duration::from_millis(100));
    history.add(0, 60 * S, 10.0, 1, 0.1);
    history.add(60 * S, 120 * S, 40.0, 1, 30.0);

    // At 70 s the stable window is the arrivals of 5–65 s: the 550 served before 60 s, and of
    // those after, the ones served by 65 s (arrived by 62.45 s, 0.1 s + the wait after 60 s).
    let at_70 = history.sums(70 * S, 60);
    assert!((at_70.requests - 648.0).abs() < 1e-6, "{at_70:?}");
    assert!((at_70.service - (55.0 + 129.85)).abs() < 1e-6, "{at_70:?}");
    assert_eq!(at_70.unanswered, 0.0, "{at_70:?}");
    assert_eq!(at_70.seconds, 60.0);

    // At 125 s (arrivals of 60–120 s) every answered request is in, but of the 1,204 that time
    // out only the 4 that arrived by 90 s: the others' H12 lines are written 30 s after they
    // arrived.
    let at_125 = history.sums(125 * S, 60);
    assert!((at_125.requests - 1200.0).abs() < 1e-6, "{at_125:?}");
    assert!((at_125.unanswered - 4.0).abs() < 1e-6, "{at_125:?}");
    // At 160 s (arrivals of 95–155 s) the timeouts of 95–120 s are all in.
    let at_160 = history.sums(160 * S, 60);
    assert!((at_160.unanswered - 1000.0).abs() < 1e-6, "{at_160:?}");
    assert_eq!(at_160.requests, at_160.unanswered);
    assert_eq!(at_160.dynos, 1);

    // Exact within a second: at 65.05 s a served request is in once it arrived by 59.95 s.
    let edge = history.sums(65 * S + S / 20, 60);
    assert!((edge.requests - 599.5).abs() < 1e-6, "{edge:?}");
}

#[test]
fn a_backlog_starts_from_the_steady_queue_and_drains_at_the_dynos_rate() {
    const S: i64 = 1_000_000_000;
    // 10/s at a steady 300 ms (200 ms of it waiting: 2 requests queued), then 30/s for 10 s on
    // a dyno that serves 20: the wait starts at 2 / 20 = 0.1 s and grows by 0.5 s a second, 102
    // requests behind at 20 s; then 10/s again, and the backlog drains at 10 a second, the wait
    // falling from 5.1 s by 0.5 s a second until 30.2 s.
    let mut history = History::new(5 * SEC, 20.0, Duration::from_millis(100));
    history.add(0, 10 * S, 10.0, 1, 0.3);
    history.add(10 * S, 20 * S, 30.0, 1, 30.0);
    history.add(20 * S, 40 * S, 10.0, 1, 0.3);
    // Arrivals of 0–35 s at 40 s: 100 at 0.3 s; 300 at 0.2 s + 0.5 s a second; 102 at 0.3 s +
    // 5.1 s − 0.5 s a second; and those of 30.2–34.7 s at 0.3 s (later ones are not served yet).
    let sums = history.sums(40 * S, 60);
    assert!((sums.requests - 547.0).abs() < 1e-6, "{sums:?}");
    let expected = 30.0
        + 30.0 * (0.2 * 10.0 + 0.25 * 100.0)
        + 10.0 * (5.4 * 10.2 - 0.25 * 10.2 * 10.2)
        + 45.0 * 0.3;
    assert!((sums.service - expected).abs() < 1e-6, "{sums:?}");
}

#[test]
fn an_outage_is_at_max_two_probes_later_without_a_drain_and_seconds_later_with_one() {
    // 20 minutes at 10 requests/s on 1 dyno of 20/s; the app fails every request from 00:10:01
    // to 00:15:01. Probes every 30 s from 00:00: down at 00:10:30 and 00:11:00.
    let trace = minutes(&[600; 20]);
    let start = trace.start;
    let onset = start + TimeDelta::seconds(601);
    let mut probed = app(json!({ "min": 1, "max": 4, "probe": probe() }));
    let outage = |app: &SimulatedApp| Model {
        outage: Some((onset, onset + TimeDelta::minutes(5))),
        ..model(app, 20.0, 30 * SEC)
    };
    let first_max = |report: &Report| {
        let scale = report
            .timeline
            .scales
            .iter()
            .find(|s| s.to == 4)
            .expect("a scale to max")
            .clone();
        (
            start + TimeDelta::nanoseconds(scale.at) - onset,
            scale.reason,
        )
    };
    let (after, reason) = first_max(&simulate(&probed, &trace, &outage(&probed), false));
    assert_eq!(after, TimeDelta::seconds(59));
    assert_eq!(reason, "down: HTTP 503 (2 in a row), fail-safe to max");

    probed.policy.traffic = Some(policy::TrafficPolicy::new(2, 0.8));
    let report = simulate(&probed, &trace, &outage(&probed), false);
    let (after, reason) = first_max(&report);
    // Every line of the last 10 s failing, 5 s late (so 5 s of them, 50 requests), read every
    // 2 s.
    assert!(
        (TimeDelta::seconds(9)..=TimeDelta::seconds(12)).contains(&after),
        "{after}"
    );
    assert!(
        reason.starts_with("router lines: 503 on 100% of 50 requests in 10 s"),
        "{reason}"
    );
    // Without the outage the same replay never leaves its dyno.
    let calm = simulate(&probed, &trace, &model(&probed, 20.0, 30 * SEC), false);
    assert_eq!(calm.autoscaled.scale_calls, 0);
}
