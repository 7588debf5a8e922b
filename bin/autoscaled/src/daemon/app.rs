//! The tasks that keep one app's process type at its target; the diagram of their data flow is
//! in [`super`].
//!
//! The decision task owns the [`Decider`], polls the probes (a stream) and its timer itself, and
//! never waits on the network; the actuator owns every
//! Platform API call; a newer target interrupts its scale call or reconcile read in flight, so a
//! fail-safe never queues behind a slow or retrying call.
//!
//! The start reads the app and its formation; when Heroku has not answered within
//! [`START_GRACE`], probes and alerts start without it (the read goes on), and the actuator
//! waits for the answer before its first call: an outage during a Heroku incident is still
//! alerted, and scaling catches up once the API answers.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use heroku_api::{Client, FormationUpdate, ReadPace};
use policy::{Action, Decider, Event, NoticeKind, Reason};
use probe::{Class, DownReason, LocalFault, ProbeResult, Prober, RollingStats};
use status::{AlertView, Board, ChangeView, DecisionView, ProbeView};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::alerts::Alerter;
use super::minutes::{Minutes, Quantities};
use super::preboot::Refused;
use super::state::Keeper;
use crate::clock::Clock;
use crate::config::AppSettings;

/// The schedule is re-evaluated at least this often, even with no change due (level-triggered).
const MAX_TICK: Duration = Duration::from_secs(60);
/// How often the decision task is handed the router-log figures: the drain's panic window is 6 s,
/// so a sudden jump is seen within seconds, as Knative's autoscaler does.
const TRAFFIC_EVERY: Duration = Duration::from_secs(2);
/// How often it is handed the router lines' health: every second, for the fail-safe is promised
/// within 10 s of the first failing line, and an app that served well up to then needs 9 s of
/// failing lines before 90% of its 10 s window fail.
const HEALTH_EVERY: Duration = Duration::from_secs(1);
/// When the actuator tries a failed scale call (already retried by the client) again, or one that
/// Heroku answered with another quantity than asked: 30 s after each, without end, until a call
/// sets the target or a newer target supersedes it.
const SCALE_RETRY_DELAY: Duration = Duration::from_secs(30);
const SCALE_RETRY: backon::ConstantBuilder = backon::ConstantBuilder::new()
    .with_delay(SCALE_RETRY_DELAY)
    .without_max_times();
/// How long an app's start waits for Heroku's first answer before probing and alerting without
/// it: an outage that begins while the Platform API is down (Heroku's incidents make both at once)
/// is exactly when people need the alert. Scaling waits for the answer, never guesses.
const START_GRACE: Duration = Duration::from_secs(1);
/// The longest wait between start reads that got no answer at all (no connection, a timeout):
/// they cost no request budget, and once the API answers, scaling must catch up within seconds.
const UNANSWERED_START_RETRY: Duration = Duration::from_secs(2);
/// The window of probe results summarised in alerts, and the most results kept for it: all of 15
/// minutes at a 10 s interval, the last 2 minutes at 1 s; 5 KB an app whatever the interval.
const STATS_WINDOW: Duration = Duration::from_secs(15 * 60);
const STATS_CAP: usize = 128;

/// What one app's decision task is given: it uses most of it, and hands each of its helpers (the
/// start's read, the traffic feed, the actuator) the few handles that helper uses.
#[derive(Debug, Clone)]
pub(super) struct AppContext {
    /// Shared, not copied: each of the app's tasks holds it, and a schedule's parsed rules cost
    /// kilobytes, which 1,000 apps would pay several times over.
    pub(super) settings: Arc<AppSettings>,
    pub(super) client: Client,
    pub(super) clock: Clock,
    pub(super) dry_run: bool,
    pub(super) alerter: Alerter,
    pub(super) board: Board,
    pub(super) index: usize,
    pub(super) shutdown: CancellationToken,
    /// What every app's prober shares: the TLS settings and the system's root certificates,
    /// loaded once rather than once an app.
    pub(super) probe_client: probe::Client,
    /// The router-log drains the status listener feeds; handed to [`traffic_feed`], which reads
    /// them and never awaits them.
    pub(super) drains: status::Drains,
    /// Writes to the database without waiting.
    pub(super) persister: store::Persister,
    /// The overrides and pauses running or coming, every app's, re-read every lease round.
    pub(super) overrides: tokio::sync::watch::Receiver<super::overrides::Current>,
    /// What the database held for this app at start.
    pub(super) stored: Option<store::AppState>,
}

/// What Heroku said about the app at start.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observed {
    pub(super) maintenance: bool,
    pub(super) actual: u32,
}

/// Why an app cannot be run at all.
#[derive(Debug, thiserror::Error)]
pub(super) enum StartError {
    /// Credentials rejected, app or process type not found.
    #[error(transparent)]
    Heroku(heroku_api::SnapshotError),
    #[error("the probe of app \"{app}\" cannot start: {source}")]
    Probe { app: String, source: probe::Error },
}

/// The store's key of an app's process type.
pub(super) fn key(settings: &AppSettings) -> store::ProcessKey {
    store::ProcessKey::new(&settings.name, &settings.process)
}

/// The configured apps, started and stopped by the fleet coordinator as this instance takes and
/// loses their leases.
#[derive(Debug)]
pub(super) struct Apps {
    contexts: Vec<AppContext>,
    fatal: mpsc::Sender<StartError>,
    instance: String,
}

