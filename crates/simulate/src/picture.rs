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
use chrono_tz::Tz;

use super::report::{Figures, Report};
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
    let subject = Subject {
        kind: "autoscaled simulate",
        app: &report.app,
        process: &report.process,
        from: &report.from,
        to: &report.to,
        timezone: timeline.timezone,
        arrivals: "requests",
        count: report.requests,
        peak: report.peak_requests_per_second,
    };
    let (mut canvas, [load_top, dynos_top]) =
        Canvas::open(&subject, timeline, None, &totals(report));
    canvas.arrivals_plot(
        load_top,
        "Requests a second",
        &[
            Key::Line("load", "load"),
            Key::Line("capacity", "capacity of autoscaled's serving dynos"),
            Key::Band("slow", "slow (probe at slow or above)"),
            Key::Band("overloaded", "overloaded (ρ > 1)"),
        ],
    );
    let compare = report
        .compare
        .as_deref()
        .map(|c| (c.label(), &c.report.timeline));
    let mut lines = rules_lines(timeline, compare);
    lines.extend([
        DynoLine::whole("clairvoyant", "clairvoyant", &timeline.clairvoyant),
        DynoLine::running("schedule-only", "schedule alone", &timeline.schedule_only),
    ]);
    canvas.dynos_plot(dynos_top, &lines);
    canvas.finish()
}

/// The totals under the title: autoscaled's, the compared config's, and the other ways'.
fn totals(report: &Report) -> Vec<String> {
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
    lines
}

fn figures(label: &str, f: &Figures) -> String {
    format!(
        "{label} {:.1} dyno-hours (${:.2}), {:.1} min overloaded, {:.1} min slow, {} scale calls",
        f.dyno_hours, f.cost, f.overloaded_minutes, f.slow_minutes, f.scale_calls
    )
}

/// What a picture is of, as its label, its title and its title line name it.
#[derive(Debug)]
struct Subject<'a> {
    /// The command and its mode.
    kind: &'a str,
    app: &'a str,
    process: &'a str,
    /// The window, in RFC 3339 (as the report has it).
    from: &'a str,
    to: &'a str,
    /// The app's time zone, the title's clock.
    timezone: Tz,
    /// What arrives (`requests`, `jobs`), how many did, and the most a second.
    arrivals: &'a str,
    count: u64,
    peak: f64,
}

/// A picture being drawn, web or queue mode alike: the document so far, and the replay's rows it
/// is drawn from (every plot shades the same rows and reads the same time axis).
#[derive(Debug)]
struct Canvas<'a> {
    out: String,
    frame: Frame,
    timeline: &'a Timeline,
}

