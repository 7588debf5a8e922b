//! HTTP probing of an app: latency on a monotonic clock, down/slow/normal/fast classification and
//! rolling statistics.
//!
//! Start with [`Prober`]: built from a [`ProbeConfig`], it GETs one URL, times the whole response on
//! `tokio::time::Instant` and returns a [`ProbeResult`] whose [`Class`] says whether the app is down,
//! slow, normal or fast, and, when down, a [`DownReason`] fit for an alert; or, when the probe
//! could not be made for a fault of this machine (no file descriptor, memory or local port left), a
//! [`LocalFault`], which says nothing about the app and is never *down*. [`Prober::spawn`] probes
//! every interval on a task and sends the results down a channel. The rule itself,
//! [`Thresholds::classify`], is a pure function of `autoscaled-policy`, re-exported here, so
//! simulations feed modelled latencies through the same code. [`RollingStats`] summarises recent results (count, p50, p95, max, share down).
//!
//! The HTTP/1.1 client is this crate's own, small on purpose: a prober keeps one connection to its
//! app between probes, and a kept connection should cost a socket, not a general client's buffers
//! and tasks. Probers share a [`Client`] (the TLS settings and root certificates). For tests and
//! simulations on tokio's paused clock, [`Client::in_process`] connects to an app served in the
//! same process over an in-memory stream, with no socket whose answer in flight would let virtual
//! time jump ahead: a probe then measures exactly the app's virtual latency, and its timeout is
//! exact.
//!
//! ```no_run
//! use std::time::Duration;
//! use autoscaled_probe::{Class, ProbeConfig, Prober, Thresholds};
//!
//! # async fn demo() -> Result<(), autoscaled_probe::Error> {
//! let thresholds = Thresholds {
//!     timeout: Duration::from_secs(10),
//!     slow: Duration::from_secs(5),
//!     fast: Duration::from_secs(1),
//! };
//! // The pure rule: exactly `slow` is slow, exactly `fast` is normal, a 503 is down.
//! assert_eq!(thresholds.classify(200, Duration::from_secs(5)), Class::Slow);
//! assert_eq!(thresholds.classify(200, Duration::from_secs(1)), Class::Normal);
//! assert_eq!(thresholds.classify(503, Duration::from_millis(20)), Class::Down);
//!
//! let prober = Prober::new(ProbeConfig {
//!     url: "https://my-app.herokuapp.com/".parse().expect("a valid URL"),
//!     interval: Duration::from_secs(30),
//!     thresholds,
//!     headers: vec![],
//! })?;
//! match prober.probe().await {
//!     Ok(result) => println!("{:?}: {}", result.class, result.describe()), // "Fast: 200 in 83 ms"
//!     Err(fault) => eprintln!("no probe made, a fault of ours: {fault}"),
//! }
//! # Ok(())
//! # }
//! ```

mod down;
mod error;
mod http;
mod local;
mod prober;
mod stats;

pub use down::DownReason;
pub use error::Error;
pub use http::Client;
pub use local::LocalFault;
/// The classification rule, shared with the simulator: re-exported so `probe::Class` is the very
/// type the decision rules take.
pub use policy::{Class, Thresholds};
pub use prober::{
    IDLE_CONNECTION, ProbeConfig, ProbeResult, Prober, SERVER_TIMED_WAIT, USER_AGENT,
};
pub use stats::{RollingStats, Summary, percentile};
