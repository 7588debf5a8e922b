//! Properties: no byte string panics; generated bodies parse exactly; figures match a naive count.

use std::time::Duration;

use autoscaled_router_logs::{
    Aggregator, At, ErrorCode, RouterEntry, RouterLine, app_line, frame, frames, parse_body,
    router_line,
};
use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

/// A router line owning its text, so a strategy can generate it.
#[derive(Debug, Clone)]
struct Owned {
    at: At,
    code: Option<ErrorCode>,
    method: Option<String>,
    path: Option<String>,
    host: Option<String>,
    dyno: Option<String>,
    connect: Option<u64>,
    service: Option<u64>,
    status: Option<u16>,
    bytes: Option<u64>,
}

impl Owned {
    fn line(&self) -> RouterLine<'_> {
        RouterLine {
            at: self.at,
            code: self.code,
            method: self.method.as_deref(),
            path: self.path.as_deref(),
            host: self.host.as_deref(),
            dyno: self.dyno.as_deref(),
            connect: self.connect.map(Duration::from_millis),
            service: self.service.map(Duration::from_millis),
            status: self.status,
            bytes: self.bytes,
        }
    }
}

fn owned(max_service_ms: u64) -> impl Strategy<Value = Owned> {
    (
        (
            prop_oneof![Just(At::Info), Just(At::Error)],
            proptest::option::of(
                "[A-Z][0-9]{2}".prop_map(|c| c.parse::<ErrorCode>().expect("code")),
            ),
            proptest::option::of("[A-Z]{3,7}"),
            // Anything printable but a double quote, spaces included: the router quotes paths.
            proptest::option::of("/[ !#-~é]{0,30}"),
            proptest::option::of("[a-z0-9.-]{1,20}"),
        ),
        (
            proptest::option::of("[a-z]{1,6}\\.[0-9]{1,2}"),
            proptest::option::of(0..100u64),
            proptest::option::of(0..=max_service_ms),
            any::<Option<u16>>(),
            any::<Option<u64>>(),
        ),
    )
        .prop_map(
            |((at, code, method, path, host), (dyno, connect, service, status, bytes))| Owned {
                at,
                code,
                method,
                path,
                host,
                dyno,
                connect,
                service,
                status,
                bytes,
            },
        )
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-03-01T12:00:00.400Z")
        .expect("time")
        .with_timezone(&Utc)
}

/// Lines logged in the 50 s before `now()`, to the microsecond, with up to 5 s of service.
fn recent_lines() -> impl Strategy<Value = Vec<(DateTime<Utc>, Owned)>> {
    proptest::collection::vec(
        (0..50_000_000i64, owned(5_000))
            .prop_map(|(micros_ago, line)| (now() - TimeDelta::microseconds(micros_ago), line)),
        0..80,
    )
}

/// A syslog-looking message, to reach past the header parser more often than random bytes do.
fn syslogish() -> impl Strategy<Value = String> {
    let header = "(<1[0-9]{0,3}>[0-9] (2024-03-01T12:00:0[0-9](\\.[0-9]{1,10})?(Z|[+-][0-9]{2}:[0-9]{2})|-) \
                  host (heroku|app) (router|web\\.1) (- )?([-\\[][^\\]]{0,5}\\]? )?)?";
    let fields =
        "(at=(info|error|x)? )?([a-z]{1,7}=(\"[ -~]{0,10}\"?|[0-9a-zH]{0,6}(ms)?) ?){0,10}\n?";
    (header, fields).prop_map(|(h, f)| h + &f)
}

