//! What a replay is given of the app (its rules and its price), and how it writes instants.

use std::time::Duration;

use chrono::{DateTime, Utc};
use policy::Policy;
use schedule::Schedule;

/// The app a simulation replays: its rules and what its dynos cost.
#[derive(Debug, Clone)]
pub struct SimulatedApp {
    /// The app's name, for the report.
    pub name: String,
    /// The process type, for the report.
    pub process: String,
    /// The decision rules' limits.
    pub policy: Policy,
    /// The baseline; its time zone is the one days are cut in.
    pub schedule: Schedule,
    /// How often the app is probed; `None` when it is not, and only the schedule acts.
    pub probe_every: Option<Duration>,
    /// The dyno size's name, for the report's text.
    pub dyno_size: String,
    /// USD per dyno-hour.
    pub price_per_hour: f64,
}

/// An instant as the report and its messages write it: RFC 3339 in UTC, to the second.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
