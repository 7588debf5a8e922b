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
    // A real app's figures: fast (under 200 ms) at the baseline in the morning, slow (500 ms or
    // more) in the 10:00 spell at 3 dynos, saturated in the 15:00 burst until 10 dynos, broken at
    // 18:30.
    let app = day();
    let morning = app.response_time(at(8, 0), 3).unwrap();
    assert!(
        morning >= Duration::from_millis(100) && morning < Duration::from_millis(200),
        "{morning:?}"
    );
    let spell = app.response_time(at(10, 0), 3).unwrap();
    assert!(
        spell >= Duration::from_millis(500) && spell < Duration::from_secs(2),
        "{spell:?}"
    );
    assert!(app.response_time(at(10, 30), 7).unwrap() < Duration::from_millis(200));
    assert!(app.response_time(at(15, 10), 3).is_none());
    assert!(app.response_time(at(15, 10), 10).is_some());
    assert_eq!(
        app.health(at(8, 0), 3),
        format!("responses in {} ms", morning.as_millis())
    );
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

#[tokio::test]
async fn an_answer_says_its_modelled_time_in_real_time() {
    let fake = Arc::new(FakeHeroku::start("token").await.unwrap());
    fake.set_formation("demo-app", "web", 3);
    let app = FakeApp::new(fake, day(), || at(8, 0), 1800);
    let addr = app.start().await.unwrap();
    let response = reqwest::get(format!("http://{addr}/")).await.unwrap();
    assert_eq!(response.status(), 200);
    let timing = response.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_owned();
    let millis: f64 = timing.strip_prefix("app;dur=").unwrap().parse().unwrap();
    let modelled = app.config().response_time(at(8, 0), 3).unwrap();
    assert!(
        (millis * 1800.0 - modelled.as_secs_f64() * 1e3).abs() < 0.01,
        "{timing} against {modelled:?} at 1800x"
    );
}
