//! The parts the end-to-end tests (and the daemon benchmark) put around the built binary, all real
//! and all on loopback: an app server whose behaviour is switched at runtime, config files, and the
//! binary itself as a child process whose output is captured line by line. The SMTP server that
//! keeps what it receives and Stoplight Prism serving Twilio's contract come from the workspace's
//! testkit.
//!
//! The Heroku side is `heroku_fake::FakeHeroku`, used directly by the tests.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use heroku_fake::FakeHeroku;
use testkit::{MailServer, SmtpOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The binary under test: the one cargo built alongside, unless `AUTOSCALED_BIN` names another.
/// Cargo builds that one with the dev-dependencies' features (the fake's schema check), so the
/// daemon bench is pointed at a plain `cargo build --release` to measure the binary as shipped.
pub(crate) fn bin() -> String {
    std::env::var("AUTOSCALED_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_autoscaled").to_owned())
}

pub(crate) const API_KEY: &str = "hk-e2e-api-key-never-shown-7f3a";
pub(crate) const SMTP_USER: &str = "alerts";
pub(crate) const SMTP_PASSWORD: &str = "smtp-e2e-pass-never-shown-91c2";
pub(crate) const TWILIO_TOKEN: &str = "tw-e2e-token-never-shown-55d0";
pub(crate) const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const MAIL_TO: &str = "ops@example.com";
pub(crate) const SMS_TO: &str = "+15555550100";

/// How long the app server takes to answer in [`Mode::Slow`]: at or above the test configs' `slow`
/// (60 ms), well below their `timeout` (150 ms).
pub(crate) const SLOW_RESPONSE: Duration = Duration::from_millis(90);

/// How often the wait loops look again.
const POLL: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------- the app

/// How the app server answers, switched at runtime with [`AppServer::set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// 200 at once.
    Fast,
    /// 200 after [`SLOW_RESPONSE`].
    Slow,
    /// 503 at once.
    Unavailable,
    /// Not listening: connections are refused.
    Refusing,
}

/// One request the app server received.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// When its head had arrived, on this process's monotonic clock.
    pub(crate) at: Instant,
    /// How it was answered.
    pub(crate) mode: Mode,
    pub(crate) path: String,
}

/// An HTTP/1.1 server on 127.0.0.1 playing the probed app.
#[derive(Debug)]
pub(crate) struct AppServer {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl AppServer {
    pub(crate) async fn start() -> AppServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, mode_rx) = watch::channel(Mode::Fast);
        let hits = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(serve_app(listener, mode_rx, Arc::clone(&hits)));
        AppServer {
            addr,
            mode,
            hits,
            task,
        }
    }

    /// The URL to probe.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub(crate) fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Every request received so far, oldest first.
    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts while the mode allows it; in [`Mode::Refusing`] the listener is closed, so connections
/// are refused by the kernel, and bound again on the same port when the mode changes back.
async fn serve_app(
    listener: TcpListener,
    mut mode: watch::Receiver<Mode>,
    hits: Arc<Mutex<Vec<Hit>>>,
) {
    let addr = listener.local_addr().unwrap();
    let mut listener = Some(listener);
    loop {
        match listener.take() {
            Some(open) => tokio::select! {
                accepted = open.accept() => {
                    if let Ok((socket, _)) = accepted {
                        tokio::spawn(answer(socket, mode.clone(), Arc::clone(&hits)));
                    }
                    listener = Some(open);
                }
                changed = mode.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if *mode.borrow_and_update() != Mode::Refusing {
                        listener = Some(open);
                    }
                }
            },
            None => {
                if mode.changed().await.is_err() {
                    return;
                }
                if *mode.borrow_and_update() != Mode::Refusing {
                    listener = Some(TcpListener::bind(addr).await.unwrap());
                }
            }
        }
    }
}

