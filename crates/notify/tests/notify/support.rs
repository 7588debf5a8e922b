//! Real servers for the tests: SMTP (mailin), a raw HTTP server playing Twilio, Stoplight Prism
//! serving Twilio's contract, a stalled TCP server, and a tracing capture.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use mailin::{AuthMechanism, Handler, Response, SessionBuilder};
use mailin_embedded::{Server, SslConfig};
use notify::{Alert, AlertKind, ProbeFigures, Scaling};
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
        scaling: Some(Scaling { from: 1, to: 3 }),
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

// ---------------------------------------------------------------- SMTP

/// How the SMTP server treats what it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Smtp {
    Accept,
    /// 550 to every RCPT: permanent.
    RefuseRcpt,
    /// 451 to every DATA: transient.
    RefuseData,
}

#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) mails: Vec<Mail>,
    pub(crate) rcpt: usize,
    pub(crate) data: usize,
    /// (authentication id, password) of every AUTH PLAIN.
    pub(crate) auth: Vec<(String, String)>,
}

#[derive(Clone)]
struct MailHandler {
    mode: Smtp,
    credentials: Option<(String, String)>,
    seen: Arc<Mutex<Seen>>,
    envelope_to: Vec<String>,
    buffer: Vec<u8>,
}

impl Handler for MailHandler {
    fn rcpt(&mut self, _to: &str) -> Response {
        self.seen.lock().unwrap().rcpt += 1;
        match self.mode {
            Smtp::RefuseRcpt => mailin::response::NO_MAILBOX,
            _ => mailin::response::OK,
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.seen.lock().unwrap().data += 1;
        self.envelope_to = to.to_vec();
        self.buffer.clear();
        match self.mode {
            Smtp::RefuseData => mailin::response::INTERNAL_ERROR,
            _ => mailin::response::OK,
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buffer.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = Mail::parse(&self.buffer, std::mem::take(&mut self.envelope_to));
        self.seen.lock().unwrap().mails.push(mail);
        mailin::response::OK
    }

    fn auth_plain(&mut self, _authz: &str, authn: &str, password: &str) -> Response {
        self.seen
            .lock()
            .unwrap()
            .auth
            .push((authn.to_owned(), password.to_owned()));
        match &self.credentials {
            Some((user, pass)) if user == authn && pass == password => mailin::response::AUTH_OK,
            _ => mailin::response::INVALID_CREDENTIALS,
        }
    }
}

pub(crate) struct MailServer {
    pub(crate) port: u16,
    pub(crate) seen: Arc<Mutex<Seen>>,
}

impl MailServer {
    /// mailin-embedded on 127.0.0.1, no TLS, no AUTH.
    pub(crate) fn start(mode: Smtp) -> Self {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let handler = MailHandler {
            mode,
            credentials: None,
            seen: Arc::clone(&seen),
            envelope_to: vec![],
            buffer: vec![],
        };
        let mut server = Server::new(handler);
        server
            .with_name("mail.test")
            .with_ssl(SslConfig::None)
            .unwrap()
            .with_tcp_listener(listener);
        // serve() runs for ever; the thread ends with the test process.
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, seen }
    }

    /// mailin's SMTP engine (the one inside mailin-embedded) offering AUTH PLAIN without TLS:
    /// mailin-embedded only offers AUTH after STARTTLS, and a test certificate would not pass
    /// the client's certificate verification, which stays on.
    pub(crate) fn start_with_auth(user: &str, password: &str) -> Self {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let handler = MailHandler {
            mode: Smtp::Accept,
            credentials: Some((user.to_owned(), password.to_owned())),
            seen: Arc::clone(&seen),
            envelope_to: vec![],
            buffer: vec![],
        };
        let mut builder = SessionBuilder::new("mail.test");
        builder
            .enable_auth(AuthMechanism::Plain)
            .insecure_enable_plaintext_auth();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut session = builder.build(IpAddr::from([127, 0, 0, 1]), handler.clone());
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    if session.greeting().write_to(&mut writer).is_err() {
                        return;
                    }
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        match reader.read_until(b'\n', &mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let response = session.process(&line);
                        if response.action != mailin::Action::NoReply
                            && (response.write_to(&mut writer).is_err() || writer.flush().is_err())
                        {
                            return;
                        }
                        if response.action == mailin::Action::Close {
                            return;
                        }
                    }
                });
            }
        });
        Self { port, seen }
    }

    pub(crate) fn mails(&self) -> Vec<Mail> {
        self.seen.lock().unwrap().mails.clone()
    }
}

