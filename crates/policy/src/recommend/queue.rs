//! The job-queue rules, from one poll of a worker's queues ([`QueueReading`]).
//!
//! - **Wake**: at zero dynos, any ready or busy job asks for dynos at once (within one poll).
//! - **Out at once**: when the oldest ready job is older than the target (a breach, trouble), or
//!   would pass three quarters of it before a dyno started now could boot (its age and how fast it
//!   grew since the last poll, over one poll and [`QueuePolicy::BOOT`]). The dynos asked for keep
//!   up with the arrivals (the slots that served since the last poll over one less the growth of
//!   the oldest job's age) and work the backlog off within the calm window, and at least the
//!   slots busy now. Where the arrivals could not be measured, at least one more than now, unless
//!   dynos started earlier are still booting. Without busy figures, a slot a job.
//! - **In after calm**: only once no scale out came within the calm window and the whole window
//!   was read; then to the most the jobs asked for within the last [`IN_WINDOW`], never below the
//!   dynos the busy jobs occupy (busy / `concurrency`, rounded up), and zero only after ready and
//!   busy stayed 0 for the whole calm window. Without busy figures the work in progress cannot be
//!   seen: one dyno in per calm of empty queues.
//! - **Stuck**: the oldest job over the target while the target is at `max`, for `stuck_after`,
//!   is an outage alert, once; a recovery alert when the oldest job is back under the target.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Ask, Health, Recommendation, elapsed};
use crate::event::{Notice, NoticeKind, Reason};
use crate::queue::{QueueDecision, QueuePolicy, QueueReading, QueueWhy, Totals, secs};

/// What the job-queue rules remember between two polls: plain data inside
/// [`DeciderState`](crate::DeciderState), stored with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueueState {
    /// The newest reading's instant and oldest job, for how fast it grows.
    last: Option<(DateTime<Utc>, Option<Duration>)>,
    /// The newest reading's busy jobs (0 unknown): the slots that served while the oldest job's
    /// age grew as it did until this reading.
    #[serde(default)]
    last_busy: u64,
    /// Since when readings came without a gap longer than the calm window: a scale in needs the
    /// whole window seen.
    watching_since: Option<DateTime<Utc>>,
    /// The dynos the jobs asked for within the calm window that may still become its largest:
    /// (when, dynos), oldest first, each larger than every later one (a sliding-window maximum).
    recent: VecDeque<(DateTime<Utc>, u32)>,
    /// The last scale out: no scale in within the calm window of it.
    last_out: Option<DateTime<Utc>>,
    /// Since when the oldest job has been over the target with the target at `max`.
    over_at_max_since: Option<DateTime<Utc>>,
    /// Whether a stuck alert is open.
    stuck: bool,
}

impl QueueState {
    /// Whether nothing is remembered (a process type not scaled on a queue).
    pub(crate) fn is_empty(&self) -> bool {
        *self == QueueState::default()
    }

    /// The most the jobs asked for within the calm window, 0 without readings: what a fall of
    /// the schedule's baseline must not go below.
    pub(crate) fn held(&self) -> u32 {
        self.recent.front().map_or(0, |&(_, dynos)| dynos)
    }

    /// The most asked for within `window` of `now`.
    fn held_within(&self, now: DateTime<Utc>, window: Duration) -> u32 {
        self.recent
            .iter()
            .find(|&&(at, _)| elapsed(at, now) <= window)
            .map_or(0, |&(_, dynos)| dynos)
    }

    fn remember(&mut self, now: DateTime<Utc>, dynos: u32, calm: Duration) {
        while self.recent.back().is_some_and(|&(_, d)| d <= dynos) {
            self.recent.pop_back();
        }
        self.recent.push_back((now, dynos));
        while self
            .recent
            .front()
            .is_some_and(|&(at, _)| elapsed(at, now) > calm)
        {
            self.recent.pop_front();
        }
    }
}

/// What the decider knows that the job-queue rules weigh a reading against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// The target now.
    pub(crate) target: u32,
}

/// Out once the oldest job's age, projected over one poll and a boot, reaches this share of the
/// target: a quarter of it is the margin for arrivals that grow faster still meanwhile. Chosen
/// on the traces of docs/simulate.md (at the whole target the World Cup's May had 6× the late
/// minutes for 0.7% fewer dyno-hours).
const OUT_AT: f64 = 0.75;

