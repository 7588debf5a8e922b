//! One fleet on one database: which instance decides and scales which process type.
//!
//! Every instance runs one [`Fleet`] coordinator. Each round (every [`FleetOptions::round`]) it
//! records a heartbeat, renews the leases it holds, reads the lease table and the live instances,
//! then takes a few free or lapsed leases ([`FleetOptions::takes_per_round`]; all at once when it
//! is the only live instance, as with SQLite) while it holds fewer than its fair share (`ceil(process types / live instances)`), and hands one back when it holds
//! more than `floor(process types / live instances)` while a live instance holds at least two
//! fewer. So instances joining or leaving move a few apps a round, never all at once (each app
//! taken costs a Heroku read at start). A lease that stays free for two rounds is taken even above
//! the fair share, so no app stays unguarded while the live count lags a death.
//!
//! # Safety
//!
//! - A lease's local deadline is the monotonic instant taken just *before* the statement that took
//!   or renewed it was sent, plus the time to live, minus [`FleetOptions::margin`]. The database
//!   sets the expiry on its own clock after receiving the statement, so the local deadline always
//!   falls before any other instance can take the lease, whatever the clocks of the machines say.
//!   At the deadline without a renewal the app's [`Grant::stop`] is cancelled: its tasks stop
//!   (a scale call in flight is dropped) before another instance may start. Database calls are
//!   bounded by [`FleetOptions::call_timeout`] so a hung connection never delays that check by
//!   more than that.
//! - Writes of an app's state carry the lease's generation ([`Persister::fence`]): an instance
//!   paused past its deadline cannot overwrite the state of the one that took over.
//! - Limits: a request already on the wire when its app is stopped may still reach Heroku (the
//!   margin covers the few milliseconds that takes, not a request stuck for seconds in a proxy); a
//!   process frozen for longer than the margin between its deadline check and a call it sends
//!   could act once late (fencing then keeps the state right, not that call).
//! - An instance alone never stops for a database that fails: its apps go on from memory, and a
//!   lease that lapsed meanwhile is taken again without restarting them (or, if another instance
//!   took it, stopped then). With SQLite it is always alone (it holds the file's lock). With
//!   PostgreSQL it is alone when no other instance was live at its last round: a database down
//!   for everyone lets no one take a lease over, so going on is safe. The limit: an instance that
//!   starts while a lone instance is cut off from a database the newcomer still reaches takes the
//!   lapsed leases, and both act until the lone one reaches the database again and stops. A fleet
//!   member (another instance live) stops in time instead: two writers are worse than a pause.
//!
//! On acquiring, the app's state is read fresh from the database (the last holder's outage, alerts
//! sent, cooldowns) and handed to [`Tenants::start`]. On a hand-back the app's tasks are stopped and
//! its last state written before the lease is released; on stop every lease is released and the
//! instance's heartbeat deleted, so the rest of the fleet takes the apps over at once rather than
//! after the time to live, and no longer counts the instance in its shares.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{AppState, Error, Fence, Persister, ProcessKey, Store};

/// How a [`Fleet`] coordinator runs.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// This instance's id: the lease holder and heartbeat name.
    pub instance_id: String,
    /// How long a lease runs unless renewed, on the database's clock.
    pub ttl: Duration,
    /// How often the coordinator renews and rebalances.
    pub round: Duration,
    /// How long before the lease could lapse the instance stops acting on an app it could not
    /// renew.
    pub margin: Duration,
    /// The most leases taken in one round.
    pub takes_per_round: usize,
    /// The longest one database call may take before it counts as failed.
    pub call_timeout: Duration,
}

impl FleetOptions {
    /// The daemon's settings for `instance_id`: leases of 10 s renewed every 2 s, apps stopped 2 s
    /// before their lease could pass on, two takes a round. A `kill -9`'d instance's apps are
    /// taken over within 10 s (the lease) plus a round and a start.
    pub fn new(instance_id: impl Into<String>) -> Self {
        Self {
            instance_id: instance_id.into(),
            ttl: Duration::from_secs(10),
            round: Duration::from_secs(2),
            margin: Duration::from_secs(2),
            takes_per_round: 2,
            call_timeout: Duration::from_millis(1500),
        }
    }
}

/// A lease just taken: what the process type's tasks start from.
#[derive(Debug)]
pub struct Grant {
    /// The process type.
    pub key: ProcessKey,
    /// The lease's generation.
    pub generation: u64,
    /// Its state as the database holds it now (the last holder's), if any.
    pub state: Option<AppState>,
    /// Cancelled when this instance must stop acting on it: lease lost or about to lapse, handed
    /// back, or shutdown. The tasks must end promptly when it is.
    pub stop: CancellationToken,
}

