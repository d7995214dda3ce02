//! Real chat model providers through the server: a project whose graph calls a fake
//! OpenAI-compatible API on 127.0.0.1 streams its tokens in the `messages` stream mode, runs
//! its tool calls, and turns provider errors into run errors without the key.

use serde_json::{Value, json};

#[path = "../../../graph-file/tests/graph_file/fake.rs"]
pub(crate) mod fake;

use fake::{FakeServer, openai_error, openai_text, openai_tool_call};

use crate::projects::{start_project, write};
use crate::tempdir::TempDir;
use crate::{Backend, both};

const KEY: &str = "sk-proj-fake-key-5b1f0c2e7d";

fn agent_yaml(base_url: &str) -> String {
    format!(
        "state:
  messages: {{reducer: messages}}
nodes:
  agent:
    kind: chat_model
    system_prompt: You are terse.
    tools: [lookup_user]
    retry: {{max_attempts: 2, initial_interval: 0.05, jitter: false}}
    model: {{provider: openai, model: gpt-4o-mini, base_url: '{base_url}/v1', api_key: {{env: PROVIDER_KEY}}, timeout: 5}}
  tools:
    kind: tools
    tools: [lookup_user]
edges:
  - {{from: __start__, to: agent}}
  - {{from: tools, to: agent}}
conditional_edges:
  - {{from: agent, condition: has_tool_calls, routes: {{'true': tools, 'false': __end__}}}}
"
    )
}

both!(an_openai_model_streams_tokens_through_the_server);
async fn an_openai_model_streams_tokens_through_the_server(backend: Backend) {
    let fake = FakeServer::start(vec![
        openai_tool_call("call_9x", "lookup_user", &["{\"email\":", " \"anuj@acme.com\"}"]),
        openai_text(&["Hello", " from", " the", " fake"]),
        openai_error(
            401,
            &format!("Incorrect API key provided: {KEY}."),
            "invalid_request_error",
            json!("invalid_api_key"),
        ),
        openai_error(429, "Rate limit reached", "requests", json!("rate_limit_exceeded")),
        openai_text(&["retried"]),
    ])
    .await;
    let dir = TempDir::create();
    write(&dir.0, "agent.yaml", &agent_yaml(&fake.url));
    let manifest = json!({"graphs": {"agent": "./agent.yaml"}, "env": {"PROVIDER_KEY": KEY}});
    let cfg = write(&dir.0, "langgraph.json", &manifest.to_string());
    let s = start_project(backend, &cfg).await.unwrap();
    let (_, t) = s.post("/threads", json!({})).await;
    let tid = t["thread_id"].as_str().unwrap().to_string();

    let input = json!({"messages": [{"role": "user", "content": "Who is my manager?"}]});
    let (st, _, events) = s
        .sse(
            &format!("/threads/{tid}/runs/stream"),
            json!({"assistant_id": "agent", "input": input, "stream_mode": ["messages-tuple", "updates"]}),
        )
        .await;
    assert_eq!(st, 200);
    let messages: Vec<&Value> = events
        .iter()
        .filter(|(e, d)| e == "messages" && d[0]["type"] == "AIMessageChunk")
        .map(|(_, d)| d)
        .collect();
    let tokens: Vec<&str> = messages
        .iter()
        .filter_map(|d| d[0]["content"].as_str())
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(tokens, ["Hello", " from", " the", " fake"]);
    let meta = &messages[0][1];
    assert_eq!(meta["ls_provider"], "openai");
    assert_eq!(meta["ls_model_name"], "gpt-4o-mini");
    assert_eq!(meta["langgraph_node"], "agent");
    let updates: Vec<String> = events
        .iter()
        .filter(|(e, _)| e == "updates")
        .flat_map(|(_, d)| d.as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    assert_eq!(updates, ["agent", "tools", "agent"]);
    let (_, state) = s.get(&format!("/threads/{tid}/state")).await;
    let msgs = state["values"]["messages"].as_array().unwrap();
    assert_eq!(msgs[1]["tool_calls"][0]["args"], json!({"email": "anuj@acme.com"}));
    assert!(msgs[2]["content"].as_str().unwrap().contains("Anuj Mehta"));
    assert_eq!(msgs[3]["content"], "Hello from the fake");
    assert_eq!(msgs[3]["response_metadata"]["finish_reason"], "stop");
    assert_eq!(msgs[3]["usage_metadata"]["output_tokens"], 4);

    // A bad key: the run fails with the provider's reason, never the key.
    let input = json!({"messages": [{"role": "user", "content": "again"}]});
    let (_, _, events) = s
        .sse(
            &format!("/threads/{tid}/runs/stream"),
            json!({"assistant_id": "agent", "input": input}),
        )
        .await;
    let err = &events.iter().find(|(e, _)| e == "error").expect("an error event").1;
    assert_eq!(err["error"], "AuthenticationError");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("Error code: 401") && msg.contains("PROVIDER_KEY"), "{msg}");
    let (_, runs) = s.get(&format!("/threads/{tid}/runs")).await;
    assert_eq!(runs[0]["status"], "error");
    let (_, thread) = s.get(&format!("/threads/{tid}")).await;
    assert_eq!(thread["status"], "error");

    // A rate limit, then success: the node's retry policy tries again.
    let input = json!({"messages": [{"role": "user", "content": "once more"}]});
    let (st, out) = s
        .post(
            &format!("/threads/{tid}/runs/wait"),
            json!({"assistant_id": "agent", "input": input}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["messages"].as_array().unwrap().last().unwrap()["content"], "retried");
    assert_eq!(fake.requests().len(), 5);

    let everything = format!("{events:?} {state} {runs} {thread} {out}");
    assert!(!everything.contains(KEY), "the key leaked");
}
