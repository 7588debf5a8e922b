//! The HTTP side: the axum router, an accept loop serving it over hyper, the checks every request
//! goes through, and the endpoint handlers. [`InProcess`](crate::InProcess) calls the same router
//! without a socket.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::state::App;
use crate::{FaultOptions, RecordedRequest, Shared, schema};

const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RANGE: HeaderName = HeaderName::from_static("range");
const NEXT_RANGE: HeaderName = HeaderName::from_static("next-range");
const HEROKU_JSON: &str = "application/vnd.heroku+json";
const DOCS_URL: &str = "https://devcenter.heroku.com/articles/platform-api-reference";
const MAX_BODY: usize = 1 << 20;

/// Put in each request's extensions: wakes whoever carries the request (the connection's task, or
/// [`InProcess`](crate::InProcess)) to close its connection without an answer.
#[derive(Clone, Debug)]
pub(crate) struct CloseConnection(pub(crate) Arc<Notify>);

pub(crate) async fn serve(listener: TcpListener, router: Router) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, say: give the system a moment rather than spin.
                tracing::warn!(%error, "fake Heroku API cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let service = TowerToHyperService::new(router.clone());
        connections.spawn(async move {
            let close = Arc::new(Notify::new());
            let handle = CloseConnection(Arc::clone(&close));
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(handle.clone());
                    service.call(request)
                },
            );
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Dropping the connection future closes the socket, whatever request is in flight.
            tokio::select! {
                _ = connection => {}
                () = close.notified() => {}
            }
        });
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/apps/{app}", get(app_info))
        .route(
            "/apps/{app}/formation",
            get(formation_list).patch(formation_batch_update),
        )
        .route(
            "/apps/{app}/formation/{process_type}",
            get(formation_info).patch(formation_update),
        )
        .fallback(|| async {
            heroku_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "The requested API endpoint was not found.",
            )
        })
        .method_not_allowed_fallback(|| async {
            heroku_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed for this endpoint.",
            )
        })
        .layer(from_fn_with_state(Arc::clone(&shared), checks))
        .with_state(shared)
}

/// What happens to every request before its endpoint: recording, injected faults, the header checks
/// and the rate budget; and after: the `Request-Id` and `RateLimit-Remaining` headers.
async fn checks(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return heroku_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            "The request body is too large.",
        );
    };
    let (request_id, delay) = {
        let mut state = shared.state();
        state.requests.push(record(&parts, &bytes));
        (state.new_request_id(), state.faults.take_delay())
    };
    shared.recorded.notify_waiters();

    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let (drop, fail) = {
        let mut state = shared.state();
        let drop = state.faults.take_drop();
        (drop, if drop { None } else { state.faults.take_fail() })
    };
    if drop {
        if let Some(CloseConnection(close)) = parts.extensions.get::<CloseConnection>() {
            close.notify_one();
            // Never answer: the connection task drops this future as it closes the socket.
            std::future::pending::<()>().await;
        }
        return heroku_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Cannot drop this connection.",
        );
    }

    let mut response = if let Some((status, options)) = fail {
        fault_response(status, options)
    } else if !accepts_v3(&parts.headers) {
        heroku_error(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "Please specify a version along with Heroku's API MIME type. For example, `Accept: application/vnd.heroku+json; version=3`.",
        )
    } else if parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {}", shared.token))
    {
        heroku_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid credentials provided.",
        )
    } else if !shared.state().rate.take() {
        heroku_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit",
            "Your account reached the API rate limit. Please wait a few minutes before making new requests.",
        )
    } else {
        next.run(Request::from_parts(parts, Body::from(bytes)))
            .await
    };

    let remaining = shared.state().rate.remaining();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(RATELIMIT_REMAINING, HeaderValue::from(remaining));
    response
}

fn record(parts: &axum::http::request::Parts, body: &Bytes) -> RecordedRequest {
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = if name == AUTHORIZATION {
                "[redacted]".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect();
    let body = if body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned())),
        )
    };
    RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        headers,
        body,
    }
}

fn accepts_v3(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',').any(|media| {
                let mut params = media.split(';').map(str::trim);
                params.next() == Some(HEROKU_JSON)
                    && params.any(|p| p.replace(' ', "") == "version=3")
            })
        })
    })
}

fn fault_response(status: u16, options: FaultOptions) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match options.body {
        Some(body) => (status, body).into_response(),
        None => {
            let id = options
                .id
                .unwrap_or_else(|| default_error_id(status).to_owned());
            let message = options
                .message
                .unwrap_or_else(|| "This failure was injected by heroku-fake.".to_owned());
            heroku_error(status, &id, &message)
        }
    };
    if let Some(seconds) = options.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn default_error_id(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        402 => "delinquent",
        403 => "forbidden",
        404 => "not_found",
        406 => "not_acceptable",
        409 => "conflict",
        422 => "invalid_params",
        429 => "rate_limit",
        503 => "service_unavailable",
        _ if status.is_server_error() => "internal_server_error",
        _ => "error",
    }
}

