//! `POST /drain/{app}`, served for real on 127.0.0.1:0 and posted to with an HTTP client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use router_logs::{At, ErrorCode, RouterLine, app_line, frame, router_line};
use secret::Secret;
use tokio::sync::oneshot;

use super::{Limits, start};
use crate::{Board, Clock, Drains, NoReadings, Sources};

const DRAIN_PASSWORD: &str = "drain-pw-9a41d-never-shown";
const PAGE_PASSWORD: &str = "page-pw-77b0e-never-shown";

#[derive(Debug)]
struct Stopped(DateTime<Utc>);

impl Clock for Stopped {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct Served {
    addr: SocketAddr,
    drains: Drains,
    board: Board,
    _shutdown: oneshot::Sender<()>,
}

async fn serve(drains: Drains) -> Served {
    let board = Board::default();
    board.add("shop", "web", 1);
    let rules = vec![schedule::Rule::new("0 7 * * *", 1).unwrap()];
    let sources = Sources {
        board: board.clone(),
        apps: vec![crate::AppInfo {
            name: "shop".into(),
            process: "web".into(),
            min: 1,
            max: 4,
            schedule: schedule::Schedule::new(rules, chrono_tz::UTC, 1),
            price_per_hour: 0.035,
        }],
        clock: Arc::new(Stopped(now())),
        readings: Arc::new(NoReadings),
        drains: drains.clone(),
        edits: None,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let password = Some(Secret::from(PAGE_PASSWORD));
    let (addr, _) = start(
        "127.0.0.1:0".parse().unwrap(),
        password,
        sources,
        Limits::default(),
        async {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    Served {
        addr,
        drains,
        board,
        _shutdown: stop,
    }
}

fn drains() -> Drains {
    Drains::new(&Secret::from(DRAIN_PASSWORD), ["shop"])
}

/// `n` router lines of 100 ms each, completed over the 10 s before `now()`, one H12 among them.
fn router_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let at = now() - TimeDelta::milliseconds(10_000 * (i as i64 + 1) / n as i64);
            let h12 = i == 0;
            let line = RouterLine {
                at: if h12 { At::Error } else { At::Info },
                code: h12.then_some(ErrorCode::H12),
                method: Some("GET"),
                path: Some("/products?page=2"),
                host: Some("shop.herokuapp.com"),
                dyno: Some("web.1"),
                connect: Some(Duration::from_millis(1)),
                service: Some(Duration::from_millis(if h12 { 30_000 } else { 100 })),
                status: Some(if h12 { 503 } else { 200 }),
                bytes: Some(1_234),
            };
            router_line(at, &line)
        })
        .collect()
}

async fn post(
    addr: SocketAddr,
    app: &str,
    password: Option<&str>,
    frame_id: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/drain/{app}"))
        .header("content-type", "application/logplex-1")
        .header("logplex-frame-id", frame_id)
        .header(
            "logplex-drain-token",
            "d.8ffb4c3c-7d5e-4cc4-b54b-6a94b5b1d0a1",
        )
        .body(body);
    if let Some(password) = password {
        request = request.basic_auth("autoscaled", Some(password));
    }
    request.send().await.unwrap()
}

async fn metrics(addr: SocketAddr) -> String {
    reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .basic_auth("ops", Some(PAGE_PASSWORD))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_good_body_is_taken_and_the_figures_reflect_it() {
    let served = serve(drains()).await;
    assert!(
        served.drains.figures("shop", "web", now()).is_none(),
        "no data yet"
    );
    let body = frame(&router_lines(100));
    let response = post(served.addr, "shop", Some(DRAIN_PASSWORD), "f1", body).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let figures = served.drains.figures("shop", "web", now()).unwrap();
    assert_eq!(figures.requests_last_minute, 100);
    assert_eq!(figures.errors_last_minute.h12, 1);
    assert!(figures.stable.in_flight > 0.0);
    assert!(
        served.drains.figures("shop", "worker", now()).is_none(),
        "the router serves web only"
    );
    let text = metrics(served.addr).await;
    for line in [
        "autoscaled_drain_batches_total{app=\"shop\"} 1",
        "autoscaled_drain_lines_total{app=\"shop\",outcome=\"accepted\"} 100",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
}

#[tokio::test]
async fn no_or_the_wrong_password_is_401() {
    let served = serve(drains()).await;
    let body = || frame(&router_lines(5));
    for password in [
        None,
        Some("not-it"),
        Some(PAGE_PASSWORD),
        Some("drain-pw-9a41d-never-show"),
    ] {
        let response = post(served.addr, "shop", password, "f1", body()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{password:?}");
        assert!(response.headers().contains_key("www-authenticate"));
    }
    // Not for an unknown app either: nothing is told before the password.
    let response = post(served.addr, "elsewhere", None, "f1", body()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(served.drains.figures("shop", "web", now()).is_none());
    let text = metrics(served.addr).await;
    assert!(
        text.contains("autoscaled_drain_refused_total{code=\"401\"} 5"),
        "{text}"
    );
    // And the page's password still guards the page, the drain's does not open it.
    let page = reqwest::Client::new()
        .get(format!("http://{}/api/status", served.addr))
        .basic_auth("autoscaled", Some(DRAIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unknown_app_is_404_and_a_drain_without_password_takes_nothing() {
    let served = serve(drains()).await;
    let response = post(
        served.addr,
        "other-app",
        Some(DRAIN_PASSWORD),
        "f1",
        frame(&router_lines(5)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let text = metrics(served.addr).await;
    assert!(
        text.contains("autoscaled_drain_refused_total{code=\"404\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("other-app"),
        "a refused app name is no label"
    );

    let off = serve(Drains::off()).await;
    for password in [None, Some(DRAIN_PASSWORD), Some("")] {
        let response = post(off.addr, "shop", password, "f1", frame(&router_lines(5))).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{password:?}");
    }
    assert!(off.drains.figures("shop", "web", now()).is_none());
}

#[tokio::test]
async fn a_body_that_is_not_logplex_is_400() {
    let served = serve(drains()).await;
    for body in [
        &b"{\"json\": true}"[..],
        b"12 short",
        b"<158>1 2026-11-27T12:00:00Z host heroku router - at=info",
    ] {
        let response = post(
            served.addr,
            "shop",
            Some(DRAIN_PASSWORD),
            "f1",
            body.to_vec(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    // A refused body does not mark its frame id as seen: its retry, fixed, is taken.
    let response = post(
        served.addr,
        "shop",
        Some(DRAIN_PASSWORD),
        "f1",
        frame(&router_lines(3)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        served
            .drains
            .figures("shop", "web", now())
            .unwrap()
            .requests_last_minute,
        3
    );
    assert!(
        metrics(served.addr)
            .await
            .contains("autoscaled_drain_refused_total{code=\"400\"} 3")
    );
}

#[tokio::test]
async fn a_body_over_1_mib_is_413() {
    let served = serve(drains()).await;
    // Real lines, framed, just over the limit.
    let mut lines = router_lines(100);
    while frame(&lines).len() <= crate::drain::MAX_BODY {
        lines.extend(router_lines(100));
    }
    let body = frame(&lines);
    assert!(body.len() > 1024 * 1024 && body.len() < 1024 * 1024 + 20_000);
    let response = post(served.addr, "shop", Some(DRAIN_PASSWORD), "big", body).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length (chunked), it is cut at the limit all the same.
    assert_eq!(
        post_chunked(served.addr, &frame(&lines)).await,
        "HTTP/1.1 413"
    );
    assert!(served.drains.figures("shop", "web", now()).is_none());
    // Just under the limit is fine.
    let mut lines = router_lines(100);
    while frame(&lines).len() < 900 * 1024 {
        lines.extend(router_lines(100));
    }
    let response = post(
        served.addr,
        "shop",
        Some(DRAIN_PASSWORD),
        "ok",
        frame(&lines),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

/// Posts `body` in 64 KiB chunks (`Transfer-Encoding: chunked`, no length) over a raw connection;
/// returns the status line's start.
async fn post_chunked(addr: SocketAddr, body: &[u8]) -> String {
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("a:{DRAIN_PASSWORD}"));
    let head = format!(
        "POST /drain/shop HTTP/1.1\r\nhost: x\r\nauthorization: Basic {auth}\r\n\
         content-type: application/logplex-1\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let chunks: Vec<Vec<u8>> = body.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        for chunk in chunks {
            write
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            write.write_all(&chunk).await?;
            write.write_all(b"\r\n").await?;
        }
        write.write_all(b"0\r\n\r\n").await
    });
    let mut answer = [0u8; 12];
    read.read_exact(&mut answer).await.unwrap();
    writer.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn bad_lines_are_counted_and_skipped() {
    let served = serve(drains()).await;
    let mut messages = router_lines(10);
    messages.push("not syslog at all".into());
    messages.push("<158>1 2026-11-27T11:59:59Z host heroku router - no at field".into());
    messages.push(app_line(
        now() - TimeDelta::seconds(1),
        "web.1",
        "Completed 200 OK in 99ms",
    ));
    let response = post(
        served.addr,
        "shop",
        Some(DRAIN_PASSWORD),
        "f1",
        frame(&messages),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        served
            .drains
            .figures("shop", "web", now())
            .unwrap()
            .requests_last_minute,
        10
    );
    let text = metrics(served.addr).await;
    for line in [
        "autoscaled_drain_lines_total{app=\"shop\",outcome=\"accepted\"} 10",
        "autoscaled_drain_lines_total{app=\"shop\",outcome=\"bad\"} 2",
        "autoscaled_drain_lines_total{app=\"shop\",outcome=\"other\"} 1",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
}

#[tokio::test]
async fn a_retried_frame_id_is_counted_once() {
    let served = serve(drains()).await;
    let body = frame(&router_lines(20));
    for _ in 0..3 {
        let response = post(
            served.addr,
            "shop",
            Some(DRAIN_PASSWORD),
            "09e4b7b7e1c0c2a1",
            body.clone(),
        )
        .await;
        assert!(response.status().is_success());
    }
    assert_eq!(
        served
            .drains
            .figures("shop", "web", now())
            .unwrap()
            .requests_last_minute,
        20
    );
    let response = post(served.addr, "shop", Some(DRAIN_PASSWORD), "another", body).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        served
            .drains
            .figures("shop", "web", now())
            .unwrap()
            .requests_last_minute,
        40
    );
    let text = metrics(served.addr).await;
    assert!(
        text.contains("autoscaled_drain_duplicates_total{app=\"shop\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("autoscaled_drain_batches_total{app=\"shop\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn the_drain_password_is_in_no_answer_log_or_debug() {
    let (captured, _capturing) = testkit::Logs::capture();

    let served = serve(drains()).await;
    let mut answers = String::new();
    let client = reqwest::Client::new();
    for (app, password, body) in [
        ("shop", Some(DRAIN_PASSWORD), frame(&router_lines(5))),
        ("shop", Some("wrong"), frame(&router_lines(5))),
        ("shop", None, frame(&router_lines(5))),
        ("nope", Some(DRAIN_PASSWORD), frame(&router_lines(5))),
        ("shop", Some(DRAIN_PASSWORD), b"garbage".to_vec()),
        ("shop", Some(DRAIN_PASSWORD), frame(&["<158>1 bad"])),
    ] {
        let response = post(served.addr, app, password, "x", body).await;
        answers += &format!("{:?}", response.headers());
        answers += &response.text().await.unwrap();
    }
    for path in [
        "/",
        "/page.js",
        "/api/status",
        "/api/history",
        "/metrics",
        "/healthz",
    ] {
        let response = client
            .get(format!("http://{}{path}", served.addr))
            .basic_auth("ops", Some(PAGE_PASSWORD))
            .send()
            .await
            .unwrap();
        answers += &response.text().await.unwrap();
    }
    let logs = captured.text();
    let debug = format!("{:?} {:?}", served.drains, served.board);
    for (what, text) in [("answers", &answers), ("logs", &logs), ("debug", &debug)] {
        assert!(
            !text.contains(DRAIN_PASSWORD),
            "the drain password in the {what}: {text}"
        );
    }
    assert!(debug.contains("[redacted]"), "{debug}");
}
