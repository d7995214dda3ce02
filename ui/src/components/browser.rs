//! The assistants of the selected connection beside the selected assistant's graph or threads
//! (tabs), each with its loading, empty and failed states.

use leptos::prelude::*;
use orrery_api::desktop::HealthState;
use orrery_api::{Assistant, Thread};

use crate::components::graph::GraphPanel;
use crate::components::thread::ThreadPanel;
use crate::components::{ago, icons};
use crate::format::short_id;
use crate::state::{Load, Tab, use_app};

/// Assistants, and the selected one's graph or threads.
#[component]
pub fn Browser() -> impl IntoView {
    let state = use_app();
    let tab = state.graph.tab;
    let open = Memo::new(move |_| state.browse.thread.with(Option::is_some));
    let tab_button = move |which: Tab, id: &'static str, text: &'static str| {
        view! {
            <button
                id=id
                type="button"
                role="tab"
                class="tab"
                class:active=move || tab.get() == which
                aria-selected=move || if tab.get() == which { "true" } else { "false" }
                on:click=move |_| tab.set(which)
            >
                {text}
            </button>
        }
    };
    view! {
        <div class="browser">
            <Assistants />
            <div class="studio">
                <div class="tabs" role="tablist" aria-label="Assistant views">
                    {tab_button(Tab::Graph, "tab-graph", "Graph")}
                    {tab_button(Tab::Threads, "tab-threads", "Threads")}
                </div>
                {move || match tab.get() {
                    Tab::Graph => view! { <GraphPanel /> }.into_any(),
                    Tab::Threads if open.get() => view! { <ThreadPanel /> }.into_any(),
                    Tab::Threads => view! { <Threads /> }.into_any(),
                }}
            </div>
        </div>
    }
}

pub(crate) fn loading(text: &'static str) -> impl IntoView {
    view! {
        <div class="loading" role="status">
            <span class="spinner"></span>
            {text}
        </div>
    }
}

#[component]
fn Assistants() -> impl IntoView {
    let state = use_app();
    let count = move || match state.browse.assistants.get() {
        Load::Ready(list) => Some(list.len()),
        _ => None,
    };
    let starting = move || {
        state.selected_connection().is_some_and(|c| c.health.state == HealthState::Starting)
    };
    let status = move || match state.browse.assistants.get() {
        Load::Idle if starting() => {
            Some(loading("Waiting for the local runtime to start…").into_any())
        }
        Load::Idle => Some(
            view! {
                <div class="list-error idle">
                    <p>"Not loaded yet."</p>
                    <button type="button" on:click=move |_| state.load_assistants()>
                        "Load"
                    </button>
                </div>
            }
            .into_any(),
        ),
        Load::Loading => Some(loading("Loading assistants…").into_any()),
        Load::Failed(e) => Some(
            view! {
                <div class="list-error">
                    <p>{e}</p>
                    <button type="button" on:click=move |_| state.load_assistants()>
                        "Retry"
                    </button>
                </div>
            }
            .into_any(),
        ),
        Load::Ready(list) if list.is_empty() => {
            Some(view! { <p class="empty">"No assistants"</p> }.into_any())
        }
        Load::Ready(_) => None,
    };
    let items = move || match state.browse.assistants.get() {
        Load::Ready(list) => {
            list.into_iter().map(|a| view! { <AssistantItem a=a /> }).collect_view().into_any()
        }
        _ => ().into_any(),
    };
    view! {
        <section id="assistants-pane" class="pane">
            <header class="pane-head">
                <h3>"Assistants"</h3>
                <span class="count">{count}</span>
                <span class="spacer"></span>
                <button
                    id="assistants-refresh"
                    type="button"
                    class="icon-button"
                    title="Reload assistants"
                    aria-label="Reload assistants"
                    on:click=move |_| state.load_assistants()
                >
                    {icons::refresh()}
                </button>
            </header>
            <ul id="assistants" role="listbox" aria-label="Assistants">
                {items}
            </ul>
            {status}
        </section>
    }
}

