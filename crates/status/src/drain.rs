//! `POST /drain/{app}`: Heroku's router logs through a Logplex HTTPS drain, per configured app.
//!
//! [`Drains`] holds, per app name, a bounded ingest state (a [`router_logs::Aggregator`] and the
//! recent [`router_logs::SeenFrames`]) behind a [`Mutex`] held only while a parsed batch is added
//! (microseconds: bodies are parsed before it is taken), the drain password, and counters exported
//! on `/metrics`. The daemon reads an app's [`TrafficFigures`] with [`Drains::figures`].
//!
//! | answer | when |
//! | --- | --- |
//! | 204 | a good body, ingested; or a `Logplex-Frame-Id` already seen (a retry), counted once |
//! | 400 | the body is not octet-counted framing |
//! | 401 | no basic auth, or not the drain password (any user name) |
//! | 404 | an app not in the config, or the drain is off (no drain password set) |
//! | 413 | a body over [`MAX_BODY`] (1 MiB), refused without reading past the limit |
//!
//! Bad lines inside a good body are counted and skipped, never fatal. The password is checked
//! before the body is read, with the page's [`Password`] check (a SHA-256 digest compared in
//! constant time), and is never shown: `Debug` prints `[redacted]`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use router_logs::{Aggregator, HealthFigures, SeenFrames, TrafficFigures};
use secret::Secret;

use crate::Password;

/// The largest drain body taken: Logplex batches are far smaller (a few hundred lines); more is
/// refused with 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// The process type Heroku's router serves: the router logs of an app are its `web` dynos'.
pub const ROUTED_PROCESS: &str = "web";

/// The drains of every configured app; cheap to clone (shared).
///
/// [`Drains::default`] is off: `/drain/...` answers 404 to everything, so no data is ever taken
/// without a password.
///
/// ```
/// use autoscaled_status::Drains;
/// let drains = Drains::new(&"s3cret".to_owned().into(), ["my-app"]);
/// assert!(drains.is_on());
/// assert!(format!("{drains:?}").contains("[redacted]") && !format!("{drains:?}").contains("s3cret"));
/// assert!(drains.figures("my-app", "web", chrono::Utc::now()).is_none(), "no data yet");
/// ```
#[derive(Clone, Default)]
pub struct Drains {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    password: Password,
    apps: HashMap<String, AppDrain>,
    counters: Counters,
}

struct AppDrain {
    state: Mutex<Ingest>,
}

struct Ingest {
    aggregator: Aggregator,
    seen: SeenFrames,
    /// Whether any router line was ever accepted, so apps without drain data show no traffic.
    has_data: bool,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabel {
    app: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LineLabels {
    app: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

/// The drain's Prometheus families. Refusals carry no app label: the app in a refused URL is the
/// sender's to choose, and must not grow the label set.
#[derive(Debug, Clone, Default)]
struct Counters {
    batches: Family<AppLabel, Counter>,
    lines: Family<LineLabels, Counter>,
    duplicates: Family<AppLabel, Counter>,
    refused: Family<CodeLabel, Counter>,
}

/// Line outcomes, as labelled: router lines counted, unreadable lines, other lines (the app's own
/// output), and router lines dropped for a timestamp outside the aggregator's window.
const LINE_OUTCOMES: [&str; 4] = ["accepted", "bad", "other", "dropped"];
/// The refusal codes, as labelled.
const REFUSALS: [&str; 4] = ["400", "401", "404", "413"];

/// What happened to one good body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Its lines were counted.
    New {
        /// Router lines counted in the figures.
        accepted: usize,
        /// Unreadable lines skipped.
        bad: usize,
        /// Other lines (the app's own output, dyno changes) skipped.
        other: usize,
        /// Router lines dropped for a timestamp outside the window.
        dropped: usize,
    },
    /// Its `Logplex-Frame-Id` was seen lately: a retry, not counted again.
    Duplicate,
}

/// Why a drain request was refused, as its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// 400: the body is not octet-counted framing.
    NotLogplex,
    /// 401: no or the wrong password.
    Unauthorized,
    /// 404: no such app, or the drain is off.
    UnknownApp,
    /// 413: the body is over [`MAX_BODY`].
    TooLarge,
}

impl Refused {
    /// The HTTP status code.
    #[must_use]
    pub fn code(self) -> u16 {
        match self {
            Refused::NotLogplex => 400,
            Refused::Unauthorized => 401,
            Refused::UnknownApp => 404,
            Refused::TooLarge => 413,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Refused::NotLogplex => "400",
            Refused::Unauthorized => "401",
            Refused::UnknownApp => "404",
            Refused::TooLarge => "413",
        }
    }
}

impl Drains {
    /// A drain for each of `apps` (Heroku app names), guarded by `password`.
    #[must_use]
    pub fn new<S: Into<String>>(password: &Secret, apps: impl IntoIterator<Item = S>) -> Drains {
        let counters = Counters::default();
        let apps: HashMap<String, AppDrain> = apps
            .into_iter()
            .map(|name| {
                let name = name.into();
                let _ = counters
                    .batches
                    .get_or_create(&AppLabel { app: name.clone() });
                let _ = counters
                    .duplicates
                    .get_or_create(&AppLabel { app: name.clone() });
                for outcome in LINE_OUTCOMES {
                    let _ = counters.lines.get_or_create(&LineLabels {
                        app: name.clone(),
                        outcome,
                    });
                }
                let drain = AppDrain {
                    state: Mutex::new(Ingest {
                        aggregator: Aggregator::for_app(&name),
                        seen: SeenFrames::default(),
                        has_data: false,
                    }),
                };
                (name, drain)
            })
            .collect();
        for code in REFUSALS {
            let _ = counters.refused.get_or_create(&CodeLabel { code });
        }
        Drains {
            inner: Some(Arc::new(Inner {
                password: Password::new(password),
                apps,
                counters,
            })),
        }
    }

