//! The traffic rules: stable and panic demand, saturation, the usual load, the queued-out memory,
//! H80 lines and stale data.

use super::*;

#[test]
fn steady_traffic_at_the_boundary_does_not_flap() {
    // The demo's flap: 15.6 requests a second at 100 ms on one-slot dynos are 1.56 busy
    // slots, 2 dynos at 0.8; but at 2 dynos each is at ρ 0.78 and holds 3.5 in flight, so the
    // in-flight term asks for 3; at 3 the busy slots ask for 2 again once the window passed.
    let mut d = Decider::new(one_slot_policy(), seed_schedule(1), at(4, 0, 0), Some(2));
    // The same load without a queue first (as if spread over many dynos), so the unqueued
    // estimate is the app's own 100 ms.
    d.handle(one_slot_dynos(at(4, 0, 0), 15.6, 1000), at(4, 0, 1));
    assert_eq!(d.target(), 2);
    let steps = fed_steps(&mut d, at(4, 0, 1), at(5, 0, 0), 2 * SEC, |at, target| {
        one_slot_dynos(at, 15.6, target)
    });
    assert_eq!(steps.len(), 1, "one step out, then steady: {steps:#?}");
    assert_eq!(steps[0].0, (2, 3), "{steps:#?}");
    assert_eq!(d.target(), 3);
}

#[test]
fn no_scale_in_back_to_where_the_queue_sent_it_out_from() {
    // The app became twice as slow (200 ms) while the estimate still says 100 ms: the busy
    // slots ask for 1 dyno, the queue at 2 for 3; at 3 the queue asks for only 2 again.
    let mut d = Decider::new(one_slot_policy(), seed_schedule(1), at(4, 0, 0), Some(2));
    d.handle(one_slot_dynos_at(at(4, 0, 0), 8.0, 1000, 0.1), at(4, 0, 1));
    let steps = fed_steps(&mut d, at(4, 0, 1), at(5, 0, 0), 2 * SEC, |at, target| {
        one_slot_dynos_at(at, 8.0, target, 0.2)
    });
    // Out at once; back in only once the memory of the queue is half an hour old, and out
    // again at once: two scale calls an hour, not two every stabilisation window.
    let moves: Vec<(u32, u32)> = steps.iter().map(|&(step, ..)| step).collect();
    assert_eq!(moves, [(2, 3), (3, 2), (2, 3)], "{steps:#?}");
    let (out_at, in_at) = (steps[0].1, steps[1].1);
    assert!(
        in_at - out_at >= chrono::TimeDelta::minutes(30),
        "in at {in_at}, out at {out_at}"
    );
    // Once the load falls by more than the margin, it steps in: to 2, and to 1, where the
    // queue asks for 2 once more; it stays at 2 and tries 1 again half an hour later.
    let later: Vec<(u32, u32)> =
        fed_steps(&mut d, at(5, 0, 0), at(6, 0, 0), 2 * SEC, |at, target| {
            one_slot_dynos_at(at, 4.0, target, 0.2)
        })
        .into_iter()
        .map(|(step, ..)| step)
        .collect();
    assert_eq!(later, [(3, 2), (2, 1), (1, 2), (2, 1), (1, 2)], "{later:?}");
}

#[test]
fn a_scale_in_stops_where_the_last_seconds_ask_for_more() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), Some(6));
    d.handle(traffic(at(4, 0, 0), 9.6), at(4, 0, 1));
    // The stable window says 1.6 in flight (1 dyno) while the last 6 s already carry 4.8
    // requests a second more: 6.4 busy slots, 4 dynos.
    let in_steps = fed_steps(&mut d, at(4, 0, 1), at(4, 10, 0), 2 * SEC, |at, _| {
        seen(at, |s| {
            s.in_flight = 1.6;
            s.requests_per_minute = 960;
            s.arrivals_per_sec = 16.0;
            // 64 a second at 100 ms, as counted: those of the last 0.1 s are in flight.
            s.panic_in_flight = 6.4 * 5.9 / 6.0;
            s.panic_arrivals_per_sec = 64.0 * 5.9 / 6.0;
        })
    });
    assert_eq!(in_steps.len(), 1, "{in_steps:#?}");
    assert_eq!(in_steps[0].0, (6, 4));
    assert!(
        in_steps[0].2.ends_with(
            "; in no further: the last 6 s ask 4, one dyno fewer would hold 1.9 in flight"
        ),
        "{}",
        in_steps[0].2
    );
}

