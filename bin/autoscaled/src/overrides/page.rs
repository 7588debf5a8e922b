//! The page's requests (`POST /api/overrides`, `POST /api/pauses`) judged by the CLI's own checks:
//! each request becomes the arguments `override add` or `pause` would have parsed, then goes
//! through [`validate_override`] or [`validate_pause`], so the API answers with the same messages.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use status::{OverrideRequest, PAGE_USER, PauseRequest};
use store::NewOverride;

use super::{NEEDS_END, validate_override, validate_pause};
use crate::cli::{OverrideAddArgs, PauseArgs, Recorded, Window, parse_instant};
use crate::config::Config;

/// [`status::Rules`] over the daemon's config.
pub(crate) struct PageRules {
    config: Config,
}

/// The apps only: the config's secrets are redacted in its own `Debug`, but the page's state has
/// no need to carry even their names.
impl fmt::Debug for PageRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageRules")
            .field(
                "apps",
                &self
                    .config
                    .apps
                    .iter()
                    .map(|a| format!("{} {}", a.name, a.process))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PageRules {
    pub(crate) fn new(config: Config) -> PageRules {
        PageRules { config }
    }
}

/// The window as the CLI's flags would hold it, with what does not parse said as clap says it.
fn window(
    from: Option<&str>,
    until: Option<&str>,
    for_: Option<&str>,
    problems: &mut Vec<String>,
) -> Window {
    let mut instant = |flag: &str, text: Option<&str>| {
        text.and_then(|text| {
            parse_instant(text)
                .map_err(|e| problems.push(format!("invalid value '{text}' for '{flag}': {e}")))
                .ok()
        })
    };
    let from = instant("--from <RFC3339>", from);
    let until_parsed = instant("--until <RFC3339>", until);
    let for_parsed: Option<Duration> = for_.and_then(|text| {
        humantime::parse_duration(text)
            .map_err(|e| {
                problems.push(format!(
                    "invalid value '{text}' for '--for <DURATION>': {e}"
                ));
            })
            .ok()
    });
    if until.is_some() && for_.is_some() {
        problems
            .push("the argument '--until <RFC3339>' cannot be used with '--for <DURATION>'".into());
    }
    Window {
        from,
        until: until_parsed,
        for_: for_parsed,
    }
}

/// The parse problems, then the validation's; an end that was given but did not parse is not
/// also reported as missing.
fn all_problems(mut parsed: Vec<String>, validated: Vec<String>, end_given: bool) -> Vec<String> {
    parsed.extend(
        validated
            .into_iter()
            .filter(|problem| !(end_given && problem == NEEDS_END)),
    );
    parsed
}

impl status::Rules for PageRules {
    fn check_override(
        &self,
        request: &OverrideRequest,
        now: DateTime<Utc>,
    ) -> Result<NewOverride, Vec<String>> {
        let mut problems = Vec::new();
        let args = OverrideAddArgs {
            app: request.app.clone(),
            process: request.process.clone(),
            window: window(
                request.from.as_deref(),
                request.until.as_deref(),
                request.for_.as_deref(),
                &mut problems,
            ),
            quantity: request.quantity,
            min: request.min,
            max: request.max,
            recorded: Recorded {
                reason: request.reason.clone(),
                by: request.by.clone(),
                json: false,
            },
        };
        let end_given = request.until.is_some() || request.for_.is_some();
        match validate_override(&self.config, &args, now, PAGE_USER) {
            Ok(new) if problems.is_empty() => Ok(new),
            Ok(_) => Err(problems),
            Err(found) => Err(all_problems(problems, found, end_given)),
        }
    }

    fn check_pause(
        &self,
        request: &PauseRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<NewOverride>, Vec<String>> {
        let mut problems = Vec::new();
        let args = PauseArgs {
            app: request.app.clone(),
            process: request.process.clone(),
            window: window(
                request.from.as_deref(),
                request.until.as_deref(),
                request.for_.as_deref(),
                &mut problems,
            ),
            recorded: Recorded {
                reason: request.reason.clone(),
                by: request.by.clone(),
                json: false,
            },
        };
        match validate_pause(&self.config, &args, now, PAGE_USER) {
            Ok(new) if problems.is_empty() => Ok(new),
            Ok(_) => Err(problems),
            Err(found) => Err(all_problems(problems, found, false)),
        }
    }
}
