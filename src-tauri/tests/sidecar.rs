//! The embedded runtime and the health checks against a real `orrery-runtime` process: it
//! starts, serves, is restarted after a `kill -9`, and a connection that drops is marked down
//! and retried with a growing delay.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a test failure

use std::path::PathBuf;
use std::time::{Duration, Instant};

use orrery_api::desktop::{HealthState, SidecarState};
use orrery_desktop::Target;
use orrery_desktop::health::{HealthBook, backoff};
use orrery_desktop::sidecar::Sidecar;

fn runtime_binary() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug").join("orrery-runtime");
    assert!(bin.is_file(), "{} is missing: build the workspace first", bin.display());
    bin
}

/// The runtime behind a wrapper that takes `ANTHROPIC_API_KEY` and `OPENAI_API_KEY` out of its
/// environment (with one, the bundled Jarvis example uses a real provider), so the test never
/// depends on the developer's keys. `exec` keeps the process id, which the test kills.
fn runtime_without_provider_keys(dir: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("orrery-runtime");
    let bin = runtime_binary().display().to_string().replace('\'', "'\\''");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY '{bin}' \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

async fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Some(v) = probe() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn the_runtime_starts_is_restarted_when_killed_and_health_follows_it() {
    let data = tempfile::tempdir().unwrap();
    let binary = runtime_without_provider_keys(&data.path().join("bin"));
    let sidecar = Sidecar::new(Some(binary), data.path().join("runtime"));
    assert_eq!(sidecar.view().state, SidecarState::Stopped);
    tokio::spawn(std::sync::Arc::clone(&sidecar).supervise());

    let url = until("the runtime to run", || sidecar.url()).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(data.path().join("runtime").is_dir(), "its data lives in the app's folder");
    let view = sidecar.view();
    assert!(view.log.iter().any(|l| l.contains("ready on")), "log: {:?}", view.log);
    assert!(view.log.iter().all(|l| !l.contains('\u{1b}')), "no colour codes in the log");

    let book = HealthBook::new();
    let target = Target { url: url.clone(), key: None };
    book.check_now("local", &target).await;
    let h = book.get("local");
    assert_eq!(h.state, HealthState::Up, "{h:?}");
    assert_eq!(h.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));

    // The runtime dies: the connection is marked down, with a growing retry delay...
    let pid = sidecar.pid().expect("a running runtime has a pid");
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(killed.unwrap().success());
    until("the supervisor to notice", || {
        (sidecar.view().state != SidecarState::Running || sidecar.pid() != Some(pid)).then_some(())
    })
    .await;
    book.check_now("local", &target).await;
    let down = book.get("local");
    assert_eq!(down.state, HealthState::Down, "{down:?}");
    assert_eq!(down.failures, 1);
    assert!(down.error.is_some(), "a down connection says why");
    assert_eq!(backoff(down.failures), Duration::from_secs(1));
    book.check_now("local", &target).await;
    assert_eq!(book.get("local").failures, 2, "failures count up");
    assert_eq!(backoff(2), Duration::from_secs(2));

    // ... and the supervisor starts a new runtime, on a port of its own.
    let url2 = until("the restarted runtime", || {
        let v = sidecar.view();
        (v.state == SidecarState::Running && v.restarts == 1).then_some(v.url).flatten()
    })
    .await;
    assert_ne!(sidecar.pid(), Some(pid), "a new process");
    let target2 = Target { url: url2, key: None };
    book.check_now("local", &target2).await;
    assert_eq!(book.get("local").state, HealthState::Up);
    assert_eq!(book.get("local").failures, 0);

    // A project folder without langgraph.json is refused before anything restarts.
    let err = sidecar.set_project(Some(data.path().display().to_string())).unwrap_err();
    assert!(err.contains("langgraph.json"), "{err}");

    sidecar.shutdown();
    let last = sidecar.pid();
    until("the runtime to stop", || {
        let alive = last.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        (!alive || sidecar.pid().is_none()).then_some(())
    })
    .await;
}
