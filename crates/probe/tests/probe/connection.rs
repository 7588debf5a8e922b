//! The connection a prober keeps: reused between probes, replaced when the server closed it, not
//! kept at long intervals; and the request it carries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autoscaled_probe::{Class, IDLE_CONNECTION, Prober};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::server::{config, prober, serve_raw, thresholds};

/// [`serve_raw`], counting the connections it accepts.
async fn serve_counting<F, Fut>(handler: F) -> (std::net::SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let addr = serve_raw(move |stream| {
        counted.fetch_add(1, Ordering::SeqCst);
        handler(stream)
    })
    .await;
    (addr, connections)
}

/// A keep-alive server answering `200` with a chunked body to every request on a connection, up
/// to `per_connection` requests, then closing it. Returns its address, the connections it
/// accepted and the request heads it read.
async fn keep_alive_server(
    per_connection: usize,
) -> (
    std::net::SocketAddr,
    Arc<AtomicUsize>,
    Arc<Mutex<Vec<String>>>,
) {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    let (addr, connections) = serve_counting(move |mut stream| {
        let seen = Arc::clone(&seen);
        async move {
            for _ in 0..per_connection {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                seen.lock().unwrap().push(head);
                let answer =
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
                if stream.write_all(answer).await.is_err() {
                    return;
                }
            }
            // Closed while the client keeps it, as a router closes an idle connection.
        }
    })
    .await;
    (addr, connections, heads)
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

#[tokio::test]
async fn probes_reuse_one_connection() {
    let (addr, connections, heads) = keep_alive_server(usize::MAX).await;
    let prober = prober(addr, thresholds(1000, 300, 100));
    for _ in 0..5 {
        let result = prober.probe().await.unwrap();
        assert_eq!(result.class, Class::Fast, "{result:?}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert_eq!(heads.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_replaced_not_reported_down() {
    // The server closes each connection after one answer, without saying so in the answer.
    let (addr, connections, _) = keep_alive_server(1).await;
    let prober = prober(addr, thresholds(1000, 300, 100));
    for _ in 0..3 {
        let result = prober.probe().await.unwrap();
        assert_eq!(result.class, Class::Fast, "{result:?}");
        // The close reaches the client before the next probe, as it would over a long interval.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_request_on_a_connection_the_server_closes_as_it_arrives_is_sent_again() {
    // Each connection answers one request and closes on receiving the next, unanswered: the
    // race of a request sent as the server times the idle connection out.
    let (addr, connections) = serve_counting(|mut stream| async move {
        if read_head(&mut stream).await.is_none() {
            return;
        }
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if stream.write_all(answer).await.is_ok() {
            let _ = read_head(&mut stream).await;
        }
    })
    .await;
    let prober = prober(addr, thresholds(1000, 300, 100));
    for _ in 0..3 {
        let result = prober.probe().await.unwrap();
        assert_eq!(result.class, Class::Fast, "{result:?}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_answer_the_server_sent_unasked_is_not_taken_for_the_next_probes() {
    // After each answer, the server says `408 Request Timeout` on the idle connection and
    // closes it, as some servers do; read as the next probe's answer, it would be a down probe.
    let (addr, connections) = serve_counting(|mut stream| {
        async move {
            if read_head(&mut stream).await.is_none() {
                return;
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = stream
                .write_all(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            // Still open when the next probe comes, so only the unasked bytes tell.
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
    .await;
    let prober = prober(addr, thresholds(1000, 300, 100));
    for _ in 0..3 {
        let result = prober.probe().await.unwrap();
        assert_eq!(result.status, Some(200), "{result:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn at_intervals_beyond_the_idle_limit_no_connection_is_kept() {
    let (addr, connections, _) = keep_alive_server(usize::MAX).await;
    let mut cfg = config(&format!("http://{addr}/health"), thresholds(1000, 300, 100));
    cfg.interval = IDLE_CONNECTION;
    let prober = Prober::new(cfg).unwrap();
    for _ in 0..3 {
        assert_eq!(prober.probe().await.unwrap().class, Class::Fast);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn the_urls_credentials_go_in_basic_auth_and_a_configured_header_wins() {
    let (addr, _, heads) = keep_alive_server(usize::MAX).await;
    let url = format!("http://probe:p%40ss@{addr}/health?deep=1#ignored");
    let prober = Prober::new(config(&url, thresholds(1000, 300, 100))).unwrap();
    assert_eq!(prober.probe().await.unwrap().class, Class::Fast);
    let mut cfg = config(&url, thresholds(1000, 300, 100));
    cfg.headers = vec![("Authorization".into(), "Bearer token".into())];
    assert_eq!(
        Prober::new(cfg).unwrap().probe().await.unwrap().class,
        Class::Fast
    );

    let heads = heads.lock().unwrap();
    // "probe:p@ss", percent-decoded, in base64.
    assert!(
        heads[0].starts_with("GET /health?deep=1 HTTP/1.1\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        heads[0].contains("authorization: Basic cHJvYmU6cEBzcw==\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        heads[0].contains(&format!("host: {addr}\r\n")),
        "{}",
        heads[0]
    );
    assert!(
        heads[1].contains("authorization: Bearer token\r\n"),
        "{}",
        heads[1]
    );
    assert_eq!(
        heads[1].matches("authorization:").count(),
        1,
        "{}",
        heads[1]
    );
}

/// A keep-alive HTTPS server with the test certificate; returns its address and the connections
/// it accepted.
async fn tls_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let acceptor = testkit::tls::acceptor();
    serve_counting(move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(mut stream) = acceptor.accept(stream).await else {
                return;
            };
            let mut buf = vec![0u8; 4096];
            // One request a read is enough for a client that waits for each answer.
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                if !buf[..n].ends_with(b"\r\n\r\n") {
                    return;
                }
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                if stream.write_all(answer).await.is_err() {
                    return;
                }
            }
        }
    })
    .await
}

#[tokio::test]
async fn https_probes_verify_the_certificate_and_reuse_the_connection() {
    let (addr, connections) = tls_server().await;
    let url = format!("https://localhost:{}/health", addr.port());
    let client =
        autoscaled_probe::Client::with_roots([testkit::tls::CERTIFICATE.to_vec()]).unwrap();
    let prober = Prober::with_client(config(&url, thresholds(2000, 1000, 500)), client).unwrap();
    for _ in 0..3 {
        let result = prober.probe().await.unwrap();
        assert_eq!(result.status, Some(200), "{result:?}");
        assert_ne!(result.class, Class::Down, "{result:?}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_handshake() {
    let (addr, _) = tls_server().await;
    let url = format!("https://localhost:{}/health", addr.port());
    let result = Prober::new(config(&url, thresholds(2000, 1000, 500)))
        .unwrap()
        .probe()
        .await
        .unwrap();
    assert_eq!(
        result.reason,
        Some(autoscaled_probe::DownReason::Tls),
        "{result:?}"
    );
}
