//! Writing to the store off the caller's path: a [`Persister`] handle that never waits, and one
//! writer task that does the waiting.
//!
//! The daemon's decision task must never await a database: a fail-safe to `max` cannot wait on a
//! slow disk or a PostgreSQL fail-over. So it hands what to write to a [`Persister`], whose calls
//! only take a short lock on a buffer and wake the writer. The buffer is bounded: one pending
//! [`AppState`] per process type (a newer one replaces it: only the latest matters) and at most
//! [`WriterOptions::backlog`] decisions and history rows together (the oldest go first, counted and
//! logged once). So nothing ever blocks, and while the database is away nothing but the oldest rows
//! of a very long outage is lost.
//!
//! The writer writes states and decisions as soon as they come, history rows in one batch every
//! [`WriterOptions::history_every`], prunes every [`WriterOptions::prune_every`] and records a
//! heartbeat with each history batch. When the database fails it logs once (`warn`), keeps what it
//! could not write, tries again every [`WriterOptions::retry`], and logs once when it is back. On
//! stop it writes what is left (bounded by [`WriterOptions::final_flush`]) and closes the store.
//! Before each write it checks that a daemon's SQLite file is still at its path, and puts it
//! back, whole, when another process deleted or replaced it ([`Store::restore_file_if_gone`]).

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{info, warn};

use crate::{AppState, Decision, Error, Fence, HistoryRow, ProcessKey, RETENTION, Store};

/// How the writer task runs.
#[derive(Clone)]
pub struct WriterOptions {
    /// How long after a failed write it tries again.
    pub retry: Duration,
    /// How often buffered history rows are written, in one batch.
    pub history_every: Duration,
    /// How often rows older than [`RETENTION`] are deleted.
    pub prune_every: Duration,
    /// The most decisions and history rows kept while the database is away.
    pub backlog: usize,
    /// How long the last writes may take on stop.
    pub final_flush: Duration,
    /// This instance's id, for heartbeats.
    pub instance_id: String,
    /// The time to prune from (a demo runs on a simulated clock).
    pub now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl Default for WriterOptions {
    /// Retry every 15 s, history every minute, prune hourly, 10,000 rows of backlog, 2 s on stop.
    fn default() -> Self {
        Self {
            retry: Duration::from_secs(15),
            history_every: Duration::from_secs(60),
            prune_every: Duration::from_secs(3600),
            backlog: 10_000,
            final_flush: Duration::from_secs(2),
            instance_id: "autoscaled".into(),
            now: Arc::new(Utc::now),
        }
    }
}

impl std::fmt::Debug for WriterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterOptions")
            .field("retry", &self.retry)
            .field("history_every", &self.history_every)
            .field("backlog", &self.backlog)
            .finish_non_exhaustive()
    }
}

/// What is waiting to be written, as [`Persister::backlog`] counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// App states (at most one per process type).
    pub states: usize,
    /// Decisions.
    pub decisions: usize,
    /// History rows.
    pub history: usize,
    /// Decisions and history rows dropped since start because the backlog was full.
    pub dropped: u64,
}

/// The handle the decision tasks write through: cheap to clone, and no call ever waits.
#[derive(Debug, Clone)]
pub struct Persister {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Notify,
    backlog: usize,
}

#[derive(Debug, Default)]
struct Pending {
    states: BTreeMap<ProcessKey, AppState>,
    /// The lease each fleet-held process type's state is written under.
    fences: BTreeMap<ProcessKey, Fence>,
    /// Whether the writer has states taken out and not yet written.
    writing_states: bool,
    decisions: VecDeque<Decision>,
    history: VecDeque<HistoryRow>,
    dropped: u64,
    overflow_logged: bool,
}

impl Pending {
    fn rows(&self) -> usize {
        self.decisions.len() + self.history.len()
    }
}

