//! The words of the job-queue rules: their limits ([`QueuePolicy`], from `[apps.queue]`), what one
//! poll of the app's datastore reads ([`QueueReading`], per queue a [`QueueFigures`]), and why they
//! moved the target ([`QueueDecision`], the figures a decision's log line shows).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The job-queue rules' limits for a worker process type (`[apps.queue]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// Keep the oldest ready job younger than this.
    pub latency: Duration,
    /// Jobs one dyno runs at once; at least 1.
    pub concurrency: u32,
    /// How often the datastore is read.
    pub poll: Duration,
    /// Scale in (and to zero) only after this long quiet.
    pub calm: Duration,
    /// Latency above the target at `max` this long is a stuck queue: an alert.
    pub stuck_after: Duration,
}

impl QueuePolicy {
    /// The default `latency`.
    pub const DEFAULT_LATENCY: Duration = Duration::from_secs(30);
    /// The default `poll`.
    pub const DEFAULT_POLL: Duration = Duration::from_secs(10);
    /// The default `calm`.
    pub const DEFAULT_CALM: Duration = Duration::from_secs(600);
    /// The default `stuck_after`.
    pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(300);
    /// What the rules assume a dyno takes to boot (Heroku: 20–60 s): a queue whose oldest job
    /// would pass the target within one poll and one boot scales out now, not once it has.
    pub const BOOT: Duration = Duration::from_secs(30);

    /// `latency` and `concurrency` with the default poll, calm and stuck alert.
    pub fn new(latency: Duration, concurrency: u32) -> QueuePolicy {
        QueuePolicy {
            latency,
            concurrency: concurrency.max(1),
            poll: QueuePolicy::DEFAULT_POLL,
            calm: QueuePolicy::DEFAULT_CALM,
            stuck_after: QueuePolicy::DEFAULT_STUCK_AFTER,
        }
    }
}

/// One poll of a worker's job queues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueReading {
    /// When the datastore was read.
    pub at: DateTime<Utc>,
    /// Each configured queue's figures.
    pub queues: Vec<QueueFigures>,
}

/// What one queue holds at a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFigures {
    /// The queue's name (`default`, `mailers`).
    pub name: String,
    /// Jobs ready to run.
    pub depth: u64,
    /// The age of the oldest ready job; `None` where the backend stores no enqueue time (Resque).
    pub latency: Option<Duration>,
    /// Jobs running now; `None` where the backend does not record them.
    pub busy: Option<u64>,
    /// Scheduled or retrying jobs already due: ready in all but name.
    pub due: u64,
}

/// What one reading adds up to over a worker's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Ready and due jobs of every queue.
    pub ready: u64,
    /// The busy jobs of the queues that record them.
    pub busy: u64,
    /// Whether every queue records its busy jobs.
    pub busy_known: bool,
    /// The oldest ready job of the queues that store enqueue times.
    pub oldest: Option<Duration>,
}

impl QueueReading {
    /// What the reading adds up to over the worker's queues.
    #[must_use]
    pub fn totals(&self) -> Totals {
        let mut totals = Totals {
            ready: 0,
            busy: 0,
            busy_known: !self.queues.is_empty(),
            oldest: None,
        };
        for queue in &self.queues {
            totals.ready = totals
                .ready
                .saturating_add(queue.depth)
                .saturating_add(queue.due);
            match queue.busy {
                Some(busy) => totals.busy = totals.busy.saturating_add(busy),
                None => totals.busy_known = false,
            }
            if let Some(latency) = queue.latency {
                totals.oldest = Some(totals.oldest.map_or(latency, |o| o.max(latency)));
            }
        }
        totals
    }
}

/// Why the job-queue rules moved the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueWhy {
    /// A job appeared while the process type was at zero.
    Wake,
    /// The oldest job is older than the target: out at once.
    Breach,
    /// The oldest job would pass the target before a dyno started now could boot.
    Rising,
    /// Jobs wait and the backend stores no enqueue time: the jobs ask for the dynos.
    Backlog,
    /// The jobs asked for fewer dynos for the whole calm window: in.
    Calm,
}

/// The figures behind a job-queue decision, for its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDecision {
    /// Why.
    pub why: QueueWhy,
    /// The dynos asked for.
    pub dynos: u32,
    /// The policy's latency target.
    pub target: Duration,
    /// The policy's concurrency.
    pub concurrency: u32,
    /// The policy's calm, for a scale in.
    pub calm: Duration,
    /// Each queue's figures at the reading.
    pub queues: Vec<QueueFigures>,
}

impl fmt::Display for QueueDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = secs(self.target);
        let dynos = self.dynos;
        let c = self.concurrency;
        match self.why {
            QueueWhy::Wake => write!(f, "queue: jobs at zero dynos, wake to {dynos}")?,
            QueueWhy::Breach => write!(
                f,
                "queue: oldest job over the {target} target, out to {dynos} ({c} jobs a dyno)"
            )?,
            QueueWhy::Rising => write!(
                f,
                "queue: oldest job would pass the {target} target within a boot, out to {dynos} ({c} jobs a dyno)"
            )?,
            QueueWhy::Backlog => write!(
                f,
                "queue: jobs waiting (no enqueue time to judge), out to {dynos} ({c} jobs a dyno)"
            )?,
            QueueWhy::Calm => write!(
                f,
                "queue: calm for {}, in to {dynos} ({c} jobs a dyno)",
                secs(self.calm)
            )?,
        }
        for (i, q) in self.queues.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            let latency = q.latency.map_or_else(|| "no time".to_owned(), secs);
            let busy = q
                .busy
                .map_or_else(|| "busy unknown".to_owned(), |b| format!("{b} busy"));
            write!(
                f,
                "{sep}{} {} ready, oldest {latency}, {busy}, {} due",
                q.name, q.depth, q.due
            )?;
        }
        Ok(())
    }
}

/// A duration as the log lines write it, to the second (to the millisecond below a second).
pub(crate) fn secs(d: Duration) -> String {
    let rounded = if d < Duration::from_secs(1) {
        Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    } else {
        Duration::from_secs(d.as_secs())
    };
    humantime::format_duration(rounded).to_string()
}
