//! Traffic traces: `timestamp_utc,requests`, one row per fixed interval.
//!
//! The whole file is checked before anything is simulated, so a trace with a hole or a stray row
//! is refused with the line to fix rather than replayed as if the hole were quiet traffic.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use super::rfc3339;

/// The header every trace starts with.
pub const HEADER: &str = "timestamp_utc,requests";
/// The header of a trace of jobs arriving (queue mode's `--jobs-trace`).
pub const JOBS_HEADER: &str = "timestamp_utc,jobs";

/// Requests per fixed interval, from `start`, one count per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The first row's instant.
    pub start: DateTime<Utc>,
    /// The rows' spacing, in nanoseconds (always positive).
    pub step: i64,
    /// Requests received in each row's interval.
    pub counts: Vec<u64>,
}

/// What is wrong with a trace, or with the window asked of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The text is not a trace; `line` is 1-based, the header being line 1.
    #[error("line {line}: {message}")]
    Malformed {
        /// Where to look.
        line: usize,
        /// What is wrong there and what is expected.
        message: String,
    },
    /// No row falls in the window asked for.
    #[error("no rows from {from} to {to} (it covers {first} to {last})")]
    EmptyWindow {
        /// The window's start, or "its start".
        from: String,
        /// The window's end, or "its end".
        to: String,
        /// The trace's first instant.
        first: String,
        /// The trace's end.
        last: String,
    },
}

