use super::*;
use router_logs::{Aggregator, parse_body};
use std::time::Duration;

fn line(at: &str, tail: &str) -> String {
    let message = format!(
        "<158>1 {at} host heroku router - at=info method=GET path=\"/\" host=a.herokuapp.com {tail}"
    );
    format!("{} {message}", message.len())
}

#[test]
fn the_aggregators_figures_map_onto_a_traffic_observation() {
    let now: DateTime<Utc> = "2024-03-01T12:00:30Z".parse().unwrap();
    let mut body = Vec::new();
    for i in 0..10 {
        body.push(line(
            &format!("2024-03-01T12:00:{:02}.000000+00:00", 20 + i),
            "dyno=web.1 connect=1ms service=300ms status=200 bytes=13",
        ));
    }
    for code in ["H12", "H13", "H27"] {
        body.push(line(
            "2024-03-01T12:00:29.000000+00:00",
            &format!("code={code} dyno=web.1 connect=1ms service=30000ms status=503 bytes=0"),
        ));
    }
    let body = body.join("\n");
    let batch = parse_body(body.as_bytes()).unwrap();
    let mut aggregator = Aggregator::new();
    aggregator.ingest(&batch, now);
    let figures = aggregator.figures(now);
    let traffic = policy_traffic(&figures, now);
    assert_eq!(
        traffic.at,
        "2024-03-01T12:00:29Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(traffic.requests_per_minute, figures.requests_last_minute);
    assert_eq!(traffic.in_flight, figures.stable.in_flight);
    assert_eq!(traffic.panic_in_flight, figures.panic.in_flight);
    assert_eq!(
        traffic.panic_arrivals_per_sec,
        figures.panic.arrivals_per_sec
    );
    assert_eq!(traffic.mean_service, figures.stable.mean_service);
    assert_eq!(
        traffic.trouble_errors_last_minute, 2,
        "H12 and H13, not H27"
    );
    assert!(!traffic.maintenance);
    assert!(traffic.in_flight > 0.0);

    let empty = policy_traffic(&Aggregator::new().figures(now), now);
    assert!(
        now - empty.at > chrono::TimeDelta::from_std(Duration::from_secs(120)).unwrap(),
        "no line at all is stale"
    );
}

#[test]
fn a_crash_is_failed_lines_left_out_of_the_load_and_the_lines_health_calls_it_down() {
    let now: DateTime<Utc> = "2024-03-01T12:00:30Z".parse().unwrap();
    let mut body = Vec::new();
    // Every request of the last 20 s ends in a 30 s H12 or a fast 503 of the crashing app.
    for i in 0..20 {
        let at = format!("2024-03-01T12:00:{:02}.000000+00:00", 11 + i);
        body.push(line(
            &at,
            "code=H12 dyno=web.1 connect=1ms service=30000ms status=503 bytes=0",
        ));
        body.push(line(
            &at,
            "dyno=web.1 connect=1ms service=3ms status=503 bytes=0",
        ));
    }
    let body = body.join("\n");
    let batch = parse_body(body.as_bytes()).unwrap();
    let mut aggregator = Aggregator::for_app("a");
    aggregator.ingest(&batch, now);
    let traffic = policy_traffic(&aggregator.figures(now), now);
    assert_eq!(
        traffic.in_flight, 0.0,
        "the H12s' 30 s are not requests in flight"
    );
    assert_eq!(traffic.mean_service, None);
    assert_eq!((traffic.requests_per_minute, traffic.left_out), (40, 40));

    let health = health(&aggregator.health(now, Duration::from_secs(10)), now);
    assert_eq!(health.at, now);
    assert_eq!(health.requests, 20, "the lines logged in the last 10 s");
    assert_eq!(
        health.failing,
        [("503".to_owned(), 10), ("H12".to_owned(), 10)]
    );
    let policy = policy::Policy {
        min: 1,
        max: 6,
        step: 1,
        failures: 2,
        scale_out_cooldown: Duration::from_secs(120),
        calm: Duration::from_secs(600),
        traffic: Some(policy::TrafficPolicy::new(2, 0.8)),
    };
    let schedule = schedule::Schedule::new(Vec::new(), chrono_tz::UTC, 1);
    let mut decider = policy::Decider::new(policy, schedule, now, None);
    let actions = decider.handle(policy::Event::Traffic(Box::new(traffic)), now);
    assert!(
        !actions.iter().any(|a| matches!(
            a,
            policy::Action::Scale {
                reason: policy::Reason::Traffic(_),
                ..
            }
        )),
        "a crash is not load: {actions:?}"
    );
    let actions = decider.handle(policy::Event::RouterHealth(Box::new(health)), now);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, policy::Action::Scale { to: 6, .. })),
        "{actions:?}"
    );
}
