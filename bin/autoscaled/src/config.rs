//! The config file, its environment overrides, and the one pass that validates all of it.
//!
//! Loading happens in two steps. The `config` crate reads the TOML file and lays the `AUTOSCALED__…`
//! variables over it; the well-known variables (`HEROKU_API_KEY`, `TWILIO_AUTH_TOKEN`, …) go on top.
//! Then [`Validator`] walks the merged tree once and collects *every* problem, each naming its key
//! (`apps[0].schedule[1].cron`), the value and what was expected, so a user fixes them all in one go.
//! Secret values are never echoed into those messages.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use heroku_api::DynoSize;
use notify::{EmailConfig, SmsConfig};
use schedule::{Rule, Schedule};
use secret::{RedactedUrl, Secret};
use serde_json::{Map, Value};
use url::Url;

/// The environment variable that names the config file when `--config` is not given.
pub(crate) const CONFIG_ENV: &str = "AUTOSCALED_CONFIG";
/// The variable that sets `[http] drain_password`, winning over the file.
pub(crate) const DRAIN_PASSWORD_ENV: &str = "AUTOSCALED_DRAIN_PASSWORD";
/// The prefix of the variables that override any key: `AUTOSCALED__APPS__0__MAX=5`.
const OVERRIDE_PREFIX: &str = "AUTOSCALED__";
const DEFAULT_CONFIG_PATH: &str = "autoscaled.toml";
const DEFAULT_HEROKU_API_URL: &str = "https://api.heroku.com";

/// A validated configuration: everything `run`, `check`, `plan` and `simulate` need.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) heroku: HerokuSettings,
    pub(crate) apps: Vec<AppSettings>,
    pub(crate) alerts: AlertSettings,
    pub(crate) http: HttpSettings,
    pub(crate) state: StateSettings,
}

/// Where the daemon keeps its state: `DATABASE_URL`, else `[state] url`, else
/// [`store::DEFAULT_URL`]. The URL may hold a password: `Debug` shows `[redacted]`.
#[derive(Debug, Clone)]
pub(crate) struct StateSettings {
    pub(crate) url: Secret,
    /// `[state] lease`: how long an instance holds an app of the fleet unless it renews it, so how
    /// long a dead instance's apps wait for another.
    pub(crate) lease: Duration,
    /// `[state] lease_round`: how often an instance renews its leases and takes free apps.
    pub(crate) lease_round: Duration,
}

impl StateSettings {
    /// The URL fit to print, its password `[redacted]`.
    pub(crate) fn shown(&self) -> String {
        store::redact_url(self.url.expose())
    }

    /// Whether the state is an SQLite file (one instance; wiped with a Heroku dyno's files).
    pub(crate) fn is_sqlite(&self) -> bool {
        self.url.expose().starts_with("sqlite:")
    }

    /// What `check` prints and `run` logs at start when this process runs on a Heroku dyno
    /// (`DYNO` set) with an SQLite file, which the dyno's restart (at least daily) wipes.
    pub(crate) fn lost_on_a_dyno(&self) -> Option<&'static str> {
        (self.is_sqlite() && std::env::var_os("DYNO").is_some()).then_some(
            "running on a Heroku dyno (DYNO is set) with an SQLite file: a dyno's files are wiped at every restart, so the state would be lost; attach Heroku Postgres (it sets DATABASE_URL)",
        )
    }
}

/// How to reach the Platform API.
#[derive(Debug, Clone)]
pub(crate) struct HerokuSettings {
    pub(crate) api_key: Secret,
    pub(crate) api_url: Url,
}

/// One app's process type and the rules that size it.
#[derive(Debug, Clone)]
pub(crate) struct AppSettings {
    pub(crate) name: String,
    pub(crate) process: String,
    pub(crate) min: u32,
    pub(crate) max: u32,
    pub(crate) step: u32,
    pub(crate) timezone: Tz,
    pub(crate) scale_out_cooldown: Duration,
    pub(crate) reconcile: Duration,
    pub(crate) schedule: Schedule,
    pub(crate) dyno_size: DynoSize,
    /// USD per dyno-hour; the published price of `dyno_size` unless the user gives one.
    pub(crate) price_per_hour: f64,
    pub(crate) probe: Option<ProbeSettings>,
    /// `[apps.traffic]`: the traffic rules, fed by the router's log drain.
    pub(crate) traffic: Option<TrafficSettings>,
    /// `[apps.queue]`: a worker scaled on its job queues, read from the app's datastore.
    pub(crate) queue: Option<QueueSettings>,
}

/// The job libraries whose queues `[apps.queue]` reads, as the `backend` key names them.
fn backend_names() -> String {
    queues::Backend::ALL.map(queues::Backend::name).join(", ")
}

/// Where a worker's datastore URL comes from.
#[derive(Clone)]
pub(crate) enum QueueUrl {
    /// `url_env`: the name of the environment variable that holds it (read when polling, so a
    /// Heroku credential rotation is followed).
    Env(String),
    /// `url`: the URL itself, a secret.
    Literal(Secret),
    /// No datastore: the demo's simulated queue, read in-process (never from a config file); an
    /// error reads as a datastore's failure.
    Simulated(Arc<dyn Fn(DateTime<Utc>) -> Result<policy::QueueReading, String> + Send + Sync>),
}

impl QueueUrl {
    /// The URL to connect with now: an `url_env` variable is read at each call, so a rotated
    /// credential is picked up at the next poll. The error names the variable, never a value.
    pub(crate) fn resolve(&self) -> Result<Secret, String> {
        match self {
            QueueUrl::Literal(url) => Ok(url.clone()),
            QueueUrl::Env(name) => match std::env::var(name) {
                Ok(url) if !url.trim().is_empty() => Ok(Secret::new(url.trim())),
                Ok(_) => Err(format!(
                    "the environment variable {name} is empty: set it to the app's datastore URL"
                )),
                Err(_) => Err(format!(
                    "the environment variable {name} is not set: set it to the app's datastore URL (on Heroku, attach the app's add-on to the autoscaler)"
                )),
            },
            QueueUrl::Simulated(_) => Err("a simulated queue has no datastore".to_owned()),
        }
    }
}

