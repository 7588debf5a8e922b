//! The queue mode's picture (`simulate --svg` for a worker with `[apps.queue]`): the jobs arriving
//! and what the rules' serving dynos work off, the oldest job's age against the target, and the
//! dynos of the rules, the clairvoyant and the two comparison rules; the late minutes shaded.
//! Drawn with the web picture's pieces, in its palette.

use super::{Canvas, DynoLine, Key, Scale, Subject, count_label, rules_lines};
use crate::queue::{JobFigures, QueueReport};

/// The comparison rules' lines and the age's, beside the web picture's classes.
const QUEUE_STYLE: &str = ".judoscale{stroke:#d97706;stroke-width:1.5}.hirefire{stroke:#0891b2;stroke-width:1.5}\n.age{stroke:#111827;stroke-width:1.5}.target{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:6 4}";

/// Draws the queue replay `report` (and its [`compare`](QueueReport::compare), as a second dyno
/// line) as one SVG document, row by row from its [`timeline`](QueueReport::timeline).
pub fn draw_queue(report: &QueueReport) -> String {
    let queue = &report.timeline;
    let timeline = &queue.rows;
    let subject = Subject {
        kind: "autoscaled simulate, queue mode",
        app: &report.app,
        process: &report.process,
        from: &report.from,
        to: &report.to,
        timezone: timeline.timezone,
        arrivals: "jobs",
        count: report.jobs,
        peak: report.peak_jobs_per_second,
    };
    let (mut canvas, [jobs_top, age_top, dynos_top]) =
        Canvas::open(&subject, timeline, Some(QUEUE_STYLE), &totals(report));
    canvas.arrivals_plot(
        jobs_top,
        "Jobs a second",
        &[
            Key::Line("load", "jobs arriving"),
            Key::Line("capacity", "jobs autoscaled's serving dynos work off"),
            Key::Band("overloaded", "late (the oldest job over the target)"),
        ],
    );

    // The oldest job's age, against the target.
    let most = queue.oldest.iter().copied().fold(queue.target, f64::max);
    // Up to three targets: a longer wait is off the scale, the band says it was late.
    let scale = Scale::nice(most.min(3.0 * queue.target) * 1.05, 4.0);
    let plot = canvas.plot(
        age_top,
        "Oldest waiting job's age, seconds (autoscaled)",
        scale,
        count_label,
    );
    canvas.series(&plot, "target", &vec![queue.target; queue.oldest.len()]);
    canvas.series(&plot, "age", &queue.oldest);
    canvas.legend(
        &plot,
        &[
            Key::Line("age", "the oldest job's greatest age in the row"),
            Key::Line("target", "latency target"),
        ],
    );

    let compare = report
        .compare
        .as_deref()
        .map(|c| (c.label(), &c.report.timeline.rows));
    let mut lines = rules_lines(timeline, compare);
    lines.extend([
        DynoLine::whole("clairvoyant", "clairvoyant", &timeline.clairvoyant),
        DynoLine::whole("judoscale", "Judoscale-style", &queue.judoscale),
        DynoLine::whole("hirefire", "HireFire-style", &queue.hirefire),
    ]);
    canvas.dynos_plot(dynos_top, &lines);
    canvas.finish()
}

/// The totals under the title: autoscaled's, the compared config's, the comparison rules'.
fn totals(report: &QueueReport) -> Vec<String> {
    let mut lines = vec![figures("autoscaled", &report.autoscaled)];
    if let Some(other) = &report.compare {
        lines.push(figures(&other.label(), &other.report.autoscaled));
    }
    lines.push(figures("Judoscale-style", &report.judoscale));
    lines.push(format!(
        "{} · clairvoyant {:.1} dyno-hours",
        figures("HireFire-style", &report.hirefire),
        report.clairvoyant_dyno_hours
    ));
    lines
}

fn figures(label: &str, f: &JobFigures) -> String {
    format!(
        "{label} {:.1} dyno-hours (${:.2}), {} late minutes ({:.2}% kept)",
        f.dyno_hours, f.cost, f.late_minutes, f.kept_percent
    )
}
