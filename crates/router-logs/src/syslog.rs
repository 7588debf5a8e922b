//! The RFC 5424 header of one framed message, as Heroku writes it.
//!
//! Heroku omits STRUCTURED-DATA: the message follows MSGID directly. A standard NILVALUE (`-`) or
//! `[...]` elements in its place are skipped too, so a drain fed by a standard sender also reads.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};

/// The header fields the rest of the crate reads, borrowed from the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message<'a> {
    /// When the sender logged the message (for the router: when the request completed).
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) app_name: &'a [u8],
    pub(crate) procid: &'a [u8],
    /// The message text, without a trailing line break.
    pub(crate) text: &'a [u8],
}

impl<'a> Message<'a> {
    /// Reads `<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, or `None` if the header
    /// is not that. The timestamp is required (a `-` is refused): a line of unknown time cannot be
    /// placed in a window.
    pub(crate) fn parse(frame: &'a [u8]) -> Option<Self> {
        let rest = frame.strip_prefix(b"<")?;
        let close = rest.iter().position(|&b| b == b'>')?;
        let pri = &rest[..close];
        // PRI is facility * 8 + severity: at most 23 * 8 + 7 = 191.
        if !(1..=3).contains(&pri.len()) || decimal(pri)? > 191 {
            return None;
        }
        let mut fields = Fields(&rest[close + 1..]);
        let version = fields.next()?;
        if !(1..=2).contains(&version.len()) || decimal(version)? == 0 {
            return None;
        }
        let timestamp = timestamp(fields.next()?)?;
        let _hostname = fields.next()?;
        let app_name = fields.next()?;
        let procid = fields.next()?;
        let _msgid = fields.next()?;
        let text = skip_structured_data(fields.0);
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        Some(Self {
            timestamp,
            app_name,
            procid,
            text,
        })
    }
}

