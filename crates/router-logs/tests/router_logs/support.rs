//! Builders for the tests: times and router lines.

use std::time::Duration;

use autoscaled_router_logs::{At, ErrorCode, RouterLine};
use chrono::{DateTime, Utc};

/// A UTC instant from RFC 3339.
pub(crate) fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .with_timezone(&Utc)
}

/// A served GET of `service_ms`, as Heroku logs it.
pub(crate) fn served(service_ms: u64) -> RouterLine<'static> {
    RouterLine {
        at: At::Info,
        code: None,
        method: Some("GET"),
        path: Some("/"),
        host: Some("myapp.herokuapp.com"),
        dyno: Some("web.1"),
        connect: Some(Duration::from_millis(1)),
        service: Some(Duration::from_millis(service_ms)),
        status: Some(200),
        bytes: Some(13),
    }
}

/// A router error line with `code`, no dyno reached.
pub(crate) fn failed(code: ErrorCode) -> RouterLine<'static> {
    RouterLine {
        at: At::Error,
        code: Some(code),
        dyno: None,
        connect: None,
        service: None,
        status: Some(503),
        bytes: Some(0),
        ..served(0)
    }
}
