//! The endpoints, served for real on 127.0.0.1:0 and read with an HTTP client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use probe::Class;
use prometheus_parse::{LineInfo, Scrape, Value};
use schedule::{Rule, Schedule};
use secret::Secret;
use serde_json::json;
use tokio::sync::oneshot;

use super::{AppState, Limits, health, start};
use crate::{AlertCounts, AppInfo, Board, Clock, DecisionView, ProbeView, Readings, Sources};

const PAGE_PASSWORD: &str = "page-pw-52c7e-never-shown";
/// What the daemon holds besides the page's password and must never show; none of it is handed to
/// the crate, and the tests check it stays that way by handing it over where the crate could leak
/// it (the readings' `Debug`).
const API_KEY: &str = "api-key-4f1c9e-never-shown";
const SECRETS: [&str; 2] = [API_KEY, PAGE_PASSWORD];

/// A clock stopped at one instant.
#[derive(Debug)]
struct Stopped(DateTime<Utc>);

impl Clock for Stopped {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// What the daemon would count: two channels with nothing sent yet, and Heroku's rate limit.
#[derive(Debug)]
struct Counted {
    #[allow(dead_code, reason = "only here to be shown by Debug, if anything did")]
    api_key: Secret,
}

impl Readings for Counted {
    fn alerts(&self) -> Option<AlertCounts> {
        Some(AlertCounts::default())
    }
    fn heroku_rate_limit_remaining(&self) -> Option<u32> {
        Some(4320)
    }
}

fn shop() -> AppInfo {
    let rules = vec![
        Rule::new("0 7 * * *", 3).unwrap(),
        Rule::new("0 22 * * *", 2).unwrap(),
    ];
    AppInfo {
        name: "shop".into(),
        process: "web".into(),
        min: 1,
        max: 4,
        schedule: Schedule::new(rules, chrono_tz::UTC, 1),
        price_per_hour: 0.035,
    }
}

fn sources(board: &Board, at: DateTime<Utc>) -> Sources {
    Sources {
        board: board.clone(),
        apps: vec![shop()],
        clock: Arc::new(Stopped(at)),
        readings: Arc::new(Counted {
            api_key: Secret::from(API_KEY),
        }),
        drains: crate::Drains::off(),
        edits: None,
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A running server over a board with an hour of history.
struct Served {
    addr: SocketAddr,
    board: Board,
    _shutdown: oneshot::Sender<()>,
    _writer_stop: oneshot::Sender<()>,
}

/// A board whose minutes go to an SQLite database in memory, written every 10 ms; the sender
/// whose drop stops the writer. The writer prunes by the fixtures' clock (an hour after [`t0`]),
/// not the wall clock, so the hour of history is kept whatever today's date.
async fn kept_board() -> (Board, store::Store, store::Persister, oneshot::Sender<()>) {
    let store = store::Store::open(store::MEMORY_URL, store::Access::Daemon)
        .await
        .unwrap();
    let options = store::WriterOptions {
        history_every: Duration::from_millis(10),
        now: Arc::new(|| t0() + TimeDelta::hours(1)),
        ..store::WriterOptions::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let (writer, _) = store::Persister::spawn(store.clone(), options, async {
        let _ = stopped.await;
    });
    let board = Board::default();
    board.keep_history(store.clone());
    (board, store, writer, stop)
}

async fn serve(password: bool) -> Served {
    let (board, store, writer, writer_stop) = kept_board().await;
    let i = board.add("shop", "web", 3);
    board.update(i, |s| s.actual = Some(3));
    let mut minutes = crate::test_minutes::Minutes::new(&board, i, &writer);
    for minute in 0..60 {
        let at = t0() + TimeDelta::minutes(minute);
        let (class, millis) = if minute % 10 == 9 {
            (Class::Slow, 6_000)
        } else {
            (Class::Fast, 200 + minute as u64)
        };
        let view = ProbeView {
            at,
            class: crate::class_name(class).into(),
            status: Some(200),
            latency: Duration::from_millis(millis),
            detail: format!("HTTP 200 in {millis} ms"),
        };
        minutes.probe(class, view);
        board.beat(i);
    }
    minutes.close(t0() + TimeDelta::hours(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while store
        .history("shop", t0(), t0() + TimeDelta::hours(1))
        .await
        .unwrap()
        .len()
        < 60
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the hour is not written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
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

    // The clock reads an hour into the history.
    let sources = sources(&board, t0() + TimeDelta::hours(1));
    let password = password.then(|| Secret::from(PAGE_PASSWORD));
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, _) = start(
        "127.0.0.1:0".parse().unwrap(),
        password,
        sources,
        Limits::default(),
        async {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    Served {
        addr,
        board,
        _shutdown: stop,
        _writer_stop: writer_stop,
    }
}

async fn get(addr: SocketAddr, path: &str) -> reqwest::Response {
    reqwest::get(format!("http://{addr}{path}")).await.unwrap()
}

/// The JSON body of `GET path`.
async fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    get(addr, path).await.json().await.unwrap()
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

    // Held by another instance of the fleet: not this one's to start, nor to answer for.
    let i = served.board.snapshot().len() - 1;
    served.board.update(i, |s| {
        s.holder = Some("web.2/42".into());
        s.elsewhere = true;
    });
    assert_eq!(get(served.addr, "/healthz").await.status(), 200);
    // And `/api/status` says who holds each app.
    served
        .board
        .update(0, |s| s.holder = Some("web.1/7".into()));
    let api = get_json(served.addr, "/api/status").await;
    let shop = &api["apps"][0];
    assert_eq!(
        (shop["holder"].as_str(), shop["elsewhere"].as_bool()),
        (Some("web.1/7"), Some(false)),
        "{api}"
    );
}

#[tokio::test(start_paused = true)]
async fn healthz_notices_a_stuck_decision_task() {
    let board = Board::default();
    let i = board.add("shop", "web", 1);
    let sources = sources(&board, t0());
    board.beat(i);
    let status = || health(&sources).0;
    assert_eq!(status(), 200);
    tokio::time::advance(Duration::from_secs(179)).await;
    assert_eq!(status(), 200);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(status(), 503);
    assert!(
        health(&sources)
            .1
            .contains("shop web: no decision for 181 s")
    );
    board.beat(i);
    assert_eq!(status(), 200);
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
    assert_eq!(body["refresh_seconds"], 15);

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
    let body = get_json(served.addr, "/api/history").await;
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
async fn api_history_gives_a_week_in_hours_and_refuses_other_spans() {
    let served = serve(false).await;
    let body = get_json(served.addr, "/api/history?span=7d").await;
    assert_eq!(body["span"], "7d");
    assert_eq!(body["bucket_seconds"], 3600);
    assert!(
        body["from"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-20T10:00:0"),
        "{}",
        body["from"]
    );
    let buckets = body["apps"][0]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 1, "an hour of minutes in one interval");
    assert_eq!(buckets[0]["probes"], 60);
    assert_eq!(buckets[0]["p95"], 6000.0);
    let day = get_json(served.addr, "/api/history?span=24h").await;
    assert_eq!(day["span"], "24h");
    let refused = get(served.addr, "/api/history?span=1y").await;
    assert_eq!(refused.status(), 400);
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
    // The minute under way and the last five: the store holds the rest.
    assert!((500.0..4_096.0).contains(&bytes), "{bytes}");
    assert_eq!(
        value(
            &scrape,
            "autoscaled_probe_local_faults_total",
            &[("app", "shop"), ("process", "web")]
        ),
        Some(Value::Counter(0.0))
    );
    let Some(Value::Gauge(open)) = value(&scrape, "autoscaled_http_connections", &[]) else {
        panic!("no http_connections")
    };
    assert!(open >= 1.0, "this scrape's own connection: {open}");
    for name in [
        "autoscaled_probes_total",
        "autoscaled_actual_dynos",
        "autoscaled_alerts_total",
        "autoscaled_http_connections_closed_total",
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
    let error = start(
        served.addr,
        None,
        sources(&Board::default(), t0()),
        Limits::default(),
        std::future::pending(),
    )
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

#[test]
fn no_secret_in_any_debug() {
    let board = Board::default();
    board.add("shop", "web", 1);
    let state = AppState {
        sources: sources(&board, t0()),
        password: Some(Arc::new(crate::Password::new(&Secret::from(PAGE_PASSWORD)))),
        registry: Arc::default(),
        body_timeout: Limits::default().body_timeout,
    };
    let shown = format!("{state:?}");
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[tokio::test]
async fn api_status_lists_each_apps_overrides_and_pauses_from_the_store() {
    let (board, store, _writer, _writer_stop) = kept_board().await;
    board.add("shop", "web", 3);
    let record = |action, from: DateTime<Utc>, until: Option<DateTime<Utc>>, process: &str| {
        store::NewOverride {
            key: store::ProcessKey::new("shop", process),
            action,
            from,
            until,
            reason: "Friday launch".into(),
            by: "ada".into(),
            created_at: t0(),
        }
    };
    let set = store::OverrideAction::Set {
        quantity: Some(6),
        min: None,
        max: Some(8),
    };
    let hour = TimeDelta::hours(1);
    let running = store
        .add_override(&record(set, t0() - hour, Some(t0() + hour), "web"))
        .await
        .unwrap();
    let coming = store
        .add_override(&record(
            store::OverrideAction::Pause,
            t0() + hour,
            None,
            "web",
        ))
        .await
        .unwrap();
    // Over already, and another process type's: not on this card.
    store
        .add_override(&record(set, t0() - hour * 2, Some(t0() - hour), "web"))
        .await
        .unwrap();
    store
        .add_override(&record(set, t0(), Some(t0() + hour), "worker"))
        .await
        .unwrap();

    let out =
        serde_json::to_value(super::api::status(&sources(&board, t0()), false).await).unwrap();
    let shown = &out["apps"][0]["overrides"];
    assert_eq!(shown.as_array().map(Vec::len), Some(2), "{out}");
    assert_eq!(shown[0]["id"], running.id);
    assert_eq!(
        (
            &shown[0]["kind"],
            &shown[0]["quantity"],
            &shown[0]["max"],
            &shown[0]["min"]
        ),
        (
            &"override".into(),
            &6.into(),
            &8.into(),
            &serde_json::Value::Null
        )
    );
    assert_eq!(
        (&shown[0]["active"], &shown[0]["by"]),
        (&true.into(), &"ada".into())
    );
    assert_eq!(shown[1]["id"], coming.id);
    assert_eq!(
        (&shown[1]["kind"], &shown[1]["active"]),
        (&"pause".into(), &false.into())
    );
    assert_eq!(shown[1]["until"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_workers_queue_reading_reaches_the_metrics_and_the_status() {
    let served = serve(false).await;
    let labels = [("app", "shop"), ("process", "web")];
    // Before any reading (a process type not scaled on a queue): no series, rather than a 0
    // that reads as "empty", and no figures in the status.
    let text = get(served.addr, "/metrics").await.text().await.unwrap();
    assert_eq!(
        value(&scrape(&text), "autoscaled_queue_ready_jobs", &labels),
        None
    );
    let status = get_json(served.addr, "/api/status").await;
    assert!(status["apps"][0]["queue"].is_null(), "{status}");

    let at = t0() + TimeDelta::minutes(59);
    served.board.record_queue(
        0,
        crate::QueueView {
            at,
            ready: 130,
            latency: Some(Duration::from_millis(42_500)),
            busy: Some(20),
            queues: vec![crate::QueueLine {
                name: "default".into(),
                depth: 128,
                latency: Some(Duration::from_millis(42_500)),
                busy: Some(20),
                due: 2,
            }],
        },
    );
    let text = get(served.addr, "/metrics").await.text().await.unwrap();
    let scrape = scrape(&text);
    assert_eq!(
        value(&scrape, "autoscaled_queue_ready_jobs", &labels),
        Some(Value::Gauge(130.0)),
        "{text}"
    );
    assert_eq!(
        value(&scrape, "autoscaled_queue_busy_jobs", &labels),
        Some(Value::Gauge(20.0))
    );
    assert_eq!(
        value(&scrape, "autoscaled_queue_latency_seconds", &labels),
        Some(Value::Gauge(42.5))
    );

    let status = get_json(served.addr, "/api/status").await;
    let queue = &status["apps"][0]["queue"];
    assert_eq!(queue["ready"], 130, "{status}");
    assert_eq!(queue["latency"], 42_500.0);
    assert_eq!(queue["busy"], 20);
    assert_eq!(queue["queues"][0]["name"], "default");
    assert_eq!(queue["queues"][0]["due"], 2);
}
