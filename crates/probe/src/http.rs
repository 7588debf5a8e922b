//! A minimal HTTP/1.1 client for probes: one GET at a time on one kept-alive connection per app.
//!
//! Why not hyper (through reqwest), which the probe used before: an idle kept-alive hyper
//! connection holds about 37 KB that no setting shrinks (its request channel's blocks, an 8 KB
//! read and an 8 KB write buffer, its own task), so 1,000 probed apps cost 37 MB for nothing but
//! waiting (heaptrack figures in docs/benchmarks.md). A probe sends one fixed request and needs
//! the status, one header and the end of the body. So this client keeps only the socket (and its
//! TLS session) between probes, renders the request once, and holds a read buffer only while an
//! exchange runs. The parsing is maintained crates': `httparse` for the response head and chunk
//! sizes, rustls for TLS. What is written here is the body's framing (RFC 9112 §6: no body,
//! `Content-Length`, chunked, or to the end of the connection) and the keep-alive rule (§9.3).
//!
//! A [`Client::in_process`] connects to an app served in the same process, over an in-memory
//! stream instead of a socket; everything after the connection is the same code.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;
use url::Url;

use crate::Error;

/// The connection a prober keeps: over the network, plain TCP or TLS over it (boxed: rustls's
/// state is large and most of the enum's values in tests are plain); or an in-process stream.
pub(crate) type Connection = Either<Network, DuplexStream>;

/// A connection over the network.
pub(crate) type Network = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// What opens an in-process connection: see [`Client::in_process`].
type Connect = dyn Fn() -> io::Result<DuplexStream> + Send + Sync;

/// How many bytes a read asks for at a time; the buffer exists only during an exchange.
const READ_CHUNK: usize = 4096;
/// The most a response head (status line and headers) or a chunk's size line and trailers may
/// take: 64 KiB, hyper's default too. More is not an answer a health check gives.
const MAX_HEAD: usize = 64 * 1024;
/// The most response headers read; more is refused as not HTTP a health check gives.
const MAX_HEADERS: usize = 100;

/// What probers share: how they connect. Over the network (DNS, TCP, and TLS for `https` with
/// the system's root certificates, loaded once), or [in process](Self::in_process). Cheap to
/// clone.
#[derive(Clone)]
pub struct Client {
    dial: Dial,
}

#[derive(Clone)]
enum Dial {
    Network { tls: Arc<rustls::ClientConfig> },
    InProcess(Arc<Connect>),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("in_process", &matches!(self.dial, Dial::InProcess(_)))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client verifying certificates as the platform does (rustls-platform-verifier, the same
    /// verifier the Platform API client and the SMTP client use), on the workspace's one crypto
    /// provider, speaking HTTP/1.1 only.
    ///
    /// # Errors
    /// [`Error::Tls`] when TLS cannot be set up (e.g. no usable root certificates).
    pub fn new() -> Result<Self, Error> {
        Self::with_roots([])
    }

    /// A client that also trusts `roots` (DER-encoded certificates), e.g. a private authority's
    /// in front of a self-hosted app.
    ///
    /// # Errors
    /// [`Error::Tls`] when TLS cannot be set up (e.g. no usable root certificates).
    pub fn with_roots(roots: impl IntoIterator<Item = Vec<u8>>) -> Result<Self, Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
            roots.into_iter().map(CertificateDer::from),
            Arc::clone(&provider),
        )
        .map_err(Error::Tls)?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(Error::Tls)?
            .dangerous()
            // Not dangerous: it is the platform's verifier, with the extra roots.
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            dial: Dial::Network { tls: Arc::new(tls) },
        })
    }

    /// A client whose every connection is a fresh in-memory stream from `connect`, the app
    /// serving the other end in this process: for tests and simulations on tokio's paused clock,
    /// where a socket's answer in flight lets virtual time jump ahead and a probe time out that
    /// should not. Nothing else differs: the exchange, the kept connection, the timing and the
    /// classification are those of a probe over the network.
    ///
    /// The URL names the `Host` header and the path; nothing is resolved, and the exchange is
    /// plain HTTP whatever the URL's scheme (TLS in memory would test rustls, not the app). An
    /// `Err` from `connect` is a failed TCP connect, classified by its kind: an
    /// [`io::ErrorKind::ConnectionRefused`] makes a down probe "connection refused", as an app
    /// with nothing listening does.
    pub fn in_process(
        connect: impl Fn() -> io::Result<DuplexStream> + Send + Sync + 'static,
    ) -> Self {
        Self {
            dial: Dial::InProcess(Arc::new(connect)),
        }
    }
}

