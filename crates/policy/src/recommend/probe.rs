//! The probe rules: `failures` down probes in a row are an outage (the fail-safe to `max`),
//! `failures` slow ones call for a step out, and fast ones are the calm a step in waits for.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Ask, Down, Health, Recommendation, elapsed};
use crate::classify::Class;
use crate::event::Reason;
use crate::policy::Policy;

/// What the probe rules remember: plain data inside [`DeciderState`](crate::DeciderState).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProbeState {
    down_streak: u32,
    slow_streak: u32,
    last_class: Option<Class>,
    last_down: Option<DateTime<Utc>>,
    /// Whether the "down probes ignored" note was given for the current stretch.
    ignoring_noted: bool,
}

impl ProbeState {
    /// Down probes are about to mean something else (maintenance, the schedule turning the app on
    /// or off): the streak starts afresh, and an ignored one is said again.
    pub(crate) fn start_afresh(&mut self) {
        self.down_streak = 0;
        self.ignoring_noted = false;
    }

    /// Whether the probes say the app is up again: the last one answered, and none was down for
    /// `calm`.
    pub(crate) fn up_for(&self, calm: Duration, now: DateTime<Utc>) -> bool {
        let quiet = self.last_down.is_none_or(|t| elapsed(t, now) >= calm);
        quiet && self.last_class.is_some_and(|c| c != Class::Down)
    }

    /// Whether no probe says the app is down: none was down for `calm`, and the last one (if any
    /// came) answered. Unlike [`up_for`](Self::up_for), no probe at all says nothing against it.
    pub(crate) fn quiet_for(&self, calm: Duration, now: DateTime<Utc>) -> bool {
        let quiet = self.last_down.is_none_or(|t| elapsed(t, now) >= calm);
        quiet && self.last_class != Some(Class::Down)
    }

    /// Whether the last probe was fast.
    pub(crate) fn last_fast(&self) -> bool {
        self.last_class == Some(Class::Fast)
    }
}

/// What the decider knows that the probe rules weigh a probe against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// Why a down probe means nothing right now (the app is meant to be off, in maintenance, or
    /// booting from zero), if it doesn't.
    pub(crate) down_expected: Option<&'static str>,
    /// Whether the schedule keeps the app off (baseline 0).
    pub(crate) off: bool,
}

