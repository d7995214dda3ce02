//! The pieces of the window, and small helpers they share.

// The assistant editor: settings from the config schema, versions, diff, roll back.
pub mod assistant;
// Error banner and the outside-the-shell notice.
pub mod banner;
// Assistants and threads of the selected connection.
pub mod browser;
// The selected assistant's graph: drawing, zoom and pan, export, node panel.
pub mod graph;
// Health, version and capabilities of the selected connection.
pub mod connection_detail;
// The add / edit connection form.
pub mod connection_form;
// Inline SVG icons.
pub mod icons;
// The embedded runtime: state, start-up progress, project folder, log.
pub mod local_runtime;
// A thread's runs and a run's event log.
pub mod runs;
// The command palette.
pub mod palette;
// Runs from the thread view: composer, the streaming run, the interrupt resume form.
pub mod run;
// Forms generated from JSON Schemas (run input, config, assistant settings).
pub mod schema_form;
// The connection list.
pub mod sidebar;
// One thread: checkpoint timeline, state as a JSON tree, chat, pending interrupts.
pub mod thread;

use orrery_api::desktop::{HealthState, SidecarState};

use crate::format::relative_time;

/// The CSS class (and word) of a health state.
pub fn health_class(state: HealthState) -> &'static str {
    match state {
        HealthState::Up => "up",
        HealthState::Down => "down",
        HealthState::Starting => "starting",
        HealthState::Unknown => "unknown",
    }
}

/// A health state as a label.
pub fn health_label(state: HealthState) -> &'static str {
    match state {
        HealthState::Up => "Up",
        HealthState::Down => "Down",
        HealthState::Starting => "Starting",
        HealthState::Unknown => "Not checked yet",
    }
}

/// The wire word of the embedded runtime's state (also its CSS class).
pub fn sidecar_word(state: SidecarState) -> &'static str {
    match state {
        SidecarState::Stopped => "stopped",
        SidecarState::Starting => "starting",
        SidecarState::Running => "running",
        SidecarState::Restarting => "restarting",
        SidecarState::Failed => "failed",
    }
}

/// "5 min ago" for an ISO-8601 / RFC 3339 time; the text itself when it does not parse.
pub fn ago(iso: &str, now_ms: f64) -> String {
    let then = js_sys::Date::parse(iso);
    if then.is_nan() { iso.to_string() } else { relative_time(then, now_ms) }
}
