//! Graph projects: `langgraph.json` reading, graph files served over HTTP, and the bundled
//! Jarvis example end to end (tool call, approval interrupt, resume, token streaming, the
//! Spanish assistant, history).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use orrery_graph_file::{GraphSource, Project, project::EnvSpec};
use orrery_runtime::{AppState, Options};
use serde_json::{Value, json};

use crate::tempdir::TempDir;
use crate::{Backend, PgDatabase, Server, both};

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// A server for the project at `config`.
pub(crate) async fn start_project(backend: Backend, config: &Path) -> anyhow::Result<Server> {
    let project = Project::load(config)?;
    let data_dir = TempDir::create();
    let pg = (backend == Backend::Postgres).then(PgDatabase::create);
    let state: Arc<AppState> = AppState::start_with(
        &Options {
            data_dir: data_dir.0.clone(),
            workers: 2,
            database_uri: pg.as_ref().map(PgDatabase::uri),
        },
        Some(&project),
    )
    .await?;
    let listener = orrery_runtime::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(orrery_runtime::serve(Arc::clone(&state), listener, async {
        let _ = rx.await;
    }));
    Ok(Server { url, state, http: reqwest::Client::new(), data_dir, stop: Some(tx), pg })
}

const EVERY_KEY: &str = r#"{
  "$schema": "https://example.invalid/schema.json",
  "dependencies": [".", "./src"],
  "graphs": {
    "helper": "./graphs/helper.yaml",
    "py_agent": "./src/agent.py:graph",
    "ts_agent": {"path": "./src/agent.ts:graph", "description": "a TS graph"},
    "echo2": "native:echo"
  },
  "env": ".env",
  "python_version": "3.12",
  "node_version": "20",
  "pip_config_file": "pip.conf",
  "pip_installer": "uv",
  "dockerfile_lines": ["RUN echo hi"],
  "image_distro": "wolfi",
  "base_image": "langchain/langgraph-api",
  "api_version": "0.4",
  "keep_pkg_tools": true,
  "auth": {"path": "./auth.py:auth", "disable_studio_auth": true, "openapi": {"securitySchemes": {}}, "future": 1},
  "store": {"index": {"dims": 4, "embed": "fake:embed"}, "ttl": {"default_ttl": 60}},
  "checkpointer": {"ttl": {"strategy": "delete", "default_ttl": 10}},
  "http": {"cors": {"allow_origins": ["*"]}, "disable_meta": false, "mount_prefix": "/api", "app": "./app.py:app"},
  "webhooks": {"url": {"require_https": true}, "env_prefix": "LG_WEBHOOK_"},
  "ui": {"helper": "./ui.tsx"},
  "ui_config": {"shared": ["react"]},
  "some_future_key": {"nested": [1, 2, 3]},
  "another_one": null
}"#;

const HELPER: &str = "\
name: helper
state:
  messages: {reducer: messages}
  hits: {reducer: sum}
configurable:
  greeting: {type: string, default: Hello, description: How the helper greets}
nodes:
  greet:
    kind: set
    update:
      messages: [{role: ai, content: '{{ configurable.greeting }}, {{ last_user_message }}!'}]
      hits: 1
  model:
    kind: chat_model
    model: {provider: scripted, api_key: {env: HELPER_API_KEY}, rules: [{reply: scripted answer}]}
edges:
  - {from: __start__, to: greet}
  - {from: greet, to: model}
  - {from: model, to: __end__}
";

const SECRET: &str = "sk-very-secret-4242";

fn every_key_project() -> TempDir {
    let dir = TempDir::create();
    write(&dir.0, "langgraph.json", EVERY_KEY);
    write(&dir.0, "graphs/helper.yaml", HELPER);
    write(&dir.0, ".env", &format!("# keys\nHELPER_API_KEY={SECRET}\nexport OTHER='x y'\n"));
    dir
}