    /// No drain: every `/drain/...` request is answered 404.
    #[must_use]
    pub fn off() -> Drains {
        Drains::default()
    }

    /// Whether the drain endpoint takes data (a password is set).
    #[must_use]
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Whether `app` has a drain.
    #[must_use]
    pub fn has_app(&self, app: &str) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.apps.contains_key(app))
    }

    /// The traffic figures of `app`'s `process` at `now`, from its router lines: `None` when the
    /// drain is off, the app has none, no router line was ever accepted, or `process` is not
    /// [`ROUTED_PROCESS`] (the router serves only `web` dynos). Check
    /// [`TrafficFigures::newest`] for staleness.
    #[must_use]
    pub fn figures(&self, app: &str, process: &str, now: DateTime<Utc>) -> Option<TrafficFigures> {
        if process != ROUTED_PROCESS {
            return None;
        }
        let drain = self.inner.as_ref()?.apps.get(app)?;
        let state = lock(&drain.state);
        state.has_data.then(|| state.aggregator.figures(now))
    }

    /// Whether `app`'s requests of the last `window` up to `now` failed, by the time their router
    /// lines were logged ([`Aggregator::health`]); `None` as for [`figures`](Self::figures).
    #[must_use]
    pub fn health(
        &self,
        app: &str,
        process: &str,
        now: DateTime<Utc>,
        window: std::time::Duration,
    ) -> Option<HealthFigures> {
        if process != ROUTED_PROCESS {
            return None;
        }
        let drain = self.inner.as_ref()?.apps.get(app)?;
        let state = lock(&drain.state);
        state.has_data.then(|| state.aggregator.health(now, window))
    }

    /// Whether `headers` carry the drain password; `false` when the drain is off.
    pub(crate) fn authorizes(&self, headers: &axum::http::HeaderMap) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.password.authorizes(headers))
    }

    /// Counts a refusal.
    pub(crate) fn refuse(&self, why: Refused) -> Refused {
        if let Some(inner) = &self.inner {
            inner
                .counters
                .refused
                .get_or_create(&CodeLabel { code: why.label() })
                .inc();
        }
        why
    }

    /// Parses `body` (before any lock) and adds it to `app`'s figures at `now`, unless
    /// `frame_id` was seen lately. Does not check the password.
    ///
    /// # Errors
    ///
    /// [`Refused::UnknownApp`] for an app without a drain, [`Refused::NotLogplex`] for a body
    /// that is not octet-counted framing; both counted.
    pub fn ingest(
        &self,
        app: &str,
        frame_id: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Ingested, Refused> {
        let Some(inner) = &self.inner else {
            return Err(Refused::UnknownApp);
        };
        let Some(drain) = inner.apps.get(app) else {
            return Err(self.refuse(Refused::UnknownApp));
        };
        let batch = router_logs::parse_body(body).map_err(|_| self.refuse(Refused::NotLogplex))?;
        let added = {
            let mut state = lock(&drain.state);
            if let Some(id) = frame_id
                && !state.seen.insert(id)
            {
                None
            } else {
                let added = state.aggregator.ingest(&batch, now);
                state.has_data |= added.accepted > 0;
                Some(added)
            }
        };
        let label = AppLabel {
            app: app.to_owned(),
        };
        let counters = &inner.counters;
        let Some(added) = added else {
            counters.duplicates.get_or_create(&label).inc();
            return Ok(Ingested::Duplicate);
        };
        counters.batches.get_or_create(&label).inc();
        let dropped = added.too_old + added.too_new;
        for (outcome, n) in
            LINE_OUTCOMES
                .into_iter()
                .zip([added.accepted, batch.bad, batch.other, dropped])
        {
            if n > 0 {
                counters
                    .lines
                    .get_or_create(&LineLabels {
                        app: app.to_owned(),
                        outcome,
                    })
                    .inc_by(n as u64);
            }
        }
        Ok(Ingested::New {
            accepted: added.accepted,
            bad: batch.bad,
            other: batch.other,
            dropped,
        })
    }

    /// Adds the drain's families to `registry` (nothing when off).
    pub(crate) fn register(&self, registry: &mut Registry) {
        let Some(inner) = &self.inner else {
            return;
        };
        let c = &inner.counters;
        registry.register(
            "autoscaled_drain_batches",
            "Drain bodies ingested, per app (retries not counted)",
            c.batches.clone(),
        );
        registry.register(
            "autoscaled_drain_lines",
            "Drain lines by outcome: accepted router lines, bad, other (not router), dropped (timestamp out of window)",
            c.lines.clone(),
        );
        registry.register(
            "autoscaled_drain_duplicates",
            "Drain bodies whose Logplex-Frame-Id was seen lately, answered 2xx and not counted again",
            c.duplicates.clone(),
        );
        registry.register(
            "autoscaled_drain_refused",
            "Drain requests refused, by HTTP status",
            c.refused.clone(),
        );
    }
}

fn lock(state: &Mutex<Ingest>) -> MutexGuard<'_, Ingest> {
    // A panic mid-ingest leaves counts behind, still better than none.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl fmt::Debug for Drains {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            None => f.write_str("Drains(off)"),
            Some(inner) => {
                let mut apps: Vec<&str> = inner.apps.keys().map(String::as_str).collect();
                apps.sort_unstable();
                f.debug_struct("Drains")
                    .field("password", &"[redacted]")
                    .field("apps", &apps)
                    .finish()
            }
        }
    }
}
