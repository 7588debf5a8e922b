//! The pure decision rules of autoscaled.
//!
//! Nothing here does I/O or reads a clock: every function takes the time it is given. Start with
//! [`Decider`]: built from a [`Policy`] (the app's limits and rhythms) and its
//! [`Schedule`](schedule::Schedule), it takes an [`Event`] (a tick, a probe's [`Class`], maintenance
//! mode) at an instant and returns the [`Action`]s to take: scale, alert, note. Like a reconciler
//! it is level-triggered (each event re-reads the schedule at its instant) and idempotent (the
//! same tick twice changes nothing). Its [`DeciderState`] is plain data that survives a restart.
//!
//! Inside, each signal has its own recommender (`src/recommend/`): the probe rules, the router
//! errors, the traffic rules (stable and panic demand, saturation, the usual load, the queued-out
//! memory), the router lines' health (nearly every request failing is down, as down probes are),
//! the schedule's baseline and, for a worker ([`Decider::with_queue`]), its job queues
//! ([`QueueReading`]). Each owns its state and its part of the [`Policy`], and
//! answers one reading with one recommendation (hold, so many dynos, a step out, or down: the
//! fail-safe), the way Knative's autoscaler answers `Scale()` with one `ScaleResult`.
//! [`Decider::handle`] gives each event to its recommender and combines what comes back: within
//! `[min, max]` and never below the baseline, with the fail-safe, the cooldown, the calm and the
//! alerts. A new signal is a new recommender and an event, not another branch in the decider.
//!
//! People's [`Override`]s (a baseline or bounds for a window) and pauses (no scale call at all)
//! come in as [`Event::Overrides`]: the runtime reads them from its store and hands them over; the
//! decider obeys the ones running at each instant it is given, and says when one starts and ends.
//!
//! [`Thresholds::classify`] is the one rule that turns a probe's status and latency into a
//! [`Class`]; the runtime's prober and the simulator (crate `autoscaled-simulate`, which replays a
//! traffic trace through these very rules) both call it.
//!
//! ```
//! use std::time::Duration;
//! use autoscaled_policy::{Action, Class, Decider, Event, Policy};
//! use chrono::{TimeZone, Utc};
//! use schedule::{Rule, Schedule};
//!
//! let policy = Policy {
//!     min: 1,
//!     max: 5,
//!     step: 1,
//!     failures: 2,
//!     scale_out_cooldown: Duration::from_secs(120),
//!     calm: Duration::from_secs(600),
//!     traffic: None,
//! };
//! let schedule = Schedule::new(vec![Rule::new("0 7 * * *", 2).unwrap()], chrono_tz::UTC, 1);
//! let noon = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
//! let mut decider = Decider::new(policy, schedule, noon, None);
//! assert_eq!(decider.target(), 2, "the baseline since 07:00");
//!
//! let down = || Event::Probe { class: Class::Down, detail: "HTTP 503".into() };
//! assert!(decider.handle(down(), noon).is_empty(), "one down probe is not an outage");
//! let actions = decider.handle(down(), noon + Duration::from_secs(30));
//! assert!(matches!(actions[0], Action::Scale { from: 2, to: 5, .. }), "fail-safe to max");
//! ```

mod classify;
mod decision;
mod event;
mod health;
mod overrides;
mod policy;
mod queue;
mod recommend;
mod traffic;

pub use classify::{Class, Thresholds};
pub use decision::{Decider, DeciderState, Snapshot};
pub use event::{Action, Event, Notice, NoticeKind, Reason};
pub use health::RouterHealth;
pub use overrides::{Override, OverrideKind};
pub use policy::Policy;
pub use queue::{QueueDecision, QueueFigures, QueuePolicy, QueueReading, QueueWhy, Totals};
pub use traffic::{DRAIN_DELAY, InStop, Traffic, TrafficPolicy, TrafficReason};
