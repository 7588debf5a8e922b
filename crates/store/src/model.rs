//! What the store keeps: plain data, no behaviour beyond the minute rounding the history needs.

use chrono::{DateTime, Utc};

/// One process type of one app, e.g. `("my-app", "web")`: the key of app state, history and leases.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessKey {
    /// The Heroku app's name.
    pub app: String,
    /// The process type, e.g. `web` or `worker`.
    pub process: String,
}

impl ProcessKey {
    /// The key of `process` in `app`.
    pub fn new(app: impl Into<String>, process: impl Into<String>) -> Self {
        Self {
            app: app.into(),
            process: process.into(),
        }
    }
}

/// The daemon's state for one process type of one app: one row each, replaced on every save.
#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    /// Which app and process type.
    pub key: ProcessKey,
    /// The dyno count last decided.
    pub target: u32,
    /// Why that target, as shown to people.
    pub reason: String,
    /// The schedule's baseline count at that time.
    pub baseline: u32,
    /// The dyno count Heroku last reported, if known.
    pub actual: Option<u32>,
    /// Since when the app has been down, while it is.
    pub outage_since: Option<DateTime<Utc>>,
    /// The decision logic's full serialized state (JSON; cooldown and calm clocks, ...). Opaque here.
    pub decider: String,
    /// The alerts' de-duplication state (JSON; which alert was sent when). Opaque here.
    pub alerts: String,
    /// When this state was saved.
    pub updated_at: DateTime<Utc>,
}

/// One decision, appended to a log kept [`RETENTION`](crate::RETENTION) long: a scale, or an
/// outage or recovery alert (kept so the charts mark them after a restart).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// Which app and process type.
    pub key: ProcessKey,
    /// A scale or an alert.
    pub kind: DecisionKind,
    /// The dyno count before (for an alert, the target when it went out).
    pub from: u32,
    /// The dyno count decided (for an alert, the target when it went out).
    pub to: u32,
    /// Why, as shown to people.
    pub reason: String,
}

/// What a [`Decision`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionKind {
    /// The target moved.
    Scale,
    /// An outage alert went out.
    Outage,
    /// A recovery alert went out.
    Recovery,
}

impl DecisionKind {
    /// Its name in the `kind` column.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Scale => "scale",
            DecisionKind::Outage => "outage",
            DecisionKind::Recovery => "recovery",
        }
    }

    /// The kind named `name` in the `kind` column, or [`Error::Corrupt`](crate::Error::Corrupt).
    pub(crate) fn parse(name: &str) -> Result<DecisionKind, crate::Error> {
        [
            DecisionKind::Scale,
            DecisionKind::Outage,
            DecisionKind::Recovery,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
        .ok_or_else(|| crate::Error::Corrupt(format!("kind holds {name:?}, not a decision kind")))
    }
}

/// One minute of one process type's figures: at most one per minute, a later write replacing it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// Which app and process type.
    pub key: ProcessKey,
    /// The UTC minute; seconds and below are dropped when written.
    pub minute: DateTime<Utc>,
    /// Median probe latency, none without probes.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile probe latency, none without probes.
    pub latency_p95_ms: Option<f64>,
    /// Highest probe latency, none without probes.
    pub latency_max_ms: Option<f64>,
    /// Probes made in the minute.
    pub probes: u32,
    /// Of those, how many found the app down.
    pub probes_down: u32,
    /// Of those, how many were slow.
    pub probes_slow: u32,
    /// The dyno count Heroku reported, if known.
    pub actual: Option<u32>,
    /// The dyno count decided.
    pub target: u32,
    /// The schedule's baseline count.
    pub baseline: u32,
    /// Requests seen in the router logs, if they are read.
    pub requests: Option<u64>,
    /// Mean requests in flight from the router logs, if they are read.
    pub in_flight: Option<f64>,
    /// A worker's jobs ready (due ones included) at the minute's last reading of its queues.
    pub queue_ready: Option<u64>,
    /// Its jobs running then, where the job library records them.
    pub queue_busy: Option<u64>,
    /// The age of its oldest ready job then, in milliseconds, where the library stores it.
    pub queue_latency_ms: Option<f64>,
}

/// A lease on one process type, held by one instance of a fleet until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The process type leased.
    pub key: ProcessKey,
    /// Who holds it (an instance id).
    pub holder: String,
    /// When it lapses unless renewed, on the database's clock.
    pub expires_at: DateTime<Utc>,
    /// Fencing token: raised each time the lease changes hands or is taken again after lapsing, so a
    /// write carrying an older generation comes from a holder that has lost the lease.
    pub generation: u64,
}

