//! A burst of router errors H10 (app crashed), H12 (request timeout) and H13 (connection closed
//! without response) is trouble, like `failures` slow probes: a step out, at most once per
//! cooldown, and no step in within `calm` of it.

use super::{Ask, Health, Recommendation};
use crate::event::Reason;
use crate::traffic::{Traffic, TrafficPolicy};

/// The errors of `seen`'s last minute against the policy's threshold.
pub(crate) fn recommend(policy: &TrafficPolicy, seen: &Traffic) -> Recommendation {
    let errors = seen.trouble_errors_last_minute;
    if errors < policy.trouble_errors {
        return Recommendation::hold();
    }
    Recommendation {
        health: Health::Trouble,
        ..Recommendation::asking(Ask::StepOut(Reason::RouterErrors {
            errors,
            threshold: policy.trouble_errors,
        }))
    }
}
