//! `orrery-runtime dev --config`: editing a graph file reloads that graph (new runs use it),
//! and an edit that does not load keeps the last good version serving and logs why with
//! file:line:column.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::projects::write;
use crate::tempdir::TempDir;

/// The binary, `dev` on a free port for the project at `config`; its output goes to `log`.
pub struct Binary {
    pub url: String,
    pub http: reqwest::Client,
    child: std::process::Child,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    pub async fn dev(config: &Path, data_dir: &Path, log: &Path) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(log).unwrap();
        let child = crate::runtime_command()
            .args(["dev", "--port", &port.to_string(), "--config"])
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let b =
            Binary { url: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new(), child };
        for _ in 0..400 {
            if b.http.get(format!("{}/ok", b.url)).send().await.is_ok() {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the server did not start");
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, String) {
        let r = self.http.post(format!("{}{path}", self.url)).json(&body).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

const V1: &str = "name: notes
state:
  log: {reducer: append}
nodes:
  first: {kind: set, update: {log: [one]}}
edges:
  - {from: __start__, to: first}
";

fn node_ids(graph: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(graph).unwrap();
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn dev_reloads_an_edited_graph_file_and_keeps_the_last_good_one() {
    let dir = TempDir::create();
    write(&dir.0, "graphs/notes.yaml", V1);
    let cfg = write(&dir.0, "langgraph.json", r#"{"graphs": {"notes": "./graphs/notes.yaml"}}"#);
    let log = dir.0.join("server.log");
    let b = Binary::dev(&cfg, &dir.0.join(".orrery"), &log).await;
    let id = orrery_runtime::graphs::system_assistant_id("notes");
    let graph_path = format!("/assistants/{id}/graph");
    let (st, g) = b.get(&graph_path).await;
    assert_eq!(st, 200, "{g}");
    assert!(node_ids(&g).contains(&"first".to_string()), "{g}");

    // A thread run on the first version.
    let (_, t) = b.post("/threads", json!({})).await;
    let tid = serde_json::from_str::<Value>(&t).unwrap()["thread_id"].as_str().unwrap().to_string();
    let (_, out) = b
        .post(&format!("/threads/{tid}/runs/wait"), json!({"assistant_id": "notes", "input": {}}))
        .await;
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["log"], json!(["one"]), "{out}");

    // Add a node: the graph is served with it once the file is reloaded.
    let v2 = V1.replace(
        "edges:\n",
        "  second: {kind: set, update: {log: [two]}}\nedges:\n  - {from: first, to: second}\n",
    );
    write(&dir.0, "graphs/notes.yaml", &v2);
    let mut reloaded = false;
    for _ in 0..100 {
        let (_, g) = b.get(&graph_path).await;
        if node_ids(&g).contains(&"second".to_string()) {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reloaded, "not reloaded: {}", std::fs::read_to_string(&log).unwrap());
    let (_, out) = b.post("/runs/wait", json!({"assistant_id": "notes", "input": {}})).await;
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["log"], json!(["one", "two"]), "{out}");
    // The thread's history from the first version is still readable.
    let (st, state) = b.get(&format!("/threads/{tid}/state")).await;
    assert_eq!(st, 200, "{state}");
    assert_eq!(serde_json::from_str::<Value>(&state).unwrap()["values"]["log"], json!(["one"]));

    // A broken edit: logged with file:line:column, and the last good version keeps serving.
    write(&dir.0, "graphs/notes.yaml", &v2.replace("second: {kind: set", "second: {kind: sett"));
    let mut logged = String::new();
    for _ in 0..100 {
        logged = std::fs::read_to_string(&log).unwrap();
        if logged.contains("not reloaded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ours: String =
        logged.lines().filter(|l| !l.contains("sqlx")).collect::<Vec<_>>().join("\n");
    assert!(
        logged.contains("graph `notes` not reloaded, the last good version still serves")
            && logged
                .contains("graphs/notes.yaml:6:12: nodes.second.kind: unknown node kind \"sett\""),
        "{ours}"
    );
    let (_, g) = b.get(&graph_path).await;
    assert!(node_ids(&g).contains(&"second".to_string()), "{g}");
    let (st, out) = b.post("/runs/wait", json!({"assistant_id": "notes", "input": {}})).await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["log"], json!(["one", "two"]), "{out}");

    // Fixed again: reloaded.
    write(&dir.0, "graphs/notes.yaml", &v2.replace("[two]", "[deux]"));
    let mut fixed = false;
    for _ in 0..100 {
        let (_, out) = b.post("/runs/wait", json!({"assistant_id": "notes", "input": {}})).await;
        if serde_json::from_str::<Value>(&out).unwrap()["log"] == json!(["one", "deux"]) {
            fixed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(fixed, "{}", std::fs::read_to_string(&log).unwrap());
}

/// A run that started before a reload finishes on the graph it started with; runs after it use
/// the new one.
#[tokio::test]
async fn a_run_going_on_keeps_its_graph_across_a_reload() {
    let slow = "state:
  messages: {reducer: messages}
nodes:
  talk:
    kind: chat_model
    model: {provider: scripted, token_delay_ms: 40, rules: [{reply: old version speaking slowly here}]}
edges:
  - {from: __start__, to: talk}
";
    let dir = TempDir::create();
    let path = write(&dir.0, "slow.yaml", slow);
    let cfg = write(&dir.0, "langgraph.json", r#"{"graphs": {"slow": "./slow.yaml"}}"#);
    let s = crate::projects::start_project(crate::Backend::Sqlite, &cfg).await.unwrap();
    let (_, t) = s.post("/threads", json!({})).await;
    let tid = t["thread_id"].as_str().unwrap().to_string();
    let (st, run) = s
        .post(
            &format!("/threads/{tid}/runs"),
            json!({"assistant_id": "slow", "input": {"messages": "hi"}}),
        )
        .await;
    assert_eq!(st, 200, "{run}");
    let rid = run["run_id"].as_str().unwrap().to_string();
    // Reload once the run is going.
    for _ in 0..200 {
        let (_, r) = s.get(&format!("/threads/{tid}/runs/{rid}")).await;
        if r["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::fs::write(&path, slow.replace("old version speaking slowly here", "new version")).unwrap();
    s.state.registry.reload("slow").unwrap();
    let (_, r) = s.get(&format!("/threads/{tid}/runs/{rid}")).await;
    assert_eq!(r["status"], "running", "the reload happened while the run was going");
    let (_, out) = s.get(&format!("/threads/{tid}/runs/{rid}/join")).await;
    assert_eq!(out["messages"][1]["content"], "old version speaking slowly here", "{out}");
    let (_, out) =
        s.post("/runs/wait", json!({"assistant_id": "slow", "input": {"messages": "hi"}})).await;
    assert_eq!(out["messages"][1]["content"], "new version", "{out}");
    // A reload that fails says why and changes nothing.
    std::fs::write(&path, "state: [").unwrap();
    let e = s.state.registry.reload("slow").unwrap_err();
    assert!(e.contains("slow.yaml:") && e.contains("YAML syntax error"), "{e}");
    let (_, out) =
        s.post("/runs/wait", json!({"assistant_id": "slow", "input": {"messages": "hi"}})).await;
    assert_eq!(out["messages"][1]["content"], "new version", "{out}");
}
