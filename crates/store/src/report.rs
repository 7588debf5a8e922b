//! What `autoscaled status` shows: each process type's saved state and its last decisions.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{DecisionKind, Error, ProcessKey, Store};

/// Every saved process type, as `autoscaled status` prints it: `Display` for people, `Serialize`
/// for `--json` (`{"apps":[{"app","process","baseline","target","actual","outage_since","reason",
/// "holder","decisions":[{"at","from","to","reason"}]}]}`).
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The database, password redacted.
    pub database: String,
    /// One entry per app and process type, by app then process type.
    pub apps: Vec<AppReport>,
}

/// One process type's saved state.
#[derive(Debug, Clone, Serialize)]
pub struct AppReport {
    /// The app.
    pub app: String,
    /// The process type.
    pub process: String,
    /// The schedule's baseline when last saved.
    pub baseline: u32,
    /// The target decided.
    pub target: u32,
    /// The quantity Heroku last reported, if known.
    pub actual: Option<u32>,
    /// Since when the open outage runs, if one is open.
    pub outage_since: Option<DateTime<Utc>>,
    /// Why the target.
    pub reason: String,
    /// The instance that holds its lease (decides and scales it), if a live one does.
    pub holder: Option<String>,
    /// When the state was saved.
    pub updated_at: DateTime<Utc>,
    /// The last decisions, newest first.
    pub decisions: Vec<DecisionReport>,
}

/// One decision.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionReport {
    /// When.
    pub at: DateTime<Utc>,
    /// The quantity before.
    pub from: u32,
    /// The quantity decided.
    pub to: u32,
    /// Why.
    pub reason: String,
}

impl Store {
    /// Every saved state with its last `decisions` decisions and the instance holding it; an
    /// instance counts as a holder while its heartbeat is less than `live_within` old.
    pub async fn status_report(
        &self,
        decisions: u32,
        live_within: Duration,
    ) -> Result<StatusReport, Error> {
        // The lease table says who holds what; an instance whose heartbeat stopped holds nothing,
        // even while a lease it took has not lapsed yet.
        let live: Vec<String> = self
            .live_instances(live_within)
            .await?
            .into_iter()
            .map(|i| i.instance_id)
            .collect();
        let holders: BTreeMap<ProcessKey, String> = self
            .leases()
            .await?
            .into_iter()
            .filter(|lease| live.contains(&lease.holder))
            .map(|lease| (lease.key, lease.holder))
            .collect();
        let mut apps = Vec::new();
        for state in self.app_states().await? {
            // Decisions are kept per app; this process type's are among the app's latest.
            let recent = self
                .decisions(&state.key.app, decisions.saturating_mul(8))
                .await?
                .into_iter()
                .filter(|d| d.key.process == state.key.process && d.kind == DecisionKind::Scale)
                .take(decisions as usize)
                .map(|d| DecisionReport {
                    at: d.at,
                    from: d.from,
                    to: d.to,
                    reason: d.reason,
                })
                .collect();
            let holder = holders.get(&state.key).cloned();
            apps.push(AppReport {
                app: state.key.app,
                process: state.key.process,
                baseline: state.baseline,
                target: state.target,
                actual: state.actual,
                outage_since: state.outage_since,
                reason: state.reason,
                holder,
                updated_at: state.updated_at,
                decisions: recent,
            });
        }
        Ok(StatusReport {
            database: self.url().to_owned(),
            apps,
        })
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "state: {}", self.database)?;
        if self.apps.is_empty() {
            writeln!(f, "no saved state yet: the daemon saves it once it runs")?;
        }
        for app in &self.apps {
            let actual = app.actual.map_or("unknown".into(), |a| a.to_string());
            writeln!(f, "\n{} {}", app.app, app.process)?;
            writeln!(
                f,
                "  baseline {}, target {}, actual {actual}: {}",
                app.baseline, app.target, app.reason
            )?;
            if let Some(since) = app.outage_since {
                writeln!(f, "  outage open since {}", since.to_rfc3339())?;
            }
            let holder = app.holder.as_deref().unwrap_or("no live instance");
            writeln!(
                f,
                "  held by {holder}; saved {}",
                app.updated_at.to_rfc3339()
            )?;
            for d in &app.decisions {
                let at = d.at.to_rfc3339();
                writeln!(f, "  {at} {} -> {}: {}", d.from, d.to, d.reason)?;
            }
        }
        Ok(())
    }
}
