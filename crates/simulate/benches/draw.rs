//! `cargo bench -p autoscaled-simulate --bench draw`: what `simulate --svg` adds on a month of
//! per-minute rows (goal: under 200 ms, a file under 1 MB).
//!
//! Replays 30 days of the World Cup 1998 trace (1 June to 1 July 1998: 43,200 rows, 30 s probes)
//! with the probe rules of `docs/simulate/worldcup98.toml` at 400 requests/s a dyno, as
//! `bin/autoscaled/benches/simulate.rs` does through the binary, then draws it: prints the median,
//! fastest and slowest of several runs of the replay (which records the rows the picture needs)
//! and of [`draw`] alone, and the picture's size. The trace is the repository's
//! `traces/worldcup98-requests-per-minute.csv`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench that cannot set up has nothing to measure: it stops there, saying why"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use autoscaled_simulate::{Model, ServiceModel, SimulatedApp, Trace, TrafficModel, draw, simulate};
use chrono::{DateTime, Utc};
use policy::{Policy, Thresholds};
use schedule::Schedule;

const RUNS: usize = 9;

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../traces/worldcup98-requests-per-minute.csv");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "draw bench: cannot read {}: {e}; restore it with `git checkout traces`",
                path.display()
            );
            std::process::exit(1);
        }
    };
    let instant = |s: &str| s.parse::<DateTime<Utc>>().ok();
    let month = Trace::parse(&text)
        .map_err(|e| e.to_string())
        .and_then(|trace| {
            trace
                .window(
                    instant("1998-06-01T00:00:00Z"),
                    instant("1998-07-01T00:00:00Z"),
                )
                .map_err(|e| e.to_string())
        });
    let month = match month {
        Ok(month) => month,
        Err(e) => {
            eprintln!("draw bench: the trace: {e}");
            std::process::exit(1);
        }
    };
    let second = Duration::from_secs(1);
    let app = SimulatedApp {
        name: "worldcup98".into(),
        process: "web".into(),
        policy: Policy {
            min: 1,
            max: 10,
            step: 1,
            failures: 2,
            scale_out_cooldown: 120 * second,
            calm: 600 * second,
            traffic: None,
        },
        schedule: Schedule::new(Vec::new(), chrono_tz::UTC, 1),
        probe_every: Some(30 * second),
        dyno_size: "Standard-1X".to_owned(),
        // Heroku's published price: $25 a month, prorated over 720 hours.
        price_per_hour: 25.0 / 720.0,
    };
    let model = Model {
        capacity: 400.0,
        service_time: Duration::from_millis(100),
        boot: 30 * second,
        thresholds: Thresholds {
            timeout: 10 * second,
            slow: Duration::from_millis(500),
            fast: Duration::from_millis(200),
        },
        traffic: TrafficModel::new(ServiceModel::PerDyno, 1),
        outage: None,
    };

    let mut replays = Vec::with_capacity(RUNS);
    let mut drawings = Vec::with_capacity(RUNS);
    let mut size = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let report = simulate(&app, &month, &model, false);
        replays.push(started.elapsed());
        let started = Instant::now();
        let svg = draw(&report);
        drawings.push(started.elapsed());
        size = svg.len();
    }
    println!(
        "simulate --svg, World Cup 1998 1 June to 1 July (43,200 one-minute rows, 30 s probes), 400 requests/s a dyno, {RUNS} runs in-process:"
    );
    for (label, times) in [
        ("replay (rows recorded)", &mut replays),
        ("draw", &mut drawings),
    ] {
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "  {label:<23} median {:.1} ms, fastest {:.1} ms, slowest {:.1} ms",
            ms(times[RUNS / 2]),
            ms(times[0]),
            ms(times[RUNS - 1])
        );
    }
    println!("  picture: {size} bytes ({:.0} KiB)", size as f64 / 1024.0);
}
