//! `autoscaled override add|list|remove`, `pause` and `resume`: what people know that no signal
//! shows, recorded in the state database for whichever instance holds the app.
//!
//! Every request is validated against the config and the clock before anything is written
//! ([`validate_override`], [`validate_pause`]: pure, so tested on a fixed instant), and every
//! problem is reported at once (exit 2). The store is opened with [`Access::Edit`], which works
//! beside a running daemon, an SQLite file it holds included.
//!
//! The status page's `POST /api/overrides` and `POST /api/pauses` go through the same checks
//! ([`PageRules`]), so they answer with the same messages.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use store::{Access, NewOverride, Override, OverrideAction, ProcessKey, Store};

use crate::Failure;
use crate::cli::{
    OverrideAddArgs, OverrideCommand, OverrideListArgs, OverrideRemoveArgs, PauseArgs, Recorded,
    ResumeArgs, Window,
};
use crate::config::{AppSettings, Config, config_path};

pub(crate) fn run_override(
    config: &Option<PathBuf>,
    command: OverrideCommand,
) -> Result<(), Failure> {
    let config = Config::load(&config_path(config.clone()))?;
    let now = Utc::now();
    match command {
        OverrideCommand::Add(args) => {
            let new = validate_override(&config, &args, now, &user()).map_err(invalid)?;
            let added = with_store(&config, |store| async move {
                store.add_override(&new).await.map(|added| vec![added])
            })?;
            print_records("added", &added, now, args.recorded.json);
        }
        OverrideCommand::List(args) => list(&config, &args, now)?,
        OverrideCommand::Remove(args) => remove(&config, &args, now)?,
    }
    Ok(())
}

pub(crate) fn run_pause(config: &Option<PathBuf>, args: PauseArgs) -> Result<(), Failure> {
    let config = Config::load(&config_path(config.clone()))?;
    let now = Utc::now();
    let pauses = validate_pause(&config, &args, now, &user()).map_err(invalid)?;
    let added = with_store(&config, |store| async move {
        let mut added = Vec::new();
        for pause in &pauses {
            added.push(store.add_override(pause).await?);
        }
        Ok(added)
    })?;
    print_records("paused", &added, now, args.recorded.json);
    Ok(())
}

pub(crate) fn run_resume(config: &Option<PathBuf>, args: ResumeArgs) -> Result<(), Failure> {
    let config = Config::load(&config_path(config.clone()))?;
    let now = Utc::now();
    let problems = known_key_problems(&config, &args.app, args.process.as_deref());
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let (app, process) = (args.app.clone(), args.process.clone());
    let ended = with_store(&config, |store| async move {
        let mut ended = Vec::new();
        for current in store.current_overrides(now).await? {
            let spec = &current.spec;
            if spec.action == OverrideAction::Pause
                && spec.key.app == app
                && process.as_ref().is_none_or(|p| *p == spec.key.process)
                && let Some(done) = store.end_override(current.id, now).await?
            {
                ended.push(done);
            }
        }
        Ok(ended)
    })?;
    if ended.is_empty() && !args.json {
        println!("{} has no pause running or coming", args.app);
        return Ok(());
    }
    print_records("resumed", &ended, now, args.json);
    Ok(())
}

fn list(config: &Config, args: &OverrideListArgs, now: DateTime<Utc>) -> Result<(), Failure> {
    let current = with_store(
        config,
        |store| async move { store.current_overrides(now).await },
    )?;
    let shown: Vec<Override> = current
        .into_iter()
        .filter(|o| args.app.as_ref().is_none_or(|app| *app == o.spec.key.app))
        .collect();
    if args.json {
        let overrides: Vec<_> = shown.iter().map(|o| to_json(o, now)).collect();
        println!("{}", json!({ "overrides": overrides }));
    } else if shown.is_empty() {
        println!("no override or pause running or coming");
    } else {
        for record in &shown {
            println!("{}", describe(record, now));
        }
    }
    Ok(())
}

fn remove(config: &Config, args: &OverrideRemoveArgs, now: DateTime<Utc>) -> Result<(), Failure> {
    let id = args.id;
    let (found, ended) = with_store(config, |store| async move {
        let ended = store.end_override(id, now).await?;
        let found = store.find_override(id).await?;
        Ok((found, ended))
    })?;
    match (found, ended) {
        (_, Some(ended)) => {
            print_records("removed", &[ended], now, args.json);
            Ok(())
        }
        (None, None) => Err(invalid(vec![format!("there is no override or pause {id}")])),
        (Some(_), None) => Err(invalid(vec![format!(
            "override or pause {id} has already ended"
        )])),
    }
}

/// Runs `work` on the state database opened for editing, and closes it.
fn with_store<T, F, Fut>(config: &Config, work: F) -> Result<T, Failure>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = Result<T, store::Error>>,
{
    let runtime = crate::runtime()?;
    runtime
        .block_on(async {
            let store = Store::open(config.state.url.expose(), Access::Edit)
                .await
                .context("cannot open the state database")?;
            let done = work(store.clone()).await;
            store.close().await;
            done.context("cannot write to the state database")
        })
        .map_err(Failure::Fatal)
}