/// Once calm (no scale out within the calm window, and the window seen), the target follows the
/// most the jobs asked for within this window: a dip shorter than it is absorbed, not followed.
/// Chosen on the traces of docs/simulate.md: the whole calm window costs the World Cup's May
/// nothing more but Wikipedia's January 0.3% more, the hourly falls paid for 10 minutes each.
const IN_WINDOW: Duration = Duration::from_secs(180);

/// A reading older than this many polls is old news (a datastore that answers late).
const STALE_POLLS: u32 = 3;

/// Dynos for `jobs` at `concurrency` a dyno, rounded up.
fn dynos_for(jobs: u64, concurrency: u32) -> u32 {
    let c = u64::from(concurrency.max(1));
    u32::try_from(jobs.div_ceil(c)).unwrap_or(u32::MAX)
}

/// One poll of the queues, `seen`, at `now`.
pub(crate) fn recommend(
    state: &mut QueueState,
    policy: &QueuePolicy,
    seen: &QueueReading,
    context: Context,
    now: DateTime<Utc>,
) -> Recommendation {
    if elapsed(seen.at, now) > policy.poll.saturating_mul(STALE_POLLS)
        || state.last.is_some_and(|(at, _)| seen.at <= at)
    {
        return Recommendation::hold();
    }
    let totals = seen.totals();
    let growth = growth(state, seen.at, totals.oldest);
    if state
        .last
        .is_none_or(|(at, _)| elapsed(at, seen.at) > policy.calm)
    {
        state.watching_since = Some(seen.at);
        state.recent.clear();
    }
    state.last = Some((seen.at, totals.oldest));
    let served = std::mem::replace(&mut state.last_busy, totals.busy);

    let c = policy.concurrency.max(1);
    let occupied = if totals.busy_known {
        dynos_for(totals.busy, c)
    } else {
        0
    };
    let jobs = dynos_for(totals.busy.saturating_add(totals.ready), c);
    let decision = |why, dynos| QueueDecision {
        why,
        dynos,
        target: policy.latency,
        concurrency: c,
        calm: policy.calm,
        queues: seen.queues.clone(),
    };
    let out = |why, dynos: u32, health| Recommendation {
        health,
        ..Recommendation::asking(Ask::Dynos(dynos, Reason::Queue(decision(why, dynos))))
    };
    let target = context.target;

    // The slots that keep up with the arrivals: those that served since the last reading,
    // times arrivals / starts, which is 1 / (1 − growth) while the oldest job's age grows; and
    // at least the busy ones now. A falling age is not read as fewer arrivals (jobs waiting never
    // ask for less than none waiting would), nor a growth while no slot served (a boot) as
    // arrivals without end.
    let waiting = totals.ready > 0;
    let served = served.min(totals.busy);
    // The arrivals, in slots, where the growth was measured on slots that served.
    let arrivals = (waiting && totals.busy_known && totals.oldest.is_some() && served > 0)
        .then(|| served as f64 / (1.0 - growth.clamp(0.0, 0.9)));
    let keep_up = arrivals.map_or(totals.busy as f64, |a| a.max(totals.busy as f64));
    let per_dyno = f64::from(c);
    // What this reading asks for, remembered for the calm window: the dynos that keep up, less
    // a slack the queue absorbs (the target allows a queue). Without busy figures a queue with
    // jobs waiting holds the target, an empty one asks for one dyno fewer.
    let asked = if totals.busy_known && totals.oldest.is_some() {
        whole(keep_up / per_dyno)
    } else if totals.busy_known {
        jobs
    } else if waiting {
        target.max(jobs)
    } else {
        target.saturating_sub(1)
    };

    let recommended = if target == 0 && (waiting || totals.busy > 0) {
        Some(out(QueueWhy::Wake, jobs.max(1), Health::Fine))
    } else if let Some(oldest) = totals.oldest.filter(|_| waiting) {
        let lead = policy.poll.saturating_add(QueuePolicy::BOOT);
        let projected = oldest.as_secs_f64() + growth.max(0.0) * lead.as_secs_f64();
        // Enough to keep up with the arrivals and to work off the backlog (about `oldest` of
        // arrivals) within the calm window, and the slots busy now; without busy figures, a slot
        // for each job. One more than now at least, unless dynos started earlier are still
        // booting (the busy jobs fill fewer slots than the target has): they are the answer,
        // still to come; or unless the arrivals were measured: then the sizing is the answer,
        // and dynos that began serving since the last reading, whose effect the age does not
        // show yet, are not topped up by one more held for a calm window.
        let booting =
            totals.busy_known && totals.busy < u64::from(target).saturating_mul(u64::from(c));
        let sized = if totals.busy_known && totals.busy > 0 {
            let drain = oldest.as_secs_f64() / policy.calm.as_secs_f64().max(1.0);
            let needed = arrivals.unwrap_or(keep_up) * (1.0 + drain);
            whole(needed.max(totals.busy as f64) / per_dyno)
        } else if booting {
            // None serving yet (a wake from zero still booting): nothing to size by.
            target
        } else {
            jobs
        };
        let wanted = if booting || arrivals.is_some() {
            sized
        } else {
            sized.max(target.saturating_add(1))
        };
        if oldest >= policy.latency {
            (wanted > target).then(|| out(QueueWhy::Breach, wanted, Health::Trouble))
        } else if projected >= policy.latency.as_secs_f64() * OUT_AT && wanted > target {
            Some(out(QueueWhy::Rising, wanted, Health::Fine))
        } else {
            None
        }
    } else if totals.oldest.is_none() && waiting && jobs > target {
        Some(out(QueueWhy::Backlog, jobs, Health::Fine))
    } else {
        None
    };
    if let Some(recommended) = recommended {
        if let Ask::Dynos(dynos, _) = recommended.ask {
            state.remember(seen.at, dynos, policy.calm);
            state.last_out = Some(seen.at);
        }
        return recommended;
    }
    state.remember(seen.at, asked, policy.calm);
    let covered = state
        .watching_since
        .is_some_and(|since| elapsed(since, seen.at) >= policy.calm)
        && state
            .last_out
            .is_none_or(|t| elapsed(t, seen.at) >= policy.calm);
    let held = state.held_within(seen.at, IN_WINDOW).max(occupied);
    if covered && held < target {
        let to = if totals.busy_known {
            // Zero only when the jobs asked for none over the whole calm window.
            if held == 0 && state.held() > 0 {
                1
            } else {
                held
            }
        } else {
            // One dyno per calm window: the window starts again.
            state.recent.clear();
            state.watching_since = Some(seen.at);
            target - 1
        };
        return out(QueueWhy::Calm, to, Health::Fine);
    }
    Recommendation::hold()
}

