//! The fake's in-memory world: apps, formations, recorded requests, pending faults, the rate budget.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{FaultOptions, RecordedRequest};

/// All timestamps the fake reports; a fixed instant keeps responses reproducible.
const TIMESTAMP: &str = "2026-01-01T00:00:00Z";
const DEFAULT_SIZE: &str = "standard-1X";

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) apps: Vec<App>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) faults: Faults,
    pub(crate) rate: RateBudget,
    next_id: u64,
    next_request: u64,
}

#[derive(Debug)]
pub(crate) struct App {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) maintenance: bool,
    /// The most dynos an update may set (a plan limit, say): a larger quantity is answered 200
    /// with this one.
    pub(crate) quantity_limit: Option<u32>,
    /// In a release phase or preboot cutover: formation updates are refused.
    pub(crate) preboot: bool,
    pub(crate) formations: Vec<Formation>,
}

#[derive(Debug)]
pub(crate) struct Formation {
    pub(crate) id: String,
    pub(crate) process_type: String,
    pub(crate) quantity: u32,
    pub(crate) size: String,
}

/// Faults waiting to be served, each with the number of requests it still applies to (or, for
/// `fail_until`, the instant it ends).
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub(crate) fail: Option<(u32, u16, FaultOptions)>,
    pub(crate) fail_until: Option<(Instant, u16, FaultOptions)>,
    pub(crate) delay: Option<(u32, Duration)>,
    pub(crate) drop: u32,
}

impl Faults {
    pub(crate) fn take_delay(&mut self) -> Option<Duration> {
        let (left, delay) = self.delay.as_mut()?;
        let delay = *delay;
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.delay = None;
        }
        Some(delay)
    }

    pub(crate) fn take_drop(&mut self) -> bool {
        let drop = self.drop > 0;
        self.drop = self.drop.saturating_sub(1);
        drop
    }

    pub(crate) fn take_fail(&mut self) -> Option<(u16, FaultOptions)> {
        if let Some((until, status, options)) = &self.fail_until {
            if Instant::now() < *until {
                return Some((*status, options.clone()));
            }
            self.fail_until = None;
        }
        let (left, status, options) = self.fail.as_mut()?;
        let fault = (*status, options.clone());
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.fail = None;
        }
        Some(fault)
    }
}

/// Heroku's per-account token bucket; refilled lazily from tokio's clock so paused-time tests see it.
#[derive(Debug)]
pub(crate) struct RateBudget {
    tokens: f64,
    max: f64,
    per_minute: f64,
    refilled_at: Instant,
}

impl RateBudget {
    fn refill(&mut self) {
        let now = Instant::now();
        let minutes = now.duration_since(self.refilled_at).as_secs_f64() / 60.0;
        self.tokens = (self.tokens + minutes * self.per_minute).min(self.max.max(self.tokens));
        self.refilled_at = now;
    }

    /// Takes one token; `false` when none is left.
    pub(crate) fn take(&mut self) -> bool {
        self.refill();
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }

    pub(crate) fn remaining(&mut self) -> u32 {
        self.refill();
        // Truncation is the point: a partly refilled token cannot be spent yet.
        self.tokens.floor() as u32
    }

    pub(crate) fn set(&mut self, tokens: u32) {
        self.refill();
        self.tokens = f64::from(tokens);
    }
}

impl State {
    pub(crate) fn new(rate_limit: u32, refill_per_minute: u32) -> Self {
        Self {
            apps: Vec::new(),
            requests: Vec::new(),
            faults: Faults::default(),
            rate: RateBudget {
                tokens: f64::from(rate_limit),
                max: f64::from(rate_limit),
                per_minute: f64::from(refill_per_minute),
                refilled_at: Instant::now(),
            },
            next_id: 1,
            next_request: 1,
        }
    }

    fn new_id(&mut self, kind: u16) -> String {
        let id = uuid(kind, self.next_id);
        self.next_id += 1;
        id
    }

    pub(crate) fn new_request_id(&mut self) -> String {
        let id = uuid(0xfeed, self.next_request);
        self.next_request += 1;
        id
    }

    /// The app whose name or id is `identity`.
    pub(crate) fn app(&self, identity: &str) -> Option<&App> {
        self.apps
            .iter()
            .find(|a| a.name == identity || a.id == identity)
    }

    pub(crate) fn app_index(&self, identity: &str) -> Option<usize> {
        self.apps
            .iter()
            .position(|a| a.name == identity || a.id == identity)
    }

    /// The app called `identity`, created if missing.
    pub(crate) fn app_mut(&mut self, identity: &str) -> &mut App {
        let index = match self.app_index(identity) {
            Some(index) => index,
            None => {
                let id = self.new_id(0xa99);
                self.apps.push(App {
                    id,
                    name: identity.to_owned(),
                    maintenance: false,
                    quantity_limit: None,
                    preboot: false,
                    formations: Vec::new(),
                });
                self.apps.len() - 1
            }
        };
        &mut self.apps[index]
    }

    pub(crate) fn formation(&self, app: &str, process_type: &str) -> Option<&Formation> {
        self.app(app)?.formation(process_type)
    }

    pub(crate) fn set_quantity(&mut self, app: &str, process_type: &str, quantity: u32) {
        let id = self.new_id(0xf0);
        let app = self.app_mut(app);
        match app
            .formations
            .iter_mut()
            .find(|f| f.process_type == process_type)
        {
            Some(formation) => formation.quantity = quantity,
            None => app.formations.push(Formation {
                id,
                process_type: process_type.to_owned(),
                quantity,
                size: DEFAULT_SIZE.to_owned(),
            }),
        }
    }
}

