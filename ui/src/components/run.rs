//! Runs from the thread view: the composer (a chat box for message states, raw JSON input,
//! config, the double-texting strategy when the thread is busy), the streaming run (nodes lit
//! in order, tokens as they arrive, cancel) and the form that resumes a pending `interrupt()`.

use leptos::ev;
use leptos::prelude::*;
use orrery_api::ThreadStatus;
use orrery_api::desktop::RunRequest;
use orrery_api::studio::RunPhase;
use serde_json::{Value, json};

use orrery_api::forms::{self, Field};

use crate::components::schema_form::{SchemaForm, Texts};
use crate::components::thread::messages_view;
use crate::state::{AppState, Load, use_app};

/// The fields of one of the selected assistant's schemas (none while they load or when the
/// server has none).
fn schema_fields(state: AppState, key: &str) -> Vec<Field> {
    state.graph.schemas.with(|s| match s {
        Load::Ready(v) => v.get(key).map(forms::fields).unwrap_or_default(),
        _ => Vec::new(),
    })
}

/// What the composer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A user message (`{"messages": [{"role": "user", "content": ...}]}`).
    Chat,
    /// Any JSON input.
    Json,
    /// A form generated from the input schema.
    Form,
}

/// Parses a JSON field, saying which field and where it is wrong.
pub fn parse_json(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

/// The config field: empty means none; otherwise a JSON object.
fn parse_config(text: &str) -> Result<Option<Value>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match parse_json(text, "The config")? {
        v @ Value::Object(_) => Ok(Some(v)),
        _ => Err("The config must be a JSON object, e.g. {\"configurable\": {...}}".into()),
    }
}

/// The last 8 characters of an id: time-ordered ids (UUIDv7) made close together share their
/// first ones.
pub fn tail(id: &str) -> &str {
    let start = id.char_indices().rev().nth(7).map(|(i, _)| i).unwrap_or(0);
    &id[start..]
}

/// Whether Ctrl+Enter (Cmd+Enter) was pressed.
fn submit_key(e: &ev::KeyboardEvent) -> bool {
    e.key() == "Enter" && (e.ctrl_key() || e.meta_key())
}

/// Whether the open thread is busy: a run started here is streaming, or the server said so.
fn thread_busy(state: AppState) -> bool {
    if state.run_in_flight() {
        return true;
    }
    let Some(id) = state.browse.thread.get() else { return false };
    state
        .browse
        .threads
        .with(|t| t.items.iter().any(|x| x.thread_id == id && x.status == ThreadStatus::Busy))
}

