//! `POST /drain/{app}` over loopback HTTP: the answer time to a 1,000-line body (goal: p99 < 5 ms)
//! and the router lines a second ingested through the endpoint (goal: ≥ 50,000/s on one core).
//!
//! ```sh
//! cargo bench -p autoscaled-status --bench drain
//! ```
//!
//! The server runs on a current-thread tokio runtime in its own thread (one core), the client on
//! another; bodies are real-sized router lines (`request_id`-free but otherwise as Heroku writes
//! them, 2% H12), each with its own `Logplex-Frame-Id`, posted one after another on a kept-alive
//! connection. Env `BODIES` (default 2,000) sets how many are timed, after 200 to warm up.
//! Prints the load average, which the figures depend on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench that cannot set up has nothing to measure: it stops there, saying why"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use autoscaled_status::{Board, Drains, NoReadings, RealClock, Sources};
use chrono::{TimeDelta, Utc};
use router_logs::{At, ErrorCode, RouterLine, frame, router_line};
use secret::Secret;

const PASSWORD: &str = "bench-drain-password";
const LINES: usize = 1_000;

fn body() -> Vec<u8> {
    let now = Utc::now();
    let lines: Vec<String> = (0..LINES)
        .map(|i| {
            let h12 = i % 50 == 0;
            let dyno = format!("web.{}", i % 4 + 1);
            let line = RouterLine {
                at: if h12 { At::Error } else { At::Info },
                code: h12.then_some(ErrorCode::H12),
                method: Some("GET"),
                path: Some("/api/v2/products?page=3&sort=price"),
                host: Some("shop.herokuapp.com"),
                dyno: Some(&dyno),
                connect: Some(Duration::from_millis(1)),
                service: Some(Duration::from_millis(if h12 {
                    30_000
                } else {
                    40 + (i as u64 * 37) % 200
                })),
                status: Some(if h12 { 503 } else { 200 }),
                bytes: Some(4_096),
            };
            router_line(now - TimeDelta::milliseconds(i as i64), &line)
        })
        .collect();
    frame(&lines)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let bodies: usize = std::env::var("BODIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let drains = Drains::new(&Secret::from(PASSWORD), ["shop"]);
    let sources = Sources {
        board: Board::default(),
        apps: Vec::new(),
        clock: Arc::new(RealClock),
        readings: Arc::new(NoReadings),
        drains: drains.clone(),
        edits: None,
    };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listen = "127.0.0.1:0".parse().expect("an address");
            let (addr, task) = autoscaled_status::start(
                listen,
                None,
                sources,
                autoscaled_status::Limits::default(),
                std::future::pending(),
            )
            .await
            .expect("the server starts");
            addr_tx.send(addr).expect("the bench waits");
            let _ = task.await;
        });
    });
    let addr = addr_rx.recv().expect("the server's address");
    let body = body();
    let load_before = load_average();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (times, total) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/drain/shop");
        let mut times = Vec::with_capacity(bodies);
        let mut total = Duration::ZERO;
        for n in 0..(200 + bodies) {
            let started = Instant::now();
            let response = client
                .post(&url)
                .basic_auth("autoscaled", Some(PASSWORD))
                .header("content-type", "application/logplex-1")
                .header("logplex-msg-count", LINES.to_string())
                .header("logplex-frame-id", format!("{n:032x}"))
                .body(body.clone())
                .send()
                .await
                .expect("an answer");
            let took = started.elapsed();
            assert_eq!(response.status(), 204);
            if n >= 200 {
                times.push(took);
                total += took;
            }
        }
        (times, total)
    });
    let mut sorted = times.clone();
    sorted.sort();
    let at = |p: usize| sorted[(sorted.len() * p / 100).min(sorted.len() - 1)];
    let figures = drains.figures("shop", "web", Utc::now()).expect("figures");
    println!(
        "drain bench: {bodies} bodies of {LINES} router lines ({} bytes) over loopback HTTP",
        body.len()
    );
    println!(
        "answer time: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 5 ms)",
        at(50).as_secs_f64() * 1e3,
        at(99).as_secs_f64() * 1e3,
        sorted[sorted.len() - 1].as_secs_f64() * 1e3
    );
    println!(
        "ingested through the endpoint: {:.0} lines/s (goal ≥ 50,000/s)",
        (bodies * LINES) as f64 / total.as_secs_f64()
    );
    println!(
        "figures after: {} requests in the last minute",
        figures.requests_last_minute
    );
    println!(
        "load average: before {load_before}, after {}",
        load_average()
    );
}