impl Apps {
    pub(super) fn new(
        contexts: Vec<AppContext>,
        fatal: mpsc::Sender<StartError>,
        instance: String,
    ) -> Apps {
        Apps {
            contexts,
            fatal,
            instance,
        }
    }
}

impl store::Tenants for Apps {
    fn start(&mut self, grant: store::Grant) -> tokio::task::JoinHandle<()> {
        let Some(template) = self.contexts.iter().find(|c| key(&c.settings) == grant.key) else {
            return tokio::spawn(async {});
        };
        let ctx = AppContext {
            shutdown: grant.stop,
            stored: grant.state,
            ..template.clone()
        };
        let fatal = self.fatal.clone();
        tokio::spawn(async move {
            let mut read = tokio::spawn({
                let (client, settings) = (ctx.client.clone(), ctx.settings.clone());
                let (clock, probe_client) = (ctx.clock, ctx.probe_client.clone());
                let shutdown = ctx.shutdown.clone();
                async move { read_at_start(&client, &settings, clock, &probe_client, &shutdown).await }
            });
            tokio::select! {
                answered = &mut read => {
                    match answered {
                        Ok(Ok(Some(observed))) => run(ctx, Start::Known(observed)).await,
                        Ok(Ok(None)) | Err(_) => {}
                        Ok(Err(error)) => start_failed(&ctx, error, &fatal).await,
                    }
                }
                () = sleep(START_GRACE) => {
                    let (app, process) = (&ctx.settings.name, &ctx.settings.process);
                    warn!(app = %app, process = %process,
                        "Heroku's API has not answered yet: probing and alerting now, scaling once it answers");
                    run(ctx, Start::Pending { read, fatal }).await;
                }
            }
        })
    }

    fn holders(&mut self, holders: &std::collections::BTreeMap<store::ProcessKey, String>) {
        for ctx in &self.contexts {
            let holder = holders.get(&key(&ctx.settings)).cloned();
            let elsewhere = holder.as_ref().is_some_and(|h| *h != self.instance);
            ctx.board.update(ctx.index, |s| {
                s.holder = holder;
                s.elsewhere = elsewhere;
            });
        }
    }
}

/// A start that cannot go on: the key refused, the app or process type unknown, the probe
/// unusable. Ends the process (exit 1) through `fatal`.
async fn start_failed(ctx: &AppContext, error: StartError, fatal: &mpsc::Sender<StartError>) {
    // Queued before the notifier stops: it still sends what is queued, so a revoked key reaches
    // people rather than only a crashed process's log.
    if let StartError::Heroku(heroku_api::SnapshotError::CredentialsRejected { source, .. }) =
        &error
    {
        let now = ctx.clock.now();
        ctx.alerter.credentials_rejected(&ctx.settings, source, now);
    }
    let _ = fatal.send(error).await;
}

/// What an app's tasks start from.
#[derive(Debug)]
pub(super) enum Start {
    /// Heroku answered the start's read.
    Known(Observed),
    /// It had not answered within [`START_GRACE`]: the read goes on in `read`, probes and alerts
    /// start meanwhile, and scaling waits for its answer; a final one (the key refused, the
    /// app or process type unknown) still ends the process through `fatal`.
    Pending {
        read: tokio::task::JoinHandle<Result<Option<Observed>, StartError>>,
        fatal: mpsc::Sender<StartError>,
    },
}

/// The app's prober, if it is probed. It measures on the real clock: a sped-up demo's limits
/// shrink with it, and its simulated app's own time (`Server-Timing`) stands for the loopback's.
fn prober(
    settings: &AppSettings,
    clock: Clock,
    client: &probe::Client,
) -> Result<Option<Prober>, probe::Error> {
    let Some(probe) = &settings.probe else {
        return Ok(None);
    };
    let config = probe.probe_config(|d| clock.real_duration(d));
    let prober = Prober::with_client(config, client.clone())?;
    Ok(Some(if clock.is_fast() {
        prober.server_timed()
    } else {
        prober
    }))
}

/// Reads the app and its formation, retrying through network trouble until it gets an answer or is
/// told to stop; credentials rejected and unknown apps are final.
async fn read_at_start(
    client: &Client,
    settings: &AppSettings,
    clock: Clock,
    probe_client: &probe::Client,
    shutdown: &CancellationToken,
) -> Result<Option<Observed>, StartError> {
    let app = &settings.name;
    let process = &settings.process;
    if let Err(source) = prober(settings, clock, probe_client) {
        return Err(StartError::Probe {
            app: app.clone(),
            source,
        });
    }
    // 1 s doubling to a minute, without end: only a final answer or a stop ends the start.
    let backoff = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(60))
        .without_max_times();
    let attempt = || async {
        let snapshot = client.snapshot(app, process).await?;
        Ok(Observed {
            maintenance: snapshot.maintenance,
            actual: snapshot.quantity,
        })
    };
    let observed = backon::Retryable::retry(attempt, backoff)
        .when(|error: &heroku_api::SnapshotError| !error.is_final())
        .adjust(|error, wait| {
            // Unanswered calls spend no budget: tried again soon, so scaling catches up within
            // seconds of the API answering.
            let unanswered = matches!(
                error,
                heroku_api::SnapshotError::Transient(heroku_api::Error::Transport { .. })
            );
            wait.map(|wait| if unanswered { wait.min(UNANSWERED_START_RETRY) } else { wait })
        })
        .notify(|transient, wait| {
            warn!(app = %app, process = %process, error = %transient, retry_in = ?wait, "cannot reach Heroku at start; retrying");
        });
    tokio::select! {
        _ = shutdown.cancelled() => Ok(None),
        observed = observed => match observed {
            Ok(observed) => Ok(Some(observed)),
            Err(fatal) if fatal.is_final() => Err(StartError::Heroku(fatal)),
            // Only after usize::MAX tries: the backoff has no end of its own.
            Err(_) => Ok(None),
        },
    }
}