proptest! {
    #[test]
    fn no_byte_string_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let framed: Vec<_> = frames(&body).collect();
        let parsed = parse_body(&body);
        prop_assert_eq!(parsed.is_err(), framed.iter().any(Result::is_err));
        if let Ok(batch) = parsed {
            let mut app = Aggregator::new();
            app.ingest(&batch, now());
            let _ = app.figures(now());
        }
    }

    #[test]
    fn no_framed_message_panics(messages in proptest::collection::vec(syslogish(), 0..20),
                                raw in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..5),
                                ahead in -100_000i64..100_000) {
        let mut all: Vec<Vec<u8>> = messages.into_iter().map(String::into_bytes).collect();
        all.extend(raw);
        let body = frame(&all);
        let batch = parse_body(&body).expect("framed by frame()");
        prop_assert_eq!(batch.lines.len() + batch.other + batch.bad, all.len());
        let mut app = Aggregator::new();
        let at = now() + TimeDelta::seconds(ahead);
        let ingested = app.ingest(&batch, at);
        prop_assert_eq!(ingested.accepted + ingested.too_old + ingested.too_new, batch.lines.len());
        let figures = app.figures(at);
        prop_assert!(figures.stable.requests <= ingested.accepted as u64);
    }

    #[test]
    fn generated_bodies_parse_exactly(lines in recent_lines(), app_lines in 0..5usize) {
        let mut messages: Vec<String> = lines.iter().map(|(t, l)| router_line(*t, &l.line())).collect();
        messages.extend((0..app_lines).map(|i| app_line(now(), "web.1", &format!("line {i}\n"))));
        let body = frame(&messages);
        let batch = parse_body(&body).expect("frames");
        prop_assert_eq!((batch.other, batch.bad), (app_lines, 0));
        let expected: Vec<RouterEntry<'_>> = lines
            .iter()
            .map(|(timestamp, l)| RouterEntry { timestamp: *timestamp, line: l.line() })
            .collect();
        prop_assert_eq!(batch.lines, expected);
    }

    #[test]
    fn encoding_then_parsing_gives_the_same_figures(lines in recent_lines(), later in 0..70i64) {
        let direct = autoscaled_router_logs::Batch {
            lines: lines.iter().map(|(timestamp, l)| RouterEntry { timestamp: *timestamp, line: l.line() }).collect(),
            other: 0,
            bad: 0,
        };
        let messages: Vec<String> = lines.iter().map(|(t, l)| router_line(*t, &l.line())).collect();
        let body = frame(&messages);
        let parsed = parse_body(&body).expect("frames");
        let (mut a, mut b) = (Aggregator::new(), Aggregator::new());
        prop_assert_eq!(a.ingest(&direct, now()), b.ingest(&parsed, now()));
        let at = now() + TimeDelta::seconds(later);
        prop_assert_eq!(a.figures(at), b.figures(at));
    }

    #[test]
    fn figures_match_a_naive_count(lines in recent_lines()) {
        let body = frame(&lines.iter().map(|(t, l)| router_line(*t, &l.line())).collect::<Vec<_>>());
        let batch = parse_body(&body).expect("frames");
        let mut app = Aggregator::new();
        let ingested = app.ingest(&batch, now());
        // Logged at most 50 s ago after at most 5.1 s of work: all arrived within the minute.
        prop_assert_eq!(ingested.accepted, lines.len());
        let f = app.figures(now());
        prop_assert_eq!(f.requests_last_minute, lines.len() as u64);
        let newest = lines.iter().map(|(t, _)| *t).max();

        // Failed requests (router errors but H27, H80 and H14; the app's 5xx) are not load.
        let failed = |l: &Owned| match l.code {
            Some(code) => ![ErrorCode::H27, ErrorCode::H80, ErrorCode::H14].contains(&code),
            None => l.at == At::Error || l.status.is_some_and(|s| (500..=599).contains(&s)),
        };
        let lines: Vec<_> = lines.into_iter().filter(|(_, l)| !failed(l)).collect();
        let mut service: Vec<u64> = lines.iter().filter_map(|(_, l)| l.service).collect();
        service.sort_unstable();
        let sum: u64 = service.iter().sum();
        prop_assert_eq!(f.stable.requests, lines.len() as u64);
        prop_assert_eq!(f.stable.requests + f.stable.left_out, ingested.accepted as u64);
        prop_assert!((f.stable.in_flight - sum as f64 / 1000.0 / 60.0).abs() < 1e-9);
        let names: std::collections::HashSet<_> =
            lines.iter().filter_map(|(_, l)| l.dyno.as_deref()).collect();
        prop_assert!(f.stable.dynos as usize <= names.len());
        prop_assert_eq!(f.stable.dynos == 0, names.is_empty());
        prop_assert!(f.panic.dynos <= f.stable.dynos);
        match service.len() {
            0 => prop_assert_eq!((f.stable.mean_service, f.stable.p95_service), (None, None)),
            n => {
                let mean = f.stable.mean_service.expect("mean").as_secs_f64();
                prop_assert!((mean - sum as f64 / n as f64 / 1000.0).abs() < 1e-6);
                let naive = service[(n * 95).div_ceil(100) - 1] as f64 / 1000.0;
                let p95 = f.stable.p95_service.expect("p95").as_secs_f64();
                prop_assert!((p95 - naive).abs() <= naive / 8.0 + 1e-9, "p95 {} vs {}", p95, naive);
            }
        }
        let in_panic = lines.iter().filter(|(t, l)| {
            let arrival = *t - TimeDelta::milliseconds((l.connect.unwrap_or(0) + l.service.unwrap_or(0)) as i64);
            arrival.timestamp() > now().timestamp() - 6
        }).count();
        prop_assert_eq!(f.panic.requests, in_panic as u64);
        prop_assert_eq!(f.newest, newest);
    }
}
