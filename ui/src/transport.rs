//! The one door to the shell: a typed function per Tauri command.
//!
//! Architecture Invariant: views never call `invoke` themselves; they go through these functions,
//! which turn every failure (a rejected promise, an answer of the wrong shape, running outside
//! the shell) into the plain message a user can read.

use orrery_api::desktop::{
    AssistantDraft, ConnectionInput, ConnectionView, LocalRuntimeView, RunRequest, StateEdit,
};
use orrery_api::{Assistant, AssistantVersion, Run, StreamPart, Thread};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], catch)]
    async fn invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;
}

/// What the UI says when it runs in a plain browser (the headless Chromium tests do).
pub const NOT_IN_SHELL: &str = "Not running inside the Orrery shell: no connections available";

/// How many threads one page of the thread list asks for.
pub const THREAD_PAGE: u32 = 50;

/// Whether the page runs inside the Tauri shell (as opposed to a plain browser).
pub fn in_tauri() -> bool {
    js_sys::Reflect::has(&js_sys::global(), &JsValue::from_str("__TAURI__")).unwrap_or(false)
}

/// The message inside a rejected promise: the shell rejects with a plain string; anything else
/// (an `Error`, a `{code, message}` object) is reduced to its `message` or its JSON text.
fn message_of(err: JsValue) -> String {
    if let Some(text) = err.as_string() {
        return text;
    }
    if let Ok(message) = js_sys::Reflect::get(&err, &JsValue::from_str("message"))
        && let Some(text) = message.as_string()
    {
        return text;
    }
    match js_sys::JSON::stringify(&err).ok().and_then(|s| s.as_string()) {
        Some(text) => text,
        None => format!("{err:?}"),
    }
}

async fn call<A: Serialize, T: DeserializeOwned>(cmd: &str, args: &A) -> Result<T, String> {
    if !in_tauri() {
        return Err(NOT_IN_SHELL.to_string());
    }
    // JSON-compatible: `None` becomes `null` (not `undefined`) and maps become plain objects.
    let args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| format!("{cmd}: cannot encode the arguments: {e}"))?;
    let answer = invoke(cmd, args).await.map_err(message_of)?;
    serde_wasm_bindgen::from_value(answer)
        .map_err(|e| format!("{cmd}: unexpected answer from the shell: {e}"))
}

#[derive(Serialize)]
struct NoArgs {}

#[derive(Serialize)]
struct Id<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct Conn<'a> {
    conn: &'a str,
}

#[derive(Serialize)]
struct Save<'a> {
    input: &'a ConnectionInput,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThreadsPage<'a> {
    conn: &'a str,
    assistant_id: Option<&'a str>,
    status: Option<&'a str>,
    metadata: &'a str,
    limit: u32,
    offset: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThreadsFilter<'a> {
    conn: &'a str,
    assistant_id: Option<&'a str>,
    status: Option<&'a str>,
    metadata: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphOf<'a> {
    conn: &'a str,
    assistant_id: &'a str,
    xray: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThreadOf<'a> {
    conn: &'a str,
    thread_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryOf<'a> {
    conn: &'a str,
    thread_id: &'a str,
    limit: u32,
    before: Option<&'a str>,
}

#[derive(Serialize)]
struct Project<'a> {
    path: Option<&'a str>,
}

/// The shell's name and version.
pub async fn shell_version() -> Result<String, String> {
    call("shell_version", &NoArgs {}).await
}

/// Every connection, the local runtime first.
pub async fn connections_list() -> Result<Vec<ConnectionView>, String> {
    call("connections_list", &NoArgs {}).await
}

/// Creates (no id) or edits a remote connection.
pub async fn connection_save(input: &ConnectionInput) -> Result<ConnectionView, String> {
    call("connection_save", &Save { input }).await
}

/// Forgets a remote connection and its key.
pub async fn connection_remove(id: &str) -> Result<(), String> {
    call("connection_remove", &Id { id }).await
}

/// Checks a connection's health now.
pub async fn connection_check(id: &str) -> Result<ConnectionView, String> {
    call("connection_check", &Id { id }).await
}

/// The assistants of a connection.
pub async fn assistants_list(conn: &str) -> Result<Vec<Assistant>, String> {
    call("assistants_list", &Conn { conn }).await
}

