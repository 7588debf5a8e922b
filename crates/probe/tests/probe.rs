//! Probes against real HTTP servers on loopback, and in process on a paused clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test's helpers fail the test that calls them, with their message and line"
)]

mod probe {
    pub(crate) mod server;

    mod body;
    mod config;
    mod connection;
    mod failures;
    mod in_process;
    mod local;
    mod schedule;
    mod success;
}
