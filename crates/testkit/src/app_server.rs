//! An app server on loopback whose answers a test switches at runtime: fast, slow, 503, or refusing
//! connections. It records every request it received, stamped on this process's monotonic clock.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long the app server takes to answer in [`Mode::Slow`]: at or above the e2e configs' `slow`
/// (60 ms), well below their `timeout` (150 ms).
pub const SLOW_RESPONSE: Duration = Duration::from_millis(90);

/// How the app server answers, switched at runtime with [`AppServer::set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
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
pub struct Hit {
    /// When its head had arrived, on this process's monotonic clock.
    pub at: Instant,
    /// How it was answered.
    pub mode: Mode,
    /// The request target, e.g. `/`.
    pub path: String,
}

/// An HTTP/1.1 server on 127.0.0.1 playing the probed app.
#[derive(Debug)]
pub struct AppServer {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl AppServer {
    /// Binds a free port on 127.0.0.1 and answers [`Mode::Fast`] until told otherwise.
    pub async fn start() -> AppServer {
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
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
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
