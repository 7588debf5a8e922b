//! The probe rules: the fail-safe on down probes, a step out on slow ones, a step in on fast ones.

use super::*;

#[test]
fn down_probes_fail_safe_to_max_at_once_and_alert_once() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    assert!(
        d.handle(probe(Class::Down), at(12, 0, 30)).is_empty(),
        "one down probe is not enough"
    );
    let actions = d.handle(probe(Class::Down), at(12, 1, 0));
    assert_eq!(scales(&actions), [(3, 5)]);
    assert_eq!(alerts(&actions), [NoticeKind::Outage]);
    let again = d.handle(probe(Class::Down), at(12, 1, 30));
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn slow_probes_step_out_once_per_cooldown() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    let mut all = Vec::new();
    for i in 0..10 {
        all.extend(d.handle(probe(Class::Slow), at(12, 0, 0) + 30 * SEC * (i + 1)));
    }
    // Slow from 12:00:30; steps at 12:01:00 (2nd slow) and 12:03:00 (cooldown over).
    assert_eq!(scales(&all), [(3, 4), (4, 5)]);
    assert!(alerts(&all).is_empty());
}

#[test]
fn steps_in_one_per_calm_down_to_the_baseline_after_recovery() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    d.handle(probe(Class::Down), at(12, 0, 30));
    d.handle(probe(Class::Down), at(12, 1, 0));
    assert_eq!(d.target(), 5);
    let mut all = Vec::new();
    let mut t = at(12, 1, 0);
    for _ in 0..(60 * 2) {
        t += 30 * SEC;
        all.extend(d.handle(probe(Class::Fast), t));
    }
    assert_eq!(scales(&all), [(5, 4), (4, 3)]);
    assert_eq!(alerts(&all), [NoticeKind::Recovery]);
    // Recovery 10 minutes after the last down probe, at 12:11:00; no step in during the outage,
    // so the first step waits for it and then for a further calm of fast probes.
    let when = |wanted: (u32, u32)| {
        let mut t = at(12, 1, 0);
        let mut d2 = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
        d2.handle(probe(Class::Down), at(12, 0, 30));
        d2.handle(probe(Class::Down), at(12, 1, 0));
        loop {
            t += 30 * SEC;
            if scales(&d2.handle(probe(Class::Fast), t)).contains(&wanted) {
                return t;
            }
        }
    };
    assert_eq!(when((5, 4)), at(12, 11, 0));
    assert_eq!(when((4, 3)), at(12, 21, 0));
}

#[test]
fn a_normal_probe_is_neither_calm_nor_trouble() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    d.handle(probe(Class::Slow), at(12, 0, 30));
    d.handle(probe(Class::Slow), at(12, 1, 0));
    assert_eq!(d.target(), 4);
    let mut t = at(12, 1, 0);
    for _ in 0..60 {
        t += 30 * SEC;
        assert!(scales(&d.handle(probe(Class::Normal), t)).is_empty());
    }
}

#[test]
fn no_fail_safe_while_meant_to_be_off_or_in_maintenance() {
    let schedule = Schedule::new(
        vec![
            Rule::new("0 7 * * *", 2).unwrap(),
            Rule::new("0 22 * * *", 0).unwrap(),
        ],
        chrono_tz::UTC,
        0,
    );
    let policy = Policy { min: 0, ..policy() };
    let mut d = Decider::new(policy, schedule, at(23, 0, 0), None);
    assert_eq!(d.target(), 0);
    let first = d.handle(probe(Class::Down), at(23, 0, 30));
    assert!(matches!(first.as_slice(), [Action::Note(_)]), "{first:?}");
    for i in 1..10 {
        assert!(
            d.handle(probe(Class::Down), at(23, 0, 30) + 30 * SEC * i)
                .is_empty()
        );
    }
    // 07:00 starts the app; dynos boot for up to a minute without tripping the fail-safe.
    assert_eq!(scales(&d.handle(Event::Tick, at(7, 0, 0))), [(0, 2)]);
    d.handle(probe(Class::Down), at(7, 0, 20));
    assert!(scales(&d.handle(probe(Class::Down), at(7, 0, 50))).is_empty());
    d.handle(probe(Class::Fast), at(7, 1, 20));

    d.handle(Event::Maintenance(true), at(8, 0, 0));
    for i in 0..5 {
        assert!(scales(&d.handle(probe(Class::Down), at(8, 0, 0) + 30 * SEC * i)).is_empty());
    }
    d.handle(Event::Maintenance(false), at(9, 0, 0));
    d.handle(probe(Class::Down), at(9, 0, 30));
    assert_eq!(scales(&d.handle(probe(Class::Down), at(9, 1, 0))), [(2, 5)]);
}

#[test]
fn entering_maintenance_closes_an_open_outage() {
    // max 3, the evening's baseline: the outage leaves the target at the baseline, so only the
    // open outage could hold back the 22:00 fall.
    let policy = Policy { max: 3, ..policy() };
    let mut d = Decider::new(policy, seed_schedule(1), at(21, 0, 0), None);
    d.handle(probe(Class::Down), at(21, 0, 30));
    let tripped = d.handle(probe(Class::Down), at(21, 1, 0));
    assert_eq!(alerts(&tripped), [NoticeKind::Outage]);

    let mut after = d.handle(Event::Maintenance(true), at(21, 5, 0));
    assert_eq!(d.snapshot().outage_since, None, "{after:?}");
    assert!(
        after
            .iter()
            .any(|a| matches!(a, Action::Note(n) if n.contains("maintenance"))),
        "{after:?}"
    );
    let mut t = at(21, 5, 0);
    while t < at(23, 0, 0) {
        t += 30 * SEC;
        after.extend(d.handle(probe(Class::Down), t));
    }
    assert_eq!(
        scales(&after),
        [(3, 2)],
        "the 22:00 fall applies as without an outage"
    );
    after.extend(d.handle(Event::Maintenance(false), t));
    for _ in 0..60 {
        t += 30 * SEC;
        after.extend(d.handle(probe(Class::Fast), t));
    }
    assert!(
        alerts(&after).is_empty(),
        "no recovery to announce: {after:?}"
    );
}

