//! Runs that end by themselves: fatal starts, `check` and `plan`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use heroku_fake::FakeHeroku;

use super::harness::{
    API_KEY, Alerts, AppConfig, BIN, Daemon, SMTP_PASSWORD, write_config, write_file,
};

const WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_api_key_stops_the_start_with_status_1() {
    let fake = FakeHeroku::start("another-accounts-token").await.unwrap();
    fake.set_formation("e2e-key", "web", 1);
    let config = write_config(
        &fake.url(),
        &[AppConfig::new("e2e-key")],
        &Alerts::default(),
    );

    let finished = Daemon::run(BIN, &config).finish(WITHIN).await;
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished
            .stderr
            .contains("Heroku rejected the API key for app \"e2e-key\""),
        "{}",
        finished.stderr
    );
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "nothing was changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_app_stops_the_start_with_status_1() {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation("e2e-known", "web", 1);
    let apps = [AppConfig::new("e2e-known"), AppConfig::new("e2e-nowhere")];
    let config = write_config(&fake.url(), &apps, &Alerts::default());

    let finished = Daemon::run(BIN, &config).finish(WITHIN).await;
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished
            .stderr
            .contains("app \"e2e-nowhere\" was not found"),
        "{}",
        finished.stderr
    );
}

/// A process type the app does not have (a typo, or one dropped from the Procfile) is refused
/// loudly: `run` exits 1 and `check --online` 2, each naming the types the app does have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_process_type_stops_the_start_with_1_and_check_online_with_2() {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    // The config scales `web`; the app only has a `worker`.
    fake.set_formation("e2e-noweb", "worker", 1);
    let config = write_config(
        &fake.url(),
        &[AppConfig::new("e2e-noweb")],
        &Alerts::default(),
    );
    let said = "app \"e2e-noweb\" has no process type \"web\" (its formation has: worker); check the process type in the config and the app's Procfile";

    let finished = Daemon::run(BIN, &config).finish(WITHIN).await;
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(finished.stderr.contains(said), "{}", finished.stderr);

    // Heroku slow to answer: the start goes on probing meanwhile, and the answer still ends it.
    fake.delay_next(1, std::time::Duration::from_secs(2));
    let finished = Daemon::run(BIN, &config).finish(WITHIN).await;
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished
            .stdout
            .contains("Heroku's API has not answered yet"),
        "{}",
        finished.stdout
    );
    assert!(finished.stderr.contains(said), "{}", finished.stderr);

    let path = config.to_str().unwrap();
    let checked = Daemon::spawn(BIN, &["--config", path, "check", "--online"])
        .finish(WITHIN)
        .await;
    assert_eq!(checked.status.code(), Some(2), "{checked:?}");
    assert!(
        checked.stderr.contains("online check failed") && checked.stderr.contains(said),
        "{}",
        checked.stderr
    );
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "nothing was changed"
    );
}

#[tokio::test]
async fn check_names_the_key_of_every_problem_and_exits_2() {
    let config = write_file(
        "toml",
        &format!(
            r#"
[heroku]
api_key = "{API_KEY}"

[[apps]]
name = "e2e-bad"
min = 3
max = 2
mxa = 4
timezone = "Mars/Olympus_Mons"
schedule = [
  {{ cron = "61 * * * *", quantity = 2 }},
  {{ cron = "0 7 * * *", quantity = 9 }},
]

[apps.probe]
url = "ftp://example.com/"
interval = "1s"
timeout = "5s"
slow = "1s"
fast = "2s"

[alerts.email]
smtp_url = "smtp://{}:{SMTP_PASSWORD}@127.0.0.1:25"
from = "autoscaled <alerts@example.com>"
to = ["not an address"]
"#,
            super::harness::SMTP_USER
        ),
    );
    let finished = Daemon::spawn(BIN, &["--config", config.to_str().unwrap(), "check"])
        .finish(WITHIN)
        .await;
    assert_eq!(finished.status.code(), Some(2), "{finished:?}");
    for key in [
        "apps[0].min:",
        "apps[0].mxa:",
        "apps[0].timezone:",
        "apps[0].schedule[0].cron:",
        "apps[0].schedule[1].quantity:",
        "apps[0].probe.url:",
        "apps[0].probe.fast:",
        "apps[0].probe.timeout:",
        "alerts.email.to[0]:",
    ] {
        assert!(
            finished.stderr.contains(key),
            "no message for {key}:\n{}",
            finished.stderr
        );
    }
    assert!(
        finished.stderr.contains("\"Mars/Olympus_Mons\""),
        "the bad value is shown: {}",
        finished.stderr
    );
}

