//! `autoscaled run`: the long-running process.
//!
//! [`run`] loads the config, builds the Platform API client and the notifier, and hands over to
//! [`serve`], which the demo calls too: it starts what every app shares (the notifier, the store's
//! writer, the overrides reader, the status listener and its drains), and the fleet coordinator
//! (`store::Fleet`) starts an app's tasks ([`app`]) when this instance takes the app's lease and
//! stops them when it loses it. An app's start checks it (credentials rejected, an unknown app or
//! process type is fatal, network trouble is retried while probes and alerts already run). All
//! runs until SIGTERM or SIGINT, and stops within 5 s.
//!
//! One app's data flow. Each arrow is a channel or a handle its task was given at spawn; no task
//! reads another's state: the status board is written, never read back to decide, save or alert.
//! The decision task also closes each minute's history row ([`minutes`]) and hands it to the
//! store's writer, with a copy to the board.
//!
//! ```text
//! drains (the status listener's) --> traffic_feed --+
//! job queues -------------------------> queue_feed -+ policy::Event (mpsc)
//! probes (a stream polled by the decision task) ----+
//! timers (schedule changes, override edges) --------+
//! overrides reader (every app's; watch) ------------+
//!                                                   v
//!       +-------------------------------------> decision task
//!       |                   (policy::Decider, state::Keeper, minutes::Minutes)
//!       |                                  |      |     |     |
//!       |  target, paused, down (watch) <--+      |     |     +--> notify: outage, recovery
//!       |              |                          |     |          (never awaited)
//!       |              v                          |     +--> store's Persister: state, decisions,
//!       +------ actuator --> Heroku: scale calls, |          a history row a minute (never awaited)
//!  Answer (mpsc):      |     reads                +--> status board (written only): the page,
//!  a call's quantity   +--> notify: failed or           /api/status, /metrics, the charts' last
//!  or failure, a            capped scale calls          minutes until the store has them
//!  read's quantity,
//!  maintenance
//! ```

mod alerts;
mod app;
pub(crate) mod budget;
mod descriptors;
mod minutes;
mod overrides;
mod preboot;
pub(crate) mod queue_feed;
mod state;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use heroku_api::Client;
use notify::{Notifier, NotifyConfig};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use alerts::Alerter;
use status::Board;
use store::{Access, Fleet, FleetOptions, Persister, Store, WriterOptions};

use crate::Failure;
use crate::cli::RunArgs;
use crate::clock::Clock;
use crate::config::{AlertSettings, AppSettings, Config, StateSettings, config_path};

/// Heroku sends SIGKILL 30 s after SIGTERM; we promise 5 s, and keep a margin for the runtime's own
/// teardown.
const STOP_WITHIN: Duration = Duration::from_secs(4);

/// How the daemon runs, beyond its config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub(crate) dry_run: bool,
    pub(crate) clock: Clock,
}

pub(crate) fn run(config: &Option<PathBuf>, args: RunArgs) -> Result<(), Failure> {
    let config = Config::load(&config_path(config.clone()))?;
    if let Some(warning) = config.state.lost_on_a_dyno() {
        warn!(url = %config.state.shown(), "{warning}");
    }
    let runtime = crate::runtime()?;
    runtime.block_on(async move {
        // Before anything else: a daemon that cannot keep its state must not start scaling.
        let store = open_store(&config.state).await?;
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let reach = Reach::network(&config)?;
        let options = Options {
            dry_run: args.dry_run,
            clock: Clock::real(),
        };
        let drains = drains(&config.http, &config.apps);
        serve(
            config,
            reach,
            options,
            (Board::default(), drains),
            store,
            shutdown,
        )
        .await
    })
}

/// Opens the state database for the daemon: creates or migrates its schema, and with SQLite
/// claims the file. Any failure is fatal at start, its message naming the URL (password
/// redacted).
pub(crate) async fn open_store(state: &StateSettings) -> Result<Store, Failure> {
    match Store::open(state.url.expose(), Access::Daemon).await {
        Ok(store) => {
            info!(url = %store.url(), "state database open");
            Ok(store)
        }
        Err(store::Error::Locked { path }) => Err(Failure::Fatal(anyhow::anyhow!(
            "another autoscaled is already running on the state database {} (sqlite: one instance per file); stop it, or share PostgreSQL (DATABASE_URL) instead",
            path.display()
        ))),
        Err(error) => Err(Failure::Fatal(
            anyhow::Error::new(error).context("cannot open the state database"),
        )),
    }
}

