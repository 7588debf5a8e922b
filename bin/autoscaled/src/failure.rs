//! How a command fails, which decides the process's exit status, and the runtime every command
//! that does I/O runs on.

use crate::config;

/// How a command failed, which decides the exit status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad config, arguments or input: exit 2.
    Invalid(anyhow::Error),
    /// Could not start or keep going (credentials rejected, app not found): exit 1.
    Fatal(anyhow::Error),
}

impl From<config::ConfigError> for Failure {
    fn from(error: config::ConfigError) -> Self {
        Failure::Invalid(error.into())
    }
}

/// The runtime of every command that does I/O: one thread is plenty for an autoscaler, and a
/// `clock` dyno has few cores to share.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::Fatal(anyhow::Error::new(e).context("cannot start the async runtime"))
        })
}
