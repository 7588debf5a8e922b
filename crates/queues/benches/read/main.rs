//! What one poll costs: 20 queues of 1,000,000 jobs each, read by each backend's reader from a
//! local Redis (goal: under 10 ms a poll) and PostgreSQL with the backends' own indexes (goal:
//! under 20 ms). Prints the median, 99th percentile and worst of 200 polls per backend.
//!
//! Needs the test servers: `AUTOSCALED_TEST_REDIS` (`scripts/redis`) and
//! `AUTOSCALED_TEST_POSTGRES` (`scripts/postgres`). Takes backend names to run only those:
//!
//! ```text
//! cargo bench -p autoscaled-queues --bench read -- sidekiq rq good_job
//! ```
//!
//! Filling takes most of the time (20,000,000 jobs per backend, written as each library writes
//! them, in pipelines or one `INSERT ... SELECT generate_series`); each backend's jobs are removed
//! before the next one's are written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench that cannot set up has nothing to measure: it stops there, saying why"
)]

use std::time::{Duration, Instant};

use autoscaled_queues::{Backend, Reader, Store};
use chrono::Utc;
use secret::Secret;

const QUEUES: usize = 20;
/// Jobs per queue; `AUTOSCALED_BENCH_JOBS` sets another number (a quicker run).
const JOBS: usize = 1_000_000;
const POLLS: usize = 200;

mod fill;
mod fill_postgres;

fn main() {
    let chosen: Vec<Backend> = {
        let names: Vec<String> = std::env::args()
            .skip(1)
            .filter(|arg| !arg.starts_with('-'))
            .collect();
        if names.is_empty() {
            Backend::ALL.to_vec()
        } else {
            names
                .iter()
                .map(|name| name.parse().unwrap_or_else(|error| panic!("{error}")))
                .collect()
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let jobs: usize = std::env::var("AUTOSCALED_BENCH_JOBS")
        .ok()
        .and_then(|jobs| jobs.parse().ok())
        .unwrap_or(JOBS);
    println!("{QUEUES} queues x {jobs} jobs each, {POLLS} polls per backend");
    for backend in chosen {
        let env = match backend.store() {
            Store::Redis => "AUTOSCALED_TEST_REDIS",
            _ => "AUTOSCALED_TEST_POSTGRES",
        };
        let server = std::env::var(env).unwrap_or_else(|_| {
            panic!("{env} is not set: scripts/redis and scripts/postgres start the servers")
        });
        let queues: Vec<String> = (0..QUEUES).map(|n| format!("queue{n:02}")).collect();
        let filling = Instant::now();
        let target = fill::fill(backend, &server, &queues, jobs);
        let filled = filling.elapsed();
        runtime.block_on(measure(
            backend,
            &target.url,
            &queues,
            backend.name(),
            filled,
        ));
        if backend == Backend::DelayedJob {
            // The indexes the README advises an app with a big delayed_jobs table to add.
            let indexing = Instant::now();
            fill_postgres::add_advised_delayed_job_indexes(&target.url);
            runtime.block_on(measure(
                backend,
                &target.url,
                &queues,
                "delayed_job + advised indexes",
                indexing.elapsed(),
            ));
        }
        drop(target);
    }
}

async fn measure(backend: Backend, url: &str, queues: &[String], label: &str, filled: Duration) {
    let reader = Reader::connect(backend, &Secret::new(url.to_owned()), queues.to_vec())
        .await
        .unwrap_or_else(|error| panic!("{label}: {error:?}"));
    let reading = reader
        .read(Utc::now())
        .await
        .unwrap_or_else(|error| panic!("{label}: {error:?}"));
    assert_eq!(reading.queues.len(), QUEUES);
    let depth = reading.queues[0].depth;
    let mut times: Vec<Duration> = Vec::with_capacity(POLLS);
    for _ in 0..POLLS {
        let start = Instant::now();
        let reading = reader.read(Utc::now()).await.expect("a read");
        times.push(start.elapsed());
        std::hint::black_box(reading);
    }
    times.sort();
    let goal = match backend.store() {
        Store::Redis => 10,
        _ => 20,
    };
    println!(
        "{label:<12} poll: median {:>7.3} ms, p99 {:>7.3} ms, max {:>7.3} ms (goal < {goal} ms); \
         queue00 depth read {depth}; filled in {:.0} s",
        ms(times[POLLS / 2]),
        ms(times[POLLS * 99 / 100]),
        ms(times[POLLS - 1]),
        filled.as_secs_f64(),
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
