//! `autoscaled check`: is the config valid, and what would it do? `--online` asks Heroku too.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use chrono::Utc;
use humantime::format_duration;
use secret::{REDACTED, RedactedUrl};

use crate::Failure;
use crate::cli::CheckArgs;
use crate::config::{Config, config_path};
use crate::daemon::budget;

pub(crate) fn run(config: &Option<PathBuf>, args: CheckArgs) -> Result<(), Failure> {
    let path = config_path(config.clone());
    let config = Config::load(&path)?;
    print!("{}", describe(&config, &path));
    if args.online {
        let runtime = crate::runtime()?;
        runtime.block_on(check_online(&config))?;
    }
    Ok(())
}

fn describe(config: &Config, path: &std::path::Path) -> String {
    let mut out = String::new();
    let now = Utc::now();
    let _ = writeln!(out, "config {}: valid", path.display());
    let _ = writeln!(
        out,
        "heroku: {} (API key {})",
        RedactedUrl(&config.heroku.api_url),
        config.heroku.api_key
    );
    let _ = writeln!(out, "state: {}", config.state.shown());
    if let Some(warning) = config.state.lost_on_a_dyno() {
        let _ = writeln!(out, "warning: {warning}");
    }
    let mut calls = 0.0;
    for app in &config.apps {
        let _ = writeln!(
            out,
            "{} {}: {}..{} dynos, step {}, {}; baseline now {}",
            app.name,
            app.process,
            app.min,
            app.max,
            app.step,
            app.timezone.name(),
            app.schedule.baseline_at(now)
        );
        for rule in app.schedule.rules() {
            let _ = writeln!(
                out,
                "  schedule: \"{}\" -> {}",
                rule.cron(),
                rule.quantity()
            );
        }
        if let Some(change) = app.schedule.next_change_after(now) {
            let local = change.at.with_timezone(&app.timezone);
            let _ = writeln!(
                out,
                "  next change: {} -> {}",
                local.format("%a %Y-%m-%d %H:%M %Z"),
                change.quantity
            );
        }
        match &app.probe {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "  probe: GET {} every {}; down after {} failures (timeout {}), slow >= {}, fast < {}, calm {}",
                    RedactedUrl(&p.url),
                    format_duration(p.interval),
                    p.failures,
                    format_duration(p.timeout),
                    format_duration(p.slow),
                    format_duration(p.fast),
                    format_duration(p.calm)
                );
                // Header values may be credentials: their names only.
                if !p.headers.is_empty() {
                    let names: Vec<String> = p
                        .headers
                        .iter()
                        .map(|(name, _)| format!("{name}: {REDACTED}"))
                        .collect();
                    let _ = writeln!(out, "  probe headers: {}", names.join(", "));
                }
            }
            None => {
                let _ = writeln!(out, "  probe: none (the schedule alone sets the quantity)");
            }
        }
        if let Some(t) = &app.traffic {
            let _ = writeln!(
                out,
                "  traffic: concurrency {} a dyno, utilisation {} (demand = in flight / {:.2}); in after {} of lower demand, panic at 2x in 6s, router errors from {} a minute",
                t.concurrency,
                t.utilisation,
                f64::from(t.concurrency) * t.utilisation,
                format_duration(policy::TrafficPolicy::DEFAULT_STABILISATION),
                policy::TrafficPolicy::DEFAULT_TROUBLE_ERRORS
            );
        }
        let per_hour =
            budget::steady_calls_per_hour(app.reconcile, app.probe.as_ref().map(|p| p.failures));
        calls += per_hour;
        let _ = writeln!(
            out,
            "  scale-out cooldown {}, reconcile every {} (~{per_hour:.0} API calls/hour)",
            format_duration(app.scale_out_cooldown),
            format_duration(app.reconcile)
        );
    }
    let alerts = &config.alerts;
    let email = alerts
        .email
        .as_ref()
        .map_or("off".to_owned(), |e| format!("to {}", e.to.join(", ")));
    let sms = alerts
        .sms
        .as_ref()
        .map_or("off".to_owned(), |s| format!("to {}", s.to.join(", ")));
    let _ = writeln!(
        out,
        "alerts: email {email}; sms {sms}; the same alert at most every {}",
        format_duration(alerts.alert_every)
    );
    let share = budget::budget_share(calls);
    let _ = writeln!(
        out,
        "API budget: ~{calls:.0} calls/hour for the {} app(s) in a steady state, {share:.1}% of the account's {}/hour \
         (shared with people; reads slow down as it runs low, scale calls come first)",
        config.apps.len(),
        heroku_api::ACCOUNT_RATE_LIMIT
    );
    if let Some(addr) = config.http.listen {
        let _ = writeln!(out, "status page: http://{addr}/");
    }
    let drain = match (&config.http.drain_password, config.http.listen) {
        (Some(_), Some(_)) => "on: POST /drain/<app> takes each app's router logs (password set)",
        (Some(_), None) => "off: a drain password is set but http.listen is not",
        (None, _) => "off (no http.drain_password / AUTOSCALED_DRAIN_PASSWORD)",
    };
    let _ = writeln!(out, "log drain: {drain}");
    out
}

async fn check_online(config: &Config) -> Result<(), Failure> {
    let client = crate::daemon::heroku_client(config)?;
    let mut problems = Vec::new();
    for app in &config.apps {
        // The reads `run` makes at start, with its messages: a missing process type names the
        // types the app has.
        let checked = tokio::time::timeout(Duration::from_secs(60), async {
            let snapshot = client
                .snapshot(&app.name, &app.process)
                .await
                .map_err(|e| match e {
                    heroku_api::SnapshotError::Transient(e) => format!("app \"{}\": {e}", app.name),
                    e => e.to_string(),
                })?;
            Ok::<_, String>((snapshot.maintenance, snapshot.quantity))
        })
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "app \"{}\": Heroku did not answer within 60 s",
                app.name
            ))
        });
        match checked {
            Ok((maintenance, quantity)) => println!(
                "online: {} {}: found, {quantity} dyno(s) now{}",
                app.name,
                app.process,
                if maintenance {
                    ", in maintenance mode"
                } else {
                    ""
                }
            ),
            Err(problem) => problems.push(problem),
        }
    }
    if let Some(remaining) = client.rate_limit_remaining() {
        println!("online: API key accepted; {remaining} API calls left in the account's budget");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Invalid(anyhow!(
            "online check failed:\n  {}",
            problems.join("\n  ")
        )))
    }
}
