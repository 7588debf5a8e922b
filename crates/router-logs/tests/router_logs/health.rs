//! The health figures: the requests of the last seconds by the time their lines were logged, and
//! those that failed in a way that means the app is down.

use std::time::Duration;

use autoscaled_router_logs::{
    Aggregator, At, Batch, ErrorCode, HealthFigures, RouterEntry, RouterLine, frame, parse_body,
    router_line,
};
use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::support::{at, failed, served};

const NOW: &str = "2024-03-01T12:00:00.400Z";
const TEN: Duration = Duration::from_secs(10);

fn batch(lines: Vec<(DateTime<Utc>, RouterLine<'static>)>) -> Batch<'static> {
    Batch {
        lines: lines
            .into_iter()
            .map(|(timestamp, line)| RouterEntry { timestamp, line })
            .collect(),
        other: 0,
        bad: 0,
    }
}

fn status(code: u16) -> RouterLine<'static> {
    RouterLine {
        status: Some(code),
        service: Some(Duration::from_millis(3)),
        ..served(0)
    }
}

/// H10 as Heroku writes it: `dyno=`, `connect=` and `service=` empty.
fn crashed() -> RouterLine<'static> {
    failed(ErrorCode::H10)
}

fn code(text: &str) -> RouterLine<'static> {
    RouterLine {
        code: Some(text.parse().expect("a code")),
        ..failed(ErrorCode::H10)
    }
}

#[test]
fn the_codes_that_mean_down_count_and_the_others_do_not() {
    let now = at(NOW);
    let mut app = Aggregator::for_app("myapp");
    let mut lines = Vec::new();
    for line in [
        status(500),
        status(502),
        status(503),
        status(504),
        status(599),
        crashed(),
        failed(ErrorCode::H12),
        failed(ErrorCode::H13),
        failed(ErrorCode::H18),
        code("H19"),
        code("H20"),
    ] {
        lines.push((now, line));
    }
    // Requests, but not failures that mean down.
    for line in [
        failed(ErrorCode::H27),
        failed(ErrorCode::H14),
        code("H11"),
        status(404),
        status(429),
        served(20),
    ] {
        lines.push((now, line));
    }
    // Not requests to the app at all: the router answered for an app in maintenance.
    lines.push((
        now,
        RouterLine {
            at: At::Info,
            ..failed(ErrorCode::H80)
        },
    ));
    app.ingest(&batch(lines), now);
    let health = app.health(now, TEN);
    assert_eq!(health.window, TEN);
    assert_eq!(health.requests, 17);
    assert_eq!(health.failing_total(), 11);
    let labels: Vec<&str> = health.failing.iter().map(|&(label, _)| label).collect();
    assert_eq!(
        labels,
        [
            "503", "500", "502", "504", "5xx", "H10", "H12", "H13", "H18", "H19", "H20"
        ]
    );
}

#[test]
fn the_most_frequent_failure_comes_first_and_old_lines_leave_the_window() {
    let t0 = at(NOW);
    let mut app = Aggregator::new();
    let mut lines = Vec::new();
    for i in 0..20 {
        let when = t0 - TimeDelta::milliseconds(i * 400);
        lines.push((when, failed(ErrorCode::H13)));
    }
    lines.push((t0, status(503)));
    lines.push((t0, served(10)));
    // Logged 12 s ago: outside a 10 s window.
    lines.push((t0 - TimeDelta::seconds(12), status(503)));
    app.ingest(&batch(lines), t0);
    let health = app.health(t0, TEN);
    assert_eq!(health.requests, 22);
    assert_eq!(health.failing, vec![("H13", 20), ("503", 1)]);
    assert_eq!(app.health(t0, Duration::from_secs(30)).requests, 23);
    let later = app.health(t0 + TimeDelta::seconds(10), TEN);
    assert_eq!(
        later,
        HealthFigures {
            window: TEN,
            requests: 0,
            failing: vec![],
        },
        "10 s later every line is older than the window"
    );
    // Asked for more than the ring holds: its 60 s.
    assert_eq!(
        app.health(t0, Duration::from_secs(3600)).window,
        Duration::from_secs(60)
    );
}

