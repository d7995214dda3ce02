//! The banners at the top of the main pane: the last failed command (dismissible) and, in a
//! plain browser, the notice that there is no shell to talk to.

use leptos::prelude::*;

use crate::components::icons;
use crate::state::use_app;
use crate::transport::{NOT_IN_SHELL, in_tauri};

/// Both banners.
#[component]
pub fn Banners() -> impl IntoView {
    let state = use_app();
    let outside = (!in_tauri()).then(|| {
        view! {
            <div id="not-in-shell" class="banner warn" role="status">
                {NOT_IN_SHELL}
            </div>
        }
    });
    let error = move || {
        state.chrome.error.get().map(|message| {
            view! {
                <div id="error" class="banner error" role="alert">
                    <span class="message">{message}</span>
                    <button
                        id="error-dismiss"
                        type="button"
                        class="icon-button"
                        title="Dismiss"
                        aria-label="Dismiss"
                        on:click=move |_| state.chrome.error.set(None)
                    >
                        {icons::close()}
                    </button>
                </div>
            }
        })
    };
    view! {
        {outside}
        {error}
    }
}