async fn answer(mut socket: TcpStream, mode: watch::Receiver<Mode>, hits: Arc<Mutex<Vec<Hit>>>) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let at = Instant::now();
    let mode = *mode.borrow();
    let path = String::from_utf8_lossy(&head)
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    hits.lock().unwrap().push(Hit { at, mode, path });
    let status = match mode {
        Mode::Fast => "200 OK",
        Mode::Slow => {
            tokio::time::sleep(SLOW_RESPONSE).await;
            "200 OK"
        }
        Mode::Unavailable => "503 Service Unavailable",
        // Accepted just before the switch: hang up unanswered.
        Mode::Refusing => return,
    };
    let response =
        format!("HTTP/1.1 {status}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

// ---------------------------------------------------------------- SMTP

/// An SMTP server on 127.0.0.1 that requires AUTH PLAIN as [`SMTP_USER`] / [`SMTP_PASSWORD`] and
/// accepts every mail.
pub(crate) fn mail_server() -> MailServer {
    MailServer::start(SmtpOptions::default().with_auth(SMTP_USER, SMTP_PASSWORD))
}

// ---------------------------------------------------------------- config files

/// The probe section of an app.
#[derive(Debug, Clone)]
pub(crate) struct ProbeConfig {
    pub(crate) url: String,
    pub(crate) interval: &'static str,
    pub(crate) timeout: &'static str,
    pub(crate) slow: &'static str,
    pub(crate) fast: &'static str,
    pub(crate) calm: &'static str,
}

impl ProbeConfig {
    /// Short enough that every scenario takes seconds; `slow` and `fast` sit either side of the app
    /// server's answers with room for a loaded machine.
    pub(crate) fn quick(url: String) -> ProbeConfig {
        ProbeConfig {
            url,
            interval: "200ms",
            timeout: "150ms",
            slow: "60ms",
            fast: "40ms",
            calm: "2s",
        }
    }
}

/// One `[[apps]]` table.
#[derive(Debug, Clone)]
pub(crate) struct AppConfig {
    pub(crate) name: String,
    pub(crate) min: u32,
    pub(crate) max: u32,
    /// (cron, quantity) rules.
    pub(crate) schedule: Vec<(&'static str, u32)>,
    pub(crate) probe: Option<ProbeConfig>,
    pub(crate) reconcile: &'static str,
}

impl AppConfig {
    /// 1 to 3 dynos, no schedule (the baseline is `min`), no probe, reconciled every second.
    pub(crate) fn new(name: &str) -> AppConfig {
        AppConfig {
            name: name.to_owned(),
            min: 1,
            max: 3,
            schedule: vec![],
            probe: None,
            reconcile: "1s",
        }
    }
}

/// Where alerts go.
#[derive(Debug, Clone, Default)]
pub(crate) struct Alerts {
    /// An SMTP server on this loopback port, logged into as [`SMTP_USER`].
    pub(crate) smtp_port: Option<u16>,
    /// A Twilio API at this base URL.
    pub(crate) twilio_url: Option<String>,
}

/// Writes a config file for `apps` against the API at `heroku_url`, and returns its path.
pub(crate) fn write_config(heroku_url: &str, apps: &[AppConfig], alerts: &Alerts) -> PathBuf {
    let mut toml = format!("[heroku]\napi_key = \"{API_KEY}\"\napi_url = \"{heroku_url}\"\n");
    for app in apps {
        toml += &format!(
            "\n[[apps]]\nname = \"{}\"\nmin = {}\nmax = {}\nscale_out_cooldown = \"1s\"\nreconcile = \"{}\"\n",
            app.name, app.min, app.max, app.reconcile
        );
        let rules: Vec<String> = app
            .schedule
            .iter()
            .map(|(cron, q)| format!("{{ cron = \"{cron}\", quantity = {q} }}"))
            .collect();
        toml += &format!("schedule = [{}]\n", rules.join(", "));
        if let Some(p) = &app.probe {
            toml += &format!(
                "[apps.probe]\nurl = \"{}\"\ninterval = \"{}\"\ntimeout = \"{}\"\nslow = \"{}\"\nfast = \"{}\"\nfailures = 2\ncalm = \"{}\"\n",
                p.url, p.interval, p.timeout, p.slow, p.fast, p.calm
            );
        }
    }
    toml += "\n[alerts]\nalert_every = \"30m\"\n";
    if let Some(port) = alerts.smtp_port {
        toml += &format!(
            "[alerts.email]\nsmtp_url = \"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}\"\nfrom = \"autoscaled <alerts@example.com>\"\nto = [\"{MAIL_TO}\"]\n"
        );
    }
    if let Some(url) = &alerts.twilio_url {
        toml += &format!(
            "[alerts.sms]\naccount_sid = \"{ACCOUNT_SID}\"\nauth_token = \"{TWILIO_TOKEN}\"\nfrom = \"+15005550006\"\nto = [\"{SMS_TO}\"]\napi_url = \"{url}\"\n"
        );
    }
    write_file("toml", &toml)
}

/// Writes `text` to a fresh file under Cargo's scratch directory for tests.
pub(crate) fn write_file(extension: &str, text: &str) -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("config-{}-{n}.{extension}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

// ---------------------------------------------------------------- the binary

/// The quantities of every PATCH the fake received for `app`'s web formation, in order.
pub(crate) fn patches(fake: &FakeHeroku, app: &str) -> Vec<u64> {
    let path = format!("/apps/{app}/formation/web");
    fake.requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .map(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["quantity"].as_u64())
                .unwrap()
        })
        .collect()
}

/// How a run of the binary ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// From the signal (for [`Daemon::stop`]) or the start, to the exit.
    pub(crate) took: Duration,
}

