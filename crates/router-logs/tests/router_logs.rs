//! Drain bodies as Heroku sends them, through parsing and aggregation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test's helpers fail the test that calls them, with their message and line"
)]

mod router_logs {
    pub(crate) mod support;

    mod aggregate;
    mod framing;
    mod health;
    mod lines;
    mod properties;
    mod seen;
}
