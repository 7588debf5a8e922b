//! What `simulate` prints in queue mode: the JSON, and a text table built from the same report.

use std::fmt::Write;

use serde::Serialize;

use super::replay::Outcome;
use super::{
    HIREFIRE_EVERY, JUDOSCALE_CALM, JUDOSCALE_EVERY, JUDOSCALE_UPSCALE_EVERY, JobModel, QueueApp,
    hirefire_ratio,
};
use crate::Timeline;
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
        JobFigures::of(
            outcome.span,
            outcome.dyno_nanos,
            outcome.late_minutes,
            outcome.worst,
            outcome.scale_calls,
            price_per_hour,
        )
    }

    /// The figures of `span` nanoseconds with `dyno_nanos` of dynos running.
    pub(super) fn of(
        span: i64,
        dyno_nanos: i128,
        late_minutes: u64,
        worst: f64,
        scale_calls: u32,
        price_per_hour: f64,
    ) -> JobFigures {
        let dyno_hours = dyno_nanos as f64 / 3.6e12;
        let minutes = span as f64 / 6e10;
        let whole = minutes.ceil();
        let kept = if whole > 0.0 {
            100.0 * (1.0 - late_minutes as f64 / whole)
        } else {
            100.0
        };
        JobFigures {
            minutes: round(minutes, 2),
            dyno_hours: round(dyno_hours, 2),
            cost: round(dyno_hours * price_per_hour, 2),
            late_minutes,
            kept_percent: round(kept, 3),
            worst_latency_seconds: round(worst, 1),
            scale_calls,
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
    pub judoscale: JobFigures,
    /// The HireFire-style rule on the same replay.
    pub hirefire: JobFigures,
    /// The fewest dynos whose slots hold each row's jobs, moved at the rows' edges with no boot.
    pub clairvoyant_dyno_hours: f64,
    /// The same by day (in the schedule's time zone), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<QueueDay>>,
    /// The same trace replayed through a second config's worker, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<Box<QueueComparison>>,
    /// The replays row by row, for [`draw_queue`](crate::draw_queue); not in the JSON.
    #[serde(skip)]
    pub timeline: QueueTimeline,
}

/// One day (in the app's time zone) of the queue report, for `--daily`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueDay {
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// The day's jobs.
    pub jobs: u64,
    /// As [`QueueReport::autoscaled`].
    pub autoscaled: JobFigures,
    /// As [`QueueReport::judoscale`].
    pub judoscale: JobFigures,
    /// As [`QueueReport::hirefire`].
    pub hirefire: JobFigures,
    /// As [`QueueReport::clairvoyant_dyno_hours`].
    pub clairvoyant_dyno_hours: f64,
}

/// A second config's worker replayed on the same jobs (`simulate --compare`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueComparison {
    /// How the second config is named in the table and the picture: its file, say.
    pub config: String,
    /// Its replay, as the first's.
    #[serde(flatten)]
    pub report: QueueReport,
}

impl QueueComparison {
    /// Its row in the table and its line in the picture: `with` and the config's file name.
    pub fn label(&self) -> String {
        let name = std::path::Path::new(&self.config)
            .file_name()
            .map_or_else(|| self.config.clone(), |n| n.to_string_lossy().into_owned());
        format!("with {name}")
    }
}

