//! Counts and times between Rust's types and what the databases store (signed 64-bit integers;
//! microseconds since the epoch in SQLite).

use chrono::{DateTime, Utc};

use crate::Error;

/// A stored count as a `u32`, or [`Error::Corrupt`] naming the column.
pub(crate) fn count(value: i64, column: &str) -> Result<u32, Error> {
    u32::try_from(value).map_err(|_| Error::Corrupt(format!("{column} holds {value}, not a count")))
}

/// An optional stored count as a `u32`.
pub(crate) fn count_opt(value: Option<i64>, column: &str) -> Result<Option<u32>, Error> {
    value.map(|value| count(value, column)).transpose()
}

/// A stored `u64` (a request count, a generation), or [`Error::Corrupt`] naming the column.
pub(crate) fn big_count(value: i64, column: &str) -> Result<u64, Error> {
    u64::try_from(value).map_err(|_| Error::Corrupt(format!("{column} holds {value}, not a count")))
}

/// A `u64` to store: one beyond `i64::MAX` (never seen in practice) is kept as `i64::MAX`.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A time as SQLite keeps it.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A time SQLite kept, or [`Error::Corrupt`] naming the column.
pub(crate) fn from_micros(value: i64, column: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::from_timestamp_micros(value)
        .ok_or_else(|| Error::Corrupt(format!("{column} holds {value}, not a time")))
}

/// A lease's time to live in microseconds, saturated (a `Duration` can exceed `i64`).
pub(crate) fn ttl_micros(ttl: std::time::Duration) -> i64 {
    i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX)
}
