//! The connection list: colour, name, health and version of each; edit and remove (with an
//! in-place confirmation) for remote ones.

use leptos::prelude::*;
use orrery_api::desktop::ConnectionView;

use crate::components::{health_class, health_label, icons};
use crate::state::{FormMode, use_app};
use crate::transport::in_tauri;

/// The connections section of the sidebar.
#[component]
pub fn Connections() -> impl IntoView {
    let state = use_app();
    let ids = move || state.conns.list.with(|l| l.iter().map(|c| c.id.clone()).collect::<Vec<_>>());
    let status = move || {
        let loaded = state.conns.loaded.get();
        let empty = state.conns.list.with(Vec::is_empty);
        if !loaded {
            Some(
                view! {
                    <div class="loading">
                        <span class="spinner"></span>
                        "Loading connections…"
                    </div>
                }
                .into_any(),
            )
        } else if empty {
            let hint = if in_tauri() { "No connections" } else { "No connections (no shell)" };
            Some(view! { <p class="empty">{hint}</p> }.into_any())
        } else {
            None
        }
    };
    view! {
        <section class="side-section">
            <div class="side-head">
                <span class="side-title">"Connections"</span>
                <button
                    id="add-connection"
                    type="button"
                    class="icon-button"
                    title="Add a connection (Ctrl+N)"
                    aria-label="Add a connection"
                    on:click=move |_| state.chrome.form.set(Some(FormMode::New))
                >
                    {icons::plus()}
                </button>
            </div>
            <ul id="connections" role="listbox" aria-label="Connections">
                <For each=ids key=|id| id.clone() let:id>
                    <ConnectionItem id=id />
                </For>
            </ul>
            {status}
        </section>
    }
}

/// One connection in the list, kept up to date by id as the poll brings new health.
#[component]
fn ConnectionItem(id: String) -> impl IntoView {
    let state = use_app();
    let conn = {
        let id = id.clone();
        Memo::new(move |_| state.conns.list.with(|l| l.iter().find(|c| c.id == id).cloned()))
    };
    let get = move |f: fn(&ConnectionView) -> String| {
        move || conn.with(|c| c.as_ref().map(f).unwrap_or_default())
    };
    let local = conn.with_untracked(|c| c.as_ref().is_some_and(|c| c.local));
    let selected = {
        let id = id.clone();
        move || state.conns.selected.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let confirming = {
        let id = id.clone();
        move || state.chrome.confirm_remove.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let health = move || conn.with(|c| c.as_ref().map(|c| c.health.state).unwrap_or_default());
    let health_title = move || {
        conn.with(|c| match c {
            Some(c) => match (&c.health.error, c.health.state) {
                (Some(e), _) => e.clone(),
                (None, s) => health_label(s).to_string(),
            },
            None => String::new(),
        })
    };
    let select = {
        let id = id.clone();
        move |_| state.select_connection(id.clone())
    };
    let edit = move |ev: leptos::ev::MouseEvent| {
        ev.stop_propagation();
        if let Some(c) = conn.get_untracked() {
            state.chrome.form.set(Some(FormMode::Edit(Box::new(c))));
        }
    };
    let ask_remove = {
        let id = id.clone();
        move |ev: leptos::ev::MouseEvent| {
            ev.stop_propagation();
            state.chrome.confirm_remove.set(Some(id.clone()));
        }
    };
    let confirm_remove = {
        let id = id.clone();
        move |ev: leptos::ev::MouseEvent| {
            ev.stop_propagation();
            state.remove_connection(id.clone());
        }
    };
    let cancel_remove = move |ev: leptos::ev::MouseEvent| {
        ev.stop_propagation();
        state.chrome.confirm_remove.set(None);
    };
    let actions = (!local).then(|| {
        view! {
            <span class="row-actions">
                <button
                    type="button"
                    class="icon-button edit"
                    title="Edit connection"
                    aria-label="Edit connection"
                    on:click=edit
                >
                    {icons::edit()}
                </button>
                <button
                    type="button"
                    class="icon-button remove"
                    title="Remove connection"
                    aria-label="Remove connection"
                    on:click=ask_remove
                >
                    {icons::trash()}
                </button>
            </span>
        }
    });
    let confirm = {
        let confirming = confirming.clone();
        move || {
            confirming().then(|| {
            view! {
                <div class="confirm" role="alertdialog">
                    <span>"Remove “" {get(|c| c.name.clone())} "”?"</span>
                    <button type="button" class="danger confirm-remove" on:click=confirm_remove.clone()>
                        "Remove"
                    </button>
                    <button type="button" class="cancel-remove" on:click=cancel_remove>
                        "Cancel"
                    </button>
                </div>
            }
        })
        }
    };
    view! {
        <li
            class="connection"
            class:selected=selected.clone()
            class:local=local
            class:confirming=confirming
            data-id=id
            role="option"
            aria-selected=move || if selected() { "true" } else { "false" }
            on:click=select
        >
            <span class="chip" style=move || format!("background:{}", get(|c| c.color.clone())())></span>
            <span class="conn-text">
                <span class="conn-name">{get(|c| c.name.clone())}</span>
                <span class="conn-url">{get(|c| c.url.clone())}</span>
            </span>
            <span class="version">{get(|c| c.health.version.clone().unwrap_or_default())}</span>
            <span class=move || format!("health {}", health_class(health())) title=health_title></span>
            {actions}
            {confirm}
        </li>
    }
}
