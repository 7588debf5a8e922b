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
