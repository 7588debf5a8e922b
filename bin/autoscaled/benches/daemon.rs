//! `cargo bench -p autoscaled --bench daemon`: what `autoscaled run` costs, measured on the built
//! binary against the fake Heroku and a local app server (testkit's, as the end-to-end tests use).
//! `cargo bench -p autoscaled --bench daemon -- steady` (or `memory`, `failsafe`, `calls`) runs
//! one part.
//!
//! It prints:
//! - resident memory (VmRSS, and the peak VmHWM, from `/proc/<pid>/status`) after 10 s of running
//!   with one probed app and with 100 probed apps;
//! - the steady state of 1,000 apps probed every second (the goal of issue #13: under 50 MiB
//!   resident, growing under 0.5 MiB a minute over 3 minutes, under 25% of one core): after a
//!   warm-up, resident memory (VmRSS from `/proc/<pid>/status`) sampled every 5 s over 3 minutes,
//!   its growth a minute (the least-squares slope of the samples, and end minus start), and the
//!   CPU the daemon used meanwhile (utime + stime from `/proc/<pid>/stat`) as a share of one core;
//!   four times: each app its own host with connections kept open (as on Heroku), one host with
//!   connections kept open, one host closing each connection (as issue #13 measured), and each
//!   app its own kept-open HTTPS connection (as on Heroku, where apps are probed over HTTPS);
//!   `-- steady-HostPerApp` (or `steady-OneHost`, `steady-OneHostClosing`,
//!   `steady-HttpsHostPerApp`) runs one;
//! - the fail-safe latency: from the arrival at the app server of the second failing probe (the one
//!   that triggers the fail-safe) to the arrival of the scale call at the fake Heroku, both stamped
//!   on this process's monotonic clock, over 20 outages (the first failing probe reads maintenance
//!   mode before, a call the timing leaves out);
//! - Platform API calls per app per hour in a steady state (every probe fast), counted at the fake
//!   over a window with a short `reconcile` and scaled to the default `reconcile` of 5 minutes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench that cannot set up has nothing to measure: it stops there, saying why"
)]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use heroku_fake::FakeHeroku;
use testkit::config::{API_KEY, Alerts, AppConfig, ProbeConfig, write_config};
use testkit::{AppServer, Daemon, Mode};

/// The binary measured: `AUTOSCALED_BIN`, else the one cargo built alongside. Cargo builds that one
/// with the dev-dependencies' features (the fake's schema check), so point `AUTOSCALED_BIN` at a
/// plain `cargo build --release` to measure the binary as shipped (docs/benchmarks.md).
fn bin() -> String {
    std::env::var("AUTOSCALED_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_autoscaled").to_owned())
}

/// How long a daemon runs before its memory is read, in the small memory runs.
const SETTLE: Duration = Duration::from_secs(10);
/// The steady state measured: this many apps, each probed every second.
const STEADY_APPS: usize = 1_000;
/// How long all of them may take to start (the fake Heroku answers each app's first reads).
const START_WITHIN: Duration = Duration::from_secs(180);
/// How long they run before the window: the first minutes' rows written, the pools grown.
/// Env `WARM_UP` (seconds) sets another, to see whether a growth levels off.
const WARM_UP: Duration = Duration::from_secs(60);
/// The measurement window, and how often memory is read within it.
const WINDOW: Duration = Duration::from_secs(180);
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Outages timed for the fail-safe latency.
const OUTAGES: usize = 20;
/// The window over which steady-state API calls are counted, and the `reconcile` used meanwhile.
const CALL_WINDOW: Duration = Duration::from_secs(20);
const SHORT_RECONCILE: &str = "2s";
const DEFAULT_RECONCILE_SECS: f64 = 300.0;

/// Probe settings of a real deployment, sped up to one probe a second.
fn steady_probe(url: String) -> ProbeConfig {
    ProbeConfig {
        url,
        interval: "1s",
        timeout: "800ms",
        slow: "500ms",
        fast: "200ms",
        calm: "10m",
        failures: 2,
    }
}