/// Runs the app's tasks until shutdown, starting from what was observed, or without it until
/// Heroku answers.
pub(super) async fn run(ctx: AppContext, start: Start) {
    let settings = &ctx.settings;
    let (observed, mut pending, fatal) = match start {
        Start::Known(observed) => (Some(observed), None, None),
        Start::Pending { read, fatal } => (None, Some(read), Some(fatal)),
    };
    // A formation above the baseline is stepped in, not cut; without a probe nothing would ever
    // step it in, so then the schedule alone decides.
    let observed_quantity = settings
        .probe
        .as_ref()
        .and(observed.map(|observed| observed.actual));
    // A stored state wins: a restart never cuts an app that was out of the baseline on purpose
    // (stepped out, failed over, in an outage), and an open outage stays open without a second
    // alert.
    let mut decider = decider_for(
        settings,
        Decider::restore(
            settings.policy(),
            settings.schedule.clone(),
            super::state::stored_decider(settings, ctx.stored.as_ref()),
            observed_quantity,
            ctx.clock.now(),
        ),
    );
    let maintenance = observed.is_some_and(|observed| observed.maintenance);
    if maintenance {
        // Known to the decider before any probe can reach it: as an event it could come after
        // a probe, and with `failures = 1` that probe trips the fail-safe of an app shut on
        // purpose. A fresh decider answers nothing; a restored one may close an outage.
        for action in decider.handle(Event::Maintenance(true), ctx.clock.now()) {
            if let Action::Note(text) = action {
                info!(app = %settings.name, process = %settings.process, "{text}");
            }
        }
    }
    // Obeyed from the first decision: a pause recorded before the start stops its scale too.
    let mut overrides_rx = ctx.overrides.clone();
    let mut mine = super::overrides::for_key(&overrides_rx.borrow_and_update(), &key(settings));
    for action in decider.handle(Event::Overrides(mine.clone()), ctx.clock.now()) {
        if let Action::Note(text) = action {
            info!(app = %settings.name, process = %settings.process, "{text}");
        }
    }
    let (paused_tx, paused_rx) = watch::channel(decider.paused());
    let (events_tx, mut events_rx) = mpsc::channel::<Event>(16);
    // Unbounded, so the actuator never waits on this task nor loses an answer: it sends one per
    // Platform API call, which the request budget holds to a few a minute.
    let (answers_tx, mut answers_rx) = mpsc::unbounded_channel::<Answer>();
    let (target_tx, target_rx) = watch::channel(decider.target());
    // The quantity Heroku last reported: known here alone, from the start's read and the
    // actuator's answers, and written to the board, never read back from it.
    let mut actual = observed.map(|observed| observed.actual);
    ctx.board.update(ctx.index, |s| s.actual = actual);
    ctx.board.beat(ctx.index);
    info!(
        app = %settings.name, process = %settings.process, actual,
        baseline = decider.snapshot().baseline, maintenance, "started"
    );
    let reason = Reason::Schedule {
        baseline: decider.snapshot().baseline,
    };
    let mut keeper = Keeper::start(
        ctx.settings.clone(),
        ctx.persister.clone(),
        ctx.alerter.clone(),
        ctx.stored.as_ref(),
        &decider,
        reason.to_string(),
    );
    keeper.save(&decider, actual, ctx.clock.now(), true);
    ctx.board.update(ctx.index, |s| {
        s.target = decider.target();
        s.outage_since = decider.snapshot().outage_since;
    });
    if let Some(actual) = actual {
        log_start_scale(&ctx, &mut keeper, actual, decider.target(), &reason);
    }

    let mut helpers = tokio::task::JoinSet::new();
    if settings.traffic.is_some() && ctx.drains.is_on() {
        helpers.spawn(traffic_feed(
            ctx.drains.clone(),
            ctx.settings.clone(),
            ctx.clock,
            ctx.shutdown.clone(),
            events_tx.clone(),
        ));
    }
    if settings.queue.is_some() {
        let feed = super::queue_feed::QueueFeed {
            settings: ctx.settings.clone(),
            clock: ctx.clock,
            alerter: ctx.alerter.clone(),
            events: events_tx.clone(),
            shutdown: ctx.shutdown.clone(),
        };
        helpers.spawn(feed.run());
    }
    let (down_tx, down_rx) = watch::channel(false);
    let actuator = Actuator {
        client: ctx.client.clone(),
        settings: ctx.settings.clone(),
        clock: ctx.clock,
        alerter: ctx.alerter.clone(),
        dry_run: ctx.dry_run,
        shutdown: ctx.shutdown.clone(),
        answers: answers_tx,
        down: down_rx,
        paused: paused_rx,
        preboot: std::sync::Mutex::default(),
        maintenance,
    };
    let (actual_tx, actual_rx) = oneshot::channel();
    let mut actual_tx = actual.is_none().then_some(actual_tx);
    helpers.spawn(actuator.run(actual.ok_or(actual_rx), target_rx));
    let mut minutes = Minutes::new(key(settings));
    let mut stats = RollingStats::new(STATS_WINDOW, STATS_CAP);
    // Checked by the config and again at start (`read_at_start`): a probe that cannot start
    // never gets this far.
    let prober = prober(settings, ctx.clock, &ctx.probe_client).unwrap_or_else(|e| {
        error!(app = %settings.name, process = %settings.process, error = %e, "cannot start the probe");
        None
    });
    // Polled in this task, not on one of its own: a task and its results' channel cost about
    // 5 KB an app (heaptrack, 1,000 apps: docs/benchmarks.md). The stream holds the probe in
    // flight, so the other branches never abandon it, and this task still never waits on it.
    let probes = futures_util::stream::iter(prober).flat_map(Prober::every_interval);
    let mut probes = std::pin::pin!(probes);
    let mut faults = LocalFaults::default();
    drop(events_tx);
    let (mut next, mut search_at) = (None, chrono::DateTime::<chrono::Utc>::MIN_UTC);
    // The schedule's timer is kept here rather than in a task of its own: a task and its channel
    // sender cost about 1.5 KB an app (heaptrack, 1,000 apps: docs/benchmarks.md).
    let tick = sleep(tick_wait(&ctx));
    tokio::pin!(tick);
    let edge = sleep(edge_wait(&ctx, &mine));
    tokio::pin!(edge);
    loop {
        let event = tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            changed = overrides_rx.changed() => {
                if changed.is_err() { break }
                let now_mine = super::overrides::for_key(&overrides_rx.borrow_and_update(), &key(settings));
                if now_mine == mine { continue }
                mine = now_mine;
                Event::Overrides(mine.clone())
            }
            // An override or pause starts or ends: the decider sees it at that instant.
            () = &mut edge => Event::Tick,
            () = &mut tick => {
                tick.as_mut().reset(Instant::now() + tick_wait(&ctx));
                close_minute(&ctx, &mut minutes, actual, &decider);
                Event::Tick
            }
            Some(probed) = probes.next() => {
                // A probe this machine could not make says nothing about the app: no event, so
                // it can never count as down, trip the fail-safe or send an outage alert.
                let Some(result) = faults.sift(&ctx, probed) else { continue };
                stats.record(&result);
                down_tx.send_if_modified(|down| { let now_down = result.class == Class::Down; std::mem::replace(down, now_down) != now_down });
                let event = probe_event(&ctx, &result);
                if let Event::Probe { class, detail } = &event {
                    debug!(app = %settings.name, process = %settings.process, class = ?class, "probe: {detail}");
                }
                // Closes the minute before, if this probe starts a new one.
                close_minute(&ctx, &mut minutes, actual, &decider);
                record_probe(&ctx, &mut minutes, &result, &event);
                event
            }
            Some(event) = events_rx.recv() => {
                close_minute(&ctx, &mut minutes, actual, &decider);
                if let Event::Queue(reading) = &event {
                    minutes.queue(reading);
                    ctx.board.record_queue(ctx.index, queue_view(reading));
                }
                event
            }
            Some(answer) = answers_rx.recv() => match answer {
                Answer::Scaled { quantity, as_asked } => {
                    ctx.board.count_scale_call(ctx.index, as_asked);
                    actual = Some(quantity);
                    ctx.board.update(ctx.index, |s| s.actual = actual);
                    continue;
                }
                Answer::ScaleFailed => {
                    ctx.board.count_scale_call(ctx.index, false);
                    continue;
                }
                Answer::Formation(quantity) => {
                    actual = Some(quantity);
                    ctx.board.update(ctx.index, |s| s.actual = actual);
                    continue;
                }
                Answer::Maintenance(maintenance) => {
                    close_minute(&ctx, &mut minutes, actual, &decider);
                    Event::Maintenance(maintenance)
                }
            },
            answered = start_read(&mut pending) => {
                pending = None;
                let observed = match answered {
                    Ok(Ok(Some(observed))) => observed,
                    Ok(Ok(None)) | Err(_) => break,
                    Ok(Err(error)) => {
                        if let Some(fatal) = &fatal {
                            start_failed(&ctx, error, fatal).await;
                        }
                        break;
                    }
                };
                // Started blind and fresh: a formation found above the target is taken as a start
                // would have taken it (stepped in, never cut), unless an outage already raised it.
                let fresh = ctx.stored.is_none() && decider.snapshot().outage_since.is_none();
                if fresh && settings.probe.is_some() && observed.actual > decider.target() {
                    let (policy, schedule) = (settings.policy(), settings.schedule.clone());
                    decider = decider_for(settings, Decider::new(policy, schedule, ctx.clock.now(), Some(observed.actual)));
                    let _ = target_tx.send(decider.target());
                }
                actual = Some(observed.actual);
                ctx.board.update(ctx.index, |s| s.actual = actual);
                info!(app = %settings.name, process = %settings.process, actual = observed.actual,
                    target = decider.target(), maintenance = observed.maintenance, "Heroku answered: scaling goes on");
                log_start_scale(&ctx, &mut keeper, observed.actual, decider.target(), &reason);
                if let Some(actual_tx) = actual_tx.take() {
                    let _ = actual_tx.send(observed.actual);
                }
                Event::Maintenance(observed.maintenance)
            }
            else => break,
        };
        let now = ctx.clock.now();
        let actions = decider.handle(event, now);
        let decided = actions.iter().any(|a| !matches!(a, Action::Note(_)));
        for action in actions {
            match action {
                Action::Scale { from, to, reason } => {
                    info!(app = %settings.name, process = %settings.process, from, to, reason = %reason, "scale");
                    keeper.scaled(now, from, to, reason.to_string());
                    ctx.board.record_decision(
                        ctx.index,
                        DecisionView {
                            at: now,
                            from,
                            to,
                            reason: reason.to_string(),
                        },
                    );
                    let _ = target_tx.send(to);
                }
                Action::Alert(notice) => {
                    keeper.alerted(now, &notice);
                    ctx.board.record_alert(
                        ctx.index,
                        AlertView {
                            at: now,
                            recovery: matches!(
                                notice.kind,
                                NoticeKind::Recovery | NoticeKind::QueueDrained
                            ),
                            from: notice.from,
                            to: notice.to,
                            detail: notice.detail.clone(),
                        },
                    );
                    let figures = stats.summary(Instant::now());
                    // Written as the target is handed to the actuator, before its call: the
                    // alert says what Heroku is known to have done so far. Started blind,
                    // nothing is called before Heroku's first answer, so no word from it yet (a
                    // hanging API) reads as unreachable too.
                    let reachable = match ctx.client.reachable() {
                        None if pending.is_some() => Some(false),
                        reachable => reachable,
                    };
                    let progress = super::alerts::scale_progress(reachable, actual, notice.to);
                    ctx.alerter
                        .decision(&ctx.settings, notice, now, &figures, progress);
                }
                Action::Note(text) => {
                    info!(app = %settings.name, process = %settings.process, "{text}")
                }
                other => {
                    warn!(app = %settings.name, process = %settings.process, action = ?other, "an action this version does not carry out")
                }
            }
        }
        let snapshot = decider.snapshot();
        // Searched again only once it has passed: a cron search (nine years ahead when the
        // baseline never changes) at every probe cost more than the rest of the event.
        if now >= search_at {
            next = settings.schedule.next_change_after(now);
            search_at = next
                .as_ref()
                .map_or(chrono::DateTime::<chrono::Utc>::MAX_UTC, |c| c.at);
        }
        ctx.board.update(ctx.index, |s| {
            s.baseline = snapshot.baseline;
            s.target = snapshot.target;
            s.outage_since = snapshot.outage_since;
            s.maintenance = snapshot.maintenance;
            s.next_change = next.as_ref().map(|c| ChangeView {
                at: c.at,
                quantity: c.quantity,
            });
        });
        ctx.board.beat(ctx.index);
        keeper.save(&decider, actual, now, decided);
        paused_tx.send_if_modified(|paused| {
            std::mem::replace(paused, decider.paused()) != decider.paused()
        });
        edge.as_mut().reset(Instant::now() + edge_wait(&ctx, &mine));
    }
    // Saved whatever the last save's age: the alerts sent since then must hold through a restart.
    keeper.save(&decider, actual, ctx.clock.now(), true);
    ctx.shutdown.cancel();
    while helpers.join_next().await.is_some() {}
}

