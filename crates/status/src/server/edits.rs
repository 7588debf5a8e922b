//! `POST /api/overrides`, `DELETE /api/overrides/{id}`, `POST /api/pauses`, `DELETE /api/pauses/{id}`.
//!
//! Behind the page's password (the guarded router asks for it: 401), and more, because a browser
//! holding that password would send it along with another site's request: a write is refused with
//! 403 when no password is set at all, or when `Origin` is not this page's (`Host`'s) or
//! `Sec-Fetch-Site` names another site; its body must be JSON (415 otherwise, so no HTML form can
//! post one) of at most [`MAX_BODY`] bytes (413). A body is then parsed and judged by the
//! [`Rules`](crate::edits::Rules) (400, one message per problem) before anything is written.
//! Every answer is JSON: `{"added": [...]}`, `{"removed": [...]}` or `{"problems": [...]}`.

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::api::OverrideOut;
use super::shared::AppState;
use crate::edits::{Edits, OverrideRequest, PauseRequest};

/// The largest body a write takes: a request is a few short fields and a reason.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Which collection a `DELETE` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Override,
    Pause,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Override => "override",
            Kind::Pause => "pause",
        }
    }

    fn with_article(self) -> &'static str {
        match self {
            Kind::Override => "an override",
            Kind::Pause => "a pause",
        }
    }

    fn of(action: store::OverrideAction) -> Kind {
        match action {
            store::OverrideAction::Pause => Kind::Pause,
            _ => Kind::Override,
        }
    }
}

/// An override or pause as the API answers it: as `/api/status` lists it, with its app and
/// process type.
#[derive(Debug, Serialize)]
struct RecordOut {
    app: String,
    process: String,
    #[serde(flatten)]
    record: OverrideOut,
}

impl RecordOut {
    fn new(record: &store::Override, now: DateTime<Utc>) -> RecordOut {
        RecordOut {
            app: record.spec.key.app.clone(),
            process: record.spec.key.process.clone(),
            record: OverrideOut::new(record, now),
        }
    }
}

/// A request not taken: its status and one message per problem, answered as
/// `{"problems": [...]}`.
#[derive(Debug)]
pub(super) struct Refusal {
    status: StatusCode,
    problems: Vec<String>,
    /// Whether the connection must close (the rest of the body may still come).
    close: bool,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = axum::Json(json!({ "problems": self.problems }));
        if self.close {
            let close = [(header::CONNECTION, HeaderValue::from_static("close"))];
            (self.status, close, body).into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}

fn problem(status: StatusCode, text: impl Into<String>) -> Refusal {
    Refusal {
        status,
        problems: vec![text.into()],
        close: false,
    }
}

/// The edits, once the request may write at all: from this page (not another site), with a
/// password set. `body`: whether the request must carry JSON.
fn admit<'a>(state: &'a AppState, headers: &HeaderMap, body: bool) -> Result<&'a Edits, Refusal> {
    let Some(edits) = state.sources.edits.as_ref() else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "this page cannot change overrides and pauses",
        ));
    };
    if state.password.is_none() {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "a password must be set ([http] password) before the page may change overrides and pauses",
        ));
    }
    if let Some(refusal) = cross_site(headers) {
        return Err(problem(StatusCode::FORBIDDEN, refusal));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let json = content_type.as_deref().is_some_and(is_json);
    if (body || content_type.is_some()) && !json {
        return Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body must be JSON (Content-Type: application/json), not {}",
                content_type.as_deref().unwrap_or("a body of no type")
            ),
        ));
    }
    Ok(edits)
}

