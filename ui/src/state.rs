//! What the UI knows, grouped by concern, and the actions that change it.
//!
//! The root provides one [`AppState`] (all fields are `Copy` signal handles); components take it
//! with [`use_app`]. Every answer that arrives after the user moved on (another connection or
//! assistant selected meanwhile) is dropped, so a slow server never overwrites a newer view.

use std::collections::{BTreeMap, BTreeSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use orrery_api::desktop::{
    AssistantDraft, ConnectionInput, ConnectionView, HealthState, LOCAL_CONNECTION,
    LocalRuntimeView, RunRequest, STREAM_END, SidecarState, StateEdit,
};
use orrery_api::graph_layout::Graph;
use orrery_api::studio::{EventLog, LiveRun, RunPhase};
use orrery_api::{Assistant, AssistantVersion, Run, Thread, ThreadStatus};

use crate::transport::{self, THREAD_PAGE};

/// How many checkpoints' full states the thread view keeps (each may hold a whole chat).
const FULL_STATES_KEPT: usize = 64;

/// A list that is fetched from the shell.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Load<T> {
    /// Not asked for (nothing selected, or waiting for the server to come up).
    #[default]
    Idle,
    /// Asked for; the answer has not arrived.
    Loading,
    /// Here it is.
    Ready(T),
    /// The shell or the server said no; the message is shown.
    Failed(String),
}

/// One page of the selected assistant's threads that match the filter (a fixed page size, so
/// the list never holds more than one page of rows however many threads there are).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThreadList {
    /// The page shown.
    pub items: Vec<Thread>,
    /// Where the page starts among the matching threads.
    pub offset: u32,
    /// How many threads match the filter (`POST /threads/count`), once counted.
    pub total: Option<u64>,
    /// A page is on its way.
    pub loading: bool,
    /// The first page arrived (tells "no threads" from "not loaded").
    pub loaded: bool,
    /// The page was full, so there may be more.
    pub more: bool,
    /// The last page failed with this message.
    pub error: Option<String>,
}

/// The connections and the embedded runtime, as the shell last reported them.
#[derive(Clone, Copy)]
pub struct Connections {
    /// Every connection, the local runtime first.
    pub list: RwSignal<Vec<ConnectionView>>,
    /// The first answer arrived.
    pub loaded: RwSignal<bool>,
    /// The selected connection's id.
    pub selected: RwSignal<Option<String>>,
    /// The embedded runtime.
    pub local: RwSignal<Option<LocalRuntimeView>>,
}

/// The assistants and threads of the selected connection.
#[derive(Clone, Copy)]
pub struct Browse {
    /// The selected connection's assistants.
    pub assistants: RwSignal<Load<Vec<Assistant>>>,
    /// The selected assistant's id.
    pub assistant: RwSignal<Option<String>>,
    /// The selected assistant's threads.
    pub threads: RwSignal<ThreadList>,
    /// The selected thread's id.
    pub thread: RwSignal<Option<String>>,
    /// The thread list's status filter (`idle`, `busy`, `interrupted`, `error`; empty: any).
    pub status_filter: RwSignal<String>,
    /// The thread list's metadata filter, `key=value` pairs.
    pub meta_filter: RwSignal<String>,
    /// The thread whose deletion waits for the user's confirmation.
    pub confirm_delete: RwSignal<Option<String>>,
    /// Bumped whenever the thread list starts over, to drop late pages of the old list.
    threads_epoch: StoredValue<u64>,
}

/// What the right of the browser shows for the selected assistant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Its graph.
    Graph,
    /// Its threads.
    Threads,
    /// Its settings and versions (the assistant editor).
    Assistant,
}

/// A node's breakpoints: pause the next runs before it, after it, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Breakpoint {
    /// `interrupt_before`.
    pub before: bool,
    /// `interrupt_after`.
    pub after: bool,
}

/// The selected assistant's graph (the Studio's Graph screen).
#[derive(Clone, Copy)]
pub struct GraphView {
    /// Graph or threads.
    pub tab: RwSignal<Tab>,
    /// The graph, as the server drew it.
    pub data: RwSignal<Load<Graph>>,
    /// Subgraphs expanded (`xray=true`).
    pub xray: RwSignal<bool>,
    /// Subgraph prefixes drawn as one node.
    pub collapsed: RwSignal<BTreeSet<String>>,
    /// The selected node's id (or a collapsed subgraph's prefix).
    pub node: RwSignal<Option<String>>,
    /// The graph is shown beside the open thread (to watch a run light its nodes).
    pub beside: RwSignal<bool>,
    /// Breakpoints set by clicking nodes, for the next runs of this assistant.
    pub breakpoints: RwSignal<BTreeMap<String, Breakpoint>>,
    /// Step mode: the next runs pause before every node.
    pub step: RwSignal<bool>,
    /// The assistant's schemas (`input_schema`, `config_schema`, ...).
    pub schemas: RwSignal<Load<serde_json::Value>>,
    /// Bumped whenever the graph is asked for again, to drop late answers.
    epoch: StoredValue<u64>,
}

/// The open thread (the Thread view): its latest state and its checkpoints.
#[derive(Clone, Copy)]
pub struct ThreadView {
    /// `GET /threads/{id}/state`.
    pub state: RwSignal<Load<serde_json::Value>>,
    /// The checkpoints, newest first.
    pub history: RwSignal<Load<Vec<serde_json::Value>>>,
    /// The selected checkpoint's id (`None`: the current one).
    pub checkpoint: RwSignal<Option<String>>,
    /// Its runs, newest first.
    pub runs: RwSignal<Load<Vec<Run>>>,
    /// The run whose event log is open.
    pub run_log: RwSignal<Option<String>>,
    /// The detail column shows the runs (not the selected checkpoint).
    pub show_runs: RwSignal<bool>,
    /// Checkpoints' full states (values included), by checkpoint id, as they were asked for:
    /// the history comes without values.
    pub full: RwSignal<std::collections::HashMap<String, serde_json::Value>>,
    /// Checkpoints whose full state could not be read.
    pub failed: RwSignal<BTreeSet<String>>,
    /// Checkpoints whose full state is on its way (asked once).
    asking: StoredValue<BTreeSet<String>>,
    /// The history's last page was full: older checkpoints may be there.
    pub older: RwSignal<bool>,
    /// Older checkpoints are being loaded.
    pub loading_older: RwSignal<bool>,
    /// Bumped whenever the thread is asked for again, to drop late answers.
    epoch: StoredValue<u64>,
}