/// The decider with the app's job-queue rules, for a worker with `[apps.queue]`.
fn decider_for(settings: &AppSettings, decider: Decider) -> Decider {
    match &settings.queue {
        Some(queue) => decider.with_queue(queue.policy()),
        None => decider,
    }
}

/// A reading of a worker's queues as the status page shows it.
fn queue_view(reading: &policy::QueueReading) -> status::QueueView {
    let totals = reading.totals();
    status::QueueView {
        at: reading.at,
        ready: totals.ready,
        latency: totals.oldest,
        busy: totals.busy_known.then_some(totals.busy),
        queues: reading
            .queues
            .iter()
            .map(|q| status::QueueLine {
                name: q.name.clone(),
                depth: q.depth,
                latency: q.latency,
                busy: q.busy,
                due: q.due,
            })
            .collect(),
    }
}

/// The start's read still under way, if any; never ready without one.
async fn start_read(
    pending: &mut Option<tokio::task::JoinHandle<Result<Option<Observed>, StartError>>>,
) -> Result<Result<Option<Observed>, StartError>, tokio::task::JoinError> {
    match pending {
        Some(read) => read.await,
        None => std::future::pending().await,
    }
}

/// Logs the start's target against the quantity Heroku reported, like any other decision, so
/// every change of a formation has a line with its reason.
fn log_start_scale(
    ctx: &AppContext,
    keeper: &mut Keeper,
    actual: u32,
    target: u32,
    schedule: &Reason,
) {
    if actual == target {
        return;
    }
    // The start's decision is the schedule's (or the stored one's).
    let reason = match &ctx.stored {
        Some(stored) => format!("restored: {}", stored.reason),
        None => schedule.to_string(),
    };
    keeper.scaled(ctx.clock.now(), actual, target, reason.clone());
    let (app, process) = (&ctx.settings.name, &ctx.settings.process);
    info!(app = %app, process = %process, from = actual, to = target, reason = %reason, "scale");
}

