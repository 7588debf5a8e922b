//! The status page and its endpoints, served while the daemon runs (`[http] listen`).
//!
//! | path | what | auth |
//! | --- | --- | --- |
//! | `/` (and `/page.js`) | the page: per app, 24 h charts of response time and dynos, the coming schedule changes, the cost today | yes |
//! | `/api/status` | JSON: per app the baseline, target, actual, last probe, recent decisions, next changes, cost today | yes |
//! | `/api/history` | JSON: the charts' data, in 5-minute intervals over the last 24 h | yes |
//! | `/metrics` | Prometheus text exposition (see [`metrics`]) | yes |
//! | `/healthz` | 200 while every app's decision task runs, 503 otherwise | no |
//!
//! "auth" is HTTP basic auth with any user name and `[http] password`, when one is set (the config
//! insists on one for a listener that is not on loopback). `/healthz` stays open so a load balancer
//! or uptime checker needs no credentials; it tells nothing but "ok" or which app is stuck.
//!
//! Everything the page needs, its chart code included, is served from here: it works without
//! internet. Times are the daemon's clock's, so under `autoscaled demo` they are simulated times.

mod api;
mod metrics;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use heroku_api::Client;
use secret::Secret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::AppSettings;
use crate::daemon::{Alerter, Clock};
use crate::status::Board;

const PAGE_HTML: &str = include_str!("page.html");
const PAGE_JS: &str = include_str!("page.js");

/// A decision task that handled nothing for this long (in the clock's time) is taken as stuck: the
/// ticker wakes it at least every minute, so three minutes is a missed tick and then some.
const STALE_AFTER: Duration = Duration::from_secs(180);
/// However fast the clock, a beat is only stale after this much real time, so a busy runtime is not
/// mistaken for a stuck one.
const STALE_AT_LEAST: Duration = Duration::from_secs(10);

/// What the endpoints read: the live board and the pieces of the daemon that count things.
#[derive(Debug, Clone)]
pub(crate) struct Sources {
    pub(crate) board: Board,
    /// The apps in the board's order.
    pub(crate) apps: Vec<AppSettings>,
    pub(crate) client: Client,
    pub(crate) alerter: Alerter,
    pub(crate) clock: Clock,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The address is taken or not ours.
    #[error("cannot listen on {addr} for the status page: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
struct AppState {
    sources: Sources,
    password: Option<Secret>,
}

/// Binds `listen` and serves until `shutdown`; returns the bound address (useful with port 0) and
/// the server's task.
pub(crate) async fn start(
    listen: SocketAddr,
    password: Option<Secret>,
    sources: Sources,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<()>), HttpError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| HttpError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| HttpError::Bind {
        addr: listen,
        source,
    })?;
    let router = router(AppState { sources, password });
    let task = tokio::spawn(async move {
        let serve =
            axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "the status page stopped");
        }
    });
    Ok((addr, task))
}

fn router(state: AppState) -> Router {
    let guarded = Router::new()
        .route("/", get(page))
        .route("/page.js", get(script))
        .route("/api/status", get(status))
        .route("/api/history", get(history))
        .route("/metrics", get(prometheus))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_password,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(guarded)
        .with_state(state)
}

async fn require_password(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match &state.password {
        Some(password) if !authorized(request.headers(), password) => (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"autoscaled\", charset=\"UTF-8\""),
            )],
            "a password is needed: HTTP basic auth, any user name\n",
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

/// Whether the request carries basic auth with `password` (any user name).
fn authorized(headers: &HeaderMap, password: &Secret) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok());
    let Some((_, given)) = given.as_deref().and_then(|text| text.split_once(':')) else {
        return false;
    };
    same(given.as_bytes(), password.expose().as_bytes())
}

/// Compares without stopping at the first difference, so response times tell nothing about the
/// password.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn no_cache(content_type: &'static str) -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ]
}

async fn page() -> impl IntoResponse {
    (no_cache("text/html; charset=utf-8"), PAGE_HTML)
}

async fn script() -> impl IntoResponse {
    (no_cache("text/javascript; charset=utf-8"), PAGE_JS)
}

async fn status(State(state): State<AppState>) -> Response {
    json(&api::status(&state.sources))
}

async fn history(State(state): State<AppState>) -> Response {
    json(&api::history(&state.sources))
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (no_cache("application/json"), body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the answer: {e}\n"),
        )
            .into_response(),
    }
}

async fn prometheus(State(state): State<AppState>) -> impl IntoResponse {
    let sources = &state.sources;
    let text = metrics::render(
        &sources.board.metrics(),
        sources.alerter.stats(),
        sources.client.rate_limit_remaining(),
        sources.board.history_bytes(),
    );
    (no_cache("text/plain; version=0.0.4; charset=utf-8"), text)
}

async fn healthz(State(state): State<AppState>) -> Response {
    let clock = state.sources.clock;
    let stale_after = clock.real_duration(STALE_AFTER).max(STALE_AT_LEAST);
    let mut problems = Vec::new();
    for (app, process, beat) in state.sources.board.beats() {
        match beat {
            None => problems.push(format!("{app} {process}: not started yet")),
            Some(ago) if ago > stale_after => {
                problems.push(format!(
                    "{app} {process}: no decision for {:.0} s",
                    clock.scaled(ago).as_secs_f64()
                ));
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", problems.join("\n")),
        )
            .into_response()
    }
}
