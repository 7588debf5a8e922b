//! End-to-end tests of the built `autoscaled` binary: what only a process shows (exit codes,
//! signals, its output and the secrets kept out of it, several processes on one database, kill -9,
//! the browser, alerts delivered over SMTP and Twilio). How the daemon decides and acts is tested
//! in process on tokio's paused clock (`src/daemon/tests`), where no verdict waits in real time.
//!
//! Each test writes a config file, starts the binary as a child process and drives it through real
//! servers on loopback: the fake Heroku Platform API (`heroku_fake`), an app server switched between
//! fast, slow, 503 and refusing, an SMTP server, and Stoplight Prism serving Twilio's contract (the
//! last three and the child process from the workspace's `testkit`). Every wait is a bounded poll on
//! what those servers saw or what the binary logged; every run ends by checking that no secret
//! reached stdout or stderr.
//!
//! One test binary, to keep link time down. Its modules live in `tests/e2e/`: a crate root looks
//! for its modules beside itself, so they sit in the inline module `e2e`, whose folder that is.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test's helpers fail the test that calls them, with their message and line"
)]

mod e2e {
    mod browser;
    mod commands;
    mod daemon;
    mod fleet;
    mod harness;
    mod health;
    mod history;
    mod hostile_net;
    mod overrides;
    mod queue;
    mod simulate;
    mod state;
    mod status_page;
    mod traffic;
}