#[component]
fn AssistantItem(a: Assistant) -> impl IntoView {
    let state = use_app();
    let selected = {
        let id = a.assistant_id.clone();
        move || state.browse.assistant.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let select = {
        let id = a.assistant_id.clone();
        move |_| state.select_assistant(id.clone())
    };
    let description = a.description.clone().filter(|d| !d.is_empty());
    view! {
        <li
            class="assistant"
            class:selected=selected.clone()
            data-graph=a.graph_id.clone()
            data-id=a.assistant_id.clone()
            role="option"
            aria-selected=move || if selected() { "true" } else { "false" }
            title=description
            on:click=select
        >
            <span class="assistant-name">{a.name.clone()}</span>
            <span class="graph-id mono">{a.graph_id.clone()}</span>
            <span class="assistant-version">{format!("v{}", a.version)}</span>
        </li>
    }
}

#[component]
fn Threads() -> impl IntoView {
    let state = use_app();
    let threads = state.browse.threads;
    let assistant_name = move || {
        let id = state.browse.assistant.get()?;
        state.browse.assistants.with(|l| match l {
            Load::Ready(list) => list.iter().find(|a| a.assistant_id == id).map(|a| a.name.clone()),
            _ => None,
        })
    };
    let chosen = move || state.browse.assistant.with(Option::is_some);
    let rows = move || threads.with(|t| t.items.clone());
    let status = move || {
        if !chosen() {
            return Some(
                view! { <p class="empty hint">"Select an assistant to see its threads"</p> }
                    .into_any(),
            );
        }
        threads.with(|t| {
            if t.loading {
                Some(loading("Loading threads…").into_any())
            } else if let Some(e) = &t.error {
                let e = e.clone();
                Some(
                    view! {
                        <div class="list-error">
                            <p>{e}</p>
                            <button type="button" on:click=move |_| state.load_threads(true)>
                                "Retry"
                            </button>
                        </div>
                    }
                    .into_any(),
                )
            } else if t.loaded && t.items.is_empty() {
                Some(view! { <p class="empty">"No threads yet"</p> }.into_any())
            } else if t.more {
                Some(
                    view! {
                        <button
                            id="threads-more"
                            type="button"
                            class="more"
                            on:click=move |_| state.load_threads(true)
                        >
                            "More"
                        </button>
                    }
                    .into_any(),
                )
            } else {
                None
            }
        })
    };
    view! {
        <section id="threads-pane" class="pane">
            <header class="pane-head">
                <h3>"Threads"</h3>
                <span class="count">
                    {move || threads.with(|t| (t.loaded).then(|| {
                        let n = t.items.len();
                        if t.more { format!("{n}+") } else { n.to_string() }
                    }))}
                </span>
                <span class="pane-sub">{move || assistant_name().map(|n| format!("· {n}"))}</span>
                <span class="spacer"></span>
                <button
                    id="thread-new"
                    type="button"
                    title="Create an empty thread and open it (Ctrl+T)"
                    disabled=move || !chosen()
                    on:click=move |_| state.new_thread()
                >
                    "+ New thread"
                </button>
                <button
                    id="threads-refresh"
                    type="button"
                    class="icon-button"
                    title="Reload threads"
                    aria-label="Reload threads"
                    disabled=move || !chosen()
                    on:click=move |_| state.reload_threads()
                >
                    {icons::refresh()}
                </button>
            </header>
            <div class="thread-columns" class:hidden=move || threads.with(|t| t.items.is_empty())>
                <span>"Thread"</span>
                <span>"Status"</span>
                <span>"Updated"</span>
            </div>
            <ul id="threads" role="listbox" aria-label="Threads">
                <For each=rows key=|t| t.thread_id.clone() let:t>
                    <ThreadItem t=t />
                </For>
            </ul>
            {status}
        </section>
    }
}

#[component]
fn ThreadItem(t: Thread) -> impl IntoView {
    let state = use_app();
    let selected = {
        let id = t.thread_id.clone();
        move || state.browse.thread.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let select = {
        let id = t.thread_id.clone();
        move |_| state.open_thread(id.clone())
    };
    let status = t.status.as_str();
    let updated = t.updated_at.clone();
    let updated_text = {
        let updated = updated.clone();
        move || ago(&updated, state.chrome.now.get())
    };
    view! {
        <li
            class="thread"
            class:selected=selected.clone()
            data-id=t.thread_id.clone()
            role="option"
            aria-selected=move || if selected() { "true" } else { "false" }
            on:click=select
        >
            <span class="thread-id mono" title=t.thread_id.clone()>
                {short_id(&t.thread_id).to_string()}
            </span>
            <span class=format!("status {status}")>{status}</span>
            <span class="updated" title=updated>{updated_text}</span>
        </li>
    }
}
