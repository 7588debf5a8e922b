//! The fake in process ([`FakeHeroku::in_process`]) is the fake over loopback without the socket:
//! the same calls make the same recorded requests and the same answers.

use autoscaled_heroku_api::{BatchUpdate, Client, Error, FormationUpdate, RetryPolicy};
use heroku_fake::{FakeHeroku, RecordedRequest};
use secret::Secret;

use crate::{TOKEN, client_in_process, client_with};

/// What a test can compare of a call's outcome: a request id differs from one request to the next.
fn outcome<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(error) => format!(
            "{:?} {:?} {}",
            error.status(),
            error.api_error().map(|e| (&e.id, &e.message)),
            error.is_retryable()
        ),
    }
}

/// Reads, updates, a body the official schema refuses (422) and a wrong token (401).
async fn calls(client: &Client, stranger: &Client) -> Vec<String> {
    let update = FormationUpdate {
        quantity: Some(2),
        dyno_size: None,
    };
    let off_contract = [BatchUpdate {
        process_type: "no spaces".to_owned(),
        quantity: Some(1),
        dyno_size: None,
    }];
    vec![
        outcome(client.app_info("my-app").await),
        outcome(client.formation_list("my-app").await),
        outcome(client.formation_update("my-app", "web", &update).await),
        outcome(client.formation_batch_update("my-app", &off_contract).await),
        outcome(client.formation_info("my-app", "nope").await),
        outcome(stranger.app_info("my-app").await),
    ]
}

fn stranger(fake: &FakeHeroku, in_process: bool) -> Client {
    let builder = Client::builder(Secret::new("someone-else"))
        .base_url(fake.url())
        .retry(RetryPolicy::never());
    let builder = if in_process {
        builder.transport(std::sync::Arc::new(fake.in_process()))
    } else {
        builder
    };
    builder.build().unwrap()
}

#[tokio::test]
async fn the_same_calls_make_the_same_requests_and_answers_as_over_loopback() {
    let fake = FakeHeroku::builder(TOKEN)
        .page_size(1)
        .start()
        .await
        .unwrap();
    for process_type in ["web", "worker"] {
        fake.set_formation("my-app", process_type, 1);
    }
    let over_loopback = calls(
        &client_with(&fake, RetryPolicy::never()),
        &stranger(&fake, false),
    )
    .await;
    let loopback_requests = fake.requests();
    fake.set_formation("my-app", "web", 1);
    fake.clear_requests();
    let in_process = calls(
        &client_in_process(&fake, RetryPolicy::never()),
        &stranger(&fake, true),
    )
    .await;
    let in_process_requests = fake.requests();

    assert_eq!(in_process, over_loopback);
    assert!(over_loopback[3].contains("422") && over_loopback[3].contains("invalid_params"));
    assert!(over_loopback[5].contains("401") && over_loopback[5].contains("unauthorized"));
    // Two pages of the list, so the Range header went out too.
    assert_eq!(loopback_requests.len(), 7);
    assert_eq!(in_process_requests, loopback_requests);
    let seen = |name: &str| {
        loopback_requests
            .iter()
            .filter_map(|r: &RecordedRequest| r.header(name))
            .collect::<Vec<_>>()
    };
    assert_eq!(seen("authorization"), ["[redacted]"; 7]);
    assert_eq!(
        seen("accept"),
        ["application/vnd.heroku+json; version=3"; 7]
    );
    assert_eq!(seen("range").len(), 1);
}
