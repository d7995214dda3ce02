//! The desktop app in a real window.

use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use orrery_e2e::{free_port, on_path, screenshot_dir, spawn, target_dir, wait_for_port};

#[tokio::test]
async fn the_window_opens_and_the_ui_talks_to_the_shell() {
    let app = target_dir().join("debug").join("orrery-desktop");
    assert!(
        app.exists(),
        "build the app first (cargo build --workspace --exclude orrery-ui): {} is missing",
        app.display()
    );
    assert!(on_path("tauri-driver"), "tauri-driver is not on PATH (bash .ci/setup.sh installs it)");
    assert!(std::env::var_os("DISPLAY").is_some(), "no X display: run under xvfb-run");

    let port = free_port().unwrap();
    let native_port = free_port().unwrap();
    let _driver = spawn(Command::new("tauri-driver").args([
        "--port",
        &port.to_string(),
        "--native-port",
        &native_port.to_string(),
    ]))
    .unwrap();
    assert!(wait_for_port(port, Duration::from_secs(20)), "tauri-driver did not listen on {port}");

    let caps = serde_json::json!({"browserName": "wry", "tauri:options": {"application": app}});
    let client = ClientBuilder::native()
        .capabilities(caps.as_object().cloned().unwrap_or_default())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session through tauri-driver");

    let steps = async {
        let title = client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Id("title"))
            .await?;
        assert_eq!(title.text().await?, "Hello from Orrery");
        assert_eq!(client.title().await?, "Orrery");
        let shell = client.find(Locator::Id("shell")).await?;
        let start = Instant::now();
        let mut text = String::new();
        while start.elapsed() < Duration::from_secs(10) {
            text = shell.text().await?;
            if text.starts_with("orrery-desktop") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            text,
            format!("orrery-desktop {}", env!("CARGO_PKG_VERSION")),
            "the UI got the shell's answer"
        );
        std::fs::write(screenshot_dir().join("desktop-hello.png"), client.screenshot().await?)
            .unwrap();
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    client.close().await.ok();
    steps.expect("e2e steps");
}
