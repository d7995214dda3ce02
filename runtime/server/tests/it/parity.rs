//! Behaviours where the runtime once differed from `langgraph dev` (found by the client tests,
//! `tests/client`): each test pins the real server's answer.

use serde_json::{Value, json};

use crate::{Backend, Server, both};

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

both!(search_select_returns_only_the_selected_fields);
async fn search_select_returns_only_the_selected_fields(backend: Backend) {
    let s = Server::start(backend).await;
    // Assistants (golden 10_assistants_search_count_get.txt).
    let (st, a) =
        s.post("/assistants", json!({"graph_id": "echo", "metadata": {"k": "sel"}})).await;
    assert_eq!(st, 200);
    let (st, found) = s
        .post(
            "/assistants/search",
            json!({"select": ["assistant_id", "graph_id", "name"], "metadata": {"k": "sel"}}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        found,
        json!([{"assistant_id": a["assistant_id"], "graph_id": "echo", "name": "Untitled"}])
    );
    let (st, all) = s.post("/assistants/search", json!({"select": ["name"]})).await;
    assert_eq!(st, 200);
    assert!(all.as_array().unwrap().iter().all(|a| keys(a) == ["name"]), "{all}");
    // Without select, or with an empty one, every field.
    let (_, full) =
        s.post("/assistants/search", json!({"select": [], "metadata": {"k": "sel"}})).await;
    assert_eq!(full[0], a);
    for bad in [json!(["nope"]), json!("assistant_id"), json!([1])] {
        let (st, err) = s.post("/assistants/search", json!({"select": bad})).await;
        assert_eq!(st, 422, "select {bad}: {err}");
        assert!(err["detail"].is_string());
    }

    // Threads.
    let (_, t) = s.post("/threads", json!({"metadata": {"k": "sel"}})).await;
    let (st, found) =
        s.post("/threads/search", json!({"select": ["thread_id"], "metadata": {"k": "sel"}})).await;
    assert_eq!(st, 200);
    assert_eq!(found, json!([{"thread_id": t["thread_id"]}]));
    let (_, found) = s
        .post(
            "/threads/search",
            json!({"select": ["status", "thread_id", "metadata"], "metadata": {"k": "sel"}}),
        )
        .await;
    // The object's own field order, whatever order select names them in.
    assert_eq!(keys(&found[0]), ["thread_id", "metadata", "status"]);
    assert_eq!(s.post("/threads/search", json!({"select": ["run_id"]})).await.0, 422);
    assert_eq!(s.post("/threads/search", json!({"select": {"a": 1}})).await.0, 422);
}

/// One SSE event: name, data, id.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub event: String,
    pub data: Value,
    pub id: Option<String>,
}

fn parse_sse_ids(text: &str) -> Vec<Sse> {
    let mut out = Vec::new();
    for block in text.split("\r\n\r\n") {
        let (mut event, mut data, mut id) = (None, None, None);
        for line in block.split("\r\n") {
            if let Some(e) = line.strip_prefix("event: ") {
                event = Some(e.to_string());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = serde_json::from_str::<Value>(d).ok();
            } else if let Some(i) = line.strip_prefix("id: ") {
                id = Some(i.to_string());
            }
        }
        if let (Some(event), Some(data)) = (event, data) {
            out.push(Sse { event, data, id });
        }
    }
    out
}

/// `GET` of a stream (read to its end), with an optional `Last-Event-ID`.
async fn get_sse(
    s: &Server,
    path: &str,
    last_event_id: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<Sse>) {
    let mut rb = s.http.get(format!("{}{path}", s.url));
    if let Some(id) = last_event_id {
        rb = rb.header("last-event-id", id);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = tokio::time::timeout(std::time::Duration::from_secs(30), r.text())
        .await
        .expect("the stream ends")
        .unwrap();
    (status, headers, parse_sse_ids(&text))
}

fn names(events: &[Sse]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

/// A background run of `echo` that takes `ms` once started.
async fn slow_run(s: &Server, tid: &str, ms: u64, extra: Value) -> String {
    let mut body = json!({
        "assistant_id": "echo",
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "config": {"configurable": {"delay_ms": ms}},
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (st, run) = s.post(&format!("/threads/{tid}/runs"), body).await;
    assert_eq!(st, 200, "{run}");
    run["run_id"].as_str().unwrap().to_string()
}

async fn new_thread(s: &Server) -> String {
    let (_, t) = s.post("/threads", json!({})).await;
    t["thread_id"].as_str().unwrap().to_string()
}

both!(a_join_sends_only_the_requested_stream_modes);
async fn a_join_sends_only_the_requested_stream_modes(backend: Backend) {
    let s = Server::start(backend).await;
    let tid = new_thread(&s).await;
    let modes =
        json!({"stream_resumable": true, "stream_mode": ["values", "updates", "messages-tuple"]});
    // Unfiltered: everything the run publishes, `metadata` first.
    let rid = slow_run(&s, &tid, 400, modes.clone()).await;
    let (st, _, all) = get_sse(&s, &format!("/threads/{tid}/runs/{rid}/stream"), Some("-")).await;
    assert_eq!(st, 200);
    let all_names = names(&all);
    assert_eq!(all_names[0], "metadata");
    for e in ["values", "updates", "messages"] {
        assert!(all_names.contains(&e), "{all_names:?}");
    }
    // One mode: only its events (no metadata either), as langgraph dev sends them.
    for (query, want) in [
        ("stream_mode=updates", vec!["updates"]),
        // A JSON array, URL-encoded.
        ("stream_mode=%5B%22values%22%2C%22updates%22%5D", vec!["values", "updates"]),
        // Repeated parameters: all of them (langgraph dev keeps only the last).
        ("stream_mode=updates&stream_mode=values", vec!["values", "updates"]),
        // `messages-tuple` events are named `messages`.
        ("stream_mode=messages-tuple", vec!["messages"]),
    ] {
        let rid = slow_run(&s, &tid, 400, modes.clone()).await;
        let (st, _, got) =
            get_sse(&s, &format!("/threads/{tid}/runs/{rid}/stream?{query}"), Some("-")).await;
        assert_eq!(st, 200);
        assert!(!got.is_empty(), "{query}");
        assert!(got.iter().all(|e| want.contains(&e.event.as_str())), "{query}: {:?}", names(&got));
        for w in &want {
            assert!(names(&got).contains(w), "{query}: {:?}", names(&got));
        }
        assert!(got.iter().all(|e| e.id.is_some()), "a resumable run's events carry ids");
    }
    // A filter does not hide the error of an unknown run.
    let missing = uuid::Uuid::new_v4();
    let (st, _, got) =
        get_sse(&s, &format!("/threads/{tid}/runs/{missing}/stream?stream_mode=values"), None)
            .await;
    assert_eq!(st, 200);
    assert_eq!(names(&got), ["error"]);
}
