//! A worker scaled on its job queues: wake from zero, out at once on the oldest job's age, in
//! only after a calm window and never below the busy jobs' dynos, the stuck-queue alert.

use std::time::Duration;

use super::*;
use crate::{QueueFigures, QueuePolicy, QueueReading};

fn worker_policy() -> Policy {
    Policy {
        min: 0,
        max: 8,
        ..policy()
    }
}

fn queue_policy() -> QueuePolicy {
    QueuePolicy::new(30 * SEC, 10)
}

/// A worker at `target` dynos at `now`, its schedule at 0.
fn worker(target: u32, now: DateTime<Utc>) -> Decider {
    let off = Schedule::new(Vec::new(), chrono_tz::UTC, 0);
    Decider::new(worker_policy(), off, now, Some(target)).with_queue(queue_policy())
}

/// One queue, `default`, read at `at`.
fn reading(at: DateTime<Utc>, depth: u64, latency: u64, busy: Option<u64>) -> Event {
    Event::Queue(Box::new(QueueReading {
        at,
        queues: vec![QueueFigures {
            name: "default".into(),
            depth,
            latency: Some(Duration::from_secs(latency)),
            busy,
            due: 0,
        }],
    }))
}

/// Feeds `d` the same figures every 10 s from `from` until `until`; the scale steps it took.
fn polled(
    d: &mut Decider,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    mut figures: impl FnMut(DateTime<Utc>, u32) -> (u64, u64, Option<u64>),
) -> Vec<Step> {
    fed_steps(d, from, until, 10 * SEC, |at, target| {
        let (depth, latency, busy) = figures(at, target);
        reading(at, depth, latency, busy)
    })
}

#[test]
fn the_first_job_wakes_a_worker_at_zero_within_one_poll() {
    let mut d = worker(0, at(12, 0, 0));
    assert!(scales(&d.handle(reading(at(12, 0, 9), 0, 0, Some(0)), at(12, 0, 10))).is_empty());
    let actions = d.handle(reading(at(12, 0, 19), 1, 0, Some(0)), at(12, 0, 20));
    assert_eq!(scales(&actions), [(0, 1)]);
    let reason = first_reason(&actions);
    assert!(
        reason.starts_with(
            "queue: jobs at zero dynos, wake to 1: default 1 ready, oldest 0s, 0 busy, 0 due"
        ),
        "{reason}"
    );
    // Many jobs at once wake as many dynos as they fill.
    let mut d = worker(0, at(12, 0, 0));
    let actions = d.handle(reading(at(12, 0, 9), 35, 0, Some(0)), at(12, 0, 10));
    assert_eq!(scales(&actions), [(0, 4)]);
}

#[test]
fn a_breach_scales_out_at_once_and_a_rising_age_before_it() {
    // Every slot busy, the oldest job 31 s old: out at once, a slot for each job at least one more.
    let mut d = worker(2, at(12, 0, 0));
    let actions = d.handle(reading(at(12, 0, 9), 5, 31, Some(20)), at(12, 0, 10));
    assert_eq!(scales(&actions), [(2, 3)]);
    let reason = first_reason(&actions);
    assert!(
        reason.starts_with("queue: oldest job over the 30s target, out to 3 (10 jobs a dyno): default 5 ready, oldest 31s, 20 busy"),
        "{reason}"
    );
    // The age grows 0.5 s a second: 12 s now is 32 s after a poll and a boot: out before it.
    let mut d = worker(2, at(12, 0, 0));
    assert!(scales(&d.handle(reading(at(12, 0, 0), 5, 7, Some(20)), at(12, 0, 1))).is_empty());
    let actions = d.handle(reading(at(12, 0, 10), 9, 12, Some(20)), at(12, 0, 11));
    // Keeping up takes 20 / (1 − 0.5) = 40 slots, working off the 12 s backlog within the calm
    // window 2% more: 40.8 slots, 5 dynos.
    assert_eq!(scales(&actions), [(2, 5)]);
    assert!(
        first_reason(&actions)
            .starts_with("queue: oldest job would pass the 30s target within a boot")
    );
    // While they boot (busy fill fewer slots than 4 dynos), the same figures ask for nothing more.
    let again = d.handle(reading(at(12, 0, 20), 13, 17, Some(20)), at(12, 0, 21));
    assert!(scales(&again).is_empty(), "{again:?}");
}

#[test]
fn dynos_that_just_began_serving_are_not_topped_up_by_one_more() {
    // 6 dynos, 4 of them serving (40 busy) while the oldest job's age grew to 15 s; then the
    // other 2 serve (60 busy) and the age grew 0.2 s a second meanwhile: the arrivals ask for
    // 40 / (1 − 0.2) = 50 slots, the backlog 3% more: the 60 slots now busy keep up. Before, the
    // busy slots stood in for the arrivals and one more dyno came on top, held for a calm window.
    let mut d = worker(6, at(12, 0, 0));
    assert!(scales(&d.handle(reading(at(12, 0, 0), 300, 15, Some(40)), at(12, 0, 1))).is_empty());
    let actions = d.handle(reading(at(12, 0, 10), 320, 17, Some(60)), at(12, 0, 11));
    assert!(scales(&actions).is_empty(), "{actions:?}");
    // Arrivals beyond them still scale out, to what they ask for: 0.5 s a second is 120 slots.
    let actions = d.handle(reading(at(12, 0, 20), 500, 22, Some(60)), at(12, 0, 21));
    assert_eq!(scales(&actions), [(6, 8)]);
}

