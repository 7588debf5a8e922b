//! The daemon's state across restarts, on a real SQLite file and a real PostgreSQL server: a
//! restart during an outage neither cuts the app to its baseline nor alerts again (the charts'
//! history across a restart is in `history.rs`); a database that fails while running stops neither
//! scaling nor alerts and is written again once back; a database that cannot be opened at start is fatal; one
//! instance per SQLite file; `status --json`.

use std::process::Command;
use std::time::Duration;

use heroku_fake::FakeHeroku;
use testkit::config::{temp_sqlite_url, write_config_with_state};
use testkit::{MailServer, PostgresDb, closed_port};

use super::harness::{
    API_KEY, Alerts, AppConfig, AppServer, BIN, Daemon, Mode, ProbeConfig, START, mail_server,
    patches, write_config,
};

const SECOND: Duration = Duration::from_secs(1);

/// How the first daemon ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Term,
    Kill,
}

/// `autoscaled --config CONFIG status --json`, parsed; fails the test unless it exits 0.
async fn status_json(config: &std::path::Path) -> serde_json::Value {
    let run = Daemon::spawn(
        BIN,
        &["--config", config.to_str().unwrap(), "status", "--json"],
    );
    let finished = run.finish(20 * SECOND).await;
    assert!(finished.status.success(), "{finished:?}");
    serde_json::from_str(finished.stdout.trim()).expect("status --json prints JSON")
}

fn mails_with(mail: &MailServer, needle: &str) -> usize {
    mail.mails()
        .iter()
        .filter(|m| m.subject.contains(needle))
        .count()
}

/// Waits for `daemon` to fail `app`'s web dynos over to `max` at the fake, and for its one outage
/// email.
async fn failed_over_with_one_email(
    daemon: &Daemon,
    fake: &FakeHeroku,
    mail: &MailServer,
    app: &str,
    max: u32,
) {
    daemon
        .wait_until(&format!("the fail-over to {max}"), 10 * SECOND, || {
            (fake.quantity(app, "web") == Some(max)).then_some(())
        })
        .await;
    daemon
        .wait_until("the outage email", 15 * SECOND, || {
            (mails_with(mail, "web: down (") == 1).then_some(())
        })
        .await;
}