/// Where a probe connects, taken from its URL once.
pub(crate) struct Target {
    host: Host,
    port: u16,
    /// The name TLS verifies, for `https`.
    tls: Option<ServerName<'static>>,
}

enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Target {
    /// The target of a checked `http` or `https` URL with a host.
    pub(crate) fn of(url: &Url) -> Result<Self, Error> {
        let host = match url.host() {
            Some(url::Host::Ipv4(ip)) => Host::Ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => Host::Ip(ip.into()),
            Some(url::Host::Domain(name)) => Host::Name(name.to_owned()),
            None => return Err(Error::NoHost),
        };
        let https = url.scheme() == "https";
        let tls = if https {
            let name = match &host {
                Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
                Host::Name(name) => {
                    ServerName::try_from(name.clone()).map_err(|_| Error::NoHost)?
                }
            };
            Some(name)
        } else {
            None
        };
        Ok(Self {
            host,
            port: url
                .port_or_known_default()
                .unwrap_or(if https { 443 } else { 80 }),
            tls,
        })
    }

    /// Connects: in process with an in-process client, else over the network.
    pub(crate) async fn connect(&self, client: &Client) -> Result<Connection, Failure> {
        match &client.dial {
            Dial::Network { tls } => self.connect_network(tls).await.map(Either::Left),
            Dial::InProcess(connect) => connect().map(Either::Right).map_err(Failure::Connect),
        }
    }

    /// Resolves, connects to the first address that accepts, and shakes hands for `https`.
    async fn connect_network(&self, tls: &Arc<rustls::ClientConfig>) -> Result<Network, Failure> {
        let addresses: Vec<SocketAddr> = match &self.host {
            Host::Ip(ip) => vec![SocketAddr::new(*ip, self.port)],
            Host::Name(name) => tokio::net::lookup_host((name.as_str(), self.port))
                .await
                .map_err(Failure::Dns)?
                .collect(),
        };
        let mut last = None;
        let mut tcp = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(error) => last = Some(error),
            }
        }
        let tcp = match (tcp, last) {
            (Some(stream), _) => stream,
            (None, Some(error)) => return Err(Failure::Connect(error)),
            (None, None) => {
                let none = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
                return Err(Failure::Dns(none));
            }
        };
        // The request goes out in one write; waiting for an ACK before sending it would only delay.
        tcp.set_nodelay(true).map_err(Failure::Connect)?;
        match &self.tls {
            None => Ok(Either::Left(tcp)),
            Some(name) => TlsConnector::from(Arc::clone(tls))
                .connect(name.clone(), tcp)
                .await
                .map(|tls| Either::Right(Box::new(tls)))
                .map_err(Failure::Handshake),
        }
    }
}

/// Whether a kept connection has nothing to read, as an idle HTTP/1.1 connection must. A server
/// that closed it left an end of stream, and one that answered unasked before closing (a `408
/// Request Timeout`, say) left bytes that would be read as the next probe's answer. Either way,
/// the connection must not carry a request. It polls the stream once and never waits.
pub(crate) fn is_quiet(stream: &mut Connection) -> bool {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    let mut byte = [0u8; 1];
    let mut buf = tokio::io::ReadBuf::new(&mut byte);
    std::pin::Pin::new(stream)
        .poll_read(&mut context, &mut buf)
        .is_pending()
}

/// Why an exchange failed, by the step that failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The host name did not resolve.
    Dns(io::Error),
    /// TCP connect failed.
    Connect(io::Error),
    /// The TLS handshake failed.
    Handshake(io::Error),
    /// Writing the request or reading the answer failed.
    Io(io::Error),
    /// The peer closed the connection before the whole answer.
    Closed,
    /// The answer is not HTTP/1.x, or its framing is broken.
    Protocol,
}

