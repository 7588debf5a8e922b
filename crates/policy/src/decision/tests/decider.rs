//! What holds whatever the events: the target within `[min, max]` and above the baseline, moved
//! only by scale actions; no step in during an outage; idempotent ticks; restarts.

use super::*;

#[test]
fn an_event_stays_small_for_the_channels_that_carry_it() {
    // A daemon keeps a channel of events an app, whose blocks hold 32 of them.
    let (event, traffic) = (size_of::<Event>(), size_of::<Traffic>());
    assert!(
        event <= 32,
        "an event takes {event} bytes, the traffic figures {traffic}"
    );
}

proptest! {
    #[test]
    fn the_target_never_leaves_min_max_and_moves_only_by_scale_actions((policy, schedule, events) in arb_run()) {
        let mut t = at(0, 0, 0);
        let mut d = Decider::new(policy, schedule, t, None);
        for (gap, event) in events {
            t += SEC * gap as u32;
            let event = timed(event, t);
            let before = d.target();
            let mut expected = before;
            for action in d.handle(event, t) {
                if let Action::Scale { from, to, .. } = action {
                    prop_assert_eq!(from, expected);
                    prop_assert_ne!(from, to);
                    expected = to;
                }
            }
            prop_assert_eq!(d.target(), expected);
            prop_assert!(policy.min <= d.target() && d.target() <= policy.max);
            prop_assert!(d.target() >= d.snapshot().baseline);
        }
    }

    #[test]
    fn failures_down_probes_give_max_at_once((policy, schedule, events) in arb_run(), hour in 0u32..24) {
        let mut t = at(0, 0, 0);
        let mut d = Decider::new(policy, schedule, t, None);
        for (gap, event) in events {
            t += SEC * gap as u32;
            let event = timed(event, t);
            d.handle(event, t);
        }
        d.handle(Event::Maintenance(false), t);
        // And no H80 line seen lately: the traffic data goes stale after 2 minutes.
        t += Duration::from_secs(120);
        t += Duration::from_secs(3600 * u64::from(hour));
        d.handle(Event::Tick, t);
        // A start from zero at that tick is given its boot grace first, and so is one at the tick
        // after the wait: the schedule's rise can fall on it.
        loop {
            t += BOOT_GRACE;
            let started = d.handle(Event::Tick, t);
            if !started.iter().any(|a| matches!(a, Action::Scale { from: 0, .. })) {
                break;
            }
        }
        let before = d.snapshot().baseline;
        for _ in 0..policy.failures {
            t += SEC;
            d.handle(probe(Class::Down), t);
        }
        // Unless the schedule turned the app off meanwhile (a rule may fire within those seconds).
        if before > 0 && d.snapshot().baseline > 0 {
            prop_assert_eq!(d.target(), policy.max);
        }
    }

    #[test]
    fn no_step_in_during_an_outage((policy, schedule, events) in arb_run()) {
        let mut t = at(0, 0, 0);
        let mut d = Decider::new(policy, schedule, t, None);
        for (gap, event) in events {
            t += SEC * gap as u32;
            let event = timed(event, t);
            let in_outage = d.snapshot().outage_since.is_some();
            let before = d.target();
            d.handle(event, t);
            // An outage ends with a recovery, a schedule fall to 0 or maintenance mode; until
            // then, the target only holds or rises.
            let still_in_outage = d.snapshot().outage_since.is_some();
            if in_outage && still_in_outage {
                prop_assert!(d.target() >= before, "stepped in from {} to {} during an outage", before, d.target());
            }
        }
    }

    #[test]
    fn the_same_tick_twice_changes_nothing((policy, schedule, events) in arb_run()) {
        let mut t = at(0, 0, 0);
        let mut d = Decider::new(policy, schedule, t, None);
        for (gap, event) in events {
            t += SEC * gap as u32;
            let event = timed(event, t);
            d.handle(event, t);
            let again = d.handle(Event::Tick, t);
            prop_assert!(scales(&again).is_empty(), "a repeated tick scaled: {:?}", again);
        }
    }

    #[test]
    fn a_restored_decider_acts_exactly_like_one_that_never_stopped(
        (policy, schedule, events) in arb_run(),
        restart_before in 0usize..200,
    ) {
        let mut t = at(0, 0, 0);
        let mut running = Decider::new(policy, schedule.clone(), t, None);
        let mut restored: Option<Decider> = None;
        for (i, (gap, event)) in events.into_iter().enumerate() {
            t += SEC * gap as u32;
            let event = timed(event, t);
            if i == restart_before {
                // As a store would keep it: serialised, read back by a new process.
                let stored = serde_json::to_string(&running.state()).unwrap();
                let state: DeciderState = serde_json::from_str(&stored).unwrap();
                let observed = Some(running.target());
                restored = Some(Decider::restore(policy, schedule.clone(), Some(state), observed, t));
            }
            let expected = running.handle(event.clone(), t);
            if let Some(r) = restored.as_mut() {
                prop_assert_eq!(r.handle(event, t), expected);
                prop_assert_eq!(r.state(), running.state());
            }
        }
    }

    #[test]
    fn a_restart_lands_where_an_uninterrupted_run_is(
        (policy, schedule, ticks) in arb_run(),
        restart_after in 0usize..200,
        fast in any::<bool>(),
    ) {
        // With the app healthy (every probe fast, or no probe at all), the target is a function of the
        // schedule and the time alone: a process started at any instant agrees with one that ran all along.
        let mut t = at(0, 0, 0);
        let mut running = Decider::new(policy, schedule.clone(), t, None);
        let mut restarted: Option<Decider> = None;
        for (i, (gap, _)) in ticks.iter().enumerate() {
            t += SEC * (*gap as u32) * 60;
            let event = if fast { probe(Class::Fast) } else { Event::Tick };
            running.handle(event.clone(), t);
            if i == restart_after {
                restarted = Some(Decider::new(policy, schedule.clone(), t, None));
            }
            if let Some(r) = restarted.as_mut() {
                r.handle(event, t);
                prop_assert_eq!(r.target(), running.target());
            }
        }
    }
}