/// What the coordinator drives: the daemon's apps.
pub trait Tenants: Send {
    /// Starts the tasks of a process type whose lease was just taken; the handle ends when they
    /// have (after `grant.stop` is cancelled).
    fn start(&mut self, grant: Grant) -> JoinHandle<()>;

    /// After each round that could read it: the holder of every configured process type held by
    /// any instance (this one included); a missing key is held by none.
    fn holders(&mut self, holders: &BTreeMap<ProcessKey, String>);
}

/// A lease this instance holds, and the tasks acting under it.
struct Held {
    /// When to stop acting unless renewed first.
    valid_until: Instant,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// One instance's share of the fleet's process types: see the module's docs.
pub struct Fleet {
    store: Store,
    persister: Persister,
    options: FleetOptions,
    keys: Vec<ProcessKey>,
    held: BTreeMap<ProcessKey, Held>,
    /// The keys no one held at the last round.
    free_before: BTreeSet<ProcessKey>,
    /// Whether the last database call failed (logged once, until one succeeds).
    down: bool,
    /// Whether no other instance acts beside this one: always with SQLite (it holds the file's
    /// lock), and with PostgreSQL when no other instance was live at the last round. Then a
    /// database that fails does not stop its apps (see the module's docs).
    alone: bool,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("options", &self.options)
            .field("held", &self.held.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Why a database call of a round gave nothing.
enum CallFailed {
    Error(Error),
    TimedOut(Duration),
}

impl std::fmt::Display for CallFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailed::Error(error) => write!(f, "{error}"),
            CallFailed::TimedOut(after) => write!(f, "no answer within {after:?}"),
        }
    }
}

impl Fleet {
    /// A coordinator for the process types `keys` (every instance of a fleet is given the same),
    /// writing states through `persister` under each lease's fence.
    pub fn new(
        store: Store,
        persister: Persister,
        keys: Vec<ProcessKey>,
        options: FleetOptions,
    ) -> Self {
        Self {
            persister,
            options,
            keys,
            held: BTreeMap::new(),
            free_before: BTreeSet::new(),
            down: false,
            alone: store.is_sqlite(),
            store,
        }
    }

