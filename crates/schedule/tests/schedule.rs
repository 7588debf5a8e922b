//! Integration tests of the schedule crate: semantics at their edges, agreement with Python's
//! croniter.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test's helpers fail the test that calls them, with their message and line"
)]

#[path = "schedule/common.rs"]
mod common;

#[path = "schedule/semantics.rs"]
mod semantics;

#[path = "schedule/dst.rs"]
mod dst;

#[path = "schedule/croniter.rs"]
mod croniter;

#[path = "schedule/oracle.rs"]
mod oracle;