#[test]
fn a_load_within_the_tolerance_does_not_scale_out() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
    // 3 dynos carry 3 × 2 × 0.8 = 4.8 busy slots; 5.0 is past that, but within 1.075 × 4.8 = 5.16.
    let within = traffic_steps(&mut d, at(12, 0, 0), at(12, 10, 0), 2 * SEC, 5.0);
    assert!(within.is_empty(), "{within:?}");
    let beyond = d.handle(traffic(at(12, 10, 1), 5.2), at(12, 10, 2));
    assert_eq!(
        scales(&beyond),
        [(3, 4)],
        "to the demand at 0.8: 5.2 / 1.6 → 4"
    );
}

#[test]
fn traffic_scales_out_at_once_and_says_why() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
    let first = d.handle(traffic(at(12, 0, 0), 1.0), at(12, 0, 1));
    assert!(
        matches!(first.as_slice(), [Action::Note(n)] if n.contains("fresh")),
        "{first:?}"
    );
    assert_eq!(d.target(), 3, "the baseline wins over a demand of 1");
    let actions = d.handle(traffic(at(12, 0, 1), 6.5), at(12, 0, 2));
    assert_eq!(scales(&actions), [(3, 5)]);
    let reason = first_reason(&actions);
    assert_eq!(
        reason,
        "traffic: 3900 req/min, mean 100ms, unqueued 100ms, \
         max(6.5 busy / (2 × 0.8), 6.5 in flight / (2 × 3)) → 5"
    );
}

#[test]
fn busy_slots_leave_the_dynos_own_queue_out() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
    assert_eq!(d.target(), 1);
    // Twice the in flight at twice the mean: the same arrivals queueing, 2 busy slots of 4.
    let queued = seen(at(4, 0, 2), |t| {
        t.in_flight = 4.0;
        t.mean_service = Some(Duration::from_millis(200));
    });
    let actions = d.handle(queued, at(4, 0, 3));
    assert_eq!(scales(&actions), [(1, 2)], "2 / 1.6, not 4 / 1.6");
    let reason = first_reason(&actions);
    assert!(reason.contains("unqueued 100ms, max(2.0 busy"), "{reason}");
}

#[test]
fn an_apps_own_fast_errors_do_not_teach_the_unqueued_estimate() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
    // A bad deploy: every request a 503 in 4 ms, before any probe has tripped the fail-safe.
    let failing = seen(at(4, 0, 2), |t| {
        t.in_flight = 0.04;
        t.mean_service = Some(Duration::from_millis(4));
        t.server_errors_last_minute = u32::try_from(t.requests_per_minute).unwrap();
    });
    d.handle(failing, at(4, 0, 3));
    // Fixed: the same queueing as `busy_slots_leave_the_dynos_own_queue_out` still counts 2
    // busy slots of 4 in flight, against the 100 ms learnt before; had the 4 ms been learnt,
    // it would be 0.08 busy and the in-flight term alone would act.
    let queued = seen(at(4, 0, 4), |t| {
        t.in_flight = 4.0;
        t.mean_service = Some(Duration::from_millis(200));
    });
    let actions = d.handle(queued, at(4, 0, 5));
    let reason = first_reason(&actions);
    assert!(reason.contains("unqueued 100ms, max(2.0 busy"), "{reason}");
}

#[test]
fn the_queue_term_scales_out_when_every_request_got_slower() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
    // From now on every request takes 600 ms, not 100: the estimate (100 ms) is too low for a
    // day and counts 6 busy slots of 36 in flight, but 36 in flight need 36 / (2 × 3) dynos.
    let slower = |at| {
        seen(at, |t| {
            t.in_flight = 36.0;
            t.mean_service = Some(Duration::from_millis(600));
        })
    };
    let actions = d.handle(slower(at(4, 0, 2)), at(4, 0, 3));
    assert_eq!(scales(&actions), [(1, 6)], "{actions:?}");
    let reason = first_reason(&actions);
    assert!(
        reason.ends_with("max(6.0 busy / (2 × 0.8), 36.0 in flight / (2 × 3)) → 6"),
        "{reason}"
    );
}

