//! The fail-safe beside the traffic rules: still to `max`, after at most one boot of the dynos
//! they started.

use super::*;

#[test]
fn the_fail_safe_still_sends_the_app_to_max_with_traffic_on() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
    d.handle(traffic(at(12, 0, 0), 1.0), at(12, 0, 1));
    d.handle(probe(Class::Down), at(12, 0, 30));
    let tripped = d.handle(probe(Class::Down), at(12, 1, 0));
    assert_eq!(scales(&tripped), [(3, 10)]);
    assert_eq!(alerts(&tripped), [NoticeKind::Outage]);
    // The traffic asks for less, but no step in during the outage, nor within calm after it.
    let mut t = at(12, 1, 0);
    let mut steps = Vec::new();
    while t < at(12, 30, 0) {
        t += 10 * SEC;
        let mut actions = d.handle(traffic(t - SEC, 1.0), t);
        if t.timestamp() % 30 == 0 {
            actions.extend(d.handle(probe(Class::Fast), t));
        }
        for action in actions {
            match action {
                Action::Scale { from, to, .. } => steps.push(((from, to), t)),
                Action::Alert(n) => steps.push(((n.from, n.to), t)),
                Action::Note(_) => {}
            }
        }
    }
    assert_eq!(
        steps,
        [((10, 10), at(12, 11, 0)), ((10, 3), at(12, 11, 10))],
        "the recovery alert at 12:11, then the traffic's target"
    );
}

#[test]
fn the_fail_safe_waits_one_boot_for_the_dynos_the_traffic_rules_started() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
    let out = d.handle(saturated_one_dyno(at(4, 0, 2)), at(4, 0, 3));
    assert_eq!(scales(&out), [(1, 2)], "{out:?}");
    // The probe times out on the load the traffic rules answered; their dyno boots.
    d.handle(probe(Class::Down), at(4, 0, 10));
    let waits = d.handle(probe(Class::Down), at(4, 0, 40));
    assert_eq!(scales(&waits), [], "{waits:?}");
    assert_eq!(alerts(&waits), [], "{waits:?}");
    assert!(
        waits
            .iter()
            .any(|a| matches!(a, Action::Note(n) if n.contains("the fail-safe waits"))),
        "{waits:?}"
    );
    // Still down once that dyno had its boot: the fail-safe.
    let tripped = d.handle(probe(Class::Down), at(4, 1, 10));
    assert_eq!(scales(&tripped), [(2, 10)], "{tripped:?}");
    assert_eq!(alerts(&tripped), [NoticeKind::Outage]);
}

#[test]
fn the_fail_safe_waits_at_most_one_boot_however_often_the_traffic_rules_scale_out() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
    d.handle(saturated_one_dyno(at(4, 0, 2)), at(4, 0, 3));
    d.handle(probe(Class::Down), at(4, 0, 10));
    // Due at 4:00:40, held back until 4:01:40 at the latest.
    d.handle(probe(Class::Down), at(4, 0, 40));
    // The two dynos saturate in turn: the traffic rules start more at 4:01:20. 60 a second
    // on 4 slots (40 a second) at a 1 s mean; those of the last second are not counted yet.
    let saturated_two = seen(at(4, 1, 19), |t| {
        t.arrivals_per_sec = 60.0;
        t.panic_arrivals_per_sec = 50.0;
        t.in_flight = 60.0;
        t.panic_in_flight = 50.0;
        t.mean_service = Some(Duration::from_secs(1));
        t.dynos = 2;
        t.panic_dynos = 2;
    });
    let more = d.handle(saturated_two, at(4, 1, 20));
    assert_eq!(scales(&more).len(), 1, "{more:?}");
    assert!(d.target() > 2 && d.target() < 10, "{more:?}");
    let waits = d.handle(probe(Class::Down), at(4, 1, 30));
    assert_eq!(scales(&waits), [], "{waits:?}");
    let tripped = d.handle(probe(Class::Down), at(4, 1, 40));
    assert_eq!(alerts(&tripped), [NoticeKind::Outage], "{tripped:?}");
    assert_eq!(d.target(), 10);
}