/// Why the request comes from another site, if it does: its `Origin` is not this host's, or
/// `Sec-Fetch-Site` says so. A request with neither header (a script's, not a browser's) passes:
/// it still needs the password.
fn cross_site(headers: &HeaderMap) -> Option<String> {
    // Every value counts: a request carrying two, one of them foreign, is refused.
    let values = |name| {
        headers
            .get_all(name)
            .iter()
            .map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
            .collect::<Vec<_>>()
    };
    if let Some(site) = values(header::HeaderName::from_static("sec-fetch-site"))
        .into_iter()
        .find(|site| !["same-origin", "none"].contains(&site.to_ascii_lowercase().as_str()))
    {
        return Some(format!(
            "Sec-Fetch-Site is {site}: only this page may change overrides and pauses"
        ));
    }
    let hosts = values(header::HOST);
    let host = match hosts.as_slice() {
        [host] => host.as_str(),
        _ => "",
    };
    values(header::ORIGIN).into_iter().find_map(|origin| {
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        match origin_host {
            Some(origin_host) if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) => None,
            _ => Some(format!(
                "Origin {origin} is not this page's (Host {host}): only this page may change overrides and pauses"
            )),
        }
    })
}

/// Whether a `Content-Type` is JSON: `application/json`, with parameters or not.
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The request's body, at most [`MAX_BODY`] bytes, arrived within the listener's body timeout.
async fn body(state: &AppState, request: Request) -> Result<Bytes, Refusal> {
    let too_large = || {
        problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a request body is at most {} KiB", MAX_BODY / 1024),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let read = axum::body::to_bytes(request.into_body(), MAX_BODY);
    match tokio::time::timeout(state.body_timeout, read).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err(Refusal {
            close: true,
            ..problem(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            )
        }),
    }
}

/// The JSON body as `T`, or the 400 saying what is wrong with it.
fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            format!("the body is not {what}: {e}"),
        )
    })
}

/// Writes what the rules accepted; 201 with the records.
async fn add(
    state: &AppState,
    edits: &Edits,
    new: Vec<store::NewOverride>,
) -> Result<Response, Refusal> {
    let mut added = Vec::with_capacity(new.len());
    for one in &new {
        added.push(
            edits
                .store
                .add_override(one)
                .await
                .map_err(|e| unwritable(&e))?,
        );
    }
    let now = state.sources.clock.now();
    let added: Vec<RecordOut> = added.iter().map(|r| RecordOut::new(r, now)).collect();
    tracing::info!(
        ids = ?added.iter().map(|r| r.record.id).collect::<Vec<_>>(),
        "overrides or pauses added from the page"
    );
    Ok((StatusCode::CREATED, axum::Json(json!({ "added": added }))).into_response())
}

fn unwritable(error: &store::Error) -> Refusal {
    tracing::warn!(error = %error, "the page cannot change overrides: the state database failed");
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "cannot write to the state database; try again",
    )
}

/// `POST /api/overrides`.
pub(super) async fn add_override(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Refusal> {
    let edits = admit(&state, request.headers(), true)?.clone();
    let body = body(&state, request).await?;
    let asked: OverrideRequest = parse(
        &body,
        "an override: {\"app\", \"process\", \"quantity\", \"min\", \"max\", \"from\", \"until\" or \"for\", \"reason\", \"by\"}",
    )?;
    let new = edits
        .rules
        .check_override(&asked, state.sources.clock.now())
        .map_err(invalid)?;
    add(&state, &edits, vec![new]).await
}

/// `POST /api/pauses`.
pub(super) async fn add_pause(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Refusal> {
    let edits = admit(&state, request.headers(), true)?.clone();
    let body = body(&state, request).await?;
    let asked: PauseRequest = parse(
        &body,
        "a pause: {\"app\", \"process\", \"from\", \"until\" or \"for\", \"reason\", \"by\"}",
    )?;
    let new = edits
        .rules
        .check_pause(&asked, state.sources.clock.now())
        .map_err(invalid)?;
    add(&state, &edits, new).await
}

/// The rules' problems: 400.
fn invalid(problems: Vec<String>) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        problems,
        close: false,
    }
}

