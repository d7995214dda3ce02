//! Entry point of the Orrery UI (Leptos, client-side rendered).
//!
//! The same build runs inside the Tauri window and in a plain browser (for tests); it asks the
//! shell for its version through a Tauri command when it runs inside Tauri.

mod app;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
