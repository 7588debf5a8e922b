//! The limits and rhythms of one app's process type.

use std::time::Duration;

use crate::traffic::TrafficPolicy;

/// The limits and rhythms the rules work with; the runtime builds it from the app's config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// The fewest dynos, whatever the schedule says.
    pub min: u32,
    /// The most dynos; the fail-safe's target.
    pub max: u32,
    /// Dynos added by one step out on slow probes.
    pub step: u32,
    /// Consecutive down (or slow) probes that count as trouble.
    pub failures: u32,
    /// The least time between two steps out.
    pub scale_out_cooldown: Duration,
    /// How long every probe must be fast before a step in, and down-free before a recovery.
    pub calm: Duration,
    /// The traffic rules, when the app's router logs are read; `None`: the probe rules alone.
    pub traffic: Option<TrafficPolicy>,
}
