//! What an alert costs the caller: `notify()` latency (the decision loop calls it inline, so it must
//! stay far below a millisecond) and the rendering of one alert for email and SMS.
//!
//! `cargo bench -p autoscaled-notify` prints the figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench that cannot set up has nothing to measure: it stops there, saying why"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use autoscaled_notify::{
    Alert, AlertKind, HeldBack, Notifier, NotifyConfig, ProbeFigures, Progress, Scaling,
};
use chrono::{TimeZone, Utc};
use tokio_util::sync::CancellationToken;

fn alert(minute: u32) -> Alert {
    Alert {
        kind: AlertKind::Outage,
        app: format!("app-{}", minute % 7),
        process: "web".into(),
        what: "down (HTTP 503)".into(),
        scaling: Some(Scaling {
            from: 1,
            to: 3,
            progress: Progress::Done,
        }),
        probe: Some(ProbeFigures {
            p50: Some(Duration::from_millis(120)),
            p95: Some(Duration::from_millis(9_800)),
            share_down: 0.4,
            count: 20,
        }),
        at: Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap()
            + chrono::Duration::minutes(i64::from(minute)),
        timezone: chrono_tz::America::New_York,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        // No channel: this measures the caller's side and the dispatcher's de-duplication.
        let (notifier, task) = Notifier::spawn(NotifyConfig::default(), shutdown.clone()).unwrap();
        let alerts: Vec<Alert> = (0..500).map(alert).collect();
        let mut times = Vec::with_capacity(100_000);
        for _ in 0..200 {
            for a in &alerts {
                let a = a.clone();
                let start = Instant::now();
                notifier.notify(a);
                times.push(start.elapsed());
            }
            // Bursts of 500 fit the queue of 1,024; the pause lets the dispatcher drain it.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.sort();
        let stats = notifier.stats();
        println!(
            "notify(): {} calls, p50 {:?}, p99 {:?}, max {:?}; dropped {}",
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1],
            stats.dropped
        );
        shutdown.cancel();
        task.await.unwrap();
    });

    let held = Some(HeldBack {
        count: 3,
        since: Utc.with_ymd_and_hms(2026, 11, 27, 2, 50, 0).unwrap(),
    });
    let a = alert(12);
    let n = 20_000;
    let start = Instant::now();
    for _ in 0..n {
        black_box(black_box(&a).subject());
        black_box(black_box(&a).email_body(held));
        black_box(black_box(&a).sms_text(held));
    }
    let per = start.elapsed() / n;
    println!("render subject + email body + SMS text: {per:?} per alert ({n} alerts)");
}