/// An RFC 3339 timestamp in UTC. Heroku's form (`2024-03-01T12:00:00.123456+00:00`) is read by
/// hand, as chrono's general parser was a tenth of a drain body's parse time; anything else (a leap
/// second, more than 9 digits of fraction, a lowercase `t`) is left to chrono, so what is accepted
/// is exactly what chrono accepts.
fn timestamp(text: &[u8]) -> Option<DateTime<Utc>> {
    heroku_timestamp(text).or_else(|| {
        let text = std::str::from_utf8(text).ok()?;
        Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with 1 to 9 fraction digits and an offset under a
/// day, or `None`.
fn heroku_timestamp(t: &[u8]) -> Option<DateTime<Utc>> {
    let number = |from: usize, to: usize| -> Option<u32> {
        t.get(from..to)?.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| t.get(i) != Some(&c)) {
        return None;
    }
    let year = i32::try_from(number(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(5, 7)?, number(8, 10)?)?;
    let mut end = 19;
    let mut nanos = 0;
    if t.get(end) == Some(&b'.') {
        let start = end + 1;
        end = start;
        while t.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let digits = u32::try_from(end - start)
            .ok()
            .filter(|d| (1..=9).contains(d))?;
        nanos = number(start, end)? * 10u32.pow(9 - digits);
    }
    let offset = match t.get(end..)? {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (number(end + 1, end + 3)?, number(end + 4, end + 6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let local = date.and_hms_nano_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?, nanos)?;
    Some(
        local
            .checked_sub_signed(TimeDelta::seconds(offset))?
            .and_utc(),
    )
}

/// Space-separated header fields: each call takes one non-empty field and the single space after it
/// (the last field may end the frame).
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let end = self
            .0
            .iter()
            .position(|&b| b == b' ')
            .unwrap_or(self.0.len());
        let (field, rest) = self.0.split_at(end);
        if field.is_empty() {
            return None;
        }
        self.0 = rest.strip_prefix(b" ").unwrap_or(rest);
        Some(field)
    }
}

/// The value of 1 to 3 ASCII digits, or `None`.
fn decimal(digits: &[u8]) -> Option<u16> {
    digits.iter().try_fold(0u16, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0'))
    })
}

/// The message after an optional STRUCTURED-DATA field: `-` or `[...]` elements, then a space.
///
/// Heroku sends none, and its router messages start with `at=`, so this only ever strips from a
/// standard sender's lines; an app line that happens to start with `- ` or `[` loses that prefix,
/// which is harmless as app lines are only counted.
fn skip_structured_data(text: &[u8]) -> &[u8] {
    if text == b"-" {
        return b"";
    }
    if let Some(rest) = text.strip_prefix(b"- ") {
        return rest;
    }
    let mut rest = text;
    while rest.first() == Some(&b'[') {
        match element_end(rest) {
            Some(end) => rest = &rest[end..],
            // An unclosed `[`: not structured data after all, so it is the message.
            None => return text,
        }
    }
    rest.strip_prefix(b" ").unwrap_or(rest)
}

/// The index just past the `]` closing the SD element that `element` starts with. Inside a quoted
/// PARAM-VALUE, `\"`, `\\` and `\]` are escapes and `]` does not close.
fn element_end(element: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in element.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b']' if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// One syslog message as Heroku writes it: `<PRI>1 TIMESTAMP host APP PROCID - MSG`, the timestamp
/// in microseconds and `+00:00`, no structured data, no trailing newline.
pub(crate) fn message(
    pri: u8,
    timestamp: DateTime<Utc>,
    app_name: &str,
    procid: &str,
    text: &str,
) -> String {
    format!(
        "<{pri}>1 {} host {app_name} {procid} - {text}",
        timestamp.to_rfc3339_opts(SecondsFormat::Micros, false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(frame: &str) -> Option<Message<'_>> {
        Message::parse(frame.as_bytes())
    }

    #[test]
    fn timestamps_read_by_hand_are_what_chrono_reads() {
        let chrono = |t: &str| {
            DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        for t in [
            "2024-03-01T12:00:00.123456+00:00",
            "2024-03-01T12:00:00Z",
            "2024-02-29T23:59:59.5-05:30",
            "1999-12-31T00:00:00.123456789+23:59",
            "2024-03-01T12:00:00.1234567891+00:00",
            "2024-03-01t12:00:00Z",
            "2016-12-31T23:59:60Z",
            "2023-02-29T12:00:00Z",
            "2024-13-01T12:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T12:00:00.+00:00",
            "2024-03-01T12:00:00+24:00",
            "2024-03-01T12:00:00+0000",
            "2024-03-01 12:00:00Z",
            "+024-03-01T12:00:00Z",
            "2024-03-01T12:00:00",
            "",
        ] {
            assert_eq!(timestamp(t.as_bytes()), chrono(t), "{t}");
        }
        assert!(heroku_timestamp(b"2024-03-01T12:00:00.123456+00:00").is_some());
    }

    #[test]
    fn heroku_header_without_structured_data() {
        let m = parse(
            "<40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up",
        )
        .expect("parses");
        assert_eq!(m.timestamp.to_rfc3339(), "2012-11-30T06:45:29+00:00");
        assert_eq!(m.app_name, b"app");
        assert_eq!(m.procid, b"web.3");
        assert_eq!(m.text, b"State changed from starting to up");
    }

    #[test]
    fn fraction_and_offset_are_read_into_utc() {
        let m = parse("<158>1 2024-03-01T12:00:00.123456-05:00 host heroku router - at=info\n")
            .expect("parses");
        assert_eq!(
            m.timestamp.to_rfc3339_opts(SecondsFormat::Micros, true),
            "2024-03-01T17:00:00.123456Z"
        );
        assert_eq!(
            m.text, b"at=info",
            "the trailing newline is not part of the text"
        );
    }

    #[test]
    fn standard_structured_data_is_skipped() {
        let nil = parse("<158>1 2024-03-01T12:00:00Z host heroku router - - at=info").expect("nil");
        assert_eq!(nil.text, b"at=info");
        let sd = parse(r#"<158>1 2024-03-01T12:00:00Z host heroku router - [a@1 x="q\]\"" y="2"][b@2] at=info"#)
            .expect("elements");
        assert_eq!(sd.text, b"at=info");
        let only_nil =
            parse("<158>1 2024-03-01T12:00:00Z host heroku router - -").expect("nil only");
        assert_eq!(only_nil.text, b"");
        let unclosed =
            parse("<158>1 2024-03-01T12:00:00Z host heroku router - [x at=info").expect("text");
        assert_eq!(unclosed.text, b"[x at=info");
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            "",
            "hello",
            "<>1 2024-03-01T12:00:00Z host heroku router - at=info",
            "<192>1 2024-03-01T12:00:00Z host heroku router - at=info",
            "<1x>1 2024-03-01T12:00:00Z host heroku router - at=info",
            "<158>0 2024-03-01T12:00:00Z host heroku router - at=info",
            "<158> 2024-03-01T12:00:00Z host heroku router - at=info",
            "<158>1 - host heroku router - at=info",
            "<158>1 2024-03-01 12:00:00Z host heroku router - at=info",
            "<158>1 2024-03-01T12:00:00Z host heroku router",
            "<158>1 2024-03-01T12:00:00Z host  heroku router - at=info",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn message_round_trips() {
        let at = DateTime::parse_from_rfc3339("2024-03-01T12:00:00.000042Z")
            .expect("time")
            .with_timezone(&Utc);
        let text = message(158, at, "heroku", "router", "at=info method=GET");
        assert_eq!(
            text,
            "<158>1 2024-03-01T12:00:00.000042+00:00 host heroku router - at=info method=GET"
        );
        let m = parse(&text).expect("parses");
        assert_eq!(
            (m.timestamp, m.app_name, m.procid),
            (at, &b"heroku"[..], &b"router"[..])
        );
        assert_eq!(m.text, b"at=info method=GET");
    }
}