/// Heroku's answer to a formation change during a release phase or a preboot cutover.
fn preboot_refusal() -> Response {
    heroku_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_params",
        crate::PREBOOT_REFUSAL,
    )
}

fn heroku_error(status: StatusCode, id: &str, message: &str) -> Response {
    heroku_json(
        status,
        &json!({"id": id, "message": message, "url": DOCS_URL}),
    )
}

fn heroku_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn app_not_found() -> Response {
    heroku_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "Couldn't find that app.",
    )
}

fn process_type_not_found(process_type: &str) -> Response {
    heroku_error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("Couldn't find that process type ({process_type})."),
    )
}

async fn app_info(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    match shared.state().app(&app) {
        Some(app) => heroku_json(StatusCode::OK, &app.to_json()),
        None => app_not_found(),
    }
}

async fn formation_info(
    State(shared): State<Arc<Shared>>,
    Path((app, process_type)): Path<(String, String)>,
) -> Response {
    let state = shared.state();
    let Some(app) = state.app(&app) else {
        return app_not_found();
    };
    match app.formation(&process_type) {
        Some(formation) => heroku_json(StatusCode::OK, &app.formation_json(formation)),
        None => process_type_not_found(&process_type),
    }
}

async fn formation_list(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> Response {
    let range = match headers
        .get(RANGE)
        .map(|v| v.to_str().ok().and_then(ListRange::parse))
    {
        None => ListRange::default(),
        Some(Some(range)) => range,
        Some(None) => {
            return heroku_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Invalid Range header.",
            );
        }
    };
    let state = shared.state();
    let Some(app) = state.app(&app) else {
        return app_not_found();
    };
    let key = |f: &crate::state::Formation| match range.field {
        RangeField::Id => f.id.clone(),
        RangeField::Type => f.process_type.clone(),
    };
    let mut formations: Vec<_> = app.formations.iter().map(|f| (key(f), f)).collect();
    formations.sort_by(|a, b| a.0.cmp(&b.0));
    let selected: Vec<_> = formations
        .into_iter()
        .filter(|(k, _)| range.admits(k))
        .collect();
    let page_size = range
        .max
        .unwrap_or(shared.page_size)
        .clamp(1, shared.page_size);
    let page: Vec<Value> = selected
        .iter()
        .take(page_size)
        .map(|(_, f)| app.formation_json(f))
        .collect();
    if selected.len() <= page_size {
        return heroku_json(StatusCode::OK, &Value::Array(page));
    }
    let last = selected
        .get(page_size - 1)
        .map(|(k, _)| k.as_str())
        .unwrap_or_default();
    let field = match range.field {
        RangeField::Id => "id",
        RangeField::Type => "type",
    };
    let mut response = heroku_json(StatusCode::PARTIAL_CONTENT, &Value::Array(page));
    if let Ok(next) = HeaderValue::from_str(&format!("{field} ]{last}..; max={page_size}")) {
        response.headers_mut().insert(NEXT_RANGE, next);
    }
    response
}

/// Why a request body is refused; becomes Heroku's error response.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    id: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        heroku_error(self.status, self.id, &self.message)
    }
}

fn invalid_params(message: String) -> Refusal {
    Refusal {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        id: "invalid_params",
        message,
    }
}

/// Parses a PATCH body and checks it against a link schema.
fn checked_body(body: &Bytes, link: schema::Link) -> Result<Value, Refusal> {
    let value: Value = serde_json::from_slice(body).map_err(|_| Refusal {
        status: StatusCode::BAD_REQUEST,
        id: "bad_request",
        message: "Request body is not valid JSON.".to_owned(),
    })?;
    match schema::check(link, &value) {
        Some(message) => Err(invalid_params(message)),
        None => Ok(value),
    }
}