/// A count of dynos, rounded up, 0 for nothing (or NaN), saturated at the largest.
fn whole(dynos: f64) -> u32 {
    if dynos.is_nan() || dynos <= 0.0 {
        0
    } else {
        dynos.ceil().min(f64::from(u32::MAX)) as u32
    }
}

/// How fast the oldest job's age grew since the last reading, in seconds a second (up to 1:
/// 1 when no job started meanwhile, below 0 while the queue drains); 0 without an earlier
/// reading of it.
fn growth(state: &QueueState, at: DateTime<Utc>, oldest: Option<Duration>) -> f64 {
    let Some((last_at, Some(last))) = state.last else {
        return 0.0;
    };
    let Some(oldest) = oldest else {
        return 0.0;
    };
    let span = elapsed(last_at, at).as_secs_f64();
    if span <= 0.0 {
        return 0.0;
    }
    ((oldest.as_secs_f64() - last.as_secs_f64()) / span).clamp(-1.0, 1.0)
}

/// The stuck-queue alert after a reading: `at_max` is whether the target is at `max` now.
pub(crate) fn check_stuck(
    state: &mut QueueState,
    policy: &QueuePolicy,
    seen: &QueueReading,
    target: u32,
    at_max: bool,
    now: DateTime<Utc>,
) -> Option<Notice> {
    let totals: Totals = seen.totals();
    let oldest = totals.oldest?;
    let over = oldest >= policy.latency && totals.ready > 0;
    let figures = || {
        format!(
            "oldest job {} old (target {}), {} ready, {}",
            secs(oldest),
            secs(policy.latency),
            totals.ready,
            if totals.busy_known {
                format!("{} busy", totals.busy)
            } else {
                "busy unknown".to_owned()
            }
        )
    };
    if !over {
        state.over_at_max_since = None;
        if !state.stuck {
            return None;
        }
        state.stuck = false;
        return Some(Notice {
            kind: NoticeKind::QueueDrained,
            detail: format!("job queue drained: {}", figures()),
            from: target,
            to: target,
        });
    }
    if !at_max {
        state.over_at_max_since = None;
        return None;
    }
    let since = *state.over_at_max_since.get_or_insert(now);
    if state.stuck || elapsed(since, now) < policy.stuck_after {
        return None;
    }
    state.stuck = true;
    Some(Notice {
        kind: NoticeKind::QueueStuck,
        detail: format!(
            "job queue stuck: over the target at max ({target} dynos) for {}: {}",
            secs(elapsed(since, now)),
            figures()
        ),
        from: target,
        to: target,
    })
}
