//! The picture of replays small enough to check by eye, and a month's, checked for size and peaks.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::tests::{app, minutes, model, probe};
use crate::{Comparison, simulate};

const MINUTE: i64 = 60_000_000_000;

/// The `d` of the path drawn for `series`.
fn path<'a>(svg: &'a str, series: &str) -> &'a str {
    let tag = format!(r#"data-series="{series}" d=""#);
    let at = svg
        .find(&tag)
        .unwrap_or_else(|| panic!("no {series} in the picture"));
    let rest = &svg[at + tag.len()..];
    &rest[..rest.find('"').unwrap()]
}

/// The y coordinates a path visits (the second of `M`, every `V`).
fn ys(d: &str) -> Vec<f64> {
    let mut ys = Vec::new();
    let mut command = ' ';
    let mut number = String::new();
    let flush = |command: char, number: &mut String, ys: &mut Vec<f64>| {
        if command == 'V' || command == ',' {
            ys.push(number.parse().unwrap());
        }
        number.clear();
    };
    for c in d.chars() {
        if c.is_ascii_digit() || c == '.' || c == '-' {
            number.push(c);
        } else {
            flush(command, &mut number, &mut ys);
            command = c;
        }
    }
    flush(command, &mut number, &mut ys);
    ys
}

/// A burst at 2/s for 10 minutes in an hour at 0.5/s, on one dyno of 1 request a second that
/// probes say is slow at 500 ms: the fail-safe scales out during the burst.
fn burst() -> (crate::SimulatedApp, crate::Trace, crate::Model) {
    let mut rows = vec![30; 20];
    rows.extend([120; 10]);
    rows.extend([30; 30]);
    let app = app(json!({ "min": 1, "max": 4, "probe": probe() }));
    let model = model(&app, 1.0, Duration::from_secs(30));
    (app, minutes(&rows), model)
}

#[test]
fn the_picture_names_every_series_and_carries_the_totals() {
    let (app, trace, model) = burst();
    let report = simulate(&app, &trace, &model, false);
    let svg = draw(&report);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.ends_with("</svg>\n"));
    for series in [
        "load",
        "capacity",
        "autoscaled",
        "clairvoyant",
        "schedule-only",
    ] {
        assert!(!path(&svg, series).is_empty(), "{series} is drawn");
    }
    assert!(
        !svg.contains("data-series=\"compare\""),
        "nothing to compare"
    );
    assert!(!svg.contains("<script"), "no script");
    assert!(
        !svg.contains("http://") || svg.matches("http://").count() == 1,
        "no link"
    );
    assert!(
        svg.contains(&format!(
            "autoscaled {:.1} dyno-hours",
            report.autoscaled.dyno_hours
        )),
        "the title's totals are the report's"
    );
    assert!(report.autoscaled.scale_calls > 0);
    assert!(
        svg.contains(r#"<polygon class="up""#),
        "the scale-out is marked"
    );
    assert!(
        svg.contains(r#"<rect class="overloaded""#),
        "the burst's overloaded minutes are shaded"
    );
    assert!(svg.contains("Fri 27 Nov 2026 00:00 to Fri 27 Nov 2026 01:00 (UTC)"));
}

#[test]
fn a_second_config_draws_a_second_dyno_line_and_names_its_file() {
    let (app, trace, model) = burst();
    let mut report = simulate(&app, &trace, &model, false);
    let mut other = app.clone();
    other.policy.max = 2;
    report.compare = Some(Box::new(Comparison {
        config: "configs/max-2 <& co>.toml".into(),
        report: simulate(&other, &trace, &model, false),
    }));
    let svg = draw(&report);
    assert_ne!(path(&svg, "compare"), path(&svg, "autoscaled"));
    assert!(svg.contains("with max-2 &lt;&amp; co&gt;.toml"), "escaped");
    let text = report.render(&app, &model);
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("with max-2 <& co>.toml")),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert_eq!(json["compare"]["config"], "configs/max-2 <& co>.toml");
    assert!(json["compare"].get("days").is_none(), "not asked for");
    assert_eq!(
        json["compare"]["dyno_hours"],
        report
            .compare
            .as_ref()
            .unwrap()
            .report
            .autoscaled
            .dyno_hours
    );
}

