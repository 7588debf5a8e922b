//! Traffic figures from router lines: windows, arrival times, errors, late and early lines.

use std::time::Duration;

use autoscaled_router_logs::{
    Aggregator, At, Batch, Error, ErrorCode, ErrorCounts, Ingested, RouterEntry, RouterLine,
};
use chrono::{DateTime, TimeDelta, Utc};

use super::support::{at, failed, served};

const NOW: &str = "2024-03-01T12:00:00.400Z";

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

fn ms(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

#[test]
fn steady_traffic_gives_rate_service_and_in_flight() {
    let now = at(NOW);
    // One request a second for the last 60 s, 99 ms of service after 1 ms connect.
    let lines = (0..60).map(|i| (now - ms(1000 * i), served(99))).collect();
    let mut app = Aggregator::new();
    let ingested = app.ingest(&batch(lines), now);
    assert_eq!(
        ingested,
        Ingested {
            accepted: 60,
            too_old: 0,
            too_new: 0
        }
    );

    let f = app.figures(now);
    assert_eq!(f.stable.window, Duration::from_secs(60));
    assert_eq!(f.stable.requests, 60);
    assert!((f.stable.arrivals_per_sec - 1.0).abs() < 1e-9);
    assert_eq!(f.stable.mean_service, Some(Duration::from_millis(99)));
    let p95 = f.stable.p95_service.expect("a p95").as_secs_f64();
    assert!((p95 - 0.099).abs() <= 0.099 / 8.0, "{p95}");
    assert!((f.stable.in_flight - 0.099).abs() < 1e-9);
    assert_eq!(f.panic.window, Duration::from_secs(6));
    assert_eq!(f.panic.requests, 6);
    assert!((f.panic.arrivals_per_sec - 1.0).abs() < 1e-9);
    assert_eq!(f.requests_last_minute, 60);
    assert_eq!(f.errors_last_minute, ErrorCounts::default());
    assert_eq!(f.server_errors_last_minute, 0);
    assert!(!f.maintenance);
    assert_eq!(f.newest, Some(now));
}

#[test]
fn a_burst_shows_in_the_panic_window_first() {
    let now = at(NOW);
    let mut lines: Vec<_> = (0..60).map(|i| (now - ms(1000 * i), served(20))).collect();
    lines.extend((0..600).map(|i| (now - ms(i % 3000), served(20))));
    let mut app = Aggregator::new();
    app.ingest(&batch(lines), now);
    let f = app.figures(now);
    assert_eq!((f.stable.requests, f.panic.requests), (660, 606));
    assert!((f.panic.arrivals_per_sec - 101.0).abs() < 1e-9);
    assert!((f.stable.arrivals_per_sec - 11.0).abs() < 1e-9);
}

#[test]
fn each_window_counts_the_dynos_its_requests_reached() {
    let now = at(NOW);
    let on = |dyno: &'static str| RouterLine {
        dyno: Some(dyno),
        ..served(20)
    };
    // web.1 and web.2 answered a minute ago; only web.3, just booted, in the last seconds, and
    // twice. A request that reached no dyno (H14) counts for none.
    let lines = vec![
        (now - ms(50_000), on("web.1")),
        (now - ms(40_000), on("web.2")),
        (now - ms(2_000), on("web.3")),
        (now - ms(1_000), on("web.3")),
        (now - ms(1_000), failed(ErrorCode::H14)),
    ];
    let mut app = Aggregator::new();
    app.ingest(&batch(lines), now);
    let f = app.figures(now);
    assert_eq!((f.stable.dynos, f.panic.dynos), (3, 1));
    assert_eq!(app.figures(now + TimeDelta::seconds(120)).stable.dynos, 0);
}

#[test]
fn a_request_counts_when_it_arrived_not_when_it_was_logged() {
    let now = at(NOW);
    let mut app = Aggregator::new();
    // Logged now after 30 s of service: it arrived 30 s ago, outside the 6 s panic window. H27
    // (the client gave up) is the app's work all the same, so it counts as load.
    app.ingest(
        &batch(vec![
            (now, failed(ErrorCode::H27)),
            (
                now,
                RouterLine {
                    service: Some(Duration::from_secs(30)),
                    ..failed(ErrorCode::H27)
                },
            ),
        ]),
        now,
    );
    let f = app.figures(now);
    assert_eq!((f.stable.requests, f.panic.requests), (2, 1));
    assert_eq!(
        f.stable.mean_service,
        Some(Duration::from_secs(30)),
        "only the line with a service"
    );
    assert!(
        (f.stable.in_flight - 0.5).abs() < 1e-9,
        "30 s of service in 60 s"
    );
    assert_eq!(f.errors_last_minute.h27, 2);
}

