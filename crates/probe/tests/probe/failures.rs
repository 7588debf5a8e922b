//! Down probes: each way a request can fail, with its reason, and the timeout holding to the
//! millisecond scale.

use std::net::SocketAddr;
use std::time::Duration;

use autoscaled_probe::{Class, DownReason, ProbeResult, Prober};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::server::{config, prober, serve, serve_raw, thresholds};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn assert_down(result: &ProbeResult, reason: DownReason, text: &str) {
    assert_eq!(result.class, Class::Down, "{result:?}");
    assert_eq!(result.reason, Some(reason), "{result:?}");
    assert_eq!(result.describe(), text);
}

/// Probes with a 500 ms timeout and checks it ended within 100 ms after the timeout, by both the
/// result's latency and the wall clock around the call.
async fn probe_timing_out(prober: &Prober) -> ProbeResult {
    let started = Instant::now();
    let result = prober.probe().await.unwrap();
    let took = started.elapsed();
    assert!(took >= ms(500) && took < ms(600), "took {took:?}");
    assert!(
        result.latency >= ms(500) && result.latency < ms(600),
        "{result:?}"
    );
    assert_down(
        &result,
        DownReason::TimedOut(ms(500)),
        "timed out after 500 ms",
    );
    result
}

#[tokio::test]
async fn a_refused_connection_is_down_not_a_crash() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let result = prober(addr, thresholds(1000, 300, 100))
        .probe()
        .await
        .unwrap();
    assert_down(&result, DownReason::Refused, "connection refused");
    assert_eq!(result.status, None);
    assert!(result.latency < ms(100), "{result:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_on_time() {
    let addr = serve(|stream, _head| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(stream);
    })
    .await;
    let result = probe_timing_out(&prober(addr, thresholds(500, 300, 100))).await;
    assert_eq!(result.status, None);
}

#[tokio::test]
async fn a_body_that_stalls_after_the_headers_counts_against_the_timeout() {
    let addr = serve(|mut stream, _head| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            .await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let result = probe_timing_out(&prober(addr, thresholds(500, 300, 100))).await;
    assert_eq!(
        result.status,
        Some(200),
        "the status arrived before the stall"
    );
}

#[tokio::test]
async fn a_connection_closed_mid_body_is_down() {
    let addr = serve(|mut stream, _head| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
            .await;
        let _ = stream.shutdown().await;
    })
    .await;
    let result = prober(addr, thresholds(1000, 300, 100))
        .probe()
        .await
        .unwrap();
    assert_down(&result, DownReason::Closed, "connection closed early");
    assert_eq!(result.status, Some(200));
}

#[tokio::test]
async fn a_chunked_body_cut_short_is_down() {
    let addr = serve(|mut stream, _head| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
            .await;
        let _ = stream.shutdown().await;
    })
    .await;
    let result = prober(addr, thresholds(1000, 300, 100))
        .probe()
        .await
        .unwrap();
    assert_down(&result, DownReason::Closed, "connection closed early");
}

#[tokio::test]
async fn a_connection_closed_before_any_answer_is_down() {
    let addr = serve(|stream, _head| async move { drop(stream) }).await;
    let result = prober(addr, thresholds(1000, 300, 100))
        .probe()
        .await
        .unwrap();
    assert_down(&result, DownReason::Closed, "connection closed early");
    assert_eq!(result.status, None);
}

#[tokio::test]
async fn a_reset_connection_is_down() {
    let addr = serve(|stream, _head| async move {
        // Closing with unread data or a zero linger sends RST instead of FIN.
        stream.set_zero_linger().unwrap();
        drop(stream);
    })
    .await;
    let result = prober(addr, thresholds(1000, 300, 100))
        .probe()
        .await
        .unwrap();
    assert_down(&result, DownReason::Reset, "connection reset");
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_down() {
    let addr = serve(|mut stream, _head| async move {
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
        let _ = stream.shutdown().await;
    })
    .await;
    let result = prober(addr, thresholds(1000, 300, 100))
        .probe()
        .await
        .unwrap();
    assert_down(&result, DownReason::Protocol, "invalid HTTP response");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_down() {
    // `.invalid` never resolves (RFC 6761); a machine without DNS fails the lookup just the same.
    let cfg = config("http://my-app.invalid/", thresholds(3000, 300, 100));
    let result = Prober::new(cfg).unwrap().probe().await.unwrap();
    assert_down(&result, DownReason::Dns, "DNS lookup failed");
}

async fn probe_https(addr: SocketAddr) -> ProbeResult {
    let cfg = config(&format!("https://{addr}/"), thresholds(1000, 300, 100));
    Prober::new(cfg).unwrap().probe().await.unwrap()
}

#[tokio::test]
async fn a_server_that_does_not_speak_tls_fails_the_handshake() {
    let addr = serve_raw(|mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let result = probe_https(addr).await;
    assert_down(&result, DownReason::Tls, "TLS handshake failed");
}

#[tokio::test]
async fn a_server_that_hangs_up_during_the_handshake_fails_it() {
    let addr = serve_raw(|mut stream| async move {
        let mut hello = [0u8; 16];
        let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut hello).await;
        let _ = stream.shutdown().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let result = probe_https(addr).await;
    assert_down(&result, DownReason::Tls, "TLS handshake failed");
}
