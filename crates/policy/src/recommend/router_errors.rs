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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_from_the_threshold_on_is_trouble_that_asks_one_step_out() {
        let policy = TrafficPolicy::new(2, 0.8);
        let reading = |errors| Traffic {
            trouble_errors_last_minute: errors,
            ..Traffic::steady("2026-11-27T12:00:00Z".parse().unwrap(), 10.0, 0.1)
        };
        assert_eq!(recommend(&policy, &reading(9)), Recommendation::hold());
        let burst = recommend(&policy, &reading(10));
        assert_eq!(burst.health, Health::Trouble);
        assert_eq!(
            burst.ask,
            Ask::StepOut(Reason::RouterErrors {
                errors: 10,
                threshold: 10
            })
        );
    }
}