/// The run started from the thread view, streaming or just ended; the graph view lights its
/// nodes.
#[derive(Clone, Copy)]
pub struct RunView {
    /// The run as its stream told it so far.
    pub live: RwSignal<Option<LiveRun>>,
    /// The thread it runs on.
    pub thread: RwSignal<Option<String>>,
    /// The assistant it runs (the graph view lights nodes only for its graph).
    pub assistant: RwSignal<Option<String>>,
    /// A state edit (fork) is on its way.
    pub forking: RwSignal<bool>,
    /// Its events as they arrived.
    pub log: RwSignal<EventLog>,
    /// When it was asked for (`Date.now()`), for the event log's times.
    started_ms: StoredValue<f64>,
    /// The config of the last run started here, which Continue runs with again.
    last_config: StoredValue<Option<serde_json::Value>>,
    /// Bumped for every new run, so a replaced run's late events are dropped.
    epoch: StoredValue<u64>,
}

/// Which form is open.
#[derive(Debug, Clone, PartialEq)]
pub enum FormMode {
    /// Adding a connection.
    New,
    /// Editing this one.
    Edit(Box<ConnectionView>),
}

/// Window-level UI state.
#[derive(Clone, Copy)]
pub struct Chrome {
    /// The error banner's message.
    pub error: RwSignal<Option<String>>,
    /// The connection form, when open.
    pub form: RwSignal<Option<FormMode>>,
    /// The connection whose removal waits for a confirmation.
    pub confirm_remove: RwSignal<Option<String>>,
    /// Dark theme on.
    pub dark: RwSignal<bool>,
    /// Wall clock in milliseconds, ticking with the poll, for "5 s ago" texts.
    pub now: RwSignal<f64>,
    /// The shell's name and version.
    pub shell: RwSignal<String>,
    /// The command palette is open.
    pub palette: RwSignal<bool>,
    /// A poll is in flight (the next tick skips rather than piling up requests).
    polling: StoredValue<bool>,
    /// The last error a poll reported, so a failing poll does not re-open a dismissed banner.
    poll_error: StoredValue<Option<String>>,
}

/// The assistant editor: the selected assistant's versions and what is being done to it.
#[derive(Clone, Copy)]
pub struct AssistantEdit {
    /// Its versions, newest first.
    pub versions: RwSignal<Load<Vec<AssistantVersion>>>,
    /// A save, delete or version change is on its way.
    pub busy: RwSignal<bool>,
    /// The delete waits for the user's confirmation.
    pub confirm_delete: RwSignal<bool>,
    /// What the last save said (shown under the form).
    pub notice: RwSignal<Option<String>>,
}

/// Everything, as one context.
#[derive(Clone, Copy)]
pub struct AppState {
    /// Connections and the local runtime.
    pub conns: Connections,
    /// Assistants and threads.
    pub browse: Browse,
    /// The selected assistant's graph.
    pub graph: GraphView,
    /// The open thread.
    pub thread: ThreadView,
    /// The run started from the thread view.
    pub run: RunView,
    /// The assistant editor.
    pub edit: AssistantEdit,
    /// Banner, forms, theme, clock.
    pub chrome: Chrome,
}

/// The state provided by the root component.
pub fn use_app() -> AppState {
    match use_context::<AppState>() {
        Some(state) => state,
        // Only reachable if a component is mounted outside `App`: a programming error, and
        // panicking here (in debug and release alike) names it.
        None => panic!("AppState is not provided: mount components inside App"),
    }
}

impl AppState {
    /// Creates the state and provides it to the component tree.
    pub fn provide(dark: bool) -> AppState {
        let state = AppState {
            conns: Connections {
                list: RwSignal::new(Vec::new()),
                loaded: RwSignal::new(false),
                selected: RwSignal::new(None),
                local: RwSignal::new(None),
            },
            browse: Browse {
                assistants: RwSignal::new(Load::Idle),
                assistant: RwSignal::new(None),
                threads: RwSignal::new(ThreadList::default()),
                thread: RwSignal::new(None),
                status_filter: RwSignal::new(String::new()),
                meta_filter: RwSignal::new(String::new()),
                confirm_delete: RwSignal::new(None),
                threads_epoch: StoredValue::new(0),
            },
            graph: GraphView {
                tab: RwSignal::new(Tab::Graph),
                data: RwSignal::new(Load::Idle),
                xray: RwSignal::new(false),
                collapsed: RwSignal::new(BTreeSet::new()),
                node: RwSignal::new(None),
                beside: RwSignal::new(false),
                breakpoints: RwSignal::new(BTreeMap::new()),
                step: RwSignal::new(false),
                schemas: RwSignal::new(Load::Idle),
                epoch: StoredValue::new(0),
            },
            thread: ThreadView {
                state: RwSignal::new(Load::Idle),
                history: RwSignal::new(Load::Idle),
                checkpoint: RwSignal::new(None),
                runs: RwSignal::new(Load::Idle),
                run_log: RwSignal::new(None),
                show_runs: RwSignal::new(false),
                full: RwSignal::new(std::collections::HashMap::new()),
                asking: StoredValue::new(BTreeSet::new()),
                failed: RwSignal::new(BTreeSet::new()),
                older: RwSignal::new(false),
                loading_older: RwSignal::new(false),
                epoch: StoredValue::new(0),
            },
            run: RunView {
                live: RwSignal::new(None),
                thread: RwSignal::new(None),
                assistant: RwSignal::new(None),
                forking: RwSignal::new(false),
                log: RwSignal::new(EventLog::default()),
                started_ms: StoredValue::new(0.0),
                last_config: StoredValue::new(None),
                epoch: StoredValue::new(0),
            },
            edit: AssistantEdit {
                versions: RwSignal::new(Load::Idle),
                busy: RwSignal::new(false),
                confirm_delete: RwSignal::new(false),
                notice: RwSignal::new(None),
            },
            chrome: Chrome {
                error: RwSignal::new(None),
                form: RwSignal::new(None),
                confirm_remove: RwSignal::new(None),
                dark: RwSignal::new(dark),
                now: RwSignal::new(js_sys::Date::now()),
                shell: RwSignal::new(String::from("…")),
                palette: RwSignal::new(false),
                polling: StoredValue::new(false),
                poll_error: StoredValue::new(None),
            },
        };
        provide_context(state);
        state
    }

