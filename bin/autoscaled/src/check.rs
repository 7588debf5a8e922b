//! `autoscaled check`: is the config valid, and what would it do? `--online` asks Heroku too.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use humantime::format_duration;
use secret::{REDACTED, RedactedUrl};
use store::{Access, Override, OverrideAction, Store};

use crate::Failure;
use crate::cli::CheckArgs;
use crate::config::{Config, QueueSettings, config_path};
use crate::daemon::budget;

pub(crate) fn run(config: &Option<PathBuf>, args: CheckArgs) -> Result<(), Failure> {
    let path = config_path(config.clone());
    let config = Config::load(&path)?;
    print!("{}", describe(&config, &path));
    print!("{}", recorded_overlaps(&config, Utc::now()));
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
        if let Some(queue) = &app.queue {
            describe_queue(&mut out, queue);
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

/// A worker's queue settings, what its backend lets autoscaled read, and what to mind.
fn describe_queue(out: &mut String, queue: &QueueSettings) {
    let backend = queue.backend;
    let _ = writeln!(
        out,
        "  queue: {}; keep the oldest job under {}, {} jobs a dyno, read every {}, in after {} calm, stuck alert after {} at max",
        queue.source(),
        format_duration(queue.latency),
        queue.concurrency,
        format_duration(queue.poll),
        format_duration(queue.calm),
        format_duration(queue.stuck_after)
    );
    let reads = backend.reads();
    let said = |known: bool| if known { "yes" } else { "no" };
    let latency = match backend {
        queues::Backend::Celery => {
            "only if the app adds a publish time to its messages (properties.published_at)"
        }
        _ => said(reads.latency),
    };
    let _ = writeln!(
        out,
        "  queue reads: depth yes, latency {latency}, busy {}, due scheduled/retries {}, paused {}",
        said(reads.busy),
        said(reads.due),
        said(reads.paused)
    );
    if !reads.busy {
        let _ = writeln!(
            out,
            "  queue: {} does not record running jobs, so scaling in cannot see them: one dyno in per calm window of empty queues",
            backend.name()
        );
    }
    let _ = writeln!(
        out,
        "  queue: Heroku picks which dyno stops on a scale in and gives it 30 s after SIGTERM; autoscaled never goes below the dynos the busy jobs occupy"
    );
    if let Ok(url) = queue.url.resolve()
        && url.expose().contains("ssl_cert_reqs=none")
    {
        let _ = writeln!(
            out,
            "  warning: the datastore URL says ssl_cert_reqs=none: its TLS certificate is not verified (Heroku's Redis uses certificates no public CA signs; this is its documented setting)"
        );
    }
}

/// Reads each worker's queues once, as the daemon's first poll would.
async fn check_queues(config: &Config, problems: &mut Vec<String>) {
    for app in &config.apps {
        let Some(queue) = &app.queue else { continue };
        let url = match queue.url.resolve() {
            Ok(url) => url,
            Err(problem) => {
                problems.push(format!("{} {} queue: {problem}", app.name, app.process));
                continue;
            }
        };
        let read = async { queue.connect(&url).await?.read(Utc::now()).await };
        match read.await {
            Ok(reading) => {
                for q in &reading.queues {
                    let latency = q.latency.map_or("unknown".to_owned(), |l| {
                        format_duration(Duration::from_secs(l.as_secs())).to_string()
                    });
                    let busy = q.busy.map_or("unknown".to_owned(), |b| b.to_string());
                    println!(
                        "online: {} {} queue {}: {}{} ready, oldest {latency}, {busy} busy{}{}",
                        app.name,
                        app.process,
                        q.name,
                        q.depth,
                        if q.depth_exact { "" } else { "+" },
                        q.due.map_or(String::new(), |d| format!(", {d} due")),
                        if q.paused { ", paused" } else { "" }
                    );
                }
                if let Some(due) = reading.due_shared {
                    println!(
                        "online: {} {} scheduled and retrying jobs due (every queue): {due}",
                        app.name, app.process
                    );
                }
            }
            Err(e) => problems.push(format!(
                "{} {} queue: {}",
                app.name,
                app.process,
                crate::daemon::queue_feed::describe(&e, &url)
            )),
        }
    }
}

async fn check_online(config: &Config) -> Result<(), Failure> {
    let client = crate::daemon::Reach::network(config)?.heroku;
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
    check_queues(config, &mut problems).await;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Invalid(anyhow!(
            "online check failed:\n  {}",
            problems.join("\n  ")
        )))
    }
}

