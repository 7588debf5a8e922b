//! Why a probe is down, in the words of an alert. The rule that calls it down (or slow, normal,
//! fast) is [`Thresholds::classify`](crate::Thresholds::classify), from `autoscaled-policy`.

use std::fmt;
use std::time::Duration;

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

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
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