    /// Shows a failed command's message in the banner.
    pub fn report(&self, message: String) {
        self.chrome.error.set(Some(message));
    }

    /// The selected connection, if any.
    pub fn selected_connection(&self) -> Option<ConnectionView> {
        let id = self.conns.selected.get()?;
        self.conns.list.with(|list| list.iter().find(|c| c.id == id).cloned())
    }

    /// Asks the shell for the connections and the local runtime (the 1.5 s poll).
    pub fn refresh(self) {
        if self.chrome.polling.get_value() {
            return;
        }
        self.chrome.polling.set_value(true);
        self.chrome.now.set(js_sys::Date::now());
        spawn_local(async move {
            let list = transport::connections_list().await;
            let local = transport::local_runtime().await;
            self.chrome.polling.set_value(false);
            let mut problem = None;
            match list {
                Ok(list) => self.take_connections(list),
                Err(e) => problem = Some(e),
            }
            match local {
                Ok(local) => self.conns.local.set(Some(local)),
                Err(e) => problem = problem.or(Some(e)),
            }
            // Report a failing poll once, not every 1.5 s.
            if problem != self.chrome.poll_error.get_value() {
                if let Some(e) = &problem {
                    self.report(e.clone());
                }
                self.chrome.poll_error.set_value(problem);
            }
        });
    }

    fn take_connections(self, list: Vec<ConnectionView>) {
        let selected = self.conns.selected.get_untracked();
        let still_there = selected.as_ref().is_some_and(|id| list.iter().any(|c| &c.id == id));
        let first = list.first().map(|c| c.id.clone());
        if self.conns.list.with_untracked(|old| old != &list) {
            self.conns.list.set(list);
        }
        self.conns.loaded.set(true);
        if !still_there && let Some(id) = first {
            self.select_connection(id);
        }
    }

    /// Selects a connection and loads its assistants.
    pub fn select_connection(self, id: String) {
        self.chrome.confirm_remove.set(None);
        if self.conns.selected.get_untracked().as_deref() == Some(id.as_str()) {
            return;
        }
        self.conns.selected.set(Some(id));
        self.browse.assistant.set(None);
        self.reset_threads();
        self.reset_graph();
        self.load_assistants();
    }

    /// Moves the selection up (`-1`) or down (`1`) the connection list.
    pub fn move_selection(self, step: isize) {
        let target = self.conns.list.with_untracked(|list| {
            if list.is_empty() {
                return None;
            }
            let selected = self.conns.selected.get_untracked();
            let at = list.iter().position(|c| Some(&c.id) == selected.as_ref());
            let next = match at {
                Some(i) => i.saturating_add_signed(step).min(list.len() - 1),
                None => 0,
            };
            list.get(next).map(|c| c.id.clone())
        });
        if let Some(id) = target {
            self.select_connection(id);
        }
    }

    /// Loads the selected connection's assistants. While the local runtime is starting there
    /// is nothing to ask yet: the list stays idle and loads once the runtime is up.
    pub fn load_assistants(self) {
        let Some(conn) = self.conns.selected.get_untracked() else {
            self.browse.assistants.set(Load::Idle);
            return;
        };
        let starting = self.conns.list.with_untracked(|list| {
            list.iter().any(|c| c.id == conn && c.health.state == HealthState::Starting)
        });
        if starting {
            self.browse.assistants.set(Load::Idle);
            return;
        }
        self.browse.assistants.set(Load::Loading);
        spawn_local(async move {
            let answer = transport::assistants_list(&conn).await;
            if self.conns.selected.get_untracked().as_deref() != Some(conn.as_str()) {
                return;
            }
            match answer {
                Ok(list) => {
                    // Keep the selected assistant when it is still there (a reload).
                    let keep = self
                        .browse
                        .assistant
                        .get_untracked()
                        .is_some_and(|id| list.iter().any(|a| a.assistant_id == id));
                    if !keep {
                        self.browse.assistant.set(None);
                        self.reset_threads();
                        self.reset_graph();
                    }
                    self.browse.assistants.set(Load::Ready(list));
                }
                Err(e) => {
                    self.browse.assistants.set(Load::Failed(e.clone()));
                    self.report(e);
                }
            }
        });
    }

    /// Selects an assistant and loads the first page of its threads.
    pub fn select_assistant(self, id: String) {
        if self.browse.assistant.get_untracked().as_deref() == Some(id.as_str()) {
            return;
        }
        self.browse.assistant.set(Some(id));
        self.reset_threads();
        self.load_threads(0);
        self.graph.collapsed.set(BTreeSet::new());
        self.graph.breakpoints.set(BTreeMap::new());
        self.graph.schemas.set(Load::Loading);
        self.edit.confirm_delete.set(false);
        self.edit.notice.set(None);
        self.load_graph();
        self.load_versions();
    }

