//! What `simulate` prints in queue mode: the JSON, and a text table built from the same report.

use std::fmt::Write;

use serde::Serialize;

use super::replay::Outcome;
use super::{
    HIREFIRE_EVERY, JUDOSCALE_CALM, JUDOSCALE_EVERY, JUDOSCALE_UPSCALE_EVERY, JobModel, QueueApp,
};
use crate::report::round;

/// The figures of one way of scaling the worker over the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct JobFigures {
    /// The window's length.
    pub minutes: f64,
    /// Dynos running (booting included), integrated over the window.
    pub dyno_hours: f64,
    /// `dyno_hours` at the app's price, USD.
    pub cost: f64,
    /// Minutes (counted from the window's start) in which the oldest waiting job was older than
    /// the latency target.
    pub late_minutes: u64,
    /// The share of minutes with the target kept, in percent.
    pub kept_percent: f64,
    /// The oldest waiting job's greatest age, in seconds.
    pub worst_latency_seconds: f64,
    /// Formation changes.
    pub scale_calls: u32,
}

impl JobFigures {
    pub(super) fn new(outcome: &Outcome, price_per_hour: f64) -> JobFigures {
        let dyno_hours = outcome.dyno_nanos as f64 / 3.6e12;
        let minutes = outcome.span as f64 / 6e10;
        let whole = minutes.ceil();
        let kept = if whole > 0.0 {
            100.0 * (1.0 - outcome.late_minutes as f64 / whole)
        } else {
            100.0
        };
        JobFigures {
            minutes: round(minutes, 2),
            dyno_hours: round(dyno_hours, 2),
            cost: round(dyno_hours * price_per_hour, 2),
            late_minutes: outcome.late_minutes,
            kept_percent: round(kept, 3),
            worst_latency_seconds: round(outcome.worst, 1),
            scale_calls: outcome.scale_calls,
        }
    }
}

/// The queue mode's answer; its JSON is `simulate --json` for a worker with `[apps.queue]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueReport {
    /// The app's name.
    pub app: String,
    /// The process type.
    pub process: String,
    /// The first row's instant, RFC 3339.
    pub from: String,
    /// The end of the last row's interval, RFC 3339.
    pub to: String,
    /// All the jobs of the window.
    pub jobs: u64,
    /// The busiest row's jobs a second.
    pub peak_jobs_per_second: f64,
    /// The job-queue rules (flattened at the top of the JSON).
    #[serde(flatten)]
    pub autoscaled: JobFigures,
    /// The Judoscale-style rule on the same replay.
    pub judoscale_style: JobFigures,
    /// The HireFire-style rule on the same replay.
    pub hirefire_style: JobFigures,
    /// The fewest dynos whose slots hold each row's jobs, moved at the rows' edges with no boot.
    pub clairvoyant_dyno_hours: f64,
}

fn shown(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

impl QueueReport {
    /// The text summary: the settings replayed, then one line per way of scaling the worker.
    pub fn render(&self, app: &QueueApp, model: &JobModel) -> String {
        let mut out = String::new();
        let q = &app.queue;
        let _ = writeln!(
            out,
            "{} {}: {} to {}, {:.0} minutes, {} jobs (peak {:.1}/s)",
            self.app,
            self.process,
            self.from,
            self.to,
            self.autoscaled.minutes,
            self.jobs,
            self.peak_jobs_per_second
        );
        let _ = writeln!(out, "reads {} (replayed here from the trace)", app.reads);
        let _ = writeln!(
            out,
            "model: {} a job, {} jobs at once a dyno, {} boot; each row's jobs arrive evenly, one first-in-first-out queue",
            shown(model.job_time),
            model.concurrency,
            shown(model.boot)
        );
        let _ = writeln!(
            out,
            "rules: min {}, max {}; latency target {}, concurrency {}, poll {}, calm {}; {} schedule rules; {} at ${:.4}/dyno-hour",
            app.policy.min,
            app.policy.max,
            shown(q.latency),
            q.concurrency,
            shown(q.poll),
            shown(q.calm),
            app.schedule.rules().len(),
            app.dyno_size,
            app.price_per_hour
        );
        let _ = writeln!(
            out,
            "compared: Judoscale-style (age checked every {}, +1 at {} or more at most every {}, -1 after {} under 1s); HireFire-style (every {}, dynos = (ready + busy) / {})",
            shown(JUDOSCALE_EVERY),
            shown(q.latency / 3),
            shown(JUDOSCALE_UPSCALE_EVERY),
            shown(JUDOSCALE_CALM),
            shown(HIREFIRE_EVERY),
            model.concurrency
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<16} {:>10} {:>10} {:>22} {:>12} {:>11}",
            "", "dyno-hours", "cost", "late minutes (kept)", "worst wait", "scale calls"
        );
        for (label, f) in [
            ("autoscaled", &self.autoscaled),
            ("Judoscale-style", &self.judoscale_style),
            ("HireFire-style", &self.hirefire_style),
        ] {
            let _ = writeln!(
                out,
                "  {label:<16} {:>10.2} {:>10} {:>22} {:>12} {:>11}",
                f.dyno_hours,
                format!("${:.2}", f.cost),
                format!("{} ({:.2}%)", f.late_minutes, f.kept_percent),
                format!("{:.1}s", f.worst_latency_seconds),
                f.scale_calls
            );
        }
        let _ = writeln!(
            out,
            "  {:<16} {:>10.2} {:>10}   (the fewest dynos that hold each row's jobs, no boot delay)",
            "clairvoyant",
            self.clairvoyant_dyno_hours,
            format!("${:.2}", self.clairvoyant_dyno_hours * app.price_per_hour)
        );
        let ratio = |x: f64| {
            if self.clairvoyant_dyno_hours > 0.0 {
                x / self.clairvoyant_dyno_hours
            } else {
                0.0
            }
        };
        let _ = writeln!(
            out,
            "\n  autoscaled: {:.2}x the clairvoyant's dyno-hours (Judoscale-style {:.2}x, HireFire-style {:.2}x); the target kept in {:.2}% of minutes",
            ratio(self.autoscaled.dyno_hours),
            ratio(self.judoscale_style.dyno_hours),
            ratio(self.hirefire_style.dyno_hours),
            self.autoscaled.kept_percent
        );
        out
    }

    /// The report as `simulate --json` prints it.
    ///
    /// # Errors
    ///
    /// None in practice: every figure is a finite number or a string.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}