impl fmt::Debug for QueueUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueUrl::Env(name) => f.debug_tuple("Env").field(name).finish(),
            QueueUrl::Literal(_) => f.debug_tuple("Literal").field(&secret::REDACTED).finish(),
            QueueUrl::Simulated(_) => f.write_str("Simulated"),
        }
    }
}

/// `[apps.queue]`: the job library, its datastore, the queues and the rules' settings.
#[derive(Debug, Clone)]
pub(crate) struct QueueSettings {
    pub(crate) backend: queues::Backend,
    pub(crate) url: QueueUrl,
    /// Empty: every queue the backend lists.
    pub(crate) queues: Vec<String>,
    /// The library's key prefix, namespace or schema where the app set one (checked against
    /// what the backend takes).
    pub(crate) prefix: Option<String>,
    pub(crate) latency: Duration,
    pub(crate) concurrency: u32,
    pub(crate) poll: Duration,
    pub(crate) calm: Duration,
    pub(crate) stuck_after: Duration,
}

impl QueueSettings {
    /// What is read, fit to print: `sidekiq: default, mailers from $MY_APP_REDIS_URL` (a literal
    /// URL shows as `[redacted]`).
    pub(crate) fn source(&self) -> String {
        let queues = if self.queues.is_empty() {
            "every queue".to_owned()
        } else {
            self.queues.join(", ")
        };
        let url = match &self.url {
            QueueUrl::Env(name) => format!("${name}"),
            QueueUrl::Literal(_) => format!("url {}", secret::REDACTED),
            QueueUrl::Simulated(_) => "a simulated queue".to_owned(),
        };
        format!("{}: {queues} from {url}", self.backend.name())
    }

    /// A reader of these queues in the datastore at `url` (resolved from [`QueueSettings::url`]),
    /// under the app's prefix: for the daemon's polls and `check --online` alike.
    pub(crate) async fn connect(&self, url: &Secret) -> Result<queues::Reader, queues::Error> {
        let options = queues::Options::default();
        let options = match &self.prefix {
            Some(prefix) => options.with_prefix(prefix),
            None => options,
        };
        queues::Reader::connect_with(self.backend, url, self.queues.clone(), options).await
    }

    /// The job-queue rules' settings.
    pub(crate) fn policy(&self) -> policy::QueuePolicy {
        policy::QueuePolicy {
            latency: self.latency,
            concurrency: self.concurrency,
            poll: self.poll,
            calm: self.calm,
            stuck_after: self.stuck_after,
        }
    }
}

/// `[apps.traffic]`: what one dyno serves at once, and how much of it to use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TrafficSettings {
    pub(crate) concurrency: u32,
    pub(crate) utilisation: f64,
    /// The router lines' health: over this window...
    pub(crate) down_window: Duration,
    /// ...with at least this many requests...
    pub(crate) down_min_requests: u64,
    /// ...this share failing is down.
    pub(crate) down_share: f64,
}

/// The HTTP probe of one app. Its URL may carry a password or a token, and its headers
/// credentials: `Debug` shows the URL redacted and the header names only.
#[derive(Clone)]
pub(crate) struct ProbeSettings {
    pub(crate) url: Url,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) slow: Duration,
    pub(crate) fast: Duration,
    pub(crate) failures: u32,
    pub(crate) calm: Duration,
    pub(crate) headers: Vec<(String, String)>,
}

impl AppSettings {
    /// The decision rules' limits for this app: the one place the config meets the rules. Without
    /// a probe only the schedule acts, so `failures` and `calm` never come into play.
    pub(crate) fn policy(&self) -> policy::Policy {
        policy::Policy {
            min: self.min,
            max: self.max,
            step: self.step,
            failures: self.probe.as_ref().map_or(1, |p| p.failures),
            scale_out_cooldown: self.scale_out_cooldown,
            calm: self
                .probe
                .as_ref()
                .map_or(Duration::from_secs(600), |p| p.calm),
            traffic: self.traffic.map(|t| policy::TrafficPolicy {
                down_window: t.down_window,
                down_min_requests: t.down_min_requests,
                down_share: t.down_share,
                ..policy::TrafficPolicy::new(t.concurrency, t.utilisation)
            }),
        }
    }
}

impl ProbeSettings {
    /// The limits that classify this probe's answers, measured or modelled.
    pub(crate) fn thresholds(&self) -> policy::Thresholds {
        policy::Thresholds {
            timeout: self.timeout,
            slow: self.slow,
            fast: self.fast,
        }
    }
}

impl ProbeSettings {
    /// The prober's config, its durations passed through `time` (a sped-up clock's, say).
    pub(crate) fn probe_config(&self, time: impl Fn(Duration) -> Duration) -> probe::ProbeConfig {
        probe::ProbeConfig {
            url: self.url.clone(),
            interval: time(self.interval),
            thresholds: policy::Thresholds {
                timeout: time(self.timeout),
                slow: time(self.slow),
                fast: time(self.fast),
            },
            headers: self.headers.clone(),
        }
    }
}

impl fmt::Debug for ProbeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), secret::REDACTED))
            .collect();
        f.debug_struct("ProbeSettings")
            .field("url", &RedactedUrl(&self.url))
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("slow", &self.slow)
            .field("fast", &self.fast)
            .field("failures", &self.failures)
            .field("calm", &self.calm)
            .field("headers", &headers)
            .finish()
    }
}

/// Where alerts go and how often.
#[derive(Debug, Clone)]
pub(crate) struct AlertSettings {
    pub(crate) alert_every: Duration,
    pub(crate) email: Option<EmailConfig>,
    pub(crate) sms: Option<SmsConfig>,
}

