//! The queue mode's tests.

use std::time::Duration;

use policy::{Policy, QueuePolicy};
use schedule::{DynoSize, Schedule};

use super::*;

fn app(min: u32, max: u32) -> QueueApp {
    QueueApp {
        name: "worker".into(),
        process: "worker".into(),
        policy: Policy {
            min,
            max,
            step: 1,
            failures: 2,
            scale_out_cooldown: Duration::from_secs(120),
            calm: Duration::from_secs(600),
            traffic: None,
        },
        queue: QueuePolicy::new(Duration::from_secs(30), 10),
        schedule: Schedule::new(Vec::new(), chrono_tz::UTC, min),
        dyno_size: DynoSize::Standard1X,
        price_per_hour: 0.035,
    }
}

#[test]
fn scratch_measure() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../traces/worldcup98-requests-per-minute.csv"
    ))
    .unwrap();
    let trace = Trace::parse(&text).unwrap();
    let from = "1998-05-01T00:00:00Z".parse().ok();
    let to = "1998-05-17T00:00:00Z".parse().ok();
    let w = trace.window(from, to).unwrap();
    let jt: u64 = std::env::var("JT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let model = JobModel {
        job_time: Duration::from_millis(jt),
        concurrency: 10,
        boot: Duration::from_secs(30),
    };
    let max: u32 = std::env::var("MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let a = app(0, max);
    let r = simulate_queue(&a, &w, &model);
    println!("{}", r.render(&a, &model));
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../traces/wikipedia-en-2016-01-requests-per-hour.csv"
    ))
    .unwrap();
    let trace = Trace::parse(&text).unwrap();
    let jt: u64 = std::env::var("WJT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    let model = JobModel {
        job_time: Duration::from_millis(jt),
        concurrency: 10,
        boot: Duration::from_secs(30),
    };
    let r = simulate_queue(&a, &trace, &model);
    println!("{}", r.render(&a, &model));
}