/// The app's probes that this machine could not make (no descriptor, memory or local port left):
/// counted in `/metrics`, logged once when a streak of them starts and once when it ends.
#[derive(Debug, Default)]
struct LocalFaults {
    /// Faults since the last probe made.
    streak: u64,
}

impl LocalFaults {
    /// The result of a probe that was made; a local fault is counted, logged at the start of its
    /// streak, and goes no further.
    fn sift(
        &mut self,
        ctx: &AppContext,
        probed: Result<ProbeResult, LocalFault>,
    ) -> Option<ProbeResult> {
        let (app, process) = (&ctx.settings.name, &ctx.settings.process);
        match probed {
            Ok(result) => {
                if self.streak > 0 {
                    info!(app = %app, process = %process, not_made = self.streak, "probes are made again after a local fault");
                    self.streak = 0;
                }
                Some(result)
            }
            Err(fault) => {
                ctx.board.count_local_fault(ctx.index);
                if self.streak == 0 {
                    warn!(app = %app, process = %process, fault = fault.label(), "probe not made, a local fault and not the app's: {fault}; it does not count as down");
                }
                self.streak += 1;
                None
            }
        }
    }
}

/// How long until the next start or end of one of `overrides` (a day when none is coming: the
/// timer is reset whenever they change).
fn edge_wait(ctx: &AppContext, overrides: &[policy::Override]) -> Duration {
    let now = ctx.clock.now();
    super::overrides::next_edge(overrides, now)
        .and_then(|edge| (edge - now).to_std().ok())
        .map_or(Duration::from_secs(86_400), |wait| {
            ctx.clock.real_duration(wait) + Duration::from_millis(1)
        })
}

