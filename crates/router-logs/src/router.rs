//! Heroku router lines: `at=info method=GET path="/" ... connect=1ms service=18ms status=200 ...`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::syslog;

/// The PRI Heroku gives router lines: facility local3 (19) * 8 + severity info (6).
const ROUTER_PRI: u8 = 158;

/// One router line: the fields a traffic figure needs. Text fields borrow from the drain body.
///
/// Values left empty by the router (`dyno= connect= service=` on an H80 line) are `None`, as are
/// fields that are absent. Fields the figures do not use (`request_id`, `fwd`, `protocol`, ...) are
/// not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterLine<'a> {
    /// `at=info` or `at=error`.
    pub at: At,
    /// `code=H12`: the router's error code, on error lines and on some info lines (H80, H81).
    pub code: Option<ErrorCode>,
    /// `method=GET`.
    pub method: Option<&'a str>,
    /// `path="/..."`, without its quotes (not unescaped: the router does not escape).
    pub path: Option<&'a str>,
    /// `host=myapp.herokuapp.com`.
    pub host: Option<&'a str>,
    /// `dyno=web.1`: the dyno that served the request, if it reached one.
    pub dyno: Option<&'a str>,
    /// `connect=1ms`: time the router took to connect to the dyno.
    pub connect: Option<Duration>,
    /// `service=18ms`: time from the request reaching the dyno to the end of its response.
    pub service: Option<Duration>,
    /// `status=200`: the status the router answered.
    pub status: Option<u16>,
    /// `bytes=13`: the response size.
    pub bytes: Option<u64>,
}

/// The `at=` field of a router line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum At {
    /// `at=info`: the request went through (an H80 maintenance page is also `info`).
    Info,
    /// `at=error`: the router failed the request; `code` says why.
    Error,
}

/// A Heroku error code such as `H12`: one ASCII uppercase letter and two digits.
///
/// ```
/// use autoscaled_router_logs::ErrorCode;
/// let code: ErrorCode = "H12".parse()?;
/// assert_eq!(code, ErrorCode::H12);
/// assert_eq!(code.to_string(), "H12");
/// assert_eq!(code.description(), Some("Request timeout"));
/// # Ok::<(), autoscaled_router_logs::InvalidErrorCode>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode([u8; 3]);

/// A string that is not an [`ErrorCode`] (one ASCII uppercase letter and two digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a Heroku error code (a letter and two digits)")]
pub struct InvalidErrorCode;

impl ErrorCode {
    /// App crashed.
    pub const H10: Self = Self(*b"H10");
    /// Request timeout (30 s without a response).
    pub const H12: Self = Self(*b"H12");
    /// Connection closed without response.
    pub const H13: Self = Self(*b"H13");
    /// No web dynos running.
    pub const H14: Self = Self(*b"H14");
    /// Server request interrupted.
    pub const H18: Self = Self(*b"H18");
    /// Client request interrupted: the client's doing, not the app's.
    pub const H27: Self = Self(*b"H27");
    /// Maintenance mode: the router answered for the app.
    pub const H80: Self = Self(*b"H80");

    /// The code as written, e.g. `"H12"`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only built from an ASCII letter and digits, so this never fails; the fallback keeps the
        // function total without an unwrap.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Heroku's `desc=` for the codes named in this crate, as the router writes it.
    #[must_use]
    pub fn description(&self) -> Option<&'static str> {
        Some(match *self {
            Self::H10 => "App crashed",
            Self::H12 => "Request timeout",
            Self::H13 => "Connection closed without response",
            Self::H14 => "No web dynos running",
            Self::H18 => "Server Request Interrupted",
            Self::H27 => "Client Request Interrupted",
            Self::H80 => "Maintenance mode",
            _ => return None,
        })
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = InvalidErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match *s.as_bytes() {
            [letter, d1, d2]
                if letter.is_ascii_uppercase() && d1.is_ascii_digit() && d2.is_ascii_digit() =>
            {
                Ok(Self([letter, d1, d2]))
            }
            _ => Err(InvalidErrorCode),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a router message could not be read; only counted, so it stays private.
#[derive(Debug)]
pub(crate) struct BadLine;

impl<'a> RouterLine<'a> {
    /// Reads the `key=value` pairs of a router message. Values may be double-quoted (and then hold
    /// spaces); unknown keys and words without `=` are ignored, so a new router field is no error.
    /// `at` must be `info` or `error`; a value that is present but malformed (`service=abc`,
    /// `code=timeout`, an unclosed quote) makes the whole line bad rather than silently `None`.
    pub(crate) fn parse(text: &'a str) -> Result<Self, BadLine> {
        let mut at = None;
        let mut line = RouterLine {
            at: At::Info,
            code: None,
            method: None,
            path: None,
            host: None,
            dyno: None,
            connect: None,
            service: None,
            status: None,
            bytes: None,
        };
        // One pass over the bytes, each looked at once: a drain body is thousands of these lines,
        // and searching each word for its space, then its `=`, then its value's end cost three
        // scans and a `memchr` call apiece. Every index cut at is an ASCII byte (space, `=`, `"`),
        // so every slice is on a character boundary.
        let bytes = text.as_bytes();
        let len = bytes.len();
        let mut i = 0;
        loop {
            while i < len && bytes[i] == b' ' {
                i += 1;
            }
            if i == len {
                break;
            }
            let start = i;
            while i < len && bytes[i] != b'=' && bytes[i] != b' ' {
                i += 1;
            }
            if i == len || bytes[i] == b' ' {
                // A word without `=`.
                continue;
            }
            let key = &text[start..i];
            i += 1;
            let value = if bytes.get(i) == Some(&b'"') {
                let open = i + 1;
                let close = open
                    + bytes[open..]
                        .iter()
                        .position(|&b| b == b'"')
                        .ok_or(BadLine)?;
                i = close + 1;
                if i < len && bytes[i] != b' ' {
                    return Err(BadLine);
                }
                &text[open..close]
            } else {
                let open = i;
                while i < len && bytes[i] != b' ' {
                    i += 1;
                }
                &text[open..i]
            };
            let value = (!value.is_empty()).then_some(value);
            match key {
                "at" => {
                    at = Some(match value {
                        Some("info") => At::Info,
                        Some("error") => At::Error,
                        _ => return Err(BadLine),
                    });
                }
                "code" => line.code = value.map(str::parse).transpose().map_err(|_| BadLine)?,
                "method" => line.method = value,
                "path" => line.path = value,
                "host" => line.host = value,
                "dyno" => line.dyno = value,
                "connect" => line.connect = value.map(millis).transpose()?,
                "service" => line.service = value.map(millis).transpose()?,
                "status" => line.status = value.map(str::parse).transpose().map_err(|_| BadLine)?,
                "bytes" => line.bytes = value.map(str::parse).transpose().map_err(|_| BadLine)?,
                _ => {}
            }
        }
        line.at = at.ok_or(BadLine)?;
        Ok(line)
    }
}

/// `18ms` as a duration. Only digits before `ms`: `u64::from_str` would also take a `+`.
fn millis(value: &str) -> Result<Duration, BadLine> {
    let digits = value.strip_suffix("ms").ok_or(BadLine)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadLine);
    }
    digits
        .parse()
        .map(Duration::from_millis)
        .map_err(|_| BadLine)
}

