//! What one app's decision task keeps in the database, handed to the store's `Persister` so the
//! task never waits on it: the state on every decision and otherwise at most once a minute when it
//! changed, and every scale decision. (The board hands the store one history row per minute.)
//!
//! It is given what the decision task knows (the decider, the quantity Heroku last reported) and
//! reads nothing back from the status board.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use policy::{Decider, DeciderState, Notice, NoticeKind};
use store::{AppState, Decision, DecisionKind, Persister, ProcessKey};
use tracing::{info, warn};

use super::alerts::Alerter;
use crate::config::AppSettings;

/// A state that changed is saved at least this often even without a decision.
const SAVE_EVERY: TimeDelta = TimeDelta::minutes(1);

/// One app's link to the database.
#[derive(Debug)]
pub(super) struct Keeper {
    settings: Arc<AppSettings>,
    key: ProcessKey,
    /// Writes to the database without waiting.
    persister: Persister,
    /// Whose log of sent alerts is saved with the state.
    alerter: Alerter,
    /// Why the target is what it is: the last decision's reason.
    reason: String,
    saved_at: Option<DateTime<Utc>>,
    /// What was last saved: decider, alerts, actual.
    saved: Option<(String, String, Option<u32>)>,
}

/// The decider state `stored` for the app of `settings`, if any and readable.
pub(super) fn stored_decider(
    settings: &AppSettings,
    stored: Option<&AppState>,
) -> Option<DeciderState> {
    let stored = stored?;
    match serde_json::from_str(&stored.decider) {
        Ok(state) => Some(state),
        Err(error) => {
            warn!(app = %settings.name, process = %settings.process, error = %error,
                "the stored state cannot be read (from another version?); starting afresh");
            None
        }
    }
}

impl Keeper {
    /// Starts keeping the app of `settings`, from what the database held for it (`stored`);
    /// restores its alerts' de-duplication and logs what was restored.
    pub(super) fn start(
        settings: Arc<AppSettings>,
        persister: Persister,
        alerter: Alerter,
        stored: Option<&AppState>,
        decider: &Decider,
        reason: String,
    ) -> Keeper {
        let mut reason = reason;
        if let Some(stored) = stored {
            alerter.restore_sent_log(&settings, &stored.alerts);
            let snapshot = decider.snapshot();
            info!(app = %settings.name, process = %settings.process, target = snapshot.target,
                outage_since = ?snapshot.outage_since, saved_at = %stored.updated_at,
                reason = %stored.reason, "restored the saved state");
            reason = stored.reason.clone();
        }
        Keeper {
            key: ProcessKey::new(&settings.name, &settings.process),
            settings,
            persister,
            alerter,
            reason,
            saved_at: None,
            saved: None,
        }
    }

    /// A scale decision: appended to the log, and the reason for the target from now on.
    pub(super) fn scaled(&mut self, at: DateTime<Utc>, from: u32, to: u32, reason: String) {
        self.persister.record_decision(Decision {
            at,
            key: self.key.clone(),
            kind: DecisionKind::Scale,
            from,
            to,
            reason: reason.clone(),
        });
        self.reason = reason;
    }

    /// An outage or recovery alert: logged beside the scale decisions, so that the charts still
    /// mark it after a restart.
    pub(super) fn alerted(&self, at: DateTime<Utc>, notice: &Notice) {
        let kind = match notice.kind {
            NoticeKind::Recovery | NoticeKind::QueueDrained => DecisionKind::Recovery,
            // An outage, or a kind this version does not know yet: marked as trouble.
            _ => DecisionKind::Outage,
        };
        self.persister.record_decision(Decision {
            at,
            key: self.key.clone(),
            kind,
            from: notice.from,
            to: notice.to,
            reason: notice.detail.clone(),
        });
    }

    /// Saves the state when `decided`, or when it changed since the last save, looked at once a
    /// minute; `actual` is the quantity Heroku last reported, as the decision task knows it.
    pub(super) fn save(
        &mut self,
        decider: &Decider,
        actual: Option<u32>,
        now: DateTime<Utc>,
        decided: bool,
    ) {
        let due = self.saved_at.is_none_or(|at| now - at >= SAVE_EVERY);
        if !decided && !due {
            return;
        }
        let state = serde_json::to_string(&decider.state()).unwrap_or_default();
        let alerts = self.alerter.sent_log(&self.settings);
        let now_saved = (state, alerts, actual);
        // Checked at most once a minute, changed or not: serialising the state at every probe
        // once a minute had passed cost more than the rest of the event.
        self.saved_at = Some(now);
        if !decided && self.saved.as_ref() == Some(&now_saved) {
            return;
        }
        let snapshot = decider.snapshot();
        self.persister.save_state(AppState {
            key: self.key.clone(),
            target: snapshot.target,
            reason: self.reason.clone(),
            baseline: snapshot.baseline,
            actual,
            outage_since: snapshot.outage_since,
            decider: now_saved.0.clone(),
            alerts: now_saved.1.clone(),
            updated_at: now,
        });
        self.saved = Some(now_saved);
    }
}
