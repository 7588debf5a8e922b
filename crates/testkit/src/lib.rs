//! Test support for this workspace's integration tests and benches: real servers and processes on
//! loopback.
//!
//! - [`Prism`]: Stoplight Prism serving Twilio's OpenAPI contract, on a free port, killed on drop,
//!   or one shared by the test binary's tests and ended with it;
//! - [`MailServer`]: an SMTP server (mailin's engine) that keeps what it receives, with or without
//!   AUTH PLAIN, accepting or refusing as [`SmtpOptions`] say; received mails come as [`Mail`],
//!   headers and body decoded;
//! - [`AppServer`]: the probed app, its answers ([`Mode`]) switched by the test at runtime, on
//!   loopback or in process (for tests on tokio's paused clock);
//! - [`Daemon`]: the built `autoscaled` binary (its path given by the caller) as a child process,
//!   its output captured, with bounded waits for log lines and a check at exit that no secret of
//!   the [`config`] files was printed;
//! - [`config`]: `autoscaled.toml` files for a set of apps, probes and alert channels;
//! - [`PostgresDb`]: a fresh database on the PostgreSQL server `scripts/postgres` starts, dropped
//!   after the test; [`PostgresCluster`]: a server of the test's own, which it may stop and start;
//! - [`tls`]: a self-signed certificate for `localhost`, served by [`AppServer`] over HTTPS;
//! - [`Logs`]: what `tracing` logs on the test's thread, without racing the binary's other tests;
//! - [`closed_port`]: a loopback port with nothing listening on it.
//!
//! This crate only serves tests (`publish = false`, a dev-dependency only). Where the test support
//! itself cannot work (no free port, Prism not installed, a mail that is not one), it panics with
//! `expect` and a message saying what went wrong: that fails the test using it loudly, which is
//! what a test wants, rather than an error for every test to unwrap.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a setup that fails fails the test that asked for it, with its message"
)]

mod app_server;
pub mod config;
mod daemon;
mod logs;
mod postgres;
mod prism;
mod smtp;
pub mod tls;

pub use app_server::{AppServer, Hit, Mode, SLOW_RESPONSE};
pub use daemon::{Daemon, Finished};
pub use logs::{Capturing, Logs};
pub use postgres::{POSTGRES_ENV, PostgresCluster, PostgresDb};
pub use prism::Prism;
pub use smtp::{Mail, MailServer, Seen, Smtp, SmtpOptions};

/// Polls `check` every `every` of tokio's clock (the paused one, in a test that pauses it) until
/// it gives a value; after `within`, fails the test with `what` and what `context` says then.
pub async fn poll_until<T>(
    what: &str,
    within: std::time::Duration,
    every: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still waiting after {within:?} for {what}\n{}",
            context()
        );
        tokio::time::sleep(every).await;
    }
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("cannot bind a free port on 127.0.0.1")
        .port()
}
