//! Heroku router logs from a Logplex HTTPS drain, turned into per-app traffic figures.
//!
//! Heroku POSTs an app's logs to its drain URL in batches: RFC 5424 syslog messages in RFC 6587
//! octet-counting framing (`Content-Type: application/logplex-1`). This crate is the pure part of
//! receiving them: no I/O, no clock of its own (every function that needs the time is given it).
//!
//! Start with [`parse_body`]: it reads one drain body into a [`Batch`] of timestamped
//! [`RouterLine`]s, counting and skipping other lines (the app's own output, dyno state changes) and
//! unreadable ones; only a body that is not octet-counted framing at all is an [`Error`] (answer
//! 400). Feed batches to an app's [`Aggregator`], then ask it for [`TrafficFigures`] at a given
//! instant: arrivals per second, mean and p95 service time and requests in flight over a stable and a
//! panic window, requests a minute, router error codes, maintenance mode and the time of the newest
//! line. [`SeenFrames`] drops a batch Logplex retried (same `Logplex-Frame-Id`). [`router_line`],
//! [`app_line`] and [`frame`] write drain bodies the way Heroku does, for demos and tests.
//!
//! ```
//! use autoscaled_router_logs::{Aggregator, parse_body};
//! use chrono::{DateTime, Utc};
//!
//! let body = b"171 <158>1 2024-03-01T12:00:00.250000+00:00 host heroku router - at=info method=GET \
//! path=\"/\" host=myapp.herokuapp.com dyno=web.1 connect=1ms service=250ms status=200 bytes=13\n\
//! 82 <190>1 2024-03-01T12:00:00.300000+00:00 host app web.1 - Completed 200 OK in 249ms";
//! let batch = parse_body(body)?;
//! assert_eq!((batch.lines.len(), batch.other, batch.bad), (1, 1, 0));
//!
//! let now: DateTime<Utc> = "2024-03-01T12:00:01Z".parse().expect("a time");
//! let mut app = Aggregator::new();
//! app.ingest(&batch, now);
//! let figures = app.figures(now);
//! assert_eq!(figures.requests_last_minute, 1);
//! assert_eq!(figures.stable.mean_service, Some(std::time::Duration::from_millis(250)));
//! // One request of 250 ms in 60 s: on average 0.25 / 60 requests in flight.
//! assert!((figures.stable.in_flight - 0.25 / 60.0).abs() < 1e-9);
//! # Ok::<(), autoscaled_router_logs::Error>(())
//! ```

mod aggregate;
mod error;
mod framing;
mod health;
mod router;
mod seen;
mod syslog;

use chrono::{DateTime, Utc};

pub use aggregate::{
    Aggregator, ErrorCounts, Ingested, MAX_CLOCK_SKEW, TrafficFigures, WindowFigures,
};
pub use error::Error;
pub use framing::{Frames, frame, frames};
pub use health::{HealthFigures, MAX_HEALTH_WINDOW};
pub use router::{At, ErrorCode, InvalidErrorCode, RouterLine, app_line, router_line};
pub use seen::SeenFrames;

/// The router lines of one drain body, with counts of what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch<'a> {
    /// The router lines, in body order, each with the time the router logged it.
    pub lines: Vec<RouterEntry<'a>>,
    /// Well-formed messages that are not router lines (APP-NAME not `heroku` or PROCID not
    /// `router`): the app's own output, dyno state changes, add-on logs.
    pub other: usize,
    /// Frames whose syslog header cannot be read (no timestamp, not RFC 5424), and router messages
    /// that cannot be read (no `at=`, a malformed value, not UTF-8).
    pub bad: usize,
}

/// One router line and when the router logged it, which is when the request completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterEntry<'a> {
    /// The syslog TIMESTAMP, in UTC.
    pub timestamp: DateTime<Utc>,
    /// The line.
    pub line: RouterLine<'a>,
}

/// Reads one drain body: every frame, its syslog header, and the router lines among them.
///
/// An empty body is an empty batch. Fails only on framing (see [`frames`] for the exact rule), and
/// then as a whole: nothing after a bad length can be trusted.
pub fn parse_body(body: &[u8]) -> Result<Batch<'_>, Error> {
    let mut batch = Batch::default();
    for frame in frames(body) {
        let Some(message) = syslog::Message::parse(frame?) else {
            batch.bad += 1;
            continue;
        };
        if message.app_name != b"heroku" || message.procid != b"router" {
            batch.other += 1;
            continue;
        }
        match std::str::from_utf8(message.text)
            .ok()
            .and_then(|text| RouterLine::parse(text).ok())
        {
            Some(line) => batch.lines.push(RouterEntry {
                timestamp: message.timestamp,
                line,
            }),
            None => batch.bad += 1,
        }
    }
    Ok(batch)
}
