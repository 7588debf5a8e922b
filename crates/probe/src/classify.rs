//! The pure part of probing: from a status and a latency to a [`Class`].

use std::fmt;
use std::time::Duration;

/// The latency limits of one probe; see [`Thresholds::classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A probe not complete (body included) after this long is down.
    pub timeout: Duration,
    /// A probe answered in this long or longer is slow.
    pub slow: Duration,
    /// A probe answered in less than this is fast.
    pub fast: Duration,
}

/// What one probe says about the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// No usable answer: no connection, a timeout, or a status outside 200–399.
    Down,
    /// Answered, in `slow` or longer.
    Slow,
    /// Answered, in at least `fast` but less than `slow`.
    Normal,
    /// Answered in less than `fast`.
    Fast,
}

impl Thresholds {
    /// Classifies an answered request from its status and its latency to the end of the body.
    ///
    /// A status outside 200–399 or a latency of `timeout` or more is [`Class::Down`]; otherwise
    /// `latency >= slow` is [`Class::Slow`], `latency < fast` is [`Class::Fast`], and anything between is
    /// [`Class::Normal`]. Pure, so modelled latencies (as in `autoscaled simulate`) go through the same rule
    /// as measured ones.
    #[must_use]
    pub fn classify(&self, status: u16, latency: Duration) -> Class {
        if !(200..=399).contains(&status) || latency >= self.timeout {
            Class::Down
        } else if latency >= self.slow {
            Class::Slow
        } else if latency < self.fast {
            Class::Fast
        } else {
            Class::Normal
        }
    }
}

/// Why a probe is down, worded for an alert by its `Display`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DownReason {
    /// Nothing listens on the port: "connection refused".
    Refused,
    /// The host name did not resolve: "DNS lookup failed".
    Dns,
    /// The TLS handshake failed, e.g. an invalid certificate: "TLS handshake failed".
    Tls,
    /// Connecting failed some other way (unreachable network, …): "could not connect".
    Connect,
    /// The whole response did not arrive within the timeout: "timed out after 10 s".
    TimedOut(Duration),
    /// The peer reset the connection: "connection reset".
    Reset,
    /// The peer closed the connection before the whole response: "connection closed early".
    Closed,
    /// The server answered something that is not HTTP: "invalid HTTP response".
    Protocol,
    /// The server answered with a status outside 200–399: "HTTP 503".
    Status(u16),
    /// Any other failure of the request: "request failed".
    Failed,
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused => f.write_str("connection refused"),
            Self::Dns => f.write_str("DNS lookup failed"),
            Self::Tls => f.write_str("TLS handshake failed"),
            Self::Connect => f.write_str("could not connect"),
            Self::TimedOut(after) => write!(f, "timed out after {}", HumanDuration(*after)),
            Self::Reset => f.write_str("connection reset"),
            Self::Closed => f.write_str("connection closed early"),
            Self::Protocol => f.write_str("invalid HTTP response"),
            Self::Status(status) => write!(f, "HTTP {status}"),
            Self::Failed => f.write_str("request failed"),
        }
    }
}

/// Formats a duration the way an alert reads it: "0.4 ms", "830 ms", "10 s", "5.2 s".
#[derive(Debug, Clone, Copy)]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis < 1 {
            // Loopback and local answers: "0 ms" would read as no time at all.
            write!(f, "0.{} ms", (self.0.as_micros() + 50).min(999) / 100)
        } else if millis < 1000 {
            write!(f, "{millis} ms")
        } else {
            let tenths = (millis + 50) / 100;
            let (whole, frac) = (tenths / 10, tenths % 10);
            if frac == 0 {
                write!(f, "{whole} s")
            } else {
                write!(f, "{whole}.{frac} s")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        timeout: Duration::from_secs(10),
        slow: Duration::from_secs(5),
        fast: Duration::from_secs(1),
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn boundaries_fall_on_the_documented_side() {
        assert_eq!(T.classify(200, ms(0)), Class::Fast);
        assert_eq!(T.classify(200, ms(999)), Class::Fast);
        assert_eq!(
            T.classify(200, ms(1000)),
            Class::Normal,
            "exactly fast is normal"
        );
        assert_eq!(T.classify(200, ms(4999)), Class::Normal);
        assert_eq!(
            T.classify(200, ms(5000)),
            Class::Slow,
            "exactly slow is slow"
        );
        assert_eq!(
            T.classify(200, Duration::from_nanos(9_999_999_999)),
            Class::Slow
        );
        assert_eq!(
            T.classify(200, ms(10_000)),
            Class::Down,
            "exactly timeout is down"
        );
        assert_eq!(T.classify(200, ms(60_000)), Class::Down);
    }

    #[test]
    fn statuses_outside_200_to_399_are_down_however_fast() {
        for status in [0, 100, 101, 199, 400, 404, 429, 500, 503, 599, 999] {
            assert_eq!(T.classify(status, ms(1)), Class::Down, "{status}");
        }
        for status in [200, 204, 299, 301, 304, 399] {
            assert_eq!(T.classify(status, ms(1)), Class::Fast, "{status}");
        }
    }

    #[test]
    fn reasons_read_as_written_in_alerts() {
        assert_eq!(
            DownReason::TimedOut(ms(10_000)).to_string(),
            "timed out after 10 s"
        );
        assert_eq!(
            DownReason::TimedOut(ms(1500)).to_string(),
            "timed out after 1.5 s"
        );
        assert_eq!(
            DownReason::TimedOut(ms(250)).to_string(),
            "timed out after 250 ms"
        );
        assert_eq!(DownReason::Status(503).to_string(), "HTTP 503");
        assert_eq!(DownReason::Refused.to_string(), "connection refused");
        assert_eq!(DownReason::Dns.to_string(), "DNS lookup failed");
        assert_eq!(DownReason::Tls.to_string(), "TLS handshake failed");
        assert_eq!(DownReason::Reset.to_string(), "connection reset");
    }

    #[test]
    fn durations_read_in_tenths_of_a_second_or_whole_or_tenth_milliseconds() {
        assert_eq!(HumanDuration(ms(830)).to_string(), "830 ms");
        assert_eq!(HumanDuration(ms(999)).to_string(), "999 ms");
        assert_eq!(HumanDuration(ms(1000)).to_string(), "1 s");
        assert_eq!(HumanDuration(ms(5240)).to_string(), "5.2 s");
        assert_eq!(HumanDuration(ms(5960)).to_string(), "6 s");
        let us = Duration::from_micros;
        assert_eq!(HumanDuration(us(420)).to_string(), "0.4 ms");
        assert_eq!(HumanDuration(us(20)).to_string(), "0.0 ms");
        assert_eq!(HumanDuration(us(999)).to_string(), "0.9 ms");
    }
}
