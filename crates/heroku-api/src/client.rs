//! The client: the headers Heroku wants, the per-request timeout, retries, and the calls; the
//! requests go through a [`Transport`].

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use backon::Retryable;
use http::Method;
use http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use secret::Secret;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::budget::ReadBudget;
use crate::retry::{RetryPolicy, wait_before_retry};
use crate::transport::{Failure, Reqwest, Transport, TransportError};
use crate::types::BatchBody;
use crate::{ApiError, App, BatchUpdate, Error, Formation, FormationUpdate};

/// Where the Platform API lives.
pub const DEFAULT_BASE_URL: &str = "https://api.heroku.com";
const ACCEPT_V3: &str = "application/vnd.heroku+json; version=3";
const AGENT: &str = concat!("autoscaled/", env!("CARGO_PKG_VERSION"));
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Stands for "no `RateLimit-Remaining` seen yet" in the atomic.
const UNKNOWN: u64 = u64::MAX;
/// [`Inner::reached`]'s values: no call finished yet, the latest got an answer, it got none.
const NOT_TRIED: u8 = 0;
const ANSWERED: u8 = 1;
const NO_ANSWER: u8 = 2;
/// How much of a non-JSON error body is kept as its message.
const BODY_EXCERPT: usize = 200;
/// The longest one `Retry-After` holds the client's calls: a broken header (a date years ahead)
/// must not stop scaling for good. Heroku asks for seconds to a minute or two.
const MAX_HOLD: Duration = Duration::from_secs(15 * 60);

/// A Heroku Platform API v3 client. Cheap to clone: clones share one transport (one connection
/// pool over the network).
///
/// Its `Debug` shows the base URL and retry policy, never the token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Arc<dyn Transport>,
    /// The longest one request may take, whatever the transport: kept on tokio's clock.
    timeout: Duration,
    base_url: String,
    /// `Bearer <token>`, marked sensitive so that HTTP-level debugging does not print it either.
    authorization: HeaderValue,
    retry: RetryPolicy,
    rate_limit_remaining: AtomicU64,
    budget: ReadBudget,
    /// No call goes out before this instant: the latest end of a `Retry-After` Heroku sent, which
    /// holds for the whole account, so for every call of every clone, not only the one refused.
    not_before: Mutex<Option<Instant>>,
    /// Whether the latest attempt got an HTTP answer (any status): [`NOT_TRIED`], [`ANSWERED`] or
    /// [`NO_ANSWER`].
    reached: AtomicU8,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("token", &secret::REDACTED)
            .field("retry", &self.inner.retry)
            .field("rate_limit_remaining", &self.rate_limit_remaining())
            .finish()
    }
}

/// Options for a [`Client`]; from [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    token: Secret,
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    budget: ReadBudget,
    transport: Option<Arc<dyn Transport>>,
}

impl ClientBuilder {
    /// The API root, [`DEFAULT_BASE_URL`] unless set (a test server, say).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The longest one HTTP call may take, connecting included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest connecting may take (default 10 s); the default transport's only.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sends the requests through `transport` instead of reqwest over the network: a fake Heroku
    /// answering in the same process, say, so that tests on tokio's paused clock involve no socket.
    /// The base URL still makes each request's URI; [`timeout`](Self::timeout) still bounds each
    /// request; [`connect_timeout`](Self::connect_timeout) is then the transport's business.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// How failed calls are retried (default [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The account's request budget: at most `limit` tokens, `refill_per_minute` given back a
    /// minute (default Heroku's [`ACCOUNT_RATE_LIMIT`](crate::ACCOUNT_RATE_LIMIT) and
    /// [`REFILL_PER_MINUTE`](crate::REFILL_PER_MINUTE)), for [`Client::read_budget`].
    pub fn rate_limit(mut self, limit: u32, refill_per_minute: u32) -> Self {
        self.budget = ReadBudget::new(limit, refill_per_minute);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        match url::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => {
                return Err(Error::Config(format!(
                    "the base URL {base_url:?} is not an http(s) URL"
                )));
            }
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))
            .map_err(|_| {
            Error::Config("the API token has characters not allowed in an HTTP header".to_owned())
        })?;
        authorization.set_sensitive(true);
        let transport = match self.transport {
            Some(transport) => transport,
            None => {
                // No overall timeout here: the client's own wraps every transport alike.
                let http = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .build()
                    .map_err(|e| Error::Config(format!("cannot set up HTTP: {e}")))?;
                Arc::new(Reqwest { http })
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                timeout: self.timeout,
                base_url,
                authorization,
                retry: self.retry,
                rate_limit_remaining: AtomicU64::new(UNKNOWN),
                budget: self.budget,
                not_before: Mutex::new(None),
                reached: AtomicU8::new(NOT_TRIED),
            }),
        })
    }
}

