//! An app server on loopback whose answers a test switches at runtime: fast, slow, 503, or refusing
//! connections. It records every request it received, stamped on this process's monotonic clock.
//! It closes each connection after its answer, unless started with
//! [`start_keep_alive`](AppServer::start_keep_alive) (or, over HTTPS,
//! [`start_keep_alive_tls`](AppServer::start_keep_alive_tls)).
//!
//! The same server answers in process, over an in-memory stream instead of a socket
//! ([`connector`](AppServer::connector)), and [`in_process`](AppServer::in_process) starts one
//! with no listener at all: for tests on tokio's paused clock, where an answer in flight on a
//! socket lets virtual time jump ahead.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long the app server takes to answer in [`Mode::Slow`]: above the e2e configs' `slow`
/// (120 ms), well below their `timeout` (250 ms). Slept on tokio's clock, so on a paused clock in
/// process it is the exact latency of a slow answer.
pub const SLOW_RESPONSE: Duration = Duration::from_millis(170);

/// How the app server answers, switched at runtime with [`AppServer::set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 at once.
    Fast,
    /// 200 after [`SLOW_RESPONSE`].
    Slow,
    /// 503 at once.
    Unavailable,
    /// Not listening: connections are refused (in process, connecting fails with
    /// [`io::ErrorKind::ConnectionRefused`]), and an open connection is hung up at its next
    /// request.
    Refusing,
}

/// One request the app server received.
#[derive(Debug, Clone)]
pub struct Hit {
    /// When its head had arrived, on this process's monotonic clock.
    pub at: Instant,
    /// The same moment on tokio's clock: virtual time in a test on a paused clock.
    pub tokio_at: tokio::time::Instant,
    /// How it was answered.
    pub mode: Mode,
    /// The request target, e.g. `/`.
    pub path: String,
}

/// An HTTP/1.1 server on 127.0.0.1 (or only in process) playing the probed app.
#[derive(Debug)]
pub struct AppServer {
    /// The address and the accepting task; `None` in process only.
    listener: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
    mode: watch::Sender<Mode>,
    hits: Arc<Mutex<Vec<Hit>>>,
    keep_alive: bool,
    tls: bool,
}

impl AppServer {
    /// Binds a free port on 127.0.0.1 and answers [`Mode::Fast`] until told otherwise, one request
    /// a connection.
    pub async fn start() -> AppServer {
        AppServer::bind(Ipv4Addr::LOCALHOST, false, false).await
    }

    /// Like [`start`](Self::start), but keeps each connection open for the client's next request,
    /// as Heroku's router does for the clients of an app: what a prober costs in a steady state.
    /// In [`Mode::Refusing`] an open connection is hung up at its next request. It listens on
    /// every address of the port, so that [`url_on`](Self::url_on) can give each app its own host
    /// (and so its own connection) on loopback; only for benches on a closed machine.
    pub async fn start_keep_alive() -> AppServer {
        AppServer::bind(Ipv4Addr::UNSPECIFIED, true, false).await
    }

    /// Like [`start_keep_alive`](Self::start_keep_alive), over HTTPS with [`crate::tls`]'s
    /// certificate, as every app on Heroku is probed; its [`url`](Self::url) names `localhost`.
    pub async fn start_keep_alive_tls() -> AppServer {
        AppServer::bind(Ipv4Addr::UNSPECIFIED, true, true).await
    }

    /// An app server with no listener, answering only in process (see
    /// [`connector`](Self::connector)), one request a connection; its [`url`](Self::url) is
    /// `http://app.in-process/`. It needs no runtime until a connection is made.
    pub fn in_process() -> AppServer {
        AppServer::unbound(false)
    }

    /// Like [`in_process`](Self::in_process), but keeps each connection open for the client's
    /// next request, as [`start_keep_alive`](Self::start_keep_alive) does.
    pub fn in_process_keep_alive() -> AppServer {
        AppServer::unbound(true)
    }

    fn unbound(keep_alive: bool) -> AppServer {
        AppServer {
            listener: None,
            mode: watch::Sender::new(Mode::Fast),
            hits: Arc::new(Mutex::new(Vec::new())),
            keep_alive,
            tls: false,
        }
    }

