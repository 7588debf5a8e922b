//! `autoscaled plan`: what each app's schedule will do over the coming days, and what it saves.

use std::path::PathBuf;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use serde::Serialize;

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
    changes: Vec<ChangeOut>,
    dyno_size: String,
    price_per_hour: f64,
    dyno_hours: f64,
    cost: f64,
    max: u32,
    max_dyno_hours: f64,
    max_cost: f64,
    saved_dyno_hours: f64,
    saved_cost: f64,
}

#[derive(Debug, Serialize)]
struct ChangeOut {
    at: String,
    local: String,
    quantity: u32,
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
    let out = PlanOut {
        from: rfc3339(from),
        to: rfc3339(to),
        apps: config
            .apps
            .iter()
            .map(|app| plan_app(app, from, to))
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

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

fn plan_app(app: &AppSettings, from: DateTime<Utc>, to: DateTime<Utc>) -> AppPlan {
    let changes = app
        .schedule
        .changes(from, to)
        .into_iter()
        .map(|change| ChangeOut {
            at: rfc3339(change.at),
            local: change
                .at
                .with_timezone(&app.timezone)
                .format("%a %Y-%m-%d %H:%M %Z")
                .to_string(),
            quantity: change.quantity,
        })
        .collect();
    let hours = (to - from).num_seconds() as f64 / 3600.0;
    let dyno_hours = app.schedule.dyno_hours(from, to);
    let max_dyno_hours = f64::from(app.max) * hours;
    AppPlan {
        app: app.name.clone(),
        process: app.process.clone(),
        timezone: app.timezone.name().to_owned(),
        quantity: app.schedule.baseline_at(from),
        changes,
        dyno_size: app.dyno_size.to_string(),
        price_per_hour: app.price_per_hour,
        dyno_hours: round(dyno_hours, 2),
        cost: round(dyno_hours * app.price_per_hour, 2),
        max: app.max,
        max_dyno_hours: round(max_dyno_hours, 2),
        max_cost: round(max_dyno_hours * app.price_per_hour, 2),
        saved_dyno_hours: round(max_dyno_hours - dyno_hours, 2),
        saved_cost: round((max_dyno_hours - dyno_hours) * app.price_per_hour, 2),
    }
}

fn render(plan: &PlanOut, days: u32) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for app in &plan.apps {
        let _ = writeln!(
            out,
            "{} {} ({}, {} at ${:.4}/dyno-hour)",
            app.app, app.process, app.timezone, app.dyno_size, app.price_per_hour
        );
        let _ = writeln!(out, "  baseline at {}: {}", plan.from, app.quantity);
        if app.changes.is_empty() {
            let _ = writeln!(out, "  no changes in the next {days} days");
        } else {
            let _ = writeln!(out, "  changes in the next {days} days:");
            for change in &app.changes {
                let _ = writeln!(
                    out,
                    "    {:<28} {}  -> {}",
                    change.local, change.at, change.quantity
                );
            }
        }
        let share = if app.max_dyno_hours > 0.0 {
            100.0 * app.saved_dyno_hours / app.max_dyno_hours
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  {days} days: {:.1} dyno-hours, ${:.2}; at max ({}) all the time: {:.1} dyno-hours, ${:.2}; saved: {:.1} dyno-hours, ${:.2} ({share:.0}%)",
            app.dyno_hours,
            app.cost,
            app.max,
            app.max_dyno_hours,
            app.max_cost,
            app.saved_dyno_hours,
            app.saved_cost
        );
        let _ = writeln!(out);
    }
    out
}
