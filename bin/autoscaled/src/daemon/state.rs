//! What one app's decision task keeps in the database, handed to the store's `Persister` so the
//! task never waits on it: the state on every decision and otherwise at most once a minute when it
//! changed, and every scale decision. (The board hands the store one history row per minute.)

use chrono::{DateTime, TimeDelta, Utc};
use policy::{Decider, DeciderState, Notice, NoticeKind};
use store::{AppState, Decision, DecisionKind, ProcessKey};
use tracing::{info, warn};

use super::app::AppContext;

/// A state that changed is saved at least this often even without a decision.
const SAVE_EVERY: TimeDelta = TimeDelta::minutes(1);

/// One app's link to the database.
#[derive(Debug)]
pub(super) struct Keeper {
    key: ProcessKey,
    /// Why the target is what it is: the last decision's reason.
    reason: String,
    saved_at: Option<DateTime<Utc>>,
    /// What was last saved: decider, alerts, actual.
    saved: Option<(String, String, Option<u32>)>,
}

/// The stored decider state of `ctx`'s app, if any and readable.
pub(super) fn stored_decider(ctx: &AppContext) -> Option<DeciderState> {
    let stored = ctx.stored.as_ref()?;
    match serde_json::from_str(&stored.decider) {
        Ok(state) => Some(state),
        Err(error) => {
            warn!(app = %ctx.settings.name, process = %ctx.settings.process, error = %error,
                "the stored state cannot be read (from another version?); starting afresh");
            None
        }
    }
}

impl Keeper {
    /// Starts keeping `ctx`'s app; restores its alerts' de-duplication and logs what was restored.
    pub(super) fn start(ctx: &AppContext, decider: &Decider, reason: String) -> Keeper {
        let settings = &ctx.settings;
        let mut reason = reason;
        if let Some(stored) = &ctx.stored {
            ctx.alerter.restore_sent_log(settings, &stored.alerts);
            let snapshot = decider.snapshot();
            info!(app = %settings.name, process = %settings.process, target = snapshot.target,
                outage_since = ?snapshot.outage_since, saved_at = %stored.updated_at,
                reason = %stored.reason, "restored the saved state");
            reason = stored.reason.clone();
        }
        Keeper {
            key: ProcessKey::new(&settings.name, &settings.process),
            reason,
            saved_at: None,
            saved: None,
        }
    }

    /// A scale decision: appended to the log, and the reason for the target from now on.
    pub(super) fn scaled(
        &mut self,
        ctx: &AppContext,
        at: DateTime<Utc>,
        from: u32,
        to: u32,
        reason: String,
    ) {
        ctx.persister.record_decision(Decision {
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
    pub(super) fn alerted(&self, ctx: &AppContext, at: DateTime<Utc>, notice: &Notice) {
        let kind = match notice.kind {
            NoticeKind::Recovery => DecisionKind::Recovery,
            // An outage, or a kind this version does not know yet: marked as trouble.
            _ => DecisionKind::Outage,
        };
        ctx.persister.record_decision(Decision {
            at,
            key: self.key.clone(),
            kind,
            from: notice.from,
            to: notice.to,
            reason: notice.detail.clone(),
        });
    }

    /// Saves the state when `decided`, or when it changed since the last save, looked at once a
    /// minute.
    pub(super) fn save(
        &mut self,
        ctx: &AppContext,
        decider: &Decider,
        now: DateTime<Utc>,
        decided: bool,
    ) {
        let due = self.saved_at.is_none_or(|at| now - at >= SAVE_EVERY);
        if !decided && !due {
            return;
        }
        let state = serde_json::to_string(&decider.state()).unwrap_or_default();
        let alerts = ctx.alerter.sent_log(&ctx.settings);
        let actual = ctx.board.actual(ctx.index);
        let now_saved = (state, alerts, actual);
        // Checked at most once a minute, changed or not: serialising the state at every probe
        // once a minute had passed cost more than the rest of the event.
        self.saved_at = Some(now);
        if !decided && self.saved.as_ref() == Some(&now_saved) {
            return;
        }
        let snapshot = decider.snapshot();
        ctx.persister.save_state(AppState {
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
