//! What a queue replay is given: the job model, the worker's rules and price, and the comparison
//! rules' constants.

use std::time::Duration;

use policy::{Policy, QueuePolicy};
use schedule::Schedule;

/// What a worker dyno does with jobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobModel {
    /// A job's time on a free slot.
    pub job_time: Duration,
    /// Jobs one dyno runs at once.
    pub concurrency: u32,
    /// From a dyno's start to its first job.
    pub boot: Duration,
}

/// A worker process type scaled on its queue, as the replay sees it.
#[derive(Debug, Clone)]
pub struct QueueApp {
    /// The app's name, for the report.
    pub name: String,
    /// The process type, for the report.
    pub process: String,
    /// What its queue rules read in production (backend, queues, datastore), for the report.
    pub reads: String,
    /// The limits every rule keeps (`min`, `max`).
    pub policy: Policy,
    /// The job-queue rules' settings (`[apps.queue]`).
    pub queue: QueuePolicy,
    /// The baseline.
    pub schedule: Schedule,
    /// The dyno size's name, for the report's text.
    pub dyno_size: String,
    /// USD per dyno-hour.
    pub price_per_hour: f64,
}

/// How often the Judoscale-style rule reads the queue.
pub const JUDOSCALE_EVERY: Duration = Duration::from_secs(10);
/// The Judoscale-style rule adds a dyno at most this often.
pub const JUDOSCALE_UPSCALE_EVERY: Duration = Duration::from_secs(180);
/// The Judoscale-style rule removes a dyno after this long under its downscale threshold.
pub const JUDOSCALE_CALM: Duration = Duration::from_secs(600);
/// How often the HireFire-style rule reads the queue.
pub const HIREFIRE_EVERY: Duration = Duration::from_secs(60);

/// The HireFire-style rule's ratio: the jobs (waiting and busy) one dyno works off within the
/// latency `target`, `concurrency × target / job time` (at least a job).
pub fn hirefire_ratio(model: &JobModel, target: Duration) -> f64 {
    let ratio =
        f64::from(model.concurrency.max(1)) * target.as_secs_f64() / model.job_time.as_secs_f64();
    if ratio.is_finite() {
        ratio.max(1.0)
    } else {
        1.0
    }
}
