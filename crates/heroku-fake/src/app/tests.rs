use chrono::NaiveTime;

use super::*;

fn day() -> AppConfig {
    AppConfig::day("demo-app", "web")
}

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour, minute, 0).unwrap();
    Utc::now().date_naive().and_time(time).and_utc()
}

#[test]
fn the_day_has_a_slow_spell_a_burst_and_an_outage() {
    // Fast enough at the baseline in the morning, slow in the 10:00 spell at 3 dynos,
    // saturated in the 15:00 burst until 10 dynos, broken at 18:30.
    let app = day();
    assert!(app.response_time(at(8, 0), 3).unwrap() < Duration::from_secs(7));
    let spell = app.response_time(at(10, 0), 3).unwrap();
    assert!(
        spell >= Duration::from_secs(28) && spell < Duration::from_secs(45),
        "{spell:?}"
    );
    assert!(app.response_time(at(10, 30), 4).unwrap() < Duration::from_secs(25));
    assert!(
        app.response_time(at(11, 30), 4).unwrap() < Duration::from_secs(7),
        "fast enough to step in"
    );
    assert!(app.response_time(at(15, 10), 3).is_none());
    assert!(app.response_time(at(15, 10), 10).is_some());
    assert!(app.broken(at(18, 35)) && !app.broken(at(18, 45)));
}

#[test]
fn the_drain_bodies_look_like_a_real_apps() {
    let app = day();
    let from = at(8, 0);
    let body = app.router_body(from, from + TimeDelta::seconds(5), 3, 0);
    let batch = router_logs::parse_body(&body).unwrap();
    assert_eq!(batch.bad + batch.other, 0);
    let per_dyno = batch.lines.len() as f64 / 5.0 / 3.0;
    assert!(
        (1.0..300.0).contains(&per_dyno),
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
    let failing = app.router_body(at(18, 35), at(18, 35) + TimeDelta::seconds(5), 3, 0);
    let batch = router_logs::parse_body(&failing).unwrap();
    assert!(batch.lines.iter().all(|e| e.line.status == Some(503)));
    let overloaded = app.router_body(at(15, 10), at(15, 10) + TimeDelta::seconds(5), 3, 0);
    let batch = router_logs::parse_body(&overloaded).unwrap();
    assert!(
        batch
            .lines
            .iter()
            .all(|e| e.line.code == Some(router_logs::ErrorCode::H12))
    );
}