#[test]
fn traffic_scales_in_only_after_the_stabilisation_window() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
    d.handle(traffic(at(12, 0, 0), 9.0), at(12, 0, 1));
    assert_eq!(d.target(), 6);
    let steps = traffic_steps(&mut d, at(12, 0, 1), at(12, 10, 0), 5 * SEC, 3.0);
    assert_eq!(
        steps,
        [((6, 3), at(12, 4, 1))],
        "to the largest demand of the last 4 minutes (2), not below the baseline (3)"
    );
}

#[test]
fn a_sudden_fall_is_trusted_once_it_lasted_half_the_usual_window() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    // Two hours at 7.5 busy slots: 5 dynos at 0.8 of their 2 slots.
    let before = traffic_steps(&mut d, at(4, 0, 0), at(6, 0, 0), 2 * SEC, 7.5);
    assert_eq!(before, [((1, 5), at(4, 0, 2))]);
    // Half the load at once: 3 dynos at 0.8, but the usual load still needs 4 at full use
    // until the lower minutes are most of the last two hours.
    let steps = fed_steps(&mut d, at(6, 0, 0), at(7, 30, 0), 2 * SEC, |at, _| {
        traffic(at, 4.0)
    });
    let moves: Vec<(u32, u32)> = steps.iter().map(|&(step, ..)| step).collect();
    assert_eq!(moves, [(5, 4), (4, 3)], "{steps:#?}");
    assert_eq!(steps[0].1, at(6, 4, 0), "after the stabilisation window");
    assert!(
        steps[0]
            .2
            .ends_with("the usual load (the median of 2h) needs 4 at full use"),
        "{}",
        steps[0].2
    );
    assert!(
        (at(7, 0, 0)..at(7, 2, 0)).contains(&steps[1].1),
        "once the fall lasted an hour: {}",
        steps[1].1
    );
}

#[test]
fn a_saturated_dynos_queue_asks_for_the_dynos_that_clear_it_not_one_per_six_in_flight() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
    // 49.5 / (2 × 3) would be 9 dynos; at 2, ρ is 0.49 and the queue is gone (1.3 in flight).
    let actions = d.handle(saturated_one_dyno(at(4, 0, 2)), at(4, 0, 3));
    assert_eq!(scales(&actions), [(1, 2)], "{actions:?}");
    let reason = first_reason(&actions);
    assert!(
        reason.ends_with("max(2.0 busy / (2 × 0.8), 49.5 in flight on 1 dyno / (2 × 3)) → 2"),
        "{reason}"
    );
    // The second dyno boots for a while: the router still hands everything to one, and the
    // queue grows. It asks for nothing more: the queue is measured at 1 dyno, not at 2.
    let steps = fed_steps(&mut d, at(4, 0, 3), at(4, 0, 30), 2 * SEC, |at, _| {
        saturated_one_dyno(at)
    });
    assert_eq!(steps, [], "no more dynos while the second one boots");
}

#[test]
fn a_saturated_fleet_panics_though_the_jump_is_less_than_twice_the_target() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 6.0), at(4, 0, 1));
    assert_eq!(d.target(), 4);
    // A step to 70 requests a second: 7 busy slots, 5 dynos at 0.8. The three dynos that
    // answer (one of the four still boots) cannot carry 7, so requests wait toward the
    // router's 30 s timeout; the minute's figures lag. 5 is less than twice 4: no jump, but
    // the fleet is saturated. The queue is young (a 300 ms mean): of the last 6 s, the
    // requests of the last 300 ms are still in flight, not counted yet.
    let step = seen(at(4, 0, 2), |t| {
        t.panic_arrivals_per_sec = 70.0 * 5.7 / 6.0;
        t.panic_in_flight = 70.0 * 5.7 / 6.0 * 0.3;
        t.panic_dynos = 3;
        t.dynos = 3;
    });
    let actions = d.handle(step, at(4, 0, 3));
    assert_eq!(scales(&actions), [(4, 5)], "{actions:?}");
}