/// What the daemon reaches out to: Heroku's Platform API, and the apps it probes.
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    pub(crate) heroku: Client,
    /// What every app's prober shares: the TLS settings and the system's root certificates,
    /// loaded once rather than once an app.
    pub(crate) probes: probe::Client,
}

impl Reach {
    /// Both over the network, as `config` says: what `run` and the demo use. The in-process tests
    /// hand both to fakes in their own runtime instead.
    pub(crate) fn network(config: &Config) -> Result<Reach, Failure> {
        let heroku = Client::builder(config.heroku.api_key.clone())
            .base_url(config.heroku.api_url.as_str())
            .build()
            .context("cannot build the Heroku API client")
            .map_err(Failure::Fatal)?;
        let probes = probe::Client::new()
            .context("cannot build the probes' HTTP client")
            .map_err(Failure::Fatal)?;
        Ok(Reach { heroku, probes })
    }
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
async fn stop_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = terminate => info!(signal = "SIGTERM", "stopping"),
        _ = tokio::signal::ctrl_c() => info!(signal = "SIGINT", "stopping"),
    }
    shutdown.cancel();
}

/// Runs every configured app until `shutdown` is cancelled. The status listener serves `board`,
/// and feeds `drains` with the router logs posted to it (the in-process tests feed them directly).
pub(crate) async fn serve(
    config: Config,
    reach: Reach,
    options: Options,
    (board, drains): (Board, status::Drains),
    store: Store,
    shutdown: CancellationToken,
) -> Result<(), Failure> {
    // First: every descriptor the daemon and its listener open counts against this limit.
    let open_files = descriptors::raise();
    let listener_limits = status::Limits {
        head_timeout: config.http.head_timeout,
        body_timeout: config.http.body_timeout,
        idle_timeout: config.http.idle_timeout,
        max_connections: descriptors::listener_cap(
            config.http.max_connections,
            crate::config::DEFAULT_MAX_CONNECTIONS,
            open_files,
            config.apps.len(),
        ),
    };
    let (alerter, notifier_task) = notifications(&config.alerts, shutdown.child_token())?;
    let writer_stop = CancellationToken::new();
    let clock = options.clock;
    let instance = instance_id();
    let fleet_store = store.clone();
    let writer_options = WriterOptions {
        instance_id: instance.clone(),
        now: Arc::new(move || clock.now()),
        // A minute of the clock's time: the demo's charts read minutes the writer has written.
        history_every: clock.real_duration(Duration::from_secs(60)),
        ..WriterOptions::default()
    };
    let reader = store.clone();
    // The page's override and pause requests: the CLI's checks, written where the daemon reads them.
    let edits = status::Edits::new(
        crate::overrides::PageRules::new(config.clone()),
        store.clone(),
    );
    let (overrides_tx, overrides_rx) = tokio::sync::watch::channel(overrides::Current::default());
    let overrides_reader = tokio::spawn(overrides::read_every(
        store.clone(),
        config.state.lease_round,
        clock,
        overrides_tx,
        shutdown.child_token(),
    ));
    let (persister, writer) =
        Persister::spawn(store, writer_options, writer_stop.clone().cancelled_owned());
    board.keep_history(reader);
    let Reach {
        heroku: client,
        probes: probe_client,
    } = reach;
    let mut contexts = Vec::new();
    for settings in config.apps {
        let index = board.add(
            &settings.name,
            &settings.process,
            settings.schedule.baseline_at(options.clock.now()),
        );
        contexts.push(app::AppContext {
            client: client.clone(),
            clock: options.clock,
            dry_run: options.dry_run,
            alerter: alerter.clone(),
            board: board.clone(),
            index,
            shutdown: shutdown.child_token(),
            probe_client: probe_client.clone(),
            drains: drains.clone(),
            persister: persister.clone(),
            overrides: overrides_rx.clone(),
            // Read fresh when this instance takes the app's lease: another may have held it.
            stored: None,
            settings: Arc::new(settings),
        });
    }
    if options.dry_run {
        info!("dry run: decisions are logged and alerted, formations are never changed");
    }
    let page = match config.http.listen {
        Some(listen) => {
            let sources = status::Sources {
                board: board.clone(),
                apps: contexts.iter().map(|ctx| app_info(&ctx.settings)).collect(),
                clock: std::sync::Arc::new(options.clock),
                readings: std::sync::Arc::new(Readings {
                    alerter: alerter.clone(),
                    client: client.clone(),
                }),
                drains,
                edits: Some(edits),
            };
            let (addr, task) = status::start(
                listen,
                config.http.password.clone(),
                sources,
                listener_limits,
                shutdown.child_token().cancelled_owned(),
            )
            .await
            .map_err(|e| Failure::Fatal(e.into()))?;
            info!(
                max_connections = listener_limits.max_connections,
                "status page: http://{addr}/"
            );
            Some(task)
        }
        None => None,
    };

    // Every instance, SQLite's one included, takes the apps through leases: one code path.
    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel(contexts.len().max(1));
    let keys = contexts.iter().map(|ctx| app::key(&ctx.settings)).collect();
    let fleet = Fleet::new(
        fleet_store,
        persister,
        keys,
        FleetOptions {
            ttl: config.state.lease,
            round: config.state.lease_round,
            margin: config.state.lease_round,
            ..FleetOptions::new(&instance)
        },
    );
    let apps = app::Apps::new(contexts, fatal_tx, instance);
    let coordinator = tokio::spawn(fleet.run(apps, shutdown.clone()));

    let fatal = tokio::select! {
        _ = shutdown.cancelled() => None,
        Some(error) = fatal_rx.recv() => Some(error),
    };
    shutdown.cancel();
    let stopped = tokio::time::timeout(STOP_WITHIN, async {
        // It stops the apps and releases their leases once their last states are written.
        let _ = coordinator.await;
        let _ = overrides_reader.await;
        writer_stop.cancel();
        let _ = writer.await;
        if let Some(task) = notifier_task {
            let _ = task.await;
        }
        if let Some(task) = page {
            let _ = task.await;
        }
    })
    .await;
    if stopped.is_err() {
        warn!("some tasks did not stop in time; exiting anyway");
    }
    match fatal {
        Some(error) => Err(Failure::Fatal(error.into())),
        None => {
            info!("stopped");
            Ok(())
        }
    }
}

