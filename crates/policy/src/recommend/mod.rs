//! One recommender per signal. Each owns its state (plain data inside
//! [`DeciderState`](crate::DeciderState)) and its part of the policy, and answers one reading with
//! one [`Recommendation`], the way Knative's autoscaler answers `Scale()` with one `ScaleResult`.
//! None does I/O, reads a clock, or knows the others: the [`Decider`](crate::Decider) combines what
//! they recommend within `[min, max]`, applies the fail-safe, the cooldown and the calm, and raises
//! the alerts.
//!
//! - [`probe`]: the probe rules (down → the fail-safe, slow → a step out, fast → calm).
//! - [`router_errors`]: a burst of router errors H10/H12/H13 is trouble, like slow probes.
//! - [`router_health`]: the router's lines of the last seconds nearly all failing is down, like
//!   `failures` down probes, and success again for `calm` is up.
//! - [`traffic`]: the traffic rules (stable and panic demand, saturation, the usual load, the
//!   queued-out memory), from the router's figures.
//! - [`schedule`]: the schedule's baseline.
//! - [`queue`]: a worker's job queues (wake from zero, out on the oldest job's age, in after a
//!   calm window, never below the busy jobs' dynos, the stuck-queue alert).
//!
//! A new signal (a job queue, say) is one more module here with a `recommend`
//! that returns a [`Recommendation`]: dynos for a demand, [`Ask::StepOut`] for trouble, or
//! [`Ask::Down`] for the fail-safe.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::event::Reason;

pub(crate) mod probe;
pub(crate) mod queue;
pub(crate) mod router_errors;
pub(crate) mod router_health;
pub(crate) mod schedule;
pub(crate) mod traffic;

/// What one recommender asks for after one reading.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recommendation {
    /// What it asks of the target.
    pub(crate) ask: Ask,
    /// What the reading says of the app's health, for the calm a step in waits for.
    pub(crate) health: Health,
    /// Worth a log line, said before the ask is carried out (once per stretch, by the recommender's
    /// own memory).
    pub(crate) note: Option<String>,
}

impl Recommendation {
    /// No change, and nothing said.
    pub(crate) fn hold() -> Recommendation {
        Recommendation::asking(Ask::Hold)
    }

    /// `ask`, the app's health left as it is.
    pub(crate) fn asking(ask: Ask) -> Recommendation {
        Recommendation {
            ask,
            health: Health::Fine,
            note: None,
        }
    }

    /// No change, and `note` said.
    pub(crate) fn noting(note: String) -> Recommendation {
        Recommendation {
            note: Some(note),
            ..Recommendation::hold()
        }
    }
}

/// What a recommender asks of the target; the [`Decider`](crate::Decider) keeps it within
/// `[min, max]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ask {
    /// No change from this signal.
    Hold,
    /// This many dynos, now (out or in; the recommender applied its own hysteresis).
    Dynos(u32, Reason),
    /// Trouble that calls for one `step` more, at most once per `scale_out_cooldown`.
    StepOut(Reason),
    /// The app is down: the fail-safe to `max`, and an outage alert.
    Down(Down),
}

/// What a signal that finds the app down tells the fail-safe.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Down {
    /// Why the target goes to `max`, for the scale's log line.
    pub(crate) reason: Reason,
    /// What the signal saw, for the outage alert ("HTTP 503").
    pub(crate) detail: String,
    /// What the signal saw and how often, for the note when the fail-safe waits for booting dynos
    /// ("down probe (HTTP 503, 2 in a row)").
    pub(crate) seen: String,
    /// Whether this reading is the one that found the app down (the first of its stretch): the
    /// fail-safe's wait for booting dynos is counted from it.
    pub(crate) onset: bool,
}

/// What a reading says of the app's health, for the calm a step in waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// Nothing against the calm (a fast probe, or nothing to say).
    Fine,
    /// Not trouble, but not calm either: the calm starts again (a normal probe, an ignored down
    /// probe).
    Unsettled,
    /// Trouble: the calm starts again, and no step in within `calm` of it.
    Trouble,
}

/// The time from `since` to `now`, zero when the clock went back.
pub(crate) fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or(Duration::ZERO)
}