#[test]
fn saturation_counts_the_arrivals_still_in_flight_and_asks_for_the_queue_it_holds() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 2.0), at(4, 0, 1));
    assert_eq!(d.target(), 2);
    // Two dynos (4 slots, 40 a second) take 41: the queue grows. Of the last 6 s the
    // aggregator has the requests that completed, 39 a second at a 350 ms mean: 3.9 busy
    // slots, as if the dynos kept up. Those of the last 350 ms are still in flight: 39 × 6 /
    // 5.65 = 41.4 a second, 4.14 busy slots, saturated.
    let queue = seen(at(4, 0, 2), |t| {
        t.arrivals_per_sec = 20.0;
        t.in_flight = 2.0;
        t.panic_arrivals_per_sec = 39.0;
        t.panic_in_flight = 39.0 * 0.35;
        t.dynos = 2;
        t.panic_dynos = 2;
    });
    let actions = d.handle(queue, at(4, 0, 3));
    assert_eq!(scales(&actions), [(2, 3)], "{actions:?}");
    assert!(first_reason(&actions).contains("panic"), "{actions:?}");

    // Saturated for seconds: 60 requests in flight on the two, a backlog the busy slots from
    // the few completed requests do not show: the dynos that hold it at 2 × 3 a slot, 10.
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 2.0), at(4, 0, 1));
    let backlog = seen(at(4, 0, 2), |t| {
        t.arrivals_per_sec = 20.0;
        t.in_flight = 2.0;
        t.panic_arrivals_per_sec = 24.0;
        t.panic_in_flight = 60.0;
        t.dynos = 2;
        t.panic_dynos = 2;
    });
    let actions = d.handle(backlog, at(4, 0, 3));
    assert_eq!(scales(&actions), [(2, 10)], "{actions:?}");
}

#[test]
fn a_panic_scales_out_though_the_stable_window_asks_as_much_within_the_tolerance() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
    assert_eq!(d.target(), 1);
    // The minute asks for 2 dynos (1.65 busy slots) but within the 7.5% tolerance of one
    // (1.72); the last 6 s ask for 2 past it (1.9): a jump to twice the target.
    let rise = seen(at(4, 0, 2), |t| {
        t.arrivals_per_sec = 16.5;
        t.in_flight = 1.65;
        t.panic_arrivals_per_sec = 19.0;
        t.panic_in_flight = 1.9;
        t.dynos = 1;
        t.panic_dynos = 1;
    });
    let actions = d.handle(rise, at(4, 0, 3));
    assert_eq!(scales(&actions), [(1, 2)], "{actions:?}");
}

#[test]
fn a_sudden_jump_panics_and_holds_the_target() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(4, 0, 0), None);
    d.handle(traffic(at(4, 0, 0), 1.0), at(4, 0, 1));
    assert_eq!(d.target(), 1);
    // The 6 s window sees 24 in flight before the minute's average (2) moves much; it counts
    // through the in-flight term only: 24 / (2 × 3).
    let jump = seen(at(4, 0, 2), |t| {
        t.in_flight = 2.0;
        t.panic_in_flight = 24.0;
    });
    let actions = d.handle(jump, at(4, 0, 3));
    assert_eq!(scales(&actions), [(1, 4)]);
    assert!(first_reason(&actions).contains("panic"));
    // Quiet again: no step in while panicking (60 s), then the stabilisation window.
    let steps = traffic_steps(&mut d, at(4, 0, 3), at(4, 10, 0), 5 * SEC, 0.5);
    assert_eq!(
        steps,
        [((4, 2), at(4, 1, 3)), ((2, 1), at(4, 4, 3))],
        "a minute of panic, then the largest stable demand of the window (2 at the jump)"
    );
}