/// Who runs the command: `$USER`, or `unknown`.
fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|user| !user.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn invalid(problems: Vec<String>) -> Failure {
    let count = problems.len();
    let mut message = format!(
        "invalid arguments ({count} problem{}):",
        if count == 1 { "" } else { "s" }
    );
    for problem in problems {
        let _ = write!(message, "\n  {problem}");
    }
    Failure::Invalid(anyhow!(message))
}

/// `--process` for `app`: the one given, or the app's only process type in the config.
fn the_process(config: &Config, app: &str, process: Option<&str>) -> Result<String, String> {
    if let Some(process) = process {
        return Ok(process.to_owned());
    }
    let types: Vec<&AppSettings> = config.apps.iter().filter(|a| a.name == app).collect();
    match types.as_slice() {
        [only] => Ok(only.process.clone()),
        [] => Err(unknown_app(config, app)),
        several => Err(format!(
            "app \"{app}\" has several process types ({}): say which with --process",
            names(several.iter().map(|a| a.process.as_str()))
        )),
    }
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

fn unknown_app(config: &Config, app: &str) -> String {
    let mut known: Vec<&str> = config.apps.iter().map(|a| a.name.as_str()).collect();
    known.dedup();
    format!(
        "app \"{app}\" is not in the config (it has {})",
        names(known.into_iter())
    )
}

/// The problems with naming `app` (and `process`, if given).
fn known_key_problems(config: &Config, app: &str, process: Option<&str>) -> Vec<String> {
    if !config.apps.iter().any(|a| a.name == app) {
        return vec![unknown_app(config, app)];
    }
    match process {
        Some(process) if settings(config, app, process).is_none() => vec![format!(
            "process type \"{process}\" of app \"{app}\" is not in the config (it has {})",
            names(
                config
                    .apps
                    .iter()
                    .filter(|a| a.name == app)
                    .map(|a| a.process.as_str())
            )
        )],
        _ => vec![],
    }
}

fn settings<'a>(config: &'a Config, app: &str, process: &str) -> Option<&'a AppSettings> {
    config
        .apps
        .iter()
        .find(|a| a.name == app && a.process == process)
}

/// An override with neither `--until` nor `--for`.
const NEEDS_END: &str = "an override needs an end: --until TIME or --for 3h";

/// The window's start and end, with the problems found: an end before the start or in the past.
/// `needs_end` for an override (a pause may run until resumed).
fn window(
    window: &Window,
    now: DateTime<Utc>,
    needs_end: bool,
    problems: &mut Vec<String>,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let from = window.from.unwrap_or(now);
    let until = match (window.until, window.for_) {
        (Some(until), _) => Some(until),
        (None, Some(length)) => match TimeDelta::from_std(length) {
            Ok(length) if length > TimeDelta::zero() => from.checked_add_signed(length),
            _ => {
                problems.push(format!(
                    "--for {}: expected a length above zero, such as 3h",
                    humantime::format_duration(length)
                ));
                None
            }
        },
        (None, None) => {
            if needs_end {
                problems.push(NEEDS_END.into());
            }
            None
        }
    };
    if let Some(until) = until {
        if until <= now {
            problems.push(format!(
                "--until {} is in the past (now is {})",
                rfc3339(until),
                rfc3339(now)
            ));
        } else if until <= from {
            problems.push(format!(
                "--until {} is not after --from {}: expected a later end",
                rfc3339(until),
                rfc3339(from)
            ));
        }
    }
    (from, until)
}

fn who(recorded: &Recorded, user: &str) -> String {
    recorded
        .by
        .as_deref()
        .map(str::trim)
        .filter(|by| !by.is_empty())
        .unwrap_or(user)
        .to_owned()
}

/// `override add`'s request checked against the config and `now`: the override to record, or
/// every problem found.
pub(crate) fn validate_override(
    config: &Config,
    args: &OverrideAddArgs,
    now: DateTime<Utc>,
    user: &str,
) -> Result<NewOverride, Vec<String>> {
    let mut problems = known_key_problems(config, &args.app, args.process.as_deref());
    let process = if problems.is_empty() {
        the_process(config, &args.app, args.process.as_deref())
            .map_err(|problem| problems.push(problem))
            .ok()
    } else {
        None
    };
    let (from, until) = window(&args.window, now, true, &mut problems);
    if args.quantity.is_none() && args.min.is_none() && args.max.is_none() {
        problems.push("an override needs --quantity, --min or --max".into());
    }
    if let Some(app) = process
        .as_deref()
        .and_then(|process| settings(config, &args.app, process))
    {
        let min = args.min.unwrap_or(app.min);
        let max = args.max.unwrap_or(app.max);
        if min > max {
            problems.push(format!(
                "--min {min} is above --max {max} (with the config's for the one not given)"
            ));
        } else if let Some(quantity) = args.quantity.filter(|q| !(min..=max).contains(q)) {
            problems.push(format!(
                "--quantity {quantity} is outside [{min}, {max}] ({}): set --min or --max too to move the bounds",
                match (args.min, args.max) {
                    (None, None) => "the config's min and max",
                    _ => "the bounds it would run with",
                }
            ));
        }
        if args.max == Some(0) {
            problems.push("--max 0: expected at least 1 (pause to stop scaling)".into());
        }
    }
    match (process, problems.is_empty()) {
        (Some(process), true) => Ok(NewOverride {
            key: ProcessKey::new(&args.app, process),
            action: OverrideAction::Set {
                quantity: args.quantity,
                min: args.min,
                max: args.max,
            },
            from,
            until,
            reason: args.recorded.reason.clone().unwrap_or_default(),
            by: who(&args.recorded, user),
            created_at: now,
        }),
        _ => Err(problems),
    }
}