/// A whole answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The first `Server-Timing` header's value, when asked for.
    pub(crate) server_timing: Option<String>,
    /// Whether the connection may carry the next request.
    pub(crate) reusable: bool,
}

/// What an exchange saw before it ended, kept when it fails: the status for the result, and
/// whether any byte came back (a reused connection that closes before answering was closed by
/// the server while idle, and the request is worth one retry on a new one).
#[derive(Default)]
pub(crate) struct Progress {
    pub(crate) status: Option<u16>,
    pub(crate) answered: bool,
}

/// Sends `request` and reads the answer to its last byte, discarding the body as it arrives.
pub(crate) async fn exchange<S>(
    stream: &mut S,
    request: &[u8],
    want_server_timing: bool,
    progress: &mut Progress,
) -> Result<Answer, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(request).await.map_err(Failure::Io)?;
    stream.flush().await.map_err(Failure::Io)?;
    let mut reader = Reader {
        stream,
        buf: Vec::new(),
        start: 0,
    };
    let head = loop {
        let head = reader.head(want_server_timing, progress).await?;
        // Interim answers (100 Continue, 103 Early Hints) precede the real one; a switch of
        // protocols was not asked for.
        match head.status {
            101 => return Err(Failure::Protocol),
            100..=199 => {}
            _ => break head,
        }
    };
    progress.status = Some(head.status);
    let framed = match head.body {
        Body::None => true,
        Body::Length(length) => {
            reader.skip(length).await?;
            true
        }
        Body::Chunked => {
            reader.chunks().await?;
            true
        }
        Body::ToClose => {
            reader.until_closed().await?;
            false
        }
    };
    Ok(Answer {
        status: head.status,
        server_timing: head.server_timing,
        // Bytes beyond the answer are not ours to read: the connection goes.
        reusable: framed && head.keep_alive && reader.available().is_empty(),
    })
}

/// How the body ends (RFC 9112 §6.3, for a response to a GET).
enum Body {
    None,
    Length(u64),
    Chunked,
    ToClose,
}

struct Head {
    status: u16,
    body: Body,
    keep_alive: bool,
    server_timing: Option<String>,
}

/// The bytes read and not yet consumed, over the stream.
struct Reader<'a, S> {
    stream: &'a mut S,
    buf: Vec<u8>,
    start: usize,
}

impl<S: AsyncRead + Unpin> Reader<'_, S> {
    fn available(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Reads more; `false` at the end of the stream.
    async fn read_more(&mut self) -> Result<bool, Failure> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(READ_CHUNK);
        let read = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(Failure::Io)?;
        Ok(read > 0)
    }

    /// Reads more; the end of the stream is an answer cut short.
    async fn fill(&mut self) -> Result<(), Failure> {
        if self.read_more().await? {
            Ok(())
        } else {
            Err(Failure::Closed)
        }
    }

    async fn head(
        &mut self,
        want_server_timing: bool,
        progress: &mut Progress,
    ) -> Result<Head, Failure> {
        loop {
            if let Some((length, head)) = parse_head(self.available(), want_server_timing)? {
                self.consume(length);
                return Ok(head);
            }
            if self.available().len() >= MAX_HEAD {
                return Err(Failure::Protocol);
            }
            self.fill().await?;
            progress.answered = true;
        }
    }

    async fn skip(&mut self, mut length: u64) -> Result<(), Failure> {
        loop {
            let have = self.available().len();
            // Whichever is smaller fits in a usize.
            let take = usize::try_from(length).map_or(have, |length| length.min(have));
            self.consume(take);
            length -= take as u64;
            if length == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    async fn chunks(&mut self) -> Result<(), Failure> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(self.available()) {
                    Ok(httparse::Status::Complete((length, size))) => {
                        self.consume(length);
                        break size;
                    }
                    Ok(httparse::Status::Partial) if self.available().len() < MAX_HEAD => {
                        self.fill().await?;
                    }
                    _ => return Err(Failure::Protocol),
                }
            };
            if size == 0 {
                return self.trailers().await;
            }
            self.skip(size).await?;
            while self.available().len() < 2 {
                self.fill().await?;
            }
            if &self.available()[..2] != b"\r\n" {
                return Err(Failure::Protocol);
            }
            self.consume(2);
        }
    }

    /// The trailer section after the last chunk, up to its blank line; nothing in it is used.
    async fn trailers(&mut self) -> Result<(), Failure> {
        let mut read = 0;
        loop {
            match self.available().windows(2).position(|pair| pair == b"\r\n") {
                Some(end) => {
                    self.consume(end + 2);
                    if end == 0 {
                        return Ok(());
                    }
                    read += end + 2;
                }
                None if read + self.available().len() < MAX_HEAD => self.fill().await?,
                None => return Err(Failure::Protocol),
            }
        }
    }

    async fn until_closed(&mut self) -> Result<(), Failure> {
        loop {
            let have = self.available().len();
            self.consume(have);
            match self.read_more().await {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                // A TLS peer that closes without `close_notify` still ended its answer; for a
                // health check, truncation by an attacker is no concern.
                Err(Failure::Io(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(());
                }
                Err(failure) => return Err(failure),
            }
        }
    }
}

