//! The replay as one self-contained SVG (`simulate --svg`): the load and the capacity it met above,
//! the dynos of each way of running the app below, overloaded and slow minutes shaded, the scale
//! events marked, and the report's totals in the title.
//!
//! Hand-written SVG rather than a plotting crate. The status page draws its charts in the browser
//! (crates/status/src/server/page.js), so there is no server-side renderer to share; this module
//! writes the same few elements the page does (step lines, dashed baselines, red bands, ▲▼
//! markers) in the page's colours and fonts. `plotters` with its SVG backend would add a
//! dependency whose text layout wants fonts (without `ttf` it estimates them), whose styles are
//! inline per element, and which writes every point it is given: the thinning that keeps a month
//! under 1 MB with every peak (min and max per pixel column) would be ours anyway, and it is most
//! of the work. No script and no link: the file shows the same offline, in a browser or a doc.

use std::fmt::Write;

use chrono::{DateTime, Datelike, Timelike};

use super::report::{Comparison, Figures, Report};
use super::timeline::{RowDynos, Timeline};

mod queue;
pub use queue::draw_queue;

/// The picture's width, in SVG units (pixels at 100%).
const WIDTH: f64 = 1200.0;
/// Room for the value axis' labels, left of the plots.
const LEFT: f64 = 64.0;
/// Room right of the plots.
const RIGHT: f64 = 20.0;
/// Each plot's height.
const PLOT: f64 = 210.0;
/// Markers of scale events closer than this (in SVG units) are drawn as one.
const MARKER_SPACING: f64 = 6.0;

