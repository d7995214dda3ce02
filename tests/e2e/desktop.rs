//! The desktop app in a real window: tauri-driver + WebKitWebDriver under Xvfb, inside a D-Bus
//! session of its own with an unlocked GNOME Keyring (the Secret Service the app keeps keys in),
//! with HOME and the XDG folders in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fantoccini::Locator;
use orrery_e2e::LangGraphDev;

use crate::harness::{Window, attrs, eventually, find_one, shot, texts};

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
    let server = LangGraphDev::start().expect("a real langgraph dev server");
    let window = Window::open().await;
    let client = &window.client;
    let (config, data, bus_file) = (&window.config, &window.data, &window.bus_file);
    let secret = format!("lsv2-orrery-e2e-{}", uuid_like());
    let name = "golden dev server";

    let steps = async {
        assert_eq!(client.title().await?, "Orrery");
        // The embedded runtime starts by itself and serves the bundled graphs.
        eventually(client, "the local runtime to be up", Duration::from_secs(60), || async {
            find_one(client, "li.connection[data-id='local'] .health.up").await
        })
        .await;
        client.find(Locator::Css("li.connection[data-id='local']")).await?.click().await?;
        let graphs =
            eventually(client, "the local assistants", Duration::from_secs(20), || async {
                let g = attrs(client, "li.assistant", "data-graph").await?;
                Ok(Some(g).filter(|g| !g.is_empty()))
            })
            .await;
        assert!(graphs.contains(&"echo".to_string()), "bundled graphs listed: {graphs:?}");
        let log = texts(client, "#local-runtime").await?.join(" ");
        assert!(log.contains("running"), "local runtime panel: {log}");
        shot(client, "desktop-local-runtime.png").await;

        // Add the real langgraph dev server with an API key.
        client.find(Locator::Id("add-connection")).await?.click().await?;
        client.find(Locator::Id("conn-name")).await?.send_keys(name).await?;
        client.find(Locator::Id("conn-url")).await?.send_keys(&server.url).await?;
        client.find(Locator::Id("conn-key")).await?.send_keys(&secret).await?;
        shot(client, "desktop-add-connection.png").await;
        client.find(Locator::Id("conn-save")).await?.click().await?;
        let id = eventually(
            client,
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
            client,
            "the remote connection to be healthy",
            Duration::from_secs(30),
            || async { find_one(client, &format!("{row} .health.up")).await },
        )
        .await;
        let version = texts(client, &format!("{row} .version")).await?.join("");
        assert!(!version.trim().is_empty(), "the server's version is shown");
        client.find(Locator::Css(&row)).await?.click().await?;
        let mut remote =
            eventually(client, "the server's assistants", Duration::from_secs(20), || async {
                let g = attrs(client, "li.assistant", "data-graph").await?;
                Ok(Some(g).filter(|g| g.len() >= 5))
            })
            .await;
        remote.sort();
        assert_eq!(remote, ["agent", "echo", "failing", "nested", "slow"], "golden project graphs");
        shot(client, "desktop-remote-assistants.png").await;

        // The agent's graph, drawn from the server's /assistants/{id}/graph.
        client.find(Locator::Css("li.assistant[data-graph='agent']")).await?.click().await?;
        let mut nodes =
            eventually(client, "the agent's graph", Duration::from_secs(20), || async {
                let n = attrs(client, "svg#graph g.node", "data-id").await?;
                Ok(Some(n).filter(|n| n.len() >= 5))
            })
            .await;
        nodes.sort();
        assert_eq!(nodes, ["__end__", "__start__", "agent", "human_approval", "tools"]);
        let conditional = client.find_all(Locator::Css("svg#graph path.edge.conditional")).await?;
        assert!(!conditional.is_empty(), "the agent's routing edges are drawn as conditional");
        shot(client, "desktop-graph.png").await;
        Ok::<_, fantoccini::error::CmdError>(id)
    }
    .await;
    client.clone().close().await.ok();
    let id = steps.expect("e2e steps");

    // The key is in the Secret Service, under the app's service and the connection's id ...
    let bus = std::fs::read_to_string(bus_file).unwrap();
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
    drop(window);
    drop(server);
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", nanos, std::process::id())
}