/// An app at baseline 3 fails over to max 5; the daemon is stopped (`stop`) and started again on
/// the same database with the app still down: no PATCH below 5, no second outage email, and the
/// charts still mark the outage. Then the app recovers: one recovery email and the usual step-in,
/// one dyno per calm, to 3.
async fn restart_during_an_outage(state_url: &str, stop: Stop) {
    const APP: &str = "e2e-restart";
    let mail = mail_server();
    let server = AppServer::start().await;
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(APP, "web", 3);
    let mut app = AppConfig::new(APP);
    app.max = 5;
    app.schedule = vec![("* * * * *", 3)];
    app.probe = Some(ProbeConfig::quick(server.url()));
    let alerts = Alerts {
        smtp_port: Some(mail.port),
        twilio_url: None,
    };
    let config = write_config_with_state(&fake.url(), &[app], &alerts, state_url);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += "\n[http]\nlisten = \"127.0.0.1:0\"\n";
    std::fs::write(&config, text).unwrap();

    let first = Daemon::run(BIN, &config);
    first.wait_for_line(&["started"], START).await;
    server.set(Mode::Unavailable);
    failed_over_with_one_email(&first, &fake, &mail, APP, 5).await;
    // The quantity Heroku answered the scale call with reaches the page: the actuator reports it
    // to the decision task, which alone writes the board.
    let page = super::status_page::page_url(&first).await;
    let mut shown = serde_json::Value::Null;
    let deadline = std::time::Instant::now() + 20 * SECOND;
    while std::time::Instant::now() < deadline {
        shown = super::status_page::json(&format!("{page}api/status")).await;
        if shown["apps"][0]["actual"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(shown["apps"][0]["actual"], 5, "{shown}");
    // What the database holds before the stop: read by `status`, as people would.
    // The writer saves within a second on an idle machine, and retries a failed write every 15 s:
    // a minute leaves room for a loaded one.
    let mut saved = serde_json::Value::Null;
    let deadline = std::time::Instant::now() + 60 * SECOND;
    while std::time::Instant::now() < deadline {
        saved = status_json(&config).await;
        if saved["apps"][0]["outage_since"].is_string() && saved["apps"][0]["target"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let entry = &saved["apps"][0];
    assert_eq!(entry["app"], APP, "{saved}");
    assert_eq!(entry["process"], "web", "{saved}");
    assert_eq!(
        (entry["baseline"].clone(), entry["target"].clone()),
        (3.into(), 5.into()),
        "{saved}"
    );
    assert!(entry["outage_since"].is_string(), "{saved}");
    assert!(entry["holder"].is_string(), "{saved}");
    let decision = &entry["decisions"][0];
    assert_eq!(
        (decision["from"].clone(), decision["to"].clone()),
        (3.into(), 5.into()),
        "{saved}"
    );
    assert!(
        decision["reason"].as_str().unwrap().starts_with("down"),
        "{saved}"
    );

    match stop {
        Stop::Term => {
            let finished = first.stop().await;
            assert!(finished.status.success(), "{finished:?}");
        }
        Stop::Kill => {
            let killed = Command::new("kill")
                .args(["-KILL", &first.pid().to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
            let finished = first.finish(5 * SECOND).await;
            assert!(!finished.status.success(), "{finished:?}");
        }
    }
    let before_restart = patches(&fake, APP).len();

    let second = Daemon::run(BIN, &config);
    second
        .wait_for_line(&["restored the saved state", "target=5"], 20 * SECOND)
        .await;
    second.wait_for_line(&["started"], START).await;
    // Enough 503s for an outage to be declared anew (2 failures), and two reconciles (every 1 s).
    let seen = server.hits().len();
    second
        .wait_until("ten probes after the restart", 15 * SECOND, || {
            (server.hits().len() >= seen + 10).then_some(())
        })
        .await;
    assert_eq!(fake.quantity(APP, "web"), Some(5));
    assert!(
        patches(&fake, APP)[before_restart..].is_empty(),
        "no formation update after the restart: {:?}",
        patches(&fake, APP)
    );
    // The outage alert went out before the restart; the new process marks it from the database.
    let url = super::status_page::page_url(&second).await;
    let history = super::status_page::json(&format!("{url}api/history?span=24h")).await;
    let kinds: Vec<_> = history["apps"][0]["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"outage".to_owned()) && kinds.contains(&"scale".to_owned()),
        "{history}"
    );

    server.set(Mode::Fast);
    second
        .wait_until("the recovery email", 20 * SECOND, || {
            (mails_with(&mail, "up again") == 1).then_some(())
        })
        .await;
    second
        .wait_until("the step-in to 3", 30 * SECOND, || {
            (fake.quantity(APP, "web") == Some(3)).then_some(())
        })
        .await;
    assert_eq!(
        patches(&fake, APP)[before_restart..],
        [4, 3],
        "one dyno per calm"
    );
    assert_eq!(
        mails_with(&mail, "web: down ("),
        1,
        "no second outage email"
    );
    assert_eq!(mails_with(&mail, "up again"), 1);
    let finished = second.stop().await;
    assert!(finished.status.success(), "{finished:?}");

    let after = status_json(&config).await;
    assert_eq!(after["apps"][0]["target"], 3, "{after}");
    assert!(after["apps"][0]["outage_since"].is_null(), "{after}");
    assert_eq!(after["apps"][0]["decisions"][0]["to"], 3, "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_during_an_outage_keeps_max_and_alerts_once_on_sqlite() {
    restart_during_an_outage(&temp_sqlite_url(), Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_an_outage_keeps_max_and_alerts_once_on_postgres() {
    let db = PostgresDb::create();
    restart_during_an_outage(db.url(), Stop::Term).await;
}

/// A PostgreSQL database taken away while the daemon runs (connections refused, sessions ended):
/// the app still fails over to max and the outage email still goes out; the failure is logged
/// once; once the database is back, the outage is written and `status` reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_fails_while_running_stops_neither_scaling_nor_alerts() {
    const APP: &str = "e2e-db-away";
    const AWAY: &str = "cannot write to the database";
    let db = PostgresDb::create();
    let mail = mail_server();
    let server = AppServer::start().await;
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(APP, "web", 1);
    let mut app = AppConfig::new(APP);
    app.max = 4;
    app.probe = Some(ProbeConfig::quick(server.url()));
    let alerts = Alerts {
        smtp_port: Some(mail.port),
        twilio_url: None,
    };
    let config = write_config_with_state(&fake.url(), &[app], &alerts, db.url());
    let daemon = Daemon::run(BIN, &config);
    daemon.wait_for_line(&["started"], START).await;

    db.cut_off();
    server.set(Mode::Unavailable);
    failed_over_with_one_email(&daemon, &fake, &mail, APP, 4).await;
    // The decision's write fails at once (the writer is woken by it), and later tries fail too.
    daemon.wait_for_line(&[AWAY], 20 * SECOND).await;
    let seen = server.hits().len();
    daemon
        .wait_until(
            "more probes while the database is away",
            10 * SECOND,
            || (server.hits().len() >= seen + 10).then_some(()),
        )
        .await;

    db.restore();
    // The writer tries again every 15 s.
    daemon
        .wait_for_line(&["database is back"], 40 * SECOND)
        .await;
    assert_eq!(
        daemon.stdout().matches(AWAY).count(),
        1,
        "logged once:\n{}",
        daemon.stdout()
    );
    let saved = status_json(&config).await;
    let entry = &saved["apps"][0];
    assert_eq!(entry["target"], 4, "{saved}");
    assert!(entry["outage_since"].is_string(), "{saved}");
    assert_eq!(entry["decisions"][0]["to"], 4, "{saved}");
    assert_eq!(fake.quantity(APP, "web"), Some(4));
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

/// Runs the daemon on a state URL that cannot be opened, and returns its stderr after exit 1.
async fn fatal_at_start(state_url: &str) -> String {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation("e2e-state", "web", 1);
    let config = write_config_with_state(
        &fake.url(),
        &[AppConfig::new("e2e-state")],
        &Alerts::default(),
        state_url,
    );
    let finished = Daemon::run(BIN, &config).finish(30 * SECOND).await;
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        fake.requests().is_empty(),
        "the database is opened before anything else"
    );
    finished.stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_postgres_at_start_is_fatal_with_its_password_redacted() {
    let port = closed_port();
    let url = format!("postgres://autoscaled:pg-pass-never-shown@127.0.0.1:{port}/state");
    let stderr = fatal_at_start(&url).await;
    assert!(
        stderr.contains("cannot open the state database")
            && stderr.contains(&format!(
                "postgres://autoscaled:[redacted]@127.0.0.1:{port}/state"
            )),
        "{stderr}"
    );
    assert!(!stderr.contains("pg-pass-never-shown"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_path_under_a_regular_file_is_fatal() {
    let file = super::harness::write_file("txt", "a regular file");
    let url = format!("sqlite://{}/state.db", file.display());
    let stderr = fatal_at_start(&url).await;
    assert!(
        stderr.contains("cannot open the state database") && stderr.contains(&url),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_our_database_is_fatal() {
    let file = super::harness::write_file("db", &"not a database at all\n".repeat(100));
    let url = format!("sqlite://{}", file.display());
    let stderr = fatal_at_start(&url).await;
    assert!(stderr.contains("is not an autoscaled database"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "not a database at all\n".repeat(100),
        "left untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_sqlite_file_is_refused() {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation("e2e-twice", "web", 1);
    let config = write_config(
        &fake.url(),
        &[AppConfig::new("e2e-twice")],
        &Alerts::default(),
    );
    let first = Daemon::run(BIN, &config);
    first.wait_for_line(&["started"], START).await;
    let second = Daemon::run(BIN, &config).finish(20 * SECOND).await;
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert!(
        second
            .stderr
            .contains("another autoscaled is already running"),
        "{}",
        second.stderr
    );
    // The first goes on, and `status` reads beside it.
    let status = status_json(&config).await;
    assert_eq!(status["apps"][0]["app"], "e2e-twice", "{status}");
    let finished = first.stop().await;
    assert!(finished.status.success(), "{finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_exit_1_without_a_database_and_2_with_a_bad_config() {
    let fake_url = "http://127.0.0.1:9";
    let missing = temp_sqlite_url();
    let config = write_config_with_state(
        fake_url,
        &[AppConfig::new("e2e-status")],
        &Alerts::default(),
        &missing,
    );
    let args = ["--config", config.to_str().unwrap(), "status"];
    let finished = Daemon::spawn(BIN, &args).finish(20 * SECOND).await;
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished.stderr.contains("cannot read the state database"),
        "{finished:?}"
    );
    let bad = write_config_with_state(
        fake_url,
        &[AppConfig::new("e2e-status")],
        &Alerts::default(),
        "mysql://u:p@h/d",
    );
    let args = ["--config", bad.to_str().unwrap(), "status", "--json"];
    let finished = Daemon::spawn(BIN, &args).finish(20 * SECOND).await;
    assert_eq!(finished.status.code(), Some(2), "{finished:?}");
    assert!(finished.stderr.contains("state.url"), "{finished:?}");
}

/// `truncate -s 0 autoscaled.db-shm` (which killed the daemon with SIGBUS in WAL mode) and then
/// `rm autoscaled.db*` under a running daemon: it keeps scaling and alerting, says once that it
/// recreated the file, and the next start finds the outage whole (no second alert, no cut).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_sqlite_files_stop_neither_scaling_nor_alerts_and_the_state_survives() {
    const APP: &str = "e2e-tamper";
    const RECREATED: &str = "recreated from the copy it had open";
    let mail = mail_server();
    let server = AppServer::start().await;
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(APP, "web", 3);
    let mut app = AppConfig::new(APP);
    app.max = 5;
    app.schedule = vec![("* * * * *", 3)];
    app.probe = Some(ProbeConfig::quick(server.url()));
    let alerts = Alerts {
        smtp_port: Some(mail.port),
        twilio_url: None,
    };
    let state_url = temp_sqlite_url();
    let path = std::path::PathBuf::from(state_url.strip_prefix("sqlite://").unwrap());
    let config = write_config_with_state(&fake.url(), &[app], &alerts, &state_url);

    let first = Daemon::run(BIN, &config);
    first.wait_for_line(&["started"], START).await;
    let shm = format!("{}-shm", path.display());
    let truncated = Command::new("truncate")
        .args(["-s", "0", &shm])
        .status()
        .unwrap();
    assert!(truncated.success());
    // Every file of the database, as `rm autoscaled.db*` takes them.
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&name) {
            std::fs::remove_file(entry.path()).unwrap();
            removed.push(file);
        }
    }
    assert!(removed.contains(&name), "{removed:?}");
    let removed_at = std::time::Instant::now();
    // Noticed within a minute with nothing else happening (the fleet's round looks every 2 s).
    first.wait_for_line(&["WARN", RECREATED], 60 * SECOND).await;
    let noticed_after = removed_at.elapsed();
    assert!(path.exists());

    server.set(Mode::Unavailable);
    failed_over_with_one_email(&first, &fake, &mail, APP, 5).await;
    // The file is back and holds the outage, read by `status` as people would.
    // The writer saves within a second on an idle machine, and retries a failed write every 15 s:
    // a minute leaves room for a loaded one.
    let mut saved = serde_json::Value::Null;
    let deadline = std::time::Instant::now() + 60 * SECOND;
    while std::time::Instant::now() < deadline {
        saved = status_json(&config).await;
        if saved["apps"][0]["outage_since"].is_string() && saved["apps"][0]["target"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(saved["apps"][0]["target"], 5, "{saved}");
    assert!(saved["apps"][0]["outage_since"].is_string(), "{saved}");
    let finished = first.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    assert_eq!(
        finished.stdout.matches(RECREATED).count(),
        1,
        "logged once:\n{}",
        finished.stdout
    );
    let before_restart = patches(&fake, APP).len();

    let second = Daemon::run(BIN, &config);
    second
        .wait_for_line(&["restored the saved state", "target=5"], 20 * SECOND)
        .await;
    second.wait_for_line(&["started"], START).await;
    let seen = server.hits().len();
    second
        .wait_until("ten probes after the restart", 15 * SECOND, || {
            (server.hits().len() >= seen + 10).then_some(())
        })
        .await;
    assert_eq!(fake.quantity(APP, "web"), Some(5));
    assert!(
        patches(&fake, APP)[before_restart..].is_empty(),
        "no formation update after the restart: {:?}",
        patches(&fake, APP)
    );
    assert_eq!(
        mails_with(&mail, "web: down ("),
        1,
        "no second outage email"
    );
    let finished = second.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    eprintln!("the deleted database was recreated {noticed_after:?} after the rm");
}