impl<'a> Canvas<'a> {
    /// Opens the document with room for `PLOTS` plots stacked under the title and its `totals`
    /// (a line each), and returns it with the top of each plot. `style` adds classes to the
    /// page's.
    fn open<const PLOTS: usize>(
        subject: &Subject<'_>,
        timeline: &'a Timeline,
        style: Option<&str>,
        totals: &[String],
    ) -> (Canvas<'a>, [f64; PLOTS]) {
        // Each plot is its caption, the plot, its time labels and its legend.
        const SECTION: f64 = PLOT + 78.0;
        let header = 48.0 + 18.0 * totals.len() as f64;
        let tops: [f64; PLOTS] = std::array::from_fn(|i| header + 8.0 + SECTION * i as f64);
        let height = header + 8.0 + SECTION * PLOTS as f64;
        let mut out = String::with_capacity(256 * 1024);
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}: {}">"#,
            subject.kind,
            escape(subject.app)
        );
        let _ = write!(
            out,
            "<title>{}: {} {}, {} to {}</title><style>{STYLE}",
            subject.kind,
            escape(subject.app),
            escape(subject.process),
            subject.from,
            subject.to
        );
        if let Some(style) = style {
            let _ = write!(out, "\n{style}");
        }
        let _ = write!(
            out,
            r#"</style><rect class="bg" width="{WIDTH}" height="{height}"/><rect class="card" x="6.5" y="6.5" width="{}" height="{}" rx="8"/>"#,
            WIDTH - 13.0,
            height - 13.0
        );
        title(&mut out, subject, totals);
        let canvas = Canvas {
            out,
            frame: Frame::new(timeline),
            timeline,
        };
        (canvas, tops)
    }

    /// Starts a plot whose caption stands at `top`: the caption, the shaded rows under
    /// everything, the grid with the values' labels (`label`) and the time labels.
    fn plot(&mut self, top: f64, text: &str, scale: Scale, label: impl Fn(f64) -> String) -> Plot {
        caption(&mut self.out, top + 14.0, text);
        let plot = Plot {
            top: top + 24.0,
            scale,
        };
        bands(&mut self.out, &self.frame, &plot, &self.timeline.autoscaled);
        axes(&mut self.out, &self.frame, &plot, self.timeline, label);
        plot
    }

    fn series(&mut self, plot: &Plot, name: &str, values: &[f64]) {
        series(&mut self.out, &self.frame, plot, name, values);
    }

    fn legend(&mut self, plot: &Plot, keys: &[Key<'_>]) {
        legend(&mut self.out, plot.bottom() + 38.0, keys);
    }

    /// What arrives a second (requests, jobs) and what autoscaled's serving dynos could take.
    fn arrivals_plot(&mut self, top: f64, text: &str, keys: &[Key<'_>]) {
        let capacity: Vec<f64> = self
            .timeline
            .autoscaled
            .iter()
            .map(|row| f64::from(row.serving) * self.timeline.capacity)
            .collect();
        let peak = self
            .timeline
            .load
            .iter()
            .chain(&capacity)
            .copied()
            .fold(0.0, f64::max);
        let plot = self.plot(top, text, Scale::nice(peak * 1.05, 4.0), count_label);
        self.series(&plot, "load", &self.timeline.load);
        self.series(&plot, "capacity", &capacity);
        self.legend(&plot, keys);
    }

    /// The dynos of each way of running the app, `lines` in the legend's order: the first is
    /// drawn last, on top of the others, and the scale events are marked above them.
    fn dynos_plot(&mut self, top: f64, lines: &[DynoLine]) {
        let most = lines
            .iter()
            .flat_map(|line| line.dynos.iter().copied())
            .fold(0.0, f64::max);
        let plot = self.plot(top, "Dynos", whole_dynos(most), |v| format!("{v:.0}"));
        for line in lines.iter().rev() {
            self.series(&plot, line.class, &line.dynos);
        }
        markers(&mut self.out, &self.frame, &plot, self.timeline);
        let mut keys: Vec<Key<'_>> = lines
            .iter()
            .map(|line| Key::Line(line.class, &line.label))
            .collect();
        keys.push(Key::Marker);
        self.legend(&plot, &keys);
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// The title line and the `totals` under it.
fn title(out: &mut String, subject: &Subject<'_>, totals: &[String]) {
    let tz = subject.timezone;
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
        r#"<text class="title" x="20" y="32">{} {} · {} to {} ({}) · {} {}, peak {:.1}/s</text>"#,
        escape(subject.app),
        escape(subject.process),
        local(subject.from),
        local(subject.to),
        escape(tz.name()),
        subject.count,
        subject.arrivals,
        subject.peak
    );
    for (i, line) in totals.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text class="totals" x="20" y="{}">{}</text>"#,
            54 + 18 * i,
            escape(line)
        );
    }
}

fn caption(out: &mut String, y: f64, text: &str) {
    let _ = write!(out, r#"<text class="caption" x="20" y="{y}">{text}</text>"#);
}

/// One way's dynos in the dyno plot: its class (the line's style), its legend, a value a row.
#[derive(Debug)]
struct DynoLine {
    class: &'static str,
    label: String,
    dynos: Vec<f64>,
}

impl DynoLine {
    /// The dynos running (booting included) in each of `rows`.
    fn running(class: &'static str, label: impl Into<String>, rows: &[RowDynos]) -> DynoLine {
        DynoLine {
            class,
            label: label.into(),
            dynos: rows.iter().map(|r| f64::from(r.running)).collect(),
        }
    }

    /// A count of dynos a row (the clairvoyant's, a comparison rule's).
    fn whole(class: &'static str, label: impl Into<String>, dynos: &[u32]) -> DynoLine {
        DynoLine {
            class,
            label: label.into(),
            dynos: dynos.iter().map(|&n| f64::from(n)).collect(),
        }
    }
}

/// The lines of the rules themselves, first in the legend: autoscaled's, and the compared config's
/// (its label, its replay) when there is one.
fn rules_lines(timeline: &Timeline, compare: Option<(String, &Timeline)>) -> Vec<DynoLine> {
    let mut lines = vec![DynoLine::running(
        "autoscaled",
        "autoscaled",
        &timeline.autoscaled,
    )];
    if let Some((label, theirs)) = compare {
        lines.push(DynoLine::running("compare", label, &theirs.autoscaled));
    }
    lines
}

/// The dyno plot's scale: whole dynos, and room above the most for the markers.
fn whole_dynos(most: f64) -> Scale {
    let mut scale = Scale::nice(most + 1.0, (most + 1.0).min(5.0));
    scale.step = scale.step.round().max(1.0);
    scale.top = ((most + 1.0) / scale.step).ceil() * scale.step;
    scale
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
