//! No secret of a project's env ever leaves the server: provider keys and tool secrets are sent
//! to the fake provider and tool servers (checked), but appear in no API response (info,
//! assistants, schemas, graphs, threads, state, history, runs, run streams, errors) and in no
//! line of the server's log, even at debug level and when providers echo the key back.

use serde_json::{Value, json};

use crate::projects::write;
use crate::providers::fake::{
    FakeServer, Reply, anthropic_error, openai_error, openai_text, openai_tool_call,
};
use crate::reload::Binary;
use crate::tempdir::TempDir;

const OPENAI_KEY: &str = "sk-leak-openai-77aa11";
const ANTHROPIC_KEY: &str = "sk-ant-leak-88bb22";
const TOOL_TOKEN: &str = "tok-leak-99cc33";
const SCRIPT_SECRET: &str = "script-leak-00dd44";
const SECRETS: [&str; 4] = [OPENAI_KEY, ANTHROPIC_KEY, TOOL_TOKEN, SCRIPT_SECRET];

fn agent_yaml(openai: &str, tool: &str) -> String {
    format!(
        "state:
  messages: {{reducer: messages}}
tools:
  whoami:
    kind: http
    url: '{tool}/me'
    headers: {{Authorization: {{env: TOOL_TOKEN, prefix: 'Bearer '}}}}
  script:
    kind: command
    command: ./leak.sh
    env: {{SCRIPT_SECRET: {{env: SCRIPT_SECRET}}}}
nodes:
  agent:
    kind: chat_model
    tools: [whoami, script]
    model: {{provider: openai, model: gpt-4o-mini, base_url: '{openai}/v1', api_key: {{env: OPENAI_KEY}}, headers: {{X-Extra: {{env: TOOL_TOKEN}}}}}}
  tools: {{kind: tools}}
edges:
  - {{from: __start__, to: agent}}
  - {{from: tools, to: agent}}
conditional_edges:
  - {{from: agent, condition: has_tool_calls, routes: {{'true': tools, 'false': __end__}}}}
"
    )
}

fn claude_yaml(url: &str) -> String {
    format!(
        "state:
  messages: {{reducer: messages}}
nodes:
  agent:
    kind: chat_model
    retry: {{max_attempts: 2, initial_interval: 0.01, jitter: false}}
    model: {{provider: anthropic, model: claude-haiku-4-5, base_url: '{url}', api_key: {{env: ANTHROPIC_KEY}}}}
edges:
  - {{from: __start__, to: agent}}
"
    )
}

