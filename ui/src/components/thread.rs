//! The Thread view: the open thread's checkpoint timeline (newest first) beside the selected
//! checkpoint: what runs next and its pending interrupts, its messages as a chat, and its
//! values as a collapsible JSON tree.

use leptos::prelude::*;
use leptos::task::spawn_local;
use orrery_api::desktop::{RunRequest, StateEdit};
use orrery_api::studio::{self, Lane};
use serde_json::Value;

use crate::components::browser::loading;
use crate::components::graph::GraphPanel;
use crate::components::run::{Composer, ContinueBar, LiveRunPanel, ResumeForm, parse_json};
use crate::components::runs::RunsPanel;
use crate::components::{ago, icons};
use crate::format::short_id;
use crate::state::{Load, use_app};
use crate::transport::HISTORY_LIMIT;

/// The id of the checkpoint a state (or history entry) is at.
fn checkpoint_id(state: &Value) -> Option<String> {
    state
        .pointer("/checkpoint/checkpoint_id")
        .or_else(|| state.get("checkpoint_id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The nodes that wrote a checkpoint: the keys of its `metadata.writes` when the server keeps
/// them, else (a `loop` step) the tasks its parent checkpoint planned, which are what ran.
fn writers(state: &Value, parent: Option<&Value>) -> Vec<String> {
    if let Some(writes) = state.pointer("/metadata/writes").and_then(Value::as_object)
        && !writes.is_empty()
    {
        return writes.keys().cloned().collect();
    }
    if state.pointer("/metadata/source").and_then(Value::as_str) != Some("loop") {
        return Vec::new();
    }
    task_names(parent)
}

/// The names of a state's tasks.
fn task_names(state: Option<&Value>) -> Vec<String> {
    state
        .and_then(|s| s.get("tasks"))
        .and_then(Value::as_array)
        .map(|tasks| {
            tasks.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).map(str::to_string)
        })
        .into_iter()
        .flatten()
        .collect()
}

/// The id of a state's parent checkpoint.
fn parent_id(state: &Value) -> Option<String> {
    state
        .pointer("/parent_checkpoint/checkpoint_id")
        .or_else(|| state.get("parent_checkpoint_id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The open thread.
#[component]
pub fn ThreadPanel() -> impl IntoView {
    let state = use_app();
    let tv = state.thread;
    let id = move || state.browse.thread.get().unwrap_or_default();
    let status = move || {
        let id = id();
        state.browse.threads.with(|t| {
            t.items.iter().find(|x| x.thread_id == id).map(|x| x.status.as_str().to_string())
        })
    };
    // The checkpoints to list: the history, or the latest state alone when the history is
    // empty but the state has a checkpoint.
    let checkpoints = Memo::new(move |_| match tv.history.get() {
        Load::Ready(list) if !list.is_empty() => list,
        Load::Ready(_) => match tv.state.get() {
            Load::Ready(s) if checkpoint_id(&s).is_some() => vec![s],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    });
    let current = Memo::new(move |_| {
        let from_state = tv.state.with(|s| match s {
            Load::Ready(s) => checkpoint_id(s),
            _ => None,
        });
        from_state.or_else(|| checkpoints.with(|c| c.first().and_then(checkpoint_id)))
    });
    let selected_id = Memo::new(move |_| tv.checkpoint.get().or_else(|| current.get()));
    // A checkpoint's full state: the latest state for the current one, else the one read
    // for it (history entries come without their values); `None` until it arrives.
    let full = move |id: &str| -> Option<Value> {
        let latest = tv.state.with(|s| match s {
            Load::Ready(s) if checkpoint_id(s).as_deref() == Some(id) => Some(s.clone()),
            _ => None,
        });
        latest.or_else(|| tv.full.with(|m| m.get(id).cloned()))
    };
    // The selected checkpoint and its parent (for the diff) are read when first selected.
    Effect::new(move |_| {
        let Some(id) = selected_id.get() else { return };
        let parent = checkpoints.with(|list| {
            list.iter()
                .find(|c| checkpoint_id(c).as_deref() == Some(id.as_str()))
                .and_then(parent_id)
        });
        for want in std::iter::once(id).chain(parent) {
            if full(&want).is_none() {
                state.load_checkpoint(want);
            }
        }
    });
    // The selected checkpoint's state (`Err` while it loads); the latest state when there is
    // no checkpoint at all.
    let selected = Memo::new(move |_| match selected_id.get() {
        // Shown once its parent (for the diff) is here too, so the view is built once.
        Some(id) => {
            let s = full(&id).ok_or_else(|| id.clone())?;
            let waiting = parent_id(&s)
                .filter(|p| {
                    checkpoints
                        .with(|l| l.iter().any(|c| checkpoint_id(c).as_deref() == Some(p.as_str())))
                })
                .is_some_and(|p| full(&p).is_none() && !tv.failed.with(|f| f.contains(&p)));
            if waiting { Err(id) } else { Ok(s) }
        }
        None => match tv.state.get() {
            Load::Ready(s) => Ok(s),
            _ => Err(String::new()),
        },
    });

    // The selected checkpoint's parent (for the diff) and the nodes that wrote it.
    let parent_of_selected = Memo::new(move |_| {
        let pid = selected.with(|s| s.as_ref().ok().and_then(parent_id))?;
        full(&pid)
    });
    // The chat box is the default for message states (and for a thread that never ran).
    let chat = Signal::derive(move || {
        tv.state.with(|s| match s {
            Load::Ready(s) => match s.get("values") {
                Some(Value::Object(v)) => v.is_empty() || v.contains_key("messages"),
                _ => true,
            },
            _ => true,
        })
    });

    let show_runs = state.thread.show_runs;
    let status_view =
        move || status().map(|s| view! { <span class=format!("status {s}")>{s.clone()}</span> });
    // Loading, failed or ready: the body is built again only when this changes, so a quiet
    // reload (after a run) updates the timeline and the detail in place.
    let phase = Memo::new(move |_| {
        let failed = match (tv.state.get(), tv.history.get()) {
            (Load::Failed(e), _) | (_, Load::Failed(e)) => Some(e),
            _ => None,
        };
        match failed {
            Some(e) => Err(e),
            None => Ok(tv.state.with(|s| matches!(s, Load::Ready(_)))
                && tv.history.with(|h| matches!(h, Load::Ready(_)))),
        }
    });
    let body = move || {
        let ready = match phase.get() {
            Err(e) => {
                return view! {
                    <div class="list-error">
                        <p>{e}</p>
                        <button type="button" on:click=move |_| state.load_thread()>
                            "Retry"
                        </button>
                    </div>
                }
                .into_any();
            }
            Ok(ready) => ready,
        };
        if !ready {
            return loading("Loading thread…").into_any();
        }
        view! {
            <div class="thread-body" class:with-graph=move || state.graph.beside.get()>
                <Timeline checkpoints=checkpoints current=current selected=selected_id />
                <div class="detail-column">
                    <div class="checkpoint-detail">
                        {move || show_runs.get().then(|| view! { <RunsPanel /> })}
                        {move || {
                            (!show_runs.get()).then(|| match selected.get() {
                                Ok(s) => {
                                    let current = selected_id.get() == current.get();
                                    let parent = parent_of_selected.get();
                                    view! { <Checkpoint s=s parent=parent current=current /> }
                                        .into_any()
                                }
                                Err(id) if tv.failed.with(|f| f.contains(&id)) => view! {
                                    <div class="list-error">
                                        <p>"Cannot read this checkpoint."</p>
                                        <button type="button" on:click=move |_| state.retry_checkpoint(id.clone())>
                                            "Retry"
                                        </button>
                                    </div>
                                }
                                .into_any(),
                                Err(id) if !id.is_empty() => loading("Reading the checkpoint…").into_any(),
                                Err(_) => view! { <LiveRunPanel /> }.into_any(),
                            })
                        }}
                    </div>
                    <Composer chat=chat />
                </div>
                {move || state.graph.beside.get().then(|| view! { <GraphPanel /> })}
            </div>
        }
        .into_any()
    };

    view! {
        <section id="thread-view" class="pane" data-id=id>
            <header class="pane-head thread-head">
                <button
                    id="thread-back"
                    type="button"
                    class="icon-button"
                    title="Back to the threads (Esc)"
                    aria-label="Back to the threads"
                    on:click=move |_| state.close_thread()
                >
                    "←"
                </button>
                <h3 id="thread-id" class="mono" title=id>
                    {move || short_id(&id()).to_string()}
                </h3>
                {status_view}
                <span class="spacer"></span>
                <button
                    id="thread-runs"
                    type="button"
                    class:on=move || show_runs.get()
                    title="The thread's runs and their event logs"
                    on:click=move |_| show_runs.update(|b| *b = !*b)
                >
                    {move || if show_runs.get() { "Checkpoint" } else { "Runs" }}
                </button>
                <button
                    id="thread-graph"
                    type="button"
                    class:on=move || state.graph.beside.get()
                    title="Show the graph beside the thread, to watch runs light up its nodes (Ctrl+G)"
                    on:click=move |_| state.graph.beside.update(|b| *b = !*b)
                >
                    {move || if state.graph.beside.get() { "Hide graph" } else { "Show graph" }}
                </button>
                <button
                    id="thread-refresh"
                    type="button"
                    class="icon-button"
                    title="Reload the thread"
                    aria-label="Reload the thread"
                    on:click=move |_| state.load_thread()
                >
                    {icons::refresh()}
                </button>
            </header>
            {body}
        </section>
    }
}

/// The checkpoints, newest first; a click selects one.
#[component]
fn Timeline(
    checkpoints: Memo<Vec<Value>>,
    current: Memo<Option<String>>,
    selected: Memo<Option<String>>,
) -> impl IntoView {
    let state = use_app();
    let items = move || {
        let list = checkpoints.get();
        let parent_of = |c: &Value| {
            let pid = parent_id(c)?;
            list.iter().find(|p| checkpoint_id(p).as_deref() == Some(pid.as_str()))
        };
        let ids: Vec<(String, Option<String>)> =
            list.iter().map(|c| (checkpoint_id(c).unwrap_or_default(), parent_id(c))).collect();
        let lanes = studio::lanes(&ids, current.get().as_deref());
        list.iter()
            .zip(lanes)
            .map(|(c, Lane { lane, fork })| {
                let id = checkpoint_id(c).unwrap_or_default();
                let step = c.pointer("/metadata/step").map(Value::to_string).unwrap_or_default();
                let source = c
                    .pointer("/metadata/source")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let writers = writers(c, parent_of(c)).join(", ");
                let next = task_names(Some(c)).join(", ");
                let next = (!next.is_empty()).then(|| {
                    view! { <span class="cp-next mono" title="Runs next">{format!("→ {next}")}</span> }
                });
                let created = c.get("created_at").and_then(Value::as_str).unwrap_or("").to_string();
                let is_current = {
                    let id = id.clone();
                    move || current.with(|c| c.as_deref() == Some(id.as_str()))
                };
                let is_selected = {
                    let id = id.clone();
                    move || selected.with(|c| c.as_deref() == Some(id.as_str()))
                };
                let pick = {
                    let id = id.clone();
                    move |_| state.thread.checkpoint.set(Some(id.clone()))
                };
                let when = {
                    let created = created.clone();
                    move || ago(&created, state.chrome.now.get())
                };
                let side = lane > 0;
                let forked_from = fork
                    .then(|| parent_of(c))
                    .flatten()
                    .and_then(|p| p.pointer("/metadata/step").map(Value::to_string));
                view! {
                    <li
                        class="checkpoint"
                        class:current=is_current
                        class:selected=is_selected.clone()
                        class:side=side
                        class:fork=fork
                        data-id=id.clone()
                        data-parent=parent_id(c).unwrap_or_default()
                        data-lane=lane.to_string()
                        style=format!("--lane:{lane}")
                        role="option"
                        aria-selected=move || if is_selected() { "true" } else { "false" }
                        title=id
                        on:click=pick
                    >
                        <span class="cp-step">{format!("#{step}")}</span>
                        <span class=format!("cp-source {source}")>{source.clone()}</span>
                        <span class="cp-writers">
                            <span class="mono">{writers}</span>
                            {next}
                        </span>
                        <span class="cp-time" title=created>
                            {when}
                        </span>
                        {forked_from.map(|step| view! {
                            <span class="cp-fork" title="Another branch: it leaves the current line after this step">
                                {format!("↳ branch off #{step}")}
                            </span>
                        })}
                    </li>
                }
            })
            .collect_view()
    };
    let empty = move || {
        checkpoints
            .with(Vec::is_empty)
            .then(|| view! { <p class="empty">"No checkpoints yet: the thread never ran"</p> })
    };
    let truncated = move || {
        state.thread.older.get().then(|| {
            let shown = checkpoints.with(Vec::len);
            view! {
                <div class="older">
                    <span class="muted">{format!("The newest {shown}")}</span>
                    <button
                        id="timeline-older"
                        type="button"
                        disabled=move || state.thread.loading_older.get()
                        title=format!("Load the {HISTORY_LIMIT} checkpoints before these")
                        on:click=move |_| state.load_older_history()
                    >
                        {move || if state.thread.loading_older.get() { "Loading…" } else { "Load older" }}
                    </button>
                </div>
            }
        })
    };
    view! {
        <div class="timeline-pane">
            <div class="side-caption">"Checkpoints"</div>
            <ol id="timeline" role="listbox" aria-label="Checkpoints">
                {items}
            </ol>
            {empty}
            {truncated}
        </div>
    }
}

/// One checkpoint: its actions (edit state and fork, re-run from here), what runs next and its
/// interrupts (pending, with the resume form, when it is the `current` one), the chat, the run
/// streaming from here, what the step changed against its `parent`, the values.
#[component]
fn Checkpoint(s: Value, parent: Option<Value>, current: bool) -> impl IntoView {
    let state = use_app();
    let values = s.get("values").cloned().unwrap_or(Value::Null);
    let messages = values.get("messages").and_then(Value::as_array).cloned();
    let next: Vec<String> = s
        .get("next")
        .and_then(Value::as_array)
        .map(|n| n.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let interrupts = interrupts_of(&s);
    let created = s.get("created_at").and_then(Value::as_str).unwrap_or("").to_string();
    let id = checkpoint_id(&s).unwrap_or_default();
    let step = s.pointer("/metadata/step").map(Value::to_string);
    let wrote = writers(&s, parent.as_ref());
    let editing = RwSignal::new(false);
    let can_rerun = !id.is_empty() && !next.is_empty();
    if current {
        // The thread opens where it is: its pending interrupt, else its newest message.
        request_animation_frame(|| {
            let doc = document();
            let target = doc
                .query_selector("#pending")
                .ok()
                .flatten()
                .or_else(|| doc.query_selector("#chat > .msg:last-child").ok().flatten());
            if let Some(el) = target {
                el.scroll_into_view_with_bool(false);
            }
        });
    }

    let pending = (!next.is_empty() || !interrupts.is_empty()).then(|| {
        let has_interrupts = !interrupts.is_empty();
        let next_view = (!next.is_empty()).then(|| {
            view! {
                <div class="next">
                    <span class="label">{if current { "Next" } else { "Ran next" }}</span>
                    {next
                        .iter()
                        .map(|n| view! { <span class="node-pill mono">{n.clone()}</span> })
                        .collect_view()}
                </div>
            }
        });
        let interrupt_views = interrupts
            .into_iter()
            .map(|(task, value)| {
                view! {
                    <div class="interrupt">
                        <div class="interrupt-head">
                            {if current { "Interrupt" } else { "Interrupt (past)" }}
                            {task.map(|t| view! { <span class="mono">{format!(" in {t}")}</span> })}
                        </div>
                        <div class="json-tree interrupt-payload">{json_tree(None, &value, 0, 4)}</div>
                    </div>
                }
            })
            .collect_view();
        view! {
            <div
                id=current.then_some("pending")
                class="detail-section next-box"
                class:pending=current
            >
                {next_view}
                {interrupt_views}
                {(current && has_interrupts).then(|| view! { <ResumeForm /> })}
                {(current && !has_interrupts).then(|| view! { <ContinueBar /> })}
            </div>
        }
    });

    let chat = messages.map(|list| {
        view! {
            <div class="detail-section">
                <div class="side-caption">{format!("Messages ({})", list.len())}</div>
                <div id="chat" class="chat">{messages_view(&list)}</div>
            </div>
        }
    });

    let changes = parent.as_ref().map(|p| {
        let before = p.get("values").cloned().unwrap_or(Value::Null);
        let list = studio::diff(&before, &values);
        let parent_step = p.pointer("/metadata/step").map(Value::to_string).unwrap_or_default();
        let rows = list
            .iter()
            .map(|c| {
                let show = |v: &Option<Value>| v.as_ref().map(short_json).unwrap_or_default();
                view! {
                    <li class=format!("change {}", c.kind())>
                        <span class="change-kind">{c.kind()}</span>
                        <span class="change-path mono">
                            {if c.path.is_empty() { "(whole state)".to_string() } else { c.path.clone() }}
                        </span>
                        <span class="change-old mono">{show(&c.old)}</span>
                        <span class="change-new mono">{show(&c.new)}</span>
                    </li>
                }
            })
            .collect_view();
        let empty = list.is_empty();
        view! {
            <div class="detail-section">
                <div class="side-caption">
                    {format!("Changes against #{parent_step} ({})", list.len())}
                </div>
                {if empty {
                    view! { <p class="empty hint">"This step left the values as they were"</p> }.into_any()
                } else {
                    view! { <ul id="state-diff" class="diff">{rows}</ul> }.into_any()
                }}
            </div>
        }
    });

    let rerun = {
        let id = id.clone();
        move |_| {
            state.start_run(RunRequest {
                input: None,
                checkpoint_id: Some(id.clone()),
                ..RunRequest::default()
            })
        }
    };
    let actions = (!id.is_empty()).then(|| {
        view! {
            <span class="spacer"></span>
            <button
                id="edit-state"
                type="button"
                title="Edit the values at this checkpoint and fork the thread from it"
                class:on=move || editing.get()
                on:click=move |_| editing.update(|e| *e = !*e)
            >
                "Edit state"
            </button>
            <button
                id="rerun"
                type="button"
                title=if can_rerun {
                    "Run again from this checkpoint: its next nodes run, the earlier steps are kept"
                } else {
                    "Nothing runs next at this checkpoint"
                }
                disabled=move || !can_rerun || state.run_in_flight()
                on:click=rerun
            >
                "Re-run from here"
            </button>
        }
    });
    let editor = {
        let id = id.clone();
        let values = values.clone();
        let as_node = if wrote.len() == 1 { wrote[0].clone() } else { String::new() };
        move || {
            editing.get().then(|| {
                view! {
                    <StateEditor
                        checkpoint=id.clone()
                        values=values.clone()
                        as_node=as_node.clone()
                        editing=editing
                    />
                }
            })
        }
    };

    view! {
        <div class="checkpoint-head">
            {step.map(|s| view! { <span class="cp-step">{format!("#{s}")}</span> })}
            {if id.is_empty() {
                view! { <span class="muted">"No checkpoint: the state is empty"</span> }.into_any()
            } else {
                view! { <span class="mono cp-id" title=id.clone()>{short_id(&id).to_string()}</span> }.into_any()
            }}
            <span class="muted">{created}</span>
            {actions}
        </div>
        {editor}
        {pending}
        {chat}
        <LiveRunPanel />
        {changes}
        <StateView values=values />
    }
}

/// The state at a checkpoint: a collapsible tree, or the whole JSON highlighted by the shell
/// (syntect).
#[component]
fn StateView(values: Value) -> impl IntoView {
    let raw = RwSignal::new(false);
    let html = RwSignal::new(None::<String>);
    let tree = json_node(None, &values, 0);
    let show_raw = move |_| {
        raw.set(true);
        if html.get_untracked().is_some() {
            return;
        }
        let values = values.clone();
        leptos::task::spawn_local(async move {
            let answer = crate::transport::highlight_json(&values).await;
            // Outside the shell (or if it fails) the plain text, escaped by the view.
            html.set(Some(answer.unwrap_or_else(|_| {
                let text = serde_json::to_string_pretty(&values).unwrap_or_default();
                text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
            })));
        });
    };
    view! {
        <div class="detail-section">
            <div class="side-caption state-caption">
                "State"
                <span class="spacer"></span>
                <button
                    id="state-tree-toggle"
                    type="button"
                    class="tab"
                    class:active=move || !raw.get()
                    on:click=move |_| raw.set(false)
                >
                    "Tree"
                </button>
                <button
                    id="state-raw-toggle"
                    type="button"
                    class="tab"
                    class:active=move || raw.get()
                    title="The whole state as highlighted JSON"
                    on:click=show_raw
                >
                    "JSON"
                </button>
            </div>
            <div id="state-json" class="json-tree" class:hidden=move || raw.get()>{tree}</div>
            {move || raw.get().then(|| match html.get() {
                Some(h) => view! { <pre id="state-raw" class="json-raw" inner_html=h></pre> }.into_any(),
                None => view! { <p class="muted">"Highlighting…"</p> }.into_any(),
            })}
        </div>
    }
}

/// A JSON value on one line, cut after 120 characters.
fn short_json(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// The values at a checkpoint as editable JSON; saving writes them as a state update at that
/// checkpoint (`POST /threads/{id}/state` with `checkpoint_id`), which forks the thread.
#[component]
fn StateEditor(
    checkpoint: String,
    values: Value,
    as_node: String,
    editing: RwSignal<bool>,
) -> impl IntoView {
    let state = use_app();
    let text = RwSignal::new(serde_json::to_string_pretty(&values).unwrap_or_default());
    let node = RwSignal::new(as_node);
    let problem = RwSignal::new(None::<String>);
    let checkpoint = StoredValue::new(checkpoint);
    let save = move || {
        let values = match parse_json(&text.get_untracked(), "The state") {
            Ok(v) => v,
            Err(e) => {
                problem.set(Some(e));
                return;
            }
        };
        let edit = StateEdit {
            values,
            checkpoint_id: Some(checkpoint.get_value()),
            as_node: Some(node.get_untracked()).filter(|n| !n.trim().is_empty()),
        };
        problem.set(None);
        spawn_local(async move {
            match state.fork(edit).await {
                Ok(()) => editing.set(false),
                Err(e) => problem.set(Some(format!(
                    "The server refused the edit: {e}. If it names an ambiguous node, fill in \"as node\"."
                ))),
            }
        });
    };
    view! {
        <div id="state-editor-box" class="detail-section editor">
            <div class="side-caption">"Edit the state here and fork"</div>
            <textarea
                id="state-editor"
                class="mono"
                rows="10"
                spellcheck="false"
                prop:value=move || text.get()
                on:input=move |e| text.set(event_target_value(&e))
                on:keydown=move |e| {
                    if e.key() == "Enter" && (e.ctrl_key() || e.meta_key()) {
                        e.prevent_default();
                        save();
                    }
                }
            ></textarea>
            <div class="editor-actions">
                <label>
                    "as node "
                    <input
                        id="edit-as-node"
                        class="mono"
                        type="text"
                        placeholder="(the checkpoint's writer)"
                        prop:value=move || node.get()
                        on:input=move |e| node.set(event_target_value(&e))
                    />
                </label>
                <span class="spacer"></span>
                <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                <button
                    id="fork-submit"
                    type="button"
                    class="primary"
                    title="Write these values as a new checkpoint after this one (Ctrl+Enter)"
                    disabled=move || state.run.forking.get()
                    on:click=move |_| save()
                >
                    {move || if state.run.forking.get() { "Forking…" } else { "Fork with this state" }}
                </button>
            </div>
            {move || problem.get().map(|p| view! { <p class="form-error">{p}</p> })}
        </div>
    }
}

/// The pending interrupts of a state: its own `interrupts`, else those of its tasks, with the
/// task's name when known.
fn interrupts_of(s: &Value) -> Vec<(Option<String>, Value)> {
    let own: Vec<(Option<String>, Value)> = s
        .get("interrupts")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter().map(|i| (None, i.get("value").cloned().unwrap_or_else(|| i.clone()))).collect()
        })
        .unwrap_or_default();
    if !own.is_empty() {
        return own;
    }
    let mut out = Vec::new();
    for task in s.get("tasks").and_then(Value::as_array).into_iter().flatten() {
        let name = task.get("name").and_then(Value::as_str).map(str::to_string);
        for i in task.get("interrupts").and_then(Value::as_array).into_iter().flatten() {
            out.push((name.clone(), i.get("value").cloned().unwrap_or_else(|| i.clone())));
        }
    }
    out
}

/// A message's text: a string, or the text blocks of a list of content blocks (other blocks as
/// JSON).
fn text_of(content: Option<&Value>) -> String {
    match content {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .map(|b| match (b.get("type").and_then(Value::as_str), b.get("text")) {
                (Some("text"), Some(Value::String(t))) => t.clone(),
                _ => b.as_str().map(str::to_string).unwrap_or_else(|| b.to_string()),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}

/// A list of messages as a chat; a tool call's result is shown in its card (and not again on
/// its own).
pub(crate) fn messages_view(list: &[Value]) -> AnyView {
    let result_of = |call_id: &str| {
        list.iter().find(|m| {
            matches!(
                m.get("type").or_else(|| m.get("role")).and_then(Value::as_str),
                Some("tool" | "ToolMessage")
            ) && m.get("tool_call_id").and_then(Value::as_str) == Some(call_id)
        })
    };
    let call_ids: std::collections::HashSet<&str> = list
        .iter()
        .filter_map(|m| m.get("tool_calls").and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("id").and_then(Value::as_str))
        .collect();
    list.iter()
        .filter(|m| {
            let answered = m.get("tool_call_id").and_then(Value::as_str);
            !answered.is_some_and(|id| call_ids.contains(id))
        })
        .map(|m| message(m, &result_of))
        .collect_view()
        .into_any()
}

/// One message of a chat (LangChain's `type` or OpenAI's `role`); `result_of` finds the tool
/// message answering a tool call.
fn message<'a>(m: &Value, result_of: &dyn Fn(&str) -> Option<&'a Value>) -> AnyView {
    let kind = m.get("type").or_else(|| m.get("role")).and_then(Value::as_str).unwrap_or("");
    let (class, label) = match kind {
        "human" | "user" | "HumanMessage" => ("human", "Human"),
        "ai" | "assistant" | "AIMessage" | "AIMessageChunk" => ("ai", "AI"),
        "tool" | "ToolMessage" => ("tool", "Tool"),
        "system" | "SystemMessage" => ("system", "System"),
        _ => ("other", "Message"),
    };
    let name = m.get("name").and_then(Value::as_str).map(str::to_string);
    let text = text_of(m.get("content"));
    let calls = m.get("tool_calls").and_then(Value::as_array).map(|calls| {
        calls
            .iter()
            .map(|c| {
                let name = c
                    .get("name")
                    .or_else(|| c.pointer("/function/name"))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                let args = c
                    .get("args")
                    .or_else(|| c.pointer("/function/arguments"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let args = match args {
                    Value::String(s) => s,
                    other => serde_json::to_string_pretty(&other).unwrap_or_default(),
                };
                let call_id = c.get("id").and_then(Value::as_str).unwrap_or("").to_string();
                let result = result_of(&call_id).map(|r| {
                    let failed = r.get("status").and_then(Value::as_str) == Some("error");
                    let text = text_of(r.get("content"));
                    let text = match serde_json::from_str::<Value>(&text) {
                        Ok(v @ (Value::Object(_) | Value::Array(_))) => {
                            serde_json::to_string_pretty(&v).unwrap_or(text)
                        }
                        _ => text,
                    };
                    view! {
                        <div class="tool-result" class:failed=failed>
                            <span class="tool-result-label">
                                {if failed { "Result (error)" } else { "Result" }}
                            </span>
                            <pre class="tool-args">{text}</pre>
                        </div>
                    }
                });
                let pending = result.is_none().then(|| {
                    view! { <div class="tool-result waiting muted">"No result yet"</div> }
                });
                let tool = name.clone();
                view! {
                    <div class="tool-call" title=call_id data-tool=tool>
                        <span class="tool-name mono">{name}</span>
                        <pre class="tool-args">{args}</pre>
                        {result}
                        {pending}
                    </div>
                }
            })
            .collect_view()
    });
    let call_of = (class == "tool")
        .then(|| m.get("tool_call_id").and_then(Value::as_str).map(str::to_string))
        .flatten();
    let failed = m.get("status").and_then(Value::as_str) == Some("error");
    view! {
        <div class=format!("msg {class}") class:failed=failed>
            <div class="msg-role">
                {label}
                {name.map(|n| view! { <span class="msg-name mono">{n}</span> })}
                {call_of.map(|c| view! { <span class="msg-call muted mono">{c}</span> })}
            </div>
            {(!text.is_empty()).then(|| view! { <div class="msg-text">{text}</div> })}
            {calls}
        </div>
    }
    .into_any()
}

/// A JSON value as a tree: objects and arrays collapsible (open to depth 2), scalars coloured.
fn json_node(key: Option<String>, v: &Value, depth: usize) -> AnyView {
    json_tree(key, v, depth, 2)
}

/// [`json_node`], with objects and arrays open down to depth `open_to`.
fn json_tree(key: Option<String>, v: &Value, depth: usize, open_to: usize) -> AnyView {
    let open = depth < open_to;
    let key_view = key.map(|k| {
        view! {
            <span class="jt-key">{k}</span>
            <span class="jt-punct">": "</span>
        }
    });
    match v {
        Value::Object(map) if !map.is_empty() => {
            let children = map
                .iter()
                .map(|(k, v)| json_tree(Some(k.clone()), v, depth + 1, open_to))
                .collect_view();
            let n = map.len();
            view! {
                <details class="jt" open=open>
                    <summary>
                        {key_view}
                        <span class="jt-punct">"{"</span>
                        <span class="jt-count">
                            {format!("{n} key{}", if n == 1 { "" } else { "s" })}
                        </span>
                    </summary>
                    <div class="jt-children">{children}</div>
                    <span class="jt-punct jt-close">"}"</span>
                </details>
            }
            .into_any()
        }
        Value::Array(list) if !list.is_empty() => {
            let children = list
                .iter()
                .enumerate()
                .map(|(i, v)| json_tree(Some(i.to_string()), v, depth + 1, open_to))
                .collect_view();
            let n = list.len();
            view! {
                <details class="jt" open=open>
                    <summary>
                        {key_view}
                        <span class="jt-punct">"["</span>
                        <span class="jt-count">
                            {format!("{n} item{}", if n == 1 { "" } else { "s" })}
                        </span>
                    </summary>
                    <div class="jt-children">{children}</div>
                    <span class="jt-punct jt-close">"]"</span>
                </details>
            }
            .into_any()
        }
        leaf => {
            let (class, text) = match leaf {
                Value::String(s) => ("jt-str", serde_json::to_string(s).unwrap_or_default()),
                Value::Number(n) => ("jt-num", n.to_string()),
                Value::Bool(b) => ("jt-bool", b.to_string()),
                Value::Null => ("jt-null", "null".to_string()),
                Value::Object(_) => ("jt-punct", "{}".to_string()),
                Value::Array(_) => ("jt-punct", "[]".to_string()),
            };
            view! {
                <div class="jt-leaf">
                    {key_view}
                    <span class=class>{text}</span>
                </div>
            }
            .into_any()
        }
    }
}
