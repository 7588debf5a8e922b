//! The status page and its endpoints, served while the daemon runs (`[http] listen`).
//!
//! | path | what | auth |
//! | --- | --- | --- |
//! | `/` (and `/page.js`) | the page: per app, 24 h charts of response time and dynos, the coming schedule changes, the cost today | yes |
//! | `/api/status` | JSON: per app the baseline, target, actual, last probe, recent decisions, next changes, the overrides and pauses running or coming (read from the store), cost today | yes |
//! | `/api/history` | JSON: the charts' data, read from the store: `?span=24h` (the default) in 5-minute intervals, `?span=7d` in hours | yes |
//! | `/metrics` | Prometheus text exposition (the metrics are listed in the crate's README) | yes |
//! | `/healthz` | 200 while every app's decision task runs, 503 otherwise | no |
//! | `POST /api/overrides`, `POST /api/pauses` | JSON: add an override or pause, judged by the daemon's [`Rules`](crate::Rules) (the CLI's checks); 201, or 400 with `{"problems": [...]}` | yes, and refused without a password set, from another origin or not as JSON (see the `edits` module) |
//! | `DELETE /api/overrides/{id}`, `DELETE /api/pauses/{id}` | end one now; 200, 404, or 409 when it had ended | as above |
//! | `POST /drain/{app}` | a Logplex drain body of `app`'s router logs; 204 (see [`crate::drain`]) | the drain password |
//!
//! "auth" is HTTP basic auth with any user name and the [`Password`], when one is set (the daemon's
//! config insists on one for a listener that is not on loopback). `/healthz` stays open so a load
//! balancer or uptime checker needs no credentials; it tells nothing but "ok" or which app is stuck.
//! `/drain/{app}` is guarded by the drain password only (Heroku's drain URL carries that one, never
//! the page's), and answers 404 to everything when no drain password is set.
//!
//! The listener bounds what a stranger's connections can hold ([`Limits`]: timeouts for a request
//! head, a body and keep-alive, and a connection cap; see the `listener` module).
//!
//! Everything the page needs, its chart code included, is served from here: it works without
//! internet. Times are the [`Clock`](crate::Clock)'s, so under `autoscaled demo` they are simulated.

mod api;
mod auth;
#[cfg(test)]
mod drain_tests;
mod edits;
#[cfg(test)]
mod edits_tests;
mod listener;
#[cfg(test)]
mod listener_tests;
mod shared;
#[cfg(test)]
mod tests;

use shared::AppState;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest as _, Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use secret::Secret;
use std::sync::Arc;
use tokio::task::JoinHandle;

pub use auth::Password;
pub use listener::Limits;

use crate::drain::{Ingested, MAX_BODY, Refused};
use crate::{Error, Sources, Span};

const PAGE_HTML: &str = include_str!("page.html");
const PAGE_JS: &str = include_str!("page.js");

/// A decision task that handled nothing for this long (in the clock's time) is taken as stuck: its
/// schedule timer wakes it at least every minute, so three minutes is a missed tick and then some.
const STALE_AFTER: Duration = Duration::from_secs(180);
/// However fast the clock, a beat is only stale after this much real time, so a busy runtime is not
/// mistaken for a stuck one.
const STALE_AT_LEAST: Duration = Duration::from_secs(10);

/// Binds `listen` and serves the page and its endpoints within `limits` until `shutdown`
/// completes; returns the bound address (useful with port 0) and the server's task, which ends
/// once every connection is closed. With a `password`, every path but `/healthz` asks for it.
///
/// # Errors
///
/// [`Error::Bind`] when the address cannot be listened on.
pub async fn start(
    listen: SocketAddr,
    password: Option<Secret>,
    sources: Sources,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, JoinHandle<()>), Error> {
    let bind_error = |source| Error::Bind {
        addr: listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let metrics = listener::ListenerMetrics::default();
    let app = app(
        sources,
        password.as_ref().map(Password::new),
        &limits,
        Some(&metrics),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let serve = listener::serve(listener, app, limits, metrics, stopped);
        tokio::pin!(serve);
        tokio::select! {
            () = &mut serve => return,
            () = shutdown => {}
        }
        stop.send_replace(true);
        serve.await;
    });
    Ok((addr, task))
}

/// The page and its endpoints as an axum [`Router`], to serve or nest elsewhere; [`start`] serves
/// it, within its [`Limits`]. Here request bodies may take [`Limits::default`]'s time.
pub fn router(sources: Sources, password: Option<Password>) -> Router {
    app(sources, password, &Limits::default(), None)
}

/// The router, its `/metrics` showing the listener's series when it is [`start`]'s.
fn app(
    sources: Sources,
    password: Option<Password>,
    limits: &Limits,
    listener: Option<&listener::ListenerMetrics>,
) -> Router {
    let (families, history_bytes) = sources.board.families();
    let mut registry = families.registry(history_bytes.clone(), sources.readings.clone());
    sources.drains.register(&mut registry);
    if let Some(listener) = listener {
        listener.register(&mut registry);
    }
    // Each sample of the charts' history takes the app's traffic figures from here on.
    let state = AppState {
        sources,
        password: password.map(Arc::new),
        registry: Arc::new(registry),
        body_timeout: limits.body_timeout,
    };
    let guarded = Router::new()
        .route("/", get(page))
        .route("/page.js", get(script))
        .route("/api/status", get(status))
        .route("/api/history", get(history))
        .route("/metrics", get(prometheus))
        .route("/api/overrides", post(edits::add_override))
        .route("/api/overrides/{id}", delete(edits::end_override))
        .route("/api/pauses", post(edits::add_pause))
        .route("/api/pauses/{id}", delete(edits::end_pause))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_password,
        ));
    // The drain is outside `guarded`: Heroku cannot send the page's password, only the drain's.
    let drain = Router::new()
        .route("/drain/{app}", post(drain))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(drain)
        .merge(guarded)
        .with_state(state)
}