#[test]
fn ignored_down_probes_restart_the_calm() {
    // Stepped out to 4 at 12:01; then maintenance with down probes until 12:30.
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    d.handle(probe(Class::Slow), at(12, 0, 30));
    d.handle(probe(Class::Slow), at(12, 1, 0));
    assert_eq!(d.target(), 4);
    d.handle(Event::Maintenance(true), at(12, 2, 0));
    let mut t = at(12, 2, 0);
    while t < at(12, 30, 0) {
        t += 30 * SEC;
        d.handle(probe(Class::Down), t);
    }
    d.handle(Event::Maintenance(false), t);
    let mut steps = Vec::new();
    for _ in 0..40 {
        t += 30 * SEC;
        if !scales(&d.handle(probe(Class::Fast), t)).is_empty() {
            steps.push(t);
        }
    }
    assert_eq!(
        steps,
        [at(12, 40, 0)],
        "a calm of fast probes after the last down one"
    );
}

#[test]
fn slow_probes_do_not_start_an_app_meant_to_be_off() {
    let schedule = Schedule::new(
        vec![
            Rule::new("0 7 * * *", 2).unwrap(),
            Rule::new("0 22 * * *", 0).unwrap(),
        ],
        chrono_tz::UTC,
        0,
    );
    let policy = Policy { min: 0, ..policy() };
    let mut d = Decider::new(policy, schedule, at(23, 0, 0), None);
    let mut all = Vec::new();
    for i in 1..10 {
        all.extend(d.handle(probe(Class::Slow), at(23, 0, 0) + 30 * SEC * i));
    }
    assert!(scales(&all).is_empty(), "{all:?}");
    assert_eq!(d.target(), 0);
    assert!(
        matches!(all.as_slice(), [Action::Note(n)] if n.contains("baseline 0")),
        "said once: {all:?}"
    );
}

#[test]
fn reasons_read_well_in_a_log_line() {
    let reason = Reason::Down {
        detail: "HTTP 503".into(),
        streak: 2,
    };
    assert_eq!(
        reason.to_string(),
        "down: HTTP 503 (2 in a row), fail-safe to max"
    );
    assert_eq!(
        Reason::Calm {
            calm: Duration::from_secs(600)
        }
        .to_string(),
        "calm: every probe fast for 10m"
    );
}

/// Probes and ticks only, the traffic rules off.
fn arb_probe_run() -> impl Strategy<Value = (Policy, Schedule, Vec<(u64, Event)>)> {
    arb_policy().prop_flat_map(|policy| {
        let policy = Policy {
            traffic: None,
            ..policy
        };
        let event = prop_oneof![4 => arb_class().prop_map(probe), 1 => Just(Event::Tick)];
        (
            Just(policy),
            arb_schedule(policy),
            proptest::collection::vec((1u64..600, event), 1..150),
        )
    })
}

/// How bad a probe's answer is. Slow and down are equally bad: each ends the other's streak, so a
/// down probe may hold where one more slow probe would have stepped out.
fn badness(class: Class) -> u8 {
    match class {
        Class::Fast => 0,
        Class::Normal => 1,
        Class::Slow | Class::Down => 2,
    }
}

proptest! {
    #[test]
    fn the_probe_rules_keep_the_target_within_min_max_and_above_the_baseline(
        (policy, schedule, events) in arb_probe_run(),
    ) {
        lived(policy, schedule, events)?;
    }

    /// One probe more, after the same history: the worse its answer, the more dynos (a fast one
    /// may step in, a normal one holds, a slow or down one holds, steps out or fails safe).
    #[test]
    fn a_worse_probe_never_leaves_fewer_dynos(
        (policy, schedule, events) in arb_probe_run(),
        classes in (arb_class(), arb_class()),
        gap in 1u64..900,
    ) {
        let (d, t) = lived(policy, schedule, events)?;
        let (better, worse) = if badness(classes.0) <= badness(classes.1) {
            classes
        } else {
            (classes.1, classes.0)
        };
        prop_assume!(badness(better) < badness(worse) || better == worse);
        let t = t + SEC * gap as u32;
        let (mut a, mut b) = (d.clone(), d);
        a.handle(probe(better), t);
        b.handle(probe(worse), t);
        prop_assert!(
            b.target() >= a.target(),
            "{worse:?} left {}, {better:?} left {}", b.target(), a.target()
        );
    }

    /// While probes say slow or down (the schedule aside), the target never falls.
    #[test]
    fn trouble_never_lowers_the_target(
        (policy, schedule, events) in arb_probe_run(),
        trouble in proptest::collection::vec(
            (1u64..120, prop_oneof![Just(Class::Slow), Just(Class::Down)]),
            1..30,
        ),
    ) {
        let (mut d, mut t) = lived(policy, schedule, events)?;
        for (gap, class) in trouble {
            t += SEC * gap as u32;
            let (before, baseline) = (d.target(), d.snapshot().baseline);
            d.handle(probe(class), t);
            within_bounds(&d, &policy)?;
            if d.snapshot().baseline >= baseline {
                prop_assert!(d.target() >= before, "{class:?}: {before} → {}", d.target());
            }
        }
    }
}