#[test]
fn langgraph_json_every_key_unknown_keys_and_not_runnable_graphs() {
    let dir = every_key_project();
    let p = Project::load(&dir.0.join("langgraph.json")).unwrap();
    let c = &p.config;
    assert_eq!(c.dependencies, [".", "./src"]);
    assert_eq!(c.python_version.as_deref(), Some("3.12"));
    assert_eq!(c.node_version.as_deref(), Some("20"));
    assert_eq!(c.pip_config_file.as_deref(), Some("pip.conf"));
    assert_eq!(c.pip_installer.as_deref(), Some("uv"));
    assert_eq!(c.dockerfile_lines, ["RUN echo hi"]);
    assert_eq!(c.image_distro.as_deref(), Some("wolfi"));
    assert_eq!(c.env, Some(EnvSpec::File(".env".into())));
    let auth = c.auth.as_ref().unwrap();
    assert_eq!(auth.path.as_deref(), Some("./auth.py:auth"));
    assert_eq!(auth.disable_studio_auth, Some(true));
    assert_eq!(auth.other["future"], 1, "unknown keys inside known sections are kept too");
    assert_eq!(c.store.as_ref().unwrap().index.as_ref().unwrap()["dims"], 4);
    assert_eq!(c.checkpointer.as_ref().unwrap().ttl.as_ref().unwrap()["strategy"], "delete");
    let http = c.http.as_ref().unwrap();
    assert_eq!((http.mount_prefix.as_deref(), http.disable_meta), (Some("/api"), Some(false)));
    assert_eq!(c.webhooks.as_ref().unwrap().env_prefix.as_deref(), Some("LG_WEBHOOK_"));
    assert_eq!(c.ui.as_ref().unwrap()["helper"], "./ui.tsx");
    assert_eq!(c.other["some_future_key"], json!({"nested": [1, 2, 3]}));
    assert!(c.other.contains_key("another_one"));
    let ignored = p.warnings.iter().find(|w| w.contains("ignoring keys")).unwrap();
    assert!(ignored.contains("some_future_key") && ignored.contains("another_one"), "{ignored}");
    assert!(!ignored.contains("$schema"), "{ignored}");

    let kinds: Vec<(&str, &GraphSource)> =
        p.graphs.iter().map(|g| (g.id.as_str(), &g.source)).collect();
    assert!(matches!(kinds[0], ("helper", GraphSource::File(_))));
    assert_eq!(kinds[1], ("py_agent", &GraphSource::NotRunnable { language: "Python" }));
    assert_eq!(kinds[2], ("ts_agent", &GraphSource::NotRunnable { language: "TypeScript" }));
    assert_eq!(kinds[3], ("echo2", &GraphSource::Native("echo".into())));
    assert_eq!(p.graphs[2].description.as_deref(), Some("a TS graph"));
    assert_eq!(
        p.not_runnable().collect::<Vec<_>>(),
        [("py_agent", "Python"), ("ts_agent", "TypeScript")]
    );
    for id in ["py_agent", "ts_agent"] {
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains(&format!("graph `{id}`")) && w.contains("not runnable yet"))
        );
    }
    // Env from the .env file; values never shown.
    assert_eq!(p.env.get("HELPER_API_KEY").unwrap().expose(), SECRET);
    assert_eq!(p.env.get("OTHER").unwrap().expose(), "x y");
    assert!(!format!("{p:?}").contains(SECRET), "Debug of a project shows no secret");
}