async fn require_password(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match &state.password {
        Some(password) if !password.authorizes(request.headers()) => {
            ask_for_password("a password is needed: HTTP basic auth, any user name\n")
        }
        _ => next.run(request).await,
    }
}

fn ask_for_password(text: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"autoscaled\", charset=\"UTF-8\""),
        )],
        text,
    )
        .into_response()
}

/// `POST /drain/{app}`: the password and the app are checked before the body is read; the body is
/// read up to [`MAX_BODY`] (the route's [`DefaultBodyLimit`]) within [`Limits::body_timeout`],
/// parsed, then added under the app's lock. Never waits on anything but the request itself.
async fn drain(
    State(state): State<AppState>,
    Path(app): Path<String>,
    request: Request,
) -> Response {
    let drains = &state.sources.drains;
    if !drains.is_on() {
        return (
            StatusCode::NOT_FOUND,
            "no drain: no drain password is set\n",
        )
            .into_response();
    }
    if !drains.authorizes(request.headers()) {
        drains.refuse(Refused::Unauthorized);
        return ask_for_password("the drain password is needed: HTTP basic auth, any user name\n");
    }
    if !drains.has_app(&app) {
        drains.refuse(Refused::UnknownApp);
        return (StatusCode::NOT_FOUND, "no such app in the config\n").into_response();
    }
    let headers = request.headers();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        drains.refuse(Refused::TooLarge);
        return too_large();
    }
    let frame_id = headers
        .get("logplex-frame-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let count = headers
        .get("logplex-msg-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let read = axum::body::Bytes::from_request(request, &());
    let Ok(read) = tokio::time::timeout(state.body_timeout, read).await else {
        // The rest of the body may still come: the connection cannot carry another request.
        return (
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONNECTION, HeaderValue::from_static("close"))],
            "the body did not arrive in time\n",
        )
            .into_response();
    };
    let body = match read {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            drains.refuse(Refused::TooLarge);
            return too_large();
        }
        Err(rejection) => return rejection.into_response(),
    };
    match drains.ingest(&app, frame_id.as_deref(), &body, state.sources.clock.now()) {
        Ok(Ingested::New {
            accepted,
            bad,
            other,
            dropped,
        }) => {
            let lines = accepted + bad + other;
            if count.is_some_and(|n| n != lines) {
                tracing::debug!(
                    app,
                    lines,
                    msg_count = count,
                    "drain body: Logplex-Msg-Count differs from the frames read"
                );
            }
            if bad > 0 || dropped > 0 {
                tracing::debug!(
                    app,
                    accepted,
                    bad,
                    other,
                    dropped,
                    "drain body with lines skipped"
                );
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Ingested::Duplicate) => StatusCode::NO_CONTENT.into_response(),
        Err(Refused::NotLogplex) => (
            StatusCode::BAD_REQUEST,
            "not a Logplex body: expected octet-counted syslog frames (application/logplex-1)\n",
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such app in the config\n").into_response(),
    }
}

fn too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        "a drain body is at most 1 MiB\n",
    )
        .into_response()
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
    let editable = state.password.is_some() && state.sources.edits.is_some();
    json(&api::status(&state.sources, editable).await)
}

/// `/api/history?span=24h|7d`; no span is `24h`.
async fn history(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let asked = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("span="));
    let Some(span) = asked.map_or(Some(Span::default()), Span::parse) else {
        return (StatusCode::BAD_REQUEST, "span is 24h or 7d\n").into_response();
    };
    json(&api::history(&state.sources, span).await)
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
    let board = &state.sources.board;
    let (_, history_bytes) = board.families();
    history_bytes.set(i64::try_from(board.history_bytes()).unwrap_or(i64::MAX));
    let text = crate::metrics::render(&state.registry);
    (no_cache("text/plain; version=0.0.4; charset=utf-8"), text)
}

/// `/healthz`: whether every app this instance decides for has started and acted lately (apps
/// another instance of the fleet holds are that one's to answer for).
fn health(sources: &Sources) -> (StatusCode, String) {
    let speed = sources.clock.speed().max(1);
    let stale_after = (STALE_AFTER / speed).max(STALE_AT_LEAST);
    let mut problems = Vec::new();
    let elsewhere: Vec<bool> = sources
        .board
        .snapshot()
        .iter()
        .map(|s| s.elsewhere)
        .collect();
    for (index, (app, process, beat)) in sources.board.beats().into_iter().enumerate() {
        if elsewhere.get(index).copied().unwrap_or(false) {
            // Another instance of the fleet decides for it: its health is that one's to say.
            continue;
        }
        match beat {
            None => problems.push(format!("{app} {process}: not started yet")),
            Some(ago) if ago > stale_after => {
                problems.push(format!(
                    "{app} {process}: no decision for {:.0} s",
                    ago.saturating_mul(speed).as_secs_f64()
                ));
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        (StatusCode::OK, "ok\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", problems.join("\n")),
        )
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    health(&state.sources).into_response()
}