#[test]
fn failed_requests_are_left_out_of_the_load() {
    let now = at(NOW);
    let mut app = Aggregator::new();
    let crashed = |code| RouterLine {
        service: Some(Duration::from_secs(30)),
        ..failed(code)
    };
    let fast_503 = RouterLine {
        status: Some(503),
        service: Some(Duration::from_millis(3)),
        ..served(0)
    };
    app.ingest(
        &batch(vec![
            (now, served(100)),
            (now, crashed(ErrorCode::H12)),
            (now, crashed(ErrorCode::H13)),
            (now, fast_503),
            (now, failed(ErrorCode::H10)),
        ]),
        now,
    );
    let f = app.figures(now);
    assert_eq!((f.stable.requests, f.stable.left_out), (1, 4));
    assert_eq!(f.stable.mean_service, Some(Duration::from_millis(100)));
    assert!((f.stable.in_flight - 0.1 / 60.0).abs() < 1e-9, "{f:?}");
    assert_eq!(f.requests_last_minute, 5, "every line is a request");
    assert_eq!(
        (f.errors_last_minute.h12, f.server_errors_last_minute),
        (1, 1)
    );
}

#[test]
fn windows_end_at_the_now_given() {
    let now = at(NOW);
    let mut app = Aggregator::new();
    app.ingest(&batch(vec![(now, served(10))]), now);
    assert_eq!(app.figures(now).panic.requests, 1);
    assert_eq!(app.figures(now + TimeDelta::seconds(5)).panic.requests, 1);
    assert_eq!(app.figures(now + TimeDelta::seconds(6)).panic.requests, 0);
    assert_eq!(app.figures(now + TimeDelta::seconds(59)).stable.requests, 1);
    let later = app.figures(now + TimeDelta::seconds(60));
    assert_eq!((later.stable.requests, later.requests_last_minute), (0, 0));
    assert_eq!(
        (later.stable.mean_service, later.stable.p95_service),
        (None, None)
    );
    assert_eq!(later.stable.in_flight, 0.0);
    assert_eq!(
        later.newest,
        Some(now),
        "the newest line stays known, for staleness"
    );
    assert_eq!(
        app.figures(now - TimeDelta::seconds(1)).stable.requests,
        0,
        "before it arrived"
    );
}

#[test]
fn error_codes_and_maintenance_over_the_last_minute() {
    let now = at(NOW);
    let codes = [
        ErrorCode::H10,
        ErrorCode::H10,
        ErrorCode::H12,
        ErrorCode::H13,
        ErrorCode::H14,
        ErrorCode::H18,
        ErrorCode::H27,
        ErrorCode::H80,
    ];
    let mut lines: Vec<_> = codes.iter().map(|&c| (now - ms(2000), failed(c))).collect();
    lines.push((
        now,
        RouterLine {
            code: None,
            ..failed(ErrorCode::H10)
        },
    ));
    lines.push((
        now,
        RouterLine {
            at: At::Info,
            code: None,
            ..served(5)
        },
    ));
    // The app's own fast 503s (a bad deploy): no router code, counted apart.
    for _ in 0..2 {
        lines.push((
            now,
            RouterLine {
                status: Some(503),
                ..served(4)
            },
        ));
    }
    let mut app = Aggregator::new();
    app.ingest(&batch(lines), now);
    let f = app.figures(now);
    assert_eq!(
        f.server_errors_last_minute, 2,
        "only the app's own 5xx answers"
    );
    assert_eq!(
        f.errors_last_minute,
        ErrorCounts {
            h10: 2,
            h12: 1,
            h13: 1,
            h27: 1,
            other: 3
        }
    );
    assert_eq!(f.errors_last_minute.total(), 8);
    assert!(f.maintenance);
    assert_eq!(f.requests_last_minute, 12);
    assert!(!app.figures(now + TimeDelta::seconds(62)).maintenance);
}

