//! Config files for the `autoscaled` binary under test, and the credentials they hold (each one a
//! string that must never reach the binary's output).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;

/// The Heroku API key of every config written here.
pub const API_KEY: &str = "hk-e2e-api-key-never-shown-7f3a";
/// The SMTP user of the configs' email alerts.
pub const SMTP_USER: &str = "alerts";
/// The SMTP password of the configs' email alerts.
pub const SMTP_PASSWORD: &str = "smtp-e2e-pass-never-shown-91c2";
/// The Twilio auth token of the configs' SMS alerts.
pub const TWILIO_TOKEN: &str = "tw-e2e-token-never-shown-55d0";
/// The Twilio account of the configs' SMS alerts.
pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
/// Where email alerts go.
pub const MAIL_TO: &str = "ops@example.com";
/// Where SMS alerts go.
pub const SMS_TO: &str = "+15555550100";

/// The probe section of an app.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// `url`.
    pub url: String,
    /// `interval`.
    pub interval: &'static str,
    /// `timeout`.
    pub timeout: &'static str,
    /// `slow`.
    pub slow: &'static str,
    /// `fast`.
    pub fast: &'static str,
    /// `calm`.
    pub calm: &'static str,
    /// `failures`.
    pub failures: u32,
}

impl ProbeConfig {
    /// Short enough that every scenario takes seconds; `slow` and `fast` sit either side of the app
    /// server's answers with room for a loaded machine: a fast answer (a loopback round trip) may
    /// take 80 ms before it counts as anything else, a slow one ([`crate::SLOW_RESPONSE`]) 80 ms
    /// more before it times out.
    pub fn quick(url: String) -> ProbeConfig {
        ProbeConfig {
            url,
            interval: "300ms",
            timeout: "250ms",
            slow: "120ms",
            fast: "80ms",
            calm: "2s",
            failures: 2,
        }
    }
}

/// One `[[apps]]` table.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// `name`.
    pub name: String,
    /// `min`.
    pub min: u32,
    /// `max`.
    pub max: u32,
    /// (cron, quantity) rules.
    pub schedule: Vec<(&'static str, u32)>,
    /// `[apps.probe]`, if probed.
    pub probe: Option<ProbeConfig>,
    /// `reconcile`.
    pub reconcile: &'static str,
}

impl AppConfig {
    /// 1 to 3 dynos, no schedule (the baseline is `min`), no probe, reconciled every second.
    pub fn new(name: &str) -> AppConfig {
        AppConfig {
            name: name.to_owned(),
            min: 1,
            max: 3,
            schedule: vec![],
            probe: None,
            reconcile: "1s",
        }
    }
}

/// Where alerts go.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    /// An SMTP server on this loopback port, logged into as [`SMTP_USER`].
    pub smtp_port: Option<u16>,
    /// A Twilio API at this base URL.
    pub twilio_url: Option<String>,
}

/// Writes a config file for `apps` against the API at `heroku_url`, its state in a fresh SQLite
/// file of its own (so that tests never share, nor lock each other out of, a database), and
/// returns its path.
pub fn write_config(heroku_url: &str, apps: &[AppConfig], alerts: &Alerts) -> PathBuf {
    write_config_with_state(heroku_url, apps, alerts, &temp_sqlite_url())
}

/// A `sqlite://` URL of a fresh file (not created) under the system's temporary directory.
pub fn temp_sqlite_url() -> String {
    let path = write_file("db", "");
    std::fs::remove_file(&path).unwrap();
    format!("sqlite://{}", path.display())
}

/// [`write_config`] with `[state] url = state_url`.
pub fn write_config_with_state(
    heroku_url: &str,
    apps: &[AppConfig],
    alerts: &Alerts,
    state_url: &str,
) -> PathBuf {
    let mut toml = format!("[heroku]\napi_key = \"{API_KEY}\"\napi_url = \"{heroku_url}\"\n");
    for app in apps {
        toml += &format!(
            "\n[[apps]]\nname = \"{}\"\nmin = {}\nmax = {}\nscale_out_cooldown = \"1s\"\nreconcile = \"{}\"\n",
            app.name, app.min, app.max, app.reconcile
        );
        let rules: Vec<String> = app
            .schedule
            .iter()
            .map(|(cron, q)| format!("{{ cron = \"{cron}\", quantity = {q} }}"))
            .collect();
        toml += &format!("schedule = [{}]\n", rules.join(", "));
        if let Some(p) = &app.probe {
            toml += &format!(
                "[apps.probe]\nurl = \"{}\"\ninterval = \"{}\"\ntimeout = \"{}\"\nslow = \"{}\"\nfast = \"{}\"\nfailures = {}\ncalm = \"{}\"\n",
                p.url, p.interval, p.timeout, p.slow, p.fast, p.failures, p.calm
            );
        }
    }
    toml += &format!("\n[state]\nurl = \"{state_url}\"\n");
    toml += "\n[alerts]\nalert_every = \"30m\"\n";
    if let Some(port) = alerts.smtp_port {
        toml += &format!(
            "[alerts.email]\nsmtp_url = \"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}\"\nfrom = \"autoscaled <alerts@example.com>\"\nto = [\"{MAIL_TO}\"]\n"
        );
    }
    if let Some(url) = &alerts.twilio_url {
        toml += &format!(
            "[alerts.sms]\naccount_sid = \"{ACCOUNT_SID}\"\nauth_token = \"{TWILIO_TOKEN}\"\nfrom = \"+15005550006\"\nto = [\"{SMS_TO}\"]\napi_url = \"{url}\"\n"
        );
    }
    write_file("toml", &toml)
}

/// Writes `text` to a fresh file under the system's temporary directory, and returns its path.
pub fn write_file(extension: &str, text: &str) -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join("autoscaled-testkit");
    std::fs::create_dir_all(&dir).unwrap();
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("config-{}-{n}.{extension}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// Fails the test if `text` shows any secret of the test configs, as is or as Twilio's Basic
/// credentials.
pub fn assert_no_secret(what: &str, text: &str) {
    for secret in [API_KEY, SMTP_PASSWORD, TWILIO_TOKEN] {
        assert!(
            !text.contains(secret),
            "{what} shows a secret ({secret}):\n{text}"
        );
    }
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{TWILIO_TOKEN}"));
    assert!(
        !text.contains(&basic),
        "{what} shows the Twilio credentials in base64:\n{text}"
    );
}
