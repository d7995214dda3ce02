//! The root component.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], catch)]
    async fn invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;
}

/// Whether the page runs inside the Tauri shell (as opposed to a plain browser in tests).
fn in_tauri() -> bool {
    js_sys::Reflect::has(&js_sys::global(), &JsValue::from_str("__TAURI__")).unwrap_or(false)
}

async fn shell_version() -> String {
    if !in_tauri() {
        return "browser".to_string();
    }
    match invoke("shell_version", JsValue::NULL).await {
        Ok(v) => v.as_string().unwrap_or_else(|| "unknown".to_string()),
        Err(e) => format!("error: {e:?}"),
    }
}

/// The application shell. For now a greeting that proves the Rust side answers.
#[component]
pub fn App() -> impl IntoView {
    let (version, set_version) = signal(String::from("…"));
    spawn_local(async move { set_version.set(shell_version().await) });
    view! {
        <main>
            <h1 id="title">"Hello from Orrery"</h1>
            <p class="muted">"Shell: " <span id="shell">{version}</span></p>
        </main>
    }
}
