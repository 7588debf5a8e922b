//! Integration tests of the schedule crate: semantics at their edges, agreement with Python's
//! croniter.

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
