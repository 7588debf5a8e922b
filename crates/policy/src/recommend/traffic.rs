//! The traffic rules, from the router's figures ([`Traffic`]): the stable demand (the busy slots
//! and the in-flight term of the last minute) followed out at once past a tolerance and in after
//! the stabilisation window; the panic demand of the last 6 s, on a jump or when the dynos that
//! answered are saturated; and, on the way in, no lower than the last seconds ask, than the queue
//! predicted at one dyno fewer, than the usual load of the last two hours at full use, or than a
//! count the queue sent the app out from within the last half hour.

use chrono::{DateTime, Utc};

use super::{Ask, Recommendation, elapsed};
use crate::event::Reason;
use crate::traffic::{InStop, Traffic, TrafficPolicy, TrafficReason};

mod state;

pub(crate) use state::TrafficState;

/// Takes in that `seen` arrived at `now`: `None` when it is old news (as if nothing came), else
/// what is worth saying (the data turned fresh). Notes whether the router answers H80.
pub(crate) fn observe(
    state: &mut TrafficState,
    policy: &TrafficPolicy,
    seen: &Traffic,
    now: DateTime<Utc>,
) -> Option<Option<String>> {
    if elapsed(seen.at, now) >= policy.stale_after {
        return None;
    }
    if state.last_at.is_none_or(|at| seen.at > at) {
        state.last_at = Some(seen.at);
    }
    state.maintenance = seen.maintenance;
    if state.fresh {
        return Some(None);
    }
    state.fresh = true;
    Some(Some(format!(
        "traffic data fresh: the traffic rules act ({} req/min)",
        seen.requests_per_minute
    )))
}

/// The data goes stale when no router line came for `stale_after`: said once (the returned note),
/// and the probe rules alone act until it is fresh again.
pub(crate) fn check_stale(
    state: &mut TrafficState,
    policy: &TrafficPolicy,
    now: DateTime<Utc>,
) -> Option<String> {
    if !state.fresh
        || state
            .last_at
            .is_some_and(|at| elapsed(at, now) < policy.stale_after)
    {
        return None;
    }
    state.fresh = false;
    state.recent.clear();
    state.queued_out = None;
    state.last_panic = None;
    state.maintenance = false;
    Some(format!(
        "traffic data stale: no router line for {}; the probe rules alone act",
        humantime::format_duration(policy.stale_after)
    ))
}

/// What the decider knows that the traffic rules weigh a reading against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// The target now.
    pub(crate) target: u32,
    /// The schedule's baseline now.
    pub(crate) baseline: u32,
    /// The policy's `max`.
    pub(crate) max: u32,
    /// Whether an outage is open: its fast errors teach the unqueued estimate nothing.
    pub(crate) in_outage: bool,
    /// Whether a step in may come now: no outage, and no trouble within `calm`.
    pub(crate) may_step_in: bool,
}

/// The load one reading shows, in busy slots and dynos.
struct Load {
    /// The app's own service time, unqueued, when learnt.
    unqueued: Option<std::time::Duration>,
    /// Busy slots over the stable window: in flight × unqueued / mean.
    busy: f64,
    /// The dynos the stable window asks for.
    demand: u32,
    /// Busy slots over the panic window: its arrivals × unqueued.
    fresh_busy: f64,
    /// The panic window's in-flight term.
    panic_queue: u32,
    /// The dynos the panic window asks for.
    panic_demand: u32,
}

impl Load {
    fn read(
        state: &mut TrafficState,
        policy: &TrafficPolicy,
        seen: &Traffic,
        in_outage: bool,
        now: DateTime<Utc>,
    ) -> Load {
        // Heroku's service= includes the dyno's own queue, so in flight counts queued requests
        // too: busy slots are in flight × the app's own (unqueued) time over the mean now.
        // An app in an outage, throwing router errors or answering with its own 5xx (a bad
        // deploy, before probes trip the fail-safe) answers fast with errors, not with its own
        // service time.
        let learn = !in_outage
            && seen.trouble_errors_last_minute < policy.trouble_errors
            && f64::from(seen.server_errors_last_minute)
                < TrafficPolicy::ESTIMATE_MAX_SERVER_ERRORS * seen.requests_per_minute as f64;
        let unqueued = state.unqueued(seen, now, learn);
        let share = match (unqueued, seen.mean_service) {
            (Some(own), Some(mean)) if !mean.is_zero() => {
                (own.as_secs_f64() / mean.as_secs_f64()).min(1.0)
            }
            _ => 1.0,
        };
        let busy = seen.in_flight * share;
        // The 6 s window's mean is too noisy for the share: its busy slots are its arrivals (those
        // still in flight at its end counted) × the estimate (none without one), and its in flight
        // counts through the in-flight term.
        let fresh_busy = unqueued.map_or(0.0, |own| seen.panic_arrivals() * own.as_secs_f64());
        let panic_queue = policy.queue_dynos(fresh_busy, seen.panic_in_flight, seen.panic_dynos);
        Load {
            unqueued,
            busy,
            demand: policy.dynos_at(busy, seen.in_flight, seen.dynos),
            fresh_busy,
            panic_queue,
            panic_demand: panic_queue.max(policy.dynos_for(fresh_busy, 0.0)),
        }
    }
}

