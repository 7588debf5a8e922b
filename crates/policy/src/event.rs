//! The words the decider and its recommenders share: what the decider is told ([`Event`]), what it
//! wants done ([`Action`], [`Notice`]) and why the target moved ([`Reason`]).

use std::fmt;
use std::time::Duration;

use crate::classify::Class;
use crate::health::RouterHealth;
use crate::queue::{QueueDecision, QueueReading};
use crate::traffic::{Traffic, TrafficReason};

/// What the decider is told.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Time passed: re-evaluate the schedule.
    Tick,
    /// A probe answered (or did not); `detail` says how, for logs and alerts ("HTTP 503").
    Probe {
        /// What the probe says, by [`Thresholds::classify`](crate::Thresholds::classify).
        class: Class,
        /// How it answered, in words.
        detail: String,
    },
    /// Whether the app is in maintenance mode, as read from the app's info.
    Maintenance(bool),
    /// What the router's logs say about the app's traffic (ignored without
    /// [`Policy::traffic`](crate::Policy::traffic)). Boxed: the figures are three times the size of any other event, and
    /// every slot of a channel of events (a daemon has one an app) would pay for them.
    Traffic(Box<Traffic>),
    /// One poll of a worker's job queues (ignored unless the decider has
    /// [`with_queue`](crate::Decider::with_queue)). Boxed, like the traffic: a reading holds every
    /// queue's figures.
    Queue(Box<QueueReading>),
    /// What the router's lines of the last seconds say of the app's health (ignored without
    /// [`Policy::traffic`](crate::Policy::traffic)): nearly every request failing is down. Boxed,
    /// as the traffic figures are.
    RouterHealth(Box<RouterHealth>),
    /// The overrides and pauses recorded for this process type, running or coming: all of them
    /// each time (the runtime re-reads them every few seconds), so one that is gone from the list
    /// was removed. See [`Override`](crate::Override).
    Overrides(Vec<crate::Override>),
}

/// What the decider wants done.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Set the process type's quantity.
    Scale {
        /// The target before.
        from: u32,
        /// The new target.
        to: u32,
        /// Why, for the log line.
        reason: Reason,
    },
    /// Tell people.
    Alert(Notice),
    /// Worth a log line, nothing more (said once per stretch, not per probe).
    Note(String),
}

/// An alert the decider raises; the runtime turns it into email and SMS.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// An outage or a recovery.
    pub kind: NoticeKind,
    /// What happened, in words ("HTTP 503", "up again: …").
    pub detail: String,
    /// The target before the decision that raised it.
    pub from: u32,
    /// The target after it (the same as `from` when nothing was scaled).
    pub to: u32,
}

/// The alerts the decision rules raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoticeKind {
    /// `failures` down probes in a row, or the router's lines failing: the app is down.
    Outage,
    /// No down probe, and no failing lines, for `calm` after an outage.
    Recovery,
    /// A worker's oldest job over its target while the target is at `max`, for `stuck_after`:
    /// the worker's outage, its jobs late whatever is scaled.
    QueueStuck,
    /// The stuck queue's oldest job is back under the target.
    QueueDrained,
}

/// Why the target changed; printed as the `reason=` of the decision's log line.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// The schedule's baseline moved (or the process starts).
    Schedule {
        /// The baseline now.
        baseline: u32,
    },
    /// The fail-safe: `streak` down probes in a row, the last one `detail`.
    Down {
        /// The last down probe, in words.
        detail: String,
        /// How many in a row.
        streak: u32,
    },
    /// The fail-safe: the router's lines of the last seconds nearly all failed.
    RouterDown {
        /// What the router saw ("503 on 97% of 412 requests in 10 s").
        detail: String,
    },
    /// A step out: `streak` slow probes in a row, the last one `detail`.
    Slow {
        /// The last slow probe, in words.
        detail: String,
        /// How many in a row.
        streak: u32,
    },
    /// A step in: every probe fast for `calm`.
    Calm {
        /// The policy's calm.
        calm: Duration,
    },
    /// The traffic rules: the demand its figures ask for (out at once, in after the
    /// stabilisation window).
    Traffic(TrafficReason),
    /// A step out: a burst of router errors H10/H12/H13, trouble like slow probes.
    RouterErrors {
        /// H10/H12/H13 errors in the last minute.
        errors: u32,
        /// The policy's threshold.
        threshold: u32,
    },
    /// The job-queue rules: the figures of the poll that moved the target.
    Queue(QueueDecision),
    /// An override's quantity replaces the schedule's baseline.
    Override {
        /// Which override, as the runtime labelled it.
        label: String,
        /// The baseline it sets.
        baseline: u32,
    },
    /// An override's bounds moved the target into them.
    OverrideBounds {
        /// Which override, as the runtime labelled it.
        label: String,
        /// The lowest count while it runs.
        min: u32,
        /// The highest count while it runs.
        max: u32,
    },
    /// An override ended: back to the schedule's baseline.
    OverrideEnded {
        /// Which override, as the runtime labelled it.
        label: String,
        /// The schedule's baseline now.
        baseline: u32,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Schedule { baseline } => write!(f, "schedule: baseline {baseline}"),
            Reason::Down { detail, streak } => {
                write!(f, "down: {detail} ({streak} in a row), fail-safe to max")
            }
            Reason::RouterDown { detail } => {
                write!(f, "router lines: {detail}, fail-safe to max")
            }
            Reason::Slow { detail, streak } => write!(f, "slow: {detail} ({streak} in a row)"),
            Reason::Calm { calm } => write!(
                f,
                "calm: every probe fast for {}",
                humantime::format_duration(*calm)
            ),
            Reason::Traffic(figures) => figures.fmt(f),
            Reason::Queue(decision) => decision.fmt(f),
            Reason::Override { label, baseline } => write!(f, "{label}: baseline {baseline}"),
            Reason::OverrideBounds { label, min, max } => {
                write!(f, "{label}: within [{min}, {max}]")
            }
            Reason::OverrideEnded { label, baseline } => {
                write!(f, "{label} ended: schedule baseline {baseline}")
            }
            Reason::RouterErrors { errors, threshold } => write!(
                f,
                "router errors: {errors} H10/H12/H13 in the last minute (trouble from {threshold})"
            ),
        }
    }
}