#[tokio::test]
async fn no_secret_reaches_an_api_response_or_the_log() {
    let openai = FakeServer::start(vec![
        // Run 1: the model calls both tools, then answers.
        openai_tool_call("call_a", "whoami", &["{}"]),
        openai_tool_call("call_b", "script", &["{\"q\": 1}"]),
        openai_text(&["all", " done"]),
        // Run 2: a bad key, echoed back by the provider.
        openai_error(
            401,
            &format!("Incorrect API key provided: {OPENAI_KEY}."),
            "invalid_request_error",
            json!("invalid_api_key"),
        ),
    ])
    .await;
    let anthropic = FakeServer::start(vec![anthropic_error(
        500,
        "api_error",
        &format!("internal error for key {ANTHROPIC_KEY}"),
    )])
    .await;
    let tool = FakeServer::start(vec![Reply::json(
        200,
        &json!({"user": "ada", "auth_seen": format!("Bearer {TOOL_TOKEN}")}),
    )])
    .await;

    let dir = TempDir::create();
    write(&dir.0, "graphs/agent.yaml", &agent_yaml(&openai.url, &tool.url));
    write(&dir.0, "graphs/claude.yaml", &claude_yaml(&anthropic.url));
    write(
        &dir.0,
        "graphs/leak.sh",
        "#!/bin/sh\ncat >/dev/null\nprintf '{\"secret_was\": \"%s\"}' \"$SCRIPT_SECRET\"\necho \"stderr has $SCRIPT_SECRET\" >&2\n",
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.0.join("graphs/leak.sh");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    write(
        &dir.0,
        ".env",
        &format!(
            "OPENAI_KEY={OPENAI_KEY}\nANTHROPIC_KEY={ANTHROPIC_KEY}\nTOOL_TOKEN={TOOL_TOKEN}\nSCRIPT_SECRET={SCRIPT_SECRET}\n"
        ),
    );
    let cfg = write(
        &dir.0,
        "langgraph.json",
        r#"{"graphs": {"agent": "./graphs/agent.yaml", "claude": "./graphs/claude.yaml"}, "env": ".env"}"#,
    );
    let log = dir.0.join("server.log");
    let b = Binary::dev(&cfg, &dir.0.join(".orrery"), &log).await;
    let mut seen = String::new();

    // Run 1: streamed in every mode, tools echo their secrets back.
    let (_, t) = b.post("/threads", json!({"metadata": {"who": "test"}})).await;
    let tid = serde_json::from_str::<Value>(&t).unwrap()["thread_id"].as_str().unwrap().to_string();
    let r = b
        .http
        .post(format!("{}/threads/{tid}/runs/stream", b.url))
        .json(&json!({"assistant_id": "agent", "input": {"messages": "who am I?"},
                      "stream_mode": ["values", "updates", "messages-tuple", "debug", "messages"]}))
        .send()
        .await
        .unwrap();
    let stream = r.text().await.unwrap();
    assert!(stream.contains("all") && stream.contains("ada"), "the run went through: {stream}");
    assert!(stream.contains("***"), "echoed secrets are redacted: {stream}");
    seen += &stream;

    // Run 2: the provider refuses the key (and echoes it).
    let (_, out) = b
        .post(
            &format!("/threads/{tid}/runs/wait"),
            json!({"assistant_id": "agent", "input": {"messages": "again"}}),
        )
        .await;
    assert!(out.contains("AuthenticationError"), "{out}");
    seen += &out;
    // Run 3: Anthropic fails twice with the key in its message.
    let r = b
        .http
        .post(format!("{}/runs/stream", b.url))
        .json(&json!({"assistant_id": "claude", "input": {"messages": "hi"}, "stream_mode": ["values", "debug"]}))
        .send()
        .await
        .unwrap();
    let stream = r.text().await.unwrap();
    assert!(stream.contains("InternalServerError"), "{stream}");
    seen += &stream;

    // Everything the API can show about the project, its threads and runs.
    let (_, runs) = b.get(&format!("/threads/{tid}/runs")).await;
    seen += &runs;
    for run in serde_json::from_str::<Value>(&runs).unwrap().as_array().unwrap() {
        let rid = run["run_id"].as_str().unwrap();
        seen += &b.get(&format!("/threads/{tid}/runs/{rid}")).await.1;
        seen += &b.get(&format!("/threads/{tid}/runs/{rid}/join")).await.1;
    }
    for path in [
        "/info",
        "/ok",
        "/openapi.json",
        &format!("/threads/{tid}"),
        &format!("/threads/{tid}/state"),
    ] {
        seen += &b.get(path).await.1;
    }
    for (path, body) in [
        ("/assistants/search".to_string(), json!({"limit": 100})),
        ("/threads/search".to_string(), json!({"limit": 100})),
        (format!("/threads/{tid}/history"), json!({"limit": 100})),
        ("/assistants/count".to_string(), json!({})),
    ] {
        seen += &b.post(&path, body).await.1;
    }
    for graph in ["agent", "claude"] {
        let id = orrery_runtime::graphs::system_assistant_id(graph);
        for suffix in ["", "/schemas", "/graph", "/graph?xray=true", "/subgraphs"] {
            seen += &b.get(&format!("/assistants/{id}{suffix}")).await.1;
        }
        seen += &b.post(&format!("/assistants/{id}/versions"), json!({})).await.1;
    }

    // The secrets were used where they belong.
    let reqs = openai.requests();
    assert!(reqs.len() >= 4, "{}", reqs.len());
    assert_eq!(reqs[0].header("authorization"), Some(format!("Bearer {OPENAI_KEY}").as_str()));
    assert_eq!(reqs[0].header("x-extra"), Some(TOOL_TOKEN));
    assert_eq!(anthropic.requests()[0].header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(anthropic.requests().len(), 2, "the 500 was retried");
    assert_eq!(
        tool.requests()[0].header("authorization"),
        Some(format!("Bearer {TOOL_TOKEN}").as_str())
    );

    drop(b);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("DEBUG"), "the log is at debug level");
    for s in SECRETS {
        assert!(!seen.contains(s), "{s} is in an API response");
        assert!(!logged.contains(s), "{s} is in the log");
    }
}