    async fn bind(ip: Ipv4Addr, keep_alive: bool, tls: bool) -> AppServer {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, listener.local_addr().unwrap().port()));
        let (mode, mode_rx) = watch::channel(Mode::Fast);
        let hits = Arc::new(Mutex::new(Vec::new()));
        let acceptor = tls.then(crate::tls::acceptor);
        let task = tokio::spawn(serve_app(
            listener,
            mode_rx,
            Arc::clone(&hits),
            keep_alive,
            acceptor,
        ));
        AppServer {
            listener: Some((addr, task)),
            mode,
            hits,
            keep_alive,
            tls,
        }
    }

    /// The URL to probe; `http://app.in-process/` for a server [in process](Self::in_process)
    /// only.
    pub fn url(&self) -> String {
        match self.listener {
            None => "http://app.in-process/".to_owned(),
            Some((addr, _)) if self.tls => format!("https://localhost:{}/", addr.port()),
            Some((addr, _)) => format!("http://{addr}/"),
        }
    }

    /// The URL to probe through the loopback address `host` (any 127.x.y.z): a server started
    /// with [`start_keep_alive`](Self::start_keep_alive) answers on each, and an HTTP client
    /// pools connections by host, so each host costs the client its own connection, as each app
    /// on Heroku does.
    pub fn url_on(&self, host: Ipv4Addr) -> String {
        let (addr, _) = self
            .listener
            .as_ref()
            .expect("url_on needs a listening AppServer, not an in-process one");
        format!("http://{}/", SocketAddr::from((host, addr.port())))
    }

    /// A new connection to this server in process: an in-memory stream whose other end the
    /// server answers on a task of the current runtime, as it answers a socket (the same
    /// [`Mode`]s, recorded [`Hit`]s and keep-alive, never TLS). In [`Mode::Refusing`] it fails
    /// with [`io::ErrorKind::ConnectionRefused`]. Call it within a tokio runtime.
    pub fn connect_in_process(&self) -> io::Result<DuplexStream> {
        self.handle().connect()
    }

    /// What [`connect_in_process`](Self::connect_in_process) does, as a function that outlives
    /// this borrow: what `autoscaled_probe::Client::in_process` takes. Once the server is
    /// dropped, connecting is refused, as it is on loopback.
    pub fn connector(&self) -> impl Fn() -> io::Result<DuplexStream> + Send + Sync + 'static {
        let handle = self.handle();
        move || handle.connect()
    }

    fn handle(&self) -> InProcess {
        InProcess {
            mode: self.mode.subscribe(),
            hits: Arc::clone(&self.hits),
            keep_alive: self.keep_alive,
        }
    }

    /// Switches how it answers from now on.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Every request received so far, oldest first.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        if let Some((_, task)) = &self.listener {
            task.abort();
        }
    }
}

/// What an in-process connection needs of its server.
struct InProcess {
    mode: watch::Receiver<Mode>,
    hits: Arc<Mutex<Vec<Hit>>>,
    keep_alive: bool,
}

impl InProcess {
    fn connect(&self) -> io::Result<DuplexStream> {
        // The sender gone is the server dropped.
        if self.mode.has_changed().is_err() || *self.mode.borrow() == Mode::Refusing {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "the in-process app server is refusing connections",
            ));
        }
        // Room for a request and an answer each way: neither side ever waits for the other to
        // read.
        let (client, server) = tokio::io::duplex(16 * 1024);
        tokio::spawn(answer(
            server,
            self.mode.clone(),
            Arc::clone(&self.hits),
            self.keep_alive,
        ));
        Ok(client)
    }
}

/// Accepts while the mode allows it; in [`Mode::Refusing`] the listener is closed, so connections
/// are refused by the kernel, and bound again on the same port when the mode changes back.
async fn serve_app(
    listener: TcpListener,
    mut mode: watch::Receiver<Mode>,
    hits: Arc<Mutex<Vec<Hit>>>,
    keep_alive: bool,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let addr = listener.local_addr().unwrap();
    let mut listener = Some(listener);
    loop {
        match listener.take() {
            Some(open) => tokio::select! {
                accepted = open.accept() => {
                    if let Ok((socket, _)) = accepted {
                        let (mode, hits) = (mode.clone(), Arc::clone(&hits));
                        match acceptor.clone() {
                            None => drop(tokio::spawn(answer(socket, mode, hits, keep_alive))),
                            Some(acceptor) => drop(tokio::spawn(async move {
                                if let Ok(stream) = acceptor.accept(socket).await {
                                    answer(stream, mode, hits, keep_alive).await;
                                }
                            })),
                        }
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

async fn answer(
    mut socket: impl AsyncRead + AsyncWrite + Unpin,
    mode: watch::Receiver<Mode>,
    hits: Arc<Mutex<Vec<Hit>>>,
    keep_alive: bool,
) {
    // Bytes read past one request's head: the start of the next (a probe's GET has no body).
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let end = loop {
            if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        };
        let head: Vec<u8> = received.drain(..end).collect();
        let (at, tokio_at) = (Instant::now(), tokio::time::Instant::now());
        let mode = *mode.borrow();
        let path = String::from_utf8_lossy(&head)
            .split(' ')
            .nth(1)
            .unwrap_or("/")
            .to_owned();
        hits.lock().unwrap().push(Hit {
            at,
            tokio_at,
            mode,
            path,
        });
        let status = match mode {
            Mode::Fast => "200 OK",
            Mode::Slow => {
                tokio::time::sleep(SLOW_RESPONSE).await;
                "200 OK"
            }
            Mode::Unavailable => "503 Service Unavailable",
            // Accepted (or kept open) just before the switch: hang up unanswered.
            Mode::Refusing => return,
        };
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Length: 3\r\nConnection: {connection}\r\n\r\nok\n"
        );
        if socket.write_all(response.as_bytes()).await.is_err() || !keep_alive {
            let _ = socket.shutdown().await;
            return;
        }
    }
}
