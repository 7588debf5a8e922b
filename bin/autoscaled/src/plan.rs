//! `autoscaled plan`: what each app's schedule, with the overrides and pauses recorded, will do
//! over the coming days, and what it saves.

use std::path::PathBuf;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use schedule::PlanCost;
use serde::Serialize;
use store::{Access, Override, OverrideAction, Store};

use crate::Failure;
use crate::cli::PlanArgs;
use crate::config::{AppSettings, Config, config_path};

/// One app's plan over the window.
#[derive(Debug, Serialize)]
struct AppPlan {
    app: String,
    process: String,
    timezone: String,
    /// The baseline at the start of the window.
    quantity: u32,
    changes: Vec<Change>,
    /// The overrides and pauses recorded for it in the window, as `override list --json` shows them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    overrides: Vec<serde_json::Value>,
    #[serde(skip)]
    described: Vec<String>,
    dyno_size: String,
    #[serde(flatten)]
    cost: PlanCost,
}

/// A change of the quantity: the schedule's, or an override's start or end.
#[derive(Debug, Serialize)]
struct Change {
    at: String,
    /// `at` in the app's time zone, e.g. `Mon 2026-11-30 07:00 CET`.
    local: String,
    quantity: u32,
    /// The override or pause that sets it, if one does.
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    because: Option<String>,
}

#[derive(Debug, Serialize)]
struct PlanOut {
    from: String,
    to: String,
    apps: Vec<AppPlan>,
}