fn main() {
    // The first argument that is not a flag picks a part, as libtest's filter does.
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let runs = |part: &str| only.as_deref().is_none_or(|only| part.contains(only));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("autoscaled daemon benchmark (binary: {})", bin());
        if runs("memory") {
            memory(1).await;
            memory(100).await;
        }
        for serving in [
            Serving::HostPerApp,
            Serving::OneHost,
            Serving::OneHostClosing,
            Serving::HttpsHostPerApp,
        ] {
            if runs("steady") || runs(&format!("steady-{serving:?}")) {
                steady_state(STEADY_APPS, serving).await;
            }
        }
        if runs("failsafe") {
            failsafe_latency().await;
        }
        if runs("calls") {
            api_calls().await;
        }
    });
}

/// VmRSS of `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let [rss, ..] = memory_of(pid);
    rss as f64 / 1024.0
}

/// The CPU time `pid` has used, user and system, in clock ticks (`/proc/<pid>/stat` fields 14
/// and 15, counted after the command name, which may hold spaces).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field 3 (the state) is the first after the name.
    fields[14 - 3].parse::<u64>().unwrap() + fields[15 - 3].parse::<u64>().unwrap()
}

/// Clock ticks a second, as `/proc/<pid>/stat` counts them.
fn ticks_per_second() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The least-squares slope of `points`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    num / den
}

/// How the probed apps are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serving {
    /// Each app its own host (127.0.0.1, 127.0.0.2, … on one server) that keeps connections open,
    /// as on Heroku, where the router keeps a client's connection alive (55 s idle, 90 s on
    /// Router 2.0): the daemon holds a connection an app, as it would in production.
    HostPerApp,
    /// One host that keeps connections open: the daemon's pool shares a few connections among
    /// every app, so memory and CPU are the daemon's own, without the connections' buffers.
    OneHost,
    /// One host that closes each connection after its answer, as the figures in issue #13 were
    /// measured: every probe pays a TCP connection's set-up and tear-down in the kernel.
    OneHostClosing,
    /// Like `HostPerApp`, over HTTPS: each app's prober keeps its own TLS connection to
    /// `localhost`, as on Heroku, where every app is probed over HTTPS.
    HttpsHostPerApp,
}

/// The daemon running `apps` apps, each probed every second, served as `serving` says, once every
/// app has started (within `within`); the fake and the server must outlive it.
async fn probed_apps(
    apps: usize,
    serving: Serving,
    within: Duration,
) -> (FakeHeroku, AppServer, Daemon) {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    let server = match serving {
        Serving::OneHostClosing => AppServer::start().await,
        Serving::HostPerApp | Serving::OneHost => AppServer::start_keep_alive().await,
        Serving::HttpsHostPerApp => AppServer::start_keep_alive_tls().await,
    };
    let configs: Vec<AppConfig> = (0..apps)
        .map(|i| {
            let name = format!("bench-{i}");
            fake.set_formation(&name, "web", 1);
            let mut app = AppConfig::new(&name);
            app.reconcile = "5m";
            let url = match serving {
                // 127.0.0.1, 127.0.0.2, … 127.0.3.250 for 1,000 apps.
                Serving::HostPerApp => {
                    server.url_on(Ipv4Addr::new(127, 0, (i / 250) as u8, (i % 250 + 1) as u8))
                }
                Serving::OneHost | Serving::OneHostClosing | Serving::HttpsHostPerApp => {
                    server.url()
                }
            };
            app.probe = Some(steady_probe(format!("{url}{name}")));
            app
        })
        .collect();
    let config = write_config(&fake.url(), &configs, &Alerts::default());
    // The system's roots and the test certificate, for the daemon's platform verifier.
    let roots = config.with_extension("roots.pem");
    testkit::tls::write_roots(&roots);
    let daemon = Daemon::spawn_with_env(
        bin(),
        &["--config", config.to_str().unwrap(), "run"],
        &[("SSL_CERT_FILE", roots.as_os_str())],
    );
    daemon
        .wait_until("every app started", within, || {
            (daemon.stdout().matches(" started").count() >= apps).then_some(())
        })
        .await;
    (fake, server, daemon)
}