impl Persister {
    /// Starts the writer task on the current tokio runtime; it stops when `stop` completes, after
    /// writing what is left, and closes the store.
    pub fn spawn(
        store: Store,
        options: WriterOptions,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> (Persister, JoinHandle<()>) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
            backlog: options.backlog.max(1),
        });
        let writer = Writer {
            shared: Arc::clone(&shared),
            store,
            options,
            down: false,
            stopping: false,
        };
        let task = tokio::spawn(writer.run(stop));
        (Persister { shared }, task)
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `state` to be saved, replacing one still waiting for the same process type.
    pub fn save_state(&self, state: AppState) {
        self.lock().states.insert(state.key.clone(), state);
        self.shared.wake.notify_one();
    }

    /// Writes `key`'s states from now on only under `fence` (see
    /// [`Store::save_app_state_fenced`]): a state the lease no longer covers is dropped, logged.
    pub fn fence(&self, key: ProcessKey, fence: Fence) {
        self.lock().fences.insert(key, fence);
    }

    /// Waits until no state is waiting to be written or being written, at most `within`: before
    /// a lease is handed back, so the next holder reads the last state.
    pub async fn settled(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let pending = {
                let pending = self.lock();
                !pending.states.is_empty() || pending.writing_states
            };
            if !pending || Instant::now() >= deadline {
                return;
            }
            self.shared.wake.notify_one();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Queues a decision to be appended.
    pub fn record_decision(&self, decision: Decision) {
        let mut pending = self.lock();
        pending.decisions.push_back(decision);
        self.bound(&mut pending);
        drop(pending);
        self.shared.wake.notify_one();
    }

    /// Queues a minute of history, written with the next batch.
    pub fn write_history(&self, row: HistoryRow) {
        let mut pending = self.lock();
        pending.history.push_back(row);
        self.bound(&mut pending);
    }

    /// What is waiting to be written.
    pub fn backlog(&self) -> Backlog {
        let pending = self.lock();
        Backlog {
            states: pending.states.len(),
            decisions: pending.decisions.len(),
            history: pending.history.len(),
            dropped: pending.dropped,
        }
    }

    /// Drops the oldest rows beyond the backlog's bound: history before decisions, which people
    /// read.
    fn bound(&self, pending: &mut Pending) {
        while pending.rows() > self.shared.backlog {
            if pending.history.pop_front().is_none() {
                pending.decisions.pop_front();
            }
            pending.dropped += 1;
            if !pending.overflow_logged {
                pending.overflow_logged = true;
                warn!(
                    limit = self.shared.backlog,
                    "database backlog full: dropping the oldest history rows and decisions"
                );
            }
        }
    }
}

struct Writer {
    shared: Arc<Shared>,
    store: Store,
    options: WriterOptions,
    /// Whether the last write failed (logged once, until one succeeds).
    down: bool,
    /// Whether it is writing what is left before stopping.
    stopping: bool,
}

impl Writer {
    fn take(&self) -> MutexGuard<'_, Pending> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn run(mut self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        // At once, so `autoscaled status` names this instance from the start; a failure shows
        // again with the first write.
        let _ = self.store.heartbeat(&self.options.instance_id).await;
        let start = Instant::now();
        let mut next_history = start + self.options.history_every;
        let mut next_prune = start + self.options.history_every;
        let mut retry_at = start;
        loop {
            let due = if self.down {
                retry_at
            } else {
                next_history.min(next_prune)
            };
            let down = self.down;
            tokio::select! {
                () = &mut stop => break,
                () = self.shared.wake.notified(), if !down => {}
                () = sleep_until(due) => {}
            }
            let now = Instant::now();
            // While the database is away, everything is retried at once when it is back.
            let history = self.down || now >= next_history;
            let prune = now >= next_prune;
            self.keep_file().await;
            match self.flush(history, prune).await {
                Ok(()) => {
                    if history {
                        next_history = now + self.options.history_every;
                    }
                    if prune {
                        next_prune = now + self.options.prune_every;
                    }
                    if self.down {
                        self.down = false;
                        self.take().overflow_logged = false;
                        info!(url = %self.store.url(), "database is back: writing again");
                    }
                }
                Err(error) => {
                    if !self.down {
                        self.down = true;
                        warn!(url = %self.store.url(), error = %error, retry_in = ?self.options.retry,
                            "cannot write to the database: going on from memory, keeping the latest state per app");
                    }
                    retry_at = Instant::now() + self.options.retry;
                }
            }
        }
        // No heartbeat from now on: the fleet coordinator has said this instance left.
        self.stopping = true;
        let last = tokio::time::timeout(self.options.final_flush, self.flush(true, false)).await;
        match last {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                warn!(url = %self.store.url(), error = %error, "cannot write the last state at stop")
            }
            Err(_) => warn!(url = %self.store.url(), "the last writes at stop timed out"),
        }
        self.store.close().await;
    }

    /// Puts an SQLite file deleted or replaced under the daemon back from the copy it has open,
    /// before writing (a write to a deleted file fails). One `stat` when nothing happened; every
    /// write comes here, history at least every `history_every`, so it is noticed within that.
    async fn keep_file(&mut self) {
        // Put back, it is logged by the store.
        match self.store.restore_file_if_gone().await {
            Ok(_) => {}
            Err(error) => {
                if !self.down {
                    warn!(url = %self.store.url(), error = %error,
                        "the database file was deleted or replaced under the daemon and cannot be recreated: going on from memory");
                }
            }
        }
    }

    /// Writes what is pending: states and decisions always, history rows (one batch, with a
    /// heartbeat) when `history`, and prunes when `prune`. What fails is put back.
    async fn flush(&mut self, history: bool, prune: bool) -> Result<(), Error> {
        let states = {
            let mut pending = self.take();
            pending.writing_states = true;
            std::mem::take(&mut pending.states)
        };
        let mut states = states.into_values();
        while let Some(state) = states.next() {
            let fence = self.take().fences.get(&state.key).cloned();
            let saved = match &fence {
                Some(fence) => self.store.save_app_state_fenced(&state, fence).await,
                None => self.store.save_app_state(&state).await.map(|()| true),
            };
            match saved {
                Ok(true) => {}
                Ok(false) => info!(app = %state.key.app, process = %state.key.process,
                    "state not saved: another instance holds the app now"),
                Err(error) => {
                    let mut pending = self.take();
                    pending.writing_states = false;
                    for unsaved in std::iter::once(state).chain(states) {
                        // A newer state queued meanwhile wins.
                        pending.states.entry(unsaved.key.clone()).or_insert(unsaved);
                    }
                    return Err(error);
                }
            }
        }
        self.take().writing_states = false;
        loop {
            let Some(decision) = self.take().decisions.pop_front() else {
                break;
            };
            if let Err(error) = self.store.record_decision(&decision).await {
                self.take().decisions.push_front(decision);
                return Err(error);
            }
        }
        if history {
            let rows: Vec<HistoryRow> = self.take().history.drain(..).collect();
            if let Err(error) = self.store.write_history(&rows).await {
                let mut pending = self.take();
                for row in rows.into_iter().rev() {
                    pending.history.push_front(row);
                }
                return Err(error);
            }
            if !self.stopping {
                self.store.heartbeat(&self.options.instance_id).await?;
            }
        }
        if prune {
            self.store.prune((self.options.now)() - RETENTION).await?;
        }
        Ok(())
    }
}