/// One reading of the router's figures, `seen`, at `now`.
pub(crate) fn recommend(
    state: &mut TrafficState,
    policy: &TrafficPolicy,
    seen: &Traffic,
    context: Context,
    now: DateTime<Utc>,
) -> Recommendation {
    let load = Load::read(state, policy, seen, context.in_outage, now);
    let Load {
        busy,
        fresh_busy,
        demand,
        ..
    } = load;
    if context.baseline == 0 {
        // The app is meant to be off: the schedule wins over whatever traffic reaches it.
        if demand.max(load.panic_demand) > 0 && !state.off_noted {
            state.off_noted = true;
            return Recommendation::noting(format!(
                "traffic ({} req/min) ignored: the schedule keeps the app off (baseline 0)",
                seen.requests_per_minute
            ));
        }
        return Recommendation::hold();
    }
    state.off_noted = false;
    let held = state.record(now, demand, policy.stabilisation);
    state.busiest.record(now, busy);
    let target = context.target;
    // Panic on a jump: the last 6 s ask for `panic_threshold` times the target, the busy
    // slots past the scale-out tolerance (else a load at the edge of one dyno panics from 1
    // to 2 and holds it); or on saturation: the dynos that answered cannot carry the last
    // 6 s of arrivals at all, so requests queue toward the router's timeout (the arrivals
    // counted with those still in flight at the window's end: a line comes when its request
    // completes, so at ρ just past 1 the count alone reads as dynos that keep up).
    let jump = load
        .panic_queue
        .max(policy.tolerant().dynos_for(fresh_busy, 0.0));
    let saturated = seen.panic_dynos > 0
        && fresh_busy >= f64::from(seen.panic_dynos.saturating_mul(policy.concurrency))
        && load.panic_demand > target;
    // Saturated dynos' queue is a backlog that grows while they serve at their full rate, not
    // the queue of a dyno that keeps up, which more dynos shrink at once: until the new dynos
    // boot it only grows, and the arrivals it holds are not counted yet. So the panic asks at
    // least for the dynos that hold the requests now in flight at `QUEUE_FACTOR` a slot (the
    // in-flight term counted linearly), as if the queue stayed.
    let panic_demand = if saturated {
        load.panic_demand
            .max(policy.dynos_for(0.0, seen.panic_in_flight))
    } else {
        load.panic_demand
    };
    if target > 0 && (saturated || f64::from(jump) >= policy.panic_threshold * f64::from(target)) {
        state.last_panic = Some(now);
    }
    let panicking = state
        .last_panic
        .is_some_and(|t| elapsed(t, now) < policy.panic_hold);
    let figures = |panic: bool, stop: Option<InStop>| TrafficReason {
        requests_per_minute: seen.requests_per_minute,
        left_out: seen.left_out,
        mean_service: seen.mean_service,
        unqueued: load.unqueued,
        in_flight: if panic {
            seen.panic_in_flight
        } else {
            seen.in_flight
        },
        dynos: if panic { seen.panic_dynos } else { seen.dynos },
        busy: if panic { fresh_busy } else { busy },
        concurrency: policy.concurrency,
        utilisation: policy.utilisation,
        demand: if panic { panic_demand } else { demand },
        held: (!panic && held > demand).then_some((held, policy.stabilisation)),
        stop,
        panic,
    };
    let dynos = |to: u32, panic: bool, stop: Option<InStop>| {
        Recommendation::asking(Ask::Dynos(to, Reason::Traffic(figures(panic, stop))))
    };
    let wanted = held.max(context.baseline).min(context.max);
    if panicking && panic_demand > wanted.max(target) {
        return dynos(panic_demand, true, None);
    }
    if wanted > target {
        // Out at once, once the load is beyond the tolerance (or the baseline rose, or the
        // last 6 s panic: the deadband is for a load at the edge, not for a jump).
        if context.baseline <= target
            && !panicking
            && !policy.beyond(busy, seen.in_flight, seen.dynos, target)
        {
            return Recommendation::hold();
        }
        // Remember when the queue, not the busy slots, asked for it, and at which count the
        // queue was seen: the dynos that answered, not the target when some of its dynos still
        // boot (else each step of an escalation moves it up to the last).
        let queued_at = match seen.dynos {
            0 => target,
            answered => answered.min(target),
        };
        state.queued_out = (policy.dynos_for(busy, 0.0) <= queued_at).then_some((
            now,
            queued_at,
            (busy * 1000.0).round() as u64,
        ));
        return dynos(wanted, false, None);
    }
    // In only when not panicking, not in an outage and not troubled lately...
    if wanted == target || panicking || !context.may_step_in {
        return Recommendation::hold();
    }
    match step_in(state, policy, seen, &load, wanted, target, now) {
        Some((to, stop)) => dynos(to, false, stop),
        None => Recommendation::hold(),
    }
}