/// A received email, headers unfolded and decoded.
#[derive(Debug, Clone)]
pub(crate) struct Mail {
    pub(crate) envelope_to: Vec<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Mail {
    fn parse(raw: &[u8], envelope_to: Vec<String>) -> Self {
        let raw = String::from_utf8(raw.to_vec()).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                headers.last_mut().unwrap().1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').unwrap();
                headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        for (_, value) in &mut headers {
            *value = decode_words(value);
        }
        let encoding = headers
            .iter()
            .find(|(n, _)| n == "content-transfer-encoding")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let body = match encoding.as_str() {
            "base64" => String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(body.replace("\r\n", ""))
                    .unwrap(),
            )
            .unwrap(),
            "quoted-printable" => String::from_utf8(
                quoted_printable::decode(body, quoted_printable::ParseMode::Strict).unwrap(),
            )
            .unwrap(),
            _ => body.to_owned(),
        };
        Self {
            envelope_to,
            headers,
            body: body.replace("\r\n", "\n"),
        }
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| {
                panic!("no {name} header in {:?}", self.headers);
            })
    }
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=` or `?q?`), joining adjacent ones.
fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_owned();
    }
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        let between = &rest[..start];
        if !between.trim().is_empty() || out.is_empty() {
            out.push_str(between);
        }
        let word = &rest[start + 2..];
        let mut parts = word.splitn(3, '?');
        let _charset = parts.next().unwrap();
        let enc = parts.next().unwrap().to_ascii_lowercase();
        let tail = parts.next().unwrap();
        let end = tail.find("?=").unwrap();
        let text = &tail[..end];
        let bytes = if enc == "b" {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap()
        } else {
            quoted_printable::decode(text.replace('_', " "), quoted_printable::ParseMode::Robust)
                .unwrap()
        };
        out.push_str(&String::from_utf8(bytes).unwrap());
        rest = &tail[end + 2..];
    }
    out.push_str(rest);
    out
}

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

/// A port with nothing listening on it.
pub(crate) fn closed_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
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

/// Stoplight Prism serving Twilio's OpenAPI file on a free loopback port; killed on drop.
pub(crate) struct Prism {
    child: Child,
    pub(crate) url: url::Url,
}

const CONTRACT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/contracts/twilio_api_v2010.json"
);
const PRISM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/node_modules/.bin/prism"
);

impl Prism {
    pub(crate) async fn start() -> Self {
        assert!(
            std::path::Path::new(CONTRACT).is_file(),
            "Twilio's OpenAPI file is missing at {CONTRACT}: the shared/ folder must sit beside the repository"
        );
        assert!(
            std::path::Path::new(PRISM).is_file(),
            "Stoplight Prism is not installed at {PRISM}: run `npm ci --prefix scripts` from the repository root"
        );
        // A free port can be taken by another test between our probe and Prism's bind; Prism then
        // exits, and another port is tried.
        for _ in 0..5 {
            let port = closed_port();
            let starting = tokio::task::spawn_blocking(move || Self::start_on(port));
            let started = tokio::time::timeout(Duration::from_secs(60), starting)
                .await
                .expect("Prism neither said it listens nor exited within 60 s")
                .unwrap();
            if let Some(prism) = started {
                return prism;
            }
        }
        panic!("Prism did not start on any of 5 ports; try `npm ci --prefix scripts`");
    }

    /// Starts Prism on `port` and waits for the line saying it listens: `None` if it exits first.
    fn start_on(port: u16) -> Option<Self> {
        let mut child = Command::new(PRISM)
            .args([
                "mock",
                CONTRACT,
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "--errors",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start Prism: run `npm ci --prefix scripts`");
        let stdout = child.stdout.take().unwrap();
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let ready = format!("Prism is listening on http://127.0.0.1:{port}");
        let mut lines = BufReader::new(stdout).lines();
        // Prism keeps logging every request; the rest of its output is drained on a thread so
        // that it never blocks on a full pipe.
        let listening = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains(&ready));
        std::thread::spawn(move || lines.for_each(drop));
        let prism = Self { child, url };
        listening.then_some(prism)
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- logs

/// Everything logged through `tracing` on this thread while the guard lives. Tests run on a
/// current-thread runtime, so the dispatcher's tasks log here too.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub(crate) fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    pub(crate) fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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
