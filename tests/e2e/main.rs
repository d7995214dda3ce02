//! End-to-end tests. `desktop` and `studio` drive the real app window through tauri-driver and
//! WebKitWebDriver; they need an X display (`.ci/test` runs the tests under `xvfb-run`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a test failure

mod desktop;
// The window, its private D-Bus session and keyring, and the WebDriver helpers.
mod harness;
// Figures for the thread list and a long history (ignored: run by hand).
mod measure;
mod studio;
// Assistants, breakpoints, step mode, runs and the palette.
mod studio_edit;
// The Studio against a real `langgraph dev`.
mod studio_lgdev;
