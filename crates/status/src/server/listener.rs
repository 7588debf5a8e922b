//! The accept loop and each connection's watch: what a stranger's connections may hold.
//!
//! axum's own `serve` keeps a connection for as long as the peer likes, so a thousand idle sockets
//! took every file descriptor of the daemon, and its probes with them. Here:
//!
//! - a connection must send a whole request head within [`Limits::head_timeout`] of opening, and
//!   the next one within [`Limits::idle_timeout`] of the previous answer, or it is closed;
//! - a request body (only `POST /drain/{app}` reads one) must arrive within
//!   [`Limits::body_timeout`] (the drain's handler bounds its read);
//! - at most [`Limits::max_connections`] are open at once. At the cap, a new connection takes the
//!   place of the one that has waited longest for a request (never one being answered), so a flood
//!   of idle sockets cannot lock out a health check; when every connection is in a request, the
//!   new one is closed at once.
//!
//! Until a connection has sent a whole request head it holds a small task and the bytes it sent,
//! nothing of hyper's; after, hyper's buffers (capped by [`READ_BUFFER`]). All goes with it.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper::service::{Service as _, service_fn};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// The largest request head taken, by the listener's own reader and by hyper's buffers: 16 KiB
/// holds any head a browser, Prometheus or Logplex sends (with a password and cookies), where
/// hyper's default, about 400 KiB, would let a thousand strangers hold 400 MiB.
const READ_BUFFER: usize = 16 * 1024;
/// How long a new connection at the cap waits for the one it replaces to close; that one closes
/// as soon as its task runs, so this only bounds a runtime too busy to run it.
const REPLACE_WITHIN: Duration = Duration::from_secs(1);
/// How long the accept loop rests after the system refused it a descriptor or memory, so that it
/// does not spin while the connections it holds time out.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the listener lets strangers hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From a connection's opening to the end of its first request's head.
    pub head_timeout: Duration,
    /// To read a request's whole body, once its head is in.
    pub body_timeout: Duration,
    /// From an answer to the end of the next request's head, on a kept-alive connection.
    pub idle_timeout: Duration,
    /// The most connections open at once (at least 1).
    pub max_connections: usize,
}

