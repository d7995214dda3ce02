//! The add / edit connection form, in a modal. The key field is write-only: the form sends a key
//! to the shell once and never shows one (the shell keeps it in the OS keychain).

use leptos::prelude::*;
use leptos::task::spawn_local;
use orrery_api::desktop::{ConnectionInput, ConnectionView};

use crate::format::{check_name, check_url};
use crate::state::{FormMode, use_app};

/// Colours offered to new connections, in turn.
const PALETTE: [&str; 7] =
    ["#2563eb", "#059669", "#d97706", "#db2777", "#0891b2", "#65a30d", "#dc2626"];

/// Whether a colour is in the `#rrggbb` form an `<input type=color>` accepts.
fn is_hex_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

/// The modal, when a form is open.
#[component]
pub fn ConnectionFormHost() -> impl IntoView {
    let state = use_app();
    move || state.chrome.form.get().map(|mode| view! { <ConnectionForm mode=mode /> })
}

#[component]
fn ConnectionForm(mode: FormMode) -> impl IntoView {
    let state = use_app();
    let editing: Option<ConnectionView> = match mode {
        FormMode::New => None,
        FormMode::Edit(c) => Some(*c),
    };
    let count = state.conns.list.with_untracked(Vec::len);
    let start_color = editing
        .as_ref()
        .map(|c| c.color.clone())
        .filter(|c| is_hex_color(c))
        .unwrap_or_else(|| PALETTE[count % PALETTE.len()].to_string());
    let name = RwSignal::new(editing.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let url = RwSignal::new(editing.as_ref().map(|c| c.url.clone()).unwrap_or_default());
    let key = RwSignal::new(String::new());
    let drop_key = RwSignal::new(false);
    let color = RwSignal::new(start_color);
    let tried = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let failure = RwSignal::new(None::<String>);
    let has_key = editing.as_ref().is_some_and(|c| c.has_key);
    let id = editing.as_ref().map(|c| c.id.clone());

    let name_error = move || if tried.get() { check_name(&name.get()) } else { None };
    let url_error = move || if tried.get() { check_url(&url.get()) } else { None };

    let name_ref = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });

    let close = move || state.chrome.form.set(None);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if saving.get_untracked() {
            return;
        }
        tried.set(true);
        let (n, u) = (name.get_untracked(), url.get_untracked());
        if check_name(&n).is_some() || check_url(&u).is_some() {
            return;
        }
        let typed = key.get_untracked();
        let api_key = if drop_key.get_untracked() {
            Some(String::new())
        } else if typed.is_empty() {
            None
        } else {
            Some(typed)
        };
        let input = ConnectionInput {
            id: id.clone(),
            name: n.trim().to_string(),
            url: u.trim().trim_end_matches('/').to_string(),
            api_key,
            color: color.get_untracked(),
        };
        saving.set(true);
        failure.set(None);
        spawn_local(async move {
            match state.save_connection(input).await {
                // The form is gone after this: touch none of its signals.
                Ok(()) => state.chrome.form.set(None),
                Err(e) => {
                    failure.set(Some(e.clone()));
                    state.report(e);
                    saving.set(false);
                }
            }
        });
    };

    let title = if editing.is_some() { "Edit connection" } else { "Add a connection" };
    let key_placeholder = if has_key {
        "A key is stored in the OS keychain; leave empty to keep it"
    } else {
        "Optional; stored in the OS keychain, never in a file"
    };
    let drop_key_box = has_key.then(|| {
        view! {
            <label class="check">
                <input
                    id="conn-key-remove"
                    type="checkbox"
                    prop:checked=move || drop_key.get()
                    on:change=move |ev| drop_key.set(event_target_checked(&ev))
                />
                "Remove the stored key"
            </label>
        }
    });

    view! {
        <div class="overlay">
            <form
                id="connection-form"
                class="dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby="connection-form-title"
                novalidate=true
                on:submit=submit
            >
                <h2 id="connection-form-title">{title}</h2>
                <div class="field">
                    <label for="conn-name">"Name"</label>
                    <input
                        id="conn-name"
                        type="text"
                        placeholder="Production"
                        node_ref=name_ref
                        aria-invalid=move || if name_error().is_some() { "true" } else { "false" }
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                    <span id="conn-name-error" class="field-error">{name_error}</span>
                </div>
                <div class="field">
                    <label for="conn-url">"URL"</label>
                    <input
                        id="conn-url"
                        type="url"
                        spellcheck="false"
                        placeholder="https://my-deployment.example.com"
                        aria-invalid=move || if url_error().is_some() { "true" } else { "false" }
                        prop:value=move || url.get()
                        on:input=move |ev| url.set(event_target_value(&ev))
                    />
                    <span id="conn-url-error" class="field-error">{url_error}</span>
                </div>
                <div class="field">
                    <label for="conn-key">"API key"</label>
                    <input
                        id="conn-key"
                        type="password"
                        autocomplete="off"
                        placeholder=key_placeholder
                        disabled=move || drop_key.get()
                        prop:value=move || key.get()
                        on:input=move |ev| key.set(event_target_value(&ev))
                    />
                    {drop_key_box}
                </div>
                <div class="field inline">
                    <label for="conn-color">"Colour"</label>
                    <input
                        id="conn-color"
                        type="color"
                        prop:value=move || color.get()
                        on:input=move |ev| color.set(event_target_value(&ev))
                    />
                </div>
                {move || failure.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <div class="dialog-actions">
                    <button id="conn-cancel" type="button" on:click=move |_| close()>
                        "Cancel"
                    </button>
                    <button id="conn-save" type="submit" class="primary" disabled=move || saving.get()>
                        {move || if saving.get() { "Saving…" } else { "Save" }}
                    </button>
                </div>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_colours_go_into_the_colour_input() {
        assert!(is_hex_color("#7c3aed"));
        assert!(!is_hex_color("red"));
        assert!(!is_hex_color("#7c3"));
        assert!(!is_hex_color("#zzzzzz"));
    }
}