/// The composer at the bottom of the thread view. `chat` tells whether the state holds
/// messages (or is still empty), which makes the chat box the default.
#[component]
pub fn Composer(#[prop(into)] chat: Signal<bool>) -> impl IntoView {
    let state = use_app();
    let picked = RwSignal::new(None::<Mode>);
    let input_fields = Memo::new(move |_| schema_fields(state, "input_schema"));
    // The form only when the assistant's input schema has fields (another assistant may not).
    let mode = move || {
        match picked.get() {
            Some(Mode::Form) if input_fields.with(Vec::is_empty) => None,
            m => m,
        }
        .unwrap_or(if chat.get() { Mode::Chat } else { Mode::Json })
    };
    let text = RwSignal::new(String::new());
    let input = RwSignal::new(String::from(
        "{\n  \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]\n}",
    ));
    let config = RwSignal::new(String::new());
    let show_config = RwSignal::new(false);
    let strategy = RwSignal::new(String::from("enqueue"));
    let problem = RwSignal::new(None::<String>);
    let busy = Memo::new(move |_| thread_busy(state));
    let config_fields = Memo::new(move |_| {
        state.graph.schemas.with(|s| match s {
            Load::Ready(v) => forms::config_fields(v),
            _ => Vec::new(),
        })
    });
    let form_texts = RwSignal::new(std::collections::BTreeMap::<String, String>::new());
    let config_texts = RwSignal::new(std::collections::BTreeMap::<String, String>::new());
    let text_in = |texts: Texts| {
        move |n: &str| texts.with_untracked(|t| t.get(n).cloned().unwrap_or_default())
    };

    let send = move || {
        let body = match mode() {
            Mode::Chat => {
                let t = text.get_untracked();
                if t.trim().is_empty() {
                    problem.set(Some("Type a message first".into()));
                    return;
                }
                Ok(json!({"messages": [{"role": "user", "content": t.trim()}]}))
            }
            Mode::Json => parse_json(&input.get_untracked(), "The input"),
            Mode::Form => input_fields
                .with_untracked(|f| forms::object_of(f, text_in(form_texts)))
                .map(Value::Object),
        };
        let request = body.and_then(|input| {
            let mut config = parse_config(&config.get_untracked())?;
            // The config form's fields go into `configurable`, over the JSON's.
            // Only the fields the user touched override the assistant's config; none is
            // required here (the assistant's own values stand in).
            let fields = config_fields.with_untracked(|f| {
                let touched: Vec<Field> = config_texts.with_untracked(|t| {
                    f.iter()
                        .filter(|x| t.contains_key(&x.name))
                        .cloned()
                        .map(|mut x| {
                            x.required = false;
                            x
                        })
                        .collect()
                });
                forms::object_of(&touched, text_in(config_texts))
            })?;
            if !fields.is_empty() {
                let c = config.get_or_insert_with(|| json!({}));
                if let Some(obj) = c.as_object_mut() {
                    let slot = obj.entry("configurable").or_insert_with(|| json!({}));
                    if let Some(conf) = slot.as_object_mut() {
                        conf.extend(fields);
                    }
                }
            }
            Ok(RunRequest {
                input: Some(input),
                config,
                multitask_strategy: busy.get_untracked().then(|| strategy.get_untracked()),
                ..RunRequest::default()
            })
        });
        match request {
            Ok(request) => {
                problem.set(None);
                if mode() == Mode::Chat {
                    text.set(String::new());
                }
                state.start_run(request);
            }
            Err(e) => problem.set(Some(e)),
        }
    };
    let on_key = move |e: ev::KeyboardEvent| {
        if submit_key(&e) {
            e.prevent_default();
            send();
        }
    };
    let mode_button = move |which: Mode, id: &'static str, label: &'static str| {
        view! {
            <button
                id=id
                type="button"
                class="tab"
                class:active=move || mode() == which
                on:click=move |_| picked.set(Some(which))
            >
                {label}
            </button>
        }
    };

    view! {
        <div id="composer" class="composer" class:busy=move || busy.get()>
            <div class="composer-bar">
                <div class="tabs" role="tablist" aria-label="Input">
                    {mode_button(Mode::Chat, "composer-chat", "Chat")}
                    {mode_button(Mode::Json, "composer-json", "JSON input")}
                    {move || input_fields.with(|f| !f.is_empty()).then(|| mode_button(Mode::Form, "composer-form", "Form"))}
                </div>
                <button
                    id="composer-config"
                    type="button"
                    class="link"
                    class:on=move || show_config.get()
                    title="Run config as JSON: {\"configurable\": {...}, \"tags\": [...], \"recursion_limit\": n}"
                    on:click=move |_| show_config.update(|v| *v = !*v)
                >
                    {move || if show_config.get() { "Config ▾" } else { "Config ▸" }}
                </button>
                <label class="step-toggle" title="Pause before every node; Continue runs one node at a time (F10)">
                    <input
                        id="composer-step"
                        type="checkbox"
                        prop:checked=move || state.graph.step.get()
                        on:change=move |e| state.graph.step.set(event_target_checked(&e))
                    />
                    "Step mode"
                </label>
                {move || {
                    let n = state.graph.breakpoints.with(|m| m.len());
                    (n > 0).then(|| view! {
                        <button
                            id="composer-breakpoints"
                            type="button"
                            class="link bp-count"
                            title="Breakpoints set on the graph's nodes; click to clear them"
                            on:click=move |_| state.graph.breakpoints.set(Default::default())
                        >
                            {format!("● {n} breakpoint{} ×", if n == 1 { "" } else { "s" })}
                        </button>
                    })
                }}
                <span class="spacer"></span>
                {move || busy.get().then(|| view! {
                    <label class="strategy" title="The thread is busy: what to do with the run in progress">
                        "Busy:"
                        <select
                            id="run-strategy"
                            on:change=move |e| strategy.set(event_target_value(&e))
                            prop:value=move || strategy.get()
                        >
                            <option value="enqueue">"enqueue (after it)"</option>
                            <option value="interrupt">"interrupt it"</option>
                            <option value="rollback">"roll it back"</option>
                            <option value="reject">"reject (do nothing)"</option>
                        </select>
                    </label>
                })}
            </div>
            {move || show_config.get().then(|| view! {
                {move || {
                    let f = config_fields.get();
                    (!f.is_empty()).then(|| view! {
                        <div id="run-config-form" class="config-form">
                            <SchemaForm fields=f texts=config_texts prefix="run-cfg" />
                        </div>
                    })
                }}
                <textarea
                    id="run-config"
                    class="mono"
                    rows="3"
                    spellcheck="false"
                    placeholder="{\"configurable\": {\"user_email\": \"sam@acme.com\"}}   (empty: the assistant's config)"
                    prop:value=move || config.get()
                    on:input=move |e| config.set(event_target_value(&e))
                    on:keydown=on_key
                ></textarea>
            })}
            <div class="composer-row">
                {move || match mode() {
                    Mode::Chat => view! {
                        <textarea
                            id="chat-input"
                            rows="2"
                            placeholder="Message the assistant… (Ctrl+Enter to send)"
                            prop:value=move || text.get()
                            on:input=move |e| text.set(event_target_value(&e))
                            on:keydown=on_key
                        ></textarea>
                    }.into_any(),
                    Mode::Form => view! {
                        <div id="run-form" class="run-form">
                            <SchemaForm fields=input_fields.get() texts=form_texts prefix="in" />
                        </div>
                    }.into_any(),
                    Mode::Json => view! {
                        <textarea
                            id="run-input"
                            class="mono"
                            rows="4"
                            spellcheck="false"
                            prop:value=move || input.get()
                            on:input=move |e| input.set(event_target_value(&e))
                            on:keydown=on_key
                        ></textarea>
                    }.into_any(),
                }}
                <div class="composer-actions">
                    {move || state.run_in_flight().then(|| view! {
                        <button
                            id="run-cancel"
                            type="button"
                            title="Stop the run (what it did so far is kept)"
                            disabled=move || {
                                state.run.live.with(|r| r.as_ref().is_some_and(|r| r.cancelling))
                            }
                            on:click=move |_| state.cancel_run()
                        >
                            "Cancel"
                        </button>
                    })}
                    <button
                        id="run-send"
                        type="button"
                        class="primary"
                        title="Start a run (Ctrl+Enter)"
                        on:click=move |_| send()
                    >
                        "Send"
                    </button>
                </div>
            </div>
            {move || problem.get().map(|p| view! { <p id="composer-error" class="form-error">{p}</p> })}
        </div>
    }
}

