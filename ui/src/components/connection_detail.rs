//! The selected connection at a glance: health, latency, version, key, last check, and what its
//! `/info` says the server can do.

use leptos::prelude::*;
use orrery_api::desktop::{ConnectionView, HealthState};

use crate::components::{ago, health_class, health_label, icons};
use crate::format::{capabilities, latency};
use crate::state::{FormMode, use_app};

/// The header card of the main pane.
#[component]
pub fn ConnectionDetail(id: String) -> impl IntoView {
    let state = use_app();
    let conn =
        Memo::new(move |_| state.conns.list.with(|l| l.iter().find(|c| c.id == id).cloned()));
    let checking = RwSignal::new(false);
    move || {
        let Some(c) = conn.get() else {
            return view! { <p class="empty">"This connection is gone."</p> }.into_any();
        };
        view! { <Card c=c checking=checking /> }.into_any()
    }
}

#[component]
fn Card(c: ConnectionView, checking: RwSignal<bool>) -> impl IntoView {
    let state = use_app();
    let h = c.health.clone();
    let now = state.chrome.now;
    let check = {
        let id = c.id.clone();
        move |_| state.check_connection(id.clone(), checking)
    };
    let edit = (!c.local).then(|| {
        let c = c.clone();
        view! {
            <button
                id="detail-edit"
                type="button"
                on:click=move |_| state.chrome.form.set(Some(FormMode::Edit(Box::new(c.clone()))))
            >
                {icons::edit()}
                "Edit"
            </button>
        }
    });
    let key = if c.local {
        "not needed"
    } else if c.has_key {
        "in the OS keychain"
    } else {
        "none"
    };
    let checked = h.checked_at.clone();
    let checked =
        move || checked.as_deref().map(|t| ago(t, now.get())).unwrap_or_else(|| "never".into());
    let failures = (h.failures > 0 && h.state != HealthState::Up)
        .then(|| format!(" ({} failed checks in a row)", h.failures));
    let error = h.error.clone().filter(|_| h.state != HealthState::Up).map(|e| {
        view! { <div class="health-error">{e}</div> }
    });
    let caps = h.info.as_ref().map(capabilities).unwrap_or_default();
    let flags = caps
        .flags
        .into_iter()
        .map(|(name, on)| {
            let title = if on { "on" } else { "off" };
            view! { <li class="flag" class:on=on class:off=!on title=title>{name}</li> }
        })
        .collect_view();
    let facts = caps
        .facts
        .into_iter()
        .map(|(k, v)| view! { <li class="fact"><span class="k">{k}</span> <span class="v">{v}</span></li> })
        .collect_view();
    let no_info = h.info.is_none().then(|| view! { <span class="muted">"No /info yet"</span> });
    let url = if c.url.is_empty() { "—".to_string() } else { c.url.clone() };
    view! {
        <section id="connection-detail" class="card" data-id=c.id.clone()>
            <header class="card-head">
                <span class="chip big" style=format!("background:{}", c.color)></span>
                <div class="titles">
                    <h2 class="detail-name">{c.name.clone()}</h2>
                    <span class="detail-url mono">{url}</span>
                </div>
                <span class=format!("pill {}", health_class(h.state))>
                    <span class=format!("health {}", health_class(h.state))></span>
                    {health_label(h.state)}
                </span>
                <span class="spacer"></span>
                <button id="check-now" type="button" on:click=check disabled=move || checking.get()>
                    {icons::refresh()}
                    {move || if checking.get() { "Checking…" } else { "Check now" }}
                </button>
                {edit}
            </header>
            {error}
            <dl class="facts">
                <div>
                    <dt>"Health"</dt>
                    <dd class="detail-health">{health_label(h.state)} {failures}</dd>
                </div>
                <div>
                    <dt>"Latency"</dt>
                    <dd class="detail-latency">{h.latency_ms.map(latency).unwrap_or_else(|| "—".into())}</dd>
                </div>
                <div>
                    <dt>"Version"</dt>
                    <dd class="detail-version">{h.version.clone().unwrap_or_else(|| "—".into())}</dd>
                </div>
                <div>
                    <dt>"API key"</dt>
                    <dd>{key}</dd>
                </div>
                <div>
                    <dt>"Last check"</dt>
                    <dd>{checked}</dd>
                </div>
            </dl>
            <div id="capabilities">
                <span class="caps-title">"Capabilities"</span>
                <ul class="flags">{flags}</ul>
                <ul class="info-facts">{facts}</ul>
                {no_info}
            </div>
        </section>
    }
}
