//! Where the client's HTTP requests go: reqwest over the network by default, or any [`Transport`]
//! given to [`ClientBuilder::transport`](crate::ClientBuilder::transport) (a fake Heroku answering
//! in the same process, say).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// What [`Transport::send`] returns: the whole answer, body read, or why there is none.
pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<Vec<u8>>, TransportError>> + Send + 'a>>;

/// Carries one HTTP request to the Platform API and brings back its answer, body read in full.
///
/// The client hands it a request with an absolute URI and every header Heroku wants
/// (`Authorization` is marked sensitive, so the `http` types' `Debug` hides it), and treats any
/// status as an answer: a transport reports only the lack of one, as a [`TransportError`]. The
/// client's own per-request timeout ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout))
/// wraps every `send` on tokio's clock, so a transport needs none of its own.
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Sends `request` and reads the whole answer.
    fn send(&self, request: http::Request<Vec<u8>>) -> TransportFuture<'_>;
}

/// How a [`Transport`] failed to bring back a whole answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No answer began: connecting failed, or the connection closed or broke first.
    Unanswered,
    /// A time limit of the transport's own (connecting, say) ran out before an answer began.
    TimedOut,
    /// The status and headers came, then the body broke off: the server was reached.
    BodyBroken,
}

/// Why a [`Transport`] has no whole answer to a request, with the failure that says so as its
/// source.
///
/// Every call the client makes sets absolute values, so each of these is retried alike; they tell
/// apart whether the server was reached ([`Client::reachable`](crate::Client::reachable)) and
/// whether a time limit ran out.
#[derive(Debug, thiserror::Error)]
#[error("{}", match .failure {
    Failure::Unanswered => "no answer",
    Failure::TimedOut => "no answer in time",
    Failure::BodyBroken => "the answer broke off",
})]
pub struct TransportError {
    pub(crate) failure: Failure,
    #[source]
    pub(crate) source: Box<dyn StdError + Send + Sync>,
}

impl TransportError {
    /// No answer began: connecting failed, or the connection closed or broke before the
    /// response's status line arrived.
    pub fn unanswered(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            failure: Failure::Unanswered,
            source: source.into(),
        }
    }

    /// A time limit of the transport's own (connecting, say) ran out before an answer began.
    pub fn timed_out(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            failure: Failure::TimedOut,
            source: source.into(),
        }
    }

    /// The response's status and headers arrived but its body could not be read: the server was
    /// reached.
    pub fn body_broken(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            failure: Failure::BodyBroken,
            source: source.into(),
        }
    }
}

/// The default transport: one pooled reqwest client (rustls), over the network.
#[derive(Debug)]
pub(crate) struct Reqwest {
    pub(crate) http: reqwest::Client,
}

impl Transport for Reqwest {
    fn send(&self, request: http::Request<Vec<u8>>) -> TransportFuture<'_> {
        Box::pin(async move {
            let request =
                reqwest::Request::try_from(request).map_err(TransportError::unanswered)?;
            let response = self.http.execute(request).await.map_err(|error| {
                if error.is_timeout() {
                    TransportError::timed_out(error)
                } else {
                    TransportError::unanswered(error)
                }
            })?;
            let status = response.status();
            let version = response.version();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(TransportError::body_broken)?;
            let mut answer = http::Response::new(body.to_vec());
            *answer.status_mut() = status;
            *answer.version_mut() = version;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}
