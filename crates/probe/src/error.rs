use std::time::Duration;

/// Why a [`Prober`](crate::Prober) could not be built. A failed request is a
/// [`ProbeResult`](crate::ProbeResult) of class [`Down`](crate::Class::Down); one that could not be
/// made for a fault of this machine is a [`LocalFault`](crate::LocalFault).
///
/// No variant carries a header value or the URL, as either may hold a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL's scheme is neither `http` nor `https`.
    #[error("probe URL must be http or https, not {scheme:?}")]
    Scheme {
        /// The scheme given.
        scheme: String,
    },
    /// The URL has no host to connect to.
    #[error("probe URL has no host")]
    NoHost,
    /// `interval` or `timeout` is zero, or `timeout` is not below `interval`.
    #[error("probe timeout ({timeout:?}) must be above zero and below the interval ({interval:?})")]
    Timeout {
        /// The timeout given.
        timeout: Duration,
        /// The interval given.
        interval: Duration,
    },
    /// `fast` is not below `slow`, so no latency could be both fast and not slow.
    #[error("probe fast ({fast:?}) must be below slow ({slow:?})")]
    FastNotBelowSlow {
        /// The fast threshold given.
        fast: Duration,
        /// The slow threshold given.
        slow: Duration,
    },
    /// An extra header's name is not a valid HTTP header name.
    #[error("probe header name {name:?} is not a valid HTTP header name")]
    HeaderName {
        /// The name given.
        name: String,
    },
    /// An extra header's value is not a valid HTTP header value (the value is not shown: it may be a
    /// credential).
    #[error("probe header {name:?} has a value that is not valid in HTTP")]
    HeaderValue {
        /// The header's name.
        name: String,
    },
    /// TLS could not be set up for `https` probes (e.g. no usable root certificates).
    #[error("could not set up TLS for probes: {0}")]
    Tls(#[source] rustls::Error),
}