/// The queue replays row by row: what [`draw_queue`](crate::draw_queue) pictures.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueTimeline {
    /// The arrivals (`load`, jobs a second), the jobs a second a dyno works off (`capacity`), the
    /// rules' dynos row by row (late rows as `overloaded`), the clairvoyant's and the rules'
    /// formation changes; `schedule_only` is empty.
    pub rows: Timeline,
    /// The Judoscale-style rule's most dynos running in each row.
    pub judoscale: Vec<u32>,
    /// The HireFire-style rule's most dynos running in each row.
    pub hirefire: Vec<u32>,
    /// The oldest waiting job's greatest age in each row under the rules, in seconds.
    pub oldest: Vec<f64>,
    /// The latency target, in seconds.
    pub target: f64,
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
            "compared: Judoscale-style (age checked every {}, +1 over {} at most every {}, -1 after {} under {}); HireFire-style (every {}, dynos = (ready + busy) / {})",
            shown(JUDOSCALE_EVERY),
            shown(q.latency),
            shown(JUDOSCALE_UPSCALE_EVERY),
            shown(JUDOSCALE_CALM),
            shown(q.latency / 2),
            shown(HIREFIRE_EVERY),
            round(hirefire_ratio(model, q.latency), 2)
        );
        let _ = writeln!(out);
        let compare_label = self.compare.as_ref().map(|c| c.label());
        // The labels' column: 16 wide, or the compared config's label.
        let w = compare_label
            .as_ref()
            .map_or(16, |l| l.chars().count().max(16));
        let _ = writeln!(
            out,
            "  {:<w$} {:>10} {:>10} {:>22} {:>12} {:>11}",
            "", "dyno-hours", "cost", "late minutes (kept)", "worst wait", "scale calls"
        );
        let mut rows = vec![
            ("autoscaled", &self.autoscaled),
            ("Judoscale-style", &self.judoscale),
            ("HireFire-style", &self.hirefire),
        ];
        if let (Some(label), Some(other)) = (&compare_label, &self.compare) {
            rows.insert(1, (label.as_str(), &other.report.autoscaled));
        }
        for (label, f) in rows {
            let _ = writeln!(
                out,
                "  {label:<w$} {:>10.2} {:>10} {:>22} {:>12} {:>11}",
                f.dyno_hours,
                format!("${:.2}", f.cost),
                format!("{} ({:.2}%)", f.late_minutes, f.kept_percent),
                format!("{:.1}s", f.worst_latency_seconds),
                f.scale_calls
            );
        }
        let _ = writeln!(
            out,
            "  {:<w$} {:>10.2} {:>10}   (the fewest dynos that hold each row's jobs, no boot delay)",
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
            ratio(self.judoscale.dyno_hours),
            ratio(self.hirefire.dyno_hours),
            self.autoscaled.kept_percent
        );
        if let (Some(label), Some(other)) = (&compare_label, &self.compare) {
            let _ = writeln!(
                out,
                "  {label}: {:.2}x its clairvoyant's dyno-hours ({:.2}); the target kept in {:.2}% of minutes",
                if other.report.clairvoyant_dyno_hours > 0.0 {
                    other.report.autoscaled.dyno_hours / other.report.clairvoyant_dyno_hours
                } else {
                    0.0
                },
                other.report.clairvoyant_dyno_hours,
                other.report.autoscaled.kept_percent
            );
        }
        if let Some(days) = &self.days {
            self.render_days(&mut out, days);
        }
        out
    }

    /// The `--daily` table: each way's dyno-hours and late minutes, day by day.
    fn render_days(&self, out: &mut String, days: &[QueueDay]) {
        let compared = self.compare.as_ref().and_then(|c| c.report.days.as_ref());
        let _ = writeln!(out);
        let _ = write!(
            out,
            "  {:<10} {:>10} | {:>18} {:>5} {:>5} | {:>17} {:>5} | {:>16} {:>5} | {:>7}",
            "day",
            "jobs",
            "autoscaled: dyno-h",
            "late",
            "calls",
            "Judoscale: dyno-h",
            "late",
            "HireFire: dyno-h",
            "late",
            "clairv."
        );
        if compared.is_some() {
            let _ = write!(out, " | {:>15} {:>5}", "compare: dyno-h", "late");
        }
        let _ = writeln!(out);
        for (i, day) in days.iter().enumerate() {
            let _ = write!(
                out,
                "  {:<10} {:>10} | {:>18.1} {:>5} {:>5} | {:>17.1} {:>5} | {:>16.1} {:>5} | {:>7.1}",
                day.date,
                day.jobs,
                day.autoscaled.dyno_hours,
                day.autoscaled.late_minutes,
                day.autoscaled.scale_calls,
                day.judoscale.dyno_hours,
                day.judoscale.late_minutes,
                day.hirefire.dyno_hours,
                day.hirefire.late_minutes,
                day.clairvoyant_dyno_hours
            );
            if let Some(theirs) = compared.and_then(|days| days.get(i)) {
                let _ = write!(
                    out,
                    " | {:>15.1} {:>5}",
                    theirs.autoscaled.dyno_hours, theirs.autoscaled.late_minutes
                );
            }
            let _ = writeln!(out);
        }
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