#[test]
fn h80_lines_are_maintenance_mode_while_seen() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
    d.handle(traffic(at(12, 0, 0), 1.0), at(12, 0, 1));
    let h80 = |at| seen(at, |t| t.maintenance = true);
    d.handle(h80(at(12, 0, 1)), at(12, 0, 2));
    assert!(d.snapshot().maintenance);
    for i in 0..5 {
        let t = at(12, 1, 0) + 30 * SEC * i;
        d.handle(h80(t), t);
        assert!(
            scales(&d.handle(probe(Class::Down), t)).is_empty(),
            "no fail-safe"
        );
    }
    d.handle(traffic(at(12, 5, 0), 1.0), at(12, 5, 0));
    assert!(!d.snapshot().maintenance, "H80 no longer seen");
    d.handle(probe(Class::Down), at(12, 5, 30));
    assert_eq!(
        scales(&d.handle(probe(Class::Down), at(12, 6, 0))),
        [(3, 10)]
    );
}

#[test]
fn stale_traffic_leaves_the_probe_rules_alone_and_says_so_once() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
    d.handle(traffic(at(12, 0, 0), 9.0), at(12, 0, 1));
    assert_eq!(d.target(), 6);
    // Fast probes do not step in while the traffic is fresh...
    let mut notes = Vec::new();
    let mut steps = Vec::new();
    let mut t = at(12, 0, 1);
    while t < at(12, 30, 0) {
        t += 30 * SEC;
        for action in d.handle(probe(Class::Fast), t) {
            match action {
                Action::Note(n) => notes.push((n, t)),
                Action::Scale { from, to, .. } => steps.push(((from, to), t)),
                Action::Alert(_) => {}
            }
        }
    }
    // ...which it stops being 2 minutes after its last line; then one step per calm of fast
    // probes, counted from the last change of the target.
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].0.contains("stale") && notes[0].1 == at(12, 2, 1),
        "{notes:?}"
    );
    assert_eq!(
        steps,
        [
            ((6, 5), at(12, 10, 1)),
            ((5, 4), at(12, 20, 1)),
            ((4, 3), at(12, 30, 1))
        ]
    );
    // Fresh again: said once, and the traffic rules act.
    let back = d.handle(traffic(at(12, 30, 0), 1.0), at(12, 30, 1));
    assert!(
        matches!(back.first(), Some(Action::Note(n)) if n.contains("fresh")),
        "{back:?}"
    );
    assert!(
        d.handle(traffic(at(12, 30, 1), 1.0), at(12, 30, 2))
            .is_empty()
    );
    // Data that is itself 2 minutes old is no news.
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
    assert!(
        d.handle(traffic(at(11, 58, 0), 9.0), at(12, 0, 0))
            .is_empty()
    );
}

#[test]
fn traffic_never_starts_an_app_the_schedule_keeps_off() {
    let schedule = Schedule::new(
        vec![
            Rule::new("0 7 * * *", 2).unwrap(),
            Rule::new("0 22 * * *", 0).unwrap(),
        ],
        chrono_tz::UTC,
        0,
    );
    let policy = Policy {
        min: 0,
        ..traffic_policy()
    };
    let mut d = Decider::new(policy, schedule, at(23, 0, 0), None);
    let mut all = Vec::new();
    for i in 1..10 {
        let t = at(23, 0, 0) + 5 * SEC * i;
        all.extend(d.handle(traffic(t, 9.0), t));
    }
    assert!(scales(&all).is_empty(), "{all:?}");
    assert!(
        all.iter()
            .filter(|a| matches!(a, Action::Note(n) if n.contains("baseline 0")))
            .count()
            == 1,
        "said once: {all:?}"
    );
    // At 07:00 the schedule starts it, and the traffic takes it from there.
    assert_eq!(
        scales(&d.handle(traffic(at(7, 0, 0), 9.0), at(7, 0, 0))),
        [(0, 2), (2, 6)]
    );
}

/// Traffic readings (errors and H80 among them) and ticks, the traffic rules on.
fn arb_traffic_run() -> impl Strategy<Value = (Policy, Schedule, Vec<(u64, Event)>)> {
    arb_policy().prop_flat_map(|policy| {
        let policy = Policy {
            traffic: policy.traffic.or(Some(TrafficPolicy::new(2, 0.8))),
            ..policy
        };
        let event = prop_oneof![1 => Just(Event::Tick), 5 => arb_event().prop_filter(
            "traffic",
            |e| matches!(e, Event::Traffic(_)),
        )];
        (
            Just(policy),
            arb_schedule(policy),
            proptest::collection::vec((1u64..90, event), 1..150),
        )
    })
}

