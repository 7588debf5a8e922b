//! What people tell the decider for a while: an [`Override`] of the baseline and/or the bounds,
//! or a pause. The runtime reads them from its store and hands them over as
//! [`Event::Overrides`](crate::Event::Overrides); which ones apply is worked out here, at the
//! instant the decider is given.

use chrono::{DateTime, Utc};

use crate::policy::Policy;

/// An override or a pause, for one process type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Its id in the runtime's store: tells one from another across readings.
    pub id: i64,
    /// How it is named in decision lines, e.g. `override #3 by ada (launch)`.
    pub label: String,
    /// What it does.
    pub kind: OverrideKind,
    /// When it starts applying.
    pub from: DateTime<Utc>,
    /// When it stops applying (excluded); `None` for a pause until resumed.
    pub until: Option<DateTime<Utc>>,
    /// When it was recorded: where overrides overlap, the later-created wins for what it sets.
    pub created_at: DateTime<Utc>,
}

/// What an [`Override`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverrideKind {
    /// Replaces the baseline and/or the bounds; `None` leaves that one as configured.
    Set {
        /// The baseline instead of the schedule's.
        quantity: Option<u32>,
        /// The lowest dyno count instead of the policy's.
        min: Option<u32>,
        /// The highest dyno count instead of the policy's.
        max: Option<u32>,
    },
    /// No scale call at all, the fail-safe included; outages are still alerted.
    Pause,
}

impl Override {
    /// Whether it applies at `at`.
    pub fn applies_at(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && self.until.is_none_or(|until| at < until)
    }
}

/// What the overrides running at one instant make of the policy and the baseline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Effective {
    /// The policy with the bounds replaced.
    pub(crate) policy: Policy,
    /// The baseline instead of the schedule's, and the override that sets it.
    pub(crate) quantity: Option<(u32, String)>,
    /// The override that sets the bounds it sets, if one does.
    pub(crate) bounds: Option<String>,
    /// The pause running, if one is (the latest-created).
    pub(crate) pause: Option<String>,
}

impl Effective {
    /// The labels obeyed, to tell when one starts or ends.
    pub(crate) fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = [
            self.quantity.as_ref().map(|(_, label)| label),
            self.bounds.as_ref(),
            self.pause.as_ref(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        labels.dedup();
        labels
    }
}

/// The overrides of `list` running at `now`, folded over `configured`: by creation, the later
/// wins for each thing it sets. A `min` above the `max` that results (two overrides setting one
/// each) gives way to the later-created one's.
pub(crate) fn effective(configured: &Policy, list: &[Override], now: DateTime<Utc>) -> Effective {
    let mut running: Vec<&Override> = list.iter().filter(|o| o.applies_at(now)).collect();
    running.sort_by_key(|o| (o.created_at, o.id));
    let mut effective = Effective {
        policy: *configured,
        quantity: None,
        bounds: None,
        pause: None,
    };
    for o in running {
        match o.kind {
            OverrideKind::Set { quantity, min, max } => {
                if let Some(quantity) = quantity {
                    effective.quantity = Some((quantity, o.label.clone()));
                }
                if let Some(min) = min {
                    effective.policy.min = min;
                    effective.policy.max = effective.policy.max.max(min);
                }
                if let Some(max) = max {
                    effective.policy.max = max;
                    effective.policy.min = effective.policy.min.min(max);
                }
                if min.is_some() || max.is_some() {
                    effective.bounds = Some(o.label.clone());
                }
            }
            OverrideKind::Pause => effective.pause = Some(o.label.clone()),
        }
    }
    effective
}