/// A successful answer, read in full.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
            status: self.status,
            request_id: header(&self.headers, "request-id"),
            message: e.to_string(),
        })
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// One path segment, percent-encoded so that an app name or process type can never change the path.
/// Empty, `.` and `..` are refused: URL parsers resolve dot segments even percent-encoded, so
/// `formation/..` would address the app itself.
fn segment(text: &str) -> Result<String, Error> {
    if matches!(text, "" | "." | "..") {
        return Err(Error::InvalidIdentity(text.to_owned()));
    }
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(out)
}

impl Client {
    /// A client for [`DEFAULT_BASE_URL`] with default options.
    pub fn new(token: Secret) -> Result<Self, Error> {
        Self::builder(token).build()
    }

    /// Options for a client that authenticates with `token`.
    pub fn builder(token: Secret) -> ClientBuilder {
        ClientBuilder {
            token,
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            budget: ReadBudget::default(),
            transport: None,
        }
    }

    /// The `RateLimit-Remaining` of the latest response: the account's request tokens left.
    pub fn rate_limit_remaining(&self) -> Option<u32> {
        u32::try_from(self.inner.rate_limit_remaining.load(Ordering::Relaxed)).ok()
    }

    /// The account's request budget as seen in every response so far, shared by the client's
    /// clones: how far periodic reads should spread out ([`ReadBudget::pace`]). The client never
    /// delays a call because of it.
    pub fn read_budget(&self) -> &ReadBudget {
        &self.inner.budget
    }

    /// `GET /apps/{app}`: an app by name or id.
    pub async fn app_info(&self, app: &str) -> Result<App, Error> {
        let path = format!("/apps/{}", segment(app)?);
        self.call(Method::GET, &path, None, None).await?.decode()
    }

    /// `GET /apps/{app}/formation`: every process type of an app, following `Next-Range` pages.
    pub async fn formation_list(&self, app: &str) -> Result<Vec<Formation>, Error> {
        let path = format!("/apps/{}/formation", segment(app)?);
        let mut formations = Vec::new();
        let mut range: Option<String> = None;
        loop {
            let answer = self
                .call(Method::GET, &path, None, range.as_deref())
                .await?;
            formations.extend(answer.decode::<Vec<Formation>>()?);
            let next = header(&answer.headers, "next-range");
            // A server that hands back the range just asked for would otherwise loop forever.
            match next {
                Some(next) if answer.status == 206 && range.as_ref() != Some(&next) => {
                    range = Some(next)
                }
                _ => return Ok(formations),
            }
        }
    }

    /// `GET /apps/{app}/formation/{process_type}`: one process type, by type or id.
    pub async fn formation_info(&self, app: &str, process_type: &str) -> Result<Formation, Error> {
        let path = format!(
            "/apps/{}/formation/{}",
            segment(app)?,
            segment(process_type)?
        );
        self.call(Method::GET, &path, None, None).await?.decode()
    }

    /// `PATCH /apps/{app}/formation/{process_type}`: sets the quantity and/or size of one process type.
    pub async fn formation_update(
        &self,
        app: &str,
        process_type: &str,
        update: &FormationUpdate,
    ) -> Result<Formation, Error> {
        let path = format!(
            "/apps/{}/formation/{}",
            segment(app)?,
            segment(process_type)?
        );
        let body = serde_json::to_vec(update)
            .map_err(|e| Error::Config(format!("cannot encode the update: {e}")))?;
        self.call(Method::PATCH, &path, Some(body), None)
            .await?
            .decode()
    }