/// A probe result as the decider sees it: latencies in the clock's time, so a sped-up demo reads
/// like the real thing.
fn probe_event(ctx: &AppContext, result: &ProbeResult) -> Event {
    let scaled = |real: Duration| {
        let millis = u64::try_from(ctx.clock.scaled(real).as_millis()).unwrap_or(u64::MAX);
        humantime::format_duration(Duration::from_millis(millis))
    };
    let detail = match (ctx.clock.is_fast(), result.status, result.reason) {
        (false, _, _) => result.describe(),
        (true, _, Some(DownReason::TimedOut(after))) => {
            format!("timed out after {}", scaled(after))
        }
        (true, Some(status), None) => format!("HTTP {status} in {}", scaled(result.latency)),
        (true, _, _) => result.describe(),
    };
    Event::Probe {
        class: result.class,
        detail,
    }
}

fn record_probe(ctx: &AppContext, minutes: &mut Minutes, result: &ProbeResult, event: &Event) {
    let Event::Probe { class, detail } = event else {
        return;
    };
    let latency = ctx.clock.scaled(result.latency);
    minutes.probe(*class, latency);
    let view = ProbeView {
        at: ctx.clock.now(),
        class: status::class_name(*class).to_owned(),
        status: result.status,
        latency,
        detail: detail.clone(),
    };
    ctx.board.record_probe(ctx.index, *class, view);
}

/// Closes the minute under way when the clock has passed it: the row goes to the store's writer,
/// and a copy to the board for the charts until the store has it.
fn close_minute(ctx: &AppContext, minutes: &mut Minutes, actual: Option<u32>, decider: &Decider) {
    let quantities = Quantities {
        actual,
        target: decider.target(),
        baseline: decider.snapshot().baseline,
    };
    if let Some(row) = minutes.close(ctx.clock.now(), quantities, &ctx.drains) {
        ctx.persister.write_history(row.clone());
        ctx.board.record_minute(ctx.index, row);
    }
}

/// How long until the decision task looks at the schedule again: just past the next change of
/// baseline, and at most [`MAX_TICK`] (level-triggered).
fn tick_wait(ctx: &AppContext) -> Duration {
    let now = ctx.clock.now();
    let until_change = ctx
        .settings
        .schedule
        .next_change_after(now)
        .and_then(|change| (change.at - now).to_std().ok())
        .unwrap_or(MAX_TICK);
    // The extra millisecond lands the tick just past the change, never a hair before it.
    ctx.clock.real_duration(until_change.min(MAX_TICK)) + Duration::from_millis(1)
}

/// Hands the decision task the router lines' health every [`HEALTH_EVERY`], up to now, and the
/// app's router-log figures every [`TRAFFIC_EVERY`], for windows that
/// end [`policy::DRAIN_DELAY`] ago (as `simulate` replays them). The figures are
/// read from the drain's aggregator (a lock held for microseconds), so the decision task never
/// waits on the drain; with no router line yet there is nothing to send, and the decider, seeing
/// no fresh traffic, lets the probe rules act alone.
async fn traffic_feed(
    drains: status::Drains,
    settings: Arc<AppSettings>,
    clock: Clock,
    shutdown: CancellationToken,
    events: mpsc::Sender<Event>,
) {
    let every = clock.real_duration(HEALTH_EVERY);
    let traffic_every = (TRAFFIC_EVERY.as_secs() / HEALTH_EVERY.as_secs()).max(1);
    let mut ticks = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sleep(every) => {}
        }
        ticks += 1;
        let now = clock.now();
        // The windows end with the last whole second that closed a drain delay ago: the newer
        // ones still wait for their lines, and would read as a fall in the load.
        let settled = now
            - chrono::TimeDelta::from_std(policy::DRAIN_DELAY + Duration::from_secs(1))
                .unwrap_or_default();
        let (name, process) = (&settings.name, &settings.process);
        // The lines' health is read up to now, not a drain delay ago: a line counts there once it
        // came, and the fail-safe is promised within 10 s of the first failing line.
        let window = settings
            .policy()
            .traffic
            .map_or(policy::TrafficPolicy::DEFAULT_DOWN_WINDOW, |t| {
                t.down_window
            });
        if let Some(health) = drains.health(name, process, now, window) {
            let reading = crate::traffic::health(&health, now);
            if let Err(mpsc::error::TrySendError::Closed(_)) =
                events.try_send(Event::RouterHealth(Box::new(reading)))
            {
                return;
            }
        }
        if !ticks.is_multiple_of(traffic_every) {
            continue;
        }
        let Some(figures) = drains.figures(name, process, settled) else {
            continue;
        };
        // A full queue means the decision task is behind: this sample is dropped, the next one
        // carries newer figures anyway.
        if let Err(mpsc::error::TrySendError::Closed(_)) = events.try_send(Event::Traffic(
            Box::new(crate::traffic::policy_traffic(&figures, now)),
        )) {
            return;
        }
    }
}

