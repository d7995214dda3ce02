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
