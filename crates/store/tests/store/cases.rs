//! What every backend must do.

use std::time::Duration;

use autoscaled_store::{
    Access, AppState, Decision, DecisionKind, Error, HistoryRow, NewOverride, OverrideAction,
    ProcessKey, Pruned, Store,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::Db;

/// A fixed time, to the microsecond (what both backends keep).
fn at(hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, hour, minute, second)
        .single()
        .expect("a valid time")
        + TimeDelta::microseconds(123_456)
}

pub(crate) fn state(app: &str, process: &str, target: u32) -> AppState {
    AppState {
        key: ProcessKey::new(app, process),
        target,
        reason: format!("baseline {target}"),
        baseline: target,
        actual: None,
        outage_since: None,
        decider: r#"{"cooldown_until":null}"#.into(),
        alerts: "{}".into(),
        updated_at: at(12, 0, 0),
    }
}

fn row(app: &str, process: &str, minute: DateTime<Utc>, probes: u32) -> HistoryRow {
    HistoryRow {
        key: ProcessKey::new(app, process),
        minute,
        latency_p50_ms: Some(42.5),
        latency_p95_ms: Some(180.25),
        latency_max_ms: Some(1_203.0),
        probes,
        probes_down: 1,
        probes_slow: 2,
        actual: Some(3),
        target: 4,
        baseline: 2,
        requests: Some(u64::from(u32::MAX) + 7),
        in_flight: Some(1.75),
        queue_ready: Some(u64::from(u32::MAX) + 9),
        queue_busy: Some(40),
        queue_latency_ms: Some(31_250.5),
    }
}

fn minute(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, hour, minute, 0)
        .single()
        .expect("a valid time")
}

pub(crate) async fn schema_is_created_then_reopened(db: Db) {
    let store = db.open(Access::Daemon).await;
    assert_eq!(store.app_states().await.expect("read"), vec![]);
    store
        .save_app_state(&state("shop", "web", 2))
        .await
        .expect("save");
    store.close().await;
    drop(store);

    // Reopening finds the schema current: nothing to migrate, nothing lost.
    for _ in 0..2 {
        let store = db.open(Access::Daemon).await;
        assert_eq!(
            store.app_states().await.expect("read"),
            vec![state("shop", "web", 2)]
        );
        store.close().await;
    }
    let reader = db.open(Access::ReadOnly).await;
    assert_eq!(reader.app_states().await.expect("read").len(), 1);
}

pub(crate) async fn app_state_round_trips(db: Db) {
    let store = db.open(Access::Daemon).await;
    let bare = state("shop", "worker", 1);
    let full = AppState {
        actual: Some(5),
        outage_since: Some(at(11, 58, 30)),
        reason: "down since 11:58: scaled out".into(),
        decider: r#"{"calm_since":"2025-06-01T11:00:00Z","cooldown_until":"2025-06-01T12:05:00Z","steps":[1,2]}"#.into(),
        alerts: r#"{"down":"2025-06-01T11:58:30Z"}"#.into(),
        ..state("shop", "web", u32::MAX)
    };
    let other = state("blog", "web", 0);
    for saved in [&bare, &full, &other] {
        store.save_app_state(saved).await.expect("save");
    }
    assert_eq!(
        store.app_state(&full.key).await.expect("read"),
        Some(full.clone())
    );
    assert_eq!(
        store
            .app_state(&ProcessKey::new("shop", "clock"))
            .await
            .expect("read"),
        None
    );
    // All of them, by app then process type.
    assert_eq!(
        store.app_states().await.expect("read"),
        vec![other.clone(), full.clone(), bare.clone()]
    );

    // A save replaces, including back to none.
    let replaced = AppState {
        actual: None,
        outage_since: None,
        updated_at: at(12, 1, 0),
        ..full.clone()
    };
    store.save_app_state(&replaced).await.expect("save");
    assert_eq!(
        store.app_state(&full.key).await.expect("read"),
        Some(replaced)
    );
    assert_eq!(store.app_states().await.expect("read").len(), 3);
}