/// The quantity and size an update asks for; the schema has already vouched for their types.
fn requested_change(update: &Value) -> Result<(Option<u32>, Option<String>), Refusal> {
    let quantity =
        match update.get("quantity").and_then(Value::as_i64) {
            None => None,
            // The schema leaves bounds to the server, as Heroku's own does.
            Some(q) => Some(u32::try_from(q).map_err(|_| {
                invalid_params("Quantity must be a non-negative integer.".to_owned())
            })?),
        };
    let size = update
        .get("dyno_size")
        .and_then(|s| s.get("name").or_else(|| s.get("id")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((quantity, size))
}

fn apply(
    app: &mut App,
    process_type: &str,
    (quantity, size): (Option<u32>, Option<String>),
) -> Option<Value> {
    let limit = app.quantity_limit.unwrap_or(u32::MAX);
    let formation = app.formation_mut(process_type)?;
    if let Some(quantity) = quantity {
        formation.quantity = quantity.min(limit);
    }
    if let Some(size) = size {
        formation.size = size;
    }
    let formation = app.formation(process_type)?;
    Some(app.formation_json(formation))
}

async fn formation_update(
    State(shared): State<Arc<Shared>>,
    Path((app, process_type)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let change = match checked_body(&body, schema::Link::Update).and_then(|v| requested_change(&v))
    {
        Ok(change) => change,
        Err(refusal) => return refusal.into_response(),
    };
    let mut state = shared.state();
    let Some(index) = state.app_index(&app) else {
        return app_not_found();
    };
    if state.apps[index].preboot {
        return preboot_refusal();
    }
    match apply(&mut state.apps[index], &process_type, change) {
        Some(formation) => heroku_json(StatusCode::OK, &formation),
        None => process_type_not_found(&process_type),
    }
}

async fn formation_batch_update(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let body = match checked_body(&body, schema::Link::BatchUpdate) {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let mut changes = Vec::new();
    for update in body
        .get("updates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let process_type = update
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match requested_change(update) {
            Ok(change) => changes.push((process_type, change)),
            Err(refusal) => return refusal.into_response(),
        }
    }
    let mut state = shared.state();
    let Some(index) = state.app_index(&app) else {
        return app_not_found();
    };
    if state.apps[index].preboot {
        return preboot_refusal();
    }
    let app = &mut state.apps[index];
    // All or nothing, as Heroku does: check every process type before changing any.
    if let Some((missing, _)) = changes.iter().find(|(t, _)| app.formation(t).is_none()) {
        return process_type_not_found(missing);
    }
    let updated: Vec<Value> = changes
        .into_iter()
        .filter_map(|(process_type, change)| apply(app, &process_type, change))
        .collect();
    heroku_json(StatusCode::OK, &Value::Array(updated))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum RangeField {
    Id,
    #[default]
    Type,
}

/// A `Range` header of a list request: `<field> [<start>]..[<end>][; max=<n>]`, where a start
/// written `]<value>` excludes that value (what `Next-Range` sends).
#[derive(Debug, Default, PartialEq, Eq)]
struct ListRange {
    field: RangeField,
    start: Option<(String, bool)>,
    end: Option<String>,
    max: Option<usize>,
}

impl ListRange {
    fn parse(header: &str) -> Option<Self> {
        let mut parts = header.split(';');
        let spec = parts.next()?.trim();
        let (field, bounds) = spec.split_once(' ').unwrap_or((spec, ".."));
        let field = match field {
            "id" => RangeField::Id,
            "type" => RangeField::Type,
            _ => return None,
        };
        let (start, end) = bounds.trim().split_once("..")?;
        let start = match start.strip_prefix(']') {
            Some(after) => Some((after.to_owned(), true)),
            None if start.is_empty() => None,
            None => Some((start.to_owned(), false)),
        };
        let end = (!end.is_empty()).then(|| end.to_owned());
        let mut max = None;
        for param in parts {
            if let Some(value) = param.trim().strip_prefix("max=") {
                max = Some(value.trim().parse().ok()?);
            }
        }
        Some(Self {
            field,
            start,
            end,
            max,
        })
    }

    fn admits(&self, key: &str) -> bool {
        let after_start = match &self.start {
            None => true,
            Some((start, true)) => key > start.as_str(),
            Some((start, false)) => key >= start.as_str(),
        };
        after_start && self.end.as_deref().is_none_or(|end| key <= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_heroku_writes_them() {
        let next = ListRange::parse("type ]web..; max=2").unwrap();
        assert_eq!(next.field, RangeField::Type);
        assert_eq!(next.max, Some(2));
        assert!(!next.admits("web") && next.admits("worker") && !next.admits("clock"));
        let first = ListRange::parse("id ..; max=200").unwrap();
        assert_eq!((first.field, first.max), (RangeField::Id, Some(200)));
        assert!(first.admits("anything"));
        let bounded = ListRange::parse("type b..d").unwrap();
        assert!(
            bounded.admits("b")
                && bounded.admits("c")
                && !bounded.admits("e")
                && !bounded.admits("a")
        );
        assert_eq!(ListRange::parse("name ..; max=2"), None);
        assert_eq!(ListRange::parse("type ..; max=lots"), None);
        assert_eq!(ListRange::parse("type web"), None);
    }

    #[test]
    fn only_the_v3_media_type_is_accepted() {
        let with = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, HeaderValue::from_str(accept).unwrap());
            accepts_v3(&headers)
        };
        assert!(with("application/vnd.heroku+json; version=3"));
        assert!(with(
            "application/json, application/vnd.heroku+json;version=3"
        ));
        assert!(!with("application/vnd.heroku+json"));
        assert!(!with("application/vnd.heroku+json; version=2"));
        assert!(!with("application/json"));
        assert!(!accepts_v3(&HeaderMap::new()));
    }
}