/// Where a scale in from `target` toward `wanted` stops, and why above `wanted`; `None` when it
/// stays.
fn step_in(
    state: &mut TrafficState,
    policy: &TrafficPolicy,
    seen: &Traffic,
    load: &Load,
    wanted: u32,
    target: u32,
    now: DateTime<Utc>,
) -> Option<(u32, Option<InStop>)> {
    let busy = load.busy;
    // ...and not to a count that would ask for more again at once (hysteresis): not below
    // what the last 6 s of arrivals ask for (the stable window lags a rise by up to a minute),
    // nor where the queue predicted there would bring the in-flight term above it.
    let fresh = policy.dynos_for(load.fresh_busy, 0.0);
    let settles = |m: u32| {
        let predicted = policy.in_flight_at(busy, seen.in_flight, target, m);
        policy.dynos_for(busy, predicted) <= m
    };
    // Nor below what carries the usual load at full use: a sudden fall is trusted once it
    // lasted half of the usual window, for the load may come back as suddenly.
    let usual = policy.dynos_at_full_use(state.busiest.median());
    let mut to = wanted.max(fresh).max(usual);
    // Nor back to a count the queue sent it out from, while the load is about the same.
    let queued_out = state
        .queued_out
        .filter(|&(at, _, _)| elapsed(at, now) < TrafficPolicy::QUEUED_OUT_MEMORY)
        .map(|(_, from, then)| (from, then as f64 / 1000.0))
        .filter(|&(_, then)| busy >= then * (1.0 - TrafficPolicy::QUEUED_OUT_MARGIN));
    if let Some((from, _)) = queued_out {
        to = to.max(from.saturating_add(1));
    }
    while to < target && !settles(to) {
        to += 1;
    }
    if to >= target {
        return None;
    }
    let stop = (to > wanted).then(|| InStop {
        fresh,
        predicted: policy.in_flight_at(busy, seen.in_flight, target, to - 1),
        queued_out: queued_out.filter(|&(from, _)| from.saturating_add(1) == to),
        usual: (usual == to).then_some(usual),
    });
    if state.queued_out.is_some_and(|(_, from, _)| to <= from) {
        state.queued_out = None;
    }
    Some((to, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(target: u32, baseline: u32) -> Context {
        Context {
            target,
            baseline,
            max: 10,
            in_outage: false,
            may_step_in: true,
        }
    }

    #[test]
    fn a_reading_asks_for_its_demand_out_at_once_and_nothing_while_the_app_is_meant_to_be_off() {
        let now: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        let policy = TrafficPolicy::new(2, 0.8);
        let mut state = TrafficState::default();
        // 65 a second at 100 ms: 6.5 busy slots, 5 dynos at 0.8 of their 2 slots.
        let seen = Traffic::steady(now, 65.0, 0.1);
        assert_eq!(
            observe(&mut state, &policy, &seen, now),
            Some(Some(
                "traffic data fresh: the traffic rules act (3900 req/min)".to_owned()
            ))
        );
        let off = recommend(&mut state, &policy, &seen, context(0, 0), now);
        assert_eq!(
            off.note.as_deref(),
            Some("traffic (3900 req/min) ignored: the schedule keeps the app off (baseline 0)")
        );
        assert_eq!(off.ask, Ask::Hold);
        assert_eq!(
            recommend(&mut state, &policy, &seen, context(0, 0), now),
            Recommendation::hold(),
            "said once"
        );
        let out = recommend(&mut state, &policy, &seen, context(3, 3), now);
        let Ask::Dynos(5, Reason::Traffic(figures)) = out.ask else {
            panic!("not 5 dynos: {out:?}");
        };
        assert_eq!((figures.demand, figures.panic), (5, false));
        // Data 2 minutes old is no news.
        let old = Traffic::steady(now - chrono::TimeDelta::minutes(2), 65.0, 0.1);
        assert_eq!(observe(&mut state, &policy, &old, now), None);
    }
}