#[test]
fn env_object_and_missing_env_file() {
    let dir = TempDir::create();
    let cfg = write(
        &dir.0,
        "langgraph.json",
        r#"{"graphs": {"a": "./a.yaml"}, "env": {"KEY": "v", "N": 3, "B": true}}"#,
    );
    let p = Project::load(&cfg).unwrap();
    assert_eq!(p.env.get("N").unwrap().expose(), "3");
    assert_eq!(p.env.get("B").unwrap().expose(), "true");
    let cfg =
        write(&dir.0, "langgraph.json", r#"{"graphs": {"a": "./a.yaml"}, "env": "missing.env"}"#);
    let p = Project::load(&cfg).unwrap();
    assert!(p.warnings.iter().any(|w| w.contains("missing.env")), "{:?}", p.warnings);
    let cfg = write(&dir.0, "langgraph.json", r#"{"graphs": {"a": "./a.yaml"}, "env": ".env"}"#);
    write(&dir.0, ".env", "A=1\nthis is not an assignment\n");
    let e = Project::load(&cfg).unwrap_err();
    assert!(e.file.ends_with(".env") && e.pos.line == 2, "{e}");
}

#[test]
fn malformed_langgraph_json_names_file_line_and_field() {
    let dir = TempDir::create();
    let cases = [
        (
            "{\n  \"graphs\": {\"a\": \"./a.yaml\"},\n  \"python_version\": 3.11\n}",
            3,
            "python_version",
            "expected a string",
        ),
        ("{\n  \"graphs\": {\n    \"a\": \"./a.txt\"\n  }\n}", 3, "graphs.a", "not a graph path"),
        ("{\n  \"graphs\": {\n    \"a\": 7\n  }\n}", 3, "graphs.a", "expected a graph path"),
        ("{\"graphs\": {}}", 1, "graphs", "at least one graph"),
        (
            "{\n  \"graphs\": {\"a\": \"./a.yaml\"},\n  \"dependencies\": \"oops\"\n}",
            3,
            "dependencies",
            "expected a sequence",
        ),
        (
            "{\n  \"graphs\": {\"a\": \"./a.yaml\"},\n  \"env\": [1]\n}",
            3,
            "env",
            "path of a .env file",
        ),
        ("{\n  \"graphs\": {\"a\": \"./a.yaml\"}\n  \"env\": \"x\"\n}", 3, "", "JSON syntax error"),
    ];
    for (text, line, field, msg) in cases {
        let cfg = write(&dir.0, "langgraph.json", text);
        let e = Project::load(&cfg).unwrap_err();
        assert!(e.file.ends_with("langgraph.json"), "{e}");
        assert_eq!((e.pos.line, e.field.as_str()), (line, field), "{e}\n{text}");
        assert!(e.message.contains(msg), "{e}");
        assert!(e.to_string().contains(&format!("langgraph.json:{line}:")), "{e}");
    }
}

#[tokio::test]
async fn graph_file_errors_stop_the_start_with_file_line_and_field() {
    let dir = TempDir::create();
    let with_env = r#"{"graphs": {"bad": "./graphs/bad.yaml"}, "env": {"HELPER_API_KEY": "k"}}"#;
    let cfg = write(&dir.0, "langgraph.json", with_env);
    let cases: [(String, &[&str]); 5] = [
        (
            HELPER.replace("kind: set", "kind: sett"),
            &["bad.yaml:9:5: nodes.greet.kind: unknown node kind"],
        ),
        (
            HELPER.replace("{from: model, to: __end__}", "{from: model, to: nowhere}"),
            &["bad.yaml:19:", "edges[2].to: unknown node `nowhere`"],
        ),
        (
            HELPER.replace("reducer: sum", "reducer: product"),
            &["bad.yaml:4:", "state.hits.reducer: unknown variant `product`"],
        ),
        (HELPER.replace("nodes:\n", "nodes:\n  [oops\n"), &["bad.yaml:", "YAML syntax error"]),
        (HELPER.to_string(), &["nodes.model.model.api_key.env", "no `HELPER_API_KEY`"]),
    ];
    for (i, (text, wants)) in cases.into_iter().enumerate() {
        if i == 4 {
            write(&dir.0, "langgraph.json", r#"{"graphs": {"bad": "./graphs/bad.yaml"}}"#);
        }
        write(&dir.0, "graphs/bad.yaml", &text);
        let err = match start_project(Backend::Sqlite, &cfg).await {
            Ok(_) => panic!("started with {text}"),
            Err(e) => format!("{e:#}"),
        };
        for want in wants {
            assert!(err.contains(want), "{err}\nwanted: {want}");
        }
        assert!(err.contains("graphs/bad.yaml"), "{err}");
    }
}

both!(a_project_serves_its_graphs_and_keeps_its_secrets);
async fn a_project_serves_its_graphs_and_keeps_its_secrets(backend: Backend) {
    let dir = every_key_project();
    let s = start_project(backend, &dir.0.join("langgraph.json")).await.unwrap();
    let (st, list) = s.post("/assistants/search", json!({"limit": 100})).await;
    assert_eq!(st, 200);
    let mut graphs: Vec<&str> =
        list.as_array().unwrap().iter().map(|a| a["graph_id"].as_str().unwrap()).collect();
    graphs.sort_unstable();
    assert_eq!(
        graphs,
        ["echo", "echo2", "helper"],
        "Python/TypeScript graphs are not served; echo stays"
    );
    let (st, err) = s
        .post(
            "/threads/00000000-0000-0000-0000-000000000001/runs",
            json!({"assistant_id": "py_agent"}),
        )
        .await;
    assert_eq!(st, 422, "{err}");

    let (st, out) = s.post("/runs/wait", json!({"assistant_id": "helper", "input": {"messages": [{"role": "user", "content": "Ada"}]}})).await;
    assert_eq!(st, 200, "{out}");
    let contents = crate::contents(&out["messages"]);
    assert_eq!(contents, ["Ada", "Hello, Ada!", "scripted answer"]);
    assert_eq!(out["hits"], 1);
    let (_, out) = s
        .post("/runs/wait", json!({"assistant_id": "helper", "input": {"messages": "Bo"}, "config": {"configurable": {"greeting": "Hi"}}}))
        .await;
    assert_eq!(out["messages"][1]["content"], "Hi, Bo!");

    let helper_id = orrery_runtime::graphs::system_assistant_id("helper");
    let (st, schemas) = s.get(&format!("/assistants/{helper_id}/schemas")).await;
    assert_eq!(st, 200);
    assert_eq!(
        schemas["config_schema"]["properties"]["greeting"],
        json!({"type": "string", "default": "Hello", "description": "How the helper greets"})
    );
    assert_eq!(schemas["state_schema"]["properties"]["hits"]["type"], "number");

    // The secret the graph's model needs is nowhere in what the API returns.
    let mut seen = String::new();
    for path in ["/assistants/search", "/threads/search"] {
        seen += &s.post(path, json!({})).await.1.to_string();
    }
    for path in [
        format!("/assistants/{helper_id}"),
        format!("/assistants/{helper_id}/graph"),
        format!("/assistants/{helper_id}/schemas"),
        "/info".into(),
    ] {
        seen += &s.get(&path).await.1.to_string();
    }
    assert!(!seen.contains(SECRET), "a secret leaked into the API");
}

fn human(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

fn last_content(values: &Value) -> String {
    values["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string()
}

both!(jarvis_asks_approval_then_creates_the_ticket);
async fn jarvis_asks_approval_then_creates_the_ticket(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let tid = t["thread_id"].as_str().unwrap().to_string();

    // User message -> lookup_user -> create_ticket proposed -> approval interrupt.
    let (st, _, events) = s
        .sse(
            &format!("/threads/{tid}/runs/stream"),
            json!({"assistant_id": "jarvis", "input": human("The printer on floor 3 is jammed"),
                   "stream_mode": ["messages-tuple", "updates"],
                   "config": {"configurable": {"user_email": "priya@acme.com"}}}),
        )
        .await;
    assert_eq!(st, 200);
    let tokens: Vec<&str> = events
        .iter()
        .filter(|(e, _)| e == "messages")
        .filter(|(_, d)| d[0]["type"] == "AIMessageChunk")
        .filter_map(|(_, d)| d[0]["content"].as_str())
        .filter(|c| !c.is_empty())
        .collect();
    assert!(tokens.len() >= 8, "the answer streams token by token: {tokens:?}");
    assert_eq!(tokens[..3].concat(), "Sorry about that.");
    let meta = &events.iter().find(|(e, _)| e == "messages").unwrap().1[1];
    assert_eq!(
        (meta["langgraph_node"].as_str(), meta["ls_provider"].as_str()),
        (Some("agent"), Some("scripted"))
    );
    let updates: Vec<String> = events
        .iter()
        .filter(|(e, _)| e == "updates")
        .flat_map(|(_, d)| d.as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    assert_eq!(updates, ["agent", "tools", "agent", "__interrupt__"]);

    let (_, state) = s.get(&format!("/threads/{tid}/state")).await;
    assert_eq!(state["next"], json!(["approve"]));
    let payload = &state["tasks"][0]["interrupts"][0]["value"];
    assert_eq!(payload["action"], "create_ticket");
    assert_eq!(payload["args"]["title"], "The printer on floor 3 is jammed");
    assert_eq!(payload["args"]["requester"], "priya@acme.com");
    assert_eq!(s.get(&format!("/threads/{tid}")).await.1["status"], "interrupted");

    // Resume with the human's approval -> the ticket is created -> Jarvis answers.
    let (st, out) = s
        .post(
            &format!("/threads/{tid}/runs/wait"),
            json!({"assistant_id": "jarvis", "command": {"resume": {"approved": true}}}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    let answer = last_content(&out);
    assert!(answer.starts_with("Done: ticket HD-") && answer.contains("is open"), "{answer}");
    assert_eq!(out["approval"], json!({"approved": true}));
    let kinds: Vec<&str> =
        out["messages"].as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["human", "ai", "tool", "ai", "tool", "ai"]);
    assert_eq!(s.get(&format!("/threads/{tid}")).await.1["status"], "idle");

    // History: one checkpoint per step, every node's step is there.
    let (st, hist) = s.post(&format!("/threads/{tid}/history"), json!({"limit": 100})).await;
    assert_eq!(st, 200);
    let hist = hist.as_array().unwrap();
    let mut steps: Vec<i64> =
        hist.iter().map(|c| c["metadata"]["step"].as_i64().unwrap()).collect();
    steps.sort_unstable();
    let expected: Vec<i64> = (-1..=steps[steps.len() - 1]).collect();
    assert_eq!(steps, expected, "a checkpoint for every step");
    let nexts: Vec<String> = hist
        .iter()
        .flat_map(|c| c["next"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()))
        .collect();
    for node in ["agent", "tools", "approve"] {
        assert!(nexts.iter().any(|n| n == node), "history shows {node}: {nexts:?}");
    }
    assert!(hist[0]["next"].as_array().unwrap().is_empty(), "the newest checkpoint is the end");
}

both!(jarvis_declined_and_legacy_messages_mode);
async fn jarvis_declined_and_legacy_messages_mode(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let tid = t["thread_id"].as_str().unwrap().to_string();
    let (_, _, events) = s
        .sse(
            &format!("/threads/{tid}/runs/stream"),
            json!({"assistant_id": "jarvis", "input": human("My laptop is broken"), "stream_mode": "messages"}),
        )
        .await;
    let partial: Vec<(String, String)> = events
        .iter()
        .filter(|(e, _)| e == "messages/partial")
        .map(|(_, d)| {
            (
                d[0]["id"].as_str().unwrap().to_string(),
                d[0]["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(partial.len() >= 3, "{events:?}");
    assert!(
        partial.windows(2).all(|w| w[0].0 != w[1].0 || w[1].1.starts_with(&w[0].1)),
        "partials of one message accumulate: {partial:?}"
    );
    assert_eq!(partial[0].1, "Sorry");
    assert!(partial.iter().any(|(_, c)| c == "Sorry about that. Let me look you up first."));
    assert!(events.iter().any(|(e, _)| e == "messages/metadata"));
    let (_, out) = s
        .post(
            &format!("/threads/{tid}/runs/wait"),
            json!({"assistant_id": "jarvis", "command": {"resume": {"approved": false, "comment": "Not today."}}}),
        )
        .await;
    assert_eq!(last_content(&out), "OK, I did not open a ticket. Anything else I can do?");
    let msgs = out["messages"].as_array().unwrap();
    let refusal = &msgs[msgs.len() - 2];
    assert_eq!(refusal["type"], "tool");
    assert_eq!(refusal["content"], "The user declined this action. Not today.");
}

both!(jarvis_spanish_answers_with_its_own_prompt);
async fn jarvis_spanish_answers_with_its_own_prompt(backend: Backend) {
    let s = Server::start(backend).await;
    let (st, found) = s.post("/assistants/search", json!({"graph_id": "jarvis"})).await;
    assert_eq!(st, 200);
    let names: Vec<&str> =
        found.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"jarvis") && names.contains(&"jarvis-spanish"), "{names:?}");
    let spanish = found.as_array().unwrap().iter().find(|a| a["name"] == "jarvis-spanish").unwrap();
    assert!(
        spanish["config"]["configurable"]["system_prompt"].as_str().unwrap().contains("español")
    );
    let id = spanish["assistant_id"].as_str().unwrap();
    let (st, schemas) = s.get(&format!("/assistants/{id}/schemas")).await;
    assert_eq!(st, 200);
    assert_eq!(schemas["config_schema"]["properties"]["user_email"]["default"], "priya@acme.com");

    let (_, t) = s.post("/threads", json!({})).await;
    let tid = t["thread_id"].as_str().unwrap().to_string();
    let (st, out) = s
        .post(
            &format!("/threads/{tid}/runs/wait"),
            json!({"assistant_id": id, "input": human("hola")}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(
        last_content(&out),
        "¡Hola! Soy Jarvis, el asistente de soporte de Acme. ¿En qué puedo ayudarte?"
    );
    // The same flow in Spanish, with the assistant named instead of its id.
    let (_, out) = s
        .post(
            &format!("/threads/{tid}/runs/wait"),
            json!({"assistant_id": "jarvis-spanish", "input": human("La impresora está atascada")}),
        )
        .await;
    assert!(
        out["__interrupt__"].is_array()
            || s.get(&format!("/threads/{tid}/state")).await.1["next"] == json!(["approve"]),
        "{out}"
    );
    let (_, out) = s
        .post(
            &format!("/threads/{tid}/runs/wait"),
            json!({"assistant_id": "jarvis-spanish", "command": {"resume": true}}),
        )
        .await;
    let answer = last_content(&out);
    assert!(answer.starts_with("Listo: he abierto el ticket HD-"), "{answer}");
    // The English default prompt is untouched.
    let (_, out) =
        s.post("/runs/wait", json!({"assistant_id": "jarvis", "input": human("hello")})).await;
    assert_eq!(last_content(&out), "Hi, I'm Jarvis, Acme's helpdesk assistant. How can I help?");
}

/// The binary, with `--config`: what it serves, what it logs (never a secret), and how a bad
/// project stops it.
#[tokio::test]
async fn the_binary_serves_a_project_and_never_logs_its_secrets() {
    let dir = every_key_project();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log_path = dir.0.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = crate::runtime_command()
        .args(["dev", "--port", &port.to_string(), "--config"])
        .arg(dir.0.join("langgraph.json"))
        .arg("--data-dir")
        .arg(dir.0.join(".orrery"))
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..400 {
        if http.get(format!("{url}/ok")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let mut seen = String::new();
    if up {
        for (path, body) in [
            ("/assistants/search", json!({})),
            ("/runs/wait", json!({"assistant_id": "helper", "input": human("Cy")})),
            ("/runs/wait", json!({"assistant_id": "py_agent", "input": human("no")})),
        ] {
            let r = http.post(format!("{url}{path}")).json(&body).send().await.unwrap();
            seen += &r.text().await.unwrap();
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(up, "the server did not start: {logged}");
    assert!(seen.contains("Hello, Cy!"), "{seen}");
    assert!(seen.contains("Invalid assistant: 'py_agent'"), "{seen}");
    assert!(logged.contains("graphs not runnable yet, not served: py_agent"), "{logged}");
    assert!(logged.contains("ts_agent (TypeScript graph ./src/agent.ts:graph)"), "{logged}");
    assert!(
        logged.contains("ignoring keys this runtime does not know: some_future_key"),
        "{logged}"
    );
    assert!(!logged.contains(SECRET) && !seen.contains(SECRET), "a secret was logged or returned");

    // A malformed graph file: the process stops with the file, line and field.
    write(&dir.0, "graphs/helper.yaml", &HELPER.replace("kind: chat_model", "kind: llm"));
    let out = crate::runtime_command()
        .args(["dev", "--port", &port.to_string(), "--config"])
        .arg(dir.0.join("langgraph.json"))
        .arg("--data-dir")
        .arg(dir.0.join(".orrery"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("graphs/helper.yaml:14:5: nodes.model.kind: unknown node kind \"llm\""),
        "{err}"
    );
}

const CHILD_GRAPH: &str = "name: research
state:
  messages: {reducer: messages}
  notes: {reducer: append}
nodes:
  look:
    kind: set
    update: {notes: ['looked at {{ last_user_message }}']}
  answer:
    kind: chat_model
    model: {provider: scripted, rules: [{reply: Found it}]}
edges:
  - {from: __start__, to: look}
  - {from: look, to: answer}
  - {from: answer, to: __end__}
";

const PARENT_GRAPH: &str = "name: parent
state:
  messages: {reducer: messages}
  notes: {type: array}
nodes:
  intro: {kind: set, update: {notes: [start]}}
  research: {kind: subgraph, path: ./research/child.yaml}
edges:
  - {from: __start__, to: intro}
  - {from: intro, to: research}
  - {from: research, to: __end__}
";

both!(a_subgraph_node_is_served_as_a_langgraph_subgraph);
async fn a_subgraph_node_is_served_as_a_langgraph_subgraph(backend: Backend) {
    let dir = TempDir::create();
    write(&dir.0, "graphs/research/child.yaml", CHILD_GRAPH);
    write(&dir.0, "graphs/parent.yaml", PARENT_GRAPH);
    let cfg = write(&dir.0, "langgraph.json", r#"{"graphs": {"parent": "./graphs/parent.yaml"}}"#);
    let s = start_project(backend, &cfg).await.unwrap();
    let id = orrery_runtime::graphs::system_assistant_id("parent");

    let (st, g) = s.get(&format!("/assistants/{id}/graph?xray=true")).await;
    assert_eq!(st, 200, "{g}");
    let ids: Vec<&str> =
        g["nodes"].as_array().unwrap().iter().filter_map(|n| n["id"].as_str()).collect();
    assert!(ids.contains(&"research:look") && ids.contains(&"research:answer"), "{ids:?}");
    let (_, g) = s.get(&format!("/assistants/{id}/graph")).await;
    let ids: Vec<&str> =
        g["nodes"].as_array().unwrap().iter().filter_map(|n| n["id"].as_str()).collect();
    assert!(ids.contains(&"research") && !ids.contains(&"research:look"), "{ids:?}");
    let (st, subs) = s.get(&format!("/assistants/{id}/subgraphs")).await;
    assert_eq!(st, 200, "{subs}");
    assert_eq!(subs.as_object().unwrap().keys().collect::<Vec<_>>(), ["research"], "{subs}");

    let (_, t) = s.post("/threads", json!({})).await;
    let tid = t["thread_id"].as_str().unwrap().to_string();
    let (st, _, events) = s
        .sse(
            &format!("/threads/{tid}/runs/stream"),
            json!({"assistant_id": "parent", "input": {"messages": "hi"},
                   "stream_mode": ["updates"], "stream_subgraphs": true}),
        )
        .await;
    assert_eq!(st, 200);
    let inner: Vec<&str> = events
        .iter()
        .filter(|(e, _)| e.starts_with("updates|research:"))
        .flat_map(|(_, d)| d.as_object().unwrap().keys().map(String::as_str).collect::<Vec<_>>())
        .collect();
    assert_eq!(inner, ["look", "answer"], "{events:?}");
    let (_, state) = s.get(&format!("/threads/{tid}/state?subgraphs=true")).await;
    assert_eq!(state["values"]["notes"], json!(["start", "looked at hi"]));
    assert_eq!(state["values"]["messages"][1]["content"], "Found it");
}