#[test]
fn thinning_keeps_a_one_minute_peak_and_trough_in_a_month() {
    let rows = 30 * 24 * 60;
    let frame = Frame {
        step: MINUTE,
        span: (rows as i64 * MINUTE) as f64,
        rows,
    };
    let plot = Plot {
        top: 100.0,
        scale: Scale {
            top: 10.0,
            step: 5.0,
        },
    };
    let mut values = vec![5.0; rows];
    values[20_001] = 10.0;
    values[30_002] = 0.0;
    let mut out = String::new();
    series(&mut out, &frame, &plot, "load", &values);
    let d = path(&out, "load");
    let ys = ys(d);
    assert!(ys.contains(&100.0), "the peak reaches the top: {d}");
    assert!(
        ys.contains(&(100.0 + PLOT)),
        "the trough reaches the bottom"
    );
    assert!(d.len() < 200, "a flat month is a few commands: {d}");
}

#[test]
fn a_month_of_minutes_draws_under_a_megabyte() {
    // A daily cycle with a burst a day: the line moves in every pixel column.
    let rows: Vec<u64> = (0..30 * 24 * 60)
        .map(|i: u64| {
            let day = (i % 1440) as f64 / 1440.0;
            let cycle = 600.0 + 500.0 * (day * std::f64::consts::TAU).sin();
            let burst = if i % 1440 == 900 { 4000.0 } else { 0.0 };
            (cycle + burst + (i * 7919 % 97) as f64) as u64
        })
        .collect();
    let app = app(json!({ "min": 1, "max": 10, "probe": probe() }));
    let model = model(&app, 5.0, Duration::from_secs(30));
    let report = simulate(&app, &minutes(&rows), &model, false);
    let svg = draw(&report);
    assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
    let peak = ys(path(&svg, "load")).into_iter().fold(f64::MAX, f64::min);
    let top = ys(path(&svg, "capacity"))
        .into_iter()
        .fold(f64::MAX, f64::min);
    assert!(
        peak < top,
        "the bursts, far above the capacity, are drawn above it"
    );
}

#[test]
fn the_time_axis_reads_round_local_times_across_the_window() {
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
    let blank = app(json!({}));
    let mut timeline = simulate(
        &blank,
        &minutes(&[0; 3]),
        &model(&blank, 1.0, Duration::ZERO),
        false,
    )
    .timeline;
    timeline.start = Utc.with_ymd_and_hms(1998, 6, 1, 0, 0, 0).unwrap();
    timeline.timezone = paris;
    timeline.load = vec![0.0; 2 * 24 * 60];
    let ticks = time_ticks(&timeline);
    // 02:00 in Paris at the start: every 6 hours from 06:00, midnights named.
    assert_eq!(ticks[0], (4 * 60 * MINUTE, "06:00".to_owned()));
    assert!(ticks.contains(&(22 * 60 * MINUTE, "Tue 2 Jun".to_owned())));
    assert_eq!(ticks.len(), 8);
    // Forty minutes: every 5.
    timeline.load = vec![0.0; 40];
    let ticks = time_ticks(&timeline);
    assert_eq!(ticks[1], (5 * MINUTE, "02:05".to_owned()));
}

#[test]
fn coordinates_are_written_short() {
    assert_eq!(Tenths(1234).to_string(), "123.4");
    assert_eq!(Tenths(1230).to_string(), "123");
    assert_eq!(Tenths(-5).to_string(), "-0.5");
    assert_eq!(count_label(25_000.0), "25k");
    assert_eq!(count_label(2.5), "2.5");
}

#[test]
fn the_daily_table_gets_the_second_configs_column() {
    let (app, trace, model) = burst();
    let mut report = simulate(&app, &trace, &model, true);
    let alone = report.render(&app, &model);
    let mut other = app.clone();
    other.policy.max = 2;
    let theirs = simulate(&other, &trace, &model, true);
    let day = theirs.days.as_ref().unwrap()[0].autoscaled;
    report.compare = Some(Box::new(Comparison {
        config: "max-2.toml".into(),
        report: theirs,
    }));
    let text = report.render(&app, &model);
    assert!(!alone.contains("compare: dyno-h"));
    let header = text.lines().find(|l| l.contains("day ")).unwrap();
    assert!(header.ends_with("| compare: dyno-h overl."), "{header}");
    let row = text
        .lines()
        .find(|l| l.starts_with("  2026-11-27"))
        .unwrap();
    assert!(
        row.ends_with(&format!(
            "| {:>15.1} {:>6.1}",
            day.dyno_hours, day.overloaded_minutes
        )),
        "{row}"
    );
}
