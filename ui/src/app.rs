//! The root component: provides the state, polls the shell, handles the keyboard, lays out the
//! window (sidebar + main pane).

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use orrery_api::desktop::{HealthState, LOCAL_CONNECTION};

use crate::components::banner::Banners;
use crate::components::browser::Browser;
use crate::components::connection_detail::ConnectionDetail;
use crate::components::connection_form::ConnectionFormHost;
use crate::components::icons;
use crate::components::local_runtime::LocalRuntime;
use crate::components::palette::{Palette, toggle_theme};
use crate::components::sidebar::Connections;
use crate::state::{AppState, FormMode, Load, Tab, use_app};
use crate::theme;
use crate::transport::{self, in_tauri};

/// How often the connections and the local runtime are asked for again.
const POLL: Duration = Duration::from_millis(1500);

/// The application.
#[component]
pub fn App() -> impl IntoView {
    let dark = theme::initial_dark();
    theme::apply(dark);
    let state = AppState::provide(dark);

    if in_tauri() {
        spawn_local(async move {
            let text = transport::shell_version().await.unwrap_or_else(|e| format!("shell: {e}"));
            state.chrome.shell.set(text);
        });
        state.refresh();
        match set_interval_with_handle(move || state.refresh(), POLL) {
            Ok(handle) => on_cleanup(move || handle.clear()),
            Err(_) => state.report("Cannot start the status poll: health will not update".into()),
        }
    } else {
        state.conns.loaded.set(true);
        state.chrome.shell.set("browser".into());
    }

    reload_when_up(state);
    keyboard(state);

    let toggle_theme = move |_| toggle_theme(state);

    view! {
        <div id="app">
            <nav id="sidebar">
                <header id="app-header">
                    <span class="logo" aria-hidden="true"></span>
                    <h1 id="title">"Orrery"</h1>
                    <span class="spacer"></span>
                    <button
                        id="theme-toggle"
                        type="button"
                        class="icon-button"
                        title=move || {
                            if state.chrome.dark.get() {
                                "Switch to the light theme"
                            } else {
                                "Switch to the dark theme"
                            }
                        }
                        aria-label="Toggle the theme"
                        on:click=toggle_theme
                    >
                        {move || {
                            if state.chrome.dark.get() {
                                icons::sun().into_any()
                            } else {
                                icons::moon().into_any()
                            }
                        }}
                    </button>
                </header>
                <Connections />
                <footer class="side-foot">
                    <span id="shell" class="muted">
                        {move || state.chrome.shell.get()}
                    </span>
                    <span class="keys muted" title="Keyboard">
                        "Ctrl+K commands · Ctrl+T new thread · Ctrl+Enter send"
                    </span>
                </footer>
            </nav>
            <main id="main">
                <Banners />
                <MainPane />
            </main>
            <ConnectionFormHost />
            <Palette />
        </div>
    }
}

/// The selected connection: detail card, the local runtime panel for the local one, then its
/// assistants and threads.
#[component]
fn MainPane() -> impl IntoView {
    let state = use_app();
    let selected = Memo::new(move |_| state.conns.selected.get());
    // An open thread is a workspace of its own: the connection's cards make room for it.
    let focus = Memo::new(move |_| state.browse.thread.with(Option::is_some));
    move || match selected.get() {
        Some(id) => {
            let cards = move || {
                (!focus.get()).then(|| {
                    let local = (id == LOCAL_CONNECTION).then(|| view! { <LocalRuntime /> });
                    view! {
                        <ConnectionDetail id=id.clone() />
                        {local}
                    }
                })
            };
            view! {
                <div class="content" class:focus=move || focus.get()>
                    {cards}
                    <Browser />
                </div>
            }
            .into_any()
        }
        None => view! { <Welcome /> }.into_any(),
    }
}

/// What the main pane shows with no connection selected.
#[component]
fn Welcome() -> impl IntoView {
    let state = use_app();
    move || {
        if in_tauri() && !state.conns.loaded.get() {
            view! {
                <div class="welcome">
                    <div class="loading">
                        <span class="spinner"></span>
                        "Asking the shell for connections…"
                    </div>
                </div>
            }
            .into_any()
        } else {
            view! {
                <div class="welcome">
                    <h2>"No connection selected"</h2>
                    <p class="muted">
                        "Add a deployment with the + button (Ctrl+N), or pick a connection on the left."
                    </p>
                </div>
            }
            .into_any()
        }
    }
}

