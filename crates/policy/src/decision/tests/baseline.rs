//! The schedule's baseline: where a decider starts, and how the baseline rises and falls.

use super::*;

#[test]
fn starts_at_the_baseline() {
    assert_eq!(
        Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None).target(),
        3
    );
    assert_eq!(
        Decider::new(policy(), seed_schedule(1), at(23, 0, 0), None).target(),
        2
    );
    assert_eq!(
        Decider::new(policy(), seed_schedule(1), at(4, 0, 0), None).target(),
        1
    );
}

#[test]
fn baseline_rises_at_once_and_falls_at_once_when_calm() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(6, 59, 0), None);
    assert_eq!(d.target(), 1);
    assert_eq!(scales(&d.handle(Event::Tick, at(7, 0, 0))), [(1, 3)]);
    assert_eq!(scales(&d.handle(Event::Tick, at(22, 0, 0))), [(3, 2)]);
}

#[test]
fn baseline_falls_by_step_in_when_recently_slow() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(21, 50, 0), None);
    d.handle(probe(Class::Slow), at(21, 55, 0));
    assert!(
        scales(&d.handle(Event::Tick, at(22, 0, 0))).is_empty(),
        "slow 5 minutes ago"
    );
    assert_eq!(d.snapshot().baseline, 2);
    d.handle(probe(Class::Fast), at(22, 4, 0));
    assert_eq!(
        scales(&d.handle(probe(Class::Fast), at(22, 5, 0))),
        [(3, 2)],
        "a calm after the slow probe"
    );
}

#[test]
fn starts_from_an_observed_quantity_above_the_baseline_and_steps_it_in() {
    let start = at(12, 0, 0);
    let started = |observed| Decider::new(policy(), seed_schedule(1), start, observed).target();
    assert_eq!(
        started(Some(1)),
        3,
        "below the baseline: the baseline at once"
    );
    assert_eq!(started(Some(0)), 3);
    assert_eq!(started(Some(9)), 5, "never above max");
    assert_eq!(started(None), 3);

    let mut d = Decider::new(policy(), seed_schedule(1), start, Some(5));
    assert_eq!(d.target(), 5, "not cut at once");
    assert!(d.handle(Event::Tick, start).is_empty());
    let mut steps = Vec::new();
    let mut t = start;
    for _ in 0..60 {
        t += 30 * SEC;
        for step in scales(&d.handle(probe(Class::Fast), t)) {
            steps.push((step, t));
        }
    }
    assert_eq!(
        steps,
        [((5, 4), at(12, 10, 0)), ((4, 3), at(12, 20, 0))],
        "one per calm of fast probes, down to the baseline"
    );
}

proptest! {
    /// With nothing but the schedule (ticks only), the target is the baseline, within `[min, max]`.
    #[test]
    fn ticks_alone_keep_the_target_at_the_baseline(
        (policy, schedule, ticks) in arb_run(),
    ) {
        let mut t = at(0, 0, 0);
        let mut d = Decider::new(policy, schedule.clone(), t, None);
        for (gap, _) in ticks {
            t += SEC * gap as u32 * 10;
            d.handle(Event::Tick, t);
            within_bounds(&d, &policy)?;
            prop_assert_eq!(d.target(), d.snapshot().baseline);
            let expected = schedule.baseline_at(t).clamp(policy.min, policy.max);
            prop_assert_eq!(d.snapshot().baseline, expected);
        }
    }

    /// Started above the baseline (a formation found scaled out), ticks never raise the target
    /// but with the baseline, nor bring it below.
    #[test]
    fn a_formation_found_above_the_baseline_only_falls_to_it(
        (policy, schedule, ticks) in arb_run(),
        observed in 0u32..20,
    ) {
        let mut t = at(0, 0, 0);
        let mut d = Decider::new(policy, schedule, t, Some(observed));
        within_bounds(&d, &policy)?;
        for (gap, _) in ticks {
            t += SEC * gap as u32 * 10;
            let before = d.target();
            let baseline_before = d.snapshot().baseline;
            d.handle(Event::Tick, t);
            within_bounds(&d, &policy)?;
            if d.target() > before {
                prop_assert!(d.snapshot().baseline > baseline_before, "rose without the baseline");
                prop_assert_eq!(d.target(), d.snapshot().baseline);
            }
        }
    }
}
