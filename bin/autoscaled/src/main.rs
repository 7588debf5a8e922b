//! `autoscaled`: keeps Heroku apps at the right number of dynos, on a schedule and by probing them.
//!
//! For each app, `run` joins crates with channels ([`daemon`], one decision task per app):
//!
//! ```text
//!  probe (autoscaled-probe) ─────────┐
//!  drain traffic (router-logs) ──────┼─> decision (autoscaled-policy) ─target─> actuator ─> Heroku
//!  schedule tick (autoscaled-schedule)┘        │                                 (heroku-api)
//!                                              └─> notify, store, the status board (never awaited)
//! ```
//!
//! This file only parses the command line, runs the command and maps its outcome to an exit status
//! (0 done, 1 fatal at start, 2 bad config or arguments). Start reading at [`cli`] for the commands,
//! [`daemon`] for how `run` wires tasks together; the rules themselves are the
//! `autoscaled-policy` crate.

mod check;
mod cli;
mod clock;
mod config;
mod daemon;
mod demo;
mod failure;
mod logging;
mod overrides;
mod plan;
mod report;
mod simulate;
mod traffic;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
// Re-exported: every command returns a `crate::Failure` and builds its I/O on `crate::runtime`.
pub(crate) use failure::{Failure, runtime};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_default();
    // The demo's clock starts here, so its log lines carry simulated time from the first one.
    let demo_clock = match &command {
        Command::Demo(args) => Some(clock::Clock::fast(demo::epoch(args.start), args.speed)),
        _ => None,
    };
    logging::init(cli.log_format, demo_clock);
    let outcome = match command {
        Command::Run(args) => daemon::run(&cli.config, args),
        Command::Check(args) => check::run(&cli.config, args),
        Command::Plan(args) => plan::run(&cli.config, args),
        Command::Demo(args) => {
            demo::run(demo_clock.unwrap_or_else(clock::Clock::real), args.listen)
        }
        Command::Simulate(args) => simulate::run(&cli.config, args),
        Command::Status(args) => report::run(&cli.config, args),
        Command::Override(command) => overrides::run_override(&cli.config, command),
        Command::Pause(args) => overrides::run_pause(&cli.config, args),
        Command::Resume(args) => overrides::run_resume(&cli.config, args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(error)) => {
            eprintln!("autoscaled: {error:#}");
            ExitCode::from(2)
        }
        Err(Failure::Fatal(error)) => {
            eprintln!("autoscaled: {error:#}");
            ExitCode::from(1)
        }
    }
}