pub(crate) async fn decisions_come_newest_first_up_to_the_limit(db: Db) {
    let store = db.open(Access::Daemon).await;
    let decision = |app: &str, minute: u32, to: u32| Decision {
        at: at(12, minute, 0),
        key: ProcessKey::new(app, "web"),
        kind: DecisionKind::Scale,
        from: to.saturating_sub(1),
        to,
        reason: format!("p95 slow, step {to}"),
    };
    // Written out of order: the order read is by time.
    for (minute, to) in [(3, 4), (1, 2), (4, 5), (2, 3), (0, 1)] {
        store
            .record_decision(&decision("shop", minute, to))
            .await
            .expect("record");
    }
    store
        .record_decision(&decision("blog", 5, 9))
        .await
        .expect("record");

    assert_eq!(
        store.decisions("shop", 3).await.expect("read"),
        vec![
            decision("shop", 4, 5),
            decision("shop", 3, 4),
            decision("shop", 2, 3)
        ]
    );
    assert_eq!(store.decisions("shop", 100).await.expect("read").len(), 5);
    assert_eq!(store.decisions("shop", 0).await.expect("read"), vec![]);
    assert_eq!(
        store.decisions("blog", 10).await.expect("read"),
        vec![decision("blog", 5, 9)]
    );
    assert_eq!(store.decisions("none", 10).await.expect("read"), vec![]);

    // An outage and its recovery are kept in the same log, for the charts' markers.
    let alert = |minute: u32, kind: DecisionKind| Decision {
        kind,
        from: 5,
        to: 5,
        reason: "no answer".into(),
        ..decision("shop", minute, 5)
    };
    for (minute, kind) in [(6, DecisionKind::Outage), (7, DecisionKind::Recovery)] {
        store
            .record_decision(&alert(minute, kind))
            .await
            .expect("record");
    }
    assert_eq!(
        store.decisions("shop", 2).await.expect("read"),
        vec![
            alert(7, DecisionKind::Recovery),
            alert(6, DecisionKind::Outage)
        ]
    );
}

pub(crate) async fn history_round_trips_and_a_minute_is_replaced(db: Db) {
    let store = db.open(Access::Daemon).await;
    let without_probes = HistoryRow {
        latency_p50_ms: None,
        latency_p95_ms: None,
        latency_max_ms: None,
        probes: 0,
        probes_down: 0,
        probes_slow: 0,
        actual: None,
        requests: None,
        in_flight: None,
        queue_busy: None,
        ..row("shop", "worker", minute(12, 0), 0)
    };
    let web = row("shop", "web", minute(12, 0), 6);
    store
        .write_history(&[web.clone(), without_probes.clone()])
        .await
        .expect("write");
    store.write_history(&[]).await.expect("an empty batch");
    assert_eq!(
        read_all(&store).await,
        vec![web.clone(), without_probes.clone()]
    );

    // The same minute again, seconds in: it replaces the row, stored at the minute.
    let later = HistoryRow {
        minute: minute(12, 0) + TimeDelta::seconds(59),
        probes: 12,
        latency_p95_ms: None,
        ..web.clone()
    };
    store.write_history(&[later]).await.expect("write");
    assert_eq!(
        read_all(&store).await,
        vec![
            HistoryRow {
                probes: 12,
                latency_p95_ms: None,
                ..web
            },
            without_probes
        ]
    );
}

async fn read_all(store: &Store) -> Vec<HistoryRow> {
    store
        .history("shop", minute(0, 0), minute(23, 0))
        .await
        .expect("read")
}

pub(crate) async fn history_reads_a_half_open_range_of_one_app(db: Db) {
    let store = db.open(Access::Daemon).await;
    let rows: Vec<HistoryRow> = (0..10)
        .flat_map(|m| {
            [
                row("shop", "web", minute(12, m), m),
                row("shop", "worker", minute(12, m), m),
                row("blog", "web", minute(12, m), m),
            ]
        })
        .collect();
    store.write_history(&rows).await.expect("write");

    let read = store
        .history("shop", minute(12, 3), minute(12, 6))
        .await
        .expect("read");
    let expected: Vec<HistoryRow> = (3..6)
        .flat_map(|m| {
            [
                row("shop", "web", minute(12, m), m),
                row("shop", "worker", minute(12, m), m),
            ]
        })
        .collect();
    assert_eq!(read, expected);
    assert_eq!(
        store
            .history("shop", minute(12, 9), minute(12, 9))
            .await
            .expect("read"),
        vec![]
    );
    assert_eq!(
        store
            .history("blog", minute(0, 0), minute(23, 0))
            .await
            .expect("read")
            .len(),
        10
    );
}

