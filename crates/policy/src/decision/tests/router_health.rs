//! The router lines' health: every request failing is down at once, as `failures` down probes
//! are; the lines and the probe must both say up to close an outage; stale lines leave the probe
//! rules alone.

use super::*;

/// The lines of the 10 s up to `now`.
fn lines(now: DateTime<Utc>, requests: u64, failing: u64) -> Event {
    Event::RouterHealth(Box::new(lines_failing(now, requests, failing)))
}

fn outage_alerts(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Alert(n) => Some(format!("{:?}: {}", n.kind, n.detail)),
            _ => None,
        })
        .collect()
}

/// A decider with the traffic rules on at the seed schedule's 3 dynos, its traffic fresh.
fn fresh(now: DateTime<Utc>) -> Decider {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), now, None);
    d.handle(traffic(now, 1.0), now);
    d
}

#[test]
fn every_request_failing_is_the_fail_safe_at_once_with_one_outage_alert() {
    let t0 = at(12, 0, 0);
    let mut d = fresh(t0);
    let down = d.handle(lines(t0 + 2 * SEC, 412, 400), t0 + 2 * SEC);
    assert_eq!(scales(&down), [(3, 10)]);
    assert_eq!(
        first_reason(&down),
        "router lines: 503 on 97% of 412 requests in 10 s, fail-safe to max"
    );
    assert_eq!(
        outage_alerts(&down),
        ["Outage: the router saw 503 on 97% of 412 requests in 10 s"]
    );
    assert_eq!(d.snapshot().outage_since, Some(t0 + 2 * SEC));
    // The next readings and the probes that follow add nothing: one outage, one alert.
    let mut later = Vec::new();
    for s in (4..60).step_by(2) {
        later.extend(d.handle(lines(t0 + SEC * s, 400, 400), t0 + SEC * s));
    }
    later.extend(d.handle(probe(Class::Down), t0 + 30 * SEC));
    later.extend(d.handle(probe(Class::Down), t0 + 60 * SEC));
    assert_eq!(scales(&later), []);
    assert_eq!(alerts(&later), []);
}

#[test]
fn partial_failure_and_thin_or_old_lines_change_nothing() {
    let t0 = at(12, 0, 0);
    let mut d = fresh(t0);
    let mut actions = Vec::new();
    for s in (2..600).step_by(2) {
        let now = t0 + SEC * s;
        // 5% failing: one bad endpoint.
        actions.extend(d.handle(lines(now, 400, 20), now));
        // Every request failing, but 9 of them.
        actions.extend(d.handle(lines(now, 9, 9), now));
        // Every request failing, lines of 10 s ago.
        actions.extend(d.handle(lines(now - 10 * SEC, 400, 400), now));
    }
    assert_eq!(scales(&actions), []);
    assert_eq!(alerts(&actions), []);
}

#[test]
fn the_lines_recover_the_app_after_calm_and_a_probe_that_answers_does_not_close_it_before() {
    let t0 = at(12, 0, 0);
    let mut d = fresh(t0);
    d.handle(lines(t0, 100, 100), t0);
    let mut recovered = Vec::new();
    let mut t = t0;
    // Every request fails for 5 minutes while the health check answers fast: still an outage.
    while t < t0 + Duration::from_secs(300) {
        t += 2 * SEC;
        recovered.extend(d.handle(traffic(t, 1.0), t));
        recovered.extend(d.handle(lines(t, 100, 100), t));
        if t.timestamp() % 30 == 0 {
            recovered.extend(d.handle(probe(Class::Fast), t));
        }
    }
    assert_eq!(alerts(&recovered), []);
    assert!(d.snapshot().outage_since.is_some());
    // Requests succeed again from 12:05:02: the recovery alert once they did for `calm`.
    while t < t0 + Duration::from_secs(1200) {
        t += 2 * SEC;
        let mut actions = d.handle(traffic(t, 1.0), t);
        actions.extend(d.handle(lines(t, 100, 0), t));
        if t.timestamp() % 30 == 0 {
            actions.extend(d.handle(probe(Class::Fast), t));
        }
        if !alerts(&actions).is_empty() {
            recovered.push(Action::Note(format!("at {t}")));
        }
        recovered.extend(actions);
    }
    assert_eq!(alerts(&recovered), [NoticeKind::Recovery]);
    assert!(
        outage_alerts(&recovered)[0].starts_with(
            "Recovery: up again: requests succeed again and no probe was down for 10m"
        ),
        "{recovered:?}"
    );
    assert!(
        recovered
            .iter()
            .any(|a| matches!(a, Action::Note(n) if n == "at 2026-11-27 12:15:02 UTC")),
        "the first success at 12:05:02, 10 minutes before: {recovered:?}"
    );
}