/// A state as the code before the recommenders stored it (the probe rules' fields at the top, the
/// fail-safe's inside `traffic`), written while the fail-safe waited for a dyno the traffic rules
/// started at 04:00:03 (`the_fail_safe_waits_one_boot_for_the_dynos_the_traffic_rules_started`).
const STORED_BEFORE_THE_RECOMMENDERS: &str = r#"{"baseline":1,"target":2,"down_streak":2,"slow_streak":0,"last_class":"down","last_scale_out":null,"last_trouble":"2026-11-27T04:00:40Z","last_down":"2026-11-27T04:00:40Z","calm_since":"2026-11-27T04:00:40Z","started_from_zero":null,"outage_since":null,"maintenance":false,"ignoring_noted":false,"traffic":{"last_at":"2026-11-27T04:00:02Z","fresh":true,"recent":[["2026-11-27T04:00:03Z",2]],"last_panic":"2026-11-27T04:00:03Z","maintenance":false,"off_noted":false,"fastest":[["2026-11-27T04:00:00Z",{"secs":0,"nanos":100000000}]],"queued_out":null,"last_out":"2026-11-27T04:00:03Z","fail_safe_due":"2026-11-27T04:01:40Z","busiest":{"newest":"2026-11-27T04:00:00Z","per_minute":[196]}}}"#;

#[test]
fn a_state_stored_before_the_recommenders_restores_and_is_stored_alike() {
    let state: DeciderState = serde_json::from_str(STORED_BEFORE_THE_RECOMMENDERS).unwrap();
    // Written back, the same fields with the same values (an older version reads it too).
    let again: serde_json::Value = serde_json::to_value(&state).unwrap();
    let before: serde_json::Value = serde_json::from_str(STORED_BEFORE_THE_RECOMMENDERS).unwrap();
    assert_eq!(again, before);
    let schedule = Schedule::new(vec![Rule::new("0 7 * * *", 1).unwrap()], chrono_tz::UTC, 1);
    let mut d = Decider::restore(traffic_policy(), schedule, Some(state), None, at(4, 0, 45));
    assert_eq!(d.target(), 2);
    // Its memory came along: the fail-safe still waits for the booting dyno, the streak goes on...
    let waits = d.handle(probe(Class::Down), at(4, 0, 50));
    assert_eq!(scales(&waits), [], "{waits:?}");
    assert!(
        waits
            .iter()
            .any(|a| matches!(a, Action::Note(n) if n.contains("(Down, 3 in a row): the fail-safe waits"))),
        "{waits:?}"
    );
    // ...until the dyno had its boot.
    let tripped = d.handle(probe(Class::Down), at(4, 1, 10));
    assert_eq!(scales(&tripped), [(2, 10)], "{tripped:?}");
    assert_eq!(alerts(&tripped), [NoticeKind::Outage]);
    // The traffic rules' memory too: the learnt 100 ms and the fresh data.
    assert!(
        d.handle(traffic(at(4, 1, 11), 1.0), at(4, 1, 12))
            .iter()
            .all(|a| !matches!(a, Action::Note(n) if n.contains("fresh"))),
        "the data was fresh already"
    );
}
