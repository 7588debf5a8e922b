//! What `simulate` prints: the JSON of the interface, and a text summary built from the same report.

use std::fmt::Write;

use serde::Serialize;

use super::SimulatedApp;
use super::model::{Model, Tally};
use super::timeline::Timeline;

/// The figures of one way of running the app over the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    /// The window's length.
    pub minutes: f64,
    /// Dynos running (booting included), integrated over the window.
    pub dyno_hours: f64,
    /// `dyno_hours` at the app's price, USD.
    pub cost: f64,
    /// Time with ρ > 1: more requests arrive than the serving dynos can handle.
    pub overloaded_minutes: f64,
    /// Time with the probe latency at `slow` or above (no answer included).
    pub slow_minutes: f64,
    /// Formation changes.
    pub scale_calls: u32,
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
pub struct Report {
    /// The app's name.
    pub app: String,
    /// The process type.
    pub process: String,
    /// The first row's instant, RFC 3339.
    pub from: String,
    /// The end of the last row's interval, RFC 3339.
    pub to: String,
    /// All the requests of the window.
    pub requests: u64,
    /// The busiest row's requests a second.
    pub peak_requests_per_second: f64,
    /// With the decision rules and probes (flattened at the top of the JSON).
    #[serde(flatten)]
    pub autoscaled: Figures,
    /// The schedule alone, no probe.
    pub schedule_only: Figures,
    /// `max` dynos all the time.
    pub static_max: Figures,
    /// The fewest dynos in `[min, max]` that keep each row's probe latency within `slow`, moved
    /// exactly at the rows' edges with no boot delay.
    pub clairvoyant_dyno_hours: f64,
    /// The same by day, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<Day>>,
    /// The same trace replayed through a second config, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<Box<Comparison>>,
    /// The replays row by row, for [`draw`](crate::draw); not in the JSON.
    #[serde(skip)]
    pub timeline: Timeline,
}

/// A second config's replay of the same trace, beside the first's (`simulate --compare`).
#[derive(Debug, Serialize)]
pub struct Comparison {
    /// How the second config is named in the table and the picture: its file, say.
    pub config: String,
    /// Its replay, as the first's.
    #[serde(flatten)]
    pub report: Report,
}

impl Comparison {
    /// Its row in the table and its line in the picture: `with` and the config's file name.
    pub fn label(&self) -> String {
        let name = std::path::Path::new(&self.config)
            .file_name()
            .map_or_else(|| self.config.clone(), |n| n.to_string_lossy().into_owned());
        format!("with {name}")
    }
}

/// One day (in the app's time zone) of the report, for `--daily`.
#[derive(Debug, Serialize)]
pub struct Day {
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// The day's requests.
    pub requests: u64,
    /// The day's busiest row, requests a second.
    pub peak_requests_per_second: f64,
    /// As [`Report::autoscaled`].
    pub autoscaled: Figures,
    /// As [`Report::schedule_only`].
    pub schedule_only: Figures,
    /// As [`Report::static_max`].
    pub static_max: Figures,
    /// As [`Report::clairvoyant_dyno_hours`].
    pub clairvoyant_dyno_hours: f64,
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

impl Report {
    /// The text summary: the settings replayed (`app` and `model`, as given to
    /// [`simulate`](super::simulate)), then one line per way of running the app.
    pub fn render(&self, app: &SimulatedApp, model: &Model) -> String {
        let report = self;
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
        let policy = &app.policy;
        let probe = match app.probe_every {
            Some(interval) => format!(
                "probe every {}: down at {} or no answer, slow at {}, fast below {}; {} in a row, calm {}",
                ms(interval),
                ms(t.timeout),
                ms(t.slow),
                ms(t.fast),
                policy.failures,
                ms(policy.calm)
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
            policy.min,
            policy.max,
            policy.step,
            ms(policy.scale_out_cooldown),
            app.schedule.rules().len(),
            app.schedule.timezone().name(),
            app.dyno_size,
            app.price_per_hour
        );
        if let Some(traffic) = policy.traffic {
            let _ = writeln!(
                out,
                "traffic: concurrency {}, utilisation {}, stabilisation {}; router figures every {}, {} late, service times by the {} model",
                traffic.concurrency,
                traffic.utilisation,
                ms(traffic.stabilisation),
                ms(model.traffic.every),
                ms(model.traffic.delay),
                model.traffic.service.name()
            );
        }
        let _ = writeln!(out);
        // The labels' column: 20 wide, or the compared config's label.
        let wide = report
            .compare
            .as_ref()
            .map_or(20, |other| other.label().chars().count().max(20));
        let _ = writeln!(
            out,
            "  {:<wide$} {:>10} {:>10} {:>20} {:>20} {:>11}",
            "", "dyno-hours", "cost", "overloaded minutes", "slow minutes", "scale calls"
        );
        let whole = report.autoscaled.minutes;
        let max_label = format!("static at max ({})", policy.max);
        let mut rows = vec![("autoscaled".to_owned(), &report.autoscaled)];
        if let Some(other) = &report.compare {
            rows.push((other.label(), &other.report.autoscaled));
        }
        rows.push(("schedule alone".to_owned(), &report.schedule_only));
        rows.push((max_label, &report.static_max));
        for (label, f) in rows {
            let _ = writeln!(
                out,
                "  {label:<wide$} {:>10.2} {:>10} {:>20} {:>20} {:>11}",
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
            "  {:<wide$} {:>10.2} {:>10}   (the fewest dynos that answer each row within slow, no boot delay)",
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
        if let Some(other) = &report.compare {
            let theirs = &other.report;
            let _ = writeln!(
                out,
                "  {}: {:.2}x the clairvoyant's dyno-hours ({:.2}), {:+.0}% dyno-hours against autoscaled's; overloaded {:.2}% of the time",
                other.label(),
                ratio(theirs.autoscaled.dyno_hours, theirs.clairvoyant_dyno_hours),
                theirs.clairvoyant_dyno_hours,
                share(theirs.autoscaled.dyno_hours, auto.dyno_hours) - 100.0,
                share(theirs.autoscaled.overloaded_minutes, whole)
            );
        }
        if let Some(days) = &report.days {
            // With --compare, the second config's dyno-hours and overloaded minutes each day.
            let compared = report.compare.as_ref().and_then(|c| c.report.days.as_ref());
            let _ = writeln!(out);
            let _ = write!(
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
            if compared.is_some() {
                let _ = write!(out, " | {:>15} {:>6}", "compare: dyno-h", "overl.");
            }
            let _ = writeln!(out);
            for (i, day) in days.iter().enumerate() {
                let _ = write!(
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
                if let Some(theirs) = compared.and_then(|days| days.get(i)) {
                    let _ = write!(
                        out,
                        " | {:>15.1} {:>6.1}",
                        theirs.autoscaled.dyno_hours, theirs.autoscaled.overloaded_minutes
                    );
                }
                let _ = writeln!(out);
            }
        }
        out
    }

    /// The report as `simulate --json` prints it: [`Figures`] of autoscaled at the top level,
    /// `schedule_only`, `static_max`, `clairvoyant_dyno_hours` and, when asked for, `days`.
    ///
    /// # Errors
    ///
    /// None in practice: every figure is a finite number or a string.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}
