use std::time::Duration;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::config::Config;

fn demo_app() -> AppSettings {
    let app = json!({ "name": "demo-app", "process": "web", "min": 1, "max": 6 });
    let tree = json!({ "heroku": { "api_key": "k-0123456789" }, "apps": [app] });
    Config::from_tree(&tree).unwrap().apps.remove(0)
}

fn outage_3_to_6() -> Notice {
    Notice {
        kind: NoticeKind::Outage,
        detail: "HTTP 503".into(),
        from: 3,
        to: 6,
    }
}

fn figures() -> probe::Summary {
    probe::Summary {
        count: 3,
        down: 3,
        p50: None,
        p95: None,
        max: None,
        down_share: 1.0,
    }
}

fn subject(progress: Progress) -> String {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).unwrap();
    decision_alert(&demo_app(), &outage_3_to_6(), at, &figures(), progress).subject()
}

#[test]
fn progress_follows_what_heroku_last_said() {
    // Heroku answers (refusing or not) and has not reported 6 yet: asked.
    assert_eq!(scale_progress(Some(true), Some(3), 6), Progress::Asked);
    assert_eq!(scale_progress(None, None, 6), Progress::Asked);
    // The latest call got no answer: nothing can be changed.
    assert_eq!(
        scale_progress(Some(false), Some(3), 6),
        Progress::Unreachable
    );
    assert_eq!(scale_progress(Some(false), None, 6), Progress::Unreachable);
    // Heroku reported the quantity already.
    assert_eq!(scale_progress(Some(true), Some(6), 6), Progress::Done);
}

#[test]
fn the_outage_alert_says_scaling_until_heroku_said_scaled() {
    assert_eq!(
        subject(Progress::Asked),
        "[autoscaled] demo-app web: down (HTTP 503), scaling 3 → 6"
    );
    assert_eq!(
        subject(Progress::Done),
        "[autoscaled] demo-app web: down (HTTP 503), scaled 3 → 6"
    );
}

/// The outage comes while the scale calls fail for want of an answer (the API is down, or hangs):
/// the alert says so instead of a change that did not happen.
#[tokio::test]
async fn under_a_failing_scale_call_the_outage_alert_says_heroku_could_not_scale() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = heroku_api::Client::builder(secret::Secret::new("k-0123456789"))
        .base_url(url)
        .timeout(Duration::from_secs(5))
        .retry(heroku_api::RetryPolicy::never())
        .build()
        .unwrap();
    let update = heroku_api::FormationUpdate {
        quantity: Some(6),
        dyno_size: None,
    };
    let error = client
        .formation_update("demo-app", "web", &update)
        .await
        .unwrap_err();
    let progress = scale_progress(client.reachable(), Some(3), 6);
    let shown = subject(progress);
    assert_eq!(
        shown,
        "[autoscaled] demo-app web: down (HTTP 503); Heroku's API cannot be reached, so it could not scale to 6"
    );
    assert!(!shown.contains("scaled 3"), "{shown}");

    // And the failed call's own alert never reads as done.
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 30).unwrap();
    let failed = Alert::scale_failed("demo-app", "web", 6, &error, false, at, chrono_tz::UTC)
        .scaled(Some(3), 6, Progress::Asked);
    let text = failed.subject();
    assert!(
        text.starts_with(
            "[autoscaled] demo-app web: could not set web to 6: cannot reach the Heroku API"
        ) && text.ends_with(", could not scale 3 → 6"),
        "{text}"
    );
}

#[test]
fn a_stuck_queue_says_so_rather_than_down_and_its_drain_is_a_recovery() {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 15, 8, 0).unwrap();
    let notice = |kind, detail: &str| Notice {
        kind,
        detail: detail.into(),
        from: 8,
        to: 8,
    };
    let stuck = decision_alert(
        &demo_app(),
        &notice(
            NoticeKind::QueueStuck,
            "job queue stuck: oldest job 78s old",
        ),
        at,
        &figures(),
        Progress::Done,
    );
    assert_eq!(stuck.kind, notify::AlertKind::Outage);
    assert_eq!(
        stuck.subject(),
        "[autoscaled] demo-app web: job queue stuck: oldest job 78s old"
    );
    let drained = decision_alert(
        &demo_app(),
        &notice(
            NoticeKind::QueueDrained,
            "job queue drained: oldest job 2s old",
        ),
        at,
        &figures(),
        Progress::Done,
    );
    assert_eq!(drained.kind, notify::AlertKind::Recovery);
    assert!(
        drained.subject().contains("job queue drained"),
        "{}",
        drained.subject()
    );
}
