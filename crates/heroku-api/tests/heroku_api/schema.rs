//! The contract, checked with the official schema file itself (the copy vendored in heroku-fake):
//! every body the client sends against its link's request schema, every answer of the fake against
//! the `formation` and `app` definitions.

use std::sync::OnceLock;

use autoscaled_heroku_api::{BatchUpdate, FormationUpdate};
use jsonschema::Validator;
use serde_json::{Map, Value, json};

use crate::{TOKEN, client, fake};

const SCHEMA_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../heroku-fake/schema/heroku-platform-api.schema.json"
);

struct Contract {
    update: Validator,
    batch_update: Validator,
    formation: Validator,
    app: Validator,
}

/// The whole official document refuses to compile (its meta-schema is interagent's), so each piece
/// is compiled alone, as draft-04, with the root `definitions` copied in.
fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let document: Value =
            serde_json::from_str(&std::fs::read_to_string(SCHEMA_FILE).unwrap()).unwrap();
        let definitions = document["definitions"].as_object().unwrap().clone();
        let compile = |schema: &Value| {
            let mut schema = schema.as_object().unwrap().clone();
            schema.insert(
                "$schema".to_owned(),
                json!("http://json-schema.org/draft-04/schema#"),
            );
            schema.insert("definitions".to_owned(), Value::Object(definitions.clone()));
            jsonschema::draft4::new(&Value::Object(schema)).unwrap()
        };
        let link = |title: &str| {
            let links = definitions["formation"]["links"].as_array().unwrap();
            let link = links.iter().find(|l| l["title"] == title).unwrap();
            compile(&link["schema"])
        };
        Contract {
            update: link("Update"),
            batch_update: link("Batch Update"),
            formation: compile(&json!({"$ref": "#/definitions/formation"})),
            app: compile(&json!({"$ref": "#/definitions/app"})),
        }
    })
}

fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[tokio::test]
async fn every_body_the_client_sends_fits_its_link_schema() {
    let fake = fake().await;
    fake.set_formation("my-app", "worker", 0);
    let client = client(&fake);
    let update = |quantity, size: Option<&str>| FormationUpdate {
        quantity,
        dyno_size: size.map(str::to_owned),
    };
    for body in [
        update(Some(2), None),
        update(None, Some("standard-2X")),
        update(Some(0), Some("basic")),
    ] {
        client
            .formation_update("my-app", "web", &body)
            .await
            .unwrap();
    }
    let item = |t: &str, quantity, size: Option<&str>| BatchUpdate {
        process_type: t.to_owned(),
        quantity,
        dyno_size: size.map(str::to_owned),
    };
    client
        .formation_batch_update(
            "my-app",
            &[
                item("web", Some(4), None),
                item("worker", None, Some("standard-1X")),
            ],
        )
        .await
        .unwrap();
    client
        .formation_batch_update("my-app", &[item("worker", Some(1), Some("performance-l"))])
        .await
        .unwrap();

    let sent: Vec<(String, Value)> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| (r.path, r.body.unwrap()))
        .collect();
    assert_eq!(sent.len(), 5);
    for (path, body) in &sent {
        let validator = if path.ends_with("/formation") {
            &contract().batch_update
        } else {
            &contract().update
        };
        assert_eq!(
            errors(validator, body),
            Vec::<String>::new(),
            "{path} {body}"
        );
        assert!(
            !body.to_string().contains("\"size\""),
            "the deprecated size was sent: {body}"
        );
    }
    assert_eq!(sent[0].1, json!({"quantity": 2}));
    assert_eq!(
        sent[3].1,
        json!({"updates": [{"type": "web", "quantity": 4}, {"type": "worker", "dyno_size": {"name": "standard-1X"}}]})
    );
}

#[test]
fn the_link_schemas_refuse_off_contract_bodies() {
    let contract = contract();
    // What the client would send if it got the contract wrong.
    for body in [
        json!({"updates": [{"type": "web", "size": "standard-1X"}]}),
        json!({"updates": [{"type": "web", "quantity": "2"}]}),
        json!({"updates": [{"type": "web", "quantity": 1, "process_type": "web"}]}),
        json!({"updates": [{"quantity": 1}]}),
        json!({"updates": {"type": "web"}}),
        json!([{"type": "web", "quantity": 1}]),
    ] {
        assert!(
            !errors(&contract.batch_update, &body).is_empty(),
            "accepted {body}"
        );
    }
    for body in [
        json!({"quantity": "2"}),
        json!({"quantity": 2.5}),
        json!({"dyno_size": "standard-2X"}),
    ] {
        assert!(
            !errors(&contract.update, &body).is_empty(),
            "accepted {body}"
        );
    }
    // ... and what it does send passes.
    let good = serde_json::to_value(FormationUpdate {
        quantity: Some(1),
        dyno_size: Some("basic".to_owned()),
    })
    .unwrap();
    assert!(contract.update.is_valid(&good));
}

