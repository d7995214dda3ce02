//! The assistant editor (the Assistant tab): name, description and the configurable fields
//! generated from the graph's config schema; save a new version, save as a new assistant,
//! delete; the versions, with a diff between any two and "make current" to roll back.

use leptos::prelude::*;
use leptos::task::spawn_local;
use orrery_api::desktop::AssistantDraft;
use orrery_api::forms;
use orrery_api::studio;
use orrery_api::{Assistant, AssistantVersion};
use serde_json::{Map, Value, json};

use crate::components::ago;
use crate::components::browser::loading;
use crate::components::schema_form::{SchemaForm, texts_from};
use crate::state::{Load, use_app};

/// Whether the server made this assistant for its graph (LangGraph's `created_by: system`).
pub fn is_system(metadata: &Map<String, Value>) -> bool {
    metadata.get("created_by").and_then(Value::as_str) == Some("system")
}

/// A JSON object typed in a field (empty: `{}`); `what` names the field in the error.
fn json_object(text: &str, what: &str) -> Result<Map<String, Value>, String> {
    match text.trim() {
        "" => Ok(Map::new()),
        t => match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(_) => Err(format!("{what} must be a JSON object")),
            Err(e) => Err(format!("{what} is not valid JSON: {e}")),
        },
    }
}

/// The editor of the selected assistant.
#[component]
pub fn AssistantPanel() -> impl IntoView {
    let state = use_app();
    // Rebuilt when another assistant (or another version of it) is selected.
    let selected = Memo::new(move |_| {
        let id = state.browse.assistant.get()?;
        state.browse.assistants.with(|l| match l {
            Load::Ready(list) => list.iter().find(|a| a.assistant_id == id).cloned(),
            _ => None,
        })
    });
    let schemas_ready = Memo::new(move |_| match state.graph.schemas.get() {
        Load::Ready(v) => Some(v),
        Load::Failed(_) => Some(Value::Null),
        _ => None,
    });
    move || {
        let Some(a) = selected.get() else {
            return view! { <p class="empty hint">"Select an assistant to edit it"</p> }.into_any();
        };
        let Some(schemas) = schemas_ready.get() else {
            return loading("Loading the assistant's schemas…").into_any();
        };
        view! {
            <div id="assistant-view" class="assistant-view" data-id=a.assistant_id.clone() data-version=a.version>
                <Editor a=a.clone() schemas=schemas />
                <Versions current=a.version />
            </div>
        }
        .into_any()
    }
}

