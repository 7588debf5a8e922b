//! Helpers shared by the test modules.

use autoscaled_schedule::{Change, Schedule};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// An instant written as RFC 3339.
pub(crate) fn t(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn change(rfc3339: &str, quantity: u32) -> Change {
    Change {
        at: t(rfc3339),
        quantity,
    }
}

pub(crate) fn schedule(rules: &[(&str, u32)], timezone: Tz, fallback: u32) -> Schedule {
    Schedule::parse(rules.iter().copied(), timezone, fallback).unwrap()
}

/// The schedule of the interface's example: 3 from 07:00, 2 from 22:00, 1 from 03:00.
pub(crate) fn seed(timezone: Tz) -> Schedule {
    schedule(
        &[("0 7 * * *", 3), ("0 22 * * *", 2), ("0 3 * * *", 1)],
        timezone,
        1,
    )
}