#[tokio::test]
async fn check_accepts_a_valid_config_and_shows_the_key_redacted() {
    let config = write_config(
        "http://127.0.0.1:9",
        &[AppConfig::new("e2e-good")],
        &Alerts::default(),
    );
    let finished = Daemon::spawn(BIN, &["--config", config.to_str().unwrap(), "check"])
        .finish(WITHIN)
        .await;
    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
    assert!(
        finished.stdout.contains("[redacted]"),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.contains("e2e-good web"),
        "{}",
        finished.stdout
    );
}

/// On a dyno, an SQLite file is wiped at every restart: `check` says so, and so does `run` at
/// start, before anything else (the API is not even reachable here).
#[tokio::test]
async fn on_a_dyno_with_sqlite_check_and_run_warn_that_the_state_would_be_lost() {
    let config = write_config(
        "http://127.0.0.1:9",
        &[AppConfig::new("e2e-dyno")],
        &Alerts::default(),
    );
    let path = config.to_str().unwrap();
    let dyno: [(&str, &std::ffi::OsStr); 1] = [("DYNO", "clock.1".as_ref())];
    let check = Daemon::spawn_with_env(BIN, &["--config", path, "check"], &dyno)
        .finish(WITHIN)
        .await;
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    assert!(
        check
            .stdout
            .contains("warning: running on a Heroku dyno (DYNO is set) with an SQLite file"),
        "{}",
        check.stdout
    );

    let run = Daemon::spawn_with_env(BIN, &["--config", path, "run"], &dyno);
    let line = run
        .wait_for_line(
            &["WARN", "DYNO is set", "SQLite", "attach Heroku Postgres"],
            WITHIN,
        )
        .await;
    assert!(line.contains("sqlite://"), "the file is named: {line}");
    run.stop().await;

    // Off a dyno, nothing to warn about.
    let quiet = Daemon::spawn(BIN, &["--config", path, "run"]);
    quiet.wait_for_line(&["state database open"], WITHIN).await;
    let finished = quiet.stop().await;
    assert!(
        !finished.stdout.contains("DYNO is set"),
        "{}",
        finished.stdout
    );
}

/// A probe config whose URL carries a password and whose header a token.
fn probe_with_secrets(url: &str) -> std::path::PathBuf {
    write_file(
        "toml",
        &format!(
            r#"
[heroku]
api_key = "{API_KEY}"
api_url = "http://127.0.0.1:9"

[[apps]]
name = "e2e-secrets"
min = 1
max = 2

[apps.probe]
url = "{url}"
headers = {{ Authorization = "Bearer t0k3n" }}
"#
        ),
    )
}