#[test]
fn an_outage_the_lines_found_before_the_traffic_data_turned_fresh_stays_open() {
    // The daemon hands over the lines' health before the first traffic figures; a probe that
    // answered fast a moment before must not close the outage at once.
    let t0 = at(12, 0, 0);
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), t0, None);
    d.handle(probe(Class::Fast), t0);
    let down = d.handle(lines(t0 + SEC, 20, 20), t0 + SEC);
    assert_eq!(alerts(&down), [NoticeKind::Outage]);
    let mut later = d.handle(traffic(t0 + SEC, 1.0), t0 + SEC);
    later.extend(d.handle(probe(Class::Fast), t0 + 30 * SEC));
    assert_eq!(alerts(&later), []);
    assert!(d.snapshot().outage_since.is_some());
}

#[test]
fn lines_that_succeed_do_not_close_an_outage_the_probe_still_shows() {
    let t0 = at(12, 0, 0);
    let mut d = fresh(t0);
    d.handle(probe(Class::Down), t0);
    let tripped = d.handle(probe(Class::Down), t0 + 30 * SEC);
    assert_eq!(alerts(&tripped), [NoticeKind::Outage]);
    let mut actions = Vec::new();
    let mut t = t0 + 30 * SEC;
    while t < t0 + Duration::from_secs(1800) {
        t += 2 * SEC;
        actions.extend(d.handle(traffic(t, 1.0), t));
        actions.extend(d.handle(lines(t, 100, 0), t));
        if t.timestamp() % 30 == 0 {
            actions.extend(d.handle(probe(Class::Down), t));
        }
    }
    assert_eq!(alerts(&actions), []);
    assert!(d.snapshot().outage_since.is_some());
}

#[test]
fn stale_lines_leave_the_probe_rules_alone() {
    let t0 = at(12, 0, 0);
    let mut d = fresh(t0);
    d.handle(lines(t0, 100, 100), t0);
    assert!(d.snapshot().outage_since.is_some());
    // The drain goes quiet; the probe answers fast.
    let mut actions = Vec::new();
    let mut t = t0;
    while t < t0 + Duration::from_secs(900) {
        t += 30 * SEC;
        actions.extend(d.handle(probe(Class::Fast), t));
    }
    let said: Vec<&str> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Note(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        said.iter().any(|n| n.starts_with("traffic data stale")),
        "{said:?}"
    );
    assert_eq!(
        alerts(&actions),
        [NoticeKind::Recovery],
        "by the probes alone"
    );
}

#[test]
fn down_lines_mean_nothing_at_baseline_0_in_maintenance_or_booting_from_zero() {
    // Baseline 0 from 03:00.
    let off = Schedule::new(
        vec![
            Rule::new("0 3 * * *", 0).unwrap(),
            Rule::new("0 7 * * *", 2).unwrap(),
        ],
        chrono_tz::UTC,
        0,
    );
    let policy = Policy {
        min: 0,
        ..traffic_policy()
    };
    let t0 = at(4, 0, 0);
    let mut d = Decider::new(policy, off, t0, None);
    d.handle(traffic(t0, 1.0), t0);
    let ignored = d.handle(lines(t0, 100, 100), t0);
    assert_eq!(scales(&ignored), []);
    assert!(
        ignored.iter().any(|a| matches!(a, Action::Note(n)
            if n.ends_with("ignored: the schedule keeps the app off (baseline 0)"))),
        "{ignored:?}"
    );
    // 07:00: the schedule starts the app from zero; failing lines while it boots are no outage.
    let seven = at(7, 0, 0);
    d.handle(Event::Tick, seven);
    d.handle(traffic(seven, 1.0), seven);
    let booting = d.handle(lines(seven + 10 * SEC, 100, 100), seven + 10 * SEC);
    assert_eq!((scales(&booting), alerts(&booting)), (vec![], vec![]));
    let after = seven + BOOT_GRACE + SEC;
    d.handle(traffic(after, 1.0), after);
    let down = d.handle(lines(after, 100, 100), after);
    assert_eq!(scales(&down), [(2, 10)], "{down:?}");

    // Maintenance mode (H80 lines): not down.
    let mut d = fresh(at(12, 0, 0));
    d.handle(seen(at(12, 0, 1), |t| t.maintenance = true), at(12, 0, 1));
    let maintenance = d.handle(lines(at(12, 0, 2), 100, 100), at(12, 0, 2));
    assert_eq!(
        (scales(&maintenance), alerts(&maintenance)),
        (vec![], vec![])
    );
}

