//! Overrides and pauses: a baseline and bounds for a window, the later-created winning where they
//! overlap, the rules acting within them, a pause that stops every scale, and the ends as decisions.

use super::*;
use crate::{Override, OverrideKind};

fn set(
    id: i64,
    quantity: Option<u32>,
    max: Option<u32>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Override {
    Override {
        id,
        label: format!("override #{id}"),
        kind: OverrideKind::Set {
            quantity,
            min: None,
            max,
        },
        from,
        until: Some(until),
        created_at: at(0, 0, id as u32),
    }
}

fn pause(id: i64, from: DateTime<Utc>, until: Option<DateTime<Utc>>) -> Override {
    Override {
        id,
        label: format!("pause #{id}"),
        kind: OverrideKind::Pause,
        from,
        until,
        created_at: at(0, 0, id as u32),
    }
}

fn notes(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Note(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_override_replaces_the_baseline_for_its_window_and_its_end_is_a_decision() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    assert_eq!(d.target(), 3);
    let launch = set(1, Some(5), None, at(13, 0, 0), at(14, 0, 0));
    assert!(
        scales(&d.handle(Event::Overrides(vec![launch]), at(12, 0, 2))).is_empty(),
        "coming"
    );
    let started = d.handle(Event::Tick, at(13, 0, 0));
    assert_eq!(scales(&started), [(3, 5)]);
    assert_eq!(first_reason(&started), "override #1: baseline 5");
    assert_eq!(notes(&started), ["obeys override #1"]);
    assert_eq!(d.snapshot().baseline, 5);

    let ended = d.handle(Event::Tick, at(14, 0, 0));
    assert_eq!(
        scales(&ended),
        [(5, 3)],
        "back to the schedule's baseline at its end"
    );
    assert_eq!(
        first_reason(&ended),
        "override #1 ended: schedule baseline 3"
    );
    assert_eq!(notes(&ended), ["override #1 ended"]);
}

#[test]
fn a_removed_override_ends_at_the_next_reading() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    let launch = set(1, Some(4), None, at(12, 0, 0), at(18, 0, 0));
    assert_eq!(
        scales(&d.handle(Event::Overrides(vec![launch]), at(12, 0, 2))),
        [(3, 4)]
    );
    assert_eq!(
        scales(&d.handle(Event::Overrides(vec![]), at(12, 30, 0))),
        [(4, 3)]
    );
}

#[test]
fn overlapping_overrides_the_later_created_wins_and_the_rules_act_within_the_bounds() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    // #1 sets the quantity 4 and max 8; #2, created later, sets max 4 only: quantity 4, max 4.
    let wide = set(1, Some(4), Some(8), at(12, 0, 0), at(18, 0, 0));
    let narrow = set(2, None, Some(4), at(12, 0, 0), at(18, 0, 0));
    let actions = d.handle(Event::Overrides(vec![narrow, wide]), at(12, 0, 1));
    assert_eq!(scales(&actions), [(3, 4)]);
    // The fail-safe goes to the override's max, not the policy's 5... and not beyond 4.
    d.handle(probe(Class::Down), at(12, 1, 0));
    let down = d.handle(probe(Class::Down), at(12, 1, 30));
    assert!(
        scales(&down).is_empty(),
        "already at the override's max: {down:?}"
    );
    assert_eq!(alerts(&down), [NoticeKind::Outage]);

    // With only #1, the rules may go up to 8.
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    d.handle(
        Event::Overrides(vec![set(1, Some(4), Some(8), at(12, 0, 0), at(18, 0, 0))]),
        at(12, 0, 1),
    );
    d.handle(probe(Class::Down), at(12, 1, 0));
    assert_eq!(
        scales(&d.handle(probe(Class::Down), at(12, 1, 30))),
        [(4, 8)]
    );
}

#[test]
fn a_lower_max_brings_the_target_down_at_once() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), Some(5));
    assert_eq!(d.target(), 5);
    let capped = d.handle(
        Event::Overrides(vec![set(1, None, Some(2), at(12, 0, 0), at(13, 0, 0))]),
        at(12, 0, 1),
    );
    assert_eq!(scales(&capped), [(5, 2)]);
    assert_eq!(first_reason(&capped), "override #1: within [1, 2]");
}

#[test]
fn a_pause_stops_every_scale_even_the_fail_safe_and_says_so_in_the_outage_alert() {
    let mut d = Decider::new(policy(), seed_schedule(1), at(6, 0, 0), None);
    assert_eq!(d.target(), 1);
    let migration = pause(1, at(6, 0, 0), Some(at(8, 0, 0)));
    let paused = d.handle(Event::Overrides(vec![migration]), at(6, 0, 1));
    assert_eq!(notes(&paused), ["obeys pause #1"]);
    assert!(d.paused());
    // The schedule's rise at 07:00 and the fail-safe: no scale.
    assert!(scales(&d.handle(Event::Tick, at(7, 0, 0))).is_empty());
    d.handle(probe(Class::Down), at(7, 1, 0));
    let down = d.handle(probe(Class::Down), at(7, 1, 30));
    assert!(scales(&down).is_empty(), "{down:?}");
    let alert = down.iter().find_map(|a| match a {
        Action::Alert(notice) => Some(notice.clone()),
        _ => None,
    });
    let alert = alert.expect("the outage is alerted");
    assert_eq!(
        (alert.kind, alert.from, alert.to),
        (NoticeKind::Outage, 1, 1)
    );
    assert!(
        alert
            .detail
            .ends_with("autoscaled is paused (pause #1) and did not act"),
        "{}",
        alert.detail
    );

    // At its end, the rules act again: the schedule's baseline and the open outage's fail-safe.
    let resumed = d.handle(Event::Tick, at(8, 0, 0));
    assert!(!d.paused());
    assert_eq!(notes(&resumed), ["pause #1 ended"]);
    assert_eq!(scales(&resumed), [(1, 3)]);
    assert_eq!(
        first_reason(&resumed),
        "pause #1 ended: schedule baseline 3"
    );
    assert_eq!(
        scales(&d.handle(probe(Class::Down), at(8, 0, 30))),
        [(3, 5)]
    );
}

proptest! {
    /// With overrides coming and going, the target stays within the bounds in force and moves
    /// only by scale actions, never during a pause.
    #[test]
    fn the_target_stays_within_the_bounds_in_force(
        (policy, schedule, events) in arb_run(),
        quantity in 0u32..12,
        max in 1u32..12,
    ) {
        let mut t = at(0, 0, 0);
        let mut d = Decider::new(policy, schedule, t, None);
        let window = set(1, Some(quantity.min(max)), Some(max), at(0, 10, 0), at(0, 40, 0));
        let stop = pause(2, at(0, 50, 0), Some(at(1, 0, 0)));
        d.handle(Event::Overrides(vec![window.clone(), stop.clone()]), t);
        for (gap, event) in events {
            t += SEC * gap as u32;
            let before = d.target();
            let actions = d.handle(timed(event, t), t);
            if stop.applies_at(t) {
                prop_assert!(scales(&actions).is_empty());
                prop_assert_eq!(d.target(), before);
            } else if window.applies_at(t) {
                prop_assert!(d.target() <= max.max(policy.min.min(max)));
            }
        }
    }
}
