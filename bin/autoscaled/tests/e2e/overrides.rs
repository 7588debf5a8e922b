//! Overrides and pauses recorded with the CLI beside running daemons: a pause that stops every
//! scale call, the fail-safe's included, while the outage is still alerted, saying so (on an SQLite
//! file the daemon holds); `plan` with an override; the page showing
//! them in Chromium. (An override obeyed by the instance that holds the app within one lease round,
//! through a `kill -9` of that instance, and ended on time, is with the fleet's tests in
//! `fleet.rs`: it shares their lock, and starts with them. A preboot refusal waited out is tested
//! in process, in `src/daemon/tests/actuator.rs`.)

use super::harness::{
    Alerts, AppConfig, AppServer, BIN, Daemon, Mode, ProbeConfig, SECOND, START, heroku,
    mail_server, patches, probing, write_config,
};

/// Runs `autoscaled --config CONFIG ARGS...` to its end; returns its stdout, failing on a non-zero
/// exit.
pub(super) async fn command(config: &std::path::Path, args: &[&str]) -> String {
    let mut argv = vec!["--config", config.to_str().unwrap()];
    argv.extend_from_slice(args);
    let finished = Daemon::spawn(BIN, &argv).finish(30 * SECOND).await;
    assert!(finished.status.success(), "{args:?}: {finished:?}");
    finished.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_on_the_daemons_sqlite_file_stops_even_the_fail_safe_and_the_outage_says_so() {
    let app = "ovr-pause";
    let fake = heroku(app, 1).await;
    let server = AppServer::start().await;
    let mail = mail_server();
    let mut settings = AppConfig::new(app);
    settings.probe = Some(ProbeConfig::quick(server.url()));
    let alerts = Alerts {
        smtp_port: Some(mail.port),
        twilio_url: None,
    };
    let config = write_config(&fake.url(), &[settings], &alerts);
    let daemon = Daemon::run(BIN, &config);
    probing(&daemon, &server).await;

    // Bad requests are refused, one message per problem, and write nothing.
    let argv = [
        "--config",
        config.to_str().unwrap(),
        "pause",
        "ovr-nowhere",
        "--for",
        "1h",
    ];
    let refused = Daemon::spawn(BIN, &argv).finish(30 * SECOND).await;
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("app \"ovr-nowhere\" is not in the config"),
        "{refused:?}"
    );
    assert!(
        refused.stderr.contains("a pause needs a reason"),
        "{refused:?}"
    );

    // On the SQLite file the daemon holds.
    let paused = command(
        &config,
        &["pause", app, "--for", "1h", "--reason", "migration"],
    )
    .await;
    assert!(paused.contains("paused #"), "{paused}");
    daemon.wait_for_line(&["obeys pause #"], 10 * SECOND).await;
    let status = command(&config, &["status"]).await;
    assert!(
        status.contains("pause ovr-pause web: pause from"),
        "{status}"
    );

    // Down: the outage is alerted, saying the pause held the fail-safe back; nothing is scaled.
    server.set(Mode::Unavailable);
    let alert = daemon
        .wait_until("the outage email", 30 * SECOND, || {
            mail.mails()
                .into_iter()
                .find(|m| m.subject.contains(app) && m.subject.contains("down ("))
        })
        .await;
    let text = format!("{}\n{}", alert.subject, alert.body);
    assert!(text.contains("autoscaled is paused (pause #"), "{text}");
    assert!(text.contains("and did not act"), "{text}");
    // A few more down probes and a reconcile: still no scale call.
    let seen = server.hits().len();
    daemon
        .wait_until("ten more probes", 30 * SECOND, || {
            (server.hits().len() >= seen + 10).then_some(())
        })
        .await;
    assert_eq!(
        patches(&fake, app),
        Vec::<u64>::new(),
        "no scale call while paused"
    );

    // Resumed: the fail-safe acts at the next down probe.
    let resumed = command(&config, &["resume", app, "--json"]).await;
    assert!(resumed.contains("\"resumed\""), "{resumed}");
    daemon
        .wait_until("the fail-safe after the resume", 30 * SECOND, || {
            patches(&fake, app).contains(&3).then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_an_override_in_the_changes_and_the_cost() {
    let app = "ovr-plan";
    let fake = heroku(app, 1).await;
    let config = write_config(&fake.url(), &[AppConfig::new(app)], &Alerts::default());
    // The daemon creates the database; the commands then work beside it.
    let daemon = Daemon::run(BIN, &config);
    daemon.wait_for_line(&["started"], START).await;
    let plan = |args: &'static [&'static str]| {
        let config = config.clone();
        async move {
            let mut argv = vec!["plan", "--days", "1", "--json"];
            argv.extend_from_slice(args);
            let out = command(&config, &argv).await;
            serde_json::from_str::<serde_json::Value>(&out).unwrap()
        }
    };
    let before = plan(&[]).await;
    assert_eq!(before["apps"][0]["dyno_hours"], 24.0, "{before}");

    // Two hours at 3 instead of the baseline 1, starting in an hour.
    let from = (chrono::Utc::now() + chrono::TimeDelta::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let added = command(
        &config,
        &[
            "override",
            "add",
            app,
            "--from",
            &from,
            "--for",
            "2h",
            "--quantity",
            "3",
            "--by",
            "e2e",
            "--reason",
            "sale",
        ],
    )
    .await;
    assert!(added.contains("(coming; by e2e: sale)"), "{added}");
    let after = plan(&[]).await;
    let entry = &after["apps"][0];
    println!(
        "overrides: plan dyno-hours {} -> {}, cost ${} -> ${}",
        before["apps"][0]["dyno_hours"],
        entry["dyno_hours"],
        before["apps"][0]["cost"],
        entry["cost"]
    );
    let dyno_hours = entry["dyno_hours"].as_f64().unwrap();
    assert!((dyno_hours - 28.0).abs() < 1e-6, "{after}");
    let changes = entry["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{after}");
    assert_eq!(changes[0]["quantity"], 3);
    assert_eq!(changes[0]["at"], from.as_str());
    assert_eq!(changes[0]["override"], "override #1 by e2e (sale)");
    assert_eq!(changes[1]["quantity"], 1);
    assert_eq!(entry["overrides"][0]["reason"], "sale");

    let text = command(&config, &["plan", "--days", "1"]).await;
    assert!(text.contains("-> 3  (override #1 by e2e (sale))"), "{text}");
    assert!(text.contains("28.0 dyno-hours"), "{text}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_apps_overrides_and_pauses_in_chromium() {
    let app = "ovr-page";
    let fake = heroku(app, 1).await;
    let config = write_config(&fake.url(), &[AppConfig::new(app)], &Alerts::default());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += "\n[http]\nlisten = \"127.0.0.1:0\"\n";
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::run(BIN, &config);
    let url = super::status_page::page_url(&daemon).await;
    daemon.wait_for_line(&["started"], START).await;
    command(
        &config,
        &[
            "override",
            "add",
            app,
            "--for",
            "2h",
            "--quantity",
            "2",
            "--by",
            "ada",
            "--reason",
            "launch",
        ],
    )
    .await;
    let from = (chrono::Utc::now() + chrono::TimeDelta::hours(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    command(
        &config,
        &[
            "pause",
            app,
            "--from",
            &from,
            "--reason",
            "migration",
            "--by",
            "bob",
        ],
    )
    .await;

    let dom = super::status_page::headless(&url, &["--dump-dom"]);
    assert!(dom.contains("Overrides and pauses"), "{dom}");
    assert!(dom.contains("#1 quantity <b>2</b>, until"), "{dom}");
    assert!(dom.contains("(running; by ada: launch)"), "{dom}");
    assert!(dom.contains("#2 <b>paused</b>: no scale call"), "{dom}");
    assert!(dom.contains("(coming; by bob: migration)"), "{dom}");
    daemon.stop().await;
}
