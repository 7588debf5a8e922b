//! The router lines' health: when the requests of the last `down_window` were at least
//! `down_min_requests` and at least `down_share` of them failed in a way that means the app is
//! down, the app is down, exactly as `failures` down probes in a row say so (the fail-safe to
//! `max`, one outage alert); unless down is expected (baseline 0, maintenance, a boot from zero).
//! A share below it is not an outage (a few 500s from one bad endpoint): the router-errors rule
//! keeps its job there. The lines also say when the app is up again: from the first reading with
//! enough requests below the share, for `calm`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Ask, Down, Health, Recommendation, elapsed};
use crate::event::Reason;
use crate::health::RouterHealth;
use crate::traffic::TrafficPolicy;

/// What the lines' health rule remembers: plain data inside [`DeciderState`](crate::DeciderState).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RouterHealthState {
    /// Whether the last reading that said anything said down: the next down one is no onset.
    down: bool,
    /// The last reading that said down.
    last_down: Option<DateTime<Utc>>,
    /// The first reading with enough requests that said up since the last down one.
    up_since: Option<DateTime<Utc>>,
    /// Whether the "ignored" note was given for the current stretch.
    ignoring_noted: bool,
}

impl RouterHealthState {
    /// The lines went stale, or are about to mean something else (maintenance, the schedule
    /// turning the app on or off): forget what they said.
    pub(crate) fn start_afresh(&mut self) {
        *self = RouterHealthState::default();
    }

    /// Whether the lines say the app is up: they never said down, or they have shown success for
    /// `calm` since they last did.
    pub(crate) fn up_for(&self, calm: Duration, now: DateTime<Utc>) -> bool {
        self.last_down.is_none() || self.up_since.is_some_and(|t| elapsed(t, now) >= calm)
    }

    /// Whether there is nothing to remember.
    pub(crate) fn is_empty(&self) -> bool {
        *self == RouterHealthState::default()
    }

    /// Whether the lines said down since they were last forgotten.
    pub(crate) fn saw_down(&self) -> bool {
        self.last_down.is_some()
    }
}

/// What the decider knows that the rule weighs a reading against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// Why down means nothing right now (the app is meant to be off, in maintenance, or booting
    /// from zero), if it doesn't.
    pub(crate) down_expected: Option<&'static str>,
}