/// When the selected connection is up and its assistants were never loaded (it was starting
/// when selected), loads them; when it comes back up after a failed load, loads them again.
fn reload_when_up(state: AppState) {
    let health = Memo::new(move |_| {
        state.conns.selected.get().and_then(|id| {
            state.conns.list.with(|l| l.iter().find(|c| c.id == id).map(|c| (id, c.health.state)))
        })
    });
    Effect::new(move |previous: Option<Option<(String, HealthState)>>| {
        let now = health.get();
        if let Some((id, HealthState::Up)) = &now {
            let came_up = matches!(&previous, Some(Some((was_id, was)))
                if was_id == id && *was != HealthState::Up);
            let reload = match state.browse.assistants.get_untracked() {
                Load::Idle => true,
                Load::Failed(_) => came_up,
                Load::Loading | Load::Ready(_) => false,
            };
            if reload {
                state.load_assistants();
            }
        }
        now
    });
}

/// Ctrl+N / Cmd+N opens the form, Escape closes what is open, the arrows move the selection
/// in the connection list (unless the focus is in a text field).
fn keyboard(state: AppState) {
    let handle = window_event_listener(ev::keydown, move |e| {
        let key = e.key();
        let ctrl = e.ctrl_key() || e.meta_key();
        if (ctrl && key.eq_ignore_ascii_case("k"))
            || (ctrl && e.shift_key() && key.eq_ignore_ascii_case("p"))
        {
            e.prevent_default();
            state.chrome.palette.update(|p| *p = !*p);
            return;
        }
        if state.chrome.palette.get_untracked() {
            return; // the palette's own field handles its keys
        }
        if ctrl && e.shift_key() && key.eq_ignore_ascii_case("l") {
            e.prevent_default();
            toggle_theme(state);
            return;
        }
        if e.alt_key() && matches!(key.as_str(), "1" | "2" | "3") {
            e.prevent_default();
            state.graph.tab.set(match key.as_str() {
                "1" => Tab::Graph,
                "2" => Tab::Threads,
                _ => Tab::Assistant,
            });
            return;
        }
        if key == "F8" {
            e.prevent_default();
            state.continue_run();
            return;
        }
        if key == "F10" {
            e.prevent_default();
            state.graph.step.update(|s| *s = !*s);
            return;
        }
        if (e.ctrl_key() || e.meta_key()) && key.eq_ignore_ascii_case("n") {
            e.prevent_default();
            if state.chrome.form.get_untracked().is_none() {
                state.chrome.form.set(Some(FormMode::New));
            }
            return;
        }
        if (e.ctrl_key() || e.meta_key()) && key.eq_ignore_ascii_case("g") {
            e.prevent_default();
            state.graph.beside.update(|b| *b = !*b);
            return;
        }
        if (e.ctrl_key() || e.meta_key()) && key.eq_ignore_ascii_case("t") {
            e.prevent_default();
            state.new_thread();
            return;
        }
        match key.as_str() {
            "Escape" if typing() => {
                // Leave the field first; a second Escape goes back.
                if let Some(el) = document().active_element()
                    && let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el)
                {
                    let _ = el.blur();
                }
            }
            "Escape" => {
                if state.chrome.form.get_untracked().is_some() {
                    state.chrome.form.set(None);
                } else if state.chrome.confirm_remove.get_untracked().is_some() {
                    state.chrome.confirm_remove.set(None);
                } else if state.graph.node.get_untracked().is_some() {
                    state.graph.node.set(None);
                } else if state.browse.thread.get_untracked().is_some() {
                    state.close_thread();
                }
            }
            "ArrowUp" | "ArrowDown" => {
                if state.chrome.form.get_untracked().is_some() || typing() {
                    return;
                }
                e.prevent_default();
                state.move_selection(if key == "ArrowUp" { -1 } else { 1 });
            }
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
}

/// Whether the focus is in a text field (where the arrows belong to the field).
fn typing() -> bool {
    document().active_element().is_some_and(|el| {
        matches!(el.tag_name().to_ascii_uppercase().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
    })
}