    /// Forgets the graph (no assistant selected any more).
    fn reset_graph(self) {
        self.graph.epoch.update_value(|e| *e += 1);
        self.graph.node.set(None);
        self.graph.collapsed.set(BTreeSet::new());
        self.graph.data.set(Load::Idle);
        self.graph.schemas.set(Load::Idle);
        self.edit.versions.set(Load::Idle);
    }

    /// Asks for an assistant's schemas. A server without them leaves the forms to raw JSON,
    /// with no banner.
    fn load_schemas(self, conn: String, assistant: String) {
        self.graph.schemas.set(Load::Loading);
        spawn_local(async move {
            let schemas = transport::assistant_schemas(&conn, &assistant).await;
            if !self.still_on(&conn, &assistant) {
                return;
            }
            self.graph.schemas.set(match schemas {
                Ok(v) => Load::Ready(v),
                Err(e) => Load::Failed(e),
            });
        });
    }

    /// Asks for the selected assistant's graph (again), with the current xray choice.
    pub fn load_graph(self) {
        let Some((conn, assistant)) = self.conn_and_assistant() else {
            self.reset_graph();
            return;
        };
        self.graph.epoch.update_value(|e| *e += 1);
        let epoch = self.graph.epoch.get_value();
        let xray = self.graph.xray.get_untracked();
        self.graph.data.set(Load::Loading);
        // The schemas (the run and config forms) once per assistant, beside the graph: an xray
        // toggle draws the graph again, the schemas stay.
        if !matches!(self.graph.schemas.get_untracked(), Load::Ready(_)) {
            self.load_schemas(conn.clone(), assistant.clone());
        }
        spawn_local(async move {
            let answer = transport::assistant_graph(&conn, &assistant, xray).await;
            if self.graph.epoch.get_value() != epoch {
                return;
            }
            let parsed = answer.and_then(|v| {
                Graph::from_json(&v).map_err(|e| format!("The server's graph is unreadable: {e}"))
            });
            match parsed {
                Ok(graph) => {
                    let keep = self.graph.node.with_untracked(|n| {
                        n.as_ref().is_some_and(|id| {
                            graph.node(id).is_some() || graph.clusters().contains(id)
                        })
                    });
                    if !keep {
                        self.graph.node.set(None);
                    }
                    self.graph.data.set(Load::Ready(graph));
                }
                Err(e) => {
                    self.graph.data.set(Load::Failed(e.clone()));
                    self.report(e);
                }
            }
        });
    }

    fn reset_threads(self) {
        self.browse.threads_epoch.update_value(|e| *e += 1);
        self.close_thread();
        self.browse.threads.set(ThreadList::default());
    }

    /// Opens a thread in the Thread view and loads its state and checkpoints.
    pub fn open_thread(self, id: String) {
        self.browse.thread.set(Some(id));
        self.load_thread();
    }

    /// Back to the thread list.
    pub fn close_thread(self) {
        self.thread.epoch.update_value(|e| *e += 1);
        self.browse.thread.set(None);
        self.thread.checkpoint.set(None);
        self.thread.state.set(Load::Idle);
        self.thread.history.set(Load::Idle);
        self.thread.runs.set(Load::Idle);
        self.thread.run_log.set(None);
        self.thread.full.set(Default::default());
        self.thread.asking.update_value(BTreeSet::clear);
        self.thread.failed.set(BTreeSet::new());
    }

    /// The selected assistant, if any.
    pub fn selected_assistant(&self) -> Option<Assistant> {
        let id = self.browse.assistant.get_untracked()?;
        self.browse.assistants.with_untracked(|l| match l {
            Load::Ready(list) => list.iter().find(|a| a.assistant_id == id).cloned(),
            _ => None,
        })
    }

    /// Creates an empty thread for the selected assistant and opens it.
    pub fn new_thread(self) {
        let (Some(conn), Some(a)) =
            (self.conns.selected.get_untracked(), self.selected_assistant())
        else {
            self.report("Select an assistant first: a thread runs one assistant's graph".into());
            return;
        };
        spawn_local(async move {
            match transport::thread_create(&conn, &a.assistant_id, &a.graph_id).await {
                Ok(mut thread) => {
                    if self.conns.selected.get_untracked().as_deref() != Some(conn.as_str()) {
                        return;
                    }
                    thread.values = None;
                    let id = thread.thread_id.clone();
                    self.browse.threads.update(|t| {
                        t.items.insert(0, thread);
                        t.loaded = true;
                    });
                    self.graph.tab.set(Tab::Threads);
                    self.open_thread(id);
                }
                Err(e) => self.report(format!("Cannot create a thread: {e}")),
            }
        });
    }

    /// The run to light in the graph view: the last one started here, when it runs the
    /// selected assistant.
    pub fn with_live<R>(&self, f: impl FnOnce(&LiveRun) -> R) -> Option<R> {
        let same = self.run.assistant.get().is_some()
            && self.run.assistant.get() == self.browse.assistant.get();
        if !same {
            return None;
        }
        self.run.live.with(|r| r.as_ref().map(f))
    }

    /// Whether a run started here is still streaming.
    pub fn run_in_flight(&self) -> bool {
        self.run.live.with(|r| r.as_ref().is_some_and(|r| r.phase.in_flight()))
    }

