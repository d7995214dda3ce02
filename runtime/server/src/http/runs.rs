//! Runs: stateful and stateless creation, streaming, waiting, joining (`api-contract.md` §2.4,
//! §3, §5, §6, §7).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body as HttpBody;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use orrery_api::{Run, RunStatus, STREAM_MODES, ThreadStatus};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::openapi::Method::{Delete, Get, Post};
use super::openapi::Schema::{ArrayOf, Ref};
use super::openapi::{Endpoint, Param, Reply, header, query};
use super::{ApiError, Body, check_uuid, json_with, obj_field};
use crate::AppState;
use crate::runs::{Frame, RUN_DONE, RunChannel, new_run, new_thread};

/// Keep-alive cadence of streams and waits.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

pub(crate) fn endpoints() -> Vec<Endpoint> {
    const T: &str = "Thread Runs";
    const S: &str = "Stateless Runs";
    const CREATE_ERRORS: [u16; 4] = [400, 404, 409, 422];
    vec![
        Endpoint::new(Post, "/threads/{thread_id}/runs", create_background_run, T, "Create a background run")
            .describe("A pending run; `Content-Location` names it. With a run in flight on the thread, `multitask_strategy` decides (default `enqueue`; `reject` is 409).")
            .body(Ref("RunCreateStateful"))
            .json(Ref("Run"))
            .errors(&CREATE_ERRORS),
        Endpoint::new(Get, "/threads/{thread_id}/runs", list_runs, T, "List a thread's runs")
            .describe("Newest first.")
            .params(&[
                query("limit", r#"{"type": "integer", "default": 10}"#, "Page size."),
                query("offset", r#"{"type": "integer", "default": 0}"#, "Runs to skip."),
                query("status", r#"{"type": "string", "enum": ["pending", "running", "success", "error", "timeout", "interrupted"]}"#, "Only runs with this status."),
            ])
            .json(ArrayOf("Run"))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/threads/{thread_id}/runs/stream", stream_run, T, "Create a run and stream it")
            .describe("Server-sent events of the run (`metadata` first, then the requested modes; `error` if it fails; no end event). `Location` is the stream to rejoin, `Content-Location` the run. Errors before the stream starts are JSON.")
            .body(Ref("RunCreateStateful"))
            .reply(Reply::Events)
            .errors(&CREATE_ERRORS),
        Endpoint::new(Post, "/threads/{thread_id}/runs/wait", wait_run, T, "Create a run and wait for its output")
            .describe("The final state values (or `{\"__error__\": ...}`, or the values with `__interrupt__`), with status 200; a newline every 5 s while waiting. `Location` is the run's join.")
            .body(Ref("RunCreateStateful"))
            .json(Ref("RunOutput"))
            .errors(&CREATE_ERRORS),
        Endpoint::new(Get, "/threads/{thread_id}/runs/{run_id}", get_run, T, "Get a run")
            .json(Ref("Run"))
            .errors(&[404, 422]),
        Endpoint::new(Delete, "/threads/{thread_id}/runs/{run_id}", delete_run, T, "Delete a run")
            .reply(Reply::Empty(204))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/threads/{thread_id}/runs/{run_id}/join", join_run, T, "Wait for a run's output")
            .describe("As `/runs/wait` answers; an unknown run is 200 with `__error__`.")
            .json(Ref("RunOutput"))
            .errors(&[404, 422]),
        Endpoint::new(Get, "/threads/{thread_id}/runs/{run_id}/stream", join_run_stream, T, "Join a run's stream")
            .describe("The run's events from now on; with `Last-Event-ID` on a resumable run (`stream_resumable`), its stored events after that id first (`-`: all), also after the run ended. `Location` is this stream, `Content-Location` the run. An unknown run is one `error` event.")
            .params(&[
                query("stream_mode", r#"{"type": "string"}"#, "Only events of this mode (repeat it, or give a JSON array, for several)."),
                header("Last-Event-ID", r#"{"type": "string"}"#, "Replay the stored events after this id (`-`: all)."),
            ])
            .reply(Reply::Events)
            .errors(&[422]),
        Endpoint::new(Post, "/threads/{thread_id}/runs/{run_id}/cancel", cancel_run, T, "Cancel a run")
            .describe("202 at once; with `wait`, 200 and the run's output once it stopped. `rollback` also deletes the run and its checkpoints.")
            .params(&[
                query("wait", r#"{"type": "boolean", "default": false}"#, "Wait for the run to stop."),
                ACTION,
            ])
            .reply(Reply::Empty(202))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/runs", create_stateless_run, S, "Create a background run on a temporary thread")
            .body(Ref("RunCreateStateless"))
            .json(Ref("Run"))
            .errors(&CREATE_ERRORS),
        Endpoint::new(Post, "/runs/stream", stream_stateless_run, S, "Create a run on a temporary thread and stream it")
            .body(Ref("RunCreateStateless"))
            .reply(Reply::Events)
            .errors(&CREATE_ERRORS),
        Endpoint::new(Post, "/runs/wait", wait_stateless_run, S, "Create a run on a temporary thread and wait for its output")
            .body(Ref("RunCreateStateless"))
            .json(Ref("RunOutput"))
            .errors(&CREATE_ERRORS),
        Endpoint::new(Post, "/runs/batch", batch_runs, S, "Create several background runs on temporary threads")
            .body(Ref("RunBatchCreate"))
            .json(ArrayOf("Run"))
            .errors(&CREATE_ERRORS),
        Endpoint::new(Post, "/runs/cancel", cancel_runs, S, "Cancel runs")
            .describe("The runs of a thread by id, or every run with a status across threads. 404 when nothing matches.")
            .params(&[ACTION])
            .body(Ref("RunsCancel"))
            .reply(Reply::Empty(204))
            .errors(&[404, 422]),
    ]
}

const ACTION: Param = query(
    "action",
    r#"{"type": "string", "enum": ["interrupt", "rollback"], "default": "interrupt"}"#,
    "`interrupt` stops the run; `rollback` also deletes it and its checkpoints.",
);

/// A created run, subscribed before it can start so no event is missed.
struct Created {
    run: Run,
    channel: Arc<RunChannel>,
    events: mpsc::UnboundedReceiver<Frame>,
}

/// Cancels (interrupts) a run when the answer that follows it is dropped before the run ended:
/// the client went away (`on_disconnect: cancel`, `?cancel_on_disconnect=true`).
struct CancelOnDrop {
    runs: Arc<crate::runs::Runs>,
    run: Run,
    channel: Arc<RunChannel>,
}

impl CancelOnDrop {
    /// A guard for `run` when `wanted`.
    fn when(wanted: bool, st: &AppState, run: &Run, channel: &Arc<RunChannel>) -> Option<Self> {
        wanted.then(|| CancelOnDrop {
            runs: Arc::clone(&st.runs),
            run: run.clone(),
            channel: Arc::clone(channel),
        })
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.channel.is_finished() {
            return;
        }
        let (runs, run) = (Arc::clone(&self.runs), self.run.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = runs.cancel(&run, false).await {
                    tracing::warn!(run_id = %run.run_id, "cancelling after a disconnect: {e}");
                }
            });
        }
    }
}

/// `stream` holding `guard` until it is dropped (by the server, when the client goes away or
/// the answer is complete).
fn guarded<S: Stream + Send>(
    stream: S,
    guard: Option<CancelOnDrop>,
) -> impl Stream<Item = S::Item> + Send {
    stream.map(move |item| {
        let _held = &guard;
        item
    })
}

/// Whether a create body asks to cancel the run when its client goes away.
fn cancel_on_disconnect(body: &Value) -> bool {
    body.get("on_disconnect").and_then(Value::as_str) == Some("cancel")
}

/// Whether a join's query asks to cancel the run when its client goes away.
fn cancel_on_disconnect_query(query: &[(String, String)]) -> bool {
    query.iter().any(|(k, v)| {
        k == "cancel_on_disconnect" && ["true", "1", "yes"].contains(&v.to_lowercase().as_str())
    })
}

const RUN_KEYS: [&str; 14] = [
    "input",
    "command",
    "config",
    "context",
    "stream_mode",
    "interrupt_before",
    "interrupt_after",
    "webhook",
    "feedback_keys",
    "checkpoint_id",
    "checkpoint",
    "durability",
    "after_seconds",
    "checkpoint_during",
];

/// A validated run request: everything a run needs but its thread.
pub(crate) struct RunRequest {
    /// The assistant (a graph name resolved to its system assistant).
    pub(crate) assistant: orrery_api::Assistant,
    /// The run's `kwargs`.
    pub(crate) kwargs: Map<String, Value>,
    /// The run's metadata: the assistant's, then the request's.
    pub(crate) metadata: Map<String, Value>,
    /// The request's own metadata (a thread the run creates starts with it).
    pub(crate) run_metadata: Map<String, Value>,
    /// `multitask_strategy`.
    pub(crate) strategy: String,
}

/// Validates a run body (`RunCreateStateful` / `RunCreateStateless`) and builds its kwargs.
pub(crate) async fn run_request(
    st: &AppState,
    body: &Value,
    stateless: bool,
) -> Result<RunRequest, ApiError> {
    if !body.is_object() {
        return Err(ApiError::unprocessable("Request body must be an object"));
    }
    let Some(assistant_ref) = body.get("assistant_id").and_then(Value::as_str) else {
        return Err(ApiError::unprocessable("\"assistant_id\" is a required property"));
    };
    let assistant = st.resolve_assistant(assistant_ref).await?;
    match body.get("webhook") {
        None | Some(Value::Null) => {}
        Some(Value::String(url)) => {
            st.webhooks.policy().check(url).await.map_err(ApiError::unprocessable)?
        }
        Some(_) => return Err(ApiError::unprocessable("webhook must be a URL string")),
    }
    let mut modes: Vec<Value> = match body.get("stream_mode") {
        None | Some(Value::Null) => vec![json!("values")],
        Some(Value::String(s)) => vec![json!(s)],
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(ApiError::unprocessable("Invalid stream_mode")),
    };
    for m in &modes {
        let m = m.as_str().unwrap_or_default();
        if !STREAM_MODES.contains(&m) {
            return Err(ApiError::unprocessable(format!("Invalid stream_mode: {m}")));
        }
    }
    modes.dedup();
    if let Some(c) = body.get("checkpoint_id").and_then(Value::as_str)
        && uuid::Uuid::parse_str(c).is_err()
    {
        return Err(ApiError::unprocessable("Invalid checkpoint ID"));
    }
    let config = obj_field(body, "config");
    let context = obj_field(body, "context");
    let configurable_given =
        config.get("configurable").and_then(Value::as_object).is_some_and(|c| !c.is_empty());
    if configurable_given && !context.is_empty() {
        return Err(ApiError::bad_request(
            "Cannot specify both configurable and context. Prefer setting context alone. Context was introduced in LangGraph 0.6.0 and is the long term planned replacement for configurable.",
        ));
    }
    let has_resume =
        body.get("command").and_then(|c| c.get("resume")).is_some_and(|r| !r.is_null());
    if stateless && has_resume {
        return Err(ApiError::bad_request("You must provide a thread_id when resuming."));
    }
    let strategy = body.get("multitask_strategy").and_then(Value::as_str).unwrap_or("enqueue");
    if !["reject", "enqueue", "interrupt", "rollback"].contains(&strategy) {
        return Err(ApiError::unprocessable(format!("Invalid multitask_strategy: {strategy}")));
    }
    let run_metadata = obj_field(body, "metadata");

    let mut kwargs = Map::new();
    for k in RUN_KEYS {
        if let Some(v) = body.get(k) {
            kwargs.insert(k.into(), v.clone());
        }
    }
    kwargs.insert("stream_mode".into(), Value::Array(modes));
    kwargs.insert(
        "temporary".into(),
        json!(stateless && body.get("on_completion").and_then(Value::as_str) != Some("keep")),
    );
    kwargs.insert(
        "subgraphs".into(),
        json!(body.get("stream_subgraphs").and_then(Value::as_bool).unwrap_or(false)),
    );
    kwargs.insert(
        "resumable".into(),
        json!(body.get("stream_resumable").and_then(Value::as_bool).unwrap_or(false)),
    );
    kwargs.entry("input").or_insert(Value::Null);
    let mut metadata = assistant.metadata.clone();
    metadata.extend(run_metadata.clone());
    Ok(RunRequest { assistant, kwargs, metadata, run_metadata, strategy: strategy.to_string() })
}

/// The first run tells a thread which graph it belongs to. Returns whether the metadata changed.
pub(crate) fn tag_thread(
    thread: &mut orrery_api::Thread,
    assistant: &orrery_api::Assistant,
) -> bool {
    let mut changed = false;
    for (k, v) in [("graph_id", &assistant.graph_id), ("assistant_id", &assistant.assistant_id)] {
        if !thread.metadata.contains_key(k) {
            thread.metadata.insert(k.into(), json!(v));
            changed = true;
        }
    }
    changed
}

async fn create(st: &AppState, thread_id: Option<&str>, body: &Value) -> Result<Created, ApiError> {
    let req = run_request(st, body, thread_id.is_none()).await?;
    let strategy = req.strategy.as_str();

    // The thread: existing, created on demand, or temporary.
    let (mut thread, created_thread) = match thread_id {
        Some(id) => {
            check_uuid(id, "thread")?;
            match st.db.get_thread(id).await? {
                Some(t) => (t, false),
                None if body.get("if_not_exists").and_then(Value::as_str) == Some("create") => {
                    (new_thread(id, req.run_metadata.clone()), true)
                }
                None => return Err(ApiError::not_found("Thread or assistant not found.")),
            }
        }
        None => (new_thread(&uuid::Uuid::now_v7().to_string(), req.run_metadata.clone()), true),
    };
    if created_thread {
        st.db.insert_thread(&thread).await?;
    } else if thread.status == ThreadStatus::Busy {
        // A thread is busy exactly while it has runs in flight (their insert marks it, the
        // last one's end clears it), so an idle thread needs no look at its runs.
        let in_flight = st.db.in_flight_runs(&thread.thread_id).await?;
        if !in_flight.is_empty() {
            match strategy {
                "reject" => {
                    return Err(ApiError::conflict(
                        "Thread is already running a task. Wait for it to finish or choose a different multitask strategy.",
                    ));
                }
                "interrupt" | "rollback" => {
                    for r in &in_flight {
                        st.runs.cancel(r, strategy == "rollback").await?;
                    }
                }
                _ => {}
            }
        }
    }
    let tagged = tag_thread(&mut thread, &req.assistant);

    let run =
        new_run(&thread.thread_id, &req.assistant.assistant_id, req.kwargs, req.metadata, strategy);
    let channel = st.runs.channel(&run.run_id);
    let events = channel.subscribe();
    // A thread with nothing in flight and a free slot: the run is inserted `running` and
    // executes at once, without a worker's claim (a write) and its wake-up. The insert and the
    // start happen in a task of their own, so a client that goes away meanwhile cannot leave a
    // `running` row that nobody executes.
    let start = st.db.starts_runs() && thread.status != ThreadStatus::Busy && st.runs.reserve();
    // Only the tags are written: a `PATCH` or a run's end since the thread was read stays.
    let tag = tagged.then(|| req.assistant.clone());
    let (db, runs, inserted) = (st.db.clone(), Arc::clone(&st.runs), run.clone());
    let outcome = tokio::spawn(async move {
        let started = db.insert_run(tag.as_ref(), &inserted, start).await;
        match started {
            Ok(true) => runs.start(inserted),
            Ok(false) if start => {
                runs.release();
                runs.wake();
            }
            Ok(false) => runs.wake(),
            Err(_) if start => runs.release(),
            Err(_) => {}
        }
        started
    })
    .await;
    match outcome {
        Ok(result) => {
            result?;
        }
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("creating the run failed: {e}"),
            ));
        }
    }
    Ok(Created { run, channel, events })
}

fn run_headers(resp: &mut Response, pairs: &[(&'static str, String)]) {
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(v) {
            resp.headers_mut().insert(*k, v);
        }
    }
}

fn frame_bytes(f: &Frame, with_id: bool) -> String {
    if with_id {
        format!("event: {}\r\ndata: {}\r\nid: {}\r\n\r\n", f.event, f.data, f.id)
    } else {
        format!("event: {}\r\ndata: {}\r\n\r\n", f.event, f.data)
    }
}

/// The `stream_mode` filter of a run-stream join (§5.5): empty lets everything through.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ModeFilter(Vec<String>);

impl ModeFilter {
    /// The filter of a join's query: every `stream_mode` parameter (the real server honours
    /// only the last of repeated ones; a superset), each a mode or a JSON array of modes.
    pub(crate) fn from_query(pairs: &[(String, String)]) -> ModeFilter {
        let mut modes = Vec::new();
        for (k, v) in pairs {
            if k != "stream_mode" || v.is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(v) {
                Ok(Value::Array(a)) if v.starts_with('[') => {
                    modes.extend(a.iter().filter_map(Value::as_str).map(str::to_string));
                }
                _ => modes.push(v.clone()),
            }
        }
        ModeFilter(modes)
    }

    /// Whether an event goes out: its name is a requested mode, any `messages*` event when
    /// `messages` or `messages-tuple` is requested, and a subgraph's `<mode>|<ns>` when `<mode>`
    /// is. With a filter, `metadata` and `error` are dropped like any other unrequested name.
    pub(crate) fn matches(&self, event: &str) -> bool {
        if self.0.is_empty() || self.0.iter().any(|m| m == event) {
            return true;
        }
        if event.starts_with("messages")
            && self.0.iter().any(|m| m == "messages" || m == "messages-tuple")
        {
            return true;
        }
        match event.split_once('|') {
            Some((base, _)) => self.0.iter().any(|m| m == base),
            None => false,
        }
    }
}

/// An SSE body of a run: the frames as they come (those `filter` lets through), a heartbeat
/// comment every 5 s, closed when the run ends.
fn sse_stream(
    replay: Vec<Frame>,
    events: mpsc::UnboundedReceiver<Frame>,
    with_ids: bool,
    filter: ModeFilter,
) -> impl Stream<Item = Result<String, std::convert::Infallible>> + Send {
    let replay: Vec<Frame> = replay.into_iter().filter(|f| filter.matches(&f.event)).collect();
    sse_frames(replay, events, with_ids, move |f: &Frame| filter.matches(&f.event))
}

/// An SSE body: the replayed frames (as they are), then the live ones `filter` lets through; a heartbeat comment every 5 s (on a fixed timer); ends when `events` closes.
pub(crate) fn sse_frames(
    replay: Vec<Frame>,
    events: mpsc::UnboundedReceiver<Frame>,
    with_ids: bool,
    filter: impl Fn(&Frame) -> bool + Send + Sync + 'static,
) -> impl Stream<Item = Result<String, std::convert::Infallible>> + Send {
    let replayed = stream::iter(replay.into_iter().map(move |f| Ok(frame_bytes(&f, with_ids))));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let live = stream::unfold(
        (events, ticker, filter),
        move |(mut events, mut ticker, filter)| async move {
            loop {
                tokio::select! {
                    f = events.recv() => match f {
                        Some(f) if filter(&f) => {
                            return Some((Ok(frame_bytes(&f, with_ids)), (events, ticker, filter)));
                        }
                        Some(_) => {}
                        None => return None,
                    },
                    _ = ticker.tick() => {
                        return Some((Ok(": heartbeat\r\n\r\n".to_string()), (events, ticker, filter)));
                    }
                }
            }
        },
    );
    replayed.chain(live)
}

pub(crate) fn sse_response(
    body: HttpBody,
    location: Option<String>,
    content_location: Option<String>,
) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    let mut pairs = Vec::new();
    if let Some(l) = location {
        pairs.push(("location", l));
    }
    if let Some(c) = content_location {
        pairs.push(("content-location", c));
    }
    run_headers(&mut resp, &pairs);
    resp
}

/// A `/wait` body: `\n` every 5 s while the run goes on, then the outcome's JSON.
fn wait_body(
    channel: Arc<RunChannel>,
    fallback: Option<Value>,
    guard: Option<CancelOnDrop>,
) -> HttpBody {
    let mut outcome = channel.outcome();
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let s = stream::unfold(Some((outcome.clone(), ticker, fallback)), move |state| {
        let _ = &mut outcome;
        async move {
            let (mut rx, mut ticker, fallback) = state?;
            loop {
                if let Some(o) = rx.borrow().clone() {
                    return Some((Ok::<_, std::convert::Infallible>(o.body.to_string()), None));
                }
                tokio::select! {
                    changed = rx.changed() => {
                        if changed.is_err() {
                            let body = fallback.clone().unwrap_or_else(|| json!({}));
                            return Some((Ok(body.to_string()), None));
                        }
                    }
                    _ = ticker.tick() => return Some((Ok("\n".to_string()), Some((rx, ticker, fallback)))),
                }
            }
        }
    });
    HttpBody::from_stream(guarded(s, guard))
}

fn stream_created(c: Created, stateless: bool, guard: Option<CancelOnDrop>) -> Response {
    let resumable = c.run.kwargs.get("resumable").and_then(Value::as_bool).unwrap_or(false);
    let tid = &c.run.thread_id;
    let rid = &c.run.run_id;
    let (location, content_location) = if stateless {
        (format!("/runs/{rid}/stream"), format!("/runs/{rid}"))
    } else {
        (format!("/threads/{tid}/runs/{rid}/stream"), format!("/threads/{tid}/runs/{rid}"))
    };
    let frames = sse_stream(Vec::new(), c.events, resumable, ModeFilter::default());
    let body = HttpBody::from_stream(guarded(frames, guard));
    sse_response(body, Some(location), Some(content_location))
}

async fn stream_run(
    State(st): State<Arc<AppState>>,
    Path(tid): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let c = create(&st, Some(&tid), &body).await?;
    let guard = CancelOnDrop::when(cancel_on_disconnect(&body), &st, &c.run, &c.channel);
    Ok(stream_created(c, false, guard))
}

async fn stream_stateless_run(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let c = create(&st, None, &body).await?;
    let guard = CancelOnDrop::when(cancel_on_disconnect(&body), &st, &c.run, &c.channel);
    Ok(stream_created(c, true, guard))
}

fn wait_created(c: Created, guard: Option<CancelOnDrop>) -> Response {
    let tid = &c.run.thread_id;
    let rid = &c.run.run_id;
    let mut resp = Response::new(wait_body(Arc::clone(&c.channel), None, guard));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    run_headers(
        &mut resp,
        &[
            ("location", format!("/threads/{tid}/runs/{rid}/join")),
            ("content-location", format!("/threads/{tid}/runs/{rid}")),
        ],
    );
    resp
}

async fn wait_run(
    State(st): State<Arc<AppState>>,
    Path(tid): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let c = create(&st, Some(&tid), &body).await?;
    let guard = CancelOnDrop::when(cancel_on_disconnect(&body), &st, &c.run, &c.channel);
    Ok(wait_created(c, guard))
}

async fn wait_stateless_run(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let c = create(&st, None, &body).await?;
    let guard = CancelOnDrop::when(cancel_on_disconnect(&body), &st, &c.run, &c.channel);
    Ok(wait_created(c, guard))
}

async fn create_background_run(
    State(st): State<Arc<AppState>>,
    Path(tid): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let c = create(&st, Some(&tid), &body).await?;
    let loc = format!("/threads/{}/runs/{}", c.run.thread_id, c.run.run_id);
    let mut resp = axum::Json(&c.run).into_response();
    run_headers(&mut resp, &[("content-location", loc)]);
    Ok(resp)
}

async fn create_stateless_run(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let c = create(&st, None, &body).await?;
    let loc = format!("/runs/{}", c.run.run_id);
    let mut resp = axum::Json(&c.run).into_response();
    run_headers(&mut resp, &[("content-location", loc)]);
    Ok(resp)
}

async fn batch_runs(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let Value::Array(items) = body else {
        return Err(ApiError::unprocessable("Request body must be an array of runs"));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let c = create(&st, None, item).await?;
        out.push(c.run);
    }
    Ok(axum::Json(out).into_response())
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    status: Option<String>,
}

async fn list_runs(
    State(st): State<Arc<AppState>>,
    Path(tid): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    check_uuid(&tid, "thread")?;
    st.thread(&tid).await?;
    let runs = st
        .db
        .list_runs(
            &tid,
            q.status.as_deref(),
            q.limit.unwrap_or(10).clamp(0, 10_000),
            q.offset.unwrap_or(0).max(0),
        )
        .await?;
    Ok(axum::Json(runs).into_response())
}

async fn get_run(
    State(st): State<Arc<AppState>>,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_uuid(&tid, "thread")?;
    check_uuid(&rid, "run")?;
    let run =
        st.db.get_run(&tid, &rid).await?.ok_or_else(|| ApiError::not_found("Run not found"))?;
    Ok(axum::Json(run).into_response())
}

async fn delete_run(
    State(st): State<Arc<AppState>>,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_uuid(&tid, "thread")?;
    check_uuid(&rid, "run")?;
    if !st.db.delete_run(&tid, &rid).await? {
        return Err(ApiError::not_found("Run not found"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The `/join` body of a run that is no longer live: the thread's stored outcome (§6 rule 4).
fn stored_outcome(thread: &orrery_api::Thread) -> Value {
    if let Some(err) = thread.error.as_ref().filter(|e| !e.is_null())
        && thread.status == orrery_api::ThreadStatus::Error
    {
        return json!({"__error__": err});
    }
    let mut values = thread.values.clone().unwrap_or_else(|| json!({}));
    if thread.status == orrery_api::ThreadStatus::Interrupted {
        let all: Vec<Value> = thread
            .interrupts
            .as_ref()
            .and_then(Value::as_object)
            .map(|m| m.values().flat_map(|v| v.as_array().cloned().unwrap_or_default()).collect())
            .unwrap_or_default();
        if !all.is_empty()
            && let Some(o) = values.as_object_mut()
        {
            o.insert("__interrupt__".into(), Value::Array(all));
        }
    }
    values
}

async fn join_run(
    State(st): State<Arc<AppState>>,
    Path((tid, rid)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    check_uuid(&tid, "thread")?;
    check_uuid(&rid, "run")?;
    let headers = join_locations(&tid, &rid);
    let Some(run) = st.db.get_run(&tid, &rid).await? else {
        return Ok(json_with(
            json!({"__error__": {"error": "HTTPException", "message": "404: Run not found"}}),
            &headers,
        ));
    };
    let thread = st.thread(&tid).await?;
    if run.status.in_flight()
        && let Some(joined) = st.runs.join(&tid, &rid).await?
    {
        let guard =
            CancelOnDrop::when(cancel_on_disconnect_query(&query), &st, &run, &joined.channel);
        let fallback = Some(stored_outcome(&thread));
        let mut resp = Response::new(wait_body(joined.channel, fallback, guard));
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        run_headers(&mut resp, &headers);
        return Ok(resp);
    }
    // Over (perhaps since the first look): the thread has what it left.
    let thread = st.thread(&tid).await?;
    Ok(json_with(stored_outcome(&thread), &headers))
}

/// `Location` (the join, to reconnect to) and `Content-Location` (the run) of a join's or a
/// waiting cancel's answer, as the real server sends them.
fn join_locations(tid: &str, rid: &str) -> [(&'static str, String); 2] {
    [
        ("location", format!("/threads/{tid}/runs/{rid}/join")),
        ("content-location", format!("/threads/{tid}/runs/{rid}")),
    ]
}

async fn join_run_stream(
    State(st): State<Arc<AppState>>,
    Path((tid, rid)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let filter = ModeFilter::from_query(&query);
    // The stream's own URL (to reconnect to) and the run's, even for an unknown run.
    let location = Some(format!("/threads/{tid}/runs/{rid}/stream"));
    let content_location = Some(format!("/threads/{tid}/runs/{rid}"));
    check_uuid(&tid, "thread")?;
    check_uuid(&rid, "run")?;
    let run = st.db.get_run(&tid, &rid).await?;
    let Some(run) = run else {
        let err = Frame {
            event: "error".into(),
            data: json!({"error": "HTTPException", "message": "404: Run not found"}).to_string(),
            id: String::new(),
        };
        let (_tx, rx) = mpsc::unbounded_channel();
        drop(_tx);
        return Ok(sse_response(
            // The filter does not apply to this error (the real server sends it regardless).
            HttpBody::from_stream(sse_stream(vec![err], rx, false, ModeFilter::default())),
            location,
            content_location,
        ));
    };
    let resumable = run.kwargs.get("resumable").and_then(Value::as_bool).unwrap_or(false);
    // Without Last-Event-ID a join sees events from now on; with one, a resumable run's stored
    // events after it first (`-`: all of them). The run-stream join does not validate the id.
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && resumable)
        .map(str::to_string);
    let joined = if run.status.in_flight() { st.runs.join(&tid, &rid).await? } else { None };
    let mut guard = None;
    let (stored, events) = match joined {
        Some(j) => {
            guard = CancelOnDrop::when(cancel_on_disconnect_query(&query), &st, &run, &j.channel);
            (j.history, j.events)
        }
        None => {
            // Over: a resumable run's log is in the database; the stream closes after it.
            let log = match &last_id {
                Some(_) => st.db.run_log(&rid).await?,
                None => Vec::new(),
            };
            (log, mpsc::unbounded_channel().1)
        }
    };
    let replay = match &last_id {
        Some(id) => after_event(stored, id),
        None => Vec::new(),
    };
    let body = guarded(sse_stream(replay, events, resumable, filter), guard);
    Ok(sse_response(HttpBody::from_stream(body), location, content_location))
}

/// The frames of a run's log that a resume from `last_id` replays: those with a greater id
/// (`-`: all), up to the run's end marker.
pub(crate) fn after_event(log: Vec<Frame>, last_id: &str) -> Vec<Frame> {
    log.into_iter()
        .take_while(|f| f.event != RUN_DONE)
        .filter(|f| last_id == "-" || f.id.as_str() > last_id)
        .collect()
}

#[derive(serde::Deserialize, Default)]
struct CancelQuery {
    wait: Option<String>,
    action: Option<String>,
}

async fn cancel_run(
    State(st): State<Arc<AppState>>,
    Path((tid, rid)): Path<(String, String)>,
    Query(q): Query<CancelQuery>,
) -> Result<Response, ApiError> {
    check_uuid(&tid, "thread")?;
    check_uuid(&rid, "run")?;
    let run = st.db.get_run(&tid, &rid).await?;
    let Some(run) = run.filter(|r| r.status.in_flight()) else {
        return Err(ApiError::not_found(
            "No matching runs to cancel. Please verify the thread ID and run ID are correct, and that the run is pending or running.",
        ));
    };
    let rollback = q.action.as_deref() == Some("rollback");
    let channel = st.runs.existing_channel(&rid);
    st.runs.cancel(&run, rollback).await?;
    if matches!(q.wait.as_deref(), Some("1" | "true" | "yes")) {
        if let Some(ch) = channel {
            let mut rx = ch.outcome();
            let _ =
                tokio::time::timeout(Duration::from_secs(30), rx.wait_for(Option::is_some)).await;
        }
        return Ok(json_with(json!({}), &join_locations(&tid, &rid)));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(serde::Deserialize, Default)]
struct ActionQuery {
    action: Option<String>,
}

/// `POST /runs/cancel` (schema `RunsCancel`): the runs of a thread by id, or every run with a
/// status (`pending`, `running`, `all`) across threads. 204 once the in-flight ones among them
/// are cancelled; 404 when nothing matched.
async fn cancel_runs(
    State(st): State<Arc<AppState>>,
    Query(q): Query<ActionQuery>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    if !body.is_object() {
        return Err(ApiError::unprocessable(format!("{body} is not of type \"object\"")));
    }
    let status = match body.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.to_lowercase()),
        Some(other) => {
            return Err(ApiError::unprocessable(format!("{other} is not of type \"string\"")));
        }
    };
    let thread_id = body.get("thread_id").filter(|v| !v.is_null());
    let run_ids = body.get("run_ids").filter(|v| !v.is_null());
    let candidates: Vec<Run> = match status {
        Some(status) => {
            let statuses: &[RunStatus] = match status.as_str() {
                "pending" => &[RunStatus::Pending],
                "running" => &[RunStatus::Running],
                "all" => &[RunStatus::Pending, RunStatus::Running],
                _ => {
                    return Err(ApiError::unprocessable(
                        "Invalid status: must be 'pending', 'running', or 'all'",
                    ));
                }
            };
            if thread_id.is_some() || run_ids.is_some() {
                return Err(ApiError::unprocessable(
                    "When providing a 'status', 'thread_id' and 'run_ids' must be omitted. The 'status' parameter cancels all runs with the given status, regardless of thread or run ID.",
                ));
            }
            st.db.runs_with_status(statuses).await?
        }
        None => {
            let (Some(tid), Some(ids)) = (thread_id, run_ids) else {
                return Err(ApiError::unprocessable(
                    "Must provide either a status or both 'thread_id' and 'run_ids'",
                ));
            };
            let tid = tid.as_str().unwrap_or_default();
            check_uuid(tid, "thread")?;
            let Some(ids) = ids.as_array() else {
                return Err(ApiError::unprocessable(format!("{ids} is not of type \"array\"")));
            };
            let mut found = Vec::new();
            for id in ids {
                let rid = id.as_str().unwrap_or_default();
                check_uuid(rid, "run")?;
                if let Some(run) = st.db.get_run(tid, rid).await? {
                    found.push(run);
                }
            }
            found
        }
    };
    if candidates.is_empty() {
        return Err(ApiError::not_found("No runs found to cancel."));
    }
    let rollback = q.action.as_deref() == Some("rollback");
    for run in candidates.iter().filter(|r| r.status.in_flight()) {
        st.runs.cancel(run, rollback).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