/// Applies targets through the Platform API and re-reads the formation every `reconcile`, and the
/// app's info (maintenance mode) only when it can matter.
#[derive(Debug)]
struct Actuator {
    client: Client,
    settings: Arc<AppSettings>,
    clock: Clock,
    /// Sends the failed and capped scale calls' alerts.
    alerter: Alerter,
    /// Logs the scale calls instead of making them.
    dry_run: bool,
    shutdown: CancellationToken,
    /// What Heroku answered, for the decision task.
    answers: mpsc::UnboundedSender<Answer>,
    /// Whether the latest probe was down, from the decision task.
    down: watch::Receiver<bool>,
    /// Whether a pause runs: no scale call at all, a reconcile's included.
    paused: watch::Receiver<bool>,
    /// Heroku's refusals during a release phase or preboot cutover.
    preboot: std::sync::Mutex<super::preboot::PrebootWait>,
    /// Maintenance mode as last read.
    maintenance: bool,
}

/// What Heroku answered the actuator, reported to the decision task: the one task that keeps what
/// the app's tasks know, saves it, alerts from it and writes the status board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A scale call went through: Heroku now reports `quantity`, the target asked or another
    /// (`as_asked` false: a plan's dyno limit, say).
    Scaled { quantity: u32, as_asked: bool },
    /// A scale call failed after the client's retries. A refusal during a release phase or
    /// preboot is no answer: the call is simply made again.
    ScaleFailed,
    /// A reconcile read the formation's quantity.
    Formation(u32),
    /// The app's info was read: whether it is in maintenance mode.
    Maintenance(bool),
}

/// What the actuator reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// The formation, and the app's info when it can matter.
    Reconcile,
    /// The app's info alone, at the first down probe of a streak.
    Maintenance,
}