pub(crate) fn run(config: &Option<PathBuf>, args: PlanArgs) -> Result<(), Failure> {
    let config = Config::load(&config_path(config.clone()))?;
    let from = args.at.unwrap_or_else(Utc::now);
    let to = from + TimeDelta::days(i64::from(args.days));
    let overrides = recorded_overrides(&config, from);
    let out = PlanOut {
        from: rfc3339(from),
        to: rfc3339(to),
        apps: config
            .apps
            .iter()
            .map(|app| plan_app(app, from, args.days, &overrides))
            .collect(),
    };
    if args.json {
        let json = serde_json::to_string_pretty(&out).map_err(|e| Failure::Fatal(e.into()))?;
        println!("{json}");
    } else {
        print!("{}", render(&out, args.days));
    }
    Ok(())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The overrides and pauses recorded, running or coming at `from`; none (said on stderr) when the
/// state database cannot be read: the plan is the schedule's then.
fn recorded_overrides(config: &Config, from: DateTime<Utc>) -> Vec<Override> {
    let read = crate::runtime().ok().map(|runtime| {
        runtime.block_on(async {
            let store = Store::open(config.state.url.expose(), Access::ReadOnly).await?;
            let overrides = store.current_overrides(from).await;
            store.close().await;
            overrides
        })
    });
    match read {
        Some(Ok(overrides)) => overrides,
        Some(Err(error)) => {
            eprintln!(
                "autoscaled: the plan leaves out overrides: cannot read the state database: {error}"
            );
            Vec::new()
        }
        None => Vec::new(),
    }
}

fn plan_app(app: &AppSettings, from: DateTime<Utc>, days: u32, overrides: &[Override]) -> AppPlan {
    let plan = app.schedule.plan(from, days, app.max, app.price_per_hour);
    let to = from + TimeDelta::days(i64::from(days));
    let mine: Vec<&Override> = overrides
        .iter()
        .filter(|o| o.spec.key.app == app.name && o.spec.key.process == app.process)
        .filter(|o| o.spec.from < to && o.ends_at().is_none_or(|end| end > from))
        .collect();
    // Every instant the quantity may change: the schedule's changes and the overrides' edges.
    let mut edges: Vec<DateTime<Utc>> = plan.changes.iter().map(|c| c.at).collect();
    for o in &mine {
        edges.extend([Some(o.spec.from), o.ends_at()].into_iter().flatten());
    }
    edges.retain(|at| *at > from && *at < to);
    edges.push(from);
    edges.sort();
    edges.dedup();
    let (mut changes, mut dyno_hours, mut quantity) = (Vec::new(), 0.0, None);
    for (i, at) in edges.iter().enumerate() {
        let end = edges.get(i + 1).copied().unwrap_or(to);
        let (now, because) = quantity_at(app, &mine, *at, quantity);
        let micros = (end - *at).num_microseconds().unwrap_or(i64::MAX);
        dyno_hours += f64::from(now) * micros as f64 / 3_600_000_000.0;
        if quantity.is_some_and(|before| before != now) {
            changes.push(Change {
                at: rfc3339(*at),
                local: at
                    .with_timezone(&app.timezone)
                    .format("%a %Y-%m-%d %H:%M %Z")
                    .to_string(),
                quantity: now,
                because,
            });
        }
        quantity = Some(now);
    }
    if mine.is_empty() {
        // The schedule's own plan, to the cent: nothing overrides it.
        changes = plan
            .changes
            .iter()
            .map(|c| Change {
                at: rfc3339(c.at),
                local: c.local.clone(),
                quantity: c.quantity,
                because: None,
            })
            .collect();
        dyno_hours = plan.cost.dyno_hours;
    }
    // To the cent, as the schedule's own plan.
    let cents = |value: f64| (value * 100.0).round() / 100.0;
    let cost = cents(dyno_hours * app.price_per_hour);
    AppPlan {
        app: app.name.clone(),
        process: app.process.clone(),
        timezone: app.timezone.name().to_owned(),
        quantity: quantity_at(app, &mine, from, None).0,
        changes,
        overrides: mine
            .iter()
            .map(|o| crate::overrides::to_json(o, from))
            .collect(),
        described: mine
            .iter()
            .map(|o| crate::overrides::describe(o, from))
            .collect(),
        dyno_size: app.dyno_size.to_string(),
        // Without overrides, the schedule's own figures, to the byte.
        cost: if mine.is_empty() {
            plan.cost
        } else {
            PlanCost {
                dyno_hours: cents(dyno_hours),
                cost,
                saved_dyno_hours: cents(plan.cost.max_dyno_hours - dyno_hours),
                saved_cost: cents(plan.cost.max_cost - cost),
                ..plan.cost
            }
        },
    }
}

/// The quantity planned at `at` and the override or pause that sets it: the schedule's baseline
/// within the bounds, an override's quantity and bounds instead where one runs (the later-created
/// wins for what it sets), and during a pause the quantity before it (`before`), as nothing scales.
fn quantity_at(
    app: &AppSettings,
    mine: &[&Override],
    at: DateTime<Utc>,
    before: Option<u32>,
) -> (u32, Option<String>) {
    let mut running: Vec<&Override> = mine.iter().copied().filter(|o| o.applies_at(at)).collect();
    running.sort_by_key(|o| (o.spec.created_at, o.id));
    let baseline = app.schedule.baseline_at(at);
    if let Some(pause) = running
        .iter()
        .rev()
        .find(|o| o.spec.action == OverrideAction::Pause)
    {
        let held = before.unwrap_or(baseline.clamp(app.min, app.max));
        return (held, Some(crate::overrides::label(pause)));
    }
    let (mut min, mut max, mut quantity, mut because) = (app.min, app.max, None, None);
    for o in running {
        if let OverrideAction::Set {
            quantity: q,
            min: lo,
            max: hi,
        } = o.spec.action
        {
            quantity = q.or(quantity);
            min = lo.unwrap_or(min);
            max = hi.unwrap_or(max).max(min);
            because = Some(crate::overrides::label(o));
        }
    }
    (quantity.unwrap_or(baseline).clamp(min, max), because)
}

fn render(plan: &PlanOut, days: u32) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for app in &plan.apps {
        let _ = writeln!(
            out,
            "{} {} ({}, {} at ${:.4}/dyno-hour)",
            app.app, app.process, app.timezone, app.dyno_size, app.cost.price_per_hour
        );
        let _ = writeln!(out, "  baseline at {}: {}", plan.from, app.quantity);
        if app.changes.is_empty() {
            let _ = writeln!(out, "  no changes in the next {days} days");
        } else {
            let _ = writeln!(out, "  changes in the next {days} days:");
            for change in &app.changes {
                let because = change
                    .because
                    .as_ref()
                    .map_or_else(String::new, |label| format!("  ({label})"));
                let _ = writeln!(
                    out,
                    "    {:<28} {}  -> {}{because}",
                    change.local, change.at, change.quantity
                );
            }
        }
        if !app.described.is_empty() {
            let _ = writeln!(out, "  overrides and pauses:");
            for line in &app.described {
                let _ = writeln!(out, "    {line}");
            }
        }
        let share = if app.cost.max_dyno_hours > 0.0 {
            100.0 * app.cost.saved_dyno_hours / app.cost.max_dyno_hours
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  {days} days: {:.1} dyno-hours, ${:.2}; at max ({}) all the time: {:.1} dyno-hours, ${:.2}; saved: {:.1} dyno-hours, ${:.2} ({share:.0}%)",
            app.cost.dyno_hours,
            app.cost.cost,
            app.cost.max,
            app.cost.max_dyno_hours,
            app.cost.max_cost,
            app.cost.saved_dyno_hours,
            app.cost.saved_cost
        );
        let _ = writeln!(out);
    }
    out
}
