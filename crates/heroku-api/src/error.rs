//! What can go wrong talking to Heroku.

use std::fmt;
use std::time::Duration;

/// Heroku's own account of a request it refused: the status, the body's `id` and `message`, and the
/// response's `Request-Id` (quote it to Heroku support).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// Heroku's error id, e.g. `unauthorized`, `two_factor`, `not_found`, `rate_limit`; empty when the
    /// body was not Heroku's error JSON.
    pub id: String,
    /// Heroku's message, or the start of the body when it was not Heroku's error JSON.
    pub message: String,
    /// The response's `Request-Id` header.
    pub request_id: Option<String>,
    /// The response's `Retry-After` header, in seconds or as an HTTP date.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.id.is_empty() {
            write!(f, " {}", self.id)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(request_id) = &self.request_id {
            write!(f, " (request id {request_id})")?;
        }
        Ok(())
    }
}

/// Everything a [`Client`](crate::Client) call can fail with. Never contains the API token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: the token is wrong, expired or revoked, or the account needs a second factor
    /// (`id` `two_factor`).
    #[error("Heroku rejected the API token: {0}")]
    Unauthorized(ApiError),
    /// 403: the token is valid but may not do this (or the account is suspended).
    #[error("Heroku refused access: {0}")]
    Forbidden(ApiError),
    /// 404: no such app or process type, or the token's account cannot see it.
    #[error("not found on Heroku: {0}")]
    NotFound(ApiError),
    /// 422: Heroku refused the parameters (a quantity out of bounds, an unknown dyno size...).
    #[error("Heroku refused the parameters: {0}")]
    InvalidParams(ApiError),
    /// 429: the account's request budget is spent; `retry_after` says when to come back, if given.
    #[error("Heroku API rate limit reached: {0}")]
    RateLimited(ApiError),
    /// 5xx: Heroku failed.
    #[error("Heroku server error: {0}")]
    Server(ApiError),
    /// Any other status that is not a success.
    #[error("unexpected status from Heroku: {0}")]
    Status(ApiError),
    /// No answer: connecting failed, the request timed out, or the connection broke.
    #[error("cannot reach the Heroku API{}: {message}", if *.timed_out { " (timed out)" } else { "" })]
    Transport {
        /// Whether the connect or request timeout expired.
        timed_out: bool,
        /// What failed, with its causes, on one line (for logs that show only the error's text).
        message: String,
        /// The transport's error (a `reqwest::Error` over the network), for callers that walk the
        /// chain of causes.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A success whose body is not the JSON expected.
    #[error("Heroku answered HTTP {status} with a body that is not the expected JSON: {message}{}",
        request_id.as_ref().map(|id| format!(" (request id {id})")).unwrap_or_default())]
    Decode {
        /// The HTTP status.
        status: u16,
        /// The response's `Request-Id` header.
        request_id: Option<String>,
        /// What did not parse.
        message: String,
    },
    /// An app name or process type that cannot be a path segment (empty, `.` or `..`); nothing was
    /// sent.
    #[error("{0:?} is not an app or process type name")]
    InvalidIdentity(String),
    /// The client cannot be built: a bad base URL, a token unusable in a header, no TLS.
    #[error("invalid Heroku client configuration: {0}")]
    Config(String),
}

impl Error {
    /// Heroku's answer, for the errors that have one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Unauthorized(e)
            | Self::Forbidden(e)
            | Self::NotFound(e)
            | Self::InvalidParams(e)
            | Self::RateLimited(e)
            | Self::Server(e)
            | Self::Status(e) => Some(e),
            Self::Transport { .. }
            | Self::Decode { .. }
            | Self::InvalidIdentity(_)
            | Self::Config(_) => None,
        }
    }

    /// The HTTP status, when Heroku answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Decode { status, .. } => Some(*status),
            _ => self.api_error().map(|e| e.status),
        }
    }

    /// The response's `Request-Id`, when Heroku answered with one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Decode { request_id, .. } => request_id.as_deref(),
            _ => self.api_error().and_then(|e| e.request_id.as_deref()),
        }
    }

    /// How long Heroku asked to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api_error().and_then(|e| e.retry_after)
    }

    /// Whether Heroku refused a formation change because a release phase or a preboot cutover is
    /// under way ("Cannot change formation for a preboot app until release phase and preboot
    /// complete"): it passes by itself within minutes, so the caller waits and tries again rather
    /// than calling it a failure. Told by its message, whatever the status.
    pub fn is_preboot_refusal(&self) -> bool {
        self.api_error().is_some_and(|e| {
            let message = e.message.to_ascii_lowercase();
            message.contains("preboot") && message.contains("release phase")
        })
    }

    /// Whether the token itself was refused (401 or 403): retrying or waiting will not help.
    pub fn is_credentials_rejected(&self) -> bool {
        matches!(self, Self::Unauthorized(_) | Self::Forbidden(_))
    }

    /// Whether the same call may succeed later: a transport failure, a 429 or a 5xx.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. } | Self::RateLimited(_) | Self::Server(_)
        )
    }

    /// The error for a response that is not a success.
    pub(crate) fn from_status(error: ApiError) -> Self {
        match error.status {
            401 => Self::Unauthorized(error),
            403 => Self::Forbidden(error),
            404 => Self::NotFound(error),
            422 => Self::InvalidParams(error),
            429 => Self::RateLimited(error),
            500..=599 => Self::Server(error),
            _ => Self::Status(error),
        }
    }

    /// The error for a request that got no whole answer; `message` is `source` with its causes.
    pub(crate) fn transport(
        timed_out: bool,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> Self {
        let mut message = source.to_string();
        let mut cause = source.source();
        while let Some(next) = cause {
            message.push_str(": ");
            message.push_str(&next.to_string());
            cause = next.source();
        }
        Self::Transport {
            timed_out,
            message,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16) -> ApiError {
        ApiError {
            status,
            id: "some_id".to_owned(),
            message: "Some message.".to_owned(),
            request_id: Some("req-1".to_owned()),
            retry_after: None,
        }
    }

    #[test]
    fn statuses_map_to_their_kinds() {
        let kinds: Vec<(u16, bool, bool)> = [401, 403, 404, 409, 422, 429, 500, 503]
            .into_iter()
            .map(|s| {
                let e = Error::from_status(api_error(s));
                (s, e.is_credentials_rejected(), e.is_retryable())
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (401, true, false),
                (403, true, false),
                (404, false, false),
                (409, false, false),
                (422, false, false),
                (429, false, true),
                (500, false, true),
                (503, false, true),
            ]
        );
        assert!(matches!(
            Error::from_status(api_error(409)),
            Error::Status(_)
        ));
        assert!(matches!(
            Error::from_status(api_error(422)),
            Error::InvalidParams(_)
        ));
    }

    #[test]
    fn display_carries_id_message_and_request_id() {
        let shown = Error::from_status(api_error(404)).to_string();
        assert_eq!(
            shown,
            "not found on Heroku: HTTP 404 some_id: Some message. (request id req-1)"
        );
        let decode = Error::Decode {
            status: 200,
            request_id: Some("req-2".to_owned()),
            message: "expected value at line 1 column 1".to_owned(),
        };
        assert!(
            decode.to_string().ends_with("(request id req-2)"),
            "{decode}"
        );
        assert_eq!(decode.request_id(), Some("req-2"));
        assert_eq!(decode.status(), Some(200));
    }
}
