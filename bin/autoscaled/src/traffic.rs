//! The router's log figures as the decision rules read them: the one place
//! `autoscaled-router-logs` meets `autoscaled-policy`.
//!
//! The daemon's drain endpoint keeps an [`Aggregator`](router_logs::Aggregator) per app; at each
//! decision it asks for [`TrafficFigures`] and hands [`policy_traffic`]'s result to the decider as
//! [`policy::Event::Traffic`], and [`health`]'s as [`policy::Event::RouterHealth`].

use chrono::{DateTime, Utc};
use router_logs::{HealthFigures, TrafficFigures};

/// The figures an app's aggregator gives at `now`, as a [`policy::Traffic`] observation.
///
/// Its `at` is the newest router line's time; with no line at all it is the distant past, which
/// the decider treats as stale (the probe rules alone act). H10 (app crashed), H12 (request
/// timeout) and H13 (connection closed without response) are the errors that count as trouble;
/// H27 (the client hung up) and the others do not. H80 lines are maintenance mode.
pub(crate) fn policy_traffic(figures: &TrafficFigures, now: DateTime<Utc>) -> policy::Traffic {
    let errors = &figures.errors_last_minute;
    let trouble = errors
        .h10
        .saturating_add(errors.h12)
        .saturating_add(errors.h13);
    policy::Traffic {
        at: figures
            .newest
            .map_or(DateTime::<Utc>::MIN_UTC, |newest| newest.min(now)),
        requests_per_minute: figures.requests_last_minute,
        arrivals_per_sec: figures.stable.arrivals_per_sec,
        mean_service: figures.stable.mean_service,
        in_flight: figures.stable.in_flight,
        panic_in_flight: figures.panic.in_flight,
        panic_arrivals_per_sec: figures.panic.arrivals_per_sec,
        panic_window: figures.panic.window,
        trouble_errors_last_minute: u32::try_from(trouble).unwrap_or(u32::MAX),
        server_errors_last_minute: u32::try_from(figures.server_errors_last_minute)
            .unwrap_or(u32::MAX),
        left_out: figures.stable.left_out,
        maintenance: figures.maintenance,
        dynos: figures.stable.dynos,
        panic_dynos: figures.panic.dynos,
    }
}

/// The health an app's aggregator gives for the lines logged up to `now`, as a
/// [`policy::RouterHealth`] reading.
pub(crate) fn health(figures: &HealthFigures, now: DateTime<Utc>) -> policy::RouterHealth {
    policy::RouterHealth {
        at: now,
        window: figures.window,
        requests: figures.requests,
        failing: figures
            .failing
            .iter()
            .map(|&(label, n)| (label.to_owned(), n))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