pub(crate) async fn prune_deletes_what_is_older(db: Db) {
    let store = db.open(Access::Daemon).await;
    let rows: Vec<HistoryRow> = (0..10)
        .map(|m| row("shop", "web", minute(12, m), m))
        .collect();
    store.write_history(&rows).await.expect("write");
    for m in 0..4 {
        store
            .record_decision(&Decision {
                at: minute(12, m * 3),
                key: ProcessKey::new("shop", "web"),
                kind: DecisionKind::Scale,
                from: m,
                to: m + 1,
                reason: "scale".into(),
            })
            .await
            .expect("record");
    }
    // Decisions at 12:00, 12:03, 12:06, 12:09; history 12:00 to 12:09.
    let pruned = store.prune(minute(12, 4)).await.expect("prune");
    assert_eq!(
        pruned,
        Pruned {
            decisions: 2,
            history: 4,
            instances: 0,
            overrides: 0,
        }
    );
    let left = store
        .history("shop", minute(0, 0), minute(23, 0))
        .await
        .expect("read");
    assert_eq!(left, rows[4..].to_vec());
    assert_eq!(store.decisions("shop", 10).await.expect("read").len(), 2);
    assert_eq!(
        store.prune(minute(12, 4)).await.expect("prune"),
        Pruned::default()
    );
}

pub(crate) async fn read_only_reads_but_does_not_write(db: Db) {
    let daemon = db.open(Access::Daemon).await;
    daemon
        .save_app_state(&state("shop", "web", 2))
        .await
        .expect("save");
    let reader = db.open(Access::ReadOnly).await;
    assert_eq!(
        reader.app_states().await.expect("read"),
        vec![state("shop", "web", 2)]
    );
    let refused = reader.save_app_state(&state("shop", "web", 3)).await;
    assert!(
        matches!(refused, Err(Error::Query(_))),
        "a read-only store wrote: {refused:?}"
    );
    // The daemon goes on writing while the reader is open.
    daemon
        .save_app_state(&state("shop", "web", 4))
        .await
        .expect("save");
    assert_eq!(
        reader.app_states().await.expect("read"),
        vec![state("shop", "web", 4)]
    );
}

const LONG: Duration = Duration::from_secs(600);

pub(crate) async fn lease_goes_to_one_holder_until_it_lapses(db: Db) {
    let store = db.open(Access::Daemon).await;
    let web = ProcessKey::new("shop", "web");

    let first = store
        .try_acquire(&web, "a", LONG)
        .await
        .expect("acquire")
        .expect("a free lease is taken");
    assert_eq!((first.holder.as_str(), first.generation), ("a", 1));
    assert!(first.expires_at > Utc::now() + TimeDelta::seconds(500));

    // Held and running: b cannot take it; a taking it again keeps the generation.
    assert_eq!(
        store.try_acquire(&web, "b", LONG).await.expect("acquire"),
        None
    );
    let again = store
        .try_acquire(&web, "a", LONG)
        .await
        .expect("acquire")
        .expect("its holder takes it again");
    assert_eq!(again.generation, 1);

    // Released, it lapses at once: b takes it over, one generation on.
    store.release("a").await.expect("release");
    let taken = store
        .try_acquire(&web, "b", LONG)
        .await
        .expect("acquire")
        .expect("a released lease is taken");
    assert_eq!((taken.holder.as_str(), taken.generation), ("b", 2));
    assert_eq!(
        store.try_acquire(&web, "a", LONG).await.expect("acquire"),
        None
    );

    // A lease taken with no time to live has lapsed by the next statement, on the database's clock:
    // expiry without sleeping.
    let worker = ProcessKey::new("shop", "worker");
    let lapsing = store
        .try_acquire(&worker, "a", Duration::ZERO)
        .await
        .expect("acquire")
        .expect("a free lease is taken");
    assert_eq!(lapsing.generation, 1);
    let taken = store
        .try_acquire(&worker, "b", LONG)
        .await
        .expect("acquire")
        .expect("a lapsed lease is taken");
    assert_eq!((taken.holder.as_str(), taken.generation), ("b", 2));
    // Taken again by its old holder after lapsing: a new generation too.
    store
        .try_acquire(&worker, "b", Duration::ZERO)
        .await
        .expect("acquire")
        .expect("its holder extends it");
    let back = store
        .try_acquire(&worker, "b", LONG)
        .await
        .expect("acquire")
        .expect("its holder takes it again");
    assert_eq!(back.generation, 3);
}