    /// Starts a run on the open thread and streams it into [`RunView::live`]; when its stream
    /// ends the thread is loaded again (its new checkpoints, state and interrupts).
    pub fn start_run(self, mut request: RunRequest) {
        let Some((conn, thread)) = self.conn_and_thread() else {
            self.report("Open a thread first".into());
            return;
        };
        if request.assistant_id.is_empty() {
            match self.browse.assistant.get_untracked() {
                Some(a) => request.assistant_id = a,
                None => {
                    self.report("Select an assistant first".into());
                    return;
                }
            }
        }
        if request.interrupt_before.is_empty() && request.interrupt_after.is_empty() {
            let (before, after) = self.breakpoint_lists();
            request.interrupt_before = before;
            request.interrupt_after = after;
        }
        self.run.epoch.update_value(|e| *e += 1);
        let epoch = self.run.epoch.get_value();
        self.run.started_ms.set_value(js_sys::Date::now());
        self.run.log.set(EventLog::default());
        self.run.last_config.set_value(request.config.clone());
        self.run.thread.set(Some(thread.clone()));
        self.run.assistant.set(Some(request.assistant_id.clone()));
        // The input's messages show at once; the graph's own echo of them is not streamed.
        let mut live = LiveRun::new();
        if let Some(list) = request.input.as_ref().and_then(|i| i.get("messages")) {
            live.messages.extend(list.as_array().into_iter().flatten().cloned());
        }
        self.run.live.set(Some(live));
        self.set_thread_status(&thread, ThreadStatus::Busy);
        let current = move || self.run.epoch.get_value() == epoch;
        let on_event = move |part: orrery_api::StreamPart| {
            if !current() {
                return;
            }
            if part.event == STREAM_END {
                self.run.live.update(|r| {
                    if let Some(r) = r {
                        r.finish();
                    }
                });
                self.run_ended();
                return;
            }
            let at = js_sys::Date::now() - self.run.started_ms.get_value();
            self.run.log.update(|l| l.push(&part, at));
            self.run.live.update(|r| {
                if let Some(r) = r {
                    r.apply(&part);
                }
            });
        };
        spawn_local(async move {
            let answer = transport::run_stream(&conn, &thread, &request, on_event).await;
            if let Err(e) = answer
                && current()
            {
                self.run.live.update(|r| {
                    if let Some(r) = r {
                        r.fail(e.clone());
                    }
                });
                self.run_ended();
            }
        });
    }

    /// A run's stream ended: the thread is read again where it now is.
    fn run_ended(self) {
        let Some(thread) = self.run.thread.get_untracked() else { return };
        let status = self.run.live.with_untracked(|r| match r.as_ref().map(|r| &r.phase) {
            Some(RunPhase::Interrupted) => ThreadStatus::Interrupted,
            Some(RunPhase::Failed) => ThreadStatus::Error,
            _ => ThreadStatus::Idle,
        });
        self.set_thread_status(&thread, status);
        if self.browse.thread.get_untracked().as_deref() == Some(thread.as_str()) {
            self.reload_thread_quietly();
        }
    }

    /// Shows a thread's new status in the list (until the list is loaded again).
    fn set_thread_status(self, thread: &str, status: ThreadStatus) {
        self.browse.threads.update(|t| {
            if let Some(x) = t.items.iter_mut().find(|x| x.thread_id == thread) {
                x.status = status;
            }
        });
    }

    /// The breakpoints as the run request takes them: `["*"]` before every node in step mode.
    pub fn breakpoint_lists(&self) -> (Vec<String>, Vec<String>) {
        if self.graph.step.get_untracked() {
            return (vec!["*".to_string()], Vec::new());
        }
        self.graph.breakpoints.with_untracked(|map| {
            let pick = |f: fn(&Breakpoint) -> bool| {
                map.iter().filter(|(_, b)| f(b)).map(|(n, _)| n.clone()).collect::<Vec<_>>()
            };
            (pick(|b| b.before), pick(|b| b.after))
        })
    }

    /// Turns a node's breakpoint before (or after) it on or off.
    pub fn toggle_breakpoint(self, node: &str, after: bool) {
        self.graph.breakpoints.update(|map| {
            let b = map.entry(node.to_string()).or_default();
            if after {
                b.after = !b.after;
            } else {
                b.before = !b.before;
            }
            if !b.before && !b.after {
                map.remove(node);
            }
        });
    }

    /// Continues the open thread from where it paused (a breakpoint or step mode): a run with
    /// no input, with the current breakpoints.
    pub fn continue_run(self) {
        if self.run_in_flight() {
            return;
        }
        // Only a thread that stopped with nodes still to run and nothing to answer.
        let paused = self.thread.state.with_untracked(|s| match s {
            Load::Ready(s) => {
                let next = s.get("next").and_then(serde_json::Value::as_array);
                let interrupts = s.get("interrupts").and_then(serde_json::Value::as_array);
                next.is_some_and(|n| !n.is_empty()) && interrupts.is_none_or(Vec::is_empty)
            }
            _ => false,
        });
        if !paused {
            self.report("Nothing to continue: the thread is not paused at a breakpoint".into());
            return;
        }
        let config = self.run.last_config.get_value();
        self.start_run(RunRequest { config, ..RunRequest::default() });
    }

    /// Loads the selected assistant's versions.
    pub fn load_versions(self) {
        let Some((conn, assistant)) = self.conn_and_assistant() else {
            self.edit.versions.set(Load::Idle);
            return;
        };
        self.edit.versions.set(Load::Loading);
        spawn_local(async move {
            let answer = transport::assistant_versions(&conn, &assistant).await;
            if !self.still_on(&conn, &assistant) {
                return;
            }
            self.edit.versions.set(match answer {
                Ok(list) => Load::Ready(list),
                Err(e) => Load::Failed(e),
            });
        });
    }

    /// The selected connection and assistant.
    fn conn_and_assistant(&self) -> Option<(String, String)> {
        Some((self.conns.selected.get_untracked()?, self.browse.assistant.get_untracked()?))
    }