/// `pause`'s request checked against the config and `now`: one pause per process type it covers,
/// or every problem found.
pub(crate) fn validate_pause(
    config: &Config,
    args: &PauseArgs,
    now: DateTime<Utc>,
    user: &str,
) -> Result<Vec<NewOverride>, Vec<String>> {
    let mut problems = known_key_problems(config, &args.app, args.process.as_deref());
    let (from, until) = window(&args.window, now, false, &mut problems);
    let reason = args.recorded.reason.as_deref().map(str::trim).unwrap_or("");
    if reason.is_empty() {
        problems.push("a pause needs a reason: --reason TEXT".into());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(config
        .apps
        .iter()
        .filter(|a| a.name == args.app && args.process.as_ref().is_none_or(|p| *p == a.process))
        .map(|a| NewOverride {
            key: ProcessKey::new(&a.name, &a.process),
            action: OverrideAction::Pause,
            from,
            until,
            reason: reason.to_owned(),
            by: who(&args.recorded, user),
            created_at: now,
        })
        .collect())
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What an override sets, e.g. `quantity 6, max 12`, or `pause`.
pub(crate) fn what(action: OverrideAction) -> String {
    match action {
        OverrideAction::Set { quantity, min, max } => [
            quantity.map(|n| format!("quantity {n}")),
            min.map(|n| format!("min {n}")),
            max.map(|n| format!("max {n}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", "),
        _ => "pause".into(),
    }
}

/// How decision lines and `plan` name it: `override #3 by ada (Friday launch)`.
pub(crate) fn label(record: &Override) -> String {
    let kind = match record.spec.action {
        OverrideAction::Pause => "pause",
        _ => "override",
    };
    let reason = record.spec.reason.trim();
    if reason.is_empty() {
        format!("{kind} #{} by {}", record.id, record.spec.by)
    } else {
        format!("{kind} #{} by {} ({reason})", record.id, record.spec.by)
    }
}

/// One line for people: `#12 override shop web: quantity 6 from ... until ... (running; by ada: launch)`.
pub(crate) fn describe(record: &Override, now: DateTime<Utc>) -> String {
    let spec = &record.spec;
    let kind = match spec.action {
        OverrideAction::Pause => "pause",
        _ => "override",
    };
    let until = record.ends_at().map_or_else(
        || "until resumed".to_owned(),
        |end| format!("until {}", rfc3339(end)),
    );
    let state = if record.ended_at.is_some_and(|ended| ended <= now) {
        "ended"
    } else if record.applies_at(now) {
        "running"
    } else {
        "coming"
    };
    let reason = if spec.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", spec.reason)
    };
    format!(
        "#{} {kind} {} {}: {} from {} {until} ({state}; by {}{reason})",
        record.id,
        spec.key.app,
        spec.key.process,
        what(spec.action),
        rfc3339(spec.from),
        spec.by
    )
}

/// The JSON form, as `--json` prints it.
pub(crate) fn to_json(record: &Override, now: DateTime<Utc>) -> serde_json::Value {
    let spec = &record.spec;
    let (kind, quantity, min, max) = match spec.action {
        OverrideAction::Set { quantity, min, max } => ("override", quantity, min, max),
        _ => ("pause", None, None, None),
    };
    json!({
        "id": record.id,
        "kind": kind,
        "app": spec.key.app,
        "process": spec.key.process,
        "from": rfc3339(spec.from),
        "until": record.ends_at().map(rfc3339),
        "quantity": quantity,
        "min": min,
        "max": max,
        "reason": spec.reason,
        "by": spec.by,
        "created_at": spec.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "active": record.applies_at(now),
    })
}

fn print_records(done: &str, records: &[Override], now: DateTime<Utc>, json: bool) {
    if json {
        let records: Vec<_> = records.iter().map(|o| to_json(o, now)).collect();
        println!("{}", json!({ done: records }));
    } else {
        for record in records {
            println!("{done} {}", describe(record, now));
        }
    }
}

mod page;
#[cfg(test)]
mod tests;

pub(crate) use page::PageRules;
