//! The embedded runtime: its state (with a progress bar while it starts), where it serves and
//! keeps its data, the project folder it serves, and the tail of its log.

use leptos::prelude::*;
use leptos::task::spawn_local;
use orrery_api::desktop::{LocalRuntimeView, SidecarState};

use crate::components::sidecar_word;
use crate::state::use_app;

/// The local runtime panel.
#[component]
pub fn LocalRuntime() -> impl IntoView {
    let state = use_app();
    let rt = state.conns.local;
    let known = move || rt.with(Option::is_some);
    let field = move |f: fn(&LocalRuntimeView) -> String| {
        move || rt.with(|r| r.as_ref().map(f).unwrap_or_default())
    };
    let st = Memo::new(move |_| rt.with(|r| r.as_ref().map(|r| r.state).unwrap_or_default()));
    let busy = move || matches!(st.get(), SidecarState::Starting | SidecarState::Restarting);
    let restarts = move || {
        rt.with(|r| match r {
            Some(r) if r.restarts > 0 => Some(format!("restarted {}×", r.restarts)),
            _ => None,
        })
    };

    // The project input follows the runtime until the user types in it.
    let path = RwSignal::new(String::new());
    let dirty = RwSignal::new(false);
    Effect::new(move |_| {
        let project = rt.with(|r| r.as_ref().and_then(|r| r.project.clone()));
        if !dirty.get_untracked() {
            path.set(project.unwrap_or_default());
        }
    });
    let applying = RwSignal::new(false);
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if applying.get_untracked() {
            return;
        }
        let chosen = path.get_untracked().trim().to_string();
        let chosen = (!chosen.is_empty()).then_some(chosen);
        applying.set(true);
        spawn_local(async move {
            match state.set_project(chosen).await {
                Ok(()) => dirty.set(false),
                Err(e) => state.report(e),
            }
            applying.set(false);
        });
    };

    // The log stays scrolled to its last line as lines arrive.
    let log_open = RwSignal::new(true);
    let log_ref = NodeRef::<leptos::html::Pre>::new();
    let log_text = move || {
        rt.with(|r| match r {
            Some(r) if !r.log.is_empty() => r.log.join("\n"),
            _ => "(no output yet)".to_string(),
        })
    };
    Effect::new(move |_| {
        rt.track();
        log_open.track();
        if let Some(pre) = log_ref.get() {
            pre.set_scroll_top(pre.scroll_height());
        }
    });
    let lines = move || rt.with(|r| r.as_ref().map_or(0, |r| r.log.len()));

    view! {
        <section id="local-runtime" class="card">
            <header class="card-head">
                <h3>"Local runtime"</h3>
                <span class=move || format!("state {}", sidecar_word(st.get()))>
                    {move || if known() { sidecar_word(st.get()) } else { "unknown" }}
                </span>
                <span class="muted">{restarts}</span>
            </header>
            {move || {
                busy()
                    .then(|| {
                        view! {
                            <div
                                id="runtime-progress"
                                class="progress"
                                role="progressbar"
                                aria-label="The local runtime is starting"
                            >
                                <div class="bar"></div>
                            </div>
                        }
                    })
            }}
            <dl class="facts runtime-facts">
                <div>
                    <dt>"URL"</dt>
                    <dd class="mono runtime-url">
                        {move || {
                            let url = field(|r| r.url.clone().unwrap_or_default())();
                            if url.is_empty() { "not serving yet".to_string() } else { url }
                        }}
                    </dd>
                </div>
                <div class="wide">
                    <dt>"Data"</dt>
                    <dd class="mono runtime-data" title=field(|r| r.data_dir.clone())>
                        {field(|r| r.data_dir.clone())}
                    </dd>
                </div>
                <div>
                    <dt>"Serving"</dt>
                    <dd class="runtime-project">
                        {move || {
                            let p = field(|r| r.project.clone().unwrap_or_default())();
                            if p.is_empty() { "bundled example graphs".to_string() } else { p }
                        }}
                    </dd>
                </div>
            </dl>
            <form class="project" on:submit=apply>
                <label for="project-path">"Project folder"</label>
                <input
                    id="project-path"
                    type="text"
                    spellcheck="false"
                    placeholder="A folder with a langgraph.json (empty: the bundled example graphs)"
                    prop:value=move || path.get()
                    on:input=move |ev| {
                        dirty.set(true);
                        path.set(event_target_value(&ev));
                    }
                />
                <button id="project-apply" type="submit" disabled=move || applying.get()>
                    {move || if applying.get() { "Restarting…" } else { "Apply" }}
                </button>
            </form>
            <div class="log">
                <button
                    id="runtime-log-toggle"
                    type="button"
                    class="link"
                    aria-expanded=move || if log_open.get() { "true" } else { "false" }
                    on:click=move |_| log_open.update(|o| *o = !*o)
                >
                    {move || if log_open.get() { "▾ Log" } else { "▸ Log" }}
                    <span class="muted">{move || format!(" ({} lines)", lines())}</span>
                </button>
                <pre id="runtime-log" class:collapsed=move || !log_open.get() node_ref=log_ref>
                    {log_text}
                </pre>
            </div>
        </section>
    }
}
