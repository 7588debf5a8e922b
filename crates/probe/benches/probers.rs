//! Many probers in one process against a keep-alive server on loopback.
//!
//! The probers run on one thread (a current-thread runtime), the server on another; CPU time is read
//! per thread from `/proc/self/task/<tid>/schedstat` (nanoseconds on the CPU, user and system), so the
//! probers' figure excludes the server. Resident memory is the whole process, server included.
//!
//! `cargo bench -p autoscaled-probe --bench probers` (env: `PROBERS`, default 1000; `SECONDS`, default
//! 10; one probe per prober per second).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use autoscaled_probe::{Class, Client, ProbeConfig, Prober, RollingStats, Thresholds};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const WARM_UP: Duration = Duration::from_secs(2);

fn main() {
    let probers: usize = env_or("PROBERS", 1000);
    let seconds: u64 = env_or("SECONDS", 10);

    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(serve(addr_tx));
    });
    let (addr, server_tid) = addr_rx.recv().expect("server started");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("prober runtime");
    runtime.block_on(run(addr, server_tid, probers, Duration::from_secs(seconds)));
}

async fn run(addr: SocketAddr, server_tid: String, probers: usize, measured: Duration) {
    let client = Client::new().expect("client");
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
            url: format!("http://{addr}/app/{i}").parse().expect("url"),
            interval: Duration::from_secs(1),
            thresholds,
            headers: vec![],
        };
        let prober = Prober::with_client(config, client.clone()).expect("prober");
        tasks.push(prober.spawn(tx.clone(), shutdown.clone()));
    }
    drop(tx);

    let prober_tid = own_tid();
    let started = Instant::now();
    let measure_from = started + WARM_UP;
    let measure_to = measure_from + measured;
    let mut stats = RollingStats::new(measured, probers * (measured.as_secs() as usize + 2));
    let mut classes: HashMap<Class, u64> = HashMap::new();
    let mut at_start = None;

    while let Ok(Some(result)) = tokio::time::timeout_at(measure_to, rx.recv()).await {
        if at_start.is_none() && Instant::now() >= measure_from {
            at_start = Some(Snapshot::take(&prober_tid, &server_tid));
        }
        if result.at >= measure_from {
            *classes.entry(result.class).or_default() += 1;
            stats.record(&result);
        }
    }
    let at_end = Snapshot::take(&prober_tid, &server_tid);
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }

    let Some(at_start) = at_start else {
        eprintln!("no results came in");
        return;
    };
    let secs = (at_end.wall - at_start.wall).as_secs_f64();
    let summary = stats.summary(measure_to);
    let probes = summary.count as f64;
    let prober_cpu = (at_end.prober_ns - at_start.prober_ns) as f64 / 1e9;
    let server_cpu = (at_end.server_ns - at_start.server_ns) as f64 / 1e9;
    let process_cpu = (at_end.process_ns - at_start.process_ns) as f64 / 1e9;
    let (rss, hwm) = memory_kib();

    println!("probers: {probers}, interval 1 s, measured {secs:.1} s after {WARM_UP:?} warm-up");
    println!(
        "probes: {} ({:.0}/s), classes {classes:?}",
        summary.count,
        probes / secs
    );
    println!("latency: {summary}");
    println!(
        "prober thread CPU: {:.3} s = {:.1}% of one core, {:.1} µs per probe",
        prober_cpu,
        100.0 * prober_cpu / secs,
        1e6 * prober_cpu / probes
    );
    println!(
        "server thread CPU: {:.3} s = {:.1}% of one core, {:.1} µs per request",
        server_cpu,
        100.0 * server_cpu / secs,
        1e6 * server_cpu / probes
    );
    println!(
        "whole process CPU: {:.3} s = {:.1}% of one core",
        process_cpu,
        100.0 * process_cpu / secs
    );
    println!(
        "resident memory (process, server included): VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

/// A keep-alive HTTP/1.1 server answering every request `200 ok`.
async fn serve(ready: std::sync::mpsc::Sender<(SocketAddr, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    ready.send((addr, own_tid())).expect("report address");
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(connection(stream));
    }
}

async fn connection(mut stream: TcpStream) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if stream.write_all(answer).await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

struct Snapshot {
    wall: Instant,
    prober_ns: u64,
    server_ns: u64,
    process_ns: u64,
}

impl Snapshot {
    fn take(prober_tid: &str, server_tid: &str) -> Self {
        let mut process_ns = 0;
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                process_ns += cpu_ns(&task.file_name().to_string_lossy());
            }
        }
        Self {
            wall: Instant::now(),
            prober_ns: cpu_ns(prober_tid),
            server_ns: cpu_ns(server_tid),
            process_ns,
        }
    }
}

/// Nanoseconds the thread has run, from the first field of its schedstat.
fn cpu_ns(tid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn own_tid() -> String {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .expect("/proc/thread-self")
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
