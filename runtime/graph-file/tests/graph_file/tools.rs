//! `http` and `command` tools: requests built from a tool call's arguments (against fake
//! servers on 127.0.0.1), programs given the arguments on stdin, and their failures reported
//! as error tool messages the way LangGraph's ToolNode reports them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use orrery_engine::RunConfig;
use orrery_graph_file::{Env, load_graph_file};
use serde_json::{Value, json};

use super::fake::{FakeServer, Reply};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn create() -> TempDir {
        let p = std::env::temp_dir().join(format!("orrery-gf-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn script(dir: &std::path::Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const WEATHER_KEY: &str = "wk-secret-7f3a9c";

#[tokio::test]
async fn http_and_command_tools_answer_tool_calls() {
    let weather = FakeServer::start(vec![Reply::json(
        200,
        &json!({"temp_c": 21, "city": "New York", "echo": format!("Bearer {WEATHER_KEY}")}),
    )])
    .await;
    let notes = FakeServer::start(vec![Reply::json(201, &json!({"saved": true, "id": 7}))]).await;
    let missing =
        FakeServer::start(vec![Reply::json(404, &json!({"detail": "no such thing"}))]).await;
    let dir = TempDir::create();
    std::fs::create_dir_all(dir.0.join("bin")).unwrap();
    script(
        &dir.0.join("bin"),
        "shout.sh",
        "input=$(cat)\nprintf '{\"got\": %s, \"secret_seen\": \"%s\"}' \"$input\" \"$TOOL_TOKEN\"",
    );
    script(
        &dir.0.join("bin"),
        "crash.sh",
        "echo 'starting' >&2\necho 'boom: disk full' >&2\nexit 3",
    );
    script(&dir.0.join("bin"), "slow.sh", "sleep 10\necho late");
    script(&dir.0.join("bin"), "text.sh", "echo 'plain words'");
    let yaml = format!(
        "state:
  messages: {{reducer: messages}}
tools:
  weather:
    kind: http
    description: The weather in a city
    parameters: {{type: object, properties: {{city: {{type: string}}}}, required: [city]}}
    url: '{w}/weather?city={{{{ args.city }}}}&units=metric'
    headers:
      Authorization: {{env: WEATHER_KEY, prefix: 'Bearer '}}
      X-Client: orrery
  save_note:
    kind: http
    method: POST
    url: '{n}/notes'
  lost:
    kind: http
    url: '{m}/missing'
  shout:
    kind: command
    command: ./bin/shout.sh
    env: {{TOOL_TOKEN: {{env: WEATHER_KEY}}}}
  crash:
    kind: command
    command: ./bin/crash.sh
  slow:
    kind: command
    command: ./bin/slow.sh
    timeout: 0.5
  words:
    kind: command
    command: ./bin/text.sh
nodes:
  agent:
    kind: chat_model
    tools: [weather, save_note, lost, shout, crash, slow, words]
    model:
      provider: scripted
      rules:
        - when: {{last: human}}
          tool_calls:
            - {{name: weather, args: {{city: New York}}}}
            - {{name: save_note, args: {{text: buy milk, tags: [home]}}}}
            - {{name: lost}}
            - {{name: shout, args: {{text: hello}}}}
            - {{name: crash}}
            - {{name: slow}}
            - {{name: words}}
      fallback: done
  tools:
    kind: tools
edges:
  - {{from: __start__, to: agent}}
  - {{from: tools, to: agent}}
conditional_edges:
  - {{from: agent, condition: has_tool_calls, routes: {{'true': tools, 'false': __end__}}}}
",
        w = weather.url,
        n = notes.url,
        m = missing.url
    );
    let path = dir.0.join("graph.yaml");
    std::fs::write(&path, yaml).unwrap();
    let env = Env::from_pairs([("WEATHER_KEY", WEATHER_KEY)]);
    let loaded = load_graph_file(&path, "graph.yaml", &env).unwrap();
    let g = crate::in_memory(loaded.graph);
    let started = Instant::now();
    let out = g
        .invoke(json!({"messages": [{"role": "user", "content": "go"}]}), RunConfig::thread("t"))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "tools run concurrently, slow is stopped");
    let msgs = out.values["messages"].as_array().unwrap();
    let by_name = |n: &str| -> &Value {
        msgs.iter().find(|m| m["type"] == "tool" && m["name"] == n).unwrap()
    };
    let calls = msgs[1]["tool_calls"].as_array().unwrap();
    for (m, c) in msgs[2..9].iter().zip(calls) {
        assert_eq!(m["tool_call_id"], c["id"], "one answer per call, in the calls' order");
    }
    assert_eq!(msgs.last().unwrap()["content"], "done");

    // http GET: the URL from the args (encoded), the secret header; the answer is the content.
    let w = by_name("weather");
    assert_eq!(w["status"], "success");
    let content: Value = serde_json::from_str(w["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["temp_c"], 21);
    assert_eq!(content["echo"], "Bearer ***", "a secret echoed back is redacted");
    let req = &weather.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/weather?city=New%20York&units=metric")
    );
    assert_eq!(req.header("authorization"), Some(format!("Bearer {WEATHER_KEY}").as_str()));
    assert_eq!(req.header("x-client"), Some("orrery"));
    assert_eq!(req.body, "");

    // http POST: the args are the JSON body.
    let n = by_name("save_note");
    assert_eq!(
        (n["status"].as_str(), n["content"].as_str()),
        (Some("success"), Some("{\"saved\":true,\"id\":7}"))
    );
    let req = &notes.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.json(), json!({"text": "buy milk", "tags": ["home"]}));
    assert_eq!(req.header("content-type"), Some("application/json"));

    // An HTTP error status is an error tool message.
    let l = by_name("lost");
    assert_eq!(l["status"], "error");
    let text = l["content"].as_str().unwrap();
    assert!(
        text.starts_with("Error: GET ")
            && text.contains("HTTP 404 Not Found")
            && text.contains("no such thing"),
        "{text}"
    );
    assert!(text.ends_with("\n Please fix your mistakes."), "{text}");

    // command: the args on stdin, stdout (JSON) is the result; env secrets reach the program
    // but not the conversation.
    let s = by_name("shout");
    assert_eq!(s["status"], "success");
    let content: Value = serde_json::from_str(s["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"got": {"text": "hello"}, "secret_seen": "***"}));
    assert_eq!(by_name("words")["content"], "plain words");

    let c = by_name("crash");
    assert_eq!(c["status"], "error");
    let text = c["content"].as_str().unwrap();
    assert!(text.contains("exited with status 3") && text.contains("boom: disk full"), "{text}");

    let sl = by_name("slow");
    assert_eq!(sl["status"], "error");
    assert!(sl["content"].as_str().unwrap().contains("timed out"), "{}", sl["content"]);

    let everything = out.values.to_string();
    assert!(!everything.contains(WEATHER_KEY), "no secret in the state");
}

#[test]
fn tool_definitions_are_checked() {
    let dir = TempDir::create();
    let base = "state:\n  messages: {reducer: messages}\nnodes:\n  tools: {kind: tools, tools: [t]}\nedges:\n  - {from: __start__, to: tools}\ntools:\n";
    let cases = [
        ("  t: {kind: http, url: 'not a url {{ args.x }}'}\n", "tools.t.url", "not an http(s) URL"),
        (
            "  t: {kind: http, url: 'http://x/{{ nope }}'}\n",
            "tools.t.url",
            "must start with one of",
        ),
        (
            "  t: {kind: http, method: FETCH, url: 'http://x'}\n",
            "tools.t.method",
            "unknown variant",
        ),
        (
            "  t: {kind: http, url: 'http://x', headers: {A: {env: NOPE}}}\n",
            "tools.t.headers.A.env",
            "no `NOPE`",
        ),
        ("  t: {kind: command, command: ./nope.sh}\n", "tools.t.command", "no such program"),
        ("  t: {kind: shell, command: x}\n", "tools.t.kind", "unknown tool kind"),
        (
            "  echo: {kind: command, command: ls}\n  t: {kind: command, command: ls}\n",
            "tools.echo",
            "built-in tool",
        ),
    ];
    for (tools, field, msg) in cases {
        let path = dir.0.join("g.yaml");
        std::fs::write(&path, format!("{base}{tools}")).unwrap();
        let e = load_graph_file(&path, "g.yaml", &Env::default()).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.message.contains(msg), "{e}");
    }
}