/// How long `check` waits for the state database.
const READ_WITHIN: Duration = Duration::from_secs(10);

/// What `check` says of the overrides and pauses recorded in the state database: each pair that
/// overlaps, and which wins. The database is only read (`check` never creates it); when it cannot
/// be read (not created yet, unreachable), one line says so and the check goes on.
fn recorded_overlaps(config: &Config, now: DateTime<Utc>) -> String {
    let read = crate::runtime().map_err(|_| None).and_then(|runtime| {
        runtime.block_on(async {
            // A database that does not answer delays the check by this much at most.
            let opened = tokio::time::timeout(
                READ_WITHIN,
                Store::open(config.state.url.expose(), Access::ReadOnly),
            )
            .await
            .map_err(|_| Some(format!("no answer within {}", format_duration(READ_WITHIN))))?;
            let store = opened.map_err(|e| Some(e.to_string()))?;
            let current = tokio::time::timeout(READ_WITHIN, store.current_overrides(now)).await;
            store.close().await;
            match current {
                Ok(current) => current.map_err(|e| Some(e.to_string())),
                Err(_) => Err(Some(format!(
                    "no answer within {}",
                    format_duration(READ_WITHIN)
                ))),
            }
        })
    });
    match read {
        Ok(current) => {
            let lines = overlaps(&current);
            let mut out = format!(
                "overrides and pauses: {} running or coming, {} overlap{}\n",
                current.len(),
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            );
            for line in lines {
                let _ = writeln!(out, "  overlap: {line}");
            }
            out
        }
        Err(Some(error)) => format!("overrides and pauses: not checked ({error})\n"),
        Err(None) => String::new(),
    }
}

/// Each pair of `records` (running or coming, oldest-created first) for the same app and process
/// type whose windows overlap, said as which one wins: where overrides overlap, the later-created
/// wins for what it sets.
fn overlaps(records: &[Override]) -> Vec<String> {
    let mut sorted: Vec<&Override> = records.iter().collect();
    sorted.sort_by_key(|o| (o.spec.created_at, o.id));
    let mut lines = Vec::new();
    for (i, later) in sorted.iter().enumerate() {
        for earlier in &sorted[..i] {
            let (a, b) = (&earlier.spec, &later.spec);
            let ends_after = |end: Option<DateTime<Utc>>, at| end.is_none_or(|end| end > at);
            if a.key != b.key
                || !ends_after(earlier.ends_at(), b.from)
                || !ends_after(later.ends_at(), a.from)
            {
                continue;
            }
            let who = |o: &Override| crate::overrides::label(o);
            let verdict = match (a.action, b.action) {
                (OverrideAction::Set { .. }, OverrideAction::Set { .. }) => {
                    let both = shared(a.action, b.action);
                    if both.is_empty() {
                        "they set different things: both apply".to_owned()
                    } else {
                        format!(
                            "the later-created wins for what it sets: #{} for {}",
                            later.id,
                            both.join(", ")
                        )
                    }
                }
                _ => "no scale call while a pause runs".to_owned(),
            };
            lines.push(format!(
                "{} {}: {} and {}: {verdict}",
                b.key.app,
                b.key.process,
                who(earlier),
                who(later)
            ));
        }
    }
    lines
}