async fn raw(
    http: &reqwest::Client,
    url: &str,
    method: reqwest::Method,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = http
        .request(method, url)
        .header("accept", "application/vnd.heroku+json; version=3")
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn every_answer_of_the_fake_fits_the_formation_and_app_definitions() {
    let fake = heroku_fake::FakeHeroku::builder(TOKEN)
        .page_size(2)
        .start()
        .await
        .unwrap();
    for (t, q) in [("web", 2), ("worker", 1), ("clock", 1)] {
        fake.set_formation("my-app", t, q);
    }
    let http = reqwest::Client::new();
    let base = format!("{}/apps/my-app", fake.url());
    use reqwest::Method;
    let calls = [
        (Method::GET, format!("{base}/formation/web"), None),
        (Method::GET, format!("{base}/formation"), None),
        (
            Method::PATCH,
            format!("{base}/formation/worker"),
            Some(json!({"quantity": 3, "dyno_size": {"name": "standard-2X"}})),
        ),
        (
            Method::PATCH,
            format!("{base}/formation"),
            Some(
                json!({"updates": [{"type": "web", "quantity": 0}, {"type": "clock", "quantity": 2}]}),
            ),
        ),
    ];
    let mut formations = 0;
    for (method, url, body) in calls {
        let (status, headers, answer) = raw(&http, &url, method, body).await;
        assert!(status == 200 || status == 206, "{status} {answer}");
        assert!(headers.contains_key("request-id") && headers.contains_key("ratelimit-remaining"));
        let items = match answer {
            Value::Array(items) => items,
            one => vec![one],
        };
        for item in items {
            assert_eq!(
                errors(&contract().formation, &item),
                Vec::<String>::new(),
                "{item}"
            );
            formations += 1;
        }
    }
    assert_eq!(formations, 1 + 2 + 1 + 2);

    let (status, headers, app) = raw(&http, &base, Method::GET, None).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("request-id"));
    assert_eq!(errors(&contract().app, &app), Vec::<String>::new(), "{app}");
    // The check has teeth.
    let mut wrong = app.clone();
    wrong["maintenance"] = json!("no");
    assert!(!contract().app.is_valid(&wrong));
}

#[tokio::test]
async fn the_fake_refuses_off_contract_bodies_and_requests_in_herokus_shape() {
    let fake = fake().await;
    let http = reqwest::Client::new();
    let url = format!("{}/apps/my-app/formation", fake.url());
    use reqwest::Method;
    for body in [
        json!({"updates": [{"type": "web", "size": "standard-1X"}]}),
        json!({"updates": [{"type": "web", "quantity": "2"}]}),
        json!({"updates": [{"type": "web", "colour": "blue"}]}),
    ] {
        let (status, headers, answer) = raw(&http, &url, Method::PATCH, Some(body.clone())).await;
        assert_eq!(
            (status, answer["id"].as_str()),
            (422, Some("invalid_params")),
            "{body} {answer}"
        );
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("/updates/0")),
            "{answer}"
        );
        assert!(headers.contains_key("request-id") && headers.contains_key("ratelimit-remaining"));
        let shape: Map<String, Value> = answer.as_object().unwrap().clone();
        assert_eq!(shape.keys().collect::<Vec<_>>(), ["id", "message", "url"]);
    }
    let (status, _, answer) = raw(
        &http,
        &format!("{url}/web"),
        Method::PATCH,
        Some(json!({"quantity": -1})),
    )
    .await;
    assert_eq!(
        (status, answer["id"].as_str()),
        (422, Some("invalid_params"))
    );
    assert_eq!(fake.quantity("my-app", "web"), Some(1));

    let answer = http
        .get(&url)
        .bearer_auth(TOKEN)
        .header("accept", "application/vnd.heroku+json")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 406);
    assert!(answer.headers().contains_key("request-id"));
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["id"], "not_acceptable");
}
