use notify::SmsSender;

use super::*;

const GOOD: &str = r#"
[heroku]
api_key = "01234567-89ab-4cde-8f01-23456789abcd"

[[apps]]
name = "my-app"
min = 1
max = 3
schedule = [
  { cron = "0 7 * * *",  quantity = 3 },
  { cron = "0 22 * * *", quantity = 2 },
  { cron = "0 3 * * *",  quantity = 1 },
]

[apps.probe]
url = "https://my-app.herokuapp.com/"
"#;

fn write(text: &str) -> (tempdir::Dir, PathBuf) {
    let dir = tempdir::Dir::new();
    let path = dir.path().join("autoscaled.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let (_dir, path) = write(text);
    Config::load_with_env(
        &path,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

fn problems(text: &str) -> Vec<Problem> {
    match load(text, &[]) {
        Err(ConfigError::Invalid(problems)) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

/// A tiny temp dir so the tests need no extra crate.
mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub(super) struct Dir(PathBuf);
    impl Dir {
        pub(super) fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "autoscaled-config-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
        pub(super) fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let config = load(GOOD, &[]).unwrap();
    let app = &config.apps[0];
    assert_eq!(
        (app.process.as_str(), app.step, app.timezone),
        ("web", 1, Tz::UTC)
    );
    assert_eq!(app.scale_out_cooldown, Duration::from_secs(120));
    assert_eq!(app.reconcile, Duration::from_secs(300));
    let probe = app.probe.as_ref().unwrap();
    assert_eq!(
        (
            probe.interval,
            probe.timeout,
            probe.slow,
            probe.fast,
            probe.failures,
            probe.calm
        ),
        (
            Duration::from_secs(30),
            Duration::from_secs(10),
            Duration::from_secs(5),
            Duration::from_secs(1),
            2,
            Duration::from_secs(600)
        )
    );
    assert_eq!(config.heroku.api_url.as_str(), "https://api.heroku.com/");
    assert_eq!(config.alerts.alert_every, Duration::from_secs(1800));
}

#[test]
fn environment_overrides_the_file_and_heroku_api_key_wins() {
    let config = load(
        GOOD,
        &[
            ("AUTOSCALED__APPS__0__MAX", "5"),
            ("AUTOSCALED__APPS__0__PROBE__CALM", "3m"),
            ("HEROKU_API_KEY", "from-env"),
        ],
    )
    .unwrap();
    assert_eq!(config.apps[0].max, 5);
    assert_eq!(
        config.apps[0].probe.as_ref().unwrap().calm,
        Duration::from_secs(180)
    );
    assert_eq!(config.heroku.api_key.expose(), "from-env");
}

#[test]
fn twilio_variables_fill_only_a_declared_sms_section() {
    let config = load(GOOD, &[("TWILIO_AUTH_TOKEN", "tok")]).unwrap();
    assert!(config.alerts.sms.is_none());
}

#[test]
fn every_problem_is_reported_at_once_with_its_key() {
    let text = GOOD
        .replace("min = 1", "mni = 1\nmin = 4")
        .replace("0 3 * * *", "0 3 * *")
        .replace("quantity = 2", "quantity = -2")
        .replace("https://my-app", "ftp://my-app");
    let keys: Vec<String> = problems(&text).into_iter().map(|p| p.key).collect();
    for expected in [
        "apps[0].mni",
        "apps[0].min",
        "apps[0].schedule[1].quantity",
        "apps[0].schedule[2].cron",
        "apps[0].probe.url",
    ] {
        assert!(
            keys.iter().any(|k| k == expected),
            "{expected} missing from {keys:?}"
        );
    }
}

#[test]
fn messages_name_the_value_and_what_is_expected() {
    let text = GOOD
        .replace("timezone", "")
        .replace("max = 3", "max = 3\ntimezone = \"Mars/Olympus\"");
    let problem = problems(&text)
        .into_iter()
        .find(|p| p.key == "apps[0].timezone")
        .unwrap();
    assert!(
        problem.message.contains("Mars/Olympus") && problem.message.contains("IANA"),
        "{problem}"
    );
}

#[test]
fn probe_thresholds_must_be_ordered() {
    let text = GOOD.replace(
            "url = \"https://my-app.herokuapp.com/\"",
            "url = \"https://my-app.herokuapp.com/\"\nfast = \"5s\"\nslow = \"5s\"\ntimeout = \"30s\"\ninterval = \"30s\"",
        );
    let keys: Vec<String> = problems(&text).into_iter().map(|p| p.key).collect();
    assert!(keys.contains(&"apps[0].probe.fast".to_owned()), "{keys:?}");
    assert!(
        keys.contains(&"apps[0].probe.timeout".to_owned()),
        "{keys:?}"
    );
}

#[test]
fn traffic_settings_are_checked_and_default_their_utilisation() {
    let base = "[heroku]\napi_key = \"k\"\n[[apps]]\nname = \"a\"\nmin = 1\nmax = 3\n";
    let config = load(&format!("{base}[apps.traffic]\nconcurrency = 4\n"), &[]).unwrap();
    let traffic = config.apps[0].traffic.unwrap();
    assert_eq!((traffic.concurrency, traffic.utilisation), (4, 0.8));
    let policy = config.apps[0].policy().traffic.unwrap();
    assert_eq!((policy.concurrency, policy.utilisation), (4, 0.8));
    assert!(load(base, &[]).unwrap().apps[0].traffic.is_none());

    let bad = problems(&format!(
        "{base}[apps.traffic]\nconcurrency = 0\nutilisation = 1.5\nthreads = 5\n"
    ));
    let shown: Vec<String> = bad.iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("apps[0].traffic.concurrency: 0 is not valid")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(
            |p| p.starts_with("apps[0].traffic.utilisation: 1.5 is not valid")
                && p.contains("at most 1")
        ),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("apps[0].traffic.threads: unknown key")),
        "{shown:?}"
    );
    let missing = problems(&format!("{base}[apps.traffic]\nutilisation = 0.5\n"));
    assert_eq!(missing[0].key, "apps[0].traffic.concurrency", "{missing:?}");
}

#[test]
fn the_router_lines_health_thresholds_default_and_are_checked() {
    let base = "[heroku]\napi_key = \"k\"\n[[apps]]\nname = \"a\"\nmin = 1\nmax = 3\n";
    let config = load(&format!("{base}[apps.traffic]\nconcurrency = 4\n"), &[]).unwrap();
    let policy = config.apps[0].policy().traffic.unwrap();
    assert_eq!(
        (
            policy.down_window,
            policy.down_min_requests,
            policy.down_share
        ),
        (std::time::Duration::from_secs(10), 10, 0.9)
    );
    let set = load(
        &format!(
            "{base}[apps.traffic]\nconcurrency = 4\ndown_window = \"20s\"\ndown_min_requests = 50\ndown_share = 0.95\n"
        ),
        &[],
    )
    .unwrap();
    let policy = set.apps[0].policy().traffic.unwrap();
    assert_eq!(
        (
            policy.down_window,
            policy.down_min_requests,
            policy.down_share
        ),
        (std::time::Duration::from_secs(20), 50, 0.95)
    );
    let bad = problems(&format!(
        "{base}[apps.traffic]\nconcurrency = 4\ndown_window = \"90s\"\ndown_min_requests = 0\ndown_share = 0\n"
    ));
    let shown: Vec<String> = bad.iter().map(ToString::to_string).collect();
    for key in ["down_window", "down_min_requests", "down_share"] {
        assert!(
            shown
                .iter()
                .any(|p| p.starts_with(&format!("apps[0].traffic.{key}: "))),
            "{key}: {shown:?}"
        );
    }
    assert!(
        shown
            .iter()
            .any(|p| p.contains("1m 30s") && p.contains("1s to 60s")),
        "{shown:?}"
    );
}

#[test]
fn a_missing_api_key_is_refused() {
    let text = GOOD.replace("api_key = \"01234567-89ab-4cde-8f01-23456789abcd\"", "");
    let problems = problems(&text);
    assert!(
        problems.iter().any(|p| p.key == "heroku.api_key"),
        "{problems:?}"
    );
}

#[test]
fn secrets_are_never_echoed() {
    let text = GOOD.replace(
            "[[apps]]",
            "[alerts.email]\nsmtp_url = \"gopher://user:hunter2@smtp.example.com\"\nfrom = \"a@b\"\nto = [\"nobody\"]\n\n[[apps]]",
        );
    let shown = ConfigError::Invalid(problems(&text)).to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("alerts.email.smtp_url") && shown.contains("alerts.email.to[0]"),
        "{shown}"
    );
    let config = load(GOOD, &[]).unwrap();
    assert!(!format!("{config:?}").contains("01234567-89ab"));
}

#[test]
fn sms_takes_exactly_one_sender() {
    let sms = "[alerts.sms]\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"t\"\nto = [\"+15555550100\"]\n";
    let both = format!(
        "{sms}from = \"+15005550006\"\nmessaging_service_sid = \"MG0123456789abcdef0123456789abcdef\"\n"
    );
    let text = GOOD.replace("[[apps]]", &format!("{both}\n[[apps]]"));
    assert!(problems(&text).iter().any(|p| p.key == "alerts.sms.from"));
    let one = format!("{sms}from = \"+15005550006\"\n");
    let config = load(&GOOD.replace("[[apps]]", &format!("{one}\n[[apps]]")), &[]).unwrap();
    assert_eq!(
        config.alerts.sms.unwrap().sender,
        SmsSender::From("+15005550006".into())
    );
}

#[test]
fn probe_secrets_show_neither_in_debug_nor_in_problems() {
    let text = GOOD.replace(
            "url = \"https://my-app.herokuapp.com/\"",
            "url = \"https://user:s3cret@my-app.herokuapp.com/?key=k3y\"\nheaders = { Authorization = \"Bearer t0k3n\" }",
        );
    let config = load(&text, &[]).unwrap();
    let shown = format!("{:?} {:#?}", config.apps[0].probe, config);
    for secret in ["s3cret", "k3y", "t0k3n"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(
        shown.contains("Authorization") && shown.contains("user:[redacted]@"),
        "{shown}"
    );

    for (url, seen) in [
        ("ftp://user:s3cret@my-app.herokuapp.com/", "scheme \"ftp\""),
        ("https://user:s3cret@", "not a URL"),
        ("user:s3cret", "scheme \"user\""),
    ] {
        let text = GOOD.replace("https://my-app.herokuapp.com/", url);
        let problems = problems(&text);
        let problem = problems
            .iter()
            .find(|p| p.key == "apps[0].probe.url")
            .unwrap_or_else(|| panic!("no problem with {url}: {problems:?}"));
        assert!(!problem.message.contains("s3cret"), "{problem:?}");
        assert!(problem.message.contains(seen), "{problem:?}");
        assert!(
            problem
                .message
                .contains("expected an http:// or https:// URL"),
            "{problem:?}"
        );
    }
    let text = GOOD.replace(
        "url = \"https://my-app.herokuapp.com/\"",
        "url = \"https://my-app.herokuapp.com/\"\nheaders = \"Bearer t0k3n\"",
    );
    let shown = format!("{:?}", problems(&text));
    assert!(
        shown.contains("apps[0].probe.headers") && !shown.contains("t0k3n"),
        "{shown}"
    );
}

#[test]
fn override_keys_map_indices() {
    assert_eq!(
        override_key("AUTOSCALED__APPS__0__PROBE__URL").as_deref(),
        Some("apps[0].probe.url")
    );
    assert_eq!(
        override_key("AUTOSCALED__HEROKU__API_KEY").as_deref(),
        Some("heroku.api_key")
    );
    assert_eq!(override_key("AUTOSCALED_CONFIG"), None);
}

#[test]
fn the_drain_password_comes_from_the_file_or_its_variable_which_wins() {
    let text = format!(
        "{GOOD}\n[http]\nlisten = \"127.0.0.1:9797\"\ndrain_password = \"from-the-file\"\n"
    );
    let config = load(&text, &[]).unwrap();
    assert_eq!(
        config.http.drain_password.as_ref().map(Secret::expose),
        Some("from-the-file")
    );
    let config = load(&text, &[(DRAIN_PASSWORD_ENV, "from-the-env")]).unwrap();
    assert_eq!(
        config.http.drain_password.as_ref().map(Secret::expose),
        Some("from-the-env")
    );
    assert!(!format!("{config:?}").contains("from-the-env"));
    let config = load(GOOD, &[]).unwrap();
    assert!(config.http.drain_password.is_none(), "off unless set");
    let empty = format!("{GOOD}\n[http]\ndrain_password = \"\"\n");
    let problems = problems(&empty);
    assert!(
        problems.iter().any(|p| p.key == "http.drain_password"),
        "{problems:?}"
    );
}

#[test]
fn a_public_listener_needs_a_password() {
    let text = format!("{GOOD}\n[http]\nlisten = \"0.0.0.0:9797\"\n");
    assert!(problems(&text).iter().any(|p| p.key == "http.password"));
}

#[test]
fn state_url_defaults_to_sqlite_and_database_url_wins() {
    let config = load(GOOD, &[]).unwrap();
    assert_eq!(config.state.url.expose(), store::DEFAULT_URL);
    let text = format!("{GOOD}\n[state]\nurl = \"sqlite:///tmp/x.db\"\n");
    let config = load(&text, &[]).unwrap();
    assert_eq!(config.state.url.expose(), "sqlite:///tmp/x.db");
    let config = load(&text, &[("DATABASE_URL", "postgres://u:hunter2@db:5432/d")]).unwrap();
    assert_eq!(config.state.shown(), "postgres://u:[redacted]@db:5432/d");
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn a_bad_state_url_names_the_key_and_hides_the_password() {
    let text = format!("{GOOD}\n[state]\nurl = \"mysql://u:hunter2@db/d\"\n");
    let found = problems(&text);
    let problem = found.iter().find(|p| p.key == "state.url").unwrap();
    assert!(
        problem.message.contains("mysql://u:[redacted]@db/d"),
        "{problem:?}"
    );
    assert!(
        problem.message.contains("expected sqlite://PATH"),
        "{problem:?}"
    );
    assert!(!problem.message.contains("hunter2"));
    let text = format!("{GOOD}\n[state]\nurl = \"sqlite://x.db\"\nuri = 1\n");
    let found = problems(&text);
    let problem = found.iter().find(|p| p.key == "state.uri").unwrap();
    assert!(
        problem
            .message
            .contains("expected one of: url, lease, lease_round"),
        "{problem:?}"
    );
}

#[test]
fn leases_default_to_10_s_renewed_every_2_s_and_must_outlive_three_rounds() {
    let config = load(GOOD, &[]).unwrap();
    assert_eq!(config.state.lease, Duration::from_secs(10));
    assert_eq!(config.state.lease_round, Duration::from_secs(2));
    let text = format!("{GOOD}\n[state]\nlease = \"4s\"\nlease_round = \"1s\"\n");
    let config = load(&text, &[]).unwrap();
    assert_eq!(config.state.lease, Duration::from_secs(4));
    assert_eq!(config.state.lease_round, Duration::from_secs(1));

    let text = format!("{GOOD}\n[state]\nlease = \"5s\"\n");
    let found = problems(&text);
    let problem = found.iter().find(|p| p.key == "state.lease").unwrap();
    assert!(
        problem
            .message
            .contains("5s is too short for lease_round (2s)")
            && problem
                .message
                .contains("expected at least 3 × lease_round"),
        "{problem:?}"
    );
    let text = format!("{GOOD}\n[state]\nlease_round = \"0s\"\n");
    assert!(problems(&text).iter().any(|p| p.key == "state.lease_round"));
}

#[test]
fn the_listener_limits_have_defaults_and_refuse_nonsense() {
    let config = load(GOOD, &[]).unwrap();
    assert_eq!(config.http.head_timeout, Duration::from_secs(5));
    assert_eq!(config.http.body_timeout, Duration::from_secs(10));
    assert_eq!(config.http.idle_timeout, Duration::from_secs(30));
    assert_eq!(
        config.http.max_connections, None,
        "derived from the open-files limit"
    );
    let text = format!(
        "{GOOD}\n[http]\nhead_timeout = \"2s\"\nbody_timeout = \"20s\"\nidle_timeout = \"1m\"\nmax_connections = 300\n"
    );
    let config = load(&text, &[]).unwrap();
    assert_eq!(config.http.head_timeout, Duration::from_secs(2));
    assert_eq!(config.http.body_timeout, Duration::from_secs(20));
    assert_eq!(config.http.idle_timeout, Duration::from_secs(60));
    assert_eq!(config.http.max_connections, Some(300));
    for (key, value) in [
        ("head_timeout", "\"0s\""),
        ("idle_timeout", "\"soon\""),
        ("max_connections", "0"),
        ("max_connections", "-3"),
        ("max_connections", "\"many\""),
    ] {
        let text = format!("{GOOD}\n[http]\n{key} = {value}\n");
        let problems = problems(&text);
        let problem = problems
            .iter()
            .find(|p| p.key == format!("http.{key}"))
            .unwrap_or_else(|| panic!("{key} = {value}: {problems:?}"));
        assert!(problem.message.contains("expected"), "{problem:?}");
    }
}

#[test]
fn queue_settings_default_their_rhythms_and_keep_a_literal_url_secret() {
    let base = "[heroku]\napi_key = \"k\"\n[[apps]]\nname = \"a\"\nprocess = \"worker\"\nmin = 0\nmax = 8\n";
    let config = load(
        &format!("{base}[apps.queue]\nbackend = \"sidekiq\"\nurl_env = \"MY_APP_REDIS_URL\"\nqueues = [\"default\", \"mailers\"]\nconcurrency = 10\n"),
        &[],
    )
    .unwrap();
    let queue = config.apps[0].queue.as_ref().unwrap();
    let policy = queue.policy();
    assert_eq!(
        (
            policy.latency,
            policy.concurrency,
            policy.poll,
            policy.calm,
            policy.stuck_after
        ),
        (
            Duration::from_secs(30),
            10,
            Duration::from_secs(10),
            Duration::from_secs(600),
            Duration::from_secs(300)
        )
    );
    assert_eq!(
        queue.source(),
        "sidekiq: default, mailers from $MY_APP_REDIS_URL"
    );
    assert!(load(base, &[]).unwrap().apps[0].queue.is_none());

    let url = "redis://:hunter2-secret@redis.example.com:6379/0";
    let config = load(
        &format!("{base}[apps.queue]\nbackend = \"rq\"\nurl = \"{url}\"\nconcurrency = 1\nlatency = \"1m\"\n"),
        &[],
    )
    .unwrap();
    let queue = config.apps[0].queue.as_ref().unwrap();
    for shown in [format!("{config:?}"), queue.source()] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    assert_eq!(queue.source(), "rq: every queue from url [redacted]");
}

#[test]
fn bad_queue_settings_are_named_by_key_value_and_what_is_expected() {
    let base = "[heroku]\napi_key = \"k\"\n[[apps]]\nname = \"a\"\nprocess = \"worker\"\nmin = 0\nmax = 8\n";
    let bad = problems(&format!(
        "{base}[apps.queue]\nbackend = \"kafka\"\nurl = \"mysql://u:hunter2@db/q\"\nqueues = []\nconcurrency = 0\nlatency = \"soon\"\nbatch = 5\n"
    ));
    let shown: Vec<String> = bad.iter().map(ToString::to_string).collect();
    let has = |prefix: &str, also: &str| {
        shown
            .iter()
            .any(|p| p.starts_with(prefix) && p.contains(also))
    };
    assert!(
        has(
            "apps[0].queue.backend: \"kafka\" is not valid",
            "sidekiq, rq"
        ),
        "{shown:?}"
    );
    assert!(
        has("apps[0].queue.url: [redacted] is not valid", "redis://"),
        "{shown:?}"
    );
    assert!(
        has("apps[0].queue.queues: [] is not valid", "queue names"),
        "{shown:?}"
    );
    assert!(
        has("apps[0].queue.concurrency: 0 is not valid", "1 or more"),
        "{shown:?}"
    );
    assert!(
        has("apps[0].queue.latency: \"soon\" is not valid", "duration"),
        "{shown:?}"
    );
    assert!(
        has("apps[0].queue.batch: unknown key", "stuck_after"),
        "{shown:?}"
    );
    assert!(!shown.iter().any(|p| p.contains("hunter2")), "{shown:?}");

    let missing = problems(&format!("{base}[apps.queue]\nbackend = \"oban\"\n"));
    let keys: Vec<&str> = missing.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["apps[0].queue.url_env", "apps[0].queue.concurrency"],
        "{missing:?}"
    );

    let both = problems(&format!(
        "{base}[apps.queue]\nbackend = \"que\"\nurl_env = \"DB\"\nurl = \"postgres://db/q\"\nconcurrency = 2\npoll = \"1m\"\n"
    ));
    let shown: Vec<String> = both.iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("apps[0].queue.url: set either url_env")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("apps[0].queue.poll: 1m is not below latency (30s)")),
        "{shown:?}"
    );
    assert!(
        !shown.iter().any(|p| p.contains("postgres://")),
        "{shown:?}"
    );
}

#[test]
fn a_queue_prefix_is_what_the_backend_takes() {
    let base = "[heroku]\napi_key = \"k\"\n[[apps]]\nname = \"a\"\nprocess = \"worker\"\nmin = 0\nmax = 8\n[apps.queue]\nurl_env = \"DB\"\nconcurrency = 2\nqueues = [\"default\"]\n";
    for (backend, prefix) in [
        ("bullmq", "myapp"),
        ("resque", "resque:myapp"),
        ("sidekiq", "myapp"),
        ("celery", "myapp:"),
        ("oban", "private"),
        ("river", "jobs"),
        ("delayed_job", "app_"),
    ] {
        let config = load(
            &format!("{base}backend = \"{backend}\"\nprefix = \"{prefix}\"\n"),
            &[],
        )
        .unwrap_or_else(|error| panic!("{backend} {prefix}: {error}"));
        let queue = config.apps[0].queue.as_ref().unwrap();
        assert_eq!(queue.prefix.as_deref(), Some(prefix), "{backend}");
    }
    let plain = load(&format!("{base}backend = \"bullmq\"\n"), &[]).unwrap();
    assert_eq!(plain.apps[0].queue.as_ref().unwrap().prefix, None);

    for (backend, prefix, shown, expected) in [
        (
            "rq",
            "\"rq2\"",
            "\"rq2\"",
            "RQ's keys always start with rq:",
        ),
        ("good_job", "\"jobs\"", "\"jobs\"", "fixed names"),
        (
            "oban",
            "\"public; DROP TABLE oban_jobs\"",
            "\"public; DROP TABLE oban_jobs\"",
            "a plain PostgreSQL schema name",
        ),
        ("bullmq", "\"\"", "\"\"", "non-empty key prefix"),
        ("bullmq", "7", "7", "a string"),
    ] {
        let bad = problems(&format!(
            "{base}backend = \"{backend}\"\nprefix = {prefix}\n"
        ));
        let shown_problems: Vec<String> = bad.iter().map(ToString::to_string).collect();
        assert!(
            shown_problems.iter().any(|p| p.starts_with(&format!(
                "apps[0].queue.prefix: {shown} is not valid: expected"
            )) && p.contains(expected)),
            "{backend} {prefix}: {shown_problems:?}"
        );
    }
}