async fn steady_state(apps: usize, serving: Serving) {
    let started = Instant::now();
    let (_fake, server, daemon) = probed_apps(apps, serving, START_WITHIN).await;
    let start_took = started.elapsed();
    // A warm-up and a measurement window, not waits for a condition.
    let warm_up = std::env::var("WARM_UP")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(WARM_UP, Duration::from_secs);
    tokio::time::sleep(warm_up).await;
    let pid = daemon.pid();
    let probes_before = server.hits().len();
    let (cpu_before, window_start) = (cpu_ticks(pid), Instant::now());
    let mut samples = vec![(0.0, rss_mib(pid))];
    while window_start.elapsed() < WINDOW {
        tokio::time::sleep(SAMPLE_EVERY).await;
        let minutes = window_start.elapsed().as_secs_f64() / 60.0;
        samples.push((minutes, rss_mib(pid)));
    }
    let seconds = window_start.elapsed().as_secs_f64();
    let cpu = (cpu_ticks(pid) - cpu_before) as f64 / ticks_per_second() / seconds * 100.0;
    let probes = server.hits().len() - probes_before;
    let finished = daemon.stop().await;
    assert!(finished.status.success());

    let (first, last) = (samples[0].1, samples[samples.len() - 1].1);
    let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    let minutes = seconds / 60.0;
    println!(
        "steady state, {apps} apps probed every second, {serving:?} (all started in {:.0} s, then {} s of \
         warm-up), over {minutes:.1} minutes: VmRSS {first:.1} MiB at the start, {last:.1} at the \
         end, {peak:.1} at most; growth {:.2} MiB/min (slope of {} samples), {:.2} MiB/min (end \
         minus start); CPU {cpu:.1}% of one core; {:.0} probes/s served",
        start_took.as_secs_f64(),
        warm_up.as_secs(),
        slope(&samples),
        samples.len(),
        (last - first) / minutes,
        probes as f64 / seconds,
    );
}

/// VmRSS, VmHWM, RssAnon and RssFile of `pid`, in KiB.
fn memory_of(pid: u32) -> [u64; 4] {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    ["VmRSS:", "VmHWM:", "RssAnon:", "RssFile:"].map(|name| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap()
    })
}

async fn memory(apps: usize) {
    let (_fake, server, daemon) = probed_apps(apps, Serving::HostPerApp, SETTLE).await;
    // A measurement window, not a wait for a condition: memory after a steady stretch of probing.
    tokio::time::sleep(SETTLE).await;
    let [rss, hwm, anon, file] = memory_of(daemon.pid()).map(|kib| kib as f64 / 1024.0);
    let probes = server.hits().len();
    let finished = daemon.stop().await;
    assert!(finished.status.success());
    println!(
        "memory, {apps:>3} probed app(s), after {}s: VmRSS {rss:.1} MiB (heap and stacks {anon:.1}, \
         mapped binary and libraries {file:.1}), VmHWM {hwm:.1} MiB; {probes} probes served",
        SETTLE.as_secs(),
    );
}

