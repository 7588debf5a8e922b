//! The schedule's baseline: a rise applies at once, a fall to 0 at once (off means off), any other
//! fall only when the app was not in trouble within `calm` and the target still sits at the old
//! baseline, and then not below what fresh traffic still holds.

use chrono::{DateTime, Utc};
use schedule::Schedule;

use super::Ask;
use crate::event::Reason;
use crate::policy::Policy;

/// What the decider knows that a fall of the baseline is weighed against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// The target now.
    pub(crate) target: u32,
    /// Whether the app was in trouble within `calm` (or an outage is open).
    pub(crate) troubled: bool,
    /// The largest demand of the traffic rules' stabilisation window while their data is fresh,
    /// else 0.
    pub(crate) held: u32,
}

/// The baseline moved: from, to, and what that asks of the target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Moved {
    /// The baseline before.
    pub(crate) from: u32,
    /// The baseline now.
    pub(crate) to: u32,
    /// What it asks of the target.
    pub(crate) ask: Ask,
}

/// The schedule's quantity at `now`, within the policy's `[min, max]`.
pub(crate) fn baseline_at(schedule: &Schedule, policy: &Policy, now: DateTime<Utc>) -> u32 {
    schedule.baseline_at(now).clamp(policy.min, policy.max)
}

/// Re-reads the schedule at `now` into `baseline`; `None` when it did not move.
pub(crate) fn recommend(
    baseline: &mut u32,
    schedule: &Schedule,
    policy: &Policy,
    context: Context,
    now: DateTime<Utc>,
) -> Option<Moved> {
    move_to(baseline, baseline_at(schedule, policy, now), context)
}

/// Moves `baseline` to `to` (the schedule's, or an override's quantity); `None` when it did not
/// move.
pub(crate) fn move_to(baseline: &mut u32, to: u32, context: Context) -> Option<Moved> {
    let from = *baseline;
    if to == from {
        return None;
    }
    *baseline = to;
    let dynos = if to == 0 {
        // The app is meant to be off: down probes no longer count, so neither an outage nor a
        // recent slow spell could ever be waited out. Off means off, at once.
        Some(0)
    } else if to > from {
        (context.target < to).then_some(to)
    } else if context.target == from && !context.troubled {
        // With fresh traffic data, not below what the traffic asks for.
        let held = context.held;
        if held > to && held < context.target {
            Some(held)
        } else {
            (held <= to).then_some(to)
        }
    } else {
        None
    };
    let ask = dynos.map_or(Ask::Hold, |dynos| {
        Ask::Dynos(dynos, Reason::Schedule { baseline: to })
    });
    Some(Moved { from, to, ask })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use schedule::Rule;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        format!("2026-11-27T{hour:02}:00:00Z").parse().unwrap()
    }

    #[test]
    fn a_rise_applies_at_once_a_fall_only_when_calm_and_not_below_what_traffic_holds() {
        let rules = [("0 7 * * *", 3), ("0 22 * * *", 1), ("0 23 * * *", 0)]
            .into_iter()
            .map(|(cron, q)| Rule::new(cron, q).unwrap())
            .collect();
        let schedule = Schedule::new(rules, chrono_tz::UTC, 0);
        let policy = Policy {
            min: 0,
            max: 5,
            step: 1,
            failures: 2,
            scale_out_cooldown: Duration::from_secs(120),
            calm: Duration::from_secs(600),
            traffic: None,
        };
        let calm_at = |target, held| Context {
            target,
            troubled: false,
            held,
        };
        let dynos = |n, baseline| Ask::Dynos(n, Reason::Schedule { baseline });
        let moved = |from, to, ask| Some(Moved { from, to, ask });

        let mut baseline = 1;
        let rise = recommend(&mut baseline, &schedule, &policy, calm_at(1, 0), at(7));
        assert_eq!(rise, moved(1, 3, dynos(3, 3)));
        assert_eq!(baseline, 3);
        let again = recommend(&mut baseline, &schedule, &policy, calm_at(3, 0), at(7));
        assert_eq!(
            again, None,
            "level-triggered: the same instant twice moves nothing"
        );

        let fall = |target, troubled, held| {
            let mut baseline = 3;
            let context = Context {
                target,
                troubled,
                held,
            };
            recommend(&mut baseline, &schedule, &policy, context, at(22)).map(|m| m.ask)
        };
        assert_eq!(fall(3, false, 0), Some(dynos(1, 1)));
        assert_eq!(fall(3, true, 0), Some(Ask::Hold), "in trouble lately");
        assert_eq!(
            fall(4, false, 0),
            Some(Ask::Hold),
            "scaled out: the rules bring it in"
        );
        assert_eq!(
            fall(3, false, 2),
            Some(dynos(2, 1)),
            "fresh traffic holds 2"
        );
        assert_eq!(fall(3, false, 3), Some(Ask::Hold), "fresh traffic holds 3");

        let mut baseline = 1;
        let troubled = Context {
            target: 5,
            troubled: true,
            held: 4,
        };
        let off = recommend(&mut baseline, &schedule, &policy, troubled, at(23));
        assert_eq!(off, moved(1, 0, dynos(0, 0)), "off means off, at once");
    }
}