/// The page's palette and type (crates/status/src/server/page.html), as classes.
const STYLE: &str = r#"svg{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.bg{fill:#f6f7f9}.card{fill:#fff;stroke:#e4e7ec}
.title{font-size:16px;font-weight:600;fill:#1d2430}.totals{font-size:12px;fill:#667085}
.caption{font-size:13px;font-weight:600;fill:#1d2430}.axis,.legend{font-size:11px;fill:#667085}
.grid{stroke:#e4e7ec}.s{fill:none;stroke-linejoin:round}
.load{stroke:#2563eb;stroke-width:1.5}.capacity{stroke:#111827;stroke-width:1.5}
.autoscaled{stroke:#111827;stroke-width:2}.compare{stroke:#7c3aed;stroke-width:2}
.clairvoyant{stroke:#16a34a;stroke-width:1.5;stroke-dasharray:3 3}
.schedule-only{stroke:#98a2b3;stroke-width:1.5;stroke-dasharray:6 4}
.overloaded{fill:#dc2626;opacity:.18}.slow{fill:#ea580c;opacity:.12}
.up{fill:#ea580c}.down{fill:#2563eb}"#;

/// Draws `report` (and its [`compare`](Report::compare), as a second dyno line) as one SVG
/// document, row by row from its [`Timeline`], over the window the report covers.
pub fn draw(report: &Report) -> String {
    let timeline = &report.timeline;
    let compare = report.compare.as_deref();
    let frame = Frame::new(timeline);
    let mut out = String::with_capacity(256 * 1024);

    let header = if compare.is_some() { 102.0 } else { 84.0 };
    let load_top = header + 8.0;
    let dynos_top = load_top + PLOT + 78.0;
    let height = dynos_top + PLOT + 78.0;
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="autoscaled simulate: {}">"#,
        escape(&report.app)
    );
    let _ = write!(
        out,
        "<title>autoscaled simulate: {} {}, {} to {}</title><style>{STYLE}</style>",
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
    title(&mut out, report, timeline);

    // Requests a second, and what autoscaled's serving dynos could serve.
    let capacity = |row: &RowDynos| f64::from(row.serving) * timeline.capacity;
    let peak = timeline
        .load
        .iter()
        .copied()
        .chain(timeline.autoscaled.iter().map(capacity))
        .fold(0.0, f64::max);
    let scale = Scale::nice(peak * 1.05, 4.0);
    let plot = Plot {
        top: load_top + 24.0,
        scale,
    };
    caption(&mut out, load_top + 14.0, "Requests a second");
    bands(&mut out, &frame, &plot, &timeline.autoscaled);
    axes(&mut out, &frame, &plot, timeline, count_label);
    let capacities: Vec<f64> = timeline.autoscaled.iter().map(capacity).collect();
    series(&mut out, &frame, &plot, "load", &timeline.load);
    series(&mut out, &frame, &plot, "capacity", &capacities);
    legend(
        &mut out,
        plot.bottom() + 38.0,
        &[
            Key::Line("load", "load"),
            Key::Line("capacity", "capacity of autoscaled's serving dynos"),
            Key::Band("slow", "slow (probe at slow or above)"),
            Key::Band("overloaded", "overloaded (ρ > 1)"),
        ],
    );

    // Dynos, each way.
    let running = |rows: &[RowDynos]| rows.iter().map(|r| f64::from(r.running)).collect();
    let autoscaled: Vec<f64> = running(&timeline.autoscaled);
    let schedule_only: Vec<f64> = running(&timeline.schedule_only);
    let clairvoyant: Vec<f64> = timeline.clairvoyant.iter().map(|&n| f64::from(n)).collect();
    let compared: Option<Vec<f64>> = compare.map(|c| running(&c.report.timeline.autoscaled));
    let most = [&autoscaled, &schedule_only, &clairvoyant]
        .into_iter()
        .chain(compared.as_ref())
        .flat_map(|values| values.iter().copied())
        .fold(0.0, f64::max);
    // Whole dynos, and room above the most for the markers.
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
    series(&mut out, &frame, &plot, "schedule-only", &schedule_only);
    series(&mut out, &frame, &plot, "clairvoyant", &clairvoyant);
    if let Some(values) = &compared {
        series(&mut out, &frame, &plot, "compare", values);
    }
    series(&mut out, &frame, &plot, "autoscaled", &autoscaled);
    markers(&mut out, &frame, &plot, timeline);
    let compare_label = compare.map(Comparison::label);
    let mut keys = vec![Key::Line("autoscaled", "autoscaled")];
    if let Some(label) = &compare_label {
        keys.push(Key::Line("compare", label));
    }
    keys.extend([
        Key::Line("clairvoyant", "clairvoyant"),
        Key::Line("schedule-only", "schedule alone"),
        Key::Marker,
    ]);
    legend(&mut out, plot.bottom() + 38.0, &keys);
    out.push_str("</svg>\n");
    out
}

/// The title line and the table's totals under it.
fn title(out: &mut String, report: &Report, timeline: &Timeline) {
    let tz = timeline.timezone;
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
        r#"<text class="title" x="20" y="32">{} {} · {} to {} ({}) · {} requests, peak {:.1}/s</text>"#,
        escape(&report.app),
        escape(&report.process),
        local(&report.from),
        local(&report.to),
        escape(tz.name()),
        report.requests,
        report.peak_requests_per_second
    );
    let mut lines = vec![figures("autoscaled", &report.autoscaled)];
    if let Some(other) = &report.compare {
        lines.push(format!(
            "{} (clairvoyant {:.1} dyno-hours)",
            figures(&other.label(), &other.report.autoscaled),
            other.report.clairvoyant_dyno_hours
        ));
    }
    lines.push(format!(
        "schedule alone {:.1} dyno-hours, {:.1} min overloaded · static at max {:.1} dyno-hours, {:.1} min overloaded · clairvoyant {:.1} dyno-hours",
        report.schedule_only.dyno_hours,
        report.schedule_only.overloaded_minutes,
        report.static_max.dyno_hours,
        report.static_max.overloaded_minutes,
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

fn figures(label: &str, f: &Figures) -> String {
    format!(
        "{label} {:.1} dyno-hours (${:.2}), {:.1} min overloaded, {:.1} min slow, {} scale calls",
        f.dyno_hours, f.cost, f.overloaded_minutes, f.slow_minutes, f.scale_calls
    )
}

fn caption(out: &mut String, y: f64, text: &str) {
    let _ = write!(out, r#"<text class="caption" x="20" y="{y}">{text}</text>"#);
}

/// Where the rows go across: the window from the plots' left edge to their right.
#[derive(Debug)]
struct Frame {
    step: i64,
    span: f64,
    rows: usize,
}

impl Frame {
    fn new(timeline: &Timeline) -> Frame {
        Frame {
            step: timeline.step,
            span: timeline.len_nanos().max(1) as f64,
            rows: timeline.load.len(),
        }
    }

    fn width() -> f64 {
        WIDTH - LEFT - RIGHT
    }

    /// The x of `nanos` from the window's start.
    fn x(&self, nanos: i64) -> f64 {
        LEFT + nanos as f64 / self.span * Frame::width()
    }

    /// The x where row `row` starts.
    fn row_x(&self, row: usize) -> f64 {
        self.x(i64::try_from(row)
            .unwrap_or(i64::MAX)
            .saturating_mul(self.step))
    }

    /// The pixel column row `row` starts in.
    fn column(&self, row: usize) -> i64 {
        self.row_x(row).floor() as i64
    }
}

/// A round upper bound for a value axis and its tick step (the page's `niceScale`).
#[derive(Debug, Clone, Copy)]
struct Scale {
    top: f64,
    step: f64,
}

impl Scale {
    fn nice(max: f64, ticks: f64) -> Scale {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let raw = max / ticks.max(1.0);
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|&s| s >= raw)
            .unwrap_or(raw);
        Scale {
            top: (max / step).ceil() * step,
            step,
        }
    }
}

/// One plot's place down the picture and its value axis.
#[derive(Debug)]
struct Plot {
    top: f64,
    scale: Scale,
}

impl Plot {
    fn bottom(&self) -> f64 {
        self.top + PLOT
    }

    /// The y of `value`, in tenths of a unit (what the picture writes), clamped to the plot.
    fn y(&self, value: f64) -> i64 {
        let share = (value / self.scale.top).clamp(0.0, 1.0);
        let share = if share.is_nan() { 0.0 } else { share };
        tenths(self.top + (1.0 - share) * PLOT)
    }
}

fn tenths(v: f64) -> i64 {
    (v * 10.0).round() as i64
}

/// A coordinate in tenths, written as short as it reads: `1234` as `123.4`, `1230` as `123`.
struct Tenths(i64);

impl std::fmt::Display for Tenths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (sign, v) = if self.0 < 0 {
            ("-", -self.0)
        } else {
            ("", self.0)
        };
        match v % 10 {
            0 => write!(f, "{sign}{}", v / 10),
            d => write!(f, "{sign}{}.{d}", v / 10),
        }
    }
}

/// The grid, the value labels and the time labels of a plot.
fn axes(
    out: &mut String,
    frame: &Frame,
    plot: &Plot,
    timeline: &Timeline,
    label: impl Fn(f64) -> String,
) {
    let (x0, x1) = (LEFT, WIDTH - RIGHT);
    let mut v = 0.0;
    while v <= plot.scale.top + 1e-9 {
        let y = Tenths(plot.y(v));
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x0}" x2="{x1}" y1="{y}" y2="{y}"/><text class="axis" x="{}" y="{y}" dy="4" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            label(v)
        );
        v += plot.scale.step;
    }
    for (at, text) in time_ticks(timeline) {
        let x = frame.x(at);
        // A label at the right edge (the window's end) ends there rather than running off.
        let half = 3.0 * text.chars().count() as f64;
        let anchor = if x + half > WIDTH - 8.0 {
            "end"
        } else {
            "middle"
        };
        let x = Tenths(tenths(x));
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x}" x2="{x}" y1="{}" y2="{}"/><text class="axis" x="{x}" y="{}" text-anchor="{anchor}">{text}</text>"#,
            plot.top,
            plot.bottom(),
            plot.bottom() + 16.0
        );
    }
}

/// The instants (nanoseconds from the window's start) the time axis labels, on round local times
/// about 110 units apart, and their labels.
fn time_ticks(timeline: &Timeline) -> Vec<(i64, String)> {
    const MINUTE: i64 = 60_000_000_000;
    let span = timeline.len_nanos();
    let most = (Frame::width() / 110.0).floor().max(2.0) as i64;
    let minutes = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080]
        .into_iter()
        .find(|&m| span / (m * MINUTE) <= most)
        .unwrap_or(10080);
    // Walk whole minutes (whole hours for a long window) and keep the round local ones.
    let walk = if minutes < 60 { MINUTE } else { 60 * MINUTE };
    let tz = timeline.timezone;
    let first = timeline.start.timestamp_nanos_opt().unwrap_or(0);
    let mut at = (walk - first.rem_euclid(walk)) % walk;
    let mut ticks = Vec::new();
    while at <= span {
        let local = timeline.instant(at).with_timezone(&tz);
        let of_day = i64::from(local.hour() * 60 + local.minute());
        let round = if minutes < 1440 {
            of_day % minutes == 0
        } else if minutes == 10080 {
            of_day == 0 && local.weekday() == chrono::Weekday::Mon
        } else {
            of_day == 0 && i64::from(local.num_days_from_ce()) % (minutes / 1440) == 0
        };
        if round {
            let text = if of_day == 0 {
                local.format("%a %-d %b")
            } else {
                local.format("%H:%M")
            };
            ticks.push((at, text.to_string()));
        }
        at += walk;
    }
    ticks
}

fn count_label(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A step line through one value a row, thinned to what the screen shows: where several rows
/// fall in one pixel column, the column keeps their first, lowest, highest and last values, so
/// every peak and trough stays and the line joins its neighbours as it did.
fn series(out: &mut String, frame: &Frame, plot: &Plot, name: &str, values: &[f64]) {
    let mut d = String::with_capacity(values.len().min(8 * 1024) * 8);
    let mut pen: Option<(i64, i64)> = None;
    let mut to = |d: &mut String, x: i64, y: i64| match pen {
        None => {
            let _ = write!(d, "M{},{}", Tenths(x), Tenths(y));
            pen = Some((x, y));
        }
        Some((_, py)) if py == y => {}
        Some((px, _)) => {
            if px != x {
                let _ = write!(d, "H{}", Tenths(x));
            }
            let _ = write!(d, "V{}", Tenths(y));
            pen = Some((x, y));
        }
    };
    let mut row = 0;
    while row < values.len() {
        let column = frame.column(row);
        let mut last = row;
        let (mut low, mut high) = (values[row], values[row]);
        while last + 1 < values.len() && frame.column(last + 1) == column {
            last += 1;
            low = low.min(values[last]);
            high = high.max(values[last]);
        }
        let x = tenths(frame.row_x(row));
        to(&mut d, x, plot.y(values[row]));
        if last > row {
            to(&mut d, x, plot.y(low));
            to(&mut d, x, plot.y(high));
            to(&mut d, x, plot.y(values[last]));
        }
        row = last + 1;
    }
    if pen.is_some() {
        let _ = write!(d, "H{}", Tenths(tenths(frame.row_x(frame.rows))));
    }
    let _ = write!(
        out,
        r#"<path class="s {name}" data-series="{name}" d="{d}"/>"#
    );
}

/// The shaded stretches: slow rows, then overloaded ones over them; stretches less than a unit
/// apart are one band.
fn bands(out: &mut String, frame: &Frame, plot: &Plot, rows: &[RowDynos]) {
    for (class, of) in [
        ("slow", (|r: &RowDynos| r.slow) as fn(&RowDynos) -> bool),
        ("overloaded", |r: &RowDynos| r.overloaded),
    ] {
        let mut bands: Vec<(f64, f64)> = Vec::new();
        let mut row = 0;
        while row < rows.len() {
            if !of(&rows[row]) {
                row += 1;
                continue;
            }
            let start = row;
            while row < rows.len() && of(&rows[row]) {
                row += 1;
            }
            let (x0, x1) = (frame.row_x(start), frame.row_x(row));
            match bands.last_mut() {
                Some(last) if x0 - last.1 < 1.0 => last.1 = x1,
                _ => bands.push((x0, x1)),
            }
        }
        for (x0, x1) in bands {
            let _ = write!(
                out,
                r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{PLOT}"/>"#,
                Tenths(tenths(x0)),
                plot.top,
                Tenths(tenths((x1 - x0).max(1.0)))
            );
        }
    }
}

/// ▲ for a scale-out, ▼ for a scale-in, along the top of the dyno plot (as on the page); those
/// closer than [`MARKER_SPACING`] are one marker whose title counts them.
fn markers(out: &mut String, frame: &Frame, plot: &Plot, timeline: &Timeline) {
    let y = plot.top + 1.0;
    for up in [true, false] {
        let mut scales = timeline
            .scales
            .iter()
            .filter(|s| (s.to > s.from) == up)
            .peekable();
        while let Some(first) = scales.next() {
            let x = frame.x(first.at);
            let mut more = 0;
            while scales
                .peek()
                .is_some_and(|s| frame.x(s.at) - x < MARKER_SPACING)
            {
                scales.next();
                more += 1;
            }
            let shape = if up {
                format!(
                    "{:.1},{:.1} {:.1},{:.1} {x:.1},{y:.1}",
                    x - 5.0,
                    y + 8.0,
                    x + 5.0,
                    y + 8.0
                )
            } else {
                format!(
                    "{:.1},{y:.1} {:.1},{y:.1} {x:.1},{:.1}",
                    x - 5.0,
                    x + 5.0,
                    y + 8.0
                )
            };
            let when = timeline
                .instant(first.at)
                .with_timezone(&timeline.timezone)
                .format("%a %-d %b %H:%M:%S");
            let others = match more {
                0 => String::new(),
                n => format!(" (and {n} more within {MARKER_SPACING} px)"),
            };
            let _ = write!(
                out,
                r#"<polygon class="{}" points="{shape}"><title>{when} {} → {}: {}{others}</title></polygon>"#,
                if up { "up" } else { "down" },
                first.from,
                first.to,
                escape(&first.reason)
            );
        }
    }
}

/// What the legend shows for one thing drawn.
enum Key<'a> {
    Line(&'a str, &'a str),
    Band(&'a str, &'a str),
    Marker,
}

fn legend(out: &mut String, y: f64, keys: &[Key<'_>]) {
    let mut x = LEFT;
    for key in keys {
        let text = match key {
            Key::Line(class, text) => {
                let _ = write!(out, r#"<path class="s {class}" d="M{x},{} h18"/>"#, y - 4.0);
                *text
            }
            Key::Band(class, text) => {
                let _ = write!(
                    out,
                    r#"<rect class="{class}" x="{x}" y="{}" width="18" height="10" style="opacity:.5"/>"#,
                    y - 9.0
                );
                *text
            }
            Key::Marker => {
                let _ = write!(
                    out,
                    r#"<polygon class="up" points="{},{} {},{} {},{}"/><polygon class="down" points="{},{} {},{} {},{}"/>"#,
                    x,
                    y,
                    x + 8.0,
                    y,
                    x + 4.0,
                    y - 8.0,
                    x + 10.0,
                    y - 8.0,
                    x + 18.0,
                    y - 8.0,
                    x + 14.0,
                    y
                );
                "scale out, scale in"
            }
        };
        let _ = write!(
            out,
            r#"<text class="legend" x="{}" y="{y}">{}</text>"#,
            x + 24.0,
            escape(text)
        );
        // The page's 11 px system font runs about 6 px a character.
        x += 24.0 + 6.0 * text.chars().count() as f64 + 20.0;
    }
}

/// `text` as SVG character data or an attribute's value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
