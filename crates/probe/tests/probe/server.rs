//! A raw HTTP/1.1 server on 127.0.0.1:0 whose every byte the test writes, so that stalls, early closes
//! and resets happen exactly where a test wants them.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use autoscaled_probe::{ProbeConfig, Prober, Thresholds};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves each connection with `handler`, which gets the stream and the request head (read to the
/// blank line). Connections that send no complete head are handed over with an empty head.
pub(crate) async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let head = read_head(&mut stream).await;
            tokio::spawn(handler(stream, head));
        }
    });
    addr
}

/// Serves each connection with `handler` without reading anything first.
pub(crate) async fn serve_raw<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(handler(stream));
        }
    });
    addr
}

/// Answers every request with `status` after `delay`, with a short body, and closes.
pub(crate) async fn answer(
    status: u16,
    delay: Duration,
    extra_headers: &'static str,
) -> SocketAddr {
    serve(move |mut stream, _head| async move {
        tokio::time::sleep(delay).await;
        let body = "ok";
        let response = format!(
            "HTTP/1.1 {status} Whatever\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return String::new(),
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

pub(crate) fn thresholds(timeout_ms: u64, slow_ms: u64, fast_ms: u64) -> Thresholds {
    Thresholds {
        timeout: Duration::from_millis(timeout_ms),
        slow: Duration::from_millis(slow_ms),
        fast: Duration::from_millis(fast_ms),
    }
}

pub(crate) fn config(url: &str, thresholds: Thresholds) -> ProbeConfig {
    ProbeConfig {
        url: url.parse().unwrap(),
        interval: thresholds.timeout * 2,
        thresholds,
        headers: vec![],
    }
}

pub(crate) fn prober(addr: SocketAddr, thresholds: Thresholds) -> Prober {
    Prober::new(config(&format!("http://{addr}/health"), thresholds)).unwrap()
}