    /// `PATCH /apps/{app}/formation`: sets several process types in one call; returns those changed.
    pub async fn formation_batch_update(
        &self,
        app: &str,
        updates: &[BatchUpdate],
    ) -> Result<Vec<Formation>, Error> {
        let path = format!("/apps/{}/formation", segment(app)?);
        let body = serde_json::to_vec(&BatchBody { updates })
            .map_err(|e| Error::Config(format!("cannot encode the updates: {e}")))?;
        self.call(Method::PATCH, &path, Some(body), None)
            .await?
            .decode()
    }

    /// Whether the Platform API answered the latest attempt of any call (whatever the status):
    /// `Some(false)` when it got no answer (no connection, a timeout, a broken connection), so
    /// "Heroku's API cannot be reached" is a fact, not a guess; `None` before any attempt ended.
    pub fn reachable(&self) -> Option<bool> {
        match self.inner.reached.load(Ordering::Relaxed) {
            ANSWERED => Some(true),
            NO_ANSWER => Some(false),
            _ => None,
        }
    }

    /// Until when a `Retry-After` holds every call, if one still does: calls made before then wait
    /// for it (scale calls too), rather than spend the account's budget on refusals.
    pub fn held_until(&self) -> Option<Instant> {
        let until = *self
            .inner
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        until.filter(|until| *until > Instant::now())
    }

    /// Holds every call until `after` from now has passed (at most [`MAX_HOLD`]), unless a hold
    /// already lasts longer.
    fn hold_for(&self, after: Duration) {
        let until = Instant::now() + after.min(MAX_HOLD);
        let mut not_before = self
            .inner
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if not_before.is_none_or(|held| held < until) {
            *not_before = Some(until);
        }
    }

    /// Waits until no `Retry-After` holds calls any longer; a hold extended meanwhile (by another
    /// call's answer) is waited for too.
    async fn wait_for_hold(&self, method: &Method, path: &str) {
        let mut logged = false;
        while let Some(until) = self.held_until() {
            if !logged {
                let wait_ms = until.saturating_duration_since(Instant::now()).as_millis();
                tracing::info!(%method, path, wait_ms, "Heroku asked to wait (Retry-After); the call waits");
                logged = true;
            }
            tokio::time::sleep_until(until).await;
        }
    }

    /// One call with retries as the policy allows, once any `Retry-After` hold has passed.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        range: Option<&str>,
    ) -> Result<Answer, Error> {
        let policy = &self.inner.retry;
        // The retry time limit counts from the first call sent, not from the hold's start.
        self.wait_for_hold(&method, path).await;
        let started = Instant::now();
        // The calls made so far, counted where a failed one is judged.
        let mut attempt = 0;
        (|| self.attempt(method.clone(), path, body.clone(), range))
        .retry(policy.backoff())
        .when(Error::is_retryable)
        .adjust(|error, backoff| {
            attempt += 1;
            // No backoff left: the policy's attempts are spent.
            let wait = wait_before_retry(backoff?, error, self.rate_limit_remaining());
            if started.elapsed() + wait > policy.max_elapsed {
                tracing::warn!(%method, path, attempt, wait_ms = wait.as_millis(), %error,
                    "Heroku API call failed; not retrying, the wait would pass the retry time limit");
                return None;
            }
            tracing::warn!(%method, path, attempt, wait_ms = wait.as_millis(), %error, "Heroku API call failed; retrying");
            Some(wait)
        })
        .await
    }

    /// Sends `request` through the transport within the timeout, and notes whether it was answered.
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let what = format!("{} {}", request.method(), request.uri());
        let timeout = self.inner.timeout;
        let (reached, error) =
            match tokio::time::timeout(timeout, self.inner.transport.send(request)).await {
                Ok(Ok(response)) => {
                    self.inner.reached.store(ANSWERED, Ordering::Relaxed);
                    return Ok(response);
                }
                Ok(Err(TransportError { failure, source })) => (
                    if failure == Failure::BodyBroken {
                        ANSWERED
                    } else {
                        NO_ANSWER
                    },
                    Error::transport(failure == Failure::TimedOut, source),
                ),
                Err(_elapsed) => {
                    let source = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer to {what} within {timeout:?}"),
                    );
                    (NO_ANSWER, Error::transport(true, source.into()))
                }
            };
        self.inner.reached.store(reached, Ordering::Relaxed);
        Err(error)
    }

    async fn attempt(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        range: Option<&str>,
    ) -> Result<Answer, Error> {
        // A retry's wait covers its own refusal's Retry-After; another call's may be longer.
        self.wait_for_hold(&method, path).await;
        let url = format!("{}{path}", self.inner.base_url);
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(AUTHORIZATION, self.inner.authorization.clone())
            .header(ACCEPT, ACCEPT_V3);
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let request = request
            .header(USER_AGENT, AGENT)
            .body(body.unwrap_or_default())
            .map_err(|e| Error::Config(format!("cannot make a request for {url}: {e}")))?;
        let response = self.send(request).await?;
        let status = response.status();
        let (parts, body) = response.into_parts();
        let headers = parts.headers;
        if let Some(remaining) =
            header(&headers, "ratelimit-remaining").and_then(|v| v.trim().parse::<u32>().ok())
        {
            self.inner
                .rate_limit_remaining
                .store(u64::from(remaining), Ordering::Relaxed);
            self.inner.budget.record(remaining, Instant::now());
        }
        if status.is_success() {
            return Ok(Answer {
                status: status.as_u16(),
                headers,
                body,
            });
        }
        let error = api_error(status.as_u16(), &headers, &body);
        if let Some(after) = error.retry_after {
            self.hold_for(after);
        }
        Err(Error::from_status(error))
    }
}