#[component]
fn Editor(a: Assistant, schemas: Value) -> impl IntoView {
    let state = use_app();
    let system = is_system(&a.metadata);
    let fields = forms::config_fields(&schemas);
    let configurable = a
        .config
        .get("configurable")
        .and_then(Value::as_object)
        .cloned()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| a.context.clone());
    let texts = RwSignal::new(texts_from(&fields, Some(&configurable)));
    let name = RwSignal::new(a.name.clone());
    let description = RwSignal::new(a.description.clone().unwrap_or_default());
    // The rest of the config (tags, recursion_limit, configurable keys the schema lacks).
    let mut rest = a.config.clone();
    let mut extra = configurable.clone();
    extra.retain(|k, _| !fields.iter().any(|f| &f.name == k));
    if extra.is_empty() {
        rest.remove("configurable");
    } else {
        rest.insert("configurable".into(), Value::Object(extra));
    }
    let rest_text = RwSignal::new(if rest.is_empty() {
        String::new()
    } else {
        serde_json::to_string_pretty(&rest).unwrap_or_default()
    });
    let metadata_text =
        RwSignal::new(serde_json::to_string_pretty(&a.metadata).unwrap_or_default());
    let problem = RwSignal::new(None::<String>);
    let graph_id = a.graph_id.clone();
    let draft = {
        let fields = fields.clone();
        move || -> Result<AssistantDraft, String> {
            let form = forms::object_of(&fields, |n| {
                texts.with_untracked(|t| t.get(n).cloned().unwrap_or_default())
            })?;
            let mut config = json_object(&rest_text.get_untracked(), "Other config")?;
            let mut configurable = config
                .remove("configurable")
                .and_then(|c| match c {
                    Value::Object(o) => Some(o),
                    _ => None,
                })
                .unwrap_or_default();
            configurable.extend(form);
            let metadata = Value::Object(json_object(&metadata_text.get_untracked(), "Metadata")?);
            // `config.configurable` only: the server mirrors it into `context` (sending both
            // is a 400 on LangGraph Server).
            config.insert("configurable".into(), Value::Object(configurable));
            Ok(AssistantDraft {
                graph_id: graph_id.clone(),
                name: name.get_untracked(),
                description: description.get_untracked(),
                config: Value::Object(config),
                context: None,
                metadata,
            })
        }
    };
    let save = move |as_new: bool| {
        let d = match draft() {
            Ok(mut d) => {
                if as_new {
                    // A copy is the user's own, not the server's graph default.
                    if let Some(m) = d.metadata.as_object_mut() {
                        m.remove("created_by");
                    }
                    if d.name.trim() == a.name {
                        d.name = format!("{} (copy)", d.name.trim());
                    }
                }
                d
            }
            Err(e) => {
                problem.set(Some(e));
                return;
            }
        };
        problem.set(None);
        spawn_local(async move {
            if let Err(e) = state.save_assistant(d, as_new).await {
                problem.set(Some(e));
            }
        });
    };
    let save_new = save.clone();
    let busy = state.edit.busy;
    view! {
        <section id="assistant-editor" class="pane assistant-editor">
            <header class="pane-head">
                <h3>"Assistant"</h3>
                <span class="pane-sub mono">{format!("{} · v{}", a.graph_id, a.version)}</span>
                {system.then(|| view! {
                    <span class="badge" title="Made by the server for its graph: save a copy to change it">"graph default"</span>
                })}
            </header>
            <form class="assistant-form" on:submit=move |e| e.prevent_default()>
                <div class="schema-field">
                    <label for="assistant-name">"Name"</label>
                    <input
                        id="assistant-name"
                        type="text"
                        prop:value=move || name.get()
                        on:input=move |e| name.set(event_target_value(&e))
                    />
                </div>
                <div class="schema-field">
                    <label for="assistant-description">"Description"</label>
                    <input
                        id="assistant-description"
                        type="text"
                        prop:value=move || description.get()
                        on:input=move |e| description.set(event_target_value(&e))
                    />
                </div>
                <div class="caps-title">"Configuration"</div>
                <SchemaForm fields=fields texts=texts prefix="cfg" />
                <details class="advanced">
                    <summary>"Other config and metadata (JSON)"</summary>
                    <label for="assistant-config-rest">"Other config (tags, recursion_limit, …)"</label>
                    <textarea
                        id="assistant-config-rest"
                        class="mono"
                        rows="3"
                        spellcheck="false"
                        placeholder="{\"recursion_limit\": 25}"
                        prop:value=move || rest_text.get()
                        on:input=move |e| rest_text.set(event_target_value(&e))
                    ></textarea>
                    <label for="assistant-metadata">"Metadata"</label>
                    <textarea
                        id="assistant-metadata"
                        class="mono"
                        rows="3"
                        spellcheck="false"
                        prop:value=move || metadata_text.get()
                        on:input=move |e| metadata_text.set(event_target_value(&e))
                    ></textarea>
                </details>
                <div class="form-actions">
                    <button
                        id="assistant-save"
                        type="button"
                        class="primary"
                        disabled=move || system || busy.get()
                        title=if system {
                            "The graph's default assistant is the server's: save a copy to change it"
                        } else {
                            "Save these settings as the assistant's next version (it becomes the current one)"
                        }
                        on:click=move |_| save(false)
                    >
                        "Save version"
                    </button>
                    <button
                        id="assistant-save-new"
                        type="button"
                        class:primary=system
                        disabled=move || busy.get()
                        title="Create a new assistant of the same graph with these settings"
                        on:click=move |_| save_new(true)
                    >
                        "Save as new assistant"
                    </button>
                    <span class="spacer"></span>
                    <DeleteButton system=system />
                </div>
                {move || problem.get().map(|p| view! { <p id="assistant-error" class="form-error">{p}</p> })}
                {move || state.edit.notice.get().map(|n| view! { <p id="assistant-notice" class="notice">{n}</p> })}
            </form>
        </section>
    }
}

#[component]
fn DeleteButton(system: bool) -> impl IntoView {
    let state = use_app();
    let confirm = state.edit.confirm_delete;
    move || {
        if confirm.get() {
            view! {
                <span class="confirm">
                    "Delete this assistant (its threads stay)?"
                    <button
                        id="assistant-delete-confirm"
                        type="button"
                        class="danger"
                        on:click=move |_| state.delete_assistant()
                    >
                        "Delete"
                    </button>
                    <button type="button" on:click=move |_| confirm.set(false)>"Keep"</button>
                </span>
            }
            .into_any()
        } else {
            view! {
                <button
                    id="assistant-delete"
                    type="button"
                    class="danger-outline"
                    disabled=system
                    title=if system { "The graph's default assistant cannot be deleted" } else { "Delete this assistant" }
                    on:click=move |_| confirm.set(true)
                >
                    "Delete"
                </button>
            }
            .into_any()
        }
    }
}