/// The run started here: its phase, the nodes lit in order (the running one pulsing), and while
/// it streams the messages as their tokens arrive.
#[component]
pub fn LiveRunPanel() -> impl IntoView {
    let state = use_app();
    let here = move || {
        state.run.thread.get().is_some() && state.run.thread.get() == state.browse.thread.get()
    };
    move || {
        if !here() {
            return None;
        }
        let run = state.run.live.get()?;
        let phase = run.phase.clone();
        let streaming = phase.in_flight();
        let last_active = run.lit.iter().rposition(|n| run.active.iter().any(|a| a == n));
        let pills = run
            .lit
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let active = Some(i) == last_active;
                view! {
                    {(i > 0).then(|| view! { <span class="trace-arrow">"→"</span> })}
                    <span class="node-pill mono" class:active=active>{n.clone()}</span>
                }
            })
            .collect_view();
        let word = match &phase {
            RunPhase::Starting => "Starting…",
            RunPhase::Streaming if run.cancelling => "Cancelling…",
            RunPhase::Streaming => "Running",
            RunPhase::Done => "Last run finished",
            RunPhase::Interrupted if run.paused => "Paused at a breakpoint",
            RunPhase::Interrupted => "Waiting for input",
            RunPhase::Failed => "Failed",
            RunPhase::Cancelled => "Cancelled",
        };
        let error = run.error.clone().map(|e| {
            let hint = if e.contains("409") || e.to_lowercase().contains("busy") {
                " The thread is busy: send with the strategy \"interrupt\" or \"enqueue\", or cancel the run in progress."
            } else {
                ""
            };
            view! { <p id="run-error" class="form-error">{format!("{e}{hint}")}</p> }
        });
        let messages = (streaming && !run.messages.is_empty()).then(|| {
            view! { <div id="live-chat" class="chat">{messages_view(&run.messages)}</div> }
        });
        Some(view! {
            <div
                id="live-run"
                class=format!("live-run {}", phase.as_str())
                data-phase=phase.as_str()
                data-lit=run.lit_line()
            >
                <div class="live-head">
                    {streaming.then(|| view! { <span class="spinner"></span> })}
                    <span class="run-word">{word}</span>
                    {run.run_id.clone().map(|id| view! {
                        <span class="muted mono" title=id.clone()>{format!("run …{}", tail(&id))}</span>
                    })}
                    <span class="muted">{format!("{} events", run.events)}</span>
                </div>
                <div id="run-trace" class="run-trace">
                    {if run.lit.is_empty() {
                        view! { <span class="muted">"Waiting for the first node…"</span> }.into_any()
                    } else {
                        pills.into_any()
                    }}
                </div>
                {messages}
                {error}
            </div>
        })
    }
}