/// One reading of the lines' health, `seen`, at `now`.
pub(crate) fn recommend(
    state: &mut RouterHealthState,
    policy: &TrafficPolicy,
    seen: &RouterHealth,
    context: Context,
    now: DateTime<Utc>,
) -> Recommendation {
    // Lines older than the window, or too few requests to tell: nothing said either way.
    let old = elapsed(seen.at, now) >= policy.down_window || seen.window > policy.down_window;
    if old || seen.requests < policy.down_min_requests.max(1) {
        return Recommendation::hold();
    }
    let share = seen.failing_total() as f64 / seen.requests as f64;
    if share < policy.down_share {
        state.down = false;
        state.ignoring_noted = false;
        if state.last_down.is_some() && state.up_since.is_none() {
            state.up_since = Some(now);
        }
        return Recommendation::hold();
    }
    let detail = seen.describe();
    if let Some(why) = context.down_expected {
        state.down = false;
        let note = (!state.ignoring_noted).then(|| {
            state.ignoring_noted = true;
            format!("router lines ({detail}) ignored: {why}")
        });
        return Recommendation {
            ask: Ask::Hold,
            health: Health::Unsettled,
            note,
        };
    }
    let onset = !state.down;
    state.down = true;
    state.last_down = Some(now);
    state.up_since = None;
    Recommendation {
        health: Health::Trouble,
        ..Recommendation::asking(Ask::Down(Down {
            seen: format!("router lines ({detail})"),
            reason: Reason::RouterDown {
                detail: detail.clone(),
            },
            detail: format!("the router saw {detail}"),
            onset,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-27T12:00:00Z".parse().unwrap()
    }

    fn lines(requests: u64, failing: &[(&str, u64)]) -> RouterHealth {
        RouterHealth {
            at: now(),
            window: Duration::from_secs(10),
            requests,
            failing: failing.iter().map(|&(l, n)| (l.to_owned(), n)).collect(),
        }
    }

    const ON: Context = Context {
        down_expected: None,
    };

    fn policy() -> TrafficPolicy {
        TrafficPolicy::new(2, 0.8)
    }

    #[test]
    fn ninety_percent_of_ten_requests_is_down_and_says_what_the_router_saw() {
        let mut state = RouterHealthState::default();
        let seen = lines(412, &[("503", 400)]);
        let first = recommend(&mut state, &policy(), &seen, ON, now());
        let Ask::Down(down) = first.ask else {
            panic!("not down: {first:?}");
        };
        assert_eq!(first.health, Health::Trouble);
        assert!(down.onset);
        assert_eq!(
            down.detail,
            "the router saw 503 on 97% of 412 requests in 10 s"
        );
        assert_eq!(
            down.reason.to_string(),
            "router lines: 503 on 97% of 412 requests in 10 s, fail-safe to max"
        );
        let again = recommend(&mut state, &policy(), &seen, ON, now());
        assert!(matches!(again.ask, Ask::Down(Down { onset: false, .. })));
        assert!(!state.up_for(Duration::ZERO, now()));
    }

    #[test]
    fn a_share_below_the_threshold_or_too_few_requests_or_old_lines_are_not_down() {
        let mut state = RouterHealthState::default();
        let p = policy();
        let hold = Recommendation::hold();
        // 5% failing: one bad endpoint, the router-errors rule's job.
        assert_eq!(
            recommend(&mut state, &p, &lines(400, &[("500", 20)]), ON, now()),
            hold
        );
        // 89.75%.
        assert_eq!(
            recommend(&mut state, &p, &lines(400, &[("503", 359)]), ON, now()),
            hold
        );
        // Every request failing, but only 9 of them.
        assert_eq!(
            recommend(&mut state, &p, &lines(9, &[("H13", 9)]), ON, now()),
            hold
        );
        // Lines that ended a window ago.
        let old = RouterHealth {
            at: now() - chrono::TimeDelta::seconds(10),
            ..lines(400, &[("H10", 400)])
        };
        assert_eq!(recommend(&mut state, &p, &old, ON, now()), hold);
        // Forged counts: more failing than requests is at most every request.
        let forged = lines(10, &[("503", u64::MAX), ("H13", u64::MAX)]);
        assert_eq!(forged.failing_total(), 10);
        assert!(matches!(
            recommend(&mut state, &p, &forged, ON, now()).ask,
            Ask::Down(_)
        ));
    }

    #[test]
    fn down_when_expected_is_said_once_and_asks_nothing() {
        let mut state = RouterHealthState::default();
        let maintenance = Context {
            down_expected: Some("the app is in maintenance mode"),
        };
        let seen = lines(50, &[("H13", 30), ("H10", 20)]);
        let ignored = recommend(&mut state, &policy(), &seen, maintenance, now());
        assert_eq!(
            (ignored.ask, ignored.health),
            (Ask::Hold, Health::Unsettled)
        );
        assert_eq!(
            ignored.note.as_deref(),
            Some(
                "router lines (H13 and H10 on 100% of 50 requests in 10 s) ignored: \
                 the app is in maintenance mode"
            )
        );
        let again = recommend(&mut state, &policy(), &seen, maintenance, now());
        assert_eq!(again.note, None, "said once a stretch");
        assert!(state.up_for(Duration::ZERO, now()), "never said down");
    }

    #[test]
    fn the_lines_say_up_after_calm_of_success_since_the_last_down_reading() {
        let mut state = RouterHealthState::default();
        let calm = Duration::from_secs(600);
        let t = |s: i64| now() + chrono::TimeDelta::seconds(s);
        let at = |s: i64, seen: RouterHealth| RouterHealth { at: t(s), ..seen };
        recommend(
            &mut state,
            &policy(),
            &at(0, lines(100, &[("H10", 100)])),
            ON,
            t(0),
        );
        assert!(!state.up_for(calm, t(0)));
        recommend(&mut state, &policy(), &at(60, lines(100, &[])), ON, t(60));
        // Thin traffic says nothing either way.
        recommend(
            &mut state,
            &policy(),
            &at(300, lines(3, &[("H10", 3)])),
            ON,
            t(300),
        );
        assert!(!state.up_for(calm, t(659)));
        assert!(state.up_for(calm, t(660)));
        // Down again: the calm starts over from the next success.
        let down = recommend(
            &mut state,
            &policy(),
            &at(700, lines(100, &[("H10", 95)])),
            ON,
            t(700),
        );
        assert!(matches!(down.ask, Ask::Down(Down { onset: true, .. })));
        assert!(!state.up_for(calm, t(2000)));
        state.start_afresh();
        assert!(state.up_for(calm, t(700)) && !state.saw_down());
    }

    proptest::proptest! {
        /// Whatever the counts (a drain is outside input): never down below the minimum of
        /// requests or the share, always down at or above both, and no panic.
        #[test]
        fn down_exactly_from_the_minimum_and_the_share(
            requests in proptest::prop_oneof![0u64..40, proptest::num::u64::ANY],
            failing in proptest::collection::vec(proptest::num::u64::ANY, 0..4),
            lag in 0i64..30,
        ) {
            let p = policy();
            let seen = RouterHealth {
                at: now() - chrono::TimeDelta::seconds(lag),
                window: Duration::from_secs(10),
                requests,
                failing: failing.iter().map(|&n| ("503".to_owned(), n)).collect(),
            };
            let mut state = RouterHealthState::default();
            let got = recommend(&mut state, &p, &seen, ON, now());
            let total = seen.failing_total();
            proptest::prop_assert!(total <= requests);
            let down = lag < 10 && requests >= 10 && total as f64 / requests as f64 >= 0.9;
            proptest::prop_assert_eq!(matches!(got.ask, Ask::Down(_)), down, "{:?}", got);
        }
    }
}