#[tokio::test]
async fn check_shows_neither_the_probe_password_nor_its_header_values() {
    let config = probe_with_secrets("https://user:s3cret@my-app.example.com/health");
    let finished = Daemon::spawn(BIN, &["--config", config.to_str().unwrap(), "check"])
        .finish(WITHIN)
        .await;
    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
    let shown = format!("{}{}", finished.stdout, finished.stderr);
    for secret in ["s3cret", "t0k3n"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    for expected in [
        "GET https://user:[redacted]@my-app.example.com/health",
        "Authorization: [redacted]",
    ] {
        assert!(shown.contains(expected), "no {expected:?} in:\n{shown}");
    }

    // Not a URL: the message names the key and what is expected, and does not echo the value.
    let config = probe_with_secrets("user:s3cret@my-app.example.com");
    let finished = Daemon::spawn(BIN, &["--config", config.to_str().unwrap(), "check"])
        .finish(WITHIN)
        .await;
    assert_eq!(finished.status.code(), Some(2), "{finished:?}");
    let shown = format!("{}{}", finished.stdout, finished.stderr);
    assert!(
        !shown.contains("s3cret") && !shown.contains("t0k3n"),
        "{shown}"
    );
    assert!(
        shown.contains("apps[0].probe.url:")
            && shown.contains("expected an http:// or https:// URL"),
        "{shown}"
    );
}

#[tokio::test]
async fn plan_json_lists_the_baseline_and_its_changes() {
    let mut app = AppConfig::new("e2e-plan");
    app.max = 3;
    app.schedule = vec![("0 7 * * *", 3), ("0 22 * * *", 2), ("0 3 * * *", 1)];
    let config = write_config("http://127.0.0.1:9", &[app], &Alerts::default());
    let args = [
        "--config",
        config.to_str().unwrap(),
        "plan",
        "--json",
        "--at",
        "2026-12-24T12:00:00Z",
        "--days",
        "1",
    ];
    let finished = Daemon::spawn(BIN, &args).finish(WITHIN).await;
    assert_eq!(finished.status.code(), Some(0), "{finished:?}");

    let plan: serde_json::Value = serde_json::from_str(&finished.stdout).unwrap();
    let apps = plan["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["app"], "e2e-plan");
    assert_eq!(apps[0]["process"], "web");
    assert_eq!(apps[0]["quantity"], 3);
    let changes: Vec<(DateTime<Utc>, u64)> = apps[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["at"].as_str().unwrap().parse().unwrap(),
                c["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    assert_eq!(
        changes,
        [
            (at("2026-12-24T22:00:00Z"), 2),
            (at("2026-12-25T03:00:00Z"), 1),
            (at("2026-12-25T07:00:00Z"), 3)
        ]
    );
    for change in apps[0]["changes"].as_array().unwrap() {
        assert!(
            change["at"].as_str().unwrap().ends_with('Z'),
            "UTC: {change}"
        );
    }
    // 10 h at 3, 5 h at 2, 4 h at 1, 5 h at 3, on Standard-1X ($25 a month of 720 h), to the cent.
    assert_eq!(apps[0]["dyno_hours"], 59.0);
    assert_eq!(apps[0]["cost"], 2.05);
    assert_eq!(apps[0]["saved_dyno_hours"], 13.0);
    assert_eq!(apps[0]["saved_cost"], 0.45);
}

#[tokio::test]
async fn a_probe_the_prober_would_refuse_is_a_config_error() {
    // Every key is well-formed for the config's own checks, but an HTTP header value may hold no
    // control character: the prober refuses this one, and the app would have run without its
    // fail-safe.
    let config = write_file(
        "toml",
        &format!(
            r#"
[heroku]
api_key = "{API_KEY}"
api_url = "http://127.0.0.1:9"

[[apps]]
name = "e2e-badheader"
min = 1
max = 2

[apps.probe]
url = "http://127.0.0.1:9/"
headers = {{ X-Token = "s3cr3t\u0007bell" }}
"#
        ),
    );
    for command in ["check", "run"] {
        let finished = Daemon::spawn(BIN, &["--config", config.to_str().unwrap(), command])
            .finish(WITHIN)
            .await;
        assert_eq!(finished.status.code(), Some(2), "{command}: {finished:?}");
        assert!(
            finished.stderr.contains("apps[0].probe.headers.X-Token:"),
            "{command}: {}",
            finished.stderr
        );
        assert!(!finished.stderr.contains("s3cr3t"), "{}", finished.stderr);
    }
}
