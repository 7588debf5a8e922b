//! What `simulate` prints: the JSON of the interface, and a text summary built from the same report.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{Model, Tally};
use crate::config::AppSettings;

/// The figures of one way of running the app over the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct Figures {
    pub(super) minutes: f64,
    pub(super) dyno_hours: f64,
    pub(super) cost: f64,
    /// Time with ρ > 1: more requests arrive than the serving dynos can handle.
    pub(super) overloaded_minutes: f64,
    /// Time with the probe latency at `slow` or above (no answer included).
    pub(super) slow_minutes: f64,
    pub(super) scale_calls: u32,
}

impl Figures {
    pub(super) fn new(tally: &Tally, price_per_hour: f64) -> Figures {
        let dyno_hours = tally.dyno_nanos as f64 / 3.6e12;
        Figures {
            minutes: round(minutes(tally.span), 2),
            dyno_hours: round(dyno_hours, 2),
            cost: round(dyno_hours * price_per_hour, 2),
            overloaded_minutes: round(minutes(tally.overloaded), 2),
            slow_minutes: round(minutes(tally.slow), 2),
            scale_calls: tally.scale_calls,
        }
    }
}

/// The whole answer; its JSON is `simulate --json`.
#[derive(Debug, Serialize)]
pub(super) struct Report {
    pub(super) app: String,
    pub(super) process: String,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) requests: u64,
    pub(super) peak_requests_per_second: f64,
    #[serde(flatten)]
    pub(super) autoscaled: Figures,
    pub(super) schedule_only: Figures,
    pub(super) static_max: Figures,
    /// The fewest dynos in `[min, max]` that keep each row's probe latency within `slow`, moved
    /// exactly at the rows' edges with no boot delay.
    pub(super) clairvoyant_dyno_hours: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) days: Option<Vec<Day>>,
}

/// One day (in the app's time zone) of the report, for `--daily`.
#[derive(Debug, Serialize)]
pub(super) struct Day {
    pub(super) date: String,
    pub(super) requests: u64,
    pub(super) peak_requests_per_second: f64,
    pub(super) autoscaled: Figures,
    pub(super) schedule_only: Figures,
    pub(super) static_max: Figures,
    pub(super) clairvoyant_dyno_hours: f64,
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

pub(super) fn dyno_hours(dyno_nanos: i128) -> f64 {
    round(dyno_nanos as f64 / 3.6e12, 2)
}

fn minutes(nanos: i64) -> f64 {
    nanos as f64 / 6e10
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

fn ms(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The text summary: the settings replayed, then one line per way of running the app.
pub(super) fn render(report: &Report, app: &AppSettings, model: &Model) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}: {} to {}, {:.0} minutes, {} requests (peak {:.1}/s)",
        report.app,
        report.process,
        report.from,
        report.to,
        report.autoscaled.minutes,
        report.requests,
        report.peak_requests_per_second
    );
    let t = model.thresholds;
    let probe = match &app.probe {
        Some(p) => format!(
            "probe every {}: down at {} or no answer, slow at {}, fast below {}; {} in a row, calm {}",
            ms(p.interval),
            ms(t.timeout),
            ms(t.slow),
            ms(t.fast),
            p.failures,
            ms(p.calm)
        ),
        None => format!("no probe (slow minutes counted at {})", ms(t.slow)),
    };
    let _ = writeln!(
        out,
        "model: {} requests/s a dyno, {} service time, {} boot; {probe}",
        model.capacity,
        ms(model.service_time),
        ms(model.boot)
    );
    let _ = writeln!(
        out,
        "rules: min {}, max {}, step {}, scale-out cooldown {}, {} schedule rules in {}; {} at ${:.4}/dyno-hour",
        app.min,
        app.max,
        app.step,
        ms(app.scale_out_cooldown),
        app.schedule.rules().len(),
        app.timezone.name(),
        app.dyno_size,
        app.price_per_hour
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<20} {:>10} {:>10} {:>20} {:>20} {:>11}",
        "", "dyno-hours", "cost", "overloaded minutes", "slow minutes", "scale calls"
    );
    let whole = report.autoscaled.minutes;
    let max_label = format!("static at max ({})", app.max);
    for (label, f) in [
        ("autoscaled", &report.autoscaled),
        ("schedule alone", &report.schedule_only),
        (max_label.as_str(), &report.static_max),
    ] {
        let _ = writeln!(
            out,
            "  {label:<20} {:>10.2} {:>10} {:>20} {:>20} {:>11}",
            f.dyno_hours,
            format!("${:.2}", f.cost),
            format!(
                "{:.1} ({:.2}%)",
                f.overloaded_minutes,
                share(f.overloaded_minutes, whole)
            ),
            format!(
                "{:.1} ({:.2}%)",
                f.slow_minutes,
                share(f.slow_minutes, whole)
            ),
            f.scale_calls
        );
    }
    let _ = writeln!(
        out,
        "  {:<20} {:>10.2} {:>10}   (the fewest dynos that answer each row within slow, no boot delay)",
        "clairvoyant",
        report.clairvoyant_dyno_hours,
        format!("${:.2}", report.clairvoyant_dyno_hours * app.price_per_hour)
    );
    let auto = &report.autoscaled;
    let _ = writeln!(
        out,
        "\n  autoscaled: {:.2}x the clairvoyant's dyno-hours, {:.0}% of static at max's; overloaded {:.2}% of the time",
        ratio(auto.dyno_hours, report.clairvoyant_dyno_hours),
        share(auto.dyno_hours, report.static_max.dyno_hours),
        share(auto.overloaded_minutes, whole)
    );
    if let Some(days) = &report.days {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<10} {:>10} {:>7} | {:>18} {:>6} {:>6} {:>5} | {:>16} {:>6} | {:>11} {:>6} | {:>7}",
            "day",
            "requests",
            "peak/s",
            "autoscaled: dyno-h",
            "overl.",
            "slow",
            "calls",
            "schedule: dyno-h",
            "overl.",
            "max: dyno-h",
            "overl.",
            "clairv."
        );
        for day in days {
            let _ = writeln!(
                out,
                "  {:<10} {:>10} {:>7.1} | {:>18.1} {:>6.1} {:>6.1} {:>5} | {:>16.1} {:>6.1} | {:>11.1} {:>6.1} | {:>7.1}",
                day.date,
                day.requests,
                day.peak_requests_per_second,
                day.autoscaled.dyno_hours,
                day.autoscaled.overloaded_minutes,
                day.autoscaled.slow_minutes,
                day.autoscaled.scale_calls,
                day.schedule_only.dyno_hours,
                day.schedule_only.overloaded_minutes,
                day.static_max.dyno_hours,
                day.static_max.overloaded_minutes,
                day.clairvoyant_dyno_hours
            );
        }
    }
    out
}