/// The status page and metrics endpoint.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    /// `None`: no HTTP server.
    pub(crate) listen: Option<std::net::SocketAddr>,
    pub(crate) password: Option<Secret>,
    /// Guards `POST /drain/{app}` (Heroku's log drains); `None`: the drain is off (404).
    pub(crate) drain_password: Option<Secret>,
    /// What one connection may take: `head_timeout`, `body_timeout`, `idle_timeout`.
    pub(crate) head_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    /// `max_connections`; `None`: as many as the open-files limit leaves (see
    /// `daemon::descriptors`), at most [`DEFAULT_MAX_CONNECTIONS`].
    pub(crate) max_connections: Option<usize>,
}

/// The most `[http] max_connections` may be: a million descriptors is Linux's own ceiling
/// (`fs.nr_open`), and beyond it the value can only be a typo.
const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;
/// The most connections the listener keeps open unless `[http] max_connections` says otherwise.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl Default for HttpSettings {
    fn default() -> Self {
        let limits = status::Limits::default();
        HttpSettings {
            listen: None,
            password: None,
            drain_password: None,
            head_timeout: limits.head_timeout,
            body_timeout: limits.body_timeout,
            idle_timeout: limits.idle_timeout,
            max_connections: None,
        }
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file could not be read or parsed as TOML.
    #[error("cannot read config file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    /// The file parsed but some values are wrong; every one is listed.
    #[error("{}", Problems(.0))]
    Invalid(Vec<Problem>),
}

/// One thing wrong with the config, named by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) key: String,
    pub(crate) message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            f,
            "invalid config ({count} problem{}):",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// The config file to read: `--config`, else `$AUTOSCALED_CONFIG`, else `./autoscaled.toml`.
pub(crate) fn config_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

impl Config {
    /// Reads the file at `path` with the process environment laid over it, and validates the result.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// [`Config::load`] with the environment given, so tests need not touch the process's.
    pub(crate) fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let unreadable = |reason: String| ConfigError::Unreadable {
            path: path.to_owned(),
            reason,
        };
        if !path.is_file() {
            return Err(unreadable("no such file".into()));
        }
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut builder = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml));
        for (name, value) in &env {
            if let Some(key) = override_key(name) {
                builder = builder
                    .set_override(key, value.as_str())
                    .map_err(|e| unreadable(format!("environment variable {name}: {e}")))?;
            }
        }
        let merged = builder.build().map_err(|e| unreadable(e.to_string()))?;
        let mut tree: Value = merged
            .try_deserialize()
            .map_err(|e| unreadable(e.to_string()))?;
        apply_well_known_env(&mut tree, &env);
        Self::from_tree(&tree)
    }

    /// Validates an already merged tree, reporting every problem at once.
    pub(crate) fn from_tree(tree: &Value) -> Result<Config, ConfigError> {
        let mut v = Validator::default();
        let config = v.config(tree);
        match config {
            Some(config) if v.problems.is_empty() => Ok(config),
            _ => Err(ConfigError::Invalid(v.problems)),
        }
    }
}

