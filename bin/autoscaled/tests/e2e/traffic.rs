//! Router logs posted to the running daemon's drain over HTTP, as Heroku's Logplex would post
//! them: bad bodies are refused with the interface's codes and change nothing, a good one scales
//! the app out. What the traffic rules make of the lines is tested in process on a controlled
//! clock (`src/daemon/tests/traffic.rs`).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use heroku_fake::FakeHeroku;
use router_logs::{At, RouterLine, frame, router_line};
use testkit::closed_port;

use super::harness::{API_KEY, BIN, Daemon, START, patches, write_file};

const SECOND: Duration = Duration::from_secs(1);
const APP: &str = "busy-app";
const DRAIN_PASSWORD: &str = "drain-s3cret-for-tests";

/// A daemon for `APP` (baseline 1, `max` 6, `[apps.traffic] concurrency = 2`) with its status
/// listener and drain on `port`.
fn start(fake: &FakeHeroku, port: u16) -> Daemon {
    let toml = format!(
        "[heroku]\napi_key = \"{API_KEY}\"\napi_url = \"{}\"\n\n[state]\nurl = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\ndrain_password = \"{DRAIN_PASSWORD}\"\n\n[[apps]]\nname = \"{APP}\"\nmin = 1\nmax = 6\nreconcile = \"1m\"\nschedule = [{{ cron = \"0 0 1 1 *\", quantity = 1 }}]\n\n[apps.traffic]\nconcurrency = 2\n",
        fake.url(),
        testkit::config::temp_sqlite_url()
    );
    Daemon::run(BIN, &write_file("toml", &toml))
}

/// `per_second` requests a second over the `seconds` before `now`, each served in `service`, as
/// one Logplex body.
fn requests(now: DateTime<Utc>, seconds: u32, per_second: u32, service: Duration) -> Vec<u8> {
    let mut lines = Vec::new();
    for s in 0..seconds {
        for r in 0..per_second {
            let at = now - TimeDelta::seconds(i64::from(seconds - s))
                + TimeDelta::milliseconds(i64::from(r * 1000 / per_second));
            let line = RouterLine {
                at: At::Info,
                code: None,
                method: Some("GET"),
                path: Some("/"),
                host: Some("busy-app.herokuapp.com"),
                dyno: Some("web.1"),
                connect: Some(Duration::from_millis(1)),
                service: Some(service),
                status: Some(200),
                bytes: Some(1024),
            };
            lines.push(router_line(
                at + TimeDelta::from_std(service).unwrap(),
                &line,
            ));
        }
    }
    frame(&lines)
}

pub(super) async fn post(
    port: u16,
    app: &str,
    password: Option<&str>,
    body: Vec<u8>,
) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/drain/{app}"))
        .header("Content-Type", "application/logplex-1")
        .header("Logplex-Frame-Id", format!("{:x}", rand_id(&body)))
        .body(body);
    if let Some(password) = password {
        request = request.basic_auth("autoscaled", Some(password));
    }
    request.send().await.unwrap().status()
}

/// Posts a request head that announces a body of `length` bytes, and reads the answer without
/// sending the body. The listener refuses an oversized body from its `Content-Length` alone; a
/// client that went on writing the body would race the listener's close (a broken pipe, or a
/// reset that discards the answer), and the verdict would depend on the machine's speed.
async fn post_oversized(
    port: u16,
    app: &str,
    password: &str,
    length: usize,
) -> reqwest::StatusCode {
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("autoscaled:{password}"));
    let head = format!(
        "POST /drain/{app} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/logplex-1\r\n\
         Logplex-Frame-Id: oversized\r\nAuthorization: Basic {credentials}\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let code = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    reqwest::StatusCode::from_u16(code).unwrap()
}

/// A frame id that differs between bodies, as Logplex's do.
fn rand_id(body: &[u8]) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    Utc::now().timestamp_nanos_opt().hash(&mut hasher);
    hasher.finish()
}

/// Waits until the daemon's listener answers.
pub(super) async fn listening(daemon: &Daemon, port: u16) {
    daemon.wait_for_line(&["started"], START).await;
    daemon
        .wait_until("the status listener", 10 * SECOND, || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .is_ok()
                .then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_drain_posts_are_refused_and_change_nothing() {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(APP, "web", 1);
    let port = closed_port();
    let daemon = start(&fake, port);
    listening(&daemon, port).await;
    let busy = || requests(Utc::now(), 60, 40, Duration::from_millis(200));

    assert_eq!(
        post(port, APP, None, busy()).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(port, APP, Some("not-the-password"), busy()).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(port, "another-app", Some(DRAIN_PASSWORD), busy()).await,
        reqwest::StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(
            port,
            APP,
            Some(DRAIN_PASSWORD),
            b"hello, not logplex".to_vec()
        )
        .await,
        reqwest::StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_oversized(port, APP, DRAIN_PASSWORD, (1 << 20) + 1).await,
        reqwest::StatusCode::PAYLOAD_TOO_LARGE
    );

    // None of the refused bodies counted: nothing was scaled on them, and a body the drain
    // accepts, 5 dynos' worth as in the test above, brings the app to 5 in one call, where the
    // busy bodies refused above, had any counted beside it, would have asked for its max, 6.
    assert_eq!(patches(&fake, APP), Vec::<u64>::new());
    let body = requests(Utc::now(), 60, 38, Duration::from_millis(200));
    assert_eq!(
        post(port, APP, Some(DRAIN_PASSWORD), body).await,
        reqwest::StatusCode::NO_CONTENT
    );
    daemon
        .wait_until("the app at 5 dynos", 15 * SECOND, || {
            (fake.quantity(APP, "web") == Some(5)).then_some(())
        })
        .await;
    daemon
        .wait_for_line(&["scale", "to=5", "traffic:"], 5 * SECOND)
        .await;
    assert_eq!(
        patches(&fake, APP),
        vec![5],
        "the accepted body's demand alone"
    );

    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{}", finished.stderr);
    assert!(!finished.stdout.contains(DRAIN_PASSWORD));
}
