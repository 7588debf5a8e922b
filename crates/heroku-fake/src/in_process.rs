//! Answering a client in the same process: the fake's router called directly, no socket.

use std::io;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, HOST};
use axum::http::{self, HeaderValue};
use heroku_api::{Transport, TransportError, TransportFuture};
use tokio::sync::Notify;
use tower::ServiceExt as _;

use crate::server::CloseConnection;

/// A [`heroku_api::Transport`] that hands each request straight to a [`FakeHeroku`](crate::FakeHeroku)'s
/// router; from [`FakeHeroku::in_process`](crate::FakeHeroku::in_process).
///
/// A request is recorded as over loopback: it gets the `Host` and `Content-Length` headers an
/// HTTP/1.1 client would add. A dropped connection
/// ([`drop_next`](crate::FakeHeroku::drop_next)) is a [`TransportError::unanswered`], as reqwest
/// reports a connection closed before the answer; a delay
/// ([`delay_next`](crate::FakeHeroku::delay_next)) sleeps on tokio's clock, so the client's timeout
/// can end it there.
#[derive(Debug, Clone)]
pub struct InProcess {
    router: Router,
}

impl InProcess {
    pub(crate) fn new(router: Router) -> Self {
        Self { router }
    }
}

impl Transport for InProcess {
    fn send(&self, request: http::Request<Vec<u8>>) -> TransportFuture<'_> {
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if let Some(host) = parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                parts.headers.entry(HOST).or_insert(host);
            }
            if !body.is_empty() {
                parts
                    .headers
                    .entry(CONTENT_LENGTH)
                    .or_insert(HeaderValue::from(body.len()));
            }
            let close = Arc::new(Notify::new());
            parts.extensions.insert(CloseConnection(Arc::clone(&close)));
            let request = http::Request::from_parts(parts, Body::from(body));
            let response = tokio::select! {
                response = self.router.clone().oneshot(request) => match response {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
                // The handler asked to close the connection; it never answers.
                () = close.notified() => {
                    return Err(TransportError::unanswered(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the fake Heroku API closed the connection before answering",
                    )));
                }
            };
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .map_err(TransportError::body_broken)?;
            Ok(http::Response::from_parts(parts, body.to_vec()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::{Method, StatusCode};
    use serde_json::{Value, json};
    use tokio::time::Instant;

    use super::*;
    use crate::{FakeHeroku, FaultOptions};

    const TOKEN: &str = "tok-5ecr3t";

    fn request(
        fake: &FakeHeroku,
        method: Method,
        path: &str,
        token: &str,
    ) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", fake.url()))
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/vnd.heroku+json; version=3")
            .body(Vec::new())
            .unwrap()
    }

    fn patch(fake: &FakeHeroku, path: &str, body: &Value) -> http::Request<Vec<u8>> {
        let (mut parts, _) = request(fake, Method::PATCH, path, TOKEN).into_parts();
        parts
            .headers
            .insert("content-type", HeaderValue::from_static("application/json"));
        http::Request::from_parts(parts, body.to_string().into_bytes())
    }

    /// The status and the JSON body, without the `Request-Id` that differs for each request.
    async fn answer(fake: &FakeHeroku, request: http::Request<Vec<u8>>) -> (StatusCode, Value) {
        let response = fake.in_process().send(request).await.unwrap();
        assert!(response.headers().contains_key("request-id"));
        let body = serde_json::from_slice(response.body()).unwrap();
        (response.status(), body)
    }

    async fn over_loopback(request: http::Request<Vec<u8>>) -> (StatusCode, Value) {
        let request = reqwest::Request::try_from(request).unwrap();
        let response = reqwest::Client::new().execute(request).await.unwrap();
        assert!(response.headers().contains_key("request-id"));
        (response.status(), response.json().await.unwrap())
    }

    #[tokio::test]
    async fn requests_are_checked_answered_and_recorded_as_over_loopback() {
        let fake = FakeHeroku::start(TOKEN).await.unwrap();
        fake.set_formation("my-app", "web", 1);
        let requests = || {
            let mut no_version = request(&fake, Method::GET, "/apps/my-app", TOKEN);
            no_version.headers_mut().insert(
                "accept",
                HeaderValue::from_static("application/vnd.heroku+json"),
            );
            [
                request(&fake, Method::GET, "/apps/my-app/formation/web", TOKEN),
                patch(&fake, "/apps/my-app/formation/web", &json!({"quantity": 2})),
                // Off the official schema: 422 invalid_params.
                patch(
                    &fake,
                    "/apps/my-app/formation/web",
                    &json!({"quantity": "2"}),
                ),
                request(&fake, Method::GET, "/apps/my-app", "wrong-token"),
                no_version,
            ]
        };
        let mut loopback = Vec::new();
        for request in requests() {
            loopback.push(over_loopback(request).await);
        }
        let recorded = fake.requests();
        fake.set_formation("my-app", "web", 1);
        fake.clear_requests();
        let mut in_process = Vec::new();
        for request in requests() {
            in_process.push(answer(&fake, request).await);
        }

        assert_eq!(in_process, loopback);
        let statuses: Vec<u16> = loopback.iter().map(|(s, _)| s.as_u16()).collect();
        assert_eq!(statuses, [200, 200, 422, 401, 406]);
        assert_eq!(loopback[2].1["id"], "invalid_params");
        assert_eq!(fake.quantity("my-app", "web"), Some(2));
        assert_eq!(fake.requests(), recorded);
        assert_eq!(recorded[0].header("authorization"), Some("[redacted]"));
        assert_eq!(recorded[1].header("content-length"), Some("14"));
        assert!(recorded[0].header("host").is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn faults_and_the_rate_budget_follow_the_paused_clock() {
        let fake = FakeHeroku::builder(TOKEN)
            .rate_limit(1)
            .refill_per_minute(60)
            .start()
            .await
            .unwrap();
        fake.set_formation("my-app", "web", 1);
        let get = || request(&fake, Method::GET, "/apps/my-app", TOKEN);

        fake.delay_next(1, Duration::from_secs(10));
        let started = Instant::now();
        assert_eq!(answer(&fake, get()).await.0, StatusCode::OK);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(10) && waited <= Duration::from_millis(10_001),
            "{waited:?}"
        );
        // The one token is spent; one a second comes back.
        assert_eq!(answer(&fake, get()).await.0, StatusCode::TOO_MANY_REQUESTS);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(answer(&fake, get()).await.0, StatusCode::OK);

        fake.set_rate_limit_remaining(100);
        fake.fail_for(Duration::from_secs(60), 503, FaultOptions::default());
        assert_eq!(
            answer(&fake, get()).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(answer(&fake, get()).await.0, StatusCode::OK);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_connection_is_an_unanswered_transport_error() {
        let fake = FakeHeroku::start(TOKEN).await.unwrap();
        fake.set_formation("my-app", "web", 1);
        fake.drop_next(1);
        let dropped = request(&fake, Method::GET, "/apps/my-app", TOKEN);
        let error = fake.in_process().send(dropped).await.unwrap_err();
        assert_eq!(error.to_string(), "no answer");
        let kind = std::error::Error::source(&error)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .map(io::Error::kind);
        assert_eq!(kind, Some(io::ErrorKind::UnexpectedEof), "{error:?}");
        assert_eq!(fake.requests().len(), 1, "it was received and recorded");
        let again = request(&fake, Method::GET, "/apps/my-app", TOKEN);
        assert_eq!(
            answer(&fake, again).await.0,
            StatusCode::OK,
            "only the next request is dropped"
        );
    }
}