pub(crate) async fn renew_keeps_only_leases_still_held(db: Db) {
    let store = db.open(Access::Daemon).await;
    let web = ProcessKey::new("shop", "web");
    let worker = ProcessKey::new("shop", "worker");
    let blog = ProcessKey::new("blog", "web");
    for key in [&web, &worker] {
        store
            .try_acquire(key, "a", LONG)
            .await
            .expect("acquire")
            .expect("free");
    }
    store
        .try_acquire(&blog, "a", Duration::ZERO)
        .await
        .expect("acquire")
        .expect("free");

    // A non-holder renews nothing.
    assert_eq!(store.renew("b", LONG).await.expect("renew"), vec![]);
    // The lapsed lease is not renewed, even by its holder: someone may have taken it.
    assert_eq!(
        store.renew("a", LONG).await.expect("renew"),
        vec![web.clone(), worker.clone()]
    );
    store.release("a").await.expect("release");
    assert_eq!(store.renew("a", LONG).await.expect("renew"), vec![]);
    store
        .try_acquire(&web, "b", LONG)
        .await
        .expect("acquire")
        .expect("released");
    assert_eq!(store.renew("b", LONG).await.expect("renew"), vec![web]);
}

pub(crate) async fn instances_heartbeat(db: Db) {
    let store = db.open(Access::Daemon).await;
    store.heartbeat("instance-b").await.expect("heartbeat");
    store.heartbeat("instance-a").await.expect("heartbeat");
    store
        .heartbeat("instance-a")
        .await
        .expect("heartbeat again");
    let live = store.live_instances(LONG).await.expect("read");
    let ids: Vec<&str> = live.iter().map(|i| i.instance_id.as_str()).collect();
    assert_eq!(ids, ["instance-a", "instance-b"]);
    let now = Utc::now();
    for instance in &live {
        // The database's clock here is this machine's: close to ours.
        assert!(
            (instance.last_seen - now).abs() < TimeDelta::seconds(60),
            "{instance:?}"
        );
    }
    // Not seen for a minute from now on: pruned.
    let pruned = store
        .prune(now + TimeDelta::minutes(1))
        .await
        .expect("prune");
    assert_eq!(pruned.instances, 2);
    assert_eq!(store.live_instances(LONG).await.expect("read"), vec![]);
}

/// Not a check but figures (`--nocapture` shows them): the daemon's write path per app and minute,
/// one history batch for its process types and a state save for each, timed over an hour of
/// minutes.
pub(crate) async fn write_path_figures(db: Db) {
    let store = db.open(Access::Daemon).await;
    let processes = ["web", "worker", "clock"];
    let minutes = 60;
    let started = std::time::Instant::now();
    for m in 0..minutes {
        let at = minute(10, 0) + TimeDelta::minutes(m);
        let rows: Vec<HistoryRow> = processes
            .iter()
            .map(|process| row("shop", process, at, 12))
            .collect();
        store.write_history(&rows).await.expect("write");
        for process in processes {
            store
                .save_app_state(&AppState {
                    updated_at: at,
                    ..state("shop", process, 3)
                })
                .await
                .expect("save");
        }
    }
    let per_minute = started.elapsed() / u32::try_from(minutes).expect("small");
    let read = std::time::Instant::now();
    let day = store
        .history("shop", minute(0, 0), minute(23, 0))
        .await
        .expect("read");
    println!(
        "{}: one app, {} process types: {per_minute:?} per minute written (1 batch + {} saves); \
         {} rows read in {:?}",
        db.url().split(':').next().unwrap_or("?"),
        processes.len(),
        processes.len(),
        day.len(),
        read.elapsed()
    );
}