    /// The selected connection and open thread.
    fn conn_and_thread(&self) -> Option<(String, String)> {
        Some((self.conns.selected.get_untracked()?, self.browse.thread.get_untracked()?))
    }

    /// Whether this connection and assistant are still the selected ones.
    fn still_on(&self, conn: &str, assistant: &str) -> bool {
        self.conns.selected.get_untracked().as_deref() == Some(conn)
            && self.browse.assistant.get_untracked().as_deref() == Some(assistant)
    }

    /// Puts an assistant the server just returned into the list (new or changed).
    fn upsert_assistant(self, a: Assistant) {
        self.browse.assistants.update(|l| {
            if let Load::Ready(list) = l {
                match list.iter_mut().find(|x| x.assistant_id == a.assistant_id) {
                    Some(slot) => *slot = a,
                    None => list.insert(0, a),
                }
            }
        });
    }

    /// Saves the editor's draft: a new version of the selected assistant, or (`as_new`) a new
    /// assistant, which is then selected.
    pub async fn save_assistant(self, draft: AssistantDraft, as_new: bool) -> Result<(), String> {
        let Some(conn) = self.conns.selected.get_untracked() else {
            return Err("Select a connection first".into());
        };
        let current = self.browse.assistant.get_untracked();
        self.edit.busy.set(true);
        let answer = match (&current, as_new) {
            (Some(id), false) => transport::assistant_update(&conn, id, &draft).await,
            _ => transport::assistant_create(&conn, &draft).await,
        };
        self.edit.busy.set(false);
        let a = answer?;
        // The user moved on meanwhile: the save is done, the view is theirs.
        if self.conns.selected.get_untracked().as_deref() != Some(conn.as_str())
            || self.browse.assistant.get_untracked() != current
        {
            return Ok(());
        }
        let id = a.assistant_id.clone();
        let version = a.version;
        self.upsert_assistant(a);
        if as_new {
            self.select_assistant(id);
            self.edit.notice.set(Some("Created: the new assistant is selected".into()));
        } else {
            self.load_versions();
            self.edit.notice.set(Some(format!("Saved as version {version}")));
        }
        Ok(())
    }

    /// Makes one of the selected assistant's versions its current one.
    pub fn set_latest(self, version: i64) {
        let Some((conn, assistant)) = self.conn_and_assistant() else {
            return;
        };
        self.edit.busy.set(true);
        spawn_local(async move {
            let answer = transport::assistant_set_latest(&conn, &assistant, version).await;
            self.edit.busy.set(false);
            if !self.still_on(&conn, &assistant) {
                return;
            }
            match answer {
                Ok(a) => {
                    self.upsert_assistant(a);
                    self.load_versions();
                    self.edit.notice.set(Some(format!("Version {version} is the current one")));
                }
                Err(e) => self.report(format!("Cannot set version {version} as current: {e}")),
            }
        });
    }

    /// Deletes the selected assistant (the user confirmed).
    pub fn delete_assistant(self) {
        let Some((conn, assistant)) = self.conn_and_assistant() else {
            return;
        };
        self.edit.confirm_delete.set(false);
        self.edit.busy.set(true);
        spawn_local(async move {
            let answer = transport::assistant_delete(&conn, &assistant).await;
            self.edit.busy.set(false);
            if answer.is_ok() && !self.still_on(&conn, &assistant) {
                // Gone on the server; the list the user now looks at is another one.
                return;
            }
            match answer {
                Ok(()) => {
                    self.browse.assistants.update(|l| {
                        if let Load::Ready(list) = l {
                            list.retain(|a| a.assistant_id != assistant);
                        }
                    });
                    self.browse.assistant.set(None);
                    self.reset_threads();
                    self.reset_graph();
                }
                Err(e) => self.report(format!("Cannot delete the assistant: {e}")),
            }
        });
    }

    /// Cancels the streaming run (its progress is kept).
    pub fn cancel_run(self) {
        let (Some(conn), Some(thread)) =
            (self.conns.selected.get_untracked(), self.run.thread.get_untracked())
        else {
            return;
        };
        let Some(run_id) =
            self.run.live.with_untracked(|r| r.as_ref().and_then(|r| r.run_id.clone()))
        else {
            self.report("The run has not started yet: cancel again in a moment".into());
            return;
        };
        self.run.live.update(|r| {
            if let Some(r) = r {
                r.cancel();
            }
        });
        spawn_local(async move {
            let answer = transport::run_cancel(&conn, &thread, &run_id).await;
            self.run.live.update(|r| {
                let Some(r) = r.as_mut().filter(|r| r.run_id.as_deref() == Some(run_id.as_str()))
                else {
                    return;
                };
                match &answer {
                    Ok(()) => r.cancelled(),
                    Err(_) => r.cancelling = false,
                }
            });
            if let Err(e) = answer {
                self.report(format!("Cannot cancel the run: {e}"));
            }
        });
    }

    /// Writes a state edit at a checkpoint (a fork) and shows the thread where it now is.
    pub async fn fork(self, edit: StateEdit) -> Result<(), String> {
        let (Some(conn), Some(thread)) =
            (self.conns.selected.get_untracked(), self.browse.thread.get_untracked())
        else {
            return Err("Open a thread first".into());
        };
        self.run.forking.set(true);
        let answer = transport::thread_update_state(&conn, &thread, &edit).await;
        self.run.forking.set(false);
        answer?;
        if self.browse.thread.get_untracked().as_deref() == Some(thread.as_str()) {
            self.reload_thread_quietly();
        }
        Ok(())
    }

    /// Asks for the open thread's state and checkpoints (again).
    pub fn load_thread(self) {
        self.read_thread(false);
    }

