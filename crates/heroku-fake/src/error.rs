//! The fake's own errors.

use std::net::SocketAddr;

/// Errors of the fake itself (not the HTTP errors it serves).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot bind the fake Heroku API to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The vendored schema could not be turned into validators (a broken build, not bad input).
    #[error("the vendored Heroku schema is unusable: {0}")]
    Schema(String),
    /// [`FakeHeroku::wait_for_requests`](crate::FakeHeroku::wait_for_requests) ran out of time.
    #[error("waited for {wanted} requests but only {seen} arrived in time")]
    WaitTimedOut {
        /// How many requests were awaited.
        wanted: usize,
        /// How many had been recorded at the deadline.
        seen: usize,
    },
}
