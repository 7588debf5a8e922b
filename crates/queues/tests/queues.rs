//! Every backend against real servers: a `redis-server` of the test run's own (`scripts/redis`
//! starts one and prints the URL for `AUTOSCALED_TEST_REDIS`) and the PostgreSQL server
//! `scripts/postgres` starts (`AUTOSCALED_TEST_POSTGRES`). Jobs are enqueued by the libraries' own
//! clients where a registry has them (Sidekiq 6 from Debian, RQ and Celery from PyPI, BullMQ from
//! npm: `scripts/test` installs them), and written as the library writes them elsewhere (Sidekiq
//! 8, Resque, and the PostgreSQL backends on their own schema files in `schemas/`).
//!
//! The readers connect as they would in production, and with less: a Redis ACL user allowed only
//! read commands, a PostgreSQL role with only `SELECT`. Nothing here is skipped: a missing server or
//! client fails the test with a message saying that `scripts/test` installs it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test's helpers fail the test that calls them, with their message and line"
)]

#[path = "queues/bullmq.rs"]
mod bullmq;
#[path = "queues/celery.rs"]
mod celery;
#[path = "queues/errors.rs"]
mod errors;
#[path = "queues/postgres.rs"]
mod postgres;
#[path = "queues/resque.rs"]
mod resque;
#[path = "queues/rq.rs"]
mod rq;
#[path = "queues/sidekiq.rs"]
mod sidekiq;
#[path = "queues/support.rs"]
mod support;
#[path = "queues/tls.rs"]
mod tls;
