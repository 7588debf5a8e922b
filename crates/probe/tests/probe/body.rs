//! Bodies: the latency runs to the last byte, and a huge body streams through without being held.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use autoscaled_probe::Class;
use tokio::io::AsyncWriteExt;

use super::server::{prober, serve, thresholds};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn latency_runs_to_the_end_of_the_body() {
    // The headers and half the body come at once, the rest 250 ms later: timing stops at the end.
    let addr = serve(|mut stream, _head| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")
            .await;
        tokio::time::sleep(ms(250)).await;
        let _ = stream.write_all(b"56789").await;
    })
    .await;
    let result = prober(addr, thresholds(1000, 200, 100))
        .probe()
        .await
        .unwrap();
    assert_eq!(result.class, Class::Slow, "{result:?}");
    assert!(
        result.latency >= ms(250) && result.latency < ms(330),
        "{result:?}"
    );
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const HUGE: u64 = 200 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_body_is_read_to_its_end_in_flat_memory() {
    let sent = Arc::new(AtomicU64::new(0));
    let sent_by_server = Arc::clone(&sent);
    let addr = serve(move |mut stream, _head| {
        let sent = Arc::clone(&sent_by_server);
        async move {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = HUGE;
            while left > 0 {
                let n = left.min(chunk.len() as u64);
                // usize is at least 32 bits here, and n ≤ 64 KiB.
                if stream.write_all(&chunk[..n as usize]).await.is_err() {
                    return;
                }
                left -= n;
                sent.fetch_add(n, Ordering::Relaxed);
            }
        }
    })
    .await;
    // A small answer first, so the client, runtime and allocator have their steady-state memory.
    let warm = super::server::answer(200, Duration::ZERO, "").await;
    assert_eq!(
        prober(warm, thresholds(1000, 300, 100))
            .probe()
            .await
            .unwrap()
            .class,
        Class::Fast
    );

    let before = resident_kib();
    let result = prober(addr, thresholds(60_000, 30_000, 100))
        .probe()
        .await
        .unwrap();
    let after = resident_kib();

    assert_eq!(result.status, Some(200));
    assert_ne!(result.class, Class::Down, "{result:?}");
    assert_eq!(
        sent.load(Ordering::Relaxed),
        HUGE,
        "the whole body was read"
    );
    let grown = after.saturating_sub(before);
    eprintln!(
        "200 MiB body in {:?}; resident {before} KiB -> {after} KiB (+{grown} KiB)",
        result.latency
    );
    assert!(grown < 8 * 1024, "resident memory grew by {grown} KiB");
}