async fn failsafe_latency() {
    let fake = Arc::new(FakeHeroku::start(API_KEY).await.unwrap());
    fake.set_formation("bench-failsafe", "web", 1);
    let server = AppServer::start().await;
    let mut app = AppConfig::new("bench-failsafe");
    app.max = 2;
    // No reconcile reads while timing: after the start, each outage makes one maintenance read (at
    // the first failing probe) and then the scale call.
    app.reconcile = "1h";
    app.probe = Some(ProbeConfig {
        url: server.url(),
        interval: "100ms",
        timeout: "80ms",
        slow: "60ms",
        fast: "40ms",
        calm: "300ms",
        failures: 2,
    });
    let daemon = Daemon::run(
        bin(),
        &write_config(&fake.url(), &[app], &Alerts::default()),
    );
    daemon
        .wait_for_line(&["started"], Duration::from_secs(10))
        .await;

    let mut latencies = Vec::with_capacity(OUTAGES);
    for _ in 0..OUTAGES {
        let seen = server.hits().len();
        daemon
            .wait_until("fast probes", Duration::from_secs(5), || {
                (server.hits().len() >= seen + 3).then_some(())
            })
            .await;
        let before = fake.requests().len();
        let watcher = Arc::clone(&fake);
        // Woken by the fake as it records each request, before the call is answered: the app-info
        // read of the first failing probe comes first, then the PATCH, which is stamped.
        let arrival = tokio::spawn(async move {
            let mut wanted = before + 1;
            loop {
                let requests = watcher
                    .wait_for_requests(wanted, Duration::from_secs(10))
                    .await
                    .unwrap();
                if requests[before..].iter().any(|r| r.method == "PATCH") {
                    return Instant::now();
                }
                wanted = requests.len() + 1;
            }
        });
        let switched = Instant::now();
        server.set(Mode::Unavailable);
        let patch_at = arrival.await.unwrap();
        let second_failure = server
            .hits()
            .into_iter()
            .filter(|h| h.at >= switched && h.mode == Mode::Unavailable)
            .nth(1)
            .unwrap()
            .at;
        latencies.push(patch_at.duration_since(second_failure));
        server.set(Mode::Fast);
        daemon
            .wait_until("the step back in", Duration::from_secs(10), || {
                (fake.quantity("bench-failsafe", "web") == Some(1)).then_some(())
            })
            .await;
    }
    let finished = daemon.stop().await;
    assert!(finished.status.success());
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "fail-safe latency, 2nd failing probe at the app -> PATCH at the fake, {OUTAGES} outages: median {:.2} ms, p90 {:.2} ms, max {:.2} ms, min {:.2} ms",
        ms(latencies[OUTAGES / 2]),
        ms(latencies[OUTAGES * 9 / 10]),
        ms(latencies[OUTAGES - 1]),
        ms(latencies[0])
    );
}

async fn api_calls() {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    let server = AppServer::start().await;
    let mut probed = AppConfig::new("bench-probed");
    probed.reconcile = SHORT_RECONCILE;
    probed.probe = Some(steady_probe(server.url()));
    let mut unprobed = AppConfig::new("bench-unprobed");
    unprobed.reconcile = SHORT_RECONCILE;
    for app in ["bench-probed", "bench-unprobed"] {
        fake.set_formation(app, "web", 1);
    }
    let daemon = Daemon::run(
        bin(),
        &write_config(&fake.url(), &[probed, unprobed], &Alerts::default()),
    );
    daemon
        .wait_until("both apps started", Duration::from_secs(10), || {
            (daemon.stdout().matches(" started").count() >= 2).then_some(())
        })
        .await;
    fake.clear_requests();
    // A counting window, not a wait for a condition.
    tokio::time::sleep(CALL_WINDOW).await;
    let requests = fake.requests();
    let finished = daemon.stop().await;
    assert!(finished.status.success());

    for app in ["bench-probed", "bench-unprobed"] {
        let prefix = format!("/apps/{app}");
        let calls: Vec<_> = requests
            .iter()
            .filter(|r| r.path == prefix || r.path.starts_with(&format!("{prefix}/")))
            .collect();
        let writes = calls.iter().filter(|r| r.method != "GET").count();
        // Each reconcile reads the formation once: that count is the number of reconciles seen.
        let reconciles = calls
            .iter()
            .filter(|r| r.path.ends_with("/formation/web"))
            .count();
        let per_reconcile = calls.len() as f64 / reconciles as f64;
        println!(
            "API calls, {app}: {} in {}s with reconcile {SHORT_RECONCILE} ({reconciles} reconciles, {writes} writes) \
             = {per_reconcile:.2} per reconcile = {:.1} per hour at the default reconcile of 5m",
            calls.len(),
            CALL_WINDOW.as_secs(),
            per_reconcile * 3600.0 / DEFAULT_RECONCILE_SECS
        );
    }
}
