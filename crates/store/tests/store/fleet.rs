//! A fleet on one database: fenced state writes, and `Fleet` coordinators sharing process types
//! with one holder each, taking over from one that stops, and stopping apps whose leases they
//! cannot renew before those can pass on. Real time, short leases: waits are bounded polls.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autoscaled_store::{
    Access, Fence, Fleet, FleetOptions, Grant, Persister, ProcessKey, Store, Tenants, WriterOptions,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Db;
use crate::cases::state;

const LONG: Duration = Duration::from_secs(600);

pub(crate) async fn fenced_writes_stop_once_the_lease_moves_on(db: Db) {
    let store = db.open(Access::Daemon).await;
    let web = ProcessKey::new("shop", "web");
    let first = store.try_acquire(&web, "a", LONG).await.unwrap().unwrap();
    let fence_a = Fence {
        holder: "a".into(),
        generation: first.generation,
    };
    assert!(
        store
            .save_app_state_fenced(&state("shop", "web", 2), &fence_a)
            .await
            .unwrap()
    );
    assert_eq!(store.leases().await.unwrap(), vec![first.clone()]);

    // Handed back: lapsed at once, no longer listed; a's write still lands until someone takes it.
    store.release_one(&web, "a").await.unwrap();
    assert_eq!(store.leases().await.unwrap(), vec![]);
    assert!(
        store
            .save_app_state_fenced(&state("shop", "web", 3), &fence_a)
            .await
            .unwrap()
    );

    let taken = store.try_acquire(&web, "b", LONG).await.unwrap().unwrap();
    assert_eq!(taken.generation, first.generation + 1);
    // The old holder, paused past its lease, writes: refused, the state stays the new holder's.
    assert!(
        !store
            .save_app_state_fenced(&state("shop", "web", 9), &fence_a)
            .await
            .unwrap()
    );
    let fence_b = Fence {
        holder: "b".into(),
        generation: taken.generation,
    };
    assert!(
        store
            .save_app_state_fenced(&state("shop", "web", 4), &fence_b)
            .await
            .unwrap()
    );
    assert_eq!(store.app_state(&web).await.unwrap().unwrap().target, 4);
    // A stale generation of the right holder is refused too, and no lease at all refuses a write.
    let stale_b = Fence {
        holder: "b".into(),
        generation: first.generation,
    };
    assert!(
        !store
            .save_app_state_fenced(&state("shop", "web", 9), &stale_b)
            .await
            .unwrap()
    );
    assert!(
        !store
            .save_app_state_fenced(&state("blog", "web", 1), &fence_b)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .app_state(&ProcessKey::new("blog", "web"))
            .await
            .unwrap(),
        None
    );
    // release_one lets go of that key alone, and only for its holder.
    let blog = ProcessKey::new("blog", "web");
    store.try_acquire(&blog, "b", LONG).await.unwrap().unwrap();
    store.release_one(&blog, "a").await.unwrap();
    store.release_one(&web, "b").await.unwrap();
    let left: Vec<ProcessKey> = store
        .leases()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.key)
        .collect();
    assert_eq!(left, vec![blog]);
}

/// The instances acting on each key, with the token that stops each.
type Actors = HashMap<ProcessKey, Vec<(String, CancellationToken)>>;

/// Who acts on which key, as the coordinators' tenants saw it; any moment with two actors on one
/// key is recorded.
#[derive(Clone, Default)]
struct Record {
    active: Arc<Mutex<Actors>>,
    overlaps: Arc<Mutex<Vec<String>>>,
    holders: Arc<Mutex<BTreeMap<String, BTreeMap<ProcessKey, String>>>>,
}

impl Record {
    /// The keys each instance acts on now.
    fn acting(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for actors in self.active.lock().unwrap().values() {
            for (id, stop) in actors {
                if !stop.is_cancelled() {
                    *counts.entry(id.clone()).or_insert(0) += 1;
                }
            }
        }
        counts
    }
}

struct Recorder {
    id: String,
    record: Record,
}

impl Tenants for Recorder {
    fn start(&mut self, grant: Grant) -> JoinHandle<()> {
        let mut active = self.record.active.lock().unwrap();
        let actors = active.entry(grant.key.clone()).or_default();
        actors.retain(|(_, stop)| !stop.is_cancelled());
        if let Some((other, _)) = actors.first() {
            self.record.overlaps.lock().unwrap().push(format!(
                "{:?}: {} started while {other} acts on it",
                grant.key, self.id
            ));
        }
        actors.push((self.id.clone(), grant.stop.clone()));
        let stop = grant.stop;
        tokio::spawn(async move { stop.cancelled().await })
    }

    fn holders(&mut self, holders: &BTreeMap<ProcessKey, String>) {
        self.record
            .holders
            .lock()
            .unwrap()
            .insert(self.id.clone(), holders.clone());
    }
}

fn quick(id: &str) -> FleetOptions {
    FleetOptions {
        ttl: Duration::from_millis(1500),
        round: Duration::from_millis(100),
        margin: Duration::from_millis(500),
        call_timeout: Duration::from_millis(400),
        ..FleetOptions::new(id)
    }
}

/// A coordinator for `keys` on `store`, with its own writer; cancel the token to stop both.
fn coordinator(
    store: &Store,
    keys: &[ProcessKey],
    options: FleetOptions,
    record: &Record,
) -> (CancellationToken, JoinHandle<()>) {
    let stop = CancellationToken::new();
    let writer_options = WriterOptions {
        instance_id: options.instance_id.clone(),
        ..WriterOptions::default()
    };
    let (persister, _writer) =
        Persister::spawn(store.clone(), writer_options, std::future::pending());
    let tenants = Recorder {
        id: options.instance_id.clone(),
        record: record.clone(),
    };
    let fleet = Fleet::new(store.clone(), persister, keys.to_vec(), options);
    (stop.clone(), tokio::spawn(fleet.run(tenants, stop)))
}

