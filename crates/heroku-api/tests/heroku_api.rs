//! The client against `heroku-fake`, over loopback (a real HTTP server, reqwest's path) or in this
//! process (`FakeHeroku::in_process`: no socket, for exact times on tokio's paused clock), and every
//! body checked against the official Heroku schema.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test's helpers fail the test that calls them, with their message and line"
)]

mod heroku_api {
    pub(crate) mod calls;
    pub(crate) mod errors;
    pub(crate) mod in_process;
    pub(crate) mod retries;
    pub(crate) mod schema;
}

use std::sync::Arc;
use std::time::Duration;

use ::autoscaled_heroku_api::{Client, RetryPolicy};
use heroku_fake::FakeHeroku;
use secret::Secret;

/// Long and recognisable, so a leak into any text is easy to spot.
pub(crate) const TOKEN: &str = "hrku-TEST-5ecr3t-0123456789abcdef";

/// A fake with one app, `my-app`, running one `web` dyno.
pub(crate) async fn fake() -> FakeHeroku {
    testkit::Logs::install();
    let fake = FakeHeroku::start(TOKEN).await.unwrap();
    fake.set_formation("my-app", "web", 1);
    fake
}

pub(crate) fn client_with(fake: &FakeHeroku, retry: RetryPolicy) -> Client {
    testkit::Logs::install();
    Client::builder(Secret::new(TOKEN))
        .base_url(fake.url())
        .timeout(Duration::from_secs(5))
        .retry(retry)
        .build()
        .unwrap()
}

pub(crate) fn client(fake: &FakeHeroku) -> Client {
    client_with(fake, RetryPolicy::default())
}

/// A client of `fake` through [`FakeHeroku::in_process`]: no socket, so on tokio's paused clock
/// time moves only by timers (the client's backoffs and timeout, the fake's delays), exactly.
pub(crate) fn client_in_process(fake: &FakeHeroku, retry: RetryPolicy) -> Client {
    testkit::Logs::install();
    Client::builder(Secret::new(TOKEN))
        .base_url(fake.url())
        .transport(Arc::new(fake.in_process()))
        .timeout(Duration::from_secs(5))
        .retry(retry)
        .build()
        .unwrap()
}