fn new_override(
    process: &str,
    action: OverrideAction,
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> NewOverride {
    NewOverride {
        key: ProcessKey::new("shop", process),
        action,
        from,
        until,
        reason: "Friday launch".into(),
        by: "ada".into(),
        created_at: at(9, 0, 0),
    }
}

pub(crate) async fn overrides_are_recorded_listed_and_ended(db: Db) {
    let daemon = db.open(Access::Daemon).await;
    // A command beside the running daemon records them (on SQLite, on the file the daemon holds).
    let editor = db.open(Access::Edit).await;
    let set = OverrideAction::Set {
        quantity: Some(6),
        min: None,
        max: Some(12),
    };
    let launch = editor
        .add_override(&new_override("web", set, at(10, 0, 0), Some(at(14, 0, 0))))
        .await
        .expect("add an override");
    let pause = editor
        .add_override(&new_override(
            "worker",
            OverrideAction::Pause,
            at(11, 0, 0),
            None,
        ))
        .await
        .expect("add a pause");
    let past = editor
        .add_override(&new_override("web", set, at(7, 0, 0), Some(at(8, 0, 0))))
        .await
        .expect("add a past one");
    assert!(launch.id != pause.id && pause.id != past.id);

    // The daemon reads what is running or coming, oldest-created first, every field kept.
    let current = daemon.current_overrides(at(9, 30, 0)).await.expect("read");
    assert_eq!(current, vec![launch.clone(), pause.clone()]);
    assert_eq!(current[0].spec.action, set);
    assert!(current[0].applies_at(at(10, 0, 0)) && !current[0].applies_at(at(14, 0, 0)));
    assert!(
        current[1].applies_at(at(23, 0, 0)),
        "a pause without an end runs on"
    );
    assert_eq!(
        daemon.current_overrides(at(14, 0, 0)).await.expect("read"),
        vec![pause.clone()]
    );

    // Ending one: once, and only while it has not ended.
    let ended = editor
        .end_override(pause.id, at(12, 0, 0))
        .await
        .expect("end");
    assert_eq!(ended.as_ref().map(|o| o.ended_at), Some(Some(at(12, 0, 0))));
    assert_eq!(ended.as_ref().and_then(|o| o.ends_at()), Some(at(12, 0, 0)));
    assert_eq!(
        editor
            .end_override(pause.id, at(12, 30, 0))
            .await
            .expect("end again"),
        None
    );
    assert_eq!(
        editor
            .end_override(past.id, at(12, 30, 0))
            .await
            .expect("end a past one"),
        None
    );
    assert_eq!(
        editor
            .end_override(999_999, at(12, 30, 0))
            .await
            .expect("end no such"),
        None
    );
    assert_eq!(
        daemon.current_overrides(at(12, 0, 0)).await.expect("read"),
        vec![launch.clone()]
    );
    assert_eq!(daemon.find_override(pause.id).await.expect("find"), ended);

    // A reader cannot record one.
    let reader = db.open(Access::ReadOnly).await;
    assert!(
        reader
            .add_override(&new_override("web", set, at(10, 0, 0), Some(at(11, 0, 0))))
            .await
            .is_err()
    );

    // Pruned once ended for longer than the retention asks.
    let pruned = daemon.prune(at(13, 0, 0)).await.expect("prune");
    assert_eq!(pruned.overrides, 2, "the past one and the ended pause");
    assert_eq!(
        daemon.find_override(launch.id).await.expect("find"),
        Some(launch)
    );
}

pub(crate) async fn an_editor_first_makes_the_schema_and_the_daemon_reads_its_override(db: Db) {
    // No daemon has opened this database: an override recorded first creates the schema.
    let editor = db.open(Access::Edit).await;
    let pause = editor
        .add_override(&new_override(
            "web",
            OverrideAction::Pause,
            at(10, 0, 0),
            Some(at(11, 0, 0)),
        ))
        .await
        .expect("add a pause");
    // The editor took no claim: the daemon starts beside it, finds the schema current and reads
    // the pause.
    let daemon = db.open(Access::Daemon).await;
    assert_eq!(
        daemon.current_overrides(at(9, 0, 0)).await.expect("read"),
        vec![pause.clone()]
    );
    editor.close().await;
    // Another editor beside the running daemon finds the schema made and writes.
    let second = db.open(Access::Edit).await;
    let ended = second
        .end_override(pause.id, at(10, 30, 0))
        .await
        .expect("end")
        .expect("it was running");
    assert_eq!(
        daemon.find_override(pause.id).await.expect("read"),
        Some(ended)
    );
    let reader = db.open(Access::ReadOnly).await;
    assert_eq!(
        reader.current_overrides(at(10, 45, 0)).await.expect("read"),
        vec![],
        "ended at 10:30"
    );
}
