//! The calls, through the fake: what they send and what they return.

use autoscaled_heroku_api::{BatchUpdate, Error, FormationUpdate};
use heroku_fake::FakeHeroku;

use crate::{TOKEN, client, fake};

#[tokio::test]
async fn app_info_finds_an_app_by_name_or_id_and_reports_maintenance() {
    let fake = fake().await;
    let id = fake.add_app("my-app");
    let client = client(&fake);
    let app = client.app_info("my-app").await.unwrap();
    assert_eq!(
        (app.id.as_str(), app.name.as_str(), app.maintenance),
        (id.as_str(), "my-app", false)
    );
    assert_eq!(
        app.web_url.as_deref(),
        Some("https://my-app.herokuapp.com/")
    );

    fake.set_maintenance("my-app", true);
    let by_id = client.app_info(&id).await.unwrap();
    assert_eq!((by_id.name.as_str(), by_id.maintenance), ("my-app", true));
}

#[tokio::test]
async fn requests_carry_herokus_headers_and_the_rate_limit_is_read_from_every_answer() {
    let fake = fake().await;
    let client = client(&fake);
    assert_eq!(client.rate_limit_remaining(), None);
    client.formation_info("my-app", "web").await.unwrap();
    assert_eq!(
        client.rate_limit_remaining(),
        Some(heroku_fake::DEFAULT_RATE_LIMIT - 1)
    );
    // Clones share state: the answer to one is seen by the other.
    let clone = client.clone();
    clone.app_info("my-app").await.unwrap();
    assert_eq!(
        client.rate_limit_remaining(),
        Some(heroku_fake::DEFAULT_RATE_LIMIT - 2)
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(
            request.header("accept"),
            Some("application/vnd.heroku+json; version=3")
        );
        assert_eq!(
            request.header("user-agent"),
            Some(concat!("autoscaled/", env!("CARGO_PKG_VERSION")))
        );
        // The fake accepted `Bearer <token>` (else 401) and recorded it redacted.
        assert_eq!(request.header("authorization"), Some("[redacted]"));
    }
    assert_eq!(requests[0].path, "/apps/my-app/formation/web");
}

#[tokio::test]
async fn a_long_formation_list_is_followed_page_by_page() {
    let fake = FakeHeroku::builder(TOKEN)
        .page_size(2)
        .start()
        .await
        .unwrap();
    for (process_type, quantity) in [
        ("worker", 2),
        ("web", 3),
        ("clock", 1),
        ("release", 0),
        ("urgent", 4),
    ] {
        fake.set_formation("my-app", process_type, quantity);
    }
    let formations = client(&fake).formation_list("my-app").await.unwrap();
    let got: Vec<(&str, u32)> = formations
        .iter()
        .map(|f| (f.process_type.as_str(), f.quantity))
        .collect();
    assert_eq!(
        got,
        [
            ("clock", 1),
            ("release", 0),
            ("urgent", 4),
            ("web", 3),
            ("worker", 2)
        ]
    );

    let ranges: Vec<Option<String>> = fake
        .requests()
        .iter()
        .map(|r| r.header("range").map(str::to_owned))
        .collect();
    assert_eq!(
        ranges,
        [
            None,
            Some("type ]release..; max=2".to_owned()),
            Some("type ]web..; max=2".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_short_formation_list_takes_one_call() {
    let fake = fake().await;
    fake.set_formation("my-app", "worker", 0);
    let formations = client(&fake).formation_list("my-app").await.unwrap();
    assert_eq!(formations.len(), 2);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn updates_set_quantity_and_size() {
    let fake = fake().await;
    fake.set_formation("my-app", "worker", 1);
    let client = client(&fake);

    let web = client
        .formation_update(
            "my-app",
            "web",
            &FormationUpdate {
                quantity: Some(3),
                dyno_size: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            web.process_type.as_str(),
            web.quantity,
            web.app.name.as_str()
        ),
        ("web", 3, "my-app")
    );
    assert_eq!(fake.quantity("my-app", "web"), Some(3));

    let resized = client
        .formation_update(
            "my-app",
            "web",
            &FormationUpdate {
                quantity: None,
                dyno_size: Some("performance-m".to_owned()),
            },
        )
        .await
        .unwrap();
    assert_eq!(resized.quantity, 3);
    assert_eq!(
        resized.dyno_size.and_then(|s| s.name).as_deref(),
        Some("performance-m")
    );
    assert_eq!(
        fake.dyno_size("my-app", "web").as_deref(),
        Some("performance-m")
    );

    let changed = client
        .formation_batch_update(
            "my-app",
            &[
                BatchUpdate {
                    process_type: "web".to_owned(),
                    quantity: Some(0),
                    dyno_size: None,
                },
                BatchUpdate {
                    process_type: "worker".to_owned(),
                    quantity: Some(5),
                    dyno_size: None,
                },
            ],
        )
        .await
        .unwrap();
    let got: Vec<(&str, u32)> = changed
        .iter()
        .map(|f| (f.process_type.as_str(), f.quantity))
        .collect();
    assert_eq!(got, [("web", 0), ("worker", 5)]);
    assert_eq!(
        (
            fake.quantity("my-app", "web"),
            fake.quantity("my-app", "worker")
        ),
        (Some(0), Some(5))
    );
}

#[tokio::test]
async fn names_are_percent_encoded_path_segments() {
    let fake = fake().await;
    let client = client(&fake);
    let error = client.app_info("my app/../x").await.unwrap_err();
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    // URLs resolve dot segments even percent-encoded: `formation/..` would PATCH the app itself.
    let update = FormationUpdate {
        quantity: Some(2),
        dyno_size: None,
    };
    let error = client
        .formation_update("my-app", "..", &update)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidIdentity(_)), "{error:?}");
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/apps/my%20app%2F..%2Fx"],
        "nothing is sent for `..`"
    );
}