#[test]
fn the_fail_safe_from_the_lines_waits_one_boot_for_the_dynos_the_traffic_rules_started() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
    let out = d.handle(saturated_one_dyno(at(4, 0, 2)), at(4, 0, 3));
    assert_eq!(scales(&out), [(1, 2)], "{out:?}");
    let waits = d.handle(lines(at(4, 0, 10), 100, 95), at(4, 0, 10));
    assert_eq!(
        (scales(&waits), alerts(&waits)),
        (vec![], vec![]),
        "{waits:?}"
    );
    let tripped = d.handle(lines(at(4, 1, 10), 100, 95), at(4, 1, 10));
    assert_eq!(scales(&tripped), [(2, 10)], "{tripped:?}");
    assert_eq!(alerts(&tripped), [NoticeKind::Outage]);
}

#[test]
fn the_traffic_rules_read_a_crash_as_failed_lines_left_out_not_as_load() {
    // What the aggregator gives while every request ends in a 30 s H12: the failed lines are
    // left out, so almost nothing is in flight, and the reason says how many were.
    let t0 = at(12, 0, 0);
    let mut d = fresh(t0);
    let crash = seen(t0 + 2 * SEC, |t| {
        t.requests_per_minute = 1200;
        t.left_out = 1180;
        t.arrivals_per_sec = 20.0 / 60.0;
        t.panic_arrivals_per_sec = 0.3;
        t.in_flight = 20.0 * 0.1 / 60.0;
        t.panic_in_flight = 0.03;
        t.trouble_errors_last_minute = 1180;
    });
    let actions = d.handle(crash, t0 + 2 * SEC);
    assert_eq!(
        scales(&actions),
        [(3, 4)],
        "the router-errors rule's step: {actions:?}"
    );
    let down = d.handle(lines(t0 + 2 * SEC, 200, 197), t0 + 2 * SEC);
    assert_eq!(scales(&down), [(4, 10)]);
    // A step in is not for now, but the figures say what was left out.
    let figures = TrafficReason {
        requests_per_minute: 1200,
        left_out: 1180,
        mean_service: Some(Duration::from_millis(100)),
        unqueued: None,
        in_flight: 0.03,
        dynos: 0,
        busy: 0.03,
        concurrency: 2,
        utilisation: 0.8,
        demand: 1,
        held: None,
        stop: None,
        panic: false,
    };
    assert!(
        figures
            .to_string()
            .starts_with("traffic: 1200 req/min (1180 failed, left out), mean 100ms"),
        "{figures}"
    );
}

#[test]
fn a_state_stored_while_the_lines_showed_down_keeps_it_through_a_restart() {
    let t0 = at(12, 0, 0);
    let mut d = fresh(t0);
    d.handle(lines(t0, 100, 100), t0);
    let json = serde_json::to_string(&d.state()).unwrap();
    let stored: DeciderState = serde_json::from_str(&json).unwrap();
    assert_eq!(stored, d.state());
    let mut back = Decider::restore(traffic_policy(), seed_schedule(1), Some(stored), None, t0);
    let again = back.handle(lines(t0 + 2 * SEC, 100, 100), t0 + 2 * SEC);
    assert_eq!(
        alerts(&again),
        [],
        "the outage is still open: no second alert"
    );
}
