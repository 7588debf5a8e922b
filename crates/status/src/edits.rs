//! Adding and ending overrides and pauses from the page: `POST /api/overrides`,
//! `DELETE /api/overrides/{id}`, `POST /api/pauses`, `DELETE /api/pauses/{id}`.
//!
//! The crate knows nothing of the config, so it does not judge a request itself: the daemon hands
//! it [`Rules`], which check a request with the very code `autoscaled override add` and
//! `autoscaled pause` use, in the CLI's words. Only a request the rules turned into
//! [`store::NewOverride`]s is written, to the [`Edits`]' store; nothing else a request sends
//! reaches the database.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use store::{NewOverride, Store};

/// `POST /api/overrides`'s JSON body: `autoscaled override add`'s arguments, by the same names.
///
/// `from`, `until` (RFC 3339) and `for` (a duration such as `3h`) are kept as written: the
/// [`Rules`] parse them as the CLI does, and say so in its words when they do not parse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// The app, as named in the config.
    pub app: String,
    /// The process type (`None`: the app's only one).
    pub process: Option<String>,
    /// When it starts (`None`: now).
    pub from: Option<String>,
    /// When it ends.
    pub until: Option<String>,
    /// How long it lasts from `from`, e.g. `3h`.
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// The baseline instead of the schedule's.
    pub quantity: Option<u32>,
    /// The lowest dyno count instead of the config's.
    pub min: Option<u32>,
    /// The highest dyno count instead of the config's.
    pub max: Option<u32>,
    /// Why.
    pub reason: Option<String>,
    /// Who (`None`: `page`).
    pub by: Option<String>,
}

/// `POST /api/pauses`'s JSON body: `autoscaled pause`'s arguments, by the same names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// The app, as named in the config.
    pub app: String,
    /// Only this process type (`None`: every one of the app's).
    pub process: Option<String>,
    /// When it starts (`None`: now).
    pub from: Option<String>,
    /// When it ends (`None` with no `for`: until resumed).
    pub until: Option<String>,
    /// How long it lasts from `from`, e.g. `2h`.
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// Why: a pause needs one.
    pub reason: Option<String>,
    /// Who (`None`: `page`).
    pub by: Option<String>,
}

/// Who the page records when a request names no one.
pub const PAGE_USER: &str = "page";

/// How a request from the page is judged: the daemon implements it with the CLI's own validation,
/// so the API answers with the same messages as `autoscaled override add` and `autoscaled pause`.
/// Pure: nothing is written here.
pub trait Rules: Send + Sync + fmt::Debug + 'static {
    /// `request` checked against the config at `now`: the override to record (its `by` the
    /// request's, else [`PAGE_USER`]), or every problem found, one message each.
    ///
    /// # Errors
    ///
    /// The problems, in the CLI's words.
    fn check_override(
        &self,
        request: &OverrideRequest,
        now: DateTime<Utc>,
    ) -> Result<NewOverride, Vec<String>>;

    /// `request` checked against the config at `now`: one pause per process type it covers, or
    /// every problem found.
    ///
    /// # Errors
    ///
    /// The problems, in the CLI's words.
    fn check_pause(
        &self,
        request: &PauseRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<NewOverride>, Vec<String>>;
}

/// What the page needs to change overrides and pauses: the [`Rules`] that judge a request and the
/// state database the accepted ones are written to (the one the daemon reads them from).
#[derive(Debug, Clone)]
pub struct Edits {
    pub(crate) rules: Arc<dyn Rules>,
    pub(crate) store: Store,
}

impl Edits {
    /// Edits judged by `rules`, written to `store`.
    pub fn new(rules: impl Rules, store: Store) -> Edits {
        Edits {
            rules: Arc::new(rules),
            store,
        }
    }
}