/// The binary running as a child process, its stdout and stderr captured as they come.
#[derive(Debug)]
pub(crate) struct Daemon {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Starts `autoscaled ARGS` in a clean environment: nothing from the caller's environment
    /// reaches the config, and logs are at `info`.
    pub(crate) fn spawn(args: &[&str]) -> Daemon {
        let mut command = Command::new(bin());
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("AUTOSCALED")
                || name.starts_with("HEROKU_")
                || name.starts_with("TWILIO_")
                || name == "PORT"
            {
                command.env_remove(name.as_ref());
            }
        }
        command.env("RUST_LOG", "info");
        let mut child = command.spawn().unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            capture(child.stdout.take().unwrap(), Arc::clone(&stdout)),
            capture(child.stderr.take().unwrap(), Arc::clone(&stderr)),
        ];
        Daemon {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// `autoscaled --config PATH run`.
    pub(crate) fn run(config: &std::path::Path) -> Daemon {
        Daemon::spawn(&["--config", config.to_str().unwrap(), "run"])
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn both(&self) -> String {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            self.stdout(),
            self.stderr.lock().unwrap()
        )
    }

    /// Polls `check` every 20 ms until it gives a value; after `within`, fails the test showing what
    /// the binary printed.
    pub(crate) async fn wait_until<T>(
        &self,
        what: &str,
        within: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(value) = check() {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "still waiting after {within:?} for {what}\n{}",
                self.both()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for a stdout line holding every one of `needles`, and returns it.
    pub(crate) async fn wait_for_line(&self, needles: &[&str], within: Duration) -> String {
        let what = format!("a log line with {needles:?}");
        self.wait_until(&what, within, || {
            self.stdout()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_owned)
        })
        .await
    }

    /// Waits for the process to exit by itself, failing the test after `within`.
    pub(crate) async fn finish(mut self, within: Duration) -> Finished {
        self.exit(Instant::now(), within).await
    }

    /// Sends SIGTERM and waits for the exit; the interface promises one within 5 s.
    pub(crate) async fn stop(mut self) -> Finished {
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(kill.success(), "kill -TERM failed");
        self.exit(sent, Duration::from_secs(5)).await
    }

    async fn exit(&mut self, since: Instant, within: Duration) -> Finished {
        let deadline = since + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the binary did not exit within {within:?}\n{}",
                self.both()
            );
            tokio::time::sleep(POLL).await;
        };
        let took = since.elapsed();
        // The pipes close with the process: the readers are done (or about to be) once it exited.
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let finished = Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr.lock().unwrap().clone(),
            took,
        };
        assert_no_secret("stdout", &finished.stdout);
        assert_no_secret("stderr", &finished.stderr);
        finished
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn capture(
    pipe: impl std::io::Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut text = into.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    })
}

/// Fails the test if `text` shows any secret of the test configs, as is or as Twilio's Basic
/// credentials.
pub(crate) fn assert_no_secret(what: &str, text: &str) {
    for secret in [API_KEY, SMTP_PASSWORD, TWILIO_TOKEN] {
        assert!(
            !text.contains(secret),
            "{what} shows a secret ({secret}):\n{text}"
        );
    }
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{TWILIO_TOKEN}"));
    assert!(
        !text.contains(&basic),
        "{what} shows the Twilio credentials in base64:\n{text}"
    );
}
