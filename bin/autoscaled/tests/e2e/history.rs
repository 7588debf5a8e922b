//! The charts' history survives a restart: the minutes one run wrote are served by the next one's
//! `/api/history`.
//!
//! A module of its own, named to sort early: libtest starts tests in name order, and this one waits
//! for the wall clock's next minute (up to a minute), so it should start early in the run rather
//! than end it.

use std::time::Duration;

use chrono::Timelike as _;
use heroku_fake::FakeHeroku;
use testkit::config::{temp_sqlite_url, write_config_with_state};

use super::harness::{API_KEY, Alerts, AppConfig, AppServer, BIN, Daemon, ProbeConfig, START};

const SECOND: Duration = Duration::from_secs(1);

/// `/api/history`, over 24 hours and over 7 days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_history_serves_the_minutes_written_before_a_restart() {
    const APP: &str = "e2e-history";
    let server = AppServer::start().await;
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(APP, "web", 1);
    let mut app = AppConfig::new(APP);
    app.probe = Some(ProbeConfig::quick(server.url()));
    let config =
        write_config_with_state(&fake.url(), &[app], &Alerts::default(), &temp_sqlite_url());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += "\n[http]\nlisten = \"127.0.0.1:0\"\n";
    std::fs::write(&config, text).unwrap();

    // A minute is written once it is over: run into the next minute, then stop.
    let first = Daemon::run(BIN, &config);
    first.wait_for_line(&["started"], START).await;
    let began = chrono::Utc::now();
    let next_minute = began + chrono::TimeDelta::seconds(61 - i64::from(began.second()));
    let seen = server.hits().len();
    first
        .wait_until("probes in the next minute", 90 * SECOND, || {
            (chrono::Utc::now() > next_minute && server.hits().len() >= seen + 5).then_some(())
        })
        .await;
    let finished = first.stop().await;
    assert!(finished.status.success(), "{finished:?}");

    let second = Daemon::run(BIN, &config);
    let url = super::status_page::page_url(&second).await;
    for (span, bucket) in [("24h", 300), ("7d", 3600)] {
        let history = super::status_page::json(&format!("{url}api/history?span={span}")).await;
        assert_eq!(history["span"], span, "{history}");
        assert_eq!(history["bucket_seconds"], bucket, "{history}");
        let buckets = history["apps"][0]["buckets"].as_array().unwrap();
        let before: Vec<_> = buckets
            .iter()
            .filter(|b| b["t"].as_i64().unwrap() <= began.timestamp_millis())
            .collect();
        assert!(
            before.iter().any(|b| b["probes"].as_u64().unwrap() > 0
                && b["p50"].is_number()
                && b["actual"] == 1),
            "the minute before the restart, in {span}: {history}"
        );
    }
    let finished = second.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}
