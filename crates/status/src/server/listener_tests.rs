//! The listener's limits, on a real server on 127.0.0.1:0 and raw TCP clients: heads and bodies
//! that take too long, keep-alive, the connection cap and shutdown. Timeouts are short here;
//! every wait for the server to act is a poll with a generous deadline, and every check that it
//! has not acted yet is one a slower machine only makes easier to pass.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use secret::Secret;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Limits, start};
use crate::{Board, Drains, NoReadings, RealClock, Sources};

const DRAIN_PASSWORD: &str = "drain-pw-0c5e1-never-shown";
/// How long the tests wait for the server to do what it must; far above every timeout here.
const GENEROUS: Duration = Duration::from_secs(10);
const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";

struct Served {
    addr: SocketAddr,
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

async fn serve(limits: Limits) -> Served {
    let board = Board::default();
    let index = board.add("shop", "web", 1);
    board.beat(index);
    let sources = Sources {
        board,
        apps: vec![],
        clock: std::sync::Arc::new(RealClock),
        readings: std::sync::Arc::new(NoReadings),
        drains: Drains::new(&Secret::from(DRAIN_PASSWORD), ["shop"]),
        edits: None,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, task) = start(
        "127.0.0.1:0".parse().unwrap(),
        None,
        sources,
        limits,
        async {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    Served { addr, task, stop }
}

fn limits(max_connections: usize) -> Limits {
    Limits {
        head_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(600),
        max_connections,
    }
}

/// Reads until the server closes the connection, for at most `within`; what it sent, or `None`
/// when it was still open then.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let deadline = Instant::now() + within;
    loop {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_elapsed) => return None,
            Ok(Ok(0) | Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `request` and reads one answer's head and body (it must have a `content-length`).
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).await.unwrap();
    let mut got = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(GENEROUS, stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before a whole answer: {got:?}");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

async fn healthz(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    exchange(&mut stream, HEALTHZ).await
}

async fn metric(addr: SocketAddr, line_start: &str) -> f64 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let text = exchange(&mut stream, b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await;
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in {text}"))
}

#[tokio::test]
async fn a_connection_that_sends_no_head_is_closed_after_the_head_timeout() {
    let served = serve(limits(16)).await;
    let opened = Instant::now();
    let mut silent = TcpStream::connect(served.addr).await.unwrap();
    assert_eq!(closed_within(&mut silent, GENEROUS).await, Some(Vec::new()));
    assert!(opened.elapsed() >= Duration::from_millis(300));
    let timed_out = r#"autoscaled_http_connections_closed_total{reason="timed_out"}"#;
    assert!(metric(served.addr, timed_out).await >= 1.0);
}

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_cut_at_the_head_timeout() {
    let served = serve(limits(16)).await;
    let opened = Instant::now();
    let mut slow = TcpStream::connect(served.addr).await.unwrap();
    let mut closed = false;
    // The head never ends; the server must close it however steadily bytes come.
    for byte in b"GET /healthz HTTP/1.1\r\nx-slow: "
        .iter()
        .cycle()
        .take(200)
    {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(50))
            .await
            .is_some()
        {
            closed = true;
            break;
        }
        assert!(
            opened.elapsed() < GENEROUS,
            "still open after {:?}",
            opened.elapsed()
        );
    }
    assert!(closed, "a head of 200 bytes over 10 s was let through");
    assert!(opened.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_head_in_pieces_or_with_bare_line_feeds_is_answered() {
    let served = serve(limits(16)).await;
    let mut pieces = TcpStream::connect(served.addr).await.unwrap();
    for piece in HEALTHZ.chunks(5) {
        pieces.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let answer = exchange(&mut pieces, b"").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut bare = TcpStream::connect(served.addr).await.unwrap();
    let answer = exchange(&mut bare, b"GET /healthz HTTP/1.1\nhost: x\n\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A head beyond 16 KiB is not a head this server answers.
    let mut huge = TcpStream::connect(served.addr).await.unwrap();
    let mut request = b"GET /healthz HTTP/1.1\r\nx-big: ".to_vec();
    request.resize(20 * 1024, b'a');
    let _ = huge.write_all(&request).await;
    assert_eq!(closed_within(&mut huge, GENEROUS).await, Some(Vec::new()));
}

#[tokio::test]
async fn a_kept_alive_connection_carries_requests_then_closes_when_idle() {
    let served = serve(limits(16)).await;
    let mut kept = TcpStream::connect(served.addr).await.unwrap();
    let first = exchange(&mut kept, HEALTHZ).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // Longer than the head timeout, shorter than the idle one: a kept connection waits that long.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = exchange(&mut kept, HEALTHZ).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    let answered = Instant::now();
    assert_eq!(closed_within(&mut kept, GENEROUS).await, Some(Vec::new()));
    assert!(answered.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn at_the_cap_a_new_connection_replaces_the_one_idle_longest() {
    let served = serve(Limits {
        head_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..limits(4)
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(served.addr).await.unwrap());
    }
    // The server has taken all four once one more connection is answered.
    let answer = healthz(served.addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // That one replaced the oldest, which is closed; the other three are open.
    assert_eq!(
        closed_within(&mut idle[0], GENEROUS).await,
        Some(Vec::new())
    );
    for stream in &mut idle[1..] {
        assert_eq!(
            closed_within(stream, Duration::from_millis(100)).await,
            None
        );
    }
    // Idle connections never lock out a health check, however many come.
    for _ in 0..20 {
        idle.push(TcpStream::connect(served.addr).await.unwrap());
        let answer = healthz(served.addr).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let open = metric(served.addr, "autoscaled_http_connections ").await;
    assert!(open <= 4.0, "{open} open, above the cap of 4");
    let replaced = r#"autoscaled_http_connections_closed_total{reason="replaced"}"#;
    assert!(metric(served.addr, replaced).await >= 20.0);
}

/// A drain request whose body never comes: busy until the body timeout.
fn drain_head() -> Vec<u8> {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("u:{DRAIN_PASSWORD}"));
    format!(
        "POST /drain/shop HTTP/1.1\r\nhost: x\r\nauthorization: Basic {auth}\r\ncontent-type: application/logplex-1\r\ncontent-length: 100\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_body_that_does_not_come_is_answered_408_at_the_body_timeout() {
    let served = serve(limits(16)).await;
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    let sent = Instant::now();
    stream.write_all(&drain_head()).await.unwrap();
    let answer = closed_within(&mut stream, GENEROUS).await.expect("closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(sent.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn at_the_cap_with_every_connection_in_a_request_a_new_one_is_closed_at_once() {
    let served = serve(Limits {
        body_timeout: Duration::from_secs(60),
        ..limits(2)
    })
    .await;
    let deadline = Instant::now() + GENEROUS;
    // Tried again until both drain requests' heads were read before the third connection came:
    // until then the third takes the place of one of them, which waits for a head.
    loop {
        assert!(
            Instant::now() < deadline,
            "the third connection was never refused"
        );
        let mut busy = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(served.addr).await.unwrap();
            stream.write_all(&drain_head()).await.unwrap();
            busy.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut extra = TcpStream::connect(served.addr).await.unwrap();
        let _ = extra.write_all(HEALTHZ).await;
        let refused = closed_within(&mut extra, GENEROUS).await == Some(Vec::new());
        let mut all_open = true;
        for stream in &mut busy {
            all_open &= closed_within(stream, Duration::from_millis(100))
                .await
                .is_none();
        }
        if refused && all_open {
            break;
        }
    }
    let at_capacity = r#"autoscaled_http_connections_closed_total{reason="at_capacity"}"#;
    // The drain requests gone, /metrics has room again.
    let deadline = Instant::now() + GENEROUS;
    loop {
        let mut stream = TcpStream::connect(served.addr).await.unwrap();
        let request = b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        let _ = stream.write_all(request).await;
        if let Some(text) = closed_within(&mut stream, GENEROUS).await
            && !text.is_empty()
        {
            let text = String::from_utf8_lossy(&text);
            let value = text.lines().find_map(|l| l.strip_prefix(at_capacity));
            assert!(value.is_some_and(|v| v.trim() != "0"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "/metrics never answered");
    }
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_ends_the_task() {
    let served = serve(Limits {
        head_timeout: Duration::from_secs(60),
        ..limits(16)
    })
    .await;
    let mut idle = TcpStream::connect(served.addr).await.unwrap();
    let answer = healthz(served.addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let _ = served.stop.send(());
    tokio::time::timeout(GENEROUS, served.task)
        .await
        .expect("the server's task ends")
        .unwrap();
    assert_eq!(closed_within(&mut idle, GENEROUS).await, Some(Vec::new()));
}
