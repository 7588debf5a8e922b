//! The probe rules: `failures` down probes in a row are an outage (the fail-safe to `max`),
//! `failures` slow ones call for a step out, and fast ones are the calm a step in waits for.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Ask, Health, Recommendation, elapsed};
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
                Ask::Down {
                    detail,
                    streak: state.down_streak,
                }
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
