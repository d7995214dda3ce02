//! The desktop app in a real window for a test: tauri-driver + WebKitWebDriver under Xvfb,
//! inside a D-Bus session of its own with an unlocked GNOME Keyring (the Secret Service the app
//! keeps keys in), with HOME and the XDG folders in a temporary directory; plus the WebDriver
//! helpers the tests share.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use orrery_e2e::{
    KillGroupOnDrop, free_port, on_path, screenshot_dir, spawn_group, target_dir, wait_for_port,
};

pub type Step<T> = Result<T, fantoccini::error::CmdError>;

/// One window at a time: two apps (each with its embedded runtime) on two cores make both
/// slow, and they would share the display.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The app running in its own home, driven through `client`. Dropping it stops the driver,
/// the app and everything they started.
pub struct Window {
    /// The WebDriver session.
    pub client: Client,
    /// The temporary home.
    pub _home: tempfile::TempDir,
    /// `$XDG_CONFIG_HOME`.
    pub config: PathBuf,
    /// `$XDG_DATA_HOME`.
    pub data: PathBuf,
    /// A file holding the session bus address (for `secret-tool`).
    pub bus_file: PathBuf,
    _driver: KillGroupOnDrop,
    _one: tokio::sync::MutexGuard<'static, ()>,
}

impl Window {
    /// Starts the app (the debug build in the target directory) and opens a WebDriver session.
    pub async fn open() -> Window {
        let one = ONE_WINDOW.lock().await;
        let app = target_dir().join("debug").join("orrery-desktop");
        assert!(
            app.exists(),
            "build the app first (cargo build --workspace --exclude orrery-ui --all-targets): {} is missing",
            app.display()
        );
        let runtime = target_dir().join("debug").join("orrery-runtime");
        assert!(runtime.exists(), "{} is missing: build the workspace first", runtime.display());
        for tool in ["tauri-driver", "dbus-run-session", "gnome-keyring-daemon", "secret-tool"] {
            assert!(on_path(tool), "{tool} is not on PATH (bash .ci/setup.sh installs it)");
        }
        assert!(std::env::var_os("DISPLAY").is_some(), "no X display: run under xvfb-run");

        // A home of its own: the app's config and data folders, the keyring and WebKit's caches.
        let home = tempfile::tempdir().unwrap();
        let (config, data) = (home.path().join("config"), home.path().join("data"));
        let bus_file = home.path().join("bus");
        let port = free_port().unwrap();
        let native_port = free_port().unwrap();
        // A bus of its own with no service activation: the keyring is started by hand, and the
        // desktop portals (a FUSE document store among them) stay out of the sandbox.
        let bus_config = home.path().join("session.conf");
        std::fs::write(
            &bus_config,
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
             <busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen>\
             <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
             <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
        )
        .unwrap();
        let script = format!(
            "echo \"$DBUS_SESSION_BUS_ADDRESS\" > '{}'; \
             printf orrery-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
             exec tauri-driver --port {port} --native-port {native_port}",
            bus_file.display()
        );
        let driver = spawn_group(
            Command::new("dbus-run-session")
                .arg(format!("--config-file={}", bus_config.display()))
                .args(["--", "sh", "-c", &script])
                .env("NO_AT_BRIDGE", "1")
                .env("GTK_USE_PORTAL", "0")
                .env("HOME", home.path())
                .env("XDG_CONFIG_HOME", &config)
                .env("XDG_DATA_HOME", &data)
                .env("XDG_CACHE_HOME", home.path().join("cache"))
                .env("ORRERY_RUNTIME_BIN", &runtime)
                // The bundled Jarvis runs its offline scripted model only without provider keys.
                .env_remove("ANTHROPIC_API_KEY")
                .env_remove("OPENAI_API_KEY")
                .env_remove("DATABASE_URI"),
        )
        .unwrap();
        assert!(
            wait_for_port(port, Duration::from_secs(20)),
            "tauri-driver did not listen on {port}"
        );
        let caps = serde_json::json!({"browserName": "wry", "tauri:options": {"application": app}});
        let client = ClientBuilder::native()
            .capabilities(caps.as_object().cloned().unwrap_or_default())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session through tauri-driver");
        Window { client, _home: home, config, data, bus_file, _driver: driver, _one: one }
    }
}

/// Polls `probe` every 100 ms until it yields a value, at most `timeout`. On a timeout it saves
/// a screenshot of the window and fails with what the UI's error banner says.
pub async fn eventually<T, F, Fut>(
    client: &Client,
    what: &str,
    timeout: Duration,
    mut probe: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Step<Option<T>>>,
{
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        match probe().await {
            Ok(Some(v)) => return v,
            Ok(None) => {}
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(client, "desktop-failure.png").await;
    let banner = texts(client, "#error").await.unwrap_or_default().join(" | ");
    let page = client.find(Locator::Css("body")).await;
    let text = match page {
        Ok(b) => b.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    panic!(
        "timed out after {timeout:?} waiting for {what} {last}\nerror banner: {banner}\nwindow text:\n{text}"
    );
}

/// The `textContent` of every element matching `css`.
pub async fn texts(client: &Client, css: &str) -> Step<Vec<String>> {
    let mut out = Vec::new();
    for e in client.find_all(Locator::Css(css)).await? {
        out.push(e.prop("textContent").await?.unwrap_or_default());
    }
    Ok(out)
}

/// The attribute `attr` of every element matching `css` that has it.
pub async fn attrs(client: &Client, css: &str, attr: &str) -> Step<Vec<String>> {
    let mut out = Vec::new();
    for e in client.find_all(Locator::Css(css)).await? {
        if let Some(v) = e.attr(attr).await? {
            out.push(v);
        }
    }
    Ok(out)
}

/// The first element matching `css`, if any.
pub async fn find_one(client: &Client, css: &str) -> Step<Option<Element>> {
    Ok(client.find_all(Locator::Css(css)).await?.into_iter().next())
}

/// Saves a screenshot of the window under the screenshot directory.
pub async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(name), png).expect("save screenshot");
}
