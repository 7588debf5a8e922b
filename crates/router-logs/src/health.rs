//! Whether an app's requests fail, from its router lines of the last seconds: the evidence that the
//! app is down, seconds after it goes down, with a drain.
//!
//! Counted by the time the router logged each line (when the request ended), not when the request
//! arrived as the traffic figures are: an H12 logged now arrived 30 s ago, and it is now that the
//! router says the app fails. One small bucket a second over [`MAX_HEALTH_WINDOW`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{At, ErrorCode, RouterLine};

/// The longest window [`Aggregator::health`](crate::Aggregator::health) looks back over.
pub const MAX_HEALTH_WINDOW: Duration = Duration::from_secs(60);

/// What a failing request looks like, as the router logged it; the order of
/// [`HealthFigures::failing`]'s labels when their counts tie.
const FAILURES: [&str; 11] = [
    "503", "500", "502", "504", "5xx", "H10", "H12", "H13", "H18", "H19", "H20",
];

/// The failure a line shows that means the app is down, if it shows one: the app's own 5xx
/// answers; H10 (app crashed), H12 (request timeout), H13 (connection closed without response),
/// H18 (server request interrupted), H19 (backend connection timeout), H20 (app boot timeout).
/// Not H27 (the client gave up), H80 (maintenance: the router answered for the app), H14 (no web
/// dynos: an app at 0 on purpose), other codes, nor 4xx.
fn failure(line: &RouterLine<'_>) -> Option<usize> {
    let code;
    let label = match line.code {
        Some(c) => {
            code = c;
            match code.as_str() {
                "H10" | "H12" | "H13" | "H18" | "H19" | "H20" => code.as_str(),
                _ => return None,
            }
        }
        None if line.at == At::Error => return None,
        None => match line.status? {
            500 => "500",
            502 => "502",
            503 => "503",
            504 => "504",
            501 | 505..=599 => "5xx",
            _ => return None,
        },
    };
    FAILURES.iter().position(|&l| l == label)
}

/// Whether a line is a failed request, whose `service=` is not the app's work: the [`failure`]s
/// that mean down, and any other router error but H27 (the client gave up while the app worked).
/// H80 and H14 lines never reached a dyno and carry no service time anyway.
pub(crate) fn failed(line: &RouterLine<'_>) -> bool {
    failure(line).is_some()
        || match line.code {
            Some(ErrorCode::H27 | ErrorCode::H80 | ErrorCode::H14) => false,
            Some(_) => true,
            None => line.at == At::Error,
        }
}

/// Whether `host` belongs to another Heroku app than `app`: `other.herokuapp.com`, where `app`'s
/// own are `app.herokuapp.com` and `app-<12 hex digits>.herokuapp.com` (Heroku's newer default
/// domain). A custom domain, or no host at all, is taken as the app's: the drain is the app's own.
pub(crate) fn foreign(app: &str, host: Option<&str>) -> bool {
    let Some(name) = host.and_then(|h| {
        h.to_ascii_lowercase()
            .strip_suffix(".herokuapp.com")
            .map(str::to_owned)
    }) else {
        return false;
    };
    if name == app {
        return false;
    }
    let suffixed = name
        .strip_prefix(app)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    !suffixed
}

/// One second of router lines, by the time they were logged.
#[derive(Debug, Clone, Copy)]
struct Second {
    second: i64,
    requests: u32,
    failing: [u32; FAILURES.len()],
}

/// The per-second counts of [`MAX_HEALTH_WINDOW`]: 60 × 56 bytes an app.
#[derive(Debug, Clone)]
pub(crate) struct HealthRing {
    seconds: Vec<Second>,
}

impl HealthRing {
    pub(crate) fn new() -> HealthRing {
        let empty = Second {
            second: i64::MIN,
            requests: 0,
            failing: [0; FAILURES.len()],
        };
        HealthRing {
            seconds: vec![empty; MAX_HEALTH_WINDOW.as_secs() as usize],
        }
    }

    /// Counts `line`, logged at `logged` (at most `now`), unless it is an H80 (the router answered
    /// for the app, which was not asked) or older than the ring.
    pub(crate) fn count(
        &mut self,
        logged: DateTime<Utc>,
        now: DateTime<Utc>,
        line: &RouterLine<'_>,
    ) {
        if line.code == Some(ErrorCode::H80) {
            return;
        }
        let second = logged.timestamp();
        let len = self.seconds.len() as i64;
        if second <= now.timestamp() - len {
            return;
        }
        let slot = &mut self.seconds[second.rem_euclid(len) as usize];
        if slot.second > second {
            return;
        }
        if slot.second < second {
            *slot = Second {
                second,
                requests: 0,
                failing: [0; FAILURES.len()],
            };
        }
        slot.requests = slot.requests.saturating_add(1);
        if let Some(kind) = failure(line) {
            slot.failing[kind] = slot.failing[kind].saturating_add(1);
        }
    }

    /// The lines logged in the `window` whole seconds up to and including `now`'s.
    pub(crate) fn figures(&self, now: DateTime<Utc>, window: Duration) -> HealthFigures {
        let window = window.clamp(Duration::from_secs(1), MAX_HEALTH_WINDOW);
        let span = window.as_secs() as i64;
        let now_second = now.timestamp();
        let mut requests = 0u64;
        let mut failing = [0u64; FAILURES.len()];
        for s in &self.seconds {
            if s.second <= now_second && s.second > now_second - span {
                requests += u64::from(s.requests);
                for (total, &n) in failing.iter_mut().zip(&s.failing) {
                    *total += u64::from(n);
                }
            }
        }
        let mut by_kind: Vec<(&'static str, u64)> = FAILURES
            .iter()
            .zip(failing)
            .filter(|&(_, n)| n > 0)
            .map(|(&label, n)| (label, n))
            .collect();
        // Stable: ties keep FAILURES' order.
        by_kind.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        HealthFigures {
            window: Duration::from_secs(span.unsigned_abs()),
            requests,
            failing: by_kind,
        }
    }
}

/// The router lines logged over the last seconds; see [`Aggregator::health`](crate::Aggregator::health).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthFigures {
    /// The window, whole seconds up to [`MAX_HEALTH_WINDOW`].
    pub window: Duration,
    /// Requests whose lines were logged in the window: every line but H80s (the router answered
    /// for an app in maintenance) and lines for another app's host.
    pub requests: u64,
    /// Those that failed in a way that means the app is down, by what the router saw (`"503"`,
    /// `"5xx"` for the other 5xx statuses, `"H13"`, ...), the most frequent first; no zero counts.
    pub failing: Vec<(&'static str, u64)>,
}

impl HealthFigures {
    /// All failing requests.
    #[must_use]
    pub fn failing_total(&self) -> u64 {
        self.failing.iter().map(|&(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_apps_hosts_are_foreign_and_custom_domains_are_not() {
        assert!(!foreign("shop", Some("shop.herokuapp.com")));
        assert!(!foreign("shop", Some("shop-1a2b3c4d5e6f.herokuapp.com")));
        assert!(!foreign("shop", Some("www.shop.example")));
        assert!(!foreign("shop", None));
        assert!(foreign("shop", Some("blog.herokuapp.com")));
        assert!(foreign("shop", Some("shop-other.herokuapp.com")));
        assert!(foreign("shop", Some("shopping.herokuapp.com")));
    }
}