    /// Runs rounds until `shutdown` is cancelled, then stops every app's tasks, waits (briefly)
    /// for their last states to be written, and releases every lease.
    pub async fn run(mut self, mut tenants: impl Tenants, shutdown: CancellationToken) {
        let mut next_round = Instant::now();
        loop {
            let deadline = self.held.values().map(|held| held.valid_until).min();
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = sleep_until(deadline.unwrap_or(next_round)), if deadline.is_some() => {
                    self.expire();
                }
                () = sleep_until(next_round) => {
                    self.round(&mut tenants, &shutdown).await;
                    next_round = Instant::now() + self.options.round;
                }
            }
        }
        let held = std::mem::take(&mut self.held);
        for held in held.values() {
            held.stop.cancel();
        }
        for (_, held) in held {
            let _ = timeout(self.options.call_timeout, held.task).await;
        }
        self.persister.settled(self.options.call_timeout).await;
        let holder = self.options.instance_id.clone();
        let released = async {
            self.store.release(&holder).await?;
            self.store.leave(&holder).await
        };
        match self.call(released).await {
            Ok(()) => info!(instance = %holder, "released every lease: the fleet takes over"),
            Err(failed) => {
                warn!(instance = %holder, error = %failed, "cannot release the leases at stop: they lapse by themselves")
            }
        }
    }

    /// One database call, bounded in time.
    async fn call<T>(&self, call: impl Future<Output = Result<T, Error>>) -> Result<T, CallFailed> {
        match timeout(self.options.call_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(CallFailed::Error(error)),
            Err(_) => Err(CallFailed::TimedOut(self.options.call_timeout)),
        }
    }

    /// Notes a failed call (logged once until the database answers again) and stops the apps
    /// whose deadline has come.
    fn trouble(&mut self, failed: &CallFailed) {
        if !self.down {
            self.down = true;
            if self.alone {
                warn!(instance = %self.options.instance_id, error = %failed,
                    "fleet: cannot reach the database; the apps go on from memory");
            } else {
                warn!(instance = %self.options.instance_id, error = %failed,
                    "fleet: cannot reach the database; apps stop before their leases can pass on");
            }
        }
        self.expire();
    }

    /// Stops acting on every app whose lease may be about to lapse.
    fn expire(&mut self) {
        // Alone, a database that fails must not stop scaling and alerts: the apps go on from
        // memory (see the module's docs for why that is safe, and its one limit).
        if self.alone {
            return;
        }
        let now = Instant::now();
        let lapsing: Vec<ProcessKey> = self
            .held
            .iter()
            .filter(|(_, held)| held.valid_until <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in lapsing {
            self.lose(&key, "lease not renewed in time");
        }
    }

    fn lose(&mut self, key: &ProcessKey, why: &str) {
        if let Some(held) = self.held.remove(key) {
            held.stop.cancel();
            warn!(app = %key.app, process = %key.process, instance = %self.options.instance_id,
                "{why}: stopped acting on this app");
        }
    }

    /// The order in which this instance prefers keys: a hash of its id with the key, so instances
    /// starting together go for different apps first.
    fn rank(&self, key: &ProcessKey) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.options.instance_id.hash(&mut hasher);
        key.hash(&mut hasher);
        hasher.finish()
    }

    async fn round(&mut self, tenants: &mut impl Tenants, shutdown: &CancellationToken) {
        let id = self.options.instance_id.clone();
        let ttl = self.options.ttl;
        // A daemon's SQLite file deleted under it is put back before the heartbeat would fail on
        // it: noticed within a round. Not under the call timeout: a copy cut short would only be
        // made again. A failure to put it back shows as the heartbeat's.
        let _ = self.store.restore_file_if_gone().await;
        if let Err(failed) = self.call(self.store.heartbeat(&id)).await {
            return self.trouble(&failed);
        }
        let sent = Instant::now();
        let renewed = match self.call(self.store.renew(&id, ttl)).await {
            Ok(renewed) => renewed,
            Err(failed) => return self.trouble(&failed),
        };
        if std::mem::take(&mut self.down) {
            info!(instance = %id, "fleet: the database answers again");
        }
        let valid_until = self.valid_until(sent);
        let renewed: BTreeSet<ProcessKey> = renewed.into_iter().collect();
        let lost: Vec<ProcessKey> = self
            .held
            .keys()
            .filter(|key| !renewed.contains(*key))
            .cloned()
            .collect();
        for key in lost {
            if self.alone {
                // Lapsed while the file could not be written: taken again under its new
                // generation, its tasks (and what they hold in memory) untouched.
                match self.call(self.store.try_acquire(&key, &id, ttl)).await {
                    Ok(Some(lease)) => {
                        let fence = Fence {
                            holder: id.clone(),
                            generation: lease.generation,
                        };
                        self.persister.fence(key.clone(), fence);
                        continue;
                    }
                    Ok(None) => {}
                    Err(failed) => return self.trouble(&failed),
                }
            }
            self.lose(&key, "lease lost");
        }
        for key in &renewed {
            match self.held.get_mut(key) {
                Some(held) => held.valid_until = valid_until,
                // Taken by a call whose answer never came: no tasks run under it, so let it go.
                None => {
                    if let Err(failed) = self.call(self.store.release_one(key, &id)).await {
                        return self.trouble(&failed);
                    }
                }
            }
        }
        self.expire();
        let leases = match self.call(self.store.leases()).await {
            Ok(leases) => leases,
            Err(failed) => return self.trouble(&failed),
        };
        // Shorter than a lease: a dead instance stops counting (and so lowers no one's share)
        // before its last leases lapse, so they are taken at the first round they are free.
        let within = ttl.saturating_sub(self.options.margin);
        let live = match self.call(self.store.live_instances(within)).await {
            Ok(live) => live,
            Err(failed) => return self.trouble(&failed),
        };
        let holders: BTreeMap<ProcessKey, String> = leases
            .into_iter()
            .filter(|lease| self.keys.contains(&lease.key))
            .map(|lease| (lease.key, lease.holder))
            .collect();
        tenants.holders(&holders);
        self.alone =
            self.store.is_sqlite() || live.iter().all(|instance| instance.instance_id == id);

        let mut counts: HashMap<String, usize> = live
            .into_iter()
            .map(|instance| (instance.instance_id, 0))
            .collect();
        counts.insert(id.clone(), 0);
        for holder in holders.values() {
            *counts.entry(holder.clone()).or_default() += 1;
        }
        let share = Share::new(self.keys.len(), counts.len());
        let mut free: Vec<ProcessKey> = self
            .keys
            .iter()
            .filter(|key| !holders.contains_key(*key) && !self.held.contains_key(*key))
            .cloned()
            .collect();
        free.sort_by_key(|key| self.rank(key));
        let below_share = share.fair.saturating_sub(self.held.len());
        // Alone (SQLite, or the fleet's first instance), nothing is to be shared: every app at
        // once, as a single daemon starts.
        let limit = if counts.len() == 1 {
            usize::MAX
        } else {
            self.options.takes_per_round
        };
        let mut takes = Vec::new();
        for key in &free {
            if takes.len() >= limit {
                break;
            }
            if takes.len() < below_share || self.free_before.contains(key) {
                takes.push(key.clone());
            }
        }
        self.free_before = free.into_iter().collect();
        for key in takes {
            self.free_before.remove(&key);
            if let Err(failed) = self.take(&key, tenants, shutdown).await {
                return self.trouble(&failed);
            }
        }
        let mine = self.held.len();
        let someone_short = counts
            .iter()
            .any(|(holder, &count)| *holder != id && count + 1 < mine && count < share.fair);
        let give = (mine > share.floor && someone_short)
            .then(|| self.held.keys().max_by_key(|key| self.rank(key)).cloned())
            .flatten();
        if let Some(key) = give
            && let Err(failed) = self.hand_back(&key).await
        {
            self.trouble(&failed);
        }
    }

    fn valid_until(&self, sent: Instant) -> Instant {
        sent + self.options.ttl.saturating_sub(self.options.margin)
    }

    /// Tries to take `key`; on success reads its state and starts its tasks.
    async fn take(
        &mut self,
        key: &ProcessKey,
        tenants: &mut impl Tenants,
        shutdown: &CancellationToken,
    ) -> Result<(), CallFailed> {
        let id = self.options.instance_id.clone();
        let sent = Instant::now();
        let Some(lease) = self
            .call(self.store.try_acquire(key, &id, self.options.ttl))
            .await?
        else {
            return Ok(());
        };
        let state = match self.call(self.store.app_state(key)).await {
            Ok(state) => state,
            Err(failed) => {
                // Without the last holder's state the app would start afresh (a second outage
                // alert, a cut during an outage): give the lease back and try again later.
                let _ = self.call(self.store.release_one(key, &id)).await;
                return Err(failed);
            }
        };
        self.persister.fence(
            key.clone(),
            Fence {
                holder: id.clone(),
                generation: lease.generation,
            },
        );
        let stop = shutdown.child_token();
        info!(app = %key.app, process = %key.process, instance = %id, generation = lease.generation,
            "lease taken: acting on this app");
        let task = tenants.start(Grant {
            key: key.clone(),
            generation: lease.generation,
            state,
            stop: stop.clone(),
        });
        self.held.insert(
            key.clone(),
            Held {
                valid_until: self.valid_until(sent),
                stop,
                task,
            },
        );
        Ok(())
    }

    /// Stops `key`'s tasks, lets its last state be written, and releases its lease.
    async fn hand_back(&mut self, key: &ProcessKey) -> Result<(), CallFailed> {
        let Some(held) = self.held.remove(key) else {
            return Ok(());
        };
        held.stop.cancel();
        let _ = timeout(self.options.call_timeout, held.task).await;
        self.persister.settled(self.options.call_timeout).await;
        let id = self.options.instance_id.clone();
        self.call(self.store.release_one(key, &id)).await?;
        info!(app = %key.app, process = %key.process, instance = %id,
            "handed the app back to even out the fleet");
        Ok(())
    }
}

/// An instance's share of the fleet's process types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Share {
    /// `ceil(keys / instances)`: taken up to this.
    fair: usize,
    /// `floor(keys / instances)`: handed back down to this when another instance is short.
    floor: usize,
}

impl Share {
    fn new(keys: usize, instances: usize) -> Self {
        let instances = instances.max(1);
        Self {
            fair: keys.div_ceil(instances),
            floor: keys / instances,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Share;

    #[test]
    fn shares_round_up_to_take_and_down_to_give() {
        assert_eq!(Share::new(6, 3), Share { fair: 2, floor: 2 });
        assert_eq!(Share::new(7, 3), Share { fair: 3, floor: 2 });
        assert_eq!(Share::new(2, 3), Share { fair: 1, floor: 0 });
        assert_eq!(Share::new(5, 0), Share { fair: 5, floor: 5 });
    }
}
