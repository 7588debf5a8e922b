//! `autoscaled plan`: what each app's schedule will do over the coming days, and what it saves.

use std::path::PathBuf;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use schedule::{PlanCost, PlannedChange};
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
    changes: Vec<PlannedChange>,
    dyno_size: String,
    #[serde(flatten)]
    cost: PlanCost,
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
            .map(|app| plan_app(app, from, args.days))
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

fn plan_app(app: &AppSettings, from: DateTime<Utc>, days: u32) -> AppPlan {
    let plan = app.schedule.plan(from, days, app.max, app.price_per_hour);
    AppPlan {
        app: app.name.clone(),
        process: app.process.clone(),
        timezone: app.timezone.name().to_owned(),
        quantity: plan.quantity,
        changes: plan.changes,
        dyno_size: app.dyno_size.to_string(),
        cost: plan.cost,
    }
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
                let _ = writeln!(
                    out,
                    "    {:<28} {}  -> {}",
                    change.local,
                    rfc3339(change.at),
                    change.quantity
                );
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