/// One process type's probe figures for the minute under way, turned into a [`HistoryRow`] once
/// the minute is over.
#[derive(Debug, Clone, Default)]
pub struct MinuteFigures {
    minute: Option<DateTime<Utc>>,
    latencies_ms: Vec<f64>,
    probes: u32,
    down: u32,
    slow: u32,
}

impl MinuteFigures {
    /// Counts one probe in the current minute; `latency_ms` for probes that were answered.
    pub fn probe(&mut self, latency_ms: Option<f64>, down: bool, slow: bool) {
        self.probes += 1;
        self.down += u32::from(down);
        self.slow += u32::from(slow);
        self.latencies_ms.extend(latency_ms);
    }

    /// The memory these figures hold, in bytes.
    pub fn bytes(&self) -> usize {
        size_of::<Self>() + self.latencies_ms.capacity() * size_of::<f64>()
    }

    /// When `now` is past the minute being counted, that minute's row (with the quantities given,
    /// as they stand at its end), and a fresh count from `now`'s minute. The first call only
    /// starts counting.
    pub fn roll(
        &mut self,
        now: DateTime<Utc>,
        key: &ProcessKey,
        actual: Option<u32>,
        target: u32,
        baseline: u32,
    ) -> Option<HistoryRow> {
        let current = crate::model::minute_of(now);
        let Some(minute) = self.minute.filter(|minute| *minute < current) else {
            self.minute.get_or_insert(current);
            return None;
        };
        let mut latencies = std::mem::take(&mut self.latencies_ms);
        latencies.sort_by(f64::total_cmp);
        let rank = |share: f64| {
            let n = latencies.len();
            (n > 0).then(|| latencies[((share * n as f64).ceil() as usize).clamp(1, n) - 1])
        };
        let row = HistoryRow {
            key: key.clone(),
            minute,
            latency_p50_ms: rank(0.5),
            latency_p95_ms: rank(0.95),
            latency_max_ms: latencies.last().copied(),
            probes: self.probes,
            probes_down: self.down,
            probes_slow: self.slow,
            actual,
            target,
            baseline,
            requests: None,
            in_flight: None,
            queue_ready: None,
            queue_busy: None,
            queue_latency_ms: None,
        };
        *self = MinuteFigures {
            minute: Some(current),
            ..MinuteFigures::default()
        };
        Some(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_rolls_into_one_row_with_its_percentiles() {
        let key = ProcessKey::new("app", "web");
        let at = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let mut figures = MinuteFigures::default();
        assert!(figures.roll(at(0), &key, Some(1), 1, 1).is_none());
        for ms in 1..=100 {
            figures.probe(Some(f64::from(ms)), false, ms > 90);
        }
        figures.probe(None, true, false);
        assert!(figures.roll(at(59), &key, Some(1), 1, 1).is_none());
        let row = figures.roll(at(61), &key, Some(2), 3, 1).expect("a row");
        assert_eq!(row.minute, at(0));
        assert_eq!((row.probes, row.probes_down, row.probes_slow), (101, 1, 10));
        assert_eq!(row.latency_p50_ms, Some(50.0));
        assert_eq!(row.latency_p95_ms, Some(95.0));
        assert_eq!(row.latency_max_ms, Some(100.0));
        assert_eq!((row.actual, row.target, row.baseline), (Some(2), 3, 1));
        let empty = figures.roll(at(125), &key, None, 1, 1).expect("a row");
        assert_eq!((empty.probes, empty.latency_p50_ms), (0, None));
    }
}
