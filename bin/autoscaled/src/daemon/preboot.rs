//! Heroku refuses formation changes while a release phase or a preboot cutover runs ("Cannot
//! change formation for a preboot app until release phase and preboot complete"). That passes by
//! itself within minutes: the actuator tries again every 30 s as after any failed call, logs the
//! refusal once, and alerts *scaling failed* only once it has lasted beyond [`PATIENCE`].

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How long refusals may go on before people are told: a release phase with its migrations and a
/// preboot cutover (up to 3 minutes' overlap) take minutes, not ten.
pub(super) const PATIENCE: Duration = Duration::from_secs(600);

/// One app's stretch of refusals, on the daemon's clock.
#[derive(Debug, Default)]
pub(super) struct PrebootWait {
    since: Option<DateTime<Utc>>,
    alerted: bool,
}

/// What to do about one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// The first of its stretch: log it.
    First,
    /// Another, within [`PATIENCE`] or after the alert: nothing more to say.
    Again,
    /// It has lasted beyond [`PATIENCE`]: alert *scaling failed*, once per stretch.
    TooLong {
        /// Since the first refusal.
        lasted: Duration,
    },
}

impl PrebootWait {
    /// A formation change was refused at `now`.
    pub(super) fn refused(&mut self, now: DateTime<Utc>) -> Refused {
        let Some(since) = self.since else {
            self.since = Some(now);
            return Refused::First;
        };
        let lasted = (now - since).to_std().unwrap_or(Duration::ZERO);
        if lasted > PATIENCE && !self.alerted {
            self.alerted = true;
            return Refused::TooLong { lasted };
        }
        Refused::Again
    }

    /// A formation change went through: the stretch, if one ran, is over; returns when it began.
    pub(super) fn passed(&mut self) -> Option<DateTime<Utc>> {
        self.alerted = false;
        self.since.take()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn refusals_are_logged_once_and_alerted_only_beyond_ten_minutes() {
        let start = DateTime::parse_from_rfc3339("2026-03-06T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |seconds: i64| start + TimeDelta::seconds(seconds);
        let mut wait = PrebootWait::default();
        assert_eq!(wait.refused(at(0)), Refused::First);
        // Every 30 s for ten minutes: quiet.
        for retry in 1..=20 {
            assert_eq!(
                wait.refused(at(30 * retry)),
                Refused::Again,
                "at {}s",
                30 * retry
            );
        }
        assert_eq!(
            wait.refused(at(630)),
            Refused::TooLong {
                lasted: Duration::from_secs(630)
            }
        );
        assert_eq!(wait.refused(at(660)), Refused::Again, "alerted once");
        assert_eq!(wait.passed(), Some(at(0)));
        assert_eq!(wait.passed(), None);
        // A new stretch starts afresh.
        assert_eq!(wait.refused(at(700)), Refused::First);
        assert_eq!(wait.refused(at(1290)), Refused::Again);
        assert_eq!(
            wait.refused(at(1301)),
            Refused::TooLong {
                lasted: Duration::from_secs(601)
            }
        );
    }
}