#[test]
fn scales_in_only_after_a_calm_window_and_never_below_the_busy_jobs() {
    let mut d = worker(6, at(12, 0, 0));
    // 25 busy, none waiting: 3 dynos' worth, but only after 10 minutes of it.
    let steps = polled(&mut d, at(12, 0, 0), at(12, 20, 0), |_, _| (0, 0, Some(25)));
    assert_eq!(steps.len(), 1, "{steps:?}");
    let ((from, to), when, reason) = &steps[0];
    assert_eq!((*from, *to), (6, 3), "never below ceil(25 / 10)");
    assert!(*when >= at(12, 10, 0), "{when}");
    assert!(
        reason.starts_with("queue: calm for 10m, in to 3"),
        "{reason}"
    );

    // A scale out starts the calm again: no step in within 10 minutes of it.
    let mut d = worker(2, at(12, 0, 0));
    polled(&mut d, at(12, 0, 0), at(12, 11, 0), |_, _| (0, 0, Some(15)));
    d.handle(reading(at(12, 11, 10), 40, 35, Some(20)), at(12, 11, 11));
    let out = d.target();
    assert!(out > 2);
    let steps = polled(&mut d, at(12, 11, 11), at(12, 30, 0), |_, _| {
        (0, 0, Some(15))
    });
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].0, (out, 2));
    assert!(steps[0].1 >= at(12, 21, 11), "{steps:?}");
}

#[test]
fn reaches_zero_only_after_ready_and_busy_stayed_zero_for_the_calm_window() {
    let mut d = worker(2, at(12, 0, 0));
    // Busy until 12:05, then nothing at all.
    let steps = polled(&mut d, at(12, 0, 0), at(12, 30, 0), |t, _| {
        let busy = if t < at(12, 5, 0) { 15 } else { 0 };
        (0, 0, Some(busy))
    });
    let zero = steps
        .iter()
        .find(|(step, _, _)| step.1 == 0)
        .expect("to zero");
    assert!(zero.1 >= at(12, 15, 0), "{steps:?}");
    // Every step on the way kept the dynos the busy jobs held then.
    for ((_, to), when, _) in &steps {
        if *when < at(12, 5, 0) {
            assert!(*to >= 2, "{steps:?}");
        }
    }
}

#[test]
fn without_busy_figures_one_dyno_in_per_calm_of_empty_queues() {
    let mut d = worker(3, at(12, 0, 0));
    let steps = polled(&mut d, at(12, 0, 0), at(12, 35, 0), |_, _| (0, 0, None));
    let counts: Vec<(u32, u32)> = steps.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(counts, [(3, 2), (2, 1), (1, 0)]);
}

#[test]
fn a_stuck_queue_alerts_once_and_recovers_when_it_drains() {
    let mut d = worker(8, at(12, 0, 0));
    let mut alerts_seen = Vec::new();
    let mut t = at(12, 0, 0);
    while t < at(12, 8, 0) {
        t += 10 * SEC;
        let actions = d.handle(reading(t - SEC, 500, 120, Some(80)), t);
        alerts_seen.extend(actions.into_iter().filter_map(|a| match a {
            Action::Alert(n) => Some((n.kind, n.detail, t)),
            _ => None,
        }));
    }
    assert_eq!(alerts_seen.len(), 1, "once: {alerts_seen:?}");
    let (kind, detail, when) = &alerts_seen[0];
    assert_eq!(*kind, NoticeKind::QueueStuck);
    assert!(*when >= at(12, 5, 0), "after stuck_after");
    assert!(
        detail.starts_with("job queue stuck: over the target at max (8 dynos)")
            && detail.contains("oldest job 2m old (target 30s), 500 ready, 80 busy"),
        "{detail}"
    );
    let drained = d.handle(reading(t + 9 * SEC, 0, 0, Some(30)), t + 10 * SEC);
    assert_eq!(alerts(&drained), [NoticeKind::QueueDrained]);
    assert!(alerts(&d.handle(reading(t + 19 * SEC, 0, 0, Some(30)), t + 20 * SEC)).is_empty());
}

#[test]
fn queue_state_survives_a_restart_and_a_web_state_is_stored_as_before() {
    let web = Decider::new(policy(), seed_schedule(1), at(12, 0, 0), None);
    let json = serde_json::to_string(&web.state()).unwrap();
    assert!(!json.contains("\"queue\":"), "{json}");
    let mut d = worker(2, at(12, 0, 0));
    polled(&mut d, at(12, 0, 0), at(12, 5, 0), |_, _| (0, 0, Some(15)));
    let stored: DeciderState =
        serde_json::from_str(&serde_json::to_string(&d.state()).unwrap()).unwrap();
    assert_eq!(stored, d.state());
}