/// An assistant's graph as the server draws it (`{nodes, edges}`), subgraphs expanded when
/// `xray`.
pub async fn assistant_graph(
    conn: &str,
    assistant_id: &str,
    xray: bool,
) -> Result<serde_json::Value, String> {
    call("assistant_graph", &GraphOf { conn, assistant_id, xray }).await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssistantOf<'a> {
    conn: &'a str,
    assistant_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DraftFor<'a> {
    conn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    assistant_id: Option<&'a str>,
    draft: &'a AssistantDraft,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionOf<'a> {
    conn: &'a str,
    assistant_id: &'a str,
    version: i64,
}

/// An assistant's schemas (`input_schema`, `config_schema`, `context_schema`, ...).
pub async fn assistant_schemas(
    conn: &str,
    assistant_id: &str,
) -> Result<serde_json::Value, String> {
    call("assistant_schemas", &AssistantOf { conn, assistant_id }).await
}

/// Creates an assistant.
pub async fn assistant_create(conn: &str, draft: &AssistantDraft) -> Result<Assistant, String> {
    call("assistant_create", &DraftFor { conn, assistant_id: None, draft }).await
}

/// Saves a new version of an assistant.
pub async fn assistant_update(
    conn: &str,
    assistant_id: &str,
    draft: &AssistantDraft,
) -> Result<Assistant, String> {
    call("assistant_update", &DraftFor { conn, assistant_id: Some(assistant_id), draft }).await
}

/// Deletes an assistant.
pub async fn assistant_delete(conn: &str, assistant_id: &str) -> Result<(), String> {
    call("assistant_delete", &AssistantOf { conn, assistant_id }).await
}

/// An assistant's versions, newest first.
pub async fn assistant_versions(
    conn: &str,
    assistant_id: &str,
) -> Result<Vec<AssistantVersion>, String> {
    call("assistant_versions", &AssistantOf { conn, assistant_id }).await
}

/// Makes a version the assistant's current one.
pub async fn assistant_set_latest(
    conn: &str,
    assistant_id: &str,
    version: i64,
) -> Result<Assistant, String> {
    call("assistant_set_latest", &VersionOf { conn, assistant_id, version }).await
}

#[derive(Serialize)]
struct Highlight<'a> {
    value: &'a serde_json::Value,
}

/// A value pretty-printed and highlighted by the shell as HTML (escaped text, `sy-` classes).
pub async fn highlight_json(value: &serde_json::Value) -> Result<String, String> {
    call("highlight_json", &Highlight { value }).await
}

/// A thread's runs, newest first.
pub async fn runs_list(conn: &str, thread_id: &str) -> Result<Vec<Run>, String> {
    call("runs_list", &ThreadOf { conn, thread_id }).await
}

/// What the thread list shows: one assistant's threads, of a status, with metadata pairs
/// (`key=value ...`, parsed by the shell).
#[derive(Debug, Clone, Copy)]
pub struct ThreadQuery<'a> {
    pub assistant_id: Option<&'a str>,
    pub status: Option<&'a str>,
    pub metadata: &'a str,
}

/// One page of the threads matching `q`, the most recently updated first.
pub async fn threads_list(
    conn: &str,
    q: ThreadQuery<'_>,
    offset: u32,
) -> Result<Vec<Thread>, String> {
    let ThreadQuery { assistant_id, status, metadata } = q;
    call(
        "threads_list",
        &ThreadsPage { conn, assistant_id, status, metadata, limit: THREAD_PAGE, offset },
    )
    .await
}

/// How many threads match `q` (`POST /threads/count`).
pub async fn threads_count(conn: &str, q: ThreadQuery<'_>) -> Result<u64, String> {
    let ThreadQuery { assistant_id, status, metadata } = q;
    call("threads_count", &ThreadsFilter { conn, assistant_id, status, metadata }).await
}

/// Copies a thread (metadata and checkpoints) into a new one.
pub async fn thread_copy(conn: &str, thread_id: &str) -> Result<Thread, String> {
    call("thread_copy", &ThreadOf { conn, thread_id }).await
}

/// Deletes a thread.
pub async fn thread_delete(conn: &str, thread_id: &str) -> Result<(), String> {
    call("thread_delete", &ThreadOf { conn, thread_id }).await
}

/// How many checkpoints the thread view's timeline asks for.
pub const HISTORY_LIMIT: u32 = 50;

/// A thread's latest state (`values`, `next`, `tasks`, `interrupts`, `checkpoint`, ...).
pub async fn thread_state(conn: &str, thread_id: &str) -> Result<serde_json::Value, String> {
    call("thread_state", &ThreadOf { conn, thread_id }).await
}

/// A page of a thread's checkpoints, newest first: the newest ones, or those older than
/// `before` (a checkpoint id).
pub async fn thread_history(
    conn: &str,
    thread_id: &str,
    before: Option<&str>,
) -> Result<Vec<serde_json::Value>, String> {
    call("thread_history", &HistoryOf { conn, thread_id, limit: HISTORY_LIMIT, before }).await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateAt<'a> {
    conn: &'a str,
    thread_id: &'a str,
    checkpoint_id: &'a str,
}

