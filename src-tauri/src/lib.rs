//! The Orrery desktop shell: a Tauri v2 window around the Leptos UI in `ui/`.
//!
//! The shell owns everything that touches the network or a secret: the embedded runtime
//! ([`sidecar`]), the saved connections and their keys in the OS keychain ([`store`]), health
//! checks with backoff ([`health`]) and every HTTP request to a deployment ([`remote`], over
//! `orrery-client`). The UI only calls the commands below.

pub mod health;
pub mod highlight;
pub mod remote;
pub mod sidecar;
pub mod store;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use orrery_api::desktop::{
    AssistantDraft, ConnectionInput, ConnectionView, Health, HealthState, LOCAL_CONNECTION,
    LocalRuntimeView, RunRequest, STREAM_END, SidecarState, StateEdit,
};
use orrery_api::{Assistant, AssistantVersion, Run, StreamPart, Thread};
use tauri::Manager;
use tauri::ipc::Channel;

use crate::health::HealthBook;
use crate::sidecar::Sidecar;
use crate::store::{KeyCache, Saved, Store, normalize_url};

/// Everything the commands share.
pub struct Shell {
    store: Mutex<Store>,
    sidecar: Arc<Sidecar>,
    health: Arc<HealthBook>,
    keys: KeyCache,
}

/// Where a connection points and the key to use, resolved for one request.
pub struct Target {
    /// Base URL.
    pub url: String,
    /// API key from the keychain, if any.
    pub key: Option<String>,
}

impl Shell {
    fn target(&self, id: &str) -> Result<Target, String> {
        if id == LOCAL_CONNECTION {
            let url = self.sidecar.url().ok_or_else(|| {
                "the local runtime is not running yet (see its log on the Local panel)".to_string()
            })?;
            return Ok(Target { url, key: None });
        }
        let url = self
            .store
            .lock()
            .map_err(|_| "connection store unavailable".to_string())?
            .get(id)
            .map(|c| c.url.clone())
            .ok_or_else(|| format!("no connection {id:?}"))?;
        Ok(Target { url, key: self.keys.get(id)? })
    }

    /// Every connection to check: id, URL (none while the local runtime is down) and key.
    pub(crate) fn targets(&self) -> Vec<(String, Option<Target>)> {
        let mut out = vec![(
            LOCAL_CONNECTION.to_string(),
            self.sidecar.url().map(|url| Target { url, key: None }),
        )];
        let saved: Vec<Saved> =
            self.store.lock().map(|s| s.connections.clone()).unwrap_or_default();
        for c in saved {
            // A keychain that cannot be read leaves the key out; the check then reports the
            // server's 401/403, and the command paths report the keychain error itself.
            let key = self.keys.get(&c.id).ok().flatten();
            out.push((c.id.clone(), Some(Target { url: c.url, key })));
        }
        out
    }

    fn view_of(&self, c: &Saved) -> ConnectionView {
        ConnectionView {
            id: c.id.clone(),
            name: c.name.clone(),
            url: c.url.clone(),
            color: c.color.clone(),
            local: false,
            has_key: self.keys.get(&c.id).ok().flatten().is_some(),
            health: self.health.get(&c.id),
        }
    }

    fn local_view(&self) -> ConnectionView {
        let (state, url, last_line) = self.sidecar.summary();
        let mut health = self.health.get(LOCAL_CONNECTION);
        match state {
            SidecarState::Running => {}
            SidecarState::Starting | SidecarState::Restarting | SidecarState::Stopped => {
                health = Health { state: HealthState::Starting, ..health };
            }
            SidecarState::Failed => {
                health = Health { state: HealthState::Down, error: last_line, ..health };
            }
        }
        ConnectionView {
            id: LOCAL_CONNECTION.into(),
            name: "Local runtime".into(),
            url: url.unwrap_or_default(),
            color: "#7c3aed".into(),
            local: true,
            has_key: false,
            health,
        }
    }

    fn list(&self) -> Result<Vec<ConnectionView>, String> {
        let saved = self
            .store
            .lock()
            .map_err(|_| "connection store unavailable".to_string())?
            .connections
            .clone();
        let mut out = vec![self.local_view()];
        out.extend(saved.iter().map(|c| self.view_of(c)));
        Ok(out)
    }
}

type Cmd<T> = Result<T, String>;

/// The shell's version, so the UI can show which build it runs in.
#[tauri::command]
fn shell_version() -> String {
    format!("orrery-desktop {}", env!("CARGO_PKG_VERSION"))
}

#[tauri::command]
fn connections_list(shell: tauri::State<'_, Shell>) -> Cmd<Vec<ConnectionView>> {
    shell.list()
}