/// Writes the line as the router does: `at=`, `code=` and `desc=` when there is a code, then
/// `method path host dyno connect service status bytes`, with `path` and `desc` quoted, absent
/// values empty (`dyno=`) and durations in whole milliseconds (sub-millisecond parts are dropped).
/// Values are written as given: a `"` in `path`, or a space in an unquoted field, cannot be read back.
impl fmt::Display for RouterLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.at {
            At::Info => "info",
            At::Error => "error",
        };
        write!(f, "at={at}")?;
        if let Some(code) = self.code {
            write!(
                f,
                " code={code} desc=\"{}\"",
                code.description().unwrap_or("")
            )?;
        }
        let text = |v: Option<&str>| v.unwrap_or("").to_owned();
        let ms = |v: Option<Duration>| {
            v.map(|d| format!("{}ms", d.as_millis()))
                .unwrap_or_default()
        };
        let number = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
        write!(
            f,
            " method={} path=\"{}\" host={} dyno={} connect={} service={} status={} bytes={}",
            text(self.method),
            text(self.path),
            text(self.host),
            text(self.dyno),
            ms(self.connect),
            ms(self.service),
            number(self.status.map(u64::from)),
            number(self.bytes),
        )
    }
}

/// One router line as Heroku sends it through a drain: a complete syslog message (APP-NAME `heroku`,
/// PROCID `router`, the timestamp in microseconds), ready for [`frame`](crate::frame).
///
/// ```
/// use std::time::Duration;
/// use autoscaled_router_logs::{At, RouterLine, router_line};
///
/// let line = RouterLine {
///     at: At::Info,
///     code: None,
///     method: Some("GET"),
///     path: Some("/"),
///     host: Some("myapp.herokuapp.com"),
///     dyno: Some("web.1"),
///     connect: Some(Duration::from_millis(1)),
///     service: Some(Duration::from_millis(18)),
///     status: Some(200),
///     bytes: Some(13),
/// };
/// let at = "2024-03-01T12:00:00.5Z".parse()?;
/// assert_eq!(
///     router_line(at, &line),
///     "<158>1 2024-03-01T12:00:00.500000+00:00 host heroku router - at=info method=GET path=\"/\" \
///      host=myapp.herokuapp.com dyno=web.1 connect=1ms service=18ms status=200 bytes=13"
/// );
/// # Ok::<(), chrono::ParseError>(())
/// ```
#[must_use]
pub fn router_line(timestamp: DateTime<Utc>, line: &RouterLine<'_>) -> String {
    syslog::message(ROUTER_PRI, timestamp, "heroku", "router", &line.to_string())
}

/// One line of the app's own output as Heroku sends it through a drain (APP-NAME `app`, PROCID the
/// dyno, e.g. `web.1`): what a drain carries besides router lines, which [`parse_body`](crate::parse_body)
/// counts as [`other`](crate::Batch::other).
#[must_use]
pub fn app_line(timestamp: DateTime<Utc>, dyno: &str, text: &str) -> String {
    // local7 (23) * 8 + info (6), the PRI of app output.
    syslog::message(190, timestamp, "app", dyno, text)
}
