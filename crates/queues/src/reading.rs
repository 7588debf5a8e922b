//! What a read of the queues gives, and the limits every read keeps.

use std::time::Duration;

/// How long a read (or a connection attempt) may take before it fails with [`Error::Timeout`](crate::Error::Timeout):
/// a datastore that hangs must not hold up the poll.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The most ready (or due) jobs counted per queue in a table (PostgreSQL backends) unless
/// [`Reader::with_depth_cap`](crate::Reader::with_depth_cap) says otherwise: counting stops there, so that a poll costs the same
/// with a million jobs waiting, and [`QueueReading::depth_exact`] says so. Rules need no more than
/// the jobs their largest formation runs at once (`max` × `concurrency`): past that, every dyno
/// is wanted anyway.
pub const DEPTH_CAP: u64 = 1_000;

/// What one read found.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// One entry per queue read, in the configured order (sorted by name when the backend's own
    /// list was read).
    pub queues: Vec<QueueReading>,
    /// Due jobs that the backend keeps in one set for every queue, so that which queue they will
    /// join is not known without reading each: Sidekiq's `schedule` and `retry`. `None` for the
    /// other backends, which count due jobs per queue.
    pub due_shared: Option<u64>,
}

/// The figures of one queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueReading {
    /// The queue's name, as the library calls it.
    pub name: String,
    /// Jobs ready to run now (a paused queue's included).
    pub depth: u64,
    /// False when counting stopped at the cap ([`DEPTH_CAP`] unless set with
    /// [`Reader::with_depth_cap`](crate::Reader::with_depth_cap); PostgreSQL backends only): `depth` is then a lower bound.
    pub depth_exact: bool,
    /// The age of the oldest ready job; zero when none is ready; `None` when the backend stores no
    /// time for it (Resque, Celery without a publish time) or the oldest job could not be timed
    /// this poll.
    pub latency: Option<Duration>,
    /// Jobs running now, where the backend records them.
    pub busy: Option<u64>,
    /// Scheduled or retrying jobs of this queue whose time has come but that no worker has made
    /// ready yet, where the backend keeps them per queue.
    pub due: Option<u64>,
    /// Whether the queue is paused (its jobs wait until it is resumed).
    pub paused: bool,
}
