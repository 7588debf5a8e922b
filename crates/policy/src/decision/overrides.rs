//! How the decider obeys overrides and pauses: the bounds and baseline they set replace the
//! policy's and the schedule's while they run, a pause stops every change of the target, and each
//! start and end is said (the end of one that moved the target moves it back, as a decision).

use chrono::{DateTime, Utc};

use crate::event::{Action, Reason};
use crate::overrides::{Effective, Override, effective};
use crate::policy::Policy;
use crate::recommend::Ask;

/// What changed in the overrides obeyed at an event.
#[derive(Debug)]
pub(super) struct Change {
    /// A note for each override that started or ended.
    pub(super) notes: Vec<Action>,
    /// The policy with the running overrides' bounds.
    pub(super) policy: Policy,
    /// The pause that just ended, if one did.
    pub(super) pause_ended: Option<String>,
}

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

    /// Works out which overrides run at `now`: `None` when nothing changed since the last event,
    /// else the change, with a note for each that started and ended. The end of an override that
    /// set the baseline is remembered until [`settled`](Self::settled), to name it in the return
    /// to the schedule.
    pub(super) fn advance(&mut self, now: DateTime<Utc>) -> Option<Change> {
        let next = effective(&self.configured, &self.list, now);
        if next == self.now {
            return None;
        }
        let (before, after) = (self.now.labels(), next.labels());
        let mut notes: Vec<Action> = before
            .iter()
            .filter(|l| !after.contains(l))
            .map(|label| Action::Note(format!("{label} ended")))
            .collect();
        notes.extend(
            after
                .iter()
                .filter(|l| !before.contains(l))
                .map(|label| Action::Note(format!("obeys {label}"))),
        );
        let pause_ended = self.now.pause.clone().filter(|_| next.pause.is_none());
        self.ended = self
            .now
            .quantity
            .as_ref()
            .filter(|_| next.quantity.is_none())
            .map(|(_, label)| label.clone());
        let policy = next.policy;
        self.now = next;
        Some(Change {
            notes,
            policy,
            pause_ended,
        })
    }

    /// The baseline has followed the change: an ended override is no longer named.
    pub(super) fn settled(&mut self) {
        self.ended = None;
    }

    /// Why a target pushed into the running overrides' bounds moved: those bounds, else the end
    /// of a pause (`pause_ended`), else the schedule.
    pub(super) fn bounds_reason(
        &self,
        pause_ended: Option<String>,
        policy: &Policy,
        baseline: u32,
    ) -> Reason {
        match (&self.now.bounds, pause_ended) {
            (Some(label), _) => Reason::OverrideBounds {
                label: label.clone(),
                min: policy.min,
                max: policy.max,
            },
            (None, Some(label)) => Reason::OverrideEnded { label, baseline },
            (None, None) => Reason::Schedule { baseline },
        }
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
