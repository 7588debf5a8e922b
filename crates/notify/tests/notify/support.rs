//! Real servers for the tests: a raw HTTP server playing Twilio, a stalled TCP server, and a
//! tracing capture; the SMTP server and Stoplight Prism serving Twilio's contract come from the
//! workspace's testkit.

use std::time::Duration;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use notify::{Alert, AlertKind, ProbeFigures, Progress, Scaling};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub(crate) const SMTP_PASSWORD: &str = "s3cret-smtp-pass";
pub(crate) const TWILIO_TOKEN: &str = "tw1l10-t0ken-never-shown";
pub(crate) const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const MESSAGING_SID: &str = "MG0123456789abcdef0123456789abcdef";

pub(crate) fn alert(kind: AlertKind, app: &str, hour: u32, minute: u32) -> Alert {
    Alert {
        kind,
        app: app.into(),
        process: "web".into(),
        what: "down (HTTP 503)".into(),
        scaling: Some(Scaling {
            from: 1,
            to: 3,
            progress: Progress::Done,
        }),
        probe: Some(ProbeFigures {
            p50: Some(Duration::from_millis(120)),
            p95: Some(Duration::from_millis(9_800)),
            share_down: 0.4,
            count: 20,
        }),
        at: Utc.with_ymd_and_hms(2026, 11, 27, hour, minute, 0).unwrap(),
        timezone: chrono_tz::America::New_York,
    }
}

// ---------------------------------------------------------------- SMTP, Prism: the workspace's testkit

pub(crate) use testkit::{MailServer, Prism, Smtp, SmtpOptions, closed_port};

/// Waits until `done` holds, failing the test after 10 s.
pub(crate) async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still waiting after 10 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A TCP server that accepts and then never says a word: an SMTP server that hangs.
pub(crate) async fn stalled_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

// ---------------------------------------------------------------- Twilio

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) authorization: Option<String>,
    pub(crate) form: Vec<(String, String)>,
}

impl Request {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP/1.1 server answering each request with the next scripted (status, JSON body), the
/// last one over and over, and passing every request it got to the test.
pub(crate) struct FakeTwilio {
    pub(crate) port: u16,
    pub(crate) requests: mpsc::UnboundedReceiver<Request>,
}

pub(crate) const CREATED: (u16, &str) = (
    201,
    r#"{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}"#,
);

impl FakeTwilio {
    pub(crate) async fn start(script: &[(u16, &str)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let script: Vec<(u16, String)> =
            script.iter().map(|(s, b)| (*s, (*b).to_owned())).collect();
        let (tx, requests) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut served = 0;
            while let Ok((mut socket, _)) = listener.accept().await {
                let (status, body) = script[served.min(script.len() - 1)].clone();
                served += 1;
                let tx = tx.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    let _ = tx.send(request);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { port, requests }
    }

    pub(crate) fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://127.0.0.1:{}", self.port)).unwrap()
    }

    /// The next request, failing the test if none comes within 10 s.
    pub(crate) async fn next(&mut self) -> Request {
        tokio::time::timeout(Duration::from_secs(10), self.requests.recv())
            .await
            .expect("no request reached the fake Twilio within 10 s")
            .unwrap()
    }

    /// Every request received so far.
    pub(crate) fn drain(&mut self) -> Vec<Request> {
        let mut all = Vec::new();
        while let Ok(r) = self.requests.try_recv() {
            all.push(r);
        }
        all
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let mut length = 0;
    let mut authorization = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().ok()?,
                "authorization" => authorization = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let form = url::form_urlencoded::parse(&buf[head_end..head_end + length])
        .into_owned()
        .collect();
    Some(Request {
        method,
        path,
        authorization,
        form,
    })
}

// ---------------------------------------------------------------- logs

pub(crate) use testkit::Logs;

/// Fails the test if `text` holds either secret.
pub(crate) fn assert_no_secret(what: &str, text: &str) {
    for secret in [SMTP_PASSWORD, TWILIO_TOKEN] {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
    let token_b64 =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{TWILIO_TOKEN}"));
    assert!(
        !text.contains(&token_b64),
        "{what} shows the Twilio credentials in base64:\n{text}"
    );
}
