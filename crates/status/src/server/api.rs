//! The JSON behind `/api/status` and `/api/history`.
//!
//! Nothing here reads the config's secrets or the probe's URL and headers (which may carry tokens):
//! only names, quantities, times and what the decision logic said.

use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use serde::Serialize;

use crate::{AppChart, AppInfo, AppStatus, ChangeView, Sources, Span};

/// How many coming schedule changes the page lists.
const NEXT_CHANGES: usize = 5;
/// How far ahead those changes are looked for.
const LOOK_AHEAD: TimeDelta = TimeDelta::days(7);

/// `/api/status`.
#[derive(Debug, Serialize)]
pub(crate) struct StatusOut {
    /// The daemon's clock (simulated under `demo`).
    now: DateTime<Utc>,
    /// Whether `now` runs faster than real time (`autoscaled demo`).
    simulated: bool,
    /// How often the page reloads its data, in real seconds.
    refresh_seconds: u64,
    /// Whether the page may add and end overrides and pauses: a password is set.
    edits: bool,
    apps: Vec<AppOut>,
}

#[derive(Debug, Serialize)]
struct AppOut {
    #[serde(flatten)]
    status: AppStatus,
    min: u32,
    max: u32,
    timezone: String,
    next_changes: Vec<ChangeView>,
    /// The overrides and pauses running or coming, oldest-created first.
    overrides: Vec<OverrideOut>,
    cost_today: CostOut,
}

/// One override or pause, as the card shows it.
#[derive(Debug, Serialize)]
pub(super) struct OverrideOut {
    pub(super) id: i64,
    /// `override` or `pause`.
    kind: &'static str,
    from: DateTime<Utc>,
    /// `None`: a pause until resumed.
    until: Option<DateTime<Utc>>,
    quantity: Option<u32>,
    min: Option<u32>,
    max: Option<u32>,
    reason: String,
    by: String,
    /// Whether it runs now (else it is coming).
    active: bool,
}

impl OverrideOut {
    pub(super) fn new(record: &store::Override, now: DateTime<Utc>) -> OverrideOut {
        let spec = &record.spec;
        let (kind, quantity, min, max) = match spec.action {
            store::OverrideAction::Set { quantity, min, max } => ("override", quantity, min, max),
            _ => ("pause", None, None, None),
        };
        OverrideOut {
            id: record.id,
            kind,
            from: spec.from,
            until: record.ends_at(),
            quantity,
            min,
            max,
            reason: spec.reason.clone(),
            by: spec.by.clone(),
            active: record.applies_at(now),
        }
    }
}

/// Today (midnight to midnight in the app's time zone): what it costs, estimated, against running
/// at `max` all day.
#[derive(Debug, Serialize)]
struct CostOut {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Actual quantities so far where the history covers them, the schedule's baseline elsewhere.
    dyno_hours: f64,
    cost: f64,
    max_dyno_hours: f64,
    max_cost: f64,
    price_per_hour: f64,
}

/// `/api/history`.
#[derive(Debug, Serialize)]
pub(crate) struct HistoryOut {
    now: DateTime<Utc>,
    /// The charts' window: `[from, now]`.
    from: DateTime<Utc>,
    /// Which window: `24h` or `7d`.
    span: Span,
    bucket_seconds: i64,
    apps: Vec<ChartOut>,
}

#[derive(Debug, Serialize)]
struct ChartOut {
    #[serde(flatten)]
    chart: AppChart,
    min: u32,
    max: u32,
    timezone: String,
}

pub(crate) async fn status(sources: &Sources, edits: bool) -> StatusOut {
    let now = sources.clock.now();
    let fast = sources.clock.speed() > 1;
    let overrides = sources.board.overrides(now).await;
    let mut apps = Vec::with_capacity(sources.apps.len());
    for (index, (status, settings)) in sources
        .board
        .snapshot()
        .into_iter()
        .zip(&sources.apps)
        .enumerate()
    {
        apps.push(AppOut {
            next_changes: settings
                .schedule
                .changes(now, now + LOOK_AHEAD)
                .into_iter()
                .take(NEXT_CHANGES)
                .map(|c| ChangeView {
                    at: c.at,
                    quantity: c.quantity,
                })
                .collect(),
            overrides: overrides
                .iter()
                .filter(|o| o.spec.key.app == status.app && o.spec.key.process == status.process)
                .map(|o| OverrideOut::new(o, now))
                .collect(),
            cost_today: cost_today(sources, index, settings, now).await,
            min: settings.min,
            max: settings.max,
            timezone: settings.schedule.timezone().name().to_owned(),
            status,
        });
    }
    StatusOut {
        now,
        simulated: fast,
        refresh_seconds: if fast { 2 } else { 15 },
        edits,
        apps,
    }
}

pub(crate) async fn history(sources: &Sources, span: Span) -> HistoryOut {
    let now = sources.clock.now();
    let apps = sources
        .board
        .charts(now, span)
        .await
        .into_iter()
        .zip(&sources.apps)
        .map(|(chart, settings)| ChartOut {
            chart,
            min: settings.min,
            max: settings.max,
            timezone: settings.schedule.timezone().name().to_owned(),
        })
        .collect();
    HistoryOut {
        now,
        from: now - span.length(),
        span,
        bucket_seconds: span.bucket().num_seconds(),
        apps,
    }
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Today's bounds in the time zone `tz`.
fn today<Z: TimeZone>(tz: &Z, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let date = now.with_timezone(tz).date_naive();
    // A time zone whose clocks skip midnight starts that day at the first instant after the gap.
    let midnight = |d: chrono::NaiveDate| {
        (0..4)
            .find_map(|h| {
                tz.from_local_datetime(&d.and_time(NaiveTime::MIN + TimeDelta::hours(h)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
    };
    let start = midnight(date).unwrap_or(now - TimeDelta::hours(12));
    let end = date
        .succ_opt()
        .and_then(midnight)
        .unwrap_or(start + TimeDelta::days(1));
    (start, end)
}

async fn cost_today(
    sources: &Sources,
    index: usize,
    settings: &AppInfo,
    now: DateTime<Utc>,
) -> CostOut {
    let (from, to) = today(&settings.schedule.timezone(), now);
    let (covered_from, ran) = sources
        .board
        .actual_dyno_hours(index, from, now)
        .await
        .unwrap_or((now, 0.0));
    let schedule = &settings.schedule;
    let dyno_hours =
        schedule.dyno_hours(from, covered_from) + ran + schedule.dyno_hours(now.max(from), to);
    let hours = (to - from).num_seconds() as f64 / 3600.0;
    let max_dyno_hours = f64::from(settings.max) * hours;
    let price = settings.price_per_hour;
    CostOut {
        from,
        to,
        dyno_hours: round(dyno_hours),
        cost: round(dyno_hours * price),
        max_dyno_hours: round(max_dyno_hours),
        max_cost: round(max_dyno_hours * price),
        price_per_hour: price,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn today_runs_midnight_to_midnight_in_the_apps_time_zone() {
        let (from, to) = today(&chrono_tz::Europe::Paris, at("2026-11-27T23:30:00Z"));
        assert_eq!(
            (from, to),
            (at("2026-11-27T23:00:00Z"), at("2026-11-28T23:00:00Z"))
        );
        // The day clocks spring forward is 23 hours long.
        let (from, to) = today(&chrono_tz::America::New_York, at("2026-03-08T12:00:00Z"));
        assert_eq!(
            (from, to),
            (at("2026-03-08T05:00:00Z"), at("2026-03-09T04:00:00Z"))
        );
    }
}
