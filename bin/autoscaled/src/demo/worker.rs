//! The demo's worker: a job queue the daemon reads in-process, in place of the app's Redis.
//!
//! Jobs arrive with the web traffic above its night level (a job for every few requests: sign-ups
//! that send mail, say), none at night, and a dyno runs [`CONCURRENCY`] jobs at once, each for
//! [`JOB_TIME`]. The 15:00 burst brings more jobs than `max` dynos run, so the queue fills and its
//! oldest job ages, then drains once the burst ends. Kept as a fluid (fractions of jobs), first
//! in, first out, so the oldest job's age is exact for the model; a dyno serves from the moment
//! the fake Heroku reports it (no boot), which is enough for a demo.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use heroku_fake::FakeHeroku;
use heroku_fake::app::FakeApp;
use policy::{QueueFigures, QueueReading};

/// The process type's name.
pub(super) const PROCESS: &str = "worker";
/// Jobs one dyno runs at once.
pub(super) const CONCURRENCY: u32 = 5;
/// The most worker dynos.
pub(super) const MAX: u32 = 8;
/// How long a job runs.
const JOB_TIME: Duration = Duration::from_secs(2);
/// Jobs a second for each request a second above the night's level.
const JOBS_PER_REQUEST: f64 = 0.3;
/// The web traffic at night, in requests a second: the jobs come from what is above it.
const NIGHT_RPS: f64 = 4.0;

/// The queue between two reads.
#[derive(Debug, Default)]
struct Fluid {
    last: Option<DateTime<Utc>>,
    /// Jobs waiting, by when they arrived, oldest first.
    waiting: VecDeque<(DateTime<Utc>, f64)>,
}

/// The demo's queue, read by the daemon's queue feed at each poll.
#[derive(Debug)]
pub(super) struct DemoQueue {
    fake: Arc<FakeHeroku>,
    app: Arc<FakeApp>,
    app_name: String,
    fluid: Mutex<Fluid>,
}

impl DemoQueue {
    pub(super) fn new(fake: Arc<FakeHeroku>, app: Arc<FakeApp>, app_name: &str) -> DemoQueue {
        DemoQueue {
            fake,
            app,
            app_name: app_name.to_owned(),
            fluid: Mutex::default(),
        }
    }

    /// The worker dynos the fake Heroku runs.
    pub(super) fn dynos(&self) -> u32 {
        self.fake.quantity(&self.app_name, PROCESS).unwrap_or(0)
    }

    /// The jobs waiting at the last read, whole.
    pub(super) fn waiting(&self) -> u64 {
        let fluid = self
            .fluid
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        fluid
            .waiting
            .iter()
            .map(|(_, jobs)| jobs)
            .sum::<f64>()
            .ceil() as u64
    }

    /// What the datastore would show at `now`, after the jobs that arrived and ran since the last
    /// read.
    pub(super) fn read(&self, now: DateTime<Utc>) -> QueueReading {
        let dynos = self.dynos();
        let rate = (self.app.config().traffic(now) - NIGHT_RPS).max(0.0) * JOBS_PER_REQUEST;
        let mut fluid = self
            .fluid
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let elapsed = fluid.last.map_or(0.0, |last| {
            (now - last).to_std().unwrap_or_default().as_secs_f64()
        });
        fluid.last = Some(now);
        if rate > 0.0 && elapsed > 0.0 {
            fluid.waiting.push_back((now, rate * elapsed));
        }
        let slots = f64::from(dynos * CONCURRENCY);
        let mut room = slots / JOB_TIME.as_secs_f64() * elapsed;
        let mut served = 0.0;
        while room > 0.0 {
            let Some(front) = fluid.waiting.front_mut() else {
                break;
            };
            let taken = front.1.min(room);
            front.1 -= taken;
            room -= taken;
            served += taken;
            if front.1 <= 1e-9 {
                fluid.waiting.pop_front();
            }
        }
        // The jobs that ran since the last read, spread over it, are those running now.
        let busy = if elapsed > 0.0 {
            (served / elapsed * JOB_TIME.as_secs_f64()).min(slots)
        } else {
            0.0
        };
        let depth: f64 = fluid.waiting.iter().map(|(_, jobs)| jobs).sum();
        let latency = fluid.waiting.front().map_or(Duration::ZERO, |(at, _)| {
            (now - *at).to_std().unwrap_or_default()
        });
        QueueReading {
            at: now,
            queues: vec![QueueFigures {
                name: "default".to_owned(),
                // A job partly arrived is one job waiting.
                depth: depth.ceil() as u64,
                latency: Some(latency),
                busy: Some(busy.ceil() as u64),
                due: 0,
            }],
        }
    }
}