/// What two overrides both set: `quantity`, `min`, `max`.
fn shared(a: OverrideAction, b: OverrideAction) -> Vec<&'static str> {
    match (a, b) {
        (
            OverrideAction::Set {
                quantity: qa,
                min: mina,
                max: maxa,
            },
            OverrideAction::Set {
                quantity: qb,
                min: minb,
                max: maxb,
            },
        ) => [
            ("quantity", qa.is_some() && qb.is_some()),
            ("min", mina.is_some() && minb.is_some()),
            ("max", maxa.is_some() && maxb.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, both)| both.then_some(name))
        .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails at its first surprise")]

    use chrono::TimeDelta;
    use store::{NewOverride, ProcessKey};

    use super::*;

    fn at(hour: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-06T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + TimeDelta::hours(hour)
    }

    fn record(
        id: i64,
        process: &str,
        action: OverrideAction,
        from: i64,
        until: Option<i64>,
    ) -> Override {
        Override {
            id,
            spec: NewOverride {
                key: ProcessKey::new("shop", process),
                action,
                from: at(from),
                until: until.map(at),
                reason: String::new(),
                by: "ada".into(),
                created_at: at(0) + TimeDelta::seconds(id),
            },
            ended_at: None,
        }
    }

    fn set(quantity: Option<u32>, min: Option<u32>, max: Option<u32>) -> OverrideAction {
        OverrideAction::Set { quantity, min, max }
    }

    #[test]
    fn overlapping_overrides_are_named_with_what_the_later_wins() {
        let records = [
            record(1, "web", set(Some(4), None, Some(8)), 1, Some(5)),
            // Overlaps #1 for 4..5, setting the quantity too.
            record(2, "web", set(Some(6), Some(2), None), 4, Some(6)),
            // Touches #2's end only, and another process type's.
            record(3, "web", set(Some(2), None, None), 6, Some(7)),
            record(4, "worker", set(Some(2), None, None), 1, Some(7)),
            // Until resumed: overlaps everything of web from 5 on.
            record(5, "web", OverrideAction::Pause, 5, None),
            record(6, "web", set(None, Some(1), None), 10, Some(11)),
        ];
        assert_eq!(
            overlaps(&records),
            [
                "shop web: override #1 by ada and override #2 by ada: the later-created wins for what it sets: #2 for quantity",
                "shop web: override #2 by ada and pause #5 by ada: no scale call while a pause runs",
                "shop web: override #3 by ada and pause #5 by ada: no scale call while a pause runs",
                "shop web: pause #5 by ada and override #6 by ada: no scale call while a pause runs",
            ]
        );
        let apart = [
            record(1, "web", set(Some(4), None, None), 1, Some(5)),
            record(2, "web", set(None, None, Some(6)), 2, Some(3)),
        ];
        assert_eq!(
            overlaps(&apart),
            [
                "shop web: override #1 by ada and override #2 by ada: they set different things: both apply"
            ]
        );
    }

    #[test]
    fn a_worker_shows_what_its_backend_reads_and_warns_of_unverified_tls() {
        let tree = serde_json::json!({
            "heroku": { "api_key": "key" },
            "apps": [{
                "name": "my-app", "process": "worker", "min": 0, "max": 4,
                "queue": {
                    "backend": "celery",
                    "url": "rediss://u:queue-s3cret@redis.example:6380/0?ssl_cert_reqs=none",
                    "concurrency": 8,
                },
            }],
        });
        let config = Config::from_tree(&tree).unwrap();
        let out = describe(&config, std::path::Path::new("autoscaled.toml"));
        assert!(
            out.contains("queue: celery: every queue from url [redacted]"),
            "{out}"
        );
        assert!(out.contains("busy no"), "{out}");
        assert!(out.contains("publish time"), "{out}");
        assert!(
            out.contains("warning: the datastore URL says ssl_cert_reqs=none"),
            "{out}"
        );
        assert!(!out.contains("queue-s3cret"), "{out}");
    }
}