/// `DELETE /api/overrides/{id}`.
pub(super) async fn end_override(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Refusal> {
    end(&state, Kind::Override, &id, request.headers()).await
}

/// `DELETE /api/pauses/{id}`.
pub(super) async fn end_pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Refusal> {
    end(&state, Kind::Pause, &id, request.headers()).await
}

/// Ends override or pause `id` now, as `autoscaled override remove` does: 200 with it, 404 when
/// there is no such one of `kind`, 409 when it had already ended.
async fn end(
    state: &AppState,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, Refusal> {
    let edits = admit(state, headers, false)?;
    let Ok(id) = id.parse::<i64>() else {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            format!("\"{id}\" is not an id: expected a whole number, as /api/status lists them"),
        ));
    };
    let found = edits
        .store
        .find_override(id)
        .await
        .map_err(|e| unwritable(&e))?
        .ok_or_else(|| {
            problem(
                StatusCode::NOT_FOUND,
                format!("there is no override or pause {id}"),
            )
        })?;
    let is = Kind::of(found.spec.action);
    if is != kind {
        return Err(problem(
            StatusCode::NOT_FOUND,
            format!(
                "{id} is {}, not {}: DELETE /api/{}s/{id}",
                is.with_article(),
                kind.with_article(),
                is.name()
            ),
        ));
    }
    let now = state.sources.clock.now();
    let ended = edits
        .store
        .end_override(id, now)
        .await
        .map_err(|e| unwritable(&e))?
        .ok_or_else(|| {
            problem(
                StatusCode::CONFLICT,
                format!("override or pause {id} has already ended"),
            )
        })?;
    tracing::info!(id, "{} ended from the page", kind.name());
    Ok(axum::Json(json!({ "removed": [RecordOut::new(&ended, now)] })).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(*name, value);
            }
        }
        map
    }

    proptest! {
        /// Any bytes in `Origin`, `Host` and `Sec-Fetch-Site` get an answer, never a panic; an
        /// origin is let through only when it names the host.
        #[test]
        fn cross_site_judges_any_headers(
            origin in proptest::collection::vec(any::<u8>(), 0..40),
            host in proptest::collection::vec(any::<u8>(), 0..40),
            site in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let map = headers(&[
                ("origin", &origin),
                ("host", &host),
                ("sec-fetch-site", &site),
            ]);
            let refused = cross_site(&map);
            if refused.is_none()
                && let Some(origin) = map.get("origin")
            {
                let text = |v: &HeaderValue| {
                    String::from_utf8_lossy(v.as_bytes()).trim().to_ascii_lowercase()
                };
                let origin = text(origin);
                let host = map.get("host").map(text).unwrap_or_default();
                prop_assert!(!host.is_empty());
                let named = [format!("http://{host}"), format!("https://{host}")];
                prop_assert!(named.contains(&origin), "{} let through for {}", origin, host);
            }
        }

        /// Any body gets the request or one message, never a panic.
        #[test]
        fn any_body_parses_or_says_why(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Err(refusal) = parse::<OverrideRequest>(&body, "an override") {
                prop_assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
                prop_assert_eq!(refusal.problems.len(), 1);
            }
        }
    }

    #[test]
    fn the_pages_own_origin_passes_and_others_do_not() {
        let page = headers(&[
            ("origin", b"http://127.0.0.1:9797"),
            ("host", b"127.0.0.1:9797"),
        ]);
        assert_eq!(cross_site(&page), None);
        let proxied = headers(&[
            ("origin", b"https://ops.example.com"),
            ("host", b"ops.example.com"),
            ("sec-fetch-site", b"same-origin"),
        ]);
        assert_eq!(cross_site(&proxied), None);
        let script = headers(&[("host", b"127.0.0.1:9797")]);
        assert_eq!(
            cross_site(&script),
            None,
            "no browser, no Origin: the password alone decides"
        );
        for origin in [
            &b"null"[..],
            b"http://127.0.0.1:9798",
            b"http://127.0.0.1:9797.evil.example",
            b"127.0.0.1:9797",
        ] {
            let other = headers(&[("origin", origin), ("host", b"127.0.0.1:9797")]);
            assert!(
                cross_site(&other).is_some(),
                "{}",
                String::from_utf8_lossy(origin)
            );
        }
        assert!(is_json("application/json; charset=utf-8") && is_json("Application/JSON"));
        assert!(!is_json("application/jsonp") && !is_json("text/json") && !is_json("text/plain"));
    }
}