/// One poll's figures: depth, latency in seconds, busy, due.
type Figures = (u64, u64, Option<u64>, u64);

fn arb_reading() -> impl Strategy<Value = Figures> {
    (
        prop_oneof![3 => 0u64..200, 1 => Just(u64::MAX)],
        prop_oneof![3 => 0u64..120, 1 => Just(u64::MAX / 2)],
        prop_oneof![3 => (0u64..100).prop_map(Some), 1 => Just(None), 1 => Just(Some(u64::MAX))],
        0u64..20,
    )
}

fn queue_event(
    at: DateTime<Utc>,
    (depth, latency, busy, due): (u64, u64, Option<u64>, u64),
) -> Event {
    Event::Queue(Box::new(QueueReading {
        at,
        queues: vec![
            QueueFigures {
                name: "default".into(),
                depth,
                latency: Some(Duration::from_secs(latency)),
                busy,
                due,
            },
            QueueFigures {
                name: "mailers".into(),
                depth: due,
                latency: None,
                busy: Some(due),
                due: 0,
            },
        ],
    }))
}

fn arb_queue_run() -> impl Strategy<Value = (Policy, Schedule, Vec<(u64, Figures)>)> {
    arb_policy().prop_flat_map(|policy| {
        (
            Just(policy),
            arb_schedule(policy),
            proptest::collection::vec((1u64..120, arb_reading()), 1..120),
        )
    })
}

proptest! {
    /// Whatever the readings, huge ones included: the target within `[min, max]`, above the
    /// baseline, and a scale in never below the dynos the busy jobs occupy.
    #[test]
    fn the_queue_rules_stay_bounded_and_never_cut_busy_jobs((policy, schedule, readings) in arb_queue_run()) {
        let mut t = at(0, 0, 0);
        let mut d = Decider::new(policy, schedule, t, None).with_queue(queue_policy());
        for (gap, figures) in readings {
            t += SEC * gap as u32;
            let before = d.target();
            d.handle(queue_event(t, figures), t);
            within_bounds(&d, &policy)?;
            let (_, _, busy, due) = figures;
            if let Some(busy) = busy {
                let occupied = u32::try_from(busy.saturating_add(due).div_ceil(10)).unwrap_or(u32::MAX);
                if d.target() < before {
                    prop_assert!(d.target() >= occupied.min(policy.max), "{before} → {} with {busy} busy", d.target());
                }
            }
        }
    }

    /// More jobs waiting or an older oldest job, after the same history, never leaves fewer
    /// dynos.
    #[test]
    fn more_depth_or_latency_never_leaves_fewer_dynos(
        (policy, schedule, readings) in arb_queue_run(),
        last in arb_reading(),
        more_depth in 0u64..500,
        more_latency in 0u64..300,
        gap in 1u64..60,
    ) {
        let mut t = at(0, 0, 0);
        let mut d = Decider::new(policy, schedule, t, None).with_queue(queue_policy());
        for (g, figures) in readings {
            t += SEC * g as u32;
            d.handle(queue_event(t, figures), t);
        }
        let t = t + SEC * gap as u32;
        let mut less = d.clone();
        let mut more = d;
        let (depth, latency, busy, due) = last;
        less.handle(queue_event(t, last), t);
        more.handle(queue_event(t, (depth.saturating_add(more_depth), latency.saturating_add(more_latency), busy, due)), t);
        prop_assert!(more.target() >= less.target(), "{} < {}", more.target(), less.target());
    }

    /// Once the arrivals are measured (two readings with jobs waiting and slots busy), a scale
    /// out asks for no more than they and the backlog's drain within the calm window need, or the
    /// slots busy now: never one more on top.
    #[test]
    fn a_measured_scale_out_asks_only_what_the_arrivals_and_backlog_need(
        start in 1u32..8,
        busy in (1u64..100, 0u64..100),
        oldest in (0u64..120, 0u64..10),
        ready in (1u64..1000, 1u64..1000),
    ) {
        let t = at(12, 0, 0);
        let later = t + 10 * SEC;
        let mut d = worker(start, t);
        d.handle(reading(t, ready.0, oldest.0, Some(busy.0)), t);
        let before = d.target();
        let (last, now) = (oldest.0, oldest.0 + oldest.1);
        d.handle(reading(later, ready.1, now, Some(busy.1)), later);
        if d.target() > before {
            let served = busy.0.min(busy.1) as f64;
            let growth = ((now - last) as f64 / 10.0).clamp(0.0, 0.9);
            let arrivals = served / (1.0 - growth) * (1.0 + now as f64 / 600.0);
            let needed = (arrivals.max(busy.1 as f64) / 10.0 + 1e-9).ceil() as u32;
            prop_assert!(
                d.target() <= needed.clamp(0, 8),
                "{before} → {} where {arrivals:.1} slots and {} busy need {needed}",
                d.target(),
                busy.1
            );
        }
    }
}