/// What a state write carries to prove its writer still holds the lease: see
/// [`Store::save_app_state_fenced`](crate::Store::save_app_state_fenced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The instance that took the lease.
    pub holder: String,
    /// The lease's generation when it was taken.
    pub generation: u64,
}

/// One instance of a fleet, as its last heartbeat shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The id it gave.
    pub instance_id: String,
    /// Its last heartbeat, on the database's clock.
    pub last_seen: DateTime<Utc>,
}

/// An override or a pause as stored: see [`Store::add_override`](crate::Store::add_override).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Its id, given by the database: what `override remove` and `DELETE /api/overrides/{id}` take.
    pub id: i64,
    /// What it is and when: everything given when it was recorded.
    pub spec: NewOverride,
    /// When it was removed (or resumed) before its end, if it was.
    pub ended_at: Option<DateTime<Utc>>,
}

impl Override {
    /// When it stops applying: removed, or its `until`, whichever comes first; `None` for a pause
    /// until resumed.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        match (self.ended_at, self.spec.until) {
            (Some(ended), Some(until)) => Some(ended.min(until)),
            (ended, until) => ended.or(until),
        }
    }

    /// Whether it applies at `at`: from `from` (included) to its end (excluded).
    pub fn applies_at(&self, at: DateTime<Utc>) -> bool {
        self.spec.from <= at && self.ends_at().is_none_or(|end| at < end)
    }
}

/// An override or a pause to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOverride {
    /// The app and process type it is for.
    pub key: ProcessKey,
    /// An override of the baseline or bounds, or a pause.
    pub action: OverrideAction,
    /// When it starts.
    pub from: DateTime<Utc>,
    /// When it ends; `None` only for a pause that lasts until resumed.
    pub until: Option<DateTime<Utc>>,
    /// Why, as people wrote it.
    pub reason: String,
    /// Who recorded it (`$USER`, `--by`, or the page).
    pub by: String,
    /// When it was recorded: where overrides overlap, the later-created wins.
    pub created_at: DateTime<Utc>,
}

/// What an override does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverrideAction {
    /// Replaces the baseline and/or the bounds while it runs; `None` leaves that one as configured.
    Set {
        /// The baseline dyno count instead of the schedule's.
        quantity: Option<u32>,
        /// The lowest dyno count instead of the configured `min`.
        min: Option<u32>,
        /// The highest dyno count instead of the configured `max`.
        max: Option<u32>,
    },
    /// No scale call at all while it runs.
    Pause,
}

impl OverrideAction {
    /// Its name in the `kind` column.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            OverrideAction::Set { .. } => "override",
            OverrideAction::Pause => "pause",
        }
    }

    /// The three counts as stored (all `None` for a pause).
    pub(crate) fn counts(self) -> [Option<i64>; 3] {
        match self {
            OverrideAction::Set { quantity, min, max } => {
                [quantity, min, max].map(|count| count.map(i64::from))
            }
            OverrideAction::Pause => [None; 3],
        }
    }

    /// The action stored as `kind` with those counts, or [`Error::Corrupt`](crate::Error::Corrupt).
    pub(crate) fn parse(kind: &str, counts: [Option<i64>; 3]) -> Result<Self, crate::Error> {
        let [quantity, min, max] = counts;
        let count = |value: Option<i64>, column| crate::convert::count_opt(value, column);
        match kind {
            "override" => Ok(OverrideAction::Set {
                quantity: count(quantity, "quantity")?,
                min: count(min, "min_count")?,
                max: count(max, "max_count")?,
            }),
            "pause" => Ok(OverrideAction::Pause),
            other => Err(crate::Error::Corrupt(format!(
                "kind holds {other:?}, not an override kind"
            ))),
        }
    }
}

/// What [`Store::prune`](crate::Store::prune) deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Decisions deleted.
    pub decisions: u64,
    /// History minutes deleted.
    pub history: u64,
    /// Fleet instances not seen since, deleted.
    pub instances: u64,
    /// Overrides and pauses that ended before, deleted.
    pub overrides: u64,
}

/// `at` with its seconds and below dropped: the minute it falls in.
pub(crate) fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = at.timestamp();
    DateTime::from_timestamp(seconds - seconds.rem_euclid(60), 0).unwrap_or(at)
}
