//! The queue mode's picture (`simulate --svg` for a worker with `[apps.queue]`): the jobs arriving
//! and what the rules' serving dynos work off, the oldest job's age against the target, and the
//! dynos of the rules, the clairvoyant and the two comparison rules; the late minutes shaded.
//! Drawn with the web picture's pieces, in its palette.

use std::fmt::Write;

use chrono::DateTime;

use super::{
    Frame, Key, PLOT, Plot, STYLE, Scale, WIDTH, axes, bands, caption, count_label, escape, legend,
    markers, series,
};
use crate::queue::{JobFigures, QueueReport};

/// The comparison rules' lines and the age's, beside the web picture's classes.
const QUEUE_STYLE: &str = ".judoscale{stroke:#d97706;stroke-width:1.5}.hirefire{stroke:#0891b2;stroke-width:1.5}\n.age{stroke:#111827;stroke-width:1.5}.target{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:6 4}";

/// Draws the queue replay `report` (and its [`compare`](QueueReport::compare), as a second dyno
/// line) as one SVG document, row by row from its [`timeline`](QueueReport::timeline).
pub fn draw_queue(report: &QueueReport) -> String {
    let queue = &report.timeline;
    let timeline = &queue.rows;
    let compare = report.compare.as_deref();
    let frame = Frame::new(timeline);
    let mut out = String::with_capacity(256 * 1024);

    let header = if compare.is_some() { 120.0 } else { 102.0 };
    let jobs_top = header + 8.0;
    let age_top = jobs_top + PLOT + 78.0;
    let dynos_top = age_top + PLOT + 78.0;
    let height = dynos_top + PLOT + 78.0;
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="autoscaled simulate, queue mode: {}">"#,
        escape(&report.app)
    );
    let _ = write!(
        out,
        "<title>autoscaled simulate, queue mode: {} {}, {} to {}</title><style>{STYLE}\n{QUEUE_STYLE}</style>",
        escape(&report.app),
        escape(&report.process),
        report.from,
        report.to
    );
    let _ = write!(
        out,
        r#"<rect class="bg" width="{WIDTH}" height="{height}"/><rect class="card" x="6.5" y="6.5" width="{}" height="{}" rx="8"/>"#,
        WIDTH - 13.0,
        height - 13.0
    );
    title(&mut out, report);

    // Jobs a second, and what the rules' serving dynos work off.
    let throughput: Vec<f64> = timeline
        .autoscaled
        .iter()
        .map(|row| f64::from(row.serving) * timeline.capacity)
        .collect();
    let peak = timeline
        .load
        .iter()
        .chain(&throughput)
        .copied()
        .fold(0.0, f64::max);
    let plot = Plot {
        top: jobs_top + 24.0,
        scale: Scale::nice(peak * 1.05, 4.0),
    };
    caption(&mut out, jobs_top + 14.0, "Jobs a second");
    bands(&mut out, &frame, &plot, &timeline.autoscaled);
    axes(&mut out, &frame, &plot, timeline, count_label);
    series(&mut out, &frame, &plot, "load", &timeline.load);
    series(&mut out, &frame, &plot, "capacity", &throughput);
    legend(
        &mut out,
        plot.bottom() + 38.0,
        &[
            Key::Line("load", "jobs arriving"),
            Key::Line("capacity", "jobs autoscaled's serving dynos work off"),
            Key::Band("overloaded", "late (the oldest job over the target)"),
        ],
    );

    // The oldest job's age, against the target.
    let most = queue.oldest.iter().copied().fold(queue.target, f64::max);
    // Up to three targets: a longer wait is off the scale, the band says it was late.
    let plot = Plot {
        top: age_top + 24.0,
        scale: Scale::nice(most.min(3.0 * queue.target) * 1.05, 4.0),
    };
    caption(
        &mut out,
        age_top + 14.0,
        "Oldest waiting job's age, seconds (autoscaled)",
    );
    bands(&mut out, &frame, &plot, &timeline.autoscaled);
    axes(&mut out, &frame, &plot, timeline, count_label);
    series(
        &mut out,
        &frame,
        &plot,
        "target",
        &vec![queue.target; queue.oldest.len()],
    );
    series(&mut out, &frame, &plot, "age", &queue.oldest);
    legend(
        &mut out,
        plot.bottom() + 38.0,
        &[
            Key::Line("age", "the oldest job's greatest age in the row"),
            Key::Line("target", "latency target"),
        ],
    );

    // Dynos, each way.
    let whole = |values: &[u32]| values.iter().map(|&n| f64::from(n)).collect::<Vec<_>>();
    let autoscaled: Vec<f64> = timeline
        .autoscaled
        .iter()
        .map(|r| f64::from(r.running))
        .collect();
    let clairvoyant = whole(&timeline.clairvoyant);
    let judoscale = whole(&queue.judoscale);
    let hirefire = whole(&queue.hirefire);
    let compared: Option<Vec<f64>> = compare.map(|c| {
        c.report
            .timeline
            .rows
            .autoscaled
            .iter()
            .map(|r| f64::from(r.running))
            .collect()
    });
    let most = [&autoscaled, &clairvoyant, &judoscale, &hirefire]
        .into_iter()
        .chain(compared.as_ref())
        .flat_map(|values| values.iter().copied())
        .fold(0.0, f64::max);
    let mut scale = Scale::nice(most + 1.0, (most + 1.0).min(5.0));
    scale.step = scale.step.round().max(1.0);
    scale.top = ((most + 1.0) / scale.step).ceil() * scale.step;
    let plot = Plot {
        top: dynos_top + 24.0,
        scale,
    };
    caption(&mut out, dynos_top + 14.0, "Dynos");
    bands(&mut out, &frame, &plot, &timeline.autoscaled);
    axes(&mut out, &frame, &plot, timeline, |v| format!("{v:.0}"));
    series(&mut out, &frame, &plot, "hirefire", &hirefire);
    series(&mut out, &frame, &plot, "judoscale", &judoscale);
    series(&mut out, &frame, &plot, "clairvoyant", &clairvoyant);
    if let Some(values) = &compared {
        series(&mut out, &frame, &plot, "compare", values);
    }
    series(&mut out, &frame, &plot, "autoscaled", &autoscaled);
    markers(&mut out, &frame, &plot, timeline);
    let compare_label = compare.map(|c| c.label());
    let mut keys = vec![Key::Line("autoscaled", "autoscaled")];
    if let Some(label) = &compare_label {
        keys.push(Key::Line("compare", label));
    }
    keys.extend([
        Key::Line("clairvoyant", "clairvoyant"),
        Key::Line("judoscale", "Judoscale-style"),
        Key::Line("hirefire", "HireFire-style"),
        Key::Marker,
    ]);
    legend(&mut out, plot.bottom() + 38.0, &keys);
    out.push_str("</svg>\n");
    out
}

/// The title line and the table's totals under it.
fn title(out: &mut String, report: &QueueReport) {
    let tz = report.timeline.rows.timezone;
    let local = |t: &str| {
        DateTime::parse_from_rfc3339(t).map_or_else(
            |_| t.to_owned(),
            |t| {
                t.with_timezone(&tz)
                    .format("%a %-d %b %Y %H:%M")
                    .to_string()
            },
        )
    };
    let _ = write!(
        out,
        r#"<text class="title" x="20" y="32">{} {} · {} to {} ({}) · {} jobs, peak {:.1}/s</text>"#,
        escape(&report.app),
        escape(&report.process),
        local(&report.from),
        local(&report.to),
        escape(tz.name()),
        report.jobs,
        report.peak_jobs_per_second
    );
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
    for (i, line) in lines.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text class="totals" x="20" y="{}">{}</text>"#,
            54 + 18 * i,
            escape(line)
        );
    }
}

fn figures(label: &str, f: &JobFigures) -> String {
    format!(
        "{label} {:.1} dyno-hours (${:.2}), {} late minutes ({:.2}% kept)",
        f.dyno_hours, f.cost, f.late_minutes, f.kept_percent
    )
}