async fn wait_until(what: &str, within: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "still waiting after {within:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn coordinators_share_the_keys_one_holder_each(db: Db) {
    let store = db.open(Access::Daemon).await;
    let keys: Vec<ProcessKey> = (0..6)
        .map(|i| ProcessKey::new(format!("app-{i}"), "web"))
        .collect();
    let record = Record::default();
    let (stop_a, a) = coordinator(&store, &keys, quick("a"), &record);
    // Alone, it takes every key at once.
    wait_until("a acting on all six", 10 * Duration::from_secs(1), || {
        record.acting().get("a") == Some(&6)
    })
    .await;
    let (stop_b, b) = coordinator(&store, &keys, quick("b"), &record);
    let (stop_c, c) = coordinator(&store, &keys, quick("c"), &record);
    let even = BTreeMap::from([
        ("a".to_owned(), 2),
        ("b".to_owned(), 2),
        ("c".to_owned(), 2),
    ]);
    wait_until("two each", 20 * Duration::from_secs(1), || {
        record.acting() == even
    })
    .await;
    wait_until(
        "every instance seeing the lease table",
        10 * Duration::from_secs(1),
        || {
            let holders = record.holders.lock().unwrap();
            ["a", "b", "c"].iter().all(|id| {
                holders.get(*id).is_some_and(|seen| {
                    let mut counts = BTreeMap::new();
                    for holder in seen.values() {
                        *counts.entry(holder.clone()).or_insert(0) += 1;
                    }
                    counts == even
                })
            })
        },
    )
    .await;

    // a stops: its leases are released, b and c take its keys without waiting for them to lapse.
    let stopped = Instant::now();
    stop_a.cancel();
    a.await.unwrap();
    wait_until(
        "b and c acting on all six",
        10 * Duration::from_secs(1),
        || record.acting().values().sum::<usize>() == 6,
    )
    .await;
    assert!(
        stopped.elapsed() < quick("a").ttl,
        "taken over before the leases could lapse: {:?}",
        stopped.elapsed()
    );
    let split = BTreeMap::from([("b".to_owned(), 3), ("c".to_owned(), 3)]);
    wait_until("b and c three each", 10 * Duration::from_secs(1), || {
        record.acting() == split
    })
    .await;
    assert_eq!(
        record.overlaps.lock().unwrap().clone(),
        Vec::<String>::new()
    );
    stop_b.cancel();
    stop_c.cancel();
    b.await.unwrap();
    c.await.unwrap();
    assert_eq!(
        store.leases().await.unwrap(),
        vec![],
        "every lease released at stop"
    );
    assert_eq!(
        store.live_instances(LONG).await.unwrap(),
        vec![],
        "every instance gone"
    );
}

pub(crate) async fn a_lone_instance_goes_on_when_its_database_fails(db: Db) {
    let store = db.open(Access::Daemon).await;
    let keys = vec![ProcessKey::new("shop", "web")];
    let record = Record::default();
    let options = quick("a");
    let ttl = options.ttl;
    let (_stop, _task) = coordinator(&store, &keys, options, &record);
    wait_until("a acting", 10 * Duration::from_secs(1), || {
        record.acting().get("a") == Some(&1)
    })
    .await;
    store.close().await;
    // No one else can take its lease: it goes on from memory, past the point where a fleet
    // member would have stopped.
    tokio::time::sleep(2 * ttl).await;
    assert_eq!(
        record.acting().get("a"),
        Some(&1),
        "a lone instance stopped"
    );
}

/// PostgreSQL only: with SQLite there is never another instance.
pub(crate) async fn a_fleet_member_that_cannot_renew_stops_before_its_lease_can_pass_on(db: Db) {
    let store = db.open(Access::Daemon).await;
    let keys = vec![
        ProcessKey::new("shop", "web"),
        ProcessKey::new("blog", "web"),
    ];
    let record = Record::default();
    // Leases longer than `quick`'s: a counts b as live only if b's heartbeat is younger than
    // ttl − margin at a's last round, and on a loaded machine b's rounds can lag a second; a
    // that missed b would rightly go on alone.
    let slower = |id: &str| FleetOptions {
        ttl: Duration::from_secs(4),
        margin: Duration::from_secs(1),
        ..quick(id)
    };
    let options = slower("a");
    let ttl = options.ttl;
    let (_stop_a, _a) = coordinator(&store, &keys, options, &record);
    // b on connections of its own, which stay up.
    let other = db.open(Access::Daemon).await;
    let (_stop_b, _b) = coordinator(&other, &keys, slower("b"), &record);
    let one_each = BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 1)]);
    wait_until("one key each", 20 * Duration::from_secs(1), || {
        record.acting() == one_each
    })
    .await;
    // The database goes away for a alone: every call it makes fails from now on.
    let lost = Instant::now();
    store.close().await;
    wait_until("a stopping", 10 * Duration::from_secs(1), || {
        !record.acting().contains_key("a")
    })
    .await;
    assert!(
        lost.elapsed() < ttl,
        "stopped {:?} after the database went, the lease runs {ttl:?}",
        lost.elapsed()
    );
    wait_until("b taking a's key over", 10 * Duration::from_secs(1), || {
        record.acting().get("b") == Some(&2)
    })
    .await;
    assert_eq!(
        record.overlaps.lock().unwrap().clone(),
        Vec::<String>::new()
    );
}
