//! The daemon's own Platform API budget: the calls one app makes an hour in a steady state, as the
//! daemon's reads are scheduled (`app.rs`), and a fleet's share of the account's limit, for `check`.

use std::time::Duration;

use heroku_api::ACCOUNT_RATE_LIMIT;

/// Platform API calls one app makes an hour in a steady state (every probe fine, not in
/// maintenance), reconciling every `reconcile`: one formation read each time, plus an app-info read
/// for maintenance mode when probed with `failures = 1` (`probe_failures`: `None` when not
/// probed), since then the first down probe already trips the fail-safe, so it must be known in
/// advance; with more failures it is read only once probes fail.
pub(crate) fn steady_calls_per_hour(reconcile: Duration, probe_failures: Option<u32>) -> f64 {
    let reads = if probe_failures == Some(1) { 2.0 } else { 1.0 };
    reads * 3600.0 / reconcile.as_secs_f64()
}

/// `calls_per_hour` (a fleet's total) as a percentage of the account's [`ACCOUNT_RATE_LIMIT`].
pub(crate) fn budget_share(calls_per_hour: f64) -> f64 {
    100.0 * calls_per_hour / f64::from(ACCOUNT_RATE_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_calls_per_hour_for_a_reconcile_interval() {
        let minute = Duration::from_secs(60);
        assert_eq!(steady_calls_per_hour(minute, None), 60.0);
        assert_eq!(steady_calls_per_hour(minute, Some(3)), 60.0);
        assert_eq!(steady_calls_per_hour(minute, Some(1)), 120.0);
        assert_eq!(
            steady_calls_per_hour(Duration::from_secs(300), Some(1)),
            24.0
        );
    }

    #[test]
    fn budget_share_of_the_account_limit() {
        assert_eq!(budget_share(45.0), 1.0);
        assert_eq!(budget_share(4500.0), 100.0);
    }
}