/// `AUTOSCALED__APPS__0__PROBE__URL` → `apps[0].probe.url`.
fn override_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix(OVERRIDE_PREFIX)?;
    let mut key = String::new();
    for part in rest.split("__") {
        if part.is_empty() {
            return None;
        }
        if part.bytes().all(|b| b.is_ascii_digit()) {
            key.push_str(&format!("[{part}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&part.to_ascii_lowercase());
        }
    }
    Some(key)
}

/// Heroku's and Twilio's own variable names, and Heroku's `$PORT`, win over the file. The Twilio ones only fill in an
/// `[alerts.sms]` that the file declares: setting `TWILIO_AUTH_TOKEN` for another tool on the same
/// machine must not switch SMS alerts on.
fn apply_well_known_env(tree: &mut Value, env: &[(String, String)]) {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let Some(root) = tree.as_object_mut() else {
        return;
    };
    // `section.key` from `var`, over what the file says.
    let mut set = |section: &str, key: &str, var: &str| {
        let Some(value) = lookup(var) else { return };
        let table = root
            .entry(section)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(table) = table.as_object_mut() {
            table.insert(key.into(), Value::String(value));
        }
    };
    set("heroku", "api_key", "HEROKU_API_KEY");
    set("heroku", "api_url", "HEROKU_API_URL");
    // The drain password is set with `heroku config:set`, so its variable wins over the file.
    set("http", "drain_password", DRAIN_PASSWORD_ENV);
    // As Heroku Postgres sets it: it wins over the file, so attaching a database is enough.
    set("state", "url", "DATABASE_URL");
    // On Heroku a web dyno must serve on $PORT; the page then faces the internet, so
    // `Validator::http` insists on a password.
    if let Some(port) = lookup("PORT") {
        let http = root
            .entry("http")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(http) = http.as_object_mut() {
            http.entry("listen")
                .or_insert_with(|| Value::String(format!("0.0.0.0:{port}")));
        }
    }
    let sms = root
        .get_mut("alerts")
        .and_then(Value::as_object_mut)
        .and_then(|alerts| alerts.get_mut("sms"))
        .and_then(Value::as_object_mut);
    if let Some(sms) = sms {
        for (var, key) in [
            ("TWILIO_ACCOUNT_SID", "account_sid"),
            ("TWILIO_AUTH_TOKEN", "auth_token"),
            ("TWILIO_API_URL", "api_url"),
        ] {
            if let Some(value) = lookup(var) {
                sms.insert(key.into(), Value::String(value));
            }
        }
    }
}

/// Walks the merged tree, building typed settings and collecting problems.
#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

/// Keys whose values are never repeated back in a message (`headers`: a probe's, which may hold
/// credentials).
const SECRET_KEYS: &[&str] = &[
    "api_key",
    "auth_token",
    "smtp_url",
    "password",
    "headers",
    "queue.url",
];

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

impl Validator {
    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// A value was there but wrong: name it (unless secret) and say what was expected.
    fn bad(&mut self, key: &str, value: &Value, expected: &str) {
        let secret = SECRET_KEYS.iter().any(|s| key.ends_with(s));
        let shown = if secret {
            "[redacted]".to_owned()
        } else {
            show(value)
        };
        self.problem(key, format!("{shown} is not valid: expected {expected}"));
    }

    /// The value at `path` as a table whose keys are all in `known`; unknown keys are reported.
    fn table<'v>(
        &mut self,
        path: &str,
        value: &'v Value,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = value.as_object() else {
            self.bad(path, value, "a table");
            return None;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                self.problem(
                    join(path, key),
                    format!("unknown key; expected one of: {}", known.join(", ")),
                );
            }
        }
        Some(map)
    }

    fn string(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        let full = join(path, key);
        match map.get(key) {
            None => {
                self.problem(full, "missing; this key is required");
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(other) => {
                self.bad(&full, other, "a non-empty string");
                None
            }
        }
    }

    /// A non-negative integer; environment overrides arrive as strings, so `"3"` counts too.
    fn count(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        default: Option<u32>,
    ) -> Option<u32> {
        let full = join(path, key);
        let Some(value) = map.get(key) else {
            if default.is_none() {
                self.problem(full, "missing; this key is required");
            }
            return default;
        };
        let parsed = match value {
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Value::String(s) => s.trim().parse::<u32>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.bad(&full, value, "a whole number of dynos, 0 or more");
        }
        parsed
    }

    /// A whole number within `range`, given as a number or a string (environment overrides arrive
    /// as strings); anything else is a problem naming `expected`.
    fn whole(
        &mut self,
        full: &str,
        value: &Value,
        range: std::ops::RangeInclusive<u64>,
        expected: &str,
    ) -> Option<u64> {
        let parsed = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
        .filter(|n| range.contains(n));
        if parsed.is_none() {
            self.bad(full, value, expected);
        }
        parsed
    }

    /// The required `concurrency` of a traffic or queue table: 1 or more of what one dyno runs at
    /// once (`what`, said when it is missing).
    fn concurrency(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        what: &str,
        expected: &str,
    ) -> Option<u32> {
        let full = join(path, "concurrency");
        let Some(value) = map.get("concurrency") else {
            self.problem(full, format!("missing; this key is required: {what}"));
            return None;
        };
        self.whole(&full, value, 1..=u64::from(u32::MAX), expected)
            .and_then(|n| u32::try_from(n).ok())
    }

    /// A share above 0 and at most 1 (`default` when the key is absent), given as a number or a
    /// string; anything else is a problem naming `expected`.
    fn share(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        default: f64,
        expected: &str,
    ) -> Option<f64> {
        let Some(value) = map.get(key) else {
            return Some(default);
        };
        let parsed = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|u| u.is_finite() && *u > 0.0 && *u <= 1.0);
        if parsed.is_none() {
            self.bad(&join(path, key), value, expected);
        }
        parsed
    }

    fn duration(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        default: &str,
    ) -> Option<Duration> {
        let full = join(path, key);
        let Some(value) = map.get(key) else {
            return humantime::parse_duration(default).ok();
        };
        let parsed = value
            .as_str()
            .and_then(|s| humantime::parse_duration(s.trim()).ok())
            .filter(|d| !d.is_zero());
        if parsed.is_none() {
            self.bad(
                &full,
                value,
                "a positive duration such as \"500ms\", \"30s\", \"3m\" or \"1h\"",
            );
        }
        parsed
    }

    fn url(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        default: Option<&str>,
    ) -> Option<Url> {
        let full = join(path, key);
        let text = match (map.get(key), default) {
            (None, Some(default)) => default.to_owned(),
            _ => self.string(map, path, key)?,
        };
        // A URL may carry a password or a token anywhere once it is not a valid http(s) one (in
        // `user:pass@host`, `user` is the scheme): the message shows no more than the scheme.
        match Url::parse(text.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                Some(url)
            }
            Ok(url) => {
                self.problem(
                    full,
                    format!(
                        "a URL of scheme \"{}\" is not valid: expected an http:// or https:// URL",
                        url.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.problem(
                    full,
                    format!("not a URL ({e}); expected an http:// or https:// URL"),
                );
                None
            }
        }
    }

    fn config(&mut self, tree: &Value) -> Option<Config> {
        let root = self.table("", tree, &["heroku", "apps", "alerts", "http", "state"])?;
        let heroku = self.heroku(root.get("heroku"));
        let apps = self.apps(root.get("apps"));
        let alerts = match root.get("alerts") {
            Some(value) => self.alerts(value),
            None => Some(AlertSettings {
                alert_every: Duration::from_secs(30 * 60),
                email: None,
                sms: None,
            }),
        };
        let http = match root.get("http") {
            Some(value) => self.http(value),
            None => Some(HttpSettings::default()),
        };
        let state = self.state(root.get("state"));
        Some(Config {
            heroku: heroku?,
            apps: apps?,
            alerts: alerts?,
            http: http?,
            state: state?,
        })
    }

    fn heroku(&mut self, value: Option<&Value>) -> Option<HerokuSettings> {
        let Some(value) = value else {
            self.problem(
                "heroku.api_key",
                "missing; set it in [heroku] or in the HEROKU_API_KEY environment variable",
            );
            return None;
        };
        let map = self.table("heroku", value, &["api_key", "api_url"])?;
        let api_key = match map.get("api_key") {
            Some(Value::String(key)) if !key.trim().is_empty() => Some(Secret::new(key.trim())),
            Some(other) => {
                self.bad(
                    "heroku.api_key",
                    other,
                    "a Heroku API token (a non-empty string)",
                );
                None
            }
            None => {
                self.problem(
                    "heroku.api_key",
                    "missing; set it in [heroku] or in the HEROKU_API_KEY environment variable",
                );
                None
            }
        };
        let api_url = self.url(map, "heroku", "api_url", Some(DEFAULT_HEROKU_API_URL));
        Some(HerokuSettings {
            api_key: api_key?,
            api_url: api_url?,
        })
    }

    fn apps(&mut self, value: Option<&Value>) -> Option<Vec<AppSettings>> {
        let items = match value {
            Some(Value::Array(items)) if !items.is_empty() => items,
            Some(other) => {
                self.bad("apps", other, "a non-empty list of [[apps]] tables");
                return None;
            }
            None => {
                self.problem("apps", "missing; add at least one [[apps]] table");
                return None;
            }
        };
        let mut apps = Vec::new();
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("apps[{i}]");
            if let Some(app) = self.app(&path, item) {
                let id = (app.name.clone(), app.process.clone());
                if let Some(first) = seen.insert(id, i) {
                    self.problem(
                        &path,
                        format!(
                            "app \"{}\" process \"{}\" is already configured in apps[{first}]; each may appear once",
                            app.name, app.process
                        ),
                    );
                }
                apps.push(app);
            }
        }
        (apps.len() == items.len()).then_some(apps)
    }

    fn app(&mut self, path: &str, value: &Value) -> Option<AppSettings> {
        let map = self.table(
            path,
            value,
            &[
                "name",
                "process",
                "min",
                "max",
                "step",
                "timezone",
                "scale_out_cooldown",
                "reconcile",
                "schedule",
                "probe",
                "traffic",
                "queue",
                "dyno_size",
                "price_per_hour",
            ],
        )?;
        let name = self.string(map, path, "name");
        let process = match map.get("process") {
            None => Some("web".to_owned()),
            Some(_) => self.string(map, path, "process"),
        };
        let min = self.count(map, path, "min", None);
        let max = self.count(map, path, "max", None);
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                self.problem(
                    join(path, "min"),
                    format!("{min} is greater than max ({max}); expected min <= max"),
                );
            }
            if max == 0 {
                self.problem(
                    join(path, "max"),
                    "0 would keep the app off for good; expected at least 1",
                );
            }
        }
        let step = self.count(map, path, "step", Some(1));
        if step == Some(0) {
            self.bad(
                &join(path, "step"),
                &Value::from(0),
                "at least 1 dyno per step",
            );
        }
        let timezone = match map.get("timezone") {
            None => Some(Tz::UTC),
            Some(value) => {
                let parsed = value.as_str().and_then(|s| s.trim().parse::<Tz>().ok());
                if parsed.is_none() {
                    self.bad(
                        &join(path, "timezone"),
                        value,
                        "an IANA time zone name such as \"Europe/Berlin\" or \"UTC\"",
                    );
                }
                parsed
            }
        };
        let scale_out_cooldown = self.duration(map, path, "scale_out_cooldown", "2m");
        let reconcile = self.duration(map, path, "reconcile", "5m");
        let (dyno_size, price_per_hour) = self.pricing(map, path);
        let rules = self.rules(map, path, min, max);
        let probe = match map.get("probe") {
            None => Some(None),
            Some(value) => self.probe(&join(path, "probe"), value).map(Some),
        };
        let traffic = match map.get("traffic") {
            None => Some(None),
            Some(value) => self.traffic(&join(path, "traffic"), value).map(Some),
        };
        let queue = match map.get("queue") {
            None => Some(None),
            Some(value) => self.queue(&join(path, "queue"), value).map(Some),
        };
        let (min, max, timezone, rules) = (min?, max?, timezone?, rules?);
        let schedule = Schedule::new(rules, timezone, min);
        Some(AppSettings {
            name: name?,
            process: process?,
            min,
            max,
            step: step.filter(|s| *s > 0)?,
            timezone,
            scale_out_cooldown: scale_out_cooldown?,
            reconcile: reconcile?,
            schedule,
            dyno_size: dyno_size?,
            price_per_hour: price_per_hour?,
            probe: probe?,
            traffic: traffic?,
            queue: queue?,
        })
    }

    fn queue(&mut self, path: &str, value: &Value) -> Option<QueueSettings> {
        let map = self.table(
            path,
            value,
            &[
                "backend",
                "url_env",
                "url",
                "queues",
                "prefix",
                "latency",
                "concurrency",
                "poll",
                "calm",
                "stuck_after",
            ],
        )?;
        let backend = match map.get("backend") {
            None => {
                self.problem(
                    join(path, "backend"),
                    format!("missing; this key is required: one of {}", backend_names()),
                );
                None
            }
            Some(value) => {
                let backend = value
                    .as_str()
                    .and_then(|name| name.trim().parse::<queues::Backend>().ok());
                if backend.is_none() {
                    self.bad(
                        &join(path, "backend"),
                        value,
                        &format!("one of {}", backend_names()),
                    );
                }
                backend
            }
        };
        let url = match (map.get("url_env"), map.get("url")) {
            (Some(_), Some(_)) => {
                self.problem(
                    join(path, "url"),
                    "set either url_env (the environment variable that holds the URL) or url, not both",
                );
                None
            }
            (None, None) => {
                self.problem(
                    join(path, "url_env"),
                    "missing; expected the environment variable that holds the app's datastore URL (e.g. \"MY_APP_REDIS_URL\"), or a url",
                );
                None
            }
            (Some(value), None) => {
                let name = value.as_str().map(str::trim).filter(|n| {
                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
                if name.is_none() {
                    self.bad(
                        &join(path, "url_env"),
                        value,
                        "the name of an environment variable, letters, digits and _ (e.g. \"MY_APP_REDIS_URL\")",
                    );
                }
                name.map(|n| QueueUrl::Env(n.to_owned()))
            }
            (None, Some(value)) => {
                let text = value.as_str().map(str::trim).unwrap_or("");
                let scheme = text.split_once("://").map(|(s, _)| s);
                let valid = matches!(scheme, Some("redis" | "rediss" | "postgres" | "postgresql"));
                if !valid {
                    self.bad(
                        &join(path, "url"),
                        value,
                        "a redis://, rediss://, postgres:// or postgresql:// URL (or set url_env instead)",
                    );
                }
                valid.then(|| QueueUrl::Literal(Secret::new(text)))
            }
        };
        let queues = match map.get("queues") {
            None => Some(Vec::new()),
            Some(Value::Array(items))
                if !items.is_empty()
                    && items
                        .iter()
                        .all(|q| q.as_str().is_some_and(|q| !q.trim().is_empty())) =>
            {
                Some(
                    items
                        .iter()
                        .filter_map(|q| q.as_str().map(|q| q.trim().to_owned()))
                        .collect(),
                )
            }
            Some(other) => {
                self.bad(
                    &join(path, "queues"),
                    other,
                    "a non-empty list of queue names such as [\"default\", \"mailers\"] (leave it out for every queue)",
                );
                None
            }
        };
        let prefix = match (map.get("prefix"), backend) {
            (None, _) => Some(None),
            // The backend is at fault, said above: the prefix cannot be judged without it.
            (Some(_), None) => None,
            (Some(value), Some(backend)) => {
                let checked = value
                    .as_str()
                    .map(|text| backend.check_prefix(text).map(|()| text.to_owned()));
                match checked {
                    Some(Ok(text)) => Some(Some(text)),
                    Some(Err(queues::Error::Prefix { expected, .. })) => {
                        self.bad(&join(path, "prefix"), value, expected);
                        None
                    }
                    _ => {
                        self.bad(
                            &join(path, "prefix"),
                            value,
                            "a string: the key prefix, namespace or schema the job library was given",
                        );
                        None
                    }
                }
            }
        };
        let latency = self.duration(map, path, "latency", "30s");
        let concurrency = self.concurrency(
            map,
            path,
            "the jobs one dyno runs at once (Sidekiq's concurrency, say)",
            "a whole number of jobs one dyno runs at once, 1 or more",
        );
        let poll = self.duration(map, path, "poll", "10s");
        let calm = self.duration(map, path, "calm", "10m");
        let stuck_after = self.duration(map, path, "stuck_after", "5m");
        let show = |d: Duration| humantime::format_duration(d).to_string();
        if let (Some(poll), Some(latency)) = (poll, latency)
            && poll >= latency
        {
            self.problem(
                join(path, "poll"),
                format!(
                    "{} is not below latency ({}); expected a poll shorter than the target, so a breach is seen in time",
                    show(poll),
                    show(latency)
                ),
            );
        }
        if let (Some(poll), Some(calm)) = (poll, calm)
            && calm < poll
        {
            self.problem(
                join(path, "calm"),
                format!(
                    "{} is shorter than poll ({}); expected a calm window of at least one poll",
                    show(calm),
                    show(poll)
                ),
            );
        }
        if let (Some(poll), Some(stuck)) = (poll, stuck_after)
            && stuck < poll
        {
            self.problem(
                join(path, "stuck_after"),
                format!(
                    "{} is shorter than poll ({}); expected at least one poll",
                    show(stuck),
                    show(poll)
                ),
            );
        }
        let settings = QueueSettings {
            backend: backend?,
            url: url?,
            queues: queues?,
            prefix: prefix?,
            latency: latency?,
            concurrency: concurrency?,
            poll: poll?,
            calm: calm?,
            stuck_after: stuck_after?,
        };
        (settings.poll < settings.latency
            && settings.calm >= settings.poll
            && settings.stuck_after >= settings.poll)
            .then_some(settings)
    }

    fn traffic(&mut self, path: &str, value: &Value) -> Option<TrafficSettings> {
        let map = self.table(
            path,
            value,
            &[
                "concurrency",
                "utilisation",
                "down_window",
                "down_min_requests",
                "down_share",
            ],
        )?;
        let concurrency = self.concurrency(
            map,
            path,
            "the requests one dyno serves at once (Puma workers × threads, say)",
            "a whole number of requests one dyno serves at once, 1 or more",
        );
        let utilisation = self.share(
            map,
            path,
            "utilisation",
            policy::TrafficPolicy::DEFAULT_UTILISATION,
            "a number above 0 and at most 1, the share of concurrency to aim for (e.g. 0.8)",
        );
        let down_window = self.duration(map, path, "down_window", "10s");
        let down_window = down_window.filter(|w| {
            let whole = w.subsec_nanos() == 0 && *w <= router_logs::MAX_HEALTH_WINDOW;
            if !whole {
                self.problem(
                    join(path, "down_window"),
                    format!(
                        "{} is not whole seconds from 1s to 60s; expected e.g. \"10s\"",
                        humantime::format_duration(*w)
                    ),
                );
            }
            whole
        });
        let down_min_requests = match map.get("down_min_requests") {
            None => Some(policy::TrafficPolicy::DEFAULT_DOWN_MIN_REQUESTS),
            Some(value) => self.whole(
                &join(path, "down_min_requests"),
                value,
                1..=u64::MAX,
                "a whole number of requests, 1 or more, the fewest in down_window the router lines' health speaks on",
            ),
        };
        let down_share = self.share(
            map,
            path,
            "down_share",
            policy::TrafficPolicy::DEFAULT_DOWN_SHARE,
            "a number above 0 and at most 1, the share of requests failing that means down (e.g. 0.9)",
        );
        Some(TrafficSettings {
            concurrency: concurrency?,
            utilisation: utilisation?,
            down_window: down_window?,
            down_min_requests: down_min_requests?,
            down_share: down_share?,
        })
    }

    fn pricing(&mut self, map: &Map<String, Value>, path: &str) -> (Option<DynoSize>, Option<f64>) {
        let size = match map.get("dyno_size") {
            None => Some(DynoSize::Standard1X),
            Some(value) => {
                let parsed = value.as_str().and_then(DynoSize::from_heroku_name);
                if parsed.is_none() {
                    self.bad(
                        &join(path, "dyno_size"),
                        value,
                        "a Heroku dyno size such as \"standard-1X\", \"standard-2X\", \"performance-M\"",
                    );
                }
                parsed
            }
        };
        let price = match map.get("price_per_hour") {
            None => size.map(|s| s.price_per_hour()),
            Some(value) => {
                let parsed = value.as_f64().filter(|p| p.is_finite() && *p >= 0.0);
                if parsed.is_none() {
                    self.bad(
                        &join(path, "price_per_hour"),
                        value,
                        "a price in USD per dyno-hour, 0 or more",
                    );
                }
                parsed
            }
        };
        (size, price)
    }

    fn rules(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        min: Option<u32>,
        max: Option<u32>,
    ) -> Option<Vec<Rule>> {
        let key = join(path, "schedule");
        let items = match map.get("schedule") {
            None => return Some(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.bad(
                    &key,
                    other,
                    "a list of { cron = \"…\", quantity = N } entries",
                );
                return None;
            }
        };
        let mut rules = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let rule_path = format!("{key}[{i}]");
            let Some(entry) = self.table(&rule_path, item, &["cron", "quantity"]) else {
                continue;
            };
            let cron = self.string(entry, &rule_path, "cron");
            let quantity = self.count(entry, &rule_path, "quantity", None);
            let in_range = match (quantity, min, max) {
                (Some(quantity), Some(min), Some(max)) if quantity < min || quantity > max => {
                    self.problem(
                        join(&rule_path, "quantity"),
                        format!("{quantity} is outside [min, max] = [{min}, {max}]"),
                    );
                    false
                }
                _ => true,
            };
            let Some(cron) = cron else { continue };
            match Rule::new(cron.trim(), quantity.unwrap_or(0)) {
                Ok(rule) if in_range && quantity.is_some() => rules.push(rule),
                Ok(_) => {}
                Err(e) => self.problem(
                    join(&rule_path, "cron"),
                    format!("\"{cron}\" is not valid: {e}"),
                ),
            }
        }
        (rules.len() == items.len()).then_some(rules)
    }

    fn probe(&mut self, path: &str, value: &Value) -> Option<ProbeSettings> {
        let map = self.table(
            path,
            value,
            &[
                "url", "interval", "timeout", "slow", "fast", "failures", "calm", "headers",
            ],
        )?;
        let url = self.url(map, path, "url", None);
        let interval = self.duration(map, path, "interval", "30s");
        let timeout = self.duration(map, path, "timeout", "10s");
        let slow = self.duration(map, path, "slow", "5s");
        let fast = self.duration(map, path, "fast", "1s");
        let failures = self.count(map, path, "failures", Some(2));
        if failures == Some(0) {
            self.bad(&join(path, "failures"), &Value::from(0), "at least 1 probe");
        }
        let calm = self.duration(map, path, "calm", "10m");
        if let (Some(fast), Some(slow)) = (fast, slow)
            && fast >= slow
        {
            self.problem(
                join(path, "fast"),
                format!(
                    "{} is not below slow ({}); expected fast < slow",
                    humantime::format_duration(fast),
                    humantime::format_duration(slow)
                ),
            );
        }
        if let (Some(slow), Some(timeout)) = (slow, timeout)
            && slow > timeout
        {
            self.problem(
                join(path, "slow"),
                format!(
                    "{} is above timeout ({}); a probe that slow would already count as down",
                    humantime::format_duration(slow),
                    humantime::format_duration(timeout)
                ),
            );
        }
        if let (Some(timeout), Some(interval)) = (timeout, interval)
            && timeout >= interval
        {
            self.problem(
                join(path, "timeout"),
                format!(
                    "{} is not below interval ({}); expected timeout < interval so probes never overlap",
                    humantime::format_duration(timeout),
                    humantime::format_duration(interval)
                ),
            );
        }
        let headers = match map.get("headers") {
            None => Some(Vec::new()),
            Some(value) => self.headers(&join(path, "headers"), value),
        };
        let settings = ProbeSettings {
            url: url?,
            interval: interval?,
            timeout: timeout?,
            slow: slow?,
            fast: fast?,
            failures: failures.filter(|f| *f > 0)?,
            calm: calm?,
            headers: headers?,
        };
        // The prober's own checks, so that nothing it would refuse passes: an app must never
        // run without the fail-safe its config asks for.
        if let Err(e) = settings.probe_config(|d| d).check() {
            let key = match &e {
                probe::Error::Scheme { .. } | probe::Error::NoHost => join(path, "url"),
                probe::Error::Timeout { .. } => join(path, "timeout"),
                probe::Error::FastNotBelowSlow { .. } => join(path, "fast"),
                probe::Error::HeaderName { name } | probe::Error::HeaderValue { name } => {
                    join(&join(path, "headers"), name)
                }
                _ => path.to_owned(),
            };
            self.problem(key, e.to_string());
            return None;
        }
        Some(settings)
    }

    fn headers(&mut self, path: &str, value: &Value) -> Option<Vec<(String, String)>> {
        let Some(map) = value.as_object() else {
            self.bad(path, value, "a table of header names to string values");
            return None;
        };
        let mut headers = Vec::new();
        let mut ok = true;
        for (name, value) in map {
            let key = join(path, name);
            let valid_name =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            match value.as_str() {
                Some(v) if valid_name && !v.contains(['\r', '\n']) => {
                    headers.push((name.clone(), v.to_owned()))
                }
                _ => {
                    ok = false;
                    self.problem(key, "expected a header name of letters, digits and '-' with a one-line string value");
                }
            }
        }
        ok.then_some(headers)
    }

    fn alerts(&mut self, value: &Value) -> Option<AlertSettings> {
        let map = self.table("alerts", value, &["alert_every", "email", "sms"])?;
        let alert_every = self.duration(map, "alerts", "alert_every", "30m");
        let email = match map.get("email") {
            None => Some(None),
            Some(value) => self.email(value).map(Some),
        };
        let sms = match map.get("sms") {
            None => Some(None),
            Some(value) => self.sms(value).map(Some),
        };
        Some(AlertSettings {
            alert_every: alert_every?,
            email: email?,
            sms: sms?,
        })
    }

    /// Each of `notify`'s problems, named by its field, under the table at `path`.
    fn field_problems<T>(
        &mut self,
        path: &str,
        built: Result<T, Vec<notify::FieldProblem>>,
    ) -> Option<T> {
        built
            .map_err(|problems| {
                for (field, message) in problems {
                    self.problem(join(path, &field), message);
                }
            })
            .ok()
    }

    fn email(&mut self, value: &Value) -> Option<EmailConfig> {
        const PATH: &str = "alerts.email";
        let map = self.table(PATH, value, &["smtp_url", "from", "to"])?;
        let email = EmailConfig::from_values(map.get("smtp_url"), map.get("from"), map.get("to"));
        self.field_problems(PATH, email)
    }

    fn sms(&mut self, value: &Value) -> Option<SmsConfig> {
        const PATH: &str = "alerts.sms";
        let keys = [
            "account_sid",
            "auth_token",
            "from",
            "messaging_service_sid",
            "to",
        ];
        let map = self.table(PATH, value, &[&keys[..], &["api_url"]].concat())?;
        let [sid, token, from, service, to] = keys.map(|key| map.get(key));
        let sms = SmsConfig::from_values(sid, token, from, service, to);
        let sms = self.field_problems(PATH, sms);
        let api_url = self.url(map, PATH, "api_url", Some(notify::DEFAULT_TWILIO_API_URL));
        Some(SmsConfig {
            api_url: api_url?,
            ..sms?
        })
    }

    fn http(&mut self, value: &Value) -> Option<HttpSettings> {
        let map = self.table(
            "http",
            value,
            &[
                "listen",
                "password",
                "drain_password",
                "head_timeout",
                "body_timeout",
                "idle_timeout",
                "max_connections",
            ],
        )?;
        let head_timeout = self.duration(map, "http", "head_timeout", "5s");
        let body_timeout = self.duration(map, "http", "body_timeout", "10s");
        let idle_timeout = self.duration(map, "http", "idle_timeout", "30s");
        let max_connections = match map.get("max_connections") {
            None => Some(None),
            Some(value) => self
                .whole(
                    "http.max_connections",
                    value,
                    1..=MAX_CONNECTIONS_LIMIT as u64,
                    &format!("a whole number of connections from 1 to {MAX_CONNECTIONS_LIMIT}"),
                )
                .and_then(|n| usize::try_from(n).ok())
                .map(Some),
        };
        let listen = match map.get("listen") {
            None => None,
            Some(value) => {
                let parsed = value
                    .as_str()
                    .and_then(|s| s.trim().parse::<std::net::SocketAddr>().ok());
                if parsed.is_none() {
                    self.bad(
                        "http.listen",
                        value,
                        "an address and port such as \"127.0.0.1:9797\"",
                    );
                    return None;
                }
                parsed
            }
        };
        let password = match map.get("password") {
            None => None,
            Some(Value::String(p)) if !p.is_empty() => Some(Secret::new(p.as_str())),
            Some(other) => {
                self.bad("http.password", other, "a non-empty string");
                return None;
            }
        };
        // Not required off loopback: without it the drain is off (404 to everything), so no data
        // is ever taken unauthenticated, and a `web` dyno that serves only the page needs none.
        let drain_password = match map.get("drain_password") {
            None => None,
            Some(Value::String(p)) if !p.is_empty() => Some(Secret::new(p.as_str())),
            Some(other) => {
                self.bad(
                    "http.drain_password",
                    other,
                    "a non-empty string (or set AUTOSCALED_DRAIN_PASSWORD)",
                );
                return None;
            }
        };
        if let Some(addr) = listen
            && !addr.ip().is_loopback()
            && password.is_none()
        {
            self.problem(
                "http.password",
                format!("missing; required when http.listen ({addr}) is not a loopback address"),
            );
            return None;
        }
        Some(HttpSettings {
            listen,
            password,
            drain_password,
            head_timeout: head_timeout?,
            body_timeout: body_timeout?,
            idle_timeout: idle_timeout?,
            max_connections: max_connections?,
        })
    }

    /// `[state] url` (or `DATABASE_URL`, laid over it): shown only with its password redacted.
    fn state(&mut self, value: Option<&Value>) -> Option<StateSettings> {
        let mut leases = self.leases(&Map::new());
        let url = match value {
            None => None,
            Some(value) => {
                let map = self.table("state", value, &["url", "lease", "lease_round"])?;
                leases = self.leases(map);
                match map.get("url") {
                    None => None,
                    Some(Value::String(url)) => Some(url.trim().to_owned()),
                    Some(_) => {
                        self.problem("state.url", "is not valid: expected a string such as \"sqlite://autoscaled.db\" or \"postgres://USER:PASSWORD@HOST:5432/DB\"");
                        return None;
                    }
                }
            }
        };
        let (lease, lease_round) = leases?;
        let url = url.unwrap_or_else(|| store::DEFAULT_URL.to_owned());
        let valid = !url.starts_with("sqlite::") && store::check_url(&url).is_ok();
        if !valid {
            let reason = match store::check_url(&url) {
                Err(store::Error::Url { reason, .. }) => reason,
                _ => "an in-memory database keeps nothing across a restart".into(),
            };
            self.problem(
                "state.url",
                format!(
                    "\"{}\" is not valid ({reason}): expected sqlite://PATH, postgres://USER:PASSWORD@HOST:PORT/DB or postgresql://... (DATABASE_URL, when set, wins over [state] url)",
                    store::redact_url(&url)
                ),
            );
            return None;
        }
        Some(StateSettings {
            url: Secret::new(url),
            lease,
            lease_round,
        })
    }

    /// `[state] lease` and `lease_round`: a lease outlives two rounds and their margin, so one
    /// failed renewal never lets an app lapse to another instance.
    fn leases(&mut self, map: &Map<String, Value>) -> Option<(Duration, Duration)> {
        let lease = self.duration(map, "state", "lease", "10s");
        let round = self.duration(map, "state", "lease_round", "2s");
        let (lease, round) = (lease?, round?);
        if lease < round * 3 {
            self.problem(
                "state.lease",
                format!(
                    "{} is too short for lease_round ({}): expected at least 3 × lease_round, so a lease survives a failed renewal",
                    humantime::format_duration(lease),
                    humantime::format_duration(round)
                ),
            );
            return None;
        }
        Some((lease, round))
    }
}

#[cfg(test)]
mod tests;