#[tauri::command]
async fn connection_save(
    shell: tauri::State<'_, Shell>,
    input: ConnectionInput,
) -> Cmd<ConnectionView> {
    let name = input.name.trim().to_string();
    if name.is_empty() {
        return Err("a connection needs a name".into());
    }
    let url = normalize_url(&input.url)?;
    let color = if input.color.trim().is_empty() { "#2563eb".into() } else { input.color };
    let saved = {
        let mut store = shell.store.lock().map_err(|_| "connection store unavailable")?;
        let id = match &input.id {
            Some(id) if id == LOCAL_CONNECTION => {
                return Err("the local runtime's connection cannot be edited".into());
            }
            Some(id) => {
                store.get(id).ok_or_else(|| format!("no connection {id:?}"))?;
                id.clone()
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        // The key first: if the keychain refuses it, nothing is saved half-way.
        match input.api_key.as_deref().map(str::trim) {
            Some("") => shell.keys.delete(&id)?,
            Some(key) => shell.keys.set(&id, key)?,
            None => {}
        }
        let saved = Saved { id: id.clone(), name, url, color };
        let previous = store.connections.clone();
        match store.connections.iter_mut().find(|c| c.id == id) {
            Some(c) => *c = saved.clone(),
            None => store.connections.push(saved.clone()),
        }
        if let Err(e) = store.save() {
            store.connections = previous;
            if input.id.is_none() {
                let _ = shell.keys.delete(&id);
            }
            return Err(e);
        }
        saved
    };
    shell.health.forget(&saved.id);
    let target = Target { url: saved.url.clone(), key: shell.keys.get(&saved.id)? };
    shell.health.check_now(&saved.id, &target).await;
    Ok(shell.view_of(&saved))
}

#[tauri::command]
fn connection_remove(shell: tauri::State<'_, Shell>, id: String) -> Cmd<()> {
    if id == LOCAL_CONNECTION {
        return Err("the local runtime's connection cannot be removed".into());
    }
    let mut store = shell.store.lock().map_err(|_| "connection store unavailable")?;
    let before = store.connections.clone();
    store.connections.retain(|c| c.id != id);
    if store.connections.len() == before.len() {
        return Err(format!("no connection {id:?}"));
    }
    if let Err(e) = store.save() {
        store.connections = before;
        return Err(e);
    }
    shell.keys.delete(&id)?;
    shell.health.forget(&id);
    Ok(())
}

#[tauri::command]
async fn connection_check(shell: tauri::State<'_, Shell>, id: String) -> Cmd<ConnectionView> {
    if let Ok(target) = shell.target(&id) {
        shell.health.check_now(&id, &target).await;
    }
    shell.list()?.into_iter().find(|c| c.id == id).ok_or_else(|| format!("no connection {id:?}"))
}

#[tauri::command]
async fn assistants_list(shell: tauri::State<'_, Shell>, conn: String) -> Cmd<Vec<Assistant>> {
    let target = shell.target(&conn)?;
    remote::assistants(&target).await
}

/// The assistant's graph as the server draws it (`{nodes, edges}`); `xray` expands subgraphs.
#[tauri::command]
async fn assistant_graph(
    shell: tauri::State<'_, Shell>,
    conn: String,
    assistant_id: String,
    xray: bool,
) -> Cmd<serde_json::Value> {
    let target = shell.target(&conn)?;
    remote::graph(&target, &assistant_id, xray).await
}

/// An assistant's schemas (input, output, state, config, context).
#[tauri::command]
async fn assistant_schemas(
    shell: tauri::State<'_, Shell>,
    conn: String,
    assistant_id: String,
) -> Cmd<serde_json::Value> {
    let target = shell.target(&conn)?;
    remote::schemas(&target, &assistant_id).await
}

/// Creates an assistant.
#[tauri::command]
async fn assistant_create(
    shell: tauri::State<'_, Shell>,
    conn: String,
    draft: AssistantDraft,
) -> Cmd<Assistant> {
    let target = shell.target(&conn)?;
    remote::assistant_create(&target, &draft).await
}

/// Saves an assistant's new version.
#[tauri::command]
async fn assistant_update(
    shell: tauri::State<'_, Shell>,
    conn: String,
    assistant_id: String,
    draft: AssistantDraft,
) -> Cmd<Assistant> {
    let target = shell.target(&conn)?;
    remote::assistant_update(&target, &assistant_id, &draft).await
}

/// Deletes an assistant.
#[tauri::command]
async fn assistant_delete(
    shell: tauri::State<'_, Shell>,
    conn: String,
    assistant_id: String,
) -> Cmd<()> {
    let target = shell.target(&conn)?;
    remote::assistant_delete(&target, &assistant_id).await
}

/// An assistant's versions, newest first.
#[tauri::command]
async fn assistant_versions(
    shell: tauri::State<'_, Shell>,
    conn: String,
    assistant_id: String,
) -> Cmd<Vec<AssistantVersion>> {
    let target = shell.target(&conn)?;
    remote::assistant_versions(&target, &assistant_id).await
}

/// Makes one of an assistant's versions the current one.
#[tauri::command]
async fn assistant_set_latest(
    shell: tauri::State<'_, Shell>,
    conn: String,
    assistant_id: String,
    version: i64,
) -> Cmd<Assistant> {
    let target = shell.target(&conn)?;
    remote::assistant_set_latest(&target, &assistant_id, version).await
}

/// A JSON value pretty-printed and highlighted as HTML (escaped text, `sy-` classes).
///
/// Async and on a blocking thread: a command without `async` runs on the main thread, and a
/// large state would freeze the window while it is highlighted.
#[tauri::command]
async fn highlight_json(value: serde_json::Value) -> Cmd<String> {
    tauri::async_runtime::spawn_blocking(move || highlight::json_html(&value))
        .await
        .map_err(|e| format!("highlighting failed: {e}"))
}

/// A thread's runs, newest first.
#[tauri::command]
async fn runs_list(
    shell: tauri::State<'_, Shell>,
    conn: String,
    thread_id: String,
) -> Cmd<Vec<Run>> {
    let target = shell.target(&conn)?;
    remote::runs_list(&target, &thread_id).await
}

/// A page of threads: of one assistant when given, with a status and `key=value` metadata
/// pairs when given.
#[tauri::command]
async fn threads_list(
    shell: tauri::State<'_, Shell>,
    conn: String,
    assistant_id: Option<String>,
    status: Option<String>,
    metadata: Option<String>,
    limit: u32,
    offset: u32,
) -> Cmd<Vec<Thread>> {
    let target = shell.target(&conn)?;
    let filter = remote::ThreadFilter {
        assistant_id: assistant_id.as_deref(),
        status: status.as_deref(),
        metadata: metadata.as_deref().unwrap_or(""),
    };
    remote::threads(&target, &filter, limit.clamp(1, 1000), offset).await
}

/// How many threads the same filter as `threads_list` matches.
#[tauri::command]
async fn threads_count(
    shell: tauri::State<'_, Shell>,
    conn: String,
    assistant_id: Option<String>,
    status: Option<String>,
    metadata: Option<String>,
) -> Cmd<u64> {
    let target = shell.target(&conn)?;
    let filter = remote::ThreadFilter {
        assistant_id: assistant_id.as_deref(),
        status: status.as_deref(),
        metadata: metadata.as_deref().unwrap_or(""),
    };
    remote::threads_count(&target, &filter).await
}

/// Copies a thread (metadata and checkpoints) into a new one.
#[tauri::command]
async fn thread_copy(
    shell: tauri::State<'_, Shell>,
    conn: String,
    thread_id: String,
) -> Cmd<Thread> {
    let target = shell.target(&conn)?;
    remote::thread_copy(&target, &thread_id).await
}

/// Deletes a thread.
#[tauri::command]
async fn thread_delete(shell: tauri::State<'_, Shell>, conn: String, thread_id: String) -> Cmd<()> {
    let target = shell.target(&conn)?;
    remote::thread_delete(&target, &thread_id).await
}

/// A thread's latest state: values, next, tasks, interrupts, checkpoint.
#[tauri::command]
async fn thread_state(
    shell: tauri::State<'_, Shell>,
    conn: String,
    thread_id: String,
) -> Cmd<serde_json::Value> {
    let target = shell.target(&conn)?;
    remote::thread_state(&target, &thread_id).await
}

/// Up to `limit` of a thread's checkpoints (states without their values), newest first;
/// older than `before` (a checkpoint id) when given.
#[tauri::command]
async fn thread_history(
    shell: tauri::State<'_, Shell>,
    conn: String,
    thread_id: String,
    limit: u32,
    before: Option<String>,
) -> Cmd<Vec<serde_json::Value>> {
    let target = shell.target(&conn)?;
    remote::thread_history(&target, &thread_id, limit.clamp(1, 1000), before.as_deref()).await
}

/// A thread's state at one checkpoint, values included.
#[tauri::command]
async fn thread_state_at(
    shell: tauri::State<'_, Shell>,
    conn: String,
    thread_id: String,
    checkpoint_id: String,
) -> Cmd<serde_json::Value> {
    let target = shell.target(&conn)?;
    remote::thread_state_at(&target, &thread_id, &checkpoint_id).await
}

/// Creates an empty thread for an assistant.
#[tauri::command]
async fn thread_create(
    shell: tauri::State<'_, Shell>,
    conn: String,
    assistant_id: String,
    graph_id: String,
) -> Cmd<Thread> {
    let target = shell.target(&conn)?;
    remote::thread_create(&target, &assistant_id, &graph_id).await
}

/// Starts a run on a thread and streams its events to the UI through `on_event`, returning
/// when the server ends the stream.
///
/// NOTE: a `Channel` rather than app-wide events (`app.emit`): it belongs to this one call, so
/// events reach only the view that started the run, in order, with no listener to register
/// or forget, and the UI knows the stream is over when the command's promise settles.
#[tauri::command]
async fn run_stream(
    shell: tauri::State<'_, Shell>,
    conn: String,
    thread_id: String,
    request: RunRequest,
    on_event: Channel<StreamPart>,
) -> Cmd<()> {
    let target = shell.target(&conn)?;
    // A send fails only when the webview is gone; the run goes on on the server regardless.
    remote::run_stream(&target, &thread_id, &request, |part| on_event.send(part).is_ok()).await?;
    // The UI settles the run on this marker rather than on the promise: channel messages and
    // the command's answer travel separately, and the marker is ordered after every event.
    let end = StreamPart { event: STREAM_END.into(), data: serde_json::Value::Null, id: None };
    let _ = on_event.send(end);
    Ok(())
}

/// Cancels a run, keeping its progress.
#[tauri::command]
async fn run_cancel(
    shell: tauri::State<'_, Shell>,
    conn: String,
    thread_id: String,
    run_id: String,
) -> Cmd<()> {
    let target = shell.target(&conn)?;
    remote::run_cancel(&target, &thread_id, &run_id).await
}

/// Writes a state edit at a checkpoint (forking the thread there); returns the new checkpoint.
#[tauri::command]
async fn thread_update_state(
    shell: tauri::State<'_, Shell>,
    conn: String,
    thread_id: String,
    edit: StateEdit,
) -> Cmd<String> {
    let target = shell.target(&conn)?;
    remote::thread_update_state(&target, &thread_id, &edit).await
}

#[tauri::command]
fn local_runtime(shell: tauri::State<'_, Shell>) -> LocalRuntimeView {
    shell.sidecar.view()
}

#[tauri::command]
fn local_runtime_set_project(
    shell: tauri::State<'_, Shell>,
    path: Option<String>,
) -> Cmd<LocalRuntimeView> {
    shell.sidecar.set_project(path)?;
    shell.health.forget(LOCAL_CONNECTION);
    Ok(shell.sidecar.view())
}

fn app_dir(dir: tauri::Result<PathBuf>, what: &str) -> Result<PathBuf, String> {
    dir.map_err(|e| format!("no {what} folder: {e}"))
}

/// Builds and runs the application until its last window closes.
pub fn run() {
    let app = tauri::Builder::default()
        .setup(|app| {
            let paths = app.path();
            let config = app_dir(paths.app_config_dir(), "config")?;
            let data = app_dir(paths.app_data_dir(), "data")?;
            let store = Store::load(&config)?;
            let sidecar = Sidecar::new(sidecar::find_binary(), data.join("runtime"));
            let health = HealthBook::new();
            tauri::async_runtime::spawn(Arc::clone(&sidecar).supervise());
            app.manage(Shell {
                store: Mutex::new(store),
                sidecar,
                health: Arc::clone(&health),
                keys: KeyCache::default(),
            });
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                health::watch(health, move || handle.state::<Shell>().targets()).await;
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            shell_version,
            connections_list,
            connection_save,
            connection_remove,
            connection_check,
            assistants_list,
            assistant_graph,
            assistant_schemas,
            assistant_create,
            assistant_update,
            assistant_delete,
            assistant_versions,
            assistant_set_latest,
            runs_list,
            highlight_json,
            threads_list,
            threads_count,
            thread_copy,
            thread_delete,
            thread_state,
            thread_history,
            thread_state_at,
            thread_create,
            run_stream,
            run_cancel,
            thread_update_state,
            local_runtime,
            local_runtime_set_project,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("orrery-desktop: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event
            && let Some(shell) = handle.try_state::<Shell>()
        {
            shell.sidecar.shutdown();
            // Give the supervisor a moment to kill the runtime before the process ends
            // (kill_on_drop covers the rest).
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
}
