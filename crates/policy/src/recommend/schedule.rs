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
    let (from, to) = (*baseline, baseline_at(schedule, policy, now));
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