impl Default for Limits {
    /// 5 s for a head, 10 s for a body, 30 s of keep-alive, 1,024 connections.
    fn default() -> Self {
        Limits {
            head_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Why the listener closed a connection before its peer did, as `/metrics` labels it.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClosedLabels {
    reason: &'static str,
}

/// At the cap with every connection in a request: the new one.
const AT_CAPACITY: &str = "at_capacity";
/// At the cap: the one that had waited longest for a request, for a new one.
const REPLACED: &str = "replaced";
/// No whole request head in time.
const TIMED_OUT: &str = "timed_out";

/// The listener's series in `/metrics`.
#[derive(Debug, Clone, Default)]
pub(super) struct ListenerMetrics {
    open: Gauge,
    max: Gauge,
    closed: Family<ClosedLabels, Counter>,
}

impl ListenerMetrics {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "autoscaled_http_connections",
            "Connections to the listener open now",
            self.open.clone(),
        );
        registry.register(
            "autoscaled_http_max_connections",
            "The most connections the listener keeps open at once",
            self.max.clone(),
        );
        for reason in [AT_CAPACITY, REPLACED, TIMED_OUT] {
            let _ = self.closed.get_or_create(&ClosedLabels { reason });
        }
        registry.register(
            "autoscaled_http_connections_closed",
            "Connections the listener closed before their peer did, by reason",
            self.closed.clone(),
        );
    }

    fn closed(&self, reason: &'static str) {
        self.closed.get_or_create(&ClosedLabels { reason }).inc();
    }
}

/// Accepts connections on `listener` and serves `app` on each within `limits`, until `shutdown`
/// turns true; then it stops accepting, closes the connections waiting for a request, lets those
/// in one finish, and returns once all are closed.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: ListenerMetrics,
    mut shutdown: watch::Receiver<bool>,
) {
    // Within what the semaphore holds and `acquire_many` below can take back at once.
    let cap = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    metrics.max.set(i64::try_from(cap).unwrap_or(i64::MAX));
    let slots = Arc::new(Semaphore::new(cap));
    let waiting = Arc::new(Waiting::default());
    let mut starved = false;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                starved = false;
                stream
            }
            Err(error) => {
                if is_starvation(&error) {
                    if !starved {
                        tracing::warn!(%error, "the status listener cannot accept a connection: the process is out of descriptors or memory");
                        starved = true;
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                // Anything else (the peer gave up before the accept) concerns that peer alone.
                continue;
            }
        };
        let Some(slot) = take_slot(&slots, &waiting, &metrics).await else {
            // Closed at once: the peer sees the connection end before it sent anything.
            drop(stream);
            continue;
        };
        // Among the waiting from its accept, before its task first runs: a burst of connections
        // accepted in one go must find the earlier ones there to replace.
        let watch = Watch::new(Arc::clone(&waiting), limits.head_timeout);
        tokio::spawn(connection(
            stream,
            slot,
            watch,
            app.clone(),
            limits.idle_timeout,
            metrics.clone(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    // Every connection holds a slot until it is closed: all of them back means all are closed.
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// A slot for a new connection: a free one, or the one of the connection that has waited longest
/// for a request, which is told to close; `None` when every connection is in a request.
async fn take_slot(
    slots: &Arc<Semaphore>,
    waiting: &Waiting,
    metrics: &ListenerMetrics,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(slot) = Arc::clone(slots).try_acquire_owned() {
        return Some(slot);
    }
    if !waiting.close_longest() {
        metrics.closed(AT_CAPACITY);
        return None;
    }
    metrics.closed(REPLACED);
    tokio::time::timeout(REPLACE_WITHIN, Arc::clone(slots).acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
}

/// Whether an accept failed for want of a resource of this process or system, which waiting frees.
fn is_starvation(error: &std::io::Error) -> bool {
    const STARVED: [i32; 4] = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
    error
        .raw_os_error()
        .is_some_and(|code| STARVED.contains(&code))
}

/// The connections waiting for a request, oldest first, so that the one waiting longest can be
/// told to close.
#[derive(Debug, Default)]
struct Waiting {
    by_age: Mutex<BTreeMap<u64, Arc<Notify>>>,
    next: AtomicU64,
}

impl Waiting {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Notify>>> {
        self.by_age.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the connection that has waited longest to close; `false` when none waits.
    fn close_longest(&self) -> bool {
        match self.lock().pop_first() {
            Some((_, close)) => {
                close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// One connection's side of the watch: whether it waits for a request, and until when.
#[derive(Debug)]
struct Watch {
    waiting: Arc<Waiting>,
    /// Its key among the waiting while it waits.
    key: Mutex<Option<u64>>,
    /// Told when another connection takes its place.
    close: Arc<Notify>,
    /// When it must have sent a whole request head; `None` while a request is answered.
    deadline: watch::Sender<Option<Instant>>,
}

impl Watch {
    fn new(waiting: Arc<Waiting>, head_timeout: Duration) -> Arc<Watch> {
        let watch = Arc::new(Watch {
            waiting,
            key: Mutex::new(None),
            close: Arc::new(Notify::new()),
            deadline: watch::Sender::new(None),
        });
        watch.wait(head_timeout);
        watch
    }

    fn key(&self) -> MutexGuard<'_, Option<u64>> {
        self.key.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on it waits for a request head, for at most `timeout`.
    fn wait(&self, timeout: Duration) {
        let key = self.waiting.next.fetch_add(1, Ordering::Relaxed);
        self.waiting.lock().insert(key, Arc::clone(&self.close));
        if let Some(old) = self.key().replace(key) {
            self.waiting.lock().remove(&old);
        }
        self.deadline.send_replace(Some(Instant::now() + timeout));
    }

    /// A request head is in: no deadline until it is answered, and no other connection takes its
    /// place meanwhile.
    fn busy(&self) {
        self.leave();
        self.deadline.send_replace(None);
    }

    fn leave(&self) {
        if let Some(key) = self.key().take() {
            self.waiting.lock().remove(&key);
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Marks the connection busy while a request is answered, and waiting again (for `idle`) once it
/// is, or once the answer is abandoned.
struct Answering {
    watch: Arc<Watch>,
    idle: Duration,
}

impl Answering {
    fn start(watch: &Arc<Watch>, idle: Duration) -> Answering {
        watch.busy();
        Answering {
            watch: Arc::clone(watch),
            idle,
        }
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.watch.wait(self.idle);
    }
}

/// Serves one connection until the peer closes it, it times out, another takes its place, or the
/// listener shuts down.
async fn connection(
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    watch: Arc<Watch>,
    app: Router,
    idle_timeout: Duration,
    metrics: ListenerMetrics,
    mut shutdown: watch::Receiver<bool>,
) {
    metrics.open.inc();
    if let Some(head) = first_head(&stream, &watch, &metrics, &mut shutdown).await {
        // Boxed: hyper's connection is most of the task's size, and a connection that never
        // sends a whole head should not hold it.
        let stream = Prefixed { head, stream };
        Box::pin(http(stream, watch, app, idle_timeout, &metrics, shutdown)).await;
    }
    metrics.open.dec();
}

/// Reads the first request's head, before hyper takes the connection and its buffers (16 KiB):
/// an idle socket then costs a small task, a head sent a byte a second the bytes it sent, and a
/// thousand sockets closed at once nothing. `None` when the connection is to close first: closed
/// by its peer, timed out, replaced, shut down, or a head above [`READ_BUFFER`].
async fn first_head(
    stream: &TcpStream,
    watch: &Watch,
    metrics: &ListenerMetrics,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Vec<u8>> {
    let until = (*watch.deadline.borrow()).unwrap_or_else(Instant::now);
    let read = async {
        let mut head = Vec::new();
        loop {
            stream.readable().await.ok()?;
            // Filled between awaits, so it never takes room in the task while it waits.
            let mut chunk = [0; 512];
            let n = match stream.try_read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return None,
            };
            let from = head.len().saturating_sub(2);
            head.extend_from_slice(&chunk[..n]);
            if ends_a_head(&head[from..]) {
                return Some(head);
            }
            if head.len() > READ_BUFFER {
                return None;
            }
        }
    };
    tokio::select! {
        biased;
        () = watch.close.notified() => None,
        _ = shutdown.wait_for(|stop| *stop) => None,
        () = tokio::time::sleep_until(until) => {
            metrics.closed(TIMED_OUT);
            None
        }
        head = read => head,
    }
}

/// Whether `bytes` hold the blank line that ends a head: CRLF CRLF, or bare line feeds, which
/// hyper takes too.
fn ends_a_head(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

/// The connection with the bytes already read from it put back in front, for hyper.
#[derive(Debug)]
struct Prefixed {
    head: Vec<u8>,
    stream: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.head.is_empty() {
            return Pin::new(&mut this.stream).poll_read(cx, buf);
        }
        let n = this.head.len().min(buf.remaining());
        buf.put_slice(&this.head[..n]);
        this.head.drain(..n);
        if this.head.is_empty() {
            // Its memory goes now, not with the connection.
            this.head = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serves HTTP/1.1 on the connection, its heads timed by `watch`.
async fn http(
    stream: Prefixed,
    watch: Arc<Watch>,
    app: Router,
    idle_timeout: Duration,
    metrics: &ListenerMetrics,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut deadline = watch.deadline.subscribe();
    let router = TowerToHyperService::new(app);
    let service = {
        let watch = Arc::clone(&watch);
        service_fn(move |request| {
            let answering = Answering::start(&watch, idle_timeout);
            let answer = router.call(request);
            async move {
                let answer = answer.await;
                drop(answering);
                answer
            }
        })
    };
    let mut http = http1::Builder::new();
    http.max_buf_size(READ_BUFFER)
        // The watch above times heads, from the opening and between requests alike.
        .header_read_timeout(None);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let until = *deadline.borrow_and_update();
        tokio::select! {
            biased;
            () = watch.close.notified() => break,
            _ = conn.as_mut() => break,
            changed = deadline.changed() => if changed.is_err() { break },
            () = tokio::time::sleep_until(until.unwrap_or_else(Instant::now)), if until.is_some() => {
                metrics.closed(TIMED_OUT);
                break;
            }
            _ = shutdown.wait_for(|stop| *stop), if !stopping => {
                // A connection waiting for a request has nothing to finish.
                if until.is_some() {
                    break;
                }
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
