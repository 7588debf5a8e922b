//! Probes against real HTTP servers on loopback.

mod probe {
    pub(crate) mod server;

    mod body;
    mod config;
    mod connection;
    mod failures;
    mod local;
    mod schedule;
    mod success;
}
