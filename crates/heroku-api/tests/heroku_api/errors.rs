//! Every kind of failure ends in the right error, with Heroku's id, message and Request-Id, and the
//! token appears in none of them.

use std::time::Duration;

use autoscaled_heroku_api::{
    AppSnapshot, BatchUpdate, Client, Error, FormationUpdate, RetryPolicy, SnapshotError,
};
use heroku_fake::FaultOptions;
use secret::Secret;

use crate::{TOKEN, client, client_with, fake};

fn fault(id: &str) -> FaultOptions {
    FaultOptions {
        id: Some(id.to_owned()),
        ..FaultOptions::default()
    }
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_not_retried() {
    let fake = fake().await;
    let client = Client::builder(Secret::new("not-the-token"))
        .base_url(fake.url())
        .build()
        .unwrap();
    let error = client.app_info("my-app").await.unwrap_err();
    assert!(
        matches!(&error, Error::Unauthorized(e) if e.id == "unauthorized" && e.status == 401),
        "{error:?}"
    );
    assert!(error.is_credentials_rejected());
    assert!(!error.is_retryable());
    assert!(error.request_id().is_some_and(|id| !id.is_empty()));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn two_factor_and_forbidden_are_credential_rejections_with_their_ids() {
    let fake = fake().await;
    let client = client(&fake);
    fake.fail_next(1, 401, fault("two_factor"));
    let error = client.app_info("my-app").await.unwrap_err();
    assert!(
        matches!(&error, Error::Unauthorized(e) if e.id == "two_factor"),
        "{error:?}"
    );

    fake.fail_next(1, 403, fault("suspended"));
    let error = client.formation_list("my-app").await.unwrap_err();
    assert!(
        matches!(&error, Error::Forbidden(e) if e.id == "suspended"),
        "{error:?}"
    );
    assert!(error.is_credentials_rejected() && !error.is_retryable());
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn an_unknown_app_or_process_type_is_not_found_with_herokus_message() {
    let fake = fake().await;
    let client = client(&fake);
    let error = client.app_info("no-such-app").await.unwrap_err();
    match &error {
        Error::NotFound(e) => {
            assert_eq!(
                (e.status, e.id.as_str(), e.message.as_str()),
                (404, "not_found", "Couldn't find that app.")
            );
            assert!(e.request_id.is_some());
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let error = client
        .formation_update(
            "my-app",
            "worker",
            &FormationUpdate {
                quantity: Some(1),
                dyno_size: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::NotFound(e) if e.message.contains("worker")),
        "{error:?}"
    );
    assert_eq!(fake.requests().len(), 2, "a 404 is never retried");
}

#[tokio::test]
async fn a_snapshot_says_which_failures_are_final_at_start() {
    let fake = fake().await;
    let client = client(&fake);
    let snapshot = client.snapshot("my-app", "web").await.unwrap();
    assert_eq!(
        snapshot,
        AppSnapshot {
            maintenance: false,
            quantity: 1
        }
    );

    let error = client.snapshot("no-such-app", "web").await.unwrap_err();
    assert!(matches!(error, SnapshotError::AppNotFound { .. }) && error.is_final());
    assert!(
        error.to_string().starts_with(
            "app \"no-such-app\" was not found on Heroku (or the API key cannot see it): "
        ),
        "{error}"
    );
    let error = client.snapshot("my-app", "worker").await.unwrap_err();
    assert!(matches!(error, SnapshotError::ProcessNotFound { .. }) && error.is_final());
    assert!(
        error.to_string().starts_with(
            "app \"my-app\" has no process type \"worker\" (its formation has: web); check the process type in the config and the app's Procfile: not found on Heroku: HTTP 404"
        ),
        "{error}"
    );
    fake.remove_formation("my-app", "web");
    let error = client.snapshot("my-app", "web").await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("has no process type \"web\" (its formation has no process type at all)"),
        "{error}"
    );

    fake.fail_next(1, 401, fault("unauthorized"));
    let error = client.snapshot("my-app", "web").await.unwrap_err();
    assert!(matches!(error, SnapshotError::CredentialsRejected { .. }) && error.is_final());
    assert!(
        error
            .to_string()
            .starts_with("Heroku rejected the API key for app \"my-app\": "),
        "{error}"
    );
}

#[tokio::test]
async fn parameters_heroku_refuses_are_invalid_params() {
    let fake = fake().await;
    let client = client(&fake);
    // A process type outside the schema's pattern: the fake's validator refuses the body.
    let error = client
        .formation_batch_update(
            "my-app",
            &[BatchUpdate {
                process_type: "no spaces".to_owned(),
                quantity: Some(1),
                dyno_size: None,
            }],
        )
        .await
        .unwrap_err();
    match &error {
        Error::InvalidParams(e) => {
            assert_eq!((e.status, e.id.as_str()), (422, "invalid_params"));
            assert!(e.message.contains("/updates/0/type"), "{}", e.message);
            assert!(e.request_id.is_some());
        }
        other => panic!("expected InvalidParams, got {other:?}"),
    }
    assert!(!error.is_retryable());
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(fake.quantity("my-app", "web"), Some(1));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_decode_error_with_the_request_id() {
    let fake = fake().await;
    let client = client(&fake);
    fake.fail_next(
        1,
        200,
        FaultOptions {
            body: Some("<html>maintenance</html>".to_owned()),
            ..FaultOptions::default()
        },
    );
    let error = client.formation_info("my-app", "web").await.unwrap_err();
    assert!(
        matches!(&error, Error::Decode { status: 200, .. }),
        "{error:?}"
    );
    assert!(error.request_id().is_some());
    assert!(!error.is_retryable());

    // The right JSON but not the expected shape is a decode error too.
    fake.fail_next(
        1,
        200,
        FaultOptions {
            body: Some(r#"{"quantity": "two"}"#.to_owned()),
            ..FaultOptions::default()
        },
    );
    let error = client.formation_info("my-app", "web").await.unwrap_err();
    assert!(matches!(&error, Error::Decode { .. }), "{error:?}");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn an_unexpected_status_keeps_its_status_and_body() {
    let fake = fake().await;
    fake.fail_next(
        1,
        409,
        FaultOptions {
            message: Some("A change is in progress.".to_owned()),
            ..fault("conflict")
        },
    );
    let error = client(&fake).app_info("my-app").await.unwrap_err();
    assert!(
        matches!(&error, Error::Status(e) if e.status == 409 && e.id == "conflict"),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(409));
    assert!(
        error.to_string().contains("A change is in progress."),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_token_is_in_no_debug_display_error_or_log_text() {
    let (logs, _capturing) = testkit::Logs::capture();

    let fake = fake().await;
    let client = client_with(
        &fake,
        RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        },
    );
    let mut texts = vec![
        format!("{client:?}"),
        format!("{:?}", Client::builder(Secret::new(TOKEN))),
    ];
    let mut record = |error: Error| {
        texts.push(format!(
            "{error} {error:?} {:?}",
            std::error::Error::source(&error)
        ))
    };

    for (status, id) in [
        (401, "unauthorized"),
        (403, "forbidden"),
        (422, "invalid_params"),
        (429, "rate_limit"),
        (503, ""),
    ] {
        fake.fail_next(2, status, fault(id));
        record(client.app_info("my-app").await.unwrap_err());
    }
    fake.fail_next(
        1,
        200,
        FaultOptions {
            body: Some("not json".to_owned()),
            ..FaultOptions::default()
        },
    );
    record(client.app_info("my-app").await.unwrap_err());
    fake.drop_next(2);
    record(client.app_info("my-app").await.unwrap_err());
    fake.delay_next(2, Duration::from_secs(60));
    record(client.app_info("my-app").await.unwrap_err());
    let nowhere = Client::builder(Secret::new(TOKEN))
        .base_url("http://127.0.0.1:1")
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    record(nowhere.app_info("my-app").await.unwrap_err());
    texts.extend(fake.requests().iter().map(|r| format!("{r:?}")));

    let logged = logs.text();
    assert!(
        logged.contains("retrying"),
        "the retries were logged: {logged}"
    );
    texts.push(logged);
    assert_eq!(texts.len(), 2 + 9 + fake.requests().len() + 1);
    for text in &texts {
        assert!(!text.contains(TOKEN), "the token leaked into: {text}");
        assert!(
            !text.contains("5ecr3t"),
            "part of the token leaked into: {text}"
        );
    }
}

#[tokio::test]
async fn a_preboot_refusal_is_told_apart_and_not_retried_by_the_client() {
    let fake = fake().await;
    fake.set_preboot("my-app", true);
    let client = client(&fake);
    let update = FormationUpdate {
        quantity: Some(2),
        dyno_size: None,
    };
    let error = client
        .formation_update("my-app", "web", &update)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidParams(e) if e.message == heroku_fake::PREBOOT_REFUSAL),
        "{error:?}"
    );
    assert!(error.is_preboot_refusal());
    assert!(!error.is_retryable(), "the caller waits its own 30 s");
    // Reads still answer; once the cutover is over, the change goes through.
    assert_eq!(
        client
            .formation_info("my-app", "web")
            .await
            .unwrap()
            .quantity,
        1
    );
    fake.set_preboot("my-app", false);
    let web = client
        .formation_update("my-app", "web", &update)
        .await
        .unwrap();
    assert_eq!(web.quantity, 2);
    // Another refusal is not one.
    fake.fail_next(1, 422, fault("invalid_params"));
    let other = client
        .formation_update("my-app", "web", &update)
        .await
        .unwrap_err();
    assert!(!other.is_preboot_refusal());
}
