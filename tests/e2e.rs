//! End-to-end tests of the built `autoscaled` binary.
//!
//! Each test writes a config file, starts the binary as a child process and drives it through real
//! servers on loopback: the fake Heroku Platform API (`heroku_fake`), an app server switched between
//! fast, slow, 503 and refusing, an SMTP server, and Stoplight Prism serving Twilio's contract. Every
//! wait is a bounded poll on what those servers saw or what the binary logged; every run ends by
//! checking that no secret reached stdout or stderr.
//!
//! One test binary (declared in `bin/autoscaled/Cargo.toml`), to keep link time down. Its modules
//! live in `tests/e2e/`; the crate root sits beside that folder, so each is declared with
//! `#[path = "e2e/<module>.rs"]`.

#[path = "e2e/commands.rs"]
mod commands;
#[path = "e2e/daemon.rs"]
mod daemon;
#[path = "e2e/harness.rs"]
mod harness;
#[path = "e2e/status_page.rs"]
mod status_page;
