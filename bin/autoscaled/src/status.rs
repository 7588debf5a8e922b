//! What the daemon knows right now, per app: shared by its tasks, read by the status page.
//!
//! The app tasks write here as they go (a probe result, a decision, the quantity Heroku reported);
//! readers take a consistent copy with [`Board::snapshot`]. Everything is bounded, so a process that
//! runs for weeks holds the same memory as one that runs for minutes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How many decisions each app keeps for the status page.
const RECENT_DECISIONS: usize = 50;

/// The live state of every app, cheap to clone and share between tasks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Board {
    apps: Arc<Mutex<Vec<AppStatus>>>,
}

/// One app's process type as the daemon sees it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AppStatus {
    pub(crate) app: String,
    pub(crate) process: String,
    pub(crate) baseline: u32,
    pub(crate) target: u32,
    /// The quantity Heroku last reported (or accepted); `None` until first read.
    pub(crate) actual: Option<u32>,
    pub(crate) last_probe: Option<ProbeView>,
    pub(crate) next_change: Option<ChangeView>,
    pub(crate) outage_since: Option<DateTime<Utc>>,
    pub(crate) maintenance: bool,
    pub(crate) decisions: VecDeque<DecisionView>,
}

/// A probe result, as shown.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProbeView {
    pub(crate) at: DateTime<Utc>,
    pub(crate) class: String,
    pub(crate) status: Option<u16>,
    #[serde(serialize_with = "millis")]
    pub(crate) latency: Duration,
    pub(crate) detail: String,
}

/// A change of target, as shown.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DecisionView {
    pub(crate) at: DateTime<Utc>,
    pub(crate) from: u32,
    pub(crate) to: u32,
    pub(crate) reason: String,
}

/// The next change of baseline.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChangeView {
    pub(crate) at: DateTime<Utc>,
    pub(crate) quantity: u32,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl Board {
    /// Adds an app and returns its index for the writers below.
    pub(crate) fn add(&self, app: &str, process: &str, baseline: u32) -> usize {
        let mut apps = self.lock();
        apps.push(AppStatus {
            app: app.to_owned(),
            process: process.to_owned(),
            baseline,
            target: baseline,
            actual: None,
            last_probe: None,
            next_change: None,
            outage_since: None,
            maintenance: false,
            decisions: VecDeque::with_capacity(RECENT_DECISIONS),
        });
        apps.len() - 1
    }

    /// Changes one app's status in place.
    pub(crate) fn update(&self, index: usize, change: impl FnOnce(&mut AppStatus)) {
        if let Some(app) = self.lock().get_mut(index) {
            change(app);
        }
    }

    /// Records a decision, keeping the most recent ones.
    pub(crate) fn record_decision(&self, index: usize, decision: DecisionView) {
        self.update(index, |app| {
            if app.decisions.len() == RECENT_DECISIONS {
                app.decisions.pop_front();
            }
            app.decisions.push_back(decision);
        });
    }

    /// A copy of every app's status.
    pub(crate) fn snapshot(&self) -> Vec<AppStatus> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<AppStatus>> {
        // A writer that panicked mid-update leaves plain data behind, still worth showing.
        self.apps.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_number_of_decisions() {
        let board = Board::default();
        let i = board.add("my-app", "web", 1);
        for n in 0..(RECENT_DECISIONS as u32 + 10) {
            board.record_decision(i, DecisionView { at: Utc::now(), from: n, to: n + 1, reason: "test".into() });
        }
        let apps = board.snapshot();
        assert_eq!(apps[0].decisions.len(), RECENT_DECISIONS);
        assert_eq!(apps[0].decisions.back().map(|d| d.to), Some(RECENT_DECISIONS as u32 + 10));
    }
}
