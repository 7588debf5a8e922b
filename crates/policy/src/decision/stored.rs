//! The stored layout of a [`DeciderState`]: the fields every version wrote, where they were before
//! the recommenders owned their state (the probe rules' at the top, the fail-safe's inside the
//! traffic rules'), so a state stored by an earlier version restores, and an earlier version reads
//! one stored by this.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DeciderState, FailSafe};
use crate::recommend::probe::ProbeState;
use crate::recommend::queue::QueueState;
use crate::recommend::router_health::RouterHealthState;
use crate::recommend::traffic::TrafficState;

#[derive(Serialize, Deserialize)]
pub(super) struct Stored {
    baseline: u32,
    target: u32,
    #[serde(flatten)]
    probe: ProbeState,
    last_scale_out: Option<DateTime<Utc>>,
    last_trouble: Option<DateTime<Utc>>,
    calm_since: DateTime<Utc>,
    started_from_zero: Option<DateTime<Utc>>,
    outage_since: Option<DateTime<Utc>>,
    maintenance: bool,
    /// Empty in states stored before the traffic rules.
    #[serde(default)]
    traffic: StoredTraffic,
    /// Empty in states stored before the job-queue rules, and left out while empty.
    #[serde(default, skip_serializing_if = "QueueState::is_empty")]
    queue: QueueState,
    /// Empty in states stored before the router lines' health; not written while empty, so a
    /// state where nothing failed is stored as every earlier version stored it.
    #[serde(default, skip_serializing_if = "RouterHealthState::is_empty")]
    router_health: RouterHealthState,
}

#[derive(Default, Serialize, Deserialize)]
struct StoredTraffic {
    #[serde(flatten)]
    rules: TrafficState,
    #[serde(default)]
    last_out: Option<DateTime<Utc>>,
    #[serde(default)]
    fail_safe_due: Option<DateTime<Utc>>,
}

impl From<Stored> for DeciderState {
    fn from(stored: Stored) -> DeciderState {
        DeciderState {
            baseline: stored.baseline,
            target: stored.target,
            last_scale_out: stored.last_scale_out,
            last_trouble: stored.last_trouble,
            calm_since: stored.calm_since,
            started_from_zero: stored.started_from_zero,
            outage_since: stored.outage_since,
            maintenance: stored.maintenance,
            fail_safe: FailSafe {
                last_out: stored.traffic.last_out,
                due: stored.traffic.fail_safe_due,
            },
            probe: stored.probe,
            traffic: stored.traffic.rules,
            queue: stored.queue,
            router_health: stored.router_health,
        }
    }
}

impl From<DeciderState> for Stored {
    fn from(state: DeciderState) -> Stored {
        Stored {
            baseline: state.baseline,
            target: state.target,
            probe: state.probe,
            last_scale_out: state.last_scale_out,
            last_trouble: state.last_trouble,
            calm_since: state.calm_since,
            started_from_zero: state.started_from_zero,
            outage_since: state.outage_since,
            maintenance: state.maintenance,
            traffic: StoredTraffic {
                rules: state.traffic,
                last_out: state.fail_safe.last_out,
                fail_safe_due: state.fail_safe.due,
            },
            queue: state.queue,
            router_health: state.router_health,
        }
    }
}
