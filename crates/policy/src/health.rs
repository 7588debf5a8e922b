//! What the router's lines of the last seconds say of an app's health: how many requests, and how
//! many failed in a way that means the app is down. The binary counts them (crate
//! `autoscaled-router-logs`) and hands them over as [`RouterHealth`]; the rule that calls the app
//! down from them is `recommend::router_health`.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The router's lines logged over the last seconds of an app, read at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterHealth {
    /// The window's end: the lines counted were logged up to this instant.
    pub at: DateTime<Utc>,
    /// The window's length ([`TrafficPolicy::down_window`](crate::TrafficPolicy::down_window)).
    pub window: Duration,
    /// Requests whose lines were logged in the window (H80s and other apps' lines left out).
    pub requests: u64,
    /// Those that failed in a way that means the app is down (the app's own 5xx; H10, H12, H13,
    /// H18, H19, H20), by what the router saw (`"503"`, `"H13"`), the most frequent first.
    pub failing: Vec<(String, u64)>,
}

impl RouterHealth {
    /// All failing requests, at most `requests`.
    pub fn failing_total(&self) -> u64 {
        self.failing
            .iter()
            .fold(0u64, |sum, (_, n)| sum.saturating_add(*n))
            .min(self.requests)
    }

    /// What the router saw, in words: "503 on 97% of 412 requests in 10 s" (the share rounded
    /// down, so 89.9% never reads as 90%); the three most frequent failures, joined.
    pub fn describe(&self) -> String {
        let labels: Vec<&str> = self
            .failing
            .iter()
            .take(3)
            .map(|(l, _)| l.as_str())
            .collect();
        let labels = match (labels.as_slice(), self.failing.len()) {
            ([], _) => "failures".to_owned(),
            (some, n) if n > 3 => format!("{} and others", some.join(", ")),
            ([one], _) => (*one).to_owned(),
            (some, _) => {
                let (last, rest) = some.split_last().unwrap_or((&"", &[]));
                format!("{} and {last}", rest.join(", "))
            }
        };
        let share = self
            .failing_total()
            .saturating_mul(100)
            .checked_div(self.requests)
            .unwrap_or(0);
        // The window is whole seconds (the aggregator counts by the second).
        format!(
            "{labels} on {share}% of {} requests in {} s",
            self.requests,
            self.window.as_secs()
        )
    }
}
