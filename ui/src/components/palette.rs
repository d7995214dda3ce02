//! The command palette (Ctrl+K or Ctrl+Shift+P): every common move by name, with its
//! shortcut; type to filter (every word must match), ↑/↓ to choose, Enter to run, Escape to
//! close. The selected connection's assistants are listed too, to jump to one.

use leptos::ev;
use leptos::prelude::*;

use crate::state::{AppState, FormMode, Load, Tab, use_app};
use crate::theme;

/// What a command does.
#[derive(Clone)]
enum Action {
    Run(fn(AppState)),
    Assistant(String),
}

/// One entry of the palette.
#[derive(Clone)]
struct Command {
    label: String,
    keys: &'static str,
    action: Action,
}

fn fixed(label: &str, keys: &'static str, f: fn(AppState)) -> Command {
    Command { label: label.to_string(), keys, action: Action::Run(f) }
}

/// Switches between the light and dark themes (and remembers the choice).
pub fn toggle_theme(state: AppState) {
    let dark = !state.chrome.dark.get_untracked();
    state.chrome.dark.set(dark);
    theme::choose(dark);
}

fn commands(state: AppState) -> Vec<Command> {
    let mut list = vec![
        fixed("New thread", "Ctrl+T", |s| s.new_thread()),
        fixed("Go to the graph", "Alt+1", |s| s.graph.tab.set(Tab::Graph)),
        fixed("Go to the threads", "Alt+2", |s| s.graph.tab.set(Tab::Threads)),
        fixed("Go to the assistant editor", "Alt+3", |s| s.graph.tab.set(Tab::Assistant)),
        fixed("Show or hide the graph beside the thread", "Ctrl+G", |s| {
            s.graph.beside.update(|b| *b = !*b)
        }),
        fixed("Show the thread's runs and event logs", "", |s| {
            s.thread.show_runs.update(|b| *b = !*b)
        }),
        fixed("Step mode on or off (pause before every node)", "F10", |s| {
            s.graph.step.update(|b| *b = !*b)
        }),
        fixed("Continue the paused run", "F8", |s| s.continue_run()),
        fixed("Cancel the run", "", |s| s.cancel_run()),
        fixed("Clear all breakpoints", "", |s| s.graph.breakpoints.set(Default::default())),
        fixed("Expand or collapse subgraphs (xray)", "", |s| {
            s.graph.xray.update(|x| *x = !*x);
            s.load_graph();
        }),
        fixed("Reload the threads", "", |s| s.reload_threads()),
        fixed("Reload the assistants", "", |s| s.load_assistants()),
        fixed("Back to the thread list", "Esc", |s| s.close_thread()),
        fixed("Add a connection", "Ctrl+N", |s| s.chrome.form.set(Some(FormMode::New))),
        fixed("Switch the theme (light / dark)", "Ctrl+Shift+L", toggle_theme),
    ];
    state.browse.assistants.with_untracked(|l| {
        if let Load::Ready(assistants) = l {
            for a in assistants {
                list.push(Command {
                    label: format!("Assistant: {} ({})", a.name, a.graph_id),
                    keys: "",
                    action: Action::Assistant(a.assistant_id.clone()),
                });
            }
        }
    });
    list
}

/// Whether every word of the query is in the label (case-insensitive).
fn matches(label: &str, query: &str) -> bool {
    let label = label.to_lowercase();
    query.split_whitespace().all(|w| label.contains(&w.to_lowercase()))
}

fn run(state: AppState, c: &Command) {
    state.chrome.palette.set(false);
    match &c.action {
        Action::Run(f) => f(state),
        Action::Assistant(id) => state.select_assistant(id.clone()),
    }
}

/// The palette, when open.
#[component]
pub fn Palette() -> impl IntoView {
    let state = use_app();
    move || state.chrome.palette.get().then(|| view! { <PaletteBox /> })
}

#[component]
fn PaletteBox() -> impl IntoView {
    let state = use_app();
    let all = commands(state);
    let query = RwSignal::new(String::new());
    let at = RwSignal::new(0usize);
    let shown = {
        let all = all.clone();
        Memo::new(move |_| {
            let q = query.get();
            all.iter()
                .enumerate()
                .filter(|(_, c)| matches(&c.label, &q))
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        })
    };
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    let pick = {
        let all = all.clone();
        move |i: usize| {
            if let Some(c) = all.get(i) {
                run(state, c);
            }
        }
    };
    let on_key = {
        let pick = pick.clone();
        move |e: ev::KeyboardEvent| match e.key().as_str() {
            "ArrowDown" => {
                e.prevent_default();
                let n = shown.with_untracked(Vec::len);
                at.update(|a| *a = if n == 0 { 0 } else { (*a + 1) % n });
            }
            "ArrowUp" => {
                e.prevent_default();
                let n = shown.with_untracked(Vec::len);
                at.update(|a| *a = if n == 0 { 0 } else { (*a + n - 1) % n });
            }
            "Enter" => {
                e.prevent_default();
                if let Some(i) = shown.with_untracked(|s| s.get(at.get_untracked()).copied()) {
                    pick(i);
                }
            }
            "Escape" => {
                e.prevent_default();
                e.stop_propagation();
                state.chrome.palette.set(false);
            }
            _ => {}
        }
    };
    let rows = move || {
        shown
            .get()
            .into_iter()
            .enumerate()
            .map(|(row, i)| {
                let c = all[i].clone();
                let pick = pick.clone();
                view! {
                    <li
                        class="palette-item"
                        class:active=move || at.get() == row
                        role="option"
                        aria-selected=move || if at.get() == row { "true" } else { "false" }
                        on:mousemove=move |_| at.set(row)
                        on:click=move |_| pick(i)
                    >
                        <span class="palette-label">{c.label.clone()}</span>
                        {(!c.keys.is_empty()).then(|| view! { <kbd>{c.keys}</kbd> })}
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <div class="palette-backdrop" on:click=move |_| state.chrome.palette.set(false)>
            <div
                id="palette"
                class="palette"
                role="dialog"
                aria-label="Command palette"
                on:click=|e| e.stop_propagation()
            >
                <input
                    id="palette-input"
                    node_ref=input
                    type="text"
                    placeholder="Type a command…"
                    autocomplete="off"
                    prop:value=move || query.get()
                    on:input=move |e| {
                        query.set(event_target_value(&e));
                        at.set(0);
                    }
                    on:keydown=on_key
                />
                <ul id="palette-list" role="listbox">{rows}</ul>
                {move || shown.with(Vec::is_empty).then(|| view! { <p class="muted empty">"No command matches"</p> })}
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn every_word_must_match() {
        assert!(matches("Step mode on or off", "step"));
        assert!(matches("Step mode on or off", "MODE st"));
        assert!(matches("anything", ""));
        assert!(!matches("New thread", "new graph"));
    }
}