impl App {
    /// The formation whose type or id is `identity`.
    pub(crate) fn formation(&self, identity: &str) -> Option<&Formation> {
        self.formations
            .iter()
            .find(|f| f.process_type == identity || f.id == identity)
    }

    pub(crate) fn formation_mut(&mut self, identity: &str) -> Option<&mut Formation> {
        self.formations
            .iter_mut()
            .find(|f| f.process_type == identity || f.id == identity)
    }

    /// The app as Heroku's `app` Info answers it.
    pub(crate) fn to_json(&self) -> Value {
        // Heroku derives these URLs from the name; a name outside Heroku's pattern gets none.
        let plausible = is_heroku_app_name(&self.name);
        let web_url = (plausible && self.name.len() >= 4)
            .then(|| format!("https://{}.herokuapp.com/", self.name));
        let mut app = json!({
            "acm": false,
            "archived_at": null,
            "buildpack_provided_description": null,
            "build_stack": {"id": uuid(0x57, 24), "name": "heroku-24"},
            "created_at": TIMESTAMP,
            "generation": {"id": uuid(0x6e, 1), "name": "cedar"},
            "id": self.id,
            "internal_routing": null,
            "maintenance": self.maintenance,
            "name": self.name,
            "organization": null,
            "owner": {"email": "owner@example.com", "id": uuid(0xacc, 1)},
            "region": {"id": uuid(0x4e, 1), "name": "us"},
            "released_at": TIMESTAMP,
            "repo_size": null,
            "slug_size": null,
            "space": null,
            "stack": {"id": uuid(0x57, 24), "name": "heroku-24"},
            "team": null,
            "updated_at": TIMESTAMP,
            "web_url": web_url,
        });
        if plausible && let Some(map) = app.as_object_mut() {
            map.insert(
                "git_url".to_owned(),
                json!(format!("https://git.heroku.com/{}.git", self.name)),
            );
        }
        app
    }

    /// One formation as Heroku's `formation` Info answers it.
    pub(crate) fn formation_json(&self, formation: &Formation) -> Value {
        json!({
            "app": {"id": self.id, "name": self.name},
            "command": format!("bin/{}", formation.process_type),
            "created_at": TIMESTAMP,
            "dyno_size": {"id": uuid(0xd5, fnv(&formation.size)), "name": formation.size},
            "id": formation.id,
            "quantity": formation.quantity,
            "size": formation.size,
            "type": formation.process_type,
            "updated_at": TIMESTAMP,
        })
    }
}

/// Heroku's app name pattern, `^[a-z][a-z0-9-]{1,28}[a-z0-9]$`.
fn is_heroku_app_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=30).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.last().is_some_and(|b| *b != b'-')
}

/// A well-formed (version 4 shaped) UUID, unique per `(kind, n)` with `n` below 2^48.
fn uuid(kind: u16, n: u64) -> String {
    format!(
        "00000000-{kind:04x}-4000-8000-{:012x}",
        n & 0xffff_ffff_ffff
    )
}

/// A stable number for a dyno size name, so a size keeps its id across responses.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_follow_herokus_pattern() {
        assert!(is_heroku_app_name("my-app"));
        assert!(is_heroku_app_name("a1b"));
        assert!(!is_heroku_app_name("ab"));
        assert!(!is_heroku_app_name("My-app"));
        assert!(!is_heroku_app_name("my-app-"));
        assert!(!is_heroku_app_name("1app"));
        assert!(!is_heroku_app_name("my app"));
    }

    #[test]
    fn faults_count_down_and_clear() {
        let mut faults = Faults {
            fail: Some((2, 503, FaultOptions::default())),
            delay: Some((1, Duration::from_secs(3))),
            drop: 1,
            ..Faults::default()
        };
        assert_eq!(faults.take_delay(), Some(Duration::from_secs(3)));
        assert_eq!(faults.take_delay(), None);
        assert!(faults.take_drop());
        assert!(!faults.take_drop());
        assert_eq!(faults.take_fail().map(|f| f.0), Some(503));
        assert_eq!(faults.take_fail().map(|f| f.0), Some(503));
        assert_eq!(faults.take_fail(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_failure_lasts_until_its_end_whatever_the_count() {
        let mut faults = Faults {
            fail: Some((1, 503, FaultOptions::default())),
            fail_until: Some((
                Instant::now() + Duration::from_secs(60),
                429,
                FaultOptions::default(),
            )),
            ..Faults::default()
        };
        for _ in 0..5 {
            assert_eq!(faults.take_fail().map(|f| f.0), Some(429));
        }
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(faults.take_fail().map(|f| f.0), Some(429));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(faults.take_fail().map(|f| f.0), Some(503));
        assert_eq!(faults.take_fail(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_budget_refills_at_its_rate_up_to_its_max() {
        let mut state = State::new(2, 75);
        assert!(state.rate.take());
        assert!(state.rate.take());
        assert!(!state.rate.take());
        // 75 a minute is one every 800 ms.
        tokio::time::advance(Duration::from_millis(790)).await;
        assert_eq!(state.rate.remaining(), 0);
        tokio::time::advance(Duration::from_millis(20)).await;
        assert_eq!(state.rate.remaining(), 1);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(state.rate.remaining(), 2);
    }
}
