//! The desktop app in a real window: tauri-driver + WebKitWebDriver under Xvfb, inside a D-Bus
//! session of its own with an unlocked GNOME Keyring (the Secret Service the app keeps keys in),
//! with HOME and the XDG folders in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use orrery_e2e::{
    LangGraphDev, free_port, on_path, screenshot_dir, spawn_group, target_dir, wait_for_port,
};

type Step<T> = Result<T, fantoccini::error::CmdError>;

/// Polls `probe` every 100 ms until it yields a value, at most `timeout`. On a timeout it saves
/// a screenshot of the window and fails with what the UI's error banner says.
async fn eventually<T, F, Fut>(client: &Client, what: &str, timeout: Duration, mut probe: F) -> T
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

async fn texts(client: &Client, css: &str) -> Step<Vec<String>> {
    let mut out = Vec::new();
    for e in client.find_all(Locator::Css(css)).await? {
        out.push(e.prop("textContent").await?.unwrap_or_default());
    }
    Ok(out)
}

async fn attrs(client: &Client, css: &str, attr: &str) -> Step<Vec<String>> {
    let mut out = Vec::new();
    for e in client.find_all(Locator::Css(css)).await? {
        if let Some(v) = e.attr(attr).await? {
            out.push(v);
        }
    }
    Ok(out)
}

async fn find_one(client: &Client, css: &str) -> Step<Option<Element>> {
    Ok(client.find_all(Locator::Css(css)).await?.into_iter().next())
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(name), png).expect("save screenshot");
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return hits };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(path);
        }
    }
    hits
}

#[tokio::test]
async fn connections_keychain_and_the_embedded_runtime_in_the_real_window() {
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

    let server = LangGraphDev::start().expect("a real langgraph dev server");

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
    let _driver = spawn_group(
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
            .env_remove("DATABASE_URI"),
    )
    .unwrap();
    assert!(wait_for_port(port, Duration::from_secs(20)), "tauri-driver did not listen on {port}");

    let caps = serde_json::json!({"browserName": "wry", "tauri:options": {"application": app}});
    let client = ClientBuilder::native()
        .capabilities(caps.as_object().cloned().unwrap_or_default())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session through tauri-driver");
    let secret = format!("lsv2-orrery-e2e-{}", uuid_like());
    let name = "golden dev server";

    let steps = async {
        assert_eq!(client.title().await?, "Orrery");
        // The embedded runtime starts by itself and serves the bundled graphs.
        eventually(&client, "the local runtime to be up", Duration::from_secs(60), || async {
            find_one(&client, "li.connection[data-id='local'] .health.up").await
        })
        .await;
        client.find(Locator::Css("li.connection[data-id='local']")).await?.click().await?;
        let graphs =
            eventually(&client, "the local assistants", Duration::from_secs(20), || async {
                let g = attrs(&client, "li.assistant", "data-graph").await?;
                Ok(Some(g).filter(|g| !g.is_empty()))
            })
            .await;
        assert!(graphs.contains(&"echo".to_string()), "bundled graphs listed: {graphs:?}");
        let log = texts(&client, "#local-runtime").await?.join(" ");
        assert!(log.contains("running"), "local runtime panel: {log}");
        shot(&client, "desktop-local-runtime.png").await;

        // Add the real langgraph dev server with an API key.
        client.find(Locator::Id("add-connection")).await?.click().await?;
        client.find(Locator::Id("conn-name")).await?.send_keys(name).await?;
        client.find(Locator::Id("conn-url")).await?.send_keys(&server.url).await?;
        client.find(Locator::Id("conn-key")).await?.send_keys(&secret).await?;
        shot(&client, "desktop-add-connection.png").await;
        client.find(Locator::Id("conn-save")).await?.click().await?;
        let id = eventually(
            &client,
            "the new connection in the sidebar",
            Duration::from_secs(20),
            || {
                let client = &client;
                async move {
                    for li in client.find_all(Locator::Css("li.connection")).await? {
                        // textContent: WebKit's rendered-text extraction skips the ellipsised
                        // name and URL lines.
                        if li.prop("textContent").await?.unwrap_or_default().contains(name) {
                            return li.attr("data-id").await;
                        }
                    }
                    Ok(None)
                }
            },
        )
        .await;
        let row = format!("li.connection[data-id='{id}']");
        eventually(
            &client,
            "the remote connection to be healthy",
            Duration::from_secs(30),
            || async { find_one(&client, &format!("{row} .health.up")).await },
        )
        .await;
        let version = texts(&client, &format!("{row} .version")).await?.join("");
        assert!(!version.trim().is_empty(), "the server's version is shown");
        client.find(Locator::Css(&row)).await?.click().await?;
        let mut remote =
            eventually(&client, "the server's assistants", Duration::from_secs(20), || async {
                let g = attrs(&client, "li.assistant", "data-graph").await?;
                Ok(Some(g).filter(|g| g.len() >= 5))
            })
            .await;
        remote.sort();
        assert_eq!(remote, ["agent", "echo", "failing", "nested", "slow"], "golden project graphs");
        shot(&client, "desktop-remote-assistants.png").await;

        // The agent's graph, drawn from the server's /assistants/{id}/graph.
        client.find(Locator::Css("li.assistant[data-graph='agent']")).await?.click().await?;
        let mut nodes =
            eventually(&client, "the agent's graph", Duration::from_secs(20), || async {
                let n = attrs(&client, "svg#graph g.node", "data-id").await?;
                Ok(Some(n).filter(|n| n.len() >= 5))
            })
            .await;
        nodes.sort();
        assert_eq!(nodes, ["__end__", "__start__", "agent", "human_approval", "tools"]);
        let conditional = client.find_all(Locator::Css("svg#graph path.edge.conditional")).await?;
        assert!(!conditional.is_empty(), "the agent's routing edges are drawn as conditional");
        shot(&client, "desktop-graph.png").await;
        Ok::<_, fantoccini::error::CmdError>(id)
    }
    .await;
    client.close().await.ok();
    let id = steps.expect("e2e steps");

    // The key is in the Secret Service, under the app's service and the connection's id ...
    let bus = std::fs::read_to_string(&bus_file).unwrap();
    let looked_up = Command::new("secret-tool")
        .args(["lookup", "service", "dev.orrery.desktop", "username", &id])
        .env("DBUS_SESSION_BUS_ADDRESS", bus.trim())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&looked_up.stdout).trim(),
        secret,
        "secret-tool found the key ({})",
        String::from_utf8_lossy(&looked_up.stderr)
    );
    // ... and in no file of the app's config and data folders.
    let app_config = config.join("dev.orrery.desktop");
    assert!(app_config.join("connections.json").is_file(), "the connection was saved");
    let saved = std::fs::read_to_string(app_config.join("connections.json")).unwrap();
    assert!(saved.contains(&server.url) && saved.contains(&id), "{saved}");
    for dir in [app_config, data.join("dev.orrery.desktop")] {
        let hits = files_containing(&dir, secret.as_bytes());
        assert!(hits.is_empty(), "the API key leaked into {hits:?}");
    }
    drop(server);
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", nanos, std::process::id())
}