#[test]
fn an_h12_counts_when_it_was_logged_not_when_its_request_arrived() {
    let now = at(NOW);
    let mut app = Aggregator::new();
    let timeout = RouterLine {
        service: Some(Duration::from_secs(30)),
        ..failed(ErrorCode::H12)
    };
    app.ingest(&batch(vec![(now, timeout)]), now);
    assert_eq!(app.health(now, TEN).failing, vec![("H12", 1)]);
    assert_eq!(app.figures(now).panic.left_out, 0, "it arrived 30 s ago");
    assert_eq!(app.figures(now).stable.left_out, 1);
}

#[test]
fn lines_for_another_apps_host_are_not_counted() {
    let now = at(NOW);
    let mut app = Aggregator::for_app("myapp");
    let elsewhere = RouterLine {
        host: Some("other.herokuapp.com"),
        ..status(503)
    };
    let suffixed = RouterLine {
        host: Some("myapp-0123456789ab.herokuapp.com"),
        ..status(503)
    };
    let custom = RouterLine {
        host: Some("www.example.com"),
        ..status(503)
    };
    app.ingest(
        &batch(vec![(now, elsewhere), (now, suffixed), (now, custom)]),
        now,
    );
    let health = app.health(now, TEN);
    assert_eq!((health.requests, health.failing_total()), (2, 2));
}

#[test]
fn lines_from_far_ahead_are_not_counted() {
    let now = at(NOW);
    let mut app = Aggregator::new();
    app.ingest(
        &batch(vec![
            (now + TimeDelta::seconds(5), status(503)),
            (now + TimeDelta::seconds(60), status(503)),
        ]),
        now,
    );
    assert_eq!(app.health(now, TEN).requests, 1, "within the clock skew");
}

/// A generated line: when it was logged, its code, its status, its `at=`.
type Generated = (DateTime<Utc>, Option<ErrorCode>, Option<u16>, At);

fn any_line() -> impl Strategy<Value = (i64, Option<String>, Option<u16>, bool)> {
    (
        -20_000i64..20_000,
        proptest::option::of("[A-Z][0-9]{2}"),
        any::<Option<u16>>(),
        any::<bool>(),
    )
}

proptest! {
    /// Whatever the lines and the window: never more failing than requests, never more requests
    /// than lines logged in the window, and a written body counts as the lines it holds.
    #[test]
    fn health_counts_are_bounded_by_the_lines_in_the_window(
        lines in proptest::collection::vec(any_line(), 0..200),
        window in 0u64..120,
    ) {
        let now = at(NOW);
        let owned: Vec<Generated> = lines
            .iter()
            .map(|(ms, code, status, error)| (
                now + TimeDelta::milliseconds(*ms),
                code.as_deref().and_then(|c| c.parse().ok()),
                *status,
                if *error { At::Error } else { At::Info },
            ))
            .collect();
        let messages: Vec<String> = owned
            .iter()
            .map(|&(t, code, status, at)| router_line(t, &RouterLine { at, code, status, ..served(5) }))
            .collect();
        let body = frame(&messages);
        let parsed = parse_body(&body).expect("frames");
        let mut app = Aggregator::for_app("myapp");
        app.ingest(&parsed, now);
        let health = app.health(now, Duration::from_secs(window));
        let span = health.window.as_secs() as i64;
        prop_assert!((1..=60).contains(&span));
        let in_window = owned
            .iter()
            .filter(|(t, ..)| {
                let logged = (*t).min(now).timestamp();
                *t <= now + TimeDelta::seconds(10) && logged > now.timestamp() - span
            })
            .count() as u64;
        prop_assert!(health.failing_total() <= health.requests);
        prop_assert!(health.requests <= in_window);
        prop_assert!(health.failing.windows(2).all(|w| w[0].1 >= w[1].1));
    }
}
