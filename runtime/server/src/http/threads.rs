//! Threads, state and history (`api-contract.md` §2.3, §8).

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use orrery_api::{CheckpointConfig, Interrupt, ThreadState, ThreadTask};
use orrery_engine::{CompiledGraph, RunConfig, StateSnapshot};
use serde_json::{Map, Value, json};

use super::openapi::Method::{Delete, Get, Patch, Post};
use super::openapi::Schema::{ArrayOf, Inline, Ref};
use super::openapi::{Endpoint, Param, Reply, header, query};
use super::runs::{sse_frames, sse_response};
use super::{ApiError, Body, check_uuid, obj_field, page_of, paging, project, selection};
use crate::AppState;
use crate::db::{ThreadFilter, ThreadOrder};
use crate::runs::{Frame, new_thread, thread_frame};

pub(crate) fn endpoints() -> Vec<Endpoint> {
    const T: &str = "Threads";
    vec![
        Endpoint::new(Post, "/threads", create_thread, T, "Create a thread")
            .body(Ref("ThreadCreate"))
            .json(Ref("Thread"))
            .errors(&[409, 422]),
        Endpoint::new(Post, "/threads/search", search_threads, T, "Search threads")
            .describe("Most recently updated first unless `sort_by` is given. Sets `X-Pagination-Total` and, when there is a next page, `X-Pagination-Next`. With `select`, each object has only the fields named.")
            .body(Ref("ThreadSearchRequest"))
            .json(ArrayOf("Thread"))
            .errors(&[400, 422]),
        Endpoint::new(Post, "/threads/count", count_threads, T, "Count threads")
            .body(Ref("ThreadCountRequest"))
            .json(Inline(r#"{"type": "integer"}"#))
            .errors(&[400, 422]),
        Endpoint::new(Post, "/threads/prune", prune_threads, T, "Prune threads")
            .describe("`delete` deletes the threads with their runs, crons and checkpoints; `keep_latest` keeps each thread and its latest state but deletes its older checkpoints. Unknown ids are skipped.")
            .body(Ref("ThreadPruneRequest"))
            .json(Ref("ThreadPruneResponse"))
            .errors(&[422]),
        Endpoint::new(Get, "/threads/{thread_id}", get_thread, T, "Get a thread")
            .json(Ref("Thread"))
            .errors(&[404, 422]),
        Endpoint::new(Patch, "/threads/{thread_id}", patch_thread, T, "Update a thread's metadata")
            .describe("The metadata given is merged into the thread's. With `Prefer: return=minimal` the answer is 204 without a body.")
            .params(&[header("Prefer", r#"{"type": "string"}"#, "`return=minimal`: answer 204.")])
            .body(Ref("ThreadPatch"))
            .json(Ref("Thread"))
            .errors(&[404, 422]),
        Endpoint::new(Delete, "/threads/{thread_id}", delete_thread, T, "Delete a thread")
            .describe("With its runs, crons and checkpoints.")
            .reply(Reply::Empty(204))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/threads/{thread_id}/state", get_thread_state, T, "A thread's current state")
            .describe("All nulls when the thread has no checkpoint yet.")
            .params(&[SUBGRAPHS])
            .json(Ref("ThreadState"))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/threads/{thread_id}/state", update_thread_state, T, "Update a thread's state")
            .describe("Writes a checkpoint as if `as_node` had returned `values`; from `checkpoint_id` / `checkpoint` it forks. Thread streams get a `state_update` event.")
            .body(Ref("ThreadStateUpdate"))
            .json(Ref("ThreadStateUpdateResponse"))
            .errors(&[400, 404, 409, 422]),
        Endpoint::new(Post, "/threads/{thread_id}/state/checkpoint", get_thread_state_at_config, T, "A thread's state at a checkpoint")
            .body(Ref("ThreadStateCheckpointRequest"))
            .json(Ref("ThreadState"))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/threads/{thread_id}/state/{checkpoint_id}", get_thread_state_at, T, "A thread's state at a checkpoint")
            .params(&[SUBGRAPHS])
            .json(Ref("ThreadState"))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/threads/{thread_id}/history", get_history, T, "A thread's past states")
            .describe("Newest first.")
            .params(&[
                query("limit", r#"{"type": "integer", "default": 1}"#, "How many states."),
                query("before", r#"{"type": "string"}"#, "Only states before this checkpoint id."),
            ])
            .json(ArrayOf("ThreadState"))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/threads/{thread_id}/history", post_history, T, "Search a thread's past states")
            .describe("Newest first.")
            .body(Ref("ThreadStateSearch"))
            .json(ArrayOf("ThreadState"))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/threads/{thread_id}/copy", copy_thread, T, "Copy a thread")
            .describe("A new thread with the same metadata and checkpoints. A missing source is 409 `Conflict`, as the real server answers.")
            .json(Ref("Thread"))
            .errors(&[409]),
        Endpoint::new(Get, "/threads/{thread_id}/stream", join_thread_stream, T, "Stream a thread")
            .describe("Every event of every run of the thread from the moment of joining, a `metadata` event `{\"status\": \"run_done\", \"run_id\"}` when a run ends, and `state_update` events `{\"state\", \"thread_id\"}`; every event has an id. With `Last-Event-ID`, the stored events of the thread's resumable runs after that id come first (`-`: all). It never ends by itself; an unknown thread is not an error.")
            .params(&[
                query(
                    "stream_modes",
                    r#"{"type": "string", "default": "run_modes"}"#,
                    "`run_modes`, `lifecycle`, `state_update`, or several comma-separated.",
                ),
                header("Last-Event-ID", r#"{"type": "string"}"#, "Resume after this event id: `<ms>`, `<ms>-<seq>`, `<ms>-*` or `-`."),
            ])
            .reply(Reply::Events)
            .errors(&[422]),
    ]
}

const SUBGRAPHS: Param =
    query("subgraphs", r#"{"type": "boolean", "default": false}"#, "Include subgraph states.");

/// `POST /threads/prune` (schema `ThreadPruneRequest`): `delete` deletes the threads (with
/// their runs, crons and checkpoints), `keep_latest` keeps each thread and its latest state
/// but drops its older checkpoints. Unknown ids are skipped. `{"pruned_count": n}`.
async fn prune_threads(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let ids = match body.get("thread_ids") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(ApiError::unprocessable(format!("{other} is not of type \"array\"")));
        }
        None => return Err(ApiError::unprocessable("\"thread_ids\" is a required property")),
    };
    let mut thread_ids = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.as_str().unwrap_or_default();
        check_uuid(id, "thread")?;
        thread_ids.push(id);
    }
    let strategy = match body.get("strategy") {
        None | Some(Value::Null) => "delete",
        Some(Value::String(s)) if s == "delete" || s == "keep_latest" => s.as_str(),
        Some(other) => {
            let shown = other.as_str().map_or_else(|| other.to_string(), str::to_string);
            return Err(ApiError::unprocessable(format!(
                "Invalid strategy: {shown}. Expected 'delete' or 'keep_latest'."
            )));
        }
    };
    let mut pruned = 0;
    for id in thread_ids {
        let done = if strategy == "delete" {
            st.db.delete_thread(id).await?
        } else {
            st.db.keep_latest_checkpoints(id).await?
        };
        pruned += usize::from(done);
    }
    Ok(axum::Json(json!({"pruned_count": pruned})).into_response())
}

/// The kinds of events a thread stream sends (`stream_modes`).
#[derive(Debug, Clone, Copy, Default)]
struct ThreadModes {
    run_modes: bool,
    lifecycle: bool,
    state_update: bool,
}

impl ThreadModes {
    /// `stream_modes`: one mode or a comma-separated list; `run_modes` without one.
    fn parse(param: Option<&str>) -> Result<ThreadModes, ApiError> {
        let Some(param) = param.filter(|p| !p.is_empty()) else {
            return Ok(ThreadModes { run_modes: true, ..Default::default() });
        };
        let mut m = ThreadModes::default();
        for mode in param.split(',').map(str::trim) {
            match mode {
                "run_modes" => m.run_modes = true,
                "lifecycle" => m.lifecycle = true,
                "state_update" => m.state_update = true,
                other => {
                    return Err(ApiError::unprocessable(format!("Invalid stream mode: {other}")));
                }
            }
        }
        Ok(m)
    }

    /// Whether a frame goes out: `run_modes` is every run event, `lifecycle` a run's first
    /// `metadata` event and its `run_done` marker, `state_update` the state updates.
    fn matches(self, f: &Frame) -> bool {
        if f.event == "state_update" {
            return self.state_update;
        }
        if self.run_modes {
            return true;
        }
        if self.lifecycle && f.event == "metadata" {
            let data: Value = serde_json::from_str(&f.data).unwrap_or(Value::Null);
            return data.get("status").and_then(Value::as_str) == Some("run_done")
                || (data.get("attempt").is_some() && data.get("run_id").is_some());
        }
        false
    }
}

/// Whether a `Last-Event-ID` is a stream id: `-`, `<ms>`, `<ms>-<seq>` or `<ms>-*`.
pub(crate) fn valid_event_id(id: &str) -> bool {
    if id == "-" {
        return true;
    }
    let (ms, seq) = match id.split_once('-') {
        Some((ms, seq)) => (ms, Some(seq)),
        None => (id, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(ms) && seq.is_none_or(|s| s == "*" || digits(s))
}

#[derive(serde::Deserialize, Default)]
struct ThreadStreamQuery {
    stream_modes: Option<String>,
}

/// `GET /threads/{thread_id}/stream`: every event of every run of the thread from now on, a
/// `run_done` marker when a run ends, and state updates; ids on every event; heartbeats every
/// 5 s; never ends by itself. An unknown thread is not an error (its runs may come).
async fn join_thread_stream(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<ThreadStreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_uuid(&id, "thread")?;
    let last_id =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
    if let Some(l) = last_id
        && !valid_event_id(l)
    {
        return Err(ApiError::unprocessable(
            "Invalid last-event-id: must be a valid Redis stream ID",
        ));
    }
    let modes = ThreadModes::parse(q.stream_modes.as_deref())?;
    // Subscribed before the logs are read: an event is then in a log, live, or both (and sent
    // once), never in neither.
    let rx = st.runs.threads.subscribe(&id);
    let mut replay = Vec::new();
    if let Some(last) = last_id {
        let mut frames: Vec<Frame> =
            st.db.thread_log(&id).await?.into_iter().map(|(_, f)| f).collect();
        for ch in st.runs.thread_channels(&id) {
            frames.extend(ch.history());
        }
        frames.retain(|f| last == "-" || after_id(&f.id, last));
        frames.sort_by(|a, b| a.id.cmp(&b.id));
        let mut seen = HashSet::new();
        for f in frames.into_iter().map(thread_frame) {
            if modes.matches(&f) && seen.insert(f.clone()) {
                replay.push(f);
            }
        }
    }
    let replayed: HashSet<Frame> = replay.iter().cloned().collect();
    let body =
        sse_frames(replay, rx, true, move |f: &Frame| modes.matches(f) && !replayed.contains(f));
    Ok(sse_response(axum::body::Body::from_stream(body), None, None))
}

/// Whether event id `id` comes after `last` (`<ms>`, `<ms>-<seq>` or `<ms>-*`): by time, then
/// by sequence; after `<ms>-*` or a bare `<ms>` come the events of that millisecond too (as
/// the real server's string comparison has it).
fn after_id(id: &str, last: &str) -> bool {
    let parse = |s: &str| -> (u64, Option<u64>) {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "*"));
        (ms.parse().unwrap_or(0), seq.parse().ok())
    };
    let (ms, seq) = parse(id);
    let (last_ms, last_seq) = parse(last);
    match last_seq {
        _ if ms != last_ms => ms > last_ms,
        None => true,
        Some(l) => seq.unwrap_or(0) > l,
    }
}

/// The fields `select` may name (`ThreadSearchRequest.select`).
const SELECT: [&str; 9] = [
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "config",
    "status",
    "values",
    "interrupts",
];

async fn create_thread(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let id = match body.get("thread_id").and_then(Value::as_str) {
        Some(id) => {
            check_uuid(id, "thread")?;
            id.to_string()
        }
        None => uuid::Uuid::now_v7().to_string(),
    };
    let t = new_thread(&id, obj_field(&body, "metadata"));
    if st.db.insert_thread(&t).await? {
        return Ok(axum::Json(t).into_response());
    }
    match body.get("if_exists").and_then(Value::as_str) {
        Some("do_nothing") => {
            let existing =
                st.db.get_thread(&id).await?.ok_or_else(|| ApiError::not_found("Not Found"))?;
            Ok(axum::Json(existing).into_response())
        }
        _ => Err(ApiError::conflict(format!("Thread with ID {id} already exists"))),
    }
}

/// The filters of a search or count body; 400 for an `ids` entry that is not a UUID.
fn thread_filter(body: &Value) -> Result<ThreadFilter, ApiError> {
    let ids = match body.get("ids") {
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for v in a {
                let s = v.as_str().unwrap_or_default();
                if uuid::Uuid::parse_str(s).is_err() {
                    return Err(ApiError::bad_request(format!("Invalid thread ID {s}")));
                }
                out.push(s.to_string());
            }
            Some(out)
        }
        _ => None,
    };
    Ok(ThreadFilter {
        ids,
        status: body.get("status").and_then(Value::as_str).map(str::to_string),
        metadata: obj_field(body, "metadata"),
        values: obj_field(body, "values"),
    })
}

/// `POST /threads/search`: most recently updated first unless `sort_by` is given (`sort_order`
/// counts only then); filtered, sorted and paged by the database.
async fn search_threads(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let (limit, offset) = paging(&body, 10)?;
    let select = selection(&body, &SELECT)?;
    let filter = thread_filter(&body)?;
    let sort_by = body.get("sort_by").and_then(Value::as_str);
    let order = match sort_by {
        Some("thread_id") => ThreadOrder::ThreadId,
        Some("status") => ThreadOrder::Status,
        Some("created_at") => ThreadOrder::CreatedAt,
        Some("state_updated_at") => ThreadOrder::StateUpdatedAt,
        _ => ThreadOrder::UpdatedAt,
    };
    let asc = sort_by.is_some() && body.get("sort_order").and_then(Value::as_str) == Some("asc");
    let found = st.db.search_threads(&filter, order, asc, limit, offset).await?;
    let items: Vec<Value> = found.threads.iter().map(|t| project(t, select.as_deref())).collect();
    Ok(page_of(items, limit, offset, found.more, found.total))
}

async fn count_threads(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    Ok(axum::Json(st.db.count_threads(&thread_filter(&body)?).await?).into_response())
}

async fn get_thread(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_uuid(&id, "thread")?;
    Ok(axum::Json(st.thread(&id).await?).into_response())
}

async fn patch_thread(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_uuid(&id, "thread")?;
    // `ThreadPatch`: a body and a `metadata` that are not objects are 422, as the schema says.
    if !body.is_object() {
        return Err(ApiError::unprocessable(format!("{body} is not of type \"object\"")));
    }
    if let Some(m) = body.get("metadata").filter(|m| !m.is_object()) {
        return Err(ApiError::unprocessable(format!("{m} is not of type \"object\"")));
    }
    let t = st
        .db
        .patch_thread_metadata(&id, obj_field(&body, "metadata"), &orrery_engine::now_iso())
        .await?
        .ok_or_else(|| ApiError::not_found("Not Found"))?;
    let minimal = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("return=minimal"));
    if minimal {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(axum::Json(t).into_response())
}

async fn copy_thread(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // Like the real server, a bad id is not validated: it reaches the lookup and is a conflict.
    let new_id = uuid::Uuid::new_v4().to_string();
    match st.db.copy_thread(&id, &new_id).await? {
        Some(t) => {
            let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.remove("values"); // a copy has no values key until it runs
            }
            Ok(axum::Json(v).into_response())
        }
        None => Err(ApiError::conflict("Conflict")),
    }
}

async fn delete_thread(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_uuid(&id, "thread")?;
    if !st.db.delete_thread(&id).await? {
        return Err(ApiError::not_found(format!("Thread with ID {id} not found")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A checkpoint pointer as the API shows it.
fn checkpoint_config(v: &Value) -> Option<CheckpointConfig> {
    Some(CheckpointConfig {
        checkpoint_id: v.get("checkpoint_id")?.as_str()?.to_string(),
        thread_id: v.get("thread_id")?.as_str()?.to_string(),
        checkpoint_ns: v
            .get("checkpoint_ns")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        checkpoint_map: v.get("checkpoint_map").and_then(Value::as_object).cloned(),
    })
}

/// An engine snapshot as a `ThreadState`.
pub(crate) fn thread_state(s: &StateSnapshot) -> ThreadState {
    if s.metadata.is_none() {
        return ThreadState::empty();
    }
    let checkpoint = checkpoint_config(&s.config);
    let parent_checkpoint = s.parent_config.as_ref().and_then(checkpoint_config);
    let interrupt =
        |i: &orrery_engine::Interrupt| Interrupt { id: i.id.clone(), value: i.value.clone() };
    ThreadState {
        values: s.values.clone(),
        next: s.next.clone(),
        tasks: s
            .tasks
            .iter()
            .map(|t| ThreadTask {
                id: t.id.clone(),
                name: t.name.clone(),
                path: t.path.clone(),
                error: t
                    .error
                    .as_ref()
                    .map(|e| e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string())),
                interrupts: t.interrupts.iter().map(interrupt).collect(),
                checkpoint: t.state.as_ref().filter(|v| v.get("values").is_none()).map(|v| {
                    CheckpointConfig {
                        checkpoint_id: String::new(),
                        thread_id: v["thread_id"].as_str().unwrap_or_default().to_string(),
                        checkpoint_ns: v["checkpoint_ns"].as_str().unwrap_or_default().to_string(),
                        checkpoint_map: None,
                    }
                }),
                state: None,
                result: t.result.clone(),
            })
            .collect(),
        metadata: s.metadata.as_ref().and_then(Value::as_object).cloned(),
        created_at: s.created_at.clone(),
        checkpoint_id: checkpoint.as_ref().map(|c| c.checkpoint_id.clone()),
        parent_checkpoint_id: parent_checkpoint.as_ref().map(|c| c.checkpoint_id.clone()),
        checkpoint,
        parent_checkpoint,
        interrupts: s.interrupts.iter().map(interrupt).collect(),
    }
}

#[derive(serde::Deserialize, Default)]
struct StateQuery {
    subgraphs: Option<String>,
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, Some("true" | "1" | "yes"))
}

async fn state_at(
    st: &AppState,
    id: &str,
    checkpoint: Option<&Value>,
    subgraphs: bool,
) -> Result<Response, ApiError> {
    check_uuid(id, "thread")?;
    let thread = st.thread(id).await?;
    let Some(graph) = st.thread_graph(&thread) else {
        return Ok(axum::Json(ThreadState::empty()).into_response());
    };
    let mut cfg = RunConfig::thread(id);
    if let Some(c) = checkpoint {
        cfg.checkpoint_id = c.get("checkpoint_id").and_then(Value::as_str).map(str::to_string);
        cfg.checkpoint_ns =
            c.get("checkpoint_ns").and_then(Value::as_str).unwrap_or_default().to_string();
    }
    let snap = graph.get_state(&cfg, subgraphs).await?;
    Ok(axum::Json(thread_state(&snap)).into_response())
}

async fn get_thread_state(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<StateQuery>,
) -> Result<Response, ApiError> {
    state_at(&st, &id, None, truthy(q.subgraphs.as_deref())).await
}

async fn get_thread_state_at(
    State(st): State<Arc<AppState>>,
    Path((id, checkpoint_id)): Path<(String, String)>,
    Query(q): Query<StateQuery>,
) -> Result<Response, ApiError> {
    state_at(
        &st,
        &id,
        Some(&json!({"checkpoint_id": checkpoint_id})),
        truthy(q.subgraphs.as_deref()),
    )
    .await
}

async fn get_thread_state_at_config(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let subgraphs = body.get("subgraphs").and_then(Value::as_bool).unwrap_or(false);
    state_at(&st, &id, body.get("checkpoint"), subgraphs).await
}

async fn update_thread_state(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_uuid(&id, "thread")?;
    let mut thread = st.thread(&id).await?;
    let graph = st.thread_graph(&thread).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Thread {id} has no assigned graph ID. This usually happens if no runs have been made on this thread. Please make sure to run the thread at least once before updating its state."
        ))
    })?;
    let in_flight = st.db.in_flight_runs(&id).await?;
    if !in_flight.is_empty() {
        let ids: Vec<&str> = in_flight.iter().map(|r| r.run_id.as_str()).collect();
        return Err(ApiError::conflict(format!("Thread {id} has in-flight runs: {ids:?}")));
    }
    let mut cfg = RunConfig::thread(&id);
    cfg.checkpoint_id = body
        .get("checkpoint_id")
        .and_then(Value::as_str)
        .or_else(|| {
            body.get("checkpoint").and_then(|c| c.get("checkpoint_id")).and_then(Value::as_str)
        })
        .map(str::to_string);
    let values = body.get("values").cloned().filter(|v| !v.is_null());
    let as_node = body.get("as_node").and_then(Value::as_str);
    let cp = graph.update_state(&cfg, values, as_node).await?;
    // The thread shows the new head.
    let snap = graph.get_state(&RunConfig::thread(&id), false).await?;
    thread.values = Some(snap.values.clone());
    thread.status = if snap.next.is_empty() {
        orrery_api::ThreadStatus::Idle
    } else {
        orrery_api::ThreadStatus::Interrupted
    };
    let now = orrery_engine::now_iso();
    thread.updated_at = now.clone();
    thread.state_updated_at = now;
    st.db.save_thread_state(&thread, false).await?;
    let state = serde_json::to_value(thread_state(&snap)).unwrap_or(Value::Null);
    st.runs.threads.publish_event(&id, "state_update", &json!({"state": state, "thread_id": id}));
    let checkpoint = checkpoint_config(&cp).map(|c| serde_json::to_value(c).unwrap_or(Value::Null));
    Ok(axum::Json(json!({
        "checkpoint": checkpoint,
        "configurable": checkpoint,
        "checkpoint_id": cp.get("checkpoint_id"),
    }))
    .into_response())
}

#[derive(serde::Deserialize, Default)]
struct HistoryQuery {
    limit: Option<String>,
    before: Option<String>,
}

async fn history(
    st: &AppState,
    id: &str,
    limit: usize,
    before: Option<String>,
    filter: Option<Map<String, Value>>,
    ns: String,
) -> Result<Response, ApiError> {
    check_uuid(id, "thread")?;
    let thread = st.thread(id).await?;
    let Some(graph) = st.thread_graph(&thread) else {
        return Ok(axum::Json(Vec::<ThreadState>::new()).into_response());
    };
    let mut cfg = RunConfig::thread(id);
    cfg.checkpoint_ns = ns;
    let hist = graph.get_state_history(&cfg, filter, before, Some(limit)).await?;
    Ok(axum::Json(hist.iter().map(thread_state).collect::<Vec<_>>()).into_response())
}

async fn get_history(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    let limit = match q.limit.as_deref() {
        None => 1,
        Some(l) => l.parse::<usize>().map_err(|_| ApiError::unprocessable("Invalid limit"))?,
    };
    history(&st, &id, limit, q.before, None, String::new()).await
}

async fn post_history(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let (limit, _) = paging(&body, 1)?;
    let before = match body.get("before") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o
            .get("configurable")
            .and_then(|c| c.get("checkpoint_id"))
            .or_else(|| o.get("checkpoint_id"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    };
    let filter = body.get("metadata").and_then(Value::as_object).cloned();
    let ns = body
        .get("checkpoint")
        .and_then(|c| c.get("checkpoint_ns"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    history(&st, &id, limit, before, filter, ns).await
}

impl AppState {
    /// A thread or `404 Thread with ID <id> not found`.
    pub(crate) async fn thread(&self, id: &str) -> Result<orrery_api::Thread, ApiError> {
        self.db
            .get_thread(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Thread with ID {id} not found")))
    }

    /// The graph a thread ran (from its `graph_id` metadata).
    pub(crate) fn thread_graph(&self, thread: &orrery_api::Thread) -> Option<CompiledGraph> {
        let g = thread.metadata.get("graph_id").and_then(Value::as_str)?;
        self.registry.get(g)
    }
}

#[cfg(test)]
mod tests {
    use super::{after_id, valid_event_id};

    #[test]
    fn event_ids_are_validated_and_compared_like_stream_ids() {
        for ok in ["-", "1795599530012", "1795599530012-0", "1795599530012-*", "1-22"] {
            assert!(valid_event_id(ok), "{ok}");
        }
        for bad in ["", "x", "-1", "1-", "1-2-3", "1-a", "1.5", " 1"] {
            assert!(!valid_event_id(bad), "{bad}");
        }
        assert!(after_id("1795599530013-0", "1795599530012-0"));
        assert!(!after_id("1795599530012-0", "1795599530012-0"));
        assert!(!after_id("1795599530011-9", "1795599530012-0"));
        assert!(after_id("1795599530012-10", "1795599530012-9"), "sequences compare as numbers");
        assert!(after_id("1795599530012-0", "1795599530012-*"));
        assert!(after_id("1795599530012-0", "1795599530012"));
        assert!(!after_id("1795599530011-0", "1795599530012"));
    }
}
