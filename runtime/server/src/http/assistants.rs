//! Assistants (`api-contract.md` §2.2).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orrery_api::Assistant;
use orrery_engine::CompiledGraph;
use serde_json::{Map, Value, json};

use super::openapi::Method::{Delete, Get, Patch, Post};
use super::openapi::Schema::{ArrayOf, Inline, Ref};
use super::openapi::{Endpoint, Param, Reply, query};
use super::{ApiError, Body, check_uuid, contains, obj_field, page, paging, project, selection};
use crate::AppState;

pub(crate) fn endpoints() -> Vec<Endpoint> {
    const A: &str = "Assistants";
    vec![
        Endpoint::new(Post, "/assistants", create_assistant, A, "Create an assistant")
            .describe("Version 1 of a new assistant of a served graph. `config.configurable` and `context` mirror each other; giving both is 400.")
            .body(Ref("AssistantCreate"))
            .json(Ref("Assistant"))
            .errors(&[400, 404, 409, 422]),
        Endpoint::new(Post, "/assistants/search", search_assistants, A, "Search assistants")
            .describe("Newest first by default. Sets `X-Pagination-Total` and, when there is a next page, `X-Pagination-Next`. With `select`, each object has only the fields named.")
            .body(Ref("AssistantSearchRequest"))
            .json(ArrayOf("Assistant"))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/assistants/count", count_assistants, A, "Count assistants")
            .body(Ref("AssistantCountRequest"))
            .json(Inline(r#"{"type": "integer"}"#))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/assistants/{assistant_id}", get_assistant, A, "Get an assistant")
            .json(Ref("Assistant"))
            .errors(&[404, 422]),
        Endpoint::new(Patch, "/assistants/{assistant_id}", patch_assistant, A, "Update an assistant")
            .describe("Makes a new version: metadata is merged, the other fields given replace the old ones.")
            .body(Ref("AssistantPatch"))
            .json(Ref("Assistant"))
            .errors(&[400, 404, 422]),
        Endpoint::new(Delete, "/assistants/{assistant_id}", delete_assistant, A, "Delete an assistant")
            .describe("With its versions and crons.")
            .reply(Reply::Empty(204))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/assistants/{assistant_id}/graph", get_assistant_graph, A, "Draw an assistant's graph")
            .graph_name_ok()
            .params(&[query(
                "xray",
                r#"{"anyOf": [{"type": "boolean"}, {"type": "integer", "minimum": 1}]}"#,
                "Expand subgraphs (`true`), or to this depth.",
            )])
            .json(Ref("GraphDrawing"))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/assistants/{assistant_id}/schemas", get_assistant_schemas, A, "The JSON Schemas of an assistant's graph")
            .json(Ref("GraphSchema"))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/assistants/{assistant_id}/subgraphs", get_assistant_subgraphs, A, "The schemas of an assistant's subgraphs")
            .params(&[RECURSE])
            .json(Ref("Subgraphs"))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/assistants/{assistant_id}/subgraphs/{namespace}", get_assistant_subgraph, A, "The schemas of one subgraph")
            .describe("`{}` when the graph has no subgraph at that namespace.")
            .params(&[RECURSE])
            .json(Ref("Subgraphs"))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/assistants/{assistant_id}/versions", get_assistant_versions, A, "List an assistant's versions")
            .describe("Newest first; 404 when none matches.")
            .body(Ref("AssistantVersionsSearchRequest"))
            .json(ArrayOf("AssistantVersion"))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/assistants/{assistant_id}/latest", set_latest_version, A, "Point an assistant at one of its versions")
            .body(Ref("AssistantVersionChange"))
            .json(Ref("Assistant"))
            .errors(&[404, 422]),
    ]
}

const RECURSE: Param = query(
    "recurse",
    r#"{"type": "boolean", "default": false}"#,
    "Also the subgraphs of subgraphs.",
);

/// The fields `select` may name (`AssistantSearchRequest.select`).
const SELECT: [&str; 10] = [
    "assistant_id",
    "graph_id",
    "name",
    "description",
    "config",
    "context",
    "created_at",
    "updated_at",
    "metadata",
    "version",
];

/// An assistant's `config` and `context`.
type ConfigAndContext = (Map<String, Value>, Map<String, Value>);

/// `config.configurable` and `context` mirror each other; both non-empty is 400.
fn config_and_context(body: &Value) -> Result<ConfigAndContext, ApiError> {
    let mut config = obj_field(body, "config");
    let mut context = obj_field(body, "context");
    let configurable =
        config.get("configurable").and_then(Value::as_object).cloned().unwrap_or_default();
    if !configurable.is_empty() && !context.is_empty() {
        return Err(ApiError::bad_request(
            "Cannot specify both configurable and context. Prefer setting context alone. Context was introduced in LangGraph 0.6.0 and is the long term planned replacement for configurable.",
        ));
    }
    if !context.is_empty() {
        config.insert("configurable".into(), Value::Object(context.clone()));
    } else if !configurable.is_empty() {
        context = configurable;
    }
    Ok((config, context))
}

async fn create_assistant(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let Some(graph_id) = body.get("graph_id").and_then(Value::as_str) else {
        return Err(ApiError::unprocessable("\"graph_id\" is a required property"));
    };
    if st.registry.get(graph_id).is_none() {
        let known = st.registry.ids();
        return Err(ApiError::not_found(format!(
            "Graph '{graph_id}' not found. Expected one of: {known:?}"
        )));
    }
    let id = match body.get("assistant_id").and_then(Value::as_str) {
        Some(id) => {
            check_uuid(id, "assistant")?;
            id.to_string()
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let (config, context) = config_and_context(&body)?;
    let now = orrery_engine::now_iso();
    let a = Assistant {
        assistant_id: id.clone(),
        graph_id: graph_id.to_string(),
        config,
        context,
        metadata: obj_field(&body, "metadata"),
        name: body.get("name").and_then(Value::as_str).unwrap_or("Untitled").to_string(),
        created_at: now.clone(),
        updated_at: now,
        version: 1,
        description: body.get("description").and_then(Value::as_str).map(str::to_string),
    };
    if st.db.insert_assistant(&a).await? {
        return Ok(axum::Json(a).into_response());
    }
    match body.get("if_exists").and_then(Value::as_str) {
        Some("do_nothing") => {
            let existing =
                st.db.get_assistant(&id).await?.ok_or_else(|| ApiError::not_found("Not Found"))?;
            Ok(axum::Json(existing).into_response())
        }
        _ => Err(ApiError::conflict(format!("Assistant {id} already exists"))),
    }
}

fn filtered(all: Vec<Assistant>, body: &Value) -> Vec<Assistant> {
    let metadata = obj_field(body, "metadata");
    let graph_id = body.get("graph_id").and_then(Value::as_str);
    let name = body.get("name").and_then(Value::as_str).map(str::to_lowercase);
    all.into_iter()
        .filter(|a| graph_id.is_none_or(|g| a.graph_id == g))
        .filter(|a| name.as_ref().is_none_or(|n| a.name.to_lowercase().contains(n.as_str())))
        .filter(|a| contains(&a.metadata, &metadata))
        .collect()
}

fn check_graph_filter(st: &AppState, body: &Value) -> Result<(), ApiError> {
    if let Some(g) = body.get("graph_id").and_then(Value::as_str)
        && st.registry.get(g).is_none()
    {
        return Err(ApiError::not_found(format!("Graph '{g}' not found")));
    }
    Ok(())
}

async fn search_assistants(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_graph_filter(&st, &body)?;
    let (limit, offset) = paging(&body, 10)?;
    let select = selection(&body, &SELECT)?;
    let mut items = filtered(st.db.list_assistants().await?, &body);
    let sort_by = body.get("sort_by").and_then(Value::as_str).unwrap_or("created_at");
    let key = |a: &Assistant| -> String {
        match sort_by {
            "assistant_id" => a.assistant_id.clone(),
            "updated_at" => a.updated_at.clone(),
            "name" => a.name.clone(),
            "graph_id" => a.graph_id.clone(),
            _ => a.created_at.clone(),
        }
    };
    items.sort_by_key(key);
    if body.get("sort_order").and_then(Value::as_str) != Some("asc") {
        items.reverse();
    }
    let items: Vec<Value> = items.iter().map(|a| project(a, select.as_deref())).collect();
    Ok(page(items, limit, offset))
}

async fn count_assistants(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_graph_filter(&st, &body)?;
    Ok(axum::Json(filtered(st.db.list_assistants().await?, &body).len()).into_response())
}

async fn get_assistant(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_uuid(&id, "assistant")?;
    let a = st.db.get_assistant(&id).await?.ok_or_else(|| ApiError::not_found("Not Found"))?;
    Ok(axum::Json(a).into_response())
}

async fn patch_assistant(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_uuid(&id, "assistant")?;
    let mut a = st.db.get_assistant(&id).await?.ok_or_else(|| ApiError::not_found("Not Found"))?;
    if let Some(g) = body.get("graph_id").and_then(Value::as_str) {
        if st.registry.get(g).is_none() {
            return Err(ApiError::not_found(format!("Graph '{g}' not found")));
        }
        a.graph_id = g.to_string();
    }
    let (config, context) = config_and_context(&body)?;
    if !config.is_empty() {
        a.config = config;
    }
    if !context.is_empty() {
        a.context = context;
    }
    for (k, v) in obj_field(&body, "metadata") {
        a.metadata.insert(k, v);
    }
    if let Some(n) = body.get("name").and_then(Value::as_str) {
        a.name = n.to_string();
    }
    if let Some(d) = body.get("description").and_then(Value::as_str) {
        a.description = Some(d.to_string());
    }
    a.version = st.db.max_assistant_version(&id).await? + 1;
    a.updated_at = orrery_engine::now_iso();
    st.db.update_assistant(&a).await?;
    Ok(axum::Json(a).into_response())
}

async fn delete_assistant(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_uuid(&id, "assistant")?;
    if !st.db.delete_assistant(&id).await? {
        return Err(ApiError::not_found(format!("Assistant with ID {id} not found")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
struct XrayQuery {
    xray: Option<String>,
}

async fn get_assistant_graph(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<XrayQuery>,
) -> Result<Response, ApiError> {
    let a = st.resolve_assistant(&id).await?;
    let xray = match q.xray.as_deref() {
        None | Some("false") => 0,
        Some("true") => u32::MAX,
        Some(n) => n
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::unprocessable("Invalid xray value"))?,
    };
    let graph = st.registry.get(&a.graph_id).ok_or_else(|| ApiError::not_found("Not Found"))?;
    Ok(axum::Json(graph.draw(xray)).into_response())
}

async fn get_assistant_schemas(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_uuid(&id, "assistant")?;
    let a = st.db.get_assistant(&id).await?.ok_or_else(|| ApiError::not_found("Not Found"))?;
    let graph = st.registry.get(&a.graph_id).ok_or_else(|| ApiError::not_found("Not Found"))?;
    // Graph files type their state and configurable fields; native graphs have `{}` per key.
    let info = st.registry.info(&a.graph_id);
    let state_schema =
        info.as_ref().and_then(|i| i.state_schema.clone()).unwrap_or_else(|| graph.state_schema());
    Ok(axum::Json(json!({
        "graph_id": a.graph_id,
        "input_schema": state_schema,
        "output_schema": state_schema,
        "state_schema": state_schema,
        "config_schema": info.and_then(|i| i.config_schema.clone()),
        "context_schema": null,
    }))
    .into_response())
}

#[derive(serde::Deserialize, Default)]
struct RecurseQuery {
    recurse: Option<String>,
}

/// The subgraphs of `graph` by namespace (`parent|child`), as langgraph lists them: only the
/// direct ones unless `recurse`; with `namespace`, only the one at exactly that namespace (a
/// nested one needs `recurse`).
fn subgraphs_of(
    graph: &CompiledGraph,
    namespace: Option<&str>,
    recurse: bool,
) -> Vec<(String, Arc<CompiledGraph>)> {
    let mut out = Vec::new();
    for (name, sub) in graph.subgraphs() {
        let rest = match namespace {
            None => None,
            Some(ns) if ns == name => {
                out.push((name, sub));
                return out;
            }
            Some(ns) => match ns.strip_prefix(&format!("{name}|")) {
                Some(rest) => Some(rest),
                None => continue,
            },
        };
        if namespace.is_none() {
            out.push((name.clone(), Arc::clone(&sub)));
        }
        if recurse {
            for (n, s) in subgraphs_of(&sub, rest, true) {
                out.push((format!("{name}|{n}"), s));
            }
        }
    }
    out
}

async fn subgraphs(
    st: &AppState,
    id: &str,
    namespace: Option<&str>,
    recurse: Option<&str>,
) -> Result<Response, ApiError> {
    check_uuid(id, "assistant")?;
    let a = st.db.get_assistant(id).await?.ok_or_else(|| ApiError::not_found("Not Found"))?;
    let graph = st.registry.get(&a.graph_id).ok_or_else(|| ApiError::not_found("Not Found"))?;
    let recurse = matches!(recurse, Some("true" | "True"));
    let mut out = Map::new();
    for (name, sub) in subgraphs_of(&graph, namespace, recurse) {
        out.insert(
            name,
            json!({"input_schema": sub.state_schema(), "output_schema": sub.state_schema(),
                   "state_schema": sub.state_schema(), "config_schema": null, "context_schema": null}),
        );
    }
    Ok(axum::Json(Value::Object(out)).into_response())
}

async fn get_assistant_subgraphs(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<RecurseQuery>,
) -> Result<Response, ApiError> {
    subgraphs(&st, &id, None, q.recurse.as_deref()).await
}

async fn get_assistant_subgraph(
    State(st): State<Arc<AppState>>,
    Path((id, namespace)): Path<(String, String)>,
    Query(q): Query<RecurseQuery>,
) -> Result<Response, ApiError> {
    subgraphs(&st, &id, Some(&namespace), q.recurse.as_deref()).await
}

async fn get_assistant_versions(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_uuid(&id, "assistant")?;
    let (limit, offset) = paging(&body, 10)?;
    let metadata = obj_field(&body, "metadata");
    let versions: Vec<Value> = st
        .db
        .assistant_versions(&id)
        .await?
        .into_iter()
        .filter(|v| contains(&v.metadata, &metadata))
        .skip(offset)
        .take(limit)
        .map(|v| {
            json!({"assistant_id": v.assistant_id, "version": v.version, "graph_id": v.graph_id,
                   "config": v.config, "context": v.context, "metadata": v.metadata,
                   "created_at": v.created_at, "name": v.name, "description": v.description})
        })
        .collect();
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("Assistant {id} not found")));
    }
    Ok(axum::Json(versions).into_response())
}

async fn set_latest_version(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_uuid(&id, "assistant")?;
    let Some(version) = body.get("version").and_then(Value::as_i64) else {
        return Err(ApiError::unprocessable("\"version\" is a required property"));
    };
    let mut a = st.db.get_assistant(&id).await?.ok_or_else(|| ApiError::not_found("Not Found"))?;
    let v = st
        .db
        .assistant_versions(&id)
        .await?
        .into_iter()
        .find(|v| v.version == version)
        .ok_or_else(|| {
            ApiError::not_found(format!("Version {version} not found for assistant {id}"))
        })?;
    a.config = v.config;
    a.metadata = v.metadata;
    a.name = v.name;
    a.description = v.description;
    a.graph_id = v.graph_id;
    a.version = version;
    a.updated_at = orrery_engine::now_iso();
    st.db.point_assistant(&a).await?;
    Ok(axum::Json(a).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use orrery_engine::{CompileOptions, END, Reducer, START, StateGraph};
    use serde_json::json;

    use super::subgraphs_of;

    fn leaf() -> orrery_engine::CompiledGraph {
        StateGraph::new()
            .channel("x", Reducer::LastValue)
            .add_fn("a", |_, _| Ok(json!({"x": 1}).into()))
            .add_edge(START, "a")
            .add_edge("a", END)
            .compile(CompileOptions::default())
            .unwrap()
    }

    fn wrap(name: &str, inner: orrery_engine::CompiledGraph) -> orrery_engine::CompiledGraph {
        StateGraph::new()
            .channel("x", Reducer::LastValue)
            .add_subgraph(name, inner)
            .add_edge(START, name)
            .add_edge(name, END)
            .compile(CompileOptions::default())
            .unwrap()
    }

    #[test]
    fn subgraphs_are_listed_by_namespace_as_langgraph_lists_them() {
        let g = wrap("child", wrap("inner", leaf()));
        let names = |ns: Option<&str>, recurse: bool| -> Vec<String> {
            subgraphs_of(&g, ns, recurse).into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(names(None, false), ["child"]);
        assert_eq!(names(None, true), ["child", "child|inner"]);
        assert_eq!(names(Some("child"), false), ["child"]);
        assert_eq!(names(Some("child"), true), ["child"]);
        // A nested namespace needs recurse.
        assert!(names(Some("child|inner"), false).is_empty());
        assert_eq!(names(Some("child|inner"), true), ["child|inner"]);
        // The first segment is matched whole.
        assert!(names(Some("chi"), true).is_empty());
        assert!(names(Some("child|nope"), true).is_empty());
        assert!(subgraphs_of(&leaf(), None, true).is_empty());
    }
}
