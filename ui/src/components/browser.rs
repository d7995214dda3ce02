//! The assistants of the selected connection beside the selected assistant's graph or threads
//! (tabs), each with its loading, empty and failed states.

use leptos::prelude::*;
use orrery_api::desktop::HealthState;
use orrery_api::{Assistant, Thread};

use crate::components::assistant::AssistantPanel;
use crate::components::graph::GraphPanel;
use crate::components::thread::ThreadPanel;
use crate::components::{ago, icons};
use crate::format::short_id;
use crate::state::{Load, Tab, use_app};
use crate::transport::THREAD_PAGE;

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
                    {tab_button(Tab::Assistant, "tab-assistant", "Assistant")}
                </div>
                {move || match tab.get() {
                    Tab::Graph => view! { <GraphPanel /> }.into_any(),
                    Tab::Threads if open.get() => view! { <ThreadPanel /> }.into_any(),
                    Tab::Threads => view! { <Threads /> }.into_any(),
                    Tab::Assistant => view! { <AssistantPanel /> }.into_any(),
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

/// The status filter's choices: (wire value, label).
const STATUSES: [(&str, &str); 5] = [
    ("", "Any status"),
    ("idle", "Idle"),
    ("busy", "Busy"),
    ("interrupted", "Interrupted"),
    ("error", "Error"),
];

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
            if t.loading && !t.loaded {
                Some(loading("Loading threads…").into_any())
            } else if let Some(e) = &t.error {
                let e = e.clone();
                Some(
                    view! {
                        <div class="list-error">
                            <p>{e}</p>
                            <button type="button" on:click=move |_| state.reload_threads()>
                                "Retry"
                            </button>
                        </div>
                    }
                    .into_any(),
                )
            } else if t.loaded && t.items.is_empty() {
                Some(view! { <p class="empty">"No threads"</p> }.into_any())
            } else {
                None
            }
        })
    };
    let search = move || state.load_threads(0);
    // "1–50 of 10,000": the page's place among the matching threads.
    let range = move || {
        threads.with(|t| {
            (t.loaded && !t.items.is_empty()).then(|| {
                let first = u64::from(t.offset) + 1;
                let last = u64::from(t.offset) + t.items.len() as u64;
                match t.total {
                    Some(n) => format!("{first}–{last} of {}", thousands(n)),
                    None => format!("{first}–{last}"),
                }
            })
        })
    };
    let has_prev = move || threads.with(|t| t.offset > 0);
    let has_next = move || {
        threads.with(|t| match t.total {
            Some(n) => u64::from(t.offset) + (t.items.len() as u64) < n,
            None => t.more,
        })
    };
    let prev = move |_| {
        let offset = threads.with_untracked(|t| t.offset.saturating_sub(THREAD_PAGE));
        state.load_threads(offset);
    };
    let next = move |_| {
        let offset = threads.with_untracked(|t| t.offset.saturating_add(THREAD_PAGE));
        state.load_threads(offset);
    };
    let last = move |_| {
        let Some(n) = threads.with_untracked(|t| t.total) else {
            return;
        };
        let page = u64::from(THREAD_PAGE);
        let offset = n.saturating_sub(1) / page * page;
        state.load_threads(u32::try_from(offset).unwrap_or(u32::MAX));
    };
    view! {
        <section id="threads-pane" class="pane">
            <header class="pane-head">
                <h3>"Threads"</h3>
                <span id="threads-count" class="count">
                    {move || threads.with(|t| t.total.map(thousands))}
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
            <form
                class="thread-filter"
                role="search"
                on:submit=move |ev| {
                    ev.prevent_default();
                    search();
                }
            >
                <select
                    id="threads-status"
                    aria-label="Status"
                    prop:value=move || state.browse.status_filter.get()
                    on:change=move |ev| {
                        state.browse.status_filter.set(event_target_value(&ev));
                        search();
                    }
                >
                    {STATUSES
                        .iter()
                        .map(|(value, label)| view! { <option value=*value>{*label}</option> })
                        .collect_view()}
                </select>
                <input
                    id="threads-meta"
                    type="search"
                    class="mono"
                    placeholder="metadata: key=value …"
                    aria-label="Metadata filter, key=value pairs"
                    prop:value=move || state.browse.meta_filter.get()
                    on:input=move |ev| state.browse.meta_filter.set(event_target_value(&ev))
                />
                <button id="threads-search" type="submit" disabled=move || !chosen()>
                    "Search"
                </button>
            </form>
            <div class="thread-columns" class:hidden=move || threads.with(|t| t.items.is_empty())>
                <span>"Thread"</span>
                <span>"Status"</span>
                <span>"Updated"</span>
                <span></span>
            </div>
            <ul
                id="threads"
                role="listbox"
                aria-label="Threads"
                aria-busy=move || if threads.with(|t| t.loading) { "true" } else { "false" }
            >
                <For each=rows key=|t| t.thread_id.clone() let:t>
                    <ThreadItem t=t />
                </For>
            </ul>
            {status}
            <nav class="pager" aria-label="Thread pages" class:hidden=move || !has_prev() && !has_next()>
                <button
                    id="threads-first"
                    type="button"
                    disabled=move || !has_prev()
                    on:click=move |_| state.load_threads(0)
                >
                    "« First"
                </button>
                <button id="threads-prev" type="button" disabled=move || !has_prev() on:click=prev>
                    "‹ Prev"
                </button>
                <span id="threads-range" class="range">{range}</span>
                <button id="threads-next" type="button" disabled=move || !has_next() on:click=next>
                    "Next ›"
                </button>
                <button
                    id="threads-last"
                    type="button"
                    disabled=move || !has_next() || threads.with(|t| t.total.is_none())
                    on:click=last
                >
                    "Last »"
                </button>
            </nav>
        </section>
    }
}

/// 10000 as "10,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    let confirming = {
        let id = t.thread_id.clone();
        move || state.browse.confirm_delete.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let status = t.status.as_str();
    let updated = t.updated_at.clone();
    let updated_text = {
        let updated = updated.clone();
        move || ago(&updated, state.chrome.now.get())
    };
    let id = t.thread_id.clone();
    let actions = move || {
        let id = id.clone();
        if confirming() {
            let yes = id.clone();
            view! {
                <span class="thread-actions confirm" on:click=|ev| ev.stop_propagation()>
                    "Delete?"
                    <button
                        type="button"
                        class="thread-delete-confirm danger"
                        on:click=move |_| state.delete_thread(yes.clone())
                    >
                        "Delete"
                    </button>
                    <button
                        type="button"
                        class="thread-delete-cancel"
                        on:click=move |_| state.browse.confirm_delete.set(None)
                    >
                        "Keep"
                    </button>
                </span>
            }
            .into_any()
        } else {
            let copy = id.clone();
            view! {
                <span class="thread-actions" on:click=|ev| ev.stop_propagation()>
                    <button
                        type="button"
                        class="thread-copy"
                        title="Copy this thread (metadata and checkpoints) into a new one"
                        on:click=move |_| state.copy_thread(copy.clone())
                    >
                        "Copy"
                    </button>
                    <button
                        type="button"
                        class="thread-delete"
                        title="Delete this thread"
                        on:click=move |_| state.browse.confirm_delete.set(Some(id.clone()))
                    >
                        "Delete"
                    </button>
                </span>
            }
            .into_any()
        }
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
            {actions}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