/// Any figure, the absurd ones often: a drain is outside input.
fn arb_figure() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => 0.0..100.0f64,
        1 => proptest::num::f64::ANY,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-1.0),
        1 => Just(1e300),
    ]
}

/// A reading whose every figure may be absurd, `lag` seconds old (encoded as for [`timed`]).
fn arb_wild_traffic() -> impl Strategy<Value = Event> {
    (
        (
            0u64..200,
            any::<u64>(),
            arb_figure(),
            arb_figure(),
            arb_figure(),
            arb_figure(),
        ),
        (
            proptest::option::of(prop_oneof![0u64..2, any::<u64>()]),
            prop_oneof![Just(6u64), any::<u64>()],
            any::<u32>(),
            any::<u32>(),
            prop_oneof![0u32..4, any::<u32>()],
            prop_oneof![0u32..4, any::<u32>()],
        ),
    )
        .prop_map(
            |(
                (lag, requests, arrivals, in_flight, panic_in_flight, panic_arrivals),
                (mean_secs, window, errors, server_errors, dynos, panic_dynos),
            )| {
                Event::Traffic(Box::new(Traffic {
                    at: at(0, 0, 0) - SEC * lag as u32,
                    requests_per_minute: requests,
                    arrivals_per_sec: arrivals,
                    mean_service: mean_secs.map(Duration::from_secs),
                    in_flight,
                    panic_in_flight,
                    panic_arrivals_per_sec: panic_arrivals,
                    panic_window: Duration::from_secs(window),
                    trouble_errors_last_minute: errors,
                    server_errors_last_minute: server_errors,
                    left_out: u64::from(server_errors),
                    maintenance: false,
                    dynos,
                    panic_dynos,
                }))
            },
        )
}

/// Steady traffic `in_flight` requests in flight at a mean of `mean`, a second before `now`, no
/// errors, the dynos reached unknown.
fn steady_load(now: DateTime<Utc>, in_flight: f64, mean: Duration) -> Event {
    Event::Traffic(Box::new(Traffic {
        in_flight,
        panic_in_flight: in_flight,
        ..Traffic::steady(
            now - SEC,
            in_flight / mean.as_secs_f64(),
            mean.as_secs_f64(),
        )
    }))
}

proptest! {
    #[test]
    fn the_traffic_rules_keep_the_target_within_min_max_and_above_the_baseline(
        (policy, schedule, events) in arb_traffic_run(),
    ) {
        lived(policy, schedule, events)?;
    }

    /// One reading more, after the same history: more load never leaves fewer dynos, out or in.
    #[test]
    fn more_load_never_leaves_fewer_dynos(
        (policy, schedule, events) in arb_traffic_run(),
        load in 0.0..40.0f64,
        more in 0.0..40.0f64,
        mean in 20u64..1000,
        gap in 1u64..600,
    ) {
        let (d, t) = lived(policy, schedule, events)?;
        let (t, mean) = (t + SEC * gap as u32, Duration::from_millis(mean));
        let (mut less, mut most) = (d.clone(), d);
        less.handle(steady_load(t, load, mean), t);
        most.handle(steady_load(t, load + more, mean), t);
        prop_assert!(
            most.target() >= less.target(),
            "{:.2} in flight left {}, {load:.2} left {}", load + more, most.target(), less.target()
        );
    }

    /// Whatever the figures (NaN, infinite, negative, huge; a clock far off), nothing panics and
    /// the target stays within its bounds.
    #[test]
    fn absurd_figures_neither_panic_nor_leave_the_bounds(
        (policy, schedule, _) in arb_traffic_run(),
        readings in proptest::collection::vec(
            (1u64..90, prop_oneof![3 => arb_wild_traffic(), 1 => arb_event()]),
            1..100,
        ),
    ) {
        lived(policy, schedule, readings)?;
    }
}
