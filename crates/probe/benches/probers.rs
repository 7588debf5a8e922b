//! Many probers in one process against a keep-alive server on loopback.
//!
//! The probers run on one thread (a current-thread runtime); the server, testkit's keep-alive
//! `AppServer`, runs in a child process (this program again, told so by `PROBERS_SERVE`), so
//! that the resident memory printed is the probers' alone. CPU time is read per process from `/proc/<pid>/stat` (user and system).
//!
//! `cargo bench -p autoscaled-probe --bench probers` (env: `PROBERS`, default 1000; `SECONDS`,
//! default 10; `TLS=1` probes over HTTPS, each prober keeping its own TLS connection; one probe per
//! prober per second).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench that cannot set up has nothing to measure: it stops there, saying why"
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use autoscaled_probe::{Class, Client, ProbeConfig, Prober, RollingStats, Thresholds};
use testkit::AppServer;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const WARM_UP: Duration = Duration::from_secs(2);

fn main() {
    let tls = std::env::var("TLS").is_ok_and(|v| v == "1");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os("PROBERS_SERVE").is_some() {
        runtime.block_on(serve(tls));
        return;
    }
    let probers: usize = env_or("PROBERS", 1000);
    let seconds: u64 = env_or("SECONDS", 10);
    let (mut server, url) = start_server(tls);
    runtime.block_on(run(
        &url,
        tls,
        server.id(),
        probers,
        Duration::from_secs(seconds),
    ));
    let _ = server.kill();
    let _ = server.wait();
}

/// This program again, as the server; returns it and the URL it serves.
fn start_server(tls: bool) -> (Child, String) {
    let mut server = Command::new(std::env::current_exe().expect("own path"))
        .env("PROBERS_SERVE", "1")
        // A profiler preloaded into the probers (heaptrack) is not the server's.
        .env_remove("LD_PRELOAD")
        .env("TLS", if tls { "1" } else { "0" })
        .stdout(Stdio::piped())
        .spawn()
        .expect("server process");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("server's stdout"))
        .read_line(&mut line)
        .expect("server's URL");
    (server, line.trim().to_owned())
}

async fn run(url: &str, tls: bool, server_pid: u32, probers: usize, measured: Duration) {
    let client = Client::with_roots([testkit::tls::CERTIFICATE.to_vec()]).expect("client");
    let thresholds = Thresholds {
        timeout: Duration::from_millis(900),
        slow: Duration::from_millis(500),
        fast: Duration::from_millis(100),
    };
    let (tx, mut rx) = mpsc::channel(probers);
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::with_capacity(probers);
    for i in 0..probers {
        let config = ProbeConfig {
            url: format!("{url}app/{i}").parse().expect("url"),
            interval: Duration::from_secs(1),
            thresholds,
            headers: vec![],
        };
        let prober = Prober::with_client(config, client.clone()).expect("prober");
        tasks.push(prober.spawn(tx.clone(), shutdown.clone()));
    }
    drop(tx);

    let server_pid = server_pid.to_string();
    let started = Instant::now();
    let measure_from = started + WARM_UP;
    let measure_to = measure_from + measured;
    let mut stats = RollingStats::new(measured, probers * (measured.as_secs() as usize + 2));
    let mut classes: HashMap<Class, u64> = HashMap::new();
    let mut at_start = None;

    let mut local_faults = 0_u64;
    while let Ok(Some(probed)) = tokio::time::timeout_at(measure_to, rx.recv()).await {
        if at_start.is_none() && Instant::now() >= measure_from {
            at_start = Some(Snapshot::take(&server_pid));
        }
        let Ok(result) = probed else {
            // Reported below: a bench that ran out of descriptors measured nothing worth quoting.
            local_faults += 1;
            continue;
        };
        if result.at >= measure_from {
            *classes.entry(result.class).or_default() += 1;
            stats.record(&result);
        }
    }
    let at_end = Snapshot::take(&server_pid);
    let (rss, hwm) = memory_kib();
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }

    let Some(at_start) = at_start else {
        eprintln!("no results came in");
        return;
    };
    if local_faults > 0 {
        eprintln!("{local_faults} probes not made for a local fault (raise `ulimit -n`)");
    }
    let secs = (at_end.wall - at_start.wall).as_secs_f64();
    let summary = stats.summary(measure_to);
    let probes = summary.count as f64;
    let prober_cpu = (at_end.probers_ns - at_start.probers_ns) as f64 / 1e9;
    let server_cpu = (at_end.server_ns - at_start.server_ns) as f64 / 1e9;

    let scheme = if tls { "https" } else { "http" };
    println!(
        "probers: {probers} over {scheme}, interval 1 s, measured {secs:.1} s after {WARM_UP:?} warm-up"
    );
    println!(
        "probes: {} ({:.0}/s), classes {classes:?}",
        summary.count,
        probes / secs
    );
    println!("latency: {summary}");
    println!(
        "probers' CPU: {:.3} s = {:.1}% of one core, {:.1} µs per probe",
        prober_cpu,
        100.0 * prober_cpu / secs,
        1e6 * prober_cpu / probes
    );
    println!(
        "server's CPU (its own process): {:.3} s = {:.1}% of one core, {:.1} µs per request",
        server_cpu,
        100.0 * server_cpu / secs,
        1e6 * server_cpu / probes
    );
    println!(
        "resident memory of the probers' process: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

/// Serves until killed, over TLS with `tls`; prints its URL on stdout.
async fn serve(tls: bool) {
    let server = if tls {
        AppServer::start_keep_alive_tls().await
    } else {
        AppServer::start_keep_alive().await
    };
    println!("{}", server.url());
    std::future::pending::<()>().await;
}

struct Snapshot {
    wall: Instant,
    probers_ns: u64,
    server_ns: u64,
}

impl Snapshot {
    fn take(server_pid: &str) -> Self {
        Self {
            wall: Instant::now(),
            probers_ns: cpu_ns("self"),
            server_ns: cpu_ns(server_pid),
        }
    }
}

/// Nanoseconds the process has run, user and system: `utime + stime` of its stat, in clock ticks
/// of 10 ms (`getconf CLK_TCK` is 100 on Linux).
fn cpu_ns(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after it are plain.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<u64>().ok());
    // utime and stime are the stat's fields 14 and 15, the 12th and 13th after the name.
    ticks(11)
        .unwrap_or(0)
        .saturating_add(ticks(12).unwrap_or(0))
        * 10_000_000
}

fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
