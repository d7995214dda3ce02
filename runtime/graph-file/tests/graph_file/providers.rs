//! Real chat model providers against fake OpenAI and Anthropic servers on 127.0.0.1: token
//! streaming, tool call round trips, error answers, retries, timeouts, key redaction.

use std::time::Duration;

use orrery_engine::{CompileOptions, CompiledGraph, RunConfig, StreamMode};
use orrery_graph_file::{Env, Syntax, compile_text};
use serde_json::{Value, json};

use super::fake::{
    FakeServer, Reply, anthropic_error, anthropic_text, anthropic_tool_use, openai_error,
    openai_text, openai_tool_call,
};

const OPENAI_KEY: &str = "sk-test-openai-0123456789";
const ANTHROPIC_KEY: &str = "sk-ant-test-9876543210";

fn agent_yaml(model: &str, retry: &str) -> String {
    format!(
        "state:
  messages: {{reducer: messages}}
nodes:
  agent:
    kind: chat_model
    system_prompt: 'You help {{{{ configurable.who }}}}.'
    tools: [lookup_user]
{retry}    model: {model}
  tools:
    kind: tools
    tools: [lookup_user]
configurable:
  who: {{type: string, default: Priya}}
edges:
  - {{from: __start__, to: agent}}
  - {{from: tools, to: agent}}
conditional_edges:
  - {{from: agent, condition: has_tool_calls, routes: {{'true': tools, 'false': __end__}}}}
"
    )
}

fn env() -> Env {
    Env::from_pairs([("OPENAI_KEY", OPENAI_KEY), ("ANTHROPIC_KEY", ANTHROPIC_KEY)])
}

fn graph(yaml: &str) -> CompiledGraph {
    let g = compile_text("agent.yaml", yaml, Syntax::Yaml, &env()).unwrap();
    crate::in_memory(g.graph)
}

fn openai_model(url: &str, extra: &str) -> String {
    format!(
        "{{provider: openai, model: gpt-4o-mini, base_url: '{url}/v1', api_key: {{env: OPENAI_KEY}}, temperature: 0.2{extra}}}"
    )
}

fn anthropic_model(url: &str, extra: &str) -> String {
    format!(
        "{{provider: anthropic, model: claude-haiku-4-5, base_url: '{url}', api_key: {{env: ANTHROPIC_KEY}}, max_tokens: 512{extra}}}"
    )
}

const FAST_RETRY: &str = "    retry: {max_attempts: 3, initial_interval: 0.05, jitter: false}\n";