/// What a version says, as one JSON value, for the diff.
fn version_json(v: &AssistantVersion) -> Value {
    json!({
        "name": v.name,
        "description": v.description,
        "graph_id": v.graph_id,
        "config": v.config,
        "context": v.context,
        "metadata": v.metadata,
    })
}

#[component]
fn Versions(current: i64) -> impl IntoView {
    let state = use_app();
    // The two versions compared: (older, newer) by default the current one and the one before.
    let left = RwSignal::new(None::<i64>);
    let right = RwSignal::new(None::<i64>);
    let list = move || match state.edit.versions.get() {
        Load::Ready(l) => l,
        _ => Vec::new(),
    };
    let pick = move |l: &[AssistantVersion]| {
        let r = right.get().or(Some(current));
        let l_default = l.iter().map(|v| v.version).filter(|v| Some(*v) != r).max();
        (left.get().or(l_default), r)
    };
    let diff = move || {
        let l = list();
        let (a, b) = pick(&l);
        let find = |n: Option<i64>| l.iter().find(|v| Some(v.version) == n);
        let (Some(a), Some(b)) = (find(a), find(b)) else { return None };
        let changes = studio::diff(&version_json(a), &version_json(b));
        let rows = changes
            .iter()
            .map(|c| {
                let show = |v: &Option<Value>| {
                    v.as_ref().map(|v| match v {
                        Value::String(s) => s.clone(),
                        v => v.to_string(),
                    })
                };
                view! {
                    <li class=format!("change {}", c.kind())>
                        <span class="change-kind">{c.kind()}</span>
                        <span class="change-path mono">{c.path.clone()}</span>
                        <span class="change-old">{show(&c.old)}</span>
                        <span class="change-new">{show(&c.new)}</span>
                    </li>
                }
            })
            .collect_view();
        Some(view! {
            <div id="version-diff" class="detail-section" data-from=a.version data-to=b.version>
                <div class="side-caption">{format!("v{} → v{}", a.version, b.version)}</div>
                {if changes.is_empty() {
                    view! { <p class="muted">"The two versions are the same"</p> }.into_any()
                } else {
                    view! { <ul class="diff">{rows}</ul> }.into_any()
                }}
            </div>
        })
    };
    let rows = move || {
        let l = list();
        let (a, b) = pick(&l);
        l.into_iter()
            .map(|v| {
                let n = v.version;
                let is_current = n == current;
                view! {
                    <li class="version" class:current=is_current data-version=n>
                        <span class="version-no mono">{format!("v{n}")}</span>
                        <span class="muted" title=v.created_at.clone()>
                            {ago(&v.created_at, state.chrome.now.get_untracked())}
                        </span>
                        {is_current.then(|| view! { <span class="badge">"current"</span> })}
                        <span class="spacer"></span>
                        <label class="pick" title="Compare from this version">
                            <input type="radio" name="diff-from" class="diff-from" prop:checked=Some(n) == a on:change=move |_| left.set(Some(n)) />
                            "from"
                        </label>
                        <label class="pick" title="Compare to this version">
                            <input type="radio" name="diff-to" class="diff-to" prop:checked=Some(n) == b on:change=move |_| right.set(Some(n)) />
                            "to"
                        </label>
                        <button
                            type="button"
                            class="version-set-latest"
                            disabled=move || is_current || state.edit.busy.get()
                            title="Make this version the current one (roll back or forward)"
                            on:click=move |_| state.set_latest(n)
                        >
                            "Make current"
                        </button>
                    </li>
                }
            })
            .collect_view()
    };
    let status = move || match state.edit.versions.get() {
        Load::Loading => Some(loading("Loading versions…").into_any()),
        Load::Failed(e) => Some(view! { <p class="form-error">{e}</p> }.into_any()),
        Load::Ready(l) if l.is_empty() => {
            Some(view! { <p class="muted">"No versions"</p> }.into_any())
        }
        _ => None,
    };
    view! {
        <section id="assistant-versions-pane" class="pane versions">
            <header class="pane-head">
                <h3>"Versions"</h3>
                <span class="count">{move || state.edit.versions.with(|v| match v { Load::Ready(l) => Some(l.len()), _ => None })}</span>
            </header>
            <ul id="assistant-versions">{rows}</ul>
            {status}
            {diff}
        </section>
    }
}
