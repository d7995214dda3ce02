//! The HTTP API: one router per resource, one error type, SSE framing.

// Meta routes: /ok, /, /info.
mod meta;
// Assistants: search, count, get, graph, schemas, versions, create, patch, delete.
mod assistants;
// Threads: create, get, search, count, patch, delete, state, history.
mod threads;
// Runs: create, stream, wait, list, get, join, cancel, delete, stateless runs.
pub(crate) mod runs;
// Crons: create (stateless and on a thread), search, count, get, patch, delete.
mod crons;
// The key-value store: items and namespaces.
mod store;
// The endpoint table and the OpenAPI document made from it.
pub(crate) mod openapi;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequest;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;

/// Every route of the API, with its description (`GET /openapi.json` lists the same).
pub(crate) fn endpoints() -> Vec<openapi::Endpoint> {
    [
        meta::endpoints(),
        assistants::endpoints(),
        threads::endpoints(),
        runs::endpoints(),
        crons::endpoints(),
        store::endpoints(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every route of the API: the routes of [`endpoints`], nothing else.
pub fn router(state: Arc<AppState>) -> Router {
    endpoints()
        .into_iter()
        .fold(Router::new(), |r, e| r.route(e.path, e.router))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        })
        .with_state(state)
}

/// An API error: the real server's status code and `{"detail": ...}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError { status, detail: detail.into() }
    }
    pub(crate) fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, detail)
    }
    pub(crate) fn unprocessable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }
    pub(crate) fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }
    pub(crate) fn conflict(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, detail)
    }
    pub(crate) fn detail(&self) -> &str {
        &self.detail
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"detail": self.detail}))).into_response()
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> ApiError {
        // The cause is logged; the client gets the server's generic answer.
        tracing::error!("store error: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }
}

impl From<orrery_engine::Error> for ApiError {
    fn from(e: orrery_engine::Error) -> ApiError {
        match &e {
            orrery_engine::Error::InvalidUpdate { message } => {
                ApiError::bad_request(message.clone())
            }
            orrery_engine::Error::Usage(m) => ApiError::bad_request(m.clone()),
            orrery_engine::Error::Checkpointer(m) => {
                tracing::error!("checkpointer error: {m}");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

/// A JSON body; malformed JSON is `422 Invalid JSON in request body`, as the real server says.
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::unprocessable("Invalid JSON in request body"))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(json!({})));
        }
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|_| ApiError::unprocessable("Invalid JSON in request body"))
    }
}

/// Path ids must be UUIDs (`422 Invalid <what> ID: must be a UUID`).
pub(crate) fn check_uuid(id: &str, what: &str) -> Result<(), ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ApiError::unprocessable(format!("Invalid {what} ID: must be a UUID")))
}

/// A JSON response with extra headers.
pub(crate) fn json_with(
    value: impl serde::Serialize,
    headers: &[(&'static str, String)],
) -> Response {
    let mut resp = axum::Json(value).into_response();
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            resp.headers_mut().insert(*k, v);
        }
    }
    resp
}

/// Object field helpers for loosely typed request bodies.
pub(crate) fn obj_field(body: &Value, key: &str) -> serde_json::Map<String, Value> {
    body.get(key).and_then(Value::as_object).cloned().unwrap_or_default()
}

/// `limit` and `offset` of a search body, with the server's defaults and a 422 for bad values.
pub(crate) fn paging(body: &Value, default_limit: i64) -> Result<(usize, usize), ApiError> {
    let num = |k: &str, d: i64| -> Result<i64, ApiError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(d),
            Some(v) => v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::unprocessable(format!("'{k}' must be a non-negative integer"))
            }),
        }
    };
    let limit = num("limit", default_limit)?.min(10_000) as usize;
    let offset = num("offset", 0)? as usize;
    Ok((limit, offset))
}

/// A page of results with LangGraph's pagination headers (`X-Pagination-Total` is
/// `offset+limit+1` while there is a next page, the real total on the last page).
pub(crate) fn page<T: serde::Serialize>(
    mut items: Vec<T>,
    limit: usize,
    offset: usize,
) -> Response {
    let total = items.len();
    let end = (offset + limit).min(total);
    let slice: Vec<T> =
        if offset < total { items.drain(offset..end).collect() } else { Vec::new() };
    page_of(slice, limit, offset, end < total, total)
}

/// A page already cut (`items`, from `offset`), with [`page`]'s headers: `more` says whether
/// anything follows it, `total` is how many there are in all (read only when nothing follows).
pub(crate) fn page_of<T: serde::Serialize>(
    items: Vec<T>,
    limit: usize,
    offset: usize,
    more: bool,
    total: usize,
) -> Response {
    let mut headers = Vec::new();
    if more {
        headers.push(("x-pagination-total", (offset + limit + 1).to_string()));
        headers.push(("x-pagination-next", (offset + limit).to_string()));
    } else {
        headers.push(("x-pagination-total", total.to_string()));
    }
    json_with(items, &headers)
}

/// The `select` of a search body: `None` (every field) when absent, null or empty; 422 for a
/// field the request schema does not list, as the real server's validator says.
pub(crate) fn selection(body: &Value, allowed: &[&str]) -> Result<Option<Vec<String>>, ApiError> {
    let items = match body.get("select") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(ApiError::unprocessable(format!("{other} is not of type \"array\"")));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for x in items {
        match x.as_str() {
            Some(f) if allowed.contains(&f) => out.push(f.to_string()),
            _ => {
                return Err(ApiError::unprocessable(format!(
                    "{x} is not one of {}",
                    json!(allowed)
                )));
            }
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// An object reduced to the selected fields (in the object's own order).
pub(crate) fn project(value: impl serde::Serialize, select: Option<&[String]>) -> Value {
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    if let (Some(select), Some(o)) = (select, v.as_object_mut()) {
        o.retain(|k, _| select.iter().any(|s| s == k));
    }
    v
}

/// Whether `haystack` contains every key of `needle` with an equal value (metadata filters).
pub(crate) fn contains(
    haystack: &serde_json::Map<String, Value>,
    needle: &serde_json::Map<String, Value>,
) -> bool {
    needle.iter().all(|(k, v)| haystack.get(k) == Some(v))
}
