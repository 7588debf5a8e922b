//! The decider's tests, one file per recommender (what a signal's readings make the decider do)
//! and [`decider`] for what holds whatever the events; the helpers they share are here.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use schedule::{Rule, Schedule};

use super::*;
use crate::{Class, RouterHealth, TrafficPolicy, TrafficReason};

mod baseline;
mod decider;
mod fail_safe;
mod overrides;
mod probe;
mod queue;
mod router_errors;
mod router_health;
mod traffic;

const SEC: Duration = Duration::from_secs(1);

fn policy() -> Policy {
    Policy {
        min: 1,
        max: 5,
        step: 1,
        failures: 2,
        scale_out_cooldown: Duration::from_secs(120),
        calm: Duration::from_secs(600),
        traffic: None,
    }
}

/// The seed schedule: 3 from 07:00, 2 from 22:00, 1 from 03:00 UTC.
fn seed_schedule(min: u32) -> Schedule {
    let rules = [("0 7 * * *", 3), ("0 22 * * *", 2), ("0 3 * * *", 1)]
        .into_iter()
        .map(|(cron, q)| Rule::new(cron, q).unwrap())
        .collect();
    Schedule::new(rules, chrono_tz::UTC, min)
}

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, h, m, s).unwrap()
}

fn probe(class: Class) -> Event {
    Event::Probe {
        class,
        detail: format!("{class:?}"),
    }
}

fn scales(actions: &[Action]) -> Vec<(u32, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Scale { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

/// The reason of the first scale action, as logged.
fn first_reason(actions: &[Action]) -> String {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Scale { reason, .. } => Some(reason.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no scale: {actions:?}"))
}

fn alerts(actions: &[Action]) -> Vec<NoticeKind> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Alert(n) => Some(n.kind),
            _ => None,
        })
        .collect()
}

fn traffic_policy() -> Policy {
    Policy {
        max: 10,
        traffic: Some(TrafficPolicy::new(2, 0.8)),
        ..policy()
    }
}

/// [`traffic_policy`] for dynos that serve one request at a time.
fn one_slot_policy() -> Policy {
    Policy {
        traffic: Some(TrafficPolicy::new(1, 0.8)),
        ..traffic_policy()
    }
}

/// A scale step a decider took: from and to, when, and its reason.
type Step = ((u32, u32), DateTime<Utc>, String);

/// The scale steps `d` takes fed `seen(at, target)` every `every` after `from` until `until`:
/// data a second old, for the target `d` has then.
fn fed_steps(
    d: &mut Decider,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    every: Duration,
    mut seen: impl FnMut(DateTime<Utc>, u32) -> Event,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut t = from;
    while t < until {
        t += every;
        let event = seen(t - SEC, d.target());
        for action in d.handle(event, t) {
            if let Action::Scale { from, to, reason } = action {
                steps.push(((from, to), t, reason.to_string()));
            }
        }
    }
    steps
}

/// The scale steps `d` takes, each with its time, fed `in_flight` requests in flight (data a
/// second old) every `every` after `from` until `until`.
fn traffic_steps(
    d: &mut Decider,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    every: Duration,
    in_flight: f64,
) -> Vec<((u32, u32), DateTime<Utc>)> {
    fed_steps(d, from, until, every, |at, _| traffic(at, in_flight))
        .into_iter()
        .map(|(step, t, _)| (step, t))
        .collect()
}

/// Traffic seen at `at` (a second before `now` in the tests), `in_flight` requests in flight in
/// both windows, 100 ms mean service.
fn traffic(at: DateTime<Utc>, in_flight: f64) -> Event {
    Event::Traffic(Box::new(Traffic {
        // Exactly `in_flight`, whatever arrivals × mean rounds to.
        in_flight,
        panic_in_flight: in_flight,
        ..Traffic::steady(at, in_flight * 10.0, 0.1)
    }))
}

