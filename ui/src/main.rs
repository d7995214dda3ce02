//! Entry point of the Orrery UI (Leptos, client-side rendered).
//!
//! The same build runs inside the Tauri window and in a plain browser (for tests); only inside
//! Tauri does it have a shell to ask for connections, so in a browser it says so and waits.

// The root component, polling and keyboard.
mod app;
// The parts of the window.
mod components;
// Pure formatting and validation helpers.
mod format;
// The UI's state and the actions that change it.
mod state;
// Light and dark themes.
mod theme;
// Typed calls to the shell's commands.
mod transport;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
