//! `cargo bench -p autoscaled --bench simulate`: how long `autoscaled simulate` takes on a month of
//! real per-minute traffic, measured on the built binary.
//!
//! It runs `simulate --json` on 30 days of the World Cup 1998 trace (1 June to 1 July 1998: 43,200
//! rows, 86,400 probes at 30 s) with `docs/simulate/worldcup98.toml` at 400 requests/s a dyno (so
//! that its `max` of 10 carries the tournament's peak of 3,750/s), several times, and prints the
//! median, fastest and slowest wall time of the whole process (reading and checking all 125,300 rows
//! of the file included), then the month's figures. The trace is the repository's
//! `traces/worldcup98-requests-per-minute.csv`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench that cannot set up has nothing to measure: it stops there, saying why"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 9;
const FROM: &str = "1998-06-01T00:00:00Z";
const TO: &str = "1998-07-01T00:00:00Z";
const CAPACITY: &str = "400";

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let trace = repo.join("traces/worldcup98-requests-per-minute.csv");
    if !trace.is_file() {
        eprintln!(
            "simulate bench: the World Cup 1998 trace is not at {}; restore it with `git checkout traces`",
            trace.display()
        );
        std::process::exit(1);
    }
    let config = repo.join("docs/simulate/worldcup98.toml");
    let mut times = Vec::with_capacity(RUNS);
    let mut last = String::new();
    for _ in 0..RUNS {
        let (took, out) = simulate(&config, &trace);
        times.push(took);
        last = out;
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "simulate, World Cup 1998 {FROM} to {TO} (43,200 one-minute rows, 30 s probes), {CAPACITY} requests/s a dyno, {RUNS} runs of the built binary:"
    );
    println!(
        "  wall time: median {:.1} ms, fastest {:.1} ms, slowest {:.1} ms",
        ms(times[RUNS / 2]),
        ms(times[0]),
        ms(times[RUNS - 1])
    );
    let report: serde_json::Value = match serde_json::from_str(&last) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("simulate bench: the output is not JSON ({e}): {last}");
            std::process::exit(1);
        }
    };
    for (label, figures) in [
        ("autoscaled", &report),
        ("schedule alone", &report["schedule_only"]),
        ("static at max", &report["static_max"]),
    ] {
        println!(
            "  {label:<15} {:>8} dyno-hours, {:>6} overloaded minutes, {:>6} slow minutes, {:>5} scale calls",
            figures["dyno_hours"],
            figures["overloaded_minutes"],
            figures["slow_minutes"],
            figures["scale_calls"]
        );
    }
    println!(
        "  clairvoyant     {:>8} dyno-hours",
        report["clairvoyant_dyno_hours"]
    );
}

fn simulate(config: &Path, trace: &PathBuf) -> (Duration, String) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_autoscaled"))
        .arg("simulate")
        .arg("--config")
        .arg(config)
        .arg("--trace")
        .arg(trace)
        .args(["--capacity", CAPACITY, "--from", FROM, "--to", TO, "--json"])
        .output();
    let took = started.elapsed();
    match output {
        Ok(output) if output.status.success() => {
            (took, String::from_utf8_lossy(&output.stdout).into_owned())
        }
        Ok(output) => {
            eprintln!(
                "simulate bench: autoscaled simulate failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("simulate bench: cannot run autoscaled: {e}");
            std::process::exit(1);
        }
    }
}
