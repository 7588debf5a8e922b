use super::*;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    epoch()
        .with_hour(hour)
        .and_then(|t| t.with_minute(minute))
        .unwrap()
}

#[test]
fn the_day_has_a_slow_spell_a_burst_and_an_outage() {
    // Fast enough at the baseline in the morning, slow in the 10:00 spell at 3 dynos,
    // saturated in the 15:00 burst until the fail-safe's 10 dynos, broken at 18:30.
    assert!(response_time(at(8, 0), 3).unwrap() < Duration::from_secs(7));
    let spell = response_time(at(10, 0), 3).unwrap();
    assert!(
        spell >= Duration::from_secs(28) && spell < Duration::from_secs(45),
        "{spell:?}"
    );
    assert!(response_time(at(10, 30), 4).unwrap() < Duration::from_secs(25));
    assert!(
        response_time(at(11, 30), 4).unwrap() < Duration::from_secs(7),
        "fast enough to step in"
    );
    assert!(response_time(at(15, 10), 3).is_none());
    assert!(response_time(at(15, 10), MAX).is_some());
    assert!(broken(at(18, 35)) && !broken(at(18, 45)));
}

#[test]
fn the_drain_bodies_look_like_a_real_apps() {
    let from = at(8, 0);
    let body = router_body(from, from + TimeDelta::seconds(5), 3, 0);
    let batch = router_logs::parse_body(&body).unwrap();
    assert_eq!(batch.bad + batch.other, 0);
    let per_dyno = batch.lines.len() as f64 / 5.0 / 3.0;
    assert!(
        (10.0..300.0).contains(&per_dyno),
        "{per_dyno} requests/s per dyno"
    );
    for entry in &batch.lines {
        let service = entry.line.service.unwrap();
        assert!(
            service >= Duration::from_millis(40) && service <= Duration::from_millis(400),
            "{service:?}"
        );
        assert_eq!(entry.line.status, Some(200));
    }
    let failing = router_body(at(18, 35), at(18, 35) + TimeDelta::seconds(5), 3, 0);
    let batch = router_logs::parse_body(&failing).unwrap();
    assert!(batch.lines.iter().all(|e| e.line.status == Some(503)));
    let overloaded = router_body(at(15, 10), at(15, 10) + TimeDelta::seconds(5), 3, 0);
    let batch = router_logs::parse_body(&overloaded).unwrap();
    assert!(
        batch
            .lines
            .iter()
            .all(|e| e.line.code == Some(router_logs::ErrorCode::H12))
    );
}

#[test]
fn the_demo_config_is_valid() {
    let config = demo_config(
        "http://127.0.0.1:1",
        "127.0.0.1:2".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    );
    assert!(config.is_ok(), "{config:?}");
}
