//! How the decider obeys overrides and pauses: the bounds and baseline they set replace the
//! policy's and the schedule's while they run, a pause stops every change of the target, and each
//! start and end is said (the end of one that moved the target moves it back, as a decision).

use chrono::{DateTime, Utc};

use super::Decider;
use crate::event::{Action, Reason};
use crate::overrides::{Effective, Override, effective};
use crate::policy::Policy;
use crate::recommend::Ask;

/// What the decider obeys: the overrides last handed over, and those running at the last event.
#[derive(Debug, Clone)]
pub(super) struct Obeying {
    /// The policy as configured, before any override.
    configured: Policy,
    /// Every override handed over, running or coming.
    list: Vec<Override>,
    /// What the running ones made of the policy at the last event.
    now: Effective,
    /// The override whose quantity just ended, to name it in the return to the schedule.
    ended: Option<String>,
}

impl Obeying {
    pub(super) fn new(configured: Policy) -> Obeying {
        Obeying {
            configured,
            list: Vec::new(),
            now: effective(&configured, &[], DateTime::<Utc>::MIN_UTC),
            ended: None,
        }
    }

    pub(super) fn set(&mut self, list: Vec<Override>) {
        self.list = list;
    }

    /// The pause running, if one is.
    pub(super) fn pause(&self) -> Option<&str> {
        self.now.pause.as_deref()
    }

    /// The baseline an override sets, if one does.
    pub(super) fn quantity(&self) -> Option<u32> {
        self.now.quantity.as_ref().map(|(quantity, _)| *quantity)
    }

    /// `ask`, a move of the baseline, named after the override it obeys or whose end it is.
    pub(super) fn relabel(&mut self, ask: Ask) -> Ask {
        let Ask::Dynos(dynos, Reason::Schedule { baseline }) = ask else {
            return ask;
        };
        let reason = match (&self.now.quantity, self.ended.take()) {
            (Some((_, label)), _) => Reason::Override {
                label: label.clone(),
                baseline,
            },
            (None, Some(label)) => Reason::OverrideEnded { label, baseline },
            (None, None) => Reason::Schedule { baseline },
        };
        Ask::Dynos(dynos, reason)
    }
}

impl Decider {
    /// Whether a pause runs: no scale call at all, the fail-safe included, until it ends.
    pub fn paused(&self) -> bool {
        self.obeying.pause().is_some()
    }

    /// Works out which overrides run at `now`, says which started and ended, and applies them:
    /// the bounds, the baseline, and at a pause's end the target the rules had kept.
    pub(super) fn obey_overrides(&mut self, now: DateTime<Utc>, actions: &mut Vec<Action>) {
        let next = effective(&self.obeying.configured, &self.obeying.list, now);
        if next == self.obeying.now {
            return;
        }
        let (before, after) = (self.obeying.now.labels(), next.labels());
        for label in before.iter().filter(|l| !after.contains(l)) {
            actions.push(Action::Note(format!("{label} ended")));
        }
        for label in after.iter().filter(|l| !before.contains(l)) {
            actions.push(Action::Note(format!("obeys {label}")));
        }
        let pause_ended = self
            .obeying
            .now
            .pause
            .clone()
            .filter(|_| next.pause.is_none());
        self.obeying.ended = self
            .obeying
            .now
            .quantity
            .as_ref()
            .filter(|_| next.quantity.is_none())
            .map(|(_, label)| label.clone());
        self.policy = next.policy;
        self.obeying.now = next;
        self.follow_schedule(now, actions);
        self.obeying.ended = None;
        let target = self.state.target;
        let within = target
            .clamp(self.policy.min, self.policy.max)
            .max(self.state.baseline);
        if within == target {
            return;
        }
        // Into the bounds now; after a pause, to where the rules would have put it.
        let reason = match (&self.obeying.now.bounds, pause_ended) {
            (Some(label), _) => Reason::OverrideBounds {
                label: label.clone(),
                min: self.policy.min,
                max: self.policy.max,
            },
            (None, Some(label)) => Reason::OverrideEnded {
                label,
                baseline: self.state.baseline,
            },
            (None, None) => Reason::Schedule {
                baseline: self.state.baseline,
            },
        };
        self.set_target(within, reason, now, actions);
    }
}