impl Actuator {
    /// Runs until shutdown from the quantity Heroku reported, or, when it has not answered yet,
    /// from the one the decision task passes on once it does: nothing is called before.
    async fn run(
        mut self,
        start: Result<u32, oneshot::Receiver<u32>>,
        mut target_rx: watch::Receiver<u32>,
    ) {
        let shutdown = self.shutdown.clone();
        let mut actual = match start {
            Ok(actual) => Some(actual),
            Err(answered) => tokio::select! {
                _ = shutdown.cancelled() => return,
                answered = answered => match answered {
                    Ok(actual) => Some(actual),
                    Err(_) => return,
                },
            },
        };
        let reconcile = self.clock.real_duration(self.settings.reconcile);
        let mut next_reconcile = Instant::now() + reconcile;
        let mut retry_at: Option<Instant> = None;
        let mut scale_retry = backon::BackoffBuilder::build(SCALE_RETRY);
        let mut probing = self.settings.probe.is_some();
        let mut pace = ReadPace::Every(reconcile);
        loop {
            let target = *target_rx.borrow_and_update();
            let paused = *self.paused.borrow_and_update();
            if actual != Some(target) && retry_at.is_none() && !paused {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => return,
                    changed = target_rx.changed() => {
                        // A newer target supersedes the call in flight: setting is idempotent, so the
                        // next call simply sets the newer quantity.
                        if changed.is_err() { return }
                        continue;
                    }
                    // Boxed, as the read below: a Platform API call with its retries is a large
                    // future, and inline it would size the task for it while it waits (1,000 apps).
                    applied = Box::pin(self.apply(actual, target)) => {
                        // Failed, or answered with another quantity (a plan limit, say): asking
                        // again at once would get the same answer, so both wait the same delay.
                        if applied != Some(target) {
                            retry_at = scale_retry.next().map(|wait| Instant::now() + self.clock.real_duration(wait));
                        }
                        if let Some(quantity) = applied {
                            actual = Some(quantity);
                        }
                    }
                }
                continue;
            }
            let read = tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = target_rx.changed() => {
                    if changed.is_err() { return }
                    retry_at = None;
                    continue;
                }
                changed = self.paused.changed() => {
                    if changed.is_err() { return }
                    continue;
                }
                changed = self.down.changed(), if probing => {
                    probing = changed.is_ok();
                    // The first down probe of a streak: maintenance mode must be known before
                    // `failures` of them trip the fail-safe.
                    if !(probing && *self.down.borrow_and_update()) { continue }
                    Read::Maintenance
                }
                _ = sleep_until(next_reconcile) => Read::Reconcile,
                _ = sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() => {
                    retry_at = None;
                    continue;
                }
            };
            let now = Instant::now();
            let budget = self.client.read_budget();
            let paced = budget.pace(reconcile, now);
            if paced != pace {
                self.log_pace(paced, budget.estimate(now));
                pace = paced;
            }
            if read == Read::Reconcile {
                // While paused, the budget is looked at again every `reconcile`.
                next_reconcile = now
                    + match pace {
                        ReadPace::Every(every) => every,
                        ReadPace::Paused => reconcile,
                    };
            }
            if pace == ReadPace::Paused {
                continue;
            }
            // A read (each call up to 30 s with retries) must never hold back a newer target: it
            // is abandoned, and the next reconcile reads again.
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                changed = target_rx.changed() => {
                    if changed.is_err() { return }
                    retry_at = None;
                }
                read = Box::pin(self.read_heroku(read, target)) => if let Some(read) = read {
                    actual = Some(read);
                },
            }
        }
    }

    fn log_pace(&self, pace: ReadPace, remaining: Option<u32>) {
        let (app, process) = (&self.settings.name, &self.settings.process);
        match pace {
            ReadPace::Every(every) => {
                let every = humantime::format_duration(self.clock.scaled(every));
                info!(app = %app, process = %process, remaining, reads_every = %every, "Heroku API budget: reads paced");
            }
            ReadPace::Paused => {
                warn!(app = %app, process = %process, remaining, "Heroku API budget nearly spent: reads paused, scale calls go on")
            }
        }
    }

    /// Tells the decision task what Heroku answered; once it has stopped, nobody needs to know.
    fn answer(&self, answer: Answer) {
        let _ = self.answers.send(answer);
    }

    fn preboot_wait(&self) -> std::sync::MutexGuard<'_, super::preboot::PrebootWait> {
        self.preboot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets the quantity; returns the quantity Heroku now reports, or `None` when the call failed.
    async fn apply(&self, actual: Option<u32>, target: u32) -> Option<u32> {
        let settings = &self.settings;
        let (app, process) = (&settings.name, &settings.process);
        if self.dry_run {
            info!(app = %app, process = %process, from = actual, to = target, "dry run: formation left unchanged");
            return Some(target);
        }
        let update = FormationUpdate {
            quantity: Some(target),
            dyno_size: None,
        };
        match self.client.formation_update(app, process, &update).await {
            Ok(formation) => {
                let got = formation.quantity;
                info!(app = %app, process = %process, from = actual, to = got, "formation updated");
                if let Some(since) = self.preboot_wait().passed() {
                    info!(app = %app, process = %process, since = %since, "release phase or preboot over: formation changes go through again");
                }
                if got != target {
                    warn!(app = %app, process = %process, asked = target, got, retry_in = ?SCALE_RETRY_DELAY, "Heroku set another quantity than asked");
                    self.alerter
                        .scale_capped(settings, actual, target, got, self.clock.now());
                }
                self.answer(Answer::Scaled {
                    quantity: got,
                    as_asked: got == target,
                });
                Some(got)
            }
            Err(e) if e.is_preboot_refusal() => {
                let now = self.clock.now();
                let refused = self.preboot_wait().refused(now);
                match refused {
                    Refused::First => {
                        warn!(app = %app, process = %process, from = actual, to = target, retry_in = ?SCALE_RETRY_DELAY,
                            "Heroku refuses formation changes during a release phase or preboot: trying again every 30 s, alerting if it lasts beyond 10 minutes")
                    }
                    Refused::Again => {
                        debug!(app = %app, process = %process, to = target, "formation change refused again: release phase or preboot")
                    }
                    Refused::TooLong { lasted } => {
                        error!(app = %app, process = %process, from = actual, to = target, lasted = ?lasted, error = %e, "scale call failed: Heroku has refused formation changes for a release phase or preboot beyond 10 minutes");
                        self.alerter.scale_failed(settings, actual, target, &e, now);
                    }
                }
                None
            }
            Err(e) => {
                error!(app = %app, process = %process, from = actual, to = target, error = %e, "scale call failed");
                self.answer(Answer::ScaleFailed);
                self.alerter
                    .scale_failed(settings, actual, target, &e, self.clock.now());
                None
            }
        }
    }

    /// Re-reads maintenance mode when it can matter, and at a reconcile the quantity.
    ///
    /// Maintenance mode only changes what down probes do, so it is read at start, at the first
    /// down probe of a streak, and at a reconcile only while probes are down or the app is in
    /// maintenance; with `failures = 1` the first down probe already trips the fail-safe, so then
    /// at every reconcile. Without a probe it matters for nothing.
    async fn read_heroku(&mut self, read: Read, target: u32) -> Option<u32> {
        let settings = &self.settings;
        let (app, process) = (&settings.name, &settings.process);
        let info_matters = settings.probe.as_ref().is_some_and(|probe| {
            read == Read::Maintenance
                || probe.failures == 1
                || self.maintenance
                || *self.down.borrow()
        });
        if info_matters {
            match self.client.app_info(app).await {
                Ok(info) => {
                    self.maintenance = info.maintenance;
                    self.answer(Answer::Maintenance(info.maintenance));
                }
                Err(e) => {
                    warn!(app = %app, process = %process, error = %e, "cannot read the app's info")
                }
            }
        }
        if read == Read::Maintenance {
            return None;
        }
        match self.client.formation_info(app, process).await {
            Ok(formation) => {
                let read = formation.quantity;
                self.answer(Answer::Formation(read));
                if read != target {
                    warn!(app = %app, process = %process, from = read, to = target, reason = "changed outside autoscaled; correcting", "scale");
                }
                Some(read)
            }
            // Once there (it was read at start), now gone: a deploy whose Procfile dropped the
            // type, or a rename. Said at each reconcile that finds it so, not as a vague failure.
            Err(e @ heroku_api::Error::NotFound(_)) => {
                warn!(app = %app, process = %process, error = %e,
                    "the process type is gone from the app's formation (removed from the Procfile, or the app deleted?): nothing can be scaled until it is back");
                None
            }
            Err(e) => {
                warn!(app = %app, process = %process, error = %e, "cannot read the formation");
                None
            }
        }
    }
}