/// A drain per app name when a drain password is set, else none (`/drain/...` answers 404).
pub(crate) fn drains(http: &crate::config::HttpSettings, apps: &[AppSettings]) -> status::Drains {
    http.drain_password
        .as_ref()
        .map_or_else(status::Drains::off, |password| {
            status::Drains::new(password, apps.iter().map(|app| app.name.clone()))
        })
}

/// This instance's id in the database's heartbeats: the dyno's name on Heroku, with the process id.
fn instance_id() -> String {
    let host = std::env::var("DYNO")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "autoscaled".into());
    format!("{host}/{}", std::process::id())
}

/// What the status page shows of an app besides the board.
fn app_info(settings: &AppSettings) -> status::AppInfo {
    status::AppInfo {
        name: settings.name.clone(),
        process: settings.process.clone(),
        min: settings.min,
        max: settings.max,
        schedule: settings.schedule.clone(),
        price_per_hour: settings.price_per_hour,
    }
}

/// What `/metrics` reads at each scrape: the notifier's counts and Heroku's rate limit.
#[derive(Debug)]
struct Readings {
    alerter: Alerter,
    client: Client,
}

impl status::Readings for Readings {
    fn alerts(&self) -> Option<status::AlertCounts> {
        self.alerter.stats().map(|s| status::AlertCounts {
            email_sent: s.email_sent,
            email_failed: s.email_failed,
            sms_sent: s.sms_sent,
            sms_failed: s.sms_failed,
            held_back: s.held_back,
            dropped: s.dropped,
            local_faults: s.local_faults,
        })
    }

    fn heroku_rate_limit_remaining(&self) -> Option<u32> {
        self.client.rate_limit_remaining()
    }
}

/// The notifier for the configured channels; without any, alerts are only logged.
fn notifications(
    alerts: &AlertSettings,
    shutdown: CancellationToken,
) -> Result<(Alerter, Option<tokio::task::JoinHandle<()>>), Failure> {
    if alerts.email.is_none() && alerts.sms.is_none() {
        return Ok((Alerter::new(None), None));
    }
    let config = NotifyConfig {
        email: alerts.email.clone(),
        sms: alerts.sms.clone(),
        alert_every: alerts.alert_every,
        ..NotifyConfig::default()
    };
    let (notifier, task) = Notifier::spawn(config, shutdown)
        .context("cannot set up alerts")
        .map_err(Failure::Fatal)?;
    Ok((Alerter::new(Some(notifier)), Some(task)))
}