fn seen(at: DateTime<Utc>, change: impl FnOnce(&mut Traffic)) -> Event {
    let Event::Traffic(mut t) = traffic(at, 1.0) else {
        unreachable!()
    };
    change(&mut t);
    Event::Traffic(t)
}

/// What the router reports for an app whose dynos serve one request at a time in 100 ms,
/// queueing the rest (M/M/1, like the demo's app), with `arrivals` requests a second spread
/// over `dynos`.
fn one_slot_dynos(at: DateTime<Utc>, arrivals: f64, dynos: u32) -> Event {
    one_slot_dynos_at(at, arrivals, dynos, 0.1)
}

/// The same, each request taking `service` seconds on an idle dyno.
fn one_slot_dynos_at(at: DateTime<Utc>, arrivals: f64, dynos: u32, service: f64) -> Event {
    let rho = arrivals * service / f64::from(dynos);
    // Overloaded, requests wait for the router's 30 s timeout.
    let mean = if rho < 1.0 {
        service / (1.0 - rho)
    } else {
        30.0
    };
    Event::Traffic(Box::new(Traffic::steady(at, arrivals, mean)))
}

/// One dyno at ρ 0.98 (two slots, 100 ms): M/M/2 holds 2ρ / (1 − ρ²) = 49.5 in flight, a
/// mean of 2.526 s. The last 6 s as the aggregator counts them: a request once it completed,
/// so those that arrived in their last 2.526 s are missing (11.35 of 19.6 a second counted).
fn saturated_one_dyno(at: DateTime<Utc>) -> Event {
    seen(at, |t| {
        t.arrivals_per_sec = 19.6;
        t.panic_arrivals_per_sec = 19.6 * (6.0 - 2.526) / 6.0;
        t.in_flight = 49.5;
        t.panic_in_flight = 19.6 * (6.0 - 2.526) / 6.0 * 2.526;
        t.mean_service = Some(Duration::from_millis(2526));
        t.dynos = 1;
        t.panic_dynos = 1;
    })
}

fn arb_class() -> impl Strategy<Value = Class> {
    prop_oneof![
        Just(Class::Down),
        Just(Class::Slow),
        Just(Class::Normal),
        Just(Class::Fast)
    ]
}

/// Traffic seen `lag` seconds before the event's instant (up to 3 minutes: stale too). The
/// instant is not known here, so `at` is filled in by [`timed`].
fn arb_traffic() -> impl Strategy<Value = (u64, Traffic)> {
    (
        0u64..180,
        0.0f64..20.0,
        0.0f64..40.0,
        prop_oneof![4 => Just(0u32), 1 => 0u32..30],
        prop_oneof![5 => Just(false), 1 => Just(true)],
        50u64..400,
    )
        .prop_map(
            |(lag, in_flight, panic_in_flight, errors, maintenance, mean)| {
                // Means that vary move the unqueued estimate, which a restart must keep.
                let mean = Duration::from_millis(mean);
                let arrivals = in_flight / mean.as_secs_f64();
                let traffic = Traffic {
                    in_flight,
                    panic_in_flight,
                    panic_arrivals_per_sec: panic_in_flight / mean.as_secs_f64(),
                    trouble_errors_last_minute: errors,
                    server_errors_last_minute: errors,
                    maintenance,
                    ..Traffic::steady(at(0, 0, 0), arrivals, mean.as_secs_f64())
                };
                (lag, traffic)
            },
        )
}

/// The router lines' health of the last 10 s, seen `lag` seconds before the event's instant
/// (filled in by [`timed`]), from healthy to every request failing.
fn arb_router_health() -> impl Strategy<Value = Event> {
    (0u32..20, 0u64..200, 0u64..=100).prop_map(|(lag, requests, percent)| {
        Event::RouterHealth(Box::new(lines_failing(
            at(0, 0, 0) - SEC * lag,
            requests,
            requests * percent / 100,
        )))
    })
}