    /// Reads the open thread again while still showing what it showed (after a run or an
    /// edit), then selects its current checkpoint.
    pub fn reload_thread_quietly(self) {
        self.read_thread(true);
    }

    fn read_thread(self, quiet: bool) {
        let Some((conn, thread)) = self.conn_and_thread() else {
            return;
        };
        self.thread.epoch.update_value(|e| *e += 1);
        let epoch = self.thread.epoch.get_value();
        let shown = self.thread.state.with_untracked(|s| matches!(s, Load::Ready(_)))
            && self.thread.history.with_untracked(|h| matches!(h, Load::Ready(_)));
        if !(quiet && shown) {
            self.thread.checkpoint.set(None);
            self.thread.state.set(Load::Loading);
            self.thread.history.set(Load::Loading);
        }
        spawn_local(async move {
            // Both at once: on a remote deployment each is a round trip.
            let (state, history) = futures::join!(
                transport::thread_state(&conn, &thread),
                transport::thread_history(&conn, &thread, None)
            );
            if self.thread.epoch.get_value() != epoch {
                return;
            }
            // The runs list is a side view: a server that cannot list runs leaves it failed
            // without a banner.
            self.load_runs();
            self.thread.checkpoint.set(None);
            match state {
                Ok(v) => self.thread.state.set(Load::Ready(v)),
                Err(e) => {
                    self.thread.state.set(Load::Failed(e.clone()));
                    self.report(e);
                }
            }
            match history {
                Ok(list) => {
                    self.thread.older.set(list.len() >= transport::HISTORY_LIMIT as usize);
                    self.thread.history.set(Load::Ready(list));
                }
                Err(e) => {
                    self.thread.history.set(Load::Failed(e.clone()));
                    self.report(e);
                }
            }
        });
    }

    /// Reads the open thread's runs again (their statuses move on after a stream ends).
    pub fn load_runs(self) {
        let Some((conn, thread)) = self.conn_and_thread() else {
            return;
        };
        let epoch = self.thread.epoch.get_value();
        spawn_local(async move {
            let runs = transport::runs_list(&conn, &thread).await;
            if self.thread.epoch.get_value() != epoch {
                return;
            }
            self.thread.runs.set(match runs {
                Ok(list) => Load::Ready(list),
                Err(e) => Load::Failed(e),
            });
        });
    }

    /// Loads a checkpoint's full state into [`ThreadView::full`] unless it is there.
    pub fn load_checkpoint(self, checkpoint_id: String) {
        let Some((conn, thread)) = self.conn_and_thread() else {
            return;
        };
        if self.thread.full.with_untracked(|m| m.contains_key(&checkpoint_id))
            || self.thread.asking.with_value(|a| a.contains(&checkpoint_id))
            || self.thread.failed.with_untracked(|f| f.contains(&checkpoint_id))
        {
            return;
        }
        self.thread.asking.update_value(|a| {
            a.insert(checkpoint_id.clone());
        });
        let epoch = self.thread.epoch.get_value();
        spawn_local(async move {
            let answer = transport::thread_state_at(&conn, &thread, &checkpoint_id).await;
            self.thread.asking.update_value(|a| {
                a.remove(&checkpoint_id);
            });
            if self.thread.epoch.get_value() != epoch {
                return;
            }
            match answer {
                Ok(v) => self.thread.full.update(|m| {
                    // Walking a long history keeps the last ones read, not all of them.
                    if m.len() >= FULL_STATES_KEPT {
                        m.clear();
                    }
                    m.insert(checkpoint_id, v);
                }),
                Err(e) => {
                    self.report(format!("Cannot read checkpoint {checkpoint_id}: {e}"));
                    self.thread.failed.update(|f| {
                        f.insert(checkpoint_id);
                    });
                }
            }
        });
    }

    /// Asks for a checkpoint that could not be read, again.
    pub fn retry_checkpoint(self, checkpoint_id: String) {
        self.thread.failed.update(|f| {
            f.remove(&checkpoint_id);
        });
        self.load_checkpoint(checkpoint_id);
    }

    /// Appends the next page of older checkpoints to the open thread's timeline.
    pub fn load_older_history(self) {
        let Some((conn, thread)) = self.conn_and_thread() else {
            return;
        };
        let oldest = self.thread.history.with_untracked(|h| match h {
            Load::Ready(list) => list
                .last()
                .and_then(|c| c.pointer("/checkpoint/checkpoint_id"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            _ => None,
        });
        let Some(oldest) = oldest else { return };
        if self.thread.loading_older.get_untracked() {
            return;
        }
        let epoch = self.thread.epoch.get_value();
        self.thread.loading_older.set(true);
        spawn_local(async move {
            let page = transport::thread_history(&conn, &thread, Some(&oldest)).await;
            self.thread.loading_older.set(false);
            if self.thread.epoch.get_value() != epoch {
                return;
            }
            match page {
                Ok(page) => {
                    self.thread.older.set(page.len() >= transport::HISTORY_LIMIT as usize);
                    self.thread.history.update(|h| {
                        if let Load::Ready(list) = h {
                            list.extend(page);
                        }
                    });
                }
                Err(e) => self.report(format!("Cannot load older checkpoints: {e}")),
            }
        });
    }

    /// Loads the first page of threads again.
    pub fn reload_threads(self) {
        self.reset_threads();
        self.load_threads(0);
    }

    /// Loads the page of the selected assistant's matching threads that starts at `offset`,
    /// and counts them all.
    pub fn load_threads(self, offset: u32) {
        let Some((conn, assistant)) = self.conn_and_assistant() else {
            return;
        };
        self.browse.threads_epoch.update_value(|e| *e += 1);
        let epoch = self.browse.threads_epoch.get_value();
        let status = self.browse.status_filter.get_untracked();
        let meta = self.browse.meta_filter.get_untracked();
        self.browse.confirm_delete.set(None);
        self.browse.threads.update(|t| {
            t.loading = true;
            t.error = None;
        });
        spawn_local(async move {
            let q = transport::ThreadQuery {
                assistant_id: Some(&assistant),
                status: Some(status.as_str()).filter(|s| !s.is_empty()),
                metadata: &meta,
            };
            let page = transport::threads_list(&conn, q, offset).await;
            // Counting scans every match: once per filter (the first page), not per page.
            let known = self.browse.threads.with_untracked(|t| t.total).filter(|_| offset > 0);
            let total = match (&page, known) {
                (Err(e), _) => Err(e.clone()),
                (Ok(_), Some(n)) => Ok(n),
                (Ok(_), None) => transport::threads_count(&conn, q).await,
            };
            if self.browse.threads_epoch.get_value() != epoch {
                return;
            }
            match page {
                Ok(mut page) => self.browse.threads.update(|t| {
                    // The list never shows a thread's values; a long chat would only cost memory.
                    for thread in &mut page {
                        thread.values = None;
                    }
                    t.more = page.len() >= THREAD_PAGE as usize;
                    t.items = page;
                    t.offset = offset;
                    t.total = total.ok();
                    t.loading = false;
                    t.loaded = true;
                }),
                Err(e) => {
                    self.browse.threads.update(|t| {
                        t.loading = false;
                        t.error = Some(e.clone());
                    });
                    self.report(e);
                }
            }
        });
    }

    /// Copies a thread (metadata and checkpoints) and shows the list from its first page,
    /// where the copy is.
    pub fn copy_thread(self, id: String) {
        let Some(conn) = self.conns.selected.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match transport::thread_copy(&conn, &id).await {
                Ok(_) => self.load_threads(0),
                Err(e) => self.report(format!("Cannot copy the thread: {e}")),
            }
        });
    }