/// Parses a complete head at the start of `bytes`: its length and what it says, or `None` when
/// more bytes are needed.
fn parse_head(bytes: &[u8], want_server_timing: bool) -> Result<Option<(usize, Head)>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(bytes) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failure::Protocol),
    };
    let status = response.code.ok_or(Failure::Protocol)?;
    let mut content_length = None;
    let mut chunked = false;
    let mut encoded = false;
    let mut close = response.version != Some(1);
    let mut server_timing = None;
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|value| value.trim().parse::<u64>().ok())
                .ok_or(Failure::Protocol)?;
            // Two different lengths leave the body's end unknown (RFC 9112 §6.3, rule 5).
            if content_length.is_some_and(|seen| seen != value) {
                return Err(Failure::Protocol);
            }
            content_length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
            // Chunked only when it is the last coding; otherwise the body runs to the close.
            chunked = tokens(header.value)
                .last()
                .is_some_and(|coding| coding.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            close |= tokens(header.value).any(|token| token.eq_ignore_ascii_case(b"close"));
        } else if want_server_timing
            && server_timing.is_none()
            && name.eq_ignore_ascii_case("server-timing")
        {
            server_timing = std::str::from_utf8(header.value).ok().map(str::to_owned);
        }
    }
    let body = if (100..200).contains(&status) || status == 204 || status == 304 {
        Body::None
    } else if encoded {
        if chunked {
            Body::Chunked
        } else {
            Body::ToClose
        }
    } else {
        content_length.map_or(Body::ToClose, Body::Length)
    };
    Ok(Some((
        length,
        Head {
            status,
            body,
            keep_alive: !close,
            server_timing,
        },
    )))
}

/// The comma-separated tokens of a header value, trimmed.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|byte| *byte == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|token| !token.is_empty())
}