/// One probe's answer, `class` in words `detail`, at `now`.
pub(crate) fn recommend(
    state: &mut ProbeState,
    policy: &Policy,
    class: Class,
    detail: String,
    context: Context,
    now: DateTime<Utc>,
) -> Recommendation {
    state.last_class = Some(class);
    match class {
        Class::Down => {
            if let Some(why) = context.down_expected {
                state.down_streak = 0;
                // Not trouble, but not a fast answer either: a step in needs a whole calm of
                // fast probes, counted from here.
                let note = (!state.ignoring_noted).then(|| {
                    state.ignoring_noted = true;
                    format!("down probe ({detail}) ignored: {why}")
                });
                return Recommendation {
                    ask: Ask::Hold,
                    health: Health::Unsettled,
                    note,
                };
            }
            state.down_streak += 1;
            state.slow_streak = 0;
            state.last_down = Some(now);
            let ask = if state.down_streak < policy.failures {
                Ask::Hold
            } else {
                let streak = state.down_streak;
                Ask::Down(Down {
                    seen: format!("down probe ({detail}, {streak} in a row)"),
                    reason: Reason::Down {
                        detail: detail.clone(),
                        streak,
                    },
                    detail,
                    onset: streak == policy.failures,
                })
            };
            Recommendation {
                health: Health::Trouble,
                ..Recommendation::asking(ask)
            }
        }
        Class::Slow => {
            state.down_streak = 0;
            if context.off {
                // The app is meant to be off: whatever answers slowly, a step out would start
                // dynos nobody wants.
                state.slow_streak = 0;
                return match state.ignoring_noted {
                    true => Recommendation::hold(),
                    false => {
                        state.ignoring_noted = true;
                        Recommendation::noting(format!(
                            "slow probe ({detail}) ignored: the schedule keeps the app off (baseline 0)"
                        ))
                    }
                };
            }
            state.ignoring_noted = false;
            state.slow_streak += 1;
            let ask = if state.slow_streak >= policy.failures {
                Ask::StepOut(Reason::Slow {
                    detail,
                    streak: state.slow_streak,
                })
            } else {
                Ask::Hold
            };
            Recommendation {
                health: Health::Trouble,
                ..Recommendation::asking(ask)
            }
        }
        Class::Normal | Class::Fast => {
            state.ignoring_noted = false;
            state.down_streak = 0;
            state.slow_streak = 0;
            Recommendation {
                health: match class {
                    Class::Normal => Health::Unsettled,
                    _ => Health::Fine,
                },
                ..Recommendation::hold()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    const ON: Context = Context {
        down_expected: None,
        off: false,
    };

    #[test]
    fn failures_down_probes_in_a_row_are_down_and_an_expected_one_is_said_once() {
        let now: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        let mut state = ProbeState::default();
        let down = |state: &mut ProbeState, context| {
            recommend(
                state,
                &policy(),
                Class::Down,
                "HTTP 503".into(),
                context,
                now,
            )
        };
        let first = down(&mut state, ON);
        assert_eq!((first.ask, first.health), (Ask::Hold, Health::Trouble));
        let second = down(&mut state, ON);
        let Ask::Down(fail_safe) = second.ask else {
            panic!("not down: {second:?}");
        };
        assert_eq!(
            fail_safe.reason.to_string(),
            "down: HTTP 503 (2 in a row), fail-safe to max"
        );
        assert_eq!(fail_safe.detail, "HTTP 503");
        assert!(fail_safe.onset, "the second of failures 2");
        let third = down(&mut state, ON);
        assert!(
            matches!(third.ask, Ask::Down(Down { onset: false, .. })),
            "{third:?}"
        );
        assert!(
            !state.up_for(Duration::ZERO, now),
            "the last probe was down"
        );

        let booting = Context {
            down_expected: Some("its dynos are booting from zero"),
            off: false,
        };
        let ignored = down(&mut state, booting);
        assert_eq!(
            (ignored.ask, ignored.health),
            (Ask::Hold, Health::Unsettled)
        );
        assert_eq!(
            ignored.note.as_deref(),
            Some("down probe (HTTP 503) ignored: its dynos are booting from zero")
        );
        assert_eq!(down(&mut state, booting).note, None, "said once a stretch");
        let counted = down(&mut state, ON);
        assert_eq!(counted.ask, Ask::Hold, "the streak started afresh");
    }

    #[test]
    fn slow_probes_ask_a_step_out_unless_the_app_is_meant_to_be_off() {
        let now: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        let mut state = ProbeState::default();
        let slow = |state: &mut ProbeState, context| {
            recommend(state, &policy(), Class::Slow, "2.1 s".into(), context, now)
        };
        assert_eq!(slow(&mut state, ON).ask, Ask::Hold);
        let step = Ask::StepOut(Reason::Slow {
            detail: "2.1 s".into(),
            streak: 2,
        });
        assert_eq!(slow(&mut state, ON).ask, step);
        let off = Context {
            down_expected: None,
            off: true,
        };
        let ignored = slow(&mut state, off);
        assert_eq!((ignored.ask, ignored.health), (Ask::Hold, Health::Fine));
        assert!(ignored.note.is_some_and(|n| n.contains("baseline 0")));
        let fast = recommend(&mut state, &policy(), Class::Fast, "80 ms".into(), ON, now);
        assert_eq!(fast, Recommendation::hold());
        assert!(state.last_fast() && state.up_for(Duration::from_secs(600), now));
    }
}
