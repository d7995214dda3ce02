//! The Orrery desktop shell: a Tauri v2 window around the Leptos UI in `ui/`.

/// The shell's version, so the UI can show which build it runs in.
#[tauri::command]
fn shell_version() -> String {
    format!("orrery-desktop {}", env!("CARGO_PKG_VERSION"))
}

/// Builds and runs the application until its last window closes.
pub fn run() {
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![shell_version])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("orrery-desktop: {e}");
        std::process::exit(1);
    }
}