impl Trace {
    /// Parses and checks a whole trace.
    ///
    /// # Errors
    ///
    /// [`TraceError::Malformed`] at the first line that is wrong: a bad header, a row that is not
    /// `timestamp,requests`, rows out of order or unevenly spaced, fewer than two rows.
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        Trace::parse_counting(text, HEADER, "requests")
    }

    /// Parses and checks a whole trace of jobs arriving: [`JOBS_HEADER`], one row per fixed
    /// interval, the jobs that arrived in it. A trace of requests ([`HEADER`]) is read as jobs too,
    /// so a traffic trace replays as a queue's arrivals.
    ///
    /// # Errors
    ///
    /// As [`Trace::parse`], naming jobs where it names requests.
    pub fn parse_jobs(text: &str) -> Result<Trace, TraceError> {
        let header = text
            .lines()
            .next()
            .map(|l| l.trim().trim_start_matches('\u{feff}'))
            .unwrap_or("");
        if header == HEADER {
            Trace::parse(text)
        } else {
            Trace::parse_counting(text, JOBS_HEADER, "jobs")
        }
    }

    /// Parses a trace whose header is `expected` and whose rows count `what`.
    fn parse_counting(text: &str, expected: &str, what: &str) -> Result<Trace, TraceError> {
        let problem = |line: usize, message: String| TraceError::Malformed { line, message };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
        let header = lines
            .next()
            .map(|(_, l)| l.trim_start_matches('\u{feff}'))
            .unwrap_or("");
        if header != expected {
            let shown: String = header.chars().take(60).collect();
            let more = if shown.len() < header.len() {
                "…"
            } else {
                ""
            };
            return Err(problem(
                1,
                format!("expected the header `{expected}`, found `{shown}{more}`"),
            ));
        }
        let mut start: Option<DateTime<Utc>> = None;
        let mut previous: Option<(usize, DateTime<Utc>)> = None;
        let mut step: Option<TimeDelta> = None;
        let mut counts = Vec::new();
        for (number, line) in lines {
            if line.is_empty() {
                continue;
            }
            let Some((stamp, count)) = line.split_once(',') else {
                return Err(problem(
                    number,
                    format!("expected `timestamp,{what}`, found `{line}`"),
                ));
            };
            let at = parse_timestamp(stamp.trim()).ok_or_else(|| {
                problem(
                    number,
                    format!("`{}` is not a UTC time like `2026-11-27 13:05:00` or `2026-11-27T13:05:00Z`", stamp.trim()),
                )
            })?;
            let count =
                parse_count(count.trim(), what).map_err(|message| problem(number, message))?;
            if let Some((_, before)) = previous {
                let gap = at - before;
                if gap <= TimeDelta::zero() {
                    return Err(problem(
                        number,
                        format!(
                            "{at} is not after the row before ({before}): rows must be in order"
                        ),
                    ));
                }
                match step {
                    None => step = Some(gap),
                    Some(step) if step != gap => {
                        return Err(problem(
                            number,
                            format!(
                                "{at} is {} after the row before, but rows are {} apart: rows must be evenly spaced (a missing row is a hole, not zero traffic)",
                                show_delta(gap),
                                show_delta(step)
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
            start.get_or_insert(at);
            previous = Some((number, at));
            counts.push(count);
        }
        let (Some(start), Some(step)) = (start, step) else {
            let line = previous.map_or(2, |(n, _)| n);
            return Err(problem(
                line,
                "a trace needs at least two rows, to tell their spacing".into(),
            ));
        };
        let step = step.num_nanoseconds().ok_or_else(|| {
            problem(
                3,
                format!("rows {} apart are too far apart", show_delta(step)),
            )
        })?;
        Ok(Trace {
            start,
            step,
            counts,
        })
    }

    /// The rows whose instants fall in `[from, to)`; an open end keeps the trace's own.
    ///
    /// # Errors
    ///
    /// [`TraceError::EmptyWindow`] when no row does.
    pub fn window(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Trace, TraceError> {
        let empty = || TraceError::EmptyWindow {
            from: from.map_or_else(|| "its start".into(), rfc3339),
            to: to.map_or_else(|| "its end".into(), rfc3339),
            first: rfc3339(self.start),
            last: rfc3339(self.end()),
        };
        let index_at = |t: DateTime<Utc>| -> usize {
            let offset = (t - self.start)
                .num_nanoseconds()
                .unwrap_or(if t < self.start { i64::MIN } else { i64::MAX });
            if offset <= 0 {
                0
            } else {
                // The first row at or after `t`.
                let rows = offset / self.step + i64::from(offset % self.step != 0);
                usize::try_from(rows)
                    .unwrap_or(usize::MAX)
                    .min(self.counts.len())
            }
        };
        let first = from.map_or(0, index_at);
        let last = to.map_or(self.counts.len(), index_at);
        if first >= last {
            return Err(empty());
        }
        let skipped = i64::try_from(first)
            .ok()
            .and_then(|rows| rows.checked_mul(self.step))
            .ok_or_else(empty)?;
        Ok(Trace {
            start: self.start + TimeDelta::nanoseconds(skipped),
            step: self.step,
            counts: self.counts[first..last].to_vec(),
        })
    }

    /// The instant just after the last row's interval.
    pub fn end(&self) -> DateTime<Utc> {
        self.start + TimeDelta::nanoseconds(self.len_nanos())
    }

    /// The trace's length in nanoseconds.
    pub fn len_nanos(&self) -> i64 {
        i64::try_from(self.counts.len())
            .unwrap_or(i64::MAX)
            .saturating_mul(self.step)
    }

    /// The row's load, in requests a second.
    pub fn load(&self, row: usize) -> f64 {
        self.counts.get(row).map_or(0.0, |&c| c as f64) * 1e9 / self.step as f64
    }
}

fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Some(naive.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn parse_count(text: &str, what: &str) -> Result<u64, String> {
    if let Ok(count) = text.parse::<u64>() {
        return Ok(count);
    }
    match text.parse::<f64>() {
        Ok(value) if value < 0.0 => Err(format!("{text} {what}: a count cannot be negative")),
        _ => Err(format!(
            "`{text}` is not a count of {what} (a whole number, 0 or more)"
        )),
    }
}

fn show_delta(delta: TimeDelta) -> String {
    delta.to_std().map_or_else(
        |_| format!("{delta}"),
        |d| humantime::format_duration(d).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The line and message of a malformed trace.
    struct Problem {
        line: usize,
        message: String,
    }

    fn problem(text: &str) -> Problem {
        match Trace::parse(text).unwrap_err() {
            TraceError::Malformed { line, message } => Problem { line, message },
            other => panic!("not a parse error: {other}"),
        }
    }

    #[test]
    fn reads_both_timestamp_forms_and_the_spacing() {
        let trace = Trace::parse(
            "timestamp_utc,requests\n2026-11-27 10:00:00,60\n2026-11-27T10:01:00Z,120\n\n",
        )
        .unwrap();
        assert_eq!(
            trace.start,
            Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
        );
        assert_eq!(trace.step, 60_000_000_000);
        assert_eq!(trace.counts, [60, 120]);
        assert_eq!(trace.load(1), 2.0);
        assert_eq!(
            trace.end(),
            Utc.with_ymd_and_hms(2026, 11, 27, 10, 2, 0).unwrap()
        );
    }

    #[test]
    fn refuses_a_bad_header() {
        let p = problem("time,count\n2026-11-27 10:00:00,1\n");
        assert_eq!(p.line, 1);
        assert!(
            p.message.contains("timestamp_utc,requests"),
            "{}",
            p.message
        );
        assert_eq!(problem("").line, 1);
    }

    #[test]
    fn refuses_rows_out_of_order_or_repeated() {
        let text = "timestamp_utc,requests\n2026-11-27 10:01:00,1\n2026-11-27 10:00:00,1\n";
        let p = problem(text);
        assert_eq!(p.line, 3);
        assert!(p.message.contains("in order"), "{}", p.message);
        assert_eq!(
            problem("timestamp_utc,requests\n2026-11-27 10:00:00,1\n2026-11-27 10:00:00,1\n").line,
            3
        );
    }

    #[test]
    fn refuses_uneven_spacing_naming_the_line() {
        let text = "timestamp_utc,requests\n2026-11-27 10:00:00,1\n2026-11-27 10:01:00,1\n2026-11-27 10:03:00,1\n";
        let p = problem(text);
        assert_eq!(p.line, 4);
        assert!(
            p.message.contains("2m after") && p.message.contains("1m apart"),
            "{}",
            p.message
        );
    }

    #[test]
    fn refuses_negative_or_malformed_counts_and_times() {
        let p = problem("timestamp_utc,requests\n2026-11-27 10:00:00,1\n2026-11-27 10:01:00,-3\n");
        assert_eq!(p.line, 3);
        assert!(p.message.contains("negative"), "{}", p.message);
        let p = problem("timestamp_utc,requests\n2026-11-27 10:00:00,lots\n");
        assert_eq!(
            (p.line, p.message.contains("`lots`")),
            (2, true),
            "{}",
            p.message
        );
        let p = problem("timestamp_utc,requests\n27/11/2026 10:00,4\n");
        assert_eq!(
            (p.line, p.message.contains("27/11/2026")),
            (2, true),
            "{}",
            p.message
        );
        assert_eq!(
            problem("timestamp_utc,requests\n2026-11-27 10:00:00\n").line,
            2
        );
    }

    #[test]
    fn needs_two_rows() {
        assert!(
            problem("timestamp_utc,requests\n2026-11-27 10:00:00,1\n")
                .message
                .contains("two rows")
        );
    }

    #[test]
    fn a_window_keeps_the_rows_inside_it() {
        let text = "timestamp_utc,requests\n2026-11-27 10:00:00,1\n2026-11-27 10:01:00,2\n2026-11-27 10:02:00,3\n";
        let trace = Trace::parse(text).unwrap();
        let t = |m: u32, s: u32| Utc.with_ymd_and_hms(2026, 11, 27, 10, m, s).unwrap();
        let w = trace.window(Some(t(0, 30)), Some(t(2, 0))).unwrap();
        assert_eq!((w.start, w.counts.as_slice()), (t(1, 0), &[2][..]));
        assert_eq!(trace.window(None, None).unwrap(), trace);
        assert_eq!(trace.window(Some(t(1, 0)), None).unwrap().counts, [2, 3]);
        assert!(trace.window(Some(t(5, 0)), None).is_err());
        assert!(trace.window(Some(t(1, 10)), Some(t(1, 50))).is_err());
        let empty = trace.window(None, Some(t(0, 0))).unwrap_err().to_string();
        assert_eq!(
            empty,
            "no rows from its start to 2026-11-27T10:00:00Z (it covers 2026-11-27T10:00:00Z to 2026-11-27T10:03:00Z)"
        );
    }

    #[test]
    fn a_jobs_trace_reads_jobs_and_a_requests_trace_reads_as_jobs_too() {
        let jobs = "timestamp_utc,jobs\n2026-11-27 10:00:00,60\n2026-11-27 10:01:00,120\n";
        let requests = jobs.replace(",jobs", ",requests");
        assert_eq!(Trace::parse_jobs(jobs).unwrap().counts, [60, 120]);
        assert_eq!(
            Trace::parse_jobs(jobs).unwrap(),
            Trace::parse_jobs(&requests).unwrap()
        );
        // A web replay wants requests, and says so.
        assert!(Trace::parse(jobs).is_err());
        let Err(TraceError::Malformed { line, message }) =
            Trace::parse_jobs("timestamp_utc,jobs\n2026-11-27 10:00:00,-2\n")
        else {
            panic!("a negative count is refused")
        };
        assert_eq!(line, 2);
        assert!(message.contains("-2 jobs"), "{message}");
        let Err(TraceError::Malformed { message, .. }) = Trace::parse_jobs("time,count\n") else {
            panic!("a bad header is refused")
        };
        assert!(message.contains("`timestamp_utc,jobs`"), "{message}");
    }

    proptest::proptest! {
        /// Any text is a trace or an error naming a line of it; nothing panics.
        #[test]
        fn any_text_parses_or_names_a_line(text in "\\PC{0,200}") {
            for parse in [Trace::parse, Trace::parse_jobs] {
                match parse(&text) {
                    Ok(trace) => proptest::prop_assert!(trace.counts.len() >= 2),
                    Err(TraceError::Malformed { line, .. }) => {
                        proptest::prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1);
                    }
                    Err(other) => proptest::prop_assert!(false, "{other}"),
                }
            }
        }

        /// A jobs trace written from counts reads back as those counts, whatever its spacing.
        #[test]
        fn a_written_jobs_trace_reads_back(
            counts in proptest::collection::vec(0u64..10_000_000, 2..50),
            step_minutes in 1i64..120,
        ) {
            let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
            let mut text = String::from("timestamp_utc,jobs\n");
            for (i, count) in counts.iter().enumerate() {
                let at = start + TimeDelta::minutes(step_minutes * i as i64);
                text.push_str(&format!("{},{count}\n", at.format("%Y-%m-%d %H:%M:%S")));
            }
            let trace = Trace::parse_jobs(&text).unwrap();
            proptest::prop_assert_eq!(trace.start, start);
            proptest::prop_assert_eq!(trace.step, TimeDelta::minutes(step_minutes).num_nanoseconds().unwrap());
            proptest::prop_assert_eq!(trace.counts, counts);
        }
    }
}
