//! The endpoints, served for real on 127.0.0.1:0 and read with an HTTP client.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use heroku_fake::FakeHeroku;
use notify::{Notifier, NotifyConfig};
use probe::Class;
use prometheus_parse::{LineInfo, Scrape, Value};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Sources, start};
use crate::config::Config;
use crate::daemon::{Alerter, Clock};
use crate::status::{Board, DecisionView, ProbeView};

const API_KEY: &str = "api-key-4f1c9e-never-shown";
const SMTP_PASSWORD: &str = "smtp-pw-83be1-never-shown";
const TWILIO_TOKEN: &str = "twilio-token-7d2a0-never-shown";
const PAGE_PASSWORD: &str = "page-pw-52c7e-never-shown";
const PROBE_TOKEN: &str = "probe-token-19fa3-never-shown";
const SECRETS: [&str; 5] = [
    API_KEY,
    SMTP_PASSWORD,
    TWILIO_TOKEN,
    PAGE_PASSWORD,
    PROBE_TOKEN,
];

fn config(heroku_url: &str) -> Config {
    let tree = json!({
        "heroku": { "api_key": API_KEY, "api_url": heroku_url },
        "apps": [{
            "name": "shop",
            "process": "web",
            "min": 1,
            "max": 4,
            "schedule": [
                { "cron": "0 7 * * *", "quantity": 3 },
                { "cron": "0 22 * * *", "quantity": 2 },
            ],
            "probe": { "url": format!("https://user:{PROBE_TOKEN}@shop.example.com/health?token={PROBE_TOKEN}") },
        }],
        "alerts": {
            "email": {
                "smtp_url": format!("smtp://ops:{SMTP_PASSWORD}@127.0.0.1:1"),
                "from": "autoscaled <alerts@example.com>",
                "to": ["ops@example.com"],
            },
            "sms": {
                "account_sid": "AC0123456789abcdef0123456789abcdef",
                "auth_token": TWILIO_TOKEN,
                "from": "+15005550006",
                "to": ["+15555550100"],
                "api_url": "http://127.0.0.1:1",
            },
        },
        "http": { "listen": "127.0.0.1:0", "password": PAGE_PASSWORD },
    });
    match Config::from_tree(&tree) {
        Ok(config) => config,
        Err(e) => panic!("test config: {e}"),
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A running server over a board with an hour of history, and what it was built from.
struct Served {
    addr: SocketAddr,
    board: Board,
    _fake: FakeHeroku,
    shutdown: CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn serve(password: bool) -> Served {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation("shop", "web", 3);
    fake.set_rate_limit_remaining(4321);
    let config = config(&fake.url());
    let client = crate::daemon::heroku_client(&config).unwrap();
    // One call, so the client has seen RateLimit-Remaining.
    client.formation_info("shop", "web").await.unwrap();
    let shutdown = CancellationToken::new();
    let notify = NotifyConfig {
        email: config.alerts.email.clone(),
        sms: config.alerts.sms.clone(),
        ..NotifyConfig::default()
    };
    let (notifier, _task) = Notifier::spawn(notify, shutdown.child_token()).unwrap();

    let board = Board::default();
    let i = board.add("shop", "web", 3);
    board.update(i, |s| s.actual = Some(3));
    for minute in 0..60 {
        let at = t0() + TimeDelta::minutes(minute);
        let (class, millis) = if minute % 10 == 9 {
            (Class::Slow, 6_000)
        } else {
            (Class::Fast, 200 + minute as u64)
        };
        let view = ProbeView {
            at,
            class: format!("{class:?}").to_lowercase(),
            status: Some(200),
            latency: Duration::from_millis(millis),
            detail: format!("HTTP 200 in {millis} ms"),
        };
        board.record_probe(i, class, view);
        board.record_sample(i, at);
    }
    board.record_decision(
        i,
        DecisionView {
            at: t0() + TimeDelta::minutes(30),
            from: 3,
            to: 4,
            reason: "2 slow probes in a row".into(),
        },
    );
    board.update(i, |s| s.target = 4);
    board.count_scale_call(i, true);
    board.count_scale_call(i, false);

    let sources = Sources {
        board: board.clone(),
        apps: config.apps.clone(),
        client,
        alerter: Alerter::new(Some(notifier)),
        // A clock an hour into the history, at real speed.
        clock: Clock::fast(t0() + TimeDelta::hours(1), 1),
    };
    let password = password.then(|| config.http.password.clone()).flatten();
    let (addr, _) = start(
        "127.0.0.1:0".parse().unwrap(),
        password,
        sources,
        shutdown.clone(),
    )
    .await
    .unwrap();
    Served {
        addr,
        board,
        _fake: fake,
        shutdown,
    }
}

async fn get(addr: SocketAddr, path: &str) -> reqwest::Response {
    reqwest::get(format!("http://{addr}{path}")).await.unwrap()
}

#[tokio::test]
async fn healthz_is_200_only_while_the_decision_task_runs() {
    let served = serve(false).await;
    let ok = get(served.addr, "/healthz").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "ok\n");

    served.board.add("late", "worker", 1);
    let starting = get(served.addr, "/healthz").await;
    assert_eq!(starting.status(), 503);
    assert!(
        starting
            .text()
            .await
            .unwrap()
            .contains("late worker: not started yet")
    );
}

#[tokio::test(start_paused = true)]
async fn healthz_notices_a_stuck_decision_task() {
    let board = Board::default();
    let i = board.add("shop", "web", 1);
    let config = config("http://127.0.0.1:1");
    let sources = Sources {
        board: board.clone(),
        apps: config.apps.clone(),
        client: crate::daemon::heroku_client(&config).unwrap(),
        alerter: Alerter::new(None),
        clock: Clock::fast(t0(), 1),
    };
    board.record_sample(i, t0());
    let state = super::AppState {
        sources,
        password: None,
    };
    let status = |state: super::AppState| async move {
        super::healthz(axum::extract::State(state)).await.status()
    };
    assert_eq!(status(state.clone()).await, 200);
    tokio::time::advance(Duration::from_secs(179)).await;
    assert_eq!(status(state.clone()).await, 200);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(status(state.clone()).await, 503);
    board.record_sample(i, t0() + TimeDelta::minutes(3));
    assert_eq!(status(state).await, 200);
}

#[tokio::test]
async fn api_status_gives_quantities_probe_decisions_and_what_comes_next() {
    let served = serve(false).await;
    let response = get(served.addr, "/api/status").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    let app = &body["apps"][0];
    assert_eq!(app["app"], "shop");
    assert_eq!(app["process"], "web");
    assert_eq!(
        (
            app["baseline"].as_u64(),
            app["target"].as_u64(),
            app["actual"].as_u64()
        ),
        (Some(3), Some(4), Some(3))
    );
    assert_eq!(
        (app["min"].as_u64(), app["max"].as_u64()),
        (Some(1), Some(4))
    );
    assert_eq!(app["last_probe"]["class"], "slow");
    assert_eq!(app["last_probe"]["latency"], 6000.0);
    assert_eq!(app["decisions"][0]["reason"], "2 slow probes in a row");
    assert_eq!(app["decisions"][0]["to"], 4);
    // The clock reads 10:00; the schedule's next changes are 22:00 (2) and 07:00 (3).
    let changes = app["next_changes"].as_array().unwrap();
    assert_eq!(
        changes[0],
        json!({ "at": "2026-11-27T22:00:00Z", "quantity": 2 })
    );
    assert_eq!(
        changes[1],
        json!({ "at": "2026-11-28T07:00:00Z", "quantity": 3 })
    );
    assert!(
        body["now"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-27T10:00:0"),
        "{}",
        body["now"]
    );
    assert_eq!(body["simulated"], false);

    // Cost today: the schedule before 09:00 (2 until 07:00, then 3), an hour at actual 3 from the
    // history, then the baseline to midnight: 14 + 6 + 3 + 36 + 4 = 63 dyno-hours, against 96 at max.
    let cost = &app["cost_today"];
    assert_eq!(cost["dyno_hours"], 63.0, "{cost}");
    assert_eq!(cost["max_dyno_hours"], 96.0);
    let price = cost["price_per_hour"].as_f64().unwrap();
    assert!(
        (cost["max_cost"].as_f64().unwrap() - (96.0 * price * 100.0).round() / 100.0).abs() < 1e-9
    );
}

#[tokio::test]
async fn api_history_gives_5_minute_intervals_with_percentiles_and_markers() {
    let served = serve(false).await;
    let body: serde_json::Value = get(served.addr, "/api/history").await.json().await.unwrap();
    assert_eq!(body["bucket_seconds"], 300);
    assert!(
        body["from"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-26T10:00:0"),
        "{}",
        body["from"]
    );
    let app = &body["apps"][0];
    let buckets = app["buckets"].as_array().unwrap();
    assert_eq!(
        buckets.len(),
        12,
        "an hour of samples in 5-minute intervals"
    );
    // 09:05-09:10 holds probes at 205..208 ms and a slow one (6 s) at 09:09.
    assert_eq!(buckets[1]["probes"], 5);
    assert_eq!(buckets[1]["p50"], 207.0);
    assert_eq!(buckets[1]["p95"], 6000.0);
    assert_eq!(buckets[1]["actual"], 3);
    assert_eq!(app["markers"][0]["kind"], "scale");
    assert_eq!(app["timezone"], "UTC");
}

#[tokio::test]
async fn the_page_and_its_script_are_served_from_here() {
    let served = serve(false).await;
    let page = get(served.addr, "/").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(html.contains("<script src=\"page.js\"></script>"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN, no outside link"
    );
    let script = get(served.addr, "/page.js").await;
    assert_eq!(script.status(), 200);
    let js = script.text().await.unwrap();
    assert!(js.contains("data-points") && js.contains("api/history"));
    assert!(!js.contains("http://") && !js.contains("https://"));
}

fn scrape(text: &str) -> Scrape {
    // prometheus-parse skips lines it does not understand; insist that it understood every one.
    for line in text.lines() {
        let info = LineInfo::parse(line);
        assert!(
            !matches!(info, LineInfo::Ignored | LineInfo::Empty),
            "unparsed line: {line:?}"
        );
        if line.starts_with('#') {
            assert!(
                matches!(info, LineInfo::Doc { .. } | LineInfo::Type { .. }),
                "{line:?}"
            );
        }
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<Value> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| s.value.clone())
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_with_every_series() {
    let served = serve(false).await;
    let response = get(served.addr, "/metrics").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let scrape = scrape(&text);
    let app = [("app", "shop"), ("process", "web")];

    let Some(Value::Histogram(buckets)) = value(&scrape, "autoscaled_probe_duration_seconds", &app)
    else {
        panic!("no histogram in\n{text}");
    };
    let le = |bound: f64| {
        buckets
            .iter()
            .find(|b| b.less_than == bound)
            .map(|b| b.count)
    };
    assert_eq!(le(0.25), Some(46.0), "the fast probes up to 250 ms");
    assert_eq!(le(0.5), Some(54.0), "all the fast probes (200-258 ms)");
    assert_eq!(le(5.0), Some(54.0));
    assert_eq!(le(10.0), Some(60.0), "and the six slow ones (6 s)");
    assert_eq!(le(f64::INFINITY), Some(60.0));
    assert!(
        buckets
            .windows(2)
            .all(|w| w[0].less_than < w[1].less_than && w[0].count <= w[1].count)
    );
    assert!(
        text.contains("autoscaled_probe_duration_seconds_count{app=\"shop\",process=\"web\"} 60\n")
    );

    let counter = |metric, extra: (&str, &str)| {
        let labels = [app[0], app[1], extra];
        value(&scrape, metric, &labels)
    };
    assert_eq!(
        counter("autoscaled_probes_total", ("class", "fast")),
        Some(Value::Counter(54.0))
    );
    assert_eq!(
        counter("autoscaled_probes_total", ("class", "slow")),
        Some(Value::Counter(6.0))
    );
    assert_eq!(
        counter("autoscaled_probes_total", ("class", "down")),
        Some(Value::Counter(0.0))
    );
    assert_eq!(
        counter("autoscaled_scale_calls_total", ("outcome", "ok")),
        Some(Value::Counter(1.0))
    );
    assert_eq!(
        counter("autoscaled_scale_calls_total", ("outcome", "failed")),
        Some(Value::Counter(1.0))
    );
    assert_eq!(
        value(&scrape, "autoscaled_baseline_dynos", &app),
        Some(Value::Gauge(3.0))
    );
    assert_eq!(
        value(&scrape, "autoscaled_target_dynos", &app),
        Some(Value::Gauge(4.0))
    );
    assert_eq!(
        value(&scrape, "autoscaled_actual_dynos", &app),
        Some(Value::Gauge(3.0))
    );
    assert_eq!(
        value(&scrape, "autoscaled_outage", &app),
        Some(Value::Gauge(0.0))
    );
    for channel in ["email", "sms"] {
        for outcome in ["sent", "failed"] {
            let labels = [("channel", channel), ("outcome", outcome)];
            assert_eq!(
                value(&scrape, "autoscaled_alerts_total", &labels),
                Some(Value::Counter(0.0)),
                "{channel} {outcome}"
            );
        }
    }
    assert_eq!(
        value(
            &scrape,
            "autoscaled_alerts_suppressed_total",
            &[("reason", "held_back")]
        ),
        Some(Value::Counter(0.0))
    );
    assert_eq!(
        value(&scrape, "autoscaled_heroku_ratelimit_remaining", &[]),
        Some(Value::Gauge(4320.0))
    );
    let Some(Value::Gauge(bytes)) = value(&scrape, "autoscaled_history_bytes", &[]) else {
        panic!("no history_bytes")
    };
    assert!((60.0 * 24.0..100_000.0).contains(&bytes), "{bytes}");
    for name in [
        "autoscaled_probes_total",
        "autoscaled_actual_dynos",
        "autoscaled_alerts_total",
    ] {
        assert!(scrape.docs.contains_key(name), "HELP for {name}");
    }
}

#[tokio::test]
async fn a_password_guards_everything_but_healthz() {
    let served = serve(true).await;
    let client = reqwest::Client::new();
    for path in ["/", "/page.js", "/api/status", "/api/history", "/metrics"] {
        let url = format!("http://{}{path}", served.addr);
        let none = client.get(&url).send().await.unwrap();
        assert_eq!(none.status(), 401, "{path}");
        assert!(
            none.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic realm=")
        );
        let wrong = client
            .get(&url)
            .basic_auth("ops", Some("not-it"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
        let longer = client
            .get(&url)
            .basic_auth("ops", Some(format!("{PAGE_PASSWORD}x")))
            .send()
            .await
            .unwrap();
        assert_eq!(longer.status(), 401, "{path}");
        let right = client
            .get(&url)
            .basic_auth("anyone", Some(PAGE_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), 200, "{path}");
    }
    let garbage = client
        .get(format!("http://{}/metrics", served.addr))
        .header("authorization", "Basic !!!not-base64")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);
    assert_eq!(get(served.addr, "/healthz").await.status(), 200);
}

#[tokio::test]
async fn no_secret_reaches_any_endpoint() {
    let served = serve(true).await;
    let client = reqwest::Client::new();
    for path in [
        "/",
        "/page.js",
        "/api/status",
        "/api/history",
        "/metrics",
        "/healthz",
        "/nowhere",
    ] {
        let url = format!("http://{}{path}", served.addr);
        for auth in [None, Some(PAGE_PASSWORD)] {
            let mut request = client.get(&url);
            if let Some(password) = auth {
                request = request.basic_auth("ops", Some(password));
            }
            let response = request.send().await.unwrap();
            let headers = format!("{:?}", response.headers());
            let body = response.text().await.unwrap();
            for secret in SECRETS {
                assert!(
                    !body.contains(secret) && !headers.contains(secret),
                    "{secret} in {path}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_taken_address_is_reported() {
    let served = serve(false).await;
    let config = config("http://127.0.0.1:1");
    let sources = Sources {
        board: Board::default(),
        apps: config.apps.clone(),
        client: crate::daemon::heroku_client(&config).unwrap(),
        alerter: Alerter::new(None),
        clock: Clock::real(),
    };
    let error = start(served.addr, None, sources, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "cannot listen on {} for the status page",
            served.addr
        )),
        "{error}"
    );
}