/// A thread's state at one checkpoint, values included (history entries come without them).
pub async fn thread_state_at(
    conn: &str,
    thread_id: &str,
    checkpoint_id: &str,
) -> Result<serde_json::Value, String> {
    call("thread_state_at", &StateAt { conn, thread_id, checkpoint_id }).await
}

/// The embedded runtime's state and log.
pub async fn local_runtime() -> Result<LocalRuntimeView, String> {
    call("local_runtime", &NoArgs {}).await
}

/// Restarts the embedded runtime on a project folder (`None`: the bundled graphs).
pub async fn local_runtime_set_project(path: Option<&str>) -> Result<LocalRuntimeView, String> {
    call("local_runtime_set_project", &Project { path }).await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewThread<'a> {
    conn: &'a str,
    assistant_id: &'a str,
    graph_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamRun<'a> {
    conn: &'a str,
    thread_id: &'a str,
    request: &'a RunRequest,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelRun<'a> {
    conn: &'a str,
    thread_id: &'a str,
    run_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EditState<'a> {
    conn: &'a str,
    thread_id: &'a str,
    edit: &'a StateEdit,
}

/// Creates an empty thread for an assistant.
pub async fn thread_create(
    conn: &str,
    assistant_id: &str,
    graph_id: &str,
) -> Result<Thread, String> {
    call("thread_create", &NewThread { conn, assistant_id, graph_id }).await
}

/// The JS function that receives a channel's messages.
type Handler = Closure<dyn FnMut(JsValue)>;

/// A Tauri `Channel` (from the global `__TAURI__.core`) whose messages go to `each`; the
/// closure lives as long as the returned handle.
fn channel(each: impl FnMut(JsValue) + 'static) -> Result<(JsValue, Handler), String> {
    let core = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("__TAURI__"))
        .and_then(|t| js_sys::Reflect::get(&t, &JsValue::from_str("core")))
        .and_then(|c| js_sys::Reflect::get(&c, &JsValue::from_str("Channel")))
        .map_err(message_of)?;
    let ctor: js_sys::Function =
        core.dyn_into().map_err(|_| "this shell has no IPC channels".to_string())?;
    let channel = js_sys::Reflect::construct(&ctor, &js_sys::Array::new()).map_err(message_of)?;
    let handler: Handler = Closure::new(each);
    js_sys::Reflect::set(&channel, &JsValue::from_str("onmessage"), handler.as_ref())
        .map_err(message_of)?;
    Ok((channel, handler))
}

/// Starts a run and calls `each` with every event of its stream, then with the shell's
/// [`orrery_api::desktop::STREAM_END`] marker. Resolves when the shell is done; an error
/// means the run did not start or its stream broke (no marker then).
pub async fn run_stream(
    conn: &str,
    thread_id: &str,
    request: &RunRequest,
    mut each: impl FnMut(StreamPart) + 'static,
) -> Result<(), String> {
    if !in_tauri() {
        return Err(NOT_IN_SHELL.to_string());
    }
    let args = StreamRun { conn, thread_id, request }
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| format!("run_stream: cannot encode the arguments: {e}"))?;
    let (channel, handler) = channel(move |message| {
        match serde_wasm_bindgen::from_value::<StreamPart>(message) {
            Ok(part) => each(part),
            Err(e) => each(StreamPart {
                event: "error".into(),
                data: serde_json::json!({"error": "UI", "message": format!("unreadable event: {e}")}),
                id: None,
            }),
        }
    })?;
    js_sys::Reflect::set(&args, &JsValue::from_str("onEvent"), &channel).map_err(message_of)?;
    let answer = invoke("run_stream", args).await.map_err(message_of);
    // Events can still be on their way after the answer (they travel separately): the handler
    // stays alive for the rest of the page's life. It is small, and it ignores late events of
    // a run the UI has moved on from.
    handler.forget();
    answer.map(|_| ())
}

/// Cancels a run, keeping what it did so far.
pub async fn run_cancel(conn: &str, thread_id: &str, run_id: &str) -> Result<(), String> {
    call("run_cancel", &CancelRun { conn, thread_id, run_id }).await
}

/// Writes a state edit at a checkpoint (a fork); returns the new checkpoint's id.
pub async fn thread_update_state(
    conn: &str,
    thread_id: &str,
    edit: &StateEdit,
) -> Result<String, String> {
    call("thread_update_state", &EditState { conn, thread_id, edit }).await
}
