//! The write API served for real on 127.0.0.1:0 over an SQLite database in memory: every refusal
//! leaves the database as it was; an accepted request writes the row the store lists.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use secret::Secret;
use serde_json::{Value, json};
use store::{NewOverride, OverrideAction, ProcessKey, Store};

use super::{Limits, start};
use crate::{
    Board, Clock, Edits, NoReadings, OverrideRequest, PAGE_USER, PauseRequest, Rules, Sources,
};

const PAGE_PASSWORD: &str = "page-pw-edits-never-shown";

#[derive(Debug)]
struct Stopped(DateTime<Utc>);

impl Clock for Stopped {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Stands in for the daemon's rules (the CLI's, tested in the binary): the app `shop` only, a
/// length in hours, a quantity of at most 4, a pause with a reason. Its messages must come back
/// word for word.
#[derive(Debug)]
struct Judge;

fn hours(text: Option<&str>, problems: &mut Vec<String>) -> Option<DateTime<Utc>> {
    let text = text?;
    match text.strip_suffix('h').and_then(|n| n.parse::<i64>().ok()) {
        Some(n) => Some(t0() + TimeDelta::hours(n)),
        None => {
            problems.push(format!("--for {text}: expected hours, such as 3h"));
            None
        }
    }
}

impl Rules for Judge {
    fn check_override(
        &self,
        request: &OverrideRequest,
        now: DateTime<Utc>,
    ) -> Result<NewOverride, Vec<String>> {
        let mut problems = Vec::new();
        if request.app != "shop" {
            problems.push(format!(
                "app \"{}\" is not in the config (it has shop)",
                request.app
            ));
        }
        let until = hours(request.for_.as_deref(), &mut problems);
        if let Some(quantity) = request.quantity.filter(|q| *q > 4) {
            problems.push(format!("--quantity {quantity} is outside [1, 4]"));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(NewOverride {
            key: ProcessKey::new("shop", "web"),
            action: OverrideAction::Set {
                quantity: request.quantity,
                min: request.min,
                max: request.max,
            },
            from: now,
            until,
            reason: request.reason.clone().unwrap_or_default(),
            by: request.by.clone().unwrap_or_else(|| PAGE_USER.into()),
            created_at: now,
        })
    }

    fn check_pause(
        &self,
        request: &PauseRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<NewOverride>, Vec<String>> {
        let mut problems = Vec::new();
        let until = hours(request.for_.as_deref(), &mut problems);
        if request.reason.as_deref().is_none_or(str::is_empty) {
            problems.push("a pause needs a reason: --reason TEXT".into());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(vec![NewOverride {
            key: ProcessKey::new(&request.app, "web"),
            action: OverrideAction::Pause,
            from: now,
            until,
            reason: request.reason.clone().unwrap_or_default(),
            by: request.by.clone().unwrap_or_else(|| PAGE_USER.into()),
            created_at: now,
        }])
    }
}

struct Served {
    base: String,
    host: String,
    store: Store,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

async fn serve(password: Option<&str>) -> Served {
    let store = Store::open(store::MEMORY_URL, store::Access::Daemon)
        .await
        .unwrap();
    let board = Board::default();
    board.add("shop", "web", 2);
    let sources = Sources {
        board,
        apps: Vec::new(),
        clock: Arc::new(Stopped(t0())),
        readings: Arc::new(NoReadings),
        drains: crate::Drains::off(),
        edits: Some(Edits::new(Judge, store.clone())),
    };
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (addr, _task) = start(
        listen,
        password.map(|p| Secret::from(p.to_owned())),
        sources,
        Limits::default(),
        async {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    Served {
        base: format!("http://{addr}"),
        host: addr.to_string(),
        store,
        _shutdown: shutdown,
    }
}

impl Served {
    /// A request as the page sends it: the password, JSON, from this origin.
    fn page(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .basic_auth("ops", Some(PAGE_PASSWORD))
            .header("origin", format!("http://{}", self.host))
            .header("sec-fetch-site", "same-origin")
    }

    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.page(reqwest::Method::POST, path).json(body)
    }

    async fn stored(&self) -> Vec<store::Override> {
        self.store.current_overrides(t0()).await.unwrap()
    }
}

/// The status and the problems of a refusal.
async fn refused(response: reqwest::Response) -> (StatusCode, Vec<String>) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    let problems = body["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems in {body}"))
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    (status, problems)
}

fn launch() -> Value {
    json!({"app": "shop", "quantity": 3, "for": "2h", "reason": "launch", "by": "ada"})
}

#[tokio::test]
async fn an_override_posted_by_the_page_is_stored_and_ended_by_delete() {
    let served = serve(Some(PAGE_PASSWORD)).await;
    let answer = served
        .post("/api/overrides", &launch())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let body: Value = answer.json().await.unwrap();
    let added = &body["added"][0];
    assert_eq!(
        (
            &added["app"],
            &added["kind"],
            &added["quantity"],
            &added["by"]
        ),
        (&json!("shop"), &json!("override"), &json!(3), &json!("ada"))
    );
    let stored = served.stored().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, added["id"].as_i64().unwrap());
    assert_eq!(
        (stored[0].spec.reason.as_str(), stored[0].spec.by.as_str()),
        ("launch", "ada")
    );
    assert_eq!(stored[0].spec.until, Some(t0() + TimeDelta::hours(2)));

    let id = stored[0].id;
    let wrong_kind = served
        .page(reqwest::Method::DELETE, &format!("/api/pauses/{id}"))
        .send()
        .await
        .unwrap();
    let (status, problems) = refused(wrong_kind).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        problems,
        [format!(
            "{id} is an override, not a pause: DELETE /api/overrides/{id}"
        )]
    );
    assert_eq!(served.stored().await.len(), 1, "still running");

    let ended = served
        .page(reqwest::Method::DELETE, &format!("/api/overrides/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    let body: Value = ended.json().await.unwrap();
    assert_eq!(body["removed"][0]["id"], id);
    assert_eq!(body["removed"][0]["active"], false);
    assert!(served.stored().await.is_empty(), "ended now");

    let again = served
        .page(reqwest::Method::DELETE, &format!("/api/overrides/{id}"))
        .send()
        .await
        .unwrap();
    let (status, problems) = refused(again).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        problems,
        [format!("override or pause {id} has already ended")]
    );
    let unknown = served
        .page(reqwest::Method::DELETE, "/api/overrides/999")
        .send()
        .await
        .unwrap();
    let (status, problems) = refused(unknown).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problems, ["there is no override or pause 999"]);
}

#[tokio::test]
async fn a_pause_without_by_is_recorded_as_the_pages() {
    let served = serve(Some(PAGE_PASSWORD)).await;
    let answer = served
        .post(
            "/api/pauses",
            &json!({"app": "shop", "for": "1h", "reason": "migration"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let stored = served.stored().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].spec.action, OverrideAction::Pause);
    assert_eq!(stored[0].spec.by, "page");
    let id = stored[0].id;
    let ended = served
        .page(reqwest::Method::DELETE, &format!("/api/pauses/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    assert!(served.stored().await.is_empty());
}

#[tokio::test]
async fn bad_values_get_400_with_every_problem_of_the_rules_and_nothing_is_written() {
    let served = serve(Some(PAGE_PASSWORD)).await;
    let answer = served
        .post(
            "/api/overrides",
            &json!({"app": "blog", "quantity": 9, "for": "soon"}),
        )
        .send()
        .await
        .unwrap();
    let (status, problems) = refused(answer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        problems,
        [
            "app \"blog\" is not in the config (it has shop)",
            "--for soon: expected hours, such as 3h",
            "--quantity 9 is outside [1, 4]",
        ]
    );
    let answer = served
        .post("/api/pauses", &json!({"app": "shop", "for": "2h"}))
        .send()
        .await
        .unwrap();
    let (status, problems) = refused(answer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problems, ["a pause needs a reason: --reason TEXT"]);

    // What the rules never see: not JSON, not the shape, a count below zero, an unknown field.
    for (body, expected) in [
        ("{\"app\": ", "the body is not an override"),
        ("[1, 2]", "the body is not an override"),
        (
            "{\"app\": \"shop\", \"quantity\": -1}",
            "invalid value: integer `-1`",
        ),
        (
            "{\"app\": \"shop\", \"replicas\": 3}",
            "unknown field `replicas`",
        ),
        ("{\"quantity\": 3}", "missing field `app`"),
    ] {
        let answer = served
            .page(reqwest::Method::POST, "/api/overrides")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, problems) = refused(answer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(problems.len(), 1, "{body}: {problems:?}");
        assert!(problems[0].contains(expected), "{body}: {problems:?}");
    }
    let not_an_id = served
        .page(reqwest::Method::DELETE, "/api/overrides/one")
        .send()
        .await
        .unwrap();
    assert_eq!(not_an_id.status(), StatusCode::BAD_REQUEST);
    assert!(
        served.stored().await.is_empty(),
        "nothing reached the store"
    );
}

#[tokio::test]
async fn writes_are_refused_without_the_password_from_another_site_or_not_as_json() {
    let served = serve(Some(PAGE_PASSWORD)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/overrides", served.base);

    let no_password = client.post(&url).json(&launch()).send().await.unwrap();
    assert_eq!(no_password.status(), StatusCode::UNAUTHORIZED);
    let wrong = client
        .post(&url)
        .basic_auth("ops", Some("guess"))
        .json(&launch())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    for (origin, site) in [
        ("https://evil.example", "cross-site"),
        ("https://evil.example", "same-origin"),
        ("null", "same-origin"),
    ] {
        let answer = client
            .post(&url)
            .basic_auth("ops", Some(PAGE_PASSWORD))
            .header("origin", origin)
            .header("sec-fetch-site", site)
            .json(&launch())
            .send()
            .await
            .unwrap();
        let (status, problems) = refused(answer).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin} {site}");
        assert!(
            problems[0].contains("only this page may change"),
            "{problems:?}"
        );
    }
    // A second Origin, foreign, beside the page's own.
    let doubled = served
        .post("/api/overrides", &launch())
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(doubled.status(), StatusCode::FORBIDDEN);
    // A page of this host's name on another port is another origin.
    let other_port = client
        .post(&url)
        .basic_auth("ops", Some(PAGE_PASSWORD))
        .json(&launch())
        .header("origin", "http://127.0.0.1:1")
        .send()
        .await
        .unwrap();
    assert_eq!(other_port.status(), StatusCode::FORBIDDEN);
    let same_site = client
        .post(&url)
        .basic_auth("ops", Some(PAGE_PASSWORD))
        .json(&launch())
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), StatusCode::FORBIDDEN);
    let ended_elsewhere = served
        .page(reqwest::Method::DELETE, "/api/overrides/1")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(ended_elsewhere.status(), StatusCode::FORBIDDEN);

    // What an HTML form can send without asking first.
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let answer = served
            .page(reqwest::Method::POST, "/api/overrides")
            .header("content-type", content_type)
            .body(r#"{"app": "shop", "quantity": 3, "for": "2h"}"#)
            .send()
            .await
            .unwrap();
        let (status, problems) = refused(answer).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
        assert!(problems[0].contains("must be JSON"), "{problems:?}");
    }
    let untyped = served
        .page(reqwest::Method::POST, "/api/pauses")
        .body(r#"{"app": "shop", "reason": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = json!({"app": "shop", "quantity": 3, "for": "2h", "reason": "x".repeat(20_000)});
    let answer = served.post("/api/overrides", &huge).send().await.unwrap();
    let (status, problems) = refused(answer).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problems, ["a request body is at most 16 KiB"]);

    assert!(
        served.stored().await.is_empty(),
        "nothing reached the store"
    );
    // And the page's own request still passes.
    let answer = served
        .post("/api/overrides", &launch())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn without_a_password_set_the_page_changes_nothing() {
    let served = serve(None).await;
    for (path, body) in [
        ("/api/overrides", launch()),
        ("/api/pauses", json!({"app": "shop", "reason": "x"})),
    ] {
        let answer = served.post(path, &body).send().await.unwrap();
        let (status, problems) = refused(answer).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            problems,
            [
                "a password must be set ([http] password) before the page may change overrides and pauses"
            ]
        );
    }
    let ended = served
        .page(reqwest::Method::DELETE, "/api/pauses/1")
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::FORBIDDEN);
    assert!(served.stored().await.is_empty());
    let status: Value = reqwest::get(format!("{}/api/status", served.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["edits"], false, "the page shows no form");
}