/// The router's lines of the 10 s up to `at`: `requests`, of which `failing` answered 503.
fn lines_failing(at: DateTime<Utc>, requests: u64, failing: u64) -> RouterHealth {
    RouterHealth {
        at,
        window: Duration::from_secs(10),
        requests,
        failing: match failing {
            0 => vec![],
            n => vec![("503".to_owned(), n)],
        },
    }
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => arb_class().prop_map(probe),
        1 => Just(Event::Tick),
        1 => any::<bool>().prop_map(Event::Maintenance),
        2 => arb_router_health(),
        3 => arb_traffic().prop_map(|(lag, mut t)| {
            // Encoded as the lag in seconds; `timed` sets the real instant.
            t.at = at(0, 0, 0) - SEC * lag as u32;
            Event::Traffic(Box::new(t))
        }),
    ]
}

/// `event` at `now`: a traffic observation's `at` becomes `now` minus its lag.
fn timed(event: Event, now: DateTime<Utc>) -> Event {
    match event {
        Event::Traffic(mut t) => {
            t.at = now - (at(0, 0, 0) - t.at);
            Event::Traffic(t)
        }
        Event::RouterHealth(mut h) => {
            h.at = now - (at(0, 0, 0) - h.at);
            Event::RouterHealth(h)
        }
        other => other,
    }
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    (
        (0u32..3, 0u32..5, 1u32..3, 1u32..4, 0u64..300, 1u64..900),
        proptest::option::of((1u32..8, 1u32..=10, 1u64..600)),
    )
        .prop_map(
            |((min, span, step, failures, cool, calm), traffic)| Policy {
                min,
                max: (min + span).max(1),
                step,
                failures,
                scale_out_cooldown: Duration::from_secs(cool),
                calm: Duration::from_secs(calm),
                traffic: traffic.map(|(concurrency, tenths, window)| TrafficPolicy {
                    stabilisation: Duration::from_secs(window),
                    ..TrafficPolicy::new(concurrency, f64::from(tenths) / 10.0)
                }),
            },
        )
}

fn arb_schedule(policy: Policy) -> impl Strategy<Value = Schedule> {
    let quantity = policy.min..=policy.max;
    proptest::collection::vec((0u32..24, quantity), 0..4).prop_map(move |rules| {
        let rules = rules
            .into_iter()
            .map(|(hour, q)| Rule::new(&format!("0 {hour} * * *"), q).unwrap())
            .collect();
        Schedule::new(rules, chrono_tz::UTC, policy.min)
    })
}

fn arb_run() -> impl Strategy<Value = (Policy, Schedule, Vec<(u64, Event)>)> {
    arb_policy().prop_flat_map(|policy| {
        (
            Just(policy),
            arb_schedule(policy),
            proptest::collection::vec((1u64..600, arb_event()), 1..200),
        )
    })
}

/// What every recommender keeps, checked after each event: the target within `[min, max]` and
/// never below the baseline.
fn within_bounds(d: &Decider, policy: &Policy) -> Result<(), TestCaseError> {
    let (target, baseline) = (d.target(), d.snapshot().baseline);
    prop_assert!(
        policy.min <= target && target <= policy.max,
        "target {target} outside [{}, {}]",
        policy.min,
        policy.max
    );
    prop_assert!(
        target >= baseline,
        "target {target} below the baseline {baseline}"
    );
    Ok(())
}

/// A decider that lived through `events` (each after its gap in seconds) from `at(0, 0, 0)`, and
/// the instant it stopped at.
fn lived(
    policy: Policy,
    schedule: Schedule,
    events: Vec<(u64, Event)>,
) -> Result<(Decider, DateTime<Utc>), TestCaseError> {
    let mut t = at(0, 0, 0);
    let mut d = Decider::new(policy, schedule, t, None);
    for (gap, event) in events {
        t += SEC * gap as u32;
        d.handle(timed(event, t), t);
        within_bounds(&d, &policy)?;
    }
    Ok((d, t))
}