/// Resumes the pending `interrupt()` with a JSON value (`command: {resume: value}`).
#[component]
pub fn ResumeForm() -> impl IntoView {
    let state = use_app();
    let value = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let resume = move || {
        let text = value.get_untracked();
        if text.trim().is_empty() {
            problem.set(Some("Type the value interrupt() should return, e.g. true".into()));
            return;
        }
        match parse_json(&text, "The resume value") {
            Ok(v) => {
                problem.set(None);
                state.start_run(RunRequest { resume: Some(v), ..RunRequest::default() });
            }
            Err(e) => problem.set(Some(e)),
        }
    };
    let fill = move |text: &'static str| {
        view! {
            <button type="button" class="fill-chip mono" on:click=move |_| value.set(text.to_string())>
                {text}
            </button>
        }
    };
    view! {
        <div id="resume-form" class="resume-form">
            <label for="resume-value">"Resume with (JSON)"</label>
            <textarea
                id="resume-value"
                class="mono"
                rows="2"
                spellcheck="false"
                placeholder="true   ·   {\"approved\": true}   (Ctrl+Enter)"
                prop:value=move || value.get()
                on:input=move |e| value.set(event_target_value(&e))
                on:keydown=move |e| {
                    if submit_key(&e) {
                        e.prevent_default();
                        resume();
                    }
                }
            ></textarea>
            <div class="resume-actions">
                {fill("true")}
                {fill("false")}
                <span class="spacer"></span>
                <button
                    id="resume-submit"
                    type="button"
                    class="primary"
                    disabled=move || state.run_in_flight()
                    on:click=move |_| resume()
                >
                    "Resume"
                </button>
            </div>
            {move || problem.get().map(|p| view! { <p class="form-error">{p}</p> })}
        </div>
    }
}

/// The run paused at a breakpoint (or in step mode) with nothing to answer: Continue runs on
/// from the checkpoint with no input, with the same breakpoints.
#[component]
pub fn ContinueBar() -> impl IntoView {
    let state = use_app();
    view! {
        <div id="continue-bar" class="continue-bar">
            <span class="muted">
                {move || if state.graph.step.get() {
                    "Step mode: the run pauses before every node."
                } else {
                    "Paused: the thread goes on from here when it runs with no input."
                }}
            </span>
            <span class="spacer"></span>
            <button
                id="run-continue"
                type="button"
                class="primary"
                disabled=move || state.run_in_flight()
                title="Run on from here (F8)"
                on:click=move |_| state.continue_run()
            >
                "Continue ▶"
            </button>
        </div>
    }
}
