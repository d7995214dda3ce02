//! End-to-end tests. `desktop` drives the real app window through tauri-driver and
//! WebKitWebDriver; it needs an X display (`.ci/test` runs the tests under `xvfb-run`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a test failure

mod desktop;