#[test]
fn lines_from_the_future_are_clamped_or_dropped() {
    let now = at(NOW);
    let mut app = Aggregator::new();
    let ingested = app.ingest(
        &batch(vec![
            (now + TimeDelta::seconds(9), served(0)),
            (now + TimeDelta::seconds(11), served(0)),
            (at("2099-01-01T00:00:00Z"), served(0)),
        ]),
        now,
    );
    assert_eq!(
        ingested,
        Ingested {
            accepted: 1,
            too_old: 0,
            too_new: 2
        }
    );
    let f = app.figures(now);
    assert_eq!(f.panic.requests, 1, "counted at now");
    assert_eq!(f.newest, Some(now), "the newest time is not ahead of now");
}

#[test]
fn lines_older_than_the_ring_are_dropped() {
    let now = at(NOW);
    let mut app = Aggregator::new();
    let ingested = app.ingest(
        &batch(vec![
            (now - TimeDelta::seconds(59), served(0)),
            (now - TimeDelta::seconds(61), served(0)),
            (
                now,
                RouterLine {
                    service: Some(Duration::from_secs(90)),
                    ..served(0)
                },
            ),
            (at("1970-01-01T00:00:00Z"), served(0)),
            (
                now,
                RouterLine {
                    service: Some(Duration::MAX),
                    ..served(0)
                },
            ),
        ]),
        now,
    );
    assert_eq!(
        ingested,
        Ingested {
            accepted: 1,
            too_old: 4,
            too_new: 0
        }
    );
    assert_eq!(app.figures(now).stable.requests, 1);
}

#[test]
fn a_clock_going_back_does_not_wipe_newer_seconds() {
    let now = at(NOW);
    let mut app = Aggregator::new();
    app.ingest(&batch(vec![(now, served(10))]), now);
    // Sixty seconds earlier maps to the same slot of the 60 s ring.
    let earlier = now - TimeDelta::seconds(60);
    let ingested = app.ingest(&batch(vec![(earlier, served(10))]), earlier);
    assert_eq!(ingested.too_old, 1);
    assert_eq!(app.figures(now).stable.requests, 1);
}

#[test]
fn p95_follows_the_tail() {
    let now = at(NOW);
    let mut lines: Vec<_> = (0..95).map(|_| (now, served(10))).collect();
    lines.extend((0..5).map(|_| (now, served(2000))));
    let mut app = Aggregator::new();
    app.ingest(&batch(lines.clone()), now);
    let p95 = app
        .figures(now)
        .stable
        .p95_service
        .expect("p95")
        .as_secs_f64();
    assert!((p95 - 0.010).abs() <= 0.010 / 8.0, "{p95}");
    lines.push((now, served(2000)));
    app.ingest(&batch(lines), now);
    let p95 = app
        .figures(now)
        .stable
        .p95_service
        .expect("p95")
        .as_secs_f64();
    assert!((p95 - 2.0).abs() <= 2.0 / 8.0, "{p95}");
}

#[test]
fn other_windows() {
    let now = at(NOW);
    let mut app = Aggregator::with_windows(Duration::from_secs(120), Duration::from_secs(10))
        .expect("valid windows");
    let lines = (0..120).map(|i| (now - ms(1000 * i), served(0))).collect();
    app.ingest(&batch(lines), now);
    let f = app.figures(now);
    assert_eq!(
        (f.stable.requests, f.panic.requests, f.requests_last_minute),
        (120, 10, 60)
    );

    // A stable window under a minute still keeps a minute for requests a minute and errors.
    let mut short = Aggregator::with_windows(Duration::from_secs(10), Duration::from_secs(1))
        .expect("valid windows");
    let lines = (0..60).map(|i| (now - ms(1000 * i), served(0))).collect();
    short.ingest(&batch(lines), now);
    let f = short.figures(now);
    assert_eq!(
        (f.stable.requests, f.panic.requests, f.requests_last_minute),
        (10, 1, 60)
    );
}

#[test]
fn invalid_windows_are_refused() {
    let s = Duration::from_secs;
    for (stable, panic) in [
        (s(60), s(0)),
        (s(6), s(60)),
        (s(601), s(6)),
        (s(60), Duration::from_millis(6500)),
        (Duration::from_millis(60_500), s(6)),
    ] {
        assert_eq!(
            Aggregator::with_windows(stable, panic).map(|_| ()),
            Err(Error::Windows { stable, panic })
        );
    }
    assert!(Aggregator::with_windows(s(600), s(600)).is_ok());
    assert!(Aggregator::with_windows(s(1), s(1)).is_ok());
}