fn input(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

/// The `messages` stream events: (chunk, metadata).
fn message_events(events: &[orrery_engine::StreamEvent]) -> Vec<(Value, Value)> {
    events
        .iter()
        .filter(|e| e.mode == StreamMode::Messages)
        .map(|e| (e.data[0].clone(), e.data[1].clone()))
        .collect()
}

#[tokio::test]
async fn openai_streams_tokens_and_round_trips_a_tool_call() {
    let server = FakeServer::start(vec![
        openai_tool_call("call_Lk2", "lookup_user", &["{\"em", "ail\": \"priya@", "acme.com\"}"]),
        openai_text(&["Hi", " Priya", ", you are on floor 3."]),
    ])
    .await;
    let g = graph(&agent_yaml(&openai_model(&server.url, ""), ""));
    let cfg = RunConfig::thread("t1").modes(&[StreamMode::Messages, StreamMode::Values]);
    let (events, out) = g.stream(input("Where do I sit?"), cfg).await;
    let out = out.unwrap();

    let msgs = out.values["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    let call = &msgs[1];
    assert_eq!(call["type"], "ai");
    assert_eq!(
        call["tool_calls"],
        json!([{"name": "lookup_user", "args": {"email": "priya@acme.com"}, "id": "call_Lk2", "type": "tool_call"}])
    );
    assert_eq!(call["response_metadata"]["finish_reason"], "tool_calls");
    assert_eq!(msgs[2]["type"], "tool");
    assert_eq!(msgs[2]["tool_call_id"], "call_Lk2");
    assert!(msgs[2]["content"].as_str().unwrap().contains("Priya Raman"), "{}", msgs[2]);
    let answer = &msgs[3];
    assert_eq!(answer["content"], "Hi Priya, you are on floor 3.");
    assert_eq!(answer["tool_calls"], json!([]));
    assert_eq!(answer["response_metadata"]["finish_reason"], "stop");
    assert_eq!(answer["response_metadata"]["model_name"], "gpt-4o-mini-2024-07-18");
    assert_eq!(answer["response_metadata"]["model_provider"], "openai");
    assert_eq!(answer["usage_metadata"]["input_tokens"], 19);
    assert_eq!(answer["usage_metadata"]["total_tokens"], 22);

    // Tokens stream as they come, with LangChain's metadata.
    let chunks: Vec<(Value, Value)> = message_events(&events)
        .into_iter()
        .filter(|(c, _)| c["type"] == "AIMessageChunk")
        .collect();
    let tokens: Vec<&str> = chunks
        .iter()
        .filter_map(|(c, _)| c["content"].as_str())
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(tokens, ["Hi", " Priya", ", you are on floor 3."]);
    let (first, meta) = &chunks[0];
    assert_eq!(first["type"], "AIMessageChunk");
    assert_eq!(first["tool_call_chunks"][0]["name"], "lookup_user");
    assert_eq!(first["tool_call_chunks"][0]["id"], "call_Lk2");
    assert_eq!(meta["ls_provider"], "openai");
    assert_eq!(meta["ls_model_name"], "gpt-4o-mini");
    assert_eq!(meta["ls_model_type"], "chat");
    assert_eq!(meta["ls_temperature"], 0.2);
    assert_eq!(meta["langgraph_node"], "agent");
    // Args fragments stream as tool call chunks.
    let frags: Vec<&str> =
        chunks.iter().filter_map(|(c, _)| c["tool_call_chunks"].get(0)?["args"].as_str()).collect();
    assert_eq!(frags.concat(), "{\"email\": \"priya@acme.com\"}");
    let last = chunks.iter().filter(|(c, _)| c["chunk_position"] == "last").count();
    assert_eq!(last, 2, "one closing chunk per model call");

    // What the provider was sent.
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!((reqs[0].method.as_str(), reqs[0].path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(reqs[0].header("authorization"), Some(format!("Bearer {OPENAI_KEY}").as_str()));
    let b = reqs[0].json();
    assert_eq!((b["model"].as_str(), b["stream"].as_bool()), (Some("gpt-4o-mini"), Some(true)));
    assert_eq!(b["temperature"], 0.2);
    assert_eq!(b["messages"][0], json!({"role": "system", "content": "You help Priya."}));
    assert_eq!(b["messages"][1], json!({"role": "user", "content": "Where do I sit?"}));
    assert_eq!(b["tools"][0]["type"], "function");
    assert_eq!(b["tools"][0]["function"]["name"], "lookup_user");
    assert_eq!(b["tools"][0]["function"]["parameters"]["required"], json!(["email"]));
    let b = reqs[1].json();
    let m = b["messages"].as_array().unwrap();
    assert_eq!(m[2]["role"], "assistant");
    assert_eq!(m[2]["tool_calls"][0]["id"], "call_Lk2");
    assert_eq!(m[2]["tool_calls"][0]["function"]["arguments"], "{\"email\":\"priya@acme.com\"}");
    assert_eq!(m[3]["role"], "tool");
    assert_eq!(m[3]["tool_call_id"], "call_Lk2");
}

#[tokio::test]
async fn anthropic_streams_tokens_and_round_trips_a_tool_use() {
    let server = FakeServer::start(vec![
        anthropic_tool_use(
            "Let me check.",
            "toolu_01A",
            "lookup_user",
            &["{\"email\": ", "\"priya@acme.com\"}"],
        ),
        anthropic_text(&["Found", " you,", " Priya."]),
    ])
    .await;
    let g = graph(&agent_yaml(&anthropic_model(&server.url, ""), ""));
    let cfg = RunConfig::thread("t1").modes(&[StreamMode::Messages]);
    let (events, out) = g.stream(input("Who am I?"), cfg).await;
    let out = out.unwrap();
    let msgs = out.values["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    let call = &msgs[1];
    assert_eq!(
        call["tool_calls"],
        json!([{"name": "lookup_user", "args": {"email": "priya@acme.com"}, "id": "toolu_01A", "type": "tool_call"}])
    );
    assert_eq!(call["content"][0], json!({"type": "text", "text": "Let me check."}));
    assert_eq!(call["content"][1]["type"], "tool_use");
    assert_eq!(call["content"][1]["input"]["email"], "priya@acme.com");
    assert_eq!(call["response_metadata"]["stop_reason"], "tool_use");
    assert_eq!(msgs[2]["tool_call_id"], "toolu_01A");
    let answer = &msgs[3];
    assert_eq!(answer["content"], "Found you, Priya.");
    assert_eq!(answer["response_metadata"]["stop_reason"], "end_turn");
    assert_eq!(answer["response_metadata"]["model_name"], "claude-haiku-4-5-20251001");
    assert_eq!(answer["response_metadata"]["id"], "msg_01XFDUDYJgAACzvnptvVoYEL");
    assert_eq!(
        (
            answer["usage_metadata"]["input_tokens"].as_u64(),
            answer["usage_metadata"]["output_tokens"].as_u64()
        ),
        (Some(472), Some(15))
    );

    let chunks: Vec<(Value, Value)> = message_events(&events)
        .into_iter()
        .filter(|(c, _)| c["type"] == "AIMessageChunk")
        .collect();
    // With tools bound, text streams as content blocks.
    let tokens: Vec<&str> =
        chunks.iter().filter_map(|(c, _)| c["content"].get(0)?["text"].as_str()).collect();
    assert_eq!(tokens, ["Let me check.", "Found", " you,", " Priya."]);
    assert_eq!(chunks[0].1["ls_provider"], "anthropic");
    assert_eq!(chunks[0].1["ls_model_name"], "claude-haiku-4-5");
    assert_eq!(chunks[0].1["ls_max_tokens"], 512);
    let partial: Vec<&str> = chunks
        .iter()
        .filter_map(|(c, _)| c["content"].get(0).filter(|b| b["type"] == "input_json_delta"))
        .filter_map(|b| b["partial_json"].as_str())
        .collect();
    assert_eq!(partial.concat(), "{\"email\": \"priya@acme.com\"}");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(reqs[0].header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(reqs[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(reqs[0].header("authorization"), None);
    let b = reqs[0].json();
    assert_eq!(b["system"], "You help Priya.");
    assert_eq!(b["max_tokens"], 512);
    assert_eq!(b["stream"], true);
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Who am I?"}]}])
    );
    assert_eq!(b["tools"][0]["name"], "lookup_user");
    assert_eq!(b["tools"][0]["input_schema"]["required"], json!(["email"]));
    let m = reqs[1].json()["messages"].clone();
    assert_eq!(m[1]["role"], "assistant");
    assert_eq!(m[1]["content"][1]["type"], "tool_use");
    assert_eq!(m[1]["content"][1]["id"], "toolu_01A");
    assert_eq!(m[2]["role"], "user");
    assert_eq!(m[2]["content"][0]["type"], "tool_result");
    assert_eq!(m[2]["content"][0]["tool_use_id"], "toolu_01A");
}

async fn run_error(g: &CompiledGraph) -> (String, String) {
    let (_, out) = g.stream(input("hello"), RunConfig::thread("t1")).await;
    let e = out.expect_err("the run fails");
    (e.kind().to_string(), e.to_string())
}

#[tokio::test]
async fn a_bad_key_fails_at_once_with_a_clear_message_and_no_key() {
    // The real API echoes (part of) the key; the whole key is never shown here.
    let server = FakeServer::start(vec![openai_error(
        401,
        &format!("Incorrect API key provided: {OPENAI_KEY}. You can find your API key at https://platform.openai.com/account/api-keys."),
        "invalid_request_error",
        json!("invalid_api_key"),
    )])
    .await;
    let g = graph(&agent_yaml(&openai_model(&server.url, ""), FAST_RETRY));
    let (kind, msg) = run_error(&g).await;
    assert_eq!(kind, "AuthenticationError");
    assert!(msg.contains("Error code: 401") && msg.contains("Incorrect API key provided"), "{msg}");
    assert!(msg.contains("`OPENAI_KEY`"), "names the env variable: {msg}");
    assert!(!msg.contains(OPENAI_KEY), "{msg}");
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");

    let server =
        FakeServer::start(vec![anthropic_error(401, "authentication_error", "invalid x-api-key")])
            .await;
    let g = graph(&agent_yaml(&anthropic_model(&server.url, ""), FAST_RETRY));
    let (kind, msg) = run_error(&g).await;
    assert_eq!(kind, "AuthenticationError");
    assert!(msg.contains("invalid x-api-key") && msg.contains("`ANTHROPIC_KEY`"), "{msg}");
    assert!(!msg.contains(ANTHROPIC_KEY), "{msg}");
    assert_eq!(server.requests().len(), 1);

    // A bad request is not retried either.
    let server = FakeServer::start(vec![openai_error(
        400,
        "Invalid 'messages'",
        "invalid_request_error",
        Value::Null,
    )])
    .await;
    let g = graph(&agent_yaml(&openai_model(&server.url, ""), FAST_RETRY));
    assert_eq!(run_error(&g).await.0, "BadRequestError");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_by_the_policy() {
    let server = FakeServer::start(vec![
        openai_error(
            429,
            "Rate limit reached for gpt-4o-mini",
            "requests",
            json!("rate_limit_exceeded"),
        ),
        openai_error(500, "The server had an error", "server_error", Value::Null),
        openai_text(&["made", " it"]),
    ])
    .await;
    let g = graph(&agent_yaml(&openai_model(&server.url, ""), FAST_RETRY));
    let (_, out) = g.stream(input("hello"), RunConfig::thread("t1")).await;
    let out = out.unwrap();
    assert_eq!(out.values["messages"][1]["content"], "made it");
    assert_eq!(server.requests().len(), 3);

    // Overloaded every time: the policy gives up after its attempts.
    let server =
        FakeServer::start(vec![anthropic_error(529, "overloaded_error", "Overloaded")]).await;
    let g = graph(&agent_yaml(&anthropic_model(&server.url, ""), FAST_RETRY));
    let (kind, msg) = run_error(&g).await;
    assert_eq!(kind, "OverloadedError");
    assert!(msg.contains("Error code: 529 - Overloaded"), "{msg}");
    assert_eq!(server.requests().len(), 3);

    // Without a retry policy, one attempt.
    let server =
        FakeServer::start(vec![openai_error(429, "Rate limit", "requests", Value::Null)]).await;
    let g = graph(&agent_yaml(&openai_model(&server.url, ""), ""));
    assert_eq!(run_error(&g).await.0, "RateLimitError");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_silent_provider_times_out_and_is_retried() {
    let server =
        FakeServer::start(vec![openai_text(&["late"]).stalled(Duration::from_secs(5))]).await;
    let retry = "    retry: {max_attempts: 2, initial_interval: 0.01, jitter: false}\n";
    let g = graph(&agent_yaml(&openai_model(&server.url, ", timeout: 0.3"), retry));
    let started = std::time::Instant::now();
    let (kind, msg) = run_error(&g).await;
    assert_eq!(kind, "APITimeoutError");
    assert!(msg.contains("timed out"), "{msg}");
    assert_eq!(server.requests().len(), 2);
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

#[tokio::test]
async fn errors_inside_the_stream_and_malformed_streams() {
    // Anthropic reports overload mid-stream as an `error` event.
    let mut r = anthropic_text(&["Hel"]);
    r.chunks.truncate(4);
    r.chunks.push("event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n".into());
    let server = FakeServer::start(vec![r]).await;
    let g = graph(&agent_yaml(&anthropic_model(&server.url, ""), ""));
    let (kind, msg) = run_error(&g).await;
    assert_eq!(kind, "OverloadedError");
    assert!(msg.contains("error in the stream") && msg.contains("Overloaded"), "{msg}");

    let server = FakeServer::start(vec![Reply::new(
        200,
        "text/event-stream",
        vec!["data: {\"id\": \"x\", \"choices\": [{\"delta\": {\"content\": \"a\"}}]}\n\ndata: {oops\n\n".into()],
    )])
    .await;
    let g = graph(&agent_yaml(&openai_model(&server.url, ""), FAST_RETRY));
    let (kind, msg) = run_error(&g).await;
    assert_eq!(kind, "APIResponseValidationError");
    assert!(msg.contains("malformed stream") && msg.contains("{oops"), "{msg}");
    assert_eq!(server.requests().len(), 1, "a malformed stream is not retried");

    // A stream cut before its end is a connection error.
    let mut r = openai_text(&["a", "b"]);
    r.chunks.truncate(2);
    let server = FakeServer::start(vec![r]).await;
    let g = graph(&agent_yaml(&openai_model(&server.url, ""), ""));
    let (kind, msg) = run_error(&g).await;
    assert_eq!(kind, "APIConnectionError");
    assert!(msg.contains("ended before"), "{msg}");

    // Nobody listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let g = graph(&agent_yaml(&openai_model(&format!("http://127.0.0.1:{port}"), ""), ""));
    assert_eq!(run_error(&g).await.0, "APIConnectionError");
}

#[tokio::test]
async fn first_available_picks_the_first_model_whose_key_is_set() {
    let server = FakeServer::start(vec![openai_text(&["from", " openai"])]).await;
    let model = |env: &str| {
        format!(
            "{{provider: first_available, models: [{{provider: openai, model: gpt-4o-mini, base_url: '{}/v1', api_key: {{env: {env}}}}}, {{provider: scripted, rules: [{{reply: offline}}]}}]}}",
            server.url
        )
    };
    let g = graph(&agent_yaml(&model("NOT_SET_KEY"), ""));
    let (_, out) = g.stream(input("hi"), RunConfig::thread("t")).await;
    assert_eq!(out.unwrap().values["messages"][1]["content"], "offline");
    assert!(server.requests().is_empty());
    let loaded =
        compile_text("agent.yaml", &agent_yaml(&model("OPENAI_KEY"), ""), Syntax::Yaml, &env())
            .unwrap();
    let drawn = loaded.graph.clone().compile(CompileOptions::default()).unwrap().draw(0);
    let agent =
        drawn["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "agent").unwrap().clone();
    assert_eq!(agent["metadata"]["provider"], "openai", "{agent}");
    let g = graph(&agent_yaml(&model("OPENAI_KEY"), ""));
    let (_, out) = g.stream(input("hi"), RunConfig::thread("t")).await;
    assert_eq!(out.unwrap().values["messages"][1]["content"], "from openai");

    // Candidates are checked even when not chosen; none available is an error naming the keys.
    let bad =
        "{provider: first_available, models: [{provider: openai, model: m, api_key: {env: NOPE}}]}";
    let e = compile_text("agent.yaml", &agent_yaml(bad, ""), Syntax::Yaml, &env()).unwrap_err();
    assert_eq!(e.field, "nodes.agent.model.models", "{e}");
    assert!(e.message.contains("NOPE"), "{e}");
    let bad = "{provider: first_available, models: [{provider: openai, model: m, base_url: 'ftp://x'}, {provider: scripted}]}";
    let e = compile_text("agent.yaml", &agent_yaml(bad, ""), Syntax::Yaml, &env()).unwrap_err();
    assert_eq!(e.field, "nodes.agent.model.models[0].base_url", "{e}");
    let bad = "{provider: first_available, models: [{provider: anthropic, modle: x}]}";
    let e = compile_text("agent.yaml", &agent_yaml(bad, ""), Syntax::Yaml, &env()).unwrap_err();
    assert!(e.field.starts_with("nodes.agent.model.models[0]"), "{e}");
}