/// Heroku's error body (`{"id","message","url"}`) with the headers that matter.
fn api_error(status: u16, headers: &HeaderMap, body: &[u8]) -> ApiError {
    #[derive(serde::Deserialize)]
    struct Body {
        id: String,
        message: String,
    }
    let (id, message) = match serde_json::from_slice::<Body>(body) {
        Ok(Body { id, message }) => (id, message),
        // A proxy's HTML page, say: keep its start, which is what a human needs to see.
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(BODY_EXCERPT)
                .collect(),
        ),
    };
    ApiError {
        status,
        id,
        message,
        request_id: header(headers, "request-id"),
        retry_after: header(headers, RETRY_AFTER.as_str())
            .and_then(|v| retry_after(&v, SystemTime::now())),
    }
}

/// `Retry-After` in either of its forms (RFC 9110): seconds, or an HTTP date (a date already past
/// means now).
fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("my-app").unwrap(), "my-app");
        assert_eq!(segment("web_1.x~").unwrap(), "web_1.x~");
        assert_eq!(segment("a/b c?d#e%").unwrap(), "a%2Fb%20c%3Fd%23e%25");
        assert_eq!(segment("é").unwrap(), "%C3%A9");
        assert_eq!(segment("...").unwrap(), "...");
        for dots in ["", ".", ".."] {
            assert!(
                matches!(segment(dots), Err(Error::InvalidIdentity(_))),
                "{dots:?}"
            );
        }
    }

    #[test]
    fn the_builder_refuses_bad_urls_and_tokens_without_echoing_the_token() {
        let bad_url = Client::builder(Secret::new("t"))
            .base_url("ftp://example.com")
            .build();
        assert!(matches!(bad_url, Err(Error::Config(_))));
        let bad_token = Client::builder(Secret::new("line\nbreak-s3cr3t")).build();
        match bad_token {
            Err(error @ Error::Config(_)) => {
                assert!(!format!("{error} {error:?}").contains("s3cr3t"))
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Fri, 27 Nov 2026 12:00:00 GMT").unwrap();
        assert_eq!(retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = retry_after("Fri, 27 Nov 2026 12:01:30 GMT", now);
        assert_eq!(later, Some(Duration::from_secs(90)));
        let past = retry_after("Fri, 27 Nov 2026 11:59:00 GMT", now);
        assert_eq!(past, Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn error_bodies_keep_id_message_request_id_and_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("request-id", HeaderValue::from_static("abc-123"));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let error = api_error(
            429,
            &headers,
            br#"{"id":"rate_limit","message":"Slow down.","url":"x"}"#,
        );
        assert_eq!(
            (
                error.id.as_str(),
                error.message.as_str(),
                error.request_id.as_deref()
            ),
            ("rate_limit", "Slow down.", Some("abc-123"))
        );
        assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
        let html = api_error(502, &HeaderMap::new(), b"  <html>Bad gateway</html>");
        assert_eq!(
            (html.id.as_str(), html.message.as_str()),
            ("", "<html>Bad gateway</html>")
        );
    }
}