    /// Deletes a thread (the user confirmed) and loads its page again.
    pub fn delete_thread(self, id: String) {
        let Some(conn) = self.conns.selected.get_untracked() else {
            return;
        };
        self.browse.confirm_delete.set(None);
        spawn_local(async move {
            match transport::thread_delete(&conn, &id).await {
                Ok(()) => {
                    if self.browse.thread.get_untracked().as_deref() == Some(id.as_str()) {
                        self.close_thread();
                    }
                    self.browse.threads.update(|t| t.total = t.total.map(|n| n.saturating_sub(1)));
                    let offset = self.browse.threads.with_untracked(|t| {
                        // The last row of the last page gone: the page before.
                        if t.items.len() <= 1 {
                            t.offset.saturating_sub(THREAD_PAGE)
                        } else {
                            t.offset
                        }
                    });
                    self.load_threads(offset);
                }
                Err(e) => self.report(format!("Cannot delete the thread: {e}")),
            }
        });
    }

    /// Puts a connection the shell just returned into the list (new or changed).
    fn upsert(self, view: ConnectionView) {
        self.conns.list.update(|list| match list.iter_mut().find(|c| c.id == view.id) {
            Some(slot) => *slot = view,
            None => list.push(view),
        });
    }

    /// Saves the connection form; on success the connection is selected (and reloaded when it
    /// was already selected, since its URL or key may have changed).
    pub async fn save_connection(self, input: ConnectionInput) -> Result<(), String> {
        let view = transport::connection_save(&input).await?;
        let id = view.id.clone();
        self.upsert(view);
        if self.conns.selected.get_untracked().as_deref() == Some(id.as_str()) {
            self.browse.assistant.set(None);
            self.reset_threads();
            self.reset_graph();
            self.load_assistants();
        } else {
            self.select_connection(id);
        }
        Ok(())
    }

    /// Removes a remote connection (after the in-UI confirmation).
    pub fn remove_connection(self, id: String) {
        self.chrome.confirm_remove.set(None);
        spawn_local(async move {
            match transport::connection_remove(&id).await {
                Ok(()) => {
                    self.conns.list.update(|list| list.retain(|c| c.id != id));
                    if self.conns.selected.get_untracked().as_deref() == Some(id.as_str()) {
                        self.conns.selected.set(None);
                        let first =
                            self.conns.list.with_untracked(|l| l.first().map(|c| c.id.clone()));
                        if let Some(first) = first {
                            self.select_connection(first);
                        } else {
                            self.browse.assistants.set(Load::Idle);
                            self.reset_threads();
                            self.reset_graph();
                        }
                    }
                }
                Err(e) => self.report(e),
            }
        });
    }

    /// Checks a connection's health now; `busy` is true meanwhile.
    pub fn check_connection(self, id: String, busy: RwSignal<bool>) {
        busy.set(true);
        spawn_local(async move {
            match transport::connection_check(&id).await {
                Ok(view) => self.upsert(view),
                Err(e) => self.report(e),
            }
            busy.set(false);
        });
    }

    /// Restarts the local runtime on a project folder (`None`: the bundled graphs).
    pub async fn set_project(self, path: Option<String>) -> Result<(), String> {
        let view = transport::local_runtime_set_project(path.as_deref()).await?;
        // The graphs change with the project: forget the old assistants, and show the runtime
        // as starting until the next poll says otherwise (the list reloads once it is up).
        let starting = matches!(view.state, SidecarState::Starting | SidecarState::Restarting);
        self.conns.local.set(Some(view));
        if starting {
            self.conns.list.update(|list| {
                if let Some(local) = list.iter_mut().find(|c| c.id == LOCAL_CONNECTION) {
                    local.health.state = HealthState::Starting;
                }
            });
        }
        if self.conns.selected.get_untracked().as_deref() == Some(LOCAL_CONNECTION) {
            self.browse.assistant.set(None);
            self.reset_threads();
            self.reset_graph();
            self.load_assistants();
        }
        Ok(())
    }
}