/// The first `dur=` of a `Server-Timing` value (`app;desc="render";dur=123.4, db;dur=20`), in
/// milliseconds; `None` without one, or for a negative or unreadable one.
pub(crate) fn server_timing(value: &str) -> Option<Duration> {
    let millis = value
        .split([',', ';'])
        .find_map(|param| param.trim().strip_prefix("dur="))?;
    let millis: f64 = millis.trim().trim_matches('"').parse().ok()?;
    Duration::try_from_secs_f64(millis / 1000.0).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// The exchange against a peer that answers `answer` and then closes.
    fn exchange_with(answer: &[u8]) -> (Result<Answer, Failure>, Progress) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (mut client, mut server) = tokio::io::duplex(64 * 1024);
            let answer = answer.to_vec();
            let peer = tokio::spawn(async move {
                let mut request = vec![0; 18];
                server.read_exact(&mut request).await.unwrap();
                let _ = server.write_all(&answer).await;
                // Dropping `server` closes the stream.
            });
            let mut progress = Progress::default();
            let result =
                exchange(&mut client, b"GET / HTTP/1.1\r\n\r\n", true, &mut progress).await;
            // A peer still writing what was not read gets an error instead of waiting for ever.
            drop(client);
            peer.await.unwrap();
            (result, progress)
        })
    }

    fn reusable(answer: &[u8]) -> Option<bool> {
        exchange_with(answer).0.ok().map(|answer| answer.reusable)
    }

    #[test]
    fn bodies_end_by_length_by_chunks_or_by_the_close() {
        assert_eq!(
            reusable(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            Some(true)
        );
        assert_eq!(
            reusable(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n"),
            Some(true)
        );
        assert_eq!(reusable(b"HTTP/1.1 204 No Content\r\n\r\n"), Some(true));
        // To the close: read to the end, and not kept.
        assert_eq!(reusable(b"HTTP/1.1 200 OK\r\n\r\nanything"), Some(false));
        assert_eq!(
            reusable(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"),
            Some(false)
        );
        assert_eq!(
            reusable(
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive, Close\r\n\r\n"
            ),
            Some(false)
        );
        assert_eq!(
            reusable(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
            Some(false)
        );
        // Bytes past the answer: the answer stands, the connection does not.
        assert_eq!(
            reusable(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200"),
            Some(false)
        );
    }

    #[test]
    fn interim_answers_are_skipped_and_the_header_read() {
        let (answer, _) = exchange_with(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 503 Busy\r\nServer-Timing: app;dur=12\r\nContent-Length: 0\r\n\r\n",
        );
        let answer = answer.ok().unwrap();
        assert_eq!(answer.status, 503);
        assert_eq!(answer.server_timing.as_deref(), Some("app;dur=12"));
    }

    #[test]
    fn broken_framing_is_a_protocol_failure_and_a_cut_a_close() {
        for broken in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n",
            b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        ] {
            let (result, _) = exchange_with(broken);
            assert!(
                matches!(result, Err(Failure::Protocol)),
                "{:?}: {:?}",
                String::from_utf8_lossy(broken),
                result.map(|answer| answer.status)
            );
        }
        let (result, progress) =
            exchange_with(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nok");
        assert!(matches!(result, Err(Failure::Closed)));
        assert_eq!(progress.status, Some(200));
        assert!(progress.answered);
        let (result, progress) = exchange_with(b"");
        assert!(matches!(result, Err(Failure::Closed)));
        assert!(!progress.answered, "nothing came back");
    }

    #[test]
    fn a_head_beyond_its_limit_is_refused() {
        let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
        while answer.len() <= MAX_HEAD {
            answer.extend_from_slice(b"X-Padding: 0123456789012345678901234567890123456789\r\n");
        }
        // More headers than are read is refused the same way.
        assert!(matches!(exchange_with(&answer).0, Err(Failure::Protocol)));
    }

    #[test]
    fn server_timing_takes_the_first_duration() {
        assert_eq!(
            server_timing("app;desc=\"render\";dur=123.5, db;dur=20"),
            Some(Duration::from_micros(123_500))
        );
        assert_eq!(server_timing("cache;desc=hit"), None);
        assert_eq!(server_timing("app;dur=-1"), None);
    }

    proptest! {
        // The answer comes from outside: any bytes end in an answer or a failure, never a panic
        // or a hang (the peer closes after them).
        #[test]
        fn any_answer_ends_without_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = exchange_with(&bytes);
        }

        #[test]
        fn any_answer_after_a_valid_head_ends_without_a_panic(
            head in "HTTP/1\\.[01] [1-5][0-9]{2} [A-Za-z ]{0,8}\r\n((Content-Length: [0-9]{1,3}|Transfer-Encoding: (chunked|gzip, chunked|gzip)|Connection: (close|keep-alive))\r\n){0,3}\r\n",
            body in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut answer = head.into_bytes();
            answer.extend_from_slice(&body);
            let _ = exchange_with(&answer);
        }
    }
}
