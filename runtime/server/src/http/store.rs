//! The key-value store (`api-contract.md` §2.6).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::openapi::Method::{Delete, Get, Post, Put};
use super::openapi::Schema::{Inline, Ref};
use super::openapi::{Endpoint, Reply, query};
use super::{ApiError, Body, paging};
use crate::AppState;

pub(crate) fn endpoints() -> Vec<Endpoint> {
    const STORE: &str = "Store";
    vec![
        Endpoint::new(Put, "/store/items", put_item, STORE, "Store an item")
            .describe("Creates or replaces the item at `namespace` + `key`. A namespace label that is empty or contains a period is a plain-text 422.")
            .body(Ref("StorePutRequest"))
            .reply(Reply::Empty(204))
            .errors(&[422]),
        Endpoint::new(Get, "/store/items", get_item, STORE, "Get an item")
            .describe("`200 null` when there is no such item; a missing `key` is `400 {\"error\": \"Key is required\"}`.")
            .params(&[
                query("namespace", r#"{"type": "string"}"#, "The namespace, its labels joined with `.`."),
                query("key", r#"{"type": "string"}"#, "The item's key."),
                query("refresh_ttl", r#"{"type": "boolean"}"#, "Restart the item's time to live."),
            ])
            .json(Inline(r##"{"anyOf": [{"$ref": "#/components/schemas/Item"}, {"type": "null"}]}"##))
            .errors(&[400, 422]),
        Endpoint::new(Delete, "/store/items", delete_item, STORE, "Delete an item")
            .describe("The namespace and key come in a JSON body. Deleting a missing item is not an error.")
            .body(Ref("StoreDeleteRequest"))
            .reply(Reply::Empty(204))
            .errors(&[422]),
        Endpoint::new(Post, "/store/items/search", search_items, STORE, "Search items")
            .body(Ref("StoreSearchRequest"))
            .json(Ref("SearchItemsResponse"))
            .errors(&[422]),
        Endpoint::new(Post, "/store/namespaces", list_namespaces, STORE, "List namespaces")
            .body(Ref("StoreListNamespacesRequest"))
            .json(Ref("ListNamespaceResponse"))
            .errors(&[422]),
    ]
}

/// How a store request fails: namespace errors are plain-text 422s on the real server, a
/// missing key is `400 {"error": ...}`, the rest are ordinary API errors.
enum StoreError {
    Namespace(String),
    KeyRequired,
    Api(ApiError),
}

impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        match self {
            StoreError::Namespace(label) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Namespace label '{label}' must be a non-empty string without periods"),
            )
                .into_response(),
            StoreError::KeyRequired => {
                (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "Key is required"})))
                    .into_response()
            }
            StoreError::Api(e) => e.into_response(),
        }
    }
}

impl From<ApiError> for StoreError {
    fn from(e: ApiError) -> Self {
        StoreError::Api(e)
    }
}

impl From<crate::db::DbError> for StoreError {
    fn from(e: crate::db::DbError) -> Self {
        StoreError::Api(e.into())
    }
}

fn namespace_error(label: &str) -> StoreError {
    StoreError::Namespace(label.to_string())
}

/// The labels of a namespace array, dot-joined (labels cannot contain dots).
fn namespace(v: Option<&Value>) -> Result<String, StoreError> {
    let labels: Vec<String> = match v {
        Some(Value::Array(a)) => {
            a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect()
        }
        None | Some(Value::Null) => Vec::new(),
        Some(other) => return Err(namespace_error(&other.to_string())),
    };
    if let Some(bad) = labels.iter().find(|l| l.is_empty() || l.contains('.')) {
        return Err(namespace_error(bad));
    }
    Ok(labels.join("."))
}

async fn put_item(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, StoreError> {
    let ns = namespace(body.get("namespace"))?;
    if ns.is_empty() {
        return Err(ApiError::unprocessable("\"namespace\" is a required property").into());
    }
    let Some(key) = body.get("key").and_then(Value::as_str) else {
        return Err(ApiError::unprocessable("\"key\" is a required property").into());
    };
    let Some(value) = body.get("value").filter(|v| v.is_object()) else {
        return Err(ApiError::unprocessable("Value must be a dictionary").into());
    };
    let ttl = body.get("ttl").and_then(Value::as_f64);
    st.db.put_item(&ns, key, value, ttl).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize, Default)]
struct GetQuery {
    namespace: Option<String>,
    key: Option<String>,
    refresh_ttl: Option<String>,
}

async fn get_item(
    State(st): State<Arc<AppState>>,
    Query(q): Query<GetQuery>,
) -> Result<Response, StoreError> {
    let Some(key) = q.key.filter(|k| !k.is_empty()) else {
        return Err(StoreError::KeyRequired);
    };
    let ns = q.namespace.unwrap_or_default();
    if let Some(bad) = ns.split('.').find(|l| l.is_empty()).filter(|_| !ns.is_empty()) {
        return Err(namespace_error(bad));
    }
    let refresh = !matches!(q.refresh_ttl.as_deref(), Some("false" | "0"));
    let item = st.db.get_item(&ns, &key, refresh).await?;
    Ok(axum::Json(item).into_response())
}

async fn delete_item(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, StoreError> {
    let ns = namespace(body.get("namespace"))?;
    let Some(key) = body.get("key").and_then(Value::as_str) else {
        return Err(ApiError::unprocessable("\"key\" is a required property").into());
    };
    st.db.delete_item(&ns, key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn search_items(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, StoreError> {
    let prefix = namespace(body.get("namespace_prefix"))?;
    let (limit, offset) = paging(&body, 10)?;
    let filter = body.get("filter").and_then(Value::as_object).cloned().unwrap_or_default();
    let items = st.db.items_under(&prefix).await?;
    let out: Vec<Value> = items
        .into_iter()
        .filter(|i| filter.iter().all(|(k, v)| i.value.get(k) == Some(v)))
        .skip(offset)
        .take(limit)
        .map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
            v["score"] = Value::Null;
            v
        })
        .collect();
    Ok(axum::Json(json!({"items": out})).into_response())
}

async fn list_namespaces(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, StoreError> {
    let prefix = namespace(body.get("prefix"))?;
    let suffix: Vec<String> = match namespace(body.get("suffix"))? {
        s if s.is_empty() => Vec::new(),
        s => s.split('.').map(str::to_string).collect(),
    };
    let max_depth = body.get("max_depth").and_then(Value::as_u64).map(|d| d as usize);
    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(100) as usize;
    let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let items = st.db.items_under(&prefix).await?;
    let mut set = BTreeSet::new();
    for i in items {
        let mut ns = i.namespace;
        if !ns.ends_with(&suffix) {
            continue;
        }
        if let Some(d) = max_depth {
            ns.truncate(d);
        }
        set.insert(ns);
    }
    let out: Vec<Vec<String>> = set.into_iter().skip(offset).take(limit).collect();
    Ok(axum::Json(json!({"namespaces": out})).into_response())
}
